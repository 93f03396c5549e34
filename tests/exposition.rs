//! The two exposition formats of one full fixture scrape (every built-in family of `primary`
//! and `odd` on SQLite): the text format 0.0.4 passes `promtool check metrics`; OpenMetrics
//! 1.0.0 passes Prometheus' OpenMetrics parser (`promtool tsdb create-blocks-from
//! openmetrics`) and a strict check of the OpenMetrics rules below; both carry the same
//! series; gzip decompresses to the same text.
//!
//! `promtool check metrics` (Prometheus 2.42, Debian 12) parses the text format only: valid
//! OpenMetrics fails it wherever the formats differ (`\"` in HELP text, the `unknown` type),
//! so OpenMetrics goes through promtool's OpenMetrics parser instead, which is what a
//! Prometheus server uses when it scrapes OpenMetrics (tests/prometheus_e2e.rs scrapes it
//! for real: Prometheus asks for OpenMetrics first).

use std::collections::HashSet;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{fixture_ds, root, scratch, Engine, Exporter};
use crate::golden::stable;

/// Prometheus 3's scrape `Accept` header.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;q=0.5,\
     application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;q=0.3,\
     text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
const OPENMETRICS_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const TEXT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// GET with request headers; returns the content type, the content encoding and the raw body.
fn fetch(port: u16, path: &str, headers: &[(&str, &str)]) -> (String, Option<String>, Vec<u8>) {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(60))).build().into();
    let mut req = agent.get(&format!("http://127.0.0.1:{port}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let header =
        |name: &str| resp.headers().get(name).map(|v| v.to_str().expect("ascii").to_owned());
    let (content_type, encoding) =
        (header("content-type").unwrap_or_default(), header("content-encoding"));
    let mut body = Vec::new();
    resp.body_mut().as_reader().read_to_end(&mut body).expect("body");
    (content_type, encoding, body)
}

fn utf8(body: Vec<u8>) -> String {
    String::from_utf8(body).expect("utf-8 body")
}

/// Runs promtool with `args`, `stdin` on its standard input; returns success and its output.
fn promtool(args: &[&str], stdin: &str, cwd: &Path) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed by scripts/install-deps.sh (Debian package prometheus)");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("promtool");
    let report =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), report)
}

/// Feeds `om` to promtool's OpenMetrics parser (`tsdb create-blocks-from openmetrics`, which
/// needs a timestamp on every sample: one is appended) and returns the number of samples
/// it stored.
fn promtool_openmetrics(om: &str, dir: &Path) -> u64 {
    let stamped: String = om
        .lines()
        .map(|l| if l.starts_with('#') { format!("{l}\n") } else { format!("{l} 1800000000\n") })
        .collect();
    let input = dir.join("openmetrics-stamped.txt");
    std::fs::write(&input, stamped).expect("write");
    let blocks = dir.join("blocks");
    let _ = std::fs::remove_dir_all(&blocks);
    let (ok, report) = promtool(
        &[
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            input.to_str().expect("utf-8"),
            blocks.to_str().expect("utf-8"),
        ],
        "",
        dir,
    );
    assert!(ok, "promtool's OpenMetrics parser refused the exposition:\n{report}");
    // BLOCK ULID  MIN TIME  MAX TIME  DURATION  NUM SAMPLES ...
    let row = report.lines().nth(1).unwrap_or_else(|| panic!("no block row:\n{report}"));
    row.split_whitespace().nth(4).and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{row}"))
}

