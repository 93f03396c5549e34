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
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use serde::Deserialize;

use super::auth::BasicAuth;
use super::tls::{AnyClientCert, TlsSettings};

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
        let text = std::fs::read_to_string(path).map_err(|e| {
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

/// The client-certificate policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "" | "NoClientCert" => ClientAuth::NoClientCert,
            "RequestClientCert" => ClientAuth::RequestClientCert,
            // "RequireClientCert": the toolkit's older spelling.
            "RequireAnyClientCert" | "RequireClientCert" => ClientAuth::RequireAnyClientCert,
            "VerifyClientCertIfGiven" => ClientAuth::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerifyClientCert,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            ClientAuth::NoClientCert => "NoClientCert",
            ClientAuth::RequestClientCert => "RequestClientCert",
            ClientAuth::RequireAnyClientCert => "RequireAnyClientCert",
            ClientAuth::VerifyClientCertIfGiven => "VerifyClientCertIfGiven",
            ClientAuth::RequireAndVerifyClientCert => "RequireAndVerifyClientCert",
        }
    }
}

/// A TLS version as the toolkit spells it, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TlsVersion {
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl TlsVersion {
    fn parse(
        ctx: &Ctx<'_>,
        key: &str,
        value: Option<String>,
    ) -> Result<Option<Self>, WebConfigError> {
        let Some(value) = set(value) else {
            return Ok(None);
        };
        Ok(Some(match value.trim() {
            "TLS10" => TlsVersion::Tls10,
            "TLS11" => TlsVersion::Tls11,
            "TLS12" => TlsVersion::Tls12,
            "TLS13" => TlsVersion::Tls13,
            other => {
                return Err(ctx.error(
                    key,
                    format!("unknown TLS version `{other}`; use TLS12 or TLS13 (TLS10, TLS11 are also recognised)"),
                ))
            }
        }))
    }

    fn as_str(self) -> &'static str {
        match self {
            TlsVersion::Tls10 => "TLS10",
            TlsVersion::Tls11 => "TLS11",
            TlsVersion::Tls12 => "TLS12",
            TlsVersion::Tls13 => "TLS13",
        }
    }
}

/// PEM from a file (`file_key`) or inline (`inline_key`), at most one of the two.
struct PemSource {
    key: String,
    bytes: Vec<u8>,
}

fn pem_source(
    ctx: &Ctx<'_>,
    inline_key: &str,
    inline: Option<String>,
    file_key: &str,
    file: Option<String>,
) -> Result<Option<PemSource>, WebConfigError> {
    match (set(inline), set(file)) {
        (Some(_), Some(_)) => Err(ctx.error(
            file_key,
            format!("both `{inline_key}` and `{file_key}` are set; keep one of them"),
        )),
        (Some(text), None) => {
            Ok(Some(PemSource { key: inline_key.to_owned(), bytes: text.into_bytes() }))
        }
        (None, Some(path)) => {
            let resolved = ctx.resolve(path.trim());
            let bytes = std::fs::read(&resolved).map_err(|e| {
                ctx.error(
                    file_key,
                    format!(
                        "cannot read {}: {e} (relative paths are resolved against the directory \
                         of the web config file)",
                        resolved.display()
                    ),
                )
            })?;
            Ok(Some(PemSource { key: file_key.to_owned(), bytes }))
        }
        (None, None) => Ok(None),
    }
}

fn certificates(
    ctx: &Ctx<'_>,
    source: &PemSource,
) -> Result<Vec<CertificateDer<'static>>, WebConfigError> {
    let certs = CertificateDer::pem_slice_iter(&source.bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ctx.error(&source.key, format!("not valid PEM: {}", pem_problem(&e))))?;
    if certs.is_empty() {
        return Err(ctx.error(
            &source.key,
            "no `-----BEGIN CERTIFICATE-----` block found; give PEM-encoded certificates",
        ));
    }
    Ok(certs)
}

/// A PEM error in words (never the file content: it may be a private key).
fn pem_problem(error: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error;
    match error {
        Error::MissingSectionEnd { end_marker } => format!(
            "a `-----BEGIN {}-----` block has no END line (truncated file?)",
            String::from_utf8_lossy(end_marker)
        ),
        Error::IllegalSectionStart { .. } => "a BEGIN line is malformed".to_owned(),
        Error::Base64Decode(_) => "a block is not valid base64".to_owned(),
        Error::SectionTooLarge => "a block is too large".to_owned(),
        other => other.to_string(),
    }
}

