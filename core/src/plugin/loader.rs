//! Loading plugin libraries and calling across the C ABI. This module holds core's `unsafe`
//! for plugins (docs/HOUSE_STYLE.md B13); every block says why it is sound.
//!
//! - A library is opened once per canonical path (`RTLD_NOW | RTLD_LOCAL`, so a missing
//!   dependency fails here rather than at the first call) and kept in a process-wide
//!   registry that never unloads it: no `dlclose`, so function pointers and static strings
//!   of the plugin stay valid for the life of the process.
//! - The root symbol's declaration is read in two steps: its first `u32` (`abi_version`)
//!   alone, and only when that matches [`ABI_VERSION`] the rest of the struct.
//! - Only data crosses the boundary. Lists the plugin fills are copied and handed back to
//!   the plugin's own `free_*`; tables the host fills for the plugin are freed by the host's
//!   `free_table`. Host callbacks catch panics, so nothing unwinds into plugin frames.
//!
//! Policies (read-only SQL, row caps, logging, validation) live in
//! [`adapter`](super::adapter), behind the [`HostServices`] trait the callbacks dispatch
//! through; this module only marshals (and does not depend on the adapter).

#![deny(unsafe_op_in_unsafe_fn)]

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::os::unix::fs::MetadataExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use dmexp_plugin_sdk::abi::{
    DmHost, DmMetricList, DmPluginDeclaration, DmPluginRootFn, DmSampleList, DmTable, ABI_VERSION,
    DM_ERROR, DM_INVALID_ARGUMENT, DM_OK, DM_PANIC,
};
use dmexp_plugin_sdk::ROOT_SYMBOL;

use super::error::{PluginErrorKind, Problem};
use super::host::HostServices;

/// More samples than this from one `collect` is a plugin bug, not data.
const MAX_SAMPLES: usize = 1_000_000;
/// More metrics than this from `declare` is a plugin bug.
const MAX_METRICS: usize = 10_000;

type CreateFn =
    unsafe extern "C" fn(*const c_char, *const DmHost, *mut *mut c_void, *mut *mut c_char) -> i32;
type DeclareFn = unsafe extern "C" fn(*mut c_void, *mut DmMetricList, *mut *mut c_char) -> i32;
type CollectFn =
    unsafe extern "C" fn(*mut c_void, *const DmHost, *mut DmSampleList, *mut *mut c_char) -> i32;
type FreeMetricsFn = unsafe extern "C" fn(*mut DmMetricList);
type FreeSamplesFn = unsafe extern "C" fn(*mut DmSampleList);
type FreeErrorFn = unsafe extern "C" fn(*mut c_char);
type DestroyFn = unsafe extern "C" fn(*mut c_void);

/// The declaration's functions, all present (checked at load).
#[derive(Clone, Copy)]
struct VTable {
    create: CreateFn,
    declare: DeclareFn,
    collect: CollectFn,
    free_metrics: FreeMetricsFn,
    free_samples: FreeSamplesFn,
    free_error: FreeErrorFn,
    destroy: DestroyFn,
}

/// Device, inode, size and mtime of a file: tells whether a loaded file was replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl FileIdentity {
    fn of(meta: &std::fs::Metadata) -> Self {
        FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }
}

/// A loaded plugin library. Lives in the registry for the whole process (never unloaded).
pub(crate) struct PluginLibrary {
    /// Canonical path.
    pub(crate) path: PathBuf,
    /// Declared name.
    pub(crate) name: String,
    /// Declared version.
    pub(crate) version: String,
    vtable: VTable,
    identity: FileIdentity,
    /// Set once "the file changed since it was loaded" has been logged.
    replaced_logged: std::sync::atomic::AtomicBool,
    /// Keeps the library mapped. Never dropped: the registry is a static that is never
    /// cleared.
    _library: libloading::Library,
}

impl std::fmt::Debug for PluginLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginLibrary")
            .field("path", &self.path)
            .field("name", &self.name)
            .field("version", &self.version)
            .finish()
    }
}

type Registry = Mutex<HashMap<PathBuf, Result<Arc<PluginLibrary>, Problem>>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Number of `dlopen` calls that succeeded in this process.
static OPENED: AtomicUsize = AtomicUsize::new(0);

/// Canonical paths of the libraries loaded in this process.
pub(crate) fn loaded_paths() -> Vec<PathBuf> {
    let reg = registry().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut paths: Vec<PathBuf> = reg.keys().cloned().collect();
    paths.sort();
    paths
}

