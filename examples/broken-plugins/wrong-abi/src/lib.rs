//! A plugin from the future: its declaration says ABI version 999. The host must read that
//! first field and nothing else (the rest is NULL here, as it might have any layout).

use std::ptr;

use dmexp_plugin_sdk::DmPluginDeclaration;

static DECLARATION: DmPluginDeclaration = DmPluginDeclaration {
    abi_version: 999,
    name: ptr::null(),
    version: ptr::null(),
    create: None,
    declare: None,
    collect: None,
    free_metrics: None,
    free_samples: None,
    free_error: None,
    destroy: None,
};

/// Root symbol with the wrong version.
#[unsafe(no_mangle)]
pub extern "C" fn dm_exporter_plugin_v1() -> *const DmPluginDeclaration {
    &DECLARATION
}
