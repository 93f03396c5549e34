//! The `extern "C"` functions `export_plugin!` puts into a plugin's declaration. Not a public
//! API: use the macro.
//!
//! Every function body runs inside `catch_unwind` and turns a panic into [`DM_PANIC`]:
//! an unwind must never cross into the host (since Rust 1.81 it would abort the process).

use std::any::Any;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use crate::abi::{
    DmHost, DmMetric, DmMetricList, DmSample, DmSampleList, DM_ERROR, DM_INVALID_ARGUMENT,
    DM_METRIC_COUNTER, DM_METRIC_GAUGE, DM_OK, DM_PANIC,
};
use crate::safe::{Host, MetricKind, Plugin, Samples};

/// Outcome of a guarded body.
enum Failure {
    Error(String),
    Invalid(String),
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}

fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

/// Runs `body`, catching panics; writes a message to `out_error` on failure.
///
/// # Safety
/// `out_error` is NULL or valid for a write.
unsafe fn guard(out_error: *mut *mut c_char, body: impl FnOnce() -> Result<(), Failure>) -> i32 {
    let (status, msg) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return DM_OK,
        Ok(Err(Failure::Error(m))) => (DM_ERROR, m),
        Ok(Err(Failure::Invalid(m))) => (DM_INVALID_ARGUMENT, m),
        Err(payload) => (DM_PANIC, panic_message(payload.as_ref())),
    };
    if !out_error.is_null() {
        // Building the message cannot panic (NULs replaced; unwrap_or_default).
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the caller passed a writable `out_error`; the string is freed by
            // `free_error`.
            unsafe { *out_error = c_string(&msg).into_raw() };
        }));
    }
    status
}

/// What an instance pointer points to.
struct Instance<P> {
    plugin: P,
}

/// Owned storage behind a [`DmMetricList`].
struct MetricStore {
    _strings: Vec<CString>,
    _label_arrays: Vec<Vec<*const c_char>>,
    metrics: Vec<DmMetric>,
}

/// Owned storage behind a [`DmSampleList`].
struct SampleStore {
    _strings: Vec<CString>,
    _label_arrays: Vec<Vec<*const c_char>>,
    samples: Vec<DmSample>,
}

/// `create` of the declaration.
///
/// # Safety
/// Called by the host per the ABI contract: `config` NULL or a C string, `host` NULL or a
/// valid vtable for this call, `out_instance`/`out_error` writable.
pub unsafe extern "C" fn create<P: Plugin>(
    config: *const c_char,
    host: *const DmHost,
    out_instance: *mut *mut c_void,
    out_error: *mut *mut c_char,
) -> i32 {
    let body = || {
        if out_instance.is_null() {
            return Err(Failure::Invalid("out_instance is NULL".to_owned()));
        }
        let config = if config.is_null() {
            ""
        } else {
            // SAFETY: non-null C string per the contract.
            unsafe { CStr::from_ptr(config) }
                .to_str()
                .map_err(|_| Failure::Invalid("config is not UTF-8".to_owned()))?
        };
        // SAFETY: NULL or a valid vtable for the duration of this call.
        let host = Host::from_raw(unsafe { host.as_ref() });
        let plugin = P::create(config, &host).map_err(|e| Failure::Error(e.to_string()))?;
        let instance = Box::new(Instance { plugin });
        // SAFETY: checked non-null; the host owns the pointer until `destroy`.
        unsafe { *out_instance = Box::into_raw(instance).cast() };
        Ok(())
    };
    // SAFETY: `out_error` is NULL or writable per the contract.
    unsafe { guard(out_error, body) }
}

/// `declare` of the declaration.
///
/// # Safety
/// `instance` came from `create::<P>` and is not destroyed; `out` and `out_error` writable.
pub unsafe extern "C" fn declare<P: Plugin>(
    instance: *mut c_void,
    out: *mut DmMetricList,
    out_error: *mut *mut c_char,
) -> i32 {
    let body = || {
        if instance.is_null() || out.is_null() {
            return Err(Failure::Invalid("instance or out is NULL".to_owned()));
        }
        // SAFETY: created by `create::<P>`; the host never calls one instance concurrently.
        let inst = unsafe { &*instance.cast::<Instance<P>>() };
        let metrics = inst.plugin.metrics();
        let mut strings = Vec::new();
        let mut label_arrays = Vec::new();
        let mut list = Vec::with_capacity(metrics.len());
        for m in &metrics {
            let name = c_string(&m.name);
            let help = c_string(&m.help);
            let labels: Vec<CString> = m.labels.iter().map(|l| c_string(l)).collect();
            let ptrs: Vec<*const c_char> = labels.iter().map(|l| l.as_ptr()).collect();
            list.push(DmMetric {
                name: name.as_ptr(),
                help: help.as_ptr(),
                kind: match m.kind {
                    MetricKind::Gauge => DM_METRIC_GAUGE,
                    MetricKind::Counter => DM_METRIC_COUNTER,
                },
                label_count: ptrs.len(),
                labels: if ptrs.is_empty() { ptr::null() } else { ptrs.as_ptr() },
            });
            // Moving a CString or a Vec does not move its heap buffer: the pointers stay valid.
            strings.push(name);
            strings.push(help);
            strings.extend(labels);
            label_arrays.push(ptrs);
        }
        let store =
            Box::new(MetricStore { _strings: strings, _label_arrays: label_arrays, metrics: list });
        let list = DmMetricList {
            metrics: store.metrics.as_ptr(),
            count: store.metrics.len(),
            owner: Box::into_raw(store).cast(),
        };
        // SAFETY: checked non-null and writable per the contract.
        unsafe { out.write(list) };
        Ok(())
    };
    // SAFETY: `out_error` is NULL or writable per the contract.
    unsafe { guard(out_error, body) }
}

