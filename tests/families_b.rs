//! Exact values of the built-in collector families of group B (archive, redo, apply, LSN) on
//! all three fixture instances of both engines (tests/fixtures/README.md, "Archiving",
//! "Redo and checkpoints", "Data guard apply").

use crate::common::{fixture_ds, series, value, Engine, Exporter};

/// The collectors of group B; each must succeed on every instance.
const COLLECTORS: [&str; 9] = [
    "arch_queue",
    "arch_send",
    "arch_status",
    "arch_switch",
    "log_history",
    "rapply_sys",
    "rapply_time_diff",
    "rlog_file",
    "rlog_lsn",
];

/// Every metric of group B.
const METRICS: [&str; 12] = [
    "dmdbms_arch_status",
    "dmdbms_arch_status_info",
    "dmdbms_arch_last_create_time_seconds",
    "dmdbms_arch_send_detail_info",
    "dmdbms_arch_send_diff_value",
    "dmdbms_arch_queue_waiting_info",
    "dmdbms_redo_last_switch_time_seconds",
    "dmdbms_rlog_file_size_bytes",
    "dmdbms_rapply_sys_task_mem_used",
    "dmdbms_rapply_sys_task_num",
    "dmdbms_rapply_time_diff",
    "dmdbms_rlog_lsn_total",
];

/// One expected series: metric, variable labels, value.
type Series = (&'static str, &'static [(&'static str, &'static str)], f64);

const PRIMARY: &[Series] = &[
    ("dmdbms_arch_status", &[], 1.0),
    (
        "dmdbms_arch_status_info",
        &[("arch_type", "LOCAL"), ("arch_dest", "/dmarch"), ("arch_src", "GRP1_RT_01")],
        1.0,
    ),
    (
        "dmdbms_arch_status_info",
        &[("arch_type", "REALTIME"), ("arch_dest", "GRP1_RT_02"), ("arch_src", "GRP1_RT_01")],
        1.0,
    ),
    (
        "dmdbms_arch_status_info",
        &[("arch_type", "ASYNC"), ("arch_dest", "GRP1_ASYNC_03"), ("arch_src", "GRP1_RT_01")],
        0.0,
    ),
    // 2026-11-24 07:45:12 UTC, the newest ACTIVE file.
    ("dmdbms_arch_last_create_time_seconds", &[], 1_795_506_312.0),
    // 52105011 − min(52104500, 52104200): two apply rows for one destination.
    (
        "dmdbms_arch_send_detail_info",
        &[("arch_type", "REALTIME"), ("arch_dest", "GRP1_RT_02")],
        811.0,
    ),
    (
        "dmdbms_arch_send_diff_value",
        &[("arch_type", "REALTIME"), ("arch_dest", "GRP1_RT_02")],
        811.0,
    ),
    // No apply row: 52105011 − LAST_SEND_LSN 52010000.
    (
        "dmdbms_arch_send_detail_info",
        &[("arch_type", "ASYNC"), ("arch_dest", "GRP1_ASYNC_03")],
        95_011.0,
    ),
    (
        "dmdbms_arch_send_diff_value",
        &[("arch_type", "ASYNC"), ("arch_dest", "GRP1_ASYNC_03")],
        95_011.0,
    ),
    // Two ASYNC queues (3 + 2); REALTIME 0 plus a NULL row.
    ("dmdbms_arch_queue_waiting_info", &[("arch_type", "ASYNC")], 5.0),
    ("dmdbms_arch_queue_waiting_info", &[("arch_type", "REALTIME")], 0.0),
    // 2026-11-24 07:45:10 UTC.
    ("dmdbms_redo_last_switch_time_seconds", &[], 1_795_506_310.0),
    (
        "dmdbms_rlog_file_size_bytes",
        &[
            ("file_id", "0"),
            ("path", "/dmdata/DAMENG/DAMENG01.log"),
            ("create_time", "2026-03-15 10:02:11"),
        ],
        268_435_456.0,
    ),
    (
        "dmdbms_rlog_file_size_bytes",
        &[
            ("file_id", "1"),
            ("path", "/dmdata/DAMENG/DAMENG02.log"),
            ("create_time", "2026-03-15 10:02:11"),
        ],
        268_435_456.0,
    ),
    ("dmdbms_rlog_lsn_total", &[("lsn_type", "CKPT_LSN")], 52_093_812.0),
    ("dmdbms_rlog_lsn_total", &[("lsn_type", "FILE_LSN")], 52_104_877.0),
    ("dmdbms_rlog_lsn_total", &[("lsn_type", "FLUSH_LSN")], 52_104_877.0),
    ("dmdbms_rlog_lsn_total", &[("lsn_type", "CUR_LSN")], 52_105_011.0),
];

