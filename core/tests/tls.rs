//! `--web.config.file` over real sockets: HTTPS with certificates generated in the test (a CA,
//! a server certificate for 127.0.0.1/localhost, client certificates), every client-auth type,
//! TLS versions, `basic_auth_users`, response headers, graceful shutdown, and the startup
//! errors of broken web configs.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use dmexp_core::server::web_config::WebConfig;
use dmexp_core::server::{
    self, DatasourceStatus, MetricsSource, ScrapeError, ScrapeRequest, ServerOptions,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const METRICS_TEXT: &str =
    "# HELP dmdb_up Up.\n# TYPE dmdb_up gauge\ndmdb_up{datasource=\"a\"} 1\n";

struct FakeSource;

impl MetricsSource for FakeSource {
    fn scrape(
        &self,
        _request: ScrapeRequest,
    ) -> Pin<Box<dyn Future<Output = Result<String, ScrapeError>> + Send + '_>> {
        Box::pin(async { Ok(METRICS_TEXT.to_owned()) })
    }
    fn statuses(&self) -> Vec<DatasourceStatus> {
        Vec::new()
    }
    fn ready(&self) -> bool {
        true
    }
}

// ---------------------------------------------------------------------------------------------
// Certificates

/// A CA, a server certificate signed by it, a client certificate signed by it and a
/// self-signed client certificate, as PEM files in a scratch directory.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "dameng_exporter test CA");
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        write(&dir, "ca.pem", &ca_cert.pem());

        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        server_params.distinguished_name.push(DnType::CommonName, "localhost");
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate().unwrap();
        let server_cert = server_params.signed_by(&server_key, &issuer).unwrap();
        write(&dir, "server.pem", &server_cert.pem());
        write(&dir, "server.key", &server_key.serialize_pem());

        let mut client_params = CertificateParams::new(vec!["prometheus".to_owned()]).unwrap();
        client_params.distinguished_name.push(DnType::CommonName, "prometheus");
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_key = KeyPair::generate().unwrap();
        let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();
        write(&dir, "client.pem", &client_cert.pem());
        write(&dir, "client.key", &client_key.serialize_pem());

        let mut other_params = CertificateParams::new(vec!["intruder".to_owned()]).unwrap();
        other_params.distinguished_name.push(DnType::CommonName, "intruder");
        other_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let other_key = KeyPair::generate().unwrap();
        let other_cert = other_params.self_signed(&other_key).unwrap();
        write(&dir, "other.pem", &other_cert.pem());
        write(&dir, "other.key", &other_key.serialize_pem());
        Pki { dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Writes `web.yml` with the server certificate (relative paths) plus `extra` lines under
    /// `tls_server_config`, and `tail` after it; loads it.
    fn web_config(&self, extra: &str, tail: &str) -> Result<WebConfig, String> {
        let text = format!(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n{extra}{tail}"
        );
        self.load(&text)
    }

    fn load(&self, text: &str) -> Result<WebConfig, String> {
        let path = self.path("web.yml");
        std::fs::write(&path, text).unwrap();
        WebConfig::load(&path).map_err(|e| e.to_string())
    }

    fn client(
        &self,
        versions: &[&'static SupportedProtocolVersion],
        cert: Option<&str>,
    ) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from_pem_file(self.path("ca.pem")).unwrap()).unwrap();
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(versions)
                .unwrap()
                .with_root_certificates(roots);
        let config = match cert {
            None => builder.with_no_client_auth(),
            Some(name) => {
                let chain =
                    vec![CertificateDer::from_pem_file(self.path(&format!("{name}.pem"))).unwrap()];
                let key = PrivateKeyDer::from_pem_file(self.path(&format!("{name}.key"))).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
        };
        Arc::new(config)
    }

    fn default_client(&self) -> Arc<ClientConfig> {
        self.client(rustls::DEFAULT_VERSIONS, None)
    }
}

fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Server and client

struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("serve_tls did not return after shutdown");
        result.unwrap().unwrap();
    }
}

