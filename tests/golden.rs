//! Golden expositions of fixture instances (`primary` and `odd` on SQLite): every built-in family's exact
//! text, HELP and TYPE lines included. Series whose value depends on the wall clock (ages, days
//! left, durations) are left out. Regenerate after an intended change with
//! `UPDATE_GOLDEN=1 cargo test --test integration golden`, and review the diff.

use crate::common::{fixture_ds, root, series, Engine, Exporter};

/// Metric names whose values depend on "now" or on timing.
const CLOCK_DEPENDENT: &[&str] = &[
    "dmdbms_start_day",
    "dmdbms_license_date",
    "dmdbms_user_list_info",
    "dmdbms_slow_sql_info",
    "dmdbms_joblog_error_num",
    "dmdbms_instance_log_error_info",
    "dmdbms_dmap_process_is_exit",
    "dmdbms_dmserver_process_is_exit",
    "dmdbms_dmwatcher_process_is_exit",
    "dmdbms_dmmonitor_process_is_exit",
    "dmdbms_dmagent_process_is_exit",
    "dameng_exporter_collector_duration_seconds",
    "dameng_exporter_scrape_duration_seconds",
    "dameng_exporter_last_success_timestamp_seconds",
    "dameng_exporter_config_last_reload_success_timestamp_seconds",
    "dameng_exporter_build_info",
    // How many sessions a scrape used depends on timing (fan-out), and so do waits.
    "dameng_exporter_pool_connections",
    "dameng_exporter_pool_wait_seconds_total",
];

pub(crate) fn stable(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let name = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
            .unwrap_or(line)
            .split(['{', ' '])
            .next()
            .unwrap_or("");
        if !CLOCK_DEPENDENT.contains(&name) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn check(instance: &str) {
    check_with_env(instance, &[]);
}

fn check_with_env(instance: &str, env: &[(&str, &str)]) {
    let tag = env.iter().map(|(_, v)| v.replace('/', "-")).collect::<Vec<_>>().join("-");
    let exp = Exporter::start_with_env(
        &format!("golden-{instance}{tag}"),
        &fixture_ds(
            Engine::Sqlite,
            instance,
            instance,
            "labels = \"env=golden\"\ncheckSlowSQL = true",
        ),
        env,
    );
    let text = stable(&exp.metrics());
    let path = root().join(format!("tests/golden/{instance}_sqlite.prom"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() && env.is_empty() {
        std::fs::write(&path, &text).expect("write golden");
    }
    let golden = std::fs::read_to_string(&path).expect("golden file");
    if golden != text {
        let diff: Vec<String> = golden
            .lines()
            .filter(|l| !text.lines().any(|t| t == *l))
            .map(|l| format!("- {l}"))
            .chain(
                text.lines().filter(|l| !golden.lines().any(|g| g == *l)).map(|l| format!("+ {l}")),
            )
            .collect();
        panic!("exposition differs from {}:\n{}", path.display(), diff.join("\n"));
    }
}

#[test]
fn golden_exposition_of_the_primary_instance() {
    check("primary");
}

#[test]
fn golden_exposition_of_the_odd_instance() {
    check("odd");
}

/// The exporter's own time zone changes no value (docs/DM8_EVIDENCE.md F3): the same
/// exposition, absolute times included, under zones west and east of the fixture's UTC.
#[test]
fn golden_exposition_is_the_same_under_any_exporter_time_zone() {
    check_with_env("primary", &[("TZ", "America/New_York")]);
    check_with_env("primary", &[("TZ", "Asia/Shanghai")]);
}

/// The series that depend on "now" and are the same within one scrape's seconds: day counts,
/// the job window, the users' expiry days (docs/DM8_EVIDENCE.md F3).
pub(crate) const DAY_COUNTS: &[&str] = &[
    "dmdbms_start_day",
    "dmdbms_license_date",
    "dmdbms_user_list_info",
    "dmdbms_joblog_error_num",
];

/// Slow-SQL ages (ms) of an exposition, in series order.
pub(crate) fn slow_sql_ages(text: &str) -> Vec<f64> {
    series(text, "dmdbms_slow_sql_info")
        .iter()
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect()
}

/// PostgreSQL: a session time zone other than the fixture's server zone (UTC), set by the
/// datasource's connectionInitSql, together with another exporter TZ, changes no value: the
/// "now" is `CURRENT_TIMESTAMP AT TIME ZONE 'UTC'`, not the session-zone `CURRENT_TIMESTAMP`
/// or `LOCALTIMESTAMP` (F3). Before that, every Unix time moved by the session's offset.
#[test]
fn postgres_session_and_exporter_time_zones_change_no_value() {
    let start = |tag: &str, session: Option<&str>, env: &[(&str, &str)]| {
        let init = session
            .map(|z| format!("connectionInitSql = [\"SET TIME ZONE '{z}'\"]\n"))
            .unwrap_or_default();
        let ds = fixture_ds(
            Engine::Postgres,
            "primary",
            "primary",
            &format!("labels = \"env=golden\"\ncheckSlowSQL = true\n{init}"),
        );
        Exporter::start_with_env(&format!("golden-pg-tz-{tag}"), &ds, env).metrics()
    };
    let reference = start("utc", None, &[("TZ", "UTC")]);
    assert!(reference.contains("dmdbms_start_time_info{"), "{reference}");
    assert_eq!(slow_sql_ages(&reference).len(), 2, "{reference}");
    for (tag, session, tz) in [
        ("shanghai", "Asia/Shanghai", "America/New_York"),
        ("newyork", "America/New_York", "Asia/Shanghai"),
    ] {
        let text = start(tag, Some(session), &[("TZ", tz)]);
        assert_eq!(stable(&text), stable(&reference), "session {session}, TZ={tz}");
        for s in DAY_COUNTS {
            assert_eq!(series(&text, s), series(&reference, s), "{s}: session {session}, TZ={tz}");
        }
        let (x, y) = (slow_sql_ages(&text), slow_sql_ages(&reference));
        assert_eq!(x.len(), y.len());
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() < 60_000.0, "slow SQL age {a} vs {b} ms, session {session}");
        }
    }
}