/// Number of libraries opened in this process (each canonical path counts once).
pub(crate) fn opened_count() -> usize {
    OPENED.load(Ordering::SeqCst)
}

/// Opens the library at `path` (once per canonical path) and validates its declaration.
pub(crate) fn open(path: &Path) -> Result<Arc<PluginLibrary>, Problem> {
    // Owner and mode of the file and of every directory on its path, symlinks included;
    // the file stays open, so what is loaded below is what was checked.
    let checked = super::path_check::open_checked(path)?;
    let (canonical, meta) = (checked.canonical.clone(), checked.meta.clone());
    let meta = &meta;
    let mut reg = registry().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(entry) = reg.get(&canonical) {
        if let Ok(lib) = entry {
            if lib.identity != FileIdentity::of(meta)
                && !lib.replaced_logged.swap(true, Ordering::Relaxed)
            {
                tracing::warn!(
                    path = %canonical.display(), plugin = %lib.name,
                    "Plugin file changed since it was loaded; the loaded version keeps running \
                     until the exporter restarts."
                );
            }
        }
        return entry.clone();
    }
    // Not cached on failure: nothing was loaded, and the file may be fixed before a reload.
    let library = dlopen(checked)?;
    OPENED.fetch_add(1, Ordering::SeqCst);
    let result = read_declaration(&canonical, library, FileIdentity::of(meta)).map(Arc::new);
    if let Ok(lib) = &result {
        tracing::info!(
            path = %canonical.display(), plugin = %lib.name, version = %lib.version,
            abi = ABI_VERSION, "Plugin library loaded."
        );
    }
    // Cached either way from here on: the library is mapped and stays mapped.
    reg.insert(canonical, result.clone());
    result
}

/// Loads the checked, open file through `/proc/self/fd/N`: the bytes mapped are those of
/// the file that passed the checks, whatever happened to its path since.
///
/// On success the descriptor is kept open for the life of the process, like the library:
/// the dynamic loader knows the library by that `/proc/self/fd/N` name, and a later library
/// opened under a reused descriptor number would otherwise be taken for this one.
fn dlopen(checked: super::path_check::CheckedFile) -> Result<libloading::Library, Problem> {
    use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};
    let path = &checked.canonical;
    // SAFETY: loading a library runs its initialisers. The file passed the ownership and
    // permission checks (plugin/path_check.rs), is the open file descriptor those checks
    // ended with, and was named by the operator in the config; running its code in-process
    // is what a plugin is (PLUGINS.md states the privileges). RTLD_NOW resolves every symbol
    // now, so an unresolvable one fails here instead of aborting at a call.
    let lib = unsafe { Library::open(Some(checked.proc_path()), RTLD_NOW | RTLD_LOCAL) }.map_err(
        |e| {
            let e = e
                .to_string()
                .replace(&checked.proc_path().display().to_string(), &path.display().to_string());
            Problem::new(
                PluginErrorKind::NotALibrary,
                format!("cannot load {}: {e}", path.display()),
            )
        },
    )?;
    // Deliberately never closed (see above): one descriptor per library loaded.
    let _kept = std::os::fd::IntoRawFd::into_raw_fd(checked.file);
    Ok(lib.into())
}

/// Reads a C string from the plugin's declaration (must be UTF-8).
///
/// # Safety
/// `p` is NULL or a NUL-terminated string valid for the call.
unsafe fn decl_str(p: *const c_char, what: &str) -> Result<String, Problem> {
    if p.is_null() {
        return Err(Problem::new(PluginErrorKind::InvalidDeclaration, format!("{what} is NULL")));
    }
    // SAFETY: non-null and NUL-terminated per the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map(str::to_owned).map_err(|_| {
        Problem::new(PluginErrorKind::InvalidDeclaration, format!("{what} is not UTF-8"))
    })
}

