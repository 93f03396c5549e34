//! The composition root: logging, exporter, reload (SIGHUP and `POST /-/reload`), listener and
//! TLS, as one library function that the `dameng_exporter` binary and custom builds
//! (`examples/custom-build`) both call.
//!
//! ```no_run
//! # async fn start(config: dmexp_config::Config) -> Result<(), dmexp_core::app::RunError> {
//! use dmexp_core::app::{self, AppOptions};
//! use dmexp_core::runtime::BuildInfo;
//! let build = BuildInfo {
//!     version: "v0.1.0".into(),
//!     revision: "unknown".into(),
//!     branch: "unknown".into(),
//!     rustversion: "unknown".into(),
//! };
//! // Without a loader, reloads are refused (command-line mode).
//! app::run(AppOptions::new(config, build), None).await
//! # }
//! ```
//!
//! What a reload applies and what needs a restart is decided in [`reload`] (module docs).

mod listen;
pub mod reload;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dmexp_config::{Config, ConfigOrigin};

use crate::exporter::{ConfigLoader, Exporter};
use crate::logging::{self, LoggingError, LoggingOptions, Supervisor};
use crate::runtime::{BuildInfo, RuntimeError};
use crate::server::{self, HttpSettings, MetricsSource, ServerError, ServerHandle};

pub use listen::{bind, ListenError};

/// Default upper bound for one HTTP request (bcrypt check and scrape included).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// What [`run`] starts.
#[derive(Debug)]
#[non_exhaustive]
pub struct AppOptions {
    /// The loaded and validated configuration (command-line overrides applied).
    pub config: Config,
    /// Version facts for `dameng_exporter_build_info`.
    pub build_info: BuildInfo,
    /// Where the configuration came from, for the status page (from [`Config::origin`] by
    /// [`AppOptions::new`]).
    pub config_source: String,
    /// `--web.config.file`: TLS, basic-auth users and response headers; re-read on every
    /// reload (certificate rotation without restart).
    pub web_config_file: Option<PathBuf>,
    /// Upper bound for one request; [`DEFAULT_REQUEST_TIMEOUT`] by default.
    pub request_timeout: Duration,
}

impl AppOptions {
    /// Options for `config` with the defaults: no web config, 120 s requests. The log
    /// settings come from the configuration ([`LoggingOptions::from_global`]).
    pub fn new(config: Config, build_info: BuildInfo) -> Self {
        let config_source = match &config.origin {
            ConfigOrigin::Cli => "command line".to_owned(),
            ConfigOrigin::Toml(p) | ConfigOrigin::Legacy(p) => p.display().to_string(),
        };
        AppOptions {
            config,
            build_info,
            config_source,
            web_config_file: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

/// Why the exporter could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// Logging could not be set up (bad `DMEXP_LOG`, logging already installed). An unusable
    /// log directory is not an error: the exporter logs to stdout and warns.
    #[error("cannot initialise logging")]
    Logging(#[source] LoggingError),
    /// The HTTP settings are invalid (basic-auth keys, `--web.config.file`).
    #[error(transparent)]
    Http(#[from] ServerError),
    /// The runtime cannot be built from the configuration.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The listen address cannot be bound.
    #[error(transparent)]
    Listen(#[from] ListenError),
    /// The HTTP server failed while running.
    #[error("HTTP server failed")]
    Serve(#[source] std::io::Error),
}

/// Runs the exporter until SIGTERM or Ctrl-C: installs logging, builds the exporter, starts
/// the health checks, installs the reload (SIGHUP and `POST /-/reload`, applying the HTTP
/// and log settings too, see [`reload`]), binds the listen address (`:9200` is IPv4 and IPv6)
/// and serves HTTP or HTTPS. `loader` reads the configuration again on reload; `None`
/// refuses reloads.
///
/// Call inside a multi-threaded tokio runtime.
pub async fn run(opts: AppOptions, loader: Option<ConfigLoader>) -> Result<(), RunError> {
    let config = &opts.config;
    let log_opts = LoggingOptions::from_global(&config.global);
    let log_guard = logging::init(&log_opts).map_err(RunError::Logging)?;
    if let Some(supervisor) = Supervisor::detect() {
        if !config.global.log_dir_explicit {
            tracing::info!(
                supervisor = %supervisor.as_str(),
                "Logging to stdout only (set logDir to also write a file)."
            );
        }
    }
    for w in &config.warnings {
        tracing::warn!(warning = %w.message, "Configuration warning.");
    }
    // More descriptors for connections and pools (H3); the connection cap follows the limit.
    match server::raise_nofile_limit() {
        server::NofileChange::Raised(old, new) => {
            tracing::info!(
                old,
                new,
                "Raised the open-files limit (RLIMIT_NOFILE) to the hard limit."
            )
        }
        server::NofileChange::Unchanged(limit) => {
            tracing::info!(limit = ?limit, "Open-files limit (RLIMIT_NOFILE) already at the hard limit.")
        }
        server::NofileChange::Failed(error) => {
            tracing::warn!(error = %error, "Cannot raise the open-files limit (RLIMIT_NOFILE).")
        }
    }
    let limits = server::ConnectionLimits::default();
    tracing::info!(
        max_connections = limits.max_connections,
        header_read_timeout = ?limits.header_read_timeout,
        "HTTP connection limits."
    );
    let http = HttpSettings::from_config(&config.global, opts.web_config_file.as_deref())?;
    for w in http.warnings() {
        tracing::warn!(warning = %w, "Web config warning.");
    }
    let exporter =
        Exporter::new(config, opts.build_info.clone(), opts.config_source.clone(), loader)?;
    // Exporter::new logged every plugin problem of every datasource in one block.
    tracing::info!(
        datasources = config.datasources.len(),
        listen = %config.global.listen_address,
        "Starting dameng_exporter."
    );
    for ds in exporter.runtime().datasources() {
        tracing::info!(datasource = %ds.name(), label = %ds.label(), collectors = %ds.collector_names().join(","), "Datasource configured.");
    }
    exporter.start();
    let summary = http.summary();
    let handle = ServerHandle::new(http);
    exporter.set_reload_hook(Arc::new(reload::AppReload::new(
        handle.clone(),
        opts.web_config_file.clone(),
        log_guard.control(),
    )));
    #[cfg(unix)]
    crate::exporter::spawn_sighup_reload(Arc::clone(&exporter));
    let listener = bind(&config.global.listen_address).await?;
    let local = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(
        address = %local,
        tls = handle.is_tls(),
        settings = %summary,
        "Listening."
    );
    let router = handle.app(Arc::clone(&exporter) as Arc<dyn MetricsSource>, opts.request_timeout);
    handle.serve(listener, router, server::shutdown_signal()).await.map_err(RunError::Serve)?;
    tracing::info!("Stopped.");
    drop(log_guard);
    Ok(())
}
