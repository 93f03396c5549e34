//! The DM8 ODBC driver double (`tests/dm_double`, registered as `DMDouble`): a driver that
//! forwards to the SQLite3 driver and behaves, by connection-string knobs, like DM's driver as
//! public DM evidence describes it (docs/DM8_EVIDENCE.md). Not Dameng's driver.
//!
//! Two groups of tests:
//! - the double itself, through raw ODBC calls (what a DM driver answers: the DBMS name, native
//!   errors and their texts, CONNECTION_DEAD, QUERY_TIMEOUT, SQLCancel, ACCESS_MODE, the clock);
//! - the exporter over the double against the SQLite fixtures: the exposition of `primary`
//!   equals the SQLite driver's (golden file, custom metrics), and one case per DM behaviour the
//!   exporter must survive (F2, F3, F4, F5, F6 of docs/DM8_EVIDENCE.md).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use odbc_api::sys::{
    self, AttrOdbcVersion, CDataType, ConnectionAttribute, DriverConnectOption,
    EnvironmentAttribute, HDbc, HEnv, HStmt, Handle, HandleType, InfoType, Pointer, SqlReturn,
    StatementAttribute,
};

use crate::common::{root, scratch, series, sqlite_dir, value, Exporter};
use crate::golden::stable;

/// Builds and registers the double once per test process (tests/dm_double/build.sh).
pub(crate) fn double_ready() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let out = Command::new("bash")
            .arg(root().join("tests/dm_double/build.sh"))
            .arg(root().join("target/dm_double"))
            .output()
            .expect("run tests/dm_double/build.sh");
        assert!(
            out.status.success(),
            "tests/dm_double/build.sh failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    });
}

/// Connection string of fixture `instance` through the double, with `knobs` appended.
pub(crate) fn double_cs(instance: &str, knobs: &str) -> String {
    double_ready();
    format!(
        "Driver={{DMDouble}};Database={};NoCreat=1;{knobs}",
        sqlite_dir().join(format!("{instance}.db")).display()
    )
}

/// A `[[datasource]]` for fixture `instance` through the double (SYSJOB attached as the other
/// SQLite tests do), `extra` TOML lines appended.
pub(crate) fn double_ds(name: &str, instance: &str, knobs: &str, extra: &str) -> String {
    let f = sqlite_dir().join(format!("{instance}_sysjob.db"));
    let init = if f.exists() {
        format!("connectionInitSql = [\"ATTACH DATABASE '{}' AS SYSJOB\"]\n", f.display())
    } else {
        String::new()
    };
    format!(
        "[[datasource]]\nname = \"{name}\"\nodbcConnectionString = \"{}\"\n{init}{extra}\n",
        double_cs(instance, knobs)
    )
}

// ------------------------------------------------------------------ raw ODBC

/// One diagnostic record.
#[derive(Debug, Clone, PartialEq)]
struct Diag {
    state: String,
    native: i32,
    message: String,
}

fn ok(rc: SqlReturn) -> bool {
    rc == SqlReturn::SUCCESS || rc == SqlReturn::SUCCESS_WITH_INFO
}

fn diag(ht: HandleType, h: Handle) -> Diag {
    let mut state = [0u8; 6];
    let mut native = 0i32;
    let mut msg = vec![0u8; 1024];
    let mut len = 0i16;
    // SAFETY: buffers are as large as the lengths passed.
    let rc = unsafe {
        sys::SQLGetDiagRec(
            ht,
            h,
            1,
            state.as_mut_ptr(),
            &mut native,
            msg.as_mut_ptr(),
            msg.len() as i16,
            &mut len,
        )
    };
    assert!(ok(rc), "SQLGetDiagRec: {rc:?}");
    msg.truncate(len.max(0) as usize);
    Diag {
        state: String::from_utf8_lossy(&state[..5]).into_owned(),
        native,
        message: String::from_utf8_lossy(&msg).into_owned(),
    }
}

/// An environment and a connection through unixODBC, raw handles (for what odbc-api does not
/// expose: SQLCancel from another thread, SQL_DBMS_VER, the CONNECTION_DEAD value).
struct Raw {
    env: HEnv,
    dbc: HDbc,
}

/// A statement handle that may be used from another thread (SQLCancel).
#[derive(Clone, Copy)]
struct Stmt(HStmt);
// SAFETY: ODBC handles may be used from any thread; the double's SQLCancel is made for it.
unsafe impl Send for Stmt {}

impl Raw {
    /// Connects with `cs`; `read_only` sets SQL_ATTR_ACCESS_MODE before connecting, as the
    /// exporter does.
    fn connect(cs: &str, read_only: bool) -> Raw {
        // SAFETY: plain ODBC calls on handles allocated here; strings outlive the calls.
        unsafe {
            let mut env = Handle(std::ptr::null_mut());
            assert!(ok(sys::SQLAllocHandle(
                HandleType::Env,
                Handle(std::ptr::null_mut()),
                &mut env
            )));
            let env = HEnv(env.0);
            assert!(ok(sys::SQLSetEnvAttr(
                env,
                EnvironmentAttribute::OdbcVersion,
                AttrOdbcVersion::Odbc3.into(),
                0
            )));
            let mut dbc = Handle(std::ptr::null_mut());
            assert!(ok(sys::SQLAllocHandle(HandleType::Dbc, Handle(env.0), &mut dbc)));
            let dbc = HDbc(dbc.0);
            if read_only {
                let rc =
                    sys::SQLSetConnectAttr(dbc, ConnectionAttribute::ACCESS_MODE, 1 as Pointer, 0);
                assert!(ok(rc), "ACCESS_MODE: {:?}", diag(HandleType::Dbc, Handle(dbc.0)));
            }
            let rc = sys::SQLDriverConnect(
                dbc,
                std::ptr::null_mut(),
                cs.as_ptr(),
                cs.len() as i16,
                std::ptr::null_mut(),
                0,
                std::ptr::null_mut(),
                DriverConnectOption::NoPrompt,
            );
            assert!(ok(rc), "connect {cs}: {:?}", diag(HandleType::Dbc, Handle(dbc.0)));
            Raw { env, dbc }
        }
    }

