//! Tablespace sizes from DBA_DATA_FILES (allocated bytes) and DBA_FREE_SPACE (free extents,
//! in pages, times V$DM_INI `GLOBAL_PAGE_SIZE`), in MB as upstream.
//!
//! Upstream inner-joined free space with the data files, so a 100 %-full tablespace (no
//! free extent, hence no DBA_FREE_SPACE row) vanished from both metrics and the 95 % alert
//! could never fire (docs/UPSTREAM.md §8 C3). Here every tablespace with data files is reported,
//! with free = 0 when it has no free extent. Results are reused for `bigKeyDataCacheTime`.

use dmexp_core::collector::{CacheClass, CollectorDescriptor, Family, MetricDef, Sample};
use dmexp_core::query::{cell, cell_f64, Rows};

/// Per tablespace: name, total bytes, free pages (NULL when it has no free extent), page size.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ T.TABLESPACE_NAME, T.TOTAL_BYTES, F.FREE_BLOCKS, \
    (SELECT PARA_VALUE FROM V$DM_INI WHERE PARA_NAME = 'GLOBAL_PAGE_SIZE') \
    FROM (SELECT TABLESPACE_NAME, SUM(BYTES) AS TOTAL_BYTES FROM DBA_DATA_FILES \
    GROUP BY TABLESPACE_NAME) T \
    LEFT JOIN (SELECT TABLESPACE_NAME, SUM(BLOCKS) AS FREE_BLOCKS FROM DBA_FREE_SPACE \
    GROUP BY TABLESPACE_NAME) F ON F.TABLESPACE_NAME = T.TABLESPACE_NAME \
    ORDER BY T.TABLESPACE_NAME";

const TOTAL: usize = 0;
const FREE: usize = 1;

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #11–#12).
pub const METRICS: &[MetricDef] = &[
    MetricDef::gauge("dmdbms_tablespace_size_total_info", "Tablespace info information")
        .with_labels(&["tablespace_name"]),
    MetricDef::gauge("dmdbms_tablespace_size_free_info", "Tablespace info information")
        .with_labels(&["tablespace_name"]),
];

const MIB: f64 = 1_048_576.0;

/// Maps the result of [`SQL`] to samples: total MB = ROUND(SUM(BYTES) / 1 MiB), free MB =
/// ROUND(SUM(BLOCKS) × page size / 1 MiB), 0 without free extents. A row without a name or
/// a numeric total is skipped; free is skipped (not 0) when free pages exist but the page
/// size is unknown.
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let mut out = Vec::new();
    for row in &rows.rows {
        let Some(name) = cell(row, 0).map(str::trim).filter(|n| !n.is_empty()) else {
            continue;
        };
        let Some(total) = cell_f64(row, 1) else { continue };
        let labels = vec![name.to_owned()];
        out.push(Sample::with_labels(TOTAL, labels.clone(), (total / MIB).round()));
        let free = match (cell(row, 2), cell_f64(row, 3)) {
            (None, _) => Some(0.0),
            (Some(_), Some(page)) => cell_f64(row, 2).map(|blocks| (blocks * page / MIB).round()),
            (Some(_), None) => None,
        };
        if let Some(free) = free {
            out.push(Sample::with_labels(FREE, labels, free));
        }
    }
    out
}

inventory::submit! {
    CollectorDescriptor::query(
        "tablespace",
        "DBA_DATA_FILES, DBA_FREE_SPACE, V$DM_INI",
        Family::Database,
        METRICS, &[SQL], map_rows)
    .cached(CacheClass::BigKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[[Option<&str>; 4]]) -> Rows {
        Rows {
            rows: data.iter().map(|r| r.iter().map(|c| c.map(str::to_owned)).collect()).collect(),
            truncated: false,
            ..Default::default()
        }
    }

    fn s(metric: usize, name: &str, v: f64) -> Sample {
        Sample::with_labels(metric, vec![name.to_owned()], v)
    }

    #[test]
    fn sizes_in_mb_and_full_tablespace_kept() {
        let r = rows(&[
            [Some("APP_DATA"), Some("4294967296"), Some("45568"), Some("8192")],
            // No free extent: 100 % full, free 0 (upstream dropped the tablespace).
            [Some("APP_FULL"), Some("536870912"), None, Some("8192")],
            // PostgreSQL prints SUM(bigint) as numeric.
            [Some("MAIN"), Some("1073741824.0000"), Some("64000"), Some(" 8192 ")],
        ]);
        assert_eq!(
            map_rows(&r),
            vec![
                s(TOTAL, "APP_DATA", 4096.0),
                s(FREE, "APP_DATA", 356.0),
                s(TOTAL, "APP_FULL", 512.0),
                s(FREE, "APP_FULL", 0.0),
                s(TOTAL, "MAIN", 1024.0),
                s(FREE, "MAIN", 500.0),
            ]
        );
    }

    #[test]
    fn rounds_like_upstream() {
        let r = rows(&[[Some("T"), Some("1572864"), Some("100"), Some("32768")]]);
        // 1.5 MB -> 2; 100 × 32 KiB = 3.125 MB -> 3
        assert_eq!(map_rows(&r), vec![s(TOTAL, "T", 2.0), s(FREE, "T", 3.0)]);
    }

    #[test]
    fn nulls_and_garbage() {
        let r = rows(&[
            [None, Some("1048576"), Some("1"), Some("8192")],
            [Some("  "), Some("1048576"), Some("1"), Some("8192")],
            [Some("NOTOTAL"), None, Some("1"), Some("8192")],
            [Some("BADTOTAL"), Some("x"), Some("1"), Some("8192")],
            // Free pages but no usable page size: free unknown, not 0.
            [Some("NOPAGE"), Some("1048576"), Some("128"), None],
            [Some("BADPAGE"), Some("1048576"), Some("128"), Some("8K")],
            [Some("BADFREE"), Some("1048576"), Some("lots"), Some("8192")],
        ]);
        assert_eq!(
            map_rows(&r),
            vec![s(TOTAL, "NOPAGE", 1.0), s(TOTAL, "BADPAGE", 1.0), s(TOTAL, "BADFREE", 1.0)]
        );
        assert!(map_rows(&Rows::default()).is_empty());
    }
}
