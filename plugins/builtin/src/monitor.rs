//! V$DMMONITOR family: the dmmonitor processes connected to this instance
//! (`dmdbms_monitor_info`, value = MID).
//!
//! V$DMMONITOR is absent from older builds (docs/DM8.md §5): the collector asks V$DYNAMIC_TABLES
//! once per connection (`has_view`); without it the collector is skipped as not applicable
//! (`dameng_exporter_collector_skipped{reason="not_applicable"} 1`). Upstream
//! asked on every scrape.

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CollectContext, CollectError, Collector, CollectorDescriptor, Family, MetricDef,
    MetricSpec, Sample,
};
use dmexp_core::query::{cell, cell_f64, Rows};

/// The monitors connected to this instance, one row each.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ DW_CONN_TIME, MON_CONFIRM, MON_ID, MON_IP, \
    MON_VERSION, MID FROM V$DMMONITOR";

/// The optional view this collector reads.
pub const VIEW: &str = "V$DMMONITOR";

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #20).
pub const METRICS: &[MetricDef] =
    &[MetricDef::gauge("dmdbms_monitor_info", "Information about DM monitor").with_labels(&[
        "dw_conn_time",
        "mon_confirm",
        "mon_id",
        "mon_ip",
        "mon_version",
    ])];

/// Maps the result of [`SQL`] to samples: one per monitor, value MID. A row whose MID is
/// NULL or not a number is skipped (upstream exported 0); NULL labels are `""`; a row whose
/// labels repeat an earlier row's is dropped (one series per label set).
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let mut out: Vec<Sample> = Vec::new();
    for row in &rows.rows {
        let Some(mid) = cell_f64(row, 5) else { continue };
        let text = |i| cell(row, i).map(str::trim).unwrap_or_default().to_owned();
        let labels = vec![
            cell(row, 0).map(crate::timefmt::wall_label).unwrap_or_default(),
            text(1),
            text(2),
            text(3),
            text(4),
        ];
        if out.iter().any(|s| s.labels == labels) {
            continue;
        }
        out.push(Sample::with_labels(0, labels, mid));
    }
    out
}

/// The collector.
#[derive(Debug, Default)]
pub struct MonitorCollector;

impl Collector for MonitorCollector {
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
    Ok(Box::new(MonitorCollector))
}

inventory::submit! {
    CollectorDescriptor::new("monitor", "V$DMMONITOR", Family::Database, METRICS, build)
        .queries(&[SQL])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[&[Option<&str>]]) -> Rows {
        Rows {
            rows: data.iter().map(|r| r.iter().map(|c| c.map(str::to_owned)).collect()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn one_series_per_monitor() {
        let r = rows(&[
            &[
                Some("2026-11-01 08:31:10.000000"),
                Some("TRUE"),
                Some("1"),
                Some("192.168.10.30"),
                Some("V8"),
                Some("1"),
            ],
            &[
                Some("2026-11-02 14:05:00"),
                Some("FALSE"),
                Some("2"),
                Some("192.168.10.31"),
                Some("V8"),
                Some("2"),
            ],
        ]);
        assert_eq!(
            map_rows(&r),
            vec![
                Sample::with_labels(
                    0,
                    vec![
                        "2026-11-01 08:31:10".into(),
                        "TRUE".into(),
                        "1".into(),
                        "192.168.10.30".into(),
                        "V8".into()
                    ],
                    1.0
                ),
                Sample::with_labels(
                    0,
                    vec![
                        "2026-11-02 14:05:00".into(),
                        "FALSE".into(),
                        "2".into(),
                        "192.168.10.31".into(),
                        "V8".into()
                    ],
                    2.0
                ),
            ]
        );
    }

    #[test]
    fn nulls_garbage_and_duplicates() {
        let r = rows(&[
            // NULL labels → "", garbage time kept as text.
            &[None, None, None, None, None, Some("3")],
            &[Some("not a time"), Some("TRUE"), None, None, None, Some("4")],
            // NULL or garbage MID: skipped.
            &[None, Some("TRUE"), None, None, None, None],
            &[None, Some("TRUE"), None, None, None, Some("x")],
            // Same labels as the first row: dropped.
            &[None, None, None, None, None, Some("5")],
        ]);
        let s = map_rows(&r);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].labels, vec![""; 5]);
        assert_eq!(s[0].value, 3.0);
        assert_eq!(s[1].labels[0], "not a time");
        assert_eq!(s[1].value, 4.0);
        assert!(map_rows(&Rows::default()).is_empty());
    }
}