    fn stmt(&self) -> Stmt {
        let mut h = Handle(std::ptr::null_mut());
        // SAFETY: the connection handle is live.
        assert!(ok(unsafe { sys::SQLAllocHandle(HandleType::Stmt, Handle(self.dbc.0), &mut h) }));
        Stmt(HStmt(h.0))
    }

    fn info(&self, t: InfoType) -> String {
        let mut buf = vec![0u8; 256];
        let mut len = 0i16;
        // SAFETY: buffer as large as passed.
        let rc = unsafe {
            sys::SQLGetInfo(self.dbc, t, buf.as_mut_ptr() as Pointer, buf.len() as i16, &mut len)
        };
        assert!(ok(rc), "SQLGetInfo({t:?})");
        buf.truncate(len.max(0) as usize);
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// SQLGetConnectAttr of an integer attribute.
    fn attr(&self, a: ConnectionAttribute) -> Result<u32, Diag> {
        let mut v = 0u32;
        // SAFETY: the value is a 32-bit integer.
        let rc = unsafe {
            sys::SQLGetConnectAttr(
                self.dbc,
                a,
                &mut v as *mut u32 as Pointer,
                0,
                std::ptr::null_mut(),
            )
        };
        if ok(rc) {
            Ok(v)
        } else {
            Err(diag(HandleType::Dbc, Handle(self.dbc.0)))
        }
    }

    /// Runs `sql` on a new statement; the first column of the first row as text.
    fn one(&self, sql: &str) -> Result<String, Diag> {
        let s = self.stmt();
        let r = exec(s, sql).and_then(|()| fetch_one(s));
        free(s);
        r
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: handles allocated in connect, freed once.
        unsafe {
            let _ = sys::SQLDisconnect(self.dbc);
            let _ = sys::SQLFreeHandle(HandleType::Dbc, Handle(self.dbc.0));
            let _ = sys::SQLFreeHandle(HandleType::Env, Handle(self.env.0));
        }
    }
}

fn exec(s: Stmt, sql: &str) -> Result<(), Diag> {
    // SAFETY: the statement handle is live; the text outlives the call.
    let rc = unsafe { sys::SQLExecDirect(s.0, sql.as_ptr(), sql.len() as i32) };
    if ok(rc) || rc == SqlReturn::NO_DATA {
        Ok(())
    } else {
        Err(diag(HandleType::Stmt, Handle(s.0 .0)))
    }
}

fn fetch_one(s: Stmt) -> Result<String, Diag> {
    // SAFETY: live statement; buffer as large as passed.
    unsafe {
        let rc = sys::SQLFetch(s.0);
        if !ok(rc) {
            return Err(Diag { state: format!("{rc:?}"), native: 0, message: "no row".into() });
        }
        let mut buf = vec![0u8; 512];
        let mut ind: isize = 0;
        let rc =
            sys::SQLGetData(s.0, 1, CDataType::Char, buf.as_mut_ptr() as Pointer, 512, &mut ind);
        if !ok(rc) {
            return Err(diag(HandleType::Stmt, Handle(s.0 .0)));
        }
        buf.truncate(ind.max(0) as usize);
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }
}

fn set_query_timeout(s: Stmt, secs: usize) -> Result<(), Diag> {
    // SAFETY: the value is an integer passed in the pointer.
    let rc =
        unsafe { sys::SQLSetStmtAttr(s.0, StatementAttribute::QueryTimeout, secs as Pointer, 0) };
    if ok(rc) {
        Ok(())
    } else {
        Err(diag(HandleType::Stmt, Handle(s.0 .0)))
    }
}

fn free(s: Stmt) {
    // SAFETY: freed once.
    unsafe {
        let _ = sys::SQLFreeHandle(HandleType::Stmt, Handle(s.0 .0));
    }
}

// ------------------------------------------------------------------ the double itself

#[test]
fn double_reports_dm_as_the_dbms_and_a_dm_version() {
    let c = Raw::connect(&double_cs("primary", ""), false);
    assert_eq!(c.info(InfoType::DbmsName), "DM");
    assert_eq!(c.info(InfoType::DbmsVer), "08.01.0005.0060");
    let c = Raw::connect(&double_cs("primary", "DMDOUBLE_DBMS_VER=08.01.0003.0162"), false);
    assert_eq!(c.info(InfoType::DbmsVer), "08.01.0003.0162");
    // The data is the fixture's, through SQLite.
    assert_eq!(c.one("SELECT COUNT(*) FROM V$SESSIONS").unwrap(), "11");
    // The SQLite3 driver itself still says SQLite.
    let s = Raw::connect(
        &format!("Driver=SQLite3;Database={}", sqlite_dir().join("primary.db").display()),
        false,
    );
    assert_eq!(s.info(InfoType::DbmsName), "SQLite");
}

#[test]
fn double_returns_dm_native_errors_and_texts() {
    let c = Raw::connect(&double_cs("primary", "DMDOUBLE_DENY=V$PARAMETER,SYSJOB.SYSJOBS"), false);
    let d = c.one("SELECT * FROM V$DMMONITOR_NOPE").unwrap_err();
    assert_eq!(
        d,
        Diag {
            state: "42S02".into(),
            native: -2106,
            message: "第1 行附近出现错误: 无效的表或视图名[V$DMMONITOR_NOPE]".into()
        }
    );
    // The line of the name is reported (DM: 第N 行附近).
    let d = c.one("SELECT LAST_SEND_CODE\nFROM V$ARCH_SEND_INFO_NOPE").unwrap_err();
    assert_eq!(d.message, "第2 行附近出现错误: 无效的表或视图名[V$ARCH_SEND_INFO_NOPE]");
    let d = c.one("SELECT LAST_SEND_CODE_NOPE FROM V$ARCH_SEND_INFO").unwrap_err();
    assert_eq!(
        d,
        Diag {
            state: "42S22".into(),
            native: -2111,
            message: "第1 行附近出现错误: 无效的列名[LAST_SEND_CODE_NOPE]".into()
        }
    );
    // No SYSJOB attached: DM before SP_INIT_JOB_SYS(1) (E18).
    let d = c.one("SELECT COUNT(*) FROM SYSJOB.SYSJOBHISTORIES2").unwrap_err();
    assert_eq!(d.native, -2103);
    assert_eq!(d.message, "第1 行附近出现错误: 无效的模式名[SYSJOB]");
    // Denied objects (E9): -5504, qualified or not, whatever the case in the SQL.
    let d = c.one("select name from v$parameter").unwrap_err();
    assert_eq!(
        d,
        Diag {
            state: "42000".into(),
            native: -5504,
            message: "没有[V$PARAMETER]对象的查询权限".into()
        }
    );
    let d = c.one("SELECT COUNT(*) FROM SYSJOB.SYSJOBS").unwrap_err();
    assert_eq!(d.message, "没有[SYSJOB.SYSJOBS]对象的查询权限");
    // A name inside a string literal is not an object.
    assert_eq!(c.one("SELECT 'V$PARAMETER' FROM DUAL").unwrap(), "V$PARAMETER");
    // A schema denied as a whole; attaching the fixture's SYSJOB file is not a query of it.
    let c = Raw::connect(&double_cs("primary", "DMDOUBLE_DENY=SYSJOB"), false);
    let s = c.stmt();
    let attach =
        format!("ATTACH DATABASE '{}' AS SYSJOB", sqlite_dir().join("primary_sysjob.db").display());
    exec(s, &attach).unwrap();
    free(s);
    assert_eq!(c.one("SELECT COUNT(*) FROM SYSJOB.SYSJOBS").unwrap_err().native, -5504);
    // DMDOUBLE_ERRORS=sqlite keeps SQLite's own texts.
    let c = Raw::connect(&double_cs("primary", "DMDOUBLE_ERRORS=sqlite"), false);
    let d = c.one("SELECT * FROM V$NOPE").unwrap_err();
    assert!(d.message.contains("no such table: V$NOPE"), "{d:?}");
}

#[test]
fn double_connection_dead_is_unsupported_odd_or_ok() {
    // Default, as DPI documents (E8): SQL_ERROR, HYC00.
    let c = Raw::connect(&double_cs("primary", ""), false);
    let d = c.attr(ConnectionAttribute::CONNECTION_DEAD).unwrap_err();
    assert_eq!(d.state, "HYC00");
    assert_eq!(d.message, "Optional feature not implemented");
    let c = Raw::connect(&double_cs("primary", "DMDOUBLE_DEAD=odd"), false);
    assert_eq!(c.attr(ConnectionAttribute::CONNECTION_DEAD), Ok(2));
    let c = Raw::connect(&double_cs("primary", "DMDOUBLE_DEAD=7"), false);
    assert_eq!(c.attr(ConnectionAttribute::CONNECTION_DEAD), Ok(7));
    let c = Raw::connect(&double_cs("primary", "DMDOUBLE_DEAD=ok"), false);
    assert_eq!(c.attr(ConnectionAttribute::CONNECTION_DEAD), Ok(0));
    // odbc-api's is_dead on these answers (E21): Err, and a panic on 2.
    let env = odbc_api::environment().expect("ODBC environment");
    let conn = env
        .connect_with_connection_string(&double_cs("primary", ""), Default::default())
        .expect("connect");
    assert!(conn.is_dead().is_err());
    let conn = env
        .connect_with_connection_string(
            &double_cs("primary", "DMDOUBLE_DEAD=odd"),
            Default::default(),
        )
        .expect("connect");
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| conn.is_dead()));
    assert!(r.is_err(), "odbc-api 29.3 panics on SQL_ATTR_CONNECTION_DEAD = 2");
}