fn private_key(
    ctx: &Ctx<'_>,
    source: &PemSource,
) -> Result<PrivateKeyDer<'static>, WebConfigError> {
    PrivateKeyDer::from_pem_slice(&source.bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => ctx.error(
            &source.key,
            "no private key found; give a PEM `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` or \
             `EC PRIVATE KEY` block",
        ),
        other => {
            ctx.error(&source.key, format!("not a valid PEM private key: {}", pem_problem(&other)))
        }
    })
}

fn tls_settings(ctx: &mut Ctx<'_>, raw: RawTls) -> Result<Option<TlsSettings>, WebConfigError> {
    const T: &str = "tls_server_config";
    let key = |k: &str| format!("{T}.{k}");
    let client_auth_raw = set(raw.client_auth_type);
    let enabled =
        [&raw.cert, &raw.key, &raw.client_ca, &raw.cert_file, &raw.key_file, &raw.client_ca_file]
            .into_iter()
            .any(|v| v.as_deref().is_some_and(|s| !s.trim().is_empty()))
            || client_auth_raw.is_some();
    if !enabled {
        return Ok(None);
    }

    let client_auth = match client_auth_raw.as_deref().map(str::trim) {
        None => ClientAuth::NoClientCert,
        Some(value) => ClientAuth::parse(value).ok_or_else(|| {
            ctx.error(
                &key("client_auth_type"),
                format!("unknown value `{value}`; use one of: {}", CLIENT_AUTH_TYPES.join(", ")),
            )
        })?,
    };

    let cert = pem_source(ctx, &key("cert"), raw.cert, &key("cert_file"), raw.cert_file)?
        .ok_or_else(|| {
            ctx.error(
                &key("cert_file"),
                "TLS needs a server certificate: set `cert_file` (or `cert`)",
            )
        })?;
    let private = pem_source(ctx, &key("key"), raw.key, &key("key_file"), raw.key_file)?
        .ok_or_else(|| {
            ctx.error(
                &key("key_file"),
                "TLS needs the server's private key: set `key_file` (or `key`)",
            )
        })?;
    let client_ca = pem_source(
        ctx,
        &key("client_ca"),
        raw.client_ca,
        &key("client_ca_file"),
        raw.client_ca_file,
    )?;

    if raw.client_allowed_sans.as_ref().is_some_and(|v| !v.is_empty()) {
        return Err(ctx.error(
            &key("client_allowed_sans"),
            "not supported by dameng_exporter (it would not be enforced); remove it and restrict \
             clients with a dedicated client CA (`client_ca_file` + RequireAndVerifyClientCert)",
        ));
    }

    // Versions.
    let min = TlsVersion::parse(ctx, &key("min_version"), raw.min_version)?;
    let max = TlsVersion::parse(ctx, &key("max_version"), raw.max_version)?;
    let mut min_version = min.unwrap_or(TlsVersion::Tls12);
    let max_version = max.unwrap_or(TlsVersion::Tls13);
    if max_version < TlsVersion::Tls12 {
        return Err(ctx.error(
            &key("max_version"),
            format!(
                "{} is not supported (TLS 1.2 and 1.3 only); use TLS12 or TLS13",
                max_version.as_str()
            ),
        ));
    }
    if min_version < TlsVersion::Tls12 {
        ctx.warnings.push(format!(
            "`{}: {}`: TLS versions below 1.2 are not supported; TLS12 is the minimum",
            key("min_version"),
            min_version.as_str()
        ));
        min_version = TlsVersion::Tls12;
    }
    if min_version > max_version {
        return Err(ctx.error(
            &key("min_version"),
            format!(
                "min_version {} is above max_version {}; lower min_version or raise max_version",
                min_version.as_str(),
                max_version.as_str()
            ),
        ));
    }
    let mut versions: Vec<&'static SupportedProtocolVersion> = Vec::new();
    if min_version <= TlsVersion::Tls12 {
        versions.push(&rustls::version::TLS12);
    }
    if max_version >= TlsVersion::Tls13 {
        versions.push(&rustls::version::TLS13);
    }

    // Provider: cipher suites and key-exchange groups.
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(names) = raw.cipher_suites.filter(|v| !v.is_empty()) {
        select_cipher_suites(
            ctx,
            &key("cipher_suites"),
            &mut provider,
            &names,
            min_version,
            max_version,
        )?;
    }
    if let Some(names) = raw.curve_preferences.filter(|v| !v.is_empty()) {
        select_curves(ctx, &key("curve_preferences"), &mut provider, &names);
    }
    let provider = Arc::new(provider);

    // Certificate and key.
    let chain = certificates(ctx, &cert)?;
    let key_der = private_key(ctx, &private)?;
    CertifiedKey::from_der(chain.clone(), key_der.clone_key(), &provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => ctx.error(
            &private.key,
            format!("the private key does not belong to the certificate in `{}`", cert.key),
        ),
        other => {
            ctx.error(&private.key, format!("the certificate and key cannot be used: {other}"))
        }
    })?;

    // Client certificates.
    let verifier = client_verifier(ctx, client_auth, client_ca.as_ref(), &provider)?;

    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&versions)
        .map_err(|e| ctx.error(&key("min_version"), format!("no usable TLS version: {e}")))?;
    let builder = match verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(chain, key_der).map_err(|e| {
        ctx.error(&private.key, format!("the certificate and key cannot be used: {e}"))
    })?;
    config.ignore_client_order = raw.prefer_server_cipher_suites.unwrap_or(true);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];

    let summary = format!(
        "client_auth_type={} versions={}..{}",
        client_auth.as_str(),
        min_version.as_str(),
        max_version.as_str()
    );
    Ok(Some(TlsSettings::new(Arc::new(config), summary)))
}

