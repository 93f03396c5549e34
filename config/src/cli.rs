//! CLI mode (`--dbHost --dbUser --dbPwd`, docs/UPSTREAM.md §1.7) and CLI overrides of global keys.

use std::fmt;

use crate::build::{apply_global, build};
use crate::error::ConfigError;
use crate::ident::split_db_host;
use crate::model::ConfigOrigin;
use crate::raw::{Ctx, Entry, RawConfig, RawDatasource, Section, Val};
use crate::schema::Config;

/// The `file` of errors raised from command-line values.
pub const CLI_SOURCE: &str = "command line";

/// The datasource given with `--dbHost --dbUser --dbPwd` and its optional per-datasource
/// flags. `None` (or 0 for numbers) means the default. `Debug` hides the password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CliDatasource {
    /// `--dbHost`.
    pub db_host: String,
    /// `--dbUser`.
    pub db_user: String,
    /// `--dbPwd`: plaintext or `ENC(...)` (decrypted, unlike upstream).
    pub db_pwd: String,
    /// `--queryTimeout` (seconds, 1–300).
    pub query_timeout: Option<i64>,
    /// `--maxOpenConns` (1–100).
    pub max_open_conns: Option<i64>,
    /// `--connMaxLifetime` (minutes).
    pub conn_max_lifetime: Option<i64>,
    /// `--checkSlowSql`.
    pub check_slow_sql: Option<bool>,
    /// `--slowSqlTime` (milliseconds).
    pub slow_sql_time: Option<i64>,
    /// `--slowSqlLimitRows` (TOML `slowSqlMaxRows`).
    pub slow_sql_limit_rows: Option<i64>,
    /// `--registerHostMetrics`.
    pub register_host_metrics: Option<bool>,
    /// `--registerDatabaseMetrics`.
    pub register_database_metrics: Option<bool>,
    /// `--registerDmhsMetrics`.
    pub register_dmhs_metrics: Option<bool>,
    /// `--registerCustomMetrics` (no effect: CLI mode has no customMetricsFile).
    pub register_custom_metrics: Option<bool>,
    /// `--bigKeyDataCacheTime` (minutes).
    pub big_key_data_cache_time: Option<i64>,
    /// `--alarmKeyCacheTime` (minutes).
    pub alarm_key_cache_time: Option<i64>,
}

impl fmt::Debug for CliDatasource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CliDatasource")
            .field("db_host", &self.db_host)
            .field("db_user", &self.db_user)
            .field("db_pwd", &"***")
            .field("query_timeout", &self.query_timeout)
            .field("max_open_conns", &self.max_open_conns)
            .field("conn_max_lifetime", &self.conn_max_lifetime)
            .field("check_slow_sql", &self.check_slow_sql)
            .field("slow_sql_time", &self.slow_sql_time)
            .field("slow_sql_limit_rows", &self.slow_sql_limit_rows)
            .field("register_host_metrics", &self.register_host_metrics)
            .field("register_database_metrics", &self.register_database_metrics)
            .field("register_dmhs_metrics", &self.register_dmhs_metrics)
            .field("register_custom_metrics", &self.register_custom_metrics)
            .field("big_key_data_cache_time", &self.big_key_data_cache_time)
            .field("alarm_key_cache_time", &self.alarm_key_cache_time)
            .finish()
    }
}

