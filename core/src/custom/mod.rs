//! Custom metrics per datasource (the upstream `[[metric]]` TOML format), adapted to the
//! [`Collector`](crate::collector::Collector) trait.
//!
//! For a datasource with `registerCustomMetrics = true` and a `customMetricsFile`,
//! [`collectors`] loads and validates the file once per (re)build
//! ([`dmexp_config::load_custom_metrics_with`], with the built-in metric names reserved) and
//! returns:
//!
//! - one [`CustomCollector`] per `[[metric]]`, named `custom_<context>`: its own
//!   `collector_success`/`collector_duration_seconds`, so a failing query shows by name and
//!   never affects the next query, the built-ins or other datasources. `scrapeinterval`
//!   becomes the collector's result cache, `querytimeout` the query's timeout (still within
//!   the scrape deadline), `maxrows` the row cap;
//! - one `custom_metrics_file` collector with `dameng_exporter_custom_metrics_load_success`
//!   (1, or 0 when the file was refused: that datasource then has no custom metrics, and
//!   nothing else changes) and `dameng_exporter_custom_metrics_loaded` (number of metrics).
//!
//! Custom queries run on the datasource's **read-only pool**
//! ([`DatasourcePool::read_only_pool`], shared with plugins and counted in the datasource's
//! `maxOpenConns` total; at most one session per metric runs at once): the parser's proof
//! that a request is one read-only query is the first guard, the read-only connection the
//! second.
//!
//! At scrape time, result columns are matched by name, case-insensitively. NULL and
//! non-numeric values are skipped with a debug log (upstream exported 0); a `valuemap` turns
//! text into numbers; negative counter values are skipped (a counter cannot go below 0);
//! rows repeating a label set are dropped and counted in
//! `dameng_exporter_custom_duplicate_series_dropped_total{metric}`; results cut by
//! `maxrows` are logged and counted in `dameng_exporter_custom_rows_truncated_total{metric}`.
//! [`dry_run`] runs a file once through the same code and reports per metric
//! (`--test-custom-metrics`).

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use dmexp_config::{
    load_custom_metrics_with, ConfigError, CustomMetric, CustomMetricKind, CustomMetricsFile,
    CustomMetricsOptions, DatasourceConfig,
};

mod dry_run;

pub use dry_run::{dry_run, DryRunMetric, DryRunReport};

use crate::collector::{
    registered, CollectContext, CollectError, Collector, MetricKind, MetricSpec, Sample,
};
use crate::metrics::DescFactory;
use crate::pool::DatasourcePool;
use crate::query::{visit_rows, ResultShape, RowRef, Rows};

pub use crate::collector::ExtraCollector;

/// Name of the collector reporting the custom metrics file's state.
pub const FILE_COLLECTOR: &str = "custom_metrics_file";
/// Prefix of the collector name of each `[[metric]]` (`custom_<context>`).
pub const COLLECTOR_PREFIX: &str = "custom_";
/// 1 when the datasource's custom metrics file loaded, 0 when it was refused.
pub const LOAD_SUCCESS_METRIC: &str = "dameng_exporter_custom_metrics_load_success";
/// Number of `[[metric]]` entries loaded for the datasource.
pub const LOADED_METRIC: &str = "dameng_exporter_custom_metrics_loaded";
/// Results cut by `maxrows`, per custom metric.
pub const TRUNCATED_METRIC: &str = "dameng_exporter_custom_rows_truncated_total";
/// Rows dropped because they repeated a label set, per custom metric.
pub const DUPLICATES_METRIC: &str = "dameng_exporter_custom_duplicate_series_dropped_total";
/// The self-metric names this module emits (so that others can reserve them).
pub const SELF_METRICS: &[&str] =
    &[LOAD_SUCCESS_METRIC, LOADED_METRIC, TRUNCATED_METRIC, DUPLICATES_METRIC];

/// How long the file collector's constant samples are reused: it needs no query, and the
/// runtime checks out a connection only when the cache is empty.
const FILE_COLLECTOR_TTL: Duration = Duration::from_secs(86_400);

