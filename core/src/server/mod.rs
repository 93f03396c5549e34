//! HTTP server (axum): metrics, landing page, health endpoints, basic auth, graceful shutdown.
//!
//! [`app`] builds the [`Router`] from a [`MetricsSource`] and [`ServerOptions`]; [`serve`] runs
//! it on a listener until a shutdown future resolves (usually [`shutdown_signal`]). Keeping the
//! two apart lets tests drive the router with `tower::ServiceExt::oneshot`, without a socket.
//!
//! | Path | Answer | Basic auth |
//! |---|---|---|
//! | `metric_path` (default `/metrics`) | one scrape of every datasource, always 200, text 0.0.4 or OpenMetrics 1.0.0 by `Accept`; `collect[]`/`exclude[]` filter collectors | yes |
//! | `/probe?target=<datasource>` | one scrape of one datasource (400 for an unknown target) | yes |
//! | `POST /-/reload` | reload the configuration (200, or 500 with the reason; the old one stays) | yes |
//! | `/` | HTML status page: datasources, health, last error, collectors, reload state (escaped) | yes |
//! | `/-/healthy` | 200 `OK` | no |
//! | `/-/ready` | 200 once [`MetricsSource::ready`], else 503 | no |
//! | anything else | 404 | no |
//!
//! Answers are gzip-compressed when the request's `Accept-Encoding` allows it.
//! `/` is protected because it shows datasource errors. Every request runs in an `INFO`
//! `request` span (method, path, remote address) and is bounded by
//! [`ServerOptions::request_timeout`] (503 when exceeded).
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use std::time::Duration;
//! # use dmexp_core::server::{self, MetricsSource, ServerOptions};
//! # async fn run(source: Arc<dyn MetricsSource>) -> std::io::Result<()> {
//! let opts = ServerOptions {
//!     metric_path: "/metrics".into(),
//!     basic_auth: None,
//!     basic_auth_users: Vec::new(),
//!     request_timeout: Duration::from_secs(30),
//! };
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:9200").await?;
//! server::serve(listener, server::app(source, opts), server::shutdown_signal()).await
//! # }
//! ```

mod auth;
mod conn;
mod error;
mod negotiate;
mod nofile;
mod routes;
mod settings;
mod shutdown;
mod tls;
pub mod web_config;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{BoxError, Router};
use dmexp_config::GlobalConfig;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;

pub use auth::{hash_password, AuthError, BasicAuth, BCRYPT_MAX_PASSWORD_BYTES};
pub use conn::{
    ConnectionLimits, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_WRITE_STALL_TIMEOUT,
    MAX_CONNECTIONS_CEILING,
};
pub use error::{AppError, ServerError};
pub use nofile::{raise_nofile_limit, NofileChange};
pub use settings::{HttpSettings, ServerHandle};
pub use shutdown::shutdown_signal;
pub use tls::{serve_tls, serve_tls_with_limits, TlsSettings};

pub use crate::api::{
    DatasourceStatus, ExporterStatus, ExpositionFormat, HealthState, MetricsSource, ReloadError,
    RestartRequired, ScrapeError, ScrapeRequest,
};

/// How the HTTP server behaves.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Path of the scrape endpoint (`metricPath`, default `/metrics`). Compared literally with
    /// the request path; a missing leading `/` is added. Should not be `/-/healthy` or
    /// `/-/ready`; if it is `/`, the scrape replaces the landing page.
    pub metric_path: String,
    /// Credentials required on the metric path and on `/`; `None` disables basic auth.
    pub basic_auth: Option<BasicAuth>,
    /// More users, from `basic_auth_users` of the `--web.config.file` (bcrypt hashes). A
    /// request passes when it matches `basic_auth` or any of these; both empty disables
    /// basic auth.
    pub basic_auth_users: Vec<BasicAuth>,
    /// Upper bound for one request, bcrypt check and scrape included; 503 when exceeded.
    /// Choose it above the scrape deadline. [`Duration::ZERO`] disables it.
    pub request_timeout: Duration,
}

impl ServerOptions {
    /// Reads `metricPath` and the basic-auth keys. The request timeout is not a config key:
    /// the caller derives it from the scrape deadline.
    pub fn from_global(cfg: &GlobalConfig, request_timeout: Duration) -> Result<Self, ServerError> {
        Ok(ServerOptions {
            metric_path: cfg.metric_path.clone(),
            basic_auth: BasicAuth::from_global(cfg)?,
            basic_auth_users: Vec::new(),
            request_timeout,
        })
    }
}

/// The per-request settings that a reload may replace ([`ServerHandle::apply`]): read once
/// per request (one `ArcSwap` load), so a request sees one consistent set.
pub(crate) struct Live {
    /// Normalised metric path (leading `/`).
    pub(crate) metric_path: Arc<str>,
    /// `None`: no basic auth.
    pub(crate) auth: Option<Arc<auth::Authenticator>>,
    /// `http_server_config.headers` of the web config, added to every response.
    pub(crate) headers: Arc<[(HeaderName, HeaderValue)]>,
}

impl Live {
    pub(crate) fn new(
        metric_path: &str,
        users: impl IntoIterator<Item = BasicAuth>,
        headers: Vec<(HeaderName, HeaderValue)>,
    ) -> Live {
        let metric_path: Arc<str> = if metric_path.starts_with('/') {
            Arc::from(metric_path)
        } else {
            Arc::from(format!("/{metric_path}"))
        };
        Live {
            metric_path,
            auth: auth::Authenticator::new(users).map(Arc::new),
            headers: Arc::from(headers),
        }
    }
}