/// Global flags given explicitly on the command line; each `Some` overrides the file (in
/// every mode, unlike upstream where they only applied in CLI mode). `Debug` hides the
/// password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct CliGlobals {
    /// `--listenAddress`.
    pub listen_address: Option<String>,
    /// `--metricPath`.
    pub metric_path: Option<String>,
    /// `--logLevel`.
    pub log_level: Option<String>,
    /// `--log.format` (`text`, `logfmt`, `json`).
    pub log_format: Option<String>,
    /// `--logMaxSize` (MiB).
    pub log_max_size: Option<i64>,
    /// `--logMaxBackups`.
    pub log_max_backups: Option<i64>,
    /// `--logMaxAge` (days).
    pub log_max_age: Option<i64>,
    /// `--enableBasicAuth`.
    pub enable_basic_auth: Option<bool>,
    /// `--basicAuthUsername`.
    pub basic_auth_username: Option<String>,
    /// `--basicAuthPassword` (plaintext, bcrypt hash or `ENC(...)`).
    pub basic_auth_password: Option<String>,
    /// `--globalTimeoutSeconds`.
    pub global_timeout_seconds: Option<i64>,
    /// `--collectionMode` (validated, unlike upstream).
    pub collection_mode: Option<String>,
    /// `--enableHealthPing`.
    pub enable_health_ping: Option<bool>,
}

impl fmt::Debug for CliGlobals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CliGlobals")
            .field("listen_address", &self.listen_address)
            .field("metric_path", &self.metric_path)
            .field("log_level", &self.log_level)
            .field("log_format", &self.log_format)
            .field("log_max_size", &self.log_max_size)
            .field("log_max_backups", &self.log_max_backups)
            .field("log_max_age", &self.log_max_age)
            .field("enable_basic_auth", &self.enable_basic_auth)
            .field("basic_auth_username", &self.basic_auth_username)
            .field("basic_auth_password", &self.basic_auth_password.as_ref().map(|_| "***"))
            .field("global_timeout_seconds", &self.global_timeout_seconds)
            .field("collection_mode", &self.collection_mode)
            .field("enable_health_ping", &self.enable_health_ping)
            .finish()
    }
}

fn push(sec: &mut Section, key: &'static str, flag: &str, val: Option<Val>) {
    if let Some(val) = val {
        sec.entries.push(Entry { key, written: format!("--{flag}"), line: 0, val });
    }
}

fn cli_ctx() -> Ctx {
    let base = std::env::current_dir().unwrap_or_default();
    Ctx::new(CLI_SOURCE, base)
}

/// The CLI datasource name: `cmdline_<host before the first colon>` (as upstream; an IPv6
/// address in brackets gives the address).
pub fn cli_datasource_name(db_host: &str) -> String {
    let h = db_host.trim();
    let host = if h.starts_with('[') {
        split_db_host(h).0
    } else {
        let h = h.split_once('?').map_or(h, |(a, _)| a);
        h.split_once(':').map_or(h, |(a, _)| a).to_string()
    };
    format!("cmdline_{host}")
}

/// Builds a configuration from the CLI datasource alone (no file): one datasource named
/// `cmdline_<host>`, global keys at their defaults (apply [`CliGlobals`] afterwards with
/// [`apply_cli_globals`]). Validated like a file; `--dbPwd ENC(...)` is decrypted.
pub fn from_cli(ds: &CliDatasource) -> Result<Config, ConfigError> {
    let mut ctx = cli_ctx();
    let mut s = Section::default();
    let text = |v: &str| Some(Val::Str(v.to_string()));
    let int = |v: Option<i64>| v.map(Val::Int);
    let boolean = |v: Option<bool>| v.map(Val::Bool);
    push(&mut s, "name", "dbHost", text(&cli_datasource_name(&ds.db_host)));
    push(
        &mut s,
        "description",
        "dbHost",
        text(&format!("DataSource from command line (Host: {})", ds.db_host)),
    );
    push(&mut s, "dbHost", "dbHost", text(&ds.db_host));
    push(&mut s, "dbUser", "dbUser", text(&ds.db_user));
    push(&mut s, "dbPwd", "dbPwd", text(&ds.db_pwd));
    push(&mut s, "queryTimeout", "queryTimeout", int(ds.query_timeout));
    push(&mut s, "maxOpenConns", "maxOpenConns", int(ds.max_open_conns));
    push(&mut s, "connMaxLifetime", "connMaxLifetime", int(ds.conn_max_lifetime));
    push(&mut s, "checkSlowSQL", "checkSlowSql", boolean(ds.check_slow_sql));
    push(&mut s, "slowSqlTime", "slowSqlTime", int(ds.slow_sql_time));
    push(&mut s, "slowSqlMaxRows", "slowSqlLimitRows", int(ds.slow_sql_limit_rows));
    push(&mut s, "registerHostMetrics", "registerHostMetrics", boolean(ds.register_host_metrics));
    push(
        &mut s,
        "registerDatabaseMetrics",
        "registerDatabaseMetrics",
        boolean(ds.register_database_metrics),
    );
    push(&mut s, "registerDmhsMetrics", "registerDmhsMetrics", boolean(ds.register_dmhs_metrics));
    push(
        &mut s,
        "registerCustomMetrics",
        "registerCustomMetrics",
        boolean(ds.register_custom_metrics),
    );
    push(&mut s, "bigKeyDataCacheTime", "bigKeyDataCacheTime", int(ds.big_key_data_cache_time));
    push(&mut s, "alarmKeyCacheTime", "alarmKeyCacheTime", int(ds.alarm_key_cache_time));
    let raw = RawConfig {
        global: Section::default(),
        datasources: vec![RawDatasource { index: 1, line: 0, keys: s, plugins: Vec::new() }],
    };
    let cfg = build(&mut ctx, &raw, ConfigOrigin::Cli);
    finish(ctx, cfg)
}

