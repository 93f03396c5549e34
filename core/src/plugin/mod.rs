//! Site plugins: shared libraries loaded per datasource through the C ABI of
//! `dmexp-plugin-sdk`, adapted to the [`Collector`](crate::collector::Collector) trait.
//!
//! For each `[[datasource.plugin]]` of an enabled datasource, [`collectors`]:
//!
//! 1. refuses a missing file, or one that an account other than root or the exporter's user
//!    could replace: the file or any directory on its path (symlinks resolved, and their
//!    own directories too) owned by someone else or writable by group or others
//!    (`path_check`); the file is loaded from the descriptor that was checked;
//! 2. opens the library once per canonical path, never unloading it (`loader`), reads the
//!    root symbol's `abi_version` before anything else, then the declaration;
//! 3. creates an instance with the `[datasource.plugin.config]` text and asks it once for
//!    its metrics, which are validated like built-ins' (same Desc factory and const labels),
//!    must not start with `dameng_exporter_` and must not repeat a built-in metric;
//! 4. adapts the instance to a collector named `plugin:<name>` (same success/duration
//!    self-metrics as built-ins) whose queries run on the datasource's read-only pool, plus
//!    one `plugin_loaded` collector per datasource with `dameng_exporter_plugin_loaded{plugin}`
//!    1 or 0.
//!
//! Problems are collected, never fail-fast: a plugin that cannot be loaded disables only
//! itself for its datasource. Each datasource's [`PluginStatus`]es come back with its
//! collectors; the runtime build gathers them into a [`LoadReport`] value (no global state:
//! a reload whose build fails leaves the serving runtime's report alone), for one log block
//! ([`LoadReport::log`]) and `--check-config` ([`LoadReport::render`]).

mod adapter;
mod error;
mod host;
mod loader;
mod path_check;

use dmexp_config::{DatasourceConfig, PluginConfig};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

pub use error::{PluginErrorKind, PluginLoadError};

use crate::collector::{registered, ExtraCollector, MetricSpec};
use crate::metrics::DescFactory;
use crate::pool::DatasourcePool;
use adapter::{HostEnv, LoadedCollector, PluginCollector};
use error::Problem;
use loader::Instance;

/// Metric names the exporter itself emits outside the built-in collectors' declarations.
const RESERVED_METRICS: &[&str] = &["dmdb_up"];

/// The outcome of one `[[datasource.plugin]]` entry of one datasource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginStatus {
    /// Datasource name.
    pub datasource: String,
    /// The `plugin` label: the declared name (made unique within the datasource with a
    /// `_2`, `_3`… suffix), or the file stem without `lib` when the library never declared
    /// one.
    pub plugin: String,
    /// Configured path.
    pub path: PathBuf,
    /// Declared version, when the declaration could be read.
    pub version: Option<String>,
    /// Number of metrics declared (0 when not loaded).
    pub metrics: usize,
    /// Why it is not loaded; `None` when it is.
    pub error: Option<PluginLoadError>,
}

impl PluginStatus {
    /// True when the plugin is collecting for its datasource.
    pub fn loaded(&self) -> bool {
        self.error.is_none()
    }
}

/// Canonical paths of the plugin libraries loaded in this process (each once, never
/// unloaded).
pub fn loaded_libraries() -> Vec<PathBuf> {
    loader::loaded_paths()
}

/// Number of libraries opened in this process: each canonical path counts once, however
/// many datasources use it.
pub fn opened_libraries() -> usize {
    loader::opened_count()
}

/// The `plugin` label for a library that never declared its name: the file stem without a
/// `lib` prefix (`/x/libsite_kpi.so` → `site_kpi`).
fn fallback_name(path: &std::path::Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = stem.strip_prefix("lib").unwrap_or(&stem).to_owned();
    if stem.is_empty() {
        "plugin".to_owned()
    } else {
        stem
    }
}

fn unique(name: &str, used: &mut HashSet<String>) -> String {
    let mut candidate = name.to_owned();
    let mut n = 2;
    while used.contains(&candidate) {
        candidate = format!("{name}_{n}");
        n += 1;
    }
    used.insert(candidate.clone());
    candidate
}

/// Metric names no plugin may declare: built-ins' and the exporter's own.
fn taken_metric_names() -> HashSet<&'static str> {
    registered().iter().flat_map(|d| d.metrics.iter().map(|m| m.name)).collect()
}

