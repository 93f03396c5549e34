//! Upgrading from the Go exporter: its own example files, unchanged (tests/fixtures/upstream,
//! see its README), load with exactly the values upstream gives them.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use dmexp_config::*;

fn upstream(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/upstream").join(file)
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Its `dameng_exporter.toml`: two datasources with descriptions, labels, one
/// `bigKeyDataCacheTime`; `logLevel = "debug"`, `enableHealthPing = true`; no warning.
#[test]
fn its_dameng_exporter_toml_loads_with_every_value() {
    let cfg = load_file(&upstream("dameng_exporter.toml")).unwrap();
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    let want_global = GlobalConfig {
        log_level: LogLevel::Debug,
        enable_health_ping: true,
        ..GlobalConfig::default()
    };
    assert_eq!(format!("{:?}", cfg.global), format!("{want_global:?}"));
    assert_eq!(cfg.global.listen_address, ":9200");
    assert_eq!(cfg.global.metric_path, "/metrics");

    let order = labels(&[("env", "prod"), ("region", "beijing"), ("cluster", "order_cluster")]);
    let mut one = DatasourceConfig::new("prod_primary_01");
    one.description = "生产环境主库-订单系统".into();
    one.connection.db_host = Some("192.168.0.1:5236".into());
    one.connection.db_user = "SYSDBA".into();
    one.connection.db_pwd = Secret::new("Dameng123.");
    one.labels = order.clone();
    let mut two = DatasourceConfig::new("prod_primary_02");
    two.description = "生产环境主库-订单系统B".into();
    two.connection.db_host = Some("192.168.0.2:5236".into());
    two.connection.db_user = "SYSDBA".into();
    two.connection.db_pwd = Secret::new("Dameng123.");
    two.labels = order;
    // bigKeyDataCacheTime is in minutes, as upstream reads it.
    two.big_key_data_cache_time = Duration::from_secs(50 * 60);
    assert_eq!(cfg.datasources.len(), 2);
    for (got, want) in cfg.datasources.iter().zip([&one, &two]) {
        assert_eq!(format!("{got:?}"), format!("{want:?}"));
        // Debug hides the password; the inline `# 支持ENC()加密格式` comment is not part of it.
        assert_eq!(got.connection.db_pwd.expose(), "Dameng123.");
    }
    // The defaults upstream v1.2 gives the keys the file leaves out.
    let ds = &cfg.datasources[0];
    assert!(ds.enabled && ds.register_database_metrics && ds.register_custom_metrics);
    assert!(!ds.register_host_metrics && !ds.register_dmhs_metrics && !ds.check_slow_sql);
    assert_eq!(ds.big_key_data_cache_time, Duration::from_secs(3600));
    assert_eq!(ds.alarm_key_cache_time, Duration::from_secs(300));
    assert_eq!(ds.connection.query_timeout, Duration::from_secs(5));
    assert_eq!((ds.connection.max_open_conns, ds.connection.max_idle_conns), (10, 10));
}

/// Its `docs/config/dameng_exporter.toml` leaves dbUser and dbPwd empty: refused with the
/// lines and keys to fill in (upstream refuses it as well).
#[test]
fn its_docs_example_with_empty_credentials_is_refused_with_lines() {
    let err = load_file(&upstream("docs_config_dameng_exporter.toml")).unwrap_err();
    let ConfigError::Invalid { problems, .. } = &err else { panic!("{err:?}") };
    let got: Vec<(Option<usize>, Option<&str>, Option<&str>)> =
        problems.iter().map(|p| (p.line, p.key.as_deref(), p.datasource.as_deref())).collect();
    assert_eq!(
        got,
        [
            (Some(13), Some("dbUser"), Some("prod_primary_01")),
            (Some(18), Some("dbPwd"), Some("prod_primary_01"))
        ]
    );
    assert!(err.to_string().contains("add dbUser = "), "{err}");
}

/// Its v1.1 `dameng_exporter.config` (three lines): one datasource `default`, the v1.1
/// `encodeConfigPwd = true`, a warning with the TOML to save and one about `autoCommit`.
#[test]
fn its_legacy_config_loads_as_one_datasource() {
    let cfg = load_file(&upstream("dameng_exporter.config")).unwrap();
    assert!(matches!(cfg.origin, ConfigOrigin::Legacy(_)));
    let want_global = GlobalConfig { encode_config_pwd: true, ..GlobalConfig::default() };
    assert_eq!(format!("{:?}", cfg.global), format!("{want_global:?}"));
    let mut want = DatasourceConfig::new("default");
    want.description = "DataSource: default".into();
    // kept as written; the Go-driver option is dropped when the connection string is built
    want.connection.db_host = Some("127.0.0.1:5236?autoCommit=true".into());
    want.connection.db_user = "SYSDBA".into();
    want.connection.db_pwd = Secret::new("SYSDBA");
    assert_eq!(cfg.datasources.len(), 1);
    assert_eq!(format!("{:?}", cfg.datasources[0]), format!("{want:?}"));
    assert_eq!(cfg.datasources[0].connection.db_pwd.expose(), "SYSDBA");
    assert_eq!(cfg.warnings.len(), 2, "{:?}", cfg.warnings);
    assert!(cfg.warnings[0].message.contains("legacy v1.1 key=value format detected"));
    assert!(cfg.warnings[0].message.contains("[[datasource]]\nname = \"default\"\n"));
    assert!(!cfg.warnings[0].message.contains("SYSDBA\"   #"), "password redacted");
    assert!(cfg.warnings[1].message.contains(":1: dbHost"));
    assert!(cfg.warnings[1].message.contains("autoCommit is a Go-driver option"));
}

/// Line, context, labels and (name, type, help) of each value column of one custom metric.
type Row<'a> = (usize, &'a str, Vec<&'a str>, Vec<(&'a str, CustomMetricKind, &'a str)>);

/// Its `custom_queries.metrics`: four metrics, eight series names, the counter and the
/// Chinese help texts as written.
#[test]
fn its_custom_queries_load_with_every_metric() {
    let file = load_custom_metrics(&upstream("custom_queries.metrics")).unwrap();
    assert!(file.warnings.is_empty(), "{:?}", file.warnings);
    let got: Vec<Row<'_>> = file
        .metrics
        .iter()
        .map(|m| {
            (
                m.line,
                m.context.as_str(),
                m.labels.iter().map(String::as_str).collect(),
                m.values
                    .iter()
                    .map(|v| (v.metric_name.as_str(), v.kind, v.help.as_str()))
                    .collect(),
            )
        })
        .collect();
    use CustomMetricKind::{Counter, Gauge};
    let want: Vec<Row<'_>> = vec![
        (
            55,
            "context_with_labels",
            vec!["label_1", "label_2"],
            vec![
                (
                    "dmdbms_context_with_labels_value_1",
                    Counter,
                    "Simple example returning always 1 as counter",
                ),
                (
                    "dmdbms_context_with_labels_value_2",
                    Gauge,
                    "Same but returning always 2 as gauge",
                ),
            ],
        ),
        (
            70,
            "context_no_label",
            vec![],
            vec![
                ("dmdbms_context_no_label_value_1", Gauge, "Simple example returning always 1"),
                ("dmdbms_context_no_label_value_2", Gauge, "Same but returning always 2"),
            ],
        ),
        (
            89,
            "session_summary",
            vec![],
            vec![
                ("dmdbms_session_summary_active_count", Gauge, "活跃会话数量"),
                ("dmdbms_session_summary_idle_count", Gauge, "空闲会话数量"),
                ("dmdbms_session_summary_other_count", Gauge, "其他状态会话数量"),
                ("dmdbms_session_summary_session_count", Gauge, "总会话数量"),
            ],
        ),
        (
            117,
            "test_table_metrics",
            vec!["name"],
            vec![("dmdbms_test_table_metrics_total_size_mb", Gauge, "Simple example")],
        ),
    ];
    assert_eq!(got, want);
    assert_eq!(
        file.metrics[3].request,
        "SELECT name, TO_CHAR(TOTAL_SIZE*PAGE/1024/1024) AS total_size_mb FROM SYS.V$TABLESPACE"
    );
    assert!(file.metrics.iter().all(|m| m.max_rows == DEFAULT_CUSTOM_MAX_ROWS));
}
