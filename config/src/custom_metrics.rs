//! Custom metrics files: the upstream `[[metric]]` TOML format (UPSTREAM.md §4), loaded per
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
//! exactly one read-only query ([`sql`]): only SELECT/WITH, no data-modifying CTE, no
//! `SELECT … INTO`, no `FOR UPDATE`, no second statement however it is hidden.

mod sql;

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml_edit::{Item, Key, TableLike, Value};

use crate::error::{ConfigError, Problem};
use crate::model::ConfigWarning;
use crate::raw::{suggest, LineIndex};
use crate::toml_walk::type_name;

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

/// Proves that `sql` is exactly one read-only query — the rule applied to every custom
/// metric `request` (see the module docs) — and returns the text to execute (without a
/// trailing `;`), or why it is refused, with the position inside `sql` when known. For any
/// SQL the exporter did not write (custom metrics, plugins).
///
/// ```
/// assert!(dmexp_config::check_read_only_query("SELECT STATUS$ FROM V$INSTANCE;").is_ok());
/// let e = dmexp_config::check_read_only_query("SELECT 1 FROM DUAL; DROP TABLE T").unwrap_err();
/// assert!(e.starts_with("more than one statement"));
/// ```
pub fn check_read_only_query(sql: &str) -> Result<String, String> {
    sql::check_request(sql).map_err(|p| match (p.line, p.column) {
        (Some(l), Some(c)) => format!("{} (line {l}, column {c})", p.message),
        (Some(l), None) => format!("{} (line {l})", p.message),
        _ => p.message,
    })
}

/// True when `sql` is a query [`check_read_only_query`] accepts and every function it calls
/// is a PostgreSQL built-in known to change neither data nor session state (`COUNT`, `SUM`,
/// `COALESCE`, `UPPER`, `TO_CHAR`, `NOW`, `current_setting`, …; unqualified or
/// `pg_catalog.`-qualified, case-insensitive). Any other function (`nextval`, `set_config`, a
/// user or DM-only function), a user-defined operator or type, or SQL that does not parse
/// gives false. `CAST`, `EXTRACT` and `CASE` are expressions, not calls.
///
/// The read-only pool of dmexp-core uses it on PostgreSQL to skip re-asserting read-only
/// mode around such queries. Only the text is seen: a function called inside a view is not.
///
/// ```
/// assert!(dmexp_config::calls_only_known_functions("SELECT COUNT(*) AS n FROM V$SESSIONS"));
/// assert!(!dmexp_config::calls_only_known_functions("SELECT nextval('s')"));
/// ```
pub fn calls_only_known_functions(sql: &str) -> bool {
    sql::calls_only_known_functions(sql)
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

/// Keys of a `[[metric]]` table.
const METRIC_KEYS: &[&str] = &[
    "context",
    "labels",
    "request",
    "metricsdesc",
    "metricstype",
    "ignorezeroresult",
    "querytimeout",
    "scrapeinterval",
    "maxrows",
    "staticlabels",
    "valuemap",
];

/// Top-level keys: `metric` and the file-wide defaults.
const FILE_KEYS: &[&str] = &["metric", "querytimeout", "scrapeinterval", "maxrows"];

/// Keys of other exporters' `[[metric]]` format (oracledb_exporter), ignored with a reason.
const FOREIGN_KEYS: &[(&str, &str)] = &[
    ("databases", "each datasource has its own customMetricsFile here"),
    ("metricsbuckets", "histograms are not supported; export counters or gauges"),
    ("fieldtoappend", "not supported; use labels"),
];

/// Defaults for every metric of the file (top-level `querytimeout`, `scrapeinterval`, `maxrows`).
#[derive(Debug, Clone, Copy)]
struct FileDefaults {
    query_timeout: Option<Duration>,
    scrape_interval: Option<Duration>,
    max_rows: usize,
}

struct Loader<'a> {
    file: String,
    text: &'a str,
    lines: &'a LineIndex,
    problems: Vec<Problem>,
    /// With their line, to be sorted.
    warnings: Vec<(usize, ConfigWarning)>,
}