/// Shared by all handlers; cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState {
    source: Arc<dyn MetricsSource>,
    live: Arc<ArcSwap<Live>>,
}

impl AppState {
    /// The settings of this request: the snapshot [`with_live`] took, or the current ones.
    pub(crate) fn live_of(&self, request: &Request) -> Arc<Live> {
        request.extensions().get::<Arc<Live>>().cloned().unwrap_or_else(|| self.live.load_full())
    }
}

/// Builds the router. See the module docs for the routes.
///
/// The settings are fixed for the life of the router; [`ServerHandle::app`] builds one whose
/// settings a reload can replace.
pub fn app(source: Arc<dyn MetricsSource>, opts: ServerOptions) -> Router {
    let live = Live::new(
        &opts.metric_path,
        opts.basic_auth.into_iter().chain(opts.basic_auth_users),
        Vec::new(),
    );
    build_router(source, Arc::new(ArcSwap::from_pointee(live)), opts.request_timeout)
}

/// Layers, outermost first: IPv4-mapped peer addresses made plain, request span and trace
/// events, gzip compression, settings snapshot and configured response headers, panic catching
/// (500), [`AppError`] logging, request timeout, basic auth, metric path, routes.
pub(crate) fn build_router(
    source: Arc<dyn MetricsSource>,
    live: Arc<ArcSwap<Live>>,
    request_timeout: Duration,
) -> Router {
    let state = AppState { source, live };

    // The metric path is matched by `routes::metric_path` before routing, so it wins over the
    // fixed routes when they coincide and can change on reload.
    let router = Router::new()
        .route("/", get(routes::landing))
        .route(routes::HEALTHY_PATH, get(routes::healthy))
        .route(routes::READY_PATH, get(routes::ready))
        .route(routes::PROBE_PATH, get(routes::probe))
        .route(routes::RELOAD_PATH, axum::routing::post(routes::reload));

    let timeout = if request_timeout.is_zero() {
        // tokio caps sleeps far in the future, so this is "never".
        Duration::MAX
    } else {
        request_timeout
    };

    router
        .fallback(routes::fallback)
        .layer(middleware::from_fn_with_state(state.clone(), routes::metric_path))
        .layer(middleware::from_fn_with_state(state.clone(), auth::require_auth))
        .layer(
            ServiceBuilder::new().layer(HandleErrorLayer::new(handle_layer_error)).timeout(timeout),
        )
        .layer(middleware::from_fn(error::log_app_errors))
        // Inside the trace layer, so the panic is logged in the request span (and the log file).
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(middleware::from_fn_with_state(state.clone(), with_live))
        // gzip when the request's Accept-Encoding allows it (q-values honoured, `Vary`
        // added); bodies under 32 bytes, such as `OK`, stay as they are. Level 1: on 100,000
        // series it is >10x faster than the default level for 1.5x the size (benches/encode.rs).
        .layer(CompressionLayer::new().gzip(true).quality(CompressionLevel::Fastest))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                // 5xx answers are logged as AppErrors or are expected (`/-/ready`).
                .on_failure(DefaultOnFailure::new().level(Level::DEBUG)),
        )
        .layer(middleware::from_fn(canonical_peer))
        .with_state(state)
}

/// Middleware (outermost): an IPv4 client of the dual-stack `:port` socket arrives as
/// `::ffff:a.b.c.d`; the request span, the logs and the per-IP login throttle see `a.b.c.d`.
async fn canonical_peer(mut request: Request, next: Next) -> Response {
    if let Some(ConnectInfo(addr)) = request.extensions_mut().get_mut::<ConnectInfo<SocketAddr>>() {
        *addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
    }
    next.run(request).await
}

/// Middleware: takes the settings snapshot of this request and adds the configured response
/// headers to its response.
async fn with_live(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let live = state.live.load_full();
    request.extensions_mut().insert(Arc::clone(&live));
    let mut response = next.run(request).await;
    for (name, value) in live.headers.iter() {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// Maps errors of the tower layers (the timeout) to responses.
async fn handle_layer_error(error: BoxError) -> axum::response::Response {
    if error.is::<tower::timeout::error::Elapsed>() {
        AppError::Timeout.into_response()
    } else {
        AppError::Internal(error).into_response()
    }
}

/// The span every request runs in.
fn request_span(request: &Request) -> tracing::Span {
    let remote_addr = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| tracing::field::display(*addr));
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        remote_addr,
    )
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, closes idle
/// connections, lets in-flight requests finish (each bounded by the request timeout) and
/// returns. Connections are bounded by [`ConnectionLimits::default`]: a request head must
/// arrive within [`DEFAULT_HEADER_READ_TIMEOUT`] (also the keep-alive idle timeout), and at
/// the connection cap the oldest connection without a request in flight makes room.
///
/// Handlers see the peer address (`ConnectInfo<SocketAddr>`), which the request span records.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with_limits(listener, router, ConnectionLimits::default(), shutdown).await
}

/// [`serve`] with explicit connection bounds.
pub async fn serve_with_limits(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    conn::serve_connections(listener, router, None, limits, shutdown).await
}
