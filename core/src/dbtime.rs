//! Database time handling: one rule everywhere (docs/DESIGN.md §7, docs/DM8_EVIDENCE.md F3).
//!
//! "Now" is the *server's* local wall time, read in the same statement as the view times it is
//! compared with: the engine's expression from [`crate::dialect::now_sql`] (`SYSDATE` on DM).
//! Stored view times are wall-clock times in the server's zone, the zone of that "now"; their
//! differences ("now minus view time": ages, day counts, windows) need no zone at all, so
//! neither the session's zone (which DM's `CURRENT_TIMESTAMP` carries) nor the exporter's
//! `TZ` changes them.
//!
//! Absolute (Unix) times also need the server's UTC offset. `SYSDATE` has none, and how DM's
//! ODBC driver renders a `TIMESTAMP WITH TIME ZONE` is undocumented, so the offset is the
//! difference between the server's "now" and the exporter's clock (UTC, independent of `TZ`),
//! rounded to a quarter of an hour: right while the two clocks agree within 7 minutes. A "now"
//! text that carries an offset (`… +08:00`) uses that offset instead; a difference beyond
//! ±14 hours (a clock that is plainly wrong) is taken as UTC.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// A parsed database timestamp: wall-clock time and the offset it carried, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbTimestamp {
    /// Wall-clock date and time.
    pub wall: PrimitiveDateTime,
    /// Offset written in the text, if any.
    pub offset: Option<UtcOffset>,
}

/// The database clock of one scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DbClock {
    /// "Now": the server's wall time at the server's offset.
    pub now: OffsetDateTime,
    /// The server's offset: stored timestamps are wall-clock times in it.
    pub offset: UtcOffset,
}

/// The largest UTC offset in use (UTC+14, Kiribati), in seconds.
const MAX_OFFSET_SECS: i64 = 14 * 3600;

/// Offsets are whole quarters of an hour (UTC+5:45 is the finest in use).
const OFFSET_STEP_SECS: i64 = 15 * 60;

impl DbClock {
    /// From the text of the server's "now" ([`crate::dialect::now_sql`]), with the exporter's
    /// clock for the server's offset (see the module docs).
    pub fn from_server_now(text: &str) -> Option<Self> {
        Self::from_server_now_at(text, OffsetDateTime::now_utc())
    }

    /// [`DbClock::from_server_now`] with the exporter's clock given (for tests).
    pub fn from_server_now_at(text: &str, exporter_now: OffsetDateTime) -> Option<Self> {
        let ts = parse(text)?;
        let offset = match ts.offset {
            Some(o) => o,
            None => {
                let diff = (ts.wall.assume_utc() - exporter_now).whole_seconds();
                let rounded =
                    (diff as f64 / OFFSET_STEP_SECS as f64).round() as i64 * OFFSET_STEP_SECS;
                if rounded.abs() > MAX_OFFSET_SECS {
                    UtcOffset::UTC
                } else {
                    i32::try_from(rounded)
                        .ok()
                        .and_then(|s| UtcOffset::from_whole_seconds(s).ok())
                        .unwrap_or(UtcOffset::UTC)
                }
            }
        };
        Some(DbClock { now: ts.wall.assume_offset(offset), offset })
    }

    /// The server's wall time `back` before now (a bound to compare stored times with).
    pub fn wall_before(&self, back: std::time::Duration) -> PrimitiveDateTime {
        let t = (self.now - back).to_offset(self.offset);
        PrimitiveDateTime::new(t.date(), t.time())
    }

    /// Interprets a stored timestamp (an offset in the text wins over the clock's offset).
    pub fn instant(&self, text: &str) -> Option<OffsetDateTime> {
        let ts = parse(text)?;
        Some(ts.wall.assume_offset(ts.offset.unwrap_or(self.offset)))
    }

    /// Unix seconds of a stored timestamp.
    pub fn unix_seconds(&self, text: &str) -> Option<f64> {
        self.instant(text).map(|t| t.unix_timestamp() as f64)
    }

    /// Calendar days from a stored timestamp to now, in the database's offset (DM's
    /// `DATEDIFF(DAY, t, SYSDATE)` counts day boundaries the same way).
    pub fn days_since(&self, text: &str) -> Option<i64> {
        let t = self.instant(text)?.to_offset(self.offset).date();
        let now = self.now.to_offset(self.offset).date();
        Some(i64::from(now.to_julian_day() - t.to_julian_day()))
    }
}

fn num<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `YYYY-MM-DD[ T]HH:MM[:SS[.fff…]][ ][Z|±HH[:MM]]`, or a bare date.
pub fn parse(text: &str) -> Option<DbTimestamp> {
    let s = text.trim();
    if s.len() < 10 {
        return None;
    }
    let (date_part, rest) = s.split_at(10);
    let mut d = date_part.split('-');
    let year: i32 = num(d.next()?)?;
    let month: u8 = num(d.next()?)?;
    let day: u8 = num(d.next()?)?;
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    let rest = rest.trim_start_matches([' ', 'T']);
    if rest.is_empty() {
        return Some(DbTimestamp { wall: date.midnight(), offset: None });
    }
    // Split the time from an optional offset.
    let (time_part, offset_part) = match rest.find(['+', '-', 'Z', ' ']) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    };
    let (hms, frac) = match time_part.split_once('.') {
        Some((a, b)) => (a, b),
        None => (time_part, ""),
    };
    let mut t = hms.split(':');
    let hour: u8 = num(t.next()?)?;
    let minute: u8 = num(t.next()?)?;
    let second: u8 = match t.next() {
        Some(x) => num(x)?,
        None => 0,
    };
    let nanos: u32 = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().take(9).collect();
        let n: u32 = num(&digits)?;
        n * 10u32.pow(9 - u32::try_from(digits.len()).ok()?)
    };
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    let offset = parse_offset(offset_part)?;
    Some(DbTimestamp { wall: PrimitiveDateTime::new(date, time), offset })
}

