//! `dameng_exporter_site`: the exporter with one extra collector of this crate
//! ([`site_orders`]), the other way to extend it besides dynamic plugins (PLUGINS.md,
//! "Compiling a collector in"). Core is untouched: the collector registers itself through
//! `inventory`, and this `main` hands the configuration to core's composition root
//! ([`dmexp_core::app::run`]: logging, reload on SIGHUP and `POST /-/reload`, listener, TLS),
//! the same function the `dameng_exporter` binary calls.
//!
//! Usage: `dameng_exporter_site [--config FILE] [--web.config.file FILE]` (default
//! `./dameng_exporter.toml`), or `dameng_exporter_site --list-collectors`. For the full command line (check-config,
//! password tools, overrides), copy the root crate's `src/cli.rs` instead.
#![forbid(unsafe_code)]

mod site_orders;

use std::path::PathBuf;
use std::process::ExitCode;

use dmexp_core::app::{self, AppOptions};
use dmexp_core::exporter::ConfigLoader;
use dmexp_core::runtime::BuildInfo;

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
    // `Err(flag)` when the flag is the last argument (no file after it).
    let file = |flag: &str| -> Result<Option<PathBuf>, String> {
        match args.iter().position(|a| a == flag) {
            Some(i) => args.get(i + 1).map(|f| Some(PathBuf::from(f))).ok_or(flag.to_owned()),
            None => Ok(None),
        }
    };
    let (config, web_config_file) = match (file("--config"), file("--web.config.file")) {
        (Ok(config), Ok(web)) => {
            (config.unwrap_or_else(|| PathBuf::from("./dameng_exporter.toml")), web)
        }
        (Err(flag), _) | (_, Err(flag)) => {
            eprintln!("error: {flag} needs a file");
            return ExitCode::from(2);
        }
    };
    let loaded = match dmexp_config::load_file(&config) {
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
    let build = BuildInfo {
        version: format!("v{}-site", env!("CARGO_PKG_VERSION")),
        revision: "unknown".into(),
        branch: "unknown".into(),
        rustversion: "unknown".into(),
    };
    // SIGHUP and POST /-/reload read the file again.
    let loader: ConfigLoader = Box::new(move || Ok(dmexp_config::load_file(&config)?));
    let mut opts = AppOptions::new(loaded, build);
    opts.web_config_file = web_config_file;
    match rt.block_on(app::run(opts, Some(loader))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