/// Validates declarations for this datasource: Desc factory (names, labels, const labels),
/// reserved prefix, built-in names, duplicates within the datasource's plugins.
fn validate(
    specs: &[MetricSpec],
    factory: &DescFactory,
    taken: &HashSet<&'static str>,
    declared: &mut HashMap<String, MetricSpec>,
) -> Result<(), String> {
    let mut own = HashSet::new();
    for s in specs {
        if s.name.starts_with("dameng_exporter_") || RESERVED_METRICS.contains(&s.name.as_str()) {
            return Err(format!("metric {:?} uses a name reserved for the exporter", s.name));
        }
        if taken.contains(s.name.as_str()) {
            return Err(format!("metric {:?} is already a built-in metric", s.name));
        }
        if let Some(label) = factory.identity_clash(s) {
            return Err(format!(
                "metric {:?} declares the label {label:?}, which is one of the datasource's \
                 identity labels (datasource and its labels); the plugin must use another name",
                s.name
            ));
        }
        if !own.insert(s.name.clone()) {
            return Err(format!("metric {:?} is declared twice", s.name));
        }
        // The same library twice (two configs) declares the same metrics: fine, they merge
        // into one family. A different declaration under the same name is a conflict.
        if let Some(other) = declared.get(&s.name) {
            if other.kind != s.kind || other.labels != s.labels {
                return Err(format!(
                    "metric {:?} is already declared differently by another plugin of this \
                     datasource",
                    s.name
                ));
            }
        }
        factory.template(s).map_err(|e| e.to_string())?;
    }
    for s in specs {
        declared.entry(s.name.clone()).or_insert_with(|| s.clone());
    }
    Ok(())
}

struct Loaded {
    name: String,
    version: String,
    collector: PluginCollector,
    metrics: usize,
}

/// Loads one plugin entry for one datasource.
fn load_one(
    ds: &DatasourceConfig,
    entry: &PluginConfig,
    factory: &DescFactory,
    taken: &HashSet<&'static str>,
    used_names: &mut HashSet<String>,
    declared: &mut HashMap<String, MetricSpec>,
) -> Result<Loaded, (Problem, String, Option<String>)> {
    let lib = loader::open(&entry.path)
        .map_err(|p| (p, unique(&fallback_name(&entry.path), used_names), None))?;
    let name = unique(&lib.name, used_names);
    let version = Some(lib.version.clone());
    let fail = |kind, message: String| (Problem::new(kind, message), name.clone(), version.clone());
    let call_kind = |panicked: bool| {
        if panicked {
            PluginErrorKind::Panic
        } else {
            PluginErrorKind::ConstructorError
        }
    };
    let mut env = HostEnv::detached(&ds.name, &name);
    let mut instance = Instance::create(&lib, &entry.config_toml, &mut env)
        .map_err(|e| fail(call_kind(e.panicked()), format!("create: {}", e.message)))?;
    let raw = instance
        .declare()
        .map_err(|e| fail(call_kind(e.panicked()), format!("declare: {}", e.message)))?;
    let specs = adapter::metric_specs(raw)
        .and_then(|specs| validate(&specs, factory, taken, declared).map(|()| specs))
        .map_err(|m| fail(PluginErrorKind::InvalidDeclaration, m))?;
    tracing::debug!(
        datasource = %ds.name, plugin = %name, path = %instance.library().path.display(),
        metrics = specs.len(), "Plugin instance created."
    );
    let metrics = specs.len();
    Ok(Loaded {
        collector: PluginCollector::new(name.clone(), ds.name.clone(), specs, instance),
        name,
        version: lib.version.clone(),
        metrics,
    })
}

/// The plugin collectors of one datasource: one per loaded plugin, plus the
/// `plugin_loaded` collector when the datasource configures any plugin; and the outcome of
/// each `[[datasource.plugin]]` entry, in config order. Problems never fail the build.
pub fn collectors(
    ds: &DatasourceConfig,
    shared: &DatasourcePool,
) -> (Vec<ExtraCollector>, Vec<PluginStatus>) {
    if ds.plugins.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let factory = DescFactory::new(Some(&ds.datasource_label()), &ds.labels);
    let taken = taken_metric_names();
    let mut used_names = HashSet::new();
    let mut declared = HashMap::new();
    let mut loaded = Vec::new();
    let mut report = Vec::new();
    for entry in &ds.plugins {
        let status = |plugin, version, metrics, error| PluginStatus {
            datasource: ds.name.clone(),
            plugin,
            path: entry.path.clone(),
            version,
            metrics,
            error,
        };
        match load_one(ds, entry, &factory, &taken, &mut used_names, &mut declared) {
            Ok(l) => {
                report.push(status(l.name.clone(), Some(l.version), l.metrics, None));
                loaded.push((report.len() - 1, l.name, l.collector));
            }
            Err((problem, plugin, version)) => {
                let error = PluginLoadError {
                    kind: problem.kind,
                    datasource: ds.name.clone(),
                    path: entry.path.clone(),
                    message: problem.message,
                };
                report.push(status(plugin, version, 0, Some(error)));
            }
        }
    }
    let mut out = Vec::new();
    if !loaded.is_empty() {
        // Plugin SQL runs on the datasource's read-only pool (as custom metrics do): every
        // connection is made read-only before use, or refused. The host's SQL proof
        // (dmexp_sqlguard::check_read_only, in adapter::host_query) is the first line.
        // The pool (shared with custom metrics) may hold up to maxOpenConns sessions: one
        // may stay with a collect that overran its deadline (plugin code cannot be
        // interrupted) while the others serve the other plugins.
        match shared.read_only_pool(ds) {
            Ok(pool) => {
                for (_, name, collector) in loaded {
                    out.push(ExtraCollector {
                        name: format!("plugin:{name}"),
                        collector: Box::new(collector),
                        cache_ttl: None,
                        pool: Some(pool.clone()),
                    });
                }
            }
            Err(e) => {
                for (i, _, _) in loaded {
                    let st = &mut report[i];
                    st.error = Some(PluginLoadError {
                        kind: PluginErrorKind::ConstructorError,
                        datasource: ds.name.clone(),
                        path: st.path.clone(),
                        message: format!("cannot create the read-only pool for plugins: {e}"),
                    });
                    st.metrics = 0;
                }
            }
        }
    }
    let entries = report.iter().map(|s| (s.plugin.clone(), s.loaded())).collect();
    out.push(ExtraCollector {
        name: adapter::LOADED_COLLECTOR.to_owned(),
        collector: Box::new(LoadedCollector::new(entries)),
        cache_ttl: None,
        pool: None,
    });
    (out, report)
}

