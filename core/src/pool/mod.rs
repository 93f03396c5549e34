//! One bounded ODBC connection pool per datasource.
//!
//! Built on `deadpool` (a maintained async pool) with every ODBC call on a blocking thread,
//! never on the async runtime. One process-wide ODBC `Environment` (odbc-api's
//! `environment()`). `maxOpenConns` bounds the sessions of all pools of a datasource together
//! (the read-write pool and the read-only pools made from it share one session budget, see
//! `budget.rs`), `connMaxLifetime` recycles connections, `maxIdleConns` caps how many
//! connections the datasource keeps idle (extra ones are closed when returned). A checkout
//! that needs a new connection makes exactly one login attempt and nothing connects in the
//! background, so a datasource with a wrong password is only tried by the health checker,
//! with backoff (DM locks accounts after repeated failed logins).
//! r2d2 was tried first and dropped: its checkout retries logins in a loop until timeout.
//!
//! **Read-only pools** ([`DatasourcePool::new_read_only`]) serve SQL the exporter did not
//! write (custom metrics, plugins): defence in depth behind the SQL proof (dmexp-sqlguard), so
//! a statement that slips past it cannot change data on DM8 or SQLite (on PostgreSQL see the
//! known limitation below). Every connection asks for `SQL_ATTR_ACCESS_MODE =
//! SQL_MODE_READ_ONLY` before connecting (DM8 honours it: writes fail with -6506), then,
//! because some drivers ignore that attribute, the engine found from the DBMS name (or the
//! connection string's driver) gets its own session setting, checked before the connection
//! is used: PostgreSQL `SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY`, SQLite
//! `PRAGMA query_only = ON`. A connection that cannot be made read-only is refused (fail
//! closed). The mechanism is logged at debug level per connection.
//!
//! **PostgreSQL re-assertion.** A function called from a `SELECT` (`set_config(
//! 'default_transaction_read_only', 'off', false)`, or a user PL/pgSQL function running
//! `SET`) can turn the session default off for the *next* transaction, so the session
//! statement is run again — one more round trip — when the connection may have been changed.
//! A fresh connection is read-only (set and verified above). Each connection keeps a
//! *tainted* flag: a query that may call a function not known to be side-effect free
//! ([`dmexp_sqlguard::calls_only_known_functions`]: only PostgreSQL built-ins such as `COUNT`,
//! `COALESCE`, `UPPER`, `TO_CHAR`, `NOW`; the answer is cached per connection and SQL text)
//! taints the connection, and so does any failed query (part of it may have run). The
//! statement is re-run before a query on a tainted connection (clearing the flag when it
//! succeeds) and also before a query that itself may call such a function, so an explicit
//! call always runs in a transaction whose read-only default was just asserted. Queries that
//! call only known built-ins (most monitoring SQL) cost no extra round trip.
//!
//! Known limitation: the check reads the SQL text only. A function called where the text
//! does not show it — inside a view (`SELECT COUNT(*) FROM v` where `v` calls `set_config`),
//! through PostgreSQL's attribute notation (`t.f` meaning `f(t)`), or a user-created
//! overload of a known built-in's name — is not seen, so such a view can leave the session
//! read-write for the next query that calls only known functions (which can then write only
//! through another such hidden call), and a hidden `lo_create` or `pg_advisory_lock`, which
//! PostgreSQL allows in read-only transactions, has its effect (RELIABILITY finding L13). This concerns PostgreSQL only, the test and emulation
//! engine: on DM8, the production engine, read-only is the connection attribute
//! `SQL_ATTR_ACCESS_MODE`, enforced by the server for every statement, and SQLite's
//! `query_only` cannot be changed from a `SELECT`; neither re-asserts anything.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dmexp_config::{DatasourceConfig, Secret};
use odbc_api::{Connection, ConnectionOptions};

mod budget;
mod connstr;
mod read_only;

