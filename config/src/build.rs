//! Raw stage → validated [`Config`]: defaults (0 / absent / empty → default, as upstream),
//! ranges, required keys, labels, passwords, paths, and the cross-datasource checks.
//! Every problem is collected; none stops the others from being found.

use std::path::{Path, PathBuf};

use crate::crypto::decrypt_password;
use crate::defaults::*;
use crate::error::Problem;
use crate::ident::host_key;
use crate::labels::parse_labels;
use crate::model::{
    CollectStrategy, CollectionMode, ConfigOrigin, LogFormat, LogLevel, PluginConfig, Secret,
};
use crate::raw::{Ctx, Entry, RawConfig, RawDatasource, Section, Val};
use crate::schema::{self, Apply, Key};
use crate::schema::{Config, DatasourceConfig, GlobalConfig};
use crate::toml_walk::{ds_scope, Scope};

/// Typed access to one section with problem reporting.
struct Get<'a> {
    ctx: &'a mut Ctx,
    sec: &'a Section,
    scope: Scope,
    /// Line used for problems about absent keys (the table header).
    line: usize,
}

impl Get<'_> {
    fn problem_at(&mut self, line: usize, key: Option<&str>, msg: String) {
        let mut p = Problem::new(msg).at_line(line);
        if let Some(k) = key {
            p = p.with_key(k);
        }
        if let Some(ds) = &self.scope.datasource {
            p = p.in_datasource(ds);
        }
        self.ctx.error(p);
    }

    fn problem(&mut self, e: &Entry, msg: String) {
        self.problem_at(e.line, Some(&e.written), msg);
    }

    fn entry(&self, key: &str) -> Option<&Entry> {
        self.sec.get(key)
    }

    /// The string value, `None` when absent or empty.
    fn string(&self, key: &str) -> Option<(Entry, String)> {
        let e = self.entry(key)?;
        match &e.val {
            Val::Str(s) if !s.is_empty() => Some((e.clone(), s.clone())),
            _ => None,
        }
    }

    fn string_or(&self, key: &str, default: &str) -> String {
        self.string(key).map_or_else(|| default.to_string(), |(_, s)| s)
    }

    fn boolean(&self, key: &str) -> Option<bool> {
        match self.entry(key)?.val {
            Val::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// A non-negative integer: absent → `None`, 0 → `Some(default)` (upstream semantics),
    /// negative → a problem and `Some(default)`.
    fn uint(&mut self, key: &str, default: u64) -> Option<u64> {
        let e = self.entry(key)?.clone();
        let Val::Int(n) = e.val else {
            return Some(default);
        };
        if n < 0 {
            let msg = format!(
                "{} = {n} {} must not be negative; use a positive value, or 0 / leave it out for the default ({default})",
                e.written, self.scope.describe
            );
            self.problem(&e, msg);
            return Some(default);
        }
        Some(if n == 0 { default } else { n as u64 })
    }

    /// [`Get::uint`] plus an inclusive range check.
    fn uint_in(&mut self, key: &str, default: u64, min: u64, max: u64, unit: &str) -> Option<u64> {
        let v = self.uint(key, default)?;
        if v < min || v > max {
            if let Some(e) = self.entry(key).cloned() {
                let msg = format!(
                    "{} = {v} {} is out of range; set it between {min} and {max}{unit}",
                    e.written, self.scope.describe
                );
                self.problem(&e, msg);
            }
            return Some(default);
        }
        Some(v)
    }

    fn narrow<T: TryFrom<u64>>(&mut self, key: &str, v: u64, fallback: T) -> T {
        match T::try_from(v) {
            Ok(t) => t,
            Err(_) => {
                if let Some(e) = self.entry(key).cloned() {
                    let msg = format!("{} = {v} {} is too large", e.written, self.scope.describe);
                    self.problem(&e, msg);
                }
                fallback
            }
        }
    }
}

/// Reads the keys of `table` whose [`Apply`] is generic into `target`; the [`Apply::Custom`]
/// keys are read by the section's code below, after these.
fn apply_declared<T>(get: &mut Get<'_>, table: &[Key<T>], target: &mut T) {
    for k in table {
        match k.apply {
            Apply::Custom => {}
            Apply::Bool(field) => {
                if let Some(b) = get.boolean(k.name) {
                    *field(target) = b;
                }
            }
            Apply::Text(field) => {
                if let Some((_, s)) = get.string(k.name) {
                    *field(target) = s;
                }
            }
            Apply::Count { default, range, set } => {
                let v = match range {
                    Some((min, max, unit)) => get.uint_in(k.name, default, min, max, unit),
                    None => get.uint(k.name, default),
                };
                if let Some(v) = v {
                    if !set(target, v) {
                        if let Some(e) = get.entry(k.name).cloned() {
                            let msg =
                                format!("{} = {v} {} is too large", e.written, get.scope.describe);
                            get.problem(&e, msg);
                        }
                        set(target, default);
                    }
                }
            }
        }
    }
}

/// Resolves `p` against the config file's directory when relative.
pub(crate) fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

fn valid_listen_address(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => {
            port.parse::<u16>().is_ok()
                && (host.is_empty()
                    || !host.contains(':')
                    || (host.starts_with('[') && host.ends_with(']')))
        }
        None => false,
    }
}

