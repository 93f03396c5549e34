//! The `?key=value&…` options of `dbHost`: which are DM ODBC connection keywords, which are
//! options of DM's Go driver that upstream configs carry (`autoCommit`, `socketTimeout`, …)
//! and that DM's ODBC driver does not know (docs/DM8_EVIDENCE.md F9, docs/DM8.md §1.3).
//!
//! The classification is used twice: the config loader warns about options that will have
//! no effect ([`option_warnings`]), and the pool builds the connection string from it
//! (`core/src/pool.rs` `connection_string`: ODBC keywords are passed in their canonical
//! spelling, `connectTimeout` becomes the login timeout, Go-driver options are dropped).

use std::time::Duration;

/// What a `dbHost` query option is to the exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionKind {
    /// A documented DM ODBC connection keyword, in its canonical spelling (`schema` →
    /// `SCHEMA`): passed to the driver as `KEYWORD=value;`.
    Odbc(&'static str),
    /// A keyword the exporter sets itself from other config keys (`SERVER`, `TCP_PORT`, `UID`,
    /// `PWD`, `DRIVER`, `DSN`): ignored in `dbHost` (with a warning), so a query option never
    /// overrides the host, port or credentials.
    Reserved(&'static str),
    /// The Go driver's `connectTimeout` (milliseconds): applied as the ODBC login timeout
    /// (`SQL_ATTR_LOGIN_TIMEOUT`, whole seconds, at least 1), see [`login_timeout`].
    LoginTimeout,
    /// An option of DM's Go (or JDBC) driver that DM's ODBC driver does not know: dropped,
    /// with a warning naming what to use instead (see [`go_option_hint`]).
    GoDriverOnly,
    /// Neither a documented DM ODBC keyword nor a known Go-driver option: passed to the
    /// driver as written (DM versions may know keywords the manual does not list), with a
    /// warning.
    Unknown,
}

/// The DM ODBC connection keywords (SQLDriverConnect) documented in DM's ODBC guide
/// (docs/DM8.md §1.3), except those in [`RESERVED_KEYWORDS`].
pub const ODBC_KEYWORDS: &[&str] = &[
    "DESCRIPTION",
    "PROTOCOL_TYPE",
    "LANGUAGE",
    "SSL_PATH",
    "SSL_PWD",
    "MPP_LOGIN",
    "CHARACTER_CODE",
    "FAST_INSERT",
    "RW_SEPARATE",
    "RW_SEPARATE_PERCENT",
    "UKEY_NAME",
    "UKEY_PIN",
    "FORCE_SQL_WCHAR",
    "TCNAME_LOWER",
    "QUOTE_REPLACE",
    "COMPATIBLE_MODE",
    "SCHEMA",
    "LINK_ATTR",
];

/// DM ODBC keywords that the exporter derives from `dbHost` (host, port), `dbUser`, `dbPwd`
/// and `odbcDriver`; a `dbHost` option cannot set them.
pub const RESERVED_KEYWORDS: &[&str] = &["DRIVER", "DSN", "SERVER", "TCP_PORT", "UID", "PWD"];

/// Options of DM's Go driver (`dm://user:pwd@host:port?…`) and JDBC URL that upstream
/// `dbHost` values carry, with what to do instead. `connectTimeout` and `schema` are not
/// here: they are mapped (see [`OptionKind::LoginTimeout`], `SCHEMA`).
const GO_OPTIONS: &[(&str, &str)] = &[
    ("autoCommit", "ODBC sessions auto-commit by default; remove it"),
    ("socketTimeout", "queryTimeout bounds every query; set queryTimeout instead"),
    ("sessionTimeout", "remove it"),
    ("dbalive", "connections are checked by the pool and enableHealthPing; remove it"),
    ("dbAliveCheckFreq", "connections are checked by the pool and enableHealthPing; remove it"),
    ("loginEncrypt", "configure encryption with SSL_PATH/SSL_PWD (DM ODBC keywords)"),
    ("communicationEncrypt", "configure encryption with SSL_PATH/SSL_PWD (DM ODBC keywords)"),
    ("sslFilesPath", "use SSL_PATH (DM ODBC keyword) instead"),
    ("sslCertPath", "use SSL_PATH (DM ODBC keyword) instead"),
    ("sslKeyPath", "use SSL_PATH (DM ODBC keyword) instead"),
    ("sslPassword", "use SSL_PWD (DM ODBC keyword) instead"),
    ("loginMode", "remove it"),
    ("loginPrimary", "remove it"),
    ("loginCertificate", "remove it"),
    ("switchTimes", "remove it"),
    ("switchInterval", "remove it"),
    ("epSelector", "remove it"),
    ("cluster", "remove it"),
    ("compress", "remove it"),
    ("compressID", "remove it"),
    ("svcConfPath", "service names are read from dm_svc.conf (DM_SVC_PATH); remove it"),
    ("appName", "remove it"),
    ("osName", "remove it"),
    ("logLevel", "the exporter's logLevel does not apply to the driver; remove it"),
    ("logDir", "remove it"),
    ("user", "set dbUser instead"),
    ("password", "set dbPwd instead"),
    ("escapeProcess", "remove it"),
    ("keyWords", "remove it"),
    ("continueBatchOnError", "remove it"),
    ("batchAllowMaxErrors", "remove it"),
    ("batchType", "remove it"),
    ("batchNotOnCall", "remove it"),
    ("ignoreCase", "remove it"),
    ("localTimezone", "remove it"),
    ("maxRows", "custom metrics have maxrows; remove it"),
    ("rowPrefetch", "remove it"),
    ("bufPrefetch", "remove it"),
    ("lobMode", "remove it"),
    ("stmtPoolSize", "remove it"),
    ("isBdtaRS", "remove it"),
    ("mppLocal", "use MPP_LOGIN (DM ODBC keyword) instead"),
    ("rwSeparate", "use RW_SEPARATE (DM ODBC keyword) instead"),
    ("rwPercent", "use RW_SEPARATE_PERCENT (DM ODBC keyword) instead"),
    ("rwAutoDistribute", "remove it"),
    ("rwHA", "remove it"),
    ("rwStandby", "remove it"),
    ("rwIgnoreSql", "remove it"),
    ("compatibleMode", "use COMPATIBLE_MODE (DM ODBC keyword) instead"),
    ("columnNameUpperCase", "remove it"),
    ("columnNameCase", "remove it"),
    ("databaseProductName", "remove it"),
    ("doSwitch", "remove it"),
    ("driverReconnect", "remove it"),
];

/// Classifies one `dbHost` query option by its key (case-insensitive, surrounding spaces
/// ignored).
pub fn classify_option(key: &str) -> OptionKind {
    let key = key.trim();
    if key.eq_ignore_ascii_case("connectTimeout") {
        return OptionKind::LoginTimeout;
    }
    if let Some(k) = RESERVED_KEYWORDS.iter().find(|k| k.eq_ignore_ascii_case(key)) {
        return OptionKind::Reserved(k);
    }
    if let Some(k) = ODBC_KEYWORDS.iter().find(|k| k.eq_ignore_ascii_case(key)) {
        return OptionKind::Odbc(k);
    }
    if GO_OPTIONS.iter().any(|(k, _)| k.eq_ignore_ascii_case(key)) {
        return OptionKind::GoDriverOnly;
    }
    OptionKind::Unknown
}

/// For a [`OptionKind::GoDriverOnly`] key: what to do instead (e.g. "set queryTimeout
/// instead"). `None` for other keys.
pub fn go_option_hint(key: &str) -> Option<&'static str> {
    let key = key.trim();
    GO_OPTIONS.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, hint)| *hint)
}

