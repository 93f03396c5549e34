//! The shipped Grafana dashboard and Prometheus files (examples/) against the real exporter:
//! every exporter metric name their PromQL references is produced by a scrape of the three
//! SQLite fixture instances, the dashboard keeps the upstream template variables, and
//! promtool accepts the rules, the scrape config and every dashboard query.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::{fixture_ds, root, run_cli, scratch, sqlite_dir, Engine, Exporter};

const DASHBOARD: &str = "examples/grafana/dameng_overview.json";
const RULES: &str = "examples/prometheus/rules/dameng_alerts.yml";
const PROMETHEUS: &str = "examples/prometheus/prometheus.yml";
const RULE_TESTS: &str = "examples/prometheus/tests/dameng_alerts_test.yml";

/// Prefixes of the names this exporter produces; anything else (`up`, `ALERTS`, node_exporter
/// names) is not ours to check.
const OURS: [&str; 3] = ["dmdbms_", "dmdb_", "dameng_exporter_"];

/// The label matchers every dashboard selector of a datasource metric carries (docs/UPSTREAM.md
/// §5.1: the upstream dashboards filter the same way, so their users find the same variables).
const MATCHERS: [&str; 4] = [
    r#"datasource=~"${datasource}""#,
    r#"env=~"${env:.*}""#,
    r#"region=~"${region:.*}""#,
    r#"cluster=~"${cluster:.*}""#,
];

/// Self-metrics of the exporter process: no `datasource` label, so no datasource matchers.
const PROCESS_METRICS: [&str; 3] = [
    "dameng_exporter_build_info",
    "dameng_exporter_config_last_reload_successful",
    "dameng_exporter_duplicate_series_dropped_total",
];

/// PromQL words that are not metric names when they stand alone.
const KEYWORDS: [&str; 14] = [
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "inf",
    "nan",
    "atan2",
];

/// Modifiers whose parenthesised argument is a list of label names.
const LABEL_LISTS: [&str; 6] = ["by", "without", "on", "ignoring", "group_left", "group_right"];

/// A metric selector found in an expression: the name and the text between its braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selector {
    pub(crate) name: String,
    pub(crate) matchers: Option<String>,
}

/// Index just past the string literal that starts at `i` (`"`, `'` or a backtick).
fn skip_string(c: &[char], i: usize) -> usize {
    let quote = c[i];
    let mut j = i + 1;
    while j < c.len() {
        if c[j] == '\\' && quote != '`' {
            j += 2;
            continue;
        }
        if c[j] == quote {
            return j + 1;
        }
        j += 1;
    }
    c.len()
}

