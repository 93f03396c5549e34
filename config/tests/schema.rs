//! The declarations in `config/src/schema` agree with everything derived from them:
//! `config/default.toml` and the README configuration reference are generated (this test
//! fails when they are stale; `DMEXP_BLESS=1 cargo test -p dmexp-config --test schema`
//! rewrites them), the declared defaults are what an empty file gives, the parser knows every
//! declared key, and `needs_restart` answers per key.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use dmexp_config::schema::{self, Lang, Reload, Scope, REFERENCE_BEGIN, REFERENCE_END};
use dmexp_config::*;

const REGENERATE: &str = "DMEXP_BLESS=1 cargo test -p dmexp-config --test schema";

fn bless() -> bool {
    std::env::var_os("DMEXP_BLESS").is_some_and(|v| v == "1")
}

fn repo_root() -> PathBuf {
    crate_dir().parent().unwrap().to_path_buf()
}

/// Compares `path` with `want`, or rewrites it under DMEXP_BLESS=1.
fn check_file(path: &Path, want: &str) {
    let have = fs::read_to_string(path).unwrap();
    if have == want {
        return;
    }
    if bless() {
        fs::write(path, want).unwrap();
        return;
    }
    let line = have
        .lines()
        .zip(want.lines())
        .position(|(a, b)| a != b)
        .map_or_else(|| have.lines().count().min(want.lines().count()) + 1, |i| i + 1);
    panic!(
        "{} is stale (first difference at line {line}); it is generated from config/src/schema: \
         run `{REGENERATE}`",
        path.display()
    );
}

/// `text` with the part between the markers replaced by `generated`.
fn splice(text: &str, generated: &str, file: &str) -> String {
    let begin = text
        .find(REFERENCE_BEGIN)
        .unwrap_or_else(|| panic!("{file} has no line {REFERENCE_BEGIN:?}"));
    let end = text.find(REFERENCE_END).unwrap_or_else(|| panic!("{file} has no {REFERENCE_END:?}"));
    assert!(begin < end, "{file}: the END marker comes before the BEGIN marker");
    format!("{}{REFERENCE_BEGIN}\n\n{generated}\n{}", &text[..begin], &text[end..])
}

#[test]
fn default_toml_is_generated_from_the_schema() {
    check_file(&crate_dir().join("default.toml"), &schema::render_default_toml());
    if !bless() {
        // The embedded copy is the file (include_str!), checked above.
        assert_eq!(DEFAULT_CONFIG, schema::render_default_toml());
    }
}

#[test]
fn readme_reference_is_generated_from_the_schema() {
    for (file, lang) in [("README.md", Lang::En), ("README.zh-CN.md", Lang::Zh)] {
        let path = repo_root().join(file);
        let text = fs::read_to_string(&path).unwrap();
        check_file(&path, &splice(&text, &schema::render_reference(lang), file));
    }
}

#[test]
fn every_declared_key_is_in_the_reference_and_default_toml() {
    let en = schema::render_reference(Lang::En);
    let zh = schema::render_reference(Lang::Zh);
    let toml = schema::render_default_toml();
    let keys = schema::keys();
    assert!(keys.iter().any(|k| k.scope == Scope::Global));
    assert!(keys.iter().any(|k| k.scope == Scope::Datasource));
    assert!(keys.iter().any(|k| k.scope == Scope::Plugin));
    for k in &keys {
        let cell = format!("| `{}` |", k.name);
        assert_eq!(en.matches(&cell).count(), 1, "{} in the English reference", k.name);
        assert_eq!(zh.matches(&cell).count(), 1, "{} in the Chinese reference", k.name);
        let listed = toml.lines().filter(|l| {
            let l = l.trim_start_matches(['#', ' ']);
            l.strip_prefix(k.name).is_some_and(|r| r.starts_with(" = "))
        });
        assert_eq!(listed.count(), 1, "{} in default.toml", k.name);
        assert!(!k.doc.is_empty() && !k.zh.is_empty(), "{} has no documentation", k.name);
        assert!(!k.default.is_empty(), "{} has no README default", k.name);
    }
}

#[test]
fn the_generated_default_toml_gives_the_declared_defaults() {
    // What the file gives equals what the structs' Default impls give, and no key shows a
    // value other than its sample: the declaration, default.toml and the model agree.
    let cfg = load_str(&schema::render_default_toml(), Path::new("default.toml")).unwrap();
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    assert!(
        schema::changed_global(&cfg.global).is_empty(),
        "{:?}",
        schema::changed_global(&cfg.global)
    );
    // default.toml writes `logDir = "logs"` out, so the directory counts as set by the file.
    let want = GlobalConfig { log_dir_explicit: true, ..GlobalConfig::default() };
    assert_eq!(format!("{:?}", cfg.global), format!("{want:?}"));
    let d = &cfg.datasources[0];
    assert_eq!(
        schema::changed_datasource(d),
        ["dbHost=\"127.0.0.1:5236\"", "dbUser=\"SYSDBA\""],
        "only the sample connection differs from DatasourceConfig::new"
    );
    // An empty global section gives the same as default.toml's global keys.
    let empty = load("schema-empty", &ds("a", "h:1")).unwrap();
    assert_eq!(format!("{:?}", empty.global), format!("{:?}", GlobalConfig::default()));
}

