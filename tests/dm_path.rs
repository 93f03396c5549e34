//! The ODBC path (docs/DM8_EVIDENCE.md F5, F8; reliability findings L6, L7) over real
//! drivers: a statement runs exactly once whatever its values' length, the row cap stops the
//! driver fetching, and a deadline holds even when the driver's query timeout does not.
//! PostgreSQL cases create and drop their own database `dmpath_*`.

use std::time::{Duration, Instant};

use dmexp_core::query::{run_query, run_query_noted, ExecNotes, QueryError};
use odbc_api::ConnectionOptions;

use crate::common::{pg_ready, sqlite_cs};
use crate::isolation::psql;

fn connect(cs: &str) -> odbc_api::Connection<'static> {
    let env = odbc_api::environment().expect("odbc environment");
    env.connect_with_connection_string(cs, ConnectionOptions::default()).expect("connect")
}

/// A fresh PostgreSQL database `db` for one test; its connection string.
fn scratch_db(db: &str) -> String {
    pg_ready();
    psql("postgres", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    psql("postgres", &format!("CREATE DATABASE {db} TEMPLATE template0 ENCODING 'UTF8'"));
    format!("Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port=5432;Database={db};UID=dmexp;PWD=dmexp")
}

fn seq_scans(db: &str, table: &str) -> i64 {
    psql(db, &format!("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = '{table}'"))
        .parse()
        .expect("seq_scan")
}

/// Waits until the statistics collector shows `want` sequential scans (backends flush their
/// counters up to a second after a statement), or returns what it shows after 10 s.
fn seq_scans_settled(db: &str, table: &str, want: i64) -> i64 {
    let start = Instant::now();
    loop {
        let n = seq_scans(db, table);
        if n >= want || start.elapsed() > Duration::from_secs(10) {
            // Give a second execution the same time to show up.
            std::thread::sleep(Duration::from_millis(1500));
            return seq_scans(db, table);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// L7: a 100 KB value is read in full and the statement runs once (before: the block fetch
/// hit a 512-byte buffer and the statement ran again row by row, seq_scan +2).
#[test]
fn long_value_runs_the_statement_once_pg() {
    let db = "dmpath_reexec";
    let cs = scratch_db(db);
    psql(db, "CREATE TABLE big_t (id int, v text); INSERT INTO big_t SELECT 1, repeat('x', 102400); INSERT INTO big_t SELECT 2, 'short'");
    let conn = connect(&cs);
    let before = seq_scans(db, "big_t");
    let rows =
        run_query(&conn, "SELECT id, v FROM big_t ORDER BY id", Some(30), None).expect("query");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows.rows[0][1].as_deref().map(str::len), Some(102_400));
    assert!(rows.rows[0][1].as_deref().is_some_and(|v| v.bytes().all(|b| b == b'x')));
    assert_eq!(rows.rows[1][1].as_deref(), Some("short"));
    drop(conn);
    assert_eq!(seq_scans_settled(db, "big_t", before + 1), before + 1);
    psql("postgres", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
}

/// L7 on SQLite: a 100 KB value and a multi-byte one come back whole.
#[test]
fn long_values_are_whole_sqlite() {
    let conn = connect(&sqlite_cs("primary"));
    let rows = run_query(
        &conn,
        "SELECT length(x), x, '达梦数据库' FROM (SELECT replace(hex(zeroblob(51200)), '00', 'ab') AS x)",
        Some(30),
        None,
    )
    .expect("query");
    assert_eq!(rows.rows[0][0].as_deref(), Some("102400"));
    assert_eq!(rows.rows[0][1].as_deref().map(str::len), Some(102_400));
    assert_eq!(rows.rows[0][2].as_deref(), Some("达梦数据库"));
}

fn vm_hwm_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// L6: `maxrows` bounds memory: a read-only (custom SQL) pool stops the driver fetching, so
/// a 5,000,000-row result read with a cap of 100 does not grow the process's peak memory
/// by the ~480 MB psqlODBC needs to materialise it.
#[test]
fn row_cap_stops_the_driver_pg() {
    let cs = crate::common::pg_cs("primary");
    let toml = format!("[[datasource]]\nname = \"cap\"\nodbcConnectionString = \"{cs}\"\n");
    let cfg = dmexp_config::load_str(&toml, std::path::Path::new("cap.toml")).expect("config");
    let pool =
        dmexp_core::pool::DatasourcePool::new_read_only(&cfg.datasources[0], 1).expect("pool");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut guard = rt.block_on(pool.get(Duration::from_secs(10))).expect("connection");
    let before = vm_hwm_kib();
    let rows = guard
        .query(
            "SELECT g, 'row ' || g AS label FROM generate_series(1, 5000000) g",
            Some(60),
            Some(100),
        )
        .expect("query");
    let grown_mib = vm_hwm_kib().saturating_sub(before) / 1024;
    assert_eq!(rows.len(), 100);
    assert!(rows.truncated);
    assert_eq!(rows.rows[99][0].as_deref(), Some("100"));
    assert_eq!(rows.rows[99][1].as_deref(), Some("row 100"));
    assert!(grown_mib < 100, "peak memory grew by {grown_mib} MiB reading 100 of 5,000,000 rows");
}

/// F5: a statement that runs past its deadline is cancelled by the watchdog (SQLCancel) and
/// fails as a timeout, even where the driver's own query timeout does not stop it (the
/// SQLite driver's does not interrupt a running statement).
#[test]
fn watchdog_cancels_a_statement_past_its_deadline_sqlite() {
    let conn = connect(&sqlite_cs("primary"));
    let start = Instant::now();
    let mut notes = ExecNotes::default();
    let r = run_query_noted(
        &conn,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT COUNT(*) FROM c",
        Some(1),
        None,
        &mut notes,
    );
    let took = start.elapsed();
    assert!(matches!(r, Err(QueryError::Timeout(d)) if d == Duration::from_secs(1)), "{r:?}");
    assert!(took < Duration::from_secs(10), "cancelled only after {took:?}");
    // The connection is usable afterwards.
    let rows = run_query(&conn, "SELECT 7", Some(5), None).expect("query after cancel");
    assert_eq!(rows.rows[0][0].as_deref(), Some("7"));
}
