//! End-to-end tests: the real binary, real HTTP, real ODBC drivers (SQLite3 and
//! PostgreSQL Unicode) against the DM8 catalog emulation in tests/fixtures.

mod common;

/// HTTP basic auth end to end.
mod auth;
/// One datasource down, all down, recovery: the others keep serving.
mod availability;
/// Command line: --check-config, broken configs, --encryptPwd, --list-collectors, CLI mode.
mod cli;
/// Exact values of the first collectors on all three fixture instances, both engines.
mod scrape;
/// Secrets never reach logs, metrics or error messages.
mod secrets;