#[test]
fn changed_settings_name_the_key_and_never_a_secret() {
    let text = format!(
        "listenAddress = \":9300\"\nenableBasicAuth = true\nbasicAuthUsername = \"u\"\n\
         basicAuthPassword = \"s3cret\"\nencodeConfigPwd = false\nscrapeTimeoutFactor = 0.5\n{}\
         queryTimeout = 7\nconnMaxLifetime = 2\nlabels = \"b=2,a=1\"\ndisabledCollectors = [\"x\"]\n",
        ds("a", "h:1")
    );
    let cfg = load("schema-changed", &text).unwrap();
    assert_eq!(
        schema::changed_global(&cfg.global),
        [
            "listenAddress=\":9300\"",
            "enableBasicAuth=true",
            "basicAuthUsername=\"u\"",
            "scrapeTimeoutFactor=0.5"
        ]
    );
    assert_eq!(
        schema::changed_datasource(&cfg.datasources[0]),
        [
            "dbHost=\"h:1\"",
            "dbUser=\"SYSDBA\"",
            "queryTimeout=7",
            "connMaxLifetime=2",
            "labels=\"b=2,a=1\"",
            "disabledCollectors=[\"x\"]"
        ]
    );
}

#[test]
fn needs_restart_per_key() {
    assert_eq!(schema::needs_restart("listenAddress"), Some(true));
    assert_eq!(schema::needs_restart("LISTENADDRESS"), Some(true));
    assert_eq!(schema::needs_restart("logDir"), Some(true));
    assert_eq!(schema::needs_restart("basicAuthPassword"), Some(false));
    assert_eq!(schema::needs_restart("metricPath"), Some(false));
    assert_eq!(schema::needs_restart("dbHost"), Some(false));
    assert_eq!(schema::needs_restart("noSuchKey"), None);
    let restart: Vec<&str> =
        schema::keys().iter().filter(|k| k.reload == Reload::Restart).map(|k| k.name).collect();
    assert_eq!(
        restart,
        ["listenAddress", "logFormat", "logMaxSize", "logMaxBackups", "logMaxAge", "logDir"]
    );
}

#[test]
fn declared_aliases_are_suggested() {
    let text = format!("{}dbPassword = \"x\"\ncustomMetrics = \"m.toml\"\n", ds("a", "h:1"));
    let cfg = load("schema-alias", &text).unwrap();
    let w: Vec<&str> = cfg.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(
        w[0].ends_with(
            "unknown key \"dbPassword\" in [[datasource]] #1 (a); did you mean \"dbPwd\"?"
        ),
        "{w:?}"
    );
    assert!(
        w[1].ends_with("unknown key \"customMetrics\" in [[datasource]] #1 (a); did you mean \"customMetricsFile\"?"),
        "{w:?}"
    );
}

/// A valid value other than the default for `key`, by type (overrides for keys whose
/// strings are validated).
fn probe(key: &schema::KeyInfo, dir: &Path) -> String {
    match key.name {
        "listenAddress" => "\":9300\"".into(),
        "metricPath" => "\"/m\"".into(),
        "logLevel" => "\"debug\"".into(),
        "logFormat" => "\"json\"".into(),
        "collectionMode" => "\"fast\"".into(),
        "collectStrategy" => "\"serial\"".into(),
        "labels" => "\"env=prod\"".into(),
        "customMetricsFile" => {
            let p = dir.join("m.toml");
            fs::write(&p, "").unwrap();
            format!("{:?}", p.display().to_string())
        }
        _ => match key.kind {
            schema::Kind::Bool => (key.default != "`true`").to_string(),
            schema::Kind::Int if key.default == "`2`" => "3".into(),
            schema::Kind::Int => "2".into(),
            schema::Kind::Float => "0.5".into(),
            schema::Kind::Str => "\"x\"".into(),
            schema::Kind::StrArray => "[\"x\"]".into(),
        },
    }
}

/// A datasource that needs no dbHost, dbUser or dbPwd, so each of them can be probed.
const BARE: &str = "[[datasource]]\nname = \"a\"\nodbcConnectionString = \"DSN=x\"\n";

#[test]
fn every_shown_key_is_read_into_the_model() {
    // A declaration whose value nothing reads (a forgotten build step or a wrong field in
    // `Apply`) fails here: setting the key must change what `show` reports.
    let dir = tmpdir("schema-probe");
    for k in schema::keys().iter().filter(|k| !k.secret) {
        let value = probe(k, &dir);
        let (text, changed): (String, fn(&Config) -> Vec<String>) = match k.scope {
            Scope::Global => (format!("{} = {value}\n{}", k.name, ds("a", "h:1")), |c| {
                schema::changed_global(&c.global)
            }),
            Scope::Datasource if k.name == "name" => continue,
            Scope::Datasource => (format!("{BARE}{} = {value}\n", k.name), |c| {
                schema::changed_datasource(&c.datasources[0])
            }),
            Scope::Plugin => continue,
        };
        if k.name == "version" {
            continue; // read and ignored, by design
        }
        let path = dir.join("dameng_exporter.toml");
        fs::write(&path, &text).unwrap();
        let cfg = load_file(&path).unwrap_or_else(|e| panic!("{} = {value}: {e}", k.name));
        let want = format!("{}={value}", k.name);
        assert!(changed(&cfg).contains(&want), "{want} not in {:?}", changed(&cfg));
    }
}
