//! Connection strings from the datasource config, and redaction of driver messages.

use dmexp_config::{dbhost, DatasourceConfig, Secret};

use super::PoolError;

/// Builds the ODBC connection string for a datasource (docs/DM8.md §1.3–1.4).
///
/// With `odbcConnectionString` set, it is used as is; `dbUser`/`dbPwd` fill `UID`/`PWD` when
/// it has none. Otherwise the DM string is built from `odbcDriver`, `dbHost` (`host:port`,
/// `[v6]:port` or a `dm_svc.conf` service name; `?KEY=value&…` adds DM keywords) and the
/// credentials, with `CHARACTER_CODE=PG_UTF8` so text arrives as UTF-8.
pub fn connection_string(ds: &DatasourceConfig) -> Result<Secret, PoolError> {
    let err = |reason: String| PoolError::ConnectionString { datasource: ds.name.clone(), reason };
    if let Some(cs) = &ds.connection.odbc_connection_string {
        let mut s = cs.expose().trim().to_owned();
        let upper = s.to_ascii_uppercase();
        let has =
            |k: &str| upper.split(';').any(|part| part.trim_start().starts_with(&format!("{k}=")));
        if !s.is_empty() && !s.ends_with(';') {
            s.push(';');
        }
        // L11: a `;`, `{` or `}` in an appended value would start another attribute (a
        // password `x;Database=other` connected elsewhere), and DM's driver ignores ODBC's
        // `{...}` quoting (docs/DM8.md §1.4), so such values are refused, not quoted.
        for (key, value, attr) in [
            ("dbUser", ds.connection.db_user.as_str(), "UID"),
            ("dbPwd", ds.connection.db_pwd.expose(), "PWD"),
        ] {
            if !value.is_empty() && !has(attr) && value.contains([';', '{', '}']) {
                return Err(err(format!(
                    "`{key}` contains `;`, `{{` or `}}`, which cannot be appended to \
                     `odbcConnectionString` safely; put `{attr}=...` in `odbcConnectionString` \
                     itself (quoted as your driver requires) or in a DSN in odbc.ini"
                )));
            }
        }
        if !ds.connection.db_user.is_empty() && !has("UID") {
            s.push_str(&format!("UID={};", ds.connection.db_user));
        }
        if !ds.connection.db_pwd.is_empty() && !has("PWD") {
            s.push_str(&format!("PWD={};", ds.connection.db_pwd.expose()));
        }
        return Ok(Secret::new(s));
    }
    let host = ds.connection.db_host.as_deref().unwrap_or("").trim();
    if host.is_empty() {
        return Err(err("set `dbHost` (host:port) or `odbcConnectionString`".into()));
    }
    let (addr, extra) = match host.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (host, None),
    };
    let (server, port) = split_host_port(addr);
    // DM's driver takes values literally and ignores ODBC {} quoting (docs/DM8.md §1.4).
    for (key, value) in
        [("dbUser", ds.connection.db_user.as_str()), ("dbPwd", ds.connection.db_pwd.expose())]
    {
        if value.contains(';') || value.contains('{') || value.contains('}') {
            return Err(err(format!(
                "`{key}` contains `;`, `{{` or `}}`, which the DM ODBC driver cannot take in a \
                 connection string; define a DSN in odbc.ini and use \
                 `odbcConnectionString = \"DSN=<name>\"` instead"
            )));
        }
    }
    let mut s = format!("Driver={{{}}};SERVER={};", ds.connection.odbc_driver, server);
    if let Some(p) = port {
        s.push_str(&format!("TCP_PORT={p};"));
    }
    s.push_str(&format!("UID={};PWD={};", ds.connection.db_user, ds.connection.db_pwd.expose()));
    let mut has_charset = false;
    if extra.is_some() {
        // F9: documented DM ODBC keywords in their canonical spelling (`schema` -> `SCHEMA`);
        // Go-driver options (`autoCommit`, `socketTimeout`, ...) and keywords the exporter
        // sets itself are dropped, `connectTimeout` becomes the login timeout (see
        // [`login_timeout_option`]); the config loader warns about each of them.
        for (k, v) in dbhost::split_options(host) {
            if k.contains(';') || v.contains(';') {
                return Err(err(format!("`dbHost` option `{k}` contains `;`")));
            }
            let keyword = match dbhost::classify_option(k) {
                dbhost::OptionKind::Odbc(kw) => kw,
                dbhost::OptionKind::Unknown => k,
                _ => continue,
            };
            if keyword.eq_ignore_ascii_case("CHARACTER_CODE") {
                has_charset = true;
            }
            s.push_str(&format!("{keyword}={v};"));
        }
    }
    if !has_charset {
        s.push_str("CHARACTER_CODE=PG_UTF8;");
    }
    Ok(Secret::new(s))
}