/// Loads the datasource's custom metrics file (built-in metric names reserved). `None` when
/// the datasource has no custom metrics (`registerCustomMetrics = false` or no
/// `customMetricsFile`).
pub fn load(ds: &DatasourceConfig) -> Option<Result<CustomMetricsFile, ConfigError>> {
    if !ds.register_custom_metrics {
        return None;
    }
    let path = ds.custom_metrics_file.as_deref()?;
    Some(load_file(path))
}

/// Loads a custom metrics file with the built-in metric names reserved.
pub fn load_file(path: &Path) -> Result<CustomMetricsFile, ConfigError> {
    let reserved = registered()
        .into_iter()
        .flat_map(|d| d.metrics.iter().map(|m| m.name))
        .chain(SELF_METRICS.iter().copied());
    let options = CustomMetricsOptions::default().with_reserved_names(reserved);
    load_custom_metrics_with(path, &options)
}

/// The custom-metric collectors of one datasource (see the module docs). Problems are
/// logged, never returned: a bad file disables that datasource's custom metrics only.
pub fn collectors(ds: &DatasourceConfig, shared: &DatasourcePool) -> Vec<ExtraCollector> {
    let Some(loaded) = load(ds) else { return Vec::new() };
    let path = ds.custom_metrics_file.as_deref().map(Path::display);
    let file = match loaded {
        Ok(f) => f,
        Err(error) => {
            tracing::error!(
                datasource = %ds.name,
                file = %path.map(|p| p.to_string()).unwrap_or_default(),
                error = %error,
                "Custom metrics file refused; this datasource runs without custom metrics. \
                 Fix the file (try it with --test-custom-metrics) and reload."
            );
            return vec![file_collector(false, 0)];
        }
    };
    for w in &file.warnings {
        tracing::warn!(datasource = %ds.name, warning = %w.message, "Custom metrics file.");
    }
    tracing::info!(
        datasource = %ds.name,
        file = %file.path.display(),
        metrics = file.metrics.len(),
        "DataSource [{}] loaded {} custom metric(s) from {}",
        ds.name,
        file.metrics.len(),
        file.path.display()
    );
    if file.metrics.is_empty() {
        return vec![file_collector(true, 0)];
    }
    let pool = match shared.read_only_pool(ds) {
        Ok(p) => p,
        Err(error) => {
            tracing::error!(datasource = %ds.name, error = %error, "Cannot create the read-only pool for custom metrics; they are disabled.");
            return vec![file_collector(false, 0)];
        }
    };
    let n = file.metrics.len();
    // The runtime validates every declaration again with the same factory; refusing here
    // keeps a custom metric from ever failing the whole runtime build.
    let factory = DescFactory::new(Some(&ds.datasource_label()), &ds.labels);
    let mut out: Vec<ExtraCollector> = Vec::with_capacity(n + 1);
    for m in file.metrics {
        let describe = m.describe();
        let collector = CustomCollector::new(&ds.name, m);
        if let Some(clash) = identity_clash(&factory, &collector) {
            tracing::error!(
                datasource = %ds.name, file = %file.path.display(), collector = %collector.name,
                error = %format!("{describe}: {clash}"),
                "Custom metric refused; this datasource runs without custom metrics."
            );
            return vec![file_collector(false, 0)];
        }
        if let Some(e) = collector.metrics().iter().find_map(|s| factory.template(s).err()) {
            tracing::error!(datasource = %ds.name, collector = %collector.name, error = %e, "Custom metric refused; this datasource runs without custom metrics.");
            return vec![file_collector(false, 0)];
        }
        out.push(ExtraCollector {
            name: collector.name.clone(),
            cache_ttl: collector.metric.scrape_interval,
            collector: Box::new(collector),
            pool: Some(pool.clone()),
        });
    }
    out.push(file_collector(true, n));
    out
}

