//! The validated configuration model handed to core. Only [`Config`] leaves this crate.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A secret string (database or basic-auth password). `Debug` and `Display` never show it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a plaintext secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The plaintext. Call only where the value is needed (connection string, auth check).
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// True when no secret is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// `logLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// debug
    Debug,
    /// info (default; also what upstream used for unknown values)
    Info,
    /// warn
    Warn,
    /// error
    Error,
}

/// `collectionMode`: how the per-scrape deadline is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectionMode {
    /// Wait for every collector (bounded by queryTimeout); `globalTimeoutSeconds` only marks slow ones.
    Blocking,
    /// Hard cut-off at `globalTimeoutSeconds`: return what finished.
    Fast,
}

/// `collectStrategy`: how datasources are scheduled within one scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectStrategy {
    /// One datasource after the other, by priority.
    Serial,
    /// All datasources at once.
    Concurrent,
    /// Priority groups (1 high … 3 low), at most `maxConcurrentGroups` groups in flight.
    Hybrid,
}

/// Where the configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOrigin {
    /// A multi-source or single-source TOML file.
    Toml(PathBuf),
    /// A legacy v1.1 `key=value` file, converted in memory.
    Legacy(PathBuf),
    /// `--dbHost --dbUser --dbPwd` on the command line, no file.
    Cli,
}

/// Global (process-wide) settings.
#[derive(Debug, Clone)]
pub struct GlobalConfig {
    /// `listenAddress`, default `:9200`.
    pub listen_address: String,
    /// `metricPath`, default `/metrics`.
    pub metric_path: String,
    /// `logLevel`, default info.
    pub log_level: LogLevel,
    /// `logMaxSize` in MiB, default 10.
    pub log_max_size_mb: u64,
    /// `logMaxBackups`, default 3.
    pub log_max_backups: usize,
    /// `logMaxAge` in days, default 30.
    pub log_max_age_days: u64,
    /// `logDir` (ours), default `./logs`; empty string disables the file sink.
    pub log_dir: Option<PathBuf>,
    /// `encodeConfigPwd`, default false.
    pub encode_config_pwd: bool,
    /// `enableBasicAuth`, default false.
    pub enable_basic_auth: bool,
    /// `basicAuthUsername`.
    pub basic_auth_username: String,
    /// `basicAuthPassword`: plaintext, bcrypt hash (`$2a$`/`$2b$`/`$2y$`) or decrypted `ENC()`.
    pub basic_auth_password: Secret,
    /// `retryIntervalSeconds`, default 30 s.
    pub retry_interval: Duration,
    /// `enableHealthPing`, default true.
    pub enable_health_ping: bool,
    /// `globalTimeoutSeconds`, default 5 s.
    pub global_timeout: Duration,
    /// `collectionMode`, default blocking.
    pub collection_mode: CollectionMode,
    /// `collectStrategy`, default concurrent.
    pub collect_strategy: CollectStrategy,
    /// `maxConcurrentGroups`, default 3.
    pub max_concurrent_groups: usize,
    /// `groupTimeout` in seconds, default 60 s.
    pub group_timeout: Duration,
    /// `scrapeTimeoutFactor` (ours), 0 < x <= 1, default 0.8: the share of Prometheus'
    /// `X-Prometheus-Scrape-Timeout-Seconds` the exporter allows itself per scrape.
    pub scrape_timeout_factor: f64,
}

/// One `[[datasource.plugin]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginConfig {
    /// Library path, resolved against the config file's directory when relative.
    pub path: PathBuf,
    /// The `[datasource.plugin.config]` table, re-serialised as TOML text for the plugin.
    pub config_toml: String,
}

/// The settings of a datasource that decide how its connections are made and pooled.
///
/// A reload keeps a datasource's pool (and its health state) exactly when its
/// `ConnectionSettings` compare equal (`core/src/runtime.rs` `same_connection`). A new key that
/// changes how connections are opened or pooled belongs here, so that the reuse decision
/// cannot forget it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// `dbHost` (`host:port`, `[v6]:port`, service name; may carry `?k=v&…`). None when only
    /// `odbcConnectionString` is given.
    pub db_host: Option<String>,
    /// `dbUser`.
    pub db_user: String,
    /// `dbPwd` (decrypted), or the content of `dbPwdFile`.
    pub db_pwd: Secret,
    /// `odbcDriver`, default `DM8 ODBC DRIVER`.
    pub odbc_driver: String,
    /// `odbcConnectionString`, used instead of the DM string built from dbHost.
    pub odbc_connection_string: Option<Secret>,
    /// `queryTimeout`, 1–300 s, default 5 s.
    pub query_timeout: Duration,
    /// `maxOpenConns`, 1–100, default 10.
    pub max_open_conns: u32,
    /// `maxIdleConns`, default = maxOpenConns, capped at maxOpenConns.
    pub max_idle_conns: u32,
    /// `connMaxLifetime` (minutes in the file), default 30 min.
    pub conn_max_lifetime: Duration,
    /// `connectionInitSql` (ours): statements run once on every new connection, e.g.
    /// `SET SCHEMA MON` on DM, or `ATTACH DATABASE '…' AS SYSJOB` for the SQLite fixture.
    pub connection_init_sql: Vec<String>,
}

/// One `[[datasource]]`, fully defaulted and validated.
#[derive(Debug, Clone)]
pub struct DatasourceConfig {
    /// `name`, unique.
    pub name: String,
    /// `description`, default `DataSource: <name>`.
    pub description: String,
    /// `enabled`, default true.
    pub enabled: bool,
    /// Everything that decides how its connections are made and pooled (compared on reload).
    pub connection: ConnectionSettings,
    /// `bigKeyDataCacheTime` (minutes), default 60 min.
    pub big_key_data_cache_time: Duration,
    /// `alarmKeyCacheTime` (minutes), default 5 min.
    pub alarm_key_cache_time: Duration,
    /// `checkSlowSQL`, default false.
    pub check_slow_sql: bool,
    /// `slowSqlTime` (ms), default 10000 ms.
    pub slow_sql_time: Duration,
    /// `slowSqlMaxRows`, default 10.
    pub slow_sql_max_rows: u32,
    /// `registerHostMetrics`, default false.
    pub register_host_metrics: bool,
    /// `registerDatabaseMetrics`, default true.
    pub register_database_metrics: bool,
    /// `registerDmhsMetrics`, default false.
    pub register_dmhs_metrics: bool,
    /// `registerCustomMetrics`, default true.
    pub register_custom_metrics: bool,
    /// `priority`, 1 (high) … 3 (low), default 2.
    pub priority: u8,
    /// `labels` parsed: `k1=v1,k2=v2`, in file order, duplicates resolved (last wins).
    pub labels: Vec<(String, String)>,
    /// `customMetricsFile`, resolved against the config file's directory when relative.
    pub custom_metrics_file: Option<PathBuf>,
    /// `disabledCollectors` (ours): built-in collector names switched off for this datasource.
    pub disabled_collectors: Vec<String>,
    /// `[[datasource.plugin]]` entries.
    pub plugins: Vec<PluginConfig>,
}

/// A non-fatal finding (unknown key, deprecated key, conversion notice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// Human-readable, names file, line and key.
    pub message: String,
    /// True for unknown keys (errors under `--strict`).
    pub unknown_key: bool,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from.
    pub origin: ConfigOrigin,
    /// Global settings.
    pub global: GlobalConfig,
    /// Every datasource, enabled or not, in file order.
    pub datasources: Vec<DatasourceConfig>,
    /// Warnings found while loading.
    pub warnings: Vec<ConfigWarning>,
}
