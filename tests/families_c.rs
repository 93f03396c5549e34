//! Exact values of the built-in collector families of group C (monitor, statements, purge,
//! checkpoint, buffer pool, DUAL, watcher, system info and events, instance error log,
//! dictionary cache, host processes) on all three fixture instances of both engines
//! (tests/fixtures/README.md, "Monitor" … "Host collector inputs").

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use dmexp_core::dbtime::{self, DbClock};
use dmexp_core::query::run_query;

use crate::common::{
    fixture_ds, pg_cs, scratch, series, sqlite_cs, sqlite_dir, value, Engine, Exporter,
};

/// The database collectors of group C; each must succeed on every instance.
const COLLECTORS: [&str; 11] = [
    "bufferpool",
    "ckpt",
    "dict_cache",
    "dual",
    "dw_watcher",
    "instance_log",
    "monitor",
    "purge",
    "statement",
    "system_event",
    "system_info",
];

/// Every database metric of group C.
const METRICS: [&str; 13] = [
    "dmdbms_monitor_info",
    "dmdbms_statement_type_total",
    "dmdbms_purge_objects_info",
    "dmdbms_ckpttime_total",
    "dmdbms_bufferpool_info",
    "dmdbms_dual_info",
    "dmdbms_dw_watcher_info",
    "dmdbms_system_base_info",
    "dmdbms_system_cpu_info",
    "dmdbms_system_memory_info",
    "dmdbms_system_event_waits_total",
    "dmdbms_instance_log_error_info",
    "dmdbms_dict_cache_total",
];

/// The host-process metrics (collector `host_process`, `registerHostMetrics`).
const HOST_METRICS: [&str; 5] = [
    "dmdbms_dmap_process_is_exit",
    "dmdbms_dmserver_process_is_exit",
    "dmdbms_dmwatcher_process_is_exit",
    "dmdbms_dmmonitor_process_is_exit",
    "dmdbms_dmagent_process_is_exit",
];

