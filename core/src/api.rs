//! The types the HTTP layer and the engine share: what a scrape asks for
//! ([`ScrapeRequest`]), why it cannot be served ([`ScrapeError`]), the status rows and health
//! states of the landing page, and [`MetricsSource`], what the HTTP layer needs from the
//! exporter. They live below both (the server re-exports them), so the engine never imports
//! the HTTP layer.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Health of one datasource as shown on the landing page and in `dmdb_up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    /// Connected and answering pings.
    Healthy,
    /// Connection or login failed; reconnect with backoff is in progress.
    Unhealthy,
    /// `enabled = false` in the config.
    Disabled,
}

impl HealthState {
    /// Lower-case name for pages and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Healthy => "healthy",
            HealthState::Unhealthy => "unhealthy",
            HealthState::Disabled => "disabled",
        }
    }
}

/// One row of the landing page.
#[derive(Debug, Clone)]
pub struct DatasourceStatus {
    /// Configured name.
    pub name: String,
    /// Value of the `datasource` label.
    pub label: String,
    /// Current health.
    pub state: HealthState,
    /// Last connection error, already free of secrets.
    pub last_error: Option<String>,
    /// Collectors enabled for this datasource (built-in, custom and plugin).
    pub collectors: Vec<String>,
    /// Duration of the last scrape of this datasource, seconds.
    pub last_scrape_seconds: Option<f64>,
}

/// Exporter-wide facts for the status page.
#[derive(Debug, Clone, Default)]
pub struct ExporterStatus {
    /// Where the configuration came from (file path, or "command line").
    pub config_source: String,
    /// Result of the last reload, if any: `Ok(unix time)` or `Err(reason)`.
    pub last_reload: Option<Result<f64, String>>,
    /// Settings changed in the file that the running process cannot apply (empty when the
    /// running process matches the file).
    pub restart_required: Vec<RestartRequired>,
}

/// A changed setting that a reload cannot apply: the process keeps the old value until it is
/// restarted. Shown on the status page ("restart needed: …"), logged as WARN and exposed as
/// `dameng_exporter_config_restart_required{key="…"} 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartRequired {
    /// The configuration key (`listenAddress`, `logDir`, `tls_server_config`, …).
    pub key: String,
    /// What is running and what the file asks for, in one sentence; free of secrets.
    pub detail: String,
}

impl RestartRequired {
    /// A note for `key`.
    pub fn new(key: impl Into<String>, detail: impl Into<String>) -> Self {
        RestartRequired { key: key.into(), detail: detail.into() }
    }
}

impl std::fmt::Display for RestartRequired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.detail)
    }
}

/// The cause of a boxed [`ReloadError`] variant (the concrete error types live in layers
/// above this module: config loading, the HTTP settings, the runtime build).
pub type BoxedCause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a reload was refused. In every case nothing was applied: the running configuration,
/// HTTP settings (credentials included) and log settings stay as they were.
///
/// The message (Display) already contains the cause, file and line; the cause itself is the
/// variant's field (downcast it for the concrete type).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// The exporter was started without a configuration file (command-line mode).
    #[error("no configuration file to reload (command-line mode)")]
    NoConfigFile,
    /// This [`MetricsSource`] does not reload.
    #[error("reload is not supported here")]
    Unsupported,
    /// The configuration file does not load or does not validate.
    #[error("{0}")]
    Config(BoxedCause),
    /// The HTTP settings of the new configuration are invalid: the basic-auth keys or the
    /// `--web.config.file` (TLS certificate and key, users, headers).
    #[error("{0}")]
    Http(BoxedCause),
    /// The runtime of the new configuration cannot be built (collectors, metrics).
    #[error("{0}")]
    Runtime(BoxedCause),
}

impl ReloadError {
    /// Short name of the variant for logs: `config`, `http`, `runtime`, …
    pub fn kind(&self) -> &'static str {
        match self {
            ReloadError::NoConfigFile => "no_config_file",
            ReloadError::Unsupported => "unsupported",
            ReloadError::Config(_) => "config",
            ReloadError::Http(_) => "http",
            ReloadError::Runtime(_) => "runtime",
        }
    }
}

/// What a scrape request asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScrapeRequest {
    /// `/probe?target=`: one datasource by name; `None` for every datasource.
    pub target: Option<String>,
    /// `collect[]`: only these collectors (empty = all).
    pub collect: Vec<String>,
    /// `exclude[]`: all collectors but these.
    pub exclude: Vec<String>,
    /// `X-Prometheus-Scrape-Timeout-Seconds`, when Prometheus sent it.
    pub scrape_timeout: Option<Duration>,
    /// Exposition format of the answer, negotiated from the `Accept` header.
    pub format: ExpositionFormat,
}

/// Exposition format of a scrape answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExpositionFormat {
    /// Prometheus text format 0.0.4 (the default, what the Go exporter serves).
    #[default]
    Text,
    /// OpenMetrics text 1.0.0, for clients that prefer it (Prometheus, Alloy, OTel).
    OpenMetrics,
}

impl ExpositionFormat {
    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            ExpositionFormat::Text => "text/plain; version=0.0.4; charset=utf-8",
            ExpositionFormat::OpenMetrics => {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            }
        }
    }
}

/// A scrape request the exporter cannot serve (answered with 400 and the message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScrapeError {
    /// `/probe?target=` names no configured datasource.
    #[error("unknown target `{0}`: use the name of a configured datasource")]
    UnknownTarget(String),
    /// Bad parameters (unknown collector, collect[] with exclude[], missing target).
    #[error("{0}")]
    BadRequest(String),
}

/// What the HTTP layer needs from the exporter. Implemented by the runtime; tests may
/// implement it over a fixed text.
pub trait MetricsSource: Send + Sync + 'static {
    /// Runs one scrape and returns its exposition in `request.format` (text 0.0.4 or
    /// OpenMetrics 1.0.0; the HTTP layer sets the matching `Content-Type`).
    fn scrape(
        &self,
        request: ScrapeRequest,
    ) -> Pin<Box<dyn Future<Output = Result<String, ScrapeError>> + Send + '_>>;
    /// Health of every configured datasource, in config order.
    fn statuses(&self) -> Vec<DatasourceStatus>;
    /// True once the runtime has been built (pools created, collectors instantiated).
    fn ready(&self) -> bool;
    /// Reloads the configuration; on error the old one stays and the reason is returned.
    fn reload(&self) -> Pin<Box<dyn Future<Output = Result<(), ReloadError>> + Send + '_>> {
        Box::pin(async { Err(ReloadError::Unsupported) })
    }
    /// Exporter-wide facts for the status page.
    fn exporter_status(&self) -> ExporterStatus {
        ExporterStatus::default()
    }
}
