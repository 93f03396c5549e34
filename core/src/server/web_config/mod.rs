//! `--web.config.file`: TLS, basic-auth users and response headers in the format of the
//! Prometheus exporter toolkit (the same YAML file node_exporter and Prometheus itself read).
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt          # or `cert:` with the PEM inline
//!   key_file: server.key           # or `key:` with the PEM inline
//!   client_auth_type: RequireAndVerifyClientCert
//!   client_ca_file: clients-ca.crt # or `client_ca:` with the PEM inline
//!   min_version: TLS12             # TLS12 (default) or TLS13
//!   max_version: TLS13
//! http_server_config:
//!   headers:
//!     X-Frame-Options: deny
//! basic_auth_users:
//!   prometheus: $2y$10$...         # bcrypt hashes only
//! ```
//!
//! [`WebConfig::load`] reads and validates everything at startup: the YAML (unknown keys are
//! errors, as in the toolkit), the certificate, the key and that they belong together, the
//! client CA, the bcrypt hashes. Every error names the file, the key and what to do
//! ([`WebConfigError`]). Relative paths are resolved against the directory of the web config
//! file.
//!
//! Differences from the toolkit, all reported at startup:
//!
//! - TLS 1.2 and 1.3 only (rustls): `min_version: TLS10`/`TLS11` is raised to TLS12 with a
//!   warning; `max_version` below TLS12 is an error.
//! - `cipher_suites` and `curve_preferences` keep the supported entries and warn about the
//!   others; TLS 1.3 suites are always enabled (as in Go).
//! - `VerifyClientCertIfGiven` and `RequireAndVerifyClientCert` need `client_ca_file` (or
//!   `client_ca`): the system trust store is never used for client certificates.
//! - `client_allowed_sans` is refused (rather than silently not enforced).
//! - `http_server_config.http2` and `rate_limit` are accepted and ignored with a warning
//!   (HTTP/1.1 only, no rate limiter).
//! - The file is read once at startup, not on every request.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use axum::Router;
use serde::Deserialize;

use super::auth::BasicAuth;
use super::tls::TlsSettings;
use tls_parse::tls_settings;

mod tls_parse;

/// The `client_auth_type` values, in the toolkit's spelling.
pub const CLIENT_AUTH_TYPES: [&str; 5] = [
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
];

/// Response headers the toolkit lets a web config set, with the accepted values (`None`: any).
const ALLOWED_HEADERS: [(&str, Option<&[&str]>); 5] = [
    ("Strict-Transport-Security", None),
    ("X-Content-Type-Options", Some(&["nosniff"])),
    ("X-Frame-Options", Some(&["deny", "sameorigin"])),
    ("X-XSS-Protection", None),
    ("Content-Security-Policy", None),
];

/// Hint appended to YAML errors.
const KEYS_HINT: &str = "top-level keys are tls_server_config, http_server_config, \
                         basic_auth_users and rate_limit (Prometheus exporter-toolkit format)";

/// A problem in the web config file: which file, which key, what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct WebConfigError {
    file: PathBuf,
    key: String,
    message: String,
}

impl WebConfigError {
    fn new(file: &Path, key: impl Into<String>, message: impl Into<String>) -> Self {
        WebConfigError { file: file.to_owned(), key: key.into(), message: message.into() }
    }

    /// The web config file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The offending key as a dotted path (`tls_server_config.cert_file`), empty when the
    /// problem is the file as a whole (unreadable, not YAML; the message then names the key).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// What is wrong and what to do.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for WebConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "web config {}: {}", self.file.display(), self.message)
        } else {
            write!(f, "web config {}: `{}`: {}", self.file.display(), self.key, self.message)
        }
    }
}

/// A validated web config.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// TLS, when `tls_server_config` configures it; `None` serves plain HTTP.
    pub tls: Option<TlsSettings>,
    /// `basic_auth_users`, sorted by username. Goes to
    /// [`super::ServerOptions::basic_auth_users`].
    pub basic_auth_users: Vec<BasicAuth>,
    /// `http_server_config.headers`, added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Accepted but not (fully) applied settings, one sentence each, for the log.
    pub warnings: Vec<String>,
}

