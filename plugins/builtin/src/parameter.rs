//! Selected server parameters from V$DM_INI (`dmdbms_parameter_info{param_name}`):
//! MAX_SESSIONS, REDOS_BUF_NUM, REDOS_BUF_SIZE (MB) and PORT_NUM, which the upstream alert
//! rules divide by. PARA_VALUE is text; a value that is not a number is skipped.

use dmexp_core::collector::{CollectorDescriptor, Family, MetricDef, Sample};
use dmexp_core::query::{cell, cell_f64, Rows};

/// The four parameters.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ PARA_NAME, PARA_VALUE FROM V$DM_INI \
    WHERE PARA_NAME IN ('MAX_SESSIONS', 'REDOS_BUF_NUM', 'REDOS_BUF_SIZE', 'PORT_NUM') \
    ORDER BY PARA_NAME";

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #22).
pub const METRICS: &[MetricDef] =
    &[MetricDef::gauge("dmdbms_parameter_info", "Information about DM database parameters")
        .with_labels(&["param_name"])];

/// Maps the result of [`SQL`] to samples; NULL or non-numeric values are skipped.
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    rows.rows
        .iter()
        .filter_map(|row| {
            let name = cell(row, 0).map(str::trim).filter(|n| !n.is_empty())?;
            let value = cell_f64(row, 1).filter(|v| v.is_finite())?;
            Some(Sample::with_labels(0, vec![name.to_owned()], value))
        })
        .collect()
}

inventory::submit! {
    CollectorDescriptor::query("parameter", "V$DM_INI", Family::Database, METRICS, &[SQL], map_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_values_only() {
        let rows = Rows {
            rows: vec![
                vec![Some("MAX_SESSIONS".into()), Some("1000".into())],
                vec![Some("PORT_NUM".into()), Some(" 5236 ".into())],
                vec![Some("REDOS_BUF_SIZE".into()), Some("32.5".into())],
                vec![Some("REDOS_BUF_NUM".into()), Some("many".into())],
                vec![Some("REDOS_BUF_NUM".into()), Some("NaN".into())],
                vec![Some("REDOS_BUF_NUM".into()), None],
                vec![None, Some("1".into())],
            ],
            ..Rows::default()
        };
        let s = |n: &str, v| Sample::with_labels(0, vec![n.to_owned()], v);
        assert_eq!(
            map_rows(&rows),
            vec![s("MAX_SESSIONS", 1000.0), s("PORT_NUM", 5236.0), s("REDOS_BUF_SIZE", 32.5)]
        );
    }
}
