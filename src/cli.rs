//! Command line handling and startup: the flags (Prometheus-style names, upstream names as
//! aliases), secrets from the environment or files, and the one-shot commands
//! (`--version`, `--check-config`, `--check-connection`, `--list-collectors`,
//! `--test-custom-metrics`, `--encryptPwd`, `--encryptBasicAuthPwd`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use dmexp_config::{CliDatasource, CliGlobals, Config, ConfigOrigin};
use dmexp_core::app::AppOptions;
use dmexp_core::exporter::ConfigLoader;
use dmexp_core::runtime::Runtime;
use dmexp_core::server::web_config::WebConfig;

mod doctor;
mod dry_run;
mod output;
mod scrub;
mod secrets;
mod summary;
mod version;

use output::{line, out};
pub use summary::collector_table;
use summary::{custom_metrics_refused, summary};
use version::build_info;

/// Exit code: invalid command line or configuration.
const EXIT_CONFIG: u8 = 2;
/// Exit code: failure while starting or running (cannot listen, cannot write logs).
const EXIT_RUNTIME: u8 = 1;

/// Prometheus exporter for Dameng DM8 databases (many datasources, one process).
#[derive(Debug, Clone, Parser)]
#[command(name = "dameng_exporter", about, long_about = None, disable_version_flag = true)]
struct Args {
    /// Print version, git revision and branch, build date and rustc version, and exit.
    #[arg(short = 'V', long = "version")]
    version: bool,
    /// Configuration file (TOML multi-datasource, single-datasource, or legacy v1.1 key=value).
    #[arg(
        long = "config.file",
        visible_aliases = ["config", "configFile"],
        value_name = "FILE",
        default_value = "./dameng_exporter.toml"
    )]
    config: PathBuf,
    /// Validate the configuration, print a summary of every datasource and exit (no connection).
    #[arg(long = "check-config")]
    check_config: bool,
    /// With --check-config: unknown keys are errors, not warnings.
    #[arg(long)]
    strict: bool,
    /// Connection doctor: log in to each enabled datasource once, run each enabled
    /// collector (and custom metric, read-only) once, and print per datasource the login
    /// result, server version, session read-only state and per collector ok / not
    /// applicable / permission denied (with the GRANT) / error. Exit 0 when every enabled
    /// datasource logged in, 1 otherwise.
    #[arg(long = "check-connection")]
    check_connection: bool,
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
    /// Print ENC(...) for a database password and exit; `-` reads the password from stdin
    /// (keeps it out of `ps` and the shell history).
    #[arg(long = "encryptPwd", value_name = "PASSWORD|-")]
    encrypt_pwd: Option<String>,
    /// TLS, client certificates and basic-auth users: a web config file in the Prometheus
    /// exporter-toolkit format (YAML). Checked at startup and by --check-config.
    #[arg(long = "web.config.file", value_name = "FILE")]
    web_config_file: Option<PathBuf>,
    /// Print a bcrypt ($2a$, cost 12) hash for basicAuthPassword and exit; `-` reads the
    /// password from stdin.
    #[arg(long = "encryptBasicAuthPwd", value_name = "PASSWORD|-")]
    encrypt_basic_auth_pwd: Option<String>,

    /// Listen address, e.g. `:9200` or `127.0.0.1:9200` (overrides listenAddress).
    #[arg(long = "web.listen-address", visible_alias = "listenAddress", value_name = "ADDRESS")]
    listen_address: Option<String>,
    /// Metrics path (overrides metricPath).
    #[arg(long = "web.telemetry-path", visible_alias = "metricPath", value_name = "PATH")]
    metric_path: Option<String>,
    /// Log level: debug, info, warn, error (overrides logLevel).
    #[arg(long = "log.level", visible_alias = "logLevel", value_name = "LEVEL")]
    log_level: Option<String>,
    /// Log line format: text (default), logfmt or json (overrides logFormat).
    #[arg(long = "log.format", value_name = "FORMAT", value_parser = ["text", "logfmt", "json"])]
    log_format: Option<String>,
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
    /// Basic-auth password (plaintext, bcrypt hash or ENC()). Visible in `ps` until
    /// scrubbed: prefer $DMEXP_BASIC_AUTH_PASSWORD or --basicAuthPasswordFile.
    #[arg(long = "basicAuthPassword", value_name = "PASSWORD")]
    basic_auth_password: Option<String>,
    /// File holding the basic-auth password (regular file, trailing newline ignored).
    #[arg(
        long = "basicAuthPasswordFile",
        value_name = "FILE",
        conflicts_with = "basic_auth_password"
    )]
    basic_auth_password_file: Option<PathBuf>,
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
    /// CLI mode: database password (plaintext or ENC()). Visible in `ps` until scrubbed:
    /// prefer $DMEXP_DB_PASSWORD or --dbPwdFile.
    #[arg(long = "dbPwd", value_name = "PASSWORD")]
    db_pwd: Option<String>,
    /// CLI mode: file holding the database password (regular file, trailing newline ignored).
    #[arg(long = "dbPwdFile", value_name = "FILE", conflicts_with = "db_pwd")]
    db_pwd_file: Option<PathBuf>,
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
    /// The global flags; `--basicAuthPassword` from the flag, its file or its environment
    /// variable (the file is read again at every reload).
    fn cli_globals(&self) -> anyhow::Result<CliGlobals> {
        let basic_auth_password = secrets::resolve(
            self.basic_auth_password.as_deref(),
            "--basicAuthPasswordFile",
            self.basic_auth_password_file.as_deref(),
            secrets::BASIC_AUTH_PASSWORD_ENV,
        )?;
        Ok(CliGlobals {
            listen_address: self.listen_address.clone(),
            metric_path: self.metric_path.clone(),
            log_level: self.log_level.clone(),
            log_format: self.log_format.clone(),
            log_max_size: self.log_max_size,
            log_max_backups: self.log_max_backups,
            log_max_age: self.log_max_age,
            enable_basic_auth: self.enable_basic_auth,
            basic_auth_username: self.basic_auth_username.clone(),
            basic_auth_password,
            global_timeout_seconds: self.global_timeout_seconds,
            collection_mode: self.collection_mode.clone(),
            enable_health_ping: self.enable_health_ping,
        })
    }

    /// `Some` in CLI mode (--dbHost, --dbUser and a password from --dbPwd, --dbPwdFile or
    /// $DMEXP_DB_PASSWORD), an error when only some. The environment variable counts only
    /// with --dbHost or --dbUser: alone it never turns a config-file start into CLI mode.
    fn cli_datasource(&self) -> anyhow::Result<Option<CliDatasource>> {
        let explicit = self.db_pwd.is_some() || self.db_pwd_file.is_some();
        let db_pwd = if explicit || self.db_host.is_some() || self.db_user.is_some() {
            secrets::resolve(
                self.db_pwd.as_deref(),
                "--dbPwdFile",
                self.db_pwd_file.as_deref(),
                secrets::DB_PASSWORD_ENV,
            )?
        } else {
            None
        };
        match (&self.db_host, &self.db_user, &db_pwd) {
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
                "incomplete command-line datasource: --dbHost, --dbUser and a password (--dbPwd, \
                 --dbPwdFile FILE or ${}) must be given together (or use --config.file FILE)",
                secrets::DB_PASSWORD_ENV
            ),
        }
    }
}