/// Applies the explicitly given global flags over `cfg.global` (file, legacy or CLI mode).
/// Invalid values are an error naming the flag; warnings are appended to `cfg.warnings`.
pub fn apply_cli_globals(cfg: &mut Config, g: &CliGlobals) -> Result<(), ConfigError> {
    let mut ctx = cli_ctx();
    let mut s = Section::default();
    let text = |v: &Option<String>| v.as_ref().map(|v| Val::Str(v.clone()));
    push(&mut s, "listenAddress", "listenAddress", text(&g.listen_address));
    push(&mut s, "metricPath", "metricPath", text(&g.metric_path));
    push(&mut s, "logLevel", "logLevel", text(&g.log_level));
    push(&mut s, "logFormat", "log.format", text(&g.log_format));
    push(&mut s, "logMaxSize", "logMaxSize", g.log_max_size.map(Val::Int));
    push(&mut s, "logMaxBackups", "logMaxBackups", g.log_max_backups.map(Val::Int));
    push(&mut s, "logMaxAge", "logMaxAge", g.log_max_age.map(Val::Int));
    push(&mut s, "enableBasicAuth", "enableBasicAuth", g.enable_basic_auth.map(Val::Bool));
    push(&mut s, "basicAuthUsername", "basicAuthUsername", text(&g.basic_auth_username));
    push(&mut s, "basicAuthPassword", "basicAuthPassword", text(&g.basic_auth_password));
    push(
        &mut s,
        "globalTimeoutSeconds",
        "globalTimeoutSeconds",
        g.global_timeout_seconds.map(Val::Int),
    );
    push(&mut s, "collectionMode", "collectionMode", text(&g.collection_mode));
    push(&mut s, "enableHealthPing", "enableHealthPing", g.enable_health_ping.map(Val::Bool));
    let mut global = cfg.global.clone();
    apply_global(&mut ctx, &s, &mut global);
    if !ctx.problems.is_empty() {
        return Err(ConfigError::Invalid { file: ctx.file, problems: ctx.problems });
    }
    cfg.global = global;
    cfg.warnings.append(&mut ctx.warnings);
    Ok(())
}

/// Turns collected problems into the error, or hands back the config.
pub(crate) fn finish(mut ctx: Ctx, cfg: Config) -> Result<Config, ConfigError> {
    // In file order; problems without a line (whole-file ones) first. Stable.
    ctx.problems.sort_by_key(|p| p.line.unwrap_or(0));
    if ctx.problems.is_empty() {
        Ok(cfg)
    } else {
        Err(ConfigError::Invalid { file: ctx.file, problems: ctx.problems })
    }
}