#[test]
fn double_query_timeout_refused_honoured_or_ignored() {
    let slow_sql = "SELECT /*dmdouble:sleep=2*/ COUNT(*) FROM V$SESSIONS";
    // refuse: SQLSetStmtAttr fails with HYC00 (what F5 guards against).
    let c = Raw::connect(&double_cs("primary", "DMDOUBLE_QTIMEOUT=refuse"), false);
    let s = c.stmt();
    assert_eq!(set_query_timeout(s, 1).unwrap_err().state, "HYC00");
    free(s);
    // ok (default): the statement stops at the timeout with HYT00.
    let c = Raw::connect(&double_cs("primary", ""), false);
    let s = c.stmt();
    set_query_timeout(s, 1).unwrap();
    let d = exec(s, slow_sql).unwrap_err();
    assert_eq!(d, Diag { state: "HYT00".into(), native: -608, message: "请求执行超时".into() });
    free(s);
    // ignore: accepted, but the statement runs its full two seconds and succeeds.
    let c = Raw::connect(&double_cs("primary", "DMDOUBLE_QTIMEOUT=ignore"), false);
    let s = c.stmt();
    set_query_timeout(s, 1).unwrap();
    let t = Instant::now();
    exec(s, slow_sql).unwrap();
    assert!(t.elapsed() >= Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(fetch_one(s).unwrap(), "11");
    free(s);
}

#[test]
fn double_slow_statement_honours_sqlcancel_from_another_thread() {
    let c = Raw::connect(
        &double_cs("primary", "DMDOUBLE_QTIMEOUT=ignore;DMDOUBLE_SLOW=V$SYSSTAT:30"),
        false,
    );
    let s = c.stmt();
    let t = Instant::now();
    let worker = std::thread::spawn(move || {
        let s = s;
        exec(s, "SELECT COUNT(*) FROM V$SYSSTAT")
    });
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: the handle is live until freed below, after the worker returned.
    let rc = unsafe { sys::SQLCancel(s.0) };
    assert!(ok(rc), "SQLCancel: {rc:?}");
    let r = worker.join().expect("worker");
    assert!(t.elapsed() < Duration::from_secs(30), "the cancel did not stop the statement");
    assert_eq!(r.unwrap_err().state, "HY008");
    // The statement handle is usable again.
    exec(s, "SELECT 1 FROM DUAL").unwrap();
    assert_eq!(fetch_one(s).unwrap(), "1");
    free(s);
}

#[test]
fn double_read_only_access_mode_enforced_ignored_or_lied_about() {
    let rdonly = "SELECT RDONLY FROM V$SESSIONS WHERE SESS_ID = SESSID()";
    // enforce (default): writes fail with -6506 (E9); the session says Y.
    let c = Raw::connect(&double_cs("primary", ""), true);
    assert_eq!(c.attr(ConnectionAttribute::ACCESS_MODE), Ok(1));
    assert_eq!(c.one(rdonly).unwrap(), "Y");
    assert_eq!(
        c.one("/*+DM_EXPORTER*/ select rdonly from v$sessions where sess_id=sessid()").unwrap(),
        "Y"
    );
    for w in [
        "CREATE TEMP TABLE dmdouble_t (x INTEGER)",
        "INSERT INTO V$PARAMETER (NAME) VALUES ('X')",
        "update V$PARAMETER set NAME = 'X'",
        "  DELETE FROM V$PARAMETER",
        "/* c */ DROP TABLE V$PARAMETER",
    ] {
        let d = c.one(w).unwrap_err();
        assert_eq!(
            d,
            Diag {
                state: "25006".into(),
                native: -6506,
                message: "试图在只读事务中修改数据".into()
            },
            "{w}"
        );
    }
    // Not read-only: N, and writes reach SQLite (a TEMP table leaves the fixture file alone).
    let c = Raw::connect(&double_cs("primary", ""), false);
    assert_eq!(c.one(rdonly).unwrap(), "N");
    let s = c.stmt();
    exec(s, "CREATE TEMP TABLE dmdouble_t (x INTEGER)").unwrap();
    free(s);
    // ignore: the attribute is accepted and has no effect; the session says N.
    let c = Raw::connect(&double_cs("primary", "DMDOUBLE_RDONLY=ignore"), true);
    assert_eq!(c.one(rdonly).unwrap(), "N");
    let s = c.stmt();
    exec(s, "CREATE TEMP TABLE dmdouble_t (x INTEGER)").unwrap();
    free(s);
    // lie: writable, but the session says Y.
    let c = Raw::connect(&double_cs("primary", "DMDOUBLE_RDONLY=lie"), true);
    assert_eq!(c.one(rdonly).unwrap(), "Y");
    let s = c.stmt();
    exec(s, "CREATE TEMP TABLE dmdouble_t (x INTEGER)").unwrap();
    free(s);
}

/// Seconds since the Unix epoch of `YYYY-MM-DD HH:MM:SS[.ffffff]` read as UTC.
fn epoch(text: &str) -> i64 {
    let (d, t) = text.split_once(' ').expect("date time");
    let p: Vec<i64> = d.split('-').map(|x| x.parse().expect("date")).collect();
    let q: Vec<i64> = t[..8].split(':').map(|x| x.parse().expect("time")).collect();
    // days from civil (Howard Hinnant's algorithm)
    let (y, m, dd) = (if p[1] <= 2 { p[0] - 1 } else { p[0] }, p[1], p[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    days * 86400 + q[0] * 3600 + q[1] * 60 + q[2]
}

#[test]
fn double_session_time_zone_differs_from_the_server_zone() {
    let c = Raw::connect(&double_cs("primary", "DMDOUBLE_SESSION_TZ=+08:00"), false);
    let now_utc = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    // SYSDATE: server-local (UTC in the fixture) now, no offset.
    let sysdate = c.one("SELECT SYSDATE FROM DUAL").unwrap();
    assert_eq!(sysdate.len(), 19, "{sysdate}");
    assert!((epoch(&sysdate) - now_utc).abs() <= 2, "{sysdate}");
    // CURRENT_TIMESTAMP: the session zone's time with its offset, microseconds.
    let ct = c.one("SELECT CURRENT_TIMESTAMP FROM DUAL").unwrap();
    assert!(ct.ends_with(" +08:00") && ct.len() == 33, "{ct}");
    assert!((epoch(&ct) - 8 * 3600 - now_utc).abs() <= 2, "{ct}");
    // LOCALTIMESTAMP: the session's wall time without offset.
    let lt = c.one("SELECT LOCALTIMESTAMP FROM DUAL").unwrap();
    assert_eq!(lt.len(), 26, "{lt}");
    assert!((epoch(&lt) - 8 * 3600 - now_utc).abs() <= 2, "{lt}");
    // Not inside literals or quoted names; SESSID() is the session id.
    assert_eq!(
        c.one("SELECT 'SYSDATE CURRENT_TIMESTAMP' FROM DUAL").unwrap(),
        "SYSDATE CURRENT_TIMESTAMP"
    );
    assert_eq!(c.one("SELECT SESSID() FROM DUAL").unwrap(), "140000001");
    // Another zone, west of UTC.
    let c = Raw::connect(&double_cs("primary", "DMDOUBLE_SESSION_TZ=-05:30"), false);
    let ct = c.one("SELECT CURRENT_TIMESTAMP FROM DUAL").unwrap();
    assert!(ct.ends_with(" -05:30"), "{ct}");
    assert!((epoch(&ct) + 5 * 3600 + 1800 - now_utc).abs() <= 2, "{ct}");
}

// ------------------------------------------------------------------ the exporter over the double

/// The SQLite3 driver's datasource for `instance`, for side-by-side runs.
fn sqlite_ds(name: &str, instance: &str, extra: &str) -> String {
    crate::common::fixture_ds(crate::common::Engine::Sqlite, name, instance, extra)
}

fn example(name: &str) -> PathBuf {
    root().join("config/examples").join(name)
}

#[test]
fn exporter_over_the_double_matches_the_golden_primary_exposition() {
    // Session zone = server zone (UTC): no documented difference applies.
    let exp = Exporter::start(
        "dmdouble-golden",
        &double_ds(
            "primary",
            "primary",
            "DMDOUBLE_SESSION_TZ=+00:00",
            "labels = \"env=golden\"\ncheckSlowSQL = true",
        ),
    );
    let text = stable(&exp.metrics());
    let golden = std::fs::read_to_string(root().join("tests/golden/primary_sqlite.prom"))
        .expect("golden file");
    assert_eq!(text, golden);
}

/// The `dmdbms_*` series of an exposition, clock-dependent families left out.
fn dmdbms(text: &str) -> Vec<String> {
    stable(text).lines().filter(|l| l.starts_with("dmdbms_")).map(str::to_owned).collect()
}

#[test]
fn exporter_over_the_double_gives_the_sqlite_drivers_builtin_and_custom_series() {
    let files = |ds: &dyn Fn(&str, &str, &str) -> String| {
        [
            ds("master", "primary", "customMetricsFile = \"MASTER\"\ncheckSlowSQL = true"),
            ds("slave", "standby", "customMetricsFile = \"SLAVE\""),
            ds("odd", "odd", "customMetricsFile = \"TEST\""),
        ]
        .concat()
        .replace("MASTER", &example("custom_metrics_prod_master.toml").display().to_string())
        .replace("SLAVE", &example("custom_metrics_prod_slave.toml").display().to_string())
        .replace("TEST", &example("custom_metrics_test.toml").display().to_string())
    };
    let on_sqlite = Exporter::start("dmdouble-side-sqlite", &files(&|n, i, x| sqlite_ds(n, i, x)));
    let on_double = Exporter::start(
        "dmdouble-side-double",
        &files(&|n, i, x| double_ds(n, i, "DMDOUBLE_SESSION_TZ=+00:00", x)),
    );
    let a = on_sqlite.metrics();
    let b = on_double.metrics();
    assert_eq!(dmdbms(&b), dmdbms(&a));
    // ... and they are the values the custom metrics tests assert (not two empty lists).
    assert_eq!(value(&b, "dmdbms_orders_orders{datasource=\"master\",status=\"PAID\"}"), Some(3.0));
    assert_eq!(value(&b, "dmdbms_payments_failed_total{datasource=\"master\"}"), Some(3.0));
    assert_eq!(value(&b, "dmdbms_replication_apply_tasks{datasource=\"slave\"}"), Some(16.0));
    assert!(dmdbms(&b).len() > 150, "{}", dmdbms(&b).len());
    // Every built-in collector ran (odd lacks some views: those are skipped the same way).
    for l in series(&b, "dameng_exporter_collector_success") {
        let twin = series(&a, "dameng_exporter_collector_success");
        assert!(twin.contains(&l), "{l} differs from the SQLite driver's");
    }
}

/// Every built-in collector of the `primary` datasource ran and succeeded (31 on `primary`;
/// an unreachable datasource has none, which fails here too).
fn all_collectors_succeeded(t: &str) {
    let all = series(t, "dameng_exporter_collector_success");
    let failed: Vec<&&str> = all.iter().filter(|l| !l.ends_with(" 1")).collect();
    assert!(all.len() >= 31 && failed.is_empty(), "{} collectors, failed: {failed:?}", all.len());
}

/// Lines of the double's DMDOUBLE_LOG file equal to `event`.
fn events(log: &std::path::Path, event: &str) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().lines().filter(|l| *l == event).count()
}

#[test]
fn liveness_unsupported_does_not_log_in_on_every_checkout() {
    let dir = scratch("dmdouble-dead-unsupported");
    let log = dir.join("events.log");
    let exp = Exporter::start(
        "dmdouble-dead-unsupported-exp",
        &double_ds(
            "primary",
            "primary",
            &format!("DMDOUBLE_SESSION_TZ=+00:00;DMDOUBLE_LOG={}", log.display()),
            "maxOpenConns = 3",
        ),
    );
    for _ in 0..3 {
        let t = exp.metrics();
        assert_eq!(
            value(
                &t,
                "dameng_exporter_collector_success{collector=\"instance\",datasource=\"primary\"}"
            ),
            Some(1.0)
        );
    }
    // Three scrapes of ~30 collectors each: logins stay within maxOpenConns (+1 health check
    // connection at most), not one per checkout.
    let n = events(&log, "connect");
    assert!(n <= 4, "{n} logins for 3 scrapes with maxOpenConns = 3");
}

#[test]
fn liveness_odd_value_does_not_panic_or_stall_the_exporter() {
    let exp = Exporter::start(
        "dmdouble-dead-odd",
        &double_ds("primary", "primary", "DMDOUBLE_SESSION_TZ=+00:00;DMDOUBLE_DEAD=odd", ""),
    );
    for _ in 0..3 {
        all_collectors_succeeded(&exp.metrics());
    }
    assert!(!exp.all_logs().contains("panicked"), "{}", exp.all_logs());
}

#[test]
fn query_timeout_refused_is_a_warning_not_a_failure() {
    let exp = Exporter::start(
        "dmdouble-qt-refuse",
        &double_ds("primary", "primary", "DMDOUBLE_SESSION_TZ=+00:00;DMDOUBLE_QTIMEOUT=refuse", ""),
    );
    all_collectors_succeeded(&exp.metrics());
    all_collectors_succeeded(&exp.metrics());
    // stdout only: all_logs() holds every line twice (stdout and the log file).
    let logs = exp.output();
    assert_eq!(logs.matches("QUERY_TIMEOUT").count(), 1, "warned once per datasource:\n{logs}");
}

#[test]
fn a_statement_that_ignores_its_timeout_is_cancelled_by_the_watchdog() {
    let dir = scratch("dmdouble-watchdog");
    let log = dir.join("events.log");
    let exp = Exporter::start(
        "dmdouble-watchdog-exp",
        &double_ds(
            "primary",
            "primary",
            &format!(
                "DMDOUBLE_SESSION_TZ=+00:00;DMDOUBLE_QTIMEOUT=ignore;DMDOUBLE_SLOW=V$SYSSTAT:60;DMDOUBLE_LOG={}",
                log.display()
            ),
            "queryTimeout = 2",
        ),
    );
    let t = Instant::now();
    let m = exp.metrics();
    assert!(t.elapsed() < Duration::from_secs(20), "scrape took {:?}", t.elapsed());
    assert_eq!(
        value(
            &m,
            "dameng_exporter_collector_success{collector=\"instance\",datasource=\"primary\"}"
        ),
        Some(1.0)
    );
    // The statements on V$SYSSTAT were cancelled, and the next scrape still works.
    std::thread::sleep(Duration::from_secs(3));
    assert!(events(&log, "cancel") >= 1, "no SQLCancel reached the driver");
    let m = exp.metrics();
    assert_eq!(
        value(
            &m,
            "dameng_exporter_collector_success{collector=\"instance\",datasource=\"primary\"}"
        ),
        Some(1.0)
    );
}

#[test]
fn custom_sql_runs_on_a_dm_session_that_is_read_only() {
    let exp = Exporter::start(
        "dmdouble-ro-enforced",
        &double_ds(
            "master",
            "primary",
            "DMDOUBLE_SESSION_TZ=+00:00",
            &format!(
                "customMetricsFile = \"{}\"",
                example("custom_metrics_prod_master.toml").display()
            ),
        ),
    );
    let t = exp.metrics();
    assert_eq!(value(&t, "dmdbms_orders_orders{datasource=\"master\",status=\"PAID\"}"), Some(3.0));
    assert_eq!(value(&t, "dmdbms_payments_pending{datasource=\"master\"}"), Some(1.0));
}

#[test]
fn custom_sql_is_refused_on_a_dm_session_that_is_not_read_only() {
    let exp = Exporter::start(
        "dmdouble-ro-ignored",
        &double_ds(
            "master",
            "primary",
            "DMDOUBLE_SESSION_TZ=+00:00;DMDOUBLE_RDONLY=ignore",
            &format!(
                "customMetricsFile = \"{}\"",
                example("custom_metrics_prod_master.toml").display()
            ),
        ),
    );
    let t = exp.metrics();
    assert_eq!(value(&t, "dmdbms_orders_orders{datasource=\"master\",status=\"PAID\"}"), None);
    // Built-in collectors are unaffected.
    assert_eq!(
        value(
            &t,
            "dameng_exporter_collector_success{collector=\"instance\",datasource=\"master\"}"
        ),
        Some(1.0)
    );
    assert!(exp.all_logs().contains("RDONLY"), "{}", exp.all_logs());
}

#[test]
fn session_and_exporter_time_zones_change_no_value() {
    let sqlite = Exporter::start(
        "dmdouble-tz-sqlite",
        &sqlite_ds("primary", "primary", "labels = \"env=golden\"\ncheckSlowSQL = true"),
    );
    let reference = sqlite.metrics();
    for (tz, session) in [("America/New_York", "+08:00"), ("Asia/Shanghai", "-05:00")] {
        let exp = Exporter::start_with_env(
            &format!("dmdouble-tz-{}", session.replace(':', "")),
            &double_ds(
                "primary",
                "primary",
                &format!("DMDOUBLE_SESSION_TZ={session}"),
                "labels = \"env=golden\"\ncheckSlowSQL = true",
            ),
            &[("TZ", tz)],
        );
        let text = exp.metrics();
        // Clock-independent series: exactly the golden file.
        let golden = std::fs::read_to_string(root().join("tests/golden/primary_sqlite.prom"))
            .expect("golden file");
        assert_eq!(stable(&text), golden, "TZ={tz}, session {session}");
        // Day counts, the job window, expiry days: as on the SQLite driver (same day, same data).
        for s in crate::golden::DAY_COUNTS {
            assert_eq!(series(&text, s), series(&reference, s), "{s}: TZ={tz}, session {session}");
        }
        let job =
            |t: &str| value(t, "dmdbms_joblog_error_num{datasource=\"primary\",env=\"golden\"}");
        assert!(job(&reference).is_some(), "{reference}");
        assert_eq!(job(&text), job(&reference), "TZ={tz}, session {session}");
        // Slow SQL ages: within the few seconds between the two scrapes.
        let (x, y) =
            (crate::golden::slow_sql_ages(&text), crate::golden::slow_sql_ages(&reference));
        assert_eq!(x.len(), 2, "{text}");
        assert_eq!(x.len(), y.len());
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() < 60_000.0, "slow SQL age {a} vs {b} ms");
        }
    }
}

