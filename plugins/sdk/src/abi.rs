//! The raw C ABI: `#[repr(C)]` types, status codes and function-pointer types.
//!
//! This module is the contract. The C header `include/dm_exporter_plugin.h` is generated from
//! it with cbindgen (a test checks that the committed header is current). Rules (PLUGINS.md):
//!
//! - Strings are NUL-terminated UTF-8 (`*const c_char`).
//! - Whoever allocates, frees: lists a plugin returns are freed with the plugin's own
//!   `free_*` functions; tables the host returns are freed with the host's `free_table`.
//! - Structs only ever grow by appending fields; anything else bumps [`ABI_VERSION`].
//! - Function-pointer types are nullable (`Option<fn>` in Rust, a plain function pointer in
//!   C); the host refuses a declaration with a NULL function.

use std::ffi::{c_char, c_void};

/// Version of the plugin ABI. The host reads this first field of the declaration before
/// anything else and refuses a plugin whose number differs.
pub const ABI_VERSION: u32 = 1;

/// Status code: success.
pub const DM_OK: i32 = 0;
/// Status code: the call failed; an error message may have been returned.
pub const DM_ERROR: i32 = 1;
/// Status code: the callee panicked (the panic was caught on its side of the boundary).
pub const DM_PANIC: i32 = 2;
/// Status code: an argument was invalid (NULL pointer, bad UTF-8, call outside `collect`).
pub const DM_INVALID_ARGUMENT: i32 = 3;

/// Metric type: gauge.
pub const DM_METRIC_GAUGE: u32 = 0;
/// Metric type: counter.
pub const DM_METRIC_COUNTER: u32 = 1;

/// Log level: error.
pub const DM_LOG_ERROR: u32 = 1;
/// Log level: warning.
pub const DM_LOG_WARN: u32 = 2;
/// Log level: information.
pub const DM_LOG_INFO: u32 = 3;
/// Log level: debug.
pub const DM_LOG_DEBUG: u32 = 4;
/// Log level: trace.
pub const DM_LOG_TRACE: u32 = 5;

/// Row cap the host applies when a query asks for `max_rows = 0`.
pub const DM_DEFAULT_MAX_ROWS: usize = 1000;
/// Largest row cap the host accepts; larger requests are lowered to this.
pub const DM_MAX_ROWS: usize = 10000;

/// One metric a plugin declares (once per instance, from `declare`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DmMetric {
    /// Full metric name, e.g. `site_orders_open`. Must not start with `dameng_exporter_`
    /// nor repeat a built-in metric.
    pub name: *const c_char,
    /// HELP text.
    pub help: *const c_char,
    /// [`DM_METRIC_GAUGE`] or [`DM_METRIC_COUNTER`].
    pub kind: u32,
    /// Number of variable label names.
    pub label_count: usize,
    /// `label_count` label names (may be NULL when `label_count` is 0).
    pub labels: *const *const c_char,
}

/// The metrics of a plugin instance, allocated by the plugin and freed with its
/// `free_metrics`.
#[repr(C)]
#[derive(Debug)]
pub struct DmMetricList {
    /// `count` metrics.
    pub metrics: *const DmMetric,
    /// Number of metrics.
    pub count: usize,
    /// Plugin-private storage behind the pointers (the host never reads it).
    pub owner: *mut c_void,
}

/// One value produced by `collect`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DmSample {
    /// Index of the metric in the declared list.
    pub metric: usize,
    /// The value.
    pub value: f64,
    /// Number of label values; must equal the metric's `label_count`.
    pub label_count: usize,
    /// `label_count` label values, in the declared order (may be NULL when 0).
    pub label_values: *const *const c_char,
}

/// The samples of one `collect`, allocated by the plugin and freed with its `free_samples`.
#[repr(C)]
#[derive(Debug)]
pub struct DmSampleList {
    /// `count` samples.
    pub samples: *const DmSample,
    /// Number of samples.
    pub count: usize,
    /// Plugin-private storage behind the pointers (the host never reads it).
    pub owner: *mut c_void,
}

/// A query result (or error), allocated by the host and freed with the host's `free_table`
/// exactly once, whatever `query` returned.
#[repr(C)]
#[derive(Debug)]
pub struct DmTable {
    /// Number of columns.
    pub column_count: usize,
    /// Number of rows.
    pub row_count: usize,
    /// `column_count` column names, lower-case.
    pub columns: *const *const c_char,
    /// `row_count * column_count` cells, row by row, as text; a NULL pointer is SQL NULL.
    pub cells: *const *const c_char,
    /// 1 when the row cap cut the result, else 0.
    pub truncated: u32,
    /// The error message when `query` did not return [`DM_OK`], else NULL.
    pub error: *const c_char,
    /// Host-private storage behind the pointers (the plugin never reads it).
    pub owner: *mut c_void,
}

