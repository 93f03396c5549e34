//! Legacy v1.1 and CLI forms.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::*;
use dmexp_config::*;

const LEGACY: &str = "# v1.1 config\n\
listenAddress=:9300\n\
queryTimeout=30\n\
maxIdleConns=1\n\
logLevel=debug\n\
dbHost=127.0.0.1:5236?autoCommit=true\n\
dbUser=SYSDBA\n\
dbPwd=Legacy#Pw=1\n\
checkSlowSql=true\n\
slowSqlLimitRows=7\n\
registerHostMetrics=false\n\
configFile=./dameng_exporter.config\n";

#[test]
fn legacy_file_is_converted_in_memory() {
    let dir = tmpdir("legacy");
    let path = dir.join("dameng_exporter.config");
    fs::write(&path, LEGACY).unwrap();
    let cfg = load_file(&path).unwrap();
    assert_eq!(cfg.origin, ConfigOrigin::Legacy(path.clone()));
    assert_eq!(cfg.global.listen_address, ":9300");
    assert_eq!(cfg.global.log_level, LogLevel::Debug);
    assert!(cfg.global.encode_config_pwd, "v1.1 default of encodeConfigPwd is true");
    let d = &cfg.datasources[0];
    assert_eq!(d.name, "default");
    assert_eq!(d.connection.db_host.as_deref(), Some("127.0.0.1:5236?autoCommit=true"));
    assert_eq!(d.connection.db_pwd.expose(), "Legacy#Pw=1");
    assert_eq!(d.connection.query_timeout, Duration::from_secs(30));
    assert_eq!(d.connection.max_idle_conns, 1);
    assert!(d.check_slow_sql);
    assert_eq!(d.slow_sql_max_rows, 7);
    assert_eq!(d.datasource_label(), "default@127.0.0.1:5236");
    let notice = cfg.warnings.iter().find(|w| w.message.contains("legacy v1.1")).unwrap();
    assert!(!notice.unknown_key);
    assert!(notice.message.contains("[[datasource]]"));
    assert!(notice.message.contains("slowSqlMaxRows = 7"));
    assert!(!notice.message.contains("Legacy#Pw=1"), "password must be redacted");
}

#[test]
fn legacy_defaults_and_custom_metrics_file() {
    let dir = tmpdir("legacy-defaults");
    let path = dir.join("dameng_exporter.config");
    fs::write(&path, "listenAddress=:9200\n").unwrap();
    fs::write(dir.join("custom_metrics.toml"), "[[metric]]\n").unwrap();
    let cfg = load_file(&path).unwrap();
    let d = &cfg.datasources[0];
    assert_eq!(d.connection.db_host.as_deref(), Some("127.0.0.1:5236"));
    assert_eq!(d.connection.db_user, "SYSDBA");
    assert_eq!(d.connection.db_pwd.expose(), "SYSDBA");
    assert_eq!(d.custom_metrics_file.as_deref(), Some(dir.join("custom_metrics.toml").as_path()));
}

#[test]
fn legacy_errors_and_unknown_keys_name_lines() {
    let dir = tmpdir("legacy-bad");
    let path = dir.join("dameng_exporter.config");
    fs::write(&path, "dbHost=h:1\nqueryTimeout=abc\nregisterHostMetrics=maybe\n").unwrap();
    let err = load_file(&path).unwrap_err().to_string();
    assert!(err.contains(":2: queryTimeout must be an integer"), "{err}");
    assert!(err.contains(":3: registerHostMetrics must be a boolean"), "{err}");
    fs::write(&path, "dbHost=h:1\ndbUsr=x\n").unwrap();
    let cfg = load_file(&path).unwrap();
    let w = cfg.warnings.iter().find(|w| w.unknown_key).unwrap();
    assert!(w.message.contains(":2: unknown key \"dbUsr\""), "{}", w.message);
    assert!(w.message.contains("did you mean \"dbUser\""), "{}", w.message);
}

#[test]
fn legacy_to_toml_round_trips() {
    let toml_text = legacy_to_toml(LEGACY).unwrap();
    assert!(toml_text.contains("dbPwd = \"Legacy#Pw=1\""), "{toml_text}");
    assert!(toml_text.contains("[[datasource]]\nname = \"default\""), "{toml_text}");
    let from_toml = load_str(&toml_text, Path::new("converted.toml")).unwrap();
    let from_legacy = load_str(LEGACY, Path::new("dameng_exporter.config")).unwrap();
    assert_eq!(format!("{:?}", from_toml.global), format!("{:?}", from_legacy.global));
    assert_eq!(format!("{:?}", from_toml.datasources), format!("{:?}", from_legacy.datasources));
    assert_eq!(
        from_toml.datasources[0].connection.db_pwd,
        from_legacy.datasources[0].connection.db_pwd
    );
    assert!(legacy_to_toml("[[datasource]]\nname = \"x\"\n").is_err());
}

