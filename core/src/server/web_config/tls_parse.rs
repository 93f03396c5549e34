//! `tls_server_config` of the web config: certificate, key, client CA, versions, cipher
//! suites and curves, validated into [`TlsSettings`].

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};

use super::super::tls::{AnyClientCert, TlsSettings};
use super::{set, Ctx, RawTls, WebConfigError, CLIENT_AUTH_TYPES};

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
            let bytes = dmexp_config::read_file(&resolved, dmexp_config::MAX_CONFIG_FILE_BYTES)
                .map_err(|e| {
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

pub(super) fn tls_settings(
    ctx: &mut Ctx<'_>,
    raw: RawTls,
) -> Result<Option<TlsSettings>, WebConfigError> {
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