/// Index just past the bracket group that starts at `i` (`{`, `[` or `(`), strings inside
/// taken as opaque.
fn skip_group(c: &[char], i: usize) -> usize {
    let (open, close) = match c[i] {
        '{' => ('{', '}'),
        '[' => ('[', ']'),
        _ => ('(', ')'),
    };
    let mut depth = 0usize;
    let mut j = i;
    while j < c.len() {
        match c[j] {
            '"' | '\'' | '`' => {
                j = skip_string(c, j);
                continue;
            }
            x if x == open => depth += 1,
            x if x == close => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    c.len()
}

fn is_ident_start(ch: char) -> bool {
    ch.is_ascii_alphabetic() || ch == '_' || ch == ':'
}

fn is_ident(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || ch == '_' || ch == ':'
}

/// Metric selectors of a PromQL expression (Grafana template variables allowed): strings,
/// comments, `$x`/`${x}`, ranges and subqueries `[…]`, label lists of `by`/`without`/`on`/
/// `ignoring`/`group_left`/`group_right`, function and aggregation names, keywords and
/// numbers/durations are skipped; what remains are metric names, each with its `{…}` text.
pub(crate) fn selectors(expr: &str) -> Vec<Selector> {
    let c: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '"' || ch == '\'' || ch == '`' {
            i = skip_string(&c, i);
        } else if ch == '#' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '$' {
            i += 1;
            if c.get(i) == Some(&'{') {
                i = skip_group(&c, i);
            } else {
                while i < c.len() && is_ident(c[i]) {
                    i += 1;
                }
            }
        } else if ch == '[' {
            i = skip_group(&c, i);
        } else if ch == '{' {
            // A selector without a name (`{__name__=~"…"}`): nothing to check by name.
            i = skip_group(&c, i);
        } else if ch.is_ascii_digit()
            || (ch == '.' && c.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < c.len() && (c[i].is_ascii_alphanumeric() || c[i] == '.' || c[i] == '_') {
                i += 1;
            }
        } else if is_ident_start(ch) {
            let start = i;
            while i < c.len() && is_ident(c[i]) {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let mut k = i;
            while k < c.len() && c[k].is_whitespace() {
                k += 1;
            }
            let next = c.get(k).copied();
            // `sum by (a) (x)`: an aggregation whose grouping comes before its argument.
            let next_word: String = c[k..].iter().take_while(|ch| is_ident(**ch)).collect();
            let aggregation = next_word == "by" || next_word == "without";
            if LABEL_LISTS.contains(&word.as_str()) {
                if next == Some('(') {
                    i = skip_group(&c, k);
                }
            } else if next == Some('(')
                || aggregation
                || KEYWORDS.contains(&word.to_ascii_lowercase().as_str())
            {
                // function, aggregation or keyword
            } else if next == Some('{') {
                let end = skip_group(&c, k);
                let inner: String = c[k + 1..end.saturating_sub(1).max(k + 1)].iter().collect();
                out.push(Selector { name: word, matchers: Some(inner) });
                i = end;
            } else {
                out.push(Selector { name: word, matchers: None });
            }
        } else {
            i += 1;
        }
    }
    out
}

pub(crate) fn ours(name: &str) -> bool {
    OURS.iter().any(|p| name.starts_with(p))
}

/// PromQL strings of the dashboard: every `expr` (panel targets, annotations) and, separately,
/// the template variable queries (`label_values(…)`, Grafana syntax, not PromQL).
fn dashboard_queries(v: &serde_json::Value, exprs: &mut Vec<String>, vars: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map {
                if k == "expr" {
                    let s = val.as_str().expect("expr is a string");
                    exprs.push(s.to_owned());
                } else if k == "templating" {
                    for var in val["list"].as_array().expect("templating.list") {
                        if var["type"] == "query" {
                            let q = &var["query"];
                            let q =
                                q.as_str().or_else(|| q["query"].as_str()).expect("variable query");
                            vars.push(q.to_owned());
                        }
                    }
                } else {
                    dashboard_queries(val, exprs, vars);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                dashboard_queries(item, exprs, vars);
            }
        }
        _ => {}
    }
}

/// The `expr:` values of a Prometheus rules file: inline (`expr: a > 1`, quotes removed) or
/// block scalars (`expr: |` followed by more-indented lines).
pub(crate) fn rule_exprs(yaml: &str) -> Vec<String> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        i += 1;
        let Some(value) = trimmed.strip_prefix("expr:") else { continue };
        let value = value.trim();
        if value.starts_with('|') || value.starts_with('>') {
            let mut body = String::new();
            while i < lines.len() {
                let l = lines[i];
                let t = l.trim_start();
                if !t.is_empty() && l.len() - t.len() <= indent {
                    break;
                }
                body.push_str(t);
                body.push('\n');
                i += 1;
            }
            out.push(body);
        } else {
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            out.push(unquoted.to_owned());
        }
    }
    out
}

/// Metric names of an exposition (series lines only).
fn exposed_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

pub(crate) fn promtool(args: &[&str], cwd: &Path) -> (bool, String) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("promtool is installed by scripts/install-deps.sh (Debian package prometheus)");
    let report =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), report)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn dashboard() -> serde_json::Value {
    serde_json::from_str(&read(DASHBOARD))
        .unwrap_or_else(|e| panic!("{DASHBOARD}: invalid JSON: {e}"))
}

/// Grafana's variables replaced by values PromQL accepts (ranges by durations, everything
/// else, which only occurs inside label-matcher strings, by `.*`).
fn interpolate(expr: &str) -> String {
    let mut s = expr
        .replace("${__rate_interval}", "5m")
        .replace("$__rate_interval", "5m")
        .replace("${__interval}", "1m")
        .replace("$__interval", "1m")
        .replace("${__range}", "1h")
        .replace("$__range", "1h");
    while let Some(start) = s.find('$') {
        let rest = &s[start + 1..];
        let len = if rest.starts_with('{') {
            rest.find('}').map_or(rest.len(), |e| e + 1)
        } else {
            rest.find(|ch: char| !is_ident(ch)).unwrap_or(rest.len())
        };
        s.replace_range(start..start + 1 + len, ".*");
    }
    s
}