fn client_verifier(
    ctx: &mut Ctx<'_>,
    client_auth: ClientAuth,
    client_ca: Option<&PemSource>,
    provider: &Arc<CryptoProvider>,
) -> Result<Option<Arc<dyn ClientCertVerifier>>, WebConfigError> {
    const AUTH_KEY: &str = "tls_server_config.client_auth_type";
    let algorithms = provider.signature_verification_algorithms;
    match client_auth {
        ClientAuth::NoClientCert => {
            if let Some(ca) = client_ca {
                return Err(ctx.error(
                    &ca.key,
                    "a client CA is set but client_auth_type is NoClientCert; set \
                     `client_auth_type: RequireAndVerifyClientCert` or remove the client CA",
                ));
            }
            Ok(None)
        }
        ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert => {
            ctx.warnings.push(format!(
                "`{AUTH_KEY}: {}` does not verify client certificates{}; use \
                 RequireAndVerifyClientCert with client_ca_file to authenticate clients",
                client_auth.as_str(),
                if client_ca.is_some() { " (the client CA is not used)" } else { "" }
            ));
            let mandatory = client_auth == ClientAuth::RequireAnyClientCert;
            Ok(Some(Arc::new(AnyClientCert::new(mandatory, algorithms))))
        }
        ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert => {
            let Some(ca) = client_ca else {
                return Err(ctx.error(
                    AUTH_KEY,
                    format!(
                        "{} needs the CA that signs client certificates: set \
                         `client_ca_file` (or `client_ca`)",
                        client_auth.as_str()
                    ),
                ));
            };
            let mut roots = RootCertStore::empty();
            for (i, der) in certificates(ctx, ca)?.into_iter().enumerate() {
                roots.add(der).map_err(|e| {
                    ctx.error(
                        &ca.key,
                        format!("certificate #{} is not a usable CA certificate: {e}", i + 1),
                    )
                })?;
            }
            let mut builder =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider));
            if client_auth == ClientAuth::VerifyClientCertIfGiven {
                builder = builder.allow_unauthenticated();
            }
            let verifier = builder
                .build()
                .map_err(|e| ctx.error(&ca.key, format!("cannot use the client CA: {e}")))?;
            Ok(Some(verifier))
        }
    }
}

