//! Prometheus-style flags and their upstream aliases, `--log.format`, `--version` and
//! `dameng_exporter_build_info`, secrets from the environment, files and stdin, the command
//! line scrubbed of passwords (finding L12), and a closed stdout (`| head`).

use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{http_get, root, run_cli, scratch, series, sqlite_cs, Exporter};

fn ds_body() -> String {
    format!("[[datasource]]\nname = \"p\"\nodbcConnectionString = \"{}\"\n", sqlite_cs("primary"))
}

fn write_config(dir: &std::path::Path, extra: &str) -> String {
    let path = dir.join("c.toml");
    std::fs::write(&path, format!("logDir = \"\"\n{extra}{}", ds_body())).expect("write");
    path.to_str().expect("utf-8").to_owned()
}

#[test]
fn new_flag_names_and_upstream_aliases_give_the_same_configuration() {
    let dir = scratch("flags-aliases");
    let cfg = write_config(&dir, "");
    let expected = "listen 127.0.0.1:9333 path /m2 | log Debug | basic auth off |";
    let spellings: [&[&str]; 3] = [
        &[
            "--config.file",
            &cfg,
            "--web.listen-address",
            "127.0.0.1:9333",
            "--web.telemetry-path",
            "/m2",
            "--log.level",
            "debug",
        ],
        &[
            "--config",
            &cfg,
            "--listenAddress",
            "127.0.0.1:9333",
            "--metricPath",
            "/m2",
            "--logLevel",
            "debug",
        ],
        &[
            "--configFile",
            &cfg,
            "--listenAddress=127.0.0.1:9333",
            "--metricPath=/m2",
            "--logLevel=debug",
        ],
    ];
    let mut outputs = Vec::new();
    for args in spellings {
        let mut a = vec!["--check-config"];
        a.extend_from_slice(args);
        let (code, out, err) = run_cli(&a, &dir);
        assert_eq!(code, 0, "{args:?}: {out}\n{err}");
        assert!(out.contains(expected), "{args:?}: missing {expected:?} in\n{out}");
        outputs.push(out);
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
    // Invalid values name the flag the user typed.
    let (code, _, err) =
        run_cli(&["--check-config", "--config.file", &cfg, "--web.telemetry-path", "m"], &dir);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--metricPath = \"m\" must be an absolute URL path"), "{err}");
    let (code, _, err) =
        run_cli(&["--check-config", "--config.file", &cfg, "--log.format", "xml"], &dir);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("invalid value 'xml' for '--log.format <FORMAT>'"), "{err}");
    assert!(err.contains("[possible values: text, logfmt, json]"), "{err}");
    let bad = write_config(&dir, "logFormat = \"xml\"\n");
    let (code, _, err) = run_cli(&["--check-config", "--config.file", &bad], &dir);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("logFormat = \"xml\" is not a log format; write text, logfmt or json"),
        "{err}"
    );
}

#[test]
fn help_lists_the_new_names_with_their_aliases() {
    let (code, out, _) = run_cli(&["--help"], &root());
    assert_eq!(code, 0);
    for needle in [
        "-V, --version",
        "--config.file <FILE>",
        "[aliases: --config, --configFile]",
        "--web.listen-address <ADDRESS>",
        "[alias: --listenAddress]",
        "--web.telemetry-path <PATH>",
        "[alias: --metricPath]",
        "--log.level <LEVEL>",
        "[alias: --logLevel]",
        "--log.format <FORMAT>",
        "[possible values: text, logfmt, json]",
        "--web.config.file <FILE>",
        "--check-connection",
        "--dbPwdFile <FILE>",
        "--basicAuthPasswordFile <FILE>",
        "--encryptPwd <PASSWORD|->",
    ] {
        assert!(out.contains(needle), "--help lacks {needle:?}:\n{out}");
    }
}

