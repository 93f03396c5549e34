//! `--test-custom-metrics`: runs every metric of a file once against a datasource through
//! the same collector code and read-only pool as the exporter, and reports per metric.

use std::path::Path;
use std::time::{Duration, Instant};

use dmexp_config::{ConfigError, DatasourceConfig};

use super::{identity_clash, load_file, CustomCollector, TRUNCATED_METRIC};
use crate::collector::Collector;
use crate::metrics::{DescFactory, FamilySet};
use crate::pool::DatasourcePool;

/// One metric of a dry run.
#[derive(Debug, Clone)]
pub struct DryRunMetric {
    /// `metric #N (context "x")`.
    pub describe: String,
    /// The series it would produce (text exposition format), or the precise error.
    pub result: Result<String, String>,
    /// Skipped values, dropped duplicate rows, truncation.
    pub notes: Vec<String>,
    /// How long the query took.
    pub duration: Duration,
}

/// The result of [`dry_run`].
#[derive(Debug)]
pub struct DryRunReport {
    /// The file could not be loaded (nothing ran).
    pub load_error: Option<ConfigError>,
    /// Warnings of the file.
    pub warnings: Vec<String>,
    /// One entry per `[[metric]]`, in file order.
    pub metrics: Vec<DryRunMetric>,
}

impl DryRunReport {
    /// True when the file loaded and every metric ran.
    pub fn ok(&self) -> bool {
        self.load_error.is_none() && self.metrics.iter().all(|m| m.result.is_ok())
    }

    /// The report as text: a comment line per metric, then its series or its error.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        if let Some(e) = &self.load_error {
            let _ = writeln!(s, "# custom metrics file refused (nothing ran):\n{e}");
            return s;
        }
        for w in &self.warnings {
            let _ = writeln!(s, "# warning: {w}");
        }
        for m in &self.metrics {
            let ms = m.duration.as_millis();
            match &m.result {
                Ok(text) => {
                    let n = text.lines().filter(|l| !l.starts_with('#')).count();
                    let _ = writeln!(s, "# {}: OK, {n} series, {ms} ms", m.describe);
                    for note in &m.notes {
                        let _ = writeln!(s, "#   note: {note}");
                    }
                    s.push_str(text);
                }
                Err(e) => {
                    let e = e.trim_end().replace('\n', "\n#   ");
                    let _ = writeln!(s, "# {}: ERROR after {ms} ms: {e}", m.describe);
                    for note in &m.notes {
                        let _ = writeln!(s, "#   note: {note}");
                    }
                }
            }
            s.push('\n');
        }
        let failed = self.metrics.iter().filter(|m| m.result.is_err()).count();
        let _ = writeln!(s, "# {} metric(s), {failed} failed", self.metrics.len());
        s
    }
}

/// Runs every metric of `file` once against datasource `ds`, through the same collector
/// code and the same read-only pool as the exporter, and reports per metric the series it
/// would produce or the precise error. Needs a Tokio runtime (queries run on blocking
/// threads).
pub async fn dry_run(ds: &DatasourceConfig, file: &Path) -> DryRunReport {
    let loaded = match load_file(file) {
        Ok(f) => f,
        Err(e) => {
            return DryRunReport { load_error: Some(e), warnings: Vec::new(), metrics: Vec::new() }
        }
    };
    let warnings = loaded.warnings.iter().map(|w| w.message.clone()).collect();
    let mut report = DryRunReport { load_error: None, warnings, metrics: Vec::new() };
    let pool = match DatasourcePool::new_read_only(ds, 1) {
        Ok(p) => Some(p),
        Err(e) => {
            for m in &loaded.metrics {
                report.metrics.push(DryRunMetric {
                    describe: m.describe(),
                    result: Err(e.to_string()),
                    notes: Vec::new(),
                    duration: Duration::ZERO,
                });
            }
            None
        }
    };
    let Some(pool) = pool else { return report };
    let factory = DescFactory::new(Some(&ds.datasource_label()), &ds.labels);
    for m in loaded.metrics {
        let describe = m.describe();
        let collector = CustomCollector::new(&ds.name, m);
        let started = Instant::now();
        let result = dry_run_one(ds, &pool, &factory, collector).await;
        let (result, notes) = match result {
            Ok((text, notes)) => (Ok(text), notes),
            Err(e) => (Err(e), Vec::new()),
        };
        report.metrics.push(DryRunMetric { describe, result, notes, duration: started.elapsed() });
    }
    pool.close();
    report
}

async fn dry_run_one(
    ds: &DatasourceConfig,
    pool: &DatasourcePool,
    factory: &DescFactory,
    collector: CustomCollector,
) -> Result<(String, Vec<String>), String> {
    let timeout = collector.metric().query_timeout.unwrap_or(ds.connection.query_timeout);
    let guard = pool.get(timeout).await.map_err(|e| e.to_string())?;
    let config = ds.clone();
    let until = Instant::now() + timeout + Duration::from_secs(1);
    let task = tokio::task::spawn_blocking(move || {
        let mut ctx = crate::context::BlockingContext::new(guard, config, until);
        let r = collector.run(&mut ctx);
        (collector, r)
    });
    let (collector, outcome) = task.await.map_err(|e| format!("the query task failed: {e}"))?;
    let outcome = outcome.map_err(|e| e.to_string())?;
    if let Some(clash) = identity_clash(factory, &collector) {
        return Err(clash);
    }
    let specs = collector.metrics();
    let mut set = FamilySet::new();
    let mut templates = Vec::new();
    for spec in &specs {
        templates.push(factory.template(spec).map_err(|e| e.to_string())?);
    }
    for s in &outcome.samples {
        if let Some(t) = templates.get(s.metric) {
            set.add(t, &s.labels, s.value);
        }
    }
    let mut notes = outcome.notes;
    if outcome.truncated {
        notes.push(format!(
            "the result had more than maxrows = {} rows; the rest was dropped (counted in {TRUNCATED_METRIC})",
            collector.metric().max_rows
        ));
    }
    Ok((set.encode(), notes))
}
