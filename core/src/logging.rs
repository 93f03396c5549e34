//! Logging: `tracing` events to stdout and, optionally, to a size-rotated file.
//!
//! [`init`] installs the global subscriber once, at startup, from [`LoggingOptions`]
//! (`logLevel`, `logDir`, `logMaxSize`, `logMaxBackups`, `logMaxAge`). When the environment
//! variable [`LOG_ENV_VAR`] (`DMEXP_LOG`) is set, its `RUST_LOG`-style directives (e.g.
//! `debug` or `info,dmexp_core::pool=debug`) replace `logLevel`.
//!
//! The file sink writes `<logDir>/dameng_exporter.log` without ANSI colours. When it exceeds
//! `logMaxSize` MiB (checked after each whole event, so events are never split across files)
//! it is renamed to `dameng_exporter.log.1`, older files move up one number, files beyond
//! `logMaxBackups` are deleted, and so are rotated files last written more than `logMaxAge`
//! days ago (`0` = no age limit). The same pruning runs at startup.
//!
//! A log directory that cannot be created or written is a WARN, never an exit: the exporter
//! logs to stdout only. Under systemd or in a container ([`Supervisor`]) the default is stdout
//! only unless the file sets `logDir`. On reload, [`LogControl::apply`] changes the level at
//! once; the file sink and the format stay as started and are reported as needing a restart.
//!
//! Unlike upstream (docs/UPSTREAM.md §2.10) the file name does not change with the start date,
//! rotated files are not compressed, and there are no colour codes in the file.
//!
//! # Conventions for log events (everyone, docs/HOUSE_STYLE.md B12)
//!
//! - Fields first, then the message: a capitalised sentence ending with a period.
//!   `warn!(datasource = %name, collector = name, error = %error, "Collector failed.")`
//! - Events about one datasource carry `datasource = %name` (the configured name), so that
//!   `grep 'datasource=primary'` finds all of them.
//! - Errors are bound as `error` and shown with Display (`error = %error`).
//! - Never log a secret: passwords are [`dmexp_config::Secret`] (prints `***`); connection
//!   strings only after masking. Client-supplied text (e.g. a username) is logged with `?`
//!   so that it is escaped.
//! - Levels: ERROR for what an operator must fix (datasource unreachable, plugin not loaded),
//!   WARN for a degraded but working exporter (one collector failed, auth failure), INFO for
//!   lifecycle (start, reload, shutdown, health transitions), DEBUG for per-scrape detail.

mod file;
mod logfmt;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub use dmexp_config::LogFormat;
use dmexp_config::{GlobalConfig, LogLevel};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Layer, Registry};

pub use file::RotatingFileWriter;

use crate::api::RestartRequired;

/// Environment variable whose directives override the configured level.
pub const LOG_ENV_VAR: &str = "DMEXP_LOG";

/// Name of the log file inside the log directory.
pub const LOG_FILE_NAME: &str = "dameng_exporter.log";

const MIB: u64 = 1024 * 1024;
const SECONDS_PER_DAY: u64 = 24 * 60 * 60;

/// What [`init`] sets up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingOptions {
    /// Most verbose level written (unless [`LOG_ENV_VAR`] is set).
    pub level: LogLevel,
    /// Directory of the log file; `None` logs to stdout only.
    pub dir: Option<PathBuf>,
    /// Rotate the file once it exceeds this many MiB; must be at least 1.
    pub max_size_mb: u64,
    /// Rotated files kept (`dameng_exporter.log.1` …); `0` keeps none.
    pub max_backups: usize,
    /// Delete rotated files last written more than this many days ago; `0` = no age limit.
    pub max_age_days: u64,
    /// Line format on both sinks (`logFormat`, `--log.format`): text, logfmt or JSON.
    pub format: LogFormat,
}

impl LoggingOptions {
    /// Reads `logLevel`, `logFormat`, `logDir`, `logMaxSize`, `logMaxBackups` and `logMaxAge`.
    ///
    /// Under systemd or in a container ([`Supervisor::detect`]) the default is stdout only
    /// (the journal or the container log keeps it); a `logDir` set in the file still applies.
    pub fn from_global(cfg: &GlobalConfig) -> Self {
        Self::from_global_under(cfg, Supervisor::detect())
    }

    /// [`LoggingOptions::from_global`] for a given supervisor (`None`: a plain shell).
    pub fn from_global_under(cfg: &GlobalConfig, supervisor: Option<Supervisor>) -> Self {
        let dir = match supervisor {
            Some(_) if !cfg.log_dir_explicit => None,
            _ => cfg.log_dir.clone(),
        };
        LoggingOptions {
            level: cfg.log_level,
            dir,
            max_size_mb: cfg.log_max_size_mb,
            max_backups: cfg.log_max_backups,
            max_age_days: cfg.log_max_age_days,
            format: cfg.log_format,
        }
    }