#[test]
fn tokenizer_finds_metric_names_only() {
    let e = r#"sum by (datasource, env) (rate(dmdbms_statement_type_total{datasource=~"${datasource}", statement_name=~"a|b(ms)"}[$__rate_interval])) * 100
        / on (datasource) group_left () max by (datasource) (dmdbms_parameter_info{param_name="MAX_SESSIONS"} > 0)
        > 80 unless ignoring(x) dmdb_up offset 1h == bool 0 or vector(1e6) # dmdbms_comment
        and time() - dmdbms_arch_last_create_time_seconds > 3600 or count without (a) (dmdbms_slow_sql_info) and label_values(dmdb_up{env=~"$env"}, region)"#;
    let names: Vec<String> = selectors(e).into_iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "dmdbms_statement_type_total",
            "dmdbms_parameter_info",
            "dmdb_up",
            "dmdbms_arch_last_create_time_seconds",
            "dmdbms_slow_sql_info",
            "dmdb_up",
            "region"
        ]
    );
    let s = selectors(r#"x{a="}", b=~"${v:.*}"}"#);
    assert_eq!(s, [Selector { name: "x".into(), matchers: Some(r#"a="}", b=~"${v:.*}""#.into()) }]);
    assert_eq!(
        rule_exprs("  - alert: A\n    expr: |\n      a\n      / b\n    for: 1m\n  - alert: B\n    expr: \"c > 1\"\n"),
        ["a\n/ b\n", "c > 1"]
    );
    assert_eq!(
        interpolate(r#"rate(x{d=~"${datasource}", e=~"$env"}[$__rate_interval])"#),
        r#"rate(x{d=~".*", e=~".*"}[5m])"#
    );
}

/// Structure: schema version, the data source variable, the upstream template variables,
/// unique panel ids, and the four matchers on every selector of a datasource metric.
#[test]
fn dashboard_structure() {
    let d = dashboard();
    assert!(d["schemaVersion"].as_u64().is_some_and(|v| v >= 39), "schemaVersion >= 39");
    let vars = d["templating"]["list"].as_array().expect("templating.list");
    let var = |name: &str| {
        vars.iter().find(|v| v["name"] == name).unwrap_or_else(|| panic!("no variable {name}"))
    };
    assert_eq!(var("DS_PROMETHEUS")["type"], "datasource");
    assert_eq!(var("DS_PROMETHEUS")["query"], "prometheus");
    for name in ["datasource", "env", "region", "cluster"] {
        assert_eq!(var(name)["type"], "query", "{name}");
        assert_eq!(var(name)["allValue"], ".*", "{name}");
    }

    let mut ids = BTreeSet::new();
    let mut problems = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        let title = p["title"].as_str().unwrap_or("?");
        assert!(ids.insert(p["id"].as_u64().expect("panel id")), "duplicate panel id in {title}");
        if p["type"] == "row" {
            continue;
        }
        if p["datasource"]["uid"] != "${DS_PROMETHEUS}" {
            problems.push(format!("{title}: panel datasource is not ${{DS_PROMETHEUS}}"));
        }
        let targets = p["targets"].as_array().map(Vec::as_slice).unwrap_or_default();
        if targets.is_empty() {
            problems.push(format!("{title}: no targets"));
        }
        for t in targets {
            if t["datasource"]["uid"] != "${DS_PROMETHEUS}" {
                problems.push(format!("{title}: target datasource is not ${{DS_PROMETHEUS}}"));
            }
            let expr = t["expr"].as_str().unwrap_or_default();
            for s in selectors(expr) {
                if !ours(&s.name) || PROCESS_METRICS.contains(&s.name.as_str()) {
                    continue;
                }
                let m = s.matchers.unwrap_or_default();
                for want in MATCHERS {
                    if !m.contains(want) {
                        problems.push(format!("{title}: {} lacks {want}", s.name));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "dashboard problems:\n{}", problems.join("\n"));
}

/// promtool accepts the rules, their unit tests, the scrape config, and every dashboard query
/// (as recording rules, after replacing Grafana's variables).
#[test]
fn promtool_accepts_rules_config_and_dashboard_queries() {
    let root = root();
    let (ok, report) = promtool(&["check", "rules", RULES], &root);
    assert!(ok, "promtool check rules {RULES}:\n{report}");
    let (ok, report) = promtool(&["check", "config", PROMETHEUS], &root);
    assert!(ok, "promtool check config {PROMETHEUS}:\n{report}");
    let (ok, report) = promtool(&["test", "rules", RULE_TESTS], &root);
    assert!(ok, "promtool test rules {RULE_TESTS}:\n{report}");

    let (mut exprs, mut vars) = (Vec::new(), Vec::new());
    dashboard_queries(&dashboard(), &mut exprs, &mut vars);
    let mut yaml = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        yaml.push_str(&format!("      - record: dashboard:query_{i}\n        expr: |\n"));
        for line in interpolate(e).lines() {
            yaml.push_str(&format!("          {line}\n"));
        }
    }
    let file: PathBuf = scratch("dashboard-promql").join("dashboard_queries.yml");
    std::fs::write(&file, yaml).expect("write");
    let (ok, report) = promtool(&["check", "rules", file.to_str().expect("utf-8")], &root);
    assert!(ok, "dashboard queries rejected by promtool (file {}):\n{report}", file.display());
}

/// Every exporter metric name referenced by the dashboard (queries and variables) and the
/// rules exists in a scrape of the three fixture instances. Some families exist only on some
/// instances (apply views on the standby, slow SQL and archive sending on the primary, …),
/// hence the union. `dmdbms_instance_log_error_info` relies on the fixture's error events
/// stamped with the build time (tests/fixtures/README.md): they fall inside the collector's
/// five-minute window while the fixture (built once per test process) is fresh; later, the
/// name only has to be declared by a registered collector.
#[test]
fn referenced_metrics_exist_in_fixture_scrape() {
    let (mut exprs, mut vars) = (Vec::new(), Vec::new());
    dashboard_queries(&dashboard(), &mut exprs, &mut vars);
    let rules = rule_exprs(&read(RULES));
    let rule_count = read(RULES).lines().filter(|l| l.trim_start().starts_with("- alert:")).count();
    assert_eq!(rules.len(), rule_count, "one expr per alert rule in {RULES}");
    assert!(exprs.len() > 50, "dashboard queries found: {}", exprs.len());

    let mut referenced: BTreeSet<(String, &str)> = BTreeSet::new();
    for (source, list) in [("dashboard", &exprs), ("dashboard variable", &vars), ("rules", &rules)]
    {
        for e in list {
            for s in selectors(e) {
                if ours(&s.name) {
                    referenced.insert((s.name, source));
                }
            }
        }
    }

    let on = "checkSlowSQL = true\nregisterHostMetrics = false\nlabels = \"env=test,region=r1,cluster=c1\"";
    let body = [
        fixture_ds(Engine::Sqlite, "primary", "primary", on),
        fixture_ds(Engine::Sqlite, "standby", "standby", on),
        fixture_ds(Engine::Sqlite, "odd", "odd", on),
    ]
    .concat();
    let exp = Exporter::start("dashboards", &body);
    // Age of the fixture's build-time log rows before the scrapes (the build writes primary.db
    // last thing; the tests only read it).
    let fixture_age = std::fs::metadata(sqlite_dir().join("primary.db"))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .unwrap_or(Duration::MAX);
    // Two scrapes: self-metrics about the previous scrape are there from the second on.
    let mut produced = exposed_names(&exp.metrics());
    produced.extend(exposed_names(&exp.metrics()));

    // Once the fresh log rows have left the five-minute window (a long test run), the error
    // log family cannot appear: then it must at least be declared by a registered collector.
    let declared = if fixture_age > Duration::from_secs(240) {
        let (code, out, err) = run_cli(&["--list-collectors"], &exp.dir);
        assert_eq!(code, 0, "--list-collectors: {err}");
        out
    } else {
        String::new()
    };
    let time_limited = |name: &str| {
        name == "dmdbms_instance_log_error_info" && declared.contains(&format!(" {name}"))
    };

    let missing: Vec<String> = referenced
        .iter()
        .filter(|(name, _)| !produced.contains(name) && !time_limited(name))
        .map(|(name, source)| format!("{name} ({source})"))
        .collect();
    let names: BTreeSet<&String> = referenced.iter().map(|(n, _)| n).collect();
    // The dashboard covers most families (docs/UPSTREAM.md §3.2); a tokenizer that finds only a
    // handful would make this test vacuous.
    assert!(names.len() >= 40, "only {} exporter metric names found: {names:?}", names.len());
    assert!(
        missing.is_empty(),
        "{} of {} referenced metric names are not produced by the fixture scrape:\n  {}\n\
         produced: {:?}",
        missing.len(),
        names.len(),
        missing.join("\n  "),
        produced
    );
}
