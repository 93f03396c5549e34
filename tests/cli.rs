use crate::common::{root, run_cli, scratch, sqlite_cs, value, Exporter};

#[test]
fn check_config_prints_the_summary_of_the_example() {
    let path = root().join("config/examples/multi_datasource.toml");
    let (code, out, err) =
        run_cli(&["--check-config", "--config", path.to_str().expect("utf-8")], &root());
    assert_eq!(code, 0, "{out}\n{err}");
    for needle in [
        "3 datasource(s)",
        "prod-master [enabled] datasource=\"prod-master@127.0.0.1:5236\" priority=1",
        "prod-slave1 [enabled] datasource=\"prod-slave1@192.168.1.100:5236\" priority=2",
        "test-db [enabled] datasource=\"test-db@192.168.1.200:5236\" priority=3",
        "maxOpenConns=5 maxIdleConns=1 connMaxLifetime=1200s | queryTimeout=20s",
        "labels: cluster=test,role=master,zone=shanghai",
        // Derived from the key declarations (config/src/schema).
        "changed from the default: enableBasicAuth=true, basicAuthUsername=\"admin\", collectStrategy=\"hybrid\"\n",
        "changed from the default: description=\"测试环境主库\", dbHost=\"192.168.1.200:5236\"",
        "custom_metrics_test.toml",
        "collectors: ",
        "instance,",
        "sessions",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    // Never a password, plain or ENC().
    assert!(!out.contains("ENC(") && !out.to_lowercase().contains("pwd"), "{out}");
}

#[test]
fn broken_configs_exit_2_naming_the_key() {
    let dir = scratch("cli-broken");
    let cases: &[(&str, &[&str])] = &[
        (
            "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\nqueryTimeout = 0.5\n",
            &["queryTimeout", "bad.toml:6"],
        ),
        (
            "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\nmaxOpenConns = 101\n",
            &["maxOpenConns", "between 1 and 100"],
        ),
        ("listenAddress = \":9200\"\n", &["datasource"]),
        (
            "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"ENC(!!)\"\n",
            &["ENC()", "--encryptPwd"],
        ),
        (
            "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\nlabels = \"env\"\n",
            &["labels"],
        ),
        ("collectionMode = \"turbo\"\n[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n", &["collectionMode", "turbo"]),
        ("this is = = not toml", &["bad.toml"]),
    ];
    for (text, needles) in cases {
        let path = dir.join("bad.toml");
        std::fs::write(&path, text).expect("write");
        for extra in [&["--check-config"][..], &[][..]] {
            let mut args = vec!["--config", path.to_str().expect("utf-8")];
            args.extend_from_slice(extra);
            let (code, out, err) = run_cli(&args, &dir);
            assert_eq!(code, 2, "config {text:?} args {extra:?}: {out}\n{err}");
            for n in *needles {
                assert!(err.contains(n), "config {text:?}: stderr lacks {n:?}:\n{err}");
            }
        }
    }
    let (code, _, err) = run_cli(&["--config", "/nonexistent/dameng_exporter.toml"], &dir);
    assert_eq!(code, 2);
    assert!(err.contains("config file not found: /nonexistent/dameng_exporter.toml"), "{err}");
}

#[test]
fn unknown_keys_warn_and_strict_refuses() {
    let dir = scratch("cli-strict");
    let path = dir.join("c.toml");
    std::fs::write(
        &path,
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\nqueryTimout = 5\n",
    )
    .expect("write");
    let p = path.to_str().expect("utf-8");
    let (code, _, err) = run_cli(&["--check-config", "--config", p], &dir);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("queryTimout") && err.contains("queryTimeout") && err.contains("c.toml:6"),
        "{err}"
    );
    let (code, _, err) = run_cli(&["--check-config", "--strict", "--config", p], &dir);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn encrypt_pwd_matches_upstream() {
    let (code, out, _) = run_cli(&["--encryptPwd", "Dameng123."], &root());
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "Encrypted Password: ENC(zsvHz8TN9c/S2sXY3s/Y7svHz8TNm5iZhA==)");
    let (code, out, _) = run_cli(&["--encryptBasicAuthPwd", "admin-pw"], &root());
    assert_eq!(code, 0);
    let hash = out.trim().strip_prefix("Encrypted Basic Auth Password: ").expect("prefix");
    assert!(hash.starts_with("$2a$12$"), "{hash}");
    assert!(bcrypt::verify("admin-pw", hash).expect("verify"));
}

