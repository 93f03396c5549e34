//! What the host offers a plugin while one of its functions runs: the services behind the
//! C callbacks of [`DmHost`](dmexp_plugin_sdk::abi::DmHost).
//!
//! The loader's `extern "C"` callbacks only marshal, and dispatch through this trait; the
//! adapter implements it with the policies (read-only SQL, row caps, deadlines, logging).
//! So the loader does not depend on the adapter (the callback loop adapter → loader →
//! plugin → loader → adapter is the C ABI's, not an import circle).

use std::time::Duration;

use crate::query::Rows;

/// The services of one call into a plugin.
pub(crate) trait HostServices {
    /// Runs `sql` for the plugin (`max_rows` 0 = the default cap, `timeout_ms` 0 = the
    /// query timeout). `Err` carries the ABI status to return and the message.
    fn query(&mut self, sql: &str, max_rows: usize, timeout_ms: u64)
        -> Result<Rows, (i32, String)>;
    /// Logs a message of the plugin at `level` (a `DM_LOG_*` constant).
    fn log(&self, level: u32, message: &str);
    /// Time left before the collector's deadline (zero outside `collect`).
    fn remaining(&self) -> Duration;
}