#[test]
fn a_denied_sysjob_is_a_permission_skip() {
    let exp = Exporter::start(
        "dmdouble-deny-sysjob",
        &double_ds("primary", "primary", "DMDOUBLE_SESSION_TZ=+00:00;DMDOUBLE_DENY=SYSJOB", ""),
    );
    let t = exp.metrics();
    assert_eq!(
        value(
            &t,
            "dameng_exporter_collector_skipped{collector=\"job\",datasource=\"primary\",reason=\"permission\"}"
        ),
        Some(1.0)
    );
    assert_ne!(
        value(&t, "dameng_exporter_collector_success{collector=\"job\",datasource=\"primary\"}"),
        Some(0.0)
    );
    assert!(series(&t, "dmdbms_joblog_error_num").is_empty());
    // Everything else is as without the denial.
    assert_eq!(
        value(
            &t,
            "dameng_exporter_collector_success{collector=\"instance\",datasource=\"primary\"}"
        ),
        Some(1.0)
    );
}

/// A datasource in upstream's DM form (`odbcDriver`, `dbHost`, `dbUser`, `dbPwd`): the exporter
/// builds the DM connection string; the double maps `SERVER=<host>` to `<host>.db` in
/// DMDOUBLE_DATABASE_DIR (the environment carries the knobs).
fn dm_form_ds(db_host: &str, pwd: &str) -> String {
    let sysjob = sqlite_dir().join("primary_sysjob.db");
    format!(
        "[[datasource]]\nname = \"primary\"\nodbcDriver = \"DMDouble\"\ndbHost = \"{db_host}\"\n\
         dbUser = \"SYSDBA\"\ndbPwd = \"{pwd}\"\n\
         connectionInitSql = [\"ATTACH DATABASE '{}' AS SYSJOB\"]\n",
        sysjob.display()
    )
}