fn app_for(web: &WebConfig) -> Router {
    let opts = ServerOptions {
        metric_path: "/metrics".into(),
        basic_auth: None,
        basic_auth_users: web.basic_auth_users.clone(),
        request_timeout: Duration::from_secs(30),
    };
    web.apply_headers(server::app(Arc::new(FakeSource), opts))
}

async fn start_router(web: &WebConfig, router: Router) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let tls = web.tls.clone().expect("TLS configured");
    let task = tokio::spawn(server::serve_tls(listener, router, tls, async move {
        let _ = stopped.await;
    }));
    Running { addr, stop: Some(stop), task }
}

async fn start(web: &WebConfig) -> Running {
    start_router(web, app_for(web)).await
}

/// A response: status, raw head, body (not de-chunked; tests look for substrings).
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// GET over TLS; `Err` when the handshake or the exchange fails (a refused client certificate
/// in TLS 1.3 shows up on the first read, after the client-side handshake completed).
async fn https_get(
    addr: SocketAddr,
    client: Arc<ClientConfig>,
    path: &str,
    auth: Option<(&str, &str)>,
) -> Result<Answer, String> {
    let exchange = async {
        let tcp = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
        let connector = tokio_rustls::TlsConnector::from(client);
        let name = ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.map_err(|e| format!("handshake: {e}"))?;
        let mut request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        if let Some((user, password)) = auth {
            let token =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            request.push_str(&format!("Authorization: Basic {token}\r\n"));
        }
        request.push_str("\r\n");
        tls.write_all(request.as_bytes()).await.map_err(|e| format!("write: {e}"))?;
        let mut raw = Vec::new();
        let read = tls.read_to_end(&mut raw).await;
        let text = String::from_utf8_lossy(&raw).into_owned();
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            return Err(format!("no HTTP response (read: {read:?}, got {text:?})"));
        };
        let status = head
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("bad status line: {head:?}"))?;
        Ok(Answer { status, head: head.to_owned(), body: body.to_owned() })
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| "timed out".to_owned())?
}

async fn status(
    addr: SocketAddr,
    client: Arc<ClientConfig>,
    auth: Option<(&str, &str)>,
) -> Result<u16, String> {
    https_get(addr, client, "/metrics", auth).await.map(|a| a.status)
}

fn bcrypt_hash(password: &str) -> String {
    bcrypt::hash_with_result(password, 4).unwrap().format_for_version(bcrypt::Version::TwoY)
}

// ---------------------------------------------------------------------------------------------
// Serving

#[tokio::test]
async fn https_scrape_with_a_client_trusting_the_ca() {
    let pki = Pki::new("scrape");
    let web =
        pki.web_config("", "http_server_config:\n  headers:\n    X-Frame-Options: deny\n").unwrap();
    assert!(web.warnings.is_empty(), "{:?}", web.warnings);
    let running = start(&web).await;

    let answer = https_get(running.addr, pki.default_client(), "/metrics", None).await.unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.contains("dmdb_up{datasource=\"a\"} 1"), "{answer:?}");
    assert!(answer.head.to_ascii_lowercase().contains("x-frame-options: deny"), "{answer:?}");
    let ready = https_get(running.addr, pki.default_client(), "/-/ready", None).await.unwrap();
    assert_eq!(ready.status, 200);
    assert!(ready.head.to_ascii_lowercase().contains("x-frame-options: deny"), "{ready:?}");

    running.stop().await;
}

#[tokio::test]
async fn a_client_not_trusting_the_ca_refuses_the_server() {
    let pki = Pki::new("untrusted");
    let web = pki.web_config("", "").unwrap();
    let running = start(&web).await;
    let other = Pki::new("untrusted-other");
    let result = status(running.addr, other.default_client(), None).await;
    assert!(result.is_err(), "{result:?}");
    running.stop().await;
}

