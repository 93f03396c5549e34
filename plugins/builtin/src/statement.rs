//! V$SYSSTAT statement counters: `dmdbms_statement_type_total{statement_name}` for the 32
//! statistics upstream exports (statement counts, parse and plan-cache counts, time spent,
//! logical and physical I/O).
//!
//! Rows are selected by NAME (the IDs differ between builds). A name this build does not
//! have gives no series; a NULL value gives no series (upstream exported 0).

use dmexp_core::collector::{CollectorDescriptor, Family, MetricDef, Sample};
use dmexp_core::query::{cell, cell_f64, Rows};

/// The statistics exported, exactly as DM names them (case matters: 'DB time(ms)',
/// 'DDL in pl/sql count'). Upstream's list, in upstream's order.
pub const NAMES: [&str; 32] = [
    "select statements",
    "insert statements",
    "delete statements",
    "update statements",
    "ddl statements",
    "transaction total count",
    "select statements in pl/sql",
    "insert statements in pl/sql",
    "delete statements in pl/sql",
    "update statements in pl/sql",
    "DDL in pl/sql count",
    "dynamic exec in pl/sql",
    "DB time(ms)",
    "parse time(ms)",
    "hard parse time(ms)",
    "latch wait time(ms)",
    "mutex wait time(ms)",
    "io wait time(ms)",
    "trx lock wait time(ms)",
    "redo sync wait time(ms)",
    "redo sync wait time for commit(ms)",
    "parse count",
    "parser errors",
    "hard parse count",
    "plan total count",
    "plan cache hit count",
    "logic read count",
    "recycle logic read count",
    "physical read count",
    "physical multi read count",
    "physical write count",
    "transaction deadlock count",
];

/// NAME and STAT_VAL of the exported statistics (the IN list is [`NAMES`]).
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ NAME, STAT_VAL FROM V$SYSSTAT WHERE NAME IN (\
    'select statements', 'insert statements', 'delete statements', 'update statements', \
    'ddl statements', 'transaction total count', 'select statements in pl/sql', \
    'insert statements in pl/sql', 'delete statements in pl/sql', \
    'update statements in pl/sql', 'DDL in pl/sql count', 'dynamic exec in pl/sql', \
    'DB time(ms)', 'parse time(ms)', 'hard parse time(ms)', 'latch wait time(ms)', \
    'mutex wait time(ms)', 'io wait time(ms)', 'trx lock wait time(ms)', \
    'redo sync wait time(ms)', 'redo sync wait time for commit(ms)', 'parse count', \
    'parser errors', 'hard parse count', 'plan total count', 'plan cache hit count', \
    'logic read count', 'recycle logic read count', 'physical read count', \
    'physical multi read count', 'physical write count', 'transaction deadlock count')";

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #21).
pub const METRICS: &[MetricDef] = &[MetricDef::counter(
    "dmdbms_statement_type_total",
    "Information about different types of statements",
)
.with_labels(&["statement_name"])];

/// Maps the result of [`SQL`] to samples, in the order of [`NAMES`]. Only names of
/// [`NAMES`] (exact match) are exported, each once (the first row with a numeric value).
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let mut values: [Option<f64>; 32] = [None; 32];
    for row in &rows.rows {
        let (Some(name), Some(v)) = (cell(row, 0), cell_f64(row, 1)) else { continue };
        if let Some(i) = NAMES.iter().position(|n| *n == name) {
            values[i].get_or_insert(v);
        }
    }
    NAMES
        .iter()
        .zip(values)
        .filter_map(|(n, v)| v.map(|v| Sample::with_labels(0, vec![(*n).to_owned()], v)))
        .collect()
}

inventory::submit! {
    CollectorDescriptor::query("statement", "V$SYSSTAT", Family::Database, METRICS, &[SQL], map_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: Option<&str>, v: Option<&str>) -> Vec<Option<String>> {
        vec![name.map(str::to_owned), v.map(str::to_owned)]
    }

    #[test]
    fn sql_lists_exactly_the_names() {
        for n in NAMES {
            assert!(SQL.contains(&format!("'{n}'")), "{n} missing from SQL");
        }
        assert_eq!(SQL.matches("', '").count() + 1, NAMES.len());
    }

    #[test]
    fn exports_known_names_once_in_order() {
        let rows = Rows {
            rows: vec![
                row(Some("parse count"), Some("21000000")),
                row(Some("select statements"), Some("18234567")),
                row(Some("DB time(ms)"), Some(" 987654321 ")),
                // Not upstream's: ignored; case matters.
                row(Some("transaction commit count"), Some("5")),
                row(Some("db time(ms)"), Some("6")),
                // Repeated name: the first value wins.
                row(Some("select statements"), Some("1")),
                // NULL value or name, garbage: skipped.
                row(Some("ddl statements"), None),
                row(None, Some("7")),
                row(Some("parser errors"), Some("n/a")),
            ],
            ..Default::default()
        };
        assert_eq!(
            map_rows(&rows),
            vec![
                Sample::with_labels(0, vec!["select statements".into()], 18_234_567.0),
                Sample::with_labels(0, vec!["DB time(ms)".into()], 987_654_321.0),
                Sample::with_labels(0, vec!["parse count".into()], 21_000_000.0),
            ]
        );
        assert!(map_rows(&Rows::default()).is_empty());
    }
}
