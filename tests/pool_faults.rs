//! Sessions that die or are refused (reliability findings M1, M2), on PostgreSQL with roles
//! this file creates and drops: a datasource stays up when its pooled
//! connections are killed while idle, and when a per-user session limit is lower than the
//! pool. Each test has its own role (`dmpath_m1`, `dmpath_m2`): they run in parallel.

use std::time::Duration;

use crate::common::{value, Exporter};
use crate::isolation::{psql, slow_primary};

/// A scratch copy of the primary fixture in database `db`, readable by a role of the same
/// name (created here, with `limit` sessions at most); the connection string as that role.
fn setup(db: &str, limit: i32) -> String {
    let role = db;
    let cs = slow_primary(db, 0);
    psql("postgres", &format!("DROP ROLE IF EXISTS {role}"));
    psql(
        "postgres",
        &format!("CREATE ROLE {role} LOGIN PASSWORD 'dmpath_pw' CONNECTION LIMIT {limit}"),
    );
    psql(db, &format!("GRANT dmexp TO {role}"));
    cs.replace("UID=dmexp;PWD=dmexp", &format!("UID={role};PWD=dmpath_pw"))
}

fn teardown(db: &str) {
    let role = db;
    psql("postgres", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    psql("postgres", &format!("DROP ROLE IF EXISTS {role}"));
}

fn kill_role_backends(role: &str) -> usize {
    psql(
        "postgres",
        &format!(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = '{role}'"
        ),
    )
    .parse()
    .unwrap_or(0)
}

/// M1: every idle pooled connection killed (as a DB restart or a killed session would):
/// the next scrape retries on a fresh connection and the datasource stays up with every
/// collector's value (before: `dmdb_up 0` and no series for up to ~90 s).
#[test]
fn connections_killed_while_idle_are_retried_not_down() {
    let db = "dmpath_m1";
    let cs = setup(db, -1);
    let body = format!(
        "[[datasource]]\nname = \"m1\"\nqueryTimeout = 10\nmaxOpenConns = 4\nmaxIdleConns = 4\n\
         odbcConnectionString = \"{cs}\"\n"
    );
    let exp = Exporter::start("dmpath-m1", &body);
    let text = exp.metrics();
    assert_eq!(value(&text, "dmdb_up{datasource=\"m1\"}"), Some(1.0), "{text}");
    assert_eq!(value(&text, "dmdbms_thread_num_info{datasource=\"m1\"}"), Some(12.0));
    for round in 0..3 {
        let killed = kill_role_backends(db);
        assert!(killed >= 1, "round {round}: no idle connection was killed");
        std::thread::sleep(Duration::from_millis(300));
        let text = exp.metrics();
        assert_eq!(value(&text, "dmdb_up{datasource=\"m1\"}"), Some(1.0), "round {round}\n{text}");
        assert_eq!(
            value(&text, "dmdbms_thread_num_info{datasource=\"m1\"}"),
            Some(12.0),
            "round {round}\n{text}"
        );
        assert_eq!(
            value(
                &text,
                "dameng_exporter_collector_success{collector=\"instance\",datasource=\"m1\"}"
            ),
            Some(1.0),
            "round {round}\n{text}"
        );
    }
    drop(exp);
    teardown(db);
}

/// M2: `CONNECTION LIMIT 1` below `maxOpenConns = 4`: the extra sessions are refused
/// (SQLSTATE 53300) and the datasource stays up on the one it has, scrape after scrape
/// (before: `dmdb_up 0` in 8 of 8 scrapes).
#[test]
fn session_limit_below_the_pool_keeps_the_datasource_up() {
    let db = "dmpath_m2";
    let cs = setup(db, 1);
    let body = format!(
        "[[datasource]]\nname = \"m2\"\nqueryTimeout = 10\nmaxOpenConns = 4\nmaxIdleConns = 4\n\
         odbcConnectionString = \"{cs}\"\n"
    );
    let exp = Exporter::start("dmpath-m2", &body);
    for i in 0..5 {
        let text = exp.metrics();
        assert_eq!(value(&text, "dmdb_up{datasource=\"m2\"}"), Some(1.0), "scrape {i}\n{text}");
        assert_eq!(
            value(&text, "dmdbms_thread_num_info{datasource=\"m2\"}"),
            Some(12.0),
            "scrape {i}\n{text}"
        );
    }
    let sessions: i64 =
        psql("postgres", &format!("SELECT COUNT(*) FROM pg_stat_activity WHERE usename = '{db}'"))
            .parse()
            .unwrap_or(-1);
    assert!(sessions <= 1, "{sessions} sessions for a role limited to 1");
    drop(exp);
    teardown(db);
}
