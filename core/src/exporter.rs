//! The exporter: the current [`Runtime`] behind an atomic swap, hot reload, and the
//! [`MetricsSource`] the HTTP server talks to.
//!
//! A reload (SIGHUP or `POST /-/reload`) parses and validates the configuration and builds
//! the new runtime beside the old one; datasources whose connection settings did not change
//! keep their pools, open connections and health; removed or changed ones are closed; custom
//! metric files are re-read. The swap is atomic: in-flight scrapes finish on the runtime they
//! started with. Any error keeps the old runtime, is logged with its cause and shows as
//! `dameng_exporter_config_last_reload_successful 0`.
//!
//! The settings outside the runtime (metric path, basic auth, web config, log level) are
//! applied by a [`ReloadHook`] that the composition root ([`crate::app`]) installs; keys that
//! need a restart are logged as WARN and exposed as
//! `dameng_exporter_config_restart_required{key="…"} 1`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use dmexp_config::Config;

use crate::api::{
    BoxedCause, DatasourceStatus, ExporterStatus, ExpositionFormat, MetricsSource, ReloadError,
    RestartRequired, ScrapeError, ScrapeRequest,
};
use crate::collector::{MetricDef, MetricSpec};
use crate::metrics::{DescFactory, MetricTemplate};
use crate::runtime::{BuildInfo, Runtime, RuntimeError};

/// Loads and validates the configuration again (for reloads). Supplied by the binary, so
/// command-line overrides and the `encodeConfigPwd` rewrite apply as at startup. The error
/// becomes [`ReloadError::Config`]; its message should name the file, key and line.
pub type ConfigLoader = Box<dyn Fn() -> Result<Config, BoxedCause> + Send + Sync>;

/// Applies the prepared settings of a reload (see [`ReloadHook`]); returns every changed
/// setting that the running process cannot apply.
pub type CommitReload = Box<dyn FnOnce() -> Vec<RestartRequired> + Send>;

/// The parts of a reload outside the runtime (HTTP settings, logging), supplied by the
/// composition root ([`crate::app`]).
///
/// A reload runs in two phases so that it is all or nothing: [`ReloadHook::prepare`]
/// validates everything the new configuration asks for (reads the web config file, checks the
/// basic-auth keys) before the runtime is swapped, and may fail, keeping everything old; the
/// returned [`CommitReload`] runs after the swap and cannot fail.
pub trait ReloadHook: Send + Sync {
    /// Validates what `config` asks of the hook; an error aborts the reload.
    fn prepare(&self, config: &Config) -> Result<CommitReload, ReloadError>;
}

const RELOAD_OK: MetricDef = MetricDef::gauge(
    "dameng_exporter_config_last_reload_successful",
    "Whether the last configuration reload succeeded (1) or failed and the previous \
     configuration is still in use (0).",
);
const RELOAD_TS: MetricDef = MetricDef::gauge(
    "dameng_exporter_config_last_reload_success_timestamp_seconds",
    "Unix time of the last successful configuration load (startup or reload).",
);
const RESTART_REQUIRED: MetricDef = MetricDef::gauge(
    "dameng_exporter_config_restart_required",
    "1 for each changed configuration key that a reload cannot apply (the process keeps the \
     old value until restarted); no series while the running process matches the file.",
)
.with_labels(&["key"]);

/// The exporter's own reload gauges.
struct ReloadTemplates {
    ok: MetricTemplate,
    timestamp: MetricTemplate,
    restart_required: MetricTemplate,
}

#[derive(Debug, Default)]
struct ReloadState {
    ok: bool,
    last_success: f64,
    last: Option<Result<f64, String>>,
    /// From the last successful reload: settings that need a restart.
    restart_required: Vec<RestartRequired>,
}

