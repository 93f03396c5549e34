//! `--test-custom-metrics FILE [--datasource NAME]`: the dry run.

use std::path::Path;
use std::process::ExitCode;

use dmexp_config::Config;

use super::output::out;
use super::{EXIT_CONFIG, EXIT_RUNTIME};

/// Runs each `[[metric]]` of `file` once against the datasource and prints the series it
/// would produce. A closed stdout (`| head`) ends the output quietly; the exit code still
/// says whether every metric succeeded.
pub(super) fn test_custom_metrics(
    config: &Config,
    file: &Path,
    datasource: Option<&str>,
) -> ExitCode {
    let names =
        || config.datasources.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ");
    let ds = match datasource {
        Some(name) => config.datasources.iter().find(|d| d.name == name),
        None if config.datasources.len() == 1 => config.datasources.first(),
        None => {
            eprintln!(
                "error: --test-custom-metrics needs --datasource NAME (datasources: {})",
                names()
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let Some(ds) = ds else {
        eprintln!(
            "error: no datasource named {:?} in the configuration (datasources: {})",
            datasource.unwrap_or_default(),
            names()
        );
        return ExitCode::from(EXIT_CONFIG);
    };
    if !ds.enabled {
        eprintln!(
            "note: datasource {} is disabled in the configuration; testing it anyway",
            ds.name
        );
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let header = format!(
        "# dry run of {} against datasource {} (datasource=\"{}\"), read-only\n",
        file.display(),
        ds.name,
        ds.datasource_label()
    );
    let open = out(&header);
    let report = rt.block_on(dmexp_core::custom::dry_run(ds, file));
    if open {
        out(&report.render());
    }
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CONFIG)
    }
}