pub use budget::PoolStats;
use budget::{Checkout, SessionBudget, CHECKOUT};
pub use connstr::connection_string;
use connstr::{declare_fetch_for_postgres, redact};
pub use read_only::Engine;
use read_only::{connect, enforce_read_only, run_keeping_read_only, KnownSql, ReadOnlySession};

pub use crate::pool_error::{ConnectFailure, PoolError};
use crate::query::QueryError;

/// A connect failure from an odbc-api error, redacted.
fn connect_error(error: &odbc_api::Error, cs: &Secret, context: &str) -> QueryError {
    let (sqlstate, native) = match error {
        odbc_api::Error::Diagnostics { record, .. } => {
            (Some(String::from_utf8_lossy(&record.state.0).into_owned()), Some(record.native_error))
        }
        _ => (None, None),
    };
    let kind = ConnectFailure::classify(sqlstate.as_deref(), native);
    QueryError::Pool(PoolError::Connect {
        message: format!("{context}{}", redact(&error.to_string(), cs)),
        sqlstate,
        native,
        kind,
    })
}

fn environment() -> Result<&'static odbc_api::Environment, PoolError> {
    odbc_api::environment().map_err(|e| PoolError::Environment(e.to_string()))
}

/// An open ODBC connection plus a flag to close it instead of returning it to the pool.
pub struct OdbcConn {
    conn: Connection<'static>,
    discard: bool,
    /// Feature probes (view/column existence) answered on this connection: valid for the
    /// connection's lifetime, so a probe runs once per connection, not every scrape.
    probes: HashMap<String, bool>,
    /// Set on connections of a read-only pool: how they were made read-only.
    read_only: Option<ReadOnlySession>,
    /// PostgreSQL read-only connections: a query since read-only mode was last asserted may
    /// have changed it (see the module docs). False for a fresh connection.
    tainted: bool,
    /// PostgreSQL read-only connections: which SQL texts call only functions known to be
    /// side-effect free, so a text is parsed once per connection, not every scrape.
    known_sql: KnownSql,
    /// The engine, from the DBMS name the driver reports (or the connection string).
    engine: Engine,
    /// Shared by the pool's connections: a refused `SQL_ATTR_QUERY_TIMEOUT` was logged.
    timeout_warned: Arc<std::sync::atomic::AtomicBool>,
    datasource: Arc<str>,
    /// This session's slot of the datasource's [`SessionBudget`], freed when it is closed.
    /// Declared after `conn`, so the slot is freed only once the session is disconnected.
    _slot: tokio::sync::OwnedSemaphorePermit,
}

impl OdbcConn {
    fn new(
        conn: Connection<'static>,
        read_only: Option<ReadOnlySession>,
        engine: Engine,
        manager: &Manager,
        slot: tokio::sync::OwnedSemaphorePermit,
    ) -> Self {
        OdbcConn {
            _slot: slot,
            conn,
            discard: false,
            probes: HashMap::new(),
            read_only,
            tainted: false,
            known_sql: KnownSql::default(),
            engine,
            timeout_warned: Arc::clone(&manager.timeout_warned),
            datasource: Arc::clone(&manager.datasource),
        }
    }

