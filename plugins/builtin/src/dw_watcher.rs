//! V$DMWATCHER: the data-guard watcher attached to this instance,
//! `dmdbms_dw_watcher_info{dw_mode, dw_status, auto_restart}`, value = DW_STATUS as
//! OPEN 1, MOUNT 2, SUSPEND 3, anything else 4 (the mapping of `dmdbms_status_info`).
//!
//! The view exists only where data guard is compiled in: the collector asks
//! V$DYNAMIC_TABLES once per connection (`has_view`); without it the collector is skipped
//! as not applicable (`dameng_exporter_collector_skipped{reason="not_applicable"} 1`; upstream queried it unconditionally, and also joined V$INSTANCE without using it).

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CollectContext, CollectError, Collector, CollectorDescriptor, Family, MetricDef,
    MetricSpec, Sample,
};
use dmexp_core::query::{cell, Rows};

use crate::instance::status_code;

/// Watcher mode, status and auto-restart flag, one row per watcher.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ DW_MODE, DW_STATUS, AUTO_RESTART FROM V$DMWATCHER";

/// The optional view this collector reads.
pub const VIEW: &str = "V$DMWATCHER";

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #42).
pub const METRICS: &[MetricDef] = &[MetricDef::gauge(
    "dmdbms_dw_watcher_info",
    "Information about DM database Instance Watcher info, dw_status value info:  \
     open = 1,mount = 2,suspend = 3 ,other = 4",
)
.with_labels(&["dw_mode", "dw_status", "auto_restart"])];

/// Maps the result of [`SQL`] to samples: one per watcher, NULL labels `""`, a NULL status
/// counts as "other" (4). A row repeating an earlier row's labels is dropped (upstream's
/// duplicate series failed the whole scrape).
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let mut out: Vec<Sample> = Vec::new();
    for row in &rows.rows {
        let text = |i| cell(row, i).map(str::trim).unwrap_or_default().to_owned();
        let labels = vec![text(0), text(1), text(2)];
        if out.iter().any(|s| s.labels == labels) {
            continue;
        }
        out.push(Sample::with_labels(0, labels, status_code(cell(row, 1))));
    }
    out
}

/// The collector.
#[derive(Debug, Default)]
pub struct DwWatcherCollector;

impl Collector for DwWatcherCollector {
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
    Ok(Box::new(DwWatcherCollector))
}

inventory::submit! {
    CollectorDescriptor::new("dw_watcher", "V$DMWATCHER", Family::Database, METRICS, build)
        .queries(&[SQL])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[[Option<&str>; 3]]) -> Rows {
        Rows {
            rows: data.iter().map(|r| r.iter().map(|c| c.map(str::to_owned)).collect()).collect(),
            ..Default::default()
        }
    }

    fn s(labels: [&str; 3], v: f64) -> Sample {
        Sample::with_labels(0, labels.iter().map(|l| (*l).to_owned()).collect(), v)
    }

    #[test]
    fn status_codes() {
        let r = rows(&[
            [Some("AUTO"), Some("OPEN"), Some("1")],
            [Some("MANUAL"), Some("MOUNT"), Some("0")],
            [Some("AUTO"), Some("SUSPEND"), Some("1")],
            [Some("AUTO"), Some("RECOVERY"), Some("1")],
        ]);
        assert_eq!(
            map_rows(&r),
            vec![
                s(["AUTO", "OPEN", "1"], 1.0),
                s(["MANUAL", "MOUNT", "0"], 2.0),
                s(["AUTO", "SUSPEND", "1"], 3.0),
                s(["AUTO", "RECOVERY", "1"], 4.0),
            ]
        );
    }

    #[test]
    fn nulls_and_duplicates() {
        let r = rows(&[
            [None, None, None],
            [Some("AUTO"), Some("OPEN"), Some("1")],
            [Some("AUTO"), Some("OPEN"), Some("1")],
        ]);
        assert_eq!(map_rows(&r), vec![s(["", "", ""], 4.0), s(["AUTO", "OPEN", "1"], 1.0)]);
        assert!(map_rows(&Rows::default()).is_empty());
    }
}