/// Applies the global keys present in `sec` over `g` (absent keys keep `g`'s value).
pub(crate) fn apply_global(ctx: &mut Ctx, sec: &Section, g: &mut GlobalConfig) {
    let mut get = Get {
        ctx,
        sec,
        scope: Scope { describe: "at the top level".to_string(), datasource: None },
        line: 0,
    };
    apply_declared(&mut get, schema::global::GLOBAL, g);
    if let Some(e) = get.entry("listenAddress").cloned() {
        let v = get.string_or("listenAddress", DEFAULT_LISTEN_ADDRESS);
        if valid_listen_address(&v) {
            g.listen_address = v;
        } else {
            get.problem(
                &e,
                format!(
                    "{} = \"{v}\" is not a listen address; write host:port or :port, e.g. \":9200\" or \"0.0.0.0:9200\"",
                    e.written
                ),
            );
        }
    }
    if let Some(e) = get.entry("metricPath").cloned() {
        let v = get.string_or("metricPath", DEFAULT_METRIC_PATH);
        if v.starts_with('/') && v.len() > 1 {
            g.metric_path = v;
        } else {
            get.problem(
                &e,
                format!(
                    "{} = \"{v}\" must be an absolute URL path other than /, e.g. \"/metrics\"",
                    e.written
                ),
            );
        }
    }
    if let Some(e) = get.entry("logLevel").cloned() {
        let v = get.string_or("logLevel", "info");
        g.log_level = match v.to_ascii_lowercase().as_str() {
            "debug" => LogLevel::Debug,
            "info" => LogLevel::Info,
            "warn" | "warning" => LogLevel::Warn,
            "error" => LogLevel::Error,
            _ => {
                let line = e.line;
                get.ctx.warn(
                    line,
                    format!(
                        "{} = \"{v}\" is not a log level, using info; write debug, info, warn or error",
                        e.written
                    ),
                    false,
                );
                LogLevel::Info
            }
        };
    }
    if let Some(e) = get.entry("logFormat").cloned() {
        let v = get.string_or("logFormat", "text");
        match LogFormat::parse(&v) {
            Some(f) => g.log_format = f,
            None => get.problem(
                &e,
                format!("{} = \"{v}\" is not a log format; write text, logfmt or json", e.written),
            ),
        }
    }
    if let Some(e) = get.entry("logDir") {
        g.log_dir_explicit = matches!(e.val, Val::Str(_));
        g.log_dir = match &e.val {
            Val::Str(s) if s.is_empty() => None,
            Val::Str(s) => Some(PathBuf::from(s)),
            _ => g.log_dir.clone(),
        };
    }
    if let Some(e) = get.entry("basicAuthUsername") {
        if let Val::Str(s) = &e.val {
            g.basic_auth_username = s.clone();
        }
    }
    if let Some(e) = get.entry("basicAuthPassword").cloned() {
        if let Val::Str(s) = &e.val {
            match decrypt_password(s) {
                Ok(p) => g.basic_auth_password = Secret::new(p),
                Err(err) if g.enable_basic_auth => get.problem(
                    &e,
                    format!(
                        "{}: {err}; generate it with `dameng_exporter --encryptPwd`, or use a bcrypt hash from --encryptBasicAuthPwd",
                        e.written
                    ),
                ),
                Err(err) => {
                    get.ctx.warn(
                        e.line,
                        format!("{}: {err} (ignored because enableBasicAuth is false)", e.written),
                        false,
                    );
                    g.basic_auth_password = Secret::default();
                }
            }
        }
    }
    if let Some(e) = get.entry("collectionMode").cloned() {
        let v = get.string_or("collectionMode", "blocking");
        match v.to_ascii_lowercase().as_str() {
            "blocking" => g.collection_mode = CollectionMode::Blocking,
            "fast" => g.collection_mode = CollectionMode::Fast,
            _ => get.problem(
                &e,
                format!(
                    "{} = \"{v}\" is not a collection mode; write \"blocking\" or \"fast\"",
                    e.written
                ),
            ),
        }
    }
    if let Some(e) = get.entry("collectStrategy").cloned() {
        let v = get.string_or("collectStrategy", "concurrent");
        match v.to_ascii_lowercase().as_str() {
            "serial" => g.collect_strategy = CollectStrategy::Serial,
            "concurrent" => g.collect_strategy = CollectStrategy::Concurrent,
            "hybrid" => g.collect_strategy = CollectStrategy::Hybrid,
            _ => get.problem(
                &e,
                format!(
                    "{} = \"{v}\" is not a collect strategy; write \"serial\", \"concurrent\" or \"hybrid\"",
                    e.written
                ),
            ),
        }
    }
    if let Some(e) = get.entry("scrapeTimeoutFactor").cloned() {
        if let Val::Float(f) = e.val {
            if f == 0.0 {
                g.scrape_timeout_factor = DEFAULT_SCRAPE_TIMEOUT_FACTOR;
            } else if f > 0.0 && f <= 1.0 {
                g.scrape_timeout_factor = f;
            } else {
                get.problem(
                    &e,
                    format!(
                        "{} = {f} is out of range; set it greater than 0 and at most 1, e.g. 0.8",
                        e.written
                    ),
                );
            }
        }
    }
}

