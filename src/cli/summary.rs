//! `--check-config` and `--list-collectors`: the configuration summary and the collector table.

use dmexp_config::{Config, ConfigOrigin, DatasourceConfig};
use dmexp_core::collector::registered;

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
pub(super) fn summary(config: &Config) -> String {
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
pub(super) fn custom_metrics_refused(config: &Config) -> bool {
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
