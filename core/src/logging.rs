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
//! days ago (`0` = no age limit). The same pruning runs at startup. Unlike upstream
//! (UPSTREAM.md §2.10) the file name does not change with the start date, rotated files are
//! not compressed, and there are no colour codes in the file.
//!
//! # Conventions for log events (everyone, HOUSE_STYLE B12)
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

use std::fs::{self, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

pub use dmexp_config::LogFormat;
use dmexp_config::{GlobalConfig, LogLevel};
use file_rotate::compression::Compression;
use file_rotate::suffix::{AppendCount, SuffixScheme};
use file_rotate::{ContentLimit, FileRotate, SuffixInfo};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// Environment variable whose directives override the configured level.
pub const LOG_ENV_VAR: &str = "DMEXP_LOG";

/// Name of the log file inside the log directory.
pub const LOG_FILE_NAME: &str = "dameng_exporter.log";

mod logfmt;

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
    pub fn from_global(cfg: &GlobalConfig) -> Self {
        LoggingOptions {
            level: cfg.log_level,
            dir: cfg.log_dir.clone(),
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
}

/// Keeps the file sink alive; flushes it when dropped. Hold it in `main` until exit.
#[derive(Debug)]
#[must_use = "the file sink is flushed when the guard is dropped; keep it until exit"]
pub struct LogGuard {
    file: Option<RotatingFileWriter>,
}

impl LogGuard {
    /// Path of the log file, if there is a file sink.
    pub fn file_path(&self) -> Option<&Path> {
        self.file.as_ref().map(RotatingFileWriter::path)
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            let _ = (&*file).flush();
        }
    }
}

/// Installs the global subscriber: stdout (colours only on a terminal) and, when
/// [`LoggingOptions::dir`] is set, the rotated file. Call once.
pub fn init(cfg: &LoggingOptions) -> Result<LogGuard, LoggingError> {
    let filter = level_filter(cfg.level, std::env::var(LOG_ENV_VAR).ok().as_deref())?;
    let file = match &cfg.dir {
        Some(dir) => Some(RotatingFileWriter::open(dir, cfg.rotation())?),
        None => None,
    };
    let mut layers = vec![fmt_layer(io::stdout, io::stdout().is_terminal(), cfg.format)];
    if let Some(file) = &file {
        layers.push(fmt_layer(file.clone(), false, cfg.format));
    }
    tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .try_init()
        .map_err(LoggingError::AlreadyInitialized)?;
    Ok(LogGuard { file })
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

/// The file sink: `dir/dameng_exporter.log`, rotated by size with a count and an age limit.
///
/// Cheap to clone (shared handle). Each write takes a lock; the fmt layer writes one whole
/// event per call, so events are never interleaved or split.
#[derive(Debug, Clone)]
pub struct RotatingFileWriter {
    path: Arc<Path>,
    inner: Arc<Mutex<RotatingInner>>,
}

#[derive(Debug)]
struct RotatingInner {
    policy: RotationPolicy,
    /// `None` after the rotation library panicked; rebuilt on the next write.
    rotate: Option<FileRotate<CountAndAge>>,
}

impl RotatingFileWriter {
    /// Creates `dir` if needed, checks that the log file can be appended to, deletes rotated
    /// files beyond the policy, and opens the file.
    pub fn open(dir: &Path, policy: RotationPolicy) -> Result<Self, LoggingError> {
        if policy.max_bytes == 0 {
            return Err(LoggingError::ZeroSizeLimit);
        }
        fs::create_dir_all(dir)
            .map_err(|source| LoggingError::CreateDir { dir: dir.to_path_buf(), source })?;
        // file-rotate resolves relative paths with unwrap() at every rotation.
        let dir = std::path::absolute(dir)
            .map_err(|source| LoggingError::CreateDir { dir: dir.to_path_buf(), source })?;
        let path = dir.join(LOG_FILE_NAME);
        // file-rotate silently drops writes when it cannot open the file: check first.
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| LoggingError::OpenFile { path: path.clone(), source })?;
        prune_rotated(&path, &policy)
            .map_err(|source| LoggingError::ReadDir { dir: dir.clone(), source })?;
        let rotate = new_file_rotate(&path, &policy);
        Ok(RotatingFileWriter {
            path: Arc::from(path),
            inner: Arc::new(Mutex::new(RotatingInner { policy, rotate: Some(rotate) })),
        })
    }

    /// Path of the current log file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Write for &RotatingFileWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let RotatingInner { policy, rotate } = &mut *inner;
        // file-rotate asserts on unexpected file-system states (e.g. a rotated file deleted
        // by hand). A log write must never take the process down: drop the state, rescan the
        // directory on the next write.
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            rotate.get_or_insert_with(|| new_file_rotate(&self.path, policy)).write(buf)
        }));
        match result {
            Ok(written) => written,
            Err(_) => {
                *rotate = None;
                Err(io::Error::other("log file rotation failed"))
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match inner.rotate.as_mut() {
            Some(rotate) => rotate.flush(),
            None => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for RotatingFileWriter {
    type Writer = &'a RotatingFileWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

fn new_file_rotate(path: &Path, policy: &RotationPolicy) -> FileRotate<CountAndAge> {
    FileRotate::new(
        path,
        CountAndAge {
            count: AppendCount::new(policy.max_backups),
            basepath: path.to_path_buf(),
            max_age: policy.max_age,
        },
        // Rotate before an event once the file has passed the limit, so that no event is cut
        // in two (ContentLimit::Bytes cuts at the exact byte).
        ContentLimit::BytesSurpassed(usize::try_from(policy.max_bytes).unwrap_or(usize::MAX)),
        Compression::None,
        None,
    )
}

/// `AppendCount` (`.1` newest … `.N` oldest) that also considers files too old by mtime.
struct CountAndAge {
    count: AppendCount,
    basepath: PathBuf,
    max_age: Option<Duration>,
}

impl std::fmt::Debug for CountAndAge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CountAndAge")
            .field("basepath", &self.basepath)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl SuffixScheme for CountAndAge {
    type Repr = usize;

    fn rotate_file(
        &mut self,
        basepath: &Path,
        newest_suffix: Option<&usize>,
        suffix: &Option<usize>,
    ) -> io::Result<usize> {
        self.count.rotate_file(basepath, newest_suffix, suffix)
    }

    fn parse(&self, suffix: &str) -> Option<usize> {
        self.count.parse(suffix)
    }

    fn too_old(&self, suffix: &usize, file_number: usize) -> bool {
        self.count.too_old(suffix, file_number)
            || is_older_than(&rotated_path(&self.basepath, *suffix), self.max_age)
    }
}

fn rotated_path(basepath: &Path, number: usize) -> PathBuf {
    SuffixInfo { suffix: number, compressed: false }.to_path(basepath)
}

fn is_older_than(path: &Path, max_age: Option<Duration>) -> bool {
    let Some(max_age) = max_age else {
        return false;
    };
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .is_some_and(|age| age > max_age)
}

/// Startup pruning: deletes `<path>.<N>` files with N above `max_backups` or older than
/// `max_age`. Files that cannot be deleted are left alone.
fn prune_rotated(path: &Path, policy: &RotationPolicy) -> io::Result<()> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(());
    };
    let prefix = format!("{}.", name.to_string_lossy());
    for entry in fs::read_dir(dir)? {
        let Ok(entry) = entry else { continue };
        let file_name = entry.file_name();
        let Some(number) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        let rotated = entry.path();
        if number > policy.max_backups || is_older_than(&rotated, policy.max_age) {
            let _ = fs::remove_file(&rotated);
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let unique = format!(
                "dmexp-logging-{tag}-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            let dir = std::env::temp_dir().join(unique);
            let _ = fs::remove_dir_all(&dir);
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn log_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn policy(max_bytes: u64, max_backups: usize) -> RotationPolicy {
        RotationPolicy { max_bytes, max_backups, max_age: None }
    }

    #[test]
    fn rotation_caps_the_file_count_and_keeps_whole_lines() {
        let tmp = TempDir::new("rotate");
        let writer = RotatingFileWriter::open(&tmp.0, policy(200, 2)).unwrap();
        for i in 0..100 {
            writeln!(&writer, "line {i:03} of the rotation test").unwrap();
        }
        (&writer).flush().unwrap();
        assert_eq!(
            log_files(&tmp.0),
            ["dameng_exporter.log", "dameng_exporter.log.1", "dameng_exporter.log.2"]
        );
        let current = fs::read_to_string(writer.path()).unwrap();
        assert!(current.ends_with("line 099 of the rotation test\n"));
        for name in log_files(&tmp.0) {
            let text = fs::read_to_string(tmp.0.join(&name)).unwrap();
            assert!(!text.is_empty(), "{name} is empty");
            for line in text.lines() {
                assert!(line.starts_with("line ") && line.ends_with(" test"), "{line}");
            }
            // At most one event past the limit.
            assert!(text.len() < 200 + 40, "{name}: {} bytes", text.len());
        }
        // The newest rotated file holds the lines just before the current file.
        let newest = fs::read_to_string(tmp.0.join("dameng_exporter.log.1")).unwrap();
        let first_current = current.lines().next().unwrap();
        let last_rotated = newest.lines().last().unwrap();
        let number = |l: &str| l[5..8].parse::<u32>().unwrap();
        assert_eq!(number(last_rotated) + 1, number(first_current));
    }

    #[test]
    fn zero_backups_keeps_only_the_current_file() {
        let tmp = TempDir::new("zero");
        let writer = RotatingFileWriter::open(&tmp.0, policy(50, 0)).unwrap();
        for i in 0..20 {
            writeln!(&writer, "line {i}").unwrap();
        }
        assert_eq!(log_files(&tmp.0), ["dameng_exporter.log"]);
    }

    #[test]
    fn reopening_appends_and_prunes_excess_backups() {
        let tmp = TempDir::new("reopen");
        fs::create_dir_all(&tmp.0).unwrap();
        fs::write(tmp.0.join("dameng_exporter.log"), "old line\n").unwrap();
        for n in 1..=5 {
            fs::write(tmp.0.join(format!("dameng_exporter.log.{n}")), "x\n").unwrap();
        }
        fs::write(tmp.0.join("other.log.9"), "not ours\n").unwrap();
        let writer = RotatingFileWriter::open(&tmp.0, policy(1024, 2)).unwrap();
        writeln!(&writer, "new line").unwrap();
        assert_eq!(
            log_files(&tmp.0),
            [
                "dameng_exporter.log",
                "dameng_exporter.log.1",
                "dameng_exporter.log.2",
                "other.log.9"
            ]
        );
        assert_eq!(fs::read_to_string(writer.path()).unwrap(), "old line\nnew line\n");
    }

    #[test]
    fn age_limit_deletes_old_rotated_files() {
        let tmp = TempDir::new("age");
        fs::create_dir_all(&tmp.0).unwrap();
        let old = tmp.0.join("dameng_exporter.log.1");
        fs::write(&old, "old\n").unwrap();
        let two_days_ago = SystemTime::now() - Duration::from_secs(2 * SECONDS_PER_DAY);
        fs::File::options().write(true).open(&old).unwrap().set_modified(two_days_ago).unwrap();
        let one_day = Some(Duration::from_secs(SECONDS_PER_DAY));
        let policy = RotationPolicy { max_bytes: 30, max_backups: 5, max_age: one_day };
        // At startup.
        let writer = RotatingFileWriter::open(&tmp.0, policy).unwrap();
        assert_eq!(log_files(&tmp.0), ["dameng_exporter.log"]);
        // At rotation: a file that became old while running goes too.
        writeln!(&writer, "first segment, long enough to rotate").unwrap();
        writeln!(&writer, "second segment").unwrap();
        assert_eq!(log_files(&tmp.0), ["dameng_exporter.log", "dameng_exporter.log.1"]);
        fs::File::options().write(true).open(&old).unwrap().set_modified(two_days_ago).unwrap();
        writeln!(&writer, "third segment, long enough to rotate again").unwrap();
        writeln!(&writer, "fourth").unwrap();
        // .1 (now old) was moved to .2 and then found too old.
        assert_eq!(log_files(&tmp.0), ["dameng_exporter.log", "dameng_exporter.log.1"]);
    }

    #[test]
    fn uncreatable_directory_is_a_clear_error() {
        let tmp = TempDir::new("blocked");
        fs::create_dir_all(&tmp.0).unwrap();
        let blocker = tmp.0.join("a-file");
        fs::write(&blocker, "").unwrap();
        let dir = blocker.join("logs");
        let error = RotatingFileWriter::open(&dir, policy(1024, 1)).unwrap_err();
        assert!(matches!(error, LoggingError::CreateDir { .. }));
        assert_eq!(error.to_string(), format!("cannot create log directory `{}`", dir.display()));
    }

    #[test]
    fn zero_size_limit_is_rejected() {
        let tmp = TempDir::new("zero-size");
        assert!(matches!(
            RotatingFileWriter::open(&tmp.0, policy(0, 1)),
            Err(LoggingError::ZeroSizeLimit)
        ));
    }

    #[test]
    fn options_map_to_a_rotation_policy() {
        let opts = LoggingOptions {
            level: LogLevel::Info,
            dir: Some(PathBuf::from("logs")),
            max_size_mb: 10,
            max_backups: 3,
            max_age_days: 30,
            format: LogFormat::Text,
        };
        assert_eq!(
            opts.rotation(),
            RotationPolicy {
                max_bytes: 10 * MIB,
                max_backups: 3,
                max_age: Some(Duration::from_secs(30 * SECONDS_PER_DAY)),
            }
        );
        let no_age = LoggingOptions { max_age_days: 0, ..opts };
        assert_eq!(no_age.rotation().max_age, None);
    }

    #[test]
    fn env_directives_override_the_level() {
        assert_eq!(level_filter(LogLevel::Warn, None).unwrap().to_string(), "odbc_api=error,warn");
        assert_eq!(
            level_filter(LogLevel::Warn, Some("  ")).unwrap().to_string(),
            "odbc_api=error,warn"
        );
        assert_eq!(level_filter(LogLevel::Warn, Some("debug")).unwrap().to_string(), "debug");
        assert_eq!(
            level_filter(LogLevel::Warn, Some("dmexp_core::pool=trace")).unwrap().to_string(),
            "dmexp_core::pool=trace"
        );
        assert!(matches!(
            level_filter(LogLevel::Info, Some("=[")),
            Err(LoggingError::EnvDirectives(_))
        ));
    }

    #[test]
    fn file_layer_writes_plain_text_events() {
        use tracing_subscriber::layer::SubscriberExt;
        let tmp = TempDir::new("layer");
        let writer = RotatingFileWriter::open(&tmp.0, policy(1024 * 1024, 1)).unwrap();
        let subscriber =
            tracing_subscriber::registry().with(fmt_layer(writer.clone(), false, LogFormat::Text));
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(datasource = %"primary", "Collector failed.");
        });
        let text = fs::read_to_string(writer.path()).unwrap();
        assert!(text.contains("WARN"), "{text}");
        assert!(text.contains("Collector failed. datasource=primary"), "{text}");
        assert!(!text.contains('\u{1b}'), "ANSI escape in file: {text:?}");
    }

    #[test]
    fn json_layer_writes_one_object_per_event() {
        use tracing_subscriber::layer::SubscriberExt;
        let tmp = TempDir::new("json");
        let writer = RotatingFileWriter::open(&tmp.0, policy(1024 * 1024, 1)).unwrap();
        let subscriber =
            tracing_subscriber::registry().with(fmt_layer(writer.clone(), false, LogFormat::Json));
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(datasource = %"standby", "Datasource unreachable.");
        });
        let text = fs::read_to_string(writer.path()).unwrap();
        let line = text.lines().next().unwrap();
        assert!(line.starts_with('{') && line.ends_with('}'), "{line}");
        assert!(line.contains(r#""level":"ERROR""#), "{line}");
        assert!(line.contains(r#""message":"Datasource unreachable.""#), "{line}");
        assert!(line.contains(r#""datasource":"standby""#), "{line}");
    }

    #[test]
    fn logfmt_layer_writes_key_value_lines_with_span_fields() {
        use tracing_subscriber::layer::SubscriberExt;
        let tmp = TempDir::new("logfmt");
        let writer = RotatingFileWriter::open(&tmp.0, policy(1024 * 1024, 1)).unwrap();
        let subscriber =
            tracing_subscriber::registry().with(fmt_layer(writer.clone(), true, LogFormat::Logfmt));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("health", datasource = %"late");
            let _in = span.enter();
            tracing::warn!(collector = "sessions", error = %"无效的表或视图名 [V$X]", "Collector failed.");
        });
        let text = fs::read_to_string(writer.path()).unwrap();
        let line = text.lines().next().unwrap();
        let (ts, rest) = line.split_once(' ').unwrap();
        // ts=2026-12-03T05:48:49.123Z
        assert!(ts.starts_with("ts=") && ts.ends_with('Z') && ts.len() == 27, "{line}");
        assert_eq!(
            rest,
            "level=warn target=dmexp_core::logging::tests msg=\"Collector failed.\" \
             collector=sessions error=\"无效的表或视图名 [V$X]\" span=health datasource=late"
        );
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(!text.contains('\u{1b}'), "ANSI escape: {text:?}");
    }
}