    /// Runs a statement with `read` (one of [`crate::query::run_query_noted`],
    /// [`crate::query::run_query_each`]), warning once per pool when the driver refuses
    /// `SQL_ATTR_QUERY_TIMEOUT` (the watchdog enforces it then).
    fn run<T>(&self, read: impl ReadWith<T>) -> Result<T, QueryError> {
        let mut notes = crate::query::ExecNotes::default();
        let result = read(&self.conn, &mut notes);
        if let Some(why) = notes.timeout_refused {
            if !self.timeout_warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(datasource = %self.datasource, error = %why, "The ODBC driver refused SQL_ATTR_QUERY_TIMEOUT; query deadlines are enforced with SQLCancel instead.");
            }
        }
        result
    }

    /// Runs `sql` with `read` on a PostgreSQL read-only connection, re-running the session
    /// statement `reassert` first when [`run_keeping_read_only`] says so.
    fn query_keeping_read_only<T>(
        &mut self,
        reassert: &'static str,
        sql: &str,
        timeout_secs: Option<usize>,
        read: impl ReadWith<T>,
    ) -> Result<T, QueryError> {
        let known = self.known_sql.answer(sql, dmexp_sqlguard::calls_only_known_functions);
        let mut tainted = self.tainted;
        let this = &*self;
        let conn = &this.conn;
        let result = run_keeping_read_only(
            &mut tainted,
            known,
            || {
                let mut notes = crate::query::ExecNotes::default();
                crate::query::execute_noted(conn, reassert, timeout_secs, &mut notes).map_err(|e| {
                    match e {
                        QueryError::Driver { message, sqlstate, native, connection_lost } => {
                            QueryError::Driver {
                                message: format!(
                                    "cannot keep the connection read-only ({reassert}): {message}"
                                ),
                                sqlstate,
                                native,
                                connection_lost,
                            }
                        }
                        other => other,
                    }
                })
            },
            || this.run(read),
        );
        self.tainted = tainted;
        result
    }
}

