//! Data files from V$DATAFILE: allocated and free bytes per file, with the file's autoextend
//! settings as labels (`dmdbms_tablespace_file_*`).
//!
//! Sizes in V$DATAFILE are pages. Upstream multiplied them by DM's `PAGE()` function, which
//! returns the database page size and exists only in DM; the page size is read here from
//! V$DM_INI `GLOBAL_PAGE_SIZE` in the same query, and the multiplication is done in Rust. The
//! label `tablespace_name` holds the datafile PATH, as upstream. Results are reused for
//! `bigKeyDataCacheTime`.

use dmexp_core::collector::{CacheClass, CollectorDescriptor, Family, MetricDef, Sample};
use dmexp_core::query::{cell, cell_f64, Rows};

/// Per data file: path, total pages, free pages, autoextend flag, next size (MB), max size
/// (MB), page size.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ PATH, TOTAL_SIZE, FREE_SIZE, AUTO_EXTEND, \
    NEXT_SIZE, MAX_SIZE, (SELECT PARA_VALUE FROM V$DM_INI WHERE PARA_NAME = 'GLOBAL_PAGE_SIZE') \
    FROM V$DATAFILE ORDER BY GROUP_ID, ID";

const TOTAL: usize = 0;
const FREE: usize = 1;

const LABELS: &[&str] = &["tablespace_name", "auto_extend", "next_size", "max_size"];

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #13–#14).
pub const METRICS: &[MetricDef] = &[
    MetricDef::gauge("dmdbms_tablespace_file_total_info", "Tablespace file information")
        .with_labels(LABELS),
    MetricDef::gauge("dmdbms_tablespace_file_free_info", "Tablespace file information")
        .with_labels(LABELS),
];

/// A label value: the cell's text, trimmed; NULL → `""` (as upstream).
fn text(row: &[Option<String>], i: usize) -> String {
    cell(row, i).map(str::trim).unwrap_or_default().to_owned()
}

/// Maps the result of [`SQL`] to samples: bytes = pages × page size. A file without a path
/// or without a usable page size is skipped; a NULL size skips that one series.
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let mut out = Vec::new();
    for row in &rows.rows {
        let path = text(row, 0);
        if path.is_empty() {
            continue;
        }
        let Some(page) = cell_f64(row, 6).filter(|p| *p > 0.0) else { continue };
        let labels = vec![path, text(row, 3), text(row, 4), text(row, 5)];
        for (metric, col) in [(TOTAL, 1), (FREE, 2)] {
            if let Some(pages) = cell_f64(row, col) {
                out.push(Sample::with_labels(metric, labels.clone(), pages * page));
            }
        }
    }
    out
}

inventory::submit! {
    CollectorDescriptor::query("datafile", "V$DATAFILE, V$DM_INI", Family::Database, METRICS, &[SQL], map_rows)
        .cached(CacheClass::BigKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[[Option<&str>; 7]]) -> Rows {
        Rows {
            rows: data.iter().map(|r| r.iter().map(|c| c.map(str::to_owned)).collect()).collect(),
            truncated: false,
            ..Default::default()
        }
    }

    fn labels(l: [&str; 4]) -> Vec<String> {
        l.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn bytes_are_pages_times_page_size() {
        let r = rows(&[
            [
                Some("/dm/SYSTEM.DBF"),
                Some("16384"),
                Some("4096"),
                Some("1"),
                Some("16"),
                Some("16777215"),
                Some("8192"),
            ],
            [Some("/dm/MAIN.DBF"), Some("8192"), Some("0"), Some("0"), None, None, Some("32768")],
        ]);
        let a = labels(["/dm/SYSTEM.DBF", "1", "16", "16777215"]);
        let b = labels(["/dm/MAIN.DBF", "0", "", ""]);
        assert_eq!(
            map_rows(&r),
            vec![
                Sample::with_labels(TOTAL, a.clone(), 134_217_728.0),
                Sample::with_labels(FREE, a, 33_554_432.0),
                Sample::with_labels(TOTAL, b.clone(), 268_435_456.0),
                Sample::with_labels(FREE, b, 0.0),
            ]
        );
    }

    #[test]
    fn nulls_and_garbage() {
        let ok = Some("8192");
        let r = rows(&[
            [None, Some("1"), Some("1"), None, None, None, ok],
            [Some("/a"), Some("1"), Some("1"), None, None, None, None],
            [Some("/b"), Some("1"), Some("1"), None, None, None, Some("0")],
            [Some("/c"), Some("1"), Some("1"), None, None, None, Some("big")],
            [Some("/d"), None, Some("x"), None, None, None, ok],
            [Some("/e"), Some("2"), None, None, None, None, ok],
        ]);
        assert_eq!(
            map_rows(&r),
            vec![Sample::with_labels(TOTAL, labels(["/e", "", "", ""]), 16_384.0)]
        );
    }
}
