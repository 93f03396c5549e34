//! The legacy v1.1 `key=value` file (docs/UPSTREAM.md §1.10): detection, conversion into the raw
//! stage (one datasource named `default`), and the equivalent TOML text.

use crate::error::Problem;
use crate::raw::{
    ds_keys, find_spec, global_keys, suggest, Ctx, Entry, KeySpec, Kind, RawConfig, RawDatasource,
    Section, Val,
};
use crate::schema;
use crate::toml_walk::{ds_scope, Scope, Walker};

/// v1.1 keys that have no meaning any more.
const IGNORED: &[&str] = &["configFile"];

/// v1.1 defaults that are applied when the key is absent, because v1.1 used them and a
/// running v1.1 setup depends on them (the v1.2 defaults apply to everything else).
const V11_DEFAULTS: &[(&str, &str)] =
    &[("dbHost", "127.0.0.1:5236"), ("dbUser", "SYSDBA"), ("dbPwd", "SYSDBA")];

/// v1.1 file name of the default custom metrics file, used when it exists next to the config.
const V11_CUSTOM_METRICS: &str = "custom_metrics.toml";

fn is_key(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '.')
}

fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().enumerate().filter_map(|(i, l)| {
        let t = l.trim();
        (!t.is_empty() && !t.starts_with('#')).then_some((i + 1, l))
    })
}

fn resolve_key(key: &str) -> Option<(KeySpec, bool)> {
    // v1.1 keys whose v1.2 name differs (declared as `legacy` in the schema).
    let canonical =
        schema::legacy_names().find(|(a, _)| a.eq_ignore_ascii_case(key)).map_or(key, |(_, b)| b);
    if let Some(s) = find_spec(global_keys(), canonical) {
        return Some((s, true));
    }
    find_spec(ds_keys(), canonical).map(|s| (s, false))
}

/// True when every content line is `key=value` with an identifier key and an unquoted
/// value (a quoted, array or table value means a TOML file with a syntax error), no line
/// is a TOML table header, and at least one key is known.
pub(crate) fn looks_legacy(text: &str) -> bool {
    let mut known = false;
    for (_, line) in content_lines(text) {
        let Some((k, v)) = line.split_once('=') else {
            return false;
        };
        let k = k.trim();
        if !is_key(k) || v.trim_start().starts_with(['"', '\'', '[', '{']) {
            return false;
        }
        if resolve_key(k).is_some() {
            known = true;
        }
    }
    known
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "t" | "1" => Some(true),
        "false" | "f" | "0" => Some(false),
        _ => None,
    }
}

