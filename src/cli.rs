//! Command line handling and startup.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use dmexp_config::{CliDatasource, CliGlobals, Config, ConfigOrigin, DatasourceConfig};
use dmexp_core::collector::registered;
use dmexp_core::exporter::{ConfigLoader, Exporter};
use dmexp_core::runtime::{BuildInfo, Runtime};
use dmexp_core::server::web_config::WebConfig;
use dmexp_core::server::{self, ServerOptions};

/// Exit code: invalid command line or configuration.
const EXIT_CONFIG: u8 = 2;
/// Exit code: failure while starting or running (cannot listen, cannot write logs).
const EXIT_RUNTIME: u8 = 1;

/// Prometheus exporter for Dameng DM8 databases (many datasources, one process).
#[derive(Debug, Clone, Parser)]
#[command(name = "dameng_exporter", version, about, long_about = None)]
struct Args {
    /// Configuration file (TOML multi-datasource, single-datasource, or legacy v1.1 key=value).
    #[arg(long = "config", visible_alias = "configFile", default_value = "./dameng_exporter.toml")]
    config: PathBuf,
    /// Validate the configuration, print a summary of every datasource and exit (no connection).
    #[arg(long = "check-config")]
    check_config: bool,
    /// With --check-config: unknown keys are errors, not warnings.
    #[arg(long)]
    strict: bool,
    /// Print the built-in collectors (name, views, metrics, default state) and exit.
    #[arg(long = "list-collectors")]
    list_collectors: bool,
    /// Dry run of a custom metrics file: run each [[metric]] once against the datasource
    /// given with --datasource (read-only, nothing is served) and print the series it would
    /// produce, or the precise error per metric. Exit 0 when all succeed, 2 otherwise.
    #[arg(long = "test-custom-metrics", value_name = "FILE")]
    test_custom_metrics: Option<PathBuf>,
    /// With --test-custom-metrics: the datasource to run against (may be omitted when the
    /// configuration has only one).
    #[arg(long = "datasource", value_name = "NAME", requires = "test_custom_metrics")]
    datasource: Option<String>,
    /// Print ENC(...) for a database password and exit.
    #[arg(long = "encryptPwd", value_name = "PASSWORD")]
    encrypt_pwd: Option<String>,
    /// TLS, client certificates and basic-auth users: a web config file in the Prometheus
    /// exporter-toolkit format (YAML). Checked at startup and by --check-config.
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config_file: Option<PathBuf>,
    /// Print a bcrypt ($2a$, cost 12) hash for basicAuthPassword and exit.
    #[arg(long = "encryptBasicAuthPwd", value_name = "PASSWORD")]
    encrypt_basic_auth_pwd: Option<String>,

    /// Listen address, e.g. `:9200` or `127.0.0.1:9200` (overrides the file).
    #[arg(long = "listenAddress")]
    listen_address: Option<String>,
    /// Metrics path (overrides the file).
    #[arg(long = "metricPath")]
    metric_path: Option<String>,
    /// Log level: debug, info, warn, error (overrides the file).
    #[arg(long = "logLevel")]
    log_level: Option<String>,
    /// Log file size in MB before rotation (overrides the file).
    #[arg(long = "logMaxSize")]
    log_max_size: Option<i64>,
    /// Rotated log files kept (overrides the file).
    #[arg(long = "logMaxBackups")]
    log_max_backups: Option<i64>,
    /// Days rotated log files are kept (overrides the file).
    #[arg(long = "logMaxAge")]
    log_max_age: Option<i64>,
    /// Protect the metrics with HTTP basic auth.
    #[arg(long = "enableBasicAuth", num_args = 0..=1, default_missing_value = "true")]
    enable_basic_auth: Option<bool>,
    /// Basic-auth user name.
    #[arg(long = "basicAuthUsername")]
    basic_auth_username: Option<String>,
    /// Basic-auth password (plaintext, bcrypt hash or ENC()).
    #[arg(long = "basicAuthPassword")]
    basic_auth_password: Option<String>,
    /// Per-scrape time budget in seconds (fast mode: hard cut-off).
    #[arg(long = "globalTimeoutSeconds")]
    global_timeout_seconds: Option<i64>,
    /// blocking or fast.
    #[arg(long = "collectionMode")]
    collection_mode: Option<String>,
    /// Periodic health pings of healthy datasources.
    #[arg(long = "enableHealthPing", num_args = 0..=1, default_missing_value = "true")]
    enable_health_ping: Option<bool>,