#[tokio::test]
async fn plain_http_to_the_tls_port_fails_and_the_server_keeps_serving() {
    let pki = Pki::new("plain");
    let web = pki.web_config("", "").unwrap();
    let running = start(&web).await;

    let mut tcp = TcpStream::connect(running.addr).await.unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut raw)).await.unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(!text.contains("HTTP/1.1 200"), "plain HTTP must not be served: {text:?}");
    assert!(!text.contains("dmdb_up"), "{text:?}");

    assert_eq!(status(running.addr, pki.default_client(), None).await, Ok(200));
    running.stop().await;
}

#[tokio::test]
async fn require_and_verify_client_cert() {
    let pki = Pki::new("require-verify");
    let web = pki
        .web_config(
            "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n",
            "",
        )
        .unwrap();
    assert!(web.warnings.is_empty(), "{:?}", web.warnings);
    let running = start(&web).await;
    for versions in [rustls::DEFAULT_VERSIONS, &[&rustls::version::TLS12]] {
        let none = status(running.addr, pki.client(versions, None), None).await;
        assert!(none.is_err(), "without a client certificate: {none:?}");
        let signed = status(running.addr, pki.client(versions, Some("client")), None).await;
        assert_eq!(signed, Ok(200), "with a certificate signed by the CA");
        let other = status(running.addr, pki.client(versions, Some("other")), None).await;
        assert!(other.is_err(), "with a self-signed certificate: {other:?}");
    }
    running.stop().await;
}

#[tokio::test]
async fn verify_client_cert_if_given() {
    let pki = Pki::new("verify-if-given");
    let web = pki
        .web_config("  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\n", "")
        .unwrap();
    let running = start(&web).await;
    let all = rustls::DEFAULT_VERSIONS;
    assert_eq!(status(running.addr, pki.client(all, None), None).await, Ok(200));
    assert_eq!(status(running.addr, pki.client(all, Some("client")), None).await, Ok(200));
    let other = status(running.addr, pki.client(all, Some("other")), None).await;
    assert!(other.is_err(), "{other:?}");
    running.stop().await;
}

#[tokio::test]
async fn require_any_and_request_client_cert_do_not_verify() {
    let pki = Pki::new("require-any");
    let all = rustls::DEFAULT_VERSIONS;

    let web = pki.web_config("  client_auth_type: RequireAnyClientCert\n", "").unwrap();
    assert!(web.warnings.iter().any(|w| w.contains("does not verify")), "{:?}", web.warnings);
    let running = start(&web).await;
    let none = status(running.addr, pki.client(all, None), None).await;
    assert!(none.is_err(), "{none:?}");
    assert_eq!(status(running.addr, pki.client(all, Some("other")), None).await, Ok(200));
    assert_eq!(status(running.addr, pki.client(all, Some("client")), None).await, Ok(200));
    running.stop().await;

    let web = pki.web_config("  client_auth_type: RequestClientCert\n", "").unwrap();
    let running = start(&web).await;
    assert_eq!(status(running.addr, pki.client(all, None), None).await, Ok(200));
    assert_eq!(status(running.addr, pki.client(all, Some("other")), None).await, Ok(200));
    running.stop().await;
}

#[tokio::test]
async fn min_version_tls13_refuses_a_tls12_only_client() {
    let pki = Pki::new("min13");
    let web = pki.web_config("  min_version: TLS13\n", "").unwrap();
    let running = start(&web).await;
    let tls12 = status(running.addr, pki.client(&[&rustls::version::TLS12], None), None).await;
    assert!(tls12.is_err(), "{tls12:?}");
    assert_eq!(
        status(running.addr, pki.client(&[&rustls::version::TLS13], None), None).await,
        Ok(200)
    );
    running.stop().await;

    let web = pki.web_config("  max_version: TLS12\n", "").unwrap();
    let running = start(&web).await;
    let tls13 = status(running.addr, pki.client(&[&rustls::version::TLS13], None), None).await;
    assert!(tls13.is_err(), "{tls13:?}");
    assert_eq!(
        status(running.addr, pki.client(&[&rustls::version::TLS12], None), None).await,
        Ok(200)
    );
    running.stop().await;
}

