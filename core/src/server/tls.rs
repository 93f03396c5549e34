//! HTTPS: [`serve_tls`] serves the same [`Router`] as [`super::serve`], over TLS (rustls).
//!
//! Same connection handling as plain HTTP (`super::conn`): graceful shutdown, the request
//! timeout, the header-read and idle timeouts, the connection cap and
//! `ConnectInfo<SocketAddr>` behave exactly as over plain HTTP. Each TLS handshake runs in its
//! connection's task, bounded by [`TlsSettings::handshake_timeout`]; a handshaking connection
//! counts against the cap and is the first to be evicted, so a client that connects and stays
//! silent delays nobody. Failed handshakes (plain HTTP on the TLS port, a refused client certificate, a TLS
//! version below `min_version`) are logged at DEBUG with the peer address.
//!
//! The [`rustls::ServerConfig`] (certificate, key, client-certificate policy, versions) comes
//! from the web config file, see [`super::web_config`].

use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::Router;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use tokio::net::TcpListener;

use super::conn::{serve_connections, ConnectionLimits, TlsAccept};

/// Default bound for one TLS handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
    serve_tls_with_limits(listener, router, tls, ConnectionLimits::default(), shutdown).await
}

/// [`serve_tls`] with explicit connection bounds (header-read timeout, connection cap).
pub async fn serve_tls_with_limits(
    listener: TcpListener,
    router: Router,
    tls: TlsSettings,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let config = Arc::new(ArcSwap::new(Arc::clone(&tls.config)));
    serve_tls_swappable(listener, router, config, tls.handshake_timeout, limits, shutdown).await
}

/// [`serve_tls`] with a configuration that can be replaced while serving (certificate
/// rotation on reload, see [`super::ServerHandle::apply`]): every new connection is handshaken
/// with the configuration current at its accept; open connections keep theirs.
pub(crate) async fn serve_tls_swappable(
    listener: TcpListener,
    router: Router,
    config: Arc<ArcSwap<ServerConfig>>,
    handshake_timeout: Duration,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let tls = TlsAccept { config, handshake_timeout };
    serve_connections(listener, router, Some(tls), limits, shutdown).await
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
