//! HTTPS: [`serve_tls`] serves the same [`Router`] as [`super::serve`], over TLS (rustls).
//!
//! Built on `axum::serve` with a TLS [`Listener`]: graceful shutdown, the request timeout and
//! `ConnectInfo<SocketAddr>` behave exactly as over plain HTTP. TLS handshakes run in their own
//! tasks, each bounded by [`TlsSettings::handshake_timeout`] and at most
//! [`MAX_CONCURRENT_HANDSHAKES`] at once, so a client that connects and stays silent delays
//! nobody. Failed handshakes (plain HTTP on the TLS port, a refused client certificate, a TLS
//! version below `min_version`) are logged at DEBUG with the peer address.
//!
//! The [`rustls::ServerConfig`] (certificate, key, client-certificate policy, versions) comes
//! from the web config file, see [`super::web_config`].

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::serve::{Listener, ListenerExt as _};
use axum::Router;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Default bound for one TLS handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How many TLS handshakes may be in progress at once; further connections wait in the
/// kernel's accept queue.
pub const MAX_CONCURRENT_HANDSHAKES: usize = 256;
/// Handshaken connections waiting for the HTTP server to pick them up.
const ACCEPTED_QUEUE: usize = 64;

/// How the server speaks TLS: a ready [`rustls::ServerConfig`] plus a handshake timeout.
///
/// Usually built by [`super::web_config::WebConfig::load`]; cheap to clone. `Debug` shows the
/// summary, never key material.
#[derive(Clone)]
pub struct TlsSettings {
    config: Arc<ServerConfig>,
    handshake_timeout: Duration,
    summary: String,
}

impl TlsSettings {
    /// Wraps a rustls server configuration. `summary` is a short description for logs (e.g.
    /// the client-certificate policy and TLS versions).
    pub fn new(config: Arc<ServerConfig>, summary: impl Into<String>) -> Self {
        TlsSettings {
            config,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            summary: summary.into(),
        }
    }

    /// Replaces the handshake timeout ([`DEFAULT_HANDSHAKE_TIMEOUT`] by default).
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The rustls configuration.
    pub fn server_config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// Bound for one TLS handshake.
    pub fn handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    /// Short description for logs.
    pub fn summary(&self) -> &str {
        &self.summary
    }
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("summary", &self.summary)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// Serves `router` over TLS on `listener` until `shutdown` resolves, then stops accepting,
/// lets in-flight requests finish (each bounded by the request timeout) and returns.
///
/// Handlers see the peer address (`ConnectInfo<SocketAddr>`), as with [`super::serve`].
pub async fn serve_tls(
    listener: TcpListener,
    router: Router,
    tls: TlsSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let config = Arc::new(ArcSwap::new(Arc::clone(&tls.config)));
    serve_tls_swappable(listener, router, config, tls.handshake_timeout, shutdown).await
}

/// [`serve_tls`] with a configuration that can be replaced while serving (certificate
/// rotation on reload, see [`super::ServerHandle::apply`]): every new connection is handshaken
/// with the configuration current at its accept; open connections keep theirs.
pub(crate) async fn serve_tls_swappable(
    listener: TcpListener,
    router: Router,
    config: Arc<ArcSwap<ServerConfig>>,
    handshake_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let listener = TlsListener::start(listener, config, handshake_timeout)?
        // `tap_io` also makes axum's `ConnectInfo<SocketAddr>` available for this listener.
        .tap_io(|stream: &mut TlsStream<TcpStream>| {
            if let Err(error) = stream.get_ref().0.set_nodelay(true) {
                tracing::trace!(error = %error, "Cannot set TCP_NODELAY.");
            }
        });
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}

/// A [`Listener`] that yields connections whose TLS handshake has completed.
///
/// A background task accepts TCP connections and runs each handshake in its own task; the
/// finished ones come through a channel. Dropping the listener (axum does on shutdown) aborts
/// that task, its handshakes, and closes the socket.
struct TlsListener {
    local_addr: SocketAddr,
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accept_task: JoinHandle<()>,
}

impl TlsListener {
    fn start(
        listener: TcpListener,
        config: Arc<ArcSwap<ServerConfig>>,
        handshake_timeout: Duration,
    ) -> io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (tx, accepted) = mpsc::channel(ACCEPTED_QUEUE);
        let accept_task = tokio::spawn(accept_loop(listener, config, handshake_timeout, tx));
        Ok(TlsListener { local_addr, accepted, accept_task })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(connection) => connection,
            // The accept loop never ends on its own; if it died, accept nothing more and let
            // the shutdown signal end the server.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

async fn accept_loop(
    listener: TcpListener,
    config: Arc<ArcSwap<ServerConfig>>,
    handshake_timeout: Duration,
    accepted: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONCURRENT_HANDSHAKES));
    let mut handshakes = JoinSet::new();
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let (tcp, peer) = match listener.accept().await {
            Ok(connection) => connection,
            Err(error) if is_connection_error(&error) => continue,
            Err(error) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::error!(error = %error, "Cannot accept a connection.");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        while handshakes.try_join_next().is_some() {}
        let acceptor = TlsAcceptor::from(config.load_full());
        let accepted = accepted.clone();
        handshakes.spawn(async move {
            let _slot = slot;
            match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    // Fails only when the server is shutting down: the connection is dropped.
                    let _ = accepted.send((stream, peer)).await;
                }
                Ok(Err(error)) => {
                    tracing::debug!(remote_addr = %peer, error = %error, "TLS handshake failed.");
                }
                Err(_) => {
                    tracing::debug!(remote_addr = %peer, "TLS handshake timed out.");
                }
            }
        });
    }
}

/// Errors of one connection, not of the listening socket (the same list as hyper's).
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// `RequestClientCert` and `RequireAnyClientCert`: a client certificate is asked for (and
/// required with `mandatory`) but not checked against any CA; the client still has to prove it
/// holds the certificate's key (handshake signature).
#[derive(Debug)]
pub(crate) struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyClientCert {
    pub(crate) fn new(mandatory: bool, algorithms: WebPkiSupportedAlgorithms) -> Self {
        AnyClientCert { mandatory, algorithms }
    }
}

impl ClientCertVerifier for AnyClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
