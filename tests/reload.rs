//! Hot reload of the settings outside the runtime, as a user meets it (finding H2): the real
//! binary, SIGHUP and `POST /-/reload`, basic auth, metricPath, logLevel, listenAddress,
//! `--web.config.file` users and certificates; logging under systemd and with an unusable log
//! directory; `:port` on IPv4 and IPv6.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{
    fixture_ds, free_port, http_get, https_get, scratch, tls_files, value, Engine, Exporter,
};

const USER: &str = "prom";

/// `POST path` with optional basic auth over plain HTTP.
fn post(port: u16, path: &str, auth: Option<(&str, &str)>) -> (u16, String) {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = agent.post(format!("http://127.0.0.1:{port}{path}"));
    if let Some((u, p)) = auth {
        use base64::Engine as _;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
        req = req.header("Authorization", format!("Basic {token}"));
    }
    let mut resp = req.send_empty().expect("post");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap_or_default())
}

fn sighup(exp: &Exporter) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &exp.pid().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
}

/// Polls `check` every 100 ms for up to 15 s; panics with `what` and the exporter's output.
fn eventually(exp: &Exporter, what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(15), "{what}\n{}", exp.all_logs());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The config text of the harness with `from` replaced by `to` (exactly once).
fn edit(exp: &Exporter, from: &str, to: &str) {
    let text = std::fs::read_to_string(&exp.config).expect("read config");
    assert_eq!(text.matches(from).count(), 1, "`{from}` in\n{text}");
    std::fs::write(&exp.config, text.replace(from, to)).expect("write config");
}

fn auth_body(password: &str) -> String {
    format!(
        "enableBasicAuth = true\nbasicAuthUsername = \"{USER}\"\nbasicAuthPassword = \
         \"{password}\"\n{}",
        fixture_ds(Engine::Sqlite, "a", "primary", "")
    )
}

fn status(exp: &Exporter, path: &str, auth: Option<(&str, &str)>) -> u16 {
    exp.try_get(path, auth).unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", exp.output())).0
}

#[test]
fn a_rotated_password_applies_by_sighup_and_by_post() {
    let exp = Exporter::start("reload-password", &auth_body("first-secret"));
    assert_eq!(status(&exp, "/metrics", Some((USER, "first-secret"))), 200);
    assert_eq!(status(&exp, "/metrics", None), 401);

    // SIGHUP: the new password works, the old one is refused.
    edit(&exp, "first-secret", "second-secret");
    sighup(&exp);
    eventually(&exp, "second password not accepted after SIGHUP", || {
        status(&exp, "/metrics", Some((USER, "second-secret"))) == 200
    });
    assert_eq!(status(&exp, "/metrics", Some((USER, "first-secret"))), 401);
    assert_eq!(status(&exp, "/", Some((USER, "first-secret"))), 401);

    // POST /-/reload (itself behind basic auth, with the current password).
    edit(&exp, "second-secret", "third-secret");
    assert_eq!(post(exp.port, "/-/reload", Some((USER, "first-secret"))).0, 401);
    let (code, body) = post(exp.port, "/-/reload", Some((USER, "second-secret")));
    assert_eq!((code, body.as_str()), (200, "configuration reloaded\n"));
    assert_eq!(status(&exp, "/metrics", Some((USER, "second-secret"))), 401);
    let (code, text) = exp.try_get("/metrics", Some((USER, "third-secret"))).expect("get");
    assert_eq!(code, 200);
    assert_eq!(value(&text, "dameng_exporter_config_last_reload_successful"), Some(1.0));
    assert!(!text.contains("dameng_exporter_config_restart_required"), "{text}");

    // Turning basic auth off by reload opens the endpoint; on again closes it.
    edit(&exp, "enableBasicAuth = true", "enableBasicAuth = false");
    assert_eq!(post(exp.port, "/-/reload", Some((USER, "third-secret"))).0, 200);
    assert_eq!(status(&exp, "/metrics", None), 200);
    edit(&exp, "enableBasicAuth = false", "enableBasicAuth = true");
    assert_eq!(post(exp.port, "/-/reload", None).0, 200);
    assert_eq!(status(&exp, "/metrics", None), 401);

    let logs = exp.all_logs();
    assert_eq!(exp.output().matches("HTTP settings applied.").count(), 4, "{logs}");
    for secret in ["first-secret", "second-secret", "third-secret"] {
        assert!(!logs.contains(secret), "{secret} in the logs");
    }
}

