//! Exact values of the built-in collector families of group A (mode-switch latch,
//! tablespaces, data files, memory zones, job errors, slow SQL, parameters, users, licence,
//! version) on all three fixture instances of both engines (tests/fixtures/README.md).
//! Values that depend on "now" are computed here from the system clock with the rule the
//! collectors use on the database clock (the fixtures' clock is UTC).

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::common::{fixture_ds, scratch, series, sqlite_dir, value, Engine, Exporter};
use crate::scrape::promtool_check;

/// The collectors of group A; each must succeed on every instance.
const COLLECTORS: [&str; 10] = [
    "datafile",
    "instance",
    "job",
    "license",
    "memory_pool",
    "parameter",
    "slow_sql",
    "tablespace",
    "user",
    "version",
];

/// Every metric of group A, with the collector that owns it.
const METRICS: [&str; 13] = [
    "dmdbms_switching_occurs",
    "dmdbms_tablespace_size_total_info",
    "dmdbms_tablespace_size_free_info",
    "dmdbms_tablespace_file_total_info",
    "dmdbms_tablespace_file_free_info",
    "dmdbms_memory_total_pool_info",
    "dmdbms_memory_curr_pool_info",
    "dmdbms_joblog_error_num",
    "dmdbms_slow_sql_info",
    "dmdbms_parameter_info",
    "dmdbms_user_list_info",
    "dmdbms_license_date",
    "dmdbms_version",
];

/// Seconds since the epoch, now.
fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds of a UTC civil time.
fn unix(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64) -> i64 {
    days(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s
}

/// Exposition escaping of a label value.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The series key `name{…}` with `datasource` and `labels`, sorted as the exporter prints.
fn key(name: &str, ds: &str, labels: &[(&str, String)]) -> String {
    let mut all: Vec<(&str, String)> = labels.to_vec();
    all.push(("datasource", ds.to_owned()));
    all.sort_by(|a, b| a.0.cmp(b.0));
    let inner: Vec<String> = all.iter().map(|(k, v)| format!("{k}=\"{}\"", esc(v))).collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// The series lines of `name` that belong to datasource `ds`.
fn of<'a>(text: &'a str, name: &str, ds: &str) -> Vec<&'a str> {
    let needle = format!("datasource=\"{ds}\"");
    series(text, name).into_iter().filter(|l| l.contains(&needle)).collect()
}

