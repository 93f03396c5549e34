//! A valid shared library that is not a plugin: it exports `dm_exporter_plugin_v0`, not the
//! root symbol `dm_exporter_plugin_v1`.

/// Not the root symbol.
#[unsafe(no_mangle)]
pub extern "C" fn dm_exporter_plugin_v0() -> u32 {
    0
}
