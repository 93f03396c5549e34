//! Running one query over an ODBC connection and reading every cell as text.
//!
//! Each statement runs exactly once (see [`run_query_noted`]): cells are read with
//! `SQLGetData` on the same cursor, whatever their length, and NULL becomes `None`. The
//! deadline is enforced by the driver's query timeout and by the [`crate::watchdog`]; the
//! row cap by `SQL_ATTR_MAX_ROWS`. Built-in SQL maps result columns by position, since
//! name case differs between engines (docs/DESIGN.md §7); custom metrics map them by name, so the
//! names are returned too, lower-cased (upstream's rule for custom metrics).

use odbc_api::handles::{slice_to_cow_utf8, AsStatementRef, Statement};
use odbc_api::{Connection, Cursor, ResultSetMetadata};

/// All rows of a result, cells as text, NULL as `None`.
///
/// Build one in a test with `..Default::default()` for the fields it does not care about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    /// The rows, each with one cell per selected column.
    pub rows: Vec<Vec<Option<String>>>,
    /// True when the row cap cut the result.
    pub truncated: bool,
    /// The result's column names (aliases where given), lower-cased, one per selected
    /// column; empty when the driver did not report them.
    pub columns: Vec<String>,
}

impl Rows {
    /// The first row, if any.
    pub fn first(&self) -> Option<&[Option<String>]> {
        self.rows.first().map(Vec::as_slice)
    }
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    /// True when there is no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    /// Position of the column named `name` (compared case-insensitively), if any.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.eq_ignore_ascii_case(name))
    }
}

/// A cell read as text, or `None` for NULL or a missing column.
pub fn cell(row: &[Option<String>], i: usize) -> Option<&str> {
    row.get(i).and_then(|c| c.as_deref())
}

/// A cell parsed as a number (`None` for NULL, a missing column or non-numeric text).
pub fn cell_f64(row: &[Option<String>], i: usize) -> Option<f64> {
    cell(row, i).and_then(|s| s.trim().parse::<f64>().ok())
}

/// One row of a result, borrowed: cells as text, NULL (or a missing column) as `None`.
///
/// A streamed query ([`run_query_each`], `CollectContext::query_each`) hands each row to
/// its visitor from buffers reused for every row, so reading a result allocates nothing
/// per row or cell.
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'a>(RowCells<'a>);

#[derive(Debug, Clone, Copy)]
enum RowCells<'a> {
    /// Cells as byte ranges of one text buffer.
    Buffer { text: &'a str, cells: &'a [Option<(usize, usize)>] },
    /// Cells of a [`Rows`] row.
    Owned(&'a [Option<String>]),
}

impl<'a> RowRef<'a> {
    /// A row of a [`Rows`] result.
    pub fn from_cells(cells: &'a [Option<String>]) -> Self {
        RowRef(RowCells::Owned(cells))
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        match self.0 {
            RowCells::Buffer { cells, .. } => cells.len(),
            RowCells::Owned(cells) => cells.len(),
        }
    }

    /// True when the row has no cell.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cell `i` as text (`None` for NULL or a missing column).
    pub fn cell(&self, i: usize) -> Option<&'a str> {
        match self.0 {
            RowCells::Buffer { text, cells } => {
                cells.get(i).copied().flatten().and_then(|(a, b)| text.get(a..b))
            }
            RowCells::Owned(cells) => cell(cells, i),
        }
    }

    /// Cell `i` parsed as a number (`None` for NULL, a missing column or non-numeric text).
    pub fn f64(&self, i: usize) -> Option<f64> {
        self.cell(i).and_then(|s| s.trim().parse::<f64>().ok())
    }
}

/// What a streamed query reports besides its rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResultShape {
    /// The result's column names, lower-cased (as [`Rows::columns`]).
    pub columns: Vec<String>,
    /// True when the row cap cut the result.
    pub truncated: bool,
    /// Rows handed to the visitor.
    pub rows: usize,
}

impl ResultShape {
    /// Position of the column named `name` (compared case-insensitively), if any.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.eq_ignore_ascii_case(name))
    }
}

