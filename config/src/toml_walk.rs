//! Walks a span-preserving `toml_edit::Document` into the raw stage: case-insensitive key
//! matching, type checks with line numbers, unknown-key warnings with suggestions.

use toml_edit::{Item, Key, TableLike, Value};

use crate::env;
use crate::error::Problem;
use crate::raw::{
    ds_keys, find_spec, global_keys, plugin_keys, suggest, Ctx, Entry, KeySpec, Kind, LineIndex,
    RawConfig, RawDatasource, RawPlugin, Section, Val,
};

/// Which form a parsed TOML document has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TomlForm {
    /// Global keys and `[[datasource]]` tables.
    Multi,
    /// Top-level dbHost/dbUser/dbPwd: one datasource named `default`.
    Single,
}

const SINGLE_MARKERS: &[&str] = &["dbHost", "dbUser", "dbPwd", "dbPwdFile", "odbcConnectionString"];

/// Detects the form from the root keys.
pub(crate) fn detect_form(root: &dyn TableLike) -> TomlForm {
    let has = |name: &str| root.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
    if has("datasource") {
        TomlForm::Multi
    } else if SINGLE_MARKERS.iter().any(|m| has(m)) {
        TomlForm::Single
    } else {
        TomlForm::Multi
    }
}

/// The TOML type name of an item, for messages.
pub(crate) fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => match v {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::InlineTable(_) => "an inline table",
        },
    }
}

/// Converts an item to the expected kind; `Err` carries the found type name.
fn convert(item: &Item, kind: Kind) -> Result<Val, &'static str> {
    let found = type_name(item);
    let Some(v) = item.as_value() else {
        return Err(found);
    };
    match (kind, v) {
        (Kind::Str, Value::String(s)) => Ok(Val::Str(s.value().clone())),
        (Kind::Int, Value::Integer(i)) => Ok(Val::Int(*i.value())),
        (Kind::Float, Value::Float(f)) => Ok(Val::Float(*f.value())),
        (Kind::Float, Value::Integer(i)) => Ok(Val::Float(*i.value() as f64)),
        (Kind::Bool, Value::Boolean(b)) => Ok(Val::Bool(*b.value())),
        (Kind::StrArray, Value::Array(a)) => a
            .iter()
            .map(|e| e.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Val::StrArray)
            .ok_or("an array with non-string elements"),
        _ => Err(found),
    }
}

/// Where a table sits, for messages: "at the top level", "in [[datasource]] #2 (name)".
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub(crate) describe: String,
    pub(crate) datasource: Option<String>,
}

/// Shared walker state.
pub(crate) struct Walker<'a> {
    pub(crate) ctx: &'a mut Ctx,
    pub(crate) lines: &'a LineIndex,
    /// Expand `${NAME}` in strings (off only when rendering a legacy file as TOML).
    pub(crate) expand_env: bool,
}

/// Keys not in `specs` found in a table, handed back to the caller (sub-tables).
type Specials<'t> = Vec<(&'static str, usize, &'t Item)>;