fn read_declaration(
    path: &Path,
    library: libloading::Library,
    identity: FileIdentity,
) -> Result<PluginLibrary, Problem> {
    let symbol = format!("{ROOT_SYMBOL}\0");
    // SAFETY: the symbol is looked up with the type the ABI fixes for it
    // (`DmPluginRootFn`); the function pointer is copied out and stays valid because the
    // library is never unloaded (it moves into the registry with the pointer).
    let root: DmPluginRootFn = unsafe {
        match library.get::<DmPluginRootFn>(symbol.as_bytes()) {
            Ok(sym) => *sym,
            Err(e) => {
                return Err(Problem::new(
                    PluginErrorKind::MissingSymbol,
                    format!(
                        "{} does not export `{ROOT_SYMBOL}` (is it built with \
                         dmexp_plugin_sdk::export_plugin!, or a C plugin defining \
                         dm_exporter_plugin_v1?): {e}",
                        path.display()
                    ),
                ));
            }
        }
    };
    // SAFETY: the root function takes no arguments and returns a pointer to static data
    // (ABI contract); the SDK's generated version cannot panic.
    let decl = unsafe { root() };
    if decl.is_null() {
        return Err(Problem::new(
            PluginErrorKind::InvalidDeclaration,
            format!("`{ROOT_SYMBOL}` returned NULL"),
        ));
    }
    // SAFETY: every ABI version starts the declaration with a `u32` abi_version; only that
    // field is read before the version is known to match. `read_unaligned` in case a
    // foreign plugin misaligned it.
    let version = unsafe { ptr::read_unaligned(decl.cast::<u32>()) };
    if version != ABI_VERSION {
        return Err(Problem::new(
            PluginErrorKind::AbiMismatch,
            format!(
                "the plugin declares ABI version {version}, this exporter speaks version \
                 {ABI_VERSION}; rebuild the plugin against dmexp-plugin-sdk with ABI {ABI_VERSION}"
            ),
        ));
    }
    // SAFETY: the version matches, so `decl` points to a `DmPluginDeclaration` of this
    // layout, static in the (never unloaded) library.
    let d: &DmPluginDeclaration = unsafe { &*decl };
    // SAFETY: name and version are NULL or static C strings per the contract.
    let name = unsafe { decl_str(d.name, "plugin name") }?;
    // SAFETY: as above.
    let version = unsafe { decl_str(d.version, "plugin version") }?;
    if !valid_plugin_name(&name) {
        return Err(Problem::new(
            PluginErrorKind::InvalidDeclaration,
            format!("plugin name {name:?} must match [a-z_][a-z0-9_]* (at most 64 characters)"),
        ));
    }
    let missing = |f: &str| {
        Problem::new(PluginErrorKind::InvalidDeclaration, format!("function `{f}` is NULL"))
    };
    let vtable = VTable {
        create: d.create.ok_or_else(|| missing("create"))?,
        declare: d.declare.ok_or_else(|| missing("declare"))?,
        collect: d.collect.ok_or_else(|| missing("collect"))?,
        free_metrics: d.free_metrics.ok_or_else(|| missing("free_metrics"))?,
        free_samples: d.free_samples.ok_or_else(|| missing("free_samples"))?,
        free_error: d.free_error.ok_or_else(|| missing("free_error"))?,
        destroy: d.destroy.ok_or_else(|| missing("destroy"))?,
    };
    Ok(PluginLibrary {
        path: path.to_owned(),
        name,
        version,
        vtable,
        identity,
        replaced_logged: std::sync::atomic::AtomicBool::new(false),
        _library: library,
    })
}

/// A declared plugin name must be `[a-z_][a-z0-9_]*`, at most 64 characters.
pub(crate) fn valid_plugin_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'_'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
        && name.len() <= 64
}

/// A failed call into a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallError {
    /// The status the plugin returned (`DM_PANIC` when it panicked).
    pub(crate) status: i32,
    /// Its message, or a description of the malformed answer.
    pub(crate) message: String,
}

impl CallError {
    fn malformed(message: impl Into<String>) -> Self {
        CallError { status: DM_ERROR, message: message.into() }
    }
    /// True when the plugin panicked.
    pub(crate) fn panicked(&self) -> bool {
        self.status == DM_PANIC
    }
}

/// One declared metric, as the plugin gave it (validated by the adapter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawMetric {
    pub(crate) name: String,
    pub(crate) help: String,
    pub(crate) kind: u32,
    pub(crate) labels: Vec<String>,
}

/// One sample, as the plugin gave it (validated by the adapter).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawSample {
    pub(crate) metric: usize,
    pub(crate) labels: Vec<String>,
    pub(crate) value: f64,
}

/// A plugin instance for one datasource. Destroyed on drop; the library outlives it.
pub(crate) struct Instance {
    lib: Arc<PluginLibrary>,
    ptr: *mut c_void,
}

// SAFETY: the ABI lets the host call an instance from any thread, one call at a time; every
// method takes `&mut self`, so Rust's borrow rules give exactly that. The pointer is owned
// (only `drop` destroys it).
unsafe impl Send for Instance {}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance").field("plugin", &self.lib.name).finish()
    }
}

