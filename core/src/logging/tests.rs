//! Tests of the logging module: rotation, pruning, filters and formats.

use std::fs;
use std::time::SystemTime;

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
        ["dameng_exporter.log", "dameng_exporter.log.1", "dameng_exporter.log.2", "other.log.9"]
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

fn options(dir: Option<&str>) -> LoggingOptions {
    LoggingOptions {
        level: LogLevel::Info,
        dir: dir.map(PathBuf::from),
        max_size_mb: 10,
        max_backups: 3,
        max_age_days: 30,
        format: LogFormat::Text,
    }
}

#[test]
fn changed_file_sink_keys_are_restart_notes_and_the_level_is_not() {
    let running = options(Some("logs"));
    let same_but_level = LoggingOptions { level: LogLevel::Debug, ..running.clone() };
    assert_eq!(restart_notes(&running, &same_but_level), vec![]);
    let moved =
        LoggingOptions { dir: None, max_backups: 5, format: LogFormat::Json, ..running.clone() };
    let shown: Vec<String> =
        restart_notes(&running, &moved).iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            r#"logDir: logging to "logs", the configuration says stdout only"#,
            "logMaxBackups: running with 3, the configuration says 5",
            "logFormat: the log format changes at the next start",
        ]
    );
}

#[test]
fn under_systemd_or_in_a_container_the_default_is_stdout_only() {
    let default = GlobalConfig::default();
    assert_eq!(default.log_dir, Some(PathBuf::from("logs")));
    assert_eq!(LoggingOptions::from_global_under(&default, None).dir, Some(PathBuf::from("logs")));
    for supervisor in [Supervisor::Systemd, Supervisor::Container] {
        assert_eq!(LoggingOptions::from_global_under(&default, Some(supervisor)).dir, None);
        // An explicit logDir still writes the file.
        let explicit = GlobalConfig {
            log_dir: Some(PathBuf::from("/var/log/dmexp")),
            log_dir_explicit: true,
            ..GlobalConfig::default()
        };
        assert_eq!(
            LoggingOptions::from_global_under(&explicit, Some(supervisor)).dir,
            Some(PathBuf::from("/var/log/dmexp"))
        );
    }
    assert_eq!(Supervisor::from_facts(true, true), Some(Supervisor::Systemd));
    assert_eq!(Supervisor::from_facts(false, true), Some(Supervisor::Container));
    assert_eq!(Supervisor::from_facts(false, false), None);
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
