//! HTTP settings that apply without a restart: [`HttpSettings`] and [`ServerHandle`].
//!
//! The handle owns the per-request settings (metric path, basic-auth users, response headers)
//! behind an `ArcSwap` read once per request, and the TLS configuration behind another one read
//! at every accepted connection. [`ServerHandle::apply`] swaps them in one step; requests and
//! connections in flight finish with the settings they started with.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use std::time::Duration;
//! # use dmexp_core::server::{self, HttpSettings, MetricsSource, ServerHandle};
//! # async fn run(source: Arc<dyn MetricsSource>, cfg: dmexp_config::GlobalConfig)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! let handle = ServerHandle::new(HttpSettings::from_config(&cfg, None)?);
//! let router = handle.app(source, Duration::from_secs(120));
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:9200").await?;
//! // On reload: re-read, then apply; on error the old settings stay.
//! let notes = handle.apply(HttpSettings::from_config(&cfg, None)?)?; // e.g. key "listenAddress"
//! # let _ = notes;
//! handle.serve(listener, router, server::shutdown_signal()).await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::Router;
use dmexp_config::GlobalConfig;
use rustls::ServerConfig;

use super::auth::BasicAuth;
use super::error::ServerError;
use super::web_config::WebConfig;
use super::{build_router, Live, MetricsSource, RestartRequired};

/// Everything the HTTP layer reads from the configuration: `listenAddress`, `metricPath`,
/// the basic-auth keys and the `--web.config.file` (TLS, users, headers), validated.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    listen_address: String,
    metric_path: String,
    basic_auth: Option<BasicAuth>,
    web: WebConfig,
    web_config_path: Option<PathBuf>,
}

impl HttpSettings {
    /// Reads the HTTP keys of `cfg` and, when given, reads and validates the web config file
    /// (certificate, key, client CA, bcrypt hashes). Any problem is an error naming the key
    /// (and file); nothing is half-applied.
    pub fn from_config(
        cfg: &GlobalConfig,
        web_config_path: Option<&Path>,
    ) -> Result<Self, ServerError> {
        let basic_auth = BasicAuth::from_global(cfg)?;
        let web = match web_config_path {
            Some(path) => WebConfig::load(path)?,
            None => WebConfig::default(),
        };
        Ok(Self::from_parts(
            cfg.listen_address.clone(),
            cfg.metric_path.clone(),
            basic_auth,
            web,
            web_config_path.map(Path::to_owned),
        ))
    }

    /// Settings from already validated parts (tests, embedders).
    pub fn from_parts(
        listen_address: String,
        metric_path: String,
        basic_auth: Option<BasicAuth>,
        web: WebConfig,
        web_config_path: Option<PathBuf>,
    ) -> Self {
        HttpSettings { listen_address, metric_path, basic_auth, web, web_config_path }
    }

    /// `listenAddress`.
    pub fn listen_address(&self) -> &str {
        &self.listen_address
    }

    /// `metricPath` as configured.
    pub fn metric_path(&self) -> &str {
        &self.metric_path
    }

    /// The validated web config (empty without `--web.config.file`).
    pub fn web_config(&self) -> &WebConfig {
        &self.web
    }

    /// Accepted but not (fully) applied web-config settings, one sentence each, for the log.
    pub fn warnings(&self) -> &[String] {
        &self.web.warnings
    }

    /// One line for the log: metric path, basic auth, web config summary.
    pub fn summary(&self) -> String {
        let auth = match (&self.basic_auth, self.web.basic_auth_users.len()) {
            (None, 0) => "basic auth off".to_owned(),
            (upstream, web) => {
                format!("basic auth on ({} user(s))", usize::from(upstream.is_some()) + web)
            }
        };
        let web = match &self.web_config_path {
            Some(path) => format!("web config {}: {}", path.display(), self.web.summary()),
            None => "no web config".to_owned(),
        };
        format!("metric path {}, {auth}, {web}", self.metric_path)
    }

    fn live(&self) -> Live {
        Live::new(
            &self.metric_path,
            self.basic_auth.iter().cloned().chain(self.web.basic_auth_users.iter().cloned()),
            self.web.headers.clone(),
        )
    }
}