/// The login timeout a `dbHost` option `connectTimeout=<ms>` asks for (DM Go driver
/// spelling, docs/DM8_EVIDENCE.md F9), if any; only in `dbHost` mode.
pub fn login_timeout_option(ds: &DatasourceConfig) -> Option<std::time::Duration> {
    if ds.connection.odbc_connection_string.is_some() {
        return None;
    }
    let host = ds.connection.db_host.as_deref()?;
    dbhost::split_options(host)
        .into_iter()
        .filter(|(k, _)| dbhost::classify_option(k) == dbhost::OptionKind::LoginTimeout)
        .find_map(|(_, v)| dbhost::login_timeout(v))
}

/// Splits `host:port`, `[v6]:port`, a bare host or an unbracketed IPv6 address.
fn split_host_port(addr: &str) -> (String, Option<u16>) {
    if let Some(rest) = addr.strip_prefix('[') {
        if let Some((h, tail)) = rest.split_once(']') {
            return (h.to_owned(), tail.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
    }
    match addr.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => match p.parse::<u16>() {
            Ok(port) => (h.to_owned(), Some(port)),
            Err(_) => (addr.to_owned(), None),
        },
        _ => (addr.to_owned(), None),
    }
}

/// Removes the password (and the whole connection string) from a driver message.
///
/// Only exact fragments are replaced: the whole connection string and its `PWD=...` part.
/// When the password's text still occurs anywhere in the message (a short password such as
/// `server` or `x` inside the driver's own words), replacing it would reveal the password
/// by what went missing (finding L4), so the driver's text is withheld and only its
/// SQLSTATE line is kept.
pub(super) fn redact(message: &str, connection_string: &Secret) -> String {
    let cs = connection_string.expose();
    let mut m = message.replace(cs, "<connection string>");
    let mut password = None;
    for part in cs.split(';') {
        if let Some((k, v)) = part.split_once('=') {
            if k.trim().eq_ignore_ascii_case("PWD") && !v.is_empty() {
                m = m.replace(part.trim(), "PWD=***");
                password = Some(v);
            }
        }
    }
    match password {
        Some(p) if m.contains(p) || m.contains(p.trim()) && !p.trim().is_empty() => {
            let state = m
                .lines()
                .find_map(|l| l.find("State:").map(|i| &l[i..]))
                .map(|l| l.split(", Message:").next().unwrap_or(l).to_owned());
            let state = state.filter(|s| !s.contains(p.trim()));
            format!(
                "the driver's message is withheld because it contains the password's text{}",
                state.map(|s| format!(" ({s})")).unwrap_or_default()
            )
        }
        _ => m,
    }
}

/// psqlODBC reads a whole result into memory before the first row is returned, whatever
/// `SQL_ATTR_MAX_ROWS` says (finding L6: 485 MB for a 5,000,000-row custom query). Read-only
/// pools (custom SQL, which may return anything) on the PostgreSQL driver therefore get
/// `UseDeclareFetch=1;Fetch=128`, so the driver fetches through a cursor, 128 rows at a time,
/// and stops when the exporter stops reading; unless the connection string sets it.
pub(super) fn declare_fetch_for_postgres(cs: Secret) -> Secret {
    let text = cs.expose();
    let lower = text.to_ascii_lowercase();
    if super::Engine::detect("", text) != super::Engine::PostgreSql
        || lower.contains("usedeclarefetch")
    {
        return cs;
    }
    let sep = if text.trim_end().ends_with(';') || text.is_empty() { "" } else { ";" };
    Secret::new(format!("{}{sep}UseDeclareFetch=1;Fetch=128;", text.trim_end()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_hosts() {
        assert_eq!(split_host_port("10.0.0.1:5236"), ("10.0.0.1".into(), Some(5236)));
        assert_eq!(split_host_port("[::1]:5236"), ("::1".into(), Some(5236)));
        assert_eq!(split_host_port("dmsvc"), ("dmsvc".into(), None));
    }

    #[test]
    fn redacts_password() {
        let cs = Secret::new("Driver=X;UID=a;PWD=s3cret;");
        assert_eq!(
            redact("login failed for s3cret", &cs),
            "the driver's message is withheld because it contains the password's text"
        );
        assert_eq!(redact("bad: Driver=X;UID=a;PWD=s3cret;", &cs), "bad: <connection string>");
        assert_eq!(redact("got PWD=s3cret here", &cs), "got PWD=*** here");
        assert_eq!(redact("could not connect to 10.0.0.1", &cs), "could not connect to 10.0.0.1");
    }

    /// L4: a short password that occurs inside the driver's own words is never revealed by
    /// what replacement would cut out of them.
    #[test]
    fn short_passwords_are_not_revealed_by_substitution() {
        let msg =
            "ODBC emitted an error calling 'SQLDriverConnect':\nState: 08001, Native error: 101, \
                   Message: connection to server at \"127.0.0.1\", port 1 failed: does not exist";
        for pwd in ["server", "x", "e", "at", "1"] {
            let cs = Secret::new(format!("Driver=X;UID=a;PWD={pwd};"));
            let out = redact(msg, &cs);
            assert!(out.starts_with("the driver's message is withheld"), "{pwd}: {out}");
            assert!(!out.contains("***"), "{pwd}: {out}");
        }
        let cs = Secret::new("Driver=X;UID=a;PWD=server;");
        assert_eq!(
            redact(msg, &cs),
            "the driver's message is withheld because it contains the password's text \
             (State: 08001, Native error: 101)"
        );
        // A password that does not occur leaves the message whole.
        let cs = Secret::new("Driver=X;UID=a;PWD=Zq9#long_secret;");
        assert_eq!(redact(msg, &cs), msg);
    }

    fn ds(toml_extra: &str) -> DatasourceConfig {
        let toml = format!("[[datasource]]\nname = \"d\"\n{toml_extra}\n");
        let cfg = dmexp_config::load_str(&toml, std::path::Path::new("t.toml")).expect("config");
        cfg.datasources.into_iter().next().expect("datasource")
    }

    /// L11: in `odbcConnectionString` mode an appended `dbUser`/`dbPwd` cannot inject an
    /// attribute (before: `PWD=a;Database=other;` connected to `other`).
    #[test]
    fn appended_credentials_cannot_inject_attributes() {
        for pwd in ["Secret_Part1;Database=rt_fault;Secret_Part2", "a{b", "a}b"] {
            let d =
                ds(&format!("odbcConnectionString = \"DSN=x\"\ndbUser = \"u\"\ndbPwd = \"{pwd}\""));
            let e = connection_string(&d).expect_err(pwd).to_string();
            assert!(e.contains("`dbPwd` contains"), "{e}");
            assert!(!e.contains(pwd), "the error shows the password: {e}");
        }
        let d = ds("odbcConnectionString = \"DSN=x\"\ndbUser = \"u;Database=y\"\ndbPwd = \"p\"");
        assert!(connection_string(&d).expect_err("user").to_string().contains("`dbUser` contains"));
        // Plain values are appended; a string that sets PWD itself is left alone.
        let d = ds("odbcConnectionString = \"DSN=x\"\ndbUser = \"u\"\ndbPwd = \"p@ss\"");
        assert_eq!(connection_string(&d).expect("cs").expose(), "DSN=x;UID=u;PWD=p@ss;");
        let d = ds("odbcConnectionString = \"DSN=x;PWD={a;b}\"\ndbUser = \"u\"\ndbPwd = \"c;d\"");
        assert_eq!(connection_string(&d).expect("cs").expose(), "DSN=x;PWD={a;b};UID=u;");
    }

    /// F9: upstream `dbHost` options: `schema` -> `SCHEMA`, Go-driver options dropped,
    /// `connectTimeout` (ms) -> the login timeout, keywords the exporter sets not overridden.
    #[test]
    fn dbhost_options_are_mapped_or_dropped() {
        let d = ds("dbHost = \"10.0.0.1:5236?schema=MON&autoCommit=true&socketTimeout=3000&connectTimeout=2500&dbalive=true&LANGUAGE=en&PWD=evil\"\ndbUser = \"u\"\ndbPwd = \"p\"");
        assert_eq!(
            connection_string(&d).expect("cs").expose(),
            "Driver={DM8 ODBC DRIVER};SERVER=10.0.0.1;TCP_PORT=5236;UID=u;PWD=p;SCHEMA=MON;LANGUAGE=en;CHARACTER_CODE=PG_UTF8;"
        );
        assert_eq!(login_timeout_option(&d), Some(std::time::Duration::from_secs(3)));
        let d = ds("dbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"");
        assert_eq!(login_timeout_option(&d), None);
    }
}