/// The exporter state shared by the HTTP server, the signal handler and the health tasks.
pub struct Exporter {
    runtime: ArcSwap<Runtime>,
    /// In an `Arc` so that a reload runs it on the blocking pool.
    loader: Option<Arc<ConfigLoader>>,
    hook: Mutex<Option<Arc<dyn ReloadHook>>>,
    config_source: String,
    build_info: BuildInfo,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    reload_lock: tokio::sync::Mutex<()>,
    reload: Mutex<ReloadState>,
    ever_ready: AtomicBool,
    templates: ReloadTemplates,
    /// Plugin outcomes of the runtime serving now.
    plugin_report: Mutex<crate::plugin::LoadReport>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter").field("config_source", &self.config_source).finish()
    }
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Exporter {
    /// Builds the first runtime. `loader` enables reloads (`None`: reload is refused, e.g. in
    /// CLI mode without a file). `config_source` is shown on the status page.
    pub fn new(
        config: &Config,
        build_info: BuildInfo,
        config_source: String,
        loader: Option<ConfigLoader>,
    ) -> Result<Arc<Self>, RuntimeError> {
        let (runtime, report) = Runtime::build(config, build_info.clone())?;
        // Every plugin problem of every datasource, in one block (each disables only itself).
        report.plugins.log();
        let plain = DescFactory::new(None, &[]);
        let t = |d: &MetricDef| {
            plain.template(&MetricSpec::from(d)).map_err(|source| RuntimeError::Desc {
                datasource: "-".into(),
                collector: "reload".into(),
                source,
            })
        };
        Ok(Arc::new(Exporter {
            runtime: ArcSwap::from_pointee(runtime),
            loader: loader.map(Arc::new),
            hook: Mutex::new(None),
            config_source,
            build_info,
            tasks: Mutex::new(Vec::new()),
            reload_lock: tokio::sync::Mutex::new(()),
            reload: Mutex::new(ReloadState {
                ok: true,
                last_success: unix_now(),
                last: None,
                restart_required: Vec::new(),
            }),
            ever_ready: AtomicBool::new(false),
            templates: ReloadTemplates {
                ok: t(&RELOAD_OK)?,
                timestamp: t(&RELOAD_TS)?,
                restart_required: t(&RESTART_REQUIRED)?,
            },
            plugin_report: Mutex::new(report.plugins),
        }))
    }

    /// Installs the reload steps outside the runtime (HTTP settings, logging). Without a hook a
    /// reload swaps only the runtime.
    pub fn set_reload_hook(&self, hook: Arc<dyn ReloadHook>) {
        *lock(&self.hook) = Some(hook);
    }

    /// Settings changed in the file that the running process cannot apply (from the last
    /// successful reload).
    pub fn restart_required(&self) -> Vec<RestartRequired> {
        lock(&self.reload).restart_required.clone()
    }

    /// Starts the health checks of the current runtime. Call once, inside a tokio runtime.
    pub fn start(&self) {
        let handles = self.runtime.load_full().start_health_checks();
        lock(&self.tasks).extend(handles);
    }

    /// Plugin outcomes of the runtime serving now (replaced only by a successful reload).
    pub fn plugin_report(&self) -> crate::plugin::LoadReport {
        lock(&self.plugin_report).clone()
    }

    /// The runtime serving now.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.load_full()
    }

    /// Reloads the configuration. On error nothing changes (runtime, HTTP settings, logging)
    /// and the reason is returned.
    pub async fn reload_config(&self) -> Result<(), ReloadError> {
        let _serial = self.reload_lock.lock().await;
        let result = self.try_reload().await;
        let mut st = lock(&self.reload);
        match result {
            Ok(restart_required) => {
                let now = unix_now();
                st.ok = true;
                st.last_success = now;
                st.last = Some(Ok(now));
                st.restart_required = restart_required;
                Ok(())
            }
            Err(error) => {
                tracing::error!(kind = %error.kind(), error = %error, "Configuration reload failed; the previous configuration stays in use.");
                st.ok = false;
                st.last = Some(Err(error.to_string()));
                Err(error)
            }
        }
    }

    async fn try_reload(&self) -> Result<Vec<RestartRequired>, ReloadError> {
        let Some(loader) = &self.loader else {
            return Err(ReloadError::NoConfigFile);
        };
        // Reading the files (config, dbPwdFile, custom metrics, plugins) blocks: off the async
        // workers, so a slow or hostile path delays only this reload (L5).
        let loader = Arc::clone(loader);
        let config = tokio::task::spawn_blocking(move || loader())
            .await
            .map_err(|e| ReloadError::Config(Box::new(e)))?
            .map_err(ReloadError::Config)?;
        let hook = lock(&self.hook).clone();
        // Everything outside the runtime is validated first: a bad web config file or
        // basic-auth key keeps everything old, the credentials included.
        let commit = match &hook {
            Some(hook) => Some(hook.prepare(&config)?),
            None => None,
        };
        let old = self.runtime.load_full();
        let (build_info, previous) = (self.build_info.clone(), Arc::clone(&old));
        let (new, report) = tokio::task::spawn_blocking(move || {
            Runtime::build_reusing(&config, build_info, Some(&previous))
        })
        .await
        .map_err(|e| ReloadError::Runtime(Box::new(e)))?
        .map_err(|e| ReloadError::Runtime(Box::new(e)))?;
        let new = Arc::new(new);
        // Health tasks of the old runtime stop; the new runtime's start (datasources kept
        // from the old one keep their health state and their open connections).
        let handles = new.start_health_checks();
        let old_tasks = std::mem::replace(&mut *lock(&self.tasks), handles);
        for t in old_tasks {
            t.abort();
        }
        self.runtime.store(Arc::clone(&new));
        old.close_unused_pools(&new);
        tracing::info!(
            datasources = new.datasources().len(),
            kept = new.reused().len(),
            "Configuration reloaded."
        );
        // Plugins of the new configuration: problems in one block, as at startup.
        report.plugins.log();
        *lock(&self.plugin_report) = report.plugins;
        let restart_required = commit.map(|commit| commit()).unwrap_or_default();
        for note in &restart_required {
            tracing::warn!(key = %note.key, detail = %note.detail, "Configuration key changed but needs a restart; the old value stays in use.");
        }
        Ok(restart_required)
    }
}