/// Visits every row of `rows` as a streamed query would (for contexts that only have
/// [`Rows`], and tests).
pub fn visit_rows(rows: &Rows, visit: &mut dyn FnMut(&[String], RowRef<'_>)) -> ResultShape {
    for r in &rows.rows {
        visit(&rows.columns, RowRef::from_cells(r));
    }
    ResultShape { columns: rows.columns.clone(), truncated: rows.truncated, rows: rows.rows.len() }
}

/// What went wrong running a query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The driver reported an error. `connection_lost` is true for errors that mean the
    /// connection is unusable (SQLSTATE class 08, DM network errors).
    #[error("query failed: {message}")]
    Driver {
        /// Driver message (never contains the connection string).
        message: String,
        /// Five-character SQLSTATE when known.
        sqlstate: Option<String>,
        /// Driver-native error code when known (DM: negative codes such as -2106).
        native: Option<i32>,
        /// The connection cannot be used any more.
        connection_lost: bool,
    },
    /// The statement produced no result set.
    #[error("statement returned no result set")]
    NoResultSet,
    /// No connection could be obtained in time, or connecting failed.
    #[error("no connection: {0}")]
    Connection(String),
    /// The query did not finish before its deadline.
    #[error("query timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// No connection could be had from the pool (typed: busy, connect failure, closed).
    #[error("no connection: {0}")]
    Pool(crate::pool_error::PoolError),
}

impl QueryError {
    /// True when this error says the datasource itself is unreachable (not a bad query).
    pub fn is_connection_level(&self) -> bool {
        match self {
            QueryError::Driver { connection_lost, .. } => *connection_lost,
            QueryError::Connection(_) => true,
            QueryError::Pool(crate::pool_error::PoolError::Connect { kind, .. }) => {
                *kind != crate::pool_error::ConnectFailure::ReadOnly
            }
            QueryError::Pool(_) => true,
            QueryError::NoResultSet | QueryError::Timeout(_) => false,
        }
    }

    /// True for a failed login (wrong user or password, classified from SQLSTATE and native
    /// code when connecting, never from message text): DM locks accounts after repeated
    /// failed logins, so such a failure is never retried at once.
    pub fn is_login_failure(&self) -> bool {
        matches!(
            self,
            QueryError::Pool(crate::pool_error::PoolError::Connect {
                kind: crate::pool_error::ConnectFailure::Login,
                ..
            })
        )
    }

    /// True when the pool had no free connection in time (busy, not unreachable).
    pub fn is_pool_busy(&self) -> bool {
        matches!(self, QueryError::Pool(crate::pool_error::PoolError::TimedOut(_)))
    }

    /// True when the error says a view, table or schema does not exist in this database
    /// (DM -2106, SQLSTATE 42S02 / PostgreSQL 42P01 / 3F000, SQLite "no such table"): the
    /// collector reading it is not applicable to this build or topology.
    pub fn is_missing_object(&self) -> bool {
        let QueryError::Driver { message, sqlstate, native, .. } = self else { return false };
        let m = message.to_lowercase();
        matches!(sqlstate.as_deref(), Some("42S02" | "42P01" | "3F000"))
            || *native == Some(-2106)
            || m.contains("no such table")
            || m.contains("unknown database")
            || (m.contains("relation") && m.contains("does not exist"))
            || (m.contains("schema") && m.contains("does not exist"))
            || m.contains("invalid table or view name")
            || m.contains("无效的表或视图名")
    }

    /// True when the error says the user may not read an object (DM native -5504,
    /// `没有[…]对象的查询权限` or any `没有…权限` text; SQLSTATE 42501 on PostgreSQL and as
    /// an ODBC "insufficient privilege" state; English "permission denied"): the collector
    /// reading it is skipped until the object is granted (see `docs/DM8_EVIDENCE.md` F4).
    pub fn is_permission_denied(&self) -> bool {
        let QueryError::Driver { message, sqlstate, native, connection_lost } = self else {
            return false;
        };
        if *connection_lost {
            return false;
        }
        let m = message.to_lowercase();
        sqlstate.as_deref() == Some("42501")
            || *native == Some(-5504)
            || (message.contains("没有") && message.contains("权限"))
            || m.contains("permission denied")
            || m.contains("insufficient privilege")
    }
}

/// Classifies an odbc-api error.
pub(crate) fn classify(error: &odbc_api::Error) -> QueryError {
    let (sqlstate, native) = match error {
        odbc_api::Error::Diagnostics { record, .. } => {
            let state = String::from_utf8_lossy(&record.state.0).into_owned();
            (Some(state), Some(record.native_error))
        }
        _ => (None, None),
    };
    let message = error.to_string();
    let lower = message.to_lowercase();
    let connection_lost = sqlstate.as_deref().is_some_and(|s| s.starts_with("08"))
        // DM: network communication error (网络通信异常), error 6001; SQLite/PG: closed handles.
        || message.contains("网络通信异常")
        || native == Some(-6001)
        || lower.contains("connection is closed")
        || lower.contains("server closed the connection")
        || lower.contains("could not send data")
        || lower.contains("connection reset")
        || lower.contains("terminating connection");
    QueryError::Driver { message, sqlstate, native, connection_lost }
}