/// The secret-bearing flags scrubbed from the command line, with the safer forms to name in
/// the warning (`None`: a one-shot command, whose safer form is `-`).
const SECRET_FLAGS: &[(&str, Option<&str>)] = &[
    ("--dbPwd", Some("$DMEXP_DB_PASSWORD or --dbPwdFile FILE")),
    ("--basicAuthPassword", Some("$DMEXP_BASIC_AUTH_PASSWORD or --basicAuthPasswordFile FILE")),
    ("--encryptPwd", None),
    ("--encryptBasicAuthPwd", None),
];

/// Warns about secrets given on the command line and overwrites them in the process's
/// argument memory, so that `ps` and /proc/PID/cmdline no longer show them (finding L12).
fn scrub_command_line(args: &Args) {
    let given = |flag: &str| match flag {
        "--dbPwd" => args.db_pwd.is_some(),
        "--basicAuthPassword" => args.basic_auth_password.is_some(),
        "--encryptPwd" => args.encrypt_pwd.as_deref().is_some_and(|p| p != "-"),
        "--encryptBasicAuthPwd" => args.encrypt_basic_auth_pwd.as_deref().is_some_and(|p| p != "-"),
        _ => false,
    };
    let flags: Vec<&str> = SECRET_FLAGS.iter().map(|(f, _)| *f).filter(|f| given(f)).collect();
    if flags.is_empty() {
        return;
    }
    for (flag, safer) in SECRET_FLAGS.iter().filter(|(f, _)| flags.contains(f)) {
        let safer = safer.map_or_else(|| format!("{flag} - (reads stdin)"), str::to_owned);
        eprintln!(
            "warning: {flag} on the command line is visible to other local users (ps, shell \
             history) until it is scrubbed; use {safer}"
        );
    }
    if let Err(why) = scrub::scrub(&flags) {
        eprintln!("warning: could not scrub the password from the command line: {why}");
    }
}

