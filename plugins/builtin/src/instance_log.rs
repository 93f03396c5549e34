//! V$INSTANCE_LOG_HISTORY: instance log events other than INFO and WARN from the last five
//! minutes, `dmdbms_instance_log_error_info{pid, level, log_time, txt}` = 1.
//!
//! "Now" is the server's local time (`SYSDATE` on DM, `dmexp_core::dialect`), read in the
//! same query, and LOG_TIME is interpreted in its zone (`dmexp_core::dbtime`); the five-minute window is applied here,
//! not in SQL (no portable date arithmetic). The newest [`MAX_ROWS`] error rows are read;
//! exact duplicates (same pid, level, time and text) become one series (upstream issue #26:
//! duplicates failed every scrape).

use dmexp_core::collector::{CollectorDescriptor, Family, MetricDef, Sample};
use dmexp_core::dbtime::DbClock;
use dmexp_core::query::{cell, Rows};

/// Error events, newest first, with the database clock.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ LOG_TIME, PID, LEVEL$, TXT, {NOW} \
    FROM V$INSTANCE_LOG_HISTORY WHERE LEVEL$ NOT IN ('INFO', 'WARN') \
    ORDER BY LOG_TIME DESC LIMIT 1000";

/// At most this many error rows are read per scrape (the `LIMIT` of [`SQL`]); the view
/// keeps the last 10,000 events of all levels.
pub const MAX_ROWS: usize = 1000;

/// Events at most this old (seconds, database clock) are reported.
pub const WINDOW_SECS: i64 = 300;

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #47).
pub const METRICS: &[MetricDef] = &[MetricDef::gauge(
    "dmdbms_instance_log_error_info",
    "Information about DM database Instance error log info",
)
.with_labels(&["pid", "level", "log_time", "txt"])];

/// Maps the result of [`SQL`] to samples: rows whose LOG_TIME is at most [`WINDOW_SECS`]
/// before the row's server "now" (later times count too, as upstream's
/// `LOG_TIME >= SYSDATE - 5 min`). Rows with an unreadable LOG_TIME or clock are skipped;
/// NULL pid/level/txt are `""`; exact duplicates are dropped.
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let mut out: Vec<Sample> = Vec::new();
    for row in &rows.rows {
        let Some(clock) = cell(row, 4).and_then(DbClock::from_server_now) else {
            continue;
        };
        let Some(time) = cell(row, 0) else { continue };
        let Some(t) = clock.unix_seconds(time) else { continue };
        if (t as i64) < clock.now.unix_timestamp() - WINDOW_SECS {
            continue;
        }
        let text = |i| cell(row, i).map(str::trim).unwrap_or_default().to_owned();
        let labels = vec![
            text(1),
            text(2),
            crate::timefmt::wall_label(time),
            cell(row, 3).unwrap_or_default().to_owned(),
        ];
        if out.iter().any(|s| s.labels == labels) {
            continue;
        }
        out.push(Sample::with_labels(0, labels, 1.0));
    }
    out
}

inventory::submit! {
    CollectorDescriptor::query(
        "instance_log",
        "V$INSTANCE_LOG_HISTORY",
        Family::Database,
        METRICS, &[SQL], map_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_DM: &str = "2026-11-24 10:00:00.123456 +08:00";
    const NOW_UTC: &str = "2026-11-24 02:00:00 +00:00";

    fn rows(data: &[[Option<&str>; 5]]) -> Rows {
        Rows {
            rows: data.iter().map(|r| r.iter().map(|c| c.map(str::to_owned)).collect()).collect(),
            ..Default::default()
        }
    }

    fn s(pid: &str, level: &str, time: &str, txt: &str) -> Sample {
        Sample::with_labels(0, vec![pid.into(), level.into(), time.into(), txt.into()], 1.0)
    }

    #[test]
    fn sql_caps_rows() {
        assert!(SQL.ends_with(&format!("LIMIT {MAX_ROWS}")));
    }

    #[test]
    fn five_minute_window_in_the_database_zone() {
        // DM: stored wall-clock times are in the server's +08:00.
        let r = rows(&[
            [
                Some("2026-11-24 10:00:30"),
                Some("2231"),
                Some("ERROR"),
                Some("future"),
                Some(NOW_DM),
            ],
            [
                Some("2026-11-24 09:59:59"),
                Some("2231"),
                Some("ERROR"),
                Some("just now"),
                Some(NOW_DM),
            ],
            [Some("2026-11-24 09:55:01"), Some("2231"), Some("FATAL"), Some("4m59"), Some(NOW_DM)],
            [Some("2026-11-24 09:55:00"), Some("2231"), Some("ERROR"), Some("5m00"), Some(NOW_DM)],
            [
                Some("2026-11-24 09:54:59"),
                Some("2231"),
                Some("ERROR"),
                Some("too old"),
                Some(NOW_DM),
            ],
            // 02:00 UTC would be "now" if the zone were ignored: 8 hours old.
            [Some("2026-11-24 02:00:00"), Some("2231"), Some("ERROR"), Some("utc"), Some(NOW_DM)],
        ]);
        assert_eq!(
            map_rows(&r),
            vec![
                s("2231", "ERROR", "2026-11-24 10:00:30", "future"),
                s("2231", "ERROR", "2026-11-24 09:59:59", "just now"),
                s("2231", "FATAL", "2026-11-24 09:55:01", "4m59"),
                s("2231", "ERROR", "2026-11-24 09:55:00", "5m00"),
            ]
        );
        // SQLite/PostgreSQL fixtures: no offset, UTC; fractional seconds dropped in the label.
        let r = rows(&[[
            Some("2026-11-24 01:58:00.654321"),
            Some("9"),
            Some("ERROR"),
            Some("x"),
            Some(NOW_UTC),
        ]]);
        assert_eq!(map_rows(&r), vec![s("9", "ERROR", "2026-11-24 01:58:00", "x")]);
    }

    #[test]
    fn duplicates_nulls_and_garbage() {
        let r = rows(&[
            [
                Some("2026-11-24 01:59:00"),
                Some("1777"),
                Some("FATAL"),
                Some("许可证已过期"),
                Some(NOW_UTC),
            ],
            // Exact duplicate (another SEQNO): dropped.
            [
                Some("2026-11-24 01:59:00"),
                Some("1777"),
                Some("FATAL"),
                Some("许可证已过期"),
                Some(NOW_UTC),
            ],
            // NULL text and pid: "".
            [Some("2026-11-24 01:59:00"), None, Some("ERROR"), None, Some(NOW_UTC)],
            // Unreadable time or clock, NULL time: skipped.
            [Some("yesterday"), Some("1"), Some("ERROR"), Some("a"), Some(NOW_UTC)],
            [Some("2026-11-24 01:59:00"), Some("1"), Some("ERROR"), Some("b"), Some("garbage")],
            [None, Some("1"), Some("ERROR"), Some("c"), Some(NOW_UTC)],
        ]);
        assert_eq!(
            map_rows(&r),
            vec![
                s("1777", "FATAL", "2026-11-24 01:59:00", "许可证已过期"),
                s("", "ERROR", "2026-11-24 01:59:00", ""),
            ]
        );
        assert!(map_rows(&Rows::default()).is_empty());
    }
}