    /// CLI mode: DM host:port (with --dbUser and --dbPwd, no config file is needed).
    #[arg(long = "dbHost")]
    db_host: Option<String>,
    /// CLI mode: database user.
    #[arg(long = "dbUser")]
    db_user: Option<String>,
    /// CLI mode: database password (plaintext or ENC()).
    #[arg(long = "dbPwd")]
    db_pwd: Option<String>,
    /// Accepted for upstream compatibility; ignored (the datasource is named cmdline_<host>).
    #[arg(long = "dbName", hide = true)]
    db_name: Option<String>,
    /// CLI mode: query timeout in seconds.
    #[arg(long = "queryTimeout")]
    query_timeout: Option<i64>,
    /// CLI mode: maximum open connections.
    #[arg(long = "maxOpenConns")]
    max_open_conns: Option<i64>,
    /// CLI mode: connection lifetime in minutes.
    #[arg(long = "connMaxLifetime")]
    conn_max_lifetime: Option<i64>,
    /// CLI mode: collect slow SQL.
    #[arg(long = "checkSlowSql", num_args = 0..=1, default_missing_value = "true")]
    check_slow_sql: Option<bool>,
    /// CLI mode: slow SQL threshold in ms.
    #[arg(long = "slowSqlTime")]
    slow_sql_time: Option<i64>,
    /// CLI mode: slow SQL row limit.
    #[arg(long = "slowSqlLimitRows")]
    slow_sql_limit_rows: Option<i64>,
    /// CLI mode: host process metrics.
    #[arg(long = "registerHostMetrics", num_args = 0..=1, default_missing_value = "true")]
    register_host_metrics: Option<bool>,
    /// CLI mode: database metrics.
    #[arg(long = "registerDatabaseMetrics", num_args = 0..=1, default_missing_value = "true")]
    register_database_metrics: Option<bool>,
    /// CLI mode: DMHS metrics.
    #[arg(long = "registerDmhsMetrics", num_args = 0..=1, default_missing_value = "true")]
    register_dmhs_metrics: Option<bool>,
    /// CLI mode: custom metrics.
    #[arg(long = "registerCustomMetrics", num_args = 0..=1, default_missing_value = "true")]
    register_custom_metrics: Option<bool>,
    /// CLI mode: cache time of big results, minutes.
    #[arg(long = "bigKeyDataCacheTime")]
    big_key_data_cache_time: Option<i64>,
    /// CLI mode: mode-switch alarm latch time, minutes.
    #[arg(long = "alarmKeyCacheTime")]
    alarm_key_cache_time: Option<i64>,
    /// Accepted for upstream compatibility: use `encodeConfigPwd` in the file instead.
    #[arg(long = "encodeConfigPwd", num_args = 0..=1, default_missing_value = "true", hide = true)]
    encode_config_pwd: Option<bool>,
}

impl Args {
    fn cli_globals(&self) -> CliGlobals {
        CliGlobals {
            listen_address: self.listen_address.clone(),
            metric_path: self.metric_path.clone(),
            log_level: self.log_level.clone(),
            log_max_size: self.log_max_size,
            log_max_backups: self.log_max_backups,
            log_max_age: self.log_max_age,
            enable_basic_auth: self.enable_basic_auth,
            basic_auth_username: self.basic_auth_username.clone(),
            basic_auth_password: self.basic_auth_password.clone(),
            global_timeout_seconds: self.global_timeout_seconds,
            collection_mode: self.collection_mode.clone(),
            enable_health_ping: self.enable_health_ping,
        }
    }

    /// `Some` in CLI mode (all three of --dbHost --dbUser --dbPwd), an error when only some.
    fn cli_datasource(&self) -> anyhow::Result<Option<CliDatasource>> {
        match (&self.db_host, &self.db_user, &self.db_pwd) {
            (None, None, None) => Ok(None),
            (Some(h), Some(u), Some(p)) => Ok(Some(CliDatasource {
                db_host: h.clone(),
                db_user: u.clone(),
                db_pwd: p.clone(),
                query_timeout: self.query_timeout,
                max_open_conns: self.max_open_conns,
                conn_max_lifetime: self.conn_max_lifetime,
                check_slow_sql: self.check_slow_sql,
                slow_sql_time: self.slow_sql_time,
                slow_sql_limit_rows: self.slow_sql_limit_rows,
                register_host_metrics: self.register_host_metrics,
                register_database_metrics: self.register_database_metrics,
                register_dmhs_metrics: self.register_dmhs_metrics,
                register_custom_metrics: self.register_custom_metrics,
                big_key_data_cache_time: self.big_key_data_cache_time,
                alarm_key_cache_time: self.alarm_key_cache_time,
            })),
            _ => anyhow::bail!(
                "incomplete command-line datasource: --dbHost, --dbUser and --dbPwd must be \
                 given together (or use --config FILE)"
            ),
        }
    }
}

