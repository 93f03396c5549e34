//! Named defaults of every key (upstream v1.2 values unless marked "ours").
//! The `Default` impls that use them live beside the structs, in `schema/global.rs` and
//! `schema/datasource.rs`.

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
