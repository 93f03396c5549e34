//! Golden expositions of fixture instances (`primary` and `odd` on SQLite): every built-in family's exact
//! text, HELP and TYPE lines included. Series whose value depends on the wall clock (ages, days
//! left, durations) are left out. Regenerate after an intended change with
//! `UPDATE_GOLDEN=1 cargo test --test integration golden`, and review the diff.

use crate::common::{fixture_ds, root, Engine, Exporter};

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
