//! Archive queue family: archive tasks waiting per archive type (V$ARCH_QUEUE.WAITING).
//!
//! Builds without the WAITING column (probed once per connection) report nothing (the
//! collector is skipped as not applicable, `dameng_exporter_collector_skipped{reason=
//! "not_applicable"} 1`); rows
//! with a NULL WAITING are skipped, as upstream. The query selects `*` and finds ARCH_TYPE
//! and WAITING by name, so the same statement runs on builds with and without WAITING.
//!
//! Difference from upstream: V$ARCH_QUEUE has one row per queue, and several queues can
//! have the same type (e.g. two REALTIME destinations). Upstream emitted one series per row,
//! so two queues of one type made duplicate series and failed the whole scrape with HTTP 500
//! (docs/UPSTREAM.md §8 C4). Here the queues of one type are summed: the only label is
//! `arch_type`, and the number of tasks waiting for that type of archiving is the sum.

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CollectContext, CollectError, Collector, CollectorDescriptor, Family, MetricDef,
    MetricSpec, Sample,
};
use dmexp_core::query::{cell, cell_f64, Rows};

/// Every queue; run only where V$ARCH_QUEUE has WAITING. Columns are found by name.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ * FROM V$ARCH_QUEUE";

/// Metrics of this collector, upstream name and help text (docs/UPSTREAM.md §3.2 #31).
pub const METRICS: &[MetricDef] = &[MetricDef::gauge(
    "dmdbms_arch_queue_waiting_info",
    "DM database archive queue waiting information",
)
.with_labels(&["arch_type"])];

/// Maps the result of [`SQL`]: WAITING summed per ARCH_TYPE (NULL type → `""`); NULL or
/// non-numeric WAITING skipped, so a type whose queues all lack a value has no series. No
/// WAITING column in the result: no series.
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let mut out: Vec<Sample> = Vec::new();
    let Some(waiting_col) = rows.column_index("WAITING") else { return out };
    let type_col = rows.column_index("ARCH_TYPE");
    for row in &rows.rows {
        let Some(waiting) = cell_f64(row, waiting_col) else { continue };
        let arch_type = type_col.and_then(|i| cell(row, i)).unwrap_or("");
        match out.iter_mut().find(|s| s.labels[0] == arch_type) {
            Some(existing) => existing.value += waiting,
            None => out.push(Sample::with_labels(0, vec![arch_type.to_owned()], waiting)),
        }
    }
    out
}

/// The collector.
#[derive(Debug, Default)]
pub struct ArchQueueCollector;

impl Collector for ArchQueueCollector {
    fn metrics(&self) -> Vec<MetricSpec> {
        METRICS.iter().map(MetricSpec::from).collect()
    }
    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        if !ctx.has_columns("V$ARCH_QUEUE", &["WAITING"])? {
            return Err(CollectError::missing_columns("V$ARCH_QUEUE", &["WAITING"]));
        }
        let rows = ctx.query(SQL)?;
        out.extend(map_rows(&rows));
        Ok(())
    }
}

fn build(_: &DatasourceConfig) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(ArchQueueCollector))
}

inventory::submit! {
    CollectorDescriptor::new("arch_queue", "V$ARCH_QUEUE", Family::Database, METRICS, build)
        .queries(&[SQL])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn queues_of_one_type_are_summed() {
        let rows = Rows {
            columns: columns(&["arch_type", "waiting"]),
            rows: vec![
                vec![Some("REALTIME".into()), Some("0".into())],
                vec![Some("ASYNC".into()), Some("3".into())],
                vec![Some("ASYNC".into()), Some("2".into())],
                vec![Some("REALTIME".into()), None],
                vec![Some("TIMELY".into()), None],
                vec![Some("REMOTE".into()), Some("lots".into())],
                vec![None, Some("1".into())],
            ],
            ..Default::default()
        };
        assert_eq!(
            map_rows(&rows),
            vec![
                Sample::with_labels(0, vec!["REALTIME".into()], 0.0),
                Sample::with_labels(0, vec!["ASYNC".into()], 5.0),
                Sample::with_labels(0, vec!["".into()], 1.0),
            ]
        );
    }

    #[test]
    fn columns_found_by_name() {
        // DM returns upper-case names; core lower-cases them, lookups ignore case anyway.
        let rows = Rows {
            columns: columns(&["READY", "WAITING", "ARCH_TYPE", "CUR_WAIT_TIME"]),
            rows: vec![vec![Some("1".into()), Some("4".into()), Some("LOCAL".into()), None]],
            ..Default::default()
        };
        assert_eq!(map_rows(&rows), vec![Sample::with_labels(0, vec!["LOCAL".into()], 4.0)]);
    }

    #[test]
    fn empty_view_or_no_waiting_column() {
        assert!(map_rows(&Rows::default()).is_empty());
        let old_build = Rows {
            columns: columns(&["arch_type", "ready"]),
            rows: vec![vec![Some("LOCAL".into()), Some("0".into())]],
            ..Default::default()
        };
        assert!(map_rows(&old_build).is_empty());
    }
}
