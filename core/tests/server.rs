//! HTTP server tests over a fake `MetricsSource`: routes, landing page, health endpoints,
//! basic auth, request timeout and graceful shutdown.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::io::Write as _;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use dmexp_config::Secret;
use dmexp_core::server::{
    self, BasicAuth, DatasourceStatus, HealthState, MetricsSource, ScrapeError, ScrapeRequest,
    ServerOptions,
};
use tower::ServiceExt;

const METRICS_TEXT: &str =
    "# HELP dmdb_up Up.\n# TYPE dmdb_up gauge\ndmdb_up{datasource=\"a\"} 1\n";
const CONTENT_TYPE_004: &str = "text/plain; version=0.0.4; charset=utf-8";

struct FakeSource {
    statuses: Vec<DatasourceStatus>,
    ready: bool,
    scrape_delay: Duration,
}

impl FakeSource {
    fn new() -> Self {
        FakeSource {
            statuses: vec![DatasourceStatus {
                name: "primary".into(),
                label: "primary@10.0.0.1:5236".into(),
                state: HealthState::Healthy,
                last_error: None,
                collectors: vec!["instance".into()],
                last_scrape_seconds: None,
            }],
            ready: true,
            scrape_delay: Duration::ZERO,
        }
    }
}

impl MetricsSource for FakeSource {
    fn scrape(
        &self,
        _request: ScrapeRequest,
    ) -> Pin<Box<dyn Future<Output = Result<String, ScrapeError>> + Send + '_>> {
        Box::pin(async move {
            if !self.scrape_delay.is_zero() {
                tokio::time::sleep(self.scrape_delay).await;
            }
            Ok(METRICS_TEXT.to_owned())
        })
    }

    fn statuses(&self) -> Vec<DatasourceStatus> {
        self.statuses.clone()
    }

    fn ready(&self) -> bool {
        self.ready
    }
}

fn options() -> ServerOptions {
    ServerOptions {
        metric_path: "/metrics".into(),
        basic_auth: None,
        basic_auth_users: Vec::new(),
        request_timeout: Duration::from_secs(30),
    }
}

fn app_with(source: FakeSource, opts: ServerOptions) -> Router {
    server::app(Arc::new(source), opts)
}

fn app() -> Router {
    app_with(FakeSource::new(), options())
}