/// The lower-cased column names of a result set. Read through the handle API and decoded
/// lossily (a driver sending names in a legacy code page must not make this fail); a column
/// whose name cannot be read gets an empty name.
fn column_names(cursor: &mut impl AsStatementRef, ncols: u16) -> Vec<String> {
    let mut stmt = cursor.as_stmt_ref();
    let mut buf = Vec::with_capacity(128);
    (1..=ncols)
        .map(|col| {
            buf.clear();
            match stmt.col_name(col, &mut buf) {
                odbc_api::handles::SqlResult::Success(())
                | odbc_api::handles::SqlResult::SuccessWithInfo(()) => {
                    slice_to_cow_utf8(&buf).trim().to_lowercase()
                }
                _ => String::new(),
            }
        })
        .collect()
}

/// Extra time the watchdog gives a driver that accepted `SQL_ATTR_QUERY_TIMEOUT` to enforce
/// it itself before the statement is cancelled.
const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// What the driver refused while a statement was set up; the statement still ran.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExecNotes {
    /// `SQL_ATTR_QUERY_TIMEOUT` was refused (the driver's message): the deadline is enforced
    /// by the watchdog's `SQLCancel` alone.
    pub timeout_refused: Option<String>,
    /// `SQL_ATTR_MAX_ROWS` was refused: the driver may fetch more rows than are read.
    pub max_rows_refused: bool,
}

/// Runs `sql` and reads at most `max_rows` rows (`None`: all rows) as text.
///
/// See [`run_query_noted`]; what the driver refused is dropped here.
pub fn run_query(
    conn: &Connection<'_>,
    sql: &str,
    timeout_secs: Option<usize>,
    max_rows: Option<usize>,
) -> Result<Rows, QueryError> {
    run_query_noted(conn, sql, timeout_secs, max_rows, &mut ExecNotes::default())
}

/// Runs `sql` once and reads at most `max_rows` rows (`None`: all rows) as text.
///
/// - **Deadline** (finding F5): `SQL_ATTR_QUERY_TIMEOUT` is asked for; a driver that refuses
///   it does not fail the query (`notes.timeout_refused` says so). Either way the statement
///   is registered with the [`crate::watchdog`], which calls `SQLCancel` when the deadline
///   passes (1 s later when the driver accepted the timeout); a cancelled query fails with
///   [`QueryError::Timeout`].
/// - **Row cap** (L6): `SQL_ATTR_MAX_ROWS = max_rows + 1` (one more row tells whether the
///   cap cut the result), so drivers that honour it stop fetching; reading stops there too.
/// - **Values** (F8/L7): every cell is read with `SQLGetData` in chunks on the same cursor,
///   whatever its length, so a long value (DM `SQL_TEXT`, a 100 KB text) never makes the
///   statement run again (live views would give another snapshot).
pub fn run_query_noted(
    conn: &Connection<'_>,
    sql: &str,
    timeout_secs: Option<usize>,
    max_rows: Option<usize>,
    notes: &mut ExecNotes,
) -> Result<Rows, QueryError> {
    exec_with(conn, sql, timeout_secs, max_rows, notes, |stmt, sql| read_all(stmt, sql, max_rows))
}

/// Runs a statement that may return no result set (`connectionInitSql`, session settings)
/// once, with the same deadline handling as [`run_query_noted`]; any rows are discarded.
pub fn execute_noted(
    conn: &Connection<'_>,
    sql: &str,
    timeout_secs: Option<usize>,
    notes: &mut ExecNotes,
) -> Result<(), QueryError> {
    exec_with(conn, sql, timeout_secs, None, notes, |stmt, sql| {
        stmt.execute(sql, ()).map(|_| ()).map_err(|e| classify(&e))
    })
}

type Stmt<'c> = odbc_api::Preallocated<odbc_api::handles::StatementImpl<'c>>;