/// One expected series: metric, variable labels, value.
type Series = (&'static str, Vec<(&'static str, &'static str)>, f64);

const MON_VERSION: &str = "DM Database Server 64 V8 1-3-162-2024.07.03-234060-20108-ENT";

/// `dmdbms_statement_type_total` per instance: (statement_name, primary, standby, odd);
/// `None`: the old `odd` build has no such V$SYSSTAT row.
const STATEMENTS: [(&str, f64, f64, Option<f64>); 32] = [
    ("select statements", 18_234_567.0, 523_411.0, Some(4242.0)),
    ("insert statements", 2_345_678.0, 0.0, Some(17.0)),
    ("delete statements", 123_456.0, 0.0, Some(3.0)),
    ("update statements", 987_654.0, 0.0, Some(9.0)),
    ("ddl statements", 1234.0, 0.0, Some(21.0)),
    ("transaction total count", 3_456_789.0, 523_500.0, Some(120.0)),
    ("select statements in pl/sql", 45_678.0, 1200.0, Some(0.0)),
    ("insert statements in pl/sql", 12_345.0, 0.0, Some(0.0)),
    ("delete statements in pl/sql", 2345.0, 0.0, Some(0.0)),
    ("update statements in pl/sql", 6789.0, 0.0, Some(0.0)),
    ("DDL in pl/sql count", 12.0, 0.0, Some(0.0)),
    ("dynamic exec in pl/sql", 3456.0, 35.0, Some(0.0)),
    ("DB time(ms)", 987_654_321.0, 45_678_901.0, Some(98_765.0)),
    ("parse time(ms)", 1_234_567.0, 23_456.0, Some(1234.0)),
    ("hard parse time(ms)", 345_678.0, 3456.0, Some(567.0)),
    ("latch wait time(ms)", 4567.0, 12.0, Some(0.0)),
    ("mutex wait time(ms)", 890.0, 3.0, Some(0.0)),
    ("io wait time(ms)", 2_345_678.0, 456_789.0, Some(4321.0)),
    ("trx lock wait time(ms)", 56_789.0, 0.0, Some(600_000.0)),
    ("redo sync wait time(ms)", 123_456.0, 0.0, Some(88.0)),
    ("redo sync wait time for commit(ms)", 98_765.0, 0.0, None),
    ("parse count", 21_000_000.0, 530_000.0, Some(4400.0)),
    ("parser errors", 321.0, 4.0, Some(77.0)),
    ("hard parse count", 54_321.0, 1234.0, Some(321.0)),
    ("plan total count", 20_000_000.0, 528_000.0, Some(4300.0)),
    ("plan cache hit count", 19_945_679.0, 526_766.0, Some(3979.0)),
    ("logic read count", 9_876_543_210.0, 123_456_789.0, Some(765_432.0)),
    ("recycle logic read count", 12_345_678.0, 0.0, None),
    ("physical read count", 3_456_789.0, 987_654.0, Some(5432.0)),
    ("physical multi read count", 234_567.0, 12_345.0, None),
    ("physical write count", 1_234_567.0, 876_543.0, Some(2109.0)),
    ("transaction deadlock count", 2.0, 0.0, None),
];

fn statements(column: usize) -> Vec<Series> {
    STATEMENTS
        .iter()
        .filter_map(|(name, p, s, o)| {
            let v = match column {
                0 => Some(*p),
                1 => Some(*s),
                _ => *o,
            };
            v.map(|v| ("dmdbms_statement_type_total", vec![("statement_name", *name)], v))
        })
        .collect()
}

fn primary() -> Vec<Series> {
    let mut s: Vec<Series> = vec![
        (
            "dmdbms_monitor_info",
            vec![
                ("dw_conn_time", "2026-11-01 08:31:10"),
                ("mon_confirm", "TRUE"),
                ("mon_id", "1"),
                ("mon_ip", "192.168.10.30"),
                ("mon_version", MON_VERSION),
            ],
            1.0,
        ),
        (
            "dmdbms_monitor_info",
            vec![
                ("dw_conn_time", "2026-11-02 14:05:00"),
                ("mon_confirm", "FALSE"),
                ("mon_id", "2"),
                ("mon_ip", "192.168.10.31"),
                ("mon_version", MON_VERSION),
            ],
            2.0,
        ),
        ("dmdbms_purge_objects_info", vec![], 17.0),
        ("dmdbms_ckpttime_total", vec![], 1_234_567.0),
        // (0.9975 + 0.9925) / 2
        ("dmdbms_bufferpool_info", vec![("buffer_name", "FAST")], 0.995),
        ("dmdbms_dual_info", vec![], 1.0),
        (
            "dmdbms_dw_watcher_info",
            vec![("dw_mode", "AUTO"), ("dw_status", "OPEN"), ("auto_restart", "1")],
            1.0,
        ),
        (
            "dmdbms_system_base_info",
            vec![
                ("n_cpu", "16.000000"),
                ("total_phy_size", "68719476736.000000"),
                ("total_vir_size", "8589934592.000000"),
                ("total_disk_size", "2199023255552.000000"),
            ],
            1.0,
        ),
        ("dmdbms_system_cpu_info", vec![], 16.0),
        ("dmdbms_system_memory_info", vec![], 68_719_476_736.0),
        ("dmdbms_system_event_waits_total", vec![("event", "trxid lock wait")], 1520.0),
        ("dmdbms_system_event_waits_total", vec![("event", "network idle wait")], 9_876_543.0),
        ("dmdbms_system_event_waits_total", vec![("event", "redo flush wait")], 45_678.0),
        ("dmdbms_system_event_waits_total", vec![("event", "io read wait")], 234_567.0),
        ("dmdbms_system_event_waits_total", vec![("event", "buffer fix wait")], 890.0),
        ("dmdbms_dict_cache_total", vec![("dict_cache_type", "lru_discard")], 1532.0),
        ("dmdbms_dict_cache_total", vec![("dict_cache_type", "ddl_discard")], 87.0),
        ("dmdbms_dict_cache_total", vec![("dict_cache_type", "disabled_dict_num")], 4.0),
    ];
    s.extend(statements(0));
    s
}

fn standby() -> Vec<Series> {
    let mut s: Vec<Series> = vec![
        (
            "dmdbms_monitor_info",
            vec![
                ("dw_conn_time", "2026-11-01 08:31:12"),
                ("mon_confirm", "TRUE"),
                ("mon_id", "1"),
                ("mon_ip", "192.168.10.30"),
                ("mon_version", MON_VERSION),
            ],
            1.0,
        ),
        ("dmdbms_purge_objects_info", vec![], 0.0),
        ("dmdbms_ckpttime_total", vec![], 45_678.0),
        ("dmdbms_bufferpool_info", vec![("buffer_name", "FAST")], 0.9412),
        ("dmdbms_dual_info", vec![], 1.0),
        // RECOVERY is "other".
        (
            "dmdbms_dw_watcher_info",
            vec![("dw_mode", "AUTO"), ("dw_status", "RECOVERY"), ("auto_restart", "1")],
            4.0,
        ),
        (
            "dmdbms_system_base_info",
            vec![
                ("n_cpu", "8.000000"),
                ("total_phy_size", "34359738368.000000"),
                ("total_vir_size", "4294967296.000000"),
                ("total_disk_size", "1099511627776.000000"),
            ],
            1.0,
        ),
        ("dmdbms_system_cpu_info", vec![], 8.0),
        ("dmdbms_system_memory_info", vec![], 34_359_738_368.0),
        ("dmdbms_system_event_waits_total", vec![("event", "trxid lock wait")], 0.0),
        ("dmdbms_system_event_waits_total", vec![("event", "network idle wait")], 123_456.0),
        ("dmdbms_system_event_waits_total", vec![("event", "io read wait")], 34_567.0),
        ("dmdbms_dict_cache_total", vec![("dict_cache_type", "lru_discard")], 210.0),
        ("dmdbms_dict_cache_total", vec![("dict_cache_type", "ddl_discard")], 3.0),
        ("dmdbms_dict_cache_total", vec![("dict_cache_type", "disabled_dict_num")], 0.0),
    ];
    s.extend(statements(1));
    s
}

/// The old build: no V$DMMONITOR, V$CKPT, V$SYSTEM_EVENT, no V$DB_CACHE counter columns,
/// no watcher, NULL virtual memory and disk size; four statistics missing.
fn odd() -> Vec<Series> {
    let mut s: Vec<Series> = vec![
        ("dmdbms_purge_objects_info", vec![], 3.0),
        // (0.8 + 0.7) / 2
        ("dmdbms_bufferpool_info", vec![("buffer_name", "FAST")], 0.75),
        ("dmdbms_dual_info", vec![], 1.0),
        (
            "dmdbms_system_base_info",
            vec![
                ("n_cpu", "4.000000"),
                ("total_phy_size", "8589934592.000000"),
                ("total_vir_size", ""),
                ("total_disk_size", ""),
            ],
            1.0,
        ),
        ("dmdbms_system_cpu_info", vec![], 4.0),
        ("dmdbms_system_memory_info", vec![], 8_589_934_592.0),
    ];
    s.extend(statements(2));
    s
}

/// `name{…}` with the datasource and `labels`, sorted by label name as the exporter prints.
fn selector(name: &str, ds: &str, labels: &[(&str, &str)]) -> String {
    let mut all: Vec<(&str, &str)> = labels.to_vec();
    all.push(("datasource", ds));
    all.sort_unstable();
    let body: Vec<String> = all.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", body.join(","))
}

/// The series of `metric` belonging to datasource `ds`.
fn of<'a>(text: &'a str, metric: &str, ds: &str) -> Vec<&'a str> {
    let tag = format!("datasource=\"{ds}\"");
    series(text, metric).into_iter().filter(|l| l.contains(&tag)).collect()
}