/// The login timeout for a `connectTimeout` value (milliseconds, as DM's Go driver reads
/// it), rounded up to whole seconds (ODBC's unit), at least 1 s. `None` when the value is
/// not a non-negative integer, or is 0 (the Go driver's "no timeout": the exporter then keeps
/// its own default).
pub fn login_timeout(value: &str) -> Option<Duration> {
    let ms: u64 = value.trim().parse().ok()?;
    if ms == 0 {
        return None;
    }
    Some(Duration::from_secs(ms.div_ceil(1000).max(1)))
}

/// The `?…` options of a `dbHost` value as `(key, value)` pairs, trimmed, in order; empty
/// pairs (`a=1&&b=2`) are skipped and a key without `=` gets an empty value.
pub fn split_options(db_host: &str) -> Vec<(&str, &str)> {
    let Some((_, query)) = db_host.split_once('?') else {
        return Vec::new();
    };
    query
        .split('&')
        .filter(|kv| !kv.trim().is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.trim(), v.trim())
        })
        .collect()
}

/// One warning per `dbHost` option that will not do what the user expects: Go-driver
/// options (dropped), reserved keywords (ignored), unknown keys (passed as written), and a
/// `connectTimeout` whose value is not a number of milliseconds. Mapped keys (`schema`,
/// a valid `connectTimeout`) and documented ODBC keywords give none. Each message names the
/// key as written, e.g. "socketTimeout is a Go-driver option; DM's ODBC driver ignores it
/// and the exporter drops it; queryTimeout bounds every query; set queryTimeout instead".
pub fn option_warnings(db_host: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in split_options(db_host) {
        match classify_option(key) {
            OptionKind::Odbc(_) => {}
            OptionKind::LoginTimeout => {
                if login_timeout(value).is_none() && value.trim() != "0" {
                    out.push(format!(
                        "{key} = \"{value}\" is not a number of milliseconds; it is ignored \
                         (write e.g. connectTimeout=5000 for a 5 s login timeout)"
                    ));
                }
            }
            OptionKind::Reserved(k) => out.push(format!(
                "{key} cannot be set in dbHost: the exporter sets {k} from {}; it is ignored",
                match k {
                    "UID" => "dbUser",
                    "PWD" => "dbPwd",
                    "DRIVER" => "odbcDriver",
                    "DSN" => "odbcConnectionString (write odbcConnectionString = \"DSN=…\")",
                    _ => "the host:port before '?'",
                }
            )),
            OptionKind::GoDriverOnly => out.push(format!(
                "{key} is a Go-driver option; DM's ODBC driver ignores it and the exporter \
                 drops it; {}",
                go_option_hint(key).unwrap_or("remove it")
            )),
            OptionKind::Unknown => out.push(format!(
                "{key} is not a DM ODBC connection keyword the exporter knows; it is passed to \
                 the driver as written, which may ignore it (check the spelling; known: {})",
                ODBC_KEYWORDS.join(", ")
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_upstream_options() {
        assert_eq!(classify_option("schema"), OptionKind::Odbc("SCHEMA"));
        assert_eq!(classify_option(" Character_Code "), OptionKind::Odbc("CHARACTER_CODE"));
        assert_eq!(classify_option("connectTimeout"), OptionKind::LoginTimeout);
        assert_eq!(classify_option("CONNECTTIMEOUT"), OptionKind::LoginTimeout);
        for k in ["autoCommit", "socketTimeout", "dbalive", "DBALIVE", "sessionTimeout"] {
            assert_eq!(classify_option(k), OptionKind::GoDriverOnly, "{k}");
        }
        assert_eq!(classify_option("tcp_port"), OptionKind::Reserved("TCP_PORT"));
        assert_eq!(classify_option("pwd"), OptionKind::Reserved("PWD"));
        assert_eq!(classify_option("fetchSize"), OptionKind::Unknown);
    }

    #[test]
    fn go_options_never_shadow_odbc_keywords() {
        for (k, _) in GO_OPTIONS {
            assert_eq!(classify_option(k), OptionKind::GoDriverOnly, "{k}");
            assert!(go_option_hint(k).is_some());
        }
        assert_eq!(go_option_hint("SCHEMA"), None);
    }

    #[test]
    fn login_timeout_from_milliseconds() {
        assert_eq!(login_timeout("5000"), Some(Duration::from_secs(5)));
        assert_eq!(login_timeout("1500"), Some(Duration::from_secs(2)));
        assert_eq!(login_timeout("1"), Some(Duration::from_secs(1)));
        assert_eq!(login_timeout("0"), None);
        assert_eq!(login_timeout("5s"), None);
        assert_eq!(login_timeout("-1"), None);
    }

    #[test]
    fn splits_options() {
        assert_eq!(
            split_options("h:5236?autoCommit=true&& schema = MON &flag"),
            vec![("autoCommit", "true"), ("schema", "MON"), ("flag", "")]
        );
        assert!(split_options("h:5236").is_empty());
    }

    #[test]
    fn warnings_name_each_ineffective_option() {
        let w = option_warnings(
            "h:5236?autoCommit=true&socketTimeout=5&connectTimeout=5000&schema=MON&UID=x&foo=1",
        );
        assert_eq!(w.len(), 4, "{w:?}");
        assert_eq!(
            w[0],
            "autoCommit is a Go-driver option; DM's ODBC driver ignores it and the exporter \
             drops it; ODBC sessions auto-commit by default; remove it"
        );
        assert!(w[1].starts_with("socketTimeout is a Go-driver option"), "{}", w[1]);
        assert!(w[1].ends_with("set queryTimeout instead"), "{}", w[1]);
        assert_eq!(
            w[2],
            "UID cannot be set in dbHost: the exporter sets UID from dbUser; it is ignored"
        );
        assert!(w[3].starts_with("foo is not a DM ODBC connection keyword"), "{}", w[3]);
        assert_eq!(option_warnings("h:5236?connectTimeout=abc").len(), 1);
        assert!(option_warnings("h:5236?connectTimeout=0&schema=A&CHARACTER_CODE=PG_GB18030")
            .is_empty());
    }
}