#[tokio::test]
async fn cipher_suites_keep_the_supported_ones_and_warn() {
    let pki = Pki::new("ciphers");
    let web = pki
        .web_config(
            "  max_version: TLS12\n  cipher_suites:\n    - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n    \
             - TLS_RSA_WITH_AES_128_CBC_SHA\n  curve_preferences: [X25519, CurveP521]\n",
            "",
        )
        .unwrap();
    assert_eq!(web.warnings.len(), 2, "{:?}", web.warnings);
    assert!(web.warnings[0].contains("TLS_RSA_WITH_AES_128_CBC_SHA"), "{:?}", web.warnings);
    assert!(web.warnings[1].contains("CurveP521"), "{:?}", web.warnings);
    let running = start(&web).await;
    assert_eq!(
        status(running.addr, pki.client(&[&rustls::version::TLS12], None), None).await,
        Ok(200)
    );
    running.stop().await;
}

#[tokio::test]
async fn basic_auth_users_over_tls() {
    let pki = Pki::new("users");
    let tail = format!(
        "basic_auth_users:\n  alice: {}\n  bob: {}\n",
        bcrypt_hash("alice-pw"),
        bcrypt_hash("bob-pw")
    );
    let web = pki.web_config("", &tail).unwrap();
    assert_eq!(web.basic_auth_users.len(), 2);
    let running = start(&web).await;
    let client = pki.default_client();
    let s = |auth| status(running.addr, Arc::clone(&client), auth);
    assert_eq!(s(Some(("alice", "alice-pw"))).await, Ok(200));
    assert_eq!(s(Some(("bob", "bob-pw"))).await, Ok(200));
    assert_eq!(s(Some(("alice", "alice-pw"))).await, Ok(200), "cached");
    assert_eq!(s(Some(("alice", "bob-pw"))).await, Ok(401));
    assert_eq!(s(Some(("bob", "wrong"))).await, Ok(401));
    assert_eq!(s(Some(("carol", "alice-pw"))).await, Ok(401), "unknown user");
    assert_eq!(s(None).await, Ok(401));
    let healthy = https_get(running.addr, Arc::clone(&client), "/-/healthy", None).await.unwrap();
    assert_eq!(healthy.status, 200, "health stays open");
    running.stop().await;
}

