//! V$SYSTEM_EVENT: waits per wait event since startup,
//! `dmdbms_system_event_waits_total{event}` (TOTAL_WAITS).
//!
//! Older builds lack the view (docs/DM8.md §5): the collector asks V$DYNAMIC_TABLES and
//! V$DYNAMIC_TABLE_COLUMNS once per connection (`has_view`, `has_columns`); when the view or one of its two
//! columns is missing, the collector is skipped as not applicable
//! (`dameng_exporter_collector_skipped{reason="not_applicable"} 1`).

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CollectContext, CollectError, Collector, CollectorDescriptor, Family, MetricDef,
    MetricSpec, Sample,
};
use dmexp_core::query::{cell, cell_f64, Rows};

/// Event name and number of waits, one row per event.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ EVENT, TOTAL_WAITS FROM V$SYSTEM_EVENT";

/// The optional view this collector reads.
pub const VIEW: &str = "V$SYSTEM_EVENT";

/// Its columns this collector needs.
pub const COLUMNS: &[&str] = &["EVENT", "TOTAL_WAITS"];

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #46).
pub const METRICS: &[MetricDef] =
    &[MetricDef::counter("dmdbms_system_event_waits_total", "Total waits grouped by system event")
        .with_labels(&["event"])];

/// Maps the result of [`SQL`] to samples. A NULL or empty event name is `UNKNOWN`, as
/// upstream; rows that end up with the same name are summed into one series. A NULL
/// TOTAL_WAITS gives no value for that row (upstream exported 0).
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let mut out: Vec<Sample> = Vec::new();
    for row in &rows.rows {
        let Some(waits) = cell_f64(row, 1) else { continue };
        let event = cell(row, 0).map(str::trim).filter(|s| !s.is_empty()).unwrap_or("UNKNOWN");
        match out.iter_mut().find(|s| s.labels[0] == event) {
            Some(existing) => existing.value += waits,
            None => out.push(Sample::with_labels(0, vec![event.to_owned()], waits)),
        }
    }
    out
}

/// The collector.
#[derive(Debug, Default)]
pub struct SystemEventCollector;

impl Collector for SystemEventCollector {
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
        if !ctx.has_columns(VIEW, COLUMNS)? {
            return Err(CollectError::missing_columns(VIEW, COLUMNS));
        }
        let rows = ctx.query(SQL)?;
        out.extend(map_rows(&rows));
        Ok(())
    }
}

fn build(_: &DatasourceConfig) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(SystemEventCollector))
}

inventory::submit! {
    CollectorDescriptor::new("system_event", "V$SYSTEM_EVENT", Family::Database, METRICS, build)
        .queries(&[SQL])
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

    fn s(event: &str, v: f64) -> Sample {
        Sample::with_labels(0, vec![event.to_owned()], v)
    }

    #[test]
    fn one_series_per_event() {
        let r = rows(&[
            [Some("trxid lock wait"), Some("1520")],
            [Some("network idle wait"), Some("9876543")],
        ]);
        assert_eq!(
            map_rows(&r),
            vec![s("trxid lock wait", 1520.0), s("network idle wait", 9_876_543.0)]
        );
    }

    #[test]
    fn unknown_names_null_waits_and_repeats() {
        let r = rows(&[
            [None, Some("2")],
            [Some("  "), Some("3")],
            [Some("io read wait"), None],
            [Some("io read wait"), Some("junk")],
            [Some("redo flush wait"), Some("5")],
            [Some("redo flush wait"), Some("1")],
        ]);
        assert_eq!(map_rows(&r), vec![s("UNKNOWN", 5.0), s("redo flush wait", 6.0)]);
        assert!(map_rows(&Rows::default()).is_empty());
    }
}