fn dm_form_env(log: &std::path::Path, pwd: &str) -> Vec<(String, String)> {
    double_ready();
    vec![
        ("DMDOUBLE_LOG".into(), log.display().to_string()),
        ("DMDOUBLE_DATABASE_DIR".into(), sqlite_dir().display().to_string()),
        ("DMDOUBLE_PWD".into(), pwd.into()),
        ("DMDOUBLE_SESSION_TZ".into(), "+00:00".into()),
    ]
}

fn start_dm_form(name: &str, db_host: &str, pwd: &str, accepted: &str) -> (Exporter, PathBuf) {
    let dir = scratch(&format!("{name}-log"));
    let log = dir.join("events.log");
    let env = dm_form_env(&log, accepted);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    (Exporter::start_with_env(name, &dm_form_ds(db_host, pwd), &env), log)
}

#[test]
fn the_dm_connection_string_the_exporter_builds_reaches_the_driver() {
    let (exp, log) = start_dm_form("dmdouble-dm-form", "primary:5236", "s3cret-Pw", "s3cret-Pw");
    let t = exp.metrics();
    let ds = "datasource=\"primary@primary:5236\"";
    assert_eq!(value(&t, &format!("dmdb_up{{{ds}}}")), Some(1.0), "{t}");
    assert_eq!(
        value(&t, &format!("dameng_exporter_collector_success{{collector=\"instance\",{ds}}}")),
        Some(1.0)
    );
    assert_eq!(value(&t, &format!("dmdbms_status_info{{{ds}}}")), Some(1.0));
    let events = std::fs::read_to_string(&log).expect("double's event log");
    let first: Vec<&str> = events.lines().take(7).collect();
    assert_eq!(
        first,
        [
            "keys DRIVER,SERVER,TCP_PORT,UID,PWD,CHARACTER_CODE",
            "attr DRIVER=DMDouble",
            "attr SERVER=primary",
            "attr TCP_PORT=5236",
            "attr UID=SYSDBA",
            "attr PWD=***",
            "attr CHARACTER_CODE=PG_UTF8",
        ]
    );
    assert!(!t.contains("s3cret-Pw") && !exp.all_logs().contains("s3cret-Pw"));
}

