//! Request handlers: scrape, landing page, health endpoints, and the fallback that serves the
//! configured metric path.

use std::fmt::Write as _;

use std::time::Duration;

use axum::extract::{RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use html_escape::{encode_double_quoted_attribute, encode_text};

use super::error::AppError;

const ACCEPT: HeaderValue = HeaderValue::from_static("accept");
use super::{AppState, DatasourceStatus, ExporterStatus, ScrapeRequest};

/// Liveness path.
pub(crate) const HEALTHY_PATH: &str = "/-/healthy";
/// Readiness path.
pub(crate) const READY_PATH: &str = "/-/ready";
/// Multi-target path.
pub(crate) const PROBE_PATH: &str = "/probe";
/// Reload path (POST).
pub(crate) const RELOAD_PATH: &str = "/-/reload";

/// Paths behind basic auth: the scrape endpoints, the reload and the status page (it shows
/// datasource errors). Liveness and readiness stay open for orchestrators.
pub(crate) fn is_protected(path: &str, metric_path: &str) -> bool {
    path == "/" || path == metric_path || path == PROBE_PATH || path == RELOAD_PATH
}

/// Reads `target`, `collect[]` and `exclude[]` from the query string, the scrape timeout
/// Prometheus announces in `X-Prometheus-Scrape-Timeout-Seconds` and the exposition format
/// from `Accept`.
pub(crate) fn scrape_request(query: Option<&str>, headers: &HeaderMap) -> ScrapeRequest {
    let mut req = ScrapeRequest::default();
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*k {
            "target" => req.target = Some(v.into_owned()),
            "collect[]" | "collect" => req.collect.push(v.into_owned()),
            "exclude[]" | "exclude" => req.exclude.push(v.into_owned()),
            _ => {}
        }
    }
    req.scrape_timeout = headers
        .get("X-Prometheus-Scrape-Timeout-Seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_scrape_timeout);
    req.format = super::negotiate::exposition_format(headers);
    req
}

/// Longest scrape timeout taken from `X-Prometheus-Scrape-Timeout-Seconds`; larger values are
/// clamped to it (Prometheus itself never sends more than its scrape interval).
pub(crate) const MAX_SCRAPE_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Parses the header value (seconds, fractional allowed). Garbage, zero, negative, NaN and
/// infinity are ignored (`None`: the configured deadline applies); huge values are clamped to
/// [`MAX_SCRAPE_TIMEOUT`]. Never panics (finding M4).
pub(crate) fn parse_scrape_timeout(value: &str) -> Option<Duration> {
    let seconds = value.trim().parse::<f64>().ok()?;
    if !seconds.is_finite() || seconds <= 0.0 {
        return None;
    }
    if seconds >= MAX_SCRAPE_TIMEOUT.as_secs_f64() {
        return Some(MAX_SCRAPE_TIMEOUT);
    }
    Duration::try_from_secs_f64(seconds).ok().filter(|d| !d.is_zero())
}

/// `GET /probe?target=<datasource>`: one datasource through its configured pool.
pub(crate) async fn probe(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let req = scrape_request(query.as_deref(), &headers);
    if req.target.as_deref().is_none_or(str::is_empty) {
        return bad_request("missing `target` parameter: /probe?target=<datasource name>");
    }
    scrape_response(&state, req).await
}

/// `POST /-/reload`. Refused with 403 when the request may come from a web page of another
/// site (finding L14, cross-site request forgery): a browser sends `Sec-Fetch-Site` and
/// `Origin` on cross-site POSTs, and an HTML form can only send the form content types.
/// `curl -X POST`, Prometheus-style tooling and same-origin pages pass.
pub(crate) async fn reload(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(reason) = cross_site(&headers) {
        tracing::warn!(reason, "Cross-site reload request refused.");
        return AppError::Forbidden.into_response();
    }
    match state.source.reload().await {
        Ok(()) => (StatusCode::OK, "configuration reloaded\n").into_response(),
        Err(reason) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            format!("reload failed, old configuration kept: {reason}\n"),
        )
            .into_response(),
    }
}

/// Why a reload request looks cross-site, `None` when it does not.
pub(crate) fn cross_site(headers: &HeaderMap) -> Option<&'static str> {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(site) = headers.get("sec-fetch-site") {
        // `same-origin` and `none` (typed by the user) pass; everything else is refused.
        let site = site.to_str().unwrap_or("").trim();
        if !site.eq_ignore_ascii_case("same-origin") && !site.eq_ignore_ascii_case("none") {
            return Some("Sec-Fetch-Site is not same-origin");
        }
    }
    if let Some(origin) = value("origin") {
        let host = value("host").unwrap_or("");
        let origin_host = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .unwrap_or("\0");
        if origin.eq_ignore_ascii_case("null")
            || host.is_empty()
            || !origin_host.eq_ignore_ascii_case(host)
        {
            return Some("Origin is another site");
        }
    }
    if let Some(content_type) = value("content-type") {
        let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if matches!(
            essence.as_str(),
            "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain"
        ) {
            return Some("form content type");
        }
    }
    None
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        format!("{message}\n"),
    )
        .into_response()
}

async fn scrape_response(state: &AppState, req: ScrapeRequest) -> Response {
    let content_type = HeaderValue::from_static(req.format.content_type());
    match state.source.scrape(req).await {
        // `Vary: Accept`: the format depends on it (the compression layer adds
        // `Accept-Encoding`).
        Ok(body) => {
            ([(header::CONTENT_TYPE, content_type), (header::VARY, ACCEPT)], body).into_response()
        }
        Err(e) => bad_request(&e.to_string()),
    }
}

