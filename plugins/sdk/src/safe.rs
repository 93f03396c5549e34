//! The safe Rust side of the SDK: the [`Plugin`] trait and the types it uses.

use std::ffi::{c_char, CStr, CString};
use std::time::Duration;

use crate::abi::{
    DmHost, DmTable, DM_LOG_DEBUG, DM_LOG_ERROR, DM_LOG_INFO, DM_LOG_TRACE, DM_LOG_WARN, DM_OK,
};

/// Error type of plugin callbacks: anything that converts into a boxed error (`String`,
/// `&str`, `std::io::Error`, …), so `?` works.
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A site plugin. One value is created per datasource that configures the plugin.
///
/// The host never calls one instance from two threads at once, but instances of different
/// datasources run concurrently: state shared between instances (statics) must be
/// thread-safe.
pub trait Plugin: Send + Sized + 'static {
    /// Builds an instance from the `[datasource.plugin.config]` table as TOML text (empty
    /// when the table is absent). The host can log here, not query.
    fn create(config: &str, host: &Host<'_>) -> Result<Self, Error>;

    /// The metrics this instance may emit; called once, right after `create`.
    /// [`Samples::push`] refers to them by index in this list.
    fn metrics(&self) -> Vec<Metric>;

    /// Collects once: run queries through `host`, push samples into `out`. An error fails
    /// this plugin's collector for this scrape only (samples pushed so far are dropped).
    fn collect(&mut self, host: &Host<'_>, out: &mut Samples) -> Result<(), Error>;
}

/// Counter or gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A value that can go up and down.
    Gauge,
    /// A value that only goes up (resets on restart).
    Counter,
}

/// A metric declaration: full name, help, kind and variable label names. The exporter adds
/// the datasource's const labels (`datasource` and the datasource's `labels`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    /// Full metric name.
    pub name: String,
    /// HELP text.
    pub help: String,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// Variable label names, in the order samples give their values.
    pub labels: Vec<String>,
}

impl Metric {
    /// A gauge without variable labels.
    pub fn gauge(name: impl Into<String>, help: impl Into<String>) -> Self {
        Metric { name: name.into(), help: help.into(), kind: MetricKind::Gauge, labels: Vec::new() }
    }

    /// A counter without variable labels.
    pub fn counter(name: impl Into<String>, help: impl Into<String>) -> Self {
        Metric { kind: MetricKind::Counter, ..Metric::gauge(name, help) }
    }

    /// The same metric with variable labels.
    pub fn with_labels(mut self, labels: &[&str]) -> Self {
        self.labels = labels.iter().map(|l| (*l).to_owned()).collect();
        self
    }
}

/// One sample: metric index, label values and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Index into [`Plugin::metrics`].
    pub metric: usize,
    /// Label values, in the declared order.
    pub labels: Vec<String>,
    /// The value.
    pub value: f64,
}

/// Where `collect` puts its samples.
#[derive(Debug, Default)]
pub struct Samples {
    pub(crate) items: Vec<Sample>,
}

impl Samples {
    /// An empty buffer (for tests of a plugin's own logic).
    pub fn new() -> Self {
        Samples::default()
    }

    /// Adds a sample of metric `metric` (index into [`Plugin::metrics`]).
    pub fn push(&mut self, metric: usize, labels: &[&str], value: f64) {
        self.items.push(Sample {
            metric,
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            value,
        });
    }

    /// The samples pushed so far.
    pub fn as_slice(&self) -> &[Sample] {
        &self.items
    }
}

/// Log levels of [`Host::log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Operator-actionable problems.
    Error,
    /// Something went wrong but the plugin copes.
    Warn,
    /// Normal events.
    Info,
    /// Details for troubleshooting.
    Debug,
    /// Very verbose details.
    Trace,
}

impl Level {
    fn code(self) -> u32 {
        match self {
            Level::Error => DM_LOG_ERROR,
            Level::Warn => DM_LOG_WARN,
            Level::Info => DM_LOG_INFO,
            Level::Debug => DM_LOG_DEBUG,
            Level::Trace => DM_LOG_TRACE,
        }
    }
}

/// A query result: column names (lower-case) and rows of text cells (`None` = NULL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Column names, lower-case.
    pub columns: Vec<String>,
    /// Rows, one cell per column.
    pub rows: Vec<Vec<Option<String>>>,
    /// True when the row cap cut the result.
    pub truncated: bool,
}

impl Table {
    /// Cell `col` of row `row` as text (`None` for NULL or out of range).
    pub fn text(&self, row: usize, col: usize) -> Option<&str> {
        self.rows.get(row).and_then(|r| r.get(col)).and_then(|c| c.as_deref())
    }

    /// Cell `col` of row `row` parsed as a number (`None` for NULL, out of range or not a
    /// number).
    pub fn number(&self, row: usize, col: usize) -> Option<f64> {
        self.text(row, col).and_then(|s| s.trim().parse().ok())
    }
}

