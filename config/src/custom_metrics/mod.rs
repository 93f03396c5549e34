//! Custom metrics files: the upstream `[[metric]]` TOML format (docs/UPSTREAM.md §4), loaded per
//! datasource from `customMetricsFile`, validated before anything runs.
//!
//! ```toml
//! [[metric]]
//! context = "sessions_by_state"          # metric names: dmdbms_<context>_<column>
//! labels = ["state"]                     # columns whose values become labels
//! request = "SELECT STATE AS state, COUNT(*) AS total FROM V$SESSIONS GROUP BY STATE"
//! metricsdesc = { total = "Sessions per state." }   # value columns and their HELP
//! metricstype = { total = "gauge" }      # counter or gauge (default gauge)
//! ignorezeroresult = false               # skip samples whose value is 0
//! # ours:
//! querytimeout = "10s"                   # this query's timeout (default: queryTimeout)
//! scrapeinterval = "5m"                  # run at most this often, serve the last result between
//! maxrows = 100                          # row cap (default 100)
//! staticlabels = { team = "dba" }        # fixed labels on every sample of this metric
//! valuemap = { state = { OPEN = 1, MOUNT = 2, "*" = 0 } }   # text value -> number
//! ```
//!
//! Keys match case-insensitively (upstream produced nothing for upper-case keys); column names
//! in `labels`, `metricsdesc`, `metricstype` and `valuemap` too (result columns are compared
//! lower-cased, as upstream). TOML 1.1 is accepted, so inline tables may span lines as
//! upstream's guide shows. Every problem names the file, the line, the metric (index and
//! context) and the key, and says how to fix it; the whole file is refused when any metric
//! is wrong (that datasource then runs without custom metrics). Each `request` must be
//! exactly one read-only query (the dmexp-sqlguard crate, the policy shared with plugins and
//! the read-only pool): only SELECT/WITH, no data-modifying CTE, no `SELECT … INTO`, no
//! `FOR UPDATE`, no second statement however it is hidden, no function with lasting
//! effects (`lo_create`, `pg_advisory_lock`, `nextval`, …).
//!
//! Files: this one holds the model (the validated types) and the entry points; [`load`] the
//! walker (file-level keys, the keys of each `[[metric]]`, cross-metric checks), [`metric`]
//! one `[[metric]]` key by key, [`scalars`] strings, row caps and durations, [`names`] label
//! and metric-name rules.

mod load;
mod metric;
mod names;
mod scalars;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{ConfigError, Problem};
use crate::model::ConfigWarning;
use crate::raw::LineIndex;
use load::Loader;

/// Row cap of a custom query unless `maxrows` says otherwise.
pub const DEFAULT_CUSTOM_MAX_ROWS: usize = 100;
/// Largest accepted `maxrows`.
pub const MAX_CUSTOM_MAX_ROWS: usize = 100_000;
/// Largest accepted `querytimeout` (the same bound as `queryTimeout`).
pub const MAX_CUSTOM_QUERY_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest accepted `scrapeinterval`.
pub const MAX_CUSTOM_SCRAPE_INTERVAL: Duration = Duration::from_secs(86_400);
/// Prefix of every custom metric name (upstream: `dmdbms_<context>_<column>`).
pub const CUSTOM_METRIC_PREFIX: &str = "dmdbms_";
/// `valuemap` key matching any text not listed in the map.
pub const VALUE_MAP_DEFAULT_KEY: &str = "*";

/// Prometheus type of a custom metric column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomMetricKind {
    /// `counter`: a value that only goes up.
    Counter,
    /// `gauge` (the default).
    Gauge,
}

/// `valuemap` of one column: the cell text is looked up (exactly, then trimmed and
/// case-insensitively); `*` is the value for any text not listed.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueMap {
    /// Text → number, in file order.
    pub entries: Vec<(String, f64)>,
    /// The `*` entry, if any.
    pub default: Option<f64>,
}

impl ValueMap {
    /// The number for a cell text, if the map has one.
    pub fn lookup(&self, text: &str) -> Option<f64> {
        let t = text.trim();
        self.entries
            .iter()
            .find(|(k, _)| k == text)
            .or_else(|| self.entries.iter().find(|(k, _)| k.trim().eq_ignore_ascii_case(t)))
            .map(|(_, v)| *v)
            .or(self.default)
    }
}

/// One value column of a `[[metric]]`: one Prometheus metric.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueColumn {
    /// Result column (lower-case).
    pub column: String,
    /// Full metric name, `dmdbms_<context>_<column>`.
    pub metric_name: String,
    /// HELP text (the `metricsdesc` value).
    pub help: String,
    /// Counter or gauge.
    pub kind: CustomMetricKind,
    /// `valuemap` entry of this column, if any.
    pub value_map: Option<ValueMap>,
}