/// Builds the host vtable around `env` (a pointer to the trait object's fat pointer: the C
/// side gets one thin `ctx`).
fn host_vtable(env: &mut &mut dyn HostServices) -> DmHost {
    DmHost {
        abi_version: ABI_VERSION,
        ctx: ptr::from_mut(env).cast::<c_void>(),
        query: Some(host_query),
        free_table: Some(host_free_table),
        log: Some(host_log),
        remaining_ms: Some(host_remaining_ms),
    }
}

/// Copies and frees an error string the plugin wrote.
fn take_error(lib: &PluginLibrary, status: i32, p: *mut c_char) -> CallError {
    let message = if p.is_null() {
        None
    } else {
        // SAFETY: the plugin wrote a NUL-terminated string to `out_error`; it stays valid
        // until its own `free_error`, called right after the copy.
        let m = unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
        // SAFETY: `p` came from this plugin's `out_error` and is freed once.
        unsafe { (lib.vtable.free_error)(p) };
        Some(m)
    };
    CallError {
        status,
        message: message.unwrap_or_else(|| match status {
            DM_PANIC => "panicked".to_owned(),
            _ => format!("failed with status {status}"),
        }),
    }
}

/// Reads `n` C strings from an array (NULL array only when `n` is 0; NULL entries are "").
///
/// # Safety
/// `arr` is NULL or points to `n` pointers, each NULL or a NUL-terminated string.
unsafe fn strings(arr: *const *const c_char, n: usize, what: &str) -> Result<Vec<String>, String> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if arr.is_null() {
        return Err(format!("{what}: {n} entries but a NULL array"));
    }
    let mut out = Vec::with_capacity(n.min(64));
    for i in 0..n {
        // SAFETY: `arr` has `n` entries per the caller's contract.
        let p = unsafe { *arr.add(i) };
        if p.is_null() {
            out.push(String::new());
        } else {
            // SAFETY: non-null entries are NUL-terminated strings.
            out.push(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned());
        }
    }
    Ok(out)
}

impl Instance {
    /// Calls the plugin's `create` with the config text; `env` serves logging.
    pub(crate) fn create(
        lib: &Arc<PluginLibrary>,
        config: &str,
        mut env: &mut dyn HostServices,
    ) -> Result<Instance, CallError> {
        let config = CString::new(config)
            .map_err(|_| CallError::malformed("the plugin config contains a NUL character"))?;
        let host = host_vtable(&mut env);
        let mut out: *mut c_void = ptr::null_mut();
        let mut err: *mut c_char = ptr::null_mut();
        // SAFETY: `create` comes from a validated declaration; all pointers are valid for
        // the call (`config` and `host` outlive it, `out`/`err` are writable locals).
        let status = unsafe { (lib.vtable.create)(config.as_ptr(), &host, &mut out, &mut err) };
        if status != DM_OK {
            return Err(take_error(lib, status, err));
        }
        if !err.is_null() {
            // A message on success: free it, ignore it.
            let _ = take_error(lib, status, err);
        }
        if out.is_null() {
            return Err(CallError::malformed("create returned DM_OK but no instance"));
        }
        Ok(Instance { lib: Arc::clone(lib), ptr: out })
    }

    /// The library this instance belongs to.
    pub(crate) fn library(&self) -> &Arc<PluginLibrary> {
        &self.lib
    }

    /// Calls `declare` and copies the metric list.
    pub(crate) fn declare(&mut self) -> Result<Vec<RawMetric>, CallError> {
        let mut list = DmMetricList { metrics: ptr::null(), count: 0, owner: ptr::null_mut() };
        let mut err: *mut c_char = ptr::null_mut();
        // SAFETY: `self.ptr` is a live instance of this library; `list` and `err` are
        // writable locals.
        let status = unsafe { (self.lib.vtable.declare)(self.ptr, &mut list, &mut err) };
        if status != DM_OK {
            return Err(take_error(&self.lib, status, err));
        }
        // SAFETY: on DM_OK the plugin filled `list` per the ABI; it stays valid until
        // `free_metrics`, called right after the copy.
        let copied = unsafe { copy_metrics(&list) };
        // SAFETY: `list` was filled by this plugin's `declare` and is freed once.
        unsafe { (self.lib.vtable.free_metrics)(&mut list) };
        copied.map_err(CallError::malformed)
    }

