//! `[[datasource]]` and `[[datasource.plugin]]` keys: [`DatasourceConfig`],
//! [`ConnectionSettings`], their defaults and the declaration of every key.
//!
//! To add a datasource key: a field here (in [`ConnectionSettings`] when it changes how
//! connections are made or pooled), its default in [`DatasourceConfig::new`] or
//! `ConnectionSettings::default`, and a [`Key`] in [`DATASOURCE`]; then use the field in core
//! and add a test (see CONTRIBUTING.md).

use std::path::PathBuf;
use std::time::Duration;

use super::Kind;
use super::{arr, n, path, q, Apply, Key, Sample};
use crate::defaults::*;
use crate::model::{PluginConfig, Secret};

/// The settings of a datasource that decide how its connections are made and pooled.
///
/// A reload keeps a datasource's pool (and its health state) exactly when its
/// `ConnectionSettings` compare equal (`core/src/runtime/build.rs` `same_connection`). A new
/// key that changes how connections are opened or pooled belongs here, so that the reuse
/// decision cannot forget it.
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

fn mins(d: Duration) -> Option<String> {
    n(d.as_secs() / 60)
}

/// `secs × unit` as a Duration; false when it overflows.
fn set_dur(field: &mut Duration, v: u64, unit: u64) -> bool {
    v.checked_mul(unit).map(|s| *field = Duration::from_secs(s)).is_some()
}