#[test]
fn a_wrong_password_is_dms_login_failure_and_stays_secret() {
    let (exp, log) =
        start_dm_form("dmdouble-dm-login", "primary:5236", "wrong-Pw-77", "right-Pw-88");
    let t = exp.metrics();
    assert_eq!(value(&t, "dmdb_up{datasource=\"primary@primary:5236\"}"), Some(0.0), "{t}");
    assert!(events(&log, "login-failed") >= 1);
    assert_eq!(events(&log, "connect"), 0);
    let logs = exp.all_logs();
    assert!(logs.contains("用户名或密码错误") || logs.contains("-2501"), "{logs}");
    for secret in ["wrong-Pw-77", "right-Pw-88"] {
        assert!(!logs.contains(secret) && !t.contains(secret), "{secret} leaked");
    }
}

#[test]
fn dbhost_go_driver_options_are_mapped_or_dropped() {
    let (exp, log) = start_dm_form(
        "dmdouble-dm-options",
        "primary:5236?schema=APP&socketTimeout=3000&autoCommit=true",
        "pw-x1",
        "pw-x1",
    );
    let t = exp.metrics();
    assert_eq!(value(&t, "dmdb_up{datasource=\"primary@primary:5236\"}"), Some(1.0), "{t}");
    let events = std::fs::read_to_string(&log).expect("double's event log");
    let keys = events.lines().find(|l| l.starts_with("keys ")).expect("keys line");
    assert!(events.lines().any(|l| l == "attr SCHEMA=APP"), "{events}");
    for go_only in ["SOCKETTIMEOUT", "AUTOCOMMIT"] {
        assert!(!keys.split([' ', ',']).any(|k| k == go_only), "{keys}");
    }
}