/// The running HTTP server's replaceable settings. Cheap to clone; every clone controls the
/// same server.
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

struct Shared {
    live: Arc<ArcSwap<Live>>,
    /// `Some` when the server speaks TLS (decided at start; switching needs a restart).
    tls: Option<Arc<ArcSwap<ServerConfig>>>,
    handshake_timeout: Duration,
    /// `listenAddress` the server was started with.
    listen_address: String,
    /// Metric path currently served (as configured), for notes.
    metric_path: Mutex<String>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("listen_address", &self.shared.listen_address)
            .field("tls", &self.shared.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// A handle for a server that will run with `settings`. Whether it speaks TLS and on
    /// which address it listens is fixed here.
    pub fn new(settings: HttpSettings) -> Self {
        let live = Arc::new(ArcSwap::from_pointee(settings.live()));
        let (tls, handshake_timeout) = match &settings.web.tls {
            Some(tls) => (
                Some(Arc::new(ArcSwap::new(Arc::clone(tls.server_config())))),
                tls.handshake_timeout(),
            ),
            None => (None, super::tls::DEFAULT_HANDSHAKE_TIMEOUT),
        };
        ServerHandle {
            shared: Arc::new(Shared {
                live,
                tls,
                handshake_timeout,
                listen_address: settings.listen_address,
                metric_path: Mutex::new(settings.metric_path),
            }),
        }
    }

    /// The router, reading its settings from this handle. `request_timeout` bounds one
    /// request as [`super::ServerOptions::request_timeout`] does.
    pub fn app(&self, source: Arc<dyn MetricsSource>, request_timeout: Duration) -> Router {
        build_router(source, Arc::clone(&self.shared.live), request_timeout)
    }

    /// True when the server speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.shared.tls.is_some()
    }

    /// Serves `router` (from [`ServerHandle::app`]) on `listener`, over TLS when the settings
    /// at [`ServerHandle::new`] had TLS, until `shutdown` resolves; see [`super::serve`].
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        router: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        match &self.shared.tls {
            Some(config) => {
                super::tls::serve_tls_swappable(
                    listener,
                    router,
                    Arc::clone(config),
                    self.shared.handshake_timeout,
                    super::ConnectionLimits::default(),
                    shutdown,
                )
                .await
            }
            None => super::serve(listener, router, shutdown).await,
        }
    }

    /// Applies new settings: from the next request on, the new metric path, basic-auth users
    /// (old passwords refused) and response headers; from the next connection on, the new TLS
    /// certificate, key, client CA and versions. Requests in flight finish with the old ones.
    ///
    /// Returns what did not apply and needs a restart: a changed `listenAddress` (key
    /// `listenAddress`), or switching between HTTP and HTTPS (key `tls_server_config`). Settings that
    /// could not be built never reach here ([`HttpSettings::from_config`] fails and the caller
    /// keeps the old ones), so the error case is reserved.
    pub fn apply(&self, settings: HttpSettings) -> Result<Vec<RestartRequired>, ServerError> {
        let mut notes = Vec::new();
        if settings.listen_address != self.shared.listen_address {
            notes.push(RestartRequired::new(
                "listenAddress",
                format!(
                    "listening on {:?}, the configuration says {:?}",
                    self.shared.listen_address, settings.listen_address
                ),
            ));
        }
        match (&self.shared.tls, &settings.web.tls) {
            (Some(current), Some(new)) => current.store(Arc::clone(new.server_config())),
            (None, None) => {}
            (Some(_), None) => notes.push(RestartRequired::new(
                "tls_server_config",
                "switching from HTTPS to HTTP needs a restart; the old TLS settings stay",
            )),
            (None, Some(_)) => notes.push(RestartRequired::new(
                "tls_server_config",
                "switching from HTTP to HTTPS needs a restart; still serving plain HTTP",
            )),
        }
        self.shared.live.store(Arc::new(settings.live()));
        let mut path = self.shared.metric_path.lock().unwrap_or_else(PoisonError::into_inner);
        if *path != settings.metric_path {
            tracing::info!(old = %path, new = %settings.metric_path, "Metric path changed.");
            *path = settings.metric_path;
        }
        Ok(notes)
    }
}