#[test]
fn the_shipped_legacy_example_loads() {
    let cfg = load_file(&crate_dir().join("examples/dameng_exporter.config")).unwrap();
    assert!(matches!(cfg.origin, ConfigOrigin::Legacy(_)));
    assert_eq!(cfg.datasources[0].connection.db_pwd.expose(), "SYSDBA");
}

fn cli(host: &str, pwd: &str) -> CliDatasource {
    CliDatasource {
        db_host: host.into(),
        db_user: "SYSDBA".into(),
        db_pwd: pwd.into(),
        ..Default::default()
    }
}

#[test]
fn cli_mode_builds_one_datasource() {
    let mut c = cli("10.0.0.5:5236", "ENC(zsvHz8TN9c/S2sXY3s/Y7svHz8TNm5iZhA==)");
    c.query_timeout = Some(9);
    c.slow_sql_limit_rows = Some(4);
    c.check_slow_sql = Some(true);
    c.register_host_metrics = Some(true);
    c.conn_max_lifetime = Some(0);
    let cfg = from_cli(&c).unwrap();
    assert_eq!(cfg.origin, ConfigOrigin::Cli);
    let d = &cfg.datasources[0];
    assert_eq!(d.name, "cmdline_10.0.0.5");
    assert_eq!(d.description, "DataSource from command line (Host: 10.0.0.5:5236)");
    assert_eq!(d.connection.db_pwd.expose(), "Dameng123.", "ENC() is decrypted in CLI mode");
    assert_eq!(d.connection.query_timeout, Duration::from_secs(9));
    assert_eq!(d.slow_sql_max_rows, 4);
    assert!(d.check_slow_sql && d.register_host_metrics);
    assert_eq!(d.connection.conn_max_lifetime, Duration::from_secs(30 * 60), "0 = default");
    assert_eq!(d.datasource_label(), "cmdline_10.0.0.5@10.0.0.5:5236");
    assert_eq!(cli_datasource_name("[::1]:5236"), "cmdline_::1");
    assert_eq!(cli_datasource_name("DMSVC"), "cmdline_DMSVC");
}

#[test]
fn cli_mode_is_validated() {
    let mut c = cli("10.0.0.5:5236", "pw");
    c.query_timeout = Some(301);
    c.max_open_conns = Some(-1);
    c.db_user = String::new();
    let err = from_cli(&c).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("command line: --queryTimeout = 301"), "{msg}");
    assert!(msg.contains("--maxOpenConns = -1"), "{msg}");
    assert!(msg.contains("has no dbUser"), "{msg}");
    let err = from_cli(&cli("h:1", "ENC(bad!)")).unwrap_err();
    assert!(err.to_string().contains("--dbPwd"), "{err}");
}

#[test]
fn cli_globals_override_the_file() {
    let mut cfg = load(
        "cliglobals",
        &format!("listenAddress = \":9300\"\nlogMaxAge = 9\n{}", ds("a", "h:1")),
    )
    .unwrap();
    let g = CliGlobals {
        listen_address: Some(":9400".into()),
        log_level: Some("warn".into()),
        enable_basic_auth: Some(true),
        basic_auth_username: Some("admin".into()),
        basic_auth_password: Some("ENC(zsvHz8TN9c/S2sXY3s/Y+fP57ujr)".into()),
        collection_mode: Some("fast".into()),
        global_timeout_seconds: Some(8),
        enable_health_ping: Some(false),
        ..Default::default()
    };
    apply_cli_globals(&mut cfg, &g).unwrap();
    assert_eq!(cfg.global.listen_address, ":9400");
    assert_eq!(cfg.global.log_level, LogLevel::Warn);
    assert_eq!(cfg.global.log_max_age_days, 9, "not given on the CLI: file value kept");
    assert!(cfg.global.enable_basic_auth);
    assert_eq!(cfg.global.basic_auth_password.expose(), "SYSDBA");
    assert_eq!(cfg.global.collection_mode, CollectionMode::Fast);
    assert_eq!(cfg.global.global_timeout, Duration::from_secs(8));
    assert!(!cfg.global.enable_health_ping);

    let before = format!("{:?}", cfg.global);
    let bad = CliGlobals {
        collection_mode: Some("bogus".into()),
        metric_path: Some("x".into()),
        ..Default::default()
    };
    let err = apply_cli_globals(&mut cfg, &bad).unwrap_err();
    assert_eq!(err.problems().len(), 2);
    assert!(err.to_string().contains("command line: --collectionMode = \"bogus\""), "{err}");
    assert_eq!(format!("{:?}", cfg.global), before, "a failed override changes nothing");

    let warn = CliGlobals { log_level: Some("trace".into()), ..Default::default() };
    apply_cli_globals(&mut cfg, &warn).unwrap();
    assert!(cfg.warnings.iter().any(|w| w.message.contains("--logLevel = \"trace\"")));
}