/// Reads one statement's result on a connection: [`crate::query::run_query_noted`] or
/// [`crate::query::run_query_each`] with their arguments bound.
trait ReadWith<T>:
    FnOnce(&odbc_api::Connection<'static>, &mut crate::query::ExecNotes) -> Result<T, QueryError>
{
}

impl<T, F> ReadWith<T> for F where
    F: FnOnce(
        &odbc_api::Connection<'static>,
        &mut crate::query::ExecNotes,
    ) -> Result<T, QueryError>
{
}

/// deadpool manager for one datasource. `create` makes exactly one login attempt, on a
/// blocking thread; `recycle` drops connections that are dead, discarded or older than
/// `connMaxLifetime`.
struct Manager {
    datasource: Arc<str>,
    connection_string: Secret,
    login_timeout_sec: u32,
    max_lifetime: Duration,
    init_sql: Arc<[String]>,
    /// Connections of this pool are made read-only (see the module docs).
    read_only: bool,
    /// `SQL_ATTR_CONNECTION_TIMEOUT` asked for before connecting.
    connection_timeout_sec: u32,
    /// A refused `SQL_ATTR_QUERY_TIMEOUT` was logged (once per pool).
    timeout_warned: Arc<std::sync::atomic::AtomicBool>,
    /// A connection that could not be made read-only was logged at error level (once per
    /// pool; later refusals at debug level).
    read_only_refusal_logged: std::sync::atomic::AtomicBool,
    /// The datasource's session budget, shared with its other pools.
    budget: Arc<SessionBudget>,
    /// [`DatasourcePool::id`] of the pool this manager serves.
    pool_id: u64,
}

impl deadpool::managed::Manager for Manager {
    type Type = OdbcConn;
    type Error = QueryError;

    async fn create(&self) -> Result<OdbcConn, QueryError> {
        // A slot of the datasource's budget first: no login while maxOpenConns sessions
        // are open in all its pools together.
        let slot = self.budget.acquire(self.pool_id).await?;
        let login_started = std::time::Instant::now();
        let created = self.connect().await;
        let _ = CHECKOUT.try_with(|c| c.login.set(c.login.get() + login_started.elapsed()));
        let (conn, read_only, engine) = created?;
        tracing::debug!(datasource = %self.datasource, read_only = read_only.is_some(), engine = ?engine, "Opened ODBC connection.");
        Ok(OdbcConn::new(conn, read_only, engine, self, slot))
    }

    async fn recycle(
        &self,
        conn: &mut OdbcConn,
        metrics: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<QueryError> {
        if conn.discard {
            return Err(deadpool::managed::RecycleError::message("discarded"));
        }
        if metrics.age() > self.max_lifetime {
            return Err(deadpool::managed::RecycleError::message("connMaxLifetime reached"));
        }
        if connection_dead(conn.engine, || conn.conn.is_dead()) == Some(true) {
            return Err(deadpool::managed::RecycleError::message("connection is dead"));
        }
        Ok(())
    }
}

impl Manager {
    /// One login attempt on a blocking thread: connect, `connectionInitSql`, read-only mode.
    async fn connect(
        &self,
    ) -> Result<(Connection<'static>, Option<ReadOnlySession>, Engine), QueryError> {
        let cs = self.connection_string.clone();
        let login_timeout_sec = self.login_timeout_sec;
        let connection_timeout_sec = self.connection_timeout_sec;
        let init_sql = Arc::clone(&self.init_sql);
        let read_only = self.read_only;
        let datasource = Arc::clone(&self.datasource);
        let task = tokio::task::spawn_blocking(move || {
            let env = environment().map_err(QueryError::Pool)?;
            let opts =
                ConnectionOptions { login_timeout_sec: Some(login_timeout_sec), packet_size: None };
            let conn = connect(env, cs.expose(), opts, read_only, connection_timeout_sec)
                .map_err(|e| connect_error(&e, &cs, ""))?;
            let timeout = usize::try_from(login_timeout_sec).ok();
            for (i, stmt) in init_sql.iter().enumerate() {
                let mut notes = crate::query::ExecNotes::default();
                if let Err(e) = crate::query::execute_noted(&conn, stmt, timeout, &mut notes) {
                    let (sqlstate, native) = match &e {
                        QueryError::Driver { sqlstate, native, .. } => (sqlstate.clone(), *native),
                        _ => (None, None),
                    };
                    return Err(QueryError::Pool(PoolError::Connect {
                        message: format!(
                            "connectionInitSql statement {} failed: {}",
                            i + 1,
                            redact(&e.to_string(), &cs)
                        ),
                        sqlstate,
                        native,
                        kind: ConnectFailure::Other,
                    }));
                }
            }
            let dbms = conn.database_management_system_name().unwrap_or_default();
            let engine = Engine::detect(&dbms, cs.expose());
            let ro = if read_only {
                let ro = enforce_read_only(&conn, engine, timeout, &datasource).map_err(|e| {
                    QueryError::Pool(PoolError::Connect {
                        message: redact(&e.to_string(), &cs),
                        sqlstate: None,
                        native: None,
                        kind: ConnectFailure::ReadOnly,
                    })
                })?;
                Some(ro)
            } else {
                None
            };
            Ok((conn, ro, engine))
        });
        let created = task.await.map_err(|e| {
            QueryError::Pool(PoolError::Connect {
                message: format!("connect task failed: {e}"),
                sqlstate: None,
                native: None,
                kind: ConnectFailure::Other,
            })
        })?;
        let (conn, read_only, engine) = match created {
            Ok(c) => c,
            Err(e) => {
                let refused = matches!(
                    &e,
                    QueryError::Pool(PoolError::Connect { kind: ConnectFailure::ReadOnly, .. })
                );
                if refused {
                    if self
                        .read_only_refusal_logged
                        .swap(true, std::sync::atomic::Ordering::Relaxed)
                    {
                        tracing::debug!(datasource = %self.datasource, error = %e, "Connection for custom SQL refused again: not read-only.");
                    } else {
                        tracing::error!(datasource = %self.datasource, error = %e, "A connection for custom SQL is not read-only; custom metrics do not run on it (the connection is closed).");
                    }
                }
                return Err(e);
            }
        };
        Ok((conn, read_only, engine))
    }
}

/// `SQL_ATTR_CONNECTION_DEAD` where it can be trusted: `Some(dead)` from the PostgreSQL and
/// SQLite drivers (answered from the driver's state, no round trip), `None` ("unknown,
/// keep") when reading it fails and for every other engine. DM documents the attribute as
/// unsupported (docs/DM8_EVIDENCE.md F2), and odbc-api's `is_dead` panics on values other
/// than 0 and 1, so it is never read there: a dead DM connection is found by the query
/// error it gives (connection-level errors discard it, and the job is retried once on a
/// fresh connection).
fn connection_dead(
    engine: Engine,
    is_dead: impl FnOnce() -> Result<bool, odbc_api::Error>,
) -> Option<bool> {
    match engine {
        Engine::PostgreSql | Engine::Sqlite => is_dead().ok(),
        Engine::Dm | Engine::Other => None,
    }
}

type Pool = deadpool::managed::Pool<Manager>;

/// The connection pool of one datasource (deadpool: bounded, async checkout, one login
/// attempt per checkout that needs a new connection, no background reconnect storms).
#[derive(Clone)]
pub struct DatasourcePool {
    name: Arc<str>,
    pool: Pool,
    /// The datasource's session budget, shared with its other pools.
    budget: Arc<SessionBudget>,
    max_open: usize,
    read_only: bool,
    /// Unique per pool built (clones share it): tells whether two collectors share a pool.
    id: u64,
}

impl std::fmt::Debug for DatasourcePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatasourcePool")
            .field("name", &self.name)
            .field("max_open", &self.max_open)
            .field("budget", &self.budget)
            .field("read_only", &self.read_only)
            .finish()
    }
}

