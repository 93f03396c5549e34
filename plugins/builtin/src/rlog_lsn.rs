//! Redo log LSN family: the checkpoint, file, flush and current LSNs of V$RLOG as counters
//! labelled `lsn_type`. V$RLOG and its four LSN columns are probed once per connection;
//! without them the collector is skipped as not applicable
//! (`dameng_exporter_collector_skipped{reason="not_applicable"} 1`). Over several rows the largest value counts, and a NULL
//! column has no series, as upstream.

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CollectContext, CollectError, Collector, CollectorDescriptor, Family, MetricDef,
    MetricSpec, Sample,
};
use dmexp_core::query::{cell_f64, Rows};

/// The four LSN columns, in [`LSN_TYPES`] order.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ CKPT_LSN, FILE_LSN, FLUSH_LSN, CUR_LSN FROM V$RLOG";

/// The `lsn_type` label values, which are also the column names.
pub const LSN_TYPES: [&str; 4] = ["CKPT_LSN", "FILE_LSN", "FLUSH_LSN", "CUR_LSN"];

/// Metrics of this collector, upstream name and help text (docs/UPSTREAM.md §3.2 #39).
pub const METRICS: &[MetricDef] = &[MetricDef::counter(
    "dmdbms_rlog_lsn_total",
    "Redo log LSN positions from V$RLOG, labeled by type",
)
.with_labels(&["lsn_type"])];

/// Maps the result of [`SQL`]: per column the largest non-NULL value over the rows.
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    LSN_TYPES
        .iter()
        .enumerate()
        .filter_map(|(col, name)| {
            let max = rows.rows.iter().filter_map(|r| cell_f64(r, col)).reduce(f64::max)?;
            Some(Sample::with_labels(0, vec![(*name).to_owned()], max))
        })
        .collect()
}

/// The collector.
#[derive(Debug, Default)]
pub struct RlogLsnCollector;

impl Collector for RlogLsnCollector {
    fn metrics(&self) -> Vec<MetricSpec> {
        METRICS.iter().map(MetricSpec::from).collect()
    }
    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        if !ctx.has_view("V$RLOG")? {
            return Err(CollectError::missing_view("V$RLOG"));
        }
        if !ctx.has_columns("V$RLOG", &LSN_TYPES)? {
            return Err(CollectError::missing_columns("V$RLOG", &LSN_TYPES));
        }
        let rows = ctx.query(SQL)?;
        out.extend(map_rows(&rows));
        Ok(())
    }
}

fn build(_: &DatasourceConfig) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(RlogLsnCollector))
}

inventory::submit! {
    CollectorDescriptor::new("rlog_lsn", "V$RLOG", Family::Database, METRICS, build)
        .queries(&[SQL])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lsn(t: &str, v: f64) -> Sample {
        Sample::with_labels(0, vec![t.to_owned()], v)
    }

    #[test]
    fn largest_per_column_null_omitted() {
        let rows = Rows {
            rows: vec![
                vec![Some("10234".into()), Some("10240".into()), None, Some("10240".into())],
                vec![Some("10000".into()), Some("x".into()), None, Some("10300".into())],
            ],
            ..Default::default()
        };
        assert_eq!(
            map_rows(&rows),
            vec![lsn("CKPT_LSN", 10234.0), lsn("FILE_LSN", 10240.0), lsn("CUR_LSN", 10300.0)]
        );
    }

    #[test]
    fn no_rows_no_series() {
        assert!(map_rows(&Rows::default()).is_empty());
    }
}