fn with_auth(password: &str) -> Router {
    let opts = ServerOptions {
        basic_auth: Some(BasicAuth::new("admin", Secret::new(password)).unwrap()),
        basic_auth_users: Vec::new(),
        ..options()
    };
    app_with(FakeSource::new(), opts)
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn get_with_auth(path: &str, authorization: &str) -> Request<Body> {
    Request::get(path).header(header::AUTHORIZATION, authorization).body(Body::empty()).unwrap()
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

async fn send(app: Router, request: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

fn bcrypt_hash(password: &str, version: bcrypt::Version) -> String {
    bcrypt::hash_with_result(password, 4).unwrap().format_for_version(version)
}

// --- routes -------------------------------------------------------------------------------

#[tokio::test]
async fn metrics_are_served_with_the_exposition_content_type() {
    let (status, headers, body) = send(app(), get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], CONTENT_TYPE_004);
    assert_eq!(body, METRICS_TEXT);
}

#[tokio::test]
async fn custom_metric_path_replaces_the_default() {
    let opts = ServerOptions { metric_path: "/dm/metrics".into(), ..options() };
    let app = app_with(FakeSource::new(), opts);
    let (status, _, body) = send(app.clone(), get("/dm/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, METRICS_TEXT);
    let (status, _, _) = send(app.clone(), get("/metrics")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The landing page links to the configured path.
    let (_, _, page) = send(app, get("/")).await;
    assert!(page.contains("href=\"/dm/metrics\""), "{page}");
    assert!(!page.contains("href=\"/metrics\""), "{page}");
}

#[tokio::test]
async fn metric_paths_that_look_like_route_syntax_are_literal() {
    for path in ["/{metrics}", "/:metrics", "/*metrics", "/metrics/"] {
        let opts = ServerOptions { metric_path: path.into(), ..options() };
        let app = app_with(FakeSource::new(), opts);
        let (status, _, _) = send(app.clone(), get(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let (status, _, _) = send(app, get("/metrics")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn root_metric_path_replaces_the_landing_page() {
    let opts = ServerOptions { metric_path: "/".into(), ..options() };
    let (status, headers, body) = send(app_with(FakeSource::new(), opts), get("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], CONTENT_TYPE_004);
    assert_eq!(body, METRICS_TEXT);
}

#[tokio::test]
async fn unknown_paths_are_404_and_other_methods_405() {
    let (status, _, body) = send(app(), get("/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, "Not Found\n");
    let post = Request::post("/metrics").body(Body::empty()).unwrap();
    let (status, headers, _) = send(app(), post).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(headers[header::ALLOW], "GET, HEAD");
    let head = Request::head("/metrics").body(Body::empty()).unwrap();
    let (status, _, _) = send(app(), head).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn landing_page_lists_datasources_escaped() {
    let mut source = FakeSource::new();
    source.statuses.push(DatasourceStatus {
        name: "<script>".into(),
        label: "x\"&y".into(),
        state: HealthState::Unhealthy,
        last_error: Some("<img src=x onerror=alert(1)>".into()),
        collectors: Vec::new(),
        last_scrape_seconds: None,
    });
    source.statuses.push(DatasourceStatus {
        name: "test".into(),
        label: "test".into(),
        state: HealthState::Disabled,
        last_error: None,
        collectors: Vec::new(),
        last_scrape_seconds: None,
    });
    let (status, headers, page) = send(app_with(source, options()), get("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(page.contains("<title>Dameng DM8 Exporter</title>"));
    assert!(page.contains("href=\"/metrics\""));
    assert!(page.contains("<td>primary</td><td>primary@10.0.0.1:5236</td>"));
    assert!(page.contains(">healthy<"));
    assert!(page.contains("<td>&lt;script&gt;</td>"), "{page}");
    assert!(page.contains("x\"&amp;y"), "{page}");
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"), "{page}");
    assert!(page.contains(">unhealthy<") && page.contains(">disabled<"));
    assert!(!page.contains("<script>") && !page.contains("<img"));
    // Nothing external is loaded.
    assert!(!page.contains("http://") && !page.contains("https://"));
    assert!(!page.contains("<link") && !page.contains("<script") && !page.contains("<img"));
}

#[tokio::test]
async fn healthy_and_ready() {
    let (status, _, body) = send(app(), get("/-/healthy")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "OK"));
    let (status, _, _) = send(app(), get("/-/ready")).await;
    assert_eq!(status, StatusCode::OK);

    let mut source = FakeSource::new();
    source.ready = false;
    let app = app_with(source, options());
    let (status, _, _) = send(app.clone(), get("/-/ready")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _, _) = send(app, get("/-/healthy")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn slow_requests_time_out_with_503() {
    let mut source = FakeSource::new();
    source.scrape_delay = Duration::from_secs(60);
    let opts = ServerOptions { request_timeout: Duration::from_secs(2), ..options() };
    let (status, _, body) = send(app_with(source, opts), get("/metrics")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, "Request Timeout\n");
}

// --- basic auth ---------------------------------------------------------------------------

async fn assert_unauthorized(app: Router, request: Request<Body>) -> String {
    let (status, headers, body) = send(app, request).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers[header::WWW_AUTHENTICATE], "Basic realm=\"dameng_exporter\"");
    assert_eq!(body, "Unauthorized\n");
    body
}

#[tokio::test]
async fn auth_without_header_is_401_with_challenge() {
    assert_unauthorized(with_auth("s3cret"), get("/metrics")).await;
}

#[tokio::test]
async fn auth_wrong_user_or_password_is_401() {
    let app = with_auth("s3cret");
    assert_unauthorized(app.clone(), get_with_auth("/metrics", &basic("root", "s3cret"))).await;
    assert_unauthorized(app.clone(), get_with_auth("/metrics", &basic("admin", "wrong"))).await;
    assert_unauthorized(app.clone(), get_with_auth("/metrics", &basic("admin", ""))).await;
    assert_unauthorized(app, get_with_auth("/metrics", &basic("admin", "s3cret "))).await;
}

#[tokio::test]
async fn auth_right_plaintext_is_200() {
    let (status, _, body) =
        send(with_auth("s3cret"), get_with_auth("/metrics", &basic("admin", "s3cret"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, METRICS_TEXT);
}

#[tokio::test]
async fn auth_right_bcrypt_is_200_for_every_prefix() {
    for version in [bcrypt::Version::TwoA, bcrypt::Version::TwoB, bcrypt::Version::TwoY] {
        let hash = bcrypt_hash("s3cret", version);
        let app = with_auth(&hash);
        let request = || get_with_auth("/metrics", &basic("admin", "s3cret"));
        let (status, _, body) = send(app.clone(), request()).await;
        assert_eq!(status, StatusCode::OK, "{hash}");
        assert_eq!(body, METRICS_TEXT);
        // Second request: served from the verification cache.
        let (status, _, _) = send(app.clone(), request()).await;
        assert_eq!(status, StatusCode::OK, "{hash}");
        assert_unauthorized(app, get_with_auth("/metrics", &basic("admin", "wrong"))).await;
    }
}

#[tokio::test]
async fn auth_never_accepts_the_stored_hash_as_password() {
    let hash = bcrypt_hash("s3cret", bcrypt::Version::TwoA);
    let app = with_auth(&hash);
    // Even after the real password was verified and cached.
    let (status, _, _) =
        send(app.clone(), get_with_auth("/metrics", &basic("admin", "s3cret"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_unauthorized(app, get_with_auth("/metrics", &basic("admin", &hash))).await;
}

#[tokio::test]
async fn auth_plaintext_password_does_not_accept_a_hash_of_it() {
    let hash = bcrypt_hash("s3cret", bcrypt::Version::TwoA);
    assert_unauthorized(with_auth("s3cret"), get_with_auth("/metrics", &basic("admin", &hash)))
        .await;
}

#[tokio::test]
async fn auth_garbage_headers_are_401() {
    let app = with_auth("s3cret");
    for raw in [
        "Basic",
        "Basic ",
        "Basic %%%",
        "Basic YWRtaW4=",
        "Bearer abc",
        "Digest username=\"admin\"",
        "basic",
    ] {
        assert_unauthorized(app.clone(), get_with_auth("/metrics", raw)).await;
    }
    let opaque = Request::get("/metrics")
        .header(header::AUTHORIZATION, HeaderValue::from_bytes(b"Basic \xff\xfe\xfd").unwrap())
        .body(Body::empty())
        .unwrap();
    assert_unauthorized(app, opaque).await;
}

#[tokio::test]
async fn auth_failure_body_does_not_echo_the_username() {
    let user = "<b>mallory</b>";
    let body =
        assert_unauthorized(with_auth("s3cret"), get_with_auth("/metrics", &basic(user, "x")))
            .await;
    assert!(!body.contains("mallory"));
}

#[tokio::test]
async fn auth_protects_landing_page_but_not_health_endpoints() {
    let app = with_auth("s3cret");
    assert_unauthorized(app.clone(), get("/")).await;
    let (status, _, _) = send(app.clone(), get_with_auth("/", &basic("admin", "s3cret"))).await;
    assert_eq!(status, StatusCode::OK);
    for path in ["/-/healthy", "/-/ready"] {
        let (status, _, _) = send(app.clone(), get(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let (status, _, _) = send(app, get("/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

// --- serve and shutdown -------------------------------------------------------------------

/// A minimal HTTP/1.1 client (blocking std socket on the blocking pool).
async fn http_get(addr: std::net::SocketAddr, path: &'static str) -> String {
    tokio::task::spawn_blocking(move || {
        use std::io::Read as _;
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn serve_answers_and_returns_after_shutdown() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, app(), async move {
        let _ = stop_rx.await;
    }));

    let response = http_get(addr, "/metrics").await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with(METRICS_TEXT), "{response}");

    stop_tx.send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve did not return after shutdown");
    result.unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_scrape_finish() {
    let mut source = FakeSource::new();
    source.scrape_delay = Duration::from_millis(300);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, app_with(source, options()), async move {
        let _ = stop_rx.await;
    }));

    let scrape = tokio::spawn(http_get(addr, "/metrics"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop_tx.send(()).unwrap();

    let response = scrape.await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with(METRICS_TEXT), "{response}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("serve did not return after shutdown")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn metric_path_without_leading_slash_is_normalised() {
    let opts = ServerOptions { metric_path: "dm_metrics".into(), ..options() };
    let (status, _, body) = send(app_with(FakeSource::new(), opts), get("/dm_metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, METRICS_TEXT);
}

// --- hostile input (M4, L14, handler panics) -----------------------------------------------

#[tokio::test]
async fn hostile_scrape_timeout_headers_never_panic() {
    for value in
        ["1e300", "-1", "NaN", "inf", "-inf", "garbage", "", "0", "18446744073709551616", "1e-30"]
    {
        let request = Request::get("/metrics")
            .header("X-Prometheus-Scrape-Timeout-Seconds", value)
            .body(Body::empty())
            .unwrap();
        let (status, _, body) = send(app(), request).await;
        assert_eq!(status, StatusCode::OK, "{value:?}");
        assert_eq!(body, METRICS_TEXT, "{value:?}");
    }
}

struct PanickingSource;

impl MetricsSource for PanickingSource {
    fn scrape(
        &self,
        _request: ScrapeRequest,
    ) -> Pin<Box<dyn Future<Output = Result<String, ScrapeError>> + Send + '_>> {
        Box::pin(async { panic!("collector bug 42") })
    }
    fn statuses(&self) -> Vec<DatasourceStatus> {
        Vec::new()
    }
    fn ready(&self) -> bool {
        true
    }
}

#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_panicking_handler_is_logged_and_answered_500() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber =
        tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let router = server::app(Arc::new(PanickingSource), options());
    let (status, headers, body) = send(router.clone(), get("/metrics")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body, "Internal Server Error\n");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("Request handler panicked") && logged.contains("collector bug 42"),
        "{logged}"
    );
    // The server keeps serving.
    let (status, _, _) = send(router, get("/-/healthy")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn every_error_body_is_nosniff_text() {
    let protected = with_auth("pw");
    let cases = [
        (app(), get("/nope"), StatusCode::NOT_FOUND),
        (
            app(),
            Request::post("/metrics").body(Body::empty()).unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (app(), get("/probe"), StatusCode::BAD_REQUEST),
        (protected, get("/metrics"), StatusCode::UNAUTHORIZED),
        (
            app(),
            Request::post("/-/reload").body(Body::empty()).unwrap(),
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
        (
            app(),
            Request::post("/-/reload")
                .header("sec-fetch-site", "cross-site")
                .body(Body::empty())
                .unwrap(),
            StatusCode::FORBIDDEN,
        ),
    ];
    for (router, request, expected) in cases {
        let path = request.uri().to_string();
        let (status, headers, _) = send(router, request).await;
        assert_eq!(status, expected, "{path}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert!(
            headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn cross_site_reload_is_refused() {
    let reload = |headers: &[(&str, &str)]| {
        let mut request = Request::post("/-/reload").header(header::HOST, "exporter:9200");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(Body::empty()).unwrap()
    };
    for headers in [
        &[("sec-fetch-site", "cross-site")][..],
        &[("sec-fetch-site", "same-site")],
        &[("origin", "http://evil.example")],
        &[("origin", "null")],
        &[("content-type", "application/x-www-form-urlencoded")],
        &[("content-type", "multipart/form-data; boundary=x")],
        &[("content-type", "text/plain")],
    ] {
        let (status, _, body) = send(app(), reload(headers)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{headers:?}");
        assert_eq!(body, "Forbidden\n");
    }
    // Not cross-site: the request reaches the reload (which the fake source refuses with 500).
    for headers in [
        &[][..],
        &[("sec-fetch-site", "same-origin"), ("origin", "http://exporter:9200")],
        &[("sec-fetch-site", "none")],
        &[("content-type", "application/json")],
    ] {
        let (status, _, body) = send(app(), reload(headers)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{headers:?}");
        assert!(body.contains("reload is not supported here"), "{body}");
    }
}

#[tokio::test]
async fn repeated_failures_from_one_ip_are_throttled_even_with_the_right_password() {
    use axum::extract::ConnectInfo;
    let from = |ip: [u8; 4], password: &str| {
        let mut request = get_with_auth("/metrics", &basic("admin", password));
        request.extensions_mut().insert(ConnectInfo(std::net::SocketAddr::from((ip, 4000))));
        request
    };
    let router = with_auth("pw");
    for _ in 0..5 {
        let (status, _, _) = send(router.clone(), from([192, 0, 2, 7], "wrong")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Throttled: refused without a check, even with the right password.
    let (status, _, _) = send(router.clone(), from([192, 0, 2, 7], "pw")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The throttle is per IP: another client gets in.
    let (status, _, _) = send(router, from([192, 0, 2, 8], "pw")).await;
    assert_eq!(status, StatusCode::OK);
}
