//! Attacks of the issue #15 attack run, one test per class, against the real binary. Every
//! test is bounded in time (seconds, no sleeps beyond the timeouts under test). The index of
//! every H/M/L item and the test covering it is in README.md, "Security".

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{fixture_ds, http_get, scratch, value, Engine, Exporter};

/// H3: 300 idle sockets and 40 slowloris sockets against an exporter limited to 128 file
/// descriptors (connection cap 64). Every scrape is still answered, quickly, and every
/// hostile socket is closed by the server within the header-read timeout (5 s) plus margin.
#[test]
fn h3_idle_and_slowloris_sockets_under_a_low_nofile_limit_do_not_starve_scrapes() {
    let body = fixture_ds(Engine::Sqlite, "p", "primary", "");
    let exp = Exporter::start_with_nofile("attack-h3", &body, &[], 128, 128);
    let addr = format!("127.0.0.1:{}", exp.port);

    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(&addr).expect("connect idle"));
    }
    let mut slow = Vec::new();
    for _ in 0..40 {
        let mut s = TcpStream::connect(&addr).expect("connect slowloris");
        s.write_all(b"GET /metrics HTTP/1.1\r\n").expect("first line");
        slow.push(s);
    }
    let started = Instant::now();
    let mut scrapes = 0;
    // Scrapes while the slowloris sockets trickle one header byte per 250 ms each.
    while started.elapsed() < Duration::from_secs(4) {
        for s in &mut slow {
            let _ = s.write_all(b"X");
        }
        let t = Instant::now();
        let (status, text) = http_get(exp.port, "/metrics", None).expect("scrape");
        assert_eq!(status, 200, "{text}");
        assert_eq!(value(&text, "dmdb_up{datasource=\"p\"}"), Some(1.0), "{text}");
        assert!(t.elapsed() < Duration::from_secs(3), "scrape took {:?}", t.elapsed());
        scrapes += 1;
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(scrapes >= 5, "only {scrapes} scrapes in 4 s");

    // 5 s header-read timeout: by 8 s after the start every hostile socket is closed.
    let deadline = started + Duration::from_secs(8);
    let mut open = 0;
    for s in idle.iter_mut().chain(slow.iter_mut()) {
        let left =
            deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(50));
        s.set_read_timeout(Some(left)).expect("timeout");
        let mut buf = [0u8; 512];
        let closed = loop {
            match s.read(&mut buf) {
                Ok(0) => break true,
                Ok(_) => continue, // a 408 or 400 before the close
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    break false
                }
                Err(_) => break true, // reset
            }
        };
        if !closed {
            open += 1;
        }
    }
    assert_eq!(open, 0, "{open} of 340 hostile sockets still open after 8 s");
    let logs = exp.all_logs();
    assert!(logs.contains("max_connections=64"), "{logs}");
    assert!(!logs.contains("Too many open files"), "{logs}");
}

/// H3: the soft open-files limit is raised to the hard limit at startup, and logged.
#[test]
fn h3_the_soft_nofile_limit_is_raised_to_the_hard_limit() {
    let body = fixture_ds(Engine::Sqlite, "p", "primary", "");
    let exp = Exporter::start_with_nofile("attack-nofile", &body, &[], 200, 400);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", exp.pid())).expect("limits");
    let line = limits.lines().find(|l| l.starts_with("Max open files")).expect("nofile line");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&fields[3..5], &["400", "400"], "{line}");
    let logs = exp.all_logs();
    assert!(logs.contains("Raised the open-files limit"), "{logs}");
    assert!(logs.contains("old=200") && logs.contains("new=400"), "{logs}");
    assert!(logs.contains("max_connections=200"), "{logs}");
}

/// The hostile kinds of file for L5, made in `dir` under `stem`: a symlink to /dev/zero, a
/// FIFO without a writer, a directory and a sparse file over the 16 MiB cap. Each with the
/// words the error must contain.
fn hostile_files(dir: &Path, stem: &str) -> Vec<(PathBuf, &'static str)> {
    let zero = dir.join(format!("{stem}-zero"));
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    let fifo = dir.join(format!("{stem}-fifo"));
    make_fifo(&fifo);
    let sub = dir.join(format!("{stem}-dir"));
    std::fs::create_dir(&sub).expect("dir");
    let big = dir.join(format!("{stem}-big"));
    std::fs::File::create(&big).expect("big").set_len(17 << 20).expect("set_len");
    vec![
        (zero, "character device"),
        (fifo, "FIFO"),
        (sub, "directory"),
        (big, "larger than the 16 MiB allowed"),
    ]
}