/// Keeps the TLS 1.2 suites named in `cipher_suites` (in that order, Go names) plus every TLS
/// 1.3 suite; warns about names rustls does not implement.
fn select_cipher_suites(
    ctx: &mut Ctx<'_>,
    key: &str,
    provider: &mut CryptoProvider,
    names: &[String],
    min_version: TlsVersion,
    max_version: TlsVersion,
) -> Result<(), WebConfigError> {
    let all = std::mem::take(&mut provider.cipher_suites);
    let (tls13, tls12): (Vec<_>, Vec<_>) =
        all.into_iter().partition(|s| s.version() == &rustls::version::TLS13);
    let mut chosen = Vec::new();
    let mut unsupported = Vec::new();
    for name in names {
        let name = name.trim();
        // Go's short aliases of the CHACHA20 suites.
        let full = match name {
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" | "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => {
                format!("{name}_SHA256")
            }
            _ => name.to_owned(),
        };
        if let Some(suite) = tls12.iter().find(|s| s.suite().as_str() == Some(full.as_str())) {
            if !chosen.contains(suite) {
                chosen.push(*suite);
            }
        } else if !matches!(
            name,
            "TLS_AES_128_GCM_SHA256" | "TLS_AES_256_GCM_SHA384" | "TLS_CHACHA20_POLY1305_SHA256"
        ) {
            // TLS 1.3 names are always enabled (Go ignores them here too).
            unsupported.push(name.to_owned());
        }
    }
    if !unsupported.is_empty() {
        let supported: Vec<&str> = tls12.iter().filter_map(|s| s.suite().as_str()).collect();
        ctx.warnings.push(format!(
            "`{key}`: not supported and ignored: {}; the supported TLS 1.2 suites are {}",
            unsupported.join(", "),
            supported.join(", ")
        ));
    }
    if chosen.is_empty() && min_version <= TlsVersion::Tls12 {
        if max_version == TlsVersion::Tls12 {
            return Err(ctx.error(
                key,
                "none of the listed cipher suites is supported and only TLS 1.2 is allowed; list \
                 a supported suite or allow TLS13",
            ));
        }
        ctx.warnings.push(format!(
            "`{key}` lists no supported TLS 1.2 suite: only TLS 1.3 clients can connect"
        ));
    }
    provider.cipher_suites = tls13.into_iter().chain(chosen).collect();
    Ok(())
}