/// One validated `[[metric]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomMetric {
    /// 1-based position in the file.
    pub index: usize,
    /// Line of its `[[metric]]` header (0 when unknown).
    pub line: usize,
    /// `context`.
    pub context: String,
    /// `labels`: result columns (lower-case) whose values become labels of the same name.
    pub labels: Vec<String>,
    /// `staticlabels`: fixed label names and values, in file order.
    pub static_labels: Vec<(String, String)>,
    /// The SQL to run: the `request`, proven to be one read-only query, without a trailing
    /// `;` or surrounding whitespace.
    pub request: String,
    /// `metricsdesc` (with `metricstype` and `valuemap` folded in), in file order.
    pub values: Vec<ValueColumn>,
    /// `ignorezeroresult`: skip samples whose value is 0.
    pub ignore_zero_result: bool,
    /// `querytimeout`: this query's timeout; `None` = the datasource's queryTimeout.
    pub query_timeout: Option<Duration>,
    /// `scrapeinterval`: reuse the last result for this long; `None` = every scrape.
    pub scrape_interval: Option<Duration>,
    /// `maxrows`: rows read at most (the rest is dropped and counted).
    pub max_rows: usize,
}

impl CustomMetric {
    /// `metric #N (context "x")`, for messages.
    pub fn describe(&self) -> String {
        format!("metric #{} (context \"{}\")", self.index, self.context)
    }
}

/// A validated custom metrics file.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomMetricsFile {
    /// The file.
    pub path: PathBuf,
    /// Every `[[metric]]`, in file order.
    pub metrics: Vec<CustomMetric>,
    /// Non-fatal findings (unknown keys, keys of other exporters, `metricstype` for a column
    /// that is not in `metricsdesc`), each naming file and line.
    pub warnings: Vec<ConfigWarning>,
}

/// What [`load_custom_metrics_with`] checks besides the file itself.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CustomMetricsOptions {
    /// Metric names already taken (the built-in collectors' metrics): a custom metric with
    /// one of these names is refused.
    pub reserved_names: Vec<String>,
}

impl CustomMetricsOptions {
    /// Options with these taken metric names.
    pub fn with_reserved_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.reserved_names = names.into_iter().map(Into::into).collect();
        self
    }
}

/// Reads and validates a custom metrics file (no reserved names; see
/// [`load_custom_metrics_with`]).
pub fn load_custom_metrics(path: &Path) -> Result<CustomMetricsFile, ConfigError> {
    load_custom_metrics_with(path, &CustomMetricsOptions::default())
}

/// Reads and validates a custom metrics file. Every problem is reported, each naming the
/// line, the metric (index and context), the key and the fix.
pub fn load_custom_metrics_with(
    path: &Path,
    options: &CustomMetricsOptions,
) -> Result<CustomMetricsFile, ConfigError> {
    let text = crate::fsread::read_text_file(path).map_err(|e| ConfigError::Invalid {
        file: path.display().to_string(),
        problems: vec![Problem::new(format!(
            "cannot read the custom metrics file: {e}; check customMetricsFile (relative paths \
             are resolved against the config file's directory)"
        ))
        .with_key("customMetricsFile")],
    })?;
    parse_custom_metrics(&text, path, options)
}

/// Like [`load_custom_metrics_with`] with the text already read; `path` names the file in
/// messages.
pub fn parse_custom_metrics(
    text: &str,
    path: &Path,
    options: &CustomMetricsOptions,
) -> Result<CustomMetricsFile, ConfigError> {
    let file = path.display().to_string();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = LineIndex::new(text);
    let doc = toml_edit::Document::parse(text).map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| lines.line_col(text, s.start));
        ConfigError::Syntax {
            file: file.clone(),
            line,
            column,
            message: {
                let m = e.message().trim_end();
                let hint = if m.contains("unquoted key") {
                    "; a column name with $ or # must be quoted (\"STATUS$\"), or better aliased \
                     in the request (STATUS$ AS status)"
                } else {
                    " (a custom metrics file is TOML: one [[metric]] table per metric)"
                };
                format!("{m}{hint}")
            },
        }
    })?;
    let mut l = Loader { file, text, lines: &lines, problems: Vec::new(), warnings: Vec::new() };
    let metrics = l.walk(doc.as_table(), options);
    if !l.problems.is_empty() {
        l.problems.sort_by_key(|p| p.line.unwrap_or(0));
        return Err(ConfigError::Invalid { file: l.file, problems: l.problems });
    }
    l.warnings.sort_by_key(|(line, _)| *line);
    let warnings = l.warnings.into_iter().map(|(_, w)| w).collect();
    Ok(CustomMetricsFile { path: path.to_path_buf(), metrics, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_map_lookup() {
        let m = ValueMap {
            entries: vec![("OPEN".into(), 1.0), ("MOUNT".into(), 2.0)],
            default: Some(4.0),
        };
        assert_eq!(m.lookup("OPEN"), Some(1.0));
        assert_eq!(m.lookup(" mount "), Some(2.0));
        assert_eq!(m.lookup("SUSPEND"), Some(4.0));
        let strict = ValueMap { entries: vec![("Y".into(), 1.0)], default: None };
        assert_eq!(strict.lookup("N"), None);
    }
}