#[test]
fn a_broken_reload_keeps_the_old_credentials() {
    let exp = Exporter::start("reload-broken", &auth_body("kept-secret"));
    let kept = Some((USER, "kept-secret"));
    // Bad TOML on the password line: refused, the old password stays, the new one is refused.
    edit(&exp, "\"kept-secret\"", "\"new-secret");
    let (code, body) = post(exp.port, "/-/reload", kept);
    assert_eq!(code, 500, "{body}");
    assert!(body.starts_with("reload failed, old configuration kept: "), "{body}");
    assert!(!body.contains("new-secret"), "{body}");
    assert_eq!(status(&exp, "/metrics", Some((USER, "new-secret"))), 401);
    // Valid TOML but an invalid bcrypt hash: the HTTP settings cannot be built, nothing applies
    // (not the metric path of the same file, nor its new datasource).
    edit(&exp, "\"new-secret", "\"$2b$12$tooshort\"\nmetricPath = \"/other\"");
    let text = std::fs::read_to_string(&exp.config).expect("read config");
    let b = fixture_ds(Engine::Sqlite, "b", "standby", "");
    std::fs::write(&exp.config, format!("{text}{b}")).expect("write config");
    let (code, body) = post(exp.port, "/-/reload", kept);
    assert_eq!(code, 500, "{body}");
    assert!(body.contains("basicAuthPassword") && body.contains("bcrypt"), "{body}");
    assert!(!body.contains("tooshort"), "{body}");
    let (code, text) = exp.try_get("/metrics", kept).expect("get");
    assert_eq!(code, 200);
    assert_eq!(value(&text, "dameng_exporter_config_last_reload_successful"), Some(0.0));
    assert_eq!(value(&text, "dmdb_up{datasource=\"a\"}"), Some(1.0));
    assert_eq!(value(&text, "dmdb_up{datasource=\"b\"}"), None, "{text}");
    assert_eq!(status(&exp, "/other", kept), 404);
    let (_, page) = exp.try_get("/", kept).expect("get /");
    assert!(page.contains("Last reload failed, previous configuration kept"), "{page}");
    let logs = exp.all_logs();
    assert!(
        logs.lines().any(|l| l.contains("ERROR")
            && l.contains("Configuration reload failed")
            && l.contains("kind=http")),
        "{logs}"
    );
}

#[test]
fn a_new_metric_path_is_served_and_the_old_one_is_404() {
    let body =
        format!("metricPath = \"/metrics\"\n{}", fixture_ds(Engine::Sqlite, "a", "primary", ""));
    let exp = Exporter::start("reload-path", &body);
    edit(&exp, "metricPath = \"/metrics\"", "metricPath = \"/dm/metrics\"");
    assert_eq!(post(exp.port, "/-/reload", None).0, 200);
    let (code, text) = exp.get("/dm/metrics");
    assert_eq!(code, 200);
    assert_eq!(value(&text, "dmdbms_status_info{datasource=\"a\"}"), Some(1.0));
    assert_eq!(exp.get("/metrics").0, 404);
    let (_, page) = exp.get("/");
    assert!(page.contains("href=\"/dm/metrics\""), "{page}");
}

#[test]
fn a_new_log_level_applies_at_once() {
    let body = format!("logLevel = \"info\"\n{}", fixture_ds(Engine::Sqlite, "a", "primary", ""));
    let exp = Exporter::start_with_env("reload-log-level", &body, &[("DMEXP_LOG", "")]);
    let _ = exp.metrics();
    let debug_lines =
        |exp: &Exporter| exp.all_logs().lines().filter(|l| l.contains(" DEBUG ")).count();
    assert_eq!(debug_lines(&exp), 0, "{}", exp.all_logs());
    edit(&exp, "logLevel = \"info\"", "logLevel = \"debug\"");
    assert_eq!(post(exp.port, "/-/reload", None).0, 200);
    let _ = exp.metrics();
    eventually(&exp, "no DEBUG line after logLevel = debug", || debug_lines(&exp) > 0);
    assert!(exp.all_logs().contains("Log level changed."));
    // And back: no new DEBUG lines.
    edit(&exp, "logLevel = \"debug\"", "logLevel = \"warn\"");
    assert_eq!(post(exp.port, "/-/reload", None).0, 200);
    let before = debug_lines(&exp);
    let _ = exp.metrics();
    let _ = exp.metrics();
    assert_eq!(debug_lines(&exp), before);
}