/// `""` → None; `Z`, `+08`, `+08:00`, `+0800`, `-05:30`.
fn parse_offset(s: &str) -> Option<Option<UtcOffset>> {
    let s = s.trim();
    if s.is_empty() {
        return Some(None);
    }
    if s == "Z" || s.eq_ignore_ascii_case("UTC") {
        return Some(Some(UtcOffset::UTC));
    }
    let (sign, body) = match s.as_bytes().first()? {
        b'+' => (1i8, &s[1..]),
        b'-' => (-1i8, &s[1..]),
        _ => return None,
    };
    let (h, m) = if let Some((h, m)) = body.split_once(':') {
        (h, m)
    } else if body.len() == 4 {
        body.split_at(2)
    } else {
        (body, "0")
    };
    let h: i8 = num(h)?;
    let m: i8 = num(m)?;
    UtcOffset::from_hms(sign * h, sign * m, 0).ok().map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// The exporter's clock in these tests: 2026-11-24 02:00:00 UTC.
    const EXPORTER: OffsetDateTime = datetime!(2026-11-24 02:00:00 UTC);

    fn at(text: &str) -> DbClock {
        DbClock::from_server_now_at(text, EXPORTER).unwrap()
    }

    #[test]
    fn the_offset_is_the_servers() {
        // A +08:00 server's SYSDATE, 1.5 s ahead of the exporter: offset +8, now = SYSDATE.
        let dm = at("2026-11-24 10:00:01.5");
        assert_eq!(dm.offset, UtcOffset::from_hms(8, 0, 0).unwrap());
        assert_eq!(dm.now.unix_timestamp(), 1_795_485_601);
        assert_eq!(dm.unix_seconds("2026-11-24 08:00:00"), Some(1_795_478_400.0));
        // Quarter hours, west of UTC, and clocks a few minutes apart.
        assert_eq!(at("2026-11-23 20:36:00").offset, UtcOffset::from_hms(-5, -30, 0).unwrap());
        assert_eq!(at("2026-11-24 07:49:00").offset, UtcOffset::from_hms(5, 45, 0).unwrap());
        assert_eq!(at("2026-11-24 01:54:00").offset, UtcOffset::UTC);
        // The fixtures: UTC.
        let lite = at("2026-11-24 02:00:00");
        assert_eq!(lite.now.unix_timestamp(), 1_795_485_600);
        assert_eq!(lite.offset, UtcOffset::UTC);
        // An offset in the text wins; a plainly wrong clock is taken as UTC.
        let pg = at("2026-11-24 02:00:00.5+00");
        assert_eq!(pg.now.unix_timestamp(), 1_795_485_600);
        let tz = at("2026-11-24 10:00:00.123456 +08:00");
        assert_eq!(tz.offset, UtcOffset::from_hms(8, 0, 0).unwrap());
        assert_eq!(at("2026-11-25 18:00:00").offset, UtcOffset::UTC);
        assert_eq!(at("2026-11-25 18:00:00").now.unix_timestamp(), 1_795_629_600);
    }

    #[test]
    fn differences_do_not_depend_on_the_offset() {
        // The same server wall times, with exporter clocks implying +08:00, UTC and -05:00.
        for exporter in
            [EXPORTER, datetime!(2026-11-24 10:00:00 UTC), datetime!(2026-11-24 15:00:00 UTC)]
        {
            let c = DbClock::from_server_now_at("2026-11-24 10:00:00", exporter).unwrap();
            let recv = c.instant("2026-11-24 09:58:00.5").unwrap();
            assert_eq!((c.now - recv).whole_milliseconds(), 119_500);
            assert_eq!(c.days_since("2026-11-23 23:59:59"), Some(1));
            assert_eq!(c.days_since("2026-11-24 00:00:00"), Some(0));
        }
    }

    #[test]
    fn days_count_calendar_boundaries() {
        let c = at("2026-11-24 00:30:00 +08:00");
        assert_eq!(c.days_since("2026-11-23 23:59:00"), Some(1));
        assert_eq!(c.days_since("2026-11-01 08:30:00"), Some(23));
        // Server-local calendar days, whatever the offset derived.
        let c = at("2026-11-24 00:30:00");
        assert_eq!(c.offset, UtcOffset::from_hms(-1, -30, 0).unwrap());
        assert_eq!(c.days_since("2026-11-23 23:59:00"), Some(1));
    }

    #[test]
    fn bounds_are_server_wall_times() {
        let c = at("2026-11-24 01:30:00.5 +08:00");
        assert_eq!(
            c.wall_before(std::time::Duration::from_secs(31 * 86_400)),
            datetime!(2026-10-24 01:30:00.5)
        );
        let c = at("2026-03-01 00:00:00 +00:00");
        assert_eq!(
            c.wall_before(std::time::Duration::from_secs(1)),
            datetime!(2026-02-28 23:59:59)
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("").is_none());
        assert!(parse("yesterday").is_none());
        assert!(parse("2026-13-01 00:00:00").is_none());
        assert!(parse("2026-11-01 25:00:00").is_none());
        assert!(DbClock::from_server_now("now").is_none());
    }
}
