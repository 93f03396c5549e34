//! Parsing: defaults, shipped files, case-insensitive keys, unknown keys, ${ENV}, dbPwdFile,
//! plugins.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::*;
use dmexp_config::*;

#[test]
fn default_config_parses_and_holds_the_defaults() {
    let cfg = load_str(DEFAULT_CONFIG, Path::new("default.toml")).unwrap();
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    // default.toml writes `logDir = "logs"` out, so the directory counts as set by the file.
    let want = GlobalConfig { log_dir_explicit: true, ..GlobalConfig::default() };
    assert_eq!(format!("{:?}", cfg.global), format!("{want:?}"));
    assert_eq!(cfg.datasources.len(), 1);
    let mut want = DatasourceConfig::new("dm8");
    want.connection.db_host = Some("127.0.0.1:5236".into());
    want.connection.db_user = "SYSDBA".into();
    want.connection.db_pwd = Secret::new("SYSDBA");
    let got = &cfg.datasources[0];
    assert_eq!(format!("{got:?}"), format!("{want:?}"));
    assert_eq!(got.connection.db_pwd.expose(), "SYSDBA");
}

#[test]
fn default_config_lists_every_key() {
    // Every key of the schema appears in default.toml (commented or not).
    for key in [
        "listenAddress",
        "metricPath",
        "version",
        "logLevel",
        "logMaxSize",
        "logMaxBackups",
        "logMaxAge",
        "logDir",
        "encodeConfigPwd",
        "enableBasicAuth",
        "basicAuthUsername",
        "basicAuthPassword",
        "retryIntervalSeconds",
        "enableHealthPing",
        "globalTimeoutSeconds",
        "collectionMode",
        "collectStrategy",
        "maxConcurrentGroups",
        "groupTimeout",
        "scrapeTimeoutFactor",
        "name",
        "description",
        "enabled",
        "dbHost",
        "dbUser",
        "dbPwd",
        "dbPwdFile",
        "odbcDriver",
        "odbcConnectionString",
        "queryTimeout",
        "maxOpenConns",
        "maxIdleConns",
        "connMaxLifetime",
        "bigKeyDataCacheTime",
        "alarmKeyCacheTime",
        "checkSlowSQL",
        "slowSqlTime",
        "slowSqlMaxRows",
        "registerHostMetrics",
        "registerDatabaseMetrics",
        "registerDmhsMetrics",
        "registerCustomMetrics",
        "priority",
        "labels",
        "customMetricsFile",
        "disabledCollectors",
        "[[datasource.plugin]]",
        "[datasource.plugin.config]",
    ] {
        let found =
            DEFAULT_CONFIG.lines().any(|l| l.trim_start_matches(['#', ' ']).starts_with(key));
        assert!(found, "default.toml does not list {key}");
    }
}

#[test]
fn every_example_parses() {
    let dir = crate_dir().join("examples");
    let mut n = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("custom_metrics") {
            // Custom metrics files, not exporter configs: valid TOML with [[metric]].
            let text = fs::read_to_string(&path).unwrap();
            let doc: toml::Table = toml::from_str(&text).unwrap();
            assert!(doc.get("metric").and_then(|m| m.as_array()).is_some(), "{name}");
            continue;
        }
        if path.extension().is_some_and(|e| e == "toml" || e == "config") {
            // demo.toml is written by someone else; when it exists it must parse.
            let cfg = load_file(&path).unwrap_or_else(|e| panic!("{name}:\n{e}"));
            assert!(!cfg.datasources.is_empty(), "{name}");
            n += 1;
        }
    }
    assert!(n >= 3, "expected at least 3 example configs, found {n}");
}

