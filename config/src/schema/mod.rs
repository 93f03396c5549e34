//! The one declaration of every configuration key.
//!
//! Each key is declared once, as a `Key` in the table of its section
//! (`global::GLOBAL`, `datasource::DATASOURCE`, `datasource::PLUGIN`), next to the field it
//! fills: name, TOML type, aliases, default, documentation (English and Chinese), CLI flag,
//! whether a reload applies it, how it is read and validated (`Apply`) and how its effective
//! value is shown (`Key::show`). Everything else is derived from these tables:
//!
//! - parsing: the key lists of `toml_walk` and `legacy` (case-insensitive matching, line
//!   numbers, "did you mean" suggestions from the names and aliases);
//! - validation of the simple keys (`Apply::Bool`, `Apply::Text`, `Apply::Count`) in
//!   `build.rs`; keys with cross-key rules are `Apply::Custom` and read there by name;
//! - `config/default.toml` ([`render_default_toml`]) and the README configuration reference
//!   ([`render_reference`]); `config/tests/schema.rs` fails when either file is stale and prints
//!   the command that regenerates them;
//! - the `--check-config` summary lines of keys changed from their default ([`changed_global`],
//!   [`changed_datasource`]) and the restart-needed flag ([`needs_restart`]).

pub(crate) mod datasource;
pub(crate) mod global;
mod render;

use crate::model::{ConfigOrigin, ConfigWarning};
pub use datasource::{ConnectionSettings, DatasourceConfig};
pub use global::GlobalConfig;

pub use render::{render_default_toml, render_reference, Lang, REFERENCE_BEGIN, REFERENCE_END};

/// The parse-level view of a declared key ([`Key`]): name and TOML type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeySpec {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
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

/// The TOML type of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Str,
    /// An integer.
    Int,
    /// A number (an integer is accepted).
    Float,
    /// `true` or `false`.
    Bool,
    /// An array of strings.
    StrArray,
}

impl Kind {
    /// "a string", "an integer", … for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Int => "an integer",
            Kind::Float => "a number",
            Kind::Bool => "a boolean (true or false)",
            Kind::StrArray => "an array of strings",
        }
    }
}

/// Where a key is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// At the top of the file (process-wide).
    Global,
    /// In each `[[datasource]]` table (applies to that datasource only).
    Datasource,
    /// In a `[[datasource.plugin]]` table.
    Plugin,
}

/// Whether a changed value takes effect on reload (SIGHUP, `POST /-/reload`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// A reload applies the new value.
    Applies,
    /// The value is read once at start; a change needs a restart.
    Restart,
}

/// How `config/default.toml` shows a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sample {
    /// `key = value`, the value being the default (or, for required keys, an example).
    Set(&'static str),
    /// `# key = value`: an example of an optional key that has no default.
    Commented(&'static str),
}

/// How a key is read into the model. The generic variants are applied by
/// `build::apply_declared` before the section's custom code runs.
pub(crate) enum Apply<T: 'static> {
    /// A boolean stored as given.
    Bool(fn(&mut T) -> &mut bool),
    /// A string; a non-empty value replaces the field (empty or absent keeps the default).
    Text(fn(&mut T) -> &mut String),
    /// A non-negative integer: absent keeps the field, 0 means `default` (upstream
    /// semantics), a negative value or one outside `range` (inclusive, with a unit for the
    /// message) is a problem and gives `default`. `set` stores it and returns false when it
    /// does not fit the field (reported as too large; `default` is stored instead).
    Count { default: u64, range: Option<(u64, u64, &'static str)>, set: fn(&mut T, u64) -> bool },
    /// Read and validated by the section's code in `build.rs` (cross-key rules, files,
    /// passwords, enums).
    Custom,
}

/// One configuration key: the single place it is declared.
pub(crate) struct Key<T: 'static> {
    /// The canonical spelling (matched case-insensitively).
    pub(crate) name: &'static str,
    /// The TOML type.
    pub(crate) kind: Kind,
    /// Other names users write for it: suggested in "did you mean", never accepted.
    pub(crate) aliases: &'static [&'static str],
    /// The v1.1 `key=value` name, accepted in legacy files, when it differs.
    pub(crate) legacy: Option<&'static str>,
    /// The command-line flag that overrides it, if any.
    pub(crate) flag: Option<&'static str>,
    /// Ours, not upstream's.
    pub(crate) ours: bool,
    /// Whether reload applies it.
    pub(crate) reload: Reload,
    /// Never shown in summaries (secrets and password handling).
    pub(crate) secret: bool,
    /// The heading of its group in default.toml (English / 中文).
    pub(crate) group: &'static str,
    /// The README "Default" column (Markdown).
    pub(crate) default: &'static str,
    /// How default.toml shows it.
    pub(crate) sample: Sample,
    /// What it does, in English (Markdown; also the default.toml comment).
    pub(crate) doc: &'static str,
    /// Short Chinese name (the gloss in the English README).
    pub(crate) gloss: &'static str,
    /// What it does, in Chinese (README.zh-CN and default.toml).
    pub(crate) zh: &'static str,
    /// How it is read and validated.
    pub(crate) apply: Apply<T>,
    /// Its effective value as a TOML literal, for summaries; `None` when unset.
    pub(crate) show: fn(&T) -> Option<String>,
}