impl Walker<'_> {
    fn key_line(&self, table: &dyn TableLike, key: &str) -> usize {
        table
            .get_key_value(key)
            .and_then(|(k, _): (&Key, &Item)| k.span())
            .map_or(0, |s| self.lines.line(s.start))
    }

    /// Converts a value read for `spec` (env expansion of strings included) and stores it.
    pub(crate) fn store(
        &mut self,
        section: &mut Section,
        spec: KeySpec,
        written: &str,
        line: usize,
        val: Val,
        scope: &Scope,
    ) {
        if let Some(prev) = section.get(spec.name) {
            let prev_line = prev.line;
            let mut p = Problem::new(format!(
                "key \"{written}\" {} is given twice (also \"{}\"{}); keys are case-insensitive, keep one",
                scope.describe,
                prev.written,
                if prev_line > 0 {
                    format!(" at line {prev_line}")
                } else {
                    String::new()
                }
            ))
            .at_line(line)
            .with_key(written);
            if let Some(ds) = &scope.datasource {
                p = p.in_datasource(ds);
            }
            self.ctx.error(p);
            return;
        }
        let val = if spec.name == "version" || !self.expand_env {
            val
        } else {
            match self.expand(val, written, line, scope) {
                Some(v) => v,
                None => return,
            }
        };
        section.entries.push(Entry { key: spec.name, written: written.to_string(), line, val });
    }

    fn expand(&mut self, val: Val, written: &str, line: usize, scope: &Scope) -> Option<Val> {
        let res = match val {
            Val::Str(s) => env::expand(&s).map(Val::Str),
            Val::StrArray(v) => {
                v.iter().map(|s| env::expand(s)).collect::<Result<Vec<_>, _>>().map(Val::StrArray)
            }
            other => Ok(other),
        };
        match res {
            Ok(v) => Some(v),
            Err(e) => {
                let mut p = Problem::new(format!("{} {}", e.describe(written), scope.describe))
                    .at_line(line)
                    .with_key(written);
                if let Some(ds) = &scope.datasource {
                    p = p.in_datasource(ds);
                }
                self.ctx.error(p);
                None
            }
        }
    }

    /// Walks one table: known keys into `section`, `specials` handed back, the rest warned.
    /// `other_scope` names keys that belong elsewhere (for a better hint).
    pub(crate) fn walk_table<'t>(
        &mut self,
        table: &'t dyn TableLike,
        specs: &[KeySpec],
        specials: &[&'static str],
        other_scope: Option<(&[KeySpec], &str)>,
        scope: &Scope,
    ) -> (Section, Specials<'t>) {
        let mut section = Section::default();
        let mut found: Specials<'t> = Vec::new();
        for (key, item) in table.iter() {
            let line = self.key_line(table, key);
            if let Some(sp) = specials.iter().find(|s| s.eq_ignore_ascii_case(key)) {
                found.push((sp, line, item));
                continue;
            }
            if let Some(spec) = find_spec(specs, key) {
                match convert(item, spec.kind) {
                    Ok(val) => self.store(&mut section, spec, key, line, val, scope),
                    Err(found_type) => {
                        let mut p = Problem::new(format!(
                            "{key} {} must be {}, found {found_type}; e.g. {}",
                            scope.describe,
                            spec.kind.describe(),
                            example(spec)
                        ))
                        .at_line(line)
                        .with_key(key);
                        if let Some(ds) = &scope.datasource {
                            p = p.in_datasource(ds);
                        }
                        self.ctx.error(p);
                    }
                }
                continue;
            }
            if let Some((other, hint)) = other_scope {
                if let Some(spec) = find_spec(other, key) {
                    self.ctx.warn(
                        line,
                        format!(
                            "key \"{key}\" {} is ignored: \"{}\" {hint}",
                            scope.describe, spec.name
                        ),
                        true,
                    );
                    continue;
                }
            }
            let candidates = specs
                .iter()
                .map(|s| s.name)
                .chain(specials.iter().copied())
                .chain(other_scope.into_iter().flat_map(|(o, _)| o.iter().map(|s| s.name)));
            let msg = match suggest(key, candidates) {
                Some(s) => {
                    format!("unknown key \"{key}\" {}; did you mean \"{s}\"?", scope.describe)
                }
                None => format!("unknown key \"{key}\" {} is ignored", scope.describe),
            };
            self.ctx.warn(line, msg, true);
        }
        (section, found)
    }

    /// The tables of an array of tables, or of an array of inline tables.
    fn tables_of<'t>(
        &mut self,
        item: &'t Item,
        written: &str,
        line: usize,
        fix: &str,
    ) -> Vec<(&'t dyn TableLike, usize)> {
        let mut out: Vec<(&'t dyn TableLike, usize)> = Vec::new();
        match item {
            Item::ArrayOfTables(a) => {
                for t in a.iter() {
                    let l = t.span().map_or(line, |s| self.lines.line(s.start));
                    out.push((t as &dyn TableLike, l));
                }
            }
            Item::Value(Value::Array(a)) => {
                for v in a.iter() {
                    let l = v.span().map_or(line, |s| self.lines.line(s.start));
                    match v.as_inline_table() {
                        Some(t) => out.push((t as &dyn TableLike, l)),
                        None => self.ctx.error(
                            Problem::new(format!(
                                "{written} must hold tables, found {}; {fix}",
                                type_name(&Item::Value(v.clone()))
                            ))
                            .at_line(l)
                            .with_key(written),
                        ),
                    }
                }
            }
            other => self.ctx.error(
                Problem::new(format!(
                    "{written} must be an array of tables, found {}; {fix}",
                    type_name(other)
                ))
                .at_line(line)
                .with_key(written),
            ),
        }
        out
    }

    /// Walks the whole document.
    pub(crate) fn walk_document(&mut self, root: &dyn TableLike, form: TomlForm) -> RawConfig {
        let mut raw = RawConfig::default();
        let top = Scope { describe: "at the top level".to_string(), datasource: None };
        match form {
            TomlForm::Single => {
                let all: Vec<KeySpec> = global_keys().iter().chain(ds_keys()).copied().collect();
                let (section, _) = self.walk_table(root, &all, &[], None, &top);
                let mut ds = RawDatasource { index: 1, line: 0, ..Default::default() };
                for e in section.entries {
                    if global_keys().iter().any(|s| s.name == e.key) {
                        raw.global.entries.push(e);
                    } else {
                        ds.keys.entries.push(e);
                    }
                }
                if ds.keys.get("name").is_none() {
                    ds.keys.push("name", Val::Str("default".to_string()));
                }
                raw.datasources.push(ds);
            }
            TomlForm::Multi => {
                let (global, specials) = self.walk_table(
                    root,
                    global_keys(),
                    &["datasource"],
                    Some((
                        ds_keys(),
                        "is a [[datasource]] key; move it into each [[datasource]] that needs it",
                    )),
                    &top,
                );
                raw.global = global;
                for (_, line, item) in specials {
                    let tables = self.tables_of(
                        item,
                        "datasource",
                        line,
                        "write each datasource as a [[datasource]] table (double brackets)",
                    );
                    for (t, l) in tables {
                        let index = raw.datasources.len() + 1;
                        raw.datasources.push(self.walk_datasource(t, index, l));
                    }
                }
            }
        }
        raw
    }

    fn walk_datasource(&mut self, t: &dyn TableLike, index: usize, line: usize) -> RawDatasource {
        let name = t
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("name"))
            .and_then(|(_, i)| i.as_str())
            .map(str::to_string);
        let scope = ds_scope(index, name.as_deref());
        let (keys, specials) = self.walk_table(
            t,
            ds_keys(),
            &["plugin"],
            Some((
                global_keys(),
                "is a global key; move it to the top of the file, before the first [[datasource]]",
            )),
            &scope,
        );
        let mut ds = RawDatasource { index, line, keys, plugins: Vec::new() };
        for (_, pline, item) in specials {
            let tables = self.tables_of(
                item,
                "plugin",
                pline,
                "write each plugin as a [[datasource.plugin]] table",
            );
            for (pt, pl) in tables {
                let pscope = Scope {
                    describe: format!(
                        "in [[datasource.plugin]] #{} of {}",
                        ds.plugins.len() + 1,
                        scope.describe.trim_start_matches("in ")
                    ),
                    datasource: scope.datasource.clone(),
                };
                let (pkeys, pspecials) =
                    self.walk_table(pt, plugin_keys(), &["config"], None, &pscope);
                let mut config_toml = String::new();
                for (_, cline, citem) in pspecials {
                    match citem.as_table_like() {
                        Some(ct) => config_toml = reserialise(ct),
                        None => self.ctx.error(
                            Problem::new(format!(
                                "config {} must be a table ([datasource.plugin.config]), found {}",
                                pscope.describe,
                                type_name(citem)
                            ))
                            .at_line(cline)
                            .with_key("config"),
                        ),
                    }
                }
                ds.plugins.push(RawPlugin { line: pl, keys: pkeys, config_toml });
            }
        }
        ds
    }
}

