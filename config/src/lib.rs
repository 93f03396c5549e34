//! Configuration for dameng_exporter: the multi-datasource TOML (upstream v1.2 keys, matched
//! case-insensitively), the single-source and legacy v1.1 forms, CLI mode, defaults,
//! validation with file/line/key messages, and upstream-compatible `ENC()` passwords.
//!
//! Entry points: [`load_file`] (detects the form), [`from_cli`] + [`apply_cli_globals`],
//! [`encrypt_passwords_in_file`] for `encodeConfigPwd = true`, [`encrypt_password`] /
//! [`decrypt_password`], and [`DEFAULT_CONFIG`], the commented reference file. Custom metrics
//! files (`customMetricsFile`, the upstream `[[metric]]` format): [`load_custom_metrics`] /
//! [`load_custom_metrics_with`]. Every key is declared once in [`schema`], from which the
//! parser, [`DEFAULT_CONFIG`] and the README reference are derived.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod build;
mod checks;
mod cli;
mod crypto;
mod custom_metrics;
pub mod dbhost;
mod defaults;
mod env;
mod error;
mod fsread;
mod ident;
mod labels;
mod legacy;
mod model;
mod raw;
mod rewrite;
pub mod schema;
mod toml_walk;

use std::path::{Path, PathBuf};

pub use cli::{
    apply_cli_globals, cli_datasource_name, from_cli, CliDatasource, CliGlobals, CLI_SOURCE,
};
pub use crypto::{decrypt_password, encrypt_password, is_encrypted, EncError};
pub use custom_metrics::{
    load_custom_metrics, load_custom_metrics_with, parse_custom_metrics, CustomMetric,
    CustomMetricKind, CustomMetricsFile, CustomMetricsOptions, ValueColumn, ValueMap,
    CUSTOM_METRIC_PREFIX, DEFAULT_CUSTOM_MAX_ROWS, MAX_CUSTOM_MAX_ROWS, MAX_CUSTOM_QUERY_TIMEOUT,
    MAX_CUSTOM_SCRAPE_INTERVAL, VALUE_MAP_DEFAULT_KEY,
};
pub use defaults::*;
pub use error::{ConfigError, Problem};
pub use fsread::{read_file, read_text_file, MAX_CONFIG_FILE_BYTES};
pub use model::*;
pub use rewrite::{encrypt_passwords_in_file, RewriteOutcome};
pub use schema::{Config, ConnectionSettings, DatasourceConfig, GlobalConfig};

use raw::{Ctx, LineIndex};
use toml_walk::{detect_form, Walker};

/// The commented reference configuration: every global and datasource key with its
/// default, its meaning (English and 中文) and its CLI flag. It parses as a valid config.
pub const DEFAULT_CONFIG: &str = include_str!("../default.toml");

/// Reads and validates a configuration file. The form is detected: multi-source TOML
/// (global keys + `[[datasource]]`), single-source TOML (top-level dbHost/dbUser/dbPwd,
/// one datasource named `default`), or a legacy v1.1 `key=value` file (converted in memory,
/// with a [`ConfigWarning`] showing the TOML to save). Relative paths inside the file
/// (customMetricsFile, dbPwdFile, plugin paths) are resolved against the file's directory.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = fsread::read_text_file(path)
        .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
    load_str(&text, path)
}

/// Like [`load_file`] with the text already read; `path` names the file in messages and
/// gives the directory relative paths are resolved against (it is not read).
pub fn load_str(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut ctx = Ctx::new(path.display().to_string(), base_dir(path));
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines = LineIndex::new(text);
    let (raw, origin) = match toml_edit::Document::parse(text) {
        Ok(doc) => {
            let root = doc.as_table();
            let mut w = Walker { ctx: &mut ctx, lines: &lines, expand_env: true };
            let raw = w.walk_document(root, detect_form(root));
            (raw, ConfigOrigin::Toml(path.to_path_buf()))
        }
        Err(e) => {
            if !legacy::looks_legacy(text) {
                let (line, column) = e.span().map_or((1, 1), |s| lines.line_col(text, s.start));
                return Err(ConfigError::Syntax {
                    file: ctx.file,
                    line,
                    column,
                    message: e.message().to_string(),
                });
            }
            let mut w = Walker { ctx: &mut ctx, lines: &lines, expand_env: true };
            let raw = legacy::parse(&mut w, text);
            // The notice shows the file as written (no ${ENV} expanded, password redacted).
            let mut quiet = Ctx::new(ctx.file.clone(), ctx.base_dir.clone());
            let mut qw = Walker { ctx: &mut quiet, lines: &lines, expand_env: false };
            let shown = legacy::parse(&mut qw, text);
            let notice = legacy::notice(&ctx, &shown);
            ctx.warn(0, notice, false);
            (raw, ConfigOrigin::Legacy(path.to_path_buf()))
        }
    };
    let cfg = build::build(&mut ctx, &raw, origin);
    cli::finish(ctx, cfg)
}

/// Converts the text of a legacy v1.1 `key=value` file into the equivalent multi-source
/// TOML (one datasource named `default`; v1.1 keys renamed; v1.1 defaults for dbHost,
/// dbUser, dbPwd and encodeConfigPwd written out). Passwords are copied as they are.
/// Values are type-checked; the result is not otherwise validated.
pub fn legacy_to_toml(text: &str) -> Result<String, ConfigError> {
    let file = "legacy config";
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !legacy::looks_legacy(text) {
        return Err(ConfigError::Invalid {
            file: file.to_string(),
            problems: vec![Problem::new(
                "not a legacy v1.1 key=value file (every line must be key=value or a # comment, with known keys)",
            )],
        });
    }
    let base = std::env::current_dir().unwrap_or_default();
    let mut ctx = Ctx::new(file, base);
    let lines = LineIndex::new(text);
    let mut w = Walker { ctx: &mut ctx, lines: &lines, expand_env: false };
    let raw = legacy::parse(&mut w, text);
    if !ctx.problems.is_empty() {
        return Err(ConfigError::Invalid { file: ctx.file, problems: ctx.problems });
    }
    Ok(legacy::render_toml(&raw, false))
}

fn base_dir(path: &Path) -> PathBuf {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    std::path::absolute(&parent).unwrap_or(parent)
}