/// Runs one read-only query (`SELECT`/`WITH`) on the datasource. `max_rows` 0 means
/// [`DM_DEFAULT_MAX_ROWS`]; `timeout_ms` 0 means the datasource's queryTimeout; both are
/// capped by the host (row cap [`DM_MAX_ROWS`], the collector's deadline). Fills `out`
/// (also on failure, with `error`).
pub type DmQueryFn = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        sql: *const c_char,
        max_rows: usize,
        timeout_ms: u64,
        out: *mut DmTable,
    ) -> i32,
>;
/// Frees a table filled by [`DmQueryFn`].
pub type DmFreeTableFn = Option<unsafe extern "C" fn(table: *mut DmTable)>;
/// Logs one message into the exporter's log with the datasource and plugin as fields.
pub type DmLogFn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, level: u32, message: *const c_char)>;
/// Milliseconds left before the collector's deadline.
pub type DmRemainingFn = Option<unsafe extern "C" fn(ctx: *mut c_void) -> u64>;

/// Services the host offers a plugin during one call. Valid only during the call that
/// received it, and only on the thread that made that call.
#[repr(C)]
#[derive(Debug)]
pub struct DmHost {
    /// The host's [`ABI_VERSION`].
    pub abi_version: u32,
    /// Host context: pass it back unchanged to every function below.
    pub ctx: *mut c_void,
    /// Runs a query (during `collect` only; returns [`DM_INVALID_ARGUMENT`] elsewhere).
    pub query: DmQueryFn,
    /// Frees a table filled by `query`.
    pub free_table: DmFreeTableFn,
    /// Logs a message.
    pub log: DmLogFn,
    /// Time left, in milliseconds.
    pub remaining_ms: DmRemainingFn,
}

/// Creates an instance from the `[datasource.plugin.config]` table given as TOML text
/// (empty when absent). On success writes the instance to `out_instance`; on failure may
/// write a message (freed with `free_error`) to `out_error`.
pub type DmCreateFn = Option<
    unsafe extern "C" fn(
        config: *const c_char,
        host: *const DmHost,
        out_instance: *mut *mut c_void,
        out_error: *mut *mut c_char,
    ) -> i32,
>;
/// Declares the instance's metrics, once, right after `create`.
pub type DmDeclareFn = Option<
    unsafe extern "C" fn(
        instance: *mut c_void,
        out: *mut DmMetricList,
        out_error: *mut *mut c_char,
    ) -> i32,
>;
/// Collects once: runs queries through `host` and fills `out` with samples.
pub type DmCollectFn = Option<
    unsafe extern "C" fn(
        instance: *mut c_void,
        host: *const DmHost,
        out: *mut DmSampleList,
        out_error: *mut *mut c_char,
    ) -> i32,
>;
/// Frees a list filled by `declare`.
pub type DmFreeMetricsFn = Option<unsafe extern "C" fn(list: *mut DmMetricList)>;
/// Frees a list filled by `collect`.
pub type DmFreeSamplesFn = Option<unsafe extern "C" fn(list: *mut DmSampleList)>;
/// Frees an error message written to an `out_error`.
pub type DmFreeErrorFn = Option<unsafe extern "C" fn(error: *mut c_char)>;
/// Destroys an instance (the host calls it once, after the last `collect`).
pub type DmDestroyFn = Option<unsafe extern "C" fn(instance: *mut c_void)>;

/// What the root symbol returns. `abi_version` must stay the first field: the host reads it
/// before anything else. Later versions only append fields.
#[repr(C)]
#[derive(Debug)]
pub struct DmPluginDeclaration {
    /// Must equal the host's [`ABI_VERSION`].
    pub abi_version: u32,
    /// Plugin name (`[a-z_][a-z0-9_]*`), used in the `plugin` label and the collector name
    /// `plugin:<name>`.
    pub name: *const c_char,
    /// Plugin version, free text.
    pub version: *const c_char,
    /// See [`DmCreateFn`].
    pub create: DmCreateFn,
    /// See [`DmDeclareFn`].
    pub declare: DmDeclareFn,
    /// See [`DmCollectFn`].
    pub collect: DmCollectFn,
    /// See [`DmFreeMetricsFn`].
    pub free_metrics: DmFreeMetricsFn,
    /// See [`DmFreeSamplesFn`].
    pub free_samples: DmFreeSamplesFn,
    /// See [`DmFreeErrorFn`].
    pub free_error: DmFreeErrorFn,
    /// See [`DmDestroyFn`].
    pub destroy: DmDestroyFn,
}

// SAFETY: a declaration is immutable static data: C-string pointers into the plugin's
// read-only data and function pointers. Sharing it between threads is sound.
unsafe impl Sync for DmPluginDeclaration {}

/// Type of the root symbol: returns a pointer to a static declaration that lives as long as
/// the library.
pub type DmPluginRootFn = unsafe extern "C" fn() -> *const DmPluginDeclaration;