#[tokio::test]
async fn web_users_and_the_upstream_user_both_work() {
    let web = WebConfig::parse(
        &format!("basic_auth_users:\n  alice: {}\n", bcrypt_hash("alice-pw")),
        Path::new("web.yml"),
    )
    .unwrap();
    let opts = ServerOptions {
        metric_path: "/metrics".into(),
        basic_auth: Some(
            server::BasicAuth::new("admin", dmexp_config::Secret::new("admin-pw")).unwrap(),
        ),
        basic_auth_users: web.basic_auth_users.clone(),
        request_timeout: Duration::from_secs(30),
    };
    let app = server::app(Arc::new(FakeSource), opts);
    let send = |user: &str, password: &str| {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let request = axum::http::Request::get("/metrics")
            .header("Authorization", format!("Basic {token}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let app = app.clone();
        async move {
            use tower::ServiceExt as _;
            app.oneshot(request).await.unwrap().status().as_u16()
        }
    };
    assert_eq!(send("admin", "admin-pw").await, 200);
    assert_eq!(send("alice", "alice-pw").await, 200);
    assert_eq!(send("admin", "alice-pw").await, 401);
    assert_eq!(send("alice", "admin-pw").await, 401);
}

#[tokio::test]
async fn handlers_see_the_peer_address() {
    let pki = Pki::new("peer");
    let web = pki.web_config("", "").unwrap();
    let router = Router::new().route(
        "/peer",
        get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
    );
    let running = start_router(&web, router).await;
    let answer = https_get(running.addr, pki.default_client(), "/peer", None).await.unwrap();
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("127.0.0.1"), "{answer:?}");
    running.stop().await;
}

#[tokio::test]
async fn a_silent_client_does_not_block_others() {
    let pki = Pki::new("silent");
    let web = pki.web_config("", "").unwrap();
    let running = start(&web).await;
    let _silent = TcpStream::connect(running.addr).await.unwrap();
    let started = Instant::now();
    assert_eq!(status(running.addr, pki.default_client(), None).await, Ok(200));
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    running.stop().await;
}

/// H3 over TLS: a client that finishes the handshake and then sends nothing (or goes idle
/// after a request) is dropped after the header-read timeout; at the connection cap, silent
/// and handshaking sockets make room for a real request.
#[tokio::test]
async fn idle_tls_connections_are_dropped_and_the_cap_keeps_scrapes_served() {
    let pki = Pki::new("idle");
    let web = pki.web_config("", "").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let limits = server::ConnectionLimits {
        header_read_timeout: Duration::from_millis(600),
        write_stall_timeout: Duration::from_secs(5),
        max_connections: 8,
    };
    let tls = web.tls.clone().expect("TLS configured");
    let task = tokio::spawn(server::serve_tls_with_limits(
        listener,
        app_for(&web),
        tls,
        limits,
        async move {
            let _ = stopped.await;
        },
    ));
    let running = Running { addr, stop: Some(stop), task };

    // Handshake done, then silence: closed by the server.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(pki.default_client());
    let name = ServerName::try_from("localhost").unwrap();
    let mut silent = connector.connect(name, tcp).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf)).await;
    assert!(read.is_ok(), "a silent TLS client was still connected after 5 s");
    assert!(started.elapsed() >= Duration::from_millis(500), "{:?}", started.elapsed());

    // 30 raw TCP sockets (no handshake) and 10 handshaken silent ones, beyond the cap of 8.
    let mut held = Vec::new();
    for _ in 0..30 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut held_tls = Vec::new();
    for _ in 0..10 {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        if let Ok(stream) = connector.connect(name, tcp).await {
            held_tls.push(stream);
        }
    }
    for _ in 0..3 {
        let started = Instant::now();
        assert_eq!(status(addr, pki.default_client(), None).await, Ok(200));
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }
    running.stop().await;
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish_and_closes_the_port() {
    let pki = Pki::new("shutdown");
    let web = pki.web_config("", "").unwrap();
    let router = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            "done"
        }),
    );
    let mut running = start_router(&web, router).await;
    let addr = running.addr;
    let client = pki.default_client();
    let request = tokio::spawn(https_get(addr, client, "/slow", None));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let _ = running.stop.take().map(|s| s.send(()));
    let answer = request.await.unwrap().unwrap();
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("done"));
    running.stop().await;
    assert!(TcpStream::connect(addr).await.is_err(), "the port is closed after shutdown");
}

