//! Least privilege on PostgreSQL (docs/DM8_EVIDENCE.md F4): a monitoring role that may not
//! read the SYSJOB tables or a view sees skips (`dameng_exporter_collector_skipped`,
//! `collector_success 1`), logged once with the GRANT that would enable the collector, and not
//! retried on every scrape. The role `builtin_lp` is created and dropped by the test.

use crate::common::{pg_ready, value, Exporter};
use crate::isolation::psql;

const ROLE: &str = "builtin_lp";

fn drop_role() {
    for db in ["dmexp_primary", "postgres"] {
        if psql("postgres", &format!("SELECT count(*) FROM pg_roles WHERE rolname = '{ROLE}'"))
            == "1"
        {
            psql(db, &format!("DROP OWNED BY {ROLE}"));
        }
    }
    psql("postgres", &format!("DROP ROLE IF EXISTS {ROLE}"));
}

fn series(collector: &str, metric: &str, extra: &str) -> String {
    format!(
        "dameng_exporter_collector_{metric}{{collector=\"{collector}\",datasource=\"lp\"{extra}}}"
    )
}

#[test]
fn missing_privileges_are_skips_logged_once_with_the_grant() {
    pg_ready();
    drop_role();
    psql("postgres", &format!("CREATE ROLE {ROLE} LOGIN"));
    psql("postgres", &format!("GRANT CONNECT ON DATABASE dmexp_primary TO {ROLE}"));
    // Everything but V$SESSIONS in public, and every SYSJOB table but SYSJOBS.
    psql("dmexp_primary", &format!("GRANT USAGE ON SCHEMA public, sysjob TO {ROLE}"));
    psql(
        "dmexp_primary",
        &format!("GRANT SELECT ON ALL TABLES IN SCHEMA public, sysjob TO {ROLE}"),
    );
    psql("dmexp_primary", &format!("REVOKE SELECT ON V$SESSIONS FROM {ROLE}"));
    psql("dmexp_primary", &format!("REVOKE SELECT ON sysjob.sysjobs FROM {ROLE}"));
    let cs = format!(
        "Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port=5432;Database=dmexp_primary;UID={ROLE};PWD=x"
    );
    let body = format!(
        "[[datasource]]\nname = \"lp\"\nodbcConnectionString = \"{cs}\"\n\
         registerHostMetrics = false\ncheckSlowSQL = true\n"
    );
    let exp = Exporter::start("privileges", &body);
    let first = exp.metrics();
    let second = exp.metrics();
    // Granted now, but the skip is retried only after SKIP_RETRY (5 min): still skipped.
    psql("dmexp_primary", &format!("GRANT SELECT ON sysjob.sysjobs, V$SESSIONS TO {ROLE}"));
    let third = exp.metrics();
    let logs = exp.output();
    drop(exp);
    drop_role();
    for text in [&first, &second, &third] {
        for c in ["job", "sessions", "slow_sql"] {
            let skipped = value(text, &series(c, "skipped", ",reason=\"permission\""));
            assert_eq!(skipped, Some(1.0), "{c} skipped:\n{text}\n{logs}");
            assert_eq!(value(text, &series(c, "success", "")), Some(1.0), "{c} success:\n{text}");
        }
        // Readable collectors run and are not skipped.
        assert_eq!(value(text, &series("instance", "success", "")), Some(1.0), "{text}");
        assert!(!text.contains("collector=\"instance\",datasource=\"lp\",reason"), "{text}");
        assert!(!text.contains("dmdbms_joblog_error_num{"), "{text}");
        assert!(!text.contains("dmdbms_session_type_info{"), "{text}");
    }
    let grant = "GRANT SELECT ON SYSJOB.SYSJOBS TO <dbUser>;";
    assert_eq!(logs.matches(grant).count(), 1, "{logs}");
    assert_eq!(
        logs.matches("GRANT SELECT ON V$SESSIONS TO <dbUser>;").count(),
        2,
        "sessions and slow_sql: {logs}"
    );
    assert!(logs.contains("readable by DBA users only"), "{logs}");
    assert!(!logs.contains("Collector failed"), "{logs}");
}
