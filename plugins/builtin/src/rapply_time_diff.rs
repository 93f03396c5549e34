//! Redo apply lag family (data-guard standby): seconds between the last commit received
//! (`LAST_CMT_TIME`) and the last commit applied (`APPLY_CMT_TIME`) in V$RAPPLY_STAT,
//! computed here from the two timestamps read as text (whole seconds, like DM's
//! `TIMESTAMPDIFF(SQL_TSI_SECOND, …)` upstream used). Empty view: no series.
//!
//! Differences from upstream: with several rows upstream emitted one unlabelled series per
//! row (duplicates: HTTP 500, docs/UPSTREAM.md §8 C4); here the largest lag is reported. A row
//! where either time is NULL (or unreadable) is skipped instead of counting as a lag of 0
//! (upstream's `NVL(…, 0)`), so "no data" no longer looks like "no lag"; a view with only
//! such rows has no series. Equal times still give 0.

use dmexp_core::collector::{CollectorDescriptor, Family, MetricDef, Sample};
use dmexp_core::dbtime::DbClock;
use dmexp_core::query::{cell, Rows};

/// Commit times per apply row, and the database clock (for the zone of the stored times).
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ APPLY_CMT_TIME, LAST_CMT_TIME, {NOW} \
    FROM V$RAPPLY_STAT";

/// Metrics of this collector, upstream name and help text (docs/UPSTREAM.md §3.2 #36).
pub const METRICS: &[MetricDef] = &[MetricDef::gauge(
    "dmdbms_rapply_time_diff",
    "Time difference in seconds between APPLY_CMT_TIME and LAST_CMT_TIME from V$RAPPLY_STAT",
)];

/// `LAST_CMT_TIME − APPLY_CMT_TIME` of one row in whole seconds (truncated toward zero).
fn lag(row: &[Option<String>]) -> Option<f64> {
    let clock = DbClock::from_server_now(cell(row, 2)?)?;
    let applied = clock.instant(cell(row, 0)?)?;
    let last = clock.instant(cell(row, 1)?)?;
    Some((last - applied).whole_seconds() as f64)
}

/// Maps the result of [`SQL`]: the largest lag over the rows that have both times.
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    rows.rows
        .iter()
        .filter_map(|r| lag(r))
        .reduce(f64::max)
        .map(|v| Sample::new(0, v))
        .into_iter()
        .collect()
}

inventory::submit! {
    CollectorDescriptor::query(
        "rapply_time_diff",
        "V$RAPPLY_STAT",
        Family::Database,
        METRICS, &[SQL], map_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Option<&str> = Some("2026-11-24 17:00:00 +00:00");

    fn rows(data: &[[Option<&str>; 3]]) -> Rows {
        Rows {
            rows: data.iter().map(|r| r.iter().map(|c| c.map(str::to_owned)).collect()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn largest_lag_over_rows() {
        let r = rows(&[
            [Some("2026-11-24 08:00:00"), Some("2026-11-24 08:00:42"), NOW],
            [Some("2026-11-24 08:00:30"), Some("2026-11-24 08:00:42"), NOW],
            [Some("2026-11-24 08:00:42"), Some("2026-11-24 08:00:42"), NOW],
            [None, None, NOW],
        ]);
        assert_eq!(map_rows(&r), vec![Sample::new(0, 42.0)]);
    }

    #[test]
    fn equal_times_are_zero_and_fractions_truncate() {
        let r = rows(&[[Some("2026-11-24 08:00:00"), Some("2026-11-24 08:00:00"), NOW]]);
        assert_eq!(map_rows(&r), vec![Sample::new(0, 0.0)]);
        let r = rows(&[[
            Some("2026-11-24 07:59:59.900000"),
            Some("2026-11-24 08:00:01.100000"),
            Some("2026-11-24 10:00:00 +08:00"),
        ]]);
        assert_eq!(map_rows(&r), vec![Sample::new(0, 1.0)]);
    }

    #[test]
    fn null_or_garbage_rows_are_skipped() {
        let r = rows(&[
            [None, None, NOW],
            [Some("2026-11-24 08:00:00"), None, NOW],
            [Some("yesterday"), Some("2026-11-24 08:00:00"), NOW],
        ]);
        assert!(map_rows(&r).is_empty());
        assert!(map_rows(&Rows::default()).is_empty());
    }
}
