//! Read-only connections: the engine's session setting, its check and the PostgreSQL
//! re-assertion rule (see the module docs of [`crate::pool`]).

use std::collections::HashMap;

use odbc_api::sys::{ConnectionAttribute, Pointer};
use odbc_api::{
    Connection, ConnectionOptions, DriverSpecificConnectionOptions, SetConnectionAttributeArgs,
};

use crate::query::QueryError;

/// Bound of [`KnownSql`] (custom metrics and plugins send a fixed set of queries).
const KNOWN_SQL_CACHE: usize = 256;

/// Per SQL text, the answer of [`dmexp_sqlguard::calls_only_known_functions`]; cleared when it
/// reaches [`KNOWN_SQL_CACHE`] entries.
#[derive(Debug, Default)]
pub(super) struct KnownSql(HashMap<String, bool>);

impl KnownSql {
    /// The cached answer for `sql`, or `decide(sql)`, remembered.
    pub(super) fn answer(&mut self, sql: &str, decide: impl FnOnce(&str) -> bool) -> bool {
        if let Some(known) = self.0.get(sql) {
            return *known;
        }
        let known = decide(sql);
        if self.0.len() >= KNOWN_SQL_CACHE {
            self.0.clear();
        }
        self.0.insert(sql.to_owned(), known);
        known
    }
}

/// The re-assertion rule of a PostgreSQL read-only connection (see the module docs), apart
/// from ODBC. `reassert` runs first when the connection is `tainted` or the query may call
/// a function not known to be side-effect free (`!known_functions_only`); when it fails, the
/// query does not run and the connection is tainted. Afterwards the connection is tainted
/// when the query may have called such a function or failed.
pub(super) fn run_keeping_read_only<T>(
    tainted: &mut bool,
    known_functions_only: bool,
    reassert: impl FnOnce() -> Result<(), QueryError>,
    query: impl FnOnce() -> Result<T, QueryError>,
) -> Result<T, QueryError> {
    if *tainted || !known_functions_only {
        *tainted = true;
        reassert()?;
        *tainted = false;
    }
    let result = query();
    *tainted = !known_functions_only || result.is_err();
    result
}

/// `SQL_MODE_READ_ONLY` (sql.h), the value of `SQL_ATTR_ACCESS_MODE` for a read-only connection.
const SQL_MODE_READ_ONLY: usize = 1;

/// The database engine behind a connection, as far as read-only enforcement is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Dameng DM8: `SQL_ATTR_ACCESS_MODE` is enforced by the server.
    Dm,
    /// PostgreSQL (psqlODBC ignores the access mode): session default read-only.
    PostgreSql,
    /// SQLite (its ODBC driver ignores the access mode): `PRAGMA query_only`.
    Sqlite,
    /// Anything else: only the access mode attribute.
    Other,
}

impl Engine {
    /// Detects the engine from `SQL_DBMS_NAME`, then from the connection string's driver.
    pub fn detect(dbms_name: &str, connection_string: &str) -> Engine {
        let pick = |s: &str| {
            let s = s.to_ascii_lowercase();
            if s.contains("postgres") {
                Some(Engine::PostgreSql)
            } else if s.contains("sqlite") {
                Some(Engine::Sqlite)
            } else if s.contains("dameng") || s.trim() == "dm" || s.contains("dm8") {
                Some(Engine::Dm)
            } else {
                None
            }
        };
        let driver = connection_string
            .split(';')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("driver"))
            .map(|(_, v)| v.trim_matches(|c: char| c == '{' || c == '}' || c.is_whitespace()))
            .unwrap_or("");
        pick(dbms_name).or_else(|| pick(driver)).unwrap_or(Engine::Other)
    }

    /// The session statement that makes a connection read-only, if the engine needs one.
    pub fn read_only_statement(self) -> Option<&'static str> {
        match self {
            Engine::PostgreSql => Some("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"),
            Engine::Sqlite => Some("PRAGMA query_only = ON"),
            Engine::Dm | Engine::Other => None,
        }
    }

    /// A query answering 1/`on` when the session is read-only, if the engine has one.
    pub(crate) fn read_only_check(self) -> Option<(&'static str, &'static [&'static str])> {
        match self {
            Engine::PostgreSql => {
                Some(("SELECT current_setting('transaction_read_only')", &["on"]))
            }
            Engine::Sqlite => Some(("PRAGMA query_only", &["1"])),
            // DM documents V$SESSIONS.RDONLY (E5); the same check is used against real DM by
            // others (docs/DM8_EVIDENCE.md F6, E17). ACCESS_MODE alone is an optimisation hint
            // in DM's ODBC guide (E7), so it is verified, not trusted.
            Engine::Dm => Some(("SELECT RDONLY FROM V$SESSIONS WHERE SESS_ID = SESSID()", &["Y"])),
            Engine::Other => None,
        }
    }
}

