//! Global keys: [`GlobalConfig`], its defaults and the declaration of every top-level key.
//!
//! To add a global key: a field here (with rustdoc), its default in `Default`, and a [`Key`]
//! in [`GLOBAL`]; then use the field in core and add a test (see CONTRIBUTING.md).

use std::path::PathBuf;
use std::time::Duration;

use super::Kind;
use super::{f, n, q, Apply, Key, Reload, Sample};
use crate::defaults::*;
use crate::model::{CollectStrategy, CollectionMode, LogFormat, LogLevel, Secret};

/// Global (process-wide) settings.
#[derive(Debug, Clone)]
pub struct GlobalConfig {
    /// `listenAddress`, default `:9200`.
    pub listen_address: String,
    /// `metricPath`, default `/metrics`.
    pub metric_path: String,
    /// `logLevel`, default info.
    pub log_level: LogLevel,
    /// `logFormat` (ours; `--log.format`), default text.
    pub log_format: LogFormat,
    /// `logMaxSize` in MiB, default 10.
    pub log_max_size_mb: u64,
    /// `logMaxBackups`, default 3.
    pub log_max_backups: usize,
    /// `logMaxAge` in days, default 30.
    pub log_max_age_days: u64,
    /// `logDir` (ours), default `./logs`; empty string disables the file sink.
    pub log_dir: Option<PathBuf>,
    /// True when the file sets `logDir` (even to ""): under systemd or in a container the
    /// default is stdout only, an explicit `logDir` still writes the file.
    pub log_dir_explicit: bool,
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

impl Default for GlobalConfig {
    /// Every global key at its default (what an empty file gives).
    fn default() -> Self {
        GlobalConfig {
            listen_address: DEFAULT_LISTEN_ADDRESS.to_string(),
            metric_path: DEFAULT_METRIC_PATH.to_string(),
            log_level: LogLevel::Info,
            log_format: LogFormat::Text,
            log_max_size_mb: DEFAULT_LOG_MAX_SIZE_MB,
            log_max_backups: DEFAULT_LOG_MAX_BACKUPS,
            log_max_age_days: DEFAULT_LOG_MAX_AGE_DAYS,
            log_dir: Some(PathBuf::from(DEFAULT_LOG_DIR)),
            log_dir_explicit: false,
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

const HTTP: &str = "HTTP server / 服务";
const LOG: &str = "logging / 日志";
const SEC: &str = "security / 安全";
const COLLECT: &str = "collection / 采集";

fn secs(d: Duration) -> Option<String> {
    n(d.as_secs())
}

/// Every global key, in default.toml order.
pub(crate) const GLOBAL: &[Key<GlobalConfig>] = &[
    Key {
        name: "listenAddress",
        flag: Some("--listenAddress"),
        reload: Reload::Restart,
        group: HTTP,
        default: "`\":9200\"`",
        sample: Sample::Set("\":9200\""),
        doc: "HTTP listen address, `host:port` or `:port` (all interfaces).",
        gloss: "监听地址",
        zh: "监听地址，`host:port` 或 `:port`（所有网卡）",
        show: |g| q(&g.listen_address),
        ..Key::BASE
    },
    Key {
        name: "metricPath",
        flag: Some("--metricPath"),
        group: HTTP,
        default: "`\"/metrics\"`",
        sample: Sample::Set("\"/metrics\""),
        doc: "URL path of the metrics endpoint.",
        gloss: "指标路径",
        zh: "指标路径",
        show: |g| q(&g.metric_path),
        ..Key::BASE
    },
    Key {
        name: "version",
        group: HTTP,
        default: "`\"\"`",
        sample: Sample::Set("\"\""),
        doc: "Read but ignored (the built-in version is used); kept for upstream compatibility.",
        gloss: "兼容保留",
        zh: "兼容上游，读取但忽略",
        ..Key::BASE
    },
    Key {
        name: "logLevel",
        flag: Some("--logLevel"),
        group: LOG,
        default: "`\"info\"`",
        sample: Sample::Set("\"info\""),
        doc: "`debug`, `info`, `warn` or `error`; anything else falls back to `info` with a warning.",
        gloss: "日志级别",
        zh: "日志级别：debug / info / warn / error",
        show: |g| {
            q(match g.log_level {
                LogLevel::Debug => "debug",
                LogLevel::Info => "info",
                LogLevel::Warn => "warn",
                LogLevel::Error => "error",
            })
        },
        ..Key::BASE
    },
    Key {
        name: "logFormat",
        flag: Some("--log.format"),
        ours: true,
        reload: Reload::Restart,
        group: LOG,
        default: "`\"text\"`",
        sample: Sample::Set("\"text\""),
        doc: "`text` (default), `logfmt` (`ts=… level=… msg=… key=value`) or `json` (one object per line), on the console and in the log file.",
        gloss: "日志格式",
        zh: "日志格式：text（默认）、logfmt 或 json（每行一个 JSON 对象）",
        show: |g| q(g.log_format.as_str()),
        ..Key::BASE
    },
    Key {
        name: "logMaxSize",
        kind: Kind::Int,
        flag: Some("--logMaxSize"),
        reload: Reload::Restart,
        group: LOG,
        default: "`10`",
        sample: Sample::Set("10"),
        doc: "Size in MiB of a log file before it is rotated.",
        gloss: "单个日志文件大小（MB）",
        zh: "单个日志文件大小（MB），超过后轮转",
        apply: Apply::Count {
            default: DEFAULT_LOG_MAX_SIZE_MB,
            range: None,
            set: |g, v| {
                g.log_max_size_mb = v;
                true
            },
        },
        show: |g| n(g.log_max_size_mb),
        ..Key::BASE
    },
    Key {
        name: "logMaxBackups",
        kind: Kind::Int,
        flag: Some("--logMaxBackups"),
        reload: Reload::Restart,
        group: LOG,
        default: "`3`",
        sample: Sample::Set("3"),
        doc: "Number of rotated log files kept.",
        gloss: "保留的日志文件数",
        zh: "保留的历史日志文件个数",
        apply: Apply::Count {
            default: DEFAULT_LOG_MAX_BACKUPS as u64,
            range: None,
            set: |g, v| usize::try_from(v).map(|v| g.log_max_backups = v).is_ok(),
        },
        show: |g| n(g.log_max_backups),
        ..Key::BASE
    },
    Key {
        name: "logMaxAge",
        kind: Kind::Int,
        flag: Some("--logMaxAge"),
        reload: Reload::Restart,
        group: LOG,
        default: "`30`",
        sample: Sample::Set("30"),
        doc: "Days rotated log files are kept.",
        gloss: "日志保留天数",
        zh: "历史日志保留天数",
        apply: Apply::Count {
            default: DEFAULT_LOG_MAX_AGE_DAYS,
            range: None,
            set: |g, v| {
                g.log_max_age_days = v;
                true
            },
        },
        show: |g| n(g.log_max_age_days),
        ..Key::BASE
    },
    Key {
        name: "logDir",
        ours: true,
        reload: Reload::Restart,
        group: LOG,
        default: "`\"logs\"`",
        sample: Sample::Set("\"logs\""),
        doc: "Directory of `dameng_exporter.log`, relative to the working directory; `\"\"` = console only.",
        gloss: "日志目录",
        zh: "日志目录（相对工作目录）；`\"\"` 表示只输出到控制台",
        show: |g| q(&g.log_dir.as_deref().map(|p| p.display().to_string()).unwrap_or_default()),
        ..Key::BASE
    },
    Key {
        name: "encodeConfigPwd",
        kind: Kind::Bool,
        secret: true,
        group: SEC,
        default: "`false`",
        sample: Sample::Set("false"),
        doc: "Rewrite plaintext `dbPwd` values in the file as `ENC(...)` at startup (only those values change; comments and layout are kept; a read-only file gives a warning). `ENC()` is obfuscation, not encryption: use `dbPwdFile` or `${ENV}` for real secrecy.",
        gloss: "启动时加密配置文件中的明文密码",
        zh: "启动时把配置文件中的明文 `dbPwd` 改写为 `ENC(...)`（只改密码值，保留注释和格式）；这只是混淆而非加密，真正保密请用 `dbPwdFile` 或环境变量",
        apply: Apply::Bool(|g| &mut g.encode_config_pwd),
        show: |g| n(g.encode_config_pwd),
        ..Key::BASE
    },
    Key {
        name: "enableBasicAuth",
        kind: Kind::Bool,
        flag: Some("--enableBasicAuth"),
        group: SEC,
        default: "`false`",
        sample: Sample::Set("false"),
        doc: "Protect the metrics path and the status page with HTTP basic auth.",
        gloss: "启用 Basic 认证",
        zh: "是否启用 HTTP Basic 认证",
        apply: Apply::Bool(|g| &mut g.enable_basic_auth),
        show: |g| n(g.enable_basic_auth),
        ..Key::BASE
    },
    Key {
        name: "basicAuthUsername",
        flag: Some("--basicAuthUsername"),
        group: SEC,
        default: "`\"\"`",
        sample: Sample::Set("\"\""),
        doc: "Basic-auth user name.",
        gloss: "用户名",
        zh: "Basic 认证用户名",
        show: |g| q(&g.basic_auth_username),
        ..Key::BASE
    },
    Key {
        name: "basicAuthPassword",
        flag: Some("--basicAuthPassword"),
        secret: true,
        group: SEC,
        default: "`\"\"`",
        sample: Sample::Set("\"\""),
        doc: "Basic-auth password: plaintext, a bcrypt hash (`$2a$`, `$2b$`, `$2y$`; make one with `dameng_exporter --encryptBasicAuthPwd P`) or `ENC(...)`.",
        gloss: "密码",
        zh: "Basic 认证密码：明文、bcrypt 哈希（用 `--encryptBasicAuthPwd` 生成）或 `ENC(...)`",
        ..Key::BASE
    },
    Key {
        name: "retryIntervalSeconds",
        kind: Kind::Int,
        group: COLLECT,
        default: "`30`",
        sample: Sample::Set("30"),
        doc: "Seconds between health checks of healthy datasources and the base reconnect delay.",
        gloss: "健康检查/重连间隔（秒）",
        zh: "数据源健康检查与重连间隔（秒）",
        apply: Apply::Count {
            default: DEFAULT_RETRY_INTERVAL_SECS,
            range: None,
            set: |g, v| {
                g.retry_interval = Duration::from_secs(v);
                true
            },
        },
        show: |g| secs(g.retry_interval),
        ..Key::BASE
    },
    Key {
        name: "enableHealthPing",
        kind: Kind::Bool,
        flag: Some("--enableHealthPing"),
        group: COLLECT,
        default: "`true`",
        sample: Sample::Set("true"),
        doc: "Ping healthy datasources every `retryIntervalSeconds`.",
        gloss: "定期健康检查",
        zh: "是否定期 ping 健康的数据源",
        apply: Apply::Bool(|g| &mut g.enable_health_ping),
        show: |g| n(g.enable_health_ping),
        ..Key::BASE
    },
    Key {
        name: "globalTimeoutSeconds",
        kind: Kind::Int,
        flag: Some("--globalTimeoutSeconds"),
        group: COLLECT,
        default: "`5`",
        sample: Sample::Set("5"),
        doc: "Per-scrape time budget in seconds; in `fast` mode a hard cut-off (what finished is returned).",
        gloss: "全局采集超时（秒）",
        zh: "单次采集时间预算（秒），`fast` 模式下为硬性截止",
        apply: Apply::Count {
            default: DEFAULT_GLOBAL_TIMEOUT_SECS,
            range: None,
            set: |g, v| {
                g.global_timeout = Duration::from_secs(v);
                true
            },
        },
        show: |g| secs(g.global_timeout),
        ..Key::BASE
    },
    Key {
        name: "collectionMode",
        flag: Some("--collectionMode"),
        group: COLLECT,
        default: "`\"blocking\"`",
        sample: Sample::Set("\"blocking\""),
        doc: "`blocking`: wait for every collector (each bounded by `queryTimeout`), only log slow ones; `fast`: cut at `globalTimeoutSeconds` and return what finished.",
        gloss: "采集模式",
        zh: "采集模式：`blocking` 等待全部采集器；`fast` 超时即返回已完成部分",
        show: |g| {
            q(match g.collection_mode {
                CollectionMode::Blocking => "blocking",
                CollectionMode::Fast => "fast",
            })
        },
        ..Key::BASE
    },
    Key {
        name: "collectStrategy",
        ours: true,
        group: COLLECT,
        default: "`\"concurrent\"`",
        sample: Sample::Set("\"concurrent\""),
        doc: "How datasources are scheduled in one scrape: `serial` (one after the other, by priority), `concurrent` (all at once) or `hybrid` (priority groups).",
        gloss: "采集策略",
        zh: "数据源调度策略：`serial` 串行 / `concurrent` 并发 / `hybrid` 按优先级分组",
        show: |g| {
            q(match g.collect_strategy {
                CollectStrategy::Serial => "serial",
                CollectStrategy::Concurrent => "concurrent",
                CollectStrategy::Hybrid => "hybrid",
            })
        },
        ..Key::BASE
    },
    Key {
        name: "maxConcurrentGroups",
        kind: Kind::Int,
        ours: true,
        group: COLLECT,
        default: "`3`",
        sample: Sample::Set("3"),
        doc: "`hybrid`: priority groups scraped at once.",
        gloss: "最大并发分组数",
        zh: "`hybrid` 模式下同时采集的优先级分组数",
        apply: Apply::Count {
            default: DEFAULT_MAX_CONCURRENT_GROUPS as u64,
            range: None,
            set: |g, v| usize::try_from(v).map(|v| g.max_concurrent_groups = v).is_ok(),
        },
        show: |g| n(g.max_concurrent_groups),
        ..Key::BASE
    },
    Key {
        name: "groupTimeout",
        kind: Kind::Int,
        ours: true,
        group: COLLECT,
        default: "`60`",
        sample: Sample::Set("60"),
        doc: "`hybrid` and `serial`: time budget of one priority group, seconds.",
        gloss: "分组超时（秒）",
        zh: "每个优先级分组的时间预算（秒）",
        apply: Apply::Count {
            default: DEFAULT_GROUP_TIMEOUT_SECS,
            range: None,
            set: |g, v| {
                g.group_timeout = Duration::from_secs(v);
                true
            },
        },
        show: |g| secs(g.group_timeout),
        ..Key::BASE
    },
    Key {
        name: "scrapeTimeoutFactor",
        kind: Kind::Float,
        ours: true,
        group: COLLECT,
        default: "`0.8`",
        sample: Sample::Set("0.8"),
        doc: "Share (0 < x <= 1) of Prometheus' scrape timeout (`X-Prometheus-Scrape-Timeout-Seconds`) the exporter allows itself, so that it answers before Prometheus gives up.",
        gloss: "抓取超时系数",
        zh: "使用 Prometheus 抓取超时的比例（0 < x <= 1），确保在其放弃前返回",
        show: |g| f(g.scrape_timeout_factor),
        ..Key::BASE
    },
];
