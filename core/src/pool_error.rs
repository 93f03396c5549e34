//! The errors of getting a database session: [`PoolError`] and the classification of a
//! failed login, [`ConnectFailure`]. Below both `pool` (which produces them) and `query`
//! (whose `QueryError::Pool` carries them), so neither imports the other's errors in a
//! circle; `dmexp_core::pool` re-exports both.

use std::time::Duration;

/// Errors building a connection string or a pool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// The connection string cannot be built from the config.
    #[error("datasource `{datasource}`: {reason}")]
    ConnectionString {
        /// Datasource name.
        datasource: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The ODBC environment could not be created (driver manager missing?).
    #[error("cannot initialise ODBC (is unixODBC installed?): {0}")]
    Environment(String),
    /// Every connection of the pool stayed in use for the whole wait: the pool is busy, the
    /// database may be fine.
    #[error("timed out after {0:?} waiting for a free connection")]
    TimedOut(Duration),
    /// Opening a connection failed (one login attempt).
    #[error("{message}")]
    Connect {
        /// What went wrong, redacted (never contains the password or connection string).
        message: String,
        /// Five-character SQLSTATE when the driver gave one.
        sqlstate: Option<String>,
        /// Driver-native error code when known (DM: negative codes).
        native: Option<i32>,
        /// What kind of failure this is.
        kind: ConnectFailure,
    },
    /// The pool was closed (its configuration was replaced by a reload).
    #[error("the connection pool was closed")]
    Closed,
}

/// Why opening a connection failed (finding L9: classified from SQLSTATE and native codes,
/// never from message text that may contain a host name or port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// Wrong user or password: SQLSTATE 28000 / 28P01, DM native -2501. Retried only with
    /// a long backoff, because DM locks accounts after repeated failed logins.
    Login,
    /// The server refused another session for this user or instance: PostgreSQL SQLSTATE
    /// 53300. (DM's SESSION_PER_USER / MAX_SESSIONS error codes are not documented
    /// publicly; such a refusal is handled by the "other connections alive" rule anyway.)
    SessionLimit,
    /// A read-only pool's connection could not be made, or verified, read-only.
    ReadOnly,
    /// Anything else: network, driver, `connectionInitSql`.
    Other,
}

impl ConnectFailure {
    /// Classifies a connect failure from its SQLSTATE and native code.
    pub fn classify(sqlstate: Option<&str>, native: Option<i32>) -> ConnectFailure {
        match (sqlstate, native) {
            (Some("28000" | "28P01"), _) | (_, Some(-2501)) => ConnectFailure::Login,
            (Some("53300"), _) => ConnectFailure::SessionLimit,
            _ => ConnectFailure::Other,
        }
    }
}
