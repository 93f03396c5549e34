//! `--check-connection` (the connection doctor): one login per enabled datasource, then
//! every enabled collector once, each outcome classified the way a scrape classifies it
//! (ok, not applicable, permission denied with the GRANT that fixes it, error). Custom
//! metrics run on their read-only pool, exactly as when serving. Nothing is cached, nothing
//! is exposed, and health state is not touched: this is a one-shot report for a human.

use std::panic::AssertUnwindSafe;

use super::*;
use crate::collector::grant_statements;
use crate::pool::ConnectFailure;

/// Why a login failed, for the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginProblem {
    /// Wrong user or password (SQLSTATE 28000 / 28P01, DM -2501).
    BadPassword,
    /// The server cannot be reached: SQLSTATE class 08, a login timeout (HYT00/HYT01), or
    /// connecting did not finish in time.
    Unreachable,
    /// The ODBC driver is not registered or does not load (check_driver, SQLSTATE IM002/IM003).
    DriverMissing,
    /// The server refused another session for this user (PostgreSQL 53300).
    SessionLimit,
    /// Anything else (`connectionInitSql`, a read-only session refused, …).
    Other,
}

impl LoginProblem {
    /// Classifies a failed checkout.
    pub fn of(error: &QueryError) -> LoginProblem {
        let QueryError::Pool(PoolError::Connect { kind, sqlstate, message, .. }) = error else {
            return LoginProblem::Other;
        };
        match kind {
            ConnectFailure::Login => return LoginProblem::BadPassword,
            ConnectFailure::SessionLimit => return LoginProblem::SessionLimit,
            _ => {}
        }
        match sqlstate.as_deref() {
            Some("IM002" | "IM003") => LoginProblem::DriverMissing,
            Some(s) if s.starts_with("08") || s == "HYT00" || s == "HYT01" => {
                LoginProblem::Unreachable
            }
            // The pool's own create timeout (no SQLSTATE): the driver did not answer in time.
            None if message.starts_with("connecting did not finish within") => {
                LoginProblem::Unreachable
            }
            _ => LoginProblem::Other,
        }
    }

    /// Short description: `bad user or password`, `server unreachable`, …
    pub fn as_str(self) -> &'static str {
        match self {
            LoginProblem::BadPassword => "bad user or password",
            LoginProblem::Unreachable => "server unreachable",
            LoginProblem::DriverMissing => "ODBC driver missing",
            LoginProblem::SessionLimit => "session limit reached",
            LoginProblem::Other => "login failed",
        }
    }
}

/// A failed login.
#[derive(Debug, Clone)]
pub struct LoginFailure {
    /// The classification.
    pub problem: LoginProblem,
    /// SQLSTATE, when the driver gave one.
    pub sqlstate: Option<String>,
    /// Native error code, when the driver gave one.
    pub native: Option<i32>,
    /// The (redacted) message.
    pub message: String,
}

/// A successful login: what the server said about itself.
#[derive(Debug, Clone)]
pub struct LoginInfo {
    /// `SQL_DBMS_NAME` as the driver reports it (`DM`, `PostgreSQL`, `SQLite`).
    pub dbms: String,
    /// The labels of the version probe's first sample, or why it failed; `None` when no
    /// probe was given.
    pub server_version: Option<Result<Vec<String>, String>>,
    /// Whether the exporter's session is read-only: `Ok(None)` when the engine cannot tell.
    pub session_read_only: Result<Option<bool>, String>,
    /// The same for the read-only session custom metrics and plugins run on, when the
    /// datasource has one.
    pub custom_session_read_only: Option<Result<Option<bool>, String>>,
}

/// The outcome of one collector.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CollectorOutcome {
    /// Ran; `series` samples.
    Ok {
        /// Samples produced.
        series: usize,
    },
    /// A view, table or schema it reads does not exist in this DM build or topology.
    NotApplicable {
        /// The driver's error.
        error: String,
    },
    /// The user may not read an object it needs.
    PermissionDenied {
        /// The driver's error.
        error: String,
        /// The statements that would fix it (empty when its objects are not known).
        grants: Vec<String>,
    },
    /// Any other failure.
    Error {
        /// What went wrong.
        error: String,
    },
}