/// A key of one `[[metric]]` as found: canonical name, spelling, line and item.
struct Found<'t> {
    name: &'static str,
    written: String,
    line: usize,
    item: &'t Item,
}

/// Where a problem sits: `metric #N (context "x")`, key, line.
struct At<'s> {
    what: &'s str,
    key: &'s str,
    line: usize,
}

impl Loader<'_> {
    fn line_of(&self, table: &dyn TableLike, key: &str) -> usize {
        table
            .get_key_value(key)
            .and_then(|(k, _): (&Key, &Item)| k.span())
            .map_or(0, |s| self.lines.line(s.start))
    }

    fn item_line(&self, item: &Item, fallback: usize) -> usize {
        item.span().map_or(fallback, |s| self.lines.line(s.start))
    }

    fn error(&mut self, at: &At<'_>, message: impl AsRef<str>) {
        self.problems.push(
            Problem::new(format!("{}, key \"{}\": {}", at.what, at.key, message.as_ref()))
                .at_line(at.line)
                .with_key(at.key),
        );
    }

    fn warn(&mut self, line: usize, message: impl AsRef<str>, unknown_key: bool) {
        let message = if line > 0 {
            format!("{}:{line}: {}", self.file, message.as_ref())
        } else {
            format!("{}: {}", self.file, message.as_ref())
        };
        self.warnings.push((line, ConfigWarning { message, unknown_key }));
    }

    fn walk(&mut self, root: &dyn TableLike, options: &CustomMetricsOptions) -> Vec<CustomMetric> {
        let mut defaults = FileDefaults {
            query_timeout: None,
            scrape_interval: None,
            max_rows: DEFAULT_CUSTOM_MAX_ROWS,
        };
        let mut tables: Vec<(&dyn TableLike, usize)> = Vec::new();
        let mut seen: Vec<(&'static str, String)> = Vec::new();
        for (key, item) in root.iter() {
            let line = self.line_of(root, key);
            let Some(name) = FILE_KEYS.iter().copied().find(|k| k.eq_ignore_ascii_case(key)) else {
                let hint = suggest(key, FILE_KEYS.iter().copied())
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
                self.warn(
                    line,
                    format!(
                        "unknown top-level key \"{key}\" is ignored{hint} (a custom metrics file \
                         holds [[metric]] tables)"
                    ),
                    true,
                );
                continue;
            };
            if name != "metric" {
                if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
                    self.problems.push(
                        Problem::new(format!(
                            "top-level key \"{key}\" is given twice (also \"{first}\"); keys are \
                             case-insensitive, keep one"
                        ))
                        .at_line(line)
                        .with_key(key),
                    );
                    continue;
                }
                seen.push((name, key.to_owned()));
            }
            let at = At { what: "the file-wide default", key, line };
            match name {
                "metric" => tables.extend(self.tables_of(item, key, line)),
                "querytimeout" => {
                    defaults.query_timeout =
                        self.duration(item, &at, MAX_CUSTOM_QUERY_TIMEOUT, "\"10s\"");
                }
                "scrapeinterval" => {
                    defaults.scrape_interval =
                        self.duration(item, &at, MAX_CUSTOM_SCRAPE_INTERVAL, "\"5m\"");
                }
                _ => {
                    if let Some(n) = self.max_rows(item, &at) {
                        defaults.max_rows = n;
                    }
                }
            }
        }
        if tables.is_empty() {
            self.warn(0, "no [[metric]] table: this file defines no custom metric", false);
        }
        let mut metrics = Vec::new();
        for (i, (table, line)) in tables.into_iter().enumerate() {
            if let Some(m) = self.metric(table, i + 1, line, &defaults) {
                metrics.push(m);
            }
        }
        self.cross_check(&metrics, options);
        metrics
    }

    /// The tables of `metric`: `[[metric]]`, one `[metric]`, or an array of inline tables.
    fn tables_of<'t>(
        &mut self,
        item: &'t Item,
        key: &str,
        line: usize,
    ) -> Vec<(&'t dyn TableLike, usize)> {
        let mut out: Vec<(&'t dyn TableLike, usize)> = Vec::new();
        match item {
            Item::ArrayOfTables(a) => {
                for t in a.iter() {
                    out.push((
                        t as &dyn TableLike,
                        t.span().map_or(line, |s| self.lines.line(s.start)),
                    ));
                }
            }
            Item::Table(t) => out.push((t as &dyn TableLike, line)),
            Item::Value(Value::InlineTable(t)) => out.push((t as &dyn TableLike, line)),
            Item::Value(Value::Array(a)) => {
                for v in a.iter() {
                    let l = v.span().map_or(line, |s| self.lines.line(s.start));
                    match v.as_inline_table() {
                        Some(t) => out.push((t as &dyn TableLike, l)),
                        None => self.problems.push(
                            Problem::new(format!(
                                "\"{key}\" must hold tables, found {}; write each metric as a \
                                 [[metric]] table",
                                type_name(&Item::Value(v.clone()))
                            ))
                            .at_line(l)
                            .with_key(key),
                        ),
                    }
                }
            }
            other => self.problems.push(
                Problem::new(format!(
                    "\"{key}\" must be [[metric]] tables, found {}; write each metric as a \
                     [[metric]] table",
                    type_name(other)
                ))
                .at_line(line)
                .with_key(key),
            ),
        }
        out
    }

    /// Collects the keys of one `[[metric]]`: known ones, foreign ones (warned), unknown ones
    /// (warned with the nearest known key), case-insensitive duplicates (errors).
    fn keys<'t>(&mut self, table: &'t dyn TableLike, what: &str) -> Vec<Found<'t>> {
        let mut found: Vec<Found<'t>> = Vec::new();
        for (key, item) in table.iter() {
            let line = self.line_of(table, key);
            if let Some(name) = METRIC_KEYS.iter().copied().find(|k| k.eq_ignore_ascii_case(key)) {
                if let Some(prev) = found.iter().find(|f| f.name == name) {
                    let msg = format!(
                        "given twice (also \"{}\" at line {}); keys are case-insensitive, keep one",
                        prev.written, prev.line
                    );
                    self.error(&At { what, key, line }, msg);
                    continue;
                }
                found.push(Found { name, written: key.to_owned(), line, item });
            } else if let Some((_, why)) =
                FOREIGN_KEYS.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))
            {
                self.warn(line, format!("{what}: key \"{key}\" is ignored: {why}"), true);
            } else {
                let msg = match suggest(key, METRIC_KEYS.iter().copied()) {
                    Some(s) => {
                        format!("{what}: unknown key \"{key}\" is ignored; did you mean \"{s}\"?")
                    }
                    None => format!(
                        "{what}: unknown key \"{key}\" is ignored (known keys: {})",
                        METRIC_KEYS.join(", ")
                    ),
                };
                self.warn(line, msg, true);
            }
        }
        found
    }

    fn metric(
        &mut self,
        table: &dyn TableLike,
        index: usize,
        line: usize,
        defaults: &FileDefaults,
    ) -> Option<CustomMetric> {
        let before = self.problems.len();
        // The context first: every other message names it.
        let ctx_item = table
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("context"))
            .and_then(|(_, i)| i.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let what = match &ctx_item {
            Some(c) => format!("metric #{index} (context \"{c}\")"),
            None => format!("metric #{index}"),
        };
        let found = self.keys(table, &what);
        let get = |name: &str| found.iter().find(|f| f.name == name);

        let mut context = String::new();
        match get("context") {
            None => self.problems.push(
                Problem::new(format!(
                    "{what} has no \"context\"; add e.g. context = \"my_app\" (metric names are \
                     dmdbms_<context>_<column>)"
                ))
                .at_line(line)
                .with_key("context"),
            ),
            Some(f) => {
                let at = At { what: &what, key: &f.written, line: f.line };
                match self.string(f.item, &at, "\"my_app\"") {
                    Some(c) if c.trim().is_empty() => {
                        self.error(&at, "is empty; name the metric group, e.g. \"my_app\"")
                    }
                    Some(c) => {
                        let c = c.trim().to_owned();
                        if c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                            context = c;
                        } else {
                            let fixed = sanitize(&c);
                            self.error(
                                &at,
                                format!(
                                    "\"{c}\" cannot be part of a metric name (letters, digits and _ \
                                     only); use e.g. \"{fixed}\""
                                ),
                            );
                        }
                    }
                    None => {}
                }
            }
        }

        let mut request = String::new();
        match get("request") {
            None => self.problems.push(
                Problem::new(format!(
                    "{what} has no \"request\"; add the SQL query, e.g. request = \"SELECT COUNT(*) \
                     AS total FROM V$SESSIONS\"{}",
                    self.near_miss(table, "request")
                ))
                .at_line(line)
                .with_key("request"),
            ),
            Some(f) => {
                let at = At { what: &what, key: &f.written, line: f.line };
                if let Some(sql) = self.string(f.item, &at, "\"SELECT … FROM …\"") {
                    match sql::check_request(&sql) {
                        Ok(text) => request = text,
                        Err(p) => {
                            let (line, pos) = self.request_position(f.item, f.line, &p);
                            self.error(&At { line, ..at }, format!("{}{pos}", p.message));
                        }
                    }
                }
            }
        }

        let mut labels: Vec<String> = Vec::new();
        if let Some(f) = get("labels") {
            let at = At { what: &what, key: &f.written, line: f.line };
            match f.item.as_array() {
                None => self.error(
                    &at,
                    format!(
                        "must be an array of column names, found {}; e.g. labels = [\"name\", \
                         \"state\"]",
                        type_name(f.item)
                    ),
                ),
                Some(a) => {
                    for v in a.iter() {
                        let Some(s) = v.as_str() else {
                            self.error(
                                &at,
                                format!(
                                    "every entry must be a column name string, found {}",
                                    type_name(&Item::Value(v.clone()))
                                ),
                            );
                            continue;
                        };
                        let col = s.trim().to_lowercase();
                        if let Some(msg) = label_name_problem(&col) {
                            self.error(&at, format!("label column \"{s}\" {msg}"));
                        } else if labels.contains(&col) {
                            self.error(&at, format!("column \"{s}\" is listed twice; keep one"));
                        } else {
                            labels.push(col);
                        }
                    }
                }
            }
        }

        let mut values: Vec<ValueColumn> = Vec::new();
        match get("metricsdesc") {
            None => self.problems.push(
                Problem::new(format!(
                    "{what} has no \"metricsdesc\": it names the value columns; add e.g. \
                     metricsdesc = {{ total = \"What the value means.\" }}{}",
                    self.near_miss(table, "metricsdesc")
                ))
                .at_line(line)
                .with_key("metricsdesc"),
            ),
            Some(f) => {
                let at = At { what: &what, key: &f.written, line: f.line };
                match f.item.as_table_like() {
                    None => self.error(
                        &at,
                        format!(
                            "must be a table of column = \"help\", found {}; e.g. metricsdesc = \
                             {{ total = \"Sessions.\" }}",
                            type_name(f.item)
                        ),
                    ),
                    Some(t) if t.is_empty() => self.error(
                        &at,
                        "is empty: name at least one value column, e.g. metricsdesc = { total = \
                         \"Sessions.\" }",
                    ),
                    Some(t) => {
                        for (col, item) in t.iter() {
                            let line = self.item_line(item, f.line);
                            let at = At { what: &what, key: &f.written, line };
                            let c = col.trim().to_lowercase();
                            let Some(help) = item.as_str() else {
                                self.error(
                                    &at,
                                    format!(
                                        "the help of column \"{col}\" must be a string, found {}",
                                        type_name(item)
                                    ),
                                );
                                continue;
                            };
                            if let Some(msg) = column_name_problem(&c) {
                                self.error(&at, format!("value column \"{col}\" {msg}"));
                            } else if values.iter().any(|v| v.column == c) {
                                self.error(
                                    &at,
                                    format!(
                                        "column \"{col}\" is listed twice (column names are \
                                         case-insensitive); keep one"
                                    ),
                                );
                            } else if labels.contains(&c) {
                                self.error(
                                    &at,
                                    format!(
                                        "column \"{col}\" is both a label (labels) and a value \
                                         (metricsdesc); a column is one or the other — select it \
                                         twice under two aliases if you need both"
                                    ),
                                );
                            } else {
                                values.push(ValueColumn {
                                    column: c.clone(),
                                    metric_name: format!("{CUSTOM_METRIC_PREFIX}{context}_{c}"),
                                    help: help.trim().to_owned(),
                                    kind: CustomMetricKind::Gauge,
                                    value_map: None,
                                });
                            }
                        }
                    }
                }
            }
        }

        if let Some(f) = get("metricstype") {
            let at = At { what: &what, key: &f.written, line: f.line };
            match f.item.as_table_like() {
                None => self.error(
                    &at,
                    format!(
                        "must be a table of column = \"counter\" or \"gauge\", found {}",
                        type_name(f.item)
                    ),
                ),
                Some(t) => {
                    for (col, item) in t.iter() {
                        let line = self.item_line(item, f.line);
                        let at = At { what: &what, key: &f.written, line };
                        let c = col.trim().to_lowercase();
                        let kind = match item.as_str().map(|s| s.trim().to_lowercase()) {
                            Some(s) if s == "counter" => CustomMetricKind::Counter,
                            Some(s) if s == "gauge" => CustomMetricKind::Gauge,
                            Some(s) => {
                                let hint = suggest(&s, ["counter", "gauge"])
                                    .map(|h| format!("; did you mean \"{h}\"?"))
                                    .unwrap_or_else(|| {
                                        " (histograms and summaries are not supported)".to_owned()
                                    });
                                self.error(
                                    &at,
                                    format!(
                                        "type \"{s}\" of column \"{col}\" is not \"counter\" or \
                                         \"gauge\"{hint}"
                                    ),
                                );
                                continue;
                            }
                            None => {
                                self.error(
                                    &at,
                                    format!(
                                        "the type of column \"{col}\" must be \"counter\" or \
                                         \"gauge\", found {}",
                                        type_name(item)
                                    ),
                                );
                                continue;
                            }
                        };
                        match values.iter_mut().find(|v| v.column == c) {
                            Some(v) => v.kind = kind,
                            None if labels.contains(&c) => self.error(
                                &at,
                                format!(
                                    "column \"{col}\" is a label; only value columns have a type"
                                ),
                            ),
                            None => {
                                let hint = suggest(&c, values.iter().map(|v| v.column.as_str()))
                                    .map(|h| format!("; did you mean \"{h}\"?"))
                                    .unwrap_or_default();
                                self.warn(
                                    line,
                                    format!(
                                        "{what}: metricstype names column \"{col}\", which is not \
                                         in metricsdesc, so it has no effect{hint}"
                                    ),
                                    false,
                                );
                            }
                        }
                    }
                }
            }
        }

        if let Some(f) = get("valuemap") {
            self.value_maps(f, &what, &labels, &mut values);
        }

        let mut static_labels: Vec<(String, String)> = Vec::new();
        if let Some(f) = get("staticlabels") {
            let at = At { what: &what, key: &f.written, line: f.line };
            match f.item.as_table_like() {
                None => self.error(
                    &at,
                    format!(
                        "must be a table of name = \"value\", found {}; e.g. staticlabels = {{ team \
                         = \"dba\" }}",
                        type_name(f.item)
                    ),
                ),
                Some(t) => {
                    for (name, item) in t.iter() {
                        let line = self.item_line(item, f.line);
                        let at = At { what: &what, key: &f.written, line };
                        let value = match item.as_value() {
                            Some(Value::String(s)) => s.value().clone(),
                            Some(Value::Integer(i)) => i.value().to_string(),
                            Some(Value::Float(x)) => x.value().to_string(),
                            Some(Value::Boolean(b)) => b.value().to_string(),
                            _ => {
                                self.error(
                                    &at,
                                    format!(
                                        "the value of label \"{name}\" must be a string, found {}",
                                        type_name(item)
                                    ),
                                );
                                continue;
                            }
                        };
                        let n = name.trim();
                        if let Some(msg) = label_name_problem(n) {
                            self.error(&at, format!("label \"{name}\" {msg}"));
                        } else if n == "datasource" {
                            self.error(
                                &at,
                                "label \"datasource\" is set by the exporter on every series; \
                                 choose another name",
                            );
                        } else if labels.iter().any(|l| l == n) {
                            self.error(
                                &at,
                                format!("label \"{n}\" is also a label column (labels); keep one"),
                            );
                        } else if static_labels.iter().any(|(k, _)| k == n) {
                            self.error(&at, format!("label \"{n}\" is given twice; keep one"));
                        } else {
                            static_labels.push((n.to_owned(), value));
                        }
                    }
                }
            }
        }

        let mut ignore_zero_result = false;
        if let Some(f) = get("ignorezeroresult") {
            let at = At { what: &what, key: &f.written, line: f.line };
            match f.item.as_bool() {
                Some(b) => ignore_zero_result = b,
                None => self.error(
                    &at,
                    format!("must be true or false (no quotes), found {}", type_name(f.item)),
                ),
            }
        }
        let mut query_timeout = defaults.query_timeout;
        if let Some(f) = get("querytimeout") {
            let at = At { what: &what, key: &f.written, line: f.line };
            query_timeout = self.duration(f.item, &at, MAX_CUSTOM_QUERY_TIMEOUT, "\"10s\"");
        }
        let mut scrape_interval = defaults.scrape_interval;
        if let Some(f) = get("scrapeinterval") {
            let at = At { what: &what, key: &f.written, line: f.line };
            scrape_interval = self.duration(f.item, &at, MAX_CUSTOM_SCRAPE_INTERVAL, "\"5m\"");
        }
        let mut max_rows = defaults.max_rows;
        if let Some(f) = get("maxrows") {
            let at = At { what: &what, key: &f.written, line: f.line };
            if let Some(n) = self.max_rows(f.item, &at) {
                max_rows = n;
            }
        }

        if self.problems.len() > before {
            return None;
        }
        Some(CustomMetric {
            index,
            line,
            context,
            labels,
            static_labels,
            request,
            values,
            ignore_zero_result,
            query_timeout,
            scrape_interval,
            max_rows,
        })
    }

    fn value_maps(
        &mut self,
        f: &Found<'_>,
        what: &str,
        labels: &[String],
        values: &mut [ValueColumn],
    ) {
        let at = At { what, key: &f.written, line: f.line };
        let Some(t) = f.item.as_table_like() else {
            self.error(
                &at,
                format!(
                    "must be a table of column = {{ text = number, … }}, found {}; e.g. valuemap \
                     = {{ status = {{ OPEN = 1, MOUNT = 2, \"*\" = 0 }} }}",
                    type_name(f.item)
                ),
            );
            return;
        };
        for (col, item) in t.iter() {
            let line = self.item_line(item, f.line);
            let at = At { what, key: &f.written, line };
            let c = col.trim().to_lowercase();
            let Some(pos) = values.iter().position(|v| v.column == c) else {
                let msg = if labels.contains(&c) {
                    format!("column \"{col}\" is a label; a valuemap applies to value columns (metricsdesc)")
                } else {
                    let hint = suggest(&c, values.iter().map(|v| v.column.as_str()))
                        .map(|h| format!("; did you mean \"{h}\"?"))
                        .unwrap_or_default();
                    format!("column \"{col}\" is not in metricsdesc{hint}")
                };
                self.error(&at, msg);
                continue;
            };
            let Some(entries) = item.as_table_like() else {
                self.error(
                    &at,
                    format!(
                        "the map of column \"{col}\" must be a table of text = number, found {}",
                        type_name(item)
                    ),
                );
                continue;
            };
            let mut map = ValueMap { entries: Vec::new(), default: None };
            for (text, v) in entries.iter() {
                let n = match v.as_value() {
                    Some(Value::Integer(i)) => *i.value() as f64,
                    Some(Value::Float(x)) if x.value().is_finite() => *x.value(),
                    _ => {
                        self.error(
                            &at,
                            format!(
                                "valuemap of column \"{col}\": \"{text}\" must map to a number, \
                                 found {}",
                                type_name(v)
                            ),
                        );
                        continue;
                    }
                };
                if text == VALUE_MAP_DEFAULT_KEY {
                    map.default = Some(n);
                } else {
                    map.entries.push((text.to_owned(), n));
                }
            }
            if map.entries.is_empty() && map.default.is_none() {
                self.error(&at, format!("valuemap of column \"{col}\" is empty"));
                continue;
            }
            values[pos].value_map = Some(map);
        }
    }

    /// A hint naming an unknown key of `table` close to the missing `key`.
    fn near_miss(&self, table: &dyn TableLike, key: &str) -> String {
        table
            .iter()
            .map(|(k, _)| k)
            .filter(|k| !METRIC_KEYS.iter().any(|m| m.eq_ignore_ascii_case(k)))
            .find(|k| suggest(k, [key]).is_some())
            .map(|k| format!(" (is \"{k}\" a misspelling of \"{key}\"?)"))
            .unwrap_or_default()
    }

    /// The file line of a problem inside a request (and the position within the request).
    fn request_position(
        &self,
        item: &Item,
        key_line: usize,
        p: &sql::SqlProblem,
    ) -> (usize, String) {
        let start = self.item_line(item, key_line);
        let Some(l) = p.line else { return (start, String::new()) };
        // A multi-line string drops the newline right after its opening quotes.
        let raw = item.span().and_then(|s| self.text.get(s)).unwrap_or_default();
        let skipped = usize::from(
            ["\"\"\"\n", "\"\"\"\r\n", "'''\n", "'''\r\n"].iter().any(|p| raw.starts_with(p)),
        );
        let line = start + skipped + l - 1;
        let pos = match p.column {
            Some(c) => format!(" (request line {l}, column {c})"),
            None => format!(" (request line {l})"),
        };
        (line, pos)
    }

    fn string(&mut self, item: &Item, at: &At<'_>, example: &str) -> Option<String> {
        match item.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                self.error(
                    at,
                    format!("must be a string, found {}; e.g. {example}", type_name(item)),
                );
                None
            }
        }
    }

    fn max_rows(&mut self, item: &Item, at: &At<'_>) -> Option<usize> {
        match item.as_integer() {
            Some(n) if n >= 1 && n as u64 <= MAX_CUSTOM_MAX_ROWS as u64 => usize::try_from(n).ok(),
            Some(n) => {
                self.error(at, format!("{n} is out of range: use 1 to {MAX_CUSTOM_MAX_ROWS} rows"));
                None
            }
            None => {
                self.error(
                    at,
                    format!("must be a whole number of rows, found {}; e.g. 100", type_name(item)),
                );
                None
            }
        }
    }

    fn duration(
        &mut self,
        item: &Item,
        at: &At<'_>,
        max: Duration,
        example: &str,
    ) -> Option<Duration> {
        let parsed = match item.as_value() {
            Some(Value::Integer(i)) => u64::try_from(*i.value())
                .map(Duration::from_secs)
                .map_err(|_| "is negative".to_owned()),
            Some(Value::Float(f)) => Duration::try_from_secs_f64(*f.value())
                .map_err(|_| "is not a valid number of seconds".to_owned()),
            Some(Value::String(s)) => parse_duration(s.value()),
            _ => Err(format!("must be seconds or a duration string, found {}", type_name(item))),
        };
        let min = Duration::from_secs(1);
        match parsed {
            Ok(d) if d >= min && d <= max => Some(d),
            Ok(d) => {
                self.error(
                    at,
                    format!("{d:?} is out of range: use 1s to {}s, e.g. {example}", max.as_secs()),
                );
                None
            }
            Err(m) => {
                self.error(at, format!("{m}; write seconds (10) or a duration such as {example}"));
                None
            }
        }
    }

    fn cross_check(&mut self, metrics: &[CustomMetric], options: &CustomMetricsOptions) {
        for (i, m) in metrics.iter().enumerate() {
            let earlier = &metrics[..i];
            if let Some(first) = earlier.iter().find(|o| o.context.eq_ignore_ascii_case(&m.context))
            {
                self.problems.push(
                    Problem::new(format!(
                        "{}, key \"context\": the context is already used by {} (line {}); each \
                         [[metric]] needs its own context",
                        m.describe(),
                        first.describe(),
                        first.line
                    ))
                    .at_line(m.line)
                    .with_key("context"),
                );
                continue;
            }
            for v in &m.values {
                if options.reserved_names.contains(&v.metric_name) {
                    self.problems.push(
                        Problem::new(format!(
                            "{}, key \"metricsdesc\": {} is the name of a built-in metric; choose \
                             another context or column alias",
                            m.describe(),
                            v.metric_name
                        ))
                        .at_line(m.line)
                        .with_key("metricsdesc"),
                    );
                }
                let clash = earlier
                    .iter()
                    .find(|o| o.values.iter().any(|ov| ov.metric_name == v.metric_name));
                if let Some(other) = clash {
                    self.problems.push(
                        Problem::new(format!(
                            "{}, key \"metricsdesc\": {} is also produced by {}; rename the \
                             context or the column alias of one of them",
                            m.describe(),
                            v.metric_name,
                            other.describe()
                        ))
                        .at_line(m.line)
                        .with_key("metricsdesc"),
                    );
                }
            }
        }
    }
}

