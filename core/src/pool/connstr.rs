//! Connection strings from the datasource config, and redaction of driver messages.

use dmexp_config::{DatasourceConfig, Secret};

use super::PoolError;

/// Builds the ODBC connection string for a datasource (DM8.md §1.3–1.4).
///
/// With `odbcConnectionString` set, it is used as is; `dbUser`/`dbPwd` fill `UID`/`PWD` when
/// it has none. Otherwise the DM string is built from `odbcDriver`, `dbHost` (`host:port`,
/// `[v6]:port` or a `dm_svc.conf` service name; `?KEY=value&…` adds DM keywords) and the
/// credentials, with `CHARACTER_CODE=PG_UTF8` so text arrives as UTF-8.
pub fn connection_string(ds: &DatasourceConfig) -> Result<Secret, PoolError> {
    let err = |reason: String| PoolError::ConnectionString { datasource: ds.name.clone(), reason };
    if let Some(cs) = &ds.odbc_connection_string {
        let mut s = cs.expose().trim().to_owned();
        let upper = s.to_ascii_uppercase();
        let has =
            |k: &str| upper.split(';').any(|part| part.trim_start().starts_with(&format!("{k}=")));
        if !s.is_empty() && !s.ends_with(';') {
            s.push(';');
        }
        if !ds.db_user.is_empty() && !has("UID") {
            s.push_str(&format!("UID={};", ds.db_user));
        }
        if !ds.db_pwd.is_empty() && !has("PWD") {
            s.push_str(&format!("PWD={};", ds.db_pwd.expose()));
        }
        return Ok(Secret::new(s));
    }
    let host = ds.db_host.as_deref().unwrap_or("").trim();
    if host.is_empty() {
        return Err(err("set `dbHost` (host:port) or `odbcConnectionString`".into()));
    }
    let (addr, extra) = match host.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (host, None),
    };
    let (server, port) = split_host_port(addr);
    // DM's driver takes values literally and ignores ODBC {} quoting (DM8.md §1.4).
    for (key, value) in [("dbUser", ds.db_user.as_str()), ("dbPwd", ds.db_pwd.expose())] {
        if value.contains(';') || value.contains('{') || value.contains('}') {
            return Err(err(format!(
                "`{key}` contains `;`, `{{` or `}}`, which the DM ODBC driver cannot take in a \
                 connection string; define a DSN in odbc.ini and use \
                 `odbcConnectionString = \"DSN=<name>\"` instead"
            )));
        }
    }
    let mut s = format!("Driver={{{}}};SERVER={};", ds.odbc_driver, server);
    if let Some(p) = port {
        s.push_str(&format!("TCP_PORT={p};"));
    }
    s.push_str(&format!("UID={};PWD={};", ds.db_user, ds.db_pwd.expose()));
    let mut has_charset = false;
    if let Some(q) = extra {
        for kv in q.split('&').filter(|kv| !kv.trim().is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let k = k.trim();
            if k.eq_ignore_ascii_case("CHARACTER_CODE") {
                has_charset = true;
            }
            if k.contains(';') || v.contains(';') {
                return Err(err(format!("`dbHost` option `{k}` contains `;`")));
            }
            s.push_str(&format!("{}={};", k, v.trim()));
        }
    }
    if !has_charset {
        s.push_str("CHARACTER_CODE=PG_UTF8;");
    }
    Ok(Secret::new(s))
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
pub(super) fn redact(message: &str, connection_string: &Secret) -> String {
    let mut m = message.replace(connection_string.expose(), "<connection string>");
    for part in connection_string.expose().split(';') {
        if let Some((k, v)) = part.split_once('=') {
            if k.trim().eq_ignore_ascii_case("PWD") && !v.is_empty() {
                m = m.replace(v, "***");
            }
        }
    }
    m
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
        assert_eq!(redact("login failed for s3cret", &cs), "login failed for ***");
    }
}