/// Middleware in front of the routes: serves the configured metric path (GET and HEAD; 405
/// for other methods), passes every other request on.
///
/// The metric path is configuration (user data) and may change on reload, so it is compared
/// as a plain string here instead of being registered as an axum route: axum would read `{`,
/// `}`, `:x` or `*x` in it as route syntax, and panics on some of them.
pub(crate) async fn metric_path(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let live = state.live_of(&request);
    if request.uri().path() != &*live.metric_path {
        return next.run(request).await;
    }
    let method = request.method();
    if method != Method::GET && method != Method::HEAD {
        return AppError::MethodNotAllowed.into_response();
    }
    // One scrape. 200 whatever happened to the datasources (failures are in the metrics);
    // 400 only for bad parameters.
    let mut req = scrape_request(request.uri().query(), request.headers());
    req.target = None;
    scrape_response(&state, req).await
}

/// Every path that is neither a route nor the metric path: 404.
pub(crate) async fn fallback() -> AppError {
    AppError::NotFound
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
    let live = state.live.load();
    let html =
        landing_page(&live.metric_path, &state.source.statuses(), &state.source.exporter_status());
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
pub(crate) fn landing_page(
    metric_path: &str,
    statuses: &[DatasourceStatus],
    exporter: &ExporterStatus,
) -> String {
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
        "</ul>\n",
    ));
    if !exporter.config_source.is_empty() {
        let _ = writeln!(html, "<p>Configuration: {}</p>", encode_text(&exporter.config_source));
    }
    match &exporter.last_reload {
        None => {}
        Some(Ok(at)) => {
            let _ = writeln!(html, "<p>Last reload: successful (unix time {at:.0})</p>");
        }
        Some(Err(reason)) => {
            let _ = writeln!(
                html,
                "<p class=\"unhealthy\">Last reload failed, previous configuration kept: {}</p>",
                encode_text(reason)
            );
        }
    }
    if !exporter.restart_required.is_empty() {
        let notes: Vec<String> = exporter.restart_required.iter().map(|n| n.to_string()).collect();
        let _ = writeln!(
            html,
            "<p class=\"unhealthy\">Restart needed: {}</p>",
            encode_text(&notes.join("; "))
        );
    }
    html.push_str("<h2>Datasources</h2>\n");
    if statuses.is_empty() {
        html.push_str("<p>No datasource is configured.</p>\n");
    } else {
        html.push_str(concat!(
            "<table>\n<thead><tr><th>Name</th><th>Datasource label</th>",
            "<th>State</th><th>Last error</th><th>Last scrape</th><th>Collectors</th>",
            "</tr></thead>\n<tbody>\n",
        ));
        for status in statuses {
            let state = status.state.as_str();
            let last = status.last_scrape_seconds.map(|s| format!("{s:.3} s")).unwrap_or_default();
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td class=\"{state}\">{state}</td><td>{}</td>\
                 <td>{last}</td><td>{}</td></tr>",
                encode_text(&status.name),
                encode_text(&status.label),
                encode_text(status.last_error.as_deref().unwrap_or("")),
                encode_text(&status.collectors.join(", ")),
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
                collectors: vec!["custom_<b>".into()],
                last_scrape_seconds: Some(0.25),
            }],
            &ExporterStatus {
                config_source: "/etc/<x>.toml".into(),
                last_reload: Some(Err("bad <key>".into())),
                restart_required: vec![super::super::RestartRequired::new(
                    "listenAddress",
                    "listening on <a>, the file says <b>",
                )],
            },
        );
        assert!(page.contains("custom_&lt;b&gt;"));
        assert!(page.contains("/etc/&lt;x&gt;.toml"));
        assert!(page.contains("bad &lt;key&gt;"));
        assert!(page.contains(
            "<p class=\"unhealthy\">Restart needed: listenAddress: listening on &lt;a&gt;, the \
             file says &lt;b&gt;</p>"
        ));
        assert!(page.contains("0.250 s"));
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("a&amp;b@host:5236"));
        assert!(page.contains("login failed for &lt;user&gt;"));
        assert!(page.contains("href=\"/m&quot;&gt;&lt;script&gt;\""));
        assert!(page.contains("<td class=\"unhealthy\">unhealthy</td>"));
    }

    #[test]
    fn scrape_timeout_attack_values() {
        assert_eq!(parse_scrape_timeout("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_scrape_timeout(" 2.5 "), Some(Duration::from_millis(2500)));
        assert_eq!(parse_scrape_timeout("1e300"), Some(MAX_SCRAPE_TIMEOUT));
        assert_eq!(parse_scrape_timeout("86401"), Some(MAX_SCRAPE_TIMEOUT));
        assert_eq!(parse_scrape_timeout("18446744073709551616"), Some(MAX_SCRAPE_TIMEOUT));
        for bad in ["-1", "0", "-0", "NaN", "inf", "-inf", "infinity", "x", "", "1e-300"] {
            assert_eq!(parse_scrape_timeout(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn page_without_datasources() {
        let page = landing_page("/metrics", &[], &ExporterStatus::default());
        assert!(page.contains("<title>Dameng DM8 Exporter</title>"));
        assert!(page.contains("No datasource is configured."));
        assert!(page.contains("href=\"/metrics\""));
    }
}