#[test]
fn multi_datasource_example_matches_the_plan() {
    let path = crate_dir().join("examples/multi_datasource.toml");
    let cfg = load_file(&path).unwrap();
    assert_eq!(cfg.origin, ConfigOrigin::Toml(path.clone()));
    let g = &cfg.global;
    assert_eq!(g.collect_strategy, CollectStrategy::Hybrid);
    assert_eq!(g.max_concurrent_groups, 3);
    assert_eq!(g.group_timeout, Duration::from_secs(60));
    assert!(g.enable_basic_auth && g.encode_config_pwd);
    assert_eq!(g.basic_auth_username, "admin");
    assert_eq!(g.basic_auth_password.expose(), "Admin_123");
    let names: Vec<_> = cfg.datasources.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["prod-master", "prod-slave1", "test-db"]);
    let [m, s, t] = &cfg.datasources[..] else { panic!() };
    assert_eq!(m.connection.db_pwd.expose(), "Prod_Master_123");
    assert_eq!(s.connection.db_pwd.expose(), "Prod_Slave_123");
    assert_eq!(t.connection.db_pwd.expose(), "password3");
    assert_eq!((m.priority, s.priority, t.priority), (1, 2, 3));
    assert_eq!(m.connection.query_timeout, Duration::from_secs(30));
    assert_eq!((m.connection.max_open_conns, m.connection.max_idle_conns), (10, 2));
    assert_eq!(s.big_key_data_cache_time, Duration::from_secs(30 * 60));
    assert_eq!(t.slow_sql_time, Duration::from_millis(1000));
    assert_eq!(t.slow_sql_max_rows, 20);
    assert!(t.register_dmhs_metrics && t.register_host_metrics && !s.register_custom_metrics);
    assert_eq!(t.description, "测试环境主库");
    assert_eq!(
        m.labels,
        [("cluster", "prod"), ("role", "master"), ("zone", "beijing")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let cm = m.custom_metrics_file.as_ref().unwrap();
    assert!(cm.is_absolute() && cm.is_file(), "{}", cm.display());
    assert_eq!(m.datasource_label(), "prod-master@127.0.0.1:5236");
    assert_eq!(s.host_port(), Some(("192.168.1.100".to_string(), Some(5236))));
}

const MIN_DS: &str =
    "[[datasource]]\nname = \"a\"\ndbHost = \"10.0.0.1:5236\"\ndbUser = \"u\"\ndbPwd = \"p\"\n";

#[test]
fn absent_zero_and_empty_values_take_defaults() {
    let zeros = "listenAddress = \"\"\nmetricPath = \"\"\nlogMaxSize = 0\nlogMaxBackups = 0\nlogMaxAge = 0\n\
                 retryIntervalSeconds = 0\nglobalTimeoutSeconds = 0\ncollectionMode = \"\"\n\
                 collectStrategy = \"\"\nmaxConcurrentGroups = 0\ngroupTimeout = 0\nscrapeTimeoutFactor = 0\n\
                 [[datasource]]\nname = \"a\"\ndbHost = \"10.0.0.1:5236\"\ndbUser = \"u\"\ndbPwd = \"p\"\n\
                 description = \"\"\nodbcDriver = \"\"\nqueryTimeout = 0\nmaxOpenConns = 0\nmaxIdleConns = 0\n\
                 connMaxLifetime = 0\nbigKeyDataCacheTime = 0\nalarmKeyCacheTime = 0\nslowSqlTime = 0\n\
                 slowSqlMaxRows = 0\nlabels = \"\"\ncustomMetricsFile = \"\"\n";
    for text in [MIN_DS, zeros] {
        let cfg = load("defaults", text).unwrap();
        assert_eq!(format!("{:?}", cfg.global), format!("{:?}", GlobalConfig::default()));
        let d = &cfg.datasources[0];
        let mut want = DatasourceConfig::new("a");
        want.connection.db_host = Some("10.0.0.1:5236".into());
        want.connection.db_user = "u".into();
        want.connection.db_pwd = Secret::new("p");
        assert_eq!(format!("{d:?}"), format!("{want:?}"));
    }
}

#[test]
fn explicit_values_are_read() {
    let text = "listenAddress = \"0.0.0.0:9300\"\nmetricPath = \"/m\"\nlogLevel = \"DEBUG\"\nlogDir = \"\"\n\
                retryIntervalSeconds = 7\nenableHealthPing = false\nglobalTimeoutSeconds = 9\n\
                collectionMode = \"fast\"\ncollectStrategy = \"serial\"\nmaxConcurrentGroups = 2\n\
                groupTimeout = 11\nscrapeTimeoutFactor = 1\n\
                [[datasource]]\nname = \"a\"\ndbHost = \"[fe80::1]:5236?autoCommit=false\"\ndbUser = \"u\"\ndbPwd = \"p\"\n\
                enabled = false\nqueryTimeout = 300\nmaxOpenConns = 100\nmaxIdleConns = 4\n\
                connMaxLifetime = 2\ncheckSlowSQL = true\nslowSqlTime = 5\nslowSqlMaxRows = 3\n\
                registerDatabaseMetrics = false\npriority = 3\ndisabledCollectors = [\"slow_sql\", \" tablespace \"]\n\
                odbcDriver = \"DM ODBC\"\n";
    let cfg = load("explicit", text).unwrap();
    let g = &cfg.global;
    assert_eq!(g.listen_address, "0.0.0.0:9300");
    assert_eq!(g.metric_path, "/m");
    assert_eq!(g.log_level, LogLevel::Debug);
    assert_eq!(g.log_dir, None);
    assert_eq!(g.retry_interval, Duration::from_secs(7));
    assert!(!g.enable_health_ping);
    assert_eq!(g.global_timeout, Duration::from_secs(9));
    assert_eq!(g.collection_mode, CollectionMode::Fast);
    assert_eq!(g.collect_strategy, CollectStrategy::Serial);
    assert_eq!(g.max_concurrent_groups, 2);
    assert_eq!(g.group_timeout, Duration::from_secs(11));
    assert_eq!(g.scrape_timeout_factor, 1.0);
    let d = &cfg.datasources[0];
    assert!(!d.enabled);
    assert_eq!(d.connection.query_timeout, Duration::from_secs(300));
    assert_eq!((d.connection.max_open_conns, d.connection.max_idle_conns), (100, 4));
    assert_eq!(d.connection.conn_max_lifetime, Duration::from_secs(120));
    assert!(d.check_slow_sql && !d.register_database_metrics);
    assert_eq!(d.slow_sql_time, Duration::from_millis(5));
    assert_eq!(d.slow_sql_max_rows, 3);
    assert_eq!(d.priority, 3);
    assert_eq!(d.disabled_collectors, ["slow_sql", "tablespace"]);
    assert_eq!(d.connection.odbc_driver, "DM ODBC");
    assert_eq!(d.datasource_label(), "a@[fe80::1]:5236");
}

#[test]
fn keys_are_case_insensitive() {
    let text = "LISTENADDRESS = \":9300\"\ncollectionmode = \"FAST\"\n\
                [[DataSource]]\nNAME = \"a\"\nDBHOST = \"h:1\"\ndbuser = \"u\"\nDbPwd = \"p\"\n\
                checkslowsql = true\nQueryTimeout = 9\nREGISTERHOSTMETRICS = true\n";
    let cfg = load("case", text).unwrap();
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    assert_eq!(cfg.global.listen_address, ":9300");
    assert_eq!(cfg.global.collection_mode, CollectionMode::Fast);
    let d = &cfg.datasources[0];
    assert_eq!(d.connection.db_host.as_deref(), Some("h:1"));
    assert!(d.check_slow_sql && d.register_host_metrics);
    assert_eq!(d.connection.query_timeout, Duration::from_secs(9));
}

#[test]
fn unknown_key_warns_with_file_line_and_suggestion() {
    let text = "logLevel = \"info\"\n\n[[datasource]]\nname = \"prod-master\"\ndbHost = \"h:1\"\n\
                dbUser = \"u\"\ndbPwd = \"p\"\nqueryTimout = 5\n";
    let path = write_cfg("unknown", text);
    let cfg = load_file(&path).unwrap();
    let w: Vec<_> = cfg.warnings.iter().filter(|w| w.unknown_key).collect();
    assert_eq!(w.len(), 1, "{:?}", cfg.warnings);
    assert_eq!(
        w[0].message,
        format!(
            "{}:{}: unknown key \"queryTimout\" in [[datasource]] #1 (prod-master); did you mean \"queryTimeout\"?",
            path.display(),
            line_of(text, "queryTimout")
        )
    );
    // Far from anything known: no suggestion.
    let cfg = load("unknown2", &format!("zzzqqq = 1\n{MIN_DS}")).unwrap();
    assert!(cfg.warnings[0].message.contains("unknown key \"zzzqqq\" at the top level is ignored"));
    // CLI spelling suggests the TOML name.
    let cfg = load("unknown3", &format!("{MIN_DS}slowSqlLimitRows = 3\n")).unwrap();
    assert!(cfg.warnings[0].message.contains("did you mean \"slowSqlMaxRows\""));
}

#[test]
fn keys_in_the_wrong_table_get_a_hint() {
    // A global key after [[datasource]] belongs to the datasource in TOML.
    let text = format!("{MIN_DS}logLevel = \"debug\"\n");
    let cfg = load("wrongscope", &text).unwrap();
    assert_eq!(cfg.global.log_level, LogLevel::Info);
    let w = &cfg.warnings[0];
    assert!(w.unknown_key);
    assert!(w.message.contains(&format!(":{}:", line_of(&text, "logLevel"))));
    assert!(w.message.contains("is a global key; move it to the top of the file"), "{}", w.message);
    // A datasource key at the top level of a multi-source file.
    let text = format!("queryTimeout = 9\n{MIN_DS}");
    let cfg = load("wrongscope2", &text).unwrap();
    assert_eq!(cfg.datasources[0].connection.query_timeout, Duration::from_secs(5));
    assert!(cfg.warnings[0].message.contains("is a [[datasource]] key"));
}

#[test]
fn invalid_log_level_is_a_warning() {
    let cfg = load("loglevel", &format!("logLevel = \"fatal\"\n{MIN_DS}")).unwrap();
    assert_eq!(cfg.global.log_level, LogLevel::Info);
    assert!(!cfg.warnings[0].unknown_key);
    assert!(cfg.warnings[0]
        .message
        .contains(":1: logLevel = \"fatal\" is not a log level, using info"));
}

#[test]
fn single_source_form_becomes_datasource_default() {
    let text = "listenAddress = \":9201\"\ndbHost = \"127.0.0.1:5236\"\ndbUser = \"SYSDBA\"\n\
                dbPwd = \"ENC(zsvHz8TN9c/S2sXY3s/Y+fP57ujr)\"\nqueryTimeout = 7\nlabels = \"env=dev\"\n";
    let path = write_cfg("single", text);
    let cfg = load_file(&path).unwrap();
    assert_eq!(cfg.origin, ConfigOrigin::Toml(path));
    assert_eq!(cfg.global.listen_address, ":9201");
    assert_eq!(cfg.datasources.len(), 1);
    let d = &cfg.datasources[0];
    assert_eq!(d.name, "default");
    assert_eq!(d.connection.db_pwd.expose(), "SYSDBA");
    assert_eq!(d.connection.query_timeout, Duration::from_secs(7));
    assert_eq!(d.datasource_label(), "default@127.0.0.1:5236");
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}

#[test]
fn env_expansion_in_strings() {
    // Unique names: tests run in parallel threads of one process.
    std::env::set_var("DMEXP_T_ENV_HOST", "10.9.8.7");
    std::env::set_var("DMEXP_T_ENV_PWD", "ENC(zsvHz8TN9c/S2sXY3s/Y+fP57ujr)");
    std::env::set_var("DMEXP_T_ENV_REGION", "bj");
    let text = "[[datasource]]\nname = \"a\"\ndbHost = \"${DMEXP_T_ENV_HOST}:5236\"\ndbUser = \"u$${x}\"\n\
                dbPwd = \"${DMEXP_T_ENV_PWD}\"\nlabels = \"region=${DMEXP_T_ENV_REGION}\"\n";
    let cfg = load("env", text).unwrap();
    let d = &cfg.datasources[0];
    assert_eq!(d.connection.db_host.as_deref(), Some("10.9.8.7:5236"));
    assert_eq!(d.connection.db_user, "u${x}");
    assert_eq!(d.connection.db_pwd.expose(), "SYSDBA", "ENC() in the variable is decrypted");
    assert_eq!(d.labels, [("region".to_string(), "bj".to_string())]);
}

#[test]
fn db_pwd_file_is_read_relative_to_the_config() {
    let path = write_cfg(
        "pwdfile",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwdFile = \"secrets/a.pwd\"\n",
    );
    let dir = path.parent().unwrap();
    fs::create_dir_all(dir.join("secrets")).unwrap();
    fs::write(dir.join("secrets/a.pwd"), "s3cret value\r\n").unwrap();
    let cfg = load_file(&path).unwrap();
    assert_eq!(cfg.datasources[0].connection.db_pwd.expose(), "s3cret value");
}

#[test]
fn odbc_connection_string_replaces_db_host() {
    let text = "[[datasource]]\nname = \"sqlite\"\nodbcConnectionString = \"Driver=SQLite3;Database=/tmp/x.db\"\n";
    let cfg = load("odbc", text).unwrap();
    let d = &cfg.datasources[0];
    assert_eq!(d.connection.db_host, None);
    assert_eq!(
        d.connection.odbc_connection_string.as_ref().unwrap().expose(),
        "Driver=SQLite3;Database=/tmp/x.db"
    );
    assert_eq!(d.datasource_label(), "sqlite");
    assert_eq!(d.host_port(), None);
}

#[test]
fn max_idle_conns_is_capped() {
    let cfg = load("idle", &format!("{MIN_DS}maxOpenConns = 4\nmaxIdleConns = 9\n")).unwrap();
    let d = &cfg.datasources[0];
    assert_eq!((d.connection.max_open_conns, d.connection.max_idle_conns), (4, 4));
    assert!(cfg.warnings[0].message.contains("maxIdleConns = 9"));
    let cfg = load("idle2", &format!("{MIN_DS}maxOpenConns = 4\n")).unwrap();
    assert_eq!(cfg.datasources[0].connection.max_idle_conns, 4);
}

#[test]
fn plugins_resolve_paths_and_keep_their_config() {
    let text = format!(
        "{MIN_DS}\n[[datasource.plugin]]\npath = \"plugins/libx.so\"\n[datasource.plugin.config]\n\
         threshold = 10\nname = \"x\"\n[datasource.plugin.config.nested]\nlist = [1, 2]\n\n\
         [[datasource.plugin]]\npath = \"/abs/liby.so\"\n"
    );
    let path = write_cfg("plugins", &text);
    let cfg = load_file(&path).unwrap();
    let p = &cfg.datasources[0].plugins;
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].path, path.parent().unwrap().join("plugins/libx.so"));
    let t: toml::Table = toml::from_str(&p[0].config_toml).unwrap();
    assert_eq!(t["threshold"].as_integer(), Some(10));
    assert_eq!(t["name"].as_str(), Some("x"));
    assert_eq!(t["nested"]["list"].as_array().map(Vec::len), Some(2));
    assert_eq!(p[1].path, Path::new("/abs/liby.so"));
    assert_eq!(p[1].config_toml, "");
}

#[test]
fn inline_datasource_array_and_multiline_inline_tables() {
    // TOML 1.1: multi-line inline tables.
    let text = "datasource = [\n  { name = \"a\", dbHost = \"h:1\",\n    dbUser = \"u\", dbPwd = \"p\" },\n]\n";
    let cfg = load("inline", text).unwrap();
    assert_eq!(cfg.datasources[0].name, "a");
}

#[test]
fn utf8_bom_is_accepted() {
    let cfg = load("bom", &format!("\u{feff}{MIN_DS}")).unwrap();
    assert_eq!(cfg.datasources[0].name, "a");
}
