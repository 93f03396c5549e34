//! Licence expiry from V$LICENSE (`dmdbms_license_date`): days until EXPIRED_DATE, or -1
//! when the licence never expires (EXPIRED_DATE NULL), as upstream.
//!
//! Upstream put the day count itself into the label `date_day_str`, so the series changed
//! identity every day (docs/UPSTREAM.md §8 C9). Here `date_day_str` holds the expiry date
//! (`YYYY-MM-DD`), or `无限制` when there is none, so the label set is stable while the value
//! counts down. Days are calendar days between the server's today (its local "now",
//! `SYSDATE` on DM) and the expiry date: 0 on the last valid day, negative
//! once expired. Upstream used the exporter host's clock, UTC midnight and rounding.

use dmexp_core::collector::{CollectorDescriptor, Family, MetricDef, Sample};
use dmexp_core::dbtime::DbClock;
use dmexp_core::query::{cell, Rows};

use crate::timefmt::date_text;

/// Expiry date and the database clock.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ EXPIRED_DATE, {NOW} FROM V$LICENSE";

/// Label value for a licence without expiry (upstream's).
pub const UNLIMITED: &str = "无限制";

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #24).
pub const METRICS: &[MetricDef] = &[MetricDef::gauge(
    "dmdbms_license_date",
    "Information about DM database license expiration date",
)
.with_labels(&["date_day_str"])];

/// Maps the result of [`SQL`] to samples. An expiry date that does not parse, or a missing
/// clock, skips the row.
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let mut out = Vec::new();
    for row in &rows.rows {
        match cell(row, 0).map(str::trim).filter(|d| !d.is_empty()) {
            None => out.push(Sample::with_labels(0, vec![UNLIMITED.to_owned()], -1.0)),
            Some(expiry) => {
                let Some(clock) = cell(row, 1).and_then(DbClock::from_server_now) else {
                    continue;
                };
                // The date part is the day, whatever time a DATETIME column carries.
                let Some(date) = date_text(expiry) else { continue };
                let Some(days) = clock.days_since(&date) else { continue };
                out.push(Sample::with_labels(0, vec![date], -(days as f64)));
            }
        }
    }
    out
}

inventory::submit! {
    CollectorDescriptor::query("license", "V$LICENSE", Family::Database, METRICS, &[SQL], map_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(r: &[(Option<&str>, Option<&str>)]) -> Rows {
        Rows {
            rows: r.iter().map(|(a, b)| vec![a.map(str::to_owned), b.map(str::to_owned)]).collect(),
            ..Rows::default()
        }
    }

    fn s(label: &str, v: f64) -> Sample {
        Sample::with_labels(0, vec![label.to_owned()], v)
    }

    #[test]
    fn days_until_expiry_in_the_database_day() {
        // 00:30 at +08:00 is still the previous day in UTC: the database's day counts.
        let now = Some("2026-11-24 00:30:00.000000 +08:00");
        assert_eq!(
            map_rows(&rows(&[
                (Some("2030-06-30"), now),
                (Some("2026-11-24 00:00:00"), now),
                (Some("2026-03-31"), now),
            ])),
            vec![s("2030-06-30", 1314.0), s("2026-11-24", 0.0), s("2026-03-31", -238.0)]
        );
    }

    #[test]
    fn no_expiry_is_unlimited_and_garbage_is_skipped() {
        assert_eq!(
            map_rows(&rows(&[
                (None, Some("2026-11-24 10:00:00")),
                (Some(""), None),
                (Some("20300630"), Some("2026-11-24 10:00:00")),
                (Some("2030-06-30"), None),
                (Some("2030-06-30"), Some("now")),
            ])),
            vec![s(UNLIMITED, -1.0), s(UNLIMITED, -1.0)]
        );
        assert!(map_rows(&Rows::default()).is_empty());
    }
}