fn make_fifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// Runs the binary; kills it and fails after `limit` (a hang is the defect under test).
fn run_bounded(args: &[&str], cwd: &Path, limit: Duration) -> (i32, String) {
    let out = cwd.join(format!("run-{}.log", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_dameng_exporter"))
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::from(std::fs::File::create(&out).expect("log")))
        .stderr(Stdio::from(std::fs::File::options().append(true).open(&out).expect("log")))
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            return (status.code().unwrap_or(-1), text);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{args:?} still running after {limit:?}:\n{}",
                std::fs::read_to_string(&out).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn post_reload(port: u16) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let mut resp = agent
        .post(format!("http://127.0.0.1:{port}/-/reload"))
        .send_empty()
        .expect("POST /-/reload");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap_or_default())
}

/// L5 at startup: a config, dbPwdFile, web-config or custom-metrics path that is /dev/zero, a
/// FIFO, a directory or over 16 MiB is exit 2 with a message naming the file and its kind,
/// within seconds (no out-of-memory, no blocked open).
#[test]
fn l5_hostile_files_at_startup_are_exit_2_naming_the_file() {
    let dir = scratch("attack-l5-start");
    let ds = fixture_ds(Engine::Sqlite, "p", "primary", "");
    let good = dir.join("good.toml");
    let head =
        format!("listenAddress = \"127.0.0.1:0\"\nlogDir = \"{}\"\n", dir.join("logs").display());
    std::fs::write(&good, format!("{head}{ds}")).expect("write");
    let limit = Duration::from_secs(10);
    for (i, (path, words)) in hostile_files(&dir, "f").into_iter().enumerate() {
        let p = path.to_str().expect("utf-8");
        // --config
        let (code, out) = run_bounded(&["--config", p], &dir, limit);
        assert_eq!(code, 2, "{out}");
        assert!(out.contains(p) && out.contains(words), "--config {p}: {out}");
        // dbPwdFile
        let cfg = dir.join(format!("pw{i}.toml"));
        let with_pw = ds.replace(
            "name = \"p\"\n",
            &format!("name = \"p\"\ndbUser = \"u\"\ndbPwdFile = \"{p}\"\n"),
        );
        std::fs::write(&cfg, format!("{head}{with_pw}")).expect("write");
        let (code, out) = run_bounded(&["--config", cfg.to_str().expect("utf-8")], &dir, limit);
        assert_eq!(code, 2, "{out}");
        assert!(
            out.contains("dbPwdFile") && out.contains(p) && out.contains(words),
            "dbPwdFile {p}: {out}"
        );
        // --web.config.file
        let (code, out) = run_bounded(
            &["--config", good.to_str().expect("utf-8"), "--web.config.file", p],
            &dir,
            limit,
        );
        assert_eq!(code, 2, "{out}");
        assert!(out.contains(p) && out.contains(words), "--web.config.file {p}: {out}");
        // customMetricsFile (--check-config: a refused file is exit 2 there)
        let cfg = dir.join(format!("cm{i}.toml"));
        let with_cm =
            ds.replace("name = \"p\"\n", &format!("name = \"p\"\ncustomMetricsFile = \"{p}\"\n"));
        std::fs::write(&cfg, format!("{head}{with_cm}")).expect("write");
        let (code, out) =
            run_bounded(&["--config", cfg.to_str().expect("utf-8"), "--check-config"], &dir, limit);
        assert_eq!(code, 2, "{out}");
        let expected = if words.starts_with("larger") { words } else { "is not a regular file" };
        assert!(
            out.contains("customMetricsFile") && out.contains(p) && out.contains(expected),
            "customMetricsFile {p}: {out}"
        );
    }
}

