//! V$PURGE: objects (transactions) waiting for purge, `dmdbms_purge_objects_info`.
//!
//! V$PURGE has one row on DM; should a build return several, their OBJ_NUM values are
//! summed into the one series (upstream emitted one series per row, with identical labels,
//! which failed the whole scrape).

use dmexp_core::collector::{CollectorDescriptor, Family, MetricDef, Sample};
use dmexp_core::query::{cell_f64, Rows};

/// Objects waiting for purge, one row per purge worker set.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ OBJ_NUM FROM V$PURGE";

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #37).
pub const METRICS: &[MetricDef] =
    &[MetricDef::gauge("dmdbms_purge_objects_info", "Number of purge objects")];

/// Maps the result of [`SQL`] to samples: the sum of the numeric OBJ_NUM values; no series
/// when there is none (no row, or only NULLs).
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let values: Vec<f64> = rows.rows.iter().filter_map(|r| cell_f64(r, 0)).collect();
    if values.is_empty() {
        return Vec::new();
    }
    vec![Sample::new(0, values.iter().sum())]
}

inventory::submit! {
    CollectorDescriptor::query("purge", "V$PURGE", Family::Database, METRICS, &[SQL], map_rows)
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

    #[test]
    fn one_row() {
        assert_eq!(map_rows(&rows(&[Some("17")])), vec![Sample::new(0, 17.0)]);
        assert_eq!(map_rows(&rows(&[Some("0")])), vec![Sample::new(0, 0.0)]);
    }

    #[test]
    fn several_rows_are_summed_nulls_and_garbage_skipped() {
        let r = rows(&[Some("3"), None, Some("4"), Some("x")]);
        assert_eq!(map_rows(&r), vec![Sample::new(0, 7.0)]);
    }

    #[test]
    fn nothing_numeric_no_series() {
        assert!(map_rows(&Rows::default()).is_empty());
        assert!(map_rows(&rows(&[None, Some("")])).is_empty());
    }
}