/// Keeps the key-exchange groups named in `curve_preferences` (Go names), in that order; warns
/// about the others. Without any supported name the defaults stay.
fn select_curves(ctx: &mut Ctx<'_>, key: &str, provider: &mut CryptoProvider, names: &[String]) {
    use rustls::crypto::ring::kx_group;
    let mut chosen: Vec<&'static dyn rustls::crypto::SupportedKxGroup> = Vec::new();
    let mut unsupported = Vec::new();
    for name in names {
        let group = match name.trim() {
            "CurveP256" => kx_group::SECP256R1,
            "CurveP384" => kx_group::SECP384R1,
            "X25519" => kx_group::X25519,
            other => {
                unsupported.push(other.to_owned());
                continue;
            }
        };
        if !chosen.iter().any(|g| g.name() == group.name()) {
            chosen.push(group);
        }
    }
    if !unsupported.is_empty() {
        ctx.warnings.push(format!(
            "`{key}`: not supported and ignored: {}; supported: CurveP256, CurveP384, X25519",
            unsupported.join(", ")
        ));
    }
    if !chosen.is_empty() {
        provider.kx_groups = chosen;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebConfig, WebConfigError> {
        WebConfig::parse(text, Path::new("/nonexistent/web.yml"))
    }

    fn hash(password: &str) -> String {
        bcrypt::hash_with_result(password, 4).unwrap().format_for_version(bcrypt::Version::TwoY)
    }

    #[test]
    fn empty_file_and_comments_mean_nothing_configured() {
        for text in ["", "# only a comment\n", "---\n"] {
            let config = parse(text).unwrap();
            assert!(config.tls.is_none() && config.basic_auth_users.is_empty());
            assert!(config.headers.is_empty() && config.warnings.is_empty());
        }
    }

    #[test]
    fn users_are_read_sorted() {
        let text = format!("basic_auth_users:\n  bob: {}\n  alice: '{}'\n", hash("b"), hash("a"));
        let config = parse(&text).unwrap();
        let names: Vec<&str> = config.basic_auth_users.iter().map(BasicAuth::username).collect();
        assert_eq!(names, ["alice", "bob"]);
        assert!(config.tls.is_none());
    }

    #[test]
    fn plaintext_user_password_is_an_error_naming_the_user() {
        let e = parse("basic_auth_users:\n  alice: secret\n").unwrap_err();
        assert_eq!(e.key(), "basic_auth_users.alice");
        assert!(e.message().contains("bcrypt hash"), "{e}");
        assert!(e.message().contains("--encryptBasicAuthPwd"), "{e}");
        assert!(!e.to_string().contains("secret"), "the value is not echoed: {e}");
        assert!(e
            .to_string()
            .starts_with("web config /nonexistent/web.yml: `basic_auth_users.alice`"));
    }

    #[test]
    fn unknown_keys_are_errors_with_the_key_and_line() {
        let e = parse("tls_server_config:\n  cert_fil: a.pem\n").unwrap_err();
        let text = e.to_string();
        assert!(text.contains("cert_fil"), "{text}");
        assert!(text.contains("line 2"), "{text}");
        let e = parse("basic_auth:\n  a: b\n").unwrap_err();
        assert!(e.to_string().contains("basic_auth"), "{e}");
        assert!(e.to_string().contains("tls_server_config, http_server_config"), "{e}");
    }

    #[test]
    fn headers_are_checked_like_the_toolkit() {
        let config = parse(
            "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    \
             Strict-Transport-Security: max-age=31536000\n    X-XSS-Protection: ''\n",
        )
        .unwrap();
        let names: Vec<&str> = config.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["strict-transport-security", "x-frame-options"]);
        let e = parse("http_server_config:\n  headers:\n    X-Frame-Options: allow\n").unwrap_err();
        assert_eq!(e.key(), "http_server_config.headers.X-Frame-Options");
        assert!(e.message().contains("deny, sameorigin"), "{e}");
        let e = parse("http_server_config:\n  headers:\n    Server: dm\n").unwrap_err();
        assert_eq!(e.key(), "http_server_config.headers.Server");
    }

    #[test]
    fn ignored_settings_warn() {
        let config =
            parse("http_server_config:\n  http2: true\nrate_limit:\n  interval: 1s\n  burst: 5\n")
                .unwrap();
        assert_eq!(config.warnings.len(), 2, "{:?}", config.warnings);
        let config =
            parse("http_server_config:\n  http2: false\nrate_limit:\n  interval: 0s\n").unwrap();
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    }

    #[test]
    fn tls_needs_cert_and_key() {
        let e = parse("tls_server_config:\n  client_auth_type: NoClientCert\n").unwrap_err();
        assert_eq!(e.key(), "tls_server_config.cert_file");
        // A wrong policy is reported before the missing certificate.
        let e = parse("tls_server_config:\n  client_auth_type: Bogus\n").unwrap_err();
        assert_eq!(e.key(), "tls_server_config.client_auth_type");
        let e = parse("tls_server_config:\n  cert_file: missing.pem\n").unwrap_err();
        assert_eq!(e.key(), "tls_server_config.cert_file");
        assert!(e.message().contains("/nonexistent/missing.pem"), "relative to the file: {e}");
        // Empty strings are unset, as in the toolkit.
        assert!(parse("tls_server_config:\n  cert_file: ''\n  key_file: ''\n")
            .unwrap()
            .tls
            .is_none());
    }

    #[test]
    fn inline_and_file_together_are_an_error() {
        let e = parse("tls_server_config:\n  cert: x\n  cert_file: y\n").unwrap_err();
        assert_eq!(e.key(), "tls_server_config.cert_file");
        assert!(e.message().contains("keep one"), "{e}");
    }

    #[test]
    fn rate_limit_activity() {
        let active = |v: &str| {
            RawRateLimit { interval: Some(serde_norway::from_str(v).unwrap()), burst: None }
                .is_active()
        };
        assert!(active("1s") && active("500ms") && active("2"));
        assert!(!active("0") && !active("0s") && !active("''") && !active("~"));
    }
}