#[test]
fn log_format_logfmt_and_json_change_the_lines() {
    let exp = Exporter::start_with_args("flags-logfmt", &ds_body(), &["--log.format", "logfmt"]);
    let _ = exp.metrics();
    let out = std::fs::read_to_string(exp.dir.join("stdout.log")).expect("stdout");
    let line = out
        .lines()
        .find(|l| l.contains("Starting dameng_exporter."))
        .unwrap_or_else(|| panic!("no start line:\n{out}"));
    let (ts, rest) = line.split_once(' ').expect("fields");
    assert!(ts.starts_with("ts=20") && ts.ends_with('Z') && ts.len() == 27, "{line}");
    assert_eq!(
        rest,
        format!(
            "level=info target=dmexp_core::app msg=\"Starting dameng_exporter.\" \
             datasources=1 listen=127.0.0.1:{}",
            exp.port
        )
    );
    // The log file has the same format.
    let file = std::fs::read_to_string(exp.dir.join("logs/dameng_exporter.log")).expect("log");
    assert!(file.lines().all(|l| l.starts_with("ts=")), "{file}");
    drop(exp);
    let exp = Exporter::start_with_args("flags-json", &ds_body(), &["--log.format=json"]);
    let out = std::fs::read_to_string(exp.dir.join("stdout.log")).expect("stdout");
    let line = out.lines().find(|l| l.contains("Starting dameng_exporter.")).expect("start line");
    let v: serde_json::Value = serde_json::from_str(line).expect("a JSON object per line");
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["fields"]["message"], "Starting dameng_exporter.");
    assert_eq!(v["fields"]["datasources"], 1);
}

/// What `git rev-parse <args>` says about the tree the binary was built from (cargo rebuilds
/// it when HEAD moves), or the override given at build time.
fn git(var: &str, args: &[&str]) -> String {
    if let Ok(v) = std::env::var(var) {
        return v;
    }
    let out = Command::new("git").args(args).current_dir(root()).output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
        _ => "unknown".to_owned(),
    }
}

fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).arg("-V").output().expect("rustc -V");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn version_and_build_info_carry_the_git_revision_and_rustc() {
    let revision = git("DMEXP_GIT_REVISION", &["rev-parse", "HEAD"]);
    let branch = git("DMEXP_GIT_BRANCH", &["rev-parse", "--abbrev-ref", "HEAD"]);
    let rustc = rustc_version();
    let number = rustc.split_whitespace().nth(1).expect("rustc version number").to_owned();
    for flag in ["--version", "-V"] {
        let (code, out, err) = run_cli(&[flag], &root());
        assert_eq!(code, 0, "{err}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert_eq!(
            lines[0],
            format!(
                "dameng_exporter, version {} (branch: {branch}, revision: {revision})",
                env!("CARGO_PKG_VERSION")
            )
        );
        let date = lines[1].strip_prefix("  build date:       ").expect("build date line");
        // 20261203-05:48:49
        assert!(date.len() == 17 && date.as_bytes()[8] == b'-' && date.starts_with("20"), "{date}");
        assert_eq!(lines[2], format!("  rustc version:    {rustc}"));
        assert_eq!(
            lines[3],
            format!("  platform:         {}/{}", std::env::consts::OS, std::env::consts::ARCH)
        );
    }
    let exp = Exporter::start("flags-build-info", &ds_body());
    let text = exp.metrics();
    assert_eq!(
        series(&text, "dameng_exporter_build_info"),
        [format!(
            "dameng_exporter_build_info{{branch=\"{branch}\",goarch=\"{}\",goos=\"{}\",\
             revision=\"{revision}\",rustversion=\"{number}\",version=\"v{}\"}} 1",
            std::env::consts::ARCH,
            std::env::consts::OS,
            env!("CARGO_PKG_VERSION"),
        )]
    );
    assert_ne!(revision, "unknown", "the test runs from a git checkout");
}

/// The command line of a running process as `ps` shows it (NULs as spaces).
fn cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).expect("cmdline");
    String::from_utf8_lossy(&raw).replace('\0', " ")
}