const STANDBY: &[Series] = &[
    // LOCAL INVALID: no dmdbms_arch_status_info, no send info.
    ("dmdbms_arch_status", &[], 2.0),
    ("dmdbms_arch_last_create_time_seconds", &[], 0.0),
    // 2026-11-24 07:46:00 UTC.
    ("dmdbms_redo_last_switch_time_seconds", &[], 1_795_506_360.0),
    (
        "dmdbms_rlog_file_size_bytes",
        &[
            ("file_id", "0"),
            ("path", "/dmdata/DAMENG/DAMENG01.log"),
            ("create_time", "2026-03-15 11:20:45"),
        ],
        268_435_456.0,
    ),
    (
        "dmdbms_rlog_file_size_bytes",
        &[
            ("file_id", "1"),
            ("path", "/dmdata/DAMENG/DAMENG02.log"),
            ("create_time", "2026-03-15 11:20:45"),
        ],
        268_435_456.0,
    ),
    // Three V$RAPPLY_SYS rows summed: 67108864 + 33554432 (+ NULL), 12 + 4 (+ NULL).
    ("dmdbms_rapply_sys_task_mem_used", &[], 100_663_296.0),
    ("dmdbms_rapply_sys_task_num", &[], 16.0),
    // Largest of 42, 12, 0 (a NULL row skipped).
    ("dmdbms_rapply_time_diff", &[], 42.0),
    ("dmdbms_rlog_lsn_total", &[("lsn_type", "CKPT_LSN")], 52_090_001.0),
    ("dmdbms_rlog_lsn_total", &[("lsn_type", "FILE_LSN")], 52_104_500.0),
    ("dmdbms_rlog_lsn_total", &[("lsn_type", "FLUSH_LSN")], 52_104_500.0),
    ("dmdbms_rlog_lsn_total", &[("lsn_type", "CUR_LSN")], 52_104_500.0),
];

const ODD: &[Series] = &[
    // ARCH_INI 0.
    ("dmdbms_arch_status", &[], -1.0),
    ("dmdbms_arch_last_create_time_seconds", &[], 0.0),
    // One V$LOG_HISTORY row with a NULL RECTIME.
    ("dmdbms_redo_last_switch_time_seconds", &[], 0.0),
    (
        "dmdbms_rlog_file_size_bytes",
        &[
            ("file_id", "0"),
            ("path", "/opt/dm/data/DAMENG/DAMENG01.log"),
            ("create_time", "2022-06-01 09:00:00"),
        ],
        134_217_728.0,
    ),
    (
        "dmdbms_rlog_file_size_bytes",
        &[
            ("file_id", "1"),
            ("path", "/opt/dm/data/DAMENG/DAMENG02.log"),
            ("create_time", "2022-06-01 09:00:00"),
        ],
        134_217_728.0,
    ),
    // FLUSH_LSN is NULL: no series. V$RAPPLY_STAT has one row of NULLs: no series.
    ("dmdbms_rlog_lsn_total", &[("lsn_type", "CKPT_LSN")], 10_234.0),
    ("dmdbms_rlog_lsn_total", &[("lsn_type", "FILE_LSN")], 10_240.0),
    ("dmdbms_rlog_lsn_total", &[("lsn_type", "CUR_LSN")], 10_240.0),
];

/// `name{…}` with the datasource and `labels`, sorted by label name as the exporter prints.
fn selector(name: &str, ds: &str, labels: &[(&str, &str)]) -> String {
    let mut all: Vec<(&str, &str)> = labels.to_vec();
    all.push(("datasource", ds));
    all.sort_unstable();
    let body: Vec<String> = all.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", body.join(","))
}

/// Every series of group B for datasource `ds` is exactly `expected`: same values, and no
/// other series of these metrics (families that do not apply yield nothing).
fn check(text: &str, ds: &str, expected: &[Series]) {
    for (name, labels, want) in expected {
        let s = selector(name, ds, labels);
        assert_eq!(value(text, &s), Some(*want), "{s}\n{text}");
    }
    let tag = format!("datasource=\"{ds}\"");
    for metric in METRICS {
        let got: Vec<&str> =
            series(text, metric).into_iter().filter(|l| l.contains(&tag)).collect();
        let want = expected.iter().filter(|(n, _, _)| *n == metric).count();
        assert_eq!(got.len(), want, "{ds}: series of {metric}: {got:?}");
    }
    for collector in COLLECTORS {
        let s = selector("dameng_exporter_collector_success", ds, &[("collector", collector)]);
        assert_eq!(value(text, &s), Some(1.0), "{s}");
    }
}

fn run(engine: Engine, name: &str) {
    let mut config = String::new();
    for inst in ["primary", "standby", "odd"] {
        config.push_str(&fixture_ds(engine, inst, inst, ""));
    }
    let exp = Exporter::start(name, &config);
    let text = exp.metrics();
    check(&text, "primary", PRIMARY);
    check(&text, "standby", STANDBY);
    check(&text, "odd", ODD);
    // A second scrape (probes answered from the per-connection cache) gives the same.
    let again = exp.metrics();
    check(&again, "primary", PRIMARY);
    check(&again, "odd", ODD);
    crate::scrape::promtool_check(&text);
}

#[test]
fn archive_redo_apply_families_on_sqlite() {
    run(Engine::Sqlite, "fam-b-sqlite");
}

#[test]
fn archive_redo_apply_families_on_postgres() {
    run(Engine::Postgres, "fam-b-pg");
}
