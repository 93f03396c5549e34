//! `dameng_exporter_site`: the exporter with one extra collector of this crate
//! ([`site_orders`]), the other way to extend it besides dynamic plugins (PLUGINS.md,
//! "Compiling a collector in"). Core is untouched: the collector registers itself through
//! `inventory`, and this `main` wires config → runtime → HTTP server with core's public API.
//!
//! Usage: `dameng_exporter_site [--config FILE]` (default `./dameng_exporter.toml`), or
//! `dameng_exporter_site --list-collectors`. For the full command line (check-config,
//! password tools, overrides), copy the root crate's `src/cli.rs` instead.
#![forbid(unsafe_code)]

mod site_orders;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use dmexp_core::exporter::Exporter;
use dmexp_core::runtime::BuildInfo;
use dmexp_core::server::{self, ServerOptions};

fn main() -> ExitCode {
    // Keep the built-in collectors linked (their registrations live in that crate).
    dmexp_builtin::link();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list-collectors") {
        for d in dmexp_core::collector::registered() {
            println!("{}\t{}\t{}", d.name, d.family.as_str(), d.views);
        }
        return ExitCode::SUCCESS;
    }
    let config = match args.iter().position(|a| a == "--config") {
        Some(i) => args.get(i + 1).map(PathBuf::from),
        None => Some(PathBuf::from("./dameng_exporter.toml")),
    };
    let Some(config) = config else {
        eprintln!("error: --config needs a file");
        return ExitCode::from(2);
    };
    let config = match dmexp_config::load_file(&config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

async fn serve(config: dmexp_config::Config) -> Result<(), String> {
    let _log = dmexp_core::logging::init(&dmexp_core::logging::LoggingOptions::from_global(
        &config.global,
    ))
    .map_err(|e| e.to_string())?;
    let build = BuildInfo {
        version: format!("v{}-site", env!("CARGO_PKG_VERSION")),
        revision: "unknown".into(),
        branch: "unknown".into(),
        rustversion: "unknown".into(),
    };
    let exporter =
        Exporter::new(&config, build, "site build".into(), None).map_err(|e| e.to_string())?;
    exporter.start();
    let addr = match config.global.listen_address.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => config.global.listen_address.clone(),
    };
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!(address = %addr, "Listening.");
    let opts = ServerOptions::from_global(&config.global, Duration::from_secs(120))
        .map_err(|e| e.to_string())?;
    let app = server::app(Arc::clone(&exporter) as Arc<dyn server::MetricsSource>, opts);
    server::serve(listener, app, server::shutdown_signal()).await.map_err(|e| e.to_string())
}