#[test]
fn a_changed_listen_address_is_named_as_restart_required() {
    let exp = Exporter::start("reload-listen", &fixture_ds(Engine::Sqlite, "a", "primary", ""));
    let old = format!("listenAddress = \"127.0.0.1:{}\"", exp.port);
    let other = free_port();
    edit(&exp, &old, &format!("listenAddress = \"127.0.0.1:{other}\""));
    let (code, body) = post(exp.port, "/-/reload", None);
    assert_eq!((code, body.as_str()), (200, "configuration reloaded\n"));
    // Still served on the old address; the new one is not listening.
    let text = exp.metrics();
    assert_eq!(
        value(&text, "dameng_exporter_config_restart_required{key=\"listenAddress\"}"),
        Some(1.0),
        "{text}"
    );
    assert!(text.contains("# TYPE dameng_exporter_config_restart_required gauge"));
    assert!(http_get(other, "/-/healthy", None).is_err());
    let (_, page) = exp.get("/");
    let expected = format!(
        "Restart needed: listenAddress: listening on \"127.0.0.1:{}\", the configuration says \
         \"127.0.0.1:{other}\"",
        exp.port
    );
    assert!(page.contains(&expected), "{page}");
    let logs = exp.all_logs();
    assert!(
        logs.lines().any(|l| l.contains("WARN")
            && l.contains("needs a restart")
            && l.contains("key=listenAddress")),
        "{logs}"
    );
    // Back to the running address: the series goes away.
    edit(&exp, &format!("listenAddress = \"127.0.0.1:{other}\""), &old);
    assert_eq!(post(exp.port, "/-/reload", None).0, 200);
    let text = exp.metrics();
    assert!(!text.contains("dameng_exporter_config_restart_required"), "{text}");
    assert!(!exp.get("/").1.contains("Restart needed"));
}

fn web_yml(dir: &Path, user: &str, password: &str) -> String {
    let hash = bcrypt::hash(password, 4).expect("hash");
    format!(
        "tls_server_config:\n  cert_file: {}\n  key_file: {}\nbasic_auth_users:\n  {user}: {hash}\n",
        dir.join("server.pem").display(),
        dir.join("server.key").display()
    )
}

#[test]
fn web_config_users_and_certificates_are_re_read_on_reload() {
    let tls_dir = scratch("reload-web-tls");
    let tls = tls_files(&tls_dir);
    let web = tls_dir.join("web.yml");
    std::fs::write(&web, web_yml(&tls_dir, "alice", "alice-pw")).expect("write web.yml");
    let web_arg = web.to_str().expect("utf-8");
    let body = fixture_ds(Engine::Sqlite, "a", "primary", "");
    let exp = Exporter::start_https("reload-web", &body, &["--web.config.file", web_arg], &tls.ca);
    let get = |auth, ca: &Path| https_get(exp.port, "/metrics", auth, ca).map(|r| r.0);
    assert_eq!(get(Some(("alice", "alice-pw")), &tls.ca), Ok(200));

    // New user, and a new certificate from another CA (rotation); SIGHUP.
    let rotated_dir = scratch("reload-web-tls-rotated");
    let rotated = tls_files(&rotated_dir);
    std::fs::copy(&rotated.cert, &tls.cert).expect("copy cert");
    std::fs::copy(&rotated.key, &tls.key).expect("copy key");
    std::fs::write(&web, web_yml(&tls_dir, "bob", "bob-pw")).expect("write web.yml");
    sighup(&exp);
    eventually(&exp, "rotated certificate not served after SIGHUP", || {
        get(Some(("bob", "bob-pw")), &rotated.ca) == Ok(200)
    });
    assert_eq!(get(Some(("alice", "alice-pw")), &rotated.ca), Ok(401));
    // A client trusting only the old CA no longer gets through the handshake.
    assert!(get(Some(("bob", "bob-pw")), &tls.ca).is_err());

    // A broken web config file: refused, bob and the rotated certificate stay.
    std::fs::write(&web, "basic_auth_users:\n  carol: not-a-hash\n").expect("write web.yml");
    sighup(&exp);
    eventually(&exp, "broken web config not reported", || {
        exp.all_logs().contains("Configuration reload failed")
    });
    assert_eq!(get(Some(("bob", "bob-pw")), &rotated.ca), Ok(200));
    let (_, text) =
        https_get(exp.port, "/metrics", Some(("bob", "bob-pw")), &rotated.ca).expect("get");
    assert_eq!(value(&text, "dameng_exporter_config_last_reload_successful"), Some(0.0));
    assert!(!exp.all_logs().contains("not-a-hash"));
}

