//! Database time handling: one rule everywhere (DESIGN.md §7).
//!
//! "Now" is the database's own `CURRENT_TIMESTAMP`, read in the same query. DM returns it
//! with a zone offset (`2026-11-24 10:00:00.123456 +08:00`); PostgreSQL as
//! `2026-11-24 02:00:00.123+00`; SQLite without offset (UTC). Stored TIMESTAMP columns carry
//! no offset: they are wall-clock time in the offset that `CURRENT_TIMESTAMP` reports (UTC
//! when it reports none).

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
    /// "Now" as an absolute instant.
    pub now: OffsetDateTime,
    /// The offset stored timestamps are interpreted in.
    pub offset: UtcOffset,
}

impl DbClock {
    /// From the text of `CURRENT_TIMESTAMP`.
    pub fn from_current_timestamp(text: &str) -> Option<Self> {
        let ts = parse(text)?;
        let offset = ts.offset.unwrap_or(UtcOffset::UTC);
        Some(DbClock { now: ts.wall.assume_offset(offset), offset })
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

    #[test]
    fn parses_engines_formats() {
        let dm = DbClock::from_current_timestamp("2026-11-24 10:00:00.123456 +08:00").unwrap();
        assert_eq!(dm.now.unix_timestamp(), 1_795_485_600);
        assert_eq!(dm.unix_seconds("2026-11-24 08:00:00"), Some(1_795_478_400.0));
        let pg = DbClock::from_current_timestamp("2026-11-24 02:00:00.5+00").unwrap();
        assert_eq!(pg.now.unix_timestamp(), 1_795_485_600);
        let lite = DbClock::from_current_timestamp("2026-11-24 02:00:00").unwrap();
        assert_eq!(lite.now.unix_timestamp(), 1_795_485_600);
        assert_eq!(lite.offset, UtcOffset::UTC);
    }

    #[test]
    fn days_count_calendar_boundaries() {
        let c = DbClock::from_current_timestamp("2026-11-24 00:30:00 +08:00").unwrap();
        assert_eq!(c.days_since("2026-11-23 23:59:00"), Some(1));
        assert_eq!(c.days_since("2026-11-01 08:30:00"), Some(23));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("").is_none());
        assert!(parse("yesterday").is_none());
        assert!(parse("2026-13-01 00:00:00").is_none());
        assert!(parse("2026-11-01 25:00:00").is_none());
    }
}