/// Entry point: returns the process exit code.
pub fn run() -> ExitCode {
    let args = Args::parse();
    if let Some(p) = &args.encrypt_pwd {
        println!("Encrypted Password: {}", dmexp_config::encrypt_password(p));
        return ExitCode::SUCCESS;
    }
    if let Some(p) = &args.encrypt_basic_auth_pwd {
        return match bcrypt::hash_with_result(p, 12) {
            Ok(h) => {
                println!(
                    "Encrypted Basic Auth Password: {}",
                    h.format_for_version(bcrypt::Version::TwoA)
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot hash the password: {e}");
                ExitCode::from(EXIT_RUNTIME)
            }
        };
    }
    if args.list_collectors {
        print!("{}", collector_table());
        return ExitCode::SUCCESS;
    }
    let config = match load_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    for w in &config.warnings {
        eprintln!("warning: {}", w.message);
    }
    if args.strict && config.warnings.iter().any(|w| w.unknown_key) {
        eprintln!("error: unknown keys are not allowed with --strict (see the warnings above)");
        return ExitCode::from(EXIT_CONFIG);
    }
    let web = match &args.web_config_file {
        Some(path) => match WebConfig::load(path) {
            Ok(web) => web,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        },
        None => WebConfig::default(),
    };
    for w in &web.warnings {
        eprintln!("warning: web config: {w}");
    }
    if let Some(file) = &args.test_custom_metrics {
        return test_custom_metrics(&config, file, args.datasource.as_deref());
    }
    if args.check_config {
        return match Runtime::build(&config, build_info()) {
            Ok((_, report)) => {
                print!("{}", summary(&config));
                if let Some(path) = &args.web_config_file {
                    println!("web config OK: {}: {}", path.display(), web.summary());
                }
                // Site plugins were loaded by the build (instances created, no connection):
                // one that cannot be loaded makes the configuration fail the check.
                let plugins = report.plugins;
                print!("{}", plugins.render());
                let failed: Vec<_> = plugins.problems().collect();
                if !failed.is_empty() {
                    for p in &failed {
                        eprintln!("error: {p}");
                    }
                    eprintln!(
                        "error: {} plugin(s) failed to load; the exporter would serve without \
                         them (dameng_exporter_plugin_loaded 0)",
                        failed.len()
                    );
                    return ExitCode::from(EXIT_CONFIG);
                }
                if custom_metrics_refused(&config) {
                    return ExitCode::from(EXIT_CONFIG);
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(EXIT_CONFIG)
            }
        };
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match rt.block_on(serve(config, &args, web)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            tracing::error!(error = %format!("{e:#}"), "Exporter stopped.");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

fn load_config(args: &Args) -> anyhow::Result<Config> {
    let mut config = match args.cli_datasource()? {
        Some(ds) => dmexp_config::from_cli(&ds)?,
        None => {
            if !args.config.exists() {
                anyhow::bail!(
                    "config file not found: {} (pass --config FILE, start from \
                     config/examples/multi_datasource.toml, or give --dbHost, --dbUser and --dbPwd)",
                    args.config.display()
                );
            }
            let mut cfg = dmexp_config::load_file(&args.config)?;
            if cfg.global.encode_config_pwd
                && !args.check_config
                && args.test_custom_metrics.is_none()
            {
                encrypt_in_place(&args.config);
                cfg = dmexp_config::load_file(&args.config)?;
            }
            cfg
        }
    };
    dmexp_config::apply_cli_globals(&mut config, &args.cli_globals())?;
    Ok(config)
}

fn encrypt_in_place(path: &Path) {
    match dmexp_config::encrypt_passwords_in_file(path) {
        Ok(dmexp_config::RewriteOutcome::Rewritten { datasources }) => {
            for name in datasources {
                eprintln!(
                    "notice: encrypted the password of datasource {name} in {}",
                    path.display()
                );
            }
        }
        Ok(dmexp_config::RewriteOutcome::ReadOnly { reason }) => {
            eprintln!(
                "warning: encodeConfigPwd = true but {} cannot be rewritten ({reason}); passwords stay as they are",
                path.display()
            );
        }
        Ok(_) => {}
        Err(e) => eprintln!("warning: encodeConfigPwd: {e}"),
    }
}

fn build_info() -> BuildInfo {
    BuildInfo {
        version: format!("v{}", env!("CARGO_PKG_VERSION")),
        revision: option_env!("DMEXP_GIT_REVISION").unwrap_or("unknown").to_owned(),
        branch: option_env!("DMEXP_GIT_BRANCH").unwrap_or("unknown").to_owned(),
        rustversion: option_env!("DMEXP_RUSTC_VERSION").unwrap_or("unknown").to_owned(),
    }
}

/// `--list-collectors`: generated from the registry.
pub fn collector_table() -> String {
    let mut out = String::from(
        "| collector | switch | default | cache | views | metrics |\n|---|---|---|---|---|---|\n",
    );
    for d in registered() {
        let metrics: Vec<&str> = d.metrics.iter().map(|m| m.name).collect();
        let cache = match d.cache {
            dmexp_core::collector::CacheClass::None => "-",
            dmexp_core::collector::CacheClass::BigKey => "bigKeyDataCacheTime",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            d.name,
            d.family.as_str(),
            if d.default_enabled { "on" } else { "off" },
            cache,
            d.views,
            metrics.join(", ")
        ));
    }
    out
}

fn yes(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// `a, b, c`, or `-` when empty.
fn list(items: Vec<String>) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

/// `--check-config`: the configuration in a few lines per datasource; the "changed from the
/// default" lines come from the key declarations (`dmexp_config::schema`), so a new key is
/// listed without touching this function. Never a password.
fn summary(config: &Config) -> String {
    use std::fmt::Write as _;
    let g = &config.global;
    let mut s = String::new();
    let origin = match &config.origin {
        ConfigOrigin::Toml(p) => format!("{}", p.display()),
        ConfigOrigin::Legacy(p) => format!("{} (legacy v1.1 format, converted)", p.display()),
        ConfigOrigin::Cli => "command line".to_owned(),
    };
    let _ = writeln!(s, "configuration OK: {origin}");
    let _ = writeln!(
        s,
        "listen {} path {} | log {:?} | basic auth {} | collectionMode {:?} | collectStrategy {:?} | globalTimeout {}s",
        g.listen_address,
        g.metric_path,
        g.log_level,
        yes(g.enable_basic_auth),
        g.collection_mode,
        g.collect_strategy,
        g.global_timeout.as_secs()
    );
    let _ =
        writeln!(s, "changed from the default: {}", list(dmexp_config::schema::changed_global(g)));
    let _ = writeln!(s, "{} datasource(s):", config.datasources.len());
    for ds in &config.datasources {
        let _ = writeln!(s, "{}", datasource_summary(ds));
    }
    s
}

fn datasource_summary(ds: &DatasourceConfig) -> String {
    let target = match (&ds.connection.db_host, &ds.connection.odbc_connection_string) {
        (_, Some(_)) => "odbcConnectionString (hidden)".to_owned(),
        (Some(h), None) => format!("{h} via driver \"{}\"", ds.connection.odbc_driver),
        (None, None) => "-".to_owned(),
    };
    let labels: Vec<String> = ds.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let collectors: Vec<&str> = registered()
        .into_iter()
        .filter(|d| dmexp_core::runtime::collector_enabled(d, ds))
        .map(|d| d.name)
        .collect();
    format!(
        "- {name} [{state}] datasource=\"{label}\" priority={prio}\n    target: {target}\n    \
         pool: maxOpenConns={open} maxIdleConns={idle} connMaxLifetime={life}s | queryTimeout={qt}s\n    \
         switches: database={db} host={host} dmhs={dmhs} custom={custom} slowSQL={slow} ({slowms} ms, {slowrows} rows)\n    \
         caches: bigKeyDataCacheTime={big}s alarmKeyCacheTime={alarm}s\n    \
         labels: {labels}\n    collectors: {collectors}\n    customMetricsFile: {cmf}\n    plugins: {plugins}\n    \
         changed from the default: {changed}",
        name = ds.name,
        state = if ds.enabled { "enabled" } else { "disabled" },
        label = ds.datasource_label(),
        prio = ds.priority,
        open = ds.connection.max_open_conns,
        idle = ds.connection.max_idle_conns,
        life = ds.connection.conn_max_lifetime.as_secs(),
        qt = ds.connection.query_timeout.as_secs(),
        db = yes(ds.register_database_metrics),
        host = yes(ds.register_host_metrics),
        dmhs = yes(ds.register_dmhs_metrics),
        custom = yes(ds.register_custom_metrics),
        slow = yes(ds.check_slow_sql),
        slowms = ds.slow_sql_time.as_millis(),
        slowrows = ds.slow_sql_max_rows,
        big = ds.big_key_data_cache_time.as_secs(),
        alarm = ds.alarm_key_cache_time.as_secs(),
        labels = if labels.is_empty() { "-".to_owned() } else { labels.join(",") },
        collectors = if collectors.is_empty() { "-".to_owned() } else { collectors.join(",") },
        cmf = custom_metrics_summary(ds),
        changed = list(dmexp_config::schema::changed_datasource(ds)),
        plugins = if ds.plugins.is_empty() {
            "-".to_owned()
        } else {
            ds.plugins.iter().map(|p| p.path.display().to_string()).collect::<Vec<_>>().join(",")
        },
    )
}

/// `customMetricsFile` line of `--check-config`: the file and what loading it gives.
fn custom_metrics_summary(ds: &DatasourceConfig) -> String {
    let Some(path) = &ds.custom_metrics_file else { return "-".to_owned() };
    let shown = path.display();
    if !ds.enabled {
        return format!("{shown} (datasource disabled: not loaded)");
    }
    match dmexp_core::custom::load(ds) {
        None => format!("{shown} (registerCustomMetrics = false: not loaded)"),
        Some(Ok(f)) if !dmexp_core::custom::identity_problems(ds, &f).is_empty() => format!(
            "{shown} REFUSED: this datasource would run without custom metrics (errors below)"
        ),
        Some(Ok(f)) => {
            let contexts: Vec<&str> = f.metrics.iter().map(|m| m.context.as_str()).collect();
            let warn = match f.warnings.len() {
                0 => String::new(),
                n => format!(", {n} warning(s)"),
            };
            format!("{shown} ({} metric(s): {}{warn})", f.metrics.len(), contexts.join(","))
        }
        Some(Err(_)) => format!(
            "{shown} REFUSED: this datasource would run without custom metrics (errors below)"
        ),
    }
}

/// `--check-config`: prints the problems (and warnings) of every enabled datasource's custom
/// metrics file; true when one was refused. At runtime a refused file disables only that
/// datasource's custom metrics (dameng_exporter_custom_metrics_load_success 0).
fn custom_metrics_refused(config: &Config) -> bool {
    let mut refused = 0;
    for ds in config.datasources.iter().filter(|d| d.enabled) {
        match dmexp_core::custom::load(ds) {
            Some(Ok(f)) => {
                for w in &f.warnings {
                    eprintln!("warning: datasource {}: {}", ds.name, w.message);
                }
                // M5: a label replacing the datasource's identity refuses the file at runtime.
                let clashes = dmexp_core::custom::identity_problems(ds, &f);
                if !clashes.is_empty() {
                    refused += 1;
                    eprintln!(
                        "error: datasource {}: custom metrics file refused; the exporter would run \
                         this datasource without custom metrics:",
                        ds.name
                    );
                    for clash in clashes {
                        eprintln!("  {clash}");
                    }
                }
            }
            Some(Err(e)) => {
                refused += 1;
                eprintln!(
                    "error: datasource {}: custom metrics file refused; the exporter would run \
                     this datasource without custom metrics:",
                    ds.name
                );
                for line in e.to_string().lines() {
                    eprintln!("  {line}");
                }
            }
            None => {}
        }
    }
    if refused > 0 {
        eprintln!(
            "error: {refused} custom metrics file(s) refused (try one with --test-custom-metrics \
             FILE --datasource NAME)"
        );
    }
    refused > 0
}

/// `--test-custom-metrics FILE [--datasource NAME]`: the dry run.
fn test_custom_metrics(config: &Config, file: &Path, datasource: Option<&str>) -> ExitCode {
    let names =
        || config.datasources.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", ");
    let ds = match datasource {
        Some(name) => config.datasources.iter().find(|d| d.name == name),
        None if config.datasources.len() == 1 => config.datasources.first(),
        None => {
            eprintln!(
                "error: --test-custom-metrics needs --datasource NAME (datasources: {})",
                names()
            );
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let Some(ds) = ds else {
        eprintln!(
            "error: no datasource named {:?} in the configuration (datasources: {})",
            datasource.unwrap_or_default(),
            names()
        );
        return ExitCode::from(EXIT_CONFIG);
    };
    if !ds.enabled {
        eprintln!(
            "note: datasource {} is disabled in the configuration; testing it anyway",
            ds.name
        );
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    println!(
        "# dry run of {} against datasource {} (datasource=\"{}\"), read-only",
        file.display(),
        ds.name,
        ds.datasource_label()
    );
    let report = rt.block_on(dmexp_core::custom::dry_run(ds, file));
    print!("{}", report.render());
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CONFIG)
    }
}

/// Normalises `:9200` (Go style, all interfaces) to a socket address string.
fn listen_addr(s: &str) -> String {
    if s.starts_with(':') {
        format!("0.0.0.0{s}")
    } else {
        s.to_owned()
    }
}

async fn serve(config: Config, args: &Args, web: WebConfig) -> anyhow::Result<()> {
    let _log_guard = dmexp_core::logging::init(&dmexp_core::logging::LoggingOptions::from_global(
        &config.global,
    ))
    .context("cannot initialise logging")?;
    for w in &config.warnings {
        tracing::warn!(warning = %w.message, "Configuration warning.");
    }
    // More descriptors for connections and pools (H3); the connection cap follows the limit.
    match server::raise_nofile_limit() {
        server::NofileChange::Raised(old, new) => {
            tracing::info!(
                old,
                new,
                "Raised the open-files limit (RLIMIT_NOFILE) to the hard limit."
            )
        }
        server::NofileChange::Unchanged(limit) => {
            tracing::info!(limit = ?limit, "Open-files limit (RLIMIT_NOFILE) already at the hard limit.")
        }
        server::NofileChange::Failed(error) => {
            tracing::warn!(error = %error, "Cannot raise the open-files limit (RLIMIT_NOFILE).")
        }
    }
    let limits = server::ConnectionLimits::default();
    tracing::info!(
        max_connections = limits.max_connections,
        header_read_timeout = ?limits.header_read_timeout,
        "HTTP connection limits."
    );
    let (source, loader): (String, Option<ConfigLoader>) = match &config.origin {
        ConfigOrigin::Cli => ("command line".to_owned(), None),
        ConfigOrigin::Toml(p) | ConfigOrigin::Legacy(p) => {
            let args = args.clone();
            let loader: ConfigLoader = Box::new(move || {
                let cfg = load_config(&args).map_err(|e| format!("{e:#}"))?;
                for w in &cfg.warnings {
                    tracing::warn!(warning = %w.message, "Configuration warning.");
                }
                Ok(cfg)
            });
            (p.display().to_string(), Some(loader))
        }
    };
    let exporter = Exporter::new(&config, build_info(), source, loader)?;
    // Exporter::new logged every plugin problem of every datasource in one block.
    tracing::info!(
        datasources = config.datasources.len(),
        listen = %config.global.listen_address,
        "Starting dameng_exporter."
    );
    for ds in exporter.runtime().datasources() {
        tracing::info!(datasource = %ds.name(), label = %ds.label(), collectors = %ds.collector_names().join(","), "Datasource configured.");
    }
    exporter.start();
    #[cfg(unix)]
    dmexp_core::exporter::spawn_sighup_reload(Arc::clone(&exporter));
    let addr = listen_addr(&config.global.listen_address);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (listenAddress)"))?;
    tracing::info!(address = %addr, path = %config.global.metric_path, "Listening.");
    let mut opts = ServerOptions::from_global(&config.global, Duration::from_secs(120))?;
    // --web.config.file: its users add to the upstream basic-auth user, its headers go on every
    // response, and its TLS settings choose HTTPS.
    opts.basic_auth_users = web.basic_auth_users.clone();
    for w in &web.warnings {
        tracing::warn!(warning = %w, "Web config warning.");
    }
    if args.web_config_file.is_some() {
        tracing::info!(web_config = %web.summary(), "Web config loaded.");
    }
    let app = web.apply_headers(server::app(exporter, opts));
    match web.tls {
        Some(tls) => server::serve_tls(listener, app, tls, server::shutdown_signal()).await,
        None => server::serve(listener, app, server::shutdown_signal()).await,
    }
    .context("HTTP server failed")?;
    tracing::info!("Stopped.");
    Ok(())
}
