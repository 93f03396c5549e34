//! Running one query over an ODBC connection and reading every cell as text.
//!
//! Results are small (monitoring views): rows are fetched in blocks into bound text buffers
//! (row by row with `SQLGetData` when a value does not fit), and NULL becomes `None`. Built-in SQL maps result columns by position, since
//! name case differs between engines (DESIGN.md §7); custom metrics map them by name, so the
//! names are returned too, lower-cased (upstream's rule for custom metrics).

use odbc_api::buffers::TextRowSet;
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
}

impl QueryError {
    /// True when this error says the datasource itself is unreachable (not a bad query).
    pub fn is_connection_level(&self) -> bool {
        match self {
            QueryError::Driver { connection_lost, .. } => *connection_lost,
            QueryError::Connection(_) => true,
            QueryError::NoResultSet | QueryError::Timeout(_) => false,
        }
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

/// Text buffer per cell for block fetches; a longer value makes the query run again on the
/// row-by-row path (monitoring values are short: numbers, names, states, paths).
const MAX_CELL_BYTES: usize = 512;
/// Upper bound of one block-fetch buffer (all columns × rows), so that it stays a small
/// heap allocation instead of a fresh mapping per query.
const MAX_BLOCK_BYTES: usize = 16 * 1024;
/// Rows per block fetch at most.
const MAX_BATCH_ROWS: usize = 256;

/// Runs `sql` and reads at most `max_rows` rows (`None`: all rows) as text.
///
/// Rows are fetched in blocks (`SQLFetch` into bound text column buffers of
/// [`MAX_CELL_BYTES`] per cell) instead of one `SQLGetData` call per cell. When a value does
/// not fit, the query runs again and is read row by row, so no value is ever cut.
pub fn run_query(
    conn: &Connection<'_>,
    sql: &str,
    timeout_secs: Option<usize>,
    max_rows: Option<usize>,
) -> Result<Rows, QueryError> {
    let cursor = conn.execute(sql, (), timeout_secs).map_err(|e| classify(&e))?;
    let mut cursor = cursor.ok_or(QueryError::NoResultSet)?;
    let ncols = cursor.num_result_cols().map_err(|e| classify(&e))?;
    let ncols = u16::try_from(ncols.max(0)).unwrap_or(u16::MAX);
    let columns = column_names(&mut cursor, ncols);
    match fetch_blocks(cursor, ncols, max_rows)? {
        Some((rows, truncated)) => Ok(Rows { rows, truncated, columns }),
        None => {
            tracing::debug!(sql, "A value did not fit the block buffer; reading row by row.");
            run_query_rowwise(conn, sql, timeout_secs, max_rows)
        }
    }
}

/// Cells of one block fetch: `None` when a value was cut or the driver refused the block
/// cursor (the caller reads row by row).
type Fetched = Option<(Vec<Vec<Option<String>>>, bool)>;

fn fetch_blocks(
    cursor: impl Cursor,
    ncols: u16,
    max_rows: Option<usize>,
) -> Result<Fetched, QueryError> {
    // Fixed cell buffers: asking the driver for column sizes (SQLColAttribute) makes
    // psqlODBC parse the statement and cache catalog lookups per connection — more memory
    // and round trips than the fetch itself (BENCHMARKS.md). A longer value is read again
    // row by row.
    let sizes = vec![MAX_CELL_BYTES; usize::from(ncols)];
    let row_bytes: usize = sizes.iter().map(|s| s + 1).sum::<usize>().max(1);
    // One row more than the cap tells whether the cap cut the result.
    let wanted = max_rows.map_or(MAX_BATCH_ROWS, |m| m.saturating_add(1));
    let batch = (MAX_BLOCK_BYTES / row_bytes).clamp(1, MAX_BATCH_ROWS).min(wanted.max(1));
    let buffer =
        TextRowSet::from_max_str_lens(batch, sizes.iter().copied()).map_err(|e| classify(&e))?;
    // A driver that refuses a block cursor (row array size > 1) is read row by row.
    let Ok(mut block) = cursor.bind_buffer(buffer) else { return Ok(None) };
    let mut rows: Vec<Vec<Option<String>>> = Vec::new();
    loop {
        let batch = match block.fetch_with_truncation_check(true) {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(odbc_api::Error::TooLargeValueForBuffer { .. }) => return Ok(None),
            Err(e) => return Err(classify(&e)),
        };
        for r in 0..batch.num_rows() {
            if max_rows.is_some_and(|m| rows.len() >= m) {
                return Ok(Some((rows, true)));
            }
            rows.push(
                (0..batch.num_cols())
                    .map(|c| batch.at(c, r).map(|v| String::from_utf8_lossy(v).into_owned()))
                    .collect(),
            );
        }
    }
    Ok(Some((rows, false)))
}

/// Runs `sql` and reads every cell with `SQLGetData` (no length limit).
fn run_query_rowwise(
    conn: &Connection<'_>,
    sql: &str,
    timeout_secs: Option<usize>,
    max_rows: Option<usize>,
) -> Result<Rows, QueryError> {
    let cursor = conn.execute(sql, (), timeout_secs).map_err(|e| classify(&e))?;
    let mut cursor = cursor.ok_or(QueryError::NoResultSet)?;
    let ncols = cursor.num_result_cols().map_err(|e| classify(&e))?;
    let ncols = u16::try_from(ncols.max(0)).unwrap_or(u16::MAX);
    let mut out = Rows { columns: column_names(&mut cursor, ncols), ..Rows::default() };
    let mut buf = Vec::new();
    while let Some(mut row) = cursor.next_row().map_err(|e| classify(&e))? {
        if max_rows.is_some_and(|m| out.rows.len() >= m) {
            out.truncated = true;
            break;
        }
        let mut cells = Vec::with_capacity(usize::from(ncols));
        for col in 1..=ncols {
            let not_null = row.get_text(col, &mut buf).map_err(|e| classify(&e))?;
            cells.push(not_null.then(|| String::from_utf8_lossy(&buf).into_owned()));
        }
        out.rows.push(cells);
    }
    Ok(out)
}