/// Group C collectors of `ds` with `dameng_exporter_collector_skipped{reason="not_applicable"}` 1.
fn not_applicable(text: &str, ds: &str) -> Vec<String> {
    COLLECTORS
        .iter()
        .filter(|c| {
            let s = selector(
                "dameng_exporter_collector_skipped",
                ds,
                &[("collector", c), ("reason", "not_applicable")],
            );
            value(text, &s) == Some(1.0)
        })
        .map(|c| (*c).to_owned())
        .collect()
}

fn assert_success(text: &str, ds: &str, collector: &str) {
    let s = selector("dameng_exporter_collector_success", ds, &[("collector", collector)]);
    assert_eq!(value(text, &s), Some(1.0), "{s}\n{text}");
}

/// Every series of group C's database metrics for datasource `ds` is exactly `expected`:
/// same values, no other series of these metrics (families that do not apply yield
/// nothing), and every collector succeeded. `log` is the number of
/// `dmdbms_instance_log_error_info` series (`None`: not checked).
fn check(text: &str, ds: &str, expected: &[Series], log: Option<usize>) {
    for (name, labels, want) in expected {
        let s = selector(name, ds, labels);
        assert_eq!(value(text, &s), Some(*want), "{s}\n{text}");
    }
    for metric in METRICS {
        let got = of(text, metric, ds);
        let want = match (metric, log) {
            ("dmdbms_instance_log_error_info", None) => continue,
            ("dmdbms_instance_log_error_info", Some(n)) => n,
            _ => expected.iter().filter(|(n, _, _)| *n == metric).count(),
        };
        assert_eq!(got.len(), want, "{ds}: series of {metric}: {got:?}");
    }
    for collector in COLLECTORS {
        assert_success(text, ds, collector);
    }
}

