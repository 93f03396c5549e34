//! Built-in DM8 collectors, one file per DM view family. Each file declares its SQL as
//! `const`s (portable subset, docs/DESIGN.md §7, tagged `/*+DM_EXPORTER*/`), its metrics once,
//! a pure row→sample mapping, and registers itself with `inventory::submit!`. Linking this
//! crate is enough to register them; nothing is called from `main`. The list of collectors,
//! their views and metrics is generated from the registry: `dameng_exporter --list-collectors`.
#![forbid(unsafe_code)]

pub mod arch_queue;
pub mod arch_send;
pub mod arch_status;
pub mod arch_switch;
pub mod bufferpool;
pub mod ckpt;
pub mod datafile;
pub mod dict_cache;
pub mod dual;
pub mod dw_watcher;
pub mod host_process;
pub mod instance;
pub mod instance_log;
pub mod job;
pub mod license;
pub mod log_history;
pub mod memory_pool;
pub mod monitor;
pub mod parameter;
pub mod purge;
pub mod rapply_sys;
pub mod rapply_time_diff;
pub mod rlog_file;
pub mod rlog_lsn;
pub mod sessions;
pub mod slow_sql;
pub mod statement;
pub mod system_event;
pub mod system_info;
pub mod tablespace;
mod timefmt;
pub mod user;
pub mod version;

/// Forces the linker to keep this crate's inventory registrations. Call it once from the
/// binary (or a test) that relies on the built-in collectors.
pub fn link() {}