/// The host's services during one call: queries (in `collect` only), logging, time left.
#[derive(Debug)]
pub struct Host<'a> {
    raw: Option<&'a DmHost>,
}

impl<'a> Host<'a> {
    /// A host offering nothing: queries fail, logs go nowhere. For unit tests of a plugin.
    pub fn detached() -> Host<'static> {
        Host { raw: None }
    }

    pub(crate) fn from_raw(raw: Option<&'a DmHost>) -> Host<'a> {
        Host { raw }
    }

    /// Runs a read-only query with the default row cap and the datasource's queryTimeout.
    pub fn query(&self, sql: &str) -> Result<Table, Error> {
        self.query_with(sql, 0, None)
    }

    /// Runs a read-only query (`SELECT` or `WITH`) with a row cap (`0` = host default) and
    /// an own timeout (`None` = the datasource's queryTimeout). Both are capped by the host.
    pub fn query_with(
        &self,
        sql: &str,
        max_rows: usize,
        timeout: Option<Duration>,
    ) -> Result<Table, Error> {
        let raw = self.raw.ok_or("no host: queries are not available here")?;
        let (Some(query), Some(free)) = (raw.query, raw.free_table) else {
            return Err("the host offers no query service".into());
        };
        let sql = CString::new(sql).map_err(|_| "SQL contains a NUL byte")?;
        let timeout_ms =
            timeout.map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1));
        let mut table = DmTable {
            column_count: 0,
            row_count: 0,
            columns: std::ptr::null(),
            cells: std::ptr::null(),
            truncated: 0,
            error: std::ptr::null(),
            owner: std::ptr::null_mut(),
        };
        // SAFETY: `raw` is the host vtable given to the current call (valid for its
        // duration); `sql` is a NUL-terminated string that outlives the call; `table` is a
        // valid, writable DmTable.
        let status = unsafe { query(raw.ctx, sql.as_ptr(), max_rows, timeout_ms, &mut table) };
        // SAFETY: the host filled `table` (also on failure) and its pointers stay valid until
        // `free_table`, which runs once, below.
        let result = unsafe { read_table(status, &table) };
        // SAFETY: `table` was filled by this host's `query` and is freed exactly once.
        unsafe { free(&mut table) };
        result
    }

    /// Logs `message` into the exporter's log (with the datasource and plugin as fields).
    pub fn log(&self, level: Level, message: &str) {
        let Some(raw) = self.raw else { return };
        let Some(log) = raw.log else { return };
        let text = CString::new(message.replace('\0', " ")).unwrap_or_default();
        // SAFETY: `raw` is valid for the current call; `text` is NUL-terminated and outlives
        // the call.
        unsafe { log(raw.ctx, level.code(), text.as_ptr()) };
    }

    /// Logs at error level.
    pub fn error(&self, message: &str) {
        self.log(Level::Error, message);
    }
    /// Logs at warning level.
    pub fn warn(&self, message: &str) {
        self.log(Level::Warn, message);
    }
    /// Logs at info level.
    pub fn info(&self, message: &str) {
        self.log(Level::Info, message);
    }
    /// Logs at debug level.
    pub fn debug(&self, message: &str) {
        self.log(Level::Debug, message);
    }

    /// Time left before the collector's deadline (zero when detached).
    pub fn remaining(&self) -> Duration {
        let Some(raw) = self.raw else { return Duration::ZERO };
        let Some(f) = raw.remaining_ms else { return Duration::ZERO };
        // SAFETY: `raw` is valid for the current call.
        Duration::from_millis(unsafe { f(raw.ctx) })
    }
}

/// Reads a C string the host wrote (lossy UTF-8).
///
/// # Safety
/// `p` is NULL or a valid NUL-terminated string.
unsafe fn text(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated per the caller's contract.
    Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// Copies a host table into owned Rust values.
///
/// # Safety
/// `t` was filled by the host's `query` and not yet freed.
unsafe fn read_table(status: i32, t: &DmTable) -> Result<Table, Error> {
    if status != DM_OK {
        // SAFETY: `error` is NULL or a host string valid until free_table.
        let msg = unsafe { text(t.error) };
        return Err(msg.unwrap_or_else(|| format!("query failed with status {status}")).into());
    }
    let ncols = t.column_count;
    let mut columns = Vec::with_capacity(ncols);
    for i in 0..ncols {
        // SAFETY: `columns` holds `column_count` valid string pointers.
        columns.push(unsafe { text(*t.columns.add(i)) }.unwrap_or_default());
    }
    let mut rows = Vec::with_capacity(t.row_count);
    for r in 0..t.row_count {
        let mut row = Vec::with_capacity(ncols);
        for c in 0..ncols {
            // SAFETY: `cells` holds `row_count * column_count` pointers, each NULL or a
            // valid string.
            row.push(unsafe { text(*t.cells.add(r * ncols + c)) });
        }
        rows.push(row);
    }
    Ok(Table { columns, rows, truncated: t.truncated != 0 })
}