/// Checks the OpenMetrics 1.0.0 rules this exporter's output must follow, strictly: `# EOF`
/// last and only once, no blank line, only TYPE and HELP comments, TYPE first and once per
/// family, HELP of that family with only `\\`, `\n` and `\"` escapes, every sample named as
/// its family's type requires (a counter's `<family>_total`), values `+Inf`, `-Inf`, `NaN`
/// or numbers. Returns the number of samples.
fn check_openmetrics(om: &str) -> Result<usize, String> {
    let body = om.strip_suffix("# EOF\n").ok_or("does not end with `# EOF`")?;
    let mut families = HashSet::new();
    let mut current: Option<(&str, &str)> = None;
    let mut samples = 0;
    for (n, line) in body.lines().enumerate().map(|(i, l)| (i + 1, l)) {
        let err = |what: &str| Err(format!("line {n}: {what}: {line}"));
        if line.is_empty() {
            return err("blank line");
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let Some((name, kind)) = rest.split_once(' ') else { return err("bad TYPE") };
            if !["counter", "gauge", "histogram", "summary", "unknown"].contains(&kind) {
                return err("type");
            }
            if kind == "counter" && name.ends_with("_total") {
                return err("counter family named with `_total`");
            }
            if !families.insert(name) {
                return err("family repeated");
            }
            current = Some((name, kind));
        } else if let Some(rest) = line.strip_prefix("# HELP ") {
            let Some((name, text)) = rest.split_once(' ') else { return err("bad HELP") };
            if Some(name) != current.map(|c| c.0) {
                return err("HELP of another family");
            }
            let mut chars = text.chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => return err("unescaped double quote"),
                    '\\' if !matches!(chars.next(), Some('\\' | 'n' | '"')) => {
                        return err("bad escape")
                    }
                    _ => {}
                }
            }
        } else if line.starts_with('#') {
            return err("comment that is not TYPE or HELP (or a second `# EOF`)");
        } else {
            let Some((family, kind)) = current else { return err("sample before TYPE") };
            let name = line.split(['{', ' ']).next().unwrap_or("");
            let suffix = name.strip_prefix(family);
            let allowed: &[&str] = match kind {
                "counter" => &["_total", "_created"],
                "histogram" => &["_bucket", "_sum", "_count", "_created"],
                "summary" => &["", "_sum", "_count", "_created"],
                _ => &[""],
            };
            if !suffix.is_some_and(|s| allowed.contains(&s)) {
                return err("sample name does not belong to its family");
            }
            let value = line.rsplit(' ').next().unwrap_or("");
            let number = value.parse::<f64>().is_ok_and(f64::is_finite)
                && !value.chars().any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E');
            if !number && !["+Inf", "-Inf", "NaN"].contains(&value) {
                return err("value");
            }
            samples += 1;
        }
    }
    Ok(samples)
}

/// The sample lines of an exposition with infinities spelt one way (`+Inf` in OpenMetrics,
/// `inf` in the text format, both valid there), so the formats compare line for line.
fn samples(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.replace(" +Inf", " inf").replace(" -Inf", " -inf"))
        .collect()
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut out).expect("gzip body");
    out
}

#[test]
fn both_formats_of_a_full_scrape_pass_promtool_and_carry_the_same_series() {
    let body = format!(
        "{}{}",
        fixture_ds(
            Engine::Sqlite,
            "primary",
            "primary",
            "labels = \"env=prod\"\ncheckSlowSQL = true"
        ),
        fixture_ds(Engine::Sqlite, "odd", "odd", "checkSlowSQL = true"),
    );
    let exp = Exporter::start("exposition", &body);
    let (content_type, encoding, text) = fetch(exp.port, "/metrics", &[]);
    assert_eq!((content_type.as_str(), encoding), (TEXT_TYPE, None));
    let text = utf8(text);
    let (content_type, _, om) = fetch(exp.port, "/metrics", &[("Accept", PROMETHEUS_ACCEPT)]);
    assert_eq!(content_type, OPENMETRICS_TYPE);
    let om = utf8(om);
    let dir = scratch("exposition-promtool");
    std::fs::write(dir.join("text.prom"), &text).expect("write");
    std::fs::write(dir.join("openmetrics.txt"), &om).expect("write");

    let (ok, report) = promtool(&["check", "metrics"], &text, &dir);
    assert!(ok && report.trim().is_empty(), "promtool check metrics (text 0.0.4):\n{report}");
    let count = check_openmetrics(&om).unwrap_or_else(|e| panic!("OpenMetrics: {e}"));
    assert_eq!(promtool_openmetrics(&om, &dir), count as u64);
    assert_eq!(count, samples(&text).len());
    // Some of each rule is exercised by this scrape.
    assert!(om.contains("# TYPE dmdbms_ckpttime counter\n"));
    assert!(text.contains("# TYPE dmdbms_ckpttime_total counter\n"));
    assert!(om.contains("reason=\\\"permission\\\""), "HELP quotes escaped");
    // The same series in both (values that follow the clock left out).
    assert_eq!(samples(&stable(&om)), samples(&stable(&text)));

    // gzip, in both formats: decompresses to what an uncompressed scrape gets.
    for accept in [None, Some(PROMETHEUS_ACCEPT)] {
        let mut headers = vec![("Accept-Encoding", "gzip")];
        headers.extend(accept.map(|a| ("Accept", a)));
        let (_, encoding, zipped) = fetch(exp.port, "/metrics", &headers);
        assert_eq!(encoding.as_deref(), Some("gzip"));
        let plain = if accept.is_some() { &om } else { &text };
        assert!(zipped.len() * 4 < plain.len(), "{} of {} bytes", zipped.len(), plain.len());
        assert_eq!(stable(&gunzip(&zipped)), stable(plain));
    }
}