/// Plugin outcomes of one runtime build (returned by `Runtime::build`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// One entry per `[[datasource.plugin]]` of each enabled datasource, in config order.
    pub statuses: Vec<PluginStatus>,
    /// Datasources that configure plugins but are disabled (their plugins are not loaded).
    pub disabled: Vec<String>,
}

impl LoadReport {
    /// Adds the outcome of one datasource's build: its statuses when it is enabled, its
    /// name in [`LoadReport::disabled`] when it is disabled but configures plugins.
    pub fn add(&mut self, ds: &DatasourceConfig, statuses: Vec<PluginStatus>) {
        if ds.plugins.is_empty() {
            return;
        }
        if ds.enabled {
            self.statuses.extend(statuses);
        } else {
            self.disabled.push(ds.name.clone());
        }
    }

    /// The plugins that failed to load.
    pub fn problems(&self) -> impl Iterator<Item = &PluginLoadError> {
        self.statuses.iter().filter_map(|s| s.error.as_ref())
    }

    /// Logs the outcome as one block: an ERROR summary and one ERROR per problem (kind,
    /// path, datasource), then one INFO per loaded plugin.
    pub fn log(&self) {
        let failed: Vec<&PluginLoadError> = self.problems().collect();
        if !failed.is_empty() {
            tracing::error!(
                failed = failed.len(),
                configured = self.statuses.len(),
                "Some plugins failed to load; each is disabled for its datasource only \
                 (dameng_exporter_plugin_loaded 0)."
            );
            for s in self.statuses.iter().filter(|s| !s.loaded()) {
                if let Some(e) = &s.error {
                    tracing::error!(
                        datasource = %e.datasource, plugin = %s.plugin, path = %e.path.display(),
                        kind = %e.kind, error = %e.message, "Plugin not loaded."
                    );
                }
            }
        }
        for s in self.statuses.iter().filter(|s| s.loaded()) {
            tracing::info!(
                datasource = %s.datasource, plugin = %s.plugin, path = %s.path.display(),
                version = %s.version.as_deref().unwrap_or("-"), metrics = s.metrics,
                "Plugin loaded."
            );
        }
    }

    /// The `plugins:` section of `--check-config`.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        if self.statuses.is_empty() && self.disabled.is_empty() {
            return s;
        }
        let failed = self.problems().count();
        let _ = writeln!(
            s,
            "plugins: {} configured, {} loaded, {failed} failed",
            self.statuses.len(),
            self.statuses.len() - failed
        );
        for st in &self.statuses {
            match &st.error {
                None => {
                    let _ = writeln!(
                        s,
                        "- {ds}: {p} {v} loaded ({n} metrics) from {path}",
                        ds = st.datasource,
                        p = st.plugin,
                        v = st.version.as_deref().unwrap_or("-"),
                        n = st.metrics,
                        path = st.path.display()
                    );
                }
                Some(e) => {
                    let _ = writeln!(
                        s,
                        "- {ds}: {p} FAILED [{kind}] {path}: {msg}",
                        ds = st.datasource,
                        p = st.plugin,
                        kind = e.kind,
                        path = st.path.display(),
                        msg = e.message
                    );
                }
            }
        }
        for ds in &self.disabled {
            let _ = writeln!(s, "- {ds}: datasource disabled, plugins not loaded");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::collector::MetricKind;

    fn spec(labels: &[&str]) -> MetricSpec {
        MetricSpec {
            name: "site_x".into(),
            help: "x".into(),
            kind: MetricKind::Gauge,
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    #[test]
    fn plugin_labels_that_collide_with_the_datasource_identity_are_refused() {
        let labels = vec![("env".to_owned(), "rt".to_owned())];
        let factory = DescFactory::new(Some("d"), &labels);
        let taken = HashSet::new();
        for label in ["datasource", "env"] {
            let e = validate(&[spec(&["k", label])], &factory, &taken, &mut HashMap::new())
                .unwrap_err();
            assert!(e.contains(&format!("declares the label \"{label}\"")), "{e}");
        }
        assert!(validate(&[spec(&["k"])], &factory, &taken, &mut HashMap::new()).is_ok());
    }
}