/// Database clock and LOG_TIME of the primary's fresh V$INSTANCE_LOG_HISTORY row (SEQNO 106,
/// dated at fixture build time): (age in seconds, LOG_TIME as `YYYY-MM-DD HH:MM:SS`).
fn fresh_log_row(cs: &str) -> (i64, String) {
    let env = odbc_api::environment().expect("odbc environment");
    let conn = env
        .connect_with_connection_string(cs, odbc_api::ConnectionOptions::default())
        .expect("connect to the fixture");
    let rows = run_query(
        &conn,
        "SELECT LOG_TIME, CURRENT_TIMESTAMP FROM V$INSTANCE_LOG_HISTORY WHERE SEQNO = 106",
        Some(10),
        None,
    )
    .expect("query the fixture");
    let row = rows.first().expect("row 106");
    let time = row[0].as_deref().expect("LOG_TIME");
    let clock = DbClock::from_server_now(row[1].as_deref().expect("now")).expect("clock");
    let t = clock.unix_seconds(time).expect("LOG_TIME parses") as i64;
    let w = dbtime::parse(time).expect("LOG_TIME parses").wall;
    let label = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        w.year(),
        u8::from(w.month()),
        w.day(),
        w.hour(),
        w.minute(),
        w.second()
    );
    (clock.now.unix_timestamp() - t, label)
}

/// V$PROCESS.PID of each fixture instance (tests/fixtures/README.md).
const FIXTURE_PIDS: [(&str, u32); 3] = [("primary", 2231), ("standby", 2288), ("odd", 1777)];

/// The host-process series of `ds` when the dmserver PID is `pid`, per the collector's
/// rule, for a PID that is *not* a DM process here: absent from /proc → no series; some
/// other process → only `dmdbms_dmserver_process_is_exit 0`.
fn check_foreign_pid(text: &str, ds: &str, pid: u32) {
    let here = std::fs::read(format!("/proc/{pid}/cmdline")).ok();
    let want_dmserver = match &here {
        None => None,
        Some(cmd) => {
            assert!(
                !String::from_utf8_lossy(cmd).contains("dmserver"),
                "a real dmserver runs as PID {pid} on this machine"
            );
            Some(0.0)
        }
    };
    for metric in HOST_METRICS {
        let got = of(text, metric, ds);
        if metric == "dmdbms_dmserver_process_is_exit" && want_dmserver.is_some() {
            assert_eq!(value(text, &selector(metric, ds, &[])), want_dmserver, "{ds}: {got:?}");
        } else {
            assert!(got.is_empty(), "{ds} (PID {pid}): {got:?}");
        }
    }
    assert_success(text, ds, "host_process");
}