/// Why `name` cannot be a label name, if it cannot.
fn label_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("is empty".to_owned());
    }
    if name.starts_with("__") {
        return Some("starts with \"__\", which Prometheus reserves; use another alias".to_owned());
    }
    let valid = name
        .chars()
        .enumerate()
        .all(|(i, c)| c.is_ascii_alphabetic() || c == '_' || (i > 0 && c.is_ascii_digit()));
    (!valid).then(|| {
        format!(
            "cannot be a Prometheus label name (letters, digits and _, not starting with a digit); \
             alias the column in the request, e.g. {} AS {}, and list that alias",
            name.to_uppercase(),
            sanitize_label(name)
        )
    })
}

/// Why `column` cannot be the last part of a metric name, if it cannot.
fn column_name_problem(column: &str) -> Option<String> {
    if column.is_empty() {
        return Some("is empty".to_owned());
    }
    let valid = column.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (!valid).then(|| {
        format!(
            "cannot be part of a metric name (letters, digits and _ only); alias the column in \
             the request, e.g. {} AS {}, and use that alias here",
            column.to_uppercase(),
            sanitize(column)
        )
    })
}

/// Replaces every character that cannot be in a metric name with `_`.
fn sanitize(s: &str) -> String {
    let out: String = s
        .trim()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c.to_ascii_lowercase() } else { '_' })
        .collect();
    let out = out.trim_matches('_').to_owned();
    if out.is_empty() {
        "value".to_owned()
    } else {
        out
    }
}

fn sanitize_label(s: &str) -> String {
    let out = sanitize(s);
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("c_{out}")
    } else {
        out
    }
}

/// Parses `90`, `"90"`, `"500ms"`, `"30s"`, `"5m"`, `"1h30m"` (Go-style durations).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("is empty".to_owned());
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        let unit_len = tail.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let n: f64 = num.parse().map_err(|_| format!("\"{text}\" is not a duration"))?;
        let scale = match unit.trim() {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            u => return Err(format!("\"{text}\" has unknown unit \"{u}\" (use ms, s, m, h or d)")),
        };
        total += Duration::try_from_secs_f64(n * scale)
            .map_err(|_| format!("\"{text}\" is not a duration"))?;
        rest = next;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1500ms"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("").is_err());
    }

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

    #[test]
    fn names() {
        assert!(label_name_problem("state").is_none());
        assert!(label_name_problem("status$").unwrap().contains("STATUS$ AS status"));
        assert!(label_name_problem("__x").is_some());
        assert!(label_name_problem("1x").is_some());
        assert!(column_name_problem("1x").is_none());
        assert!(column_name_problem("event#").unwrap().contains("EVENT# AS event"));
    }
}