/// Warnings about settings that are legal but probably not meant.
fn check_global(ctx: &mut Ctx, g: &GlobalConfig) {
    if g.enable_basic_auth && (g.basic_auth_username.is_empty() || g.basic_auth_password.is_empty())
    {
        ctx.warn(
            0,
            "enableBasicAuth = true but basicAuthUsername or basicAuthPassword is empty; \
             set both, or scrapes can be authorised with an empty user or password",
            false,
        );
    }
}

fn build_datasource(ctx: &mut Ctx, raw: &RawDatasource) -> DatasourceConfig {
    let name_entry = raw.keys.get("name").cloned();
    let name = match name_entry.as_ref().map(|e| &e.val) {
        Some(Val::Str(s)) => s.clone(),
        _ => String::new(),
    };
    let scope = ds_scope(raw.index, Some(name.as_str()));
    let mut get = Get { ctx, sec: &raw.keys, scope, line: raw.line };
    let mut d = DatasourceConfig::new(name.clone());
    if name.trim().is_empty() {
        let line = name_entry.as_ref().map_or(get.line, |e| e.line);
        let msg = format!(
            "[[datasource]] #{} has no name; add name = \"…\" (unique among all datasources)",
            raw.index
        );
        get.problem_at(line, Some("name"), msg);
    }
    let sd = get.scope.describe.clone();
    // The same, as the subject of a sentence: "[[datasource]] #1 (a) has no dbHost".
    let subj = sd.trim_start_matches("in ").to_string();
    apply_declared(&mut get, schema::datasource::DATASOURCE, &mut d);
    d.connection.db_host = get.string("dbHost").map(|(_, s)| s);
    if let Some((e, h)) = get.string("dbHost") {
        if host_key(&h).is_empty() {
            get.problem(
                &e,
                format!("{} {sd} has no host before '?'; write dbHost = \"host:port\"", e.written),
            );
        }
        // Options after '?' that DM's ODBC driver will not honour (docs/DM8_EVIDENCE.md F9).
        for w in crate::dbhost::option_warnings(&h) {
            get.ctx.warn(e.line, format!("{} {sd}: option {w}", e.written), false);
        }
    }
    d.connection.odbc_connection_string =
        get.string("odbcConnectionString").map(|(_, s)| Secret::new(s));

    // Password: dbPwd (ENC() decrypted) or dbPwdFile, not both.
    let pwd = get.entry("dbPwd").cloned();
    let pwd_file = get.string("dbPwdFile");
    match (&pwd, &pwd_file) {
        (Some(p), Some((f, _))) => {
            let msg = format!(
                "{subj} sets both {} (line {}) and {}; keep only one of them",
                p.written, p.line, f.written
            );
            get.problem(f, msg);
        }
        (Some(e), None) => {
            if let Val::Str(s) = &e.val {
                match decrypt_password(s) {
                    Ok(p) => d.connection.db_pwd = Secret::new(p),
                    Err(err) => get.problem(
                        e,
                        format!(
                            "{} {sd}: {err}; re-create it with `dameng_exporter --encryptPwd <password>`",
                            e.written
                        ),
                    ),
                }
            }
        }
        (None, Some((e, f))) => {
            let path = resolve(&get.ctx.base_dir, f);
            match crate::fsread::read_text_file(&path) {
                Ok(content) => {
                    let p = content.trim_end_matches(['\n', '\r']);
                    if p.is_empty() {
                        get.problem(
                            e,
                            format!(
                                "{} {sd}: password file `{}` is empty; write the password in it",
                                e.written,
                                path.display()
                            ),
                        );
                    }
                    d.connection.db_pwd = Secret::new(p);
                }
                Err(err) => get.problem(
                    e,
                    format!(
                        "{} {sd}: cannot read password file `{}` ({err}); check the path (relative to the config file) and its permissions",
                        e.written,
                        path.display()
                    ),
                ),
            }
        }
        (None, None) => {}
    }
    if d.connection.db_host.is_none() && d.connection.odbc_connection_string.is_none() {
        let msg =
            format!("{subj} has no dbHost; add dbHost = \"host:port\" (or odbcConnectionString)");
        get.problem_at(raw.line, Some("dbHost"), msg);
    }
    if d.connection.db_host.is_some() && d.connection.odbc_connection_string.is_none() {
        if d.connection.db_user.is_empty() {
            let msg = format!("{subj} has no dbUser; add dbUser = \"…\"");
            get.problem_at(raw.line, Some("dbUser"), msg);
        }
        let pwd_problem_reported = pwd.is_some() && pwd_file.is_some();
        if d.connection.db_pwd.is_empty() && pwd_file.is_none() && !pwd_problem_reported {
            let line = pwd.as_ref().map_or(raw.line, |e| e.line);
            let msg = format!(
                "{subj} has no dbPwd; add dbPwd = \"…\" (plaintext or ENC(...) from --encryptPwd), or dbPwdFile = \"path\""
            );
            get.problem_at(line, Some("dbPwd"), msg);
        }
    }

    d.connection.max_idle_conns = d.connection.max_open_conns;
    if let Some(v) = get.uint("maxIdleConns", d.connection.max_open_conns.into()) {
        if v > u64::from(d.connection.max_open_conns) {
            if let Some(e) = get.entry("maxIdleConns").cloned() {
                let line = e.line;
                let msg = format!(
                    "{} = {v} {sd} is larger than maxOpenConns = {}; using {}",
                    e.written, d.connection.max_open_conns, d.connection.max_open_conns
                );
                get.ctx.warn(line, msg, false);
            }
        } else {
            d.connection.max_idle_conns =
                get.narrow("maxIdleConns", v, d.connection.max_open_conns);
        }
    }
    if let Some(e) = get.entry("priority").cloned() {
        if let Val::Int(n) = e.val {
            match u8::try_from(n) {
                Ok(p @ 1..=3) => d.priority = p,
                _ => get.problem(
                    &e,
                    format!(
                        "{} = {n} {sd} is out of range; write 1 (high), 2 (normal, the default) or 3 (low)",
                        e.written
                    ),
                ),
            }
        }
    }
    if let Some((e, s)) = get.string("labels") {
        match parse_labels(&s) {
            Ok(l) => d.labels = l,
            Err(errs) => {
                for m in errs {
                    get.problem(&e, format!("{m} ({} {sd})", e.written));
                }
            }
        }
    }
    if let Some((e, f)) = get.string("customMetricsFile") {
        let path = resolve(&get.ctx.base_dir, &f);
        if d.enabled && d.register_custom_metrics && !path.is_file() {
            let what = if path.exists() {
                "is not a regular file (a directory, FIFO or device)"
            } else {
                "does not exist"
            };
            get.problem(
                &e,
                format!(
                    "{} {sd}: file `{}` {what}; fix the path (relative to the config file), \
                     or set registerCustomMetrics = false",
                    e.written,
                    path.display()
                ),
            );
        }
        d.custom_metrics_file = Some(path);
    }
    if let Some(e) = get.entry("disabledCollectors").cloned() {
        if let Val::StrArray(v) = &e.val {
            for c in v {
                let c = c.trim();
                if c.is_empty() {
                    get.problem(
                        &e,
                        format!("{} {sd} has an empty collector name; remove it", e.written),
                    );
                } else if !d.disabled_collectors.iter().any(|x| x == c) {
                    d.disabled_collectors.push(c.to_string());
                }
            }
        }
    }
    if let Some(e) = get.entry("connectionInitSql").cloned() {
        if let Val::StrArray(v) = &e.val {
            for stmt in v {
                let stmt = stmt.trim();
                if stmt.is_empty() {
                    get.problem(
                        &e,
                        format!("{} {sd} has an empty statement; remove it", e.written),
                    );
                } else {
                    d.connection.connection_init_sql.push(stmt.to_string());
                }
            }
        }
    }
    for (i, p) in raw.plugins.iter().enumerate() {
        match p.keys.get("path").map(|e| &e.val) {
            Some(Val::Str(s)) if !s.trim().is_empty() => d.plugins.push(PluginConfig {
                path: resolve(&get.ctx.base_dir, s),
                config_toml: p.config_toml.clone(),
            }),
            _ => {
                let msg = format!(
                    "[[datasource.plugin]] #{} {sd} has no path; add path = \"plugins/libmy_collector.so\"",
                    i + 1
                );
                get.problem_at(p.line, Some("path"), msg);
            }
        }
    }
    d
}