#[test]
fn a_long_value_does_not_run_the_statement_twice() {
    let dir = scratch("dmdouble-long-value");
    let log = dir.join("events.log");
    let long = "x".repeat(20_000);
    let file = dir.join("long.toml");
    std::fs::write(
        &file,
        format!(
            "[[metric]]\ncontext = \"long\"\nlabels = [\"big\"]\n\
             request = \"SELECT /* long-value */ '{long}' AS big, 1 AS n FROM DUAL\"\n\
             metricsdesc = {{ n = \"one row with a 20 kB label\" }}\n"
        ),
    )
    .expect("write custom metrics file");
    let exp = Exporter::start(
        "dmdouble-long-value-exp",
        &double_ds(
            "primary",
            "primary",
            &format!(
                "DMDOUBLE_SESSION_TZ=+00:00;DMDOUBLE_LOG={};DMDOUBLE_LOG_SQL=1",
                log.display()
            ),
            &format!("customMetricsFile = \"{}\"", file.display()),
        ),
    );
    let t = exp.metrics();
    assert_eq!(series(&t, "dmdbms_long_n").len(), 1, "{}", exp.all_logs());
    let events = std::fs::read_to_string(&log).expect("double's event log");
    let runs =
        events.lines().filter(|l| l.starts_with("exec ") && l.contains("/* long-value */")).count();
    assert_eq!(runs, 1, "the statement ran {runs} times in one scrape");
}

