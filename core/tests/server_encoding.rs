//! gzip and content negotiation through the whole router: answers are compressed exactly
//! when the client accepts gzip, and the scrape format follows `Accept`.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::io::Read as _;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use dmexp_core::server::{
    self, DatasourceStatus, ExpositionFormat, HealthState, MetricsSource, ScrapeError,
    ScrapeRequest, ServerOptions,
};
use tower::ServiceExt;

/// Long enough to be compressed (the layer leaves bodies under 32 bytes alone).
const TEXT: &str = "# HELP dmdb_up Up.\n# TYPE dmdb_up gauge\ndmdb_up{datasource=\"a\"} 1\n";
const OPENMETRICS: &str =
    "# TYPE dmdb_up gauge\n# HELP dmdb_up Up.\ndmdb_up{datasource=\"a\"} 1\n# EOF\n";

/// Answers in the requested format and records which one it was asked for.
#[derive(Default)]
struct Source {
    asked: Mutex<Vec<ExpositionFormat>>,
}

impl MetricsSource for Source {
    fn scrape(
        &self,
        request: ScrapeRequest,
    ) -> Pin<Box<dyn Future<Output = Result<String, ScrapeError>> + Send + '_>> {
        self.asked.lock().unwrap().push(request.format);
        Box::pin(async move {
            Ok(match request.format {
                ExpositionFormat::Text => TEXT.to_owned(),
                ExpositionFormat::OpenMetrics => OPENMETRICS.to_owned(),
            })
        })
    }

    fn statuses(&self) -> Vec<DatasourceStatus> {
        vec![DatasourceStatus {
            name: "primary".into(),
            label: "primary@10.0.0.1:5236".into(),
            state: HealthState::Healthy,
            last_error: None,
            collectors: vec!["instance".into()],
            last_scrape_seconds: None,
        }]
    }

    fn ready(&self) -> bool {
        true
    }
}

fn app() -> (Router, Arc<Source>) {
    let source = Arc::new(Source::default());
    let opts = ServerOptions {
        metric_path: "/metrics".into(),
        basic_auth: None,
        basic_auth_users: Vec::new(),
        request_timeout: Duration::from_secs(30),
    };
    (server::app(source.clone(), opts), source)
}

async fn send(app: Router, path: &str, headers: &[(&str, &str)]) -> (HeaderMap, Vec<u8>) {
    let mut request = Request::get(path);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = app.oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (headers, body.to_vec())
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut out).unwrap();
    out
}

fn vary(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::VARY)
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect()
}

#[tokio::test]
async fn metrics_are_gzipped_when_asked_and_decompress_to_the_same_text() {
    let (app, _) = app();
    let (headers, body) = send(app.clone(), "/metrics", &[("accept-encoding", "gzip")]).await;
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(headers[header::CONTENT_TYPE], "text/plain; version=0.0.4; charset=utf-8");
    assert_eq!(&body[..2], [0x1f, 0x8b], "gzip magic");
    assert_eq!(gunzip(&body), TEXT);
    assert!(vary(&headers).contains(&"accept-encoding".to_owned()), "{headers:?}");
    // Prometheus' own header, with q-values.
    let (headers, body) =
        send(app, "/metrics", &[("accept-encoding", "gzip;q=1.0, identity;q=0.5, *;q=0")]).await;
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(gunzip(&body), TEXT);
}

#[tokio::test]
async fn nothing_is_compressed_without_accept_encoding_gzip() {
    let (app, _) = app();
    for accept_encoding in [None, Some("identity"), Some("gzip;q=0"), Some("br")] {
        let headers: Vec<(&str, &str)> =
            accept_encoding.map(|v| ("accept-encoding", v)).into_iter().collect();
        let (response, body) = send(app.clone(), "/metrics", &headers).await;
        assert!(response.get(header::CONTENT_ENCODING).is_none(), "{accept_encoding:?}");
        assert_eq!(String::from_utf8(body).unwrap(), TEXT, "{accept_encoding:?}");
    }
}

#[tokio::test]
async fn other_pages_are_gzipped_too() {
    let (app, _) = app();
    let (plain_headers, plain) = send(app.clone(), "/", &[]).await;
    assert!(plain_headers.get(header::CONTENT_ENCODING).is_none());
    let (headers, body) = send(app.clone(), "/", &[("accept-encoding", "gzip")]).await;
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(gunzip(&body), String::from_utf8(plain).unwrap());
    // `OK` is too short to be worth it.
    let (headers, body) = send(app, "/-/healthy", &[("accept-encoding", "gzip")]).await;
    assert!(headers.get(header::CONTENT_ENCODING).is_none());
    assert_eq!(body, b"OK");
}

#[tokio::test]
async fn openmetrics_when_preferred_by_accept_text_otherwise() {
    let (app, source) = app();
    let prometheus3 = "application/openmetrics-text;version=1.0.0;q=0.5,\
                       application/openmetrics-text;version=0.0.1;q=0.4,\
                       text/plain;version=1.0.0;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
    let (headers, body) = send(app.clone(), "/metrics", &[("accept", prometheus3)]).await;
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert_eq!(String::from_utf8(body).unwrap(), OPENMETRICS);
    assert!(vary(&headers).contains(&"accept".to_owned()), "{headers:?}");
    // /probe negotiates the same way, and OpenMetrics is compressed like text.
    let (headers, body) = send(
        app.clone(),
        "/probe?target=primary",
        &[("accept", prometheus3), ("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(gunzip(&body), OPENMETRICS);
    for accept in [None, Some("*/*"), Some("text/plain;version=0.0.4")] {
        let headers: Vec<(&str, &str)> = accept.map(|v| ("accept", v)).into_iter().collect();
        let (response, body) = send(app.clone(), "/metrics", &headers).await;
        assert_eq!(response[header::CONTENT_TYPE], "text/plain; version=0.0.4; charset=utf-8");
        assert_eq!(String::from_utf8(body).unwrap(), TEXT, "{accept:?}");
    }
    use ExpositionFormat::{OpenMetrics, Text};
    assert_eq!(*source.asked.lock().unwrap(), [OpenMetrics, OpenMetrics, Text, Text, Text]);
}
