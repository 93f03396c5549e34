//! HTTP settings applied on reload through [`ServerHandle::apply`] (finding H2): basic-auth
//! credentials, metric path, web-config users and headers, without rebuilding the router.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use dmexp_config::{GlobalConfig, Secret};
use dmexp_core::server::{
    DatasourceStatus, HttpSettings, MetricsSource, ScrapeError, ScrapeRequest, ServerError,
    ServerHandle,
};
use tower::ServiceExt;

struct Fixed;

impl MetricsSource for Fixed {
    fn scrape(
        &self,
        _request: ScrapeRequest,
    ) -> Pin<Box<dyn Future<Output = Result<String, ScrapeError>> + Send + '_>> {
        Box::pin(async { Ok("dmdb_up 1\n".to_owned()) })
    }
    fn statuses(&self) -> Vec<DatasourceStatus> {
        Vec::new()
    }
    fn ready(&self) -> bool {
        true
    }
}

fn global(path: &str, auth: Option<(&str, &str)>) -> GlobalConfig {
    let mut cfg = GlobalConfig { metric_path: path.to_owned(), ..GlobalConfig::default() };
    if let Some((user, password)) = auth {
        cfg.enable_basic_auth = true;
        cfg.basic_auth_username = user.to_owned();
        cfg.basic_auth_password = Secret::new(password);
    }
    cfg
}

fn handle(cfg: &GlobalConfig, web: Option<&Path>) -> (ServerHandle, Router) {
    let handle = ServerHandle::new(HttpSettings::from_config(cfg, web).unwrap());
    let router = handle.app(Arc::new(Fixed), Duration::from_secs(10));
    (handle, router)
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

async fn status(router: &Router, path: &str, auth: Option<String>) -> StatusCode {
    let mut request = Request::get(path);
    if let Some(auth) = auth {
        request = request.header(header::AUTHORIZATION, auth);
    }
    router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap().status()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "dmexp-reload-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.0.join(file);
        std::fs::File::create(&path).unwrap().write_all(text.as_bytes()).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn new_password_is_accepted_and_old_refused_after_apply() {
    let (handle, router) = handle(&global("/metrics", Some(("admin", "old-pw"))), None);
    assert_eq!(status(&router, "/metrics", Some(basic("admin", "old-pw"))).await, StatusCode::OK);

    let notes = handle
        .apply(
            HttpSettings::from_config(&global("/metrics", Some(("admin", "new-pw"))), None)
                .unwrap(),
        )
        .unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(
        status(&router, "/metrics", Some(basic("admin", "old-pw"))).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(status(&router, "/metrics", Some(basic("admin", "new-pw"))).await, StatusCode::OK);

    // Disabling basic auth on reload opens the endpoint.
    handle.apply(HttpSettings::from_config(&global("/metrics", None), None).unwrap()).unwrap();
    assert_eq!(status(&router, "/metrics", None).await, StatusCode::OK);
    // And enabling it closes it again.
    handle
        .apply(HttpSettings::from_config(&global("/metrics", Some(("u", "p"))), None).unwrap())
        .unwrap();
    assert_eq!(status(&router, "/metrics", None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&router, "/", None).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn broken_settings_keep_the_old_credentials() {
    let (handle, router) = handle(&global("/metrics", Some(("admin", "pw"))), None);
    // Enabled without a password: the settings cannot be built, nothing is applied.
    let broken = HttpSettings::from_config(&global("/other", Some(("admin", ""))), None);
    assert!(matches!(broken, Err(ServerError::EmptyPassword)), "{broken:?}");
    let dir = TempDir::new("broken");
    let bad_web = dir.write("web.yml", "basic_auth_users:\n  alice: not-a-hash\n");
    let broken = HttpSettings::from_config(&global("/other", None), Some(&bad_web)).unwrap_err();
    let message = broken.to_string();
    assert!(message.contains("web.yml") && message.contains("basic_auth_users"), "{message}");
    assert!(!message.contains("not-a-hash"), "{message}");
    let _ = &handle;
    assert_eq!(status(&router, "/metrics", Some(basic("admin", "pw"))).await, StatusCode::OK);
    assert_eq!(status(&router, "/metrics", None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&router, "/other", Some(basic("admin", "pw"))).await, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn new_metric_path_is_served_and_old_is_404() {
    let (handle, router) = handle(&global("/metrics", None), None);
    assert_eq!(status(&router, "/metrics", None).await, StatusCode::OK);
    handle.apply(HttpSettings::from_config(&global("/dm/metrics", None), None).unwrap()).unwrap();
    assert_eq!(status(&router, "/dm/metrics", None).await, StatusCode::OK);
    assert_eq!(status(&router, "/metrics", None).await, StatusCode::NOT_FOUND);
    // A metric path over a fixed route takes it, and gives it back when it moves away.
    handle.apply(HttpSettings::from_config(&global("/-/ready", None), None).unwrap()).unwrap();
    let body =
        ServiceExt::oneshot(router.clone(), Request::get("/-/ready").body(Body::empty()).unwrap())
            .await
            .unwrap()
            .into_body();
    let body = axum::body::to_bytes(body, 1024).await.unwrap();
    assert_eq!(&body[..], b"dmdb_up 1\n");
    handle.apply(HttpSettings::from_config(&global("/metrics", None), None).unwrap()).unwrap();
    let body =
        ServiceExt::oneshot(router.clone(), Request::get("/-/ready").body(Body::empty()).unwrap())
            .await
            .unwrap()
            .into_body();
    assert_eq!(&axum::body::to_bytes(body, 1024).await.unwrap()[..], b"OK");
}

#[tokio::test]
async fn web_config_users_and_headers_follow_the_file() {
    let dir = TempDir::new("web");
    let hash = bcrypt::hash("alice-pw", 4).unwrap();
    let web = dir.write("web.yml", &format!("basic_auth_users:\n  alice: {hash}\n"));
    let (handle, router) = handle(&global("/metrics", None), Some(&web));
    assert_eq!(status(&router, "/metrics", Some(basic("alice", "alice-pw"))).await, StatusCode::OK);
    assert_eq!(status(&router, "/metrics", None).await, StatusCode::UNAUTHORIZED);

    let hash = bcrypt::hash("bob-pw", 4).unwrap();
    dir.write(
        "web.yml",
        &format!("basic_auth_users:\n  bob: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"),
    );
    handle
        .apply(HttpSettings::from_config(&global("/metrics", None), Some(&web)).unwrap())
        .unwrap();
    assert_eq!(
        status(&router, "/metrics", Some(basic("alice", "alice-pw"))).await,
        StatusCode::UNAUTHORIZED
    );
    let response = router
        .clone()
        .oneshot(
            Request::get("/metrics")
                .header(header::AUTHORIZATION, basic("bob", "bob-pw"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers().get("x-frame-options").unwrap(), "deny");
}

#[tokio::test]
async fn listen_address_change_is_a_restart_note() {
    let (handle, _router) = handle(&global("/metrics", None), None);
    let mut moved = global("/metrics", None);
    moved.listen_address = ":9300".into();
    let notes = handle.apply(HttpSettings::from_config(&moved, None).unwrap()).unwrap();
    let shown: Vec<String> = notes.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![r#"listenAddress: listening on ":9200", the configuration says ":9300""#.to_owned()]
    );
    assert_eq!(notes[0].key, "listenAddress");
}
