//! The raw (unvalidated) stage: known keys, typed entries with their line, and the loading
//! context that collects problems and warnings.

use std::path::PathBuf;

use crate::error::Problem;
use crate::model::ConfigWarning;

/// Expected TOML type of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Str,
    Int,
    Float,
    Bool,
    StrArray,
}

impl Kind {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Int => "an integer",
            Kind::Float => "a number",
            Kind::Bool => "a boolean (true or false)",
            Kind::StrArray => "an array of strings",
        }
    }
}

/// A key the schema knows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeySpec {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
}

const fn k(name: &'static str, kind: Kind) -> KeySpec {
    KeySpec { name, kind }
}

/// Global (top-level) keys.
pub(crate) const GLOBAL_KEYS: &[KeySpec] = &[
    k("listenAddress", Kind::Str),
    k("metricPath", Kind::Str),
    k("version", Kind::Str),
    k("logLevel", Kind::Str),
    k("logMaxSize", Kind::Int),
    k("logMaxBackups", Kind::Int),
    k("logMaxAge", Kind::Int),
    k("logDir", Kind::Str),
    k("encodeConfigPwd", Kind::Bool),
    k("enableBasicAuth", Kind::Bool),
    k("basicAuthUsername", Kind::Str),
    k("basicAuthPassword", Kind::Str),
    k("retryIntervalSeconds", Kind::Int),
    k("enableHealthPing", Kind::Bool),
    k("globalTimeoutSeconds", Kind::Int),
    k("collectionMode", Kind::Str),
    k("collectStrategy", Kind::Str),
    k("maxConcurrentGroups", Kind::Int),
    k("groupTimeout", Kind::Int),
    k("scrapeTimeoutFactor", Kind::Float),
];

/// `[[datasource]]` keys.
pub(crate) const DS_KEYS: &[KeySpec] = &[
    k("name", Kind::Str),
    k("description", Kind::Str),
    k("enabled", Kind::Bool),
    k("dbHost", Kind::Str),
    k("dbUser", Kind::Str),
    k("dbPwd", Kind::Str),
    k("dbPwdFile", Kind::Str),
    k("odbcDriver", Kind::Str),
    k("odbcConnectionString", Kind::Str),
    k("queryTimeout", Kind::Int),
    k("maxOpenConns", Kind::Int),
    k("maxIdleConns", Kind::Int),
    k("connMaxLifetime", Kind::Int),
    k("bigKeyDataCacheTime", Kind::Int),
    k("alarmKeyCacheTime", Kind::Int),
    k("checkSlowSQL", Kind::Bool),
    k("slowSqlTime", Kind::Int),
    k("slowSqlMaxRows", Kind::Int),
    k("registerHostMetrics", Kind::Bool),
    k("registerDatabaseMetrics", Kind::Bool),
    k("registerDmhsMetrics", Kind::Bool),
    k("registerCustomMetrics", Kind::Bool),
    k("priority", Kind::Int),
    k("labels", Kind::Str),
    k("customMetricsFile", Kind::Str),
    k("disabledCollectors", Kind::StrArray),
    k("connectionInitSql", Kind::StrArray),
];

/// `[[datasource.plugin]]` keys (besides the `config` table).
pub(crate) const PLUGIN_KEYS: &[KeySpec] = &[k("path", Kind::Str)];

/// Names users write for a key that has another name here (CLI spellings, legacy names).
pub(crate) const ALIASES: &[(&str, &str)] = &[
    ("slowSqlLimitRows", "slowSqlMaxRows"),
    ("dbPassword", "dbPwd"),
    ("password", "dbPwd"),
    ("user", "dbUser"),
    ("host", "dbHost"),
    ("customMetrics", "customMetricsFile"),
];

/// Finds a key: exact match first, then case-insensitive (as BurntSushi/toml does).
pub(crate) fn find_spec(specs: &[KeySpec], key: &str) -> Option<KeySpec> {
    specs
        .iter()
        .find(|s| s.name == key)
        .or_else(|| specs.iter().find(|s| s.name.eq_ignore_ascii_case(key)))
        .copied()
}

/// Nearest known key for a typo, if one is close enough.
pub(crate) fn suggest<'a>(
    key: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = key.to_ascii_lowercase();
    if let Some((_, to)) = ALIASES.iter().find(|(a, _)| a.eq_ignore_ascii_case(key)) {
        return Some(to);
    }
    let mut best: Option<(&str, f64)> = None;
    for c in candidates {
        let score = strsim::normalized_damerau_levenshtein(&lower, &c.to_ascii_lowercase());
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((c, score));
        }
    }
    best.filter(|(_, s)| *s >= 0.6).map(|(c, _)| c)
}

/// A typed value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    StrArray(Vec<String>),
}

/// One key as read: canonical name, spelling used, line (0 = none, e.g. CLI), value.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) key: &'static str,
    pub(crate) written: String,
    pub(crate) line: usize,
    pub(crate) val: Val,
}

/// The keys of one table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Section {
    pub(crate) entries: Vec<Entry>,
}

impl Section {
    pub(crate) fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    pub(crate) fn push(&mut self, key: &'static str, val: Val) {
        self.entries.push(Entry { key, written: key.to_string(), line: 0, val });
    }
}

/// One `[[datasource.plugin]]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawPlugin {
    pub(crate) line: usize,
    pub(crate) keys: Section,
    pub(crate) config_toml: String,
}

/// One `[[datasource]]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawDatasource {
    /// 1-based position in the file.
    pub(crate) index: usize,
    pub(crate) line: usize,
    pub(crate) keys: Section,
    pub(crate) plugins: Vec<RawPlugin>,
}

/// The whole file before validation.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawConfig {
    pub(crate) global: Section,
    pub(crate) datasources: Vec<RawDatasource>,
}

/// Loading context: file name for messages, base directory for relative paths, findings.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) file: String,
    pub(crate) base_dir: PathBuf,
    pub(crate) problems: Vec<Problem>,
    pub(crate) warnings: Vec<ConfigWarning>,
}

impl Ctx {
    pub(crate) fn new(file: impl Into<String>, base_dir: PathBuf) -> Self {
        Ctx { file: file.into(), base_dir, problems: Vec::new(), warnings: Vec::new() }
    }

    pub(crate) fn error(&mut self, p: Problem) {
        self.problems.push(p);
    }

    pub(crate) fn warn(&mut self, line: usize, message: impl AsRef<str>, unknown_key: bool) {
        let message = if line > 0 {
            format!("{}:{line}: {}", self.file, message.as_ref())
        } else {
            format!("{}: {}", self.file, message.as_ref())
        };
        self.warnings.push(ConfigWarning { message, unknown_key });
    }
}

/// Byte offset → 1-based line/column.
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    pub(crate) fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset)
    }

    pub(crate) fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let line = self.line(offset);
        let start = self.starts.get(line.saturating_sub(1)).copied().unwrap_or(0);
        let col = text.get(start..offset.min(text.len())).map_or(1, |s| s.chars().count() + 1);
        (line, col)
    }
}