/// One collector's line of the report.
#[derive(Debug, Clone)]
pub struct CollectorCheck {
    /// Collector name (the `collector` label).
    pub name: String,
    /// What happened.
    pub outcome: CollectorOutcome,
    /// How long it took.
    pub duration: Duration,
}

/// The report of one datasource.
#[derive(Debug, Clone)]
pub struct DatasourceCheck {
    /// Configured name.
    pub name: String,
    /// The `datasource` label.
    pub label: String,
    /// False for `enabled = false` (nothing was tried).
    pub enabled: bool,
    /// The login.
    pub login: Result<LoginInfo, LoginFailure>,
    /// Every enabled collector that runs SQL, in the runtime's order (empty when the login
    /// failed).
    pub collectors: Vec<CollectorCheck>,
}

impl Runtime {
    /// Checks every datasource in config order (see the module docs). `version_probe` is a
    /// collector whose first sample's labels describe the server version (the built-in
    /// `version` collector); it runs on the login session.
    pub async fn check_connections(
        &self,
        version_probe: Option<Arc<dyn Collector>>,
    ) -> Vec<DatasourceCheck> {
        let mut out = Vec::new();
        for ds in &self.datasources {
            out.push(check_datasource(ds, version_probe.clone()).await);
        }
        out
    }
}

fn failure(problem: LoginProblem, message: String) -> LoginFailure {
    LoginFailure { problem, sqlstate: None, native: None, message }
}

async fn check_datasource(
    ds: &Arc<DatasourceRuntime>,
    version_probe: Option<Arc<dyn Collector>>,
) -> DatasourceCheck {
    let mut check = DatasourceCheck {
        name: ds.config.name.clone(),
        label: ds.label.clone(),
        enabled: ds.config.enabled,
        login: Err(failure(LoginProblem::Other, "disabled".into())),
        collectors: Vec::new(),
    };
    let Some(pool) = ds.pool.clone() else { return check };
    // dbHost mode names the driver: check it before the login (its message says what to do).
    if ds.config.connection.odbc_connection_string.is_none() {
        let driver = ds.config.connection.odbc_driver.clone();
        let found = tokio::task::spawn_blocking(move || crate::odbc_driver::check_driver(&driver))
            .await
            .unwrap_or_else(|e| {
                Err(crate::odbc_driver::DriverProblem::NotLoadable {
                    path: Default::default(),
                    reason: e.to_string(),
                    missing_dependency: None,
                })
            });
        if let Err(problem) = found {
            check.login = Err(failure(LoginProblem::DriverMissing, problem.to_string()));
            return check;
        }
    }
    let budget = per_collector_budget(ds);
    let guard = match pool.get(budget).await {
        Ok(g) => g,
        Err(error) => {
            let (sqlstate, native) = match &error {
                QueryError::Pool(PoolError::Connect { sqlstate, native, .. }) => {
                    (sqlstate.clone(), *native)
                }
                _ => (None, None),
            };
            check.login = Err(LoginFailure {
                problem: LoginProblem::of(&error),
                sqlstate,
                native,
                message: error.to_string(),
            });
            return check;
        }
    };
    let config = Arc::clone(&ds.shared_config);
    let timeout = usize::try_from(ds.config.connection.query_timeout.as_secs().max(1)).ok();
    let until = deadline_after(Instant::now(), budget);
    let login = tokio::task::spawn_blocking(move || {
        let mut guard = guard;
        let dbms = guard.conn().and_then(|c| c.database_management_system_name().ok());
        let read_only = guard.session_read_only(timeout).map_err(|e| e.to_string());
        let version = version_probe.map(|probe| {
            let mut ctx = BlockingContext::new(guard, config, until);
            let mut samples = Vec::new();
            match probe.collect(&mut ctx, &mut samples) {
                Ok(()) => Ok(samples.into_iter().next().map(|s| s.labels).unwrap_or_default()),
                Err(e) => Err(e.to_string()),
            }
        });
        (dbms.unwrap_or_default(), read_only, version)
    })
    .await;
    let (dbms, session_read_only, server_version) = match login {
        Ok(parts) => parts,
        Err(e) => (String::new(), Err(e.to_string()), None),
    };
    let mut info =
        LoginInfo { dbms, server_version, session_read_only, custom_session_read_only: None };
    // The read-only pool of custom metrics and plugins (one per datasource), if any.
    if let Some(ro) = ds.collectors.iter().find_map(|c| c.pool.clone()) {
        info.custom_session_read_only = Some(match ro.get(budget).await {
            Ok(mut g) => tokio::task::spawn_blocking(move || {
                g.session_read_only(timeout).map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string())),
            Err(e) => Err(e.to_string()),
        });
    }
    check.login = Ok(info);
    for c in ds.collectors.iter().filter(|c| c.collector.needs_connection()) {
        check.collectors.push(check_collector(ds, c).await);
    }
    check
}

