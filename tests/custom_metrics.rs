//! Custom metrics end to end: the shipped examples and upstream's example file produce their
//! documented series on both fixtures; a failing query, a refused file, the row cap, NULL /
//! non-numeric / negative / duplicate values are contained; the dry run and --check-config;
//! on PostgreSQL, SQL that slips past the parser cannot change data (read-only connection).

use std::path::{Path, PathBuf};

use crate::common::{fixture_ds, pg_cs, root, run_cli, scratch, series, value, Engine, Exporter};

fn example(name: &str) -> PathBuf {
    root().join("config/examples").join(name)
}

/// `customMetricsFile = "<path>"` (TOML basic string).
fn file_key(path: &Path) -> String {
    format!("customMetricsFile = \"{}\"\n", path.display())
}

/// Writes a custom metrics file into `dir`.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write custom metrics file");
    p
}

const ENGINES: [Engine; 2] = [Engine::Sqlite, Engine::Postgres];

fn tag(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "pg",
    }
}

/// Asserts `name{labels}` (labels sorted, as printed) has `want`.
fn expect(text: &str, series_: &str, want: f64) {
    let got = value(text, series_);
    assert!(
        got.is_some_and(|g| (g - want).abs() < 1e-9),
        "{series_}: got {got:?}, want {want}\n{}",
        text.lines()
            .filter(|l| l.contains("dmdbms_") || l.contains("custom"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn example_files_produce_their_series_on_both_engines() {
    for engine in ENGINES {
        let body = [
            fixture_ds(
                engine,
                "master",
                "primary",
                &file_key(&example("custom_metrics_prod_master.toml")),
            ),
            fixture_ds(
                engine,
                "slave",
                "standby",
                &file_key(&example("custom_metrics_prod_slave.toml")),
            ),
            fixture_ds(engine, "test", "primary", &file_key(&example("custom_metrics_test.toml"))),
            fixture_ds(engine, "odd", "odd", &file_key(&example("custom_metrics_test.toml"))),
        ]
        .concat();
        let e = Exporter::start(&format!("custom-examples-{}", tag(engine)), &body);
        let t = e.metrics();
        let m = "datasource=\"master\"";
        for (status, orders, amount) in [
            ("CANCELLED", 1.0, 99.75),
            ("NEW", 3.0, 55.0),
            ("PAID", 3.0, 350.5),
            ("REFUNDED", 1.0, 45.0),
            ("SHIPPED", 2.0, 570.0),
        ] {
            expect(&t, &format!("dmdbms_orders_orders{{{m},status=\"{status}\"}}"), orders);
            expect(&t, &format!("dmdbms_orders_amount{{{m},status=\"{status}\"}}"), amount);
        }
        for (region, amount) in [("华东", 200.5), ("华北", 460.0), ("华南", 260.0)] {
            expect(
                &t,
                &format!(
                    "dmdbms_paid_revenue_amount{{{m},region=\"{region}\",system=\"order-center\"}}"
                ),
                amount,
            );
        }
        expect(&t, &format!("dmdbms_payments_failed_total{{{m}}}"), 3.0);
        expect(&t, &format!("dmdbms_payments_pending{{{m}}}"), 1.0);
        expect(&t, &format!("dmdbms_payments_last_id{{{m}}}"), 9.0);
        assert!(t.contains("# TYPE dmdbms_payments_failed_total counter\n"), "{t}");
        assert!(t.contains("# TYPE dmdbms_payments_pending gauge\n"), "{t}");
        for (q, waiting, retries) in
            [("invoice", 2.0, 2.0), ("sms", 1.0, 5.0), ("report", 0.0, 1.0)]
        {
            expect(&t, &format!("dmdbms_job_queue_waiting{{{m},queue_name=\"{q}\"}}"), waiting);
            expect(&t, &format!("dmdbms_job_queue_max_retries{{{m},queue_name=\"{q}\"}}"), retries);
        }

        let s = "datasource=\"slave\"";
        expect(
            &t,
            &format!("dmdbms_replication_role_mode_code{{{s},instance_name=\"GRP1_RT_02\"}}"),
            3.0,
        );
        expect(
            &t,
            &format!("dmdbms_replication_role_status_code{{{s},instance_name=\"GRP1_RT_02\"}}"),
            1.0,
        );
        expect(&t, &format!("dmdbms_replication_apply_task_mem_bytes{{{s}}}"), 100_663_296.0);
        expect(&t, &format!("dmdbms_replication_apply_tasks{{{s}}}"), 16.0);
        expect(&t, &format!("dmdbms_replication_apply_applying{{{s}}}"), 2.0);
        expect(&t, &format!("dmdbms_replication_backlog_pending_commits{{{s}}}"), 2.0);
        expect(&t, &format!("dmdbms_replication_backlog_recent_apply_bytes{{{s}}}"), 1_572_864.0);
        expect(
            &t,
            &format!(
                "dmdbms_replication_archive_valid{{arch_dest=\"/dmarch\",arch_type=\"LOCAL\",{s}}}"
            ),
            0.0,
        );
        expect(&t, &format!("dmdbms_replication_archive_valid{{arch_dest=\"GRP1_RT_01\",arch_type=\"REALTIME\",{s}}}"), 1.0);
        expect(&t, &format!("dmdbms_replication_redo_free_bytes{{{s}}}"), 436_207_616.0);
        expect(&t, &format!("dmdbms_replication_redo_total_bytes{{{s}}}"), 536_870_912.0);

        let p = "datasource=\"test\"";
        expect(&t, &format!("dmdbms_test_instance_is_open{{{p}}}"), 1.0);
        for (ts, pct) in [
            ("SYSTEM", 75.0),
            ("ROLL", 18.75),
            ("TEMP", 3.125),
            ("MAIN", 51.171875),
            ("APP_DATA", 91.30859375),
            ("APP_FULL", 100.0),
        ] {
            expect(
                &t,
                &format!("dmdbms_test_tablespace_used_percent{{{p},tablespace=\"{ts}\"}}"),
                pct,
            );
        }
        for (param, v) in [
            ("MAX_SESSIONS", 1000.0),
            ("ARCH_INI", 1.0),
            ("GLOBAL_PAGE_SIZE", 8192.0),
            ("PORT_NUM", 5236.0),
        ] {
            expect(&t, &format!("dmdbms_test_parameter_setting{{{p},param=\"{param}\"}}"), v);
        }
        expect(&t, &format!("dmdbms_test_users_locked{{{p}}}"), 1.0);
        for (user, n) in [("APP", 6.0), ("SYSDBA", 2.0), ("REPORT_RO", 2.0), ("", 1.0)] {
            expect(&t, &format!("dmdbms_test_user_sessions{{{p},user_name=\"{user}\"}}"), n);
        }
        // odd: MOUNTed (valuemap "*" = 0), no locked account (ignorezeroresult: no series).
        let o = "datasource=\"odd\"";
        expect(&t, &format!("dmdbms_test_instance_is_open{{{o}}}"), 0.0);
        expect(&t, &format!("dmdbms_test_parameter_setting{{{o},param=\"ARCH_INI\"}}"), 0.0);
        assert_eq!(value(&t, &format!("dmdbms_test_users_locked{{{o}}}")), None);
        expect(&t, &format!("dmdbms_test_user_sessions{{{o},user_name=\"\"}}"), 3.0);

        // Self-metrics: every custom collector succeeded, each file loaded.
        for (ds, n, collectors) in [
            (
                "master",
                4.0,
                &["custom_orders", "custom_paid_revenue", "custom_payments", "custom_job_queue"][..],
            ),
            (
                "slave",
                5.0,
                &[
                    "custom_replication_role",
                    "custom_replication_apply",
                    "custom_replication_backlog",
                    "custom_replication_archive",
                    "custom_replication_redo",
                ][..],
            ),
            (
                "test",
                5.0,
                &[
                    "custom_test_instance",
                    "custom_test_tablespace",
                    "custom_test_parameter",
                    "custom_test_users",
                    "custom_test_user",
                ][..],
            ),
        ] {
            expect(
                &t,
                &format!("dameng_exporter_custom_metrics_load_success{{datasource=\"{ds}\"}}"),
                1.0,
            );
            expect(&t, &format!("dameng_exporter_custom_metrics_loaded{{datasource=\"{ds}\"}}"), n);
            for c in collectors {
                expect(&t, &format!("dameng_exporter_collector_success{{collector=\"{c}\",datasource=\"{ds}\"}}"), 1.0);
                let ctx = c.trim_start_matches("custom_");
                expect(&t, &format!("dameng_exporter_custom_rows_truncated_total{{datasource=\"{ds}\",metric=\"{ctx}\"}}"), 0.0);
            }
        }
        // The built-ins run beside them.
        expect(&t, "dmdbms_status_info{datasource=\"master\"}", 1.0);
        expect(&t, "dmdbms_mode_info{datasource=\"slave\"}", 3.0);
    }
}

#[test]
fn upstream_example_file_series() {
    for engine in ENGINES {
        let body =
            fixture_ds(engine, "master", "primary", &file_key(&example("custom_queries.metrics")));
        let e = Exporter::start(&format!("custom-upstream-{}", tag(engine)), &body);
        let t = e.metrics();
        let d = "datasource=\"master\"";
        expect(&t, &format!("dmdbms_context_no_label_value_1{{{d}}}"), 1.0);
        expect(&t, &format!("dmdbms_context_no_label_value_2{{{d}}}"), 2.0);
        let l = "label_1=\"First label\",label_2=\"Second label\"";
        expect(&t, &format!("dmdbms_context_with_labels_value_1{{{d},{l}}}"), 1.0);
        expect(&t, &format!("dmdbms_context_with_labels_value_2{{{d},{l}}}"), 2.0);
        assert!(t.contains("# TYPE dmdbms_context_with_labels_value_1 counter\n"));
        assert!(t.contains("# TYPE dmdbms_context_with_labels_value_2 gauge\n"));
        assert!(t.contains(
            "# HELP dmdbms_context_no_label_value_1 Simple example returning always 1.\n"
        ));
        expect(&t, &format!("dmdbms_session_summary_active_count{{{d}}}"), 3.0);
        expect(&t, &format!("dmdbms_session_summary_idle_count{{{d}}}"), 6.0);
        expect(&t, &format!("dmdbms_session_summary_other_count{{{d}}}"), 2.0);
        expect(&t, &format!("dmdbms_session_summary_session_count{{{d}}}"), 11.0);
        for (ts, mb) in [
            ("SYSTEM", 128.0),
            ("ROLL", 256.0),
            ("TEMP", 64.0),
            ("MAIN", 1024.0),
            ("APP_DATA", 4096.0),
            ("APP_FULL", 512.0),
        ] {
            expect(
                &t,
                &format!("dmdbms_test_table_metrics_total_size_mb{{{d},name=\"{ts}\"}}"),
                mb,
            );
        }
        assert_eq!(series(&t, "dmdbms_test_table_metrics_total_size_mb").len(), 6);
    }
}

#[test]
fn one_failing_metric_leaves_the_rest_and_the_other_datasources() {
    let dir = scratch("custom-failing-files");
    let file = write(
        &dir,
        "m.toml",
        r#"
[[metric]]
context = "first"
request = "SELECT COUNT(*) AS sessions FROM V$SESSIONS"
metricsdesc = { sessions = "s" }

[[metric]]
context = "no_table"
request = "SELECT COUNT(*) AS n FROM NO_SUCH_TABLE"
metricsdesc = { n = "n" }

[[metric]]
context = "no_column"
labels = ["tablespace"]
request = "SELECT NAME, TOTAL_SIZE AS pages FROM V$TABLESPACE"
metricsdesc = { pages = "p" }

[[metric]]
context = "last"
request = "SELECT COUNT(*) AS threads FROM V$THREADS"
metricsdesc = { threads = "t" }
"#,
    );
    for engine in ENGINES {
        let body = [
            fixture_ds(engine, "a", "primary", &file_key(&file)),
            fixture_ds(engine, "b", "standby", ""),
        ]
        .concat();
        let e = Exporter::start(&format!("custom-failing-{}", tag(engine)), &body);
        let t = e.metrics();
        expect(&t, "dmdbms_first_sessions{datasource=\"a\"}", 11.0);
        expect(&t, "dmdbms_last_threads{datasource=\"a\"}", 12.0);
        for (c, ok) in [
            ("custom_first", 1.0),
            ("custom_no_table", 0.0),
            ("custom_no_column", 0.0),
            ("custom_last", 1.0),
        ] {
            expect(
                &t,
                &format!("dameng_exporter_collector_success{{collector=\"{c}\",datasource=\"a\"}}"),
                ok,
            );
        }
        assert!(series(&t, "dmdbms_no_table_n").is_empty());
        assert!(series(&t, "dmdbms_no_column_pages").is_empty());
        // Built-ins of the same datasource and the other datasource are untouched.
        expect(&t, "dmdbms_status_info{datasource=\"a\"}", 1.0);
        expect(
            &t,
            "dameng_exporter_collector_success{collector=\"instance\",datasource=\"a\"}",
            1.0,
        );
        expect(&t, "dmdb_up{datasource=\"b\"}", 1.0);
        expect(&t, "dmdbms_mode_info{datasource=\"b\"}", 3.0);
        // The reason is logged with the collector's name.
        let logs = e.all_logs();
        assert!(
            logs.contains("custom_no_column")
                && logs.contains("column `tablespace` (labels) is not in the result"),
            "{logs}"
        );
    }
}

#[test]
fn row_cap_truncates_and_counts() {
    let dir = scratch("custom-cap-files");
    let file = write(
        &dir,
        "m.toml",
        r#"
[[metric]]
context = "cap"
labels = ["sess_id"]
request = "SELECT SESS_ID AS sess_id, N_STMT AS stmts FROM V$SESSIONS ORDER BY SESS_ID"
metricsdesc = { stmts = "Statements per session." }
maxrows = 3
"#,
    );
    let e = Exporter::start(
        "custom-cap",
        &fixture_ds(Engine::Sqlite, "a", "primary", &file_key(&file)),
    );
    let t = e.metrics();
    assert_eq!(series(&t, "dmdbms_cap_stmts").len(), 3, "{t}");
    expect(&t, "dameng_exporter_custom_rows_truncated_total{datasource=\"a\",metric=\"cap\"}", 1.0);
    expect(&t, "dameng_exporter_collector_success{collector=\"custom_cap\",datasource=\"a\"}", 1.0);
    let t = e.metrics();
    expect(&t, "dameng_exporter_custom_rows_truncated_total{datasource=\"a\",metric=\"cap\"}", 2.0);
    assert!(e.all_logs().contains("more than maxrows rows"), "{}", e.all_logs());
}

#[test]
fn null_text_negative_and_duplicate_values_are_contained() {
    let dir = scratch("custom-values-files");
    // Every cell is text (portable UNION ALL); the exporter parses numbers itself.
    let file = write(
        &dir,
        "m.toml",
        r#"
[[metric]]
context = "odd"
labels = ["k"]
request = """
SELECT 'a' AS k, '1' AS v, '5' AS c FROM DUAL
UNION ALL SELECT 'b', NULL, '-1' FROM DUAL
UNION ALL SELECT 'c', 'abc', ' 7 ' FROM DUAL
UNION ALL SELECT 'a', '9', '9' FROM DUAL
UNION ALL SELECT 'd', '2.5e1', NULL FROM DUAL
"""
metricsdesc = { v = "v", c = "c" }
metricstype = { c = "counter" }
"#,
    );
    for engine in ENGINES {
        let e = Exporter::start(
            &format!("custom-values-{}", tag(engine)),
            &fixture_ds(engine, "a", "primary", &file_key(&file)),
        );
        let t = e.metrics();
        expect(&t, "dmdbms_odd_v{datasource=\"a\",k=\"a\"}", 1.0);
        expect(&t, "dmdbms_odd_c{datasource=\"a\",k=\"a\"}", 5.0);
        expect(&t, "dmdbms_odd_c{datasource=\"a\",k=\"c\"}", 7.0);
        expect(&t, "dmdbms_odd_v{datasource=\"a\",k=\"d\"}", 25.0);
        // NULL and text are skipped, not 0; a negative counter is skipped; the repeated
        // label set k="a" is dropped and counted.
        assert_eq!(series(&t, "dmdbms_odd_v").len(), 2, "{t}");
        assert_eq!(series(&t, "dmdbms_odd_c").len(), 2, "{t}");
        expect(&t, "dameng_exporter_custom_duplicate_series_dropped_total{datasource=\"a\",metric=\"odd\"}", 1.0);
        expect(
            &t,
            "dameng_exporter_collector_success{collector=\"custom_odd\",datasource=\"a\"}",
            1.0,
        );
    }
}

#[test]
fn a_refused_file_disables_only_that_datasources_custom_metrics() {
    let dir = scratch("custom-refused-files");
    let bad = write(
        &dir,
        "bad.toml",
        "[[metric]]\ncontext = \"evil\"\nrequest = \"\"\"\nSELECT 1 AS x FROM DUAL;\nDELETE FROM V$SESSIONS\n\"\"\"\nmetricsdesc = { x = \"x\" }\n",
    );
    let good = write(&dir, "good.toml", "[[metric]]\ncontext = \"fine\"\nrequest = \"SELECT 1 AS x FROM DUAL\"\nmetricsdesc = { x = \"x\" }\n");
    let body = [
        fixture_ds(Engine::Sqlite, "a", "primary", &file_key(&bad)),
        fixture_ds(Engine::Sqlite, "b", "standby", &file_key(&good)),
    ]
    .concat();
    let e = Exporter::start("custom-refused", &body);
    let t = e.metrics();
    expect(&t, "dameng_exporter_custom_metrics_load_success{datasource=\"a\"}", 0.0);
    expect(&t, "dameng_exporter_custom_metrics_loaded{datasource=\"a\"}", 0.0);
    expect(&t, "dameng_exporter_custom_metrics_load_success{datasource=\"b\"}", 1.0);
    expect(&t, "dmdbms_fine_x{datasource=\"b\"}", 1.0);
    assert!(series(&t, "dmdbms_evil_x").is_empty());
    expect(&t, "dmdbms_status_info{datasource=\"a\"}", 1.0);
    expect(&t, "dmdbms_session_type_info{datasource=\"a\",session_type=\"ACTIVE\"}", 3.0);
    let logs = e.all_logs();
    assert!(logs.contains("Custom metrics file refused"), "{logs}");
    assert!(logs.contains("bad.toml:4: metric #1 (context \\\"evil\\\"), key \\\"request\\\": more than one statement") || logs.contains("bad.toml:4: metric #1 (context \"evil\"), key \"request\": more than one statement"), "{logs}");

    // --check-config reports it per datasource and fails; the summary says what it means.
    let (code, out, err) =
        run_cli(&["--check-config", "--config", e.config.to_str().expect("utf-8")], &dir);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("bad.toml REFUSED: this datasource would run without custom metrics"),
        "{out}"
    );
    assert!(out.contains("good.toml (1 metric(s): fine)"), "{out}");
    assert!(err.contains("error: datasource a: custom metrics file refused"), "{err}");
    assert!(
        err.contains(
            "bad.toml:4: metric #1 (context \"evil\"), key \"request\": more than one statement"
        ),
        "{err}"
    );
    assert!(!err.contains("datasource b:"), "{err}");
}

#[test]
fn dry_run_prints_series_or_the_error_per_metric() {
    let dir = scratch("custom-dry-run-files");
    let cfg = dir.join("cfg.toml");
    std::fs::write(
        &cfg,
        [
            fixture_ds(Engine::Sqlite, "master", "primary", ""),
            fixture_ds(Engine::Sqlite, "odd", "odd", ""),
        ]
        .concat(),
    )
    .expect("write config");
    let c = cfg.to_str().expect("utf-8");
    let master = example("custom_metrics_prod_master.toml");
    let (code, out, err) = run_cli(
        &[
            "--config",
            c,
            "--test-custom-metrics",
            master.to_str().expect("utf-8"),
            "--datasource",
            "master",
        ],
        &dir,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("# metric #1 (context \"orders\"): OK, 10 series"), "{out}");
    assert!(out.contains("dmdbms_paid_revenue_amount{datasource=\"master\",region=\"华东\",system=\"order-center\"} 200.5"), "{out}");
    assert!(out.contains("# 4 metric(s), 0 failed"), "{out}");

    let file = write(
        &dir,
        "mixed.toml",
        r#"
[[metric]]
context = "ok"
request = "SELECT STATUS$ AS status_code FROM V$INSTANCE"
metricsdesc = { status_code = "s" }
valuemap = { status_code = { OPEN = 1 } }

[[metric]]
context = "broken"
request = "SELECT COUNT(*) AS n FROM NO_SUCH_TABLE"
metricsdesc = { n = "n" }
"#,
    );
    let f = file.to_str().expect("utf-8");
    let (code, out, err) =
        run_cli(&["--config", c, "--test-custom-metrics", f, "--datasource", "odd"], &dir);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(out.contains("# metric #1 (context \"ok\"): OK, 0 series"), "{out}");
    assert!(
        out.contains(
            "#   note: row 1: status_code value \"MOUNT\" is not in its valuemap; skipped"
        ),
        "{out}"
    );
    assert!(out.contains("# metric #2 (context \"broken\"): ERROR after"), "{out}");
    assert!(out.contains("no such table"), "{out}");
    assert!(out.contains("# 2 metric(s), 1 failed"), "{out}");

    // A file that does not load: the precise problem, nothing runs.
    let bad = write(&dir, "bad.toml", "[[metric]]\ncontext = \"x\"\nrequest = \"UPDATE ORDERS SET AMOUNT = 0\"\nmetricsdesc = { x = \"x\" }\n");
    let (code, out, _) = run_cli(
        &[
            "--config",
            c,
            "--test-custom-metrics",
            bad.to_str().expect("utf-8"),
            "--datasource",
            "master",
        ],
        &dir,
    );
    assert_eq!(code, 2);
    assert!(out.contains("bad.toml:3: metric #1 (context \"x\"), key \"request\": the request is an UPDATE statement"), "{out}");
    // Unknown datasource, and a missing --datasource with several datasources.
    let (code, _, err) =
        run_cli(&["--config", c, "--test-custom-metrics", f, "--datasource", "nope"], &dir);
    assert_eq!(code, 2);
    assert!(err.contains("no datasource named \"nope\"") && err.contains("master, odd"), "{err}");
    let (code, _, err) = run_cli(&["--config", c, "--test-custom-metrics", f], &dir);
    assert_eq!(code, 2);
    assert!(err.contains("needs --datasource NAME"), "{err}");
}

#[test]
fn sqlite_connections_of_custom_metrics_are_query_only() {
    let dir = scratch("custom-sqlite-ro-files");
    let file = write(
        &dir,
        "m.toml",
        "[[metric]]\ncontext = \"ro\"\nrequest = \"SELECT query_only AS flag FROM pragma_query_only()\"\nmetricsdesc = { flag = \"1 when the connection is query-only\" }\n",
    );
    let e = Exporter::start(
        "custom-sqlite-ro",
        &fixture_ds(Engine::Sqlite, "a", "primary", &file_key(&file)),
    );
    expect(&e.metrics(), "dmdbms_ro_flag{datasource=\"a\"}", 1.0);
}

/// A scratch PostgreSQL database (not a fixture database), dropped at the end.
struct ScratchDb {
    name: String,
}

impl ScratchDb {
    fn admin_cs() -> String {
        pg_cs("primary").replace("Database=dmexp_primary", "Database=postgres")
    }

    fn cs(&self) -> String {
        pg_cs("primary").replace("Database=dmexp_primary", &format!("Database={}", self.name))
    }

    fn create(tag: &str) -> ScratchDb {
        let name = format!("dmexp_scratch_{tag}_{}", std::process::id());
        let admin = odbc_connect(&Self::admin_cs());
        exec(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        exec(&admin, &format!("CREATE DATABASE {name}"));
        ScratchDb { name }
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        let admin = odbc_connect(&Self::admin_cs());
        let _ =
            admin.execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name), (), None);
    }
}

fn odbc_connect(cs: &str) -> odbc_api::Connection<'static> {
    let env = odbc_api::environment().expect("ODBC environment");
    env.connect_with_connection_string(cs, odbc_api::ConnectionOptions::default()).expect("connect")
}

fn exec(conn: &odbc_api::Connection<'_>, sql: &str) {
    conn.execute(sql, (), None).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn scalar(conn: &odbc_api::Connection<'_>, sql: &str) -> String {
    use odbc_api::Cursor as _;
    let mut cursor = conn.execute(sql, (), None).expect("query").expect("result set");
    let mut row = cursor.next_row().expect("fetch").expect("one row");
    let mut buf = Vec::new();
    row.get_text(1, &mut buf).expect("text");
    String::from_utf8(buf).expect("utf-8")
}

#[test]
fn postgres_sql_that_slips_past_the_parser_cannot_change_data() {
    let db = ScratchDb::create("ro");
    let conn = odbc_connect(&db.cs());
    for sql in [
        "CREATE SEQUENCE ro_seq",
        "CREATE TABLE ro_items (id INTEGER)",
        "CREATE FUNCTION ro_insert() RETURNS INTEGER LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ro_items VALUES (1); RETURN 1; END $$",
        // nextval and set_config are refused by the SQL proof when called in the request
        // (dmexp-sqlguard); behind a user function the parser cannot see them.
        "CREATE FUNCTION ro_next() RETURNS BIGINT LANGUAGE plpgsql AS $$ BEGIN RETURN nextval('ro_seq'); END $$",
        "CREATE FUNCTION ro_flip() RETURNS INTEGER LANGUAGE plpgsql AS $$ BEGIN PERFORM set_config('default_transaction_read_only', 'off', false); RETURN 1; END $$",
        "CREATE TABLE DUAL (ID INTEGER)",
        "INSERT INTO DUAL VALUES (1)",
    ] {
        exec(&conn, sql);
    }
    let dir = scratch("custom-pg-ro-files");
    // Every request is a plain SELECT of a user function, so the parser lets it through; the
    // read-only connection must stop the writes. `reset` turns the session default off for the
    // next transaction; the exporter re-applies read-only before the next query (ro_flip is
    // not a known side-effect-free function, see the next test).
    let file = write(
        &dir,
        "m.toml",
        r#"
[[metric]]
context = "seq"
request = "SELECT ro_next() AS v"
metricsdesc = { v = "v" }

[[metric]]
context = "ins"
request = "SELECT ro_insert() AS n"
metricsdesc = { n = "n" }

[[metric]]
context = "reset"
request = "SELECT ro_flip() AS done"
metricsdesc = { done = "d" }

[[metric]]
context = "ro"
request = "SELECT CASE WHEN current_setting('transaction_read_only') = 'on' THEN 1 ELSE 0 END AS on_flag"
metricsdesc = { on_flag = "1 when the transaction is read-only" }

[[metric]]
context = "items"
request = "SELECT COUNT(*) AS n FROM ro_items"
metricsdesc = { n = "rows" }

[[metric]]
context = "items_cached"
request = "SELECT COUNT(*) AS n FROM ro_items"
metricsdesc = { n = "rows" }
scrapeinterval = "1h"

[[metric]]
context = "slow"
request = "SELECT 1 AS x FROM pg_sleep(4)"
metricsdesc = { x = "x" }
querytimeout = 1
"#,
    );
    let body = format!(
        "[[datasource]]\nname = \"scratch\"\nodbcConnectionString = \"{}\"\nregisterDatabaseMetrics = false\nqueryTimeout = 3\n{}",
        db.cs(),
        file_key(&file)
    );
    let e = Exporter::start("custom-pg-ro", &body);
    let d = "datasource=\"scratch\"";
    for round in 0..3 {
        let t = e.metrics();
        for (c, ok) in [
            ("custom_seq", 0.0),
            ("custom_ins", 0.0),
            ("custom_reset", 1.0),
            ("custom_ro", 1.0),
            ("custom_items", 1.0),
            ("custom_slow", 0.0),
        ] {
            expect(&t, &format!("dameng_exporter_collector_success{{collector=\"{c}\",{d}}}"), ok);
        }
        expect(&t, &format!("dmdbms_ro_on_flag{{{d}}}"), 1.0);
        expect(&t, &format!("dmdbms_items_n{{{d}}}"), if round == 0 { 0.0 } else { 1.0 });
        // Cached for an hour: still the first answer after the insert below.
        expect(&t, &format!("dmdbms_items_cached_n{{{d}}}"), 0.0);
        assert!(series(&t, "dmdbms_seq_v").is_empty() && series(&t, "dmdbms_ins_n").is_empty());
        let slow = value(
            &t,
            &format!("dameng_exporter_collector_duration_seconds{{collector=\"custom_slow\",{d}}}"),
        );
        assert!(slow.is_some_and(|s| s < 3.9), "querytimeout 1 s not applied: {slow:?}");
        if round == 0 {
            // A write by someone else is seen by the uncached metric only.
            exec(&conn, "INSERT INTO ro_items VALUES (42)");
        }
    }
    let logs = e.all_logs();
    assert!(logs.contains("read-only transaction"), "{logs}");
    // Nothing changed: the sequence was never advanced, the function never inserted.
    assert_eq!(scalar(&conn, "SELECT is_called::text FROM ro_seq"), "false");
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM ro_items WHERE id = 1"), "0");
    drop(e);

    // The dry run goes through the same read-only pool.
    let cfg = dir.join("cfg.toml");
    std::fs::write(&cfg, &body).expect("write config");
    let (code, out, err) = run_cli(
        &[
            "--config",
            cfg.to_str().expect("utf-8"),
            "--test-custom-metrics",
            file.to_str().expect("utf-8"),
        ],
        &dir,
    );
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        out.contains("# metric #1 (context \"seq\"): ERROR")
            && out.contains("read-only transaction"),
        "{out}"
    );
    assert_eq!(scalar(&conn, "SELECT is_called::text FROM ro_seq"), "false");
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM ro_items WHERE id = 1"), "0");
}

/// The PostgreSQL re-assertion rule of the read-only pool (core/src/pool.rs): a query that
/// calls only known built-ins runs without the extra `SET SESSION CHARACTERISTICS` round
/// trip; one that may call any other function is re-asserted before it and taints the
/// connection, so the next query is re-asserted too. The dry run uses one connection and runs
/// the metrics in file order, so each step sees exactly what the previous one left.
#[test]
fn postgres_read_only_is_reasserted_only_after_queries_that_may_have_changed_it() {
    let db = ScratchDb::create("taint");
    let conn = odbc_connect(&db.cs());
    for sql in [
        "CREATE TABLE ro_items (id INTEGER)",
        "CREATE FUNCTION ro_insert() RETURNS INTEGER LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ro_items VALUES (1); RETURN 1; END $$",
        // set_config of the read-only default is refused in a request; a user function hides it.
        "CREATE FUNCTION ro_flip() RETURNS INTEGER LANGUAGE plpgsql AS $$ BEGIN PERFORM set_config('default_transaction_read_only', 'off', false); RETURN 1; END $$",
        // The documented limitation: the text check cannot see a function inside a view.
        "CREATE VIEW ro_hidden AS SELECT set_config('default_transaction_read_only', 'off', false) AS v",
    ] {
        exec(&conn, sql);
    }
    let dir = scratch("custom-pg-taint-files");
    let flag = "SELECT CASE WHEN current_setting('transaction_read_only') = 'on' THEN 1 ELSE 0 END AS on_flag";
    let file = write(
        &dir,
        "m.toml",
        &format!(
            r#"
[[metric]]
context = "hidden"
request = "SELECT COUNT(v) AS n FROM ro_hidden"
metricsdesc = {{ n = "turns the default off, unseen by the text check" }}

[[metric]]
context = "after_hidden"
request = "{flag}"
metricsdesc = {{ on_flag = "f" }}

[[metric]]
context = "ins"
request = "SELECT ro_insert() AS n"
metricsdesc = {{ n = "n" }}

[[metric]]
context = "after_ins"
request = "{flag}"
metricsdesc = {{ on_flag = "f" }}

[[metric]]
context = "reset"
request = "SELECT ro_flip() AS done"
metricsdesc = {{ done = "d" }}

[[metric]]
context = "after_reset"
request = "{flag}"
metricsdesc = {{ on_flag = "f" }}

[[metric]]
context = "reset_again"
request = "SELECT ro_flip() AS done"
metricsdesc = {{ done = "d" }}

[[metric]]
context = "ins_after_reset"
request = "SELECT ro_insert() AS n"
metricsdesc = {{ n = "n" }}
"#
        ),
    );
    let body = format!(
        "[[datasource]]\nname = \"scratch\"\nodbcConnectionString = \"{}\"\nregisterDatabaseMetrics = false\nqueryTimeout = 3\nmaxOpenConns = 1\n{}",
        db.cs(),
        file_key(&file)
    );
    let cfg = dir.join("cfg.toml");
    std::fs::write(&cfg, &body).expect("write config");
    let (code, out, err) = run_cli(
        &[
            "--config",
            cfg.to_str().expect("utf-8"),
            "--test-custom-metrics",
            file.to_str().expect("utf-8"),
        ],
        &dir,
    );
    assert_eq!(code, 2, "{out}\n{err}");
    let d = "datasource=\"scratch\"";
    // COUNT only: not re-asserted before the next query that calls only known built-ins, so
    // the default the view turned off is still off (this is the round trip saved).
    assert!(out.contains(&format!("dmdbms_hidden_n{{{d}}} 1")), "{out}");
    assert!(out.contains(&format!("dmdbms_after_hidden_on_flag{{{d}}} 0")), "{out}");
    // A query calling an unknown function is re-asserted before it runs: the insert fails.
    assert!(
        out.contains("# metric #3 (context \"ins\"): ERROR")
            && out.contains("read-only transaction"),
        "{out}"
    );
    assert!(out.contains(&format!("dmdbms_after_ins_on_flag{{{d}}} 1")), "{out}");
    // A call of a function not known to be side-effect free (ro_flip runs set_config) taints
    // the connection: the next query is re-asserted first.
    assert!(out.contains(&format!("dmdbms_reset_done{{{d}}} 1")), "{out}");
    assert!(out.contains(&format!("dmdbms_after_reset_on_flag{{{d}}} 1")), "{out}");
    assert!(out.contains(&format!("dmdbms_reset_again_done{{{d}}} 1")), "{out}");
    assert!(out.contains("# metric #8 (context \"ins_after_reset\"): ERROR"), "{out}");
    assert!(out.contains("# 8 metric(s), 2 failed"), "{out}");
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM ro_items"), "0");

    // The exporter, every metric on one shared read-only connection in whatever order the
    // scrape runs them: the function never inserts.
    let e = Exporter::start("custom-pg-taint", &body);
    for _ in 0..3 {
        let t = e.metrics();
        for c in ["custom_ins", "custom_ins_after_reset"] {
            expect(&t, &format!("dameng_exporter_collector_success{{collector=\"{c}\",{d}}}"), 0.0);
        }
        for c in ["custom_hidden", "custom_reset", "custom_reset_again", "custom_after_reset"] {
            expect(&t, &format!("dameng_exporter_collector_success{{collector=\"{c}\",{d}}}"), 1.0);
        }
    }
    drop(e);
    assert_eq!(scalar(&conn, "SELECT COUNT(*) FROM ro_items"), "0");
}

/// L13: PostgreSQL lets large objects and advisory locks through a read-only transaction, so
/// the SQL proof refuses those calls before anything runs: at load (the exporter serves the
/// datasource without the file), at `--check-config` and in the dry run, each with the reason,
/// the file, the line and the metric. Nothing is created, no lock is taken.
#[test]
fn postgres_functions_with_lasting_effects_are_refused_before_they_run() {
    let db = ScratchDb::create("l13");
    let conn = odbc_connect(&db.cs());
    let large_objects = || scalar(&conn, "SELECT COUNT(*) FROM pg_largeobject_metadata");
    let advisory_locks =
        || scalar(&conn, "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory'");
    assert_eq!(large_objects(), "0");
    let dir = scratch("custom-pg-l13-files");
    let file = write(
        &dir,
        "l13.toml",
        r#"[[metric]]
context = "fine"
request = "SELECT COUNT(*) AS n FROM pg_largeobject_metadata"
metricsdesc = { n = "large objects" }

[[metric]]
context = "lo"
request = "SELECT lo_create(0) AS o"
metricsdesc = { o = "o" }

[[metric]]
context = "lock"
request = "SELECT 1 AS l FROM pg_catalog.pg_advisory_lock(4242)"
metricsdesc = { l = "l" }
"#,
    );
    let f = file.display().to_string();
    let lo = format!(
        "{f}:8: metric #2 (context \"lo\"), key \"request\": calls lo_create: large-object \
         functions create, change, export or read large objects, and PostgreSQL lets them \
         change data even in a read-only transaction; custom metrics and plugins only read, so \
         the request is refused (remove the call) (request line 1, column 8)"
    );
    let lock = format!(
        "{f}:13: metric #3 (context \"lock\"), key \"request\": calls pg_advisory_lock: an \
         advisory lock can outlive the query (a session lock stays with the pooled connection), \
         and PostgreSQL allows it in a read-only transaction; custom metrics and plugins only \
         read, so the request is refused (remove the call) (request line 1, column 31)"
    );
    let body = format!(
        "[[datasource]]\nname = \"scratch\"\nodbcConnectionString = \"{}\"\nregisterDatabaseMetrics = false\nqueryTimeout = 3\n{}",
        db.cs(),
        file_key(&file)
    );
    let cfg = dir.join("cfg.toml");
    std::fs::write(&cfg, &body).expect("write config");
    let c = cfg.to_str().expect("utf-8");

    let (code, out, err) = run_cli(&["--check-config", "--config", c], &dir);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains(&lo) && err.contains(&lock), "{err}");

    let (code, out, err) =
        run_cli(&["--config", c, "--test-custom-metrics", file.to_str().expect("utf-8")], &dir);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(format!("{out}{err}").contains(&lo), "{out}\n{err}");
    assert!(format!("{out}{err}").contains(&lock), "{out}\n{err}");
    assert!(!out.contains("dmdbms_fine_n"), "the refused file ran: {out}");

    let e = Exporter::start("custom-pg-l13", &body);
    for _ in 0..2 {
        let t = e.metrics();
        expect(&t, "dameng_exporter_custom_metrics_load_success{datasource=\"scratch\"}", 0.0);
        assert!(series(&t, "dmdbms_lo_o").is_empty() && series(&t, "dmdbms_fine_n").is_empty());
        assert_eq!(advisory_locks(), "0");
    }
    let logs = e.all_logs();
    assert!(logs.contains("Custom metrics file refused"), "{logs}");
    assert!(logs.contains("calls lo_create: large-object functions"), "{logs}");
    assert!(logs.contains("calls pg_advisory_lock: an advisory lock"), "{logs}");
    drop(e);
    assert_eq!(large_objects(), "0");
    assert_eq!(advisory_locks(), "0");
}

