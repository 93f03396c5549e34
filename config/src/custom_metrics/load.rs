//! The walker of a custom metrics file: file-level keys and defaults, the keys of each
//! `[[metric]]` (known, foreign, unknown, duplicates), and the checks across metrics.

use std::time::Duration;

use toml_edit::{Item, Key, TableLike, Value};

use super::{CustomMetric, CustomMetricsOptions, DEFAULT_CUSTOM_MAX_ROWS};
use super::{MAX_CUSTOM_QUERY_TIMEOUT, MAX_CUSTOM_SCRAPE_INTERVAL};
use crate::error::Problem;
use crate::model::ConfigWarning;
use crate::raw::{suggest, LineIndex};
use crate::toml_walk::type_name;

/// Keys of a `[[metric]]` table.
pub(super) const METRIC_KEYS: &[&str] = &[
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
pub(super) struct FileDefaults {
    pub(super) query_timeout: Option<Duration>,
    pub(super) scrape_interval: Option<Duration>,
    pub(super) max_rows: usize,
}

pub(super) struct Loader<'a> {
    pub(super) file: String,
    pub(super) text: &'a str,
    pub(super) lines: &'a LineIndex,
    pub(super) problems: Vec<Problem>,
    /// With their line, to be sorted.
    pub(super) warnings: Vec<(usize, ConfigWarning)>,
}

/// A key of one `[[metric]]` as found: canonical name, spelling, line and item.
pub(super) struct Found<'t> {
    pub(super) name: &'static str,
    pub(super) written: String,
    pub(super) line: usize,
    pub(super) item: &'t Item,
}

/// Where a problem sits: `metric #N (context "x")`, key, line.
pub(super) struct At<'s> {
    pub(super) what: &'s str,
    pub(super) key: &'s str,
    pub(super) line: usize,
}

impl Loader<'_> {
    pub(super) fn line_of(&self, table: &dyn TableLike, key: &str) -> usize {
        table
            .get_key_value(key)
            .and_then(|(k, _): (&Key, &Item)| k.span())
            .map_or(0, |s| self.lines.line(s.start))
    }

    pub(super) fn item_line(&self, item: &Item, fallback: usize) -> usize {
        item.span().map_or(fallback, |s| self.lines.line(s.start))
    }

    pub(super) fn error(&mut self, at: &At<'_>, message: impl AsRef<str>) {
        self.problems.push(
            Problem::new(format!("{}, key \"{}\": {}", at.what, at.key, message.as_ref()))
                .at_line(at.line)
                .with_key(at.key),
        );
    }

    pub(super) fn warn(&mut self, line: usize, message: impl AsRef<str>, unknown_key: bool) {
        let message = if line > 0 {
            format!("{}:{line}: {}", self.file, message.as_ref())
        } else {
            format!("{}: {}", self.file, message.as_ref())
        };
        self.warnings.push((line, ConfigWarning { message, unknown_key }));
    }
    pub(super) fn walk(
        &mut self,
        root: &dyn TableLike,
        options: &CustomMetricsOptions,
    ) -> Vec<CustomMetric> {
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
    pub(super) fn keys<'t>(&mut self, table: &'t dyn TableLike, what: &str) -> Vec<Found<'t>> {
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
    /// A hint naming an unknown key of `table` close to the missing `key`.
    pub(super) fn near_miss(&self, table: &dyn TableLike, key: &str) -> String {
        table
            .iter()
            .map(|(k, _)| k)
            .filter(|k| !METRIC_KEYS.iter().any(|m| m.eq_ignore_ascii_case(k)))
            .find(|k| suggest(k, [key]).is_some())
            .map(|k| format!(" (is \"{k}\" a misspelling of \"{key}\"?)"))
            .unwrap_or_default()
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
