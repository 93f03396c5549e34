//! HTTP server (axum): metrics, landing page, health endpoints, basic auth, graceful shutdown.

use std::future::Future;
use std::pin::Pin;

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
}

/// What the HTTP layer needs from the exporter. Implemented by the runtime; tests may
/// implement it over a fixed text.
pub trait MetricsSource: Send + Sync + 'static {
    /// Runs one scrape of all datasources and returns the text exposition (format 0.0.4).
    fn scrape(&self) -> Pin<Box<dyn Future<Output = String> + Send + '_>>;
    /// Health of every configured datasource, in config order.
    fn statuses(&self) -> Vec<DatasourceStatus>;
    /// True once the runtime has been built (pools created, collectors instantiated).
    fn ready(&self) -> bool;
}
