//! Redo log file family: size of every online redo log file (V$RLOGFILE), labelled with its
//! file id, path and creation time.
//!
//! `create_time` is the stored wall-clock time as `YYYY-MM-DD HH:MM:SS` (fractional seconds
//! dropped, as upstream; `""` for NULL). A NULL `RLOG_SIZE` skips the file (upstream: 0).

use dmexp_core::collector::{CollectorDescriptor, Family, MetricDef, Sample};
use dmexp_core::query::{cell, cell_f64, Rows};

/// One row per redo log file.
pub const SQL: &str =
    "SELECT /*+DM_EXPORTER*/ FILE_ID, PATH, CREATE_TIME, RLOG_SIZE FROM V$RLOGFILE";

/// Metrics of this collector, upstream name and help text (docs/UPSTREAM.md §3.2 #33).
pub const METRICS: &[MetricDef] =
    &[MetricDef::gauge("dmdbms_rlog_file_size_bytes", "Redo log file sizes from V$RLOGFILE")
        .with_labels(&["file_id", "path", "create_time"])];

/// Maps the result of [`SQL`] to samples.
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    rows.rows
        .iter()
        .filter_map(|row| {
            let size = cell_f64(row, 3)?;
            let labels = vec![
                cell(row, 0).map(str::trim).unwrap_or("").to_owned(),
                cell(row, 1).unwrap_or("").to_owned(),
                cell(row, 2).map(crate::timefmt::wall_label).unwrap_or_default(),
            ];
            Some(Sample::with_labels(0, labels, size))
        })
        .collect()
}

inventory::submit! {
    CollectorDescriptor::query("rlog_file", "V$RLOGFILE", Family::Database, METRICS, &[SQL], map_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: [Option<&str>; 4]) -> Vec<Option<String>> {
        cells.iter().map(|c| c.map(str::to_owned)).collect()
    }

    #[test]
    fn maps_files() {
        let rows = Rows {
            rows: vec![
                row([
                    Some("0"),
                    Some("/d/DAMENG01.log"),
                    Some("2026-03-15 10:02:11"),
                    Some("268435456"),
                ]),
                row([
                    Some("1"),
                    Some("/d/DAMENG02.log"),
                    Some("2026-03-15 10:02:11.000000"),
                    Some("268435456"),
                ]),
                row([None, None, None, Some("1024")]),
                row([Some("3"), Some("/d/x.log"), Some("someday"), Some("1")]),
                row([Some("4"), Some("/d/null.log"), Some("2026-03-15 10:02:11"), None]),
                row([Some("5"), Some("/d/bad.log"), Some("2026-03-15 10:02:11"), Some("big")]),
            ],
            ..Default::default()
        };
        let l = |a: &str, b: &str, c: &str| vec![a.to_owned(), b.to_owned(), c.to_owned()];
        assert_eq!(
            map_rows(&rows),
            vec![
                Sample::with_labels(
                    0,
                    l("0", "/d/DAMENG01.log", "2026-03-15 10:02:11"),
                    268_435_456.0
                ),
                Sample::with_labels(
                    0,
                    l("1", "/d/DAMENG02.log", "2026-03-15 10:02:11"),
                    268_435_456.0
                ),
                Sample::with_labels(0, l("", "", ""), 1024.0),
                Sample::with_labels(0, l("3", "/d/x.log", "someday"), 1.0),
            ]
        );
    }

    #[test]
    fn time_format_keeps_wall_clock() {
        assert_eq!(crate::timefmt::wall_label("2022-06-01 09:00:00 +08:00"), "2022-06-01 09:00:00");
        assert_eq!(crate::timefmt::wall_label("2022-06-01"), "2022-06-01 00:00:00");
    }
}