/// Parses a legacy file into the raw stage. Keys not given take v1.2 defaults, except
/// dbHost/dbUser/dbPwd (v1.1 defaults), encodeConfigPwd (v1.1 default true) and
/// customMetricsFile (v1.1 default `custom_metrics.toml`, used only if it exists).
pub(crate) fn parse(walker: &mut Walker<'_>, text: &str) -> RawConfig {
    let mut raw = RawConfig::default();
    let mut ds = RawDatasource { index: 1, line: 0, ..Default::default() };
    let top = Scope { describe: "in the legacy file".to_string(), datasource: None };
    let ds_sc = ds_scope(1, Some("default"));
    let all_names: Vec<&str> = global_keys()
        .iter()
        .chain(ds_keys())
        .map(|s| s.name)
        .chain(schema::legacy_names().map(|(a, _)| a))
        .collect();
    for (lineno, line) in content_lines(text) {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if IGNORED.iter().any(|i| i.eq_ignore_ascii_case(k)) {
            continue;
        }
        let Some((spec, global)) = resolve_key(k) else {
            let msg = match suggest(k, all_names.iter().copied()) {
                Some(s) => format!("unknown key \"{k}\" in the legacy file; did you mean \"{s}\"?"),
                None => format!("unknown key \"{k}\" in the legacy file is ignored"),
            };
            walker.ctx.warn(lineno, msg, true);
            continue;
        };
        if v.is_empty() {
            continue;
        }
        let val = match spec.kind {
            Kind::Str => Some(Val::Str(v.to_string())),
            Kind::Int => v.parse::<i64>().ok().map(Val::Int),
            Kind::Float => v.parse::<f64>().ok().map(Val::Float),
            Kind::Bool => parse_bool(v).map(Val::Bool),
            Kind::StrArray => Some(Val::StrArray(
                v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            )),
        };
        let Some(val) = val else {
            walker.ctx.error(
                Problem::new(format!(
                    "{k} must be {} in the legacy file; e.g. {k}={}",
                    spec.kind.describe(),
                    match spec.kind {
                        Kind::Bool => "true",
                        Kind::Float => "0.8",
                        _ => "5",
                    }
                ))
                .at_line(lineno)
                .with_key(k),
            );
            continue;
        };
        if global {
            walker.store(&mut raw.global, spec, k, lineno, val, &top);
        } else {
            walker.store(&mut ds.keys, spec, k, lineno, val, &ds_sc);
        }
    }
    if ds.keys.get("name").is_none() {
        ds.keys.entries.insert(
            0,
            Entry {
                key: "name",
                written: "name".to_string(),
                line: 0,
                val: Val::Str("default".to_string()),
            },
        );
    }
    for (key, value) in V11_DEFAULTS {
        if ds.keys.get(key).is_none() && !(*key == "dbPwd" && ds.keys.get("dbPwdFile").is_some()) {
            if let Some(spec) = find_spec(ds_keys(), key) {
                ds.keys.push(spec.name, Val::Str((*value).to_string()));
            }
        }
    }
    if raw.global.get("encodeConfigPwd").is_none() {
        raw.global.push("encodeConfigPwd", Val::Bool(true));
    }
    if ds.keys.get("customMetricsFile").is_none()
        && walker.ctx.base_dir.join(V11_CUSTOM_METRICS).is_file()
    {
        ds.keys.push("customMetricsFile", Val::Str(V11_CUSTOM_METRICS.to_string()));
    }
    raw.datasources.push(ds);
    raw
}

fn toml_value(v: &Val) -> String {
    match v {
        Val::Str(s) => toml_edit::Value::from(s.as_str()).to_string(),
        Val::Int(i) => i.to_string(),
        Val::Float(f) => toml_edit::Value::from(*f).to_string(),
        Val::Bool(b) => b.to_string(),
        Val::StrArray(a) => {
            let arr: toml_edit::Array = a.iter().map(String::as_str).collect();
            arr.to_string()
        }
    }
}

fn write_section(out: &mut String, section: &Section, redact: bool) {
    for Entry { key, val, .. } in &section.entries {
        if redact && matches!(*key, "dbPwd" | "basicAuthPassword") {
            out.push_str(&format!(
                "{key} = \"***\"   # put the password here, or ENC(...) from `dameng_exporter --encryptPwd`\n"
            ));
        } else {
            out.push_str(&format!("{key} = {}\n", toml_value(val).trim()));
        }
    }
}

/// Renders the raw stage of a legacy file as multi-source TOML.
pub(crate) fn render_toml(raw: &RawConfig, redact: bool) -> String {
    let mut out = String::from(
        "# Converted from a legacy v1.1 key=value file (dameng_exporter.config).\n\
         # 由旧版 v1.1 key=value 配置文件转换而来。\n",
    );
    write_section(&mut out, &raw.global, redact);
    for ds in &raw.datasources {
        out.push_str("\n[[datasource]]\n");
        write_section(&mut out, &ds.keys, redact);
    }
    out
}

/// The conversion notice attached as a warning to a legacy load.
pub(crate) fn notice(ctx: &Ctx, raw: &RawConfig) -> String {
    format!(
        "legacy v1.1 key=value format detected and converted in memory to one datasource named \
         \"default\"; keys not given take the v1.2 defaults (e.g. queryTimeout 5 s instead of 30, \
         logLevel info instead of debug), except dbHost/dbUser/dbPwd and encodeConfigPwd = true; \
         relative paths are resolved against {}. Save this as dameng_exporter.toml \
         (password redacted) and start with --config dameng_exporter.toml:\n{}",
        ctx.base_dir.display(),
        render_toml(raw, true)
    )
}