/// The metrics of `file` whose labels would replace the identity of datasource `ds` (M5): one
/// message per metric, naming the file, the metric and the label; empty when none. The
/// runtime refuses the file on any ([`collectors`]); `--check-config` reports them the same.
pub fn identity_problems(ds: &DatasourceConfig, file: &CustomMetricsFile) -> Vec<String> {
    let factory = DescFactory::new(Some(&ds.datasource_label()), &ds.labels);
    file.metrics
        .iter()
        .filter_map(|m| {
            let describe = m.describe();
            let collector = CustomCollector::new(&ds.name, m.clone());
            identity_clash(&factory, &collector)
                .map(|clash| format!("{}: {describe}: {clash}", file.path.display()))
        })
        .collect()
}

/// Why `collector` may not run for a datasource with these const labels: a label (column or
/// static label) named `datasource` or like one of the datasource's `labels` would replace
/// the datasource's identity (a file that reads one instance could pose as another).
fn identity_clash(factory: &DescFactory, collector: &CustomCollector) -> Option<String> {
    let specs = collector.metrics();
    let (spec, label) = specs.iter().find_map(|s| factory.identity_clash(s).map(|l| (s, l)))?;
    Some(format!(
        "label `{label}` of metric `{}` collides with the datasource's identity label \
         `{label}`; rename the column (… AS other_name) or the static label",
        spec.name
    ))
}

fn file_collector(success: bool, metrics: usize) -> ExtraCollector {
    ExtraCollector {
        name: FILE_COLLECTOR.to_owned(),
        collector: Box::new(FileCollector { success, metrics }),
        cache_ttl: Some(FILE_COLLECTOR_TTL),
        pool: None,
    }
}

/// Reports the state of the datasource's custom metrics file; runs no query.
struct FileCollector {
    success: bool,
    metrics: usize,
}

impl Collector for FileCollector {
    fn needs_connection(&self) -> bool {
        false
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        vec![
            MetricSpec {
                name: LOAD_SUCCESS_METRIC.to_owned(),
                help: "Whether the datasource's custom metrics file loaded (1) or was refused \
                       (0: no custom metrics for this datasource; see the log or \
                       --check-config)."
                    .to_owned(),
                kind: MetricKind::Gauge,
                labels: Vec::new(),
            },
            MetricSpec {
                name: LOADED_METRIC.to_owned(),
                help: "Number of custom metrics ([[metric]] entries) loaded for the datasource."
                    .to_owned(),
                kind: MetricKind::Gauge,
                labels: Vec::new(),
            },
        ]
    }

    fn collect(
        &self,
        _ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        out.push(Sample::new(0, if self.success { 1.0 } else { 0.0 }));
        out.push(Sample::new(1, self.metrics as f64));
        Ok(())
    }
}

/// One `[[metric]]` of a custom metrics file as a collector.
pub struct CustomCollector {
    name: String,
    datasource: String,
    metric: CustomMetric,
    /// Variable label names of every value metric: the label columns, then the static labels.
    labels: Vec<String>,
    truncated_total: AtomicU64,
    duplicates_total: AtomicU64,
    truncation_logged: AtomicBool,
    duplicates_logged: AtomicBool,
}

/// What one run of a custom query produced: samples of the value metrics, and why values
/// were skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Samples, indexed like [`Collector::metrics`] (value columns first).
    pub samples: Vec<Sample>,
    /// Skipped values and dropped rows, one line each (for the debug log and the dry run).
    pub notes: Vec<String>,
    /// Rows dropped because they repeated a label set.
    pub duplicates: u64,
    /// True when `maxrows` cut the result.
    pub truncated: bool,
}

impl CustomCollector {
    /// A collector for `metric` of datasource `datasource`.
    pub fn new(datasource: &str, metric: CustomMetric) -> Self {
        let labels = metric
            .labels
            .iter()
            .cloned()
            .chain(metric.static_labels.iter().map(|(k, _)| k.clone()))
            .collect();
        CustomCollector {
            name: format!("{COLLECTOR_PREFIX}{}", metric.context),
            datasource: datasource.to_owned(),
            metric,
            labels,
            truncated_total: AtomicU64::new(0),
            duplicates_total: AtomicU64::new(0),
            truncation_logged: AtomicBool::new(false),
            duplicates_logged: AtomicBool::new(false),
        }
    }