/// What the public API tells about a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Canonical name.
    pub name: &'static str,
    /// Where it is written.
    pub scope: Scope,
    /// Its TOML type.
    pub kind: Kind,
    /// A secret (or password handling): never shown in summaries.
    pub secret: bool,
    /// Whether reload applies it.
    pub reload: Reload,
    /// The CLI flag that overrides it.
    pub flag: Option<&'static str>,
    /// The README default (Markdown).
    pub default: &'static str,
    /// English documentation (Markdown).
    pub doc: &'static str,
    /// Chinese documentation.
    pub zh: &'static str,
}

impl<T> Key<T> {
    /// The fields every declaration overrides; `..Key::BASE` fills the rest.
    pub(crate) const BASE: Self = Key {
        name: "",
        kind: Kind::Str,
        aliases: &[],
        legacy: None,
        flag: None,
        ours: false,
        reload: Reload::Applies,
        secret: false,
        group: "",
        default: "",
        sample: Sample::Set(""),
        doc: "",
        gloss: "",
        zh: "",
        apply: Apply::Custom,
        show: hidden,
    };

    pub(crate) const fn spec(&self) -> KeySpec {
        KeySpec { name: self.name, kind: self.kind }
    }

    fn info(&self, scope: Scope) -> KeyInfo {
        KeyInfo {
            name: self.name,
            scope,
            kind: self.kind,
            secret: self.secret,
            reload: self.reload,
            flag: self.flag,
            default: self.default,
            doc: self.doc,
            zh: self.zh,
        }
    }
}

/// Every declared key, global keys first, in declaration (and default.toml) order.
pub fn keys() -> Vec<KeyInfo> {
    global::GLOBAL
        .iter()
        .map(|k| k.info(Scope::Global))
        .chain(datasource::DATASOURCE.iter().map(|k| k.info(Scope::Datasource)))
        .chain(datasource::PLUGIN.iter().map(|k| k.info(Scope::Plugin)))
        .collect()
}

/// Looks a key up by name, case-insensitively (as the parser matches it).
pub fn key(name: &str) -> Option<KeyInfo> {
    keys().into_iter().find(|k| k.name.eq_ignore_ascii_case(name))
}

/// `Some(true)` when a changed `key` needs a restart, `Some(false)` when reload applies it,
/// `None` for an unknown key. Case-insensitive.
pub fn needs_restart(key_name: &str) -> Option<bool> {
    key(key_name).map(|k| k.reload == Reload::Restart)
}

/// The global keys whose effective value differs from the default, as `key=value` (TOML
/// literals); secrets are never listed.
pub fn changed_global(g: &GlobalConfig) -> Vec<String> {
    changed(global::GLOBAL, g, &GlobalConfig::default())
}

/// The datasource keys whose effective value differs from the default, as `key=value`
/// (TOML literals; `name` is not listed); secrets are never listed.
pub fn changed_datasource(d: &DatasourceConfig) -> Vec<String> {
    let base = DatasourceConfig::new(d.name.clone());
    let mut out = changed(datasource::DATASOURCE, d, &base);
    out.retain(|s| !s.starts_with("name="));
    out
}

fn changed<T>(table: &[Key<T>], v: &T, base: &T) -> Vec<String> {
    table
        .iter()
        .filter(|k| !k.secret)
        .filter_map(|k| {
            let now = (k.show)(v)?;
            ((k.show)(base).as_ref() != Some(&now)).then(|| format!("{}={now}", k.name))
        })
        .collect()
}

/// The parse-level view of a table (name and type).
pub(crate) fn specs<T>(table: &[Key<T>]) -> Vec<KeySpec> {
    table.iter().map(Key::spec).collect()
}

/// `(alias, canonical)` for every declared alias.
pub(crate) fn aliases() -> impl Iterator<Item = (&'static str, &'static str)> {
    fn of<T>(t: &'static [Key<T>]) -> impl Iterator<Item = (&'static str, &'static str)> {
        t.iter().flat_map(|k| k.aliases.iter().map(move |a| (*a, k.name)))
    }
    of(global::GLOBAL).chain(of(datasource::DATASOURCE)).chain(of(datasource::PLUGIN))
}

/// `(v1.1 name, canonical)` for the keys renamed since v1.1.
pub(crate) fn legacy_names() -> impl Iterator<Item = (&'static str, &'static str)> {
    fn of<T>(t: &'static [Key<T>]) -> impl Iterator<Item = (&'static str, &'static str)> {
        t.iter().filter_map(|k| k.legacy.map(|l| (l, k.name)))
    }
    of(global::GLOBAL).chain(of(datasource::DATASOURCE))
}

// --- `show` helpers: effective values as TOML literals -------------------------------------

/// A TOML string literal.
pub(crate) fn q(s: &str) -> Option<String> {
    Some(toml_edit::Value::from(s).to_string().trim().to_string())
}

/// A number or boolean.
pub(crate) fn n(x: impl std::fmt::Display) -> Option<String> {
    Some(x.to_string())
}

/// A TOML float literal.
pub(crate) fn f(x: f64) -> Option<String> {
    Some(toml_edit::Value::from(x).to_string().trim().to_string())
}

/// A TOML array of strings.
pub(crate) fn arr<'a>(items: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let a: toml_edit::Array = items.into_iter().collect();
    Some(a.to_string().trim().to_string())
}

/// A path as a TOML string.
pub(crate) fn path(p: &std::path::Path) -> Option<String> {
    q(&p.display().to_string())
}

/// A `show` for keys that have no value to show.
pub(crate) fn hidden<T>(_: &T) -> Option<String> {
    None
}