/// Config text with the harness' listenAddress but `log` instead of its logDir line.
fn text_with(log: &str) -> impl Fn(u16, &Path) -> String + '_ {
    move |port, dir| {
        format!(
            "listenAddress = \"127.0.0.1:{port}\"\n{}{}",
            log.replace("{dir}", &dir.display().to_string()),
            fixture_ds(Engine::Sqlite, "a", "primary", "")
        )
    }
}

#[test]
fn an_unusable_log_directory_is_a_warning_not_an_exit() {
    // A directory below a regular file can never be created (not even by root).
    let text = |port: u16, dir: &Path| {
        std::fs::write(dir.join("a-file"), "").expect("write the blocking file");
        text_with("logDir = \"{dir}/a-file/logs\"\n")(port, dir)
    };
    let exp = Exporter::launch_text("reload-logdir-blocked", &text, &[], None, &[], &[]);
    assert_eq!(value(&exp.metrics(), "dmdbms_status_info{datasource=\"a\"}"), Some(1.0));
    let out = exp.output();
    assert!(
        out.lines().any(|l| l.contains("WARN")
            && l.contains("Cannot write the log file; logging to stdout only.")
            && l.contains("cannot create log directory")),
        "{out}"
    );
}

#[test]
fn under_systemd_the_default_is_stdout_only_and_an_explicit_log_dir_still_writes() {
    let exp = Exporter::launch_text(
        "reload-systemd-default",
        &text_with(""),
        &[],
        None,
        &[("INVOCATION_ID", "0123456789abcdef")],
        &[],
    );
    let _ = exp.metrics();
    assert!(!exp.dir.join("logs").exists(), "a log directory was created under systemd");
    let out = exp.output();
    assert!(
        out.contains("Logging to stdout only (set logDir to also write a file).")
            && out.contains("supervisor=systemd"),
        "{out}"
    );
    assert!(out.contains("Listening."), "{out}");
    drop(exp);

    let exp = Exporter::launch_text(
        "reload-systemd-explicit",
        &text_with("logDir = \"{dir}/mylogs\"\n"),
        &[],
        None,
        &[("INVOCATION_ID", "0123456789abcdef")],
        &[],
    );
    let _ = exp.metrics();
    let file = std::fs::read_to_string(exp.dir.join("mylogs/dameng_exporter.log"))
        .expect("explicit logDir writes the file under systemd");
    assert!(file.contains("Listening."), "{file}");
}

#[test]
fn go_style_port_listens_on_ipv4_and_ipv6() {
    let text = |port: u16, dir: &Path| {
        format!(
            "listenAddress = \":{port}\"\nlogDir = \"{}\"\n{}",
            dir.join("logs").display(),
            auth_body("dual-pw")
        )
    };
    let exp = Exporter::launch_text("reload-dual-stack", &text, &[], None, &[], &[]);
    assert_eq!(http_get(exp.port, "/-/healthy", None), Ok((200, "OK".to_owned())));
    // An IPv4 client is logged as such, not as ::ffff:127.0.0.1.
    assert_eq!(http_get(exp.port, "/metrics", Some((USER, "wrong"))).map(|r| r.0), Ok(401));
    eventually(&exp, "no auth failure WARN", || {
        exp.output().contains("Basic authentication failed.")
    });
    let out = exp.output();
    let warn = out.lines().find(|l| l.contains("Basic authentication failed.")).expect("warn");
    assert!(warn.contains("remote_addr=127.0.0.1:") && !warn.contains("::ffff:"), "{warn}");
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 on this machine: [::1] not checked");
        return;
    }
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut resp =
        agent.get(format!("http://[::1]:{}/-/healthy", exp.port)).call().expect("GET over IPv6");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.body_mut().read_to_string().expect("body"), "OK");
}
