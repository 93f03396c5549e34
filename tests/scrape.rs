use crate::common::{pg_cs, series, sqlite_cs, value, Exporter};

/// Expected V$INSTANCE / V$SESSIONS values per fixture instance (tests/fixtures/data/*.sql).
struct Expect {
    instance: &'static str,
    start_time: f64,
    status: f64,
    mode: f64,
    trx: f64,
    deadlocks: f64,
    threads: f64,
    sessions: &'static [(&'static str, f64)],
}

const EXPECTED: [Expect; 3] = [
    Expect {
        instance: "primary",
        // 2026-11-01 08:30:00 UTC
        start_time: 1_793_521_800.0,
        status: 1.0,
        mode: 1.0,
        trx: 3.0,
        deadlocks: 2.0,
        threads: 12.0,
        sessions: &[("ACTIVE", 3.0), ("CREATE", 1.0), ("IDLE", 6.0), ("PENDING", 1.0)],
    },
    Expect {
        instance: "standby",
        // 2026-10-15 22:05:30 UTC
        start_time: 1_792_101_930.0,
        status: 1.0,
        mode: 3.0,
        trx: 0.0,
        deadlocks: 0.0,
        threads: 9.0,
        sessions: &[("ACTIVE", 1.0), ("IDLE", 2.0)],
    },
    Expect {
        instance: "odd",
        // 2026-11-20 23:59:59 UTC; STATUS$ MOUNT, MODE$ NORMAL, two NULL session states
        start_time: 1_795_219_199.0,
        status: 2.0,
        mode: 2.0,
        trx: 1.0,
        deadlocks: 4.0,
        threads: 5.0,
        sessions: &[("ACTIVE", 1.0), ("IDLE", 1.0), ("STARTUP", 1.0), ("UNKNOWN", 2.0)],
    },
];

fn today_days() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    (now / 86_400) as i64
}

fn check(text: &str, e: &Expect, ds: &str, extra: &str) {
    let l = format!("datasource=\"{ds}\"{extra}");
    let v = |name: &str| value(text, &format!("{name}{{{l}}}"));
    assert_eq!(v("dmdb_up"), Some(1.0), "{ds} up\n{text}");
    assert_eq!(v("dmdbms_start_time_info"), Some(e.start_time), "{ds} start time");
    assert_eq!(v("dmdbms_status_info"), Some(e.status), "{ds} status");
    assert_eq!(v("dmdbms_mode_info"), Some(e.mode), "{ds} mode");
    assert_eq!(v("dmdbms_trx_num_info"), Some(e.trx), "{ds} trx");
    assert_eq!(v("dmdbms_dead_lock_num_total"), Some(e.deadlocks), "{ds} deadlocks");
    assert_eq!(v("dmdbms_thread_num_info"), Some(e.threads), "{ds} threads");
    let start_day = today_days() - (e.start_time as i64) / 86_400;
    assert_eq!(v("dmdbms_start_day"), Some(start_day as f64), "{ds} start day");
    let sessions: Vec<&str> = series(text, "dmdbms_session_type_info")
        .into_iter()
        .filter(|s| s.contains(&format!("datasource=\"{ds}\"")))
        .collect();
    assert_eq!(sessions.len(), e.sessions.len(), "{ds} session states: {sessions:?}");
    for (state, n) in e.sessions {
        let s = format!("dmdbms_session_type_info{{{l},session_type=\"{state}\"}}");
        assert_eq!(value(text, &s), Some(*n), "{s}");
    }
    for collector in ["instance", "sessions"] {
        let s = format!("dameng_exporter_collector_success{{collector=\"{collector}\",{l}}}");
        assert_eq!(value(text, &s), Some(1.0), "{s}");
    }
}

fn config(cs: impl Fn(&str) -> String) -> String {
    let mut s = String::new();
    for e in &EXPECTED {
        s.push_str(&format!(
            "[[datasource]]\nname = \"{0}\"\nodbcConnectionString = \"{1}\"\n",
            e.instance,
            cs(e.instance)
        ));
        if e.instance == "primary" {
            s.push_str("labels = \"env=test, role=primary\"\n");
        }
    }
    s
}

#[test]
fn sqlite_fixtures_exact_values() {
    let exp = Exporter::start("scrape-sqlite", &config(sqlite_cs));
    let text = exp.metrics();
    for e in &EXPECTED {
        let extra = if e.instance == "primary" { ",env=\"test\",role=\"primary\"" } else { "" };
        check(&text, e, e.instance, extra);
    }
    promtool_check(&text);
}

#[test]
fn postgres_fixtures_exact_values() {
    let exp = Exporter::start("scrape-pg", &config(pg_cs));
    let text = exp.metrics();
    for e in &EXPECTED {
        let extra = if e.instance == "primary" { ",env=\"test\",role=\"primary\"" } else { "" };
        check(&text, e, e.instance, extra);
    }
    promtool_check(&text);
}

#[test]
fn every_series_has_one_help_and_type_and_a_datasource() {
    let exp = Exporter::start("scrape-shape", &config(sqlite_cs));
    let text = exp.metrics();
    let mut helps = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().expect("name");
            assert!(helps.insert(name.to_owned()), "HELP twice for {name}");
        } else if !line.starts_with('#') && !line.is_empty() {
            let name = line.split(['{', ' ']).next().expect("name");
            // Exporter-wide self-metrics have no datasource.
            let global = [
                "dameng_exporter_build_info",
                "dameng_exporter_duplicate_series_dropped_total",
                "dameng_exporter_config_last_reload_successful",
                "dameng_exporter_config_last_reload_success_timestamp_seconds",
            ];
            if !global.contains(&name) {
                assert!(line.contains("datasource=\""), "series without datasource: {line}");
            }
        }
    }
}

/// `promtool check metrics` (Debian package prometheus) must accept the exposition.
pub fn promtool_check(text: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed by scripts/install-deps.sh");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("promtool");
    let report =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && report.trim().is_empty(), "promtool check metrics:\n{report}");
}