impl MetricsSource for Exporter {
    fn scrape(
        &self,
        request: ScrapeRequest,
    ) -> Pin<Box<dyn Future<Output = Result<String, ScrapeError>> + Send + '_>> {
        Box::pin(async move {
            let runtime = self.runtime.load_full();
            let plan = runtime.plan(&request)?;
            let mut set = runtime.scrape(&plan).await;
            let (ok, ts, restart) = {
                let st = lock(&self.reload);
                (st.ok, st.last_success, st.restart_required.clone())
            };
            let t = &self.templates;
            set.add(&t.ok, &[], if ok { 1.0 } else { 0.0 });
            set.add(&t.timestamp, &[], ts.floor());
            for note in &restart {
                set.add(&t.restart_required, std::slice::from_ref(&note.key), 1.0);
            }
            Ok(match request.format {
                ExpositionFormat::Text => set.encode(),
                ExpositionFormat::OpenMetrics => set.encode_openmetrics(),
            })
        })
    }

    fn statuses(&self) -> Vec<DatasourceStatus> {
        self.runtime.load().statuses()
    }

    fn ready(&self) -> bool {
        if self.ever_ready.load(Ordering::Relaxed) {
            return true;
        }
        let r = self.runtime.load().ready();
        if r {
            self.ever_ready.store(true, Ordering::Relaxed);
        }
        r
    }

    fn reload(&self) -> Pin<Box<dyn Future<Output = Result<(), ReloadError>> + Send + '_>> {
        Box::pin(self.reload_config())
    }

    fn exporter_status(&self) -> ExporterStatus {
        let st = lock(&self.reload);
        ExporterStatus {
            config_source: self.config_source.clone(),
            last_reload: st.last.clone(),
            restart_required: st.restart_required.clone(),
        }
    }
}

/// Reloads on SIGHUP until the process ends.
#[cfg(unix)]
pub fn spawn_sighup_reload(exporter: Arc<Exporter>) {
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("Cannot listen for SIGHUP; reload with POST /-/reload.");
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP received: reloading the configuration.");
            let _ = exporter.reload_config().await;
        }
    });
}
