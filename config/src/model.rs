//! The leaf types of the configuration model (secrets, enums, plugin entries, warnings), below
//! [`crate::schema`], which declares the structs made of them ([`crate::Config`],
//! [`crate::GlobalConfig`], [`crate::DatasourceConfig`]).

use std::fmt;
use std::path::PathBuf;

/// A secret string (database or basic-auth password). `Debug` and `Display` never show it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a plaintext secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The plaintext. Call only where the value is needed (connection string, auth check).
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// True when no secret is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// `logLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// debug
    Debug,
    /// info (default; also what upstream used for unknown values)
    Info,
    /// warn
    Warn,
    /// error
    Error,
}

/// `logFormat` / `--log.format`: how log lines are written (stdout and the log file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `text` (default): tracing's human-readable lines, `2026-… WARN target: Message. key=value`.
    #[default]
    Text,
    /// `logfmt`: `ts=… level=… msg=… key=value` (Prometheus' `--log.format=logfmt`).
    Logfmt,
    /// `json`: one JSON object per line.
    Json,
}

impl LogFormat {
    /// Parses `text`, `logfmt` or `json` (case-insensitive).
    pub fn parse(s: &str) -> Option<LogFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Some(LogFormat::Text),
            "logfmt" => Some(LogFormat::Logfmt),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }

    /// `text`, `logfmt` or `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Logfmt => "logfmt",
            LogFormat::Json => "json",
        }
    }
}

/// `collectionMode`: how the per-scrape deadline is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectionMode {
    /// Wait for every collector (bounded by queryTimeout); `globalTimeoutSeconds` only marks slow ones.
    Blocking,
    /// Hard cut-off at `globalTimeoutSeconds`: return what finished.
    Fast,
}

/// `collectStrategy`: how datasources are scheduled within one scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectStrategy {
    /// One datasource after the other, by priority.
    Serial,
    /// All datasources at once.
    Concurrent,
    /// Priority groups (1 high … 3 low), at most `maxConcurrentGroups` groups in flight.
    Hybrid,
}

/// Where the configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// A multi-source or single-source TOML file.
    Toml(PathBuf),
    /// A legacy v1.1 `key=value` file, converted in memory.
    Legacy(PathBuf),
    /// `--dbHost --dbUser --dbPwd` on the command line, no file.
    Cli,
}

/// One `[[datasource.plugin]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginConfig {
    /// Library path, resolved against the config file's directory when relative.
    pub path: PathBuf,
    /// The `[datasource.plugin.config]` table, re-serialised as TOML text for the plugin.
    pub config_toml: String,
}

/// A non-fatal finding (unknown key, deprecated key, conversion notice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// Human-readable, names file, line and key.
    pub message: String,
    /// True for unknown keys (errors under `--strict`).
    pub unknown_key: bool,
}
