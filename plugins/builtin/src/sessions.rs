//! V$SESSIONS family: number of sessions per state (`dmdbms_session_type_info`).
//!
//! Every state DM reports (CREATE, STARTUP, IDLE, ACTIVE, PENDING…) gets a series; a NULL
//! state is reported as `UNKNOWN`, as upstream does.

use dmexp_core::collector::{CollectorDescriptor, Family, MetricDef, Sample};
use dmexp_core::query::{cell, cell_f64, Rows};

/// Sessions per state.
pub const SQL: &str =
    "SELECT /*+DM_EXPORTER*/ STATE, COUNT(SESS_ID) FROM V$SESSIONS GROUP BY STATE";

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #17).
pub const METRICS: &[MetricDef] =
    &[MetricDef::gauge("dmdbms_session_type_info", "Number of database sessions type status")
        .with_labels(&["session_type"])];

/// Maps the result of [`SQL`] to samples. NULL and empty states count as `UNKNOWN`; if the
/// engine returns NULL and empty as two groups, they are summed into one series.
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let mut out: Vec<Sample> = Vec::new();
    for row in &rows.rows {
        let state = cell(row, 0).map(str::trim).filter(|s| !s.is_empty()).unwrap_or("UNKNOWN");
        let Some(count) = cell_f64(row, 1) else {
            continue;
        };
        match out.iter_mut().find(|s| s.labels[0] == state) {
            Some(existing) => existing.value += count,
            None => out.push(Sample::with_labels(0, vec![state.to_owned()], count)),
        }
    }
    out
}

inventory::submit! {
    CollectorDescriptor::query("sessions", "V$SESSIONS", Family::Database, METRICS, &[SQL], map_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_state_is_unknown() {
        let rows = Rows {
            rows: vec![
                vec![Some("ACTIVE".into()), Some("3".into())],
                vec![None, Some("2".into())],
                vec![Some("".into()), Some("1".into())],
                vec![Some("IDLE".into()), Some("5".into())],
            ],
            truncated: false,
            ..Default::default()
        };
        assert_eq!(
            map_rows(&rows),
            vec![
                Sample::with_labels(0, vec!["ACTIVE".into()], 3.0),
                Sample::with_labels(0, vec!["UNKNOWN".into()], 3.0),
                Sample::with_labels(0, vec!["IDLE".into()], 5.0),
            ]
        );
    }
}
