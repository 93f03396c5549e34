//! The raw (unvalidated) stage: known keys, typed entries with their line, and the loading
//! context that collects problems and warnings.

use std::path::PathBuf;
use std::sync::LazyLock;

use crate::error::Problem;
use crate::model::ConfigWarning;
use crate::schema;

pub(crate) use crate::schema::{KeySpec, Kind};

static GLOBAL_SPECS: LazyLock<Vec<KeySpec>> =
    LazyLock::new(|| schema::specs(schema::global::GLOBAL));
static DS_SPECS: LazyLock<Vec<KeySpec>> =
    LazyLock::new(|| schema::specs(schema::datasource::DATASOURCE));
static PLUGIN_SPECS: LazyLock<Vec<KeySpec>> =
    LazyLock::new(|| schema::specs(schema::datasource::PLUGIN));

/// Global (top-level) keys, from the schema.
pub(crate) fn global_keys() -> &'static [KeySpec] {
    &GLOBAL_SPECS
}

/// `[[datasource]]` keys, from the schema.
pub(crate) fn ds_keys() -> &'static [KeySpec] {
    &DS_SPECS
}

/// `[[datasource.plugin]]` keys (besides the `config` table), from the schema.
pub(crate) fn plugin_keys() -> &'static [KeySpec] {
    &PLUGIN_SPECS
}

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
    if let Some((_, to)) = schema::aliases().find(|(a, _)| a.eq_ignore_ascii_case(key)) {
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
