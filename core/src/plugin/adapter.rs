//! Plugin instances adapted to the [`Collector`] trait, and the host's policies for what a
//! plugin asks of it (read-only SQL, row caps, deadlines, logging).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use dmexp_plugin_sdk::abi::{
    DM_DEFAULT_MAX_ROWS, DM_ERROR, DM_INVALID_ARGUMENT, DM_LOG_DEBUG, DM_LOG_ERROR, DM_LOG_INFO,
    DM_LOG_WARN, DM_MAX_ROWS, DM_METRIC_COUNTER, DM_METRIC_GAUGE,
};

use super::loader::{Instance, RawMetric};
use crate::collector::{CollectContext, CollectError, Collector, MetricKind, MetricSpec, Sample};
use crate::query::{QueryError, Rows};

/// What the host callbacks of one plugin call see: who is calling, and (during `collect`)
/// the collector's context with its connection, deadline and row cap.
pub(crate) struct HostEnv<'a> {
    datasource: &'a str,
    plugin: &'a str,
    ctx: Option<&'a mut dyn CollectContext>,
    /// A connection-level failure seen by a query of this call: reported to the runtime so
    /// that it marks the datasource down, as for a built-in.
    connection_error: Option<String>,
}

impl<'a> HostEnv<'a> {
    /// Outside `collect` (create, declare): logging only.
    pub(crate) fn detached(datasource: &'a str, plugin: &'a str) -> Self {
        HostEnv { datasource, plugin, ctx: None, connection_error: None }
    }

    /// During `collect`.
    pub(crate) fn collecting(
        datasource: &'a str,
        plugin: &'a str,
        ctx: &'a mut dyn CollectContext,
    ) -> Self {
        HostEnv { datasource, plugin, ctx: Some(ctx), connection_error: None }
    }

    /// Time left before the collector's deadline (zero outside `collect`).
    pub(crate) fn remaining(&self) -> Duration {
        self.ctx.as_ref().map_or(Duration::ZERO, |c| c.remaining())
    }
}

impl super::host::HostServices for HostEnv<'_> {
    fn query(
        &mut self,
        sql: &str,
        max_rows: usize,
        timeout_ms: u64,
    ) -> Result<Rows, (i32, String)> {
        host_query(self, sql, max_rows, timeout_ms)
    }

    fn log(&self, level: u32, message: &str) {
        host_log(self, level, message);
    }

    fn remaining(&self) -> Duration {
        HostEnv::remaining(self)
    }
}

/// The `query` host service: read-only check, row cap, timeout under the deadline.
pub(crate) fn host_query(
    env: &mut HostEnv<'_>,
    sql: &str,
    max_rows: usize,
    timeout_ms: u64,
) -> Result<Rows, (i32, String)> {
    let Some(ctx) = env.ctx.as_deref_mut() else {
        return Err((
            DM_INVALID_ARGUMENT,
            "queries are only available during collect (not in create or declare)".to_owned(),
        ));
    };
    // The read-only policy shared with custom metrics (dmexp-sqlguard, a parser): exactly one
    // SELECT/WITH statement, no data change anywhere in it (also `WITH … DELETE`, DML in
    // subqueries), no function with lasting effects. Behind it stands the datasource's
    // read-only pool the plugin's queries run on (`DatasourcePool::new_read_only`).
    let sql = dmexp_sqlguard::check_read_only(sql)
        .map_err(|e| (DM_INVALID_ARGUMENT, format!("not a single read-only query: {e}")))?;
    let sql = sql.as_str();
    let cap = if max_rows == 0 { DM_DEFAULT_MAX_ROWS } else { max_rows.min(DM_MAX_ROWS) };
    let timeout = (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms));
    match ctx.query_with(sql, timeout, Some(cap)) {
        Ok(rows) => {
            if rows.truncated {
                tracing::debug!(datasource = %env.datasource, plugin = %env.plugin, max_rows = cap, "Plugin query result cut at the row cap.");
            }
            Ok(rows)
        }
        Err(e) => {
            if e.is_connection_level() {
                env.connection_error = Some(e.to_string());
            }
            Err((DM_ERROR, e.to_string()))
        }
    }
}

/// The `log` host service: into tracing with `datasource` and `plugin` fields.
pub(crate) fn host_log(env: &HostEnv<'_>, level: u32, message: &str) {
    let (ds, p) = (env.datasource, env.plugin);
    match level {
        DM_LOG_ERROR => tracing::error!(datasource = %ds, plugin = %p, "{message}"),
        DM_LOG_WARN => tracing::warn!(datasource = %ds, plugin = %p, "{message}"),
        DM_LOG_INFO => tracing::info!(datasource = %ds, plugin = %p, "{message}"),
        DM_LOG_DEBUG => tracing::debug!(datasource = %ds, plugin = %p, "{message}"),
        _ => tracing::trace!(datasource = %ds, plugin = %p, "{message}"),
    }
}

/// Converts the plugin's declarations; `Err` describes the first invalid one.
pub(crate) fn metric_specs(raw: Vec<RawMetric>) -> Result<Vec<MetricSpec>, String> {
    raw.into_iter()
        .map(|m| {
            let kind = match m.kind {
                DM_METRIC_GAUGE => MetricKind::Gauge,
                DM_METRIC_COUNTER => MetricKind::Counter,
                other => {
                    return Err(format!("metric {:?} has unknown kind {other}", m.name));
                }
            };
            Ok(MetricSpec { name: m.name, help: m.help, kind, labels: m.labels })
        })
        .collect()
}