/// `SQL_ATTR_CONNECTION_TIMEOUT` for a datasource: twice its query timeout plus 5 s, so that
/// it never cuts a query the watchdog would let run, and still ends a request that hangs.
fn connection_timeout_sec(query_timeout: Duration) -> u32 {
    u32::try_from(query_timeout.as_secs().saturating_mul(2).saturating_add(5)).unwrap_or(u32::MAX)
}

/// How long an idle connection is kept before the health checker closes it.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

impl DatasourcePool {
    /// Creates the pool without connecting.
    ///
    /// The pool starts the datasource's session budget: `maxOpenConns` sessions in total
    /// for this pool and every read-only pool made from it with
    /// [`DatasourcePool::read_only_pool`].
    pub fn new(ds: &DatasourceConfig) -> Result<Self, PoolError> {
        let budget = Self::budget_of(ds);
        Self::build(ds, budget.max_open(), false, budget)
    }

    /// Creates a read-only pool of at most `max_size` connections (capped by maxOpenConns)
    /// without connecting, with a session budget of its own (`--test-custom-metrics`).
    /// Every connection is made read-only before use, or refused (see the module docs).
    pub fn new_read_only(ds: &DatasourceConfig, max_size: usize) -> Result<Self, PoolError> {
        let budget = Self::budget_of(ds);
        Self::build(ds, max_size.clamp(1, budget.max_open()), true, budget)
    }

    /// The datasource's read-only pool, for SQL the exporter did not write (custom metrics,
    /// plugins): made on first use (without connecting), then shared by every caller while
    /// it lives (custom metrics and plugins, and the runtime built by a reload that kept
    /// this pool), so read-only sessions are reused instead of split over pools. It draws on
    /// this pool's session budget: the datasource never holds more than `maxOpenConns`
    /// sessions in all its pools together. `ds` is the datasource's configuration (the
    /// connection settings of this pool).
    pub fn read_only_pool(&self, ds: &DatasourceConfig) -> Result<Self, PoolError> {
        let budget = Arc::clone(&self.budget);
        let mut slot = budget.read_only_slot();
        if let Some((id, pool)) = slot.as_ref().and_then(|(id, w)| w.upgrade().map(|p| (*id, p))) {
            return Ok(DatasourcePool {
                id,
                name: Arc::clone(&self.name),
                pool,
                budget: Arc::clone(&budget),
                max_open: budget.max_open(),
                read_only: true,
            });
        }
        let made = Self::build(ds, budget.max_open(), true, Arc::clone(&budget))?;
        *slot = Some((made.id, made.pool.weak()));
        Ok(made)
    }

    fn budget_of(ds: &DatasourceConfig) -> Arc<SessionBudget> {
        let max_open = usize::try_from(ds.connection.max_open_conns.max(1)).unwrap_or(1);
        let max_idle = usize::try_from(ds.connection.max_idle_conns).unwrap_or(1);
        SessionBudget::new(max_open, max_idle)
    }