    /// The `[[metric]]` this collector runs.
    pub fn metric(&self) -> &CustomMetric {
        &self.metric
    }

    /// Runs the query once and maps the result (no self-metric samples, no counting).
    pub fn run(&self, ctx: &mut dyn CollectContext) -> Result<Outcome, CollectError> {
        let m = &self.metric;
        let mut mapper = RowMapper::new(m);
        let mut visit = |columns: &[String], row: RowRef<'_>| mapper.row(columns, row);
        let shape = ctx.query_each(&m.request, m.query_timeout, Some(m.max_rows), &mut visit);
        let shape = shape.map_err(|e| {
            // For a built-in a missing view means "not applicable to this build"; a custom
            // request names its tables on purpose, so a missing one is a failure to show.
            if e.is_missing_object() {
                CollectError::Failed(format!(
                    "{e} (a table or view of the request does not exist, or the monitoring \
                     user cannot see it)"
                ))
            } else {
                CollectError::Query(e)
            }
        })?;
        mapper.finish(&shape)
    }
}

impl Collector for CustomCollector {
    fn metrics(&self) -> Vec<MetricSpec> {
        let mut specs: Vec<MetricSpec> = self
            .metric
            .values
            .iter()
            .map(|v| MetricSpec {
                name: v.metric_name.clone(),
                help: v.help.clone(),
                kind: match v.kind {
                    CustomMetricKind::Counter => MetricKind::Counter,
                    CustomMetricKind::Gauge => MetricKind::Gauge,
                },
                labels: self.labels.clone(),
            })
            .collect();
        specs.push(MetricSpec {
            name: TRUNCATED_METRIC.to_owned(),
            help: "Results of a custom metric query cut by its maxrows (rows beyond the cap are \
                   dropped)."
                .to_owned(),
            kind: MetricKind::Counter,
            labels: vec!["metric".to_owned()],
        });
        specs.push(MetricSpec {
            name: DUPLICATES_METRIC.to_owned(),
            help: "Rows of a custom metric query dropped because they repeated the label set \
                   of an earlier row."
                .to_owned(),
            kind: MetricKind::Counter,
            labels: vec!["metric".to_owned()],
        });
        specs
    }

    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        let outcome = self.run(ctx)?;
        let ds = &self.datasource;
        let context = &self.metric.context;
        if outcome.truncated {
            self.truncated_total.fetch_add(1, Ordering::Relaxed);
            let max_rows = self.metric.max_rows;
            if self.truncation_logged.swap(true, Ordering::Relaxed) {
                tracing::debug!(datasource = %ds, collector = %self.name, max_rows, "Custom metric result cut at maxrows.");
            } else {
                tracing::warn!(datasource = %ds, collector = %self.name, max_rows, "Custom metric query returned more than maxrows rows; the rest is dropped (raise maxrows or aggregate in SQL). Counted in {TRUNCATED_METRIC}.");
            }
        }
        if outcome.duplicates > 0 {
            self.duplicates_total.fetch_add(outcome.duplicates, Ordering::Relaxed);
            if !self.duplicates_logged.swap(true, Ordering::Relaxed) {
                tracing::warn!(datasource = %ds, collector = %self.name, rows = outcome.duplicates, "Custom metric rows repeat a label set; the repeats are dropped (add a label column or aggregate in SQL). Counted in {DUPLICATES_METRIC}.");
            }
        }
        for note in &outcome.notes {
            tracing::debug!(datasource = %ds, collector = %self.name, "{note}");
        }
        out.extend(outcome.samples);
        let n = self.metric.values.len();
        let truncated = self.truncated_total.load(Ordering::Relaxed) as f64;
        let duplicates = self.duplicates_total.load(Ordering::Relaxed) as f64;
        out.push(Sample::with_labels(n, vec![context.clone()], truncated));
        out.push(Sample::with_labels(n + 1, vec![context.clone()], duplicates));
        Ok(())
    }
}

