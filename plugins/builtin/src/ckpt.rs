//! V$CKPT: cumulative checkpoint time, `dmdbms_ckpttime_total` (CKPT_TIME_USED, ms).
//!
//! V$CKPT is missing in some builds (docs/DM8.md §5): the collector asks V$DYNAMIC_TABLES once
//! per connection (`has_view`); without it the collector is skipped as not applicable
//! (`dameng_exporter_collector_skipped{reason="not_applicable"} 1`; upstream matched the error
//! text `v$CKPT` instead).

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CollectContext, CollectError, Collector, CollectorDescriptor, Family, MetricDef,
    MetricSpec, Sample,
};
use dmexp_core::query::{cell_f64, Rows};

/// Checkpoint time used since startup (ms).
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ CKPT_TIME_USED FROM V$CKPT";

/// The optional view this collector reads.
pub const VIEW: &str = "V$CKPT";

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #38).
pub const METRICS: &[MetricDef] =
    &[MetricDef::counter("dmdbms_ckpttime_total", "Information about DM checkpoint times")];

/// Maps the result of [`SQL`] to samples. V$CKPT has one row; should it have several, the
/// largest value is the one series (upstream emitted one series per row, identical labels).
/// NULL or non-numeric values give no series.
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    rows.rows
        .iter()
        .filter_map(|r| cell_f64(r, 0))
        .reduce(f64::max)
        .map(|v| vec![Sample::new(0, v)])
        .unwrap_or_default()
}

/// The collector.
#[derive(Debug, Default)]
pub struct CkptCollector;

impl Collector for CkptCollector {
    fn metrics(&self) -> Vec<MetricSpec> {
        METRICS.iter().map(MetricSpec::from).collect()
    }
    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        if !ctx.has_view(VIEW)? {
            return Err(CollectError::missing_view(VIEW));
        }
        let rows = ctx.query(SQL)?;
        out.extend(map_rows(&rows));
        Ok(())
    }
}

fn build(_: &DatasourceConfig) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(CkptCollector))
}

inventory::submit! {
    CollectorDescriptor::new("ckpt", "V$CKPT", Family::Database, METRICS, build)
        .queries(&[SQL])
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
        assert_eq!(map_rows(&rows(&[Some("1234567")])), vec![Sample::new(0, 1_234_567.0)]);
    }

    #[test]
    fn several_rows_one_series() {
        let r = rows(&[Some("10"), None, Some("45678"), Some("garbage"), Some("7")]);
        assert_eq!(map_rows(&r), vec![Sample::new(0, 45_678.0)]);
    }

    #[test]
    fn null_or_no_row_no_series() {
        assert!(map_rows(&rows(&[None])).is_empty());
        assert!(map_rows(&Rows::default()).is_empty());
    }
}