/// `--encryptPwd` / `--encryptBasicAuthPwd`: the value, or stdin for `-`.
fn secret_arg(flag: &str, value: &str) -> Result<String, ExitCode> {
    if value != "-" {
        return Ok(value.to_owned());
    }
    secrets::read_stdin_secret(flag).map_err(|e| {
        eprintln!("error: {e:#}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Entry point: returns the process exit code.
pub fn run() -> ExitCode {
    let args = Args::parse();
    if args.version {
        out(&version::version_text());
        return ExitCode::SUCCESS;
    }
    scrub_command_line(&args);
    if let Some(p) = &args.encrypt_pwd {
        let p = match secret_arg("--encryptPwd", p) {
            Ok(p) => p,
            Err(code) => return code,
        };
        line(&format!("Encrypted Password: {}", dmexp_config::encrypt_password(&p)));
        return ExitCode::SUCCESS;
    }
    if let Some(p) = &args.encrypt_basic_auth_pwd {
        let p = match secret_arg("--encryptBasicAuthPwd", p) {
            Ok(p) => p,
            Err(code) => return code,
        };
        return match bcrypt::hash_with_result(&p, 12) {
            Ok(h) => {
                line(&format!(
                    "Encrypted Basic Auth Password: {}",
                    h.format_for_version(bcrypt::Version::TwoA)
                ));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot hash the password: {e}");
                ExitCode::from(EXIT_RUNTIME)
            }
        };
    }
    if args.list_collectors {
        out(&collector_table());
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
        return dry_run::test_custom_metrics(&config, file, args.datasource.as_deref());
    }
    if args.check_connection {
        return doctor::check_connection(&config);
    }
    if args.check_config {
        return check_config(&args, &config, &web);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    match rt.block_on(serve(config, &args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            tracing::error!(error = %format!("{e:#}"), "Exporter stopped.");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// `--check-config`: the summary, the web config and the plugins; exit 2 on a problem.
fn check_config(args: &Args, config: &Config, web: &WebConfig) -> ExitCode {
    match Runtime::build(config, build_info()) {
        Ok((_, report)) => {
            out(&summary(config));
            if let Some(path) = &args.web_config_file {
                line(&format!("web config OK: {}: {}", path.display(), web.summary()));
            }
            // Site plugins were loaded by the build (instances created, no connection):
            // one that cannot be loaded makes the configuration fail the check.
            let plugins = report.plugins;
            out(&plugins.render());
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
            if custom_metrics_refused(config) {
                return ExitCode::from(EXIT_CONFIG);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

fn load_config(args: &Args) -> anyhow::Result<Config> {
    let mut config = match args.cli_datasource()? {
        Some(ds) => dmexp_config::from_cli(&ds)?,
        None => {
            if !args.config.exists() {
                anyhow::bail!(
                    "config file not found: {} (pass --config.file FILE, start from \
                     config/examples/multi_datasource.toml, or give --dbHost, --dbUser and --dbPwd)",
                    args.config.display()
                );
            }
            let mut cfg = dmexp_config::load_file(&args.config)?;
            if cfg.global.encode_config_pwd
                && !args.check_config
                && !args.check_connection
                && args.test_custom_metrics.is_none()
            {
                encrypt_in_place(&args.config);
                cfg = dmexp_config::load_file(&args.config)?;
            }
            cfg
        }
    };
    dmexp_config::apply_cli_globals(&mut config, &args.cli_globals()?)?;
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

/// Starts the exporter through the library composition root ([`dmexp_core::app::run`]);
/// reloads re-run [`load_config`] with the same arguments, so command-line overrides and the
/// `encodeConfigPwd` rewrite apply as at startup.
async fn serve(config: Config, args: &Args) -> anyhow::Result<()> {
    let loader: Option<ConfigLoader> = match &config.origin {
        ConfigOrigin::Cli => None,
        ConfigOrigin::Toml(_) | ConfigOrigin::Legacy(_) => {
            let args = args.clone();
            Some(Box::new(move || {
                let cfg = load_config(&args).map_err(|e| format!("{e:#}"))?;
                for w in &cfg.warnings {
                    tracing::warn!(warning = %w.message, "Configuration warning.");
                }
                Ok(cfg)
            }))
        }
    };
    let mut opts = AppOptions::new(config, build_info());
    opts.web_config_file = args.web_config_file.clone();
    dmexp_core::app::run(opts, loader).await?;
    Ok(())
}
