//! A real Prometheus (Debian package, /usr/bin/prometheus) scrapes the exporter over TLS with
//! basic auth from `--web.config.file`, in both target styles: `/metrics` (every datasource)
//! and `/probe?target=<datasource>` with `__param_target` relabelling. Its HTTP API must show
//! `up == 1` for every target and DM metrics for every datasource.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{
    fixture_ds, free_port, http_get, run_cli, scratch, tls_files, Engine, Exporter,
};

const PROMETHEUS: &str = "/usr/bin/prometheus";
const INSTANCES: [&str; 3] = ["primary", "standby", "odd"];
const USER: &str = "prometheus";
const PASSWORD: &str = "e2e-scrape-pw";
/// Upper bound for Prometheus to report every target up with data.
const DEADLINE: Duration = Duration::from_secs(60);

/// A running Prometheus, killed on drop.
struct Prometheus {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Prometheus {
    fn start(dir: &Path, config: &str) -> Prometheus {
        assert!(
            Path::new(PROMETHEUS).exists(),
            "{PROMETHEUS} is missing: run scripts/install-deps.sh (Debian package `prometheus`)"
        );
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("write prometheus.yml");
        let port = free_port();
        let log =
            |name: &str| Stdio::from(std::fs::File::create(dir.join(name)).expect("log file"));
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .current_dir(dir)
            .stdout(log("prometheus.stdout.log"))
            .stderr(log("prometheus.stderr.log"))
            .spawn()
            .expect("start prometheus");
        Prometheus { child, port, dir: dir.to_owned() }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.stderr.log")).unwrap_or_default()
    }

    /// Instant query through the HTTP API; the `data.result` vector.
    fn query(&mut self, expr: &str) -> Result<Vec<serde_json::Value>, String> {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("prometheus exited with {status}:\n{}", self.output());
        }
        let encoded: String = expr
            .bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (status, body) = http_get(self.port, &format!("/api/v1/query?query={encoded}"), None)?;
        if status != 200 {
            return Err(format!("HTTP {status}: {body}"));
        }
        let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
        json["data"]["result"].as_array().cloned().ok_or_else(|| format!("no result: {body}"))
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn label<'a>(sample: &'a serde_json::Value, name: &str) -> &'a str {
    sample["metric"][name].as_str().unwrap_or("")
}

fn sample_value(sample: &serde_json::Value) -> Option<f64> {
    sample["value"][1].as_str().and_then(|v| v.parse().ok())
}

fn prometheus_config(exporter_port: u16, ca: &Path) -> String {
    let common = format!(
        "    scheme: https\n    tls_config:\n      ca_file: {ca}\n    basic_auth:\n      \
         username: {USER}\n      password: {PASSWORD}\n",
        ca = ca.display()
    );
    let targets: Vec<String> = INSTANCES.iter().map(|i| format!("'{i}'")).collect();
    format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n\
         \x20 - job_name: dameng_metrics\n{common}    metrics_path: /metrics\n    \
         static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n\
         \x20 - job_name: dameng_probe\n{common}    metrics_path: /probe\n    \
         static_configs:\n      - targets: [{targets}]\n    relabel_configs:\n      \
         - source_labels: [__address__]\n        target_label: __param_target\n      \
         - source_labels: [__param_target]\n        target_label: instance\n      \
         - target_label: __address__\n        replacement: 127.0.0.1:{exporter_port}\n",
        targets = targets.join(", ")
    )
}

#[test]
fn prometheus_scrapes_metrics_and_probe_over_tls_with_basic_auth() {
    let tls_dir = scratch("prom-e2e-tls");
    let tls = tls_files(&tls_dir);
    let hash = bcrypt::hash(PASSWORD, 4).expect("hash");
    let web_config = tls_dir.join("web.yml");
    // Relative paths: resolved against the directory of the web config file.
    std::fs::write(
        &web_config,
        format!(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  \
             min_version: TLS12\nbasic_auth_users:\n  {USER}: {hash}\n  other: {hash}\n"
        ),
    )
    .expect("write web.yml");
    let body: String = INSTANCES.iter().map(|i| fixture_ds(Engine::Sqlite, i, i, "")).collect();
    let web_arg = web_config.to_str().expect("utf-8 path");
    let exporter =
        Exporter::start_https("prom-e2e", &body, &["--web.config.file", web_arg], &tls.ca);

    // The exporter itself: HTTPS with the web-config user, 401 without.
    let (status, text) = exporter.try_get("/metrics", Some((USER, PASSWORD))).expect("https get");
    assert_eq!(status, 200, "{text}");
    for ds in INSTANCES {
        assert!(
            text.contains(&format!("dmdbms_status_info{{datasource=\"{ds}\"}}")),
            "{ds}:\n{text}"
        );
    }
    assert_eq!(exporter.try_get("/metrics", None).expect("https get").0, 401);
    assert!(
        http_get(exporter.port, "/metrics", Some((USER, PASSWORD))).is_err(),
        "plain HTTP must not work on the TLS port"
    );

    let prom_dir = scratch("prom-e2e-prometheus");
    let mut prometheus = Prometheus::start(&prom_dir, &prometheus_config(exporter.port, &tls.ca));

    let started = Instant::now();
    let mut last = String::new();
    loop {
        assert!(
            started.elapsed() < DEADLINE,
            "Prometheus did not see every target up with DM metrics within {DEADLINE:?}; last \
             state: {last}\n--- prometheus\n{}\n--- exporter\n{}",
            prometheus.output(),
            exporter.output()
        );
        std::thread::sleep(Duration::from_millis(500));
        match check_prometheus(&mut prometheus) {
            Ok(()) => break,
            Err(state) => last = state,
        }
    }
    drop(prometheus);
    let status = exporter.terminate();
    assert!(status.success(), "{status}");
}