/// L5 at reload: the config file replaced by /dev/zero, a FIFO, a directory or a huge file,
/// or pointing at such a dbPwdFile or customMetricsFile: the reload answers 500 with the
/// reason within seconds, the old configuration keeps serving, and a fixed file reloads.
#[test]
fn l5_hostile_files_at_reload_keep_the_old_configuration() {
    let ds = fixture_ds(Engine::Sqlite, "p", "primary", "");
    let exp = Exporter::start("attack-l5-reload", &ds);
    let original = std::fs::read_to_string(&exp.config).expect("read");
    let hostile = hostile_files(&exp.dir, "h");
    let check = |what: &str, words: &str| {
        let started = Instant::now();
        let (status, body) = post_reload(exp.port);
        assert_eq!(status, 500, "{what}: {body}");
        assert!(body.contains(words), "{what}: {body}");
        assert!(started.elapsed() < Duration::from_secs(5), "{what}: {:?}", started.elapsed());
        let text = exp.metrics();
        assert_eq!(value(&text, "dmdb_up{datasource=\"p\"}"), Some(1.0), "{what}");
        assert_eq!(
            value(&text, "dameng_exporter_config_last_reload_successful"),
            Some(0.0),
            "{what}"
        );
    };
    for (path, words) in &hostile {
        // The config file itself becomes the hostile file.
        std::fs::remove_file(&exp.config).expect("rm");
        std::os::unix::fs::symlink(path, &exp.config).expect("symlink");
        check(&format!("config -> {}", path.display()), words);
        std::fs::remove_file(&exp.config).expect("rm");
        // dbPwdFile and customMetricsFile.
        let p = path.display();
        let with_pw = original.replace(
            "name = \"p\"\n",
            &format!("name = \"p\"\ndbUser = \"u\"\ndbPwdFile = \"{p}\"\n"),
        );
        std::fs::write(&exp.config, with_pw).expect("write");
        check(&format!("dbPwdFile {p}"), words);
        let with_cm = original
            .replace("name = \"p\"\n", &format!("name = \"p\"\ncustomMetricsFile = \"{p}\"\n"));
        std::fs::write(&exp.config, with_cm).expect("write");
        if words.starts_with("larger") {
            // A regular file passes the config check; reading it is refused at the cap and
            // the datasource runs without custom metrics (as at startup), at once.
            let started = Instant::now();
            let (status, body) = post_reload(exp.port);
            assert_eq!(status, 200, "{body}");
            assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
            let text = exp.metrics();
            assert_eq!(
                value(&text, "dameng_exporter_custom_metrics_load_success{datasource=\"p\"}"),
                Some(0.0),
                "{text}"
            );
            assert!(exp.all_logs().contains("larger than the 16 MiB allowed"));
        } else {
            check(&format!("customMetricsFile {p}"), "is not a regular file");
        }
    }
    // A FIFO as the config file itself (not a symlink to one).
    std::fs::remove_file(&exp.config).expect("rm");
    make_fifo(&exp.config);
    check("config is a FIFO", "FIFO");
    std::fs::remove_file(&exp.config).expect("rm");
    std::fs::write(&exp.config, &original).expect("write");
    let (status, body) = post_reload(exp.port);
    assert_eq!(status, 200, "{body}");
}

/// M5 at `--check-config`: a custom-metric label column named `datasource` or like one of the
/// datasource's labels is exit 2 naming the file, the metric and the label; a label that
/// collides with nothing passes.
#[test]
fn m5_identity_label_spoofing_fails_check_config_naming_file_and_metric() {
    let dir = scratch("attack-m5");
    let head =
        format!("listenAddress = \"127.0.0.1:0\"\nlogDir = \"{}\"\n", dir.join("logs").display());
    for (i, (labels, clash, code)) in [
        ("\"datasource\", \"env\"", Some("datasource"), 2),
        ("\"role\"", Some("role"), 2),
        ("\"site\"", None, 0),
    ]
    .into_iter()
    .enumerate()
    {
        let cm = dir.join(format!("spoof{i}.toml"));
        let columns = labels
            .replace('"', "")
            .split(", ")
            .map(|c| format!("'x' AS {c}"))
            .collect::<Vec<_>>()
            .join(", ");
        std::fs::write(
            &cm,
            format!(
                "[[metric]]\ncontext = \"spoof{i}\"\nlabels = [{labels}]\nrequest = \"SELECT {columns}, 42 AS v\"\nmetricsdesc = {{ v = \"spoofed identity\" }}\n"
            ),
        )
        .expect("write");
        let extra =
            format!("labels = \"env=rt,role=attacker\"\ncustomMetricsFile = \"{}\"", cm.display());
        let cfg = dir.join(format!("c{i}.toml"));
        std::fs::write(
            &cfg,
            format!("{head}{}", fixture_ds(Engine::Sqlite, "p", "primary", &extra)),
        )
        .expect("write");
        let (got, out) = run_bounded(
            &["--config", cfg.to_str().expect("utf-8"), "--check-config"],
            &dir,
            Duration::from_secs(20),
        );
        assert_eq!(got, code, "{labels}: {out}");
        if let Some(label) = clash {
            let expected = format!(
                "{}: metric #1 (context \"spoof{i}\"): label `{label}` of metric `dmdbms_spoof{i}_v` collides with the datasource's identity label `{label}`",
                cm.display()
            );
            assert!(out.contains(&expected), "{expected}\n{out}");
            assert!(out.contains("REFUSED"), "{out}");
        }
    }
}