/// `collect` of the declaration.
///
/// # Safety
/// As [`declare`]; `host` NULL or valid for this call.
pub unsafe extern "C" fn collect<P: Plugin>(
    instance: *mut c_void,
    host: *const DmHost,
    out: *mut DmSampleList,
    out_error: *mut *mut c_char,
) -> i32 {
    let body = || {
        if instance.is_null() || out.is_null() {
            return Err(Failure::Invalid("instance or out is NULL".to_owned()));
        }
        // SAFETY: created by `create::<P>`; the host never calls one instance concurrently,
        // so this is the only reference.
        let inst = unsafe { &mut *instance.cast::<Instance<P>>() };
        // SAFETY: NULL or a valid vtable for the duration of this call.
        let host = Host::from_raw(unsafe { host.as_ref() });
        let mut samples = Samples::new();
        inst.plugin.collect(&host, &mut samples).map_err(|e| Failure::Error(e.to_string()))?;
        let mut strings = Vec::new();
        let mut label_arrays = Vec::new();
        let mut list = Vec::with_capacity(samples.items.len());
        for s in &samples.items {
            let values: Vec<CString> = s.labels.iter().map(|l| c_string(l)).collect();
            let ptrs: Vec<*const c_char> = values.iter().map(|l| l.as_ptr()).collect();
            list.push(DmSample {
                metric: s.metric,
                value: s.value,
                label_count: ptrs.len(),
                label_values: if ptrs.is_empty() { ptr::null() } else { ptrs.as_ptr() },
            });
            strings.extend(values);
            label_arrays.push(ptrs);
        }
        let store =
            Box::new(SampleStore { _strings: strings, _label_arrays: label_arrays, samples: list });
        let list = DmSampleList {
            samples: store.samples.as_ptr(),
            count: store.samples.len(),
            owner: Box::into_raw(store).cast(),
        };
        // SAFETY: checked non-null and writable per the contract.
        unsafe { out.write(list) };
        Ok(())
    };
    // SAFETY: `out_error` is NULL or writable per the contract.
    unsafe { guard(out_error, body) }
}

/// `free_metrics` of the declaration.
///
/// # Safety
/// `list` NULL or filled by [`declare`] and not yet freed.
pub unsafe extern "C" fn free_metrics(list: *mut DmMetricList) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: NULL or a list this SDK filled, per the contract.
        let Some(list) = (unsafe { list.as_mut() }) else { return };
        if !list.owner.is_null() {
            // SAFETY: `owner` came from Box::into_raw of a MetricStore in `declare`.
            drop(unsafe { Box::from_raw(list.owner.cast::<MetricStore>()) });
        }
        list.owner = ptr::null_mut();
        list.metrics = ptr::null();
        list.count = 0;
    }));
}

/// `free_samples` of the declaration.
///
/// # Safety
/// `list` NULL or filled by [`collect`] and not yet freed.
pub unsafe extern "C" fn free_samples(list: *mut DmSampleList) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: NULL or a list this SDK filled, per the contract.
        let Some(list) = (unsafe { list.as_mut() }) else { return };
        if !list.owner.is_null() {
            // SAFETY: `owner` came from Box::into_raw of a SampleStore in `collect`.
            drop(unsafe { Box::from_raw(list.owner.cast::<SampleStore>()) });
        }
        list.owner = ptr::null_mut();
        list.samples = ptr::null();
        list.count = 0;
    }));
}

/// `free_error` of the declaration.
///
/// # Safety
/// `error` NULL or written to an `out_error` by this SDK and not yet freed.
pub unsafe extern "C" fn free_error(error: *mut c_char) {
    if error.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: came from CString::into_raw in `guard`.
        drop(unsafe { CString::from_raw(error) });
    }));
}

/// `destroy` of the declaration.
///
/// # Safety
/// `instance` NULL or created by `create::<P>`, not yet destroyed and not in use.
pub unsafe extern "C" fn destroy<P: Plugin>(instance: *mut c_void) {
    if instance.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: came from Box::into_raw in `create::<P>`; destroyed once.
        drop(unsafe { Box::from_raw(instance.cast::<Instance<P>>()) });
    }));
}