    fn build(
        ds: &DatasourceConfig,
        max_open: usize,
        read_only: bool,
        budget: Arc<SessionBudget>,
    ) -> Result<Self, PoolError> {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        environment()?;
        let mut connection_string = connection_string(ds)?;
        if read_only {
            connection_string = declare_fetch_for_postgres(connection_string);
        }
        // `dbHost` `?connectTimeout=<ms>` (F9) or the query timeout.
        let login_timeout =
            connstr::login_timeout_option(ds).unwrap_or(ds.connection.query_timeout);
        let login_timeout_sec = u32::try_from(login_timeout.as_secs().max(1)).unwrap_or(300);
        let name: Arc<str> = ds.name.as_str().into();
        let manager = Manager {
            datasource: Arc::clone(&name),
            connection_string,
            login_timeout_sec,
            max_lifetime: ds.connection.conn_max_lifetime.max(Duration::from_secs(1)),
            init_sql: ds.connection.connection_init_sql.clone().into(),
            read_only,
            connection_timeout_sec: connection_timeout_sec(ds.connection.query_timeout),
            timeout_warned: Arc::default(),
            read_only_refusal_logged: std::sync::atomic::AtomicBool::new(false),
            budget: Arc::clone(&budget),
            pool_id: id,
        };
        let pool = Pool::builder(manager)
            .max_size(max_open)
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| PoolError::ConnectionString {
                datasource: ds.name.clone(),
                reason: format!("cannot build the pool: {e}"),
            })?;
        budget.register(id, pool.weak());
        Ok(DatasourcePool { id, name, pool, budget, max_open, read_only })
    }

    /// Identifies the pool: equal for clones of one pool, different for pools built apart.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// True for a pool made with [`DatasourcePool::new_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Datasource name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The most connections this pool holds at once (`maxOpenConns` for the datasource's
    /// pool; read-only pools may be smaller). The datasource's pools together hold at most
    /// `maxOpenConns`.
    pub fn max_open(&self) -> usize {
        self.max_open
    }

    /// The datasource's sessions over all its pools (the budget this pool draws on).
    pub fn stats(&self) -> PoolStats {
        self.budget.stats()
    }

    /// Checks out a connection, waiting at most `timeout` for a free slot (of this pool and
    /// of the datasource's session budget); opens a new connection (one login attempt) when
    /// none is idle. Time spent waiting, not logging in, adds to [`PoolStats::wait`].
    pub async fn get(&self, timeout: Duration) -> Result<PoolGuard, QueryError> {
        let started = std::time::Instant::now();
        let checkout = Checkout {
            until: started + timeout,
            timeout,
            login: std::cell::Cell::new(Duration::ZERO),
            budget_wait: std::cell::Cell::new(Duration::ZERO),
        };
        let (result, blocked) = CHECKOUT
            .scope(checkout, async {
                let result = self.checkout(timeout, Duration::ZERO).await;
                let blocked = matches!(
                    result,
                    Err(deadpool::managed::PoolError::Timeout(
                        deadpool::managed::TimeoutType::Wait
                    ))
                );
                let result = if blocked {
                    // Every connection of this pool is checked out: wait for one.
                    self.checkout(timeout, timeout).await
                } else {
                    result
                };
                let waited = if blocked {
                    started.elapsed().saturating_sub(CHECKOUT.with(|c| c.login.get()))
                } else {
                    CHECKOUT.with(|c| c.budget_wait.get())
                };
                self.budget.add_wait(waited);
                (result, blocked)
            })
            .await;
        let wait = if blocked { timeout } else { Duration::ZERO };
        let timeouts = self.timeouts(timeout, wait);
        match result {
            Ok(obj) => Ok(PoolGuard { obj: Some(obj), budget: Arc::clone(&self.budget) }),
            Err(deadpool::managed::PoolError::Backend(e)) => Err(e),
            Err(deadpool::managed::PoolError::Timeout(deadpool::managed::TimeoutType::Create)) => {
                Err(QueryError::Pool(PoolError::Connect {
                    message: format!(
                        "connecting did not finish within {:?}",
                        timeouts.create.unwrap_or(timeout)
                    ),
                    sqlstate: None,
                    native: None,
                    kind: ConnectFailure::Other,
                }))
            }
            Err(deadpool::managed::PoolError::Timeout(_)) => {
                Err(QueryError::Pool(PoolError::TimedOut(timeout)))
            }
            Err(deadpool::managed::PoolError::Closed) => Err(QueryError::Pool(PoolError::Closed)),
            Err(e) => Err(QueryError::Pool(PoolError::Connect {
                message: e.to_string(),
                sqlstate: None,
                native: None,
                kind: ConnectFailure::Other,
            })),
        }
    }

    /// deadpool's timeouts of a checkout: `wait` for a free connection of this pool; the
    /// creation covers the wait for a slot of the budget (at most `timeout`, then
    /// [`PoolError::TimedOut`]) and the login.
    fn timeouts(&self, timeout: Duration, wait: Duration) -> deadpool::managed::Timeouts {
        deadpool::managed::Timeouts {
            wait: Some(wait),
            create: Some(timeout + timeout + Duration::from_secs(1)),
            recycle: Some(Duration::from_secs(5)),
        }
    }

    async fn checkout(
        &self,
        timeout: Duration,
        wait: Duration,
    ) -> Result<deadpool::managed::Object<Manager>, deadpool::managed::PoolError<QueryError>> {
        self.pool.timeout_get(&self.timeouts(timeout, wait)).await
    }

    /// Connections of this pool currently open (idle + in use).
    pub fn open_connections(&self) -> usize {
        self.pool.status().size
    }

    /// Idle connections of this pool.
    pub fn idle_connections(&self) -> usize {
        self.pool.status().available
    }

    /// Closes connections idle for longer than [`IDLE_TIMEOUT`], in every pool of the
    /// datasource.
    pub fn close_idle(&self) {
        drop(self.budget.retain_idle(|m| m.last_used() >= IDLE_TIMEOUT));
        self.budget.notify();
    }

    /// Closes every idle connection of every pool of the datasource: after a
    /// connection-level failure they are most likely dead too (server restarted, network
    /// cut), and the next checkout must reconnect instead of draining dead connections one
    /// failure at a time.
    pub fn clear_idle(&self) {
        drop(self.budget.retain_idle(|_| true));
        self.budget.notify();
    }

    /// Closes the pool: idle connections are dropped, checked-out ones when returned.
    pub fn close(&self) {
        self.pool.close();
    }
}

