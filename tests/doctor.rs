//! `--check-connection`, the connection doctor: one login per datasource, every enabled
//! collector once; over the SQLite fixtures, the DM driver double (permission denied via
//! DMDOUBLE_DENY, not applicable on `odd`, which has no SYSJOB schema, a wrong password via
//! DMDOUBLE_PWD) and servers that cannot be reached or drivers that are not there.

use crate::common::{fixture_ds, root, scratch, Engine};
use crate::dm_driver::double_ds;

const CUSTOM: &str = "config/examples/custom_metrics_test.toml";

/// Runs `--check-connection` on a config of `body`; (exit code, stdout, stderr).
fn doctor(name: &str, body: &str) -> (i32, String, String) {
    let dir = scratch(name);
    let path = dir.join("c.toml");
    std::fs::write(&path, format!("logDir = \"\"\n{body}")).expect("write");
    crate::common::run_cli(
        &["--check-connection", "--config.file", path.to_str().expect("utf-8")],
        &dir,
    )
}

/// The report's lines for datasource `name`: its header up to the next datasource.
fn block<'a>(out: &'a str, name: &str) -> Vec<&'a str> {
    let head = format!("datasource {name} ");
    let mut lines = out.lines().skip_while(|l| !l.starts_with(&head));
    let mut block: Vec<&str> = lines.next().into_iter().collect();
    block.extend(lines.take_while(|l| l.starts_with("  ")));
    block
}

#[test]
fn healthy_datasources_report_every_collector_and_exit_0() {
    let custom = root().join(CUSTOM);
    let extra = format!("customMetricsFile = \"{}\"", custom.display());
    let body = fixture_ds(Engine::Sqlite, "primary", "primary", &extra)
        + &fixture_ds(Engine::Sqlite, "off", "primary", "enabled = false");
    let (code, out, err) = doctor("doctor-ok", &body);
    assert_eq!(code, 0, "{out}\n{err}");
    let b = block(&out, "primary");
    assert_eq!(
        b[..4],
        [
            "datasource primary (datasource=\"primary\"): login ok",
            "  server: SQLite, version 8.1.5.60 企业版 (64 V8-03134284604-20260707-335949-20228)",
            "  session: read-write; custom metrics session: read-only",
            "  collector arch_queue: ok (2 series)",
        ]
    );
    for line in [
        "  collector job: ok (1 series)",
        "  collector sessions: ok (4 series)",
        "  collector statement: ok (32 series)",
        "  collector version: ok (1 series)",
        "  collector custom_test_instance: ok (3 series)",
        "  collector custom_test_user: ok (6 series)",
    ] {
        assert!(b.contains(&line), "missing {line:?} in\n{out}");
    }
    assert_eq!(
        b.last().copied(),
        Some("  collectors: 36 ok, 0 permission denied, 0 not applicable, 0 error(s)")
    );
    assert!(out.contains("datasource off: disabled (enabled = false), not checked\n"), "{out}");
    assert!(out.ends_with("summary: 1 of 1 enabled datasource(s) logged in\n"), "{out}");
}

