//! Named defaults of every key (upstream v1.2 values unless marked "ours").

use std::path::PathBuf;
use std::time::Duration;

use crate::model::{
    CollectStrategy, CollectionMode, ConnectionSettings, DatasourceConfig, GlobalConfig, LogLevel,
    Secret,
};

/// `listenAddress` default.
pub const DEFAULT_LISTEN_ADDRESS: &str = ":9200";
/// `metricPath` default.
pub const DEFAULT_METRIC_PATH: &str = "/metrics";
/// `logMaxSize` default, MiB.
pub const DEFAULT_LOG_MAX_SIZE_MB: u64 = 10;
/// `logMaxBackups` default.
pub const DEFAULT_LOG_MAX_BACKUPS: usize = 3;
/// `logMaxAge` default, days.
pub const DEFAULT_LOG_MAX_AGE_DAYS: u64 = 30;
/// `logDir` default (ours), relative to the working directory.
pub const DEFAULT_LOG_DIR: &str = "logs";
/// `retryIntervalSeconds` default.
pub const DEFAULT_RETRY_INTERVAL_SECS: u64 = 30;
/// `globalTimeoutSeconds` default.
pub const DEFAULT_GLOBAL_TIMEOUT_SECS: u64 = 5;
/// `maxConcurrentGroups` default (ours).
pub const DEFAULT_MAX_CONCURRENT_GROUPS: usize = 3;
/// `groupTimeout` default in seconds (ours).
pub const DEFAULT_GROUP_TIMEOUT_SECS: u64 = 60;
/// `scrapeTimeoutFactor` default (ours).
pub const DEFAULT_SCRAPE_TIMEOUT_FACTOR: f64 = 0.8;

/// `odbcDriver` default (ours).
pub const DEFAULT_ODBC_DRIVER: &str = "DM8 ODBC DRIVER";
/// `queryTimeout` default, seconds.
pub const DEFAULT_QUERY_TIMEOUT_SECS: u64 = 5;
/// `queryTimeout` upper bound, seconds.
pub const MAX_QUERY_TIMEOUT_SECS: i64 = 300;
/// `maxOpenConns` default.
pub const DEFAULT_MAX_OPEN_CONNS: u32 = 10;
/// `maxOpenConns` upper bound.
pub const MAX_MAX_OPEN_CONNS: i64 = 100;
/// `connMaxLifetime` default, minutes.
pub const DEFAULT_CONN_MAX_LIFETIME_MIN: u64 = 30;
/// `bigKeyDataCacheTime` default, minutes.
pub const DEFAULT_BIG_KEY_DATA_CACHE_MIN: u64 = 60;
/// `alarmKeyCacheTime` default, minutes.
pub const DEFAULT_ALARM_KEY_CACHE_MIN: u64 = 5;
/// `slowSqlTime` default, milliseconds.
pub const DEFAULT_SLOW_SQL_TIME_MS: u64 = 10_000;
/// `slowSqlMaxRows` default.
pub const DEFAULT_SLOW_SQL_MAX_ROWS: u32 = 10;
/// `priority` default (ours): 1 high … 3 low.
pub const DEFAULT_PRIORITY: u8 = 2;

impl Default for GlobalConfig {
    /// Every global key at its default (what an empty file gives).
    fn default() -> Self {
        GlobalConfig {
            listen_address: DEFAULT_LISTEN_ADDRESS.to_string(),
            metric_path: DEFAULT_METRIC_PATH.to_string(),
            log_level: LogLevel::Info,
            log_max_size_mb: DEFAULT_LOG_MAX_SIZE_MB,
            log_max_backups: DEFAULT_LOG_MAX_BACKUPS,
            log_max_age_days: DEFAULT_LOG_MAX_AGE_DAYS,
            log_dir: Some(PathBuf::from(DEFAULT_LOG_DIR)),
            encode_config_pwd: false,
            enable_basic_auth: false,
            basic_auth_username: String::new(),
            basic_auth_password: Secret::default(),
            retry_interval: Duration::from_secs(DEFAULT_RETRY_INTERVAL_SECS),
            enable_health_ping: true,
            global_timeout: Duration::from_secs(DEFAULT_GLOBAL_TIMEOUT_SECS),
            collection_mode: CollectionMode::Blocking,
            collect_strategy: CollectStrategy::Concurrent,
            max_concurrent_groups: DEFAULT_MAX_CONCURRENT_GROUPS,
            group_timeout: Duration::from_secs(DEFAULT_GROUP_TIMEOUT_SECS),
            scrape_timeout_factor: DEFAULT_SCRAPE_TIMEOUT_FACTOR,
        }
    }
}

impl DatasourceConfig {
    /// A datasource named `name` with every key at its default and no connection settings
    /// (`db_host` None, empty user and password). Meant for tests and programmatic setups;
    /// files go through [`crate::load_file`], which validates.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        DatasourceConfig {
            description: format!("DataSource: {name}"),
            name,
            enabled: true,
            connection: ConnectionSettings::default(),
            big_key_data_cache_time: Duration::from_secs(DEFAULT_BIG_KEY_DATA_CACHE_MIN * 60),
            alarm_key_cache_time: Duration::from_secs(DEFAULT_ALARM_KEY_CACHE_MIN * 60),
            check_slow_sql: false,
            slow_sql_time: Duration::from_millis(DEFAULT_SLOW_SQL_TIME_MS),
            slow_sql_max_rows: DEFAULT_SLOW_SQL_MAX_ROWS,
            register_host_metrics: false,
            register_database_metrics: true,
            register_dmhs_metrics: false,
            register_custom_metrics: true,
            priority: DEFAULT_PRIORITY,
            labels: Vec::new(),
            custom_metrics_file: None,
            disabled_collectors: Vec::new(),
            plugins: Vec::new(),
        }
    }
}

impl Default for ConnectionSettings {
    /// No host, user or password; every pool and timeout key at its default.
    fn default() -> Self {
        ConnectionSettings {
            db_host: None,
            db_user: String::new(),
            db_pwd: Secret::default(),
            odbc_driver: DEFAULT_ODBC_DRIVER.to_string(),
            odbc_connection_string: None,
            query_timeout: Duration::from_secs(DEFAULT_QUERY_TIMEOUT_SECS),
            max_open_conns: DEFAULT_MAX_OPEN_CONNS,
            max_idle_conns: DEFAULT_MAX_OPEN_CONNS,
            conn_max_lifetime: Duration::from_secs(DEFAULT_CONN_MAX_LIFETIME_MIN * 60),
            connection_init_sql: Vec::new(),
        }
    }
}