    /// The rotation policy of the file sink.
    pub fn rotation(&self) -> RotationPolicy {
        RotationPolicy {
            max_bytes: self.max_size_mb.saturating_mul(MIB),
            max_backups: self.max_backups,
            max_age: (self.max_age_days > 0)
                .then(|| Duration::from_secs(self.max_age_days.saturating_mul(SECONDS_PER_DAY))),
        }
    }
}

/// When the log file rotates and which rotated files survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Rotate once the file exceeds this many bytes (checked before each event is written).
    pub max_bytes: u64,
    /// Rotated files kept.
    pub max_backups: usize,
    /// Rotated files whose last write is older than this are deleted; `None` = no limit.
    pub max_age: Option<Duration>,
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoggingError {
    /// The log directory does not exist and cannot be created.
    #[error("cannot create log directory `{}`", dir.display())]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The log directory cannot be listed (needed to find rotated files).
    #[error("cannot read log directory `{}`", dir.display())]
    ReadDir {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The log file cannot be opened for appending.
    #[error("cannot open log file `{}`", path.display())]
    OpenFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// `logMaxSize` is 0.
    #[error("log file size limit must be at least 1 MiB")]
    ZeroSizeLimit,
    /// [`LOG_ENV_VAR`] holds directives that do not parse.
    #[error("invalid log directives in {LOG_ENV_VAR}")]
    EnvDirectives(#[source] tracing_subscriber::filter::ParseError),
    /// A global subscriber is already installed.
    #[error("logging is already initialized")]
    AlreadyInitialized(#[source] tracing_subscriber::util::TryInitError),
    /// The level of the running subscriber could not be changed.
    #[error("cannot change the log level: {0}")]
    Reload(String),
}

/// Keeps the file sink alive; flushes it when dropped. Hold it in `main` until exit.
#[derive(Debug)]
#[must_use = "the file sink is flushed when the guard is dropped; keep it until exit"]
pub struct LogGuard {
    file: Option<RotatingFileWriter>,
    control: LogControl,
}

impl LogGuard {
    /// Path of the log file, if there is a file sink.
    pub fn file_path(&self) -> Option<&Path> {
        self.file.as_ref().map(RotatingFileWriter::path)
    }

    /// The handle that changes the level of the running subscriber (on reload).
    pub fn control(&self) -> LogControl {
        self.control.clone()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            let _ = (&*file).flush();
        }
    }
}

type FilterHandle = reload::Handle<EnvFilter, Layered<Vec<BoxedLayer>, Registry>>;

/// Changes the running subscriber on reload: the level applies at once; the file sink
/// (`logDir`, rotation) and the format were fixed by [`init`] and need a restart.
#[derive(Clone)]
pub struct LogControl {
    filter: FilterHandle,
    /// What [`init`] set up (the directory actually in use: `None` after a fallback to stdout).
    started: LoggingOptions,
    /// What was asked for at start (before any fallback), to compare a reload against.
    requested: LoggingOptions,
    /// Level in force now.
    level: Arc<Mutex<LogLevel>>,
}

impl std::fmt::Debug for LogControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogControl")
            .field("started", &self.started)
            .field("requested", &self.requested)
            .finish_non_exhaustive()
    }
}

impl LogControl {
    /// The options logging started with (after the fallback to stdout, if any).
    pub fn started(&self) -> &LoggingOptions {
        &self.started
    }

    /// Applies `new`: the level at once (unless [`LOG_ENV_VAR`] overrides it); returns the
    /// changed keys that need a restart (`logDir`, `logMaxSize`, `logMaxBackups`, `logMaxAge`,
    /// the log format).
    pub fn apply(&self, new: &LoggingOptions) -> Result<Vec<RestartRequired>, LoggingError> {
        let env = std::env::var(LOG_ENV_VAR).ok();
        let mut level = self.level.lock().unwrap_or_else(PoisonError::into_inner);
        if *level != new.level {
            if env.as_deref().map(str::trim).is_some_and(|s| !s.is_empty()) {
                tracing::warn!(
                    level = level_name(new.level),
                    "logLevel changed, but {LOG_ENV_VAR} is set and decides the level."
                );
            } else {
                let filter = level_filter(new.level, None)?;
                self.filter.reload(filter).map_err(|e| LoggingError::Reload(e.to_string()))?;
                tracing::info!(
                    old = level_name(*level),
                    new = level_name(new.level),
                    "Log level changed."
                );
            }
            *level = new.level;
        }
        Ok(restart_notes(&self.requested, new))
    }
}