#[tokio::test]
async fn inline_pem_is_accepted() {
    let pki = Pki::new("inline");
    let indent = |file: &str| {
        std::fs::read_to_string(pki.path(file))
            .unwrap()
            .lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    };
    let text = format!(
        "tls_server_config:\n  cert: |\n{}  key: |\n{}  client_auth_type: RequireAndVerifyClientCert\n  client_ca: |\n{}",
        indent("server.pem"),
        indent("server.key"),
        indent("ca.pem")
    );
    let web = pki.load(&text).unwrap();
    let running = start(&web).await;
    let all = rustls::DEFAULT_VERSIONS;
    assert_eq!(status(running.addr, pki.client(all, Some("client")), None).await, Ok(200));
    assert!(status(running.addr, pki.client(all, None), None).await.is_err());
    running.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Broken web configs: startup errors that name the key

fn assert_error(result: Result<WebConfig, String>, key: &str, hint: &str) {
    let error = result.expect_err("the web config must be refused");
    assert!(error.contains(&format!("`{key}`")), "should name `{key}`: {error}");
    assert!(error.contains(hint), "should say {hint:?}: {error}");
    assert!(error.contains("web.yml"), "should name the file: {error}");
}

#[test]
fn unknown_client_auth_type() {
    let pki = Pki::new("bad-auth-type");
    assert_error(
        pki.web_config("  client_auth_type: RequireCert\n", ""),
        "tls_server_config.client_auth_type",
        "RequireAndVerifyClientCert",
    );
}

#[test]
fn unreadable_or_broken_certificates_and_keys() {
    let pki = Pki::new("bad-files");
    let load = |cert: &str, key: &str| {
        pki.load(&format!("tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"))
    };
    assert_error(load("missing.pem", "server.key"), "tls_server_config.cert_file", "missing.pem");
    assert_error(load("server.pem", "missing.key"), "tls_server_config.key_file", "cannot read");
    write(&pki.dir, "garbage.pem", "this is not PEM\n");
    assert_error(load("garbage.pem", "server.key"), "tls_server_config.cert_file", "CERTIFICATE");
    assert_error(load("server.pem", "garbage.pem"), "tls_server_config.key_file", "private key");
    write(&pki.dir, "truncated.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n");
    assert_error(load("truncated.pem", "server.key"), "tls_server_config.cert_file", "PEM");
    // A key that belongs to another certificate.
    assert_error(load("server.pem", "client.key"), "tls_server_config.key_file", "does not belong");
    // The certificate where the key should be.
    assert_error(load("server.pem", "server.pem"), "tls_server_config.key_file", "private key");
}

#[test]
fn client_ca_problems() {
    let pki = Pki::new("bad-ca");
    assert_error(
        pki.web_config("  client_auth_type: RequireAndVerifyClientCert\n", ""),
        "tls_server_config.client_auth_type",
        "client_ca_file",
    );
    assert_error(
        pki.web_config("  client_ca_file: ca.pem\n", ""),
        "tls_server_config.client_ca_file",
        "NoClientCert",
    );
    assert_error(
        pki.web_config(
            "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: nope.pem\n",
            "",
        ),
        "tls_server_config.client_ca_file",
        "nope.pem",
    );
    write(&pki.dir, "empty.pem", "");
    assert_error(
        pki.web_config(
            "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: empty.pem\n",
            "",
        ),
        "tls_server_config.client_ca_file",
        "CERTIFICATE",
    );
}

#[test]
fn version_problems() {
    let pki = Pki::new("bad-versions");
    assert_error(
        pki.web_config("  min_version: TLS14\n", ""),
        "tls_server_config.min_version",
        "TLS13",
    );
    assert_error(
        pki.web_config("  min_version: TLS13\n  max_version: TLS12\n", ""),
        "tls_server_config.min_version",
        "above max_version",
    );
    assert_error(
        pki.web_config("  max_version: TLS11\n", ""),
        "tls_server_config.max_version",
        "TLS12",
    );
    let web = pki.web_config("  min_version: TLS10\n", "").unwrap();
    assert!(web.warnings.iter().any(|w| w.contains("TLS12 is the minimum")), "{:?}", web.warnings);
}

#[test]
fn refused_and_misplaced_keys() {
    let pki = Pki::new("bad-keys");
    assert_error(
        pki.web_config(
            "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  \
             client_allowed_sans: [prometheus]\n",
            "",
        ),
        "tls_server_config.client_allowed_sans",
        "not supported",
    );
    let error = pki.web_config("  client_auth: NoClientCert\n", "").unwrap_err();
    assert!(error.contains("client_auth") && error.contains("line 4"), "{error}");
    let error = pki.load("tls_config:\n  cert_file: server.pem\n").unwrap_err();
    assert!(error.contains("tls_config") && error.contains("tls_server_config"), "{error}");
    assert_error(
        pki.load("basic_auth_users:\n  alice: alice-pw\n"),
        "basic_auth_users.alice",
        "bcrypt",
    );
}

#[test]
fn unreadable_web_config_file() {
    let error = WebConfig::load(Path::new("/nonexistent/web.yml")).unwrap_err();
    assert_eq!(error.key(), "");
    assert!(error.to_string().contains("/nonexistent/web.yml"), "{error}");
    assert!(error.to_string().contains("--web.config.file"), "{error}");
}