async fn check_collector(ds: &Arc<DatasourceRuntime>, c: &CollectorRuntime) -> CollectorCheck {
    let started = Instant::now();
    let done =
        |outcome| CollectorCheck { name: c.name.clone(), outcome, duration: started.elapsed() };
    let Some(pool) = c.pool.clone().or_else(|| ds.pool.clone()) else {
        return done(CollectorOutcome::Error { error: "no connection pool".into() });
    };
    let budget = per_collector_budget(ds);
    let guard = match pool.get(budget).await {
        Ok(g) => g,
        Err(e) => return done(CollectorOutcome::Error { error: format!("no connection: {e}") }),
    };
    let collector = Arc::clone(&c.collector);
    let config = Arc::clone(&ds.shared_config);
    let until = deadline_after(Instant::now(), budget);
    let task = tokio::task::spawn_blocking(move || {
        let mut ctx = BlockingContext::new(guard, config, until);
        let mut samples = Vec::new();
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            collector.collect(&mut ctx, &mut samples)
        }));
        (result, samples.len())
    });
    let limit = budget + Duration::from_secs(1);
    let outcome = match tokio::time::timeout(limit, task).await {
        Err(_) => CollectorOutcome::Error { error: format!("timed out after {budget:?}") },
        Ok(Err(e)) => CollectorOutcome::Error { error: e.to_string() },
        Ok(Ok((Err(_), _))) => CollectorOutcome::Error { error: "the collector panicked".into() },
        Ok(Ok((Ok(Ok(())), series))) => CollectorOutcome::Ok { series },
        Ok(Ok((Ok(Err(error)), _))) => match SkipReason::of(&error) {
            Some(SkipReason::NotApplicable) => {
                CollectorOutcome::NotApplicable { error: error.to_string() }
            }
            Some(SkipReason::Permission) => {
                let views =
                    registered().into_iter().find(|d| d.name == c.name).map_or("", |d| d.views);
                let user = match ds.config.connection.db_user.as_str() {
                    "" => "<dbUser>",
                    u => u,
                };
                let grants = grant_statements(views, &error.to_string(), user);
                CollectorOutcome::PermissionDenied { error: error.to_string(), grants }
            }
            None => CollectorOutcome::Error { error: error.to_string() },
        },
    };
    done(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect_error(sqlstate: Option<&str>, native: Option<i32>, message: &str) -> QueryError {
        QueryError::Pool(PoolError::Connect {
            message: message.into(),
            sqlstate: sqlstate.map(str::to_owned),
            native,
            kind: ConnectFailure::classify(sqlstate, native),
        })
    }

    #[test]
    fn login_failures_are_classified_by_code() {
        use LoginProblem::*;
        assert_eq!(LoginProblem::of(&connect_error(Some("28000"), Some(-2501), "x")), BadPassword);
        assert_eq!(LoginProblem::of(&connect_error(Some("HY000"), Some(-2501), "x")), BadPassword);
        assert_eq!(LoginProblem::of(&connect_error(Some("08001"), Some(101), "x")), Unreachable);
        assert_eq!(LoginProblem::of(&connect_error(Some("HYT00"), None, "x")), Unreachable);
        assert_eq!(LoginProblem::of(&connect_error(Some("IM002"), Some(0), "x")), DriverMissing);
        assert_eq!(LoginProblem::of(&connect_error(Some("53300"), Some(0), "x")), SessionLimit);
        assert_eq!(
            LoginProblem::of(&connect_error(None, None, "connecting did not finish within 3s")),
            Unreachable
        );
        // A message naming port 28000 is not a password problem.
        assert_eq!(LoginProblem::of(&connect_error(Some("HY000"), Some(7), "port 28000")), Other);
        assert_eq!(LoginProblem::of(&QueryError::Connection("x".into())), Other);
    }
}