/// DM's dialect reaches the driver (docs/DM8_EVIDENCE.md F3, F8, F10): "now" is `SYSDATE`
/// (never the session-zone `CURRENT_TIMESTAMP`), slow SQL asks `SF_GET_SESSION_SQL(SESS_ID)`
/// for the full statement text, and the job window is a typed `TIMESTAMP '…'` literal (no
/// text that the session's NLS format would have to convert). The values are those of the
/// SQLite driver, which gets `CURRENT_TIMESTAMP` and `SQL_TEXT`.
#[test]
fn dm_statements_use_sysdate_sf_get_session_sql_and_typed_literals() {
    let dir = scratch("dmdouble-dialect");
    let log = dir.join("events.log");
    let knobs =
        format!("DMDOUBLE_SESSION_TZ=+08:00;DMDOUBLE_LOG={};DMDOUBLE_LOG_SQL=1", log.display());
    let exp = Exporter::start(
        "dmdouble-dialect-exp",
        &double_ds("primary", "primary", &knobs, "checkSlowSQL = true"),
    );
    let text = exp.metrics();
    let sqlite = Exporter::start(
        "dmdouble-dialect-sqlite",
        &sqlite_ds("primary", "primary", "checkSlowSQL = true"),
    );
    let reference = sqlite.metrics();
    let events = std::fs::read_to_string(&log).expect("double's event log");
    let builtin: Vec<&str> = events
        .lines()
        .filter(|l| l.starts_with("exec ") && l.contains("/*+DM_EXPORTER*/"))
        .collect();
    assert!(!builtin.is_empty(), "{events}");
    for l in &builtin {
        assert!(!l.contains("CURRENT_TIMESTAMP") && !l.contains("LOCALTIMESTAMP"), "{l}");
        assert!(!l.contains('{'), "unexpanded token: {l}");
    }
    let slow: Vec<&&str> =
        builtin.iter().filter(|l| l.contains("FROM V$SESSIONS WHERE STATE")).collect();
    assert_eq!(slow.len(), 1, "{events}");
    assert!(
        slow[0].contains(", SF_GET_SESSION_SQL(SESS_ID), SYSDATE FROM V$SESSIONS"),
        "{}",
        slow[0]
    );
    let job: Vec<&&str> =
        builtin.iter().filter(|l| l.contains("SYSJOB.SYSJOBHISTORIES2")).collect();
    assert_eq!(job.len(), 1, "{events}");
    assert_eq!(job[0].matches("H.START_TIME >= TIMESTAMP '").count(), 2, "{}", job[0]);
    assert_eq!(
        builtin.iter().filter(|l| l.contains("SELECT /*+DM_EXPORTER*/ SYSDATE FROM DUAL")).count(),
        1,
        "{events}"
    );
    // The same labels (full statement texts, receive times) and counts as the SQLite driver.
    let labels = |t: &str| -> Vec<String> {
        series(t, "dmdbms_slow_sql_info")
            .iter()
            .map(|l| l.rsplit_once(' ').map_or(*l, |(a, _)| a).to_owned())
            .collect()
    };
    assert_eq!(labels(&text), labels(&reference));
    assert_eq!(labels(&text).len(), 2, "{text}");
    assert!(
        labels(&text).iter().any(|l| l.contains("slow_sql=\"INSERT INTO APP.ORDER_HIST")),
        "{text}"
    );
    let job = |t: &str| value(t, "dmdbms_joblog_error_num{datasource=\"primary\"}");
    assert!(job(&text).is_some(), "{text}");
    assert_eq!(job(&text), job(&reference));
}

/// The double's DM dialect: a typed `TIMESTAMP '…'` literal, and `SF_GET_SESSION_SQL(x)` as
/// the statement text of session `x` (of the outer row, not of the first session).
#[test]
fn double_understands_typed_literals_and_sf_get_session_sql() {
    let c = Raw::connect(&double_cs("primary", "DMDOUBLE_SESSION_TZ=+08:00"), false);
    assert_eq!(
        c.one("SELECT TIMESTAMP '2026-10-24 02:00:00' FROM DUAL").unwrap(),
        "2026-10-24 02:00:00"
    );
    assert_eq!(
        c.one(
            "SELECT COUNT(*) FROM V$SESSIONS WHERE LAST_RECV_TIME >= TIMESTAMP '2026-11-24 08:09:50'"
        )
        .unwrap(),
        "4"
    );
    assert_eq!(
        c.one("SELECT SF_GET_SESSION_SQL(SESS_ID) FROM V$SESSIONS WHERE SESS_ID = 140382415226584")
            .unwrap(),
        "SELECT COUNT(*) FROM REPORT.DAILY_SALES"
    );
    assert_eq!(
        c.one("SELECT SF_GET_SESSION_SQL((140382415213320)) FROM DUAL").unwrap(),
        "SELECT * FROM V$SESSIONS"
    );
}

/// A server whose zone is not UTC (DMDOUBLE_SERVER_TZ: `SYSDATE` is UTC+8 wall time; the
/// fixture's stored view times are then +08:00 wall times): the exporter takes the server's
/// offset from `SYSDATE` and its own clock, so every Unix time is exactly 8 h earlier than
/// with a UTC server, and slow-SQL ages are 8 h longer; the session's zone (-05:00) plays no
/// part (docs/DM8_EVIDENCE.md F3).
#[test]
fn a_server_zone_other_than_utc_is_the_offset_of_stored_times() {
    let start = |tag: &str, knobs: &str| {
        Exporter::start(
            &format!("dmdouble-server-tz-{tag}"),
            &double_ds("primary", "primary", knobs, "checkSlowSQL = true"),
        )
        .metrics()
    };
    let utc = start("utc", "DMDOUBLE_SERVER_TZ=+00:00;DMDOUBLE_SESSION_TZ=-05:00");
    let east = start("east", "DMDOUBLE_SERVER_TZ=+08:00;DMDOUBLE_SESSION_TZ=-05:00");
    let values = |t: &str, m: &str| -> Vec<(String, f64)> {
        series(t, m)
            .iter()
            .filter_map(|l| {
                let (k, v) = l.rsplit_once(' ')?;
                Some((k.to_owned(), v.parse().ok()?))
            })
            .collect()
    };
    for m in [
        "dmdbms_start_time_info",
        "dmdbms_arch_last_create_time_seconds",
        "dmdbms_redo_last_switch_time_seconds",
    ] {
        let (a, b) = (values(&utc, m), values(&east, m));
        assert!(!a.is_empty(), "{m}: {utc}");
        assert!(a.iter().all(|(_, v)| *v > 1.7e9), "{m}: {a:?}");
        assert_eq!(a.len(), b.len(), "{m}");
        for ((ka, va), (kb, vb)) in a.iter().zip(&b) {
            assert_eq!(ka, kb);
            assert_eq!(va - vb, 28_800.0, "{m}: {va} vs {vb}");
        }
    }
    let (a, b) = (crate::golden::slow_sql_ages(&utc), crate::golden::slow_sql_ages(&east));
    assert_eq!(a.len(), 2, "{utc}");
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!((y - x - 28_800_000.0).abs() < 60_000.0, "slow SQL age {y} vs {x} ms");
    }
}