    /// Calls `collect` with a host vtable around `env` and copies the samples.
    pub(crate) fn collect(
        &mut self,
        mut env: &mut dyn HostServices,
    ) -> Result<Vec<RawSample>, CallError> {
        let host = host_vtable(&mut env);
        let mut list = DmSampleList { samples: ptr::null(), count: 0, owner: ptr::null_mut() };
        let mut err: *mut c_char = ptr::null_mut();
        // SAFETY: `self.ptr` is a live instance used by this thread only (`&mut self`);
        // `host` and its context `env` outlive the call; `list`/`err` are writable locals.
        let status = unsafe { (self.lib.vtable.collect)(self.ptr, &host, &mut list, &mut err) };
        if status != DM_OK {
            return Err(take_error(&self.lib, status, err));
        }
        // SAFETY: on DM_OK the plugin filled `list`; valid until `free_samples` below.
        let copied = unsafe { copy_samples(&list) };
        // SAFETY: `list` was filled by this plugin's `collect` and is freed once.
        unsafe { (self.lib.vtable.free_samples)(&mut list) };
        copied.map_err(CallError::malformed)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from this library's `create`, is destroyed exactly once, and no
        // call is running on it (`drop` has exclusive access).
        unsafe { (self.lib.vtable.destroy)(self.ptr) };
    }
}

/// # Safety
/// `list` was filled by a plugin's `declare` and not yet freed.
unsafe fn copy_metrics(list: &DmMetricList) -> Result<Vec<RawMetric>, String> {
    if list.count > MAX_METRICS {
        return Err(format!("declare returned {} metrics (at most {MAX_METRICS})", list.count));
    }
    if list.count > 0 && list.metrics.is_null() {
        return Err("declare returned a NULL metric array".to_owned());
    }
    let mut out = Vec::with_capacity(list.count);
    for i in 0..list.count {
        // SAFETY: `metrics` has `count` entries.
        let m = unsafe { &*list.metrics.add(i) };
        // SAFETY: name and help are NULL or C strings; labels has `label_count` entries.
        let (name, help, labels) = unsafe {
            (
                strings(&m.name, 1, "metric name")?.remove(0),
                strings(&m.help, 1, "metric help")?.remove(0),
                strings(m.labels, m.label_count, "metric labels")?,
            )
        };
        out.push(RawMetric { name, help, kind: m.kind, labels });
    }
    Ok(out)
}

/// # Safety
/// `list` was filled by a plugin's `collect` and not yet freed.
unsafe fn copy_samples(list: &DmSampleList) -> Result<Vec<RawSample>, String> {
    if list.count > MAX_SAMPLES {
        return Err(format!("collect returned {} samples (at most {MAX_SAMPLES})", list.count));
    }
    if list.count > 0 && list.samples.is_null() {
        return Err("collect returned a NULL sample array".to_owned());
    }
    let mut out = Vec::with_capacity(list.count);
    for i in 0..list.count {
        // SAFETY: `samples` has `count` entries.
        let s = unsafe { &*list.samples.add(i) };
        // SAFETY: `label_values` has `label_count` entries, each NULL or a C string.
        let labels = unsafe { strings(s.label_values, s.label_count, "sample labels")? };
        out.push(RawSample { metric: s.metric, labels, value: s.value });
    }
    Ok(out)
}

/// Storage behind a [`DmTable`] the host hands to a plugin.
struct TableStore {
    _strings: Vec<CString>,
    columns: Vec<*const c_char>,
    cells: Vec<*const c_char>,
}

fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

/// Fills `out` with rows or an error, owning the storage in a boxed [`TableStore`].
fn fill_table(out: &mut DmTable, result: Result<crate::query::Rows, String>) -> i32 {
    let (status, rows, error) = match result {
        Ok(rows) => (DM_OK, rows, None),
        Err(e) => (DM_ERROR, crate::query::Rows::default(), Some(c_string(&e))),
    };
    let ncols = rows.columns.len().max(rows.rows.first().map_or(0, Vec::len));
    let mut strings = Vec::new();
    let mut columns = Vec::with_capacity(ncols);
    for i in 0..ncols {
        let c = c_string(rows.columns.get(i).map_or("", String::as_str));
        columns.push(c.as_ptr());
        strings.push(c);
    }
    let mut cells = Vec::with_capacity(ncols * rows.rows.len());
    for row in &rows.rows {
        for i in 0..ncols {
            match row.get(i).and_then(|c| c.as_deref()) {
                Some(v) => {
                    let c = c_string(v);
                    cells.push(c.as_ptr());
                    strings.push(c);
                }
                None => cells.push(ptr::null()),
            }
        }
    }
    let error_ptr = error.as_ref().map_or(ptr::null(), |e| e.as_ptr());
    if let Some(e) = error {
        strings.push(e);
    }
    // Moving a CString or a Vec does not move its heap buffer: the pointers stay valid.
    let store = Box::new(TableStore { _strings: strings, columns, cells });
    *out = DmTable {
        column_count: ncols,
        row_count: rows.rows.len(),
        columns: if store.columns.is_empty() { ptr::null() } else { store.columns.as_ptr() },
        cells: if store.cells.is_empty() { ptr::null() } else { store.cells.as_ptr() },
        truncated: u32::from(rows.truncated),
        error: error_ptr,
        owner: Box::into_raw(store).cast(),
    };
    status
}