/// The Go exporter's custom metrics example declares a counter without `_total`
/// (`dmdbms_context_with_labels_value_1`): in OpenMetrics it keeps its name, typed `unknown`,
/// so dashboards and alerts see the same series in both formats.
#[test]
fn a_counter_without_total_keeps_its_name_in_openmetrics() {
    let custom = root().join("config/examples/custom_queries.metrics");
    let extra = format!("customMetricsFile = \"{}\"", custom.display());
    let exp = Exporter::start(
        "exposition-custom",
        &fixture_ds(Engine::Sqlite, "primary", "primary", &extra),
    );
    let (_, _, text) = fetch(exp.port, "/metrics", &[]);
    let (_, _, om) = fetch(exp.port, "/metrics", &[("Accept", "application/openmetrics-text")]);
    let (text, om) = (utf8(text), utf8(om));
    let name = "dmdbms_context_with_labels_value_1";
    assert!(text.contains(&format!("# TYPE {name} counter\n")), "{text}");
    assert!(om.contains(&format!("# TYPE {name} unknown\n")), "{om}");
    let series = |t: &str| t.lines().filter(|l| l.starts_with(name)).count();
    assert!(series(&om) > 0);
    assert_eq!(series(&om), series(&text));
    let dir = scratch("exposition-custom-promtool");
    let count = check_openmetrics(&om).unwrap_or_else(|e| panic!("OpenMetrics: {e}"));
    assert_eq!(promtool_openmetrics(&om, &dir), count as u64);
}

/// The checker itself refuses what it must (a check that cannot fail proves nothing).
#[test]
fn the_openmetrics_checker_refuses_broken_expositions() {
    let ok = "# TYPE a counter\n# HELP a x \\\"q\\\"\na_total 1\n# TYPE b gauge\nb{l=\"v\"} +Inf\n# EOF\n";
    assert_eq!(check_openmetrics(ok), Ok(2));
    for bad in [
        "# TYPE a counter\na_total 1\n",
        "# TYPE a counter\na_total 1\n# EOF\n# EOF\n",
        "# TYPE a_total counter\na_total 1\n# EOF\n",
        "# TYPE a counter\na 1\n# EOF\n",
        "# TYPE a gauge\na inf\n# EOF\n",
        "# TYPE a untyped\na 1\n# EOF\n",
        "# TYPE a gauge\n# HELP a say \"hi\"\na 1\n# EOF\n",
        "# TYPE a gauge\na 1\n# TYPE a gauge\na 2\n# EOF\n",
        "# TYPE a gauge\n\na 1\n# EOF\n",
        "b 1\n# EOF\n",
    ] {
        assert!(check_openmetrics(bad).is_err(), "accepted:\n{bad}");
    }
}