/// Every `[[datasource]]` key, in default.toml order.
pub(crate) const DATASOURCE: &[Key<DatasourceConfig>] = &[
    Key {
        name: "name",
        default: "required",
        sample: Sample::Set("\"dm8\""),
        doc: "Unique name. The `datasource` label is `name@host:port` (or `name` without `dbHost`).",
        gloss: "数据源名称",
        zh: "数据源名称（必填，唯一）；指标标签 `datasource` 为 `name@host:port`",
        show: |d| q(&d.name),
        ..Key::BASE
    },
    Key {
        name: "description",
        default: "`\"DataSource: <name>\"`",
        sample: Sample::Set("\"DataSource: dm8\""),
        doc: "Free text.",
        gloss: "描述",
        zh: "描述",
        apply: Apply::Text(|d| &mut d.description),
        show: |d| q(&d.description),
        ..Key::BASE
    },
    Key {
        name: "enabled",
        kind: Kind::Bool,
        default: "`true`",
        sample: Sample::Set("true"),
        doc: "`false`: validated but not connected, and no series.",
        gloss: "是否启用",
        zh: "是否启用；`false` 时只校验，不连接也不输出指标",
        apply: Apply::Bool(|d| &mut d.enabled),
        show: |d| n(d.enabled),
        ..Key::BASE
    },
    Key {
        name: "dbHost",
        aliases: &["host"],
        flag: Some("--dbHost"),
        default: "—",
        sample: Sample::Set("\"127.0.0.1:5236\""),
        doc: "`host:port`, `[v6]:port` or a `dm_svc.conf` service name; `?KEY=value&…` adds DM connection keywords. Required unless `odbcConnectionString` is set.",
        gloss: "数据库地址",
        zh: "`host:port`、`[IPv6]:port` 或 `dm_svc.conf` 服务名；`?键=值&…` 追加达梦连接参数；未设置 `odbcConnectionString` 时必填",
        show: |d| d.connection.db_host.as_deref().and_then(q),
        ..Key::BASE
    },
    Key {
        name: "dbUser",
        aliases: &["user"],
        flag: Some("--dbUser"),
        default: "—",
        sample: Sample::Set("\"SYSDBA\""),
        doc: "Database user (required with `dbHost`).",
        gloss: "用户名",
        zh: "数据库用户名（使用 `dbHost` 时必填）",
        apply: Apply::Text(|d| &mut d.connection.db_user),
        show: |d| q(&d.connection.db_user),
        ..Key::BASE
    },
    Key {
        name: "dbPwd",
        aliases: &["dbPassword", "password"],
        flag: Some("--dbPwd"),
        secret: true,
        default: "—",
        sample: Sample::Set("\"SYSDBA\""),
        doc: "Password: plaintext or `ENC(...)` from `dameng_exporter --encryptPwd P`; for real secrecy use `dbPwdFile` or `${ENV}`.",
        gloss: "密码",
        zh: "数据库密码：明文或 `--encryptPwd` 生成的 `ENC(...)`（保密请用 `dbPwdFile` 或环境变量）",
        ..Key::BASE
    },
    Key {
        name: "dbPwdFile",
        ours: true,
        secret: true,
        default: "—",
        sample: Sample::Commented("\"secrets/dm8.pwd\""),
        doc: "Read the password from this file instead (relative to the config file; trailing newline ignored). Do not set both.",
        gloss: "密码文件",
        zh: "从文件读取密码（相对配置文件，忽略末尾换行），不可与 `dbPwd` 同时设置",
        ..Key::BASE
    },
    Key {
        name: "odbcDriver",
        ours: true,
        default: "`\"DM8 ODBC DRIVER\"`",
        sample: Sample::Set("\"DM8 ODBC DRIVER\""),
        doc: "The `odbcinst.ini` section of DM's ODBC driver.",
        gloss: "ODBC 驱动名",
        zh: "odbcinst.ini 中达梦驱动的段名",
        apply: Apply::Text(|d| &mut d.connection.odbc_driver),
        show: |d| q(&d.connection.odbc_driver),
        ..Key::BASE
    },
    Key {
        name: "odbcConnectionString",
        ours: true,
        secret: true,
        default: "—",
        sample: Sample::Commented("\"DRIVER={DM8 ODBC DRIVER};SERVER=127.0.0.1;TCP_PORT=5236\""),
        doc: "A full ODBC connection string used instead of the one built from `dbHost`; `dbUser`/`dbPwd` fill `UID`/`PWD` when it has none (a value with `;`, `{` or `}` is refused then: put it in the string yourself, quoted as your driver needs, or in a DSN). `ENC()` is not applied to it.",
        gloss: "完整连接串",
        zh: "完整 ODBC 连接串，代替由 `dbHost` 生成的连接串；`dbUser`/`dbPwd` 仅在串中没有 `UID`/`PWD` 时追加，含 `;`、`{`、`}` 的值此时会被拒绝（请自行写入连接串或 DSN）",
        ..Key::BASE
    },
    Key {
        name: "queryTimeout",
        kind: Kind::Int,
        flag: Some("--queryTimeout"),
        default: "`5`",
        sample: Sample::Set("5"),
        doc: "Seconds, 1–300: each query, login and ping.",
        gloss: "查询超时（秒）",
        zh: "查询、登录与健康检查超时（秒，1–300）",
        apply: Apply::Count {
            default: DEFAULT_QUERY_TIMEOUT_SECS,
            range: Some((1, MAX_QUERY_TIMEOUT_SECS as u64, " (seconds)")),
            set: |d, v| set_dur(&mut d.connection.query_timeout, v, 1),
        },
        show: |d| n(d.connection.query_timeout.as_secs()),
        ..Key::BASE
    },
    Key {
        name: "maxOpenConns",
        kind: Kind::Int,
        flag: Some("--maxOpenConns"),
        default: "`10`",
        sample: Sample::Set("10"),
        doc: "1–100: database sessions at most for this datasource, **in total**: health checks, built-in collectors, custom metrics (their read-only sessions included) and plugins together (`dameng_exporter_pool_connections`); also the most queries run at once on it. Give the monitoring user at least this many sessions (DM `SESSION_PER_USER`).",
        gloss: "会话总数上限",
        zh: "该数据源的**会话总数**上限（1–100）：健康检查、内置采集器、自定义指标（含其只读会话）和插件合计不超过此值（见 `dameng_exporter_pool_connections`），也是同时执行的查询数上限；监控用户的会话配额（达梦 `SESSION_PER_USER`）应不低于它",
        apply: Apply::Count {
            default: DEFAULT_MAX_OPEN_CONNS as u64,
            range: Some((1, MAX_MAX_OPEN_CONNS as u64, "")),
            set: |d, v| u32::try_from(v).map(|v| d.connection.max_open_conns = v).is_ok(),
        },
        show: |d| n(d.connection.max_open_conns),
        ..Key::BASE
    },
    Key {
        name: "maxIdleConns",
        kind: Kind::Int,
        default: "`= maxOpenConns`",
        sample: Sample::Set("10"),
        doc: "Idle sessions kept over all of the datasource's pools, in total (extra ones are closed when returned); at most `maxOpenConns`.",
        gloss: "空闲会话总数上限",
        zh: "所有连接池合计保留的空闲会话上限，默认且不超过 `maxOpenConns`",
        show: |d| n(d.connection.max_idle_conns),
        ..Key::BASE
    },
    Key {
        name: "connMaxLifetime",
        kind: Kind::Int,
        flag: Some("--connMaxLifetime"),
        default: "`30`",
        sample: Sample::Set("30"),
        doc: "Minutes before a pooled connection is replaced.",
        gloss: "连接最长存活（分钟）",
        zh: "连接最长存活时间（分钟）",
        apply: Apply::Count {
            default: DEFAULT_CONN_MAX_LIFETIME_MIN,
            range: None,
            set: |d, v| set_dur(&mut d.connection.conn_max_lifetime, v, 60),
        },
        show: |d| mins(d.connection.conn_max_lifetime),
        ..Key::BASE
    },
    Key {
        name: "bigKeyDataCacheTime",
        kind: Kind::Int,
        flag: Some("--bigKeyDataCacheTime"),
        default: "`60`",
        sample: Sample::Set("60"),
        doc: "Minutes the tablespace, datafile and version results are reused.",
        gloss: "大数据量指标缓存（分钟）",
        zh: "表空间、数据文件、版本信息缓存时间（分钟）",
        apply: Apply::Count {
            default: DEFAULT_BIG_KEY_DATA_CACHE_MIN,
            range: None,
            set: |d, v| set_dur(&mut d.big_key_data_cache_time, v, 60),
        },
        show: |d| mins(d.big_key_data_cache_time),
        ..Key::BASE
    },
    Key {
        name: "alarmKeyCacheTime",
        kind: Kind::Int,
        flag: Some("--alarmKeyCacheTime"),
        default: "`5`",
        sample: Sample::Set("5"),
        doc: "Minutes `dmdbms_switching_occurs` stays 0 after a mode switch.",
        gloss: "切换告警锁存（分钟）",
        zh: "主备切换告警锁存时间（分钟）",
        apply: Apply::Count {
            default: DEFAULT_ALARM_KEY_CACHE_MIN,
            range: None,
            set: |d, v| set_dur(&mut d.alarm_key_cache_time, v, 60),
        },
        show: |d| mins(d.alarm_key_cache_time),
        ..Key::BASE
    },
    Key {
        name: "checkSlowSQL",
        kind: Kind::Bool,
        legacy: Some("checkSlowSql"),
        flag: Some("--checkSlowSql"),
        default: "`false`",
        sample: Sample::Set("false"),
        doc: "Collect `dmdbms_slow_sql_info`.",
        gloss: "采集慢 SQL",
        zh: "是否采集慢 SQL",
        apply: Apply::Bool(|d| &mut d.check_slow_sql),
        show: |d| n(d.check_slow_sql),
        ..Key::BASE
    },
    Key {
        name: "slowSqlTime",
        kind: Kind::Int,
        flag: Some("--slowSqlTime"),
        default: "`10000`",
        sample: Sample::Set("10000"),
        doc: "Slow SQL threshold in milliseconds.",
        gloss: "慢 SQL 阈值（毫秒）",
        zh: "慢 SQL 阈值（毫秒）",
        apply: Apply::Count {
            default: DEFAULT_SLOW_SQL_TIME_MS,
            range: None,
            set: |d, v| {
                d.slow_sql_time = Duration::from_millis(v);
                true
            },
        },
        show: |d| n(d.slow_sql_time.as_millis()),
        ..Key::BASE
    },
    Key {
        name: "slowSqlMaxRows",
        kind: Kind::Int,
        aliases: &["slowSqlLimitRows"],
        legacy: Some("slowSqlLimitRows"),
        flag: Some("--slowSqlLimitRows"),
        default: "`10`",
        sample: Sample::Set("10"),
        doc: "At most this many slow statements are exported.",
        gloss: "慢 SQL 最大行数",
        zh: "慢 SQL 最大返回行数",
        apply: Apply::Count {
            default: DEFAULT_SLOW_SQL_MAX_ROWS as u64,
            range: None,
            set: |d, v| u32::try_from(v).map(|v| d.slow_sql_max_rows = v).is_ok(),
        },
        show: |d| n(d.slow_sql_max_rows),
        ..Key::BASE
    },
    Key {
        name: "registerHostMetrics",
        kind: Kind::Bool,
        flag: Some("--registerHostMetrics"),
        default: "`false`",
        sample: Sample::Set("false"),
        doc: "DM process counts from `/proc` (Linux; the exporter runs on the database host).",
        gloss: "主机进程指标",
        zh: "主机上达梦进程数（采集器需与数据库在同一主机，仅 Linux）",
        apply: Apply::Bool(|d| &mut d.register_host_metrics),
        show: |d| n(d.register_host_metrics),
        ..Key::BASE
    },
    Key {
        name: "registerDatabaseMetrics",
        kind: Kind::Bool,
        flag: Some("--registerDatabaseMetrics"),
        default: "`true`",
        sample: Sample::Set("true"),
        doc: "The built-in database collectors.",
        gloss: "数据库指标",
        zh: "是否采集数据库指标（内置采集器）",
        apply: Apply::Bool(|d| &mut d.register_database_metrics),
        show: |d| n(d.register_database_metrics),
        ..Key::BASE
    },
    Key {
        name: "registerDmhsMetrics",
        kind: Kind::Bool,
        flag: Some("--registerDmhsMetrics"),
        default: "`false`",
        sample: Sample::Set("false"),
        doc: "Accepted; no DMHS (data replication service) collector exists (as upstream).",
        gloss: "DMHS 指标",
        zh: "兼容保留（与上游相同，无 DMHS 采集器）",
        apply: Apply::Bool(|d| &mut d.register_dmhs_metrics),
        show: |d| n(d.register_dmhs_metrics),
        ..Key::BASE
    },
    Key {
        name: "registerCustomMetrics",
        kind: Kind::Bool,
        flag: Some("--registerCustomMetrics"),
        default: "`true`",
        sample: Sample::Set("true"),
        doc: "Load the custom SQL metrics of `customMetricsFile`.",
        gloss: "自定义指标",
        zh: "是否启用 `customMetricsFile` 中的自定义指标",
        apply: Apply::Bool(|d| &mut d.register_custom_metrics),
        show: |d| n(d.register_custom_metrics),
        ..Key::BASE
    },
    Key {
        name: "priority",
        kind: Kind::Int,
        ours: true,
        default: "`2`",
        sample: Sample::Set("2"),
        doc: "1 high, 2 normal, 3 low: the order in `serial`, the groups in `hybrid`.",
        gloss: "优先级",
        zh: "采集优先级：1 高、2 中、3 低（`serial` 的顺序、`hybrid` 的分组）",
        show: |d| n(d.priority),
        ..Key::BASE
    },
    Key {
        name: "labels",
        default: "`\"\"`",
        sample: Sample::Set("\"\""),
        doc: "`k1=v1,k2=v2`: constant labels on every series of this datasource. Names match `[a-zA-Z_][a-zA-Z0-9_]*`, must not start with `__` and must not be `datasource`.",
        gloss: "附加标签",
        zh: "附加标签，格式 `k1=v1,k2=v2`，加在本数据源的每条指标上",
        show: |d| {
            let l: Vec<String> = d.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            q(&l.join(","))
        },
        ..Key::BASE
    },
    Key {
        name: "customMetricsFile",
        aliases: &["customMetrics"],
        default: "—",
        sample: Sample::Set("\"\""),
        doc: "Custom metrics file (`[[metric]]` TOML), relative to the config file; `\"\"` = none. It must exist when `registerCustomMetrics = true` and the datasource is enabled. Try one with `dameng_exporter --test-custom-metrics FILE --datasource NAME`; a file with an error disables this datasource's custom metrics only.",
        gloss: "自定义指标文件",
        zh: "自定义指标文件（相对配置文件）；空表示不使用。可用 `--test-custom-metrics` 试运行；文件有误时仅禁用本数据源的自定义指标",
        show: |d| d.custom_metrics_file.as_deref().and_then(path),
        ..Key::BASE
    },
    Key {
        name: "disabledCollectors",
        kind: Kind::StrArray,
        ours: true,
        default: "`[]`",
        sample: Sample::Set("[]"),
        doc: "Built-in collectors switched off for this datasource (names from `--list-collectors`).",
        gloss: "禁用的采集器",
        zh: "本数据源禁用的内置采集器（名称见 `--list-collectors`）",
        show: |d| arr(d.disabled_collectors.iter().map(String::as_str)),
        ..Key::BASE
    },
    Key {
        name: "connectionInitSql",
        kind: Kind::StrArray,
        ours: true,
        default: "`[]`",
        sample: Sample::Set("[]"),
        doc: "Statements run once on every new connection, e.g. `[\"SET SCHEMA MON\"]`.",
        gloss: "连接初始化语句",
        zh: "每个新连接建立后执行的语句，例如 `[\"SET SCHEMA MON\"]`",
        show: |d| arr(d.connection.connection_init_sql.iter().map(String::as_str)),
        ..Key::BASE
    },
];

/// `[[datasource.plugin]]` keys (besides the `config` table).
pub(crate) const PLUGIN: &[Key<PluginConfig>] = &[Key {
    name: "path",
    ours: true,
    default: "required",
    sample: Sample::Commented("\"plugins/libmy_collector.so\""),
    doc: "Library of a collector plugin, relative to the config file; the optional `[datasource.plugin.config]` table is handed to the plugin as TOML text.",
    gloss: "插件路径",
    zh: "插件动态库路径（相对配置文件）；可选的 `[datasource.plugin.config]` 表以 TOML 文本传给插件",
    show: |p| path(&p.path),
    ..Key::BASE
}];