/// One expected series: variable labels and value.
type Expected = (Vec<(&'static str, String)>, f64);

fn l(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

/// Asserts that `name` has exactly the `expected` series on `ds`.
fn family(text: &str, name: &str, ds: &str, expected: &[Expected]) {
    let got = of(text, name, ds);
    assert_eq!(got.len(), expected.len(), "{ds} {name}: {got:#?}");
    for (labels, v) in expected {
        let k = key(name, ds, labels);
        assert_eq!(value(text, &k), Some(*v), "{k}\n{got:#?}");
    }
}

fn check_tablespaces(text: &str, ds: &str, rows: &[(&'static str, f64, f64)]) {
    let mut total = Vec::new();
    let mut free = Vec::new();
    for (name, t, f) in rows {
        total.push((l(&[("tablespace_name", name)]), *t));
        free.push((l(&[("tablespace_name", name)]), *f));
    }
    family(text, "dmdbms_tablespace_size_total_info", ds, &total);
    family(text, "dmdbms_tablespace_size_free_info", ds, &free);
}

/// (path, auto_extend, next_size, max_size, total bytes, free bytes)
type File = (&'static str, &'static str, &'static str, &'static str, f64, f64);

fn check_datafiles(text: &str, ds: &str, files: &[File]) {
    let mut total = Vec::new();
    let mut free = Vec::new();
    for (path, auto, next, max, t, f) in files {
        let labels = l(&[
            ("tablespace_name", path),
            ("auto_extend", auto),
            ("next_size", next),
            ("max_size", max),
        ]);
        total.push((labels.clone(), *t));
        free.push((labels, *f));
    }
    family(text, "dmdbms_tablespace_file_total_info", ds, &total);
    family(text, "dmdbms_tablespace_file_free_info", ds, &free);
}

/// (pool_type, current, total); `None` = no series.
fn check_pools(text: &str, ds: &str, pools: &[(&str, Option<f64>, Option<f64>)]) {
    let mut curr = Vec::new();
    let mut total = Vec::new();
    for (pool, c, t) in pools {
        if let Some(c) = c {
            curr.push((l(&[("pool_type", pool)]), *c));
        }
        if let Some(t) = t {
            total.push((l(&[("pool_type", pool)]), *t));
        }
    }
    family(text, "dmdbms_memory_curr_pool_info", ds, &curr);
    family(text, "dmdbms_memory_total_pool_info", ds, &total);
}

fn check_parameters(text: &str, ds: &str, params: &[(&str, f64)]) {
    let e: Vec<Expected> = params.iter().map(|(p, v)| (l(&[("param_name", p)]), *v)).collect();
    family(text, "dmdbms_parameter_info", ds, &e);
}

/// A user row: username, read_only, account_status, expiry (y, m, d, time text), default
/// tablespace, profile, create_time, value.
struct User {
    name: &'static str,
    read_only: &'static str,
    status: &'static str,
    expiry: Option<(i64, i64, i64, &'static str)>,
    tablespace: &'static str,
    profile: &'static str,
    created: &'static str,
    value: f64,
}

fn check_users(text: &str, ds: &str, users: &[User], today: i64) {
    let e: Vec<Expected> = users
        .iter()
        .map(|u| {
            let (date, left) = match u.expiry {
                Some((y, m, d, t)) => {
                    (format!("{y:04}-{m:02}-{d:02} {t}"), (days(y, m, d) - today).to_string())
                }
                None => (String::new(), String::new()),
            };
            (
                vec![
                    ("username", u.name.to_owned()),
                    ("read_only", u.read_only.to_owned()),
                    ("expiry_date", date),
                    ("expiry_date_day", left),
                    ("default_tablespace", u.tablespace.to_owned()),
                    ("profile", u.profile.to_owned()),
                    ("create_time", u.created.to_owned()),
                    ("account_status", u.status.to_owned()),
                ],
                u.value,
            )
        })
        .collect();
    family(text, "dmdbms_user_list_info", ds, &e);
}

/// A slow statement: labels and the receive time (UTC) its value counts from.
struct Slow {
    sess: &'static str,
    sch: &'static str,
    thrd: &'static str,
    recv: (i64, i64, i64, i64, i64, i64),
    ip: &'static str,
    sql: &'static str,
}

const INSERT: Slow = Slow {
    sess: "140382415120472",
    sch: "APP",
    thrd: "4021",
    recv: (2026, 11, 24, 7, 58, 0),
    ip: "192.168.10.21",
    sql: "INSERT INTO APP.ORDER_HIST SELECT * FROM APP.ORDERS WHERE CREATED < DATE '2026-01-01'",
};

const SELECT: Slow = Slow {
    sess: "140382415133720",
    sch: "REPORT",
    thrd: "4077",
    recv: (2026, 11, 24, 8, 5, 30),
    // Upstream's SUBSTR(CLNT_IP, 8, 13) cut this to 192.168.100.1.
    ip: "192.168.100.100",
    sql: "SELECT REGION, SUM(AMOUNT) FROM REPORT.\"销售明细\" WHERE NOTE LIKE '%\"urgent\"%' GROUP BY REGION",
};

const ODD_SLOW: Slow = Slow {
    sess: "139912000001000",
    sch: "",
    thrd: "1801",
    recv: (2026, 11, 24, 6, 0, 0),
    ip: "",
    sql: "SELECT 'C:\\dm\\bak\\' AS \"P\",\n       1 FROM DUAL",
};

/// Asserts exactly `slow` on `ds`, in this order of size, with elapsed milliseconds between
/// the clock before and after the scrape (one second of slack for SQLite's whole seconds).
fn check_slow(
    text: &str,
    ds: &str,
    extra: &[(&'static str, &str)],
    slow: &[&Slow],
    before: i64,
    after: i64,
) {
    let got = of(text, "dmdbms_slow_sql_info", ds);
    assert_eq!(got.len(), slow.len(), "{ds} slow SQL: {got:#?}");
    let mut last = f64::INFINITY;
    for s in slow {
        let (y, mo, d, h, mi, sec) = s.recv;
        let recv = unix(y, mo, d, h, mi, sec);
        let mut labels = l(extra);
        labels.extend([
            ("sess_id", s.sess.to_owned()),
            ("curr_sch", s.sch.to_owned()),
            ("thrd_id", s.thrd.to_owned()),
            ("last_recv_time", format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{sec:02}")),
            ("conn_ip", s.ip.to_owned()),
            ("slow_sql", s.sql.to_owned()),
        ]);
        let k = key("dmdbms_slow_sql_info", ds, &labels);
        let v = value(text, &k).unwrap_or_else(|| panic!("missing {k}\n{got:#?}"));
        let lo = ((before - recv) * 1000 - 1000) as f64;
        let hi = ((after - recv) * 1000 + 1000) as f64;
        assert!(v >= lo && v <= hi, "{k} = {v}, expected {lo}..={hi}");
        assert!(v <= last, "slow SQL not ordered longest first");
        last = v;
    }
}

/// Failed job runs of `primary` (SYSJOB histories, UTC): counted when within 31 days.
fn primary_job_errors(now: i64) -> f64 {
    let bound = now - 31 * 86_400;
    let failures = [
        unix(2026, 11, 23, 1, 0, 0), // history 9111, JOB_BACKUP_FULL
        unix(2026, 11, 23, 2, 0, 0), // history 9112, JOB_STATS_GATHER
        unix(2026, 11, 23, 1, 0, 0), // step history 9111
        unix(2026, 8, 1, 1, 0, 0),   // history 9001, old
    ];
    failures.iter().filter(|t| **t >= bound).count() as f64
}

fn config(engine: Engine, slow_threshold_ms: i64) -> String {
    let on = "checkSlowSQL = true";
    [
        fixture_ds(engine, "primary", "primary", &format!("{on}\nlabels = \"env=test\"")),
        fixture_ds(engine, "standby", "standby", on),
        fixture_ds(engine, "odd", "odd", on),
        fixture_ds(engine, "primary_cap", "primary", &format!("{on}\nslowSqlMaxRows = 1")),
        fixture_ds(
            engine,
            "primary_slow",
            "primary",
            &format!("{on}\nslowSqlTime = {slow_threshold_ms}"),
        ),
        fixture_ds(engine, "primary_off", "primary", ""),
    ]
    .concat()
}

fn run(engine: Engine, name: &str) {
    // Between the INSERT's (07:58:00) and the SELECT's (08:05:30) elapsed time.
    let select_recv = unix(2026, 11, 24, 8, 5, 30);
    let threshold = ((now_secs() - select_recv) * 1000 + 225_000).max(1);
    let exp = Exporter::start(name, &config(engine, threshold));
    let before = now_secs();
    let text = exp.metrics();
    let after = now_secs();
    let today = before.div_euclid(86_400);
    assert_eq!(after.div_euclid(86_400), today, "the day changed during the scrape; run again");
    promtool_check(&text);

    for ds in ["primary", "standby", "odd", "primary_cap", "primary_slow", "primary_off"] {
        for c in COLLECTORS {
            let s =
                format!("dameng_exporter_collector_success{{collector=\"{c}\",datasource=\"{ds}\"");
            let line = text.lines().find(|x| x.starts_with(&s));
            assert!(
                line.is_some_and(|x| x.ends_with(" 1")),
                "{ds} collector {c} did not succeed: {line:?}\n{}",
                exp.all_logs()
            );
        }
        // First scrape, mode unchanged.
        let sw = of(&text, "dmdbms_switching_occurs", ds);
        assert_eq!(sw.len(), 1, "{ds}: {sw:?}");
        assert!(sw[0].ends_with(" 1"), "{ds}: {sw:?}");
    }
    // Every metric of the group is present (with HELP and TYPE), each datasource its own.
    for m in METRICS {
        assert!(text.contains(&format!("# TYPE {m} gauge\n")), "no TYPE for {m}");
        assert!(text.contains(&format!("# HELP {m} ")), "no HELP for {m}");
    }

    // The user labels go on every series of primary.
    let primary_series: Vec<&str> = METRICS
        .iter()
        .flat_map(|m| of(&text, m, "primary"))
        .filter(|x| !x.contains("env=\"test\""))
        .collect();
    assert!(primary_series.is_empty(), "series without user labels: {primary_series:?}");
    let p = |name: &str, labels: &[(&str, String)]| {
        let mut labels = labels.to_vec();
        labels.push(("env", "test".to_owned()));
        key(name, "primary", &labels)
    };
    let primary = |name: &'static str, expected: &[Expected]| {
        let got = of(&text, name, "primary");
        assert_eq!(got.len(), expected.len(), "primary {name}: {got:#?}");
        for (labels, v) in expected {
            let k = p(name, labels);
            assert_eq!(value(&text, &k), Some(*v), "{k}\n{got:#?}");
        }
    };

    // Tablespaces (MB). APP_FULL has no free extent: free 0 (upstream dropped it).
    let primary_ts = [
        ("APP_DATA", 4096.0, 356.0),
        ("APP_FULL", 512.0, 0.0),
        ("MAIN", 1024.0, 500.0),
        ("ROLL", 256.0, 208.0),
        ("SYSTEM", 128.0, 32.0),
        ("TEMP", 64.0, 62.0),
    ];
    let mut t = Vec::new();
    let mut f = Vec::new();
    for (name, total, free) in primary_ts {
        t.push((l(&[("tablespace_name", name)]), total));
        f.push((l(&[("tablespace_name", name)]), free));
    }
    primary("dmdbms_tablespace_size_total_info", &t);
    primary("dmdbms_tablespace_size_free_info", &f);
    let four = [
        ("MAIN", 1024.0, 512.0),
        ("ROLL", 256.0, 240.0),
        ("SYSTEM", 128.0, 40.0),
        ("TEMP", 64.0, 63.0),
    ];
    check_tablespaces(&text, "standby", &four);
    // 32 KiB pages; TEMP entirely free.
    let odd_ts = [
        ("MAIN", 256.0, 128.0),
        ("ROLL", 128.0, 96.0),
        ("SYSTEM", 64.0, 16.0),
        ("TEMP", 32.0, 32.0),
    ];
    check_tablespaces(&text, "odd", &odd_ts);
    check_tablespaces(&text, "primary_off", &primary_ts);

    // Data files (bytes = pages × GLOBAL_PAGE_SIZE).
    const D: &str = "/dmdata/DAMENG/";
    let big = "16777215";
    let primary_files: [File; 7] = [
        ("/dmdata/DAMENG/SYSTEM.DBF", "1", "16", big, 134_217_728.0, 33_554_432.0),
        ("/dmdata/DAMENG/ROLL.DBF", "1", "128", big, 268_435_456.0, 218_103_808.0),
        ("/dmdata/DAMENG/TEMP.DBF", "1", "16", big, 67_108_864.0, 65_011_712.0),
        ("/dmdata/DAMENG/MAIN.DBF", "1", "128", big, 1_073_741_824.0, 524_288_000.0),
        ("/dmdata/DAMENG/APP_DATA01.DBF", "1", "256", "32768", 2_147_483_648.0, 268_435_456.0),
        ("/dmdata/DAMENG/APP_DATA02.DBF", "1", "256", "32768", 2_147_483_648.0, 104_857_600.0),
        ("/dmdata/DAMENG/APP_FULL01.DBF", "0", "0", "512", 536_870_912.0, 0.0),
    ];
    assert!(primary_files.iter().all(|f| f.0.starts_with(D)));
    check_datafiles(&text, "primary_off", &primary_files);
    let mut t = Vec::new();
    let mut f = Vec::new();
    for (path, auto, next, max, total, free) in primary_files {
        let labels = l(&[
            ("tablespace_name", path),
            ("auto_extend", auto),
            ("next_size", next),
            ("max_size", max),
        ]);
        t.push((labels.clone(), total));
        f.push((labels, free));
    }
    primary("dmdbms_tablespace_file_total_info", &t);
    primary("dmdbms_tablespace_file_free_info", &f);
    check_datafiles(
        &text,
        "standby",
        &[
            ("/dmdata/DAMENG/SYSTEM.DBF", "1", "16", big, 134_217_728.0, 41_943_040.0),
            ("/dmdata/DAMENG/ROLL.DBF", "1", "128", big, 268_435_456.0, 251_658_240.0),
            ("/dmdata/DAMENG/TEMP.DBF", "1", "16", big, 67_108_864.0, 66_060_288.0),
            ("/dmdata/DAMENG/MAIN.DBF", "1", "128", big, 1_073_741_824.0, 536_870_912.0),
        ],
    );
    check_datafiles(
        &text,
        "odd",
        &[
            ("/opt/dm/data/DAMENG/SYSTEM.DBF", "1", "8", big, 67_108_864.0, 16_777_216.0),
            ("/opt/dm/data/DAMENG/ROLL.DBF", "1", "8", big, 134_217_728.0, 100_663_296.0),
            ("/opt/dm/data/DAMENG/TEMP.DBF", "1", "8", big, 33_554_432.0, 33_554_432.0),
            // NULL NEXT_SIZE / MAX_SIZE: empty labels.
            ("/opt/dm/data/DAMENG/MAIN.DBF", "0", "", "", 268_435_456.0, 134_217_728.0),
        ],
    );

    // Memory zones (V$SYSSTAT by ID).
    let primary_pools = [
        ("HJ ZONE", Some(12_582_912.0), Some(524_288_000.0)),
        ("HAGR ZONE", Some(4_194_304.0), Some(524_288_000.0)),
        ("SORT ZONE", Some(8_388_608.0), Some(1_048_576_000.0)),
    ];
    check_pools(&text, "primary_off", &primary_pools);
    check_pools(
        &text,
        "standby",
        &[
            ("HJ ZONE", Some(0.0), Some(524_288_000.0)),
            ("HAGR ZONE", Some(0.0), Some(524_288_000.0)),
            ("SORT ZONE", Some(1_048_576.0), Some(1_048_576_000.0)),
        ],
    );
    // ID 115 absent: HJ current is ID 114 alone; ID 178 absent: no SORT current (upstream 0).
    check_pools(
        &text,
        "odd",
        &[
            ("HJ ZONE", Some(3_145_728.0), Some(104_857_600.0)),
            ("HAGR ZONE", Some(0.0), Some(104_857_600.0)),
            ("SORT ZONE", None, Some(209_715_200.0)),
        ],
    );

    // Job errors: 31 days back from now; odd has no SYSJOB schema: no series.
    let jobs = primary_job_errors(before);
    assert_eq!(jobs, primary_job_errors(after), "a failure left the window during the scrape");
    primary("dmdbms_joblog_error_num", &[(vec![], jobs)]);
    family(&text, "dmdbms_joblog_error_num", "primary_off", &[(vec![], jobs)]);
    family(&text, "dmdbms_joblog_error_num", "standby", &[(vec![], 0.0)]);
    family(&text, "dmdbms_joblog_error_num", "odd", &[]);

    // Slow SQL: on where checkSlowSQL is on, with that datasource's own settings.
    // primary: defaults (10 s, 10 rows); _cap: 1 row; _slow: a threshold between the two
    // statements' ages; _off: checkSlowSQL off.
    check_slow(&text, "primary", &[("env", "test")], &[&INSERT, &SELECT], before, after);
    check_slow(&text, "primary_cap", &[], &[&INSERT], before, after);
    check_slow(&text, "primary_slow", &[], &[&INSERT], before, after);
    check_slow(&text, "standby", &[], &[], before, after);
    check_slow(&text, "odd", &[], &[&ODD_SLOW], before, after);
    check_slow(&text, "primary_off", &[], &[], before, after);

    // Parameters.
    let pp = [
        ("MAX_SESSIONS", 1000.0),
        ("PORT_NUM", 5236.0),
        ("REDOS_BUF_NUM", 256.0),
        ("REDOS_BUF_SIZE", 32.0),
    ];
    check_parameters(&text, "primary_off", &pp);
    let e: Vec<Expected> = pp.iter().map(|(n, v)| (l(&[("param_name", n)]), *v)).collect();
    primary("dmdbms_parameter_info", &e);
    check_parameters(
        &text,
        "standby",
        &[
            ("MAX_SESSIONS", 1500.0),
            ("PORT_NUM", 5237.0),
            ("REDOS_BUF_NUM", 512.0),
            ("REDOS_BUF_SIZE", 64.0),
        ],
    );
    // No REDOS_BUF_SIZE row on odd.
    check_parameters(
        &text,
        "odd",
        &[("MAX_SESSIONS", 50.0), ("PORT_NUM", 15236.0), ("REDOS_BUF_NUM", 1024.0)],
    );

    // Users (SYS, SYSSSO, SYSAUDITOR excluded; odd's GHOST has no SYSUSERS row).
    let report_ro = User {
        name: "REPORT_RO",
        read_only: "Y",
        status: "OPEN",
        expiry: Some((2026, 12, 31, "23:59:59")),
        tablespace: "MAIN",
        profile: "DEFAULT",
        created: "2026-04-02 15:30:00",
        value: 0.0,
    };
    let sysdba = |created: &'static str, profile: &'static str| User {
        name: "SYSDBA",
        read_only: "N",
        status: "OPEN",
        expiry: None,
        tablespace: "MAIN",
        profile,
        created,
        value: 0.0,
    };
    let primary_users = [
        User {
            name: "APP",
            read_only: "N",
            status: "OPEN",
            expiry: Some((2027, 5, 20, "10:00:00")),
            tablespace: "APP_DATA",
            profile: "DEFAULT",
            created: "2026-03-16 09:00:00",
            value: 0.0,
        },
        User {
            name: "OLD_ETL",
            read_only: "N",
            status: "LOCKED",
            expiry: Some((2026, 10, 1, "00:00:00")),
            tablespace: "APP_DATA",
            profile: "DEFAULT",
            created: "2026-03-20 11:11:11",
            value: 1.0,
        },
        User { ..report_ro },
        sysdba("2026-03-15 10:02:11", "DEFAULT"),
    ];
    check_users(&text, "primary_off", &primary_users, today);
    check_users(
        &text,
        "standby",
        &[User { ..report_ro }, sysdba("2026-03-15 10:02:11", "DEFAULT")],
        today,
    );
    check_users(
        &text,
        "odd",
        &[
            User {
                name: "DEV",
                read_only: "",
                status: "EXPIRED",
                expiry: Some((2026, 6, 30, "00:00:00")),
                tablespace: "",
                profile: "",
                created: "2023-01-09 08:00:00",
                value: 0.0,
            },
            sysdba("2022-06-01 09:00:00", ""),
        ],
        today,
    );
    assert_eq!(of(&text, "dmdbms_user_list_info", "primary").len(), 4);

    // Licence: stable label (the expiry date), value = days left; none = -1 / 无限制.
    let lic = |y, m, d| (days(y, m, d) - today) as f64;
    primary("dmdbms_license_date", &[(l(&[("date_day_str", "2030-06-30")]), lic(2030, 6, 30))]);
    family(&text, "dmdbms_license_date", "standby", &[(l(&[("date_day_str", "无限制")]), -1.0)]);
    family(
        &text,
        "dmdbms_license_date",
        "odd",
        &[(l(&[("date_day_str", "2026-03-31")]), lic(2026, 3, 31))],
    );

    // Version.
    // primary: the ID_CODE shape of BUILD_VERSION real DM 8.1.5.60 returns (F1); standby: the
    // older dotted shape.
    let real = l(&[
        ("db_version_str", "64 V8-03134284604-20260707-335949-20228"),
        ("build_type", "企业版"),
        ("inner_ver", "8.1.5.60"),
    ]);
    primary("dmdbms_version", &[(real, 1.0)]);
    let older = l(&[
        ("db_version_str", "64 V8-1-3-162-2024.07.03-234060-20108-ENT"),
        ("build_type", "企业版"),
        ("inner_ver", "8.1.3.162"),
    ]);
    family(&text, "dmdbms_version", "standby", &[(older, 1.0)]);
    // Old build without V$INSTANCE.BUILD_VERSION: banner + ID_CODE line of V$VERSION.
    family(
        &text,
        "dmdbms_version",
        "odd",
        &[(
            l(&[
                ("db_version_str", "x64 V8 02134283860-20220525-163502-20017"),
                ("build_type", "标准版"),
                ("inner_ver", "8.1.2.84"),
            ]),
            1.0,
        )],
    );

    // A second scrape: same values (cached families served from the cache), and the
    // missing SYSJOB schema on odd is logged once, not on every scrape.
    let again = exp.metrics();
    for m in ["dmdbms_tablespace_size_free_info", "dmdbms_version", "dmdbms_switching_occurs"] {
        for ds in ["primary", "standby", "odd"] {
            let a: Vec<&str> = of(&text, m, ds);
            let b: Vec<&str> = of(&again, m, ds);
            assert_eq!(a, b, "{m} {ds} changed between scrapes");
        }
    }
    // (One sink: stdout; the same line also goes to stderr and the log file.)
    let logs = std::fs::read_to_string(exp.dir.join("stdout.log")).expect("stdout.log");
    let missing: Vec<&str> = logs
        .lines()
        .filter(|x| {
            x.contains("not applicable")
                && x.contains("collector=job")
                && x.contains("datasource=odd")
        })
        .collect();
    assert_eq!(missing.len(), 1, "{missing:#?}\n{logs}");
}

#[test]
fn sqlite_group_a_exact_values() {
    run(Engine::Sqlite, "fam-a-sqlite");
}

#[test]
fn postgres_group_a_exact_values() {
    run(Engine::Postgres, "fam-a-pg");
}

/// The mode-switch latch end to end: a MODE$ change shows 0 and stays 0 for
/// alarmKeyCacheTime even when the mode goes back.
#[test]
fn switching_occurs_latches_a_mode_change() {
    let dir = scratch("fam-a-switch-db");
    let db = dir.join("primary.db");
    std::fs::copy(sqlite_dir().join("primary.db"), &db).expect("copy fixture");
    let set_mode = |mode: &str| {
        let out = Command::new("sqlite3")
            .arg("-cmd")
            .arg(".timeout 5000")
            .arg(&db)
            .arg(format!("UPDATE V$INSTANCE SET MODE$ = '{mode}'"))
            .output()
            .expect("sqlite3");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let body = format!(
        "[[datasource]]\nname = \"sw\"\nodbcConnectionString = \"Driver=SQLite3;Database={}\"\nalarmKeyCacheTime = 5\n",
        db.display()
    );
    let exp = Exporter::start("fam-a-switch", &body);
    let get = |name: &str| value(&exp.metrics(), &format!("{name}{{datasource=\"sw\"}}"));
    assert_eq!(get("dmdbms_switching_occurs"), Some(1.0));
    assert_eq!(get("dmdbms_switching_occurs"), Some(1.0));
    set_mode("STANDBY");
    let text = exp.metrics();
    assert_eq!(value(&text, "dmdbms_mode_info{datasource=\"sw\"}"), Some(3.0));
    assert_eq!(value(&text, "dmdbms_switching_occurs{datasource=\"sw\"}"), Some(0.0));
    set_mode("PRIMARY");
    let text = exp.metrics();
    assert_eq!(value(&text, "dmdbms_mode_info{datasource=\"sw\"}"), Some(1.0));
    assert_eq!(value(&text, "dmdbms_switching_occurs{datasource=\"sw\"}"), Some(0.0), "latched");
}