impl WebConfig {
    /// Reads and validates the web config file.
    pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
        let text = dmexp_config::read_text_file(path).map_err(|e| {
            WebConfigError::new(
                path,
                "",
                format!("cannot read the file: {e} (check the path given to --web.config.file)"),
            )
        })?;
        Self::parse(&text, path)
    }

    /// Validates `text` as the content of the web config file `path` (relative paths in it are
    /// resolved against the directory of `path`; nothing else is read from `path` itself).
    pub fn parse(text: &str, path: &Path) -> Result<WebConfig, WebConfigError> {
        let raw: Option<RawWebConfig> = serde_norway::from_str(text)
            .map_err(|e| WebConfigError::new(path, "", format!("{e} ({KEYS_HINT})")))?;
        let raw = raw.unwrap_or_default();
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let mut ctx = Ctx { file: path, base, warnings: Vec::new() };

        let basic_auth_users = users(&ctx, raw.basic_auth_users.unwrap_or_default())?;
        let headers = match raw.http_server_config {
            Some(http) => http_settings(&mut ctx, http)?,
            None => Vec::new(),
        };
        if let Some(rate_limit) = raw.rate_limit {
            if rate_limit.is_active() {
                ctx.warnings.push(format!(
                    "`rate_limit` (burst {}) is not supported by dameng_exporter and is \
                     ignored; put a reverse proxy in front to limit request rates",
                    rate_limit.burst.unwrap_or(0)
                ));
            }
        }
        let tls = match raw.tls_server_config {
            Some(tls) => tls_settings(&mut ctx, tls)?,
            None => None,
        };
        Ok(WebConfig { tls, basic_auth_users, headers, warnings: ctx.warnings })
    }

    /// One line for `--check-config` and the startup log: TLS policy, users, headers.
    pub fn summary(&self) -> String {
        let tls = match &self.tls {
            Some(tls) => format!("TLS on ({})", tls.summary()),
            None => "TLS off".to_owned(),
        };
        format!(
            "{tls}, {} basic_auth_users, {} response header(s)",
            self.basic_auth_users.len(),
            self.headers.len()
        )
    }

    /// Adds the configured response headers to every response of `router` (no-op without
    /// headers).
    pub fn apply_headers(&self, router: Router) -> Router {
        if self.headers.is_empty() {
            return router;
        }
        let headers: Arc<[(HeaderName, HeaderValue)]> = Arc::from(self.headers.clone());
        router.layer(axum::middleware::map_response(move |mut response: Response| {
            let headers = Arc::clone(&headers);
            async move {
                for (name, value) in headers.iter() {
                    response.headers_mut().insert(name.clone(), value.clone());
                }
                response
            }
        }))
    }
}

/// Where errors point and warnings go.
struct Ctx<'a> {
    file: &'a Path,
    base: &'a Path,
    warnings: Vec<String>,
}

impl Ctx<'_> {
    fn error(&self, key: &str, message: impl Into<String>) -> WebConfigError {
        WebConfigError::new(self.file, key, message)
    }

    fn resolve(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base.join(path)
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    basic_auth_users: Option<BTreeMap<String, String>>,
    rate_limit: Option<RawRateLimit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    interval: Option<serde_norway::Value>,
    burst: Option<i64>,
}

impl RawRateLimit {
    /// The toolkit disables the limiter with a zero (or missing) interval.
    fn is_active(&self) -> bool {
        match &self.interval {
            None | Some(serde_norway::Value::Null) => false,
            Some(serde_norway::Value::Number(n)) => n.as_f64() != Some(0.0),
            Some(serde_norway::Value::String(s)) => {
                let digits = s.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic());
                !(digits.is_empty() || digits.parse::<f64>() == Ok(0.0))
            }
            Some(_) => true,
        }
    }
}

/// `Some(s)` unless missing or empty (the toolkit treats empty strings as unset).
fn set(value: Option<String>) -> Option<String> {
    value.filter(|s| !s.trim().is_empty())
}

fn users(ctx: &Ctx<'_>, raw: BTreeMap<String, String>) -> Result<Vec<BasicAuth>, WebConfigError> {
    raw.into_iter()
        .map(|(username, hash)| {
            BasicAuth::bcrypt_user(&username, hash.trim()).map_err(|reason| {
                ctx.error(
                    &format!("basic_auth_users.{username}"),
                    format!(
                        "{reason}; make one with `dameng_exporter --encryptBasicAuthPwd PASSWORD` \
                         or `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"
                    ),
                )
            })
        })
        .collect()
}

fn http_settings(
    ctx: &mut Ctx<'_>,
    raw: RawHttp,
) -> Result<Vec<(HeaderName, HeaderValue)>, WebConfigError> {
    if raw.http2 == Some(true) {
        ctx.warnings.push(
            "`http_server_config.http2: true` is ignored: dameng_exporter serves HTTP/1.1 \
             (which Prometheus uses for scrapes)"
                .to_owned(),
        );
    }
    let mut headers = Vec::new();
    for (name, value) in raw.headers.unwrap_or_default() {
        let key = format!("http_server_config.headers.{name}");
        let Some((canonical, allowed)) =
            ALLOWED_HEADERS.iter().find(|(allowed, _)| allowed.eq_ignore_ascii_case(&name))
        else {
            let names: Vec<&str> = ALLOWED_HEADERS.iter().map(|(n, _)| *n).collect();
            return Err(ctx.error(
                &key,
                format!("this header cannot be configured; allowed: {}", names.join(", ")),
            ));
        };
        let value = value.trim();
        if value.is_empty() {
            // "Unset if blank."
            continue;
        }
        if let Some(allowed) = allowed {
            if !allowed.contains(&value) {
                return Err(ctx.error(
                    &key,
                    format!("invalid value `{value}`; use one of: {}", allowed.join(", ")),
                ));
            }
        }
        let header_value = HeaderValue::from_str(value).map_err(|_| {
            ctx.error(&key, "the value contains characters not allowed in an HTTP header")
        })?;
        headers.push((HeaderName::from_static(header_name(canonical)), header_value));
    }
    Ok(headers)
}

/// Lower-case static name of an allowed header (`HeaderName::from_static` wants lower case).
fn header_name(canonical: &str) -> &'static str {
    match canonical {
        "Strict-Transport-Security" => "strict-transport-security",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-Frame-Options" => "x-frame-options",
        "X-XSS-Protection" => "x-xss-protection",
        _ => "content-security-policy",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