#[test]
fn basic_auth_password_from_argv_is_scrubbed_and_still_works() {
    let pw = "Argv_Secret_77";
    let exp = Exporter::start_with_args(
        "flags-scrub-basic",
        &ds_body(),
        &["--enableBasicAuth", "--basicAuthUsername", "admin", "--basicAuthPassword", pw],
    );
    let shown = cmdline(exp.pid());
    assert!(!shown.contains(pw), "{shown}");
    assert!(shown.contains(" --basicAuthPassword xxxxxxxxxxxxxx "), "{shown}");
    assert!(shown.contains(" --basicAuthUsername admin "), "{shown}");
    let (code, _) = exp.try_get("/metrics", Some(("admin", pw))).expect("get");
    assert_eq!(code, 200);
    let (code, _) = exp.try_get("/metrics", None).expect("get");
    assert_eq!(code, 401);
    let err = std::fs::read_to_string(exp.dir.join("stderr.log")).expect("stderr");
    assert!(
        err.contains(
            "warning: --basicAuthPassword on the command line is visible to other local users \
             (ps, shell history) until it is scrubbed; use $DMEXP_BASIC_AUTH_PASSWORD or \
             --basicAuthPasswordFile FILE"
        ),
        "{err}"
    );
    assert!(!exp.all_logs().contains(pw));
}

#[test]
fn basic_auth_password_from_a_file_or_the_environment() {
    let dir = scratch("flags-pw-file");
    let file = dir.join("basic.pw");
    std::fs::write(&file, "File_Secret_88\n").expect("write");
    let f = file.to_str().expect("utf-8");
    let args = ["--enableBasicAuth", "--basicAuthUsername", "admin", "--basicAuthPasswordFile", f];
    let exp = Exporter::start_with_args("flags-pw-file-run", &ds_body(), &args);
    assert_eq!(exp.try_get("/metrics", Some(("admin", "File_Secret_88"))).expect("get").0, 200);
    assert_eq!(exp.try_get("/metrics", Some(("admin", "File_Secret_88\n"))).expect("get").0, 401);
    let err = std::fs::read_to_string(exp.dir.join("stderr.log")).expect("stderr");
    assert!(!err.contains("warning"), "{err}");
    drop(exp);
    let body = format!("enableBasicAuth = true\nbasicAuthUsername = \"admin\"\n{}", ds_body());
    let exp = Exporter::start_with_env(
        "flags-pw-env",
        &body,
        &[("DMEXP_BASIC_AUTH_PASSWORD", "Env_Secret_99")],
    );
    assert_eq!(exp.try_get("/metrics", Some(("admin", "Env_Secret_99"))).expect("get").0, 200);
    assert_eq!(exp.try_get("/metrics", Some(("admin", "x"))).expect("get").0, 401);
    drop(exp);
    // Bad files: exit 2 naming the flag and the path.
    let cfg = write_config(&dir, "");
    for (path, why) in [
        ("/dev/zero".to_owned(), "not a regular file"),
        (dir.display().to_string(), "not a regular file"),
        (dir.join("missing").display().to_string(), "cannot read the file"),
    ] {
        let (code, _, err) = run_cli(
            &["--check-config", "--config.file", &cfg, "--basicAuthPasswordFile", &path],
            &dir,
        );
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(&format!("error: --basicAuthPasswordFile {path}: {why}")), "{err}");
    }
}

#[test]
fn db_password_from_a_file_or_the_environment_in_cli_mode() {
    let dir = scratch("flags-dbpwd");
    let file = dir.join("db.pw");
    std::fs::write(&file, "Db_File_Pw\n").expect("write");
    let f = file.to_str().expect("utf-8");
    let cli = ["--check-config", "--dbHost", "127.0.0.1:5236", "--dbUser", "SYSDBA"];
    let run = |extra: &[&str], env: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dameng_exporter"));
        cmd.args(cli).args(extra).current_dir(&dir).env_remove("DMEXP_DB_PASSWORD");
        if let Some(v) = env {
            cmd.env("DMEXP_DB_PASSWORD", v);
        }
        let o = cmd.output().expect("run");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&["--dbPwdFile", f], None);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("configuration OK: command line"), "{out}");
    let (code, out, err) = run(&[], Some("Db_Env_Pw"));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("configuration OK: command line"), "{out}");
    let (code, _, err) = run(&[], None);
    assert_eq!(code, Some(2));
    assert!(
        err.contains(
            "--dbHost, --dbUser and a password (--dbPwd, --dbPwdFile FILE or $DMEXP_DB_PASSWORD) \
             must be given together"
        ),
        "{err}"
    );
    let (code, _, err) = run(&["--dbPwdFile", "/dev/zero"], None);
    assert_eq!(code, Some(2));
    assert!(err.contains("error: --dbPwdFile /dev/zero: not a regular file"), "{err}");
    let (code, _, err) = run(&["--dbPwdFile", f, "--dbPwd", "x"], None);
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot be used with"), "{err}");
    // The variable alone never turns a config-file start into CLI mode.
    let cfg = write_config(&dir, "");
    let o = Command::new(env!("CARGO_BIN_EXE_dameng_exporter"))
        .args(["--check-config", "--config.file", &cfg])
        .env("DMEXP_DB_PASSWORD", "unused")
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("configuration OK: {cfg}")));
}

