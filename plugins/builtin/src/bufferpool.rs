//! V$BUFFERPOOL: hit ratio of the FAST buffer pool, `dmdbms_bufferpool_info{buffer_name}`.
//!
//! A pool has one row per partition; the value is upstream's
//! `ROUND(SUM(RAT_HIT) / COUNT(*), 4)` over the FAST rows, computed here in Rust (no
//! division or `ROUND` on engine-specific numeric types in SQL).

use dmexp_core::collector::{CollectorDescriptor, Family, MetricDef, Sample};
use dmexp_core::query::{cell_f64, Rows};

/// The pool whose hit ratio is exported (upstream's only one).
pub const POOL: &str = "FAST";

/// Hit ratio (0..1) of every partition of the FAST pool.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ RAT_HIT FROM V$BUFFERPOOL WHERE NAME = 'FAST'";

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #40).
pub const METRICS: &[MetricDef] = &[MetricDef::gauge(
    "dmdbms_bufferpool_info",
    "Information about DM database bufferpool return hitRate",
)
.with_labels(&["buffer_name"])];

/// Maps the result of [`SQL`] to samples: sum of the RAT_HIT values over the number of
/// rows, rounded to 4 decimals. No series when no row has a numeric RAT_HIT (upstream
/// exported 0 for an all-NULL pool).
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let values: Vec<f64> = rows.rows.iter().filter_map(|r| cell_f64(r, 0)).collect();
    if values.is_empty() {
        return Vec::new();
    }
    let ratio = values.iter().sum::<f64>() / rows.len() as f64;
    let rounded = (ratio * 10_000.0).round() / 10_000.0;
    vec![Sample::with_labels(0, vec![POOL.to_owned()], rounded)]
}

inventory::submit! {
    CollectorDescriptor::query("bufferpool", "V$BUFFERPOOL", Family::Database, METRICS, &[SQL], map_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(cells: &[Option<&str>]) -> Rows {
        Rows {
            rows: cells.iter().map(|c| vec![c.map(str::to_owned)]).collect(),
            ..Default::default()
        }
    }

    fn fast(v: f64) -> Vec<Sample> {
        vec![Sample::with_labels(0, vec!["FAST".into()], v)]
    }

    #[test]
    fn average_rounded_to_four_decimals() {
        assert_eq!(map_rows(&rows(&[Some("0.9975"), Some("0.9925")])), fast(0.995));
        assert_eq!(map_rows(&rows(&[Some("0.9412")])), fast(0.9412));
        assert_eq!(map_rows(&rows(&[Some(".8"), Some("0.7")])), fast(0.75));
        assert_eq!(map_rows(&rows(&[Some("1"), Some("0.9"), Some("0.9")])), fast(0.9333));
    }

    #[test]
    fn null_rows_count_in_the_denominator_like_upstream() {
        // SUM ignores NULL, COUNT(*) does not.
        assert_eq!(map_rows(&rows(&[Some("0.9"), None])), fast(0.45));
        assert_eq!(map_rows(&rows(&[Some("0.9"), Some("junk")])), fast(0.45));
    }

    #[test]
    fn no_numeric_value_no_series() {
        assert!(map_rows(&Rows::default()).is_empty());
        assert!(map_rows(&rows(&[None, None])).is_empty());
    }
}