/// How one connection of a read-only pool was made read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ReadOnlySession {
    pub(super) engine: Engine,
    /// Re-run when the connection may have been changed (PostgreSQL: a function called from
    /// a query may change the session default; see the module docs).
    pub(super) reassert: Option<&'static str>,
}

/// Connection attributes set on the handle before connecting.
struct Attributes(Vec<SetConnectionAttributeArgs<'static>>);

impl DriverSpecificConnectionOptions<'static> for Attributes {
    fn attributes(&self) -> impl Iterator<Item = SetConnectionAttributeArgs<'static>> {
        self.0.clone().into_iter()
    }
}

/// Connects, with `SQL_ATTR_ACCESS_MODE = SQL_MODE_READ_ONLY` requested when `read_only`,
/// and `SQL_ATTR_CONNECTION_TIMEOUT = connection_timeout_sec` (DM documents it, E7 table
/// 3.4: a backstop for any request on the connection). A driver (manager) that refuses the
/// connection timeout before connecting gets the connection without it: no login was tried.
pub(super) fn connect(
    env: &'static odbc_api::Environment,
    connection_string: &str,
    options: ConnectionOptions,
    read_only: bool,
    connection_timeout_sec: u32,
) -> Result<Connection<'static>, odbc_api::Error> {
    let attempt = |with_timeout: bool| {
        let mut attrs = Vec::new();
        // SAFETY: SQL_ATTR_ACCESS_MODE and SQL_ATTR_CONNECTION_TIMEOUT are standard ODBC
        // connection attributes whose values are integers passed in the pointer argument
        // (string length ignored), so no memory is referenced and the 'static lifetime
        // holds; drivers that do not support one return an error, handled below.
        unsafe {
            if read_only {
                attrs.push(SetConnectionAttributeArgs::new(
                    ConnectionAttribute::ACCESS_MODE,
                    SQL_MODE_READ_ONLY as Pointer,
                    0,
                ));
            }
            if with_timeout {
                attrs.push(SetConnectionAttributeArgs::new(
                    ConnectionAttribute::CONNECTION_TIMEOUT,
                    connection_timeout_sec as usize as Pointer,
                    0,
                ));
            }
            env.connect_with_connection_string_and_driver_specific_options(
                connection_string,
                options,
                Attributes(attrs),
            )
        }
    };
    match attempt(connection_timeout_sec > 0) {
        Err(
            odbc_api::Error::Diagnostics { function: "SQLSetConnectAttr", .. }
            | odbc_api::Error::NoDiagnostics { function: "SQLSetConnectAttr" },
        ) if connection_timeout_sec > 0 => attempt(false),
        other => other,
    }
}