/// "in [[datasource]] #N (name)".
pub(crate) fn ds_scope(index: usize, name: Option<&str>) -> Scope {
    match name.filter(|n| !n.is_empty()) {
        Some(n) => Scope {
            describe: format!("in [[datasource]] #{index} ({n})"),
            datasource: Some(n.to_string()),
        },
        None => Scope {
            describe: format!("in [[datasource]] #{index}"),
            datasource: Some(format!("#{index}")),
        },
    }
}

fn example(spec: KeySpec) -> String {
    match spec.kind {
        Kind::Str => format!("{} = \"…\"", spec.name),
        Kind::Int => format!("{} = 5 (no quotes)", spec.name),
        Kind::Float => format!("{} = 0.8 (no quotes)", spec.name),
        Kind::Bool => format!("{} = true (no quotes)", spec.name),
        Kind::StrArray => format!("{} = [\"a\", \"b\"]", spec.name),
    }
}

/// Re-serialises a (span-carrying) table as fresh TOML text, keeping key order.
fn reserialise(t: &dyn TableLike) -> String {
    let mut doc = toml_edit::DocumentMut::new();
    for (k, item) in t.iter() {
        doc.insert(k, fresh_item(item));
    }
    doc.to_string()
}

fn fresh_item(item: &Item) -> Item {
    match item {
        Item::None => Item::None,
        Item::Value(v) => Item::Value(fresh_value(v)),
        Item::Table(t) => Item::Table(fresh_table(t)),
        Item::ArrayOfTables(a) => {
            let mut out = toml_edit::ArrayOfTables::new();
            for t in a.iter() {
                out.push(fresh_table(t));
            }
            Item::ArrayOfTables(out)
        }
    }
}

fn fresh_table(t: &toml_edit::Table) -> toml_edit::Table {
    let mut out = toml_edit::Table::new();
    for (k, i) in t.iter() {
        out.insert(k, fresh_item(i));
    }
    out
}

fn fresh_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::from(s.value().as_str()),
        Value::Integer(i) => Value::from(*i.value()),
        Value::Float(f) => Value::from(*f.value()),
        Value::Boolean(b) => Value::from(*b.value()),
        Value::Datetime(d) => Value::from(*d.value()),
        Value::Array(a) => Value::Array(a.iter().map(fresh_value).collect()),
        Value::InlineTable(t) => {
            let mut out = toml_edit::InlineTable::new();
            for (k, v) in t.iter() {
                out.insert(k, fresh_value(v));
            }
            Value::InlineTable(out)
        }
    }
}
