//! Unit tests of the web config parser.

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
    assert!(e.to_string().starts_with("web config /nonexistent/web.yml: `basic_auth_users.alice`"));
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
    assert!(parse("tls_server_config:\n  cert_file: ''\n  key_file: ''\n").unwrap().tls.is_none());
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
        RawRateLimit { interval: Some(serde_norway::from_str(v).unwrap()), burst: None }.is_active()
    };
    assert!(active("1s") && active("500ms") && active("2"));
    assert!(!active("0") && !active("0s") && !active("''") && !active("~"));
}