/// Makes a freshly opened connection read-only for its engine and checks it; the error says
/// why it cannot be (the connection is then not used).
pub(super) fn enforce_read_only(
    conn: &Connection<'static>,
    engine: Engine,
    timeout: Option<usize>,
    datasource: &str,
) -> Result<ReadOnlySession, QueryError> {
    let refuse = |what: String| QueryError::Driver {
        message: format!(
            "cannot make the connection read-only ({what}); custom queries do not run on it"
        ),
        sqlstate: None,
        native: None,
        connection_lost: false,
    };
    if let Some(stmt) = engine.read_only_statement() {
        let mut notes = crate::query::ExecNotes::default();
        crate::query::execute_noted(conn, stmt, timeout, &mut notes)
            .map_err(|e| refuse(format!("{stmt}: {e}")))?;
    }
    let mut verified = "access mode only (no check known for this engine)";
    if let Some((check, accepted)) = engine.read_only_check() {
        let rows = crate::query::run_query(conn, check, timeout, Some(1))
            .map_err(|e| refuse(format!("{check}: {e}")))?;
        let got = rows.first().and_then(|r| crate::query::cell(r, 0)).unwrap_or("").trim();
        if !accepted.iter().any(|a| got.eq_ignore_ascii_case(a)) {
            return Err(refuse(format!("{check} answered {got:?} after the session setting")));
        }
        verified = "verified";
    }
    let reassert = match engine {
        Engine::PostgreSql => engine.read_only_statement(),
        _ => None,
    };
    tracing::debug!(
        datasource,
        engine = ?engine,
        access_mode = "SQL_MODE_READ_ONLY requested before connecting",
        session = engine.read_only_statement().unwrap_or("-"),
        check = verified,
        reassert = reassert.map_or("-", |_| {
            "the session statement again before a query that may call a function not known to \
             be side-effect free, and before the next query after it or after a failed query"
        }),
        "Read-only connection opened."
    );
    Ok(ReadOnlySession { engine, reassert })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_engines() {
        assert_eq!(Engine::detect("PostgreSQL", ""), Engine::PostgreSql);
        assert_eq!(Engine::detect("SQLite", ""), Engine::Sqlite);
        assert_eq!(Engine::detect("DM", ""), Engine::Dm);
        assert_eq!(Engine::detect("", "Driver={DM8 ODBC DRIVER};SERVER=h;"), Engine::Dm);
        assert_eq!(Engine::detect("", "Driver={PostgreSQL Unicode};Server=h"), Engine::PostgreSql);
        assert_eq!(Engine::detect("", "DSN=x"), Engine::Other);
        assert_eq!(
            Engine::PostgreSql.read_only_statement(),
            Some("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        );
    }

    /// Drives [`run_keeping_read_only`] through a sequence of queries, each `(calls only
    /// known functions, query succeeds)`, and records what ran: `R` re-assertion, `Q` query.
    fn trace(steps: &[(bool, bool)], reassert_fails_at: Option<usize>) -> String {
        let mut tainted = false; // a fresh connection is read-only
        let mut ran = Vec::new();
        for (i, &(known, ok)) in steps.iter().enumerate() {
            let log = std::cell::RefCell::new(String::new());
            let _ = run_keeping_read_only(
                &mut tainted,
                known,
                || {
                    log.borrow_mut().push('R');
                    if reassert_fails_at == Some(i) {
                        Err(QueryError::NoResultSet)
                    } else {
                        Ok(())
                    }
                },
                || {
                    log.borrow_mut().push('Q');
                    if ok {
                        Ok(())
                    } else {
                        Err(QueryError::NoResultSet)
                    }
                },
            );
            ran.push(log.into_inner());
        }
        ran.join(" ")
    }

    #[test]
    fn read_only_is_reasserted_only_when_the_connection_may_have_changed() {
        const KNOWN: (bool, bool) = (true, true);
        const UNKNOWN: (bool, bool) = (false, true);
        const FAILS: (bool, bool) = (true, false);
        // Known built-ins only, on a fresh connection: never re-asserted.
        assert_eq!(trace(&[KNOWN, KNOWN, KNOWN], None), "Q Q Q");
        // A query that may call another function: re-asserted before it and before the next.
        assert_eq!(trace(&[KNOWN, UNKNOWN, KNOWN, KNOWN], None), "Q RQ RQ Q");
        assert_eq!(trace(&[UNKNOWN, UNKNOWN, KNOWN], None), "RQ RQ RQ");
        // A failed query (even a known one) taints the connection.
        assert_eq!(trace(&[FAILS, KNOWN, KNOWN], None), "Q RQ Q");
        assert_eq!(trace(&[(false, false), KNOWN], None), "RQ RQ");
        // A failed re-assertion: the query does not run, the next query re-asserts again.
        assert_eq!(trace(&[UNKNOWN, KNOWN, KNOWN, KNOWN], Some(1)), "RQ R RQ Q");
        assert_eq!(trace(&[KNOWN, UNKNOWN, KNOWN], Some(1)), "Q R RQ");
    }

    #[test]
    fn known_sql_is_decided_once_per_text_and_bounded() {
        let mut cache = KnownSql::default();
        let decided = std::cell::Cell::new(0);
        let decide = |sql: &str| {
            decided.set(decided.get() + 1);
            dmexp_sqlguard::calls_only_known_functions(sql)
        };
        assert!(cache.answer("SELECT COUNT(*) AS n FROM t", decide));
        assert!(!cache.answer("SELECT set_config('a', 'b', false) AS x", decide));
        assert!(cache.answer("SELECT COUNT(*) AS n FROM t", decide));
        assert!(!cache.answer("SELECT set_config('a', 'b', false) AS x", decide));
        assert_eq!(decided.get(), 2);
        for i in 0..KNOWN_SQL_CACHE * 3 {
            cache.answer(&format!("SELECT {i} AS n"), decide);
            assert!(cache.0.len() <= KNOWN_SQL_CACHE);
        }
        assert_eq!(decided.get(), 2 + KNOWN_SQL_CACHE * 3);
    }
}
