//! Redo log history family: time of the last online redo log switch (newest
//! V$LOG_HISTORY.RECTIME) as Unix seconds; 0 when there is none, as upstream.
//!
//! Difference from upstream: `RECTIME` is read in the server's time zone (the offset of its
//! local "now", `SYSDATE` on DM: `dmexp_core::dbtime`), not the exporter host's (docs/UPSTREAM.md
//! §8 C7) nor the session's.

use dmexp_core::collector::{CollectorDescriptor, Family, MetricDef, Sample};
use dmexp_core::dbtime::DbClock;
use dmexp_core::query::{cell, Rows};

/// Newest switch and the database clock: always one row.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ MAX(RECTIME), {NOW} FROM V$LOG_HISTORY";

/// Metrics of this collector, upstream name and help text (docs/UPSTREAM.md §3.2 #32).
pub const METRICS: &[MetricDef] = &[MetricDef::gauge(
    "dmdbms_redo_last_switch_time_seconds",
    "Unix timestamp of the last redo log switch; zero when unavailable",
)];

/// Maps the result of [`SQL`]: Unix seconds of the newest `RECTIME`; 0 when there is no
/// switch or its time cannot be read (upstream's "unavailable").
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let value = rows
        .first()
        .and_then(|row| {
            let clock = DbClock::from_server_now(cell(row, 1)?)?;
            clock.unix_seconds(cell(row, 0)?)
        })
        .unwrap_or(0.0);
    vec![Sample::new(0, value)]
}

inventory::submit! {
    CollectorDescriptor::query("log_history", "V$LOG_HISTORY", Family::Database, METRICS, &[SQL], map_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(rectime: Option<&str>, now: Option<&str>) -> Rows {
        Rows {
            rows: vec![vec![rectime.map(str::to_owned), now.map(str::to_owned)]],
            ..Default::default()
        }
    }

    #[test]
    fn newest_switch_in_the_database_zone() {
        let dm = one(Some("2026-11-24 07:45:10"), Some("2026-11-24 10:00:00.000000 +08:00"));
        assert_eq!(map_rows(&dm), vec![Sample::new(0, 1_795_477_510.0)]);
        let utc = one(Some("2026-11-24 07:45:10"), Some("2026-11-24 17:00:00.123456 +00:00"));
        assert_eq!(map_rows(&utc), vec![Sample::new(0, 1_795_506_310.0)]);
    }

    #[test]
    fn zero_when_unavailable() {
        for r in [
            one(None, Some("2026-11-24 17:00:00 +00:00")),
            one(Some("garbage"), Some("2026-11-24 17:00:00 +00:00")),
            one(Some("2026-11-24 07:45:10"), None),
            Rows::default(),
        ] {
            assert_eq!(map_rows(&r), vec![Sample::new(0, 0.0)]);
        }
    }
}
