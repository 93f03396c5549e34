//! One `[[metric]]`, key by key, into a [`CustomMetric`].

use toml_edit::{Item, TableLike, Value};

use super::load::{At, FileDefaults, Found, Loader};
use super::names::{column_name_problem, label_name_problem, sanitize};
use super::VALUE_MAP_DEFAULT_KEY;
use super::{CustomMetric, CustomMetricKind, ValueColumn, ValueMap};
use super::{CUSTOM_METRIC_PREFIX, MAX_CUSTOM_QUERY_TIMEOUT, MAX_CUSTOM_SCRAPE_INTERVAL};
use crate::error::Problem;
use crate::raw::suggest;
use crate::toml_walk::type_name;

impl Loader<'_> {
    /// One `[[metric]]` (1-based `index`, header at `line`), or `None` after recording its
    /// problems.
    pub(super) fn metric(
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

        let context = self.context(get("context"), &what, line);
        let request = self.request(table, get("request"), &what, line);
        let labels = self.labels(get("labels"), &what);
        let mut values = self.values(table, get("metricsdesc"), &what, line, &context, &labels);
        self.value_types(get("metricstype"), &what, &labels, &mut values);
        if let Some(f) = get("valuemap") {
            self.value_maps(f, &what, &labels, &mut values);
        }
        let static_labels = self.static_labels(get("staticlabels"), &what, &labels);
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

    /// `context`: the metric group, letters, digits and `_` (empty when missing or wrong).
    fn context(&mut self, found: Option<&Found<'_>>, what: &str, line: usize) -> String {
        let mut context = String::new();
        match found {
            None => self.problems.push(
                Problem::new(format!(
                    "{what} has no \"context\"; add e.g. context = \"my_app\" (metric names are \
                     dmdbms_<context>_<column>)"
                ))
                .at_line(line)
                .with_key("context"),
            ),
            Some(f) => {
                let at = At { what, key: &f.written, line: f.line };
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
        context
    }

    /// `request`: proven to be one read-only query by dmexp-sqlguard (empty when missing or
    /// refused).
    fn request(
        &mut self,
        table: &dyn TableLike,
        found: Option<&Found<'_>>,
        what: &str,
        line: usize,
    ) -> String {
        let mut request = String::new();
        match found {
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
                let at = At { what, key: &f.written, line: f.line };
                if let Some(sql) = self.string(f.item, &at, "\"SELECT … FROM …\"") {
                    match dmexp_sqlguard::check_read_only(&sql) {
                        Ok(text) => request = text,
                        Err(p) => {
                            let (line, pos) = self.request_position(f.item, f.line, &p);
                            self.error(&At { line, ..at }, format!("{}{pos}", p.message));
                        }
                    }
                }
            }
        }
        request
    }

    /// `labels`: result columns (lower-case) whose values become labels.
    fn labels(&mut self, found: Option<&Found<'_>>, what: &str) -> Vec<String> {
        let mut labels: Vec<String> = Vec::new();
        if let Some(f) = found {
            let at = At { what, key: &f.written, line: f.line };
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
        labels
    }

    /// `metricsdesc`: the value columns, each one metric `dmdbms_<context>_<column>`.
    fn values(
        &mut self,
        table: &dyn TableLike,
        found: Option<&Found<'_>>,
        what: &str,
        line: usize,
        context: &str,
        labels: &[String],
    ) -> Vec<ValueColumn> {
        let mut values: Vec<ValueColumn> = Vec::new();
        match found {
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
                let at = At { what, key: &f.written, line: f.line };
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
                            let at = At { what, key: &f.written, line };
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
        values
    }

    /// `metricstype`: counter or gauge per value column.
    fn value_types(
        &mut self,
        found: Option<&Found<'_>>,
        what: &str,
        labels: &[String],
        values: &mut [ValueColumn],
    ) {
        if let Some(f) = found {
            let at = At { what, key: &f.written, line: f.line };
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
                        let at = At { what, key: &f.written, line };
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
    }

    /// `staticlabels`: fixed label names and values, in file order.
    fn static_labels(
        &mut self,
        found: Option<&Found<'_>>,
        what: &str,
        labels: &[String],
    ) -> Vec<(String, String)> {
        let mut static_labels: Vec<(String, String)> = Vec::new();
        if let Some(f) = found {
            let at = At { what, key: &f.written, line: f.line };
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
                        let at = At { what, key: &f.written, line };
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
        static_labels
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

    /// The file line of a problem inside a request (and the position within the request).
    fn request_position(
        &self,
        item: &Item,
        key_line: usize,
        p: &dmexp_sqlguard::SqlProblem,
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
}