fn run(engine: Engine, name: &str) {
    let cs = |inst: &str| match engine {
        Engine::Sqlite => sqlite_cs(inst),
        Engine::Postgres => pg_cs(inst),
    };
    let mut config = String::new();
    for inst in ["primary", "standby", "odd"] {
        config.push_str(&fixture_ds(engine, inst, inst, "registerHostMetrics = true"));
    }
    let exp = Exporter::start(name, &config);
    let (age_before, log_time) = fresh_log_row(&cs("primary"));
    let text = exp.metrics();
    let (age_after, _) = fresh_log_row(&cs("primary"));

    // The fresh ERROR row (twice in the view: one series) while it is inside the window;
    // too close to the five-minute boundary to tell: not checked.
    let log = if age_after < 295 {
        let s = selector(
            "dmdbms_instance_log_error_info",
            "primary",
            &[
                ("pid", "2231"),
                ("level", "ERROR"),
                ("log_time", &log_time),
                ("txt", "lock wait timeout, trx 7340371 rolled back"),
            ],
        );
        assert_eq!(value(&text, &s), Some(1.0), "{s}\n{text}");
        Some(1)
    } else if age_before > 305 {
        Some(0)
    } else {
        None
    };
    check(&text, "primary", &primary(), log);
    // Every other row is older than five minutes.
    check(&text, "standby", &standby(), Some(0));
    check(&text, "odd", &odd(), Some(0));
    // Probe-gated collectors whose view or columns the build lacks are skipped as not
    // applicable, not silent (the old build lacks V$DMMONITOR, V$CKPT, V$SYSTEM_EVENT and the
    // V$DB_CACHE counters).
    assert_eq!(not_applicable(&text, "primary"), Vec::<String>::new());
    assert_eq!(not_applicable(&text, "standby"), Vec::<String>::new());
    assert_eq!(not_applicable(&text, "odd"), ["ckpt", "dict_cache", "monitor", "system_event"]);
    for (ds, pid) in FIXTURE_PIDS {
        check_foreign_pid(&text, ds, pid);
    }
    // A second scrape (probes answered from the per-connection cache) gives the same.
    let again = exp.metrics();
    check(&again, "standby", &standby(), Some(0));
    check(&again, "odd", &odd(), Some(0));
    assert_eq!(not_applicable(&again, "odd"), ["ckpt", "dict_cache", "monitor", "system_event"]);
    // Logged once per collector, not per scrape (the exporter logs to stdout and stderr:
    // stdout counted).
    let output = exp.output();
    let stdout = output.split("--- stderr").next().unwrap_or_default();
    for c in ["ckpt", "dict_cache", "monitor", "system_event"] {
        let lines = stdout
            .lines()
            .filter(|l| {
                l.contains("Collector not applicable")
                    && l.contains("datasource=odd ")
                    && l.contains(&format!("collector={c} "))
            })
            .count();
        assert_eq!(lines, 1, "{c}:\n{output}");
    }
    crate::scrape::promtool_check(&text);
}

#[test]
fn group_c_families_on_sqlite() {
    run(Engine::Sqlite, "fam-c-sqlite");
}

#[test]
fn group_c_families_on_postgres() {
    run(Engine::Postgres, "fam-c-pg");
}

/// Child processes killed when dropped.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `exe 300` (a copy of `sleep`), retrying while the fresh copy is still "text file
/// busy" (another test thread may hold its write descriptor across a fork).
fn spawn(exe: &Path) -> Child {
    for _ in 0..50 {
        match Command::new(exe).arg("300").spawn() {
            Ok(c) => return c,
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(Duration::from_millis(100))
            }
            Err(e) => panic!("spawn {}: {e}", exe.display()),
        }
    }
    panic!("spawn {}: text file busy", exe.display());
}

/// A copy of the SQLite `primary` fixture with V$PROCESS.PID set to `pid` (`None`: also
/// without DUAL), as a datasource named `name`.
fn scratch_primary(dir: &Path, name: &str, pid: u32, drop_dual: bool) -> String {
    let db = dir.join(format!("{name}.db"));
    std::fs::copy(sqlite_dir().join("primary.db"), &db).expect("copy fixture");
    let mut sql = format!("UPDATE V$PROCESS SET PID = {pid};");
    if drop_dual {
        sql.push_str("DROP TABLE DUAL;");
    }
    let out = Command::new("sqlite3").arg(&db).arg(&sql).output().expect("sqlite3");
    assert!(out.status.success(), "sqlite3: {}", String::from_utf8_lossy(&out.stderr));
    format!(
        "[[datasource]]\nname = \"{name}\"\nodbcConnectionString = \"Driver=SQLite3;Database={}\"\n\
         registerHostMetrics = true\n",
        db.display()
    )
}

