//! C-ABI SDK for dameng_exporter site plugins.
//!
//! This crate is the contract between the exporter and a site plugin loaded with
//! `libloading`. It has no dependency on the exporter's core. The full SDK (types, the
//! `export_plugin!` macro and the generated C header) arrives with the plugins work; for now
//! it fixes the ABI version and the root symbol name.
#![warn(missing_docs)]

/// Version of the plugin ABI. The host checks it before reading anything else.
pub const ABI_VERSION: u32 = 1;

/// Name of the one symbol a plugin exports.
pub const ROOT_SYMBOL: &str = "dm_exporter_plugin_v1";
