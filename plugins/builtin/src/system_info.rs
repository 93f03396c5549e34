//! V$SYSTEMINFO: the host as the database sees it. `dmdbms_system_base_info` (always 1,
//! the figures as labels: the Grafana dashboard builds its env/region/cluster/datasource
//! variables from this metric), `dmdbms_system_cpu_info` (N_CPU) and
//! `dmdbms_system_memory_info` (TOTAL_PHY_SIZE, bytes).
//!
//! V$SYSTEMINFO has one row per disk drive, identical but for the DRIVER_* columns: the
//! first row is used (`LIMIT 1`; upstream used `ROWNUM = 1`).

use dmexp_core::collector::{CollectorDescriptor, Family, MetricDef, Sample};
use dmexp_core::query::{cell_f64, Rows};

/// CPU count, physical and virtual memory and disk size (bytes) of the first row.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ N_CPU, TOTAL_PHY_SIZE, TOTAL_VIR_SIZE, \
    TOTAL_DISK_SIZE FROM V$SYSTEMINFO LIMIT 1";

const BASE: usize = 0;
const CPU: usize = 1;
const MEMORY: usize = 2;

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #43–#45).
pub const METRICS: &[MetricDef] = &[
    MetricDef::gauge(
        "dmdbms_system_base_info",
        "Database system base information metrics (always 1 with system info in labels)",
    )
    .with_labels(&["n_cpu", "total_phy_size", "total_vir_size", "total_disk_size"]),
    MetricDef::gauge("dmdbms_system_cpu_info", "Number of CPU cores"),
    MetricDef::gauge("dmdbms_system_memory_info", "Total physical memory size in bytes"),
];

/// A number as Go's `%f` prints it (`8` → `"8.000000"`), `""` for NULL or non-numeric
/// text, as upstream's labels (dashboards match on them).
pub fn go_f(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.6}")).unwrap_or_default()
}

/// Maps the result of [`SQL`] to samples: base info always (when there is a row), CPU and
/// memory only when numeric (upstream exported 0 for NULL).
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let Some(row) = rows.first() else { return Vec::new() };
    let labels = (0..4).map(|i| go_f(cell_f64(row, i))).collect();
    let mut out = vec![Sample::with_labels(BASE, labels, 1.0)];
    if let Some(v) = cell_f64(row, 0) {
        out.push(Sample::new(CPU, v));
    }
    if let Some(v) = cell_f64(row, 1) {
        out.push(Sample::new(MEMORY, v));
    }
    out
}

inventory::submit! {
    CollectorDescriptor::query("system_info", "V$SYSTEMINFO", Family::Database, METRICS, &[SQL], map_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(cells: &[Option<&str>]) -> Rows {
        Rows {
            rows: vec![cells.iter().map(|c| c.map(str::to_owned)).collect()],
            ..Default::default()
        }
    }

    #[test]
    fn go_percent_f() {
        assert_eq!(go_f(Some(8.0)), "8.000000");
        assert_eq!(go_f(Some(68_719_476_736.0)), "68719476736.000000");
        assert_eq!(go_f(Some(0.5)), "0.500000");
        assert_eq!(go_f(None), "");
    }

    #[test]
    fn full_row() {
        let r = rows(&[Some("16"), Some("68719476736"), Some("8589934592"), Some("2199023255552")]);
        assert_eq!(
            map_rows(&r),
            vec![
                Sample::with_labels(
                    BASE,
                    vec![
                        "16.000000".into(),
                        "68719476736.000000".into(),
                        "8589934592.000000".into(),
                        "2199023255552.000000".into()
                    ],
                    1.0
                ),
                Sample::new(CPU, 16.0),
                Sample::new(MEMORY, 68_719_476_736.0),
            ]
        );
    }

    #[test]
    fn nulls_and_garbage() {
        let r = rows(&[Some("4"), Some("8589934592"), None, Some("n/a")]);
        let s = map_rows(&r);
        assert_eq!(
            s[0].labels,
            vec!["4.000000".to_owned(), "8589934592.000000".into(), String::new(), String::new()]
        );
        assert_eq!(s.len(), 3);
        let r = rows(&[None, None, None, None]);
        assert_eq!(map_rows(&r), vec![Sample::with_labels(BASE, vec![String::new(); 4], 1.0)]);
        assert!(map_rows(&Rows::default()).is_empty());
    }
}
