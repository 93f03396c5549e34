//! Isolation under faults, on PostgreSQL: a datasource whose view is slow (pg_sleep) and one
//! whose connections are killed mid-scrape leave the other datasources complete; a timed-out
//! query is cancelled and its connection is neither leaked nor left busy.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{fixture_ds, root, value, Engine, Exporter};

pub(crate) fn psql(db: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "dmexp"])
        .args(["-d", db, "-c", sql])
        .env("PGPASSWORD", "dmexp")
        .env("PGOPTIONS", "-c client_min_messages=warning")
        .output()
        .expect("psql");
    assert!(out.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A scratch copy of the `primary` fixture in database `db`, with V$THREADS made slow.
pub(crate) fn slow_primary(db: &str, sleep_secs: u32) -> String {
    let fx = root().join("tests/fixtures");
    psql("postgres", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    psql("postgres", &format!("CREATE DATABASE {db} TEMPLATE template0 ENCODING 'UTF8'"));
    psql("postgres", &format!("ALTER DATABASE {db} SET timezone TO 'UTC'"));
    for f in ["schema.sql", "data/primary.sql", "catalog_pg.sql"] {
        let out = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "dmexp", "-d", db])
            .arg("-f")
            .arg(fx.join(f))
            .env("PGPASSWORD", "dmexp")
            .env("PGOPTIONS", "-c client_min_messages=warning")
            .output()
            .expect("psql");
        assert!(out.status.success(), "{f}: {}", String::from_utf8_lossy(&out.stderr));
    }
    psql(
        db,
        &format!(
            "ALTER TABLE v$threads RENAME TO v$threads_data; \
             CREATE VIEW v$threads AS SELECT t.* FROM v$threads_data t, \
             (SELECT pg_sleep({sleep_secs})) s"
        ),
    );
    format!("Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port=5432;Database={db};UID=dmexp;PWD=dmexp")
}

fn running_sleeps(db: &str) -> usize {
    psql(
        "postgres",
        &format!(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = '{db}' \
             AND state = 'active' AND query LIKE '%V$THREADS%'"
        ),
    )
    .parse()
    .unwrap_or(usize::MAX)
}

#[test]
fn slow_view_times_out_alone_and_is_cancelled() {
    let db = "dmexp_it_slow";
    let cs = slow_primary(db, 60);
    let body = format!(
        "[[datasource]]\nname = \"slow\"\nqueryTimeout = 2\nmaxOpenConns = 2\n\
         odbcConnectionString = \"{cs}\"\n{}",
        fixture_ds(Engine::Postgres, "standby", "standby", "")
    );
    let exp = Exporter::start("iso-slow", &body);
    for round in 0..3 {
        let started = Instant::now();
        let text = exp.metrics();
        let took = started.elapsed();
        let ok = |c: &str, ds: &str| {
            value(
                &text,
                &format!(
                    "dameng_exporter_collector_success{{collector=\"{c}\",datasource=\"{ds}\"}}"
                ),
            )
        };
        // The slow query fails alone; the rest of that datasource and the other one are whole.
        assert_eq!(ok("instance", "slow"), Some(0.0), "round {round}\n{text}");
        assert_eq!(ok("sessions", "slow"), Some(1.0), "round {round}: pool not left busy\n{text}");
        assert_eq!(
            value(&text, "dmdbms_session_type_info{datasource=\"slow\",session_type=\"IDLE\"}"),
            Some(6.0)
        );
        assert_eq!(ok("instance", "standby"), Some(1.0));
        assert_eq!(value(&text, "dmdbms_thread_num_info{datasource=\"standby\"}"), Some(9.0));
        // A query timeout does not mark the datasource down.
        assert_eq!(value(&text, "dmdb_up{datasource=\"slow\"}"), Some(1.0));
        assert!(took < Duration::from_secs(15), "round {round} took {took:?}");
    }
    // The timed-out statements were cancelled by the driver's query timeout, not left running.
    let start = Instant::now();
    while running_sleeps(db) > 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "pg_sleep still running: not cancelled");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(exp);
    psql("postgres", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
}

#[test]
fn killed_connections_leave_the_others_complete_and_recover() {
    let db = "dmexp_it_kill";
    let cs = slow_primary(db, 3);
    let body = format!(
        "[[datasource]]\nname = \"victim\"\nqueryTimeout = 10\n\
         odbcConnectionString = \"{cs}\"\n{}",
        fixture_ds(Engine::Postgres, "standby", "standby", "")
    );
    let exp = Exporter::start("iso-kill", &body);
    assert_eq!(value(&exp.metrics(), "dmdbms_thread_num_info{datasource=\"victim\"}"), Some(12.0));
    // Kill the victim's backends while its slow query runs.
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1000));
        psql(
            "postgres",
            &format!(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = '{db}' AND pid <> pg_backend_pid()"
            ),
        )
    });
    let text = exp.metrics();
    let killed: usize = killer.join().expect("killer").parse().unwrap_or(0);
    assert!(killed >= 1, "no backend was killed");
    assert_eq!(value(&text, "dmdbms_thread_num_info{datasource=\"standby\"}"), Some(9.0), "{text}");
    assert_eq!(value(&text, "dmdbms_status_info{datasource=\"standby\"}"), Some(1.0));
    // The collector whose connection was killed mid-query is retried once on a fresh
    // connection (M1) and succeeds within the scrape: the victim stays up.
    assert_eq!(
        value(
            &text,
            "dameng_exporter_collector_success{collector=\"instance\",datasource=\"victim\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value(&text, "dmdb_up{datasource=\"victim\"}"), Some(1.0), "{text}");
    // The victim reconnects on its own (retryIntervalSeconds = 1 in the test harness).
    let start = Instant::now();
    loop {
        let text = exp.metrics();
        if value(&text, "dmdbms_thread_num_info{datasource=\"victim\"}") == Some(12.0)
            && value(&text, "dmdb_up{datasource=\"victim\"}") == Some(1.0)
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "victim never recovered\n{text}");
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(exp);
    psql("postgres", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
}
