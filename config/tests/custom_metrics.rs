//! Custom metrics files: the shipped examples, upstream's format and guide, case-insensitive
//! keys, TOML 1.1 inline tables, our keys, and every bad input with its message (file, line,
//! metric index and context, key, fix).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use dmexp_config::*;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn parse(text: &str) -> Result<CustomMetricsFile, ConfigError> {
    parse_custom_metrics(text, Path::new("m.toml"), &CustomMetricsOptions::default())
}

fn ok(text: &str) -> CustomMetricsFile {
    parse(text).unwrap_or_else(|e| panic!("refused:\n{e}\n---\n{text}"))
}

fn err(text: &str) -> String {
    match parse(text) {
        Ok(f) => panic!("accepted: {f:#?}\n---\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn names(f: &CustomMetricsFile) -> Vec<String> {
    f.metrics.iter().flat_map(|m| m.values.iter().map(|v| v.metric_name.clone())).collect()
}

#[test]
fn shipped_examples_load() {
    let cases: &[(&str, &[&str])] = &[
        (
            "custom_metrics_prod_master.toml",
            &[
                "dmdbms_orders_orders",
                "dmdbms_orders_amount",
                "dmdbms_paid_revenue_amount",
                "dmdbms_payments_failed_total",
                "dmdbms_payments_pending",
                "dmdbms_payments_last_id",
                "dmdbms_job_queue_waiting",
                "dmdbms_job_queue_max_retries",
            ],
        ),
        (
            "custom_metrics_prod_slave.toml",
            &[
                "dmdbms_replication_role_mode_code",
                "dmdbms_replication_role_status_code",
                "dmdbms_replication_apply_task_mem_bytes",
                "dmdbms_replication_apply_tasks",
                "dmdbms_replication_apply_applying",
                "dmdbms_replication_backlog_pending_commits",
                "dmdbms_replication_backlog_recent_apply_bytes",
                "dmdbms_replication_archive_valid",
                "dmdbms_replication_redo_free_bytes",
                "dmdbms_replication_redo_total_bytes",
            ],
        ),
        (
            "custom_metrics_test.toml",
            &[
                "dmdbms_test_instance_is_open",
                "dmdbms_test_tablespace_used_percent",
                "dmdbms_test_parameter_setting",
                "dmdbms_test_users_locked",
                "dmdbms_test_user_sessions",
            ],
        ),
        (
            "custom_queries.metrics",
            &[
                "dmdbms_context_no_label_value_1",
                "dmdbms_context_no_label_value_2",
                "dmdbms_context_with_labels_value_1",
                "dmdbms_context_with_labels_value_2",
                "dmdbms_session_summary_active_count",
                "dmdbms_session_summary_idle_count",
                "dmdbms_session_summary_other_count",
                "dmdbms_session_summary_session_count",
                "dmdbms_test_table_metrics_total_size_mb",
            ],
        ),
    ];
    for (file, want) in cases {
        let f =
            load_custom_metrics(&examples().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(f.warnings.is_empty(), "{file}: {:?}", f.warnings);
        assert_eq!(names(&f), *want, "{file}");
    }
    let master = load_custom_metrics(&examples().join("custom_metrics_prod_master.toml")).unwrap();
    let q = &master.metrics[3];
    assert_eq!(q.context, "job_queue");
    assert_eq!(q.scrape_interval, Some(Duration::from_secs(60)));
    assert_eq!(q.query_timeout, Some(Duration::from_secs(5)));
    assert_eq!(q.max_rows, 50);
    assert_eq!(master.metrics[0].max_rows, DEFAULT_CUSTOM_MAX_ROWS);
    assert_eq!(master.metrics[1].static_labels, vec![("system".into(), "order-center".into())]);
    assert_eq!(master.metrics[2].values[0].kind, CustomMetricKind::Counter);
    assert_eq!(master.metrics[2].values[1].kind, CustomMetricKind::Gauge);
}

#[test]
fn upstream_format_and_case_insensitive_keys() {
    // Upper-case keys and columns (upstream silently produced nothing for these).
    let f = ok(r#"
[[METRIC]]
Context = "Sessions"
Labels = ["STATE"]
Request = "SELECT STATE, COUNT(*) AS TOTAL FROM V$SESSIONS GROUP BY STATE"
MetricsDesc = { TOTAL = "Sessions per state." }
MetricsType = { Total = "COUNTER" }
IgnoreZeroResult = true
"#);
    let m = &f.metrics[0];
    assert_eq!(m.context, "Sessions");
    assert_eq!(m.labels, ["state"]);
    assert_eq!(m.values[0].column, "total");
    assert_eq!(m.values[0].metric_name, "dmdbms_Sessions_total");
    assert_eq!(m.values[0].kind, CustomMetricKind::Counter);
    assert!(m.ignore_zero_result);
    assert_eq!(m.request, "SELECT STATE, COUNT(*) AS TOTAL FROM V$SESSIONS GROUP BY STATE");
    assert_eq!(m.query_timeout, None);
    assert_eq!(m.scrape_interval, None);
}

#[test]
fn toml_1_1_multi_line_inline_tables_from_upstreams_guide() {
    // The guide's examples write metricsdesc over several lines (invalid TOML 1.0).
    let f = ok(r#"
[[metric]]
context = "database_stats"
request = """
SELECT /*+DAMENG_EXPORTER*/
    (SELECT COUNT(*) FROM V$SESSIONS WHERE STATE = 'ACTIVE') as active_sessions,
    (SELECT COUNT(*) FROM V$TRXWAIT) as trx_waits,
    (SELECT COUNT(*) FROM V$THREADS) as thread_count
FROM DUAL
"""
metricsdesc = {
    active_sessions = "Active sessions",
    trx_waits = "Transaction waits",
    thread_count = "Thread count"
}

[[metric]]
context = "sql_statistics"
request = """
SELECT /*+DAMENG_EXPORTER*/
    NAME,
    STAT_VAL
FROM V$SYSSTAT
WHERE NAME IN ('select statements', 'DB time(ms)')
"""
labels = ["name"]
metricsdesc = {
    stat_val = "SQL execution statistics value"
}
metricstype = {
    stat_val = "counter"
}
"#);
    assert_eq!(
        names(&f),
        [
            "dmdbms_database_stats_active_sessions",
            "dmdbms_database_stats_trx_waits",
            "dmdbms_database_stats_thread_count",
            "dmdbms_sql_statistics_stat_val"
        ]
    );
}

#[test]
fn our_keys() {
    let f = ok(r#"
querytimeout = 7
maxrows = 10

[[metric]]
context = "a"
request = "SELECT STATUS$ AS status_code FROM V$INSTANCE;"
metricsdesc = { status_code = "s" }
valuemap = { status_code = { OPEN = 1, MOUNT = 2, "*" = 4 } }
staticlabels = { team = "dba", tier = 1 }

[[metric]]
context = "b"
request = "SELECT 1 AS x FROM DUAL"
metricsdesc = { x = "x" }
querytimeout = "1500ms"
scrapeinterval = "1h30m"
maxrows = 100000

[[metric]]
context = "c"
request = "SELECT 1 AS x FROM DUAL"
metricsdesc = { x = "x" }
scrapeinterval = 45
"#);
    let [a, b, c] = f.metrics.as_slice() else { panic!() };
    assert_eq!(a.request, "SELECT STATUS$ AS status_code FROM V$INSTANCE");
    assert_eq!(a.query_timeout, Some(Duration::from_secs(7)));
    assert_eq!(a.max_rows, 10);
    let map = a.values[0].value_map.as_ref().unwrap();
    assert_eq!(map.lookup("OPEN"), Some(1.0));
    assert_eq!(map.lookup("mount"), Some(2.0));
    assert_eq!(map.lookup("SUSPEND"), Some(4.0));
    assert_eq!(a.static_labels, [("team".into(), "dba".into()), ("tier".into(), "1".into())]);
    assert_eq!(b.query_timeout, Some(Duration::from_millis(1500)));
    assert_eq!(b.scrape_interval, Some(Duration::from_secs(5400)));
    assert_eq!(b.max_rows, 100_000);
    assert_eq!(c.scrape_interval, Some(Duration::from_secs(45)));
    assert_eq!((c.max_rows, c.query_timeout), (10, Some(Duration::from_secs(7))));
}

#[test]
fn warnings_do_not_refuse_the_file() {
    let f = ok(r#"
title = "mine"
[[metric]]
context = "a"
request = "SELECT 1 AS total FROM DUAL"
metricsdesc = { total = "x" }
metricstype = { totl = "counter" }
databases = ["db1"]
metricsbuckets = { x = ["1"] }
qurytimeout = "5s"
"#);
    let w: Vec<&str> = f.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(w.len(), 5, "{w:#?}");
    assert!(w[0].starts_with("m.toml:2: unknown top-level key \"title\""), "{}", w[0]);
    assert!(w[1].contains("m.toml:7: metric #1 (context \"a\"): metricstype names column \"totl\""));
    assert!(w[1].contains("did you mean \"total\"?"), "{}", w[1]);
    assert!(w[2].contains("\"databases\" is ignored: each datasource has its own"), "{}", w[2]);
    assert!(w[3].contains("histograms are not supported"), "{}", w[3]);
    assert!(w[4].contains("m.toml:10: metric #1 (context \"a\"): unknown key \"qurytimeout\""));
    assert!(w[4].contains("did you mean \"querytimeout\"?"), "{}", w[4]);
    assert!(ok("").warnings[0].message.contains("no [[metric]] table"));
}

/// Wraps a single metric body in a file with one valid metric before it, so every message
/// must name metric #2.
fn second(body: &str) -> String {
    format!(
        "[[metric]]\ncontext = \"first\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\n\
         metricsdesc = {{ x = \"x\" }}\n\n[[metric]]\n{body}\n"
    )
}

#[test]
fn bad_metrics_are_refused_with_file_line_metric_key_and_fix() {
    // (body of metric #2, line of the problem, expected fragments)
    let cases: &[(&str, usize, &[&str])] = &[
        // --- the request: exactly one read-only query -------------------------------------
        (
            "context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL; DELETE FROM t\"\nmetricsdesc = { x = \"x\" }",
            8,
            &["metric #2 (context \"m\"), key \"request\": more than one statement", "(request line 1, column 24)"],
        ),
        (
            "context = \"m\"\nrequest = \"\"\"\nSELECT 1 AS x FROM DUAL -- fine ;\n;\n/* hidden */ DROP TABLE t\n\"\"\"\nmetricsdesc = { x = \"x\" }",
            10,
            &["key \"request\": more than one statement", "(request line 2, column 1)"],
        ),
        ("context = \"m\"\nrequest = \"DELETE FROM t\"\nmetricsdesc = { x = \"x\" }", 8, &["is a DELETE statement; only a SELECT or WITH query"]),
        ("context = \"m\"\nrequest = \"update t set a = 1\"\nmetricsdesc = { x = \"x\" }", 8, &["is an UPDATE statement"]),
        ("context = \"m\"\nrequest = \"INSERT INTO t VALUES (1)\"\nmetricsdesc = { x = \"x\" }", 8, &["is an INSERT statement"]),
        ("context = \"m\"\nrequest = \"DROP TABLE t\"\nmetricsdesc = { x = \"x\" }", 8, &["is a DROP statement"]),
        ("context = \"m\"\nrequest = \"TRUNCATE TABLE t\"\nmetricsdesc = { x = \"x\" }", 8, &["is a TRUNCATE statement"]),
        (
            "context = \"m\"\nrequest = \"MERGE INTO t USING u ON (t.a = u.a) WHEN MATCHED THEN UPDATE SET t.b = 1\"\nmetricsdesc = { x = \"x\" }",
            8,
            &["is a MERGE statement"],
        ),
        ("context = \"m\"\nrequest = \"CALL SP_CLEAN()\"\nmetricsdesc = { x = \"x\" }", 8, &["is a CALL statement"]),
        ("context = \"m\"\nrequest = \"EXEC SP_CLEAN\"\nmetricsdesc = { x = \"x\" }", 8, &["is an EXEC statement"]),
        (
            "context = \"m\"\nrequest = \"WITH d AS (DELETE FROM t RETURNING a) SELECT a AS x FROM d\"\nmetricsdesc = { x = \"x\" }",
            8,
            &["contains a DELETE statement (a data-modifying WITH clause"],
        ),
        ("context = \"m\"\nrequest = \"SELECT a AS x INTO t2 FROM t\"\nmetricsdesc = { x = \"x\" }", 8, &["SELECT … INTO"]),
        ("context = \"m\"\nrequest = \"SELECT a AS x FROM t FOR UPDATE\"\nmetricsdesc = { x = \"x\" }", 8, &["FOR UPDATE` locks rows"]),
        (
            "context = \"m\"\nrequest = \"SELECT 'a\\\\''; DELETE FROM t; --' AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }",
            8,
            &["backslash before a quote"],
        ),
        ("context = \"m\"\nrequest = \"SELECT $$;DELETE FROM t;$$ AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }", 8, &["dollar-quoted"]),
        ("context = \"m\"\nrequest = \"SELECT a AS x FROM t WHERE b = ?\"\nmetricsdesc = { x = \"x\" }", 8, &["bind parameter `?`"]),
        ("context = \"m\"\nrequest = \"   \"\nmetricsdesc = { x = \"x\" }", 8, &["the request is empty"]),
        ("context = \"m\"\nrequest = \"SELECT a AS x FROM\"\nmetricsdesc = { x = \"x\" }", 8, &["SQL parser cannot read", "CREATE VIEW"]),
        ("context = \"m\"\nrequest = 42\nmetricsdesc = { x = \"x\" }", 8, &["key \"request\": must be a string, found an integer"]),
        ("context = \"m\"\nmetricsdesc = { x = \"x\" }", 6, &["metric #2 (context \"m\") has no \"request\""]),
        ("context = \"m\"\nreqest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }", 6, &["has no \"request\"", "is \"reqest\" a misspelling of \"request\"?"]),
        // --- names -------------------------------------------------------------------------
        ("request = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }", 6, &["metric #2 has no \"context\""]),
        ("context = \"my-app\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }", 7, &["\"my-app\" cannot be part of a metric name", "use e.g. \"my_app\""]),
        ("context = \"\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }", 7, &["metric #2, key \"context\": is empty"]),
        ("context = \"m\"\nrequest = \"SELECT STATUS$ FROM V$INSTANCE\"\nmetricsdesc = { \"STATUS$\" = \"x\" }", 9, &["value column \"STATUS$\" cannot be part of a metric name", "STATUS$ AS status"]),
        ("context = \"m\"\nlabels = [\"state-name\"]\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }", 8, &["key \"labels\": label column \"state-name\" cannot be a Prometheus label name"]),
        ("context = \"m\"\nlabels = [\"__name\"]\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }", 8, &["starts with \"__\""]),
        ("context = \"m\"\nlabels = [\"a\", \"A\"]\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }", 8, &["column \"A\" is listed twice"]),
        ("context = \"m\"\nlabels = \"state\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }", 8, &["key \"labels\": must be an array of column names, found a string"]),
        // --- label and value on the same column ----------------------------------------------
        ("context = \"m\"\nlabels = [\"x\"]\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { X = \"x\" }", 10, &["column \"X\" is both a label (labels) and a value (metricsdesc)"]),
        // --- metricsdesc / metricstype -------------------------------------------------------
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"", 6, &["has no \"metricsdesc\"", "metricsdesc = { total"]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricdesc = { x = \"x\" }", 6, &["has no \"metricsdesc\"", "is \"metricdesc\" a misspelling of \"metricsdesc\"?"]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = {}", 9, &["key \"metricsdesc\": is empty"]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = 1 }", 9, &["the help of column \"x\" must be a string"]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"a\", X = \"b\" }", 9, &["column \"X\" is listed twice"]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\nmetricstype = { x = \"couter\" }", 10, &["key \"metricstype\": type \"couter\" of column \"x\" is not \"counter\" or \"gauge\"; did you mean \"counter\"?"]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\nmetricstype = { x = \"guage\" }", 10, &["did you mean \"gauge\"?"]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\nmetricstype = { x = \"histogram\" }", 10, &["histograms and summaries are not supported"]),
        // --- our keys ------------------------------------------------------------------------
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\nquerytimeout = \"0s\"", 10, &["key \"querytimeout\": 0ns is out of range: use 1s to 300s"]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\nquerytimeout = \"10 seconds\"", 10, &["unknown unit \"seconds\""]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\nscrapeinterval = \"2d\"", 10, &["key \"scrapeinterval\": 172800s is out of range"]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\nmaxrows = 0", 10, &["key \"maxrows\": 0 is out of range: use 1 to 100000 rows"]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\nmaxrows = \"10\"", 10, &["must be a whole number of rows, found a string"]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\nignorezeroresult = \"true\"", 10, &["must be true or false (no quotes)"]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\nstaticlabels = { datasource = \"x\" }", 10, &["label \"datasource\" is set by the exporter"]),
        ("context = \"m\"\nlabels = [\"env\"]\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\nstaticlabels = { env = \"x\" }", 11, &["label \"env\" is also a label column"]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\nstaticlabels = { \"my-env\" = \"x\" }", 10, &["label \"my-env\" cannot be a Prometheus label name"]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\nvaluemap = { y = { A = 1 } }", 10, &["key \"valuemap\": column \"y\" is not in metricsdesc"]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\nvaluemap = { x = { A = \"one\" } }", 10, &["valuemap of column \"x\": \"A\" must map to a number, found a string"]),
        ("context = \"m\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\nvaluemap = { x = {} }", 10, &["valuemap of column \"x\" is empty"]),
        ("context = \"m\"\nlabels = [\"l\"]\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\nvaluemap = { l = { A = 1 } }", 11, &["column \"l\" is a label; a valuemap applies to value columns"]),
        // --- keys given twice ----------------------------------------------------------------
        ("context = \"m\"\nCONTEXT = \"n\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }", 8, &["key \"CONTEXT\": given twice (also \"context\" at line 7)"]),
    ];
    for (body, line, want) in cases {
        let text = second(body);
        let msg = err(&text);
        let prefix = format!("m.toml:{line}: ");
        assert!(
            msg.lines().any(|l| l.starts_with(&prefix)),
            "{body:?}: no problem at line {line}:\n{msg}"
        );
        for w in *want {
            assert!(msg.contains(w), "{body:?}: {w:?} not in:\n{msg}");
        }
        assert!(!msg.contains("metric #1"), "{body:?}: metric #1 is fine:\n{msg}");
    }
}

#[test]
fn every_problem_of_a_file_is_reported_at_once() {
    let msg = err(r#"
[[metric]]
context = "a"
request = "DELETE FROM t"
metricsdesc = { x = "x" }

[[metric]]
context = "b"
request = "SELECT 1 AS x FROM DUAL"
metricsdesc = { x = "x" }
metricstype = { x = "histogram" }
"#);
    let lines: Vec<&str> = msg.lines().collect();
    assert_eq!(lines.len(), 2, "{msg}");
    assert!(lines[0].starts_with("m.toml:4: metric #1 (context \"a\"), key \"request\""), "{msg}");
    assert!(
        lines[1].starts_with("m.toml:11: metric #2 (context \"b\"), key \"metricstype\""),
        "{msg}"
    );
}

#[test]
fn clashes_between_metrics_and_with_built_ins() {
    let dup = err(r#"
[[metric]]
context = "sessions"
request = "SELECT 1 AS x FROM DUAL"
metricsdesc = { x = "x" }
[[metric]]
context = "SESSIONS"
request = "SELECT 1 AS y FROM DUAL"
metricsdesc = { y = "y" }
"#);
    assert!(
        dup.contains("m.toml:6: metric #2 (context \"SESSIONS\"), key \"context\": the context is already used by metric #1 (context \"sessions\") (line 2)"),
        "{dup}"
    );
    // dmdbms_a_b_c from two different contexts.
    let same = err(r#"
[[metric]]
context = "a_b"
request = "SELECT 1 AS c FROM DUAL"
metricsdesc = { c = "x" }
[[metric]]
context = "a"
request = "SELECT 1 AS b_c FROM DUAL"
metricsdesc = { b_c = "y" }
"#);
    assert!(same.contains("m.toml:6: metric #2 (context \"a\"), key \"metricsdesc\": dmdbms_a_b_c is also produced by metric #1 (context \"a_b\")"), "{same}");
    // A built-in name.
    let text = r#"
[[metric]]
context = "status"
request = "SELECT 1 AS info FROM DUAL"
metricsdesc = { info = "x" }
"#;
    let opts = CustomMetricsOptions::default().with_reserved_names(["dmdbms_status_info"]);
    let e = parse_custom_metrics(text, Path::new("m.toml"), &opts).unwrap_err().to_string();
    assert!(
        e.contains("m.toml:2: metric #1 (context \"status\"), key \"metricsdesc\": dmdbms_status_info is the name of a built-in metric"),
        "{e}"
    );
    assert!(parse(text).is_ok());
}

#[test]
fn file_level_errors() {
    let e = err("[[metric]]\ncontext = \"a\"\nrequest = \"SELECT 1\nmetricsdesc = { x = \"x\" }\n");
    assert!(e.starts_with("m.toml:3:"), "{e}");
    assert!(e.contains("invalid TOML"), "{e}");
    let e = err("metric = \"x\"\n");
    assert!(e.contains("m.toml:1: \"metric\" must be [[metric]] tables, found a string"), "{e}");
    let e = err("maxrows = -1\n[[metric]]\ncontext = \"a\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\n");
    assert!(
        e.contains("m.toml:1: the file-wide default, key \"maxrows\": -1 is out of range"),
        "{e}"
    );
    let missing =
        load_custom_metrics(Path::new("/nonexistent/custom.toml")).unwrap_err().to_string();
    assert!(
        missing.starts_with("/nonexistent/custom.toml: cannot read the custom metrics file"),
        "{missing}"
    );
    assert!(missing.contains("check customMetricsFile"), "{missing}");
}

#[test]
fn single_metric_table_and_inline_array_are_accepted() {
    let f = ok("[metric]\ncontext = \"a\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\n");
    assert_eq!(names(&f), ["dmdbms_a_x"]);
    let f = ok("metric = [\n  { context = \"a\", request = \"SELECT 1 AS x FROM DUAL\", metricsdesc = { x = \"x\" } },\n  { context = \"b\", request = \"SELECT 1 AS y FROM DUAL\", metricsdesc = { y = \"y\" } },\n]\n");
    assert_eq!(names(&f), ["dmdbms_a_x", "dmdbms_b_y"]);
}

#[test]
fn unquoted_dollar_key_gets_a_hint() {
    let e = err("[[metric]]\ncontext = \"m\"\nrequest = \"SELECT STATUS$ FROM V$INSTANCE\"\nmetricsdesc = { status$ = \"x\" }\n");
    assert!(e.starts_with("m.toml:4:"), "{e}");
    assert!(e.contains("must be quoted (\"STATUS$\"), or better aliased"), "{e}");
}