#[test]
fn permission_denied_not_applicable_and_failed_logins_are_classified() {
    let custom = root().join(CUSTOM);
    let body = double_ds(
        "denied",
        "primary",
        "DMDOUBLE_DENY=SYSJOB,V$DM_INI",
        &format!("dbUser = \"MONITOR\"\ncustomMetricsFile = \"{}\"", custom.display()),
    ) + &double_ds("odd", "odd", "", "")
        + &double_ds("wrongpw", "primary", "DMDOUBLE_PWD=right;UID=SYSDBA;PWD=Wrong_Pw_5521", "")
        + "[[datasource]]\nname = \"down\"\nodbcConnectionString = \"Driver={PostgreSQL Unicode};\
           Server=127.0.0.1;Port=1;Database=x;UID=u;PWD=Unused_Pw_8812\"\n"
        + "[[datasource]]\nname = \"nodriver\"\ndbHost = \"127.0.0.1:5236\"\ndbUser = \"SYSDBA\"\n\
           dbPwd = \"Unused_Pw_8813\"\nodbcDriver = \"No Such Driver 42\"\n";
    let (code, out, err) = doctor("doctor-classified", &body);
    assert_eq!(code, 1, "{out}\n{err}");
    let denied = block(&out, "denied");
    assert_eq!(
        denied[..3],
        [
            "datasource denied (datasource=\"denied\"): login ok",
            "  server: DM, version 8.1.5.60 企业版 (64 V8-03134284604-20260707-335949-20228)",
            "  session: read-write; custom metrics session: read-only",
        ]
    );
    let e = "query failed: ODBC emitted an error calling 'SQLExecDirect': State: 42000, \
             Native error: -5504, Message: ";
    for pair in [
        [
            format!("  collector job: permission denied: {e}没有[SYSJOB.SYSJOBHISTORIES2]对象的查询权限"),
            "    fix: GRANT SELECT ON SYSJOB.SYSJOBHISTORIES2 TO MONITOR;".to_owned(),
        ],
        [
            format!("  collector parameter: permission denied: {e}没有[V$DM_INI]对象的查询权限"),
            "    fix: GRANT SELECT ON V$DM_INI TO MONITOR;".to_owned(),
        ],
        [
            // A custom metric: the GRANT comes from the object the error names.
            format!(
                "  collector custom_test_parameter: permission denied: {e}没有[V$DM_INI]对象的查询权限"
            ),
            "    fix: GRANT SELECT ON V$DM_INI TO MONITOR;".to_owned(),
        ],
    ] {
        let at = denied.iter().position(|l| *l == pair[0]).unwrap_or_else(|| {
            panic!("missing {:?} in\n{out}", pair[0]);
        });
        assert_eq!(denied.get(at + 1).copied(), Some(pair[1].as_str()), "{out}");
    }
    assert_eq!(
        denied.last().copied(),
        Some("  collectors: 28 ok, 8 permission denied, 0 not applicable, 0 error(s)")
    );
    let odd = block(&out, "odd");
    assert_eq!(
        odd[1],
        "  server: DM, version 8.1.2.84 标准版 (x64 V8 02134283860-20220525-163502-20017)"
    );
    assert!(
        odd.contains(
            &"  collector job: not applicable: query failed: ODBC emitted an error calling \
              'SQLExecDirect': State: 42000, Native error: -2103, Message: 第1 行附近出现错误: \
              无效的模式名[SYSJOB]"
        ),
        "{out}"
    );
    assert_eq!(
        odd.last().copied(),
        // job (no SYSJOB schema) and the probe-gated collectors whose views this build
        // lacks (not_applicable skips, issue #11 item 4).
        Some("  collectors: 25 ok, 0 permission denied, 6 not applicable, 0 error(s)")
    );
    assert_eq!(
        block(&out, "wrongpw"),
        [
            "datasource wrongpw (datasource=\"wrongpw\"): login FAILED",
            "  problem: bad user or password (SQLSTATE 28000, native -2501)",
            "  error: no connection: ODBC emitted an error calling 'SQLDriverConnect': State: \
             28000, Native error: -2501, Message: 用户名或密码错误",
            "  fix: check dbUser and dbPwd (DM locks an account after FAILED_LOGIN_ATTEMPTS \
             failed logins; see README \"Secrets\" for the password's env and file forms)",
        ]
    );
    let down = block(&out, "down");
    assert_eq!(down[0], "datasource down (datasource=\"down\"): login FAILED");
    assert!(down[1].starts_with("  problem: server unreachable (SQLSTATE 08001"), "{out}");
    assert_eq!(
        down[3],
        "  fix: check dbHost and the port, that the server is running, and that no firewall \
         blocks this host"
    );
    let nodriver = block(&out, "nodriver");
    assert_eq!(
        nodriver[..2],
        [
            "datasource nodriver (datasource=\"nodriver@127.0.0.1:5236\"): login FAILED",
            "  problem: ODBC driver missing",
        ]
    );
    assert!(
        nodriver[2].starts_with("  error: ODBC driver \"No Such Driver 42\" is not registered"),
        "{out}"
    );
    assert!(out.ends_with("summary: 2 of 5 enabled datasource(s) logged in\n"), "{out}");
    for pw in ["Wrong_Pw_5521", "Unused_Pw_8812", "Unused_Pw_8813"] {
        assert!(!out.contains(pw) && !err.contains(pw), "{pw} leaked:\n{out}\n{err}");
    }
}
