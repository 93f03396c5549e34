//! `dameng_exporter`: a Prometheus exporter for many Dameng DM8 instances over ODBC.
//!
//! This file is the thin binary: command line → config → runtime → HTTP server. It is the
//! only place that uses `anyhow`, and it maps failures to the exit codes documented in the
//! README (0 ok, 1 runtime failure, 2 invalid command line or configuration).
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    dmexp_builtin::link();
    cli::run()
}