/// Host processes end to end, over scratch copies of the primary fixture whose V$PROCESS
/// holds: a PID no Linux process can have (above PID_MAX_LIMIT − 1 = 4194303); the test
/// process itself (alive, not a dmserver); a fake dmserver started here from `<tmp>/bin`
/// with two dmwatchers and one dmap beside it. Also DUAL dropped: `dmdbms_dual_info 0`.
#[test]
fn host_processes_and_dual_failure() {
    let dir = scratch("fam-c-host");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let sleep = ["/usr/bin/sleep", "/bin/sleep"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("sleep(1)");
    for name in ["dmserver", "dmwatcher", "dmap"] {
        std::fs::copy(&sleep, bin.join(name)).expect("copy sleep");
    }
    let mut kids = Children(Vec::new());
    kids.0.push(spawn(&bin.join("dmserver")));
    kids.0.push(spawn(&bin.join("dmwatcher")));
    kids.0.push(spawn(&bin.join("dmwatcher")));
    kids.0.push(spawn(&bin.join("dmap")));
    // Not counted: same names from another directory.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).expect("other dir");
    std::fs::copy(&sleep, other.join("dmwatcher")).expect("copy sleep");
    kids.0.push(spawn(&other.join("dmwatcher")));
    let server_pid = kids.0[0].id();

    let mut config = String::new();
    config.push_str(&scratch_primary(&dir, "nopid", 4_194_304, false));
    config.push_str(&scratch_primary(&dir, "selfpid", std::process::id(), false));
    config.push_str(&scratch_primary(&dir, "fakedm", server_pid, false));
    config.push_str(&scratch_primary(&dir, "nodual", 4_194_304, true));
    let exp = Exporter::start("fam-c-host-exp", &config);
    let text = exp.metrics();

    // Not on the database host: nothing, and the collector still succeeds.
    for ds in ["nopid", "nodual"] {
        for metric in HOST_METRICS {
            assert!(of(&text, metric, ds).is_empty(), "{ds}: {metric}\n{text}");
        }
        assert_success(&text, ds, "host_process");
    }
    // Alive but not a dmserver: dmserver 0 only (no install directory to look in).
    assert_eq!(
        value(&text, &selector("dmdbms_dmserver_process_is_exit", "selfpid", &[])),
        Some(0.0)
    );
    for metric in HOST_METRICS.iter().filter(|m| !m.contains("dmserver")) {
        assert!(of(&text, metric, "selfpid").is_empty(), "selfpid: {metric}\n{text}");
    }
    assert_success(&text, "selfpid", "host_process");
    // The fake installation: counts of processes started from <tmp>/bin.
    for (metric, want) in [
        ("dmdbms_dmap_process_is_exit", 1.0),
        ("dmdbms_dmserver_process_is_exit", 1.0),
        ("dmdbms_dmwatcher_process_is_exit", 2.0),
        ("dmdbms_dmmonitor_process_is_exit", 0.0),
        ("dmdbms_dmagent_process_is_exit", 0.0),
    ] {
        assert_eq!(value(&text, &selector(metric, "fakedm", &[])), Some(want), "{metric}\n{text}");
    }
    assert_success(&text, "fakedm", "host_process");

    // DUAL fails: the failure is the value, not a collector error.
    assert_eq!(value(&text, &selector("dmdbms_dual_info", "nodual", &[])), Some(0.0));
    assert_success(&text, "nodual", "dual");
    assert_eq!(value(&text, &selector("dmdbms_dual_info", "nopid", &[])), Some(1.0));

    // The quiet case is logged once, at INFO.
    let again = exp.metrics();
    assert!(of(&again, "dmdbms_dmserver_process_is_exit", "nopid").is_empty());
    let logs = exp.output();
    let quiet =
        logs.matches("/proc/4194304 (the dmserver PID from V$PROCESS) does not exist").count();
    assert_eq!(quiet, 2, "one line per datasource (nopid, nodual):\n{logs}");
    crate::scrape::promtool_check(&text);
}
