use crate::common::{pg_cs, run_cli, scratch, Exporter};

const PW: &str = "Sup3r_Secret_Pw_42";
// ENC() of PW must not leak either; its plaintext is what matters.

#[test]
fn passwords_never_reach_logs_or_metrics() {
    // A PostgreSQL login that fails (the role does not exist) with a password in the
    // connection string; a DM-style datasource (dbHost) with a password; debug logging.
    let pg = pg_cs("primary").replace("UID=dmexp;PWD=dmexp", &format!("UID=no_such_role;PWD={PW}"));
    let body = format!(
        "logLevel = \"debug\"\n\
         [[datasource]]\nname = \"pg\"\nodbcConnectionString = \"{pg}\"\n\
         [[datasource]]\nname = \"dm\"\ndbHost = \"127.0.0.1:1\"\ndbUser = \"SYSDBA\"\ndbPwd = \"{PW}\"\n"
    );
    let exp = Exporter::start("secrets-logs", &body);
    let text = exp.metrics();
    let (_, page) = exp.get("/");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let logs = exp.all_logs();
    assert!(
        logs.contains("datasource=pg") || logs.contains("\"datasource\":\"pg\""),
        "datasource field in logs:\n{logs}"
    );
    assert!(
        logs.contains("no_such_role") || logs.contains("unreachable"),
        "the failure is logged:\n{logs}"
    );
    for (what, s) in [("logs", &logs), ("metrics", &text), ("status page", &page)] {
        assert!(!s.contains(PW), "password leaked into {what}:\n{s}");
    }
}

#[test]
fn config_errors_do_not_echo_passwords() {
    let dir = scratch("secrets-config");
    let path = dir.join("c.toml");
    std::fs::write(
        &path,
        format!("[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"{PW}\"\nqueryTimeout = 999\nmaxOpenConns = \"x\"\n"),
    )
    .expect("write");
    let (code, out, err) =
        run_cli(&["--check-config", "--config", path.to_str().expect("utf-8")], &dir);
    assert_eq!(code, 2);
    assert!(!out.contains(PW) && !err.contains(PW), "{out}{err}");
}