#[test]
fn db_password_on_argv_is_scrubbed_from_proc_cmdline() {
    let dir = scratch("flags-scrub-db");
    let port = crate::common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let pw = "Cli_Db_Secret_321";
    let mut child = Command::new(env!("CARGO_BIN_EXE_dameng_exporter"))
        .args(["--dbHost", "127.0.0.1:1", "--dbUser", "SYSDBA", &format!("--dbPwd={pw}")])
        .args(["--web.listen-address", &listen, "--log.format", "logfmt"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut up = false;
    for _ in 0..100 {
        if http_get(port, "/-/healthy", None).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let shown = cmdline(child.id());
    let _ = child.kill();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let _ = child.wait();
    assert!(up, "{err}");
    assert!(!shown.contains(pw), "{shown}");
    assert!(shown.contains(&format!(" --dbPwd={} ", "x".repeat(pw.len()))), "{shown}");
    assert!(err.contains("warning: --dbPwd on the command line is visible"), "{err}");
}

#[test]
fn encrypt_commands_read_the_password_from_stdin() {
    let run = |args: &[&str], input: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dameng_exporter"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write");
        let o = child.wait_with_output().expect("wait");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&["--encryptPwd", "-"], "Dameng123.\n");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out, "Encrypted Password: ENC(zsvHz8TN9c/S2sXY3s/Y7svHz8TNm5iZhA==)\n");
    assert!(err.is_empty(), "no warning for stdin: {err}");
    let (code, out, _) = run(&["--encryptBasicAuthPwd", "-"], "admin-pw\r\n");
    assert_eq!(code, Some(0));
    let hash = out.trim().strip_prefix("Encrypted Basic Auth Password: ").expect("prefix");
    assert!(bcrypt::verify("admin-pw", hash).expect("verify"));
    let (code, _, err) = run(&["--encryptPwd", "-"], "\n");
    assert_eq!(code, Some(2));
    assert!(err.contains("error: --encryptPwd -: nothing on stdin"), "{err}");
    // On argv it still works, with a warning.
    let (code, out, err) = run(&["--encryptPwd", "Dameng123."], "");
    assert_eq!(code, Some(0));
    assert_eq!(out, "Encrypted Password: ENC(zsvHz8TN9c/S2sXY3s/Y7svHz8TNm5iZhA==)\n");
    assert!(err.contains("use --encryptPwd - (reads stdin)"), "{err}");
}

/// Runs the binary with stdout a pipe whose read end is already closed: every write fails
/// with EPIPE. Returns (exit code, stderr).
fn with_closed_stdout(args: &[&str], cwd: &std::path::Path) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dameng_exporter"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("wait");
    (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn a_closed_stdout_ends_the_output_quietly() {
    let dir = scratch("flags-pipe");
    let cfg = write_config(&dir, "");
    let metrics = root().join("config/examples/custom_metrics_test.toml");
    let m = metrics.to_str().expect("utf-8");
    for (args, want) in [
        (vec!["--test-custom-metrics", m, "--datasource", "p", "--config.file", &cfg], 0),
        (vec!["--list-collectors"], 0),
        (vec!["--check-config", "--config.file", &cfg], 0),
        (vec!["--check-connection", "--config.file", &cfg], 0),
        (vec!["--version"], 0),
    ] {
        let (code, err) = with_closed_stdout(&args, &dir);
        assert_eq!(code, Some(want), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
    }
    // `| head -1` through a shell, as users type it.
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -o pipefail; '{}' --test-custom-metrics '{m}' --datasource p --config.file '{cfg}' | head -1",
            env!("CARGO_BIN_EXE_dameng_exporter")
        ))
        .current_dir(&dir)
        .output()
        .expect("bash");
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(out.starts_with("# dry run of ") && out.lines().count() == 1, "{out}");
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
}