/// Sets up a statement (query timeout, row cap, watchdog; see [`run_query_noted`]) and
/// runs `run` on it.
fn exec_with<T>(
    conn: &Connection<'_>,
    sql: &str,
    timeout_secs: Option<usize>,
    max_rows: Option<usize>,
    notes: &mut ExecNotes,
    run: impl FnOnce(&mut Stmt<'_>, &str) -> Result<T, QueryError>,
) -> Result<T, QueryError> {
    let mut stmt = conn.preallocate().map_err(|e| classify(&e))?;
    let hstmt = stmt.as_stmt_ref().as_sys();
    let mut timeout_accepted = false;
    if let Some(secs) = timeout_secs {
        let mut handle = stmt.as_stmt_ref();
        match handle.set_query_timeout_sec(secs).into_result(&handle) {
            Ok(()) => timeout_accepted = true,
            Err(e) => notes.timeout_refused = Some(e.to_string()),
        }
    }
    if let Some(m) = max_rows {
        let cap = m.saturating_add(1);
        // SAFETY: `hstmt` is the valid handle of `stmt`; SQL_ATTR_MAX_ROWS takes an integer
        // in the pointer argument, so no memory is referenced.
        let rc = unsafe {
            odbc_api::sys::SQLSetStmtAttr(
                hstmt,
                odbc_api::sys::StatementAttribute::MaxRows,
                cap as odbc_api::sys::Pointer,
                0,
            )
        };
        notes.max_rows_refused = rc != odbc_api::sys::SqlReturn::SUCCESS
            && rc != odbc_api::sys::SqlReturn::SUCCESS_WITH_INFO;
    }
    let budget =
        timeout_secs.map(|s| std::time::Duration::from_secs(u64::try_from(s).unwrap_or(300)));
    let watch = budget.map(|b| {
        let grace = if timeout_accepted { CANCEL_GRACE } else { std::time::Duration::ZERO };
        // SAFETY: `hstmt` stays allocated until `stmt` drops, after `watch` (dropped below).
        unsafe { crate::watchdog::Watch::new(hstmt, std::time::Instant::now() + b + grace) }
    });
    let result = run(&mut stmt, sql);
    let cancelled = watch.as_ref().is_some_and(crate::watchdog::Watch::fired);
    drop(watch);
    match (result, budget) {
        (Err(_), Some(b)) if cancelled => Err(QueryError::Timeout(b)),
        (r, _) => r,
    }
}

/// Runs `sql` once like [`run_query_noted`], handing each row to `visit` (with the
/// result's lower-cased column names) from buffers reused for every row, instead of
/// collecting them.
pub fn run_query_each(
    conn: &Connection<'_>,
    sql: &str,
    timeout_secs: Option<usize>,
    max_rows: Option<usize>,
    notes: &mut ExecNotes,
    visit: &mut dyn FnMut(&[String], RowRef<'_>),
) -> Result<ResultShape, QueryError> {
    exec_with(conn, sql, timeout_secs, max_rows, notes, |stmt, sql| {
        read_each(stmt, sql, max_rows, visit)
    })
}

/// Executes `sql` on `stmt` and reads the rows (see [`run_query_noted`]).
fn read_all(stmt: &mut Stmt<'_>, sql: &str, max_rows: Option<usize>) -> Result<Rows, QueryError> {
    let mut rows = Vec::new();
    let shape = read_each(stmt, sql, max_rows, &mut |_, row| {
        rows.push((0..row.len()).map(|i| row.cell(i).map(str::to_owned)).collect());
    })?;
    Ok(Rows { rows, truncated: shape.truncated, columns: shape.columns })
}

/// Executes `sql` on `stmt` and hands each row to `visit` (see [`run_query_each`]): every
/// cell is read with `SQLGetData` into one byte buffer, decoded (lossily: a driver sending
/// a legacy code page must not fail the query) into one text buffer of the row; both are
/// reused for every row.
fn read_each(
    stmt: &mut Stmt<'_>,
    sql: &str,
    max_rows: Option<usize>,
    visit: &mut dyn FnMut(&[String], RowRef<'_>),
) -> Result<ResultShape, QueryError> {
    let cursor = stmt.execute(sql, ()).map_err(|e| classify(&e))?;
    let mut cursor = cursor.ok_or(QueryError::NoResultSet)?;
    let ncols = cursor.num_result_cols().map_err(|e| classify(&e))?;
    let ncols = u16::try_from(ncols.max(0)).unwrap_or(u16::MAX);
    let mut shape = ResultShape { columns: column_names(&mut cursor, ncols), ..Default::default() };
    let mut buf = Vec::new();
    let mut text = String::new();
    let mut cells: Vec<Option<(usize, usize)>> = Vec::with_capacity(usize::from(ncols));
    while let Some(mut row) = cursor.next_row().map_err(|e| classify(&e))? {
        if max_rows.is_some_and(|m| shape.rows >= m) {
            shape.truncated = true;
            break;
        }
        text.clear();
        cells.clear();
        for col in 1..=ncols {
            let not_null = row.get_text(col, &mut buf).map_err(|e| classify(&e))?;
            cells.push(not_null.then(|| {
                let start = text.len();
                text.push_str(&String::from_utf8_lossy(&buf));
                (start, text.len())
            }));
        }
        visit(&shape.columns, RowRef(RowCells::Buffer { text: &text, cells: &cells }));
        shape.rows += 1;
    }
    Ok(shape)
}