/// The collectors of a datasource queue per pool: a fast datasource is served by one worker
/// (one connection and one blocking task however many collectors), a slow statement makes
/// the queue behind it fan out over the pool (`FAN_OUT_AFTER` in core/src/runtime/queue.rs;
/// `DMEXP_FAN_OUT_AFTER_MS` moves it for this test). A collector's duration is its own run
/// time, not the time it waited behind the others.
#[test]
fn collectors_share_connections_when_fast_and_fan_out_when_slow() {
    let db = ScratchDb::create("sched");
    let conn = odbc_connect(&db.cs());
    exec(&conn, "CREATE TABLE items (id INTEGER)");
    exec(&conn, "INSERT INTO items VALUES (1), (2), (3)");
    let connections = || -> u32 {
        let n = scalar(
            &conn,
            &format!(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = '{}' \
                 AND pid <> pg_backend_pid()",
                db.name
            ),
        );
        n.trim().parse().expect("a count")
    };
    let dir = scratch("custom-sched-files");
    let metrics = |request: &dyn Fn(usize) -> String, n: usize| {
        (0..n)
            .map(|i| {
                format!(
                    "[[metric]]\ncontext = \"m{i}\"\nrequest = \"{}\"\nmetricsdesc = {{ v = \"v\" }}\n",
                    request(i)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let config = |file: &Path| {
        format!(
            "[[datasource]]\nname = \"scratch\"\nodbcConnectionString = \"{}\"\n\
             registerDatabaseMetrics = false\nqueryTimeout = 5\nmaxOpenConns = 10\n\
             maxIdleConns = 10\n{}",
            db.cs(),
            file_key(file)
        )
    };
    let d = "datasource=\"scratch\"";
    let scrape_secs = |t: &str| {
        value(t, &format!("dameng_exporter_scrape_duration_seconds{{{d}}}")).expect("duration")
    };

    // Fast: eight metrics, no fan-out. Before the run queues every collector took a
    // connection of its own (8 read-only + 1 for health checks).
    let fast = write(
        &dir,
        "fast.toml",
        &metrics(&|i| format!("SELECT COUNT(*) + {i} AS v FROM items"), 8),
    );
    let e = Exporter::start_with_env(
        "custom-sched-fast",
        &config(&fast),
        &[("DMEXP_FAN_OUT_AFTER_MS", "600000")],
    );
    for _ in 0..3 {
        let t = e.metrics();
        for i in 0..8 {
            expect(&t, &format!("dmdbms_m{i}_v{{{d}}}"), 3.0 + i as f64);
        }
    }
    // One session: the worker's, which the health checks share (no collector uses the
    // read-write pool).
    assert_eq!(connections(), 1, "1 worker, shared with the health checks");
    drop(e);

    // Slow: six one-second queries. One worker alone needs six seconds...
    let slow =
        write(&dir, "slow.toml", &metrics(&|i| format!("SELECT {i} AS v FROM pg_sleep(1)"), 6));
    let e = Exporter::start_with_env(
        "custom-sched-slow-no-fan-out",
        &config(&slow),
        &[("DMEXP_FAN_OUT_AFTER_MS", "600000")],
    );
    let t = e.metrics();
    for i in 0..6 {
        expect(&t, &format!("dmdbms_m{i}_v{{{d}}}"), i as f64);
    }
    let took = scrape_secs(&t);
    assert!(took >= 5.9, "one worker ran six 1 s queries in {took} s");
    for i in 0..6 {
        let own = value(
            &t,
            &format!("dameng_exporter_collector_duration_seconds{{collector=\"custom_m{i}\",{d}}}"),
        )
        .expect("collector duration");
        assert!((0.95..1.9).contains(&own), "m{i} ran {own} s (its own time, not the queue's)");
    }
    drop(e);

    // ...with the default fan-out every query gets a connection once the first ones are slow.
    let e = Exporter::start("custom-sched-slow", &config(&slow));
    for round in 0..2 {
        let t = e.metrics();
        for i in 0..6 {
            expect(&t, &format!("dmdbms_m{i}_v{{{d}}}"), i as f64);
        }
        let took = scrape_secs(&t);
        assert!((0.95..2.5).contains(&took), "round {round}: six 1 s queries took {took} s");
    }
    // Six workers; a health check that came while all six were busy took a seventh session
    // of the same pool (the budget is 10).
    let open = connections();
    assert!((6..=7).contains(&open), "{open} sessions: 6 read-only workers (+ 1 health check)");
    drop(e);
}