/// Maps a result to samples: columns by name (case-insensitive), labels from the label
/// columns (NULL → "") and the static labels, values parsed or mapped, skips explained.
pub fn map_rows(m: &CustomMetric, rows: &Rows) -> Result<Outcome, CollectError> {
    let mut mapper = RowMapper::new(m);
    let shape = visit_rows(rows, &mut |columns, row| mapper.row(columns, row));
    mapper.finish(&shape)
}

/// Positions of a metric's label and value columns in a result.
type Positions = (Vec<usize>, Vec<usize>);

/// [`map_rows`] one row at a time, for a streamed query: the column positions are found at
/// the first row (or, for an empty result, at the end), each row's labels are built once
/// and the cells are read from the reader's buffers.
pub struct RowMapper<'m> {
    m: &'m CustomMetric,
    /// Positions of the label and the value columns, found from the first row's columns.
    /// The error: a column is missing.
    positions: Option<Result<Positions, String>>,
    out: Outcome,
    /// Label sets of the rows kept so far (a repeat is dropped and counted).
    seen: HashSet<Vec<String>>,
    /// Rows seen.
    rows: usize,
}

impl<'m> RowMapper<'m> {
    /// A mapper for `m`.
    pub fn new(m: &'m CustomMetric) -> Self {
        RowMapper { m, positions: None, out: Outcome::default(), seen: HashSet::new(), rows: 0 }
    }

