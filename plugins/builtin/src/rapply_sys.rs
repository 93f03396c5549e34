//! Redo apply system family (data-guard standby): memory used by and number of redo apply
//! tasks (V$RAPPLY_SYS). Empty on a primary or single instance: no series there.
//!
//! Difference from upstream: upstream emitted one unlabelled series per row, so a view with
//! more than one row produced duplicate series and failed the whole scrape with HTTP 500
//! (docs/UPSTREAM.md §8 C4). Here the rows are summed. Both columns are amounts (bytes, tasks)
//! that add up to the instance's total, which is what the alert rules compare with the
//! instance-wide limits `REDOS_BUF_SIZE` and `REDOS_BUF_NUM`; a label per row would
//! break those rules' one-to-one `on(datasource, …)` matching. NULL values are left out of
//! the sums; a column that is NULL in every row has no series.

use dmexp_core::collector::{CollectorDescriptor, Family, MetricDef, Sample};
use dmexp_core::query::{cell_f64, Rows};

/// Apply system rows.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ TASK_MEM_USED, TASK_NUM FROM V$RAPPLY_SYS";

/// Metrics of this collector, upstream names and help texts (docs/UPSTREAM.md §3.2 #34–#35).
pub const METRICS: &[MetricDef] = &[
    MetricDef::gauge(
        "dmdbms_rapply_sys_task_mem_used",
        "Information about DM database apply system task memory used",
    ),
    MetricDef::gauge(
        "dmdbms_rapply_sys_task_num",
        "Information about DM database apply system task number",
    ),
];

/// Maps the result of [`SQL`]: each column summed over its non-NULL numeric values.
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    (0..METRICS.len())
        .filter_map(|col| {
            let values: Vec<f64> = rows.rows.iter().filter_map(|r| cell_f64(r, col)).collect();
            (!values.is_empty()).then(|| Sample::new(col, values.iter().sum()))
        })
        .collect()
}

inventory::submit! {
    CollectorDescriptor::query("rapply_sys", "V$RAPPLY_SYS", Family::Database, METRICS, &[SQL], map_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[[Option<&str>; 2]]) -> Rows {
        Rows {
            rows: data.iter().map(|r| r.iter().map(|c| c.map(str::to_owned)).collect()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn rows_are_summed() {
        let r = rows(&[
            [Some("67108864"), Some("12")],
            [Some("33554432"), Some("4")],
            [None, None],
            [Some("junk"), Some("1")],
        ]);
        assert_eq!(map_rows(&r), vec![Sample::new(0, 100_663_296.0), Sample::new(1, 17.0)]);
    }

    #[test]
    fn no_rows_or_all_null() {
        assert!(map_rows(&Rows::default()).is_empty());
        assert_eq!(map_rows(&rows(&[[None, Some("0")]])), vec![Sample::new(1, 0.0)]);
    }
}