/// Host callback `query`.
///
/// # Safety
/// Called by a plugin during a call that received this host: `ctx` points to the
/// `&mut dyn HostServices` of that call, `sql` NULL or a C string, `out` NULL or writable.
unsafe extern "C" fn host_query(
    ctx: *mut c_void,
    sql: *const c_char,
    max_rows: usize,
    timeout_ms: u64,
    out: *mut DmTable,
) -> i32 {
    if ctx.is_null() || out.is_null() {
        return DM_INVALID_ARGUMENT;
    }
    let r = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `ctx` points to the `&mut dyn HostServices` this host was built around; it
        // lives on the stack of the host call that is running now, on this thread, and
        // nothing else uses it during the callback.
        let env: &mut dyn HostServices = unsafe { &mut **ctx.cast::<&mut dyn HostServices>() };
        // SAFETY: `out` is writable per the contract.
        let out = unsafe { &mut *out };
        let sql = if sql.is_null() {
            Err("sql is NULL".to_owned())
        } else {
            // SAFETY: non-null C string per the contract.
            unsafe { CStr::from_ptr(sql) }.to_str().map_err(|_| "sql is not UTF-8".to_owned())
        };
        match sql {
            Ok(sql) => match env.query(sql, max_rows, timeout_ms) {
                Ok(rows) => fill_table(out, Ok(rows)),
                Err((status, msg)) => {
                    fill_table(out, Err(msg));
                    status
                }
            },
            Err(msg) => {
                fill_table(out, Err(msg));
                DM_INVALID_ARGUMENT
            }
        }
    }));
    r.unwrap_or(DM_ERROR)
}

/// Host callback `free_table`.
///
/// # Safety
/// `table` NULL or filled by [`host_query`] and not yet freed.
unsafe extern "C" fn host_free_table(table: *mut DmTable) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: NULL or a table this host filled, per the contract.
        let Some(t) = (unsafe { table.as_mut() }) else { return };
        if !t.owner.is_null() {
            // SAFETY: `owner` came from Box::into_raw of a TableStore in `fill_table`.
            drop(unsafe { Box::from_raw(t.owner.cast::<TableStore>()) });
        }
        *t = DmTable {
            column_count: 0,
            row_count: 0,
            columns: ptr::null(),
            cells: ptr::null(),
            truncated: 0,
            error: ptr::null(),
            owner: ptr::null_mut(),
        };
    }));
}

/// Host callback `log`.
///
/// # Safety
/// As [`host_query`]; `message` NULL or a C string.
unsafe extern "C" fn host_log(ctx: *mut c_void, level: u32, message: *const c_char) {
    if ctx.is_null() || message.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as in `host_query`.
        let env: &dyn HostServices = unsafe { &**ctx.cast::<&mut dyn HostServices>() };
        // SAFETY: non-null C string per the contract.
        let msg = unsafe { CStr::from_ptr(message) }.to_string_lossy();
        env.log(level, &msg);
    }));
}

/// Host callback `remaining_ms`.
///
/// # Safety
/// As [`host_query`].
unsafe extern "C" fn host_remaining_ms(ctx: *mut c_void) -> u64 {
    if ctx.is_null() {
        return 0;
    }
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as in `host_query`.
        let env: &dyn HostServices = unsafe { &**ctx.cast::<&mut dyn HostServices>() };
        u64::try_from(env.remaining().as_millis()).unwrap_or(u64::MAX)
    }))
    .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names() {
        assert!(valid_plugin_name("site_kpi"));
        assert!(valid_plugin_name("_x1"));
        assert!(!valid_plugin_name("Site"));
        assert!(!valid_plugin_name("1x"));
        assert!(!valid_plugin_name("a-b"));
        assert!(!valid_plugin_name(""));
        assert!(!valid_plugin_name(&"a".repeat(65)));
    }
}