/// Validates and assembles the whole configuration. Problems go to `ctx`.
pub(crate) fn build(ctx: &mut Ctx, raw: &RawConfig, origin: ConfigOrigin) -> Config {
    let mut global = GlobalConfig::default();
    apply_global(ctx, &raw.global, &mut global);
    check_global(ctx, &global);
    if raw.datasources.is_empty() {
        ctx.error(Problem::new(
            "no datasource configured; add at least one [[datasource]] table with name, dbHost, dbUser and dbPwd",
        ));
    }
    let mut datasources: Vec<DatasourceConfig> = Vec::new();
    // (name, line of its name key or table)
    let mut seen_names: Vec<(String, usize, usize)> = Vec::new();
    let mut seen_hosts: Vec<(String, usize, String, usize)> = Vec::new();
    for r in &raw.datasources {
        let d = build_datasource(ctx, r);
        let name_line = r.keys.get("name").map_or(r.line, |e| e.line);
        if !d.name.trim().is_empty() {
            if let Some((_, first_line, first_idx)) =
                seen_names.iter().find(|(n, _, _)| *n == d.name)
            {
                ctx.error(
                    Problem::new(format!(
                        "duplicate datasource name \"{}\": [[datasource]] #{} (line {}) and #{} (line {name_line}); give each datasource a unique name",
                        d.name, first_idx, first_line, r.index
                    ))
                    .at_line(name_line)
                    .with_key("name")
                    .in_datasource(&d.name),
                );
            } else {
                seen_names.push((d.name.clone(), name_line, r.index));
            }
        }
        if let (true, Some(h)) = (d.enabled, d.connection.db_host.as_deref()) {
            let key = host_key(h).to_string();
            let host_line = r.keys.get("dbHost").map_or(r.line, |e| e.line);
            if !key.is_empty() {
                if let Some((_, first_line, first_name, first_idx)) =
                    seen_hosts.iter().find(|(k, _, _, _)| k.eq_ignore_ascii_case(&key))
                {
                    ctx.error(
                        Problem::new(format!(
                            "duplicate dbHost \"{key}\": enabled datasources #{first_idx} ({first_name}, line {first_line}) and #{} ({}, line {host_line}) point at the same database; remove one or set enabled = false",
                            r.index, d.name
                        ))
                        .at_line(host_line)
                        .with_key("dbHost")
                        .in_datasource(&d.name),
                    );
                } else {
                    seen_hosts.push((key, host_line, d.name.clone(), r.index));
                }
            }
        }
        datasources.push(d);
    }
    Config { origin, global, datasources, warnings: std::mem::take(&mut ctx.warnings) }
}
