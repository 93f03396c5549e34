//! Datasource identity: `host_port()` and the `datasource` label (docs/UPSTREAM.md §2.3).

use crate::schema::DatasourceConfig;

/// Splits a `dbHost` value as upstream's `normalizeDBHost`: trim, drop `?…`, `[v6]:port`,
/// `host:port`, bare `host`, and unbracketed IPv6 with a numeric tail after the last colon.
/// Returns the host and the port text.
pub(crate) fn split_db_host(db_host: &str) -> (String, Option<String>) {
    let h = db_host.trim();
    let h = h.split_once('?').map_or(h, |(a, _)| a).trim();
    if let Some(rest) = h.strip_prefix('[') {
        if let Some(end) = rest.find(']') {
            let host = rest[..end].to_string();
            let port =
                rest[end + 1..].strip_prefix(':').filter(|p| !p.is_empty()).map(str::to_string);
            return (host, port);
        }
    }
    match h.matches(':').count() {
        0 => (h.to_string(), None),
        1 => match h.split_once(':') {
            Some((host, port)) if !port.is_empty() => (host.to_string(), Some(port.to_string())),
            Some((host, _)) => (host.to_string(), None),
            None => (h.to_string(), None),
        },
        _ => match h.rsplit_once(':') {
            Some((host, port))
                if !host.is_empty()
                    && !port.is_empty()
                    && port.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (host.to_string(), Some(port.to_string()))
            }
            _ => (h.to_string(), None),
        },
    }
}

/// The part of `dbHost` before `?`, trimmed: what must be unique among enabled datasources.
pub(crate) fn host_key(db_host: &str) -> &str {
    db_host.split_once('?').map_or(db_host, |(a, _)| a).trim()
}

impl DatasourceConfig {
    /// The `datasource` label value: `name@host:port` (IPv6 as `name@[h]:p`, `name@host`
    /// without a port) when `dbHost` is set, else the bare `name` (docs/DESIGN.md §6).
    pub fn datasource_label(&self) -> String {
        let Some(db_host) = self.connection.db_host.as_deref() else {
            return self.name.clone();
        };
        let (host, port) = split_db_host(db_host);
        match port {
            Some(p) if host.contains(':') => format!("{}@[{host}]:{p}", self.name),
            Some(p) => format!("{}@{host}:{p}", self.name),
            None => format!("{}@{host}", self.name),
        }
    }

    /// Host and port from `dbHost` (query string dropped, IPv6 brackets removed); the port
    /// is `None` when absent or not a valid port number. `None` when `dbHost` is not set.
    pub fn host_port(&self) -> Option<(String, Option<u16>)> {
        let (host, port) = split_db_host(self.connection.db_host.as_deref()?);
        Some((host, port.and_then(|p| p.parse().ok())))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ds(host: Option<&str>) -> DatasourceConfig {
        let mut d = DatasourceConfig::new("db1");
        d.connection.db_host = host.map(str::to_string);
        d
    }

    #[test]
    #[allow(clippy::type_complexity)]
    fn labels_and_host_port() {
        let cases: &[(Option<&str>, &str, Option<(&str, Option<u16>)>)] = &[
            (None, "db1", None),
            (Some("192.168.0.1:5236"), "db1@192.168.0.1:5236", Some(("192.168.0.1", Some(5236)))),
            (
                Some(" 10.0.0.1:5236?autoCommit=true "),
                "db1@10.0.0.1:5236",
                Some(("10.0.0.1", Some(5236))),
            ),
            (Some("[fe80::1]:5236"), "db1@[fe80::1]:5236", Some(("fe80::1", Some(5236)))),
            (Some("[fe80::1]"), "db1@fe80::1", Some(("fe80::1", None))),
            (Some("fe80::abcd:5236"), "db1@[fe80::abcd]:5236", Some(("fe80::abcd", Some(5236)))),
            (Some("DMSERVER"), "db1@DMSERVER", Some(("DMSERVER", None))),
            (Some("dbhost:notaport"), "db1@dbhost:notaport", Some(("dbhost", None))),
            (Some("host:"), "db1@host", Some(("host", None))),
        ];
        for (host, label, hp) in cases {
            let d = ds(*host);
            assert_eq!(d.datasource_label(), *label, "{host:?}");
            assert_eq!(d.host_port(), hp.map(|(h, p)| (h.to_string(), p)), "{host:?}");
        }
    }

    #[test]
    fn host_key_drops_query() {
        assert_eq!(host_key("a:1?x=y"), "a:1");
        assert_eq!(host_key(" a:1 "), "a:1");
    }
}