/// The changed log keys that need a restart, `running` against `new`.
fn restart_notes(running: &LoggingOptions, new: &LoggingOptions) -> Vec<RestartRequired> {
    let mut notes = Vec::new();
    let show = |d: &Option<PathBuf>| match d {
        Some(d) => format!("{:?}", d.display().to_string()),
        None => "stdout only".to_owned(),
    };
    if running.dir != new.dir {
        notes.push(RestartRequired::new(
            "logDir",
            format!("logging to {}, the configuration says {}", show(&running.dir), show(&new.dir)),
        ));
    }
    let mut number = |key: &str, old: u64, new: u64| {
        if old != new {
            notes.push(RestartRequired::new(
                key,
                format!("running with {old}, the configuration says {new}"),
            ));
        }
    };
    number("logMaxSize", running.max_size_mb, new.max_size_mb);
    number("logMaxBackups", running.max_backups as u64, new.max_backups as u64);
    number("logMaxAge", running.max_age_days, new.max_age_days);
    if running.format != new.format {
        notes.push(RestartRequired::new("logFormat", "the log format changes at the next start"));
    }
    notes
}

/// Where the process runs, for the default of `logDir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supervisor {
    /// Started by systemd (`INVOCATION_ID` or `JOURNAL_STREAM` set): stdout goes to the journal.
    Systemd,
    /// In a container (`/.dockerenv`, `/run/.containerenv` or the `container` variable).
    Container,
}

impl Supervisor {
    /// Detects systemd or a container from the environment and the file system.
    pub fn detect() -> Option<Supervisor> {
        let var = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
        Self::from_facts(
            var("INVOCATION_ID") || var("JOURNAL_STREAM"),
            var("container")
                || Path::new("/.dockerenv").exists()
                || Path::new("/run/.containerenv").exists(),
        )
    }

    /// The decision, from what [`Supervisor::detect`] looks at.
    pub fn from_facts(systemd: bool, container: bool) -> Option<Supervisor> {
        match (systemd, container) {
            (true, _) => Some(Supervisor::Systemd),
            (false, true) => Some(Supervisor::Container),
            (false, false) => None,
        }
    }

    /// Lower-case name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Supervisor::Systemd => "systemd",
            Supervisor::Container => "container",
        }
    }
}

/// Installs the global subscriber: stdout (colours only on a terminal) and, when
/// [`LoggingOptions::dir`] is set, the rotated file. Call once.
///
/// A log directory that cannot be created or written is not fatal: the exporter logs to
/// stdout only and says so in a WARN event (finding #12: a read-only or missing directory
/// must not stop a service). Errors are only a bad [`LOG_ENV_VAR`] and a second call.
pub fn init(cfg: &LoggingOptions) -> Result<LogGuard, LoggingError> {
    let filter = level_filter(cfg.level, std::env::var(LOG_ENV_VAR).ok().as_deref())?;
    let (file, fallback) = match &cfg.dir {
        Some(dir) => match RotatingFileWriter::open(dir, cfg.rotation()) {
            Ok(file) => (Some(file), None),
            Err(error) => (None, Some(error)),
        },
        None => (None, None),
    };
    let mut layers = vec![fmt_layer(io::stdout, io::stdout().is_terminal(), cfg.format)];
    if let Some(file) = &file {
        layers.push(fmt_layer(file.clone(), false, cfg.format));
    }
    let (filter, handle) = reload::Layer::new(filter);
    tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .try_init()
        .map_err(LoggingError::AlreadyInitialized)?;
    if let Some(error) = &fallback {
        tracing::warn!(
            error = %error_chain(error),
            "Cannot write the log file; logging to stdout only. Fix logDir (or set logDir = \"\" to silence this)."
        );
    }
    let started =
        LoggingOptions { dir: if file.is_some() { cfg.dir.clone() } else { None }, ..cfg.clone() };
    let control = LogControl {
        filter: handle,
        started,
        requested: cfg.clone(),
        level: Arc::new(Mutex::new(cfg.level)),
    };
    Ok(LogGuard { file, control })
}

/// `error: cause: cause` in one line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The filter: `env` directives when set and non-empty, else `level`.
fn level_filter(level: LogLevel, env: Option<&str>) -> Result<EnvFilter, LoggingError> {
    match env.map(str::trim).filter(|s| !s.is_empty()) {
        Some(directives) => EnvFilter::try_new(directives).map_err(LoggingError::EnvDirectives),
        // odbc-api logs every driver diagnostic at WARN through `log`; the exporter reports
        // the same errors once, with the datasource, so keep those at ERROR only.
        None => Ok(EnvFilter::new(format!("{},odbc_api=error", level_name(level)))),
    }
}

fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// One formatting layer over `writer` (colours only for text on a terminal).
fn fmt_layer<W>(writer: W, ansi: bool, format: LogFormat) -> BoxedLayer
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    match format {
        LogFormat::Text => layer.with_ansi(ansi).boxed(),
        LogFormat::Json => layer.with_ansi(false).json().boxed(),
        LogFormat::Logfmt => layer
            .with_ansi(false)
            .fmt_fields(logfmt::LogfmtFields)
            .event_format(logfmt::Logfmt)
            .boxed(),
    }
}