/// A checked-out connection. Returned to the pool on drop, or closed when the pool already
/// holds `maxIdleConns` idle connections or the connection broke.
pub struct PoolGuard {
    obj: Option<deadpool::managed::Object<Manager>>,
    /// The datasource's budget: `maxIdleConns` counts idle sessions over all its pools.
    budget: Arc<SessionBudget>,
}

impl PoolGuard {
    /// The ODBC connection.
    pub fn conn(&self) -> Option<&Connection<'static>> {
        self.obj.as_ref().map(|c| &c.conn)
    }

    /// The engine of the connection (from the DBMS name its driver reports); [`Engine::Other`]
    /// once released.
    pub fn engine(&self) -> Engine {
        self.obj.as_ref().map_or(Engine::Other, |c| c.engine)
    }

    /// When the connection was opened.
    pub fn created_at(&self) -> Option<std::time::Instant> {
        self.obj.as_ref().map(|o| deadpool::managed::Object::metrics(o).created)
    }

    /// True when the connection was marked unusable (it will be closed, not returned).
    pub fn is_discarded(&self) -> bool {
        self.obj.as_ref().is_none_or(|c| c.discard)
    }

    /// Marks the connection unusable: it is closed instead of returned.
    pub fn discard(&mut self) {
        if let Some(c) = self.obj.as_mut() {
            c.discard = true;
        }
    }

    /// Runs a query on this connection (blocking: call on a blocking thread).
    pub fn query(
        &mut self,
        sql: &str,
        timeout_secs: Option<usize>,
        max_rows: Option<usize>,
    ) -> Result<crate::query::Rows, QueryError> {
        self.statement(sql, timeout_secs, |conn, notes| {
            crate::query::run_query_noted(conn, sql, timeout_secs, max_rows, notes)
        })
    }

    /// Runs a query on this connection, handing each row to `visit` from reused buffers
    /// (see [`crate::query::run_query_each`]; blocking: call on a blocking thread).
    pub fn query_each(
        &mut self,
        sql: &str,
        timeout_secs: Option<usize>,
        max_rows: Option<usize>,
        visit: &mut dyn FnMut(&[String], crate::query::RowRef<'_>),
    ) -> Result<crate::query::ResultShape, QueryError> {
        self.statement(sql, timeout_secs, |conn, notes| {
            crate::query::run_query_each(conn, sql, timeout_secs, max_rows, notes, visit)
        })
    }

    /// Runs one statement with `read`, keeping a read-only session read-only, and discards
    /// the connection when the error says it is unusable.
    fn statement<T>(
        &mut self,
        sql: &str,
        timeout_secs: Option<usize>,
        read: impl ReadWith<T>,
    ) -> Result<T, QueryError> {
        let obj = self.obj.as_mut().ok_or_else(|| QueryError::Connection("released".into()))?;
        let result = match obj.read_only.and_then(|r| r.reassert) {
            Some(stmt) => obj.query_keeping_read_only(stmt, sql, timeout_secs, read),
            None => obj.run(read),
        };
        if let Err(e) = &result {
            if e.is_connection_level() {
                self.discard();
            }
        }
        result
    }
}

