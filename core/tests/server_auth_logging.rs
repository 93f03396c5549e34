//! Failed basic-auth attempts are logged at WARN, the username escaped, the password never.
//!
//! Alone in its own test binary: `tracing` caches callsite interest process-wide, so a scoped
//! subscriber can miss events whose callsites other test threads registered concurrently.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::Engine as _;
use dmexp_config::Secret;
use dmexp_core::server::{
    self, BasicAuth, DatasourceStatus, MetricsSource, ScrapeError, ScrapeRequest, ServerOptions,
};
use tower::ServiceExt;

struct FixedSource;

impl MetricsSource for FixedSource {
    fn scrape(
        &self,
        _request: ScrapeRequest,
    ) -> Pin<Box<dyn Future<Output = Result<String, ScrapeError>> + Send + '_>> {
        Box::pin(async { Ok(String::new()) })
    }
    fn statuses(&self) -> Vec<DatasourceStatus> {
        Vec::new()
    }
    fn ready(&self) -> bool {
        true
    }
}

/// Collects formatted log output in memory.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

async fn status_of(app: &axum::Router, authorization: &str) -> StatusCode {
    let request = Request::get("/metrics")
        .header(header::AUTHORIZATION, authorization)
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn auth_failures_are_logged_without_the_password() {
    let logs = LogBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let opts = || ServerOptions {
        metric_path: "/metrics".into(),
        basic_auth: Some(BasicAuth::new("admin", Secret::new("s3cret")).unwrap()),
        basic_auth_users: Vec::new(),
        request_timeout: Duration::from_secs(30),
    };
    // Failure warnings are rate-limited per authenticator (one WARN per 10 s, the rest
    // counted): three wrong passwords give one WARN line, so a brute force cannot flood
    // the log. A second app (its own authenticator) shows the malformed-header warning.
    let app = server::app(Arc::new(FixedSource), opts());
    let token = base64::engine::general_purpose::STANDARD.encode("eve\n<x>:hunter2-password");
    for _ in 0..3 {
        assert_eq!(status_of(&app, &format!("Basic {token}")).await, StatusCode::UNAUTHORIZED);
    }
    let other = server::app(Arc::new(FixedSource), opts());
    assert_eq!(status_of(&other, "Basic %%%").await, StatusCode::UNAUTHORIZED);

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("WARN"), "{text}");
    assert_eq!(text.matches("Basic authentication failed.").count(), 1, "{text}");
    assert!(text.contains(r#"username="eve\n<x>""#), "{text}");
    assert!(text.contains("Malformed Authorization header refused."), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}