/// `Ok` once Prometheus reports the four targets up and `dmdbms_status_info` for every
/// datasource from both jobs; otherwise what is still missing.
fn check_prometheus(prometheus: &mut Prometheus) -> Result<(), String> {
    let up = prometheus.query("up")?;
    let mut targets: Vec<String> = up
        .iter()
        .map(|s| {
            format!(
                "{}/{}={}",
                label(s, "job"),
                label(s, "instance"),
                sample_value(s).unwrap_or(-1.0)
            )
        })
        .collect();
    targets.sort();
    let expected_up = 1 + INSTANCES.len();
    if up.len() != expected_up || up.iter().any(|s| sample_value(s) != Some(1.0)) {
        return Err(format!("up: {targets:?}"));
    }
    let probe_instances: Vec<&str> = up
        .iter()
        .filter(|s| label(s, "job") == "dameng_probe")
        .map(|s| label(s, "instance"))
        .collect();
    for instance in INSTANCES {
        if !probe_instances.contains(&instance) {
            return Err(format!("no probe target {instance}: {targets:?}"));
        }
    }

    let info = prometheus.query("dmdbms_status_info")?;
    for ds in INSTANCES {
        let from_metrics = info
            .iter()
            .any(|s| label(s, "job") == "dameng_metrics" && label(s, "datasource") == ds);
        let from_probe = info.iter().any(|s| {
            label(s, "job") == "dameng_probe"
                && label(s, "datasource") == ds
                && label(s, "instance") == ds
        });
        if !(from_metrics && from_probe) {
            let seen: Vec<String> = info
                .iter()
                .map(|s| {
                    format!(
                        "{}/{}/{}",
                        label(s, "job"),
                        label(s, "instance"),
                        label(s, "datasource")
                    )
                })
                .collect();
            return Err(format!("dmdbms_status_info for {ds}: metrics={from_metrics} probe={from_probe}; seen {seen:?}"));
        }
    }
    // A probe target carries only its own datasource.
    for sample in info.iter().filter(|s| label(s, "job") == "dameng_probe") {
        if label(sample, "instance") != label(sample, "datasource") {
            return Err(format!(
                "probe {} returned datasource {}",
                label(sample, "instance"),
                label(sample, "datasource")
            ));
        }
    }
    Ok(())
}

#[test]
fn a_broken_web_config_is_a_config_error() {
    let dir = scratch("prom-e2e-broken-web");
    let config = dir.join("dameng_exporter.toml");
    std::fs::write(&config, fixture_ds(Engine::Sqlite, "primary", "primary", "")).expect("write");
    let web = dir.join("web.yml");
    let cases = [
        (
            "tls_server_config:\n  cert_file: missing.pem\n  key_file: missing.key\n",
            "tls_server_config.cert_file",
        ),
        (
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Sometimes\n",
            "tls_server_config.client_auth_type",
        ),
        ("basic_auth_users:\n  alice: plaintext\n", "basic_auth_users.alice"),
        ("tls_server_config:\n  certfile: a\n", "certfile"),
    ];
    for (text, key) in cases {
        std::fs::write(&web, text).expect("write web.yml");
        for check in [true, false] {
            let mut args = vec!["--config", config.to_str().expect("utf-8"), "--web.config.file"];
            args.push(web.to_str().expect("utf-8"));
            if check {
                args.push("--check-config");
            }
            let (code, _, stderr) = run_cli(&args, &dir);
            assert_eq!(code, 2, "{text} (check={check}): {stderr}");
            assert!(stderr.contains(key), "{text}: the error names {key}: {stderr}");
            assert!(stderr.contains("web.yml"), "{text}: the error names the file: {stderr}");
        }
    }
    let (code, _, stderr) = run_cli(
        &["--config", config.to_str().expect("utf-8"), "--web.config.file", "nope.yml"],
        &dir,
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nope.yml"), "{stderr}");
}