impl PoolGuard {
    /// Whether the session is read-only, asked from the server where the engine has a way
    /// (DM `V$SESSIONS.RDONLY`, PostgreSQL `transaction_read_only`, SQLite `query_only`):
    /// `Ok(None)` for an engine without one. For `--check-connection`.
    pub fn session_read_only(
        &mut self,
        timeout_secs: Option<usize>,
    ) -> Result<Option<bool>, QueryError> {
        let Some((sql, yes)) = self.obj.as_ref().and_then(|o| o.engine.read_only_check()) else {
            return Ok(None);
        };
        let rows = self.query(sql, timeout_secs, Some(1))?;
        let answer = rows.first().and_then(|r| crate::query::cell(r, 0)).map(str::trim);
        Ok(Some(answer.is_some_and(|a| yes.iter().any(|y| a.eq_ignore_ascii_case(y)))))
    }

    /// Answers a feature probe (`sql` returns one number; > 0 means present), cached on this
    /// connection under `key` for the connection's lifetime.
    pub fn probe(
        &mut self,
        key: &str,
        sql: &str,
        timeout_secs: Option<usize>,
    ) -> Result<bool, QueryError> {
        if let Some(v) = self.obj.as_ref().and_then(|o| o.probes.get(key)) {
            return Ok(*v);
        }
        let rows = self.query(sql, timeout_secs, Some(1))?;
        let present =
            rows.first().and_then(|r| crate::query::cell_f64(r, 0)).is_some_and(|n| n > 0.0);
        if let Some(o) = self.obj.as_mut() {
            o.probes.insert(key.to_owned(), present);
        }
        Ok(present)
    }
}

impl Drop for PoolGuard {
    fn drop(&mut self) {
        if let Some(obj) = self.obj.take() {
            // One return at a time, so that two sessions returned together do not both
            // find room under maxIdleConns.
            let returning = self.budget.returning();
            let close = if obj.discard || self.budget.idle_full() {
                Some(deadpool::managed::Object::take(obj))
            } else {
                drop(obj);
                None
            };
            drop(returning);
            // Closed here, outside the lock (this runs on a blocking thread after a query).
            drop(close);
            self.budget.notify();
        }
    }
}

#[cfg(test)]
mod tests;
