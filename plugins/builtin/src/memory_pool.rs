//! Hash-join, hash-aggregation and sort memory zones from V$SYSSTAT, selected by statistic
//! ID as upstream does (HJ: current = 114 + 115, total = 144; HAGR: 116 / 142; SORT: 178 /
//! 177; bytes).
//!
//! Upstream turned a missing ID (older builds number their statistics differently) into 0;
//! here a value whose IDs are all absent or NULL yields no series, so "0 bytes used" is never
//! reported for "unknown".

use dmexp_core::collector::{CollectorDescriptor, Family, MetricDef, Sample};
use dmexp_core::query::{cell_f64, Rows};

/// The statistics rows of the three zones.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ ID, STAT_VAL FROM V$SYSSTAT \
    WHERE ID IN (114, 115, 116, 142, 144, 177, 178)";

const TOTAL: usize = 0;
const CURR: usize = 1;

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #15–#16).
pub const METRICS: &[MetricDef] = &[
    MetricDef::gauge("dmdbms_memory_total_pool_info", "mem total pool info information")
        .with_labels(&["pool_type"]),
    MetricDef::gauge("dmdbms_memory_curr_pool_info", "mem curr pool info information")
        .with_labels(&["pool_type"]),
];

/// Zone label, IDs summed for the current size, IDs summed for the total size.
const ZONES: &[(&str, &[i64], &[i64])] = &[
    ("HJ ZONE", &[114, 115], &[144]),
    ("HAGR ZONE", &[116], &[142]),
    ("SORT ZONE", &[178], &[177]),
];

/// Maps the result of [`SQL`] to samples. Like SQL's `SUM`, a value is the sum of the
/// non-NULL rows of its IDs, and absent when there is none.
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let values: Vec<(i64, f64)> = rows
        .rows
        .iter()
        .filter_map(|r| {
            let id = cell_f64(r, 0)?;
            Some((id as i64, cell_f64(r, 1)?))
        })
        .collect();
    let sum = |ids: &[i64]| {
        let mut found = values.iter().filter(|(id, _)| ids.contains(id)).map(|(_, v)| *v);
        let first = found.next()?;
        Some(found.fold(first, |a, b| a + b))
    };
    let mut out = Vec::new();
    for (zone, curr_ids, total_ids) in ZONES {
        for (metric, ids) in [(TOTAL, *total_ids), (CURR, *curr_ids)] {
            if let Some(v) = sum(ids) {
                out.push(Sample::with_labels(metric, vec![(*zone).to_owned()], v));
            }
        }
    }
    out
}

inventory::submit! {
    CollectorDescriptor::query("memory_pool", "V$SYSSTAT", Family::Database, METRICS, &[SQL], map_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[(Option<&str>, Option<&str>)]) -> Rows {
        Rows {
            rows: data
                .iter()
                .map(|(a, b)| vec![a.map(str::to_owned), b.map(str::to_owned)])
                .collect(),
            truncated: false,
            ..Default::default()
        }
    }

    fn s(metric: usize, zone: &str, v: f64) -> Sample {
        Sample::with_labels(metric, vec![zone.to_owned()], v)
    }

    #[test]
    fn all_ids_present() {
        let r = rows(&[
            (Some("114"), Some("10485760")),
            (Some("115"), Some("2097152")),
            (Some("116"), Some("4194304")),
            (Some("142"), Some("524288000")),
            (Some("144"), Some("524288000")),
            (Some("177"), Some("1048576000")),
            (Some("178"), Some("8388608")),
        ]);
        assert_eq!(
            map_rows(&r),
            vec![
                s(TOTAL, "HJ ZONE", 524_288_000.0),
                s(CURR, "HJ ZONE", 12_582_912.0),
                s(TOTAL, "HAGR ZONE", 524_288_000.0),
                s(CURR, "HAGR ZONE", 4_194_304.0),
                s(TOTAL, "SORT ZONE", 1_048_576_000.0),
                s(CURR, "SORT ZONE", 8_388_608.0),
            ]
        );
    }

    #[test]
    fn missing_ids_give_no_series_not_zero() {
        let r = rows(&[
            (Some("114"), Some("3145728")),
            // 115 absent: HJ current is the sum of what exists, as SQL SUM.
            (Some("116"), Some("0")),
            (Some("142"), None),
            (Some("144"), Some("104857600")),
            (Some("177"), Some("209715200")),
            // 178 absent: no SORT current (upstream: 0).
            (None, Some("7")),
            (Some("x"), Some("7")),
            (Some("178"), Some("n/a")),
        ]);
        assert_eq!(
            map_rows(&r),
            vec![
                s(TOTAL, "HJ ZONE", 104_857_600.0),
                s(CURR, "HJ ZONE", 3_145_728.0),
                s(CURR, "HAGR ZONE", 0.0),
                s(TOTAL, "SORT ZONE", 209_715_200.0),
            ]
        );
        assert!(map_rows(&Rows::default()).is_empty());
    }
}