#[test]
fn list_collectors_comes_from_the_registry() {
    let (code, out, _) = run_cli(&["--list-collectors"], &root());
    assert_eq!(code, 0);
    for row in [
        "| instance | database | on | - | V$INSTANCE, V$TRXWAIT, V$DEADLOCK_HISTORY, V$THREADS |",
        "| sessions | database | on | - | V$SESSIONS | dmdbms_session_type_info |",
        "| tablespace | database | on | bigKeyDataCacheTime |",
        "| host_process | host | on | - |",
    ] {
        assert!(out.contains(row), "missing {row:?} in\n{out}");
    }
    // The README carries the same table, between markers.
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let begin = "<!-- collectors:begin (generated by --list-collectors) -->\n";
    let end = "<!-- collectors:end -->";
    let table = readme
        .split_once(begin)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(t, _)| t)
        .expect("README.md has the collectors markers");
    if table != out {
        if std::env::var_os("UPDATE_README").is_some() {
            let updated =
                readme.replacen(&format!("{begin}{table}{end}"), &format!("{begin}{out}{end}"), 1);
            std::fs::write(root().join("README.md"), updated).expect("write README.md");
        } else {
            panic!(
                "README collector table is stale: run \
                 `UPDATE_README=1 cargo test --test integration list_collectors`"
            );
        }
    }
}

#[test]
fn cli_mode_needs_no_file() {
    let dir = scratch("cli-mode");
    let port = crate::common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dameng_exporter"))
        .args([
            "--dbHost",
            "127.0.0.1:1",
            "--dbUser",
            "SYSDBA",
            "--dbPwd",
            "Cli_Pw_987",
            "--listenAddress",
            &listen,
        ])
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut text = String::new();
    for _ in 0..100 {
        if let Ok((200, t)) = crate::common::http_get(port, "/metrics", None) {
            text = t;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        value(&text, "dmdb_up{datasource=\"cmdline_127.0.0.1@127.0.0.1:1\"}"),
        Some(0.0),
        "{text}"
    );
    let (code, _, err) = run_cli(&["--dbHost", "h:1", "--dbUser", "u"], &dir);
    assert_eq!(code, 2);
    assert!(err.contains("--dbPwd"), "{err}");
}

#[test]
fn sigterm_stops_gracefully() {
    let body = format!(
        "[[datasource]]\nname = \"p\"\nodbcConnectionString = \"{}\"\n",
        sqlite_cs("primary")
    );
    let exp = Exporter::start("cli-sigterm", &body);
    let status = exp.terminate();
    assert!(status.success(), "{status}");
}

#[test]
fn every_declared_flag_is_a_command_line_flag() {
    // The flags named in the key declarations (and so in default.toml and the README tables)
    // exist on the command line.
    let (code, out, err) = run_cli(&["--help"], &root());
    assert_eq!(code, 0, "{err}");
    let flags: Vec<&str> = dmexp_config::schema::keys().iter().filter_map(|k| k.flag).collect();
    assert!(flags.len() > 20, "{flags:?}");
    for f in flags {
        assert!(
            out.split(|c: char| c.is_whitespace() || matches!(c, ',' | '=' | '[' | ']'))
                .any(|w| w == f),
            "{f} is declared in config/src/schema but `--help` does not list it:\n{out}"
        );
    }
}
