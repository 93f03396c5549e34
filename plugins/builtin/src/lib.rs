//! Built-in DM8 collectors, one file per DM view family. Each file declares its SQL as
//! `const`s (portable subset, DESIGN.md §7, tagged `/*+DM_EXPORTER*/`), its metrics once,
//! a pure row→sample mapping, and registers itself with `inventory::submit!`. Linking this
//! crate is enough to register them; nothing is called from `main`.
//!
//! | collector | views |
//! |---|---|
//! | `instance` | V$INSTANCE, V$TRXWAIT, V$DEADLOCK_HISTORY, V$THREADS |
//! | `sessions` | V$SESSIONS |
#![forbid(unsafe_code)]

pub mod instance;
pub mod sessions;

/// Every SQL statement of the built-in collectors, for the test that runs each one on both
/// fixtures.
pub fn all_sql() -> Vec<(&'static str, &'static str)> {
    vec![("instance", instance::SQL), ("sessions", sessions::SQL)]
}

/// Forces the linker to keep this crate's inventory registrations. Call it once from the
/// binary (or a test) that relies on the built-in collectors.
pub fn link() {}