    /// The positions of the label and value columns in `columns` (by name, case-insensitive).
    fn positions(m: &CustomMetric, columns: &[String]) -> Result<Positions, String> {
        let find = |col: &str, role: &str| {
            columns.iter().position(|c| c.eq_ignore_ascii_case(col)).ok_or_else(|| {
                let have = if columns.is_empty() {
                    "the driver reported no column names".to_owned()
                } else {
                    format!("the query returns: {}", columns.join(", "))
                };
                format!(
                    "column `{col}` ({role}) is not in the result ({have}); alias the column in \
                     the request (… AS {col})"
                )
            })
        };
        let labels = m.labels.iter().map(|l| find(l, "labels")).collect::<Result<Vec<_>, _>>()?;
        let values = m
            .values
            .iter()
            .map(|v| find(&v.column, "metricsdesc"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((labels, values))
    }

    /// Maps one row (`columns`: the result's column names).
    pub fn row(&mut self, columns: &[String], row: RowRef<'_>) {
        let m = self.m;
        self.rows += 1;
        let r = self.rows;
        let Ok((label_idx, value_idx)) =
            self.positions.get_or_insert_with(|| Self::positions(m, columns))
        else {
            return;
        };
        let out = &mut self.out;
        let mut labels: Vec<String> = Vec::with_capacity(label_idx.len() + m.static_labels.len());
        labels.extend(label_idx.iter().map(|&i| row.cell(i).unwrap_or("").to_owned()));
        labels.extend(m.static_labels.iter().map(|(_, v)| v.clone()));
        if self.seen.contains(&labels) {
            out.duplicates += 1;
            out.notes.push(format!(
                "row {r}: labels {{{}}} repeat an earlier row; dropped",
                render_labels(&m.labels, &labels)
            ));
            return;
        }
        for (k, (v, &i)) in m.values.iter().zip(value_idx.iter()).enumerate() {
            let skip = |why: String| format!("row {r}: {} {why}; skipped", v.column);
            let value = match (row.cell(i), &v.value_map) {
                (None, _) => {
                    out.notes.push(skip("is NULL".to_owned()));
                    continue;
                }
                (Some(text), Some(map)) => match map.lookup(text) {
                    Some(x) => x,
                    None => {
                        out.notes.push(skip(format!("value {text:?} is not in its valuemap")));
                        continue;
                    }
                },
                (Some(text), None) => match text.trim().parse::<f64>() {
                    Ok(x) if x.is_finite() => x,
                    _ => {
                        out.notes.push(skip(format!(
                            "value {text:?} is not a number (use a valuemap for text values)"
                        )));
                        continue;
                    }
                },
            };
            if m.ignore_zero_result && value == 0.0 {
                continue;
            }
            if v.kind == CustomMetricKind::Counter && value < 0.0 {
                out.notes
                    .push(skip(format!("value {value} is negative, which a counter cannot be")));
                continue;
            }
            out.samples.push(Sample::with_labels(k, labels.clone(), value));
        }
        self.seen.insert(labels);
    }

    /// The outcome, once every row was mapped (`shape`: what the query reported).
    pub fn finish(mut self, shape: &ResultShape) -> Result<Outcome, CollectError> {
        let m = self.m;
        if let Err(e) = self.positions.get_or_insert_with(|| Self::positions(m, &shape.columns)) {
            return Err(CollectError::Shape(std::mem::take(e)));
        }
        let mut out = self.out;
        out.truncated = shape.truncated;
        if out.notes.len() > MAX_NOTES {
            let more = out.notes.len() - MAX_NOTES;
            out.notes.truncate(MAX_NOTES);
            out.notes.push(format!("… and {more} more skipped values or dropped rows"));
        }
        Ok(out)
    }
}

/// Notes kept per run (the rest is summarised in one line).
const MAX_NOTES: usize = 20;

fn render_labels(names: &[String], values: &[String]) -> String {
    names.iter().zip(values).map(|(n, v)| format!("{n}={v:?}")).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use dmexp_config::{parse_custom_metrics, CustomMetricsOptions};

    use super::*;

    fn metric(toml: &str) -> CustomMetric {
        let f = parse_custom_metrics(toml, Path::new("t.toml"), &CustomMetricsOptions::default())
            .unwrap();
        f.metrics.into_iter().next().unwrap()
    }

    fn rows(columns: &[&str], data: &[&[Option<&str>]]) -> Rows {
        Rows {
            rows: data.iter().map(|r| r.iter().map(|c| c.map(str::to_owned)).collect()).collect(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            ..Rows::default()
        }
    }

    /// A datasource `d` with labels `env=rt,role=attacker` whose custom metrics file is
    /// `metrics` (written to a scratch file).
    fn datasource_with(name: &str, metrics: &str) -> DatasourceConfig {
        let dir = std::env::temp_dir().join(format!("dmexp-custom-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("m.toml"), metrics).unwrap();
        let text = "[[datasource]]\nname = \"d\"\nlabels = \"env=rt,role=attacker\"\n\
             registerCustomMetrics = true\ncustomMetricsFile = \"m.toml\"\n\
             odbcConnectionString = \"Driver={SQLite3};Database=/nonexistent/d.db\"\n";
        let config = dmexp_config::load_str(text, &dir.join("c.toml")).unwrap();
        config.datasources.into_iter().next().unwrap()
    }

    #[test]
    fn labels_that_would_overwrite_the_datasource_identity_are_refused() {
        let spoof = |labels: &str, statics: &str| {
            format!(
                "[[metric]]\ncontext = \"spoof\"\nlabels = [{labels}]\n{statics}\
                 request = \"SELECT 'victim' AS datasource, 'prod' AS env, 'x' AS other, 42 AS v\"\n\
                 metricsdesc = {{ v = \"spoofed identity\" }}\n"
            )
        };
        for (case, labels, statics) in [
            ("ds", "\"datasource\"", ""),
            ("env", "\"other\", \"env\"", ""),
            ("static", "\"other\"", "staticlabels = { role = \"dba\" }\n"),
        ] {
            let ds = datasource_with(case, &spoof(labels, statics));
            let Some(Ok(file)) = load(&ds) else {
                // The config crate refuses it at load already: also fine for the runtime.
                let out = collectors(&ds, &DatasourcePool::new(&ds).expect("pool"));
                assert_eq!(out.len(), 1, "{case}");
                assert_eq!(out[0].name, FILE_COLLECTOR);
                continue;
            };
            let factory = DescFactory::new(Some(&ds.datasource_label()), &ds.labels);
            let c = CustomCollector::new("d", file.metrics.into_iter().next().unwrap());
            let why = identity_clash(&factory, &c).expect(case);
            let label = match case {
                "ds" => "datasource",
                "env" => "env",
                _ => "role",
            };
            assert!(why.contains(&format!("label `{label}` of metric `dmdbms_spoof_v`")), "{why}");
            // Only the file collector (load_success 0) is left: no spoofed series.
            let out = collectors(&ds, &DatasourcePool::new(&ds).expect("pool"));
            assert_eq!(out.len(), 1, "{case}");
            assert_eq!(out[0].name, FILE_COLLECTOR);
        }
        // A label that collides with nothing is served.
        let ds = datasource_with("fine", &spoof("\"other\"", ""));
        let names: Vec<String> = collectors(&ds, &DatasourcePool::new(&ds).expect("pool"))
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["custom_spoof", FILE_COLLECTOR]);
    }

    #[test]
    fn maps_by_name_and_skips_what_is_not_a_number() {
        let m = metric(
            r#"[[metric]]
context = "t"
labels = ["name"]
request = "SELECT NAME, V, C FROM T"
metricsdesc = { v = "v", c = "c" }
metricstype = { c = "counter" }
staticlabels = { team = "dba" }
"#,
        );
        // Columns in another order and case than the file.
        let r = rows(
            &["c", "name", "v"],
            &[
                &[Some("5"), Some("a"), Some("1.5")],
                &[Some("-3"), Some("b"), None],
                &[Some("x"), None, Some(" 2 ")],
                &[Some("7"), Some("a"), Some("9")],
            ],
        );
        let o = map_rows(&m, &r).unwrap();
        let l = |n: &str| vec![n.to_owned(), "dba".to_owned()];
        assert_eq!(
            o.samples,
            vec![
                Sample::with_labels(0, l("a"), 1.5),
                Sample::with_labels(1, l("a"), 5.0),
                Sample::with_labels(0, l(""), 2.0),
            ]
        );
        assert_eq!(o.duplicates, 1);
        assert_eq!(o.notes.len(), 4, "{:#?}", o.notes);
        assert!(o.notes[0].contains("row 2: v is NULL; skipped"));
        assert!(o.notes[1].contains("row 2: c value -3 is negative"));
        assert!(o.notes[2].contains("row 3: c value \"x\" is not a number"));
        assert!(o.notes[3].contains("row 4: labels {name=\"a\"} repeat an earlier row"));
    }

    #[test]
    fn value_map_and_ignore_zero() {
        let m = metric(
            r#"[[metric]]
context = "t"
request = "SELECT S FROM T"
metricsdesc = { s = "s" }
valuemap = { s = { OPEN = 1, CLOSED = 0 } }
ignorezeroresult = true
"#,
        );
        let o = map_rows(&m, &rows(&["S"], &[&[Some("OPEN")]])).unwrap();
        assert_eq!(o.samples, vec![Sample::new(0, 1.0)]);
        let o = map_rows(&m, &rows(&["s"], &[&[Some("CLOSED")]])).unwrap();
        assert!(o.samples.is_empty() && o.notes.is_empty());
        let o = map_rows(&m, &rows(&["s"], &[&[Some("HALF")]])).unwrap();
        assert!(o.notes[0].contains("\"HALF\" is not in its valuemap"));
    }

    #[test]
    fn missing_column_is_a_clear_error() {
        let m = metric(
            "[[metric]]\ncontext = \"t\"\nlabels = [\"tablespace\"]\nrequest = \"SELECT NAME, X FROM T\"\nmetricsdesc = { x = \"x\" }\n",
        );
        let e = map_rows(&m, &rows(&["name", "x"], &[])).unwrap_err().to_string();
        assert!(
            e.contains("column `tablespace` (labels) is not in the result (the query returns: name, x); alias the column in the request (… AS tablespace)"),
            "{e}"
        );
    }
}