/// The instance of one plugin for one datasource, used by one `collect` at a time.
struct Slot {
    instance: Mutex<Option<Instance>>,
}

/// Puts the instance back into its slot when dropped (also if the host code panics).
struct Borrowed<'a> {
    slot: &'a Slot,
    instance: Option<Instance>,
}

impl Drop for Borrowed<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.instance.take() {
            *self.slot.instance.lock().unwrap_or_else(PoisonError::into_inner) = Some(i);
        }
    }
}

impl Slot {
    /// Takes the instance, or `None` while a previous `collect` still runs (it overran its
    /// deadline and the runtime moved on). Failing at once, rather than waiting, releases
    /// this collector's connection for the others.
    fn take(&self) -> Option<Borrowed<'_>> {
        let instance = self.instance.lock().unwrap_or_else(PoisonError::into_inner).take()?;
        Some(Borrowed { slot: self, instance: Some(instance) })
    }
}

/// A plugin instance as a [`Collector`].
pub(crate) struct PluginCollector {
    /// The `plugin` label value.
    plugin: String,
    datasource: String,
    metrics: Vec<MetricSpec>,
    slot: Slot,
}

impl PluginCollector {
    pub(crate) fn new(
        plugin: String,
        datasource: String,
        metrics: Vec<MetricSpec>,
        instance: Instance,
    ) -> Self {
        PluginCollector {
            plugin,
            datasource,
            metrics,
            slot: Slot { instance: Mutex::new(Some(instance)) },
        }
    }
}

impl Collector for PluginCollector {
    fn metrics(&self) -> Vec<MetricSpec> {
        self.metrics.clone()
    }

    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        let Some(mut borrowed) = self.slot.take() else {
            return Err(CollectError::Failed(format!(
                "plugin {}: the previous collect is still running (overran its deadline)",
                self.plugin
            )));
        };
        let Some(instance) = borrowed.instance.as_mut() else {
            return Err(CollectError::Failed("plugin instance missing".to_owned()));
        };
        let mut env = HostEnv::collecting(&self.datasource, &self.plugin, ctx);
        let result = instance.collect(&mut env);
        let connection_error = env.connection_error.take();
        drop(borrowed);
        let samples = match result {
            Ok(s) => s,
            Err(e) => {
                if let Some(msg) = connection_error {
                    return Err(CollectError::Query(QueryError::Connection(msg)));
                }
                let what = if e.panicked() { "panicked" } else { "failed" };
                return Err(CollectError::Failed(format!(
                    "plugin {} {what}: {}",
                    self.plugin, e.message
                )));
            }
        };
        let mut dropped = 0usize;
        for s in samples {
            match self.metrics.get(s.metric) {
                Some(spec) if spec.labels.len() == s.labels.len() => {
                    out.push(Sample::with_labels(s.metric, s.labels, s.value));
                }
                _ => dropped += 1,
            }
        }
        if dropped > 0 {
            tracing::warn!(
                datasource = %self.datasource, plugin = %self.plugin, dropped,
                "Plugin samples dropped: unknown metric index or wrong number of label values."
            );
        }
        Ok(())
    }
}

/// The tiny collector of `dameng_exporter_plugin_loaded{plugin}`, present for every
/// datasource that configures plugins.
pub(crate) struct LoadedCollector {
    entries: Vec<(String, bool)>,
}

/// Name of [`LoadedCollector`] (the `collector` label of its self-metrics).
pub(crate) const LOADED_COLLECTOR: &str = "plugin_loaded";
/// The metric [`LoadedCollector`] emits.
pub(crate) const LOADED_METRIC: &str = "dameng_exporter_plugin_loaded";

impl LoadedCollector {
    pub(crate) fn new(entries: Vec<(String, bool)>) -> Self {
        LoadedCollector { entries }
    }
}

impl Collector for LoadedCollector {
    fn needs_connection(&self) -> bool {
        false
    }

    fn metrics(&self) -> Vec<MetricSpec> {
        vec![MetricSpec {
            name: LOADED_METRIC.to_owned(),
            help: "Whether the plugin is loaded and collecting for this datasource (1) or \
                   failed to load (0; see the startup log or --check-config)."
                .to_owned(),
            kind: MetricKind::Gauge,
            labels: vec!["plugin".to_owned()],
        }]
    }

    fn collect(
        &self,
        _ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        for (plugin, loaded) in &self.entries {
            out.push(Sample::with_labels(0, vec![plugin.clone()], if *loaded { 1.0 } else { 0.0 }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_checked() {
        let m = |kind| RawMetric { name: "m".into(), help: String::new(), kind, labels: vec![] };
        assert_eq!(metric_specs(vec![m(0)]).map(|v| v[0].kind), Ok(MetricKind::Gauge));
        assert_eq!(metric_specs(vec![m(1)]).map(|v| v[0].kind), Ok(MetricKind::Counter));
        assert!(metric_specs(vec![m(7)]).is_err());
    }
}
