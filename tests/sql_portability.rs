//! Every built-in statement (from the registry) runs on both fixtures and on the DM driver
//! double, with only the per-engine tokens of `dmexp_core::dialect` expanded, and follows the
//! portable-SQL rules of docs/DESIGN.md §7.

use dmexp_core::collector::registered;
use dmexp_core::dbtime::DbClock;
use dmexp_core::dialect;
use dmexp_core::pool::Engine;
use dmexp_core::query::run_query;

use crate::common::{pg_cs, sqlite_cs, sqlite_dir};

const INSTANCES: [&str; 3] = ["primary", "standby", "odd"];

const FORBIDDEN: &[&str] = &[
    "SYSDATE",
    "DATEDIFF",
    "TIMESTAMPDIFF",
    "TO_CHAR",
    "DECODE(",
    "NVL(",
    "ROWNUM",
    " TOP ",
    "SF_GET_SESSION_SQL",
    "PAGE(",
    "ID_CODE",
    // "Now" is the server's local time, `{NOW}` (docs/DM8_EVIDENCE.md F3): on DM
    // CURRENT_TIMESTAMP carries the session's zone.
    "CURRENT_TIMESTAMP",
    "LOCALTIMESTAMP",
];

/// The tokens a template may hold: the dialect's, and job's bound.
const TOKENS: &[&str] = &[dialect::NOW, dialect::SESSION_SQL, "{SINCE}"];

/// `q` as the collector runs it on `engine` (job's `{SINCE}` bound: a fixed timestamp).
fn expand(q: &str, engine: Engine) -> String {
    let clock = DbClock::from_server_now("2026-10-24 02:00:00 +00:00").expect("clock");
    dialect::expand(q, engine).replace(
        "{SINCE}",
        &dialect::timestamp_literal(engine, clock.wall_before(Default::default())),
    )
}

#[test]
fn statements_follow_the_portable_rules() {
    dmexp_builtin::link();
    for d in registered() {
        assert!(!d.queries.is_empty(), "collector {} lists no queries", d.name);
        for q in d.queries {
            let upper = q.to_uppercase();
            assert!(upper.contains("/*+DM_EXPORTER*/"), "{}: untagged query {q}", d.name);
            assert!(!q.trim_end().ends_with(';'), "{}: trailing semicolon in {q}", d.name);
            for f in FORBIDDEN {
                assert!(!upper.contains(f), "{}: non-portable `{f}` in {q}", d.name);
            }
            let limit_mn = upper
                .split("LIMIT")
                .skip(1)
                .any(|rest| rest.split_whitespace().next().is_some_and(|tok| tok.contains(',')));
            assert!(!limit_mn, "{}: LIMIT m,n in {q}", d.name);
            // A date/time literal ('2000-01-01 …') needs an implicit string->DATETIME
            // conversion that depends on the session's NLS format (docs/DM8_EVIDENCE.md F8).
            let date_literal = q.split('\'').skip(1).step_by(2).any(|lit| {
                let b = lit.as_bytes();
                b.len() >= 10
                    && b[..4].iter().all(u8::is_ascii_digit)
                    && b[4] == b'-'
                    && b[5..7].iter().all(u8::is_ascii_digit)
                    && b[7] == b'-'
            });
            assert!(!date_literal, "{}: date/time literal in {q}", d.name);
            let mut rest = q.to_string();
            for t in TOKENS {
                rest = rest.replace(t, "");
            }
            assert!(!rest.contains('{'), "{}: unknown token in {q}", d.name);
        }
    }
}

fn run_all(
    engine: &str,
    dialect: Engine,
    cs: &dyn Fn(&str) -> String,
    init: &dyn Fn(&str) -> Vec<String>,
) {
    dmexp_builtin::link();
    let env = odbc_api::environment().expect("odbc environment");
    for inst in INSTANCES {
        let conn = env
            .connect_with_connection_string(&cs(inst), odbc_api::ConnectionOptions::default())
            .unwrap_or_else(|e| panic!("{engine} {inst}: connect: {e}"));
        for stmt in init(inst) {
            conn.execute(&stmt, (), None).unwrap_or_else(|e| panic!("{stmt}: {e}"));
        }
        for d in registered() {
            for q in d.queries {
                let q = &expand(q, dialect);
                match run_query(&conn, q, Some(30), None) {
                    Ok(_) => {}
                    // Older builds and other topologies lack some views and columns (the
                    // collectors probe them first): allowed, but not on the primary, which
                    // has every object the collectors read.
                    Err(e)
                        if (e.is_missing_object() || missing_column(&e)) && inst != "primary" => {}
                    Err(e) => panic!("{engine} {inst}: collector {}: {e}\n{q}", d.name),
                }
            }
        }
    }
}

/// SQLite "no such column", PostgreSQL 42703, DM -2111 无效的列名; DM's missing SYSJOB schema
/// (-2103 无效的模式名, which the job collector treats as not applicable).
fn missing_column(e: &dmexp_core::query::QueryError) -> bool {
    let m = e.to_string();
    m.contains("no such column")
        || m.contains("42703")
        || m.contains("无效的列名")
        || m.contains("无效的模式名")
}

/// `ATTACH` statements for the SQLite SYSJOB schema files that exist for an instance.
pub fn sqlite_init(inst: &str) -> Vec<String> {
    let f = sqlite_dir().join(format!("{inst}_sysjob.db"));
    if f.exists() {
        vec![format!("ATTACH DATABASE '{}' AS SYSJOB", f.display())]
    } else {
        Vec::new()
    }
}

#[test]
fn every_statement_runs_on_sqlite() {
    run_all("sqlite", Engine::Sqlite, &|i| sqlite_cs(i), &sqlite_init);
}

#[test]
fn every_statement_runs_on_postgres() {
    run_all("postgres", Engine::PostgreSql, &|i| pg_cs(i), &|_| Vec::new());
}

/// DM's dialect (SYSDATE, SF_GET_SESSION_SQL, TIMESTAMP literals) over the driver double.
#[test]
fn every_statement_runs_on_the_dm_double() {
    run_all(
        "dmdouble",
        Engine::Dm,
        &|i| crate::dm_driver::double_cs(i, "DMDOUBLE_SESSION_TZ=+08:00"),
        &sqlite_init,
    );
}
