//! Request handlers: scrape, landing page, health endpoints, and the fallback that serves the
//! configured metric path.

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{header, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use html_escape::{encode_double_quoted_attribute, encode_text};

use super::error::AppError;
use super::{AppState, DatasourceStatus};

/// Content type of the Prometheus text exposition format.
pub(crate) const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Liveness path.
pub(crate) const HEALTHY_PATH: &str = "/-/healthy";
/// Readiness path.
pub(crate) const READY_PATH: &str = "/-/ready";

/// Serves the configured metric path; 404 for every other unknown path.
///
/// The metric path is configuration (user data), so it is compared as a plain string here
/// instead of being registered as an axum route: axum would read `{`, `}`, `:x` or `*x` in it
/// as route syntax, and panics on some of them.
pub(crate) async fn fallback(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
) -> Result<Response, AppError> {
    if uri.path() != &*state.metric_path {
        return Err(AppError::NotFound);
    }
    if method != Method::GET && method != Method::HEAD {
        return Err(AppError::MethodNotAllowed);
    }
    Ok(metrics(&state).await)
}

/// One scrape. Always 200: failures are reported in the metrics themselves.
async fn metrics(state: &AppState) -> Response {
    let body = state.source.scrape().await;
    ([(header::CONTENT_TYPE, HeaderValue::from_static(METRICS_CONTENT_TYPE))], body).into_response()
}

/// `GET /-/healthy`: the process is up and serving HTTP.
pub(crate) async fn healthy() -> &'static str {
    "OK"
}

/// `GET /-/ready`: 200 once the runtime is built, 503 before.
pub(crate) async fn ready(State(state): State<AppState>) -> Result<&'static str, AppError> {
    if state.source.ready() {
        Ok("OK")
    } else {
        Err(AppError::NotReady)
    }
}

/// `GET /`: a self-contained HTML status page.
pub(crate) async fn landing(State(state): State<AppState>) -> Response {
    let html = landing_page(&state.metric_path, &state.source.statuses());
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            // The page loads nothing: forbid everything but its inline style.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        html,
    )
        .into_response()
}

/// Renders the landing page. Every configured or runtime value is HTML-escaped.
pub(crate) fn landing_page(metric_path: &str, statuses: &[DatasourceStatus]) -> String {
    let mut html = String::with_capacity(2048 + statuses.len() * 256);
    html.push_str(concat!(
        "<!DOCTYPE html>\n",
        "<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        "<title>Dameng DM8 Exporter</title>\n",
        "<style>\n",
        "body{font-family:sans-serif;margin:2em;}\n",
        "table{border-collapse:collapse;}\n",
        "th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top;}\n",
        ".healthy{color:#060;}.unhealthy{color:#a00;}.disabled{color:#666;}\n",
        "</style>\n</head>\n<body>\n",
        "<h1>Dameng DM8 Exporter</h1>\n",
    ));
    // Writing to a String cannot fail.
    let _ = write!(
        html,
        "<p>Version {}</p>\n<ul>\n<li><a href=\"{}\">Metrics</a></li>\n",
        env!("CARGO_PKG_VERSION"),
        encode_double_quoted_attribute(metric_path),
    );
    html.push_str(concat!(
        "<li><a href=\"/-/healthy\">Health</a></li>\n",
        "<li><a href=\"/-/ready\">Readiness</a></li>\n",
        "</ul>\n<h2>Datasources</h2>\n",
    ));
    if statuses.is_empty() {
        html.push_str("<p>No datasource is configured.</p>\n");
    } else {
        html.push_str(concat!(
            "<table>\n<thead><tr><th>Name</th><th>Datasource label</th>",
            "<th>State</th><th>Last error</th></tr></thead>\n<tbody>\n",
        ));
        for status in statuses {
            let state = status.state.as_str();
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td class=\"{state}\">{state}</td><td>{}</td></tr>",
                encode_text(&status.name),
                encode_text(&status.label),
                encode_text(status.last_error.as_deref().unwrap_or("")),
            );
        }
        html.push_str("</tbody>\n</table>\n");
    }
    html.push_str("</body>\n</html>\n");
    html
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::HealthState;
    use super::*;

    #[test]
    fn page_escapes_every_value() {
        let page = landing_page(
            "/m\"><script>",
            &[DatasourceStatus {
                name: "<script>alert(1)</script>".into(),
                label: "a&b@host:5236".into(),
                state: HealthState::Unhealthy,
                last_error: Some("login failed for <user>".into()),
            }],
        );
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("a&amp;b@host:5236"));
        assert!(page.contains("login failed for &lt;user&gt;"));
        assert!(page.contains("href=\"/m&quot;&gt;&lt;script&gt;\""));
        assert!(page.contains("<td class=\"unhealthy\">unhealthy</td>"));
    }

    #[test]
    fn page_without_datasources() {
        let page = landing_page("/metrics", &[]);
        assert!(page.contains("<title>Dameng DM8 Exporter</title>"));
        assert!(page.contains("No datasource is configured."));
        assert!(page.contains("href=\"/metrics\""));
    }
}
