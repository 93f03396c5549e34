//! Operations: hot reload, /probe and collector filters, the scrape deadline from
//! Prometheus' timeout header, and shared collection under concurrent scrapes.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{fixture_ds, http_get, series, value, Engine, Exporter};
use crate::isolation::{psql, slow_primary};

fn post(port: u16, path: &str) -> (u16, String) {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut resp = agent.post(format!("http://127.0.0.1:{port}{path}")).send_empty().expect("post");
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_string().unwrap_or_default();
    (status, body)
}

fn write_config(exp: &Exporter, body: &str) {
    let text = std::fs::read_to_string(&exp.config).expect("read config");
    let head: String = text
        .lines()
        .take_while(|l| !l.starts_with("[[datasource]]"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&exp.config, format!("{head}{body}")).expect("write config");
}

fn get_with_header(port: u16, path: &str, header: (&str, &str)) -> (u16, String) {
    let agent: ureq::Agent =
        ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut resp = agent
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header(header.0, header.1)
        .call()
        .expect("get");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap_or_default())
}

#[test]
fn reload_adds_removes_and_changes_datasources_without_a_failed_scrape() {
    let a = fixture_ds(Engine::Sqlite, "a", "primary", "labels = \"env=old\"");
    let b = fixture_ds(Engine::Sqlite, "b", "standby", "");
    let exp = Exporter::start("ops-reload", &format!("{a}{b}"));
    let port = exp.port;
    let text = exp.metrics();
    assert_eq!(value(&text, "dmdb_up{datasource=\"a\",env=\"old\"}"), Some(1.0));
    assert_eq!(value(&text, "dmdb_up{datasource=\"b\"}"), Some(1.0));
    assert_eq!(value(&text, "dameng_exporter_config_last_reload_successful"), Some(1.0));

    // Scrape continuously while the configuration changes twice.
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let scrapes = Arc::new(AtomicUsize::new(0));
    let scraper = {
        let (stop, failures, scrapes) = (stop.clone(), failures.clone(), scrapes.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            while !stop.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(60) {
                match http_get(port, "/metrics", None) {
                    Ok((200, t)) if t.contains("dameng_exporter_build_info") => {}
                    _ => {
                        failures.fetch_add(1, Ordering::SeqCst);
                    }
                }
                scrapes.fetch_add(1, Ordering::SeqCst);
            }
        })
    };

    // Change a's labels, remove b, add c; reload over HTTP.
    let a2 = fixture_ds(Engine::Sqlite, "a", "primary", "labels = \"env=new\"");
    let c = fixture_ds(Engine::Sqlite, "c", "odd", "");
    write_config(&exp, &format!("{a2}{c}"));
    let (status, body) = post(port, "/-/reload");
    assert_eq!(status, 200, "{body}");
    let text = exp.metrics();
    assert_eq!(
        value(&text, "dmdbms_thread_num_info{datasource=\"a\",env=\"new\"}"),
        Some(12.0),
        "{text}"
    );
    assert!(series(&text, "dmdb_up").iter().all(|s| !s.contains("datasource=\"b\"")), "b removed");
    assert_eq!(value(&text, "dmdbms_status_info{datasource=\"c\"}"), Some(2.0), "c added");

    // SIGHUP works too.
    let b2 = fixture_ds(Engine::Sqlite, "b", "standby", "");
    write_config(&exp, &format!("{a2}{b2}"));
    let pid = exp.pid();
    std::process::Command::new("kill").args(["-HUP", &pid.to_string()]).status().expect("kill");
    let start = Instant::now();
    loop {
        let text = exp.metrics();
        if value(&text, "dmdb_up{datasource=\"b\"}") == Some(1.0)
            && !text.contains("datasource=\"c\"")
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "SIGHUP reload not applied\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let the scraper finish a few more scrapes on the final configuration (bounded wait,
    // however slow the machine is).
    let target = scrapes.load(Ordering::SeqCst) + 2;
    let start = Instant::now();
    while scrapes.load(Ordering::SeqCst) < target && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::SeqCst);
    scraper.join().expect("scraper");
    assert!(scrapes.load(Ordering::SeqCst) >= 2, "the scraper ran");
    assert_eq!(failures.load(Ordering::SeqCst), 0, "a scrape failed during reloads");
    let (_, page) = exp.get("/");
    assert!(page.contains("Last reload: successful"), "{page}");
}

#[test]
fn a_broken_reload_keeps_the_old_configuration() {
    let a = fixture_ds(Engine::Sqlite, "a", "primary", "");
    let exp = Exporter::start("ops-broken-reload", &a);
    write_config(&exp, "[[datasource]]\nname = \"a\"\nqueryTimeout = 999\n");
    let (status, body) = post(exp.port, "/-/reload");
    assert_eq!(status, 500);
    assert!(body.contains("queryTimeout") && body.contains("old configuration kept"), "{body}");
    let text = exp.metrics();
    assert_eq!(value(&text, "dmdbms_thread_num_info{datasource=\"a\"}"), Some(12.0));
    assert_eq!(value(&text, "dameng_exporter_config_last_reload_successful"), Some(0.0));
    let (_, page) = exp.get("/");
    assert!(page.contains("Last reload failed") && page.contains("queryTimeout"), "{page}");
    assert!(exp.all_logs().contains("Configuration reload failed"));
    // Fixing the file and reloading recovers.
    write_config(&exp, &fixture_ds(Engine::Sqlite, "a", "primary", ""));
    assert_eq!(post(exp.port, "/-/reload").0, 200);
    assert_eq!(value(&exp.metrics(), "dameng_exporter_config_last_reload_successful"), Some(1.0));
}

#[test]
fn reload_keeps_the_connections_of_unchanged_datasources() {
    let app = "dmexp_reload_keep";
    let cs = crate::common::pg_cs("odd") + &format!(";pqopt={{application_name={app}}}");
    let kept = format!("[[datasource]]\nname = \"kept\"\nodbcConnectionString = \"{cs}\"\n");
    let exp = Exporter::start("ops-reload-keep", &kept);
    exp.metrics();
    let pids = || {
        psql("postgres", &format!("SELECT string_agg(pid::text, ',' ORDER BY pid) FROM pg_stat_activity WHERE application_name = '{app}'"))
    };
    let before = pids();
    assert!(!before.is_empty(), "the exporter holds connections");
    // Add another datasource and change nothing of `kept`'s connection.
    write_config(&exp, &format!("{kept}{}", fixture_ds(Engine::Sqlite, "new", "primary", "")));
    assert_eq!(post(exp.port, "/-/reload").0, 200);
    exp.metrics();
    assert_eq!(pids(), before, "the pool of the unchanged datasource was kept");
    // Changing its connection settings replaces the pool.
    write_config(&exp, &format!("{}maxOpenConns = 3\n", kept));
    assert_eq!(post(exp.port, "/-/reload").0, 200);
    exp.metrics();
    let after = pids();
    assert!(before.split(',').all(|p| !after.split(',').any(|q| q == p)), "{before} vs {after}");
}

#[test]
fn probe_and_collector_filters() {
    let body = fixture_ds(Engine::Sqlite, "primary", "primary", "")
        + &fixture_ds(Engine::Sqlite, "odd", "odd", "");
    let exp = Exporter::start("ops-probe", &body);
    let (status, text) = exp.get("/probe?target=odd");
    assert_eq!(status, 200);
    assert_eq!(value(&text, "dmdbms_status_info{datasource=\"odd\"}"), Some(2.0));
    assert!(!text.contains("datasource=\"primary\""), "only the target:\n{text}");
    let (status, text) = exp.get("/probe?target=nope");
    assert_eq!(status, 400);
    assert!(text.contains("unknown target `nope`"), "{text}");
    assert_eq!(exp.get("/probe").0, 400);

    let (status, text) = exp.get("/metrics?collect[]=sessions");
    assert_eq!(status, 200);
    let collectors: Vec<&str> = series(&text, "dameng_exporter_collector_success");
    assert!(collectors.iter().all(|s| s.contains("collector=\"sessions\"")), "{collectors:?}");
    assert_eq!(collectors.len(), 2);
    assert!(
        text.contains("dmdbms_session_type_info{datasource=\"primary\",session_type=\"IDLE\"} 6")
    );
    assert!(series(&text, "dmdbms_status_info").is_empty());

    let (_, text) = exp.get("/probe?target=primary&exclude[]=sessions");
    assert!(series(&text, "dmdbms_session_type_info").is_empty());
    assert_eq!(value(&text, "dmdbms_status_info{datasource=\"primary\"}"), Some(1.0));

    let (status, text) = exp.get("/metrics?collect[]=sessions&exclude[]=instance");
    assert_eq!(status, 400, "{text}");
    let (status, text) = exp.get("/metrics?collect[]=no_such_collector");
    assert_eq!(status, 400);
    assert!(text.contains("no_such_collector"), "{text}");
}

#[test]
fn prometheus_scrape_timeout_sets_the_deadline() {
    let db = "dmexp_it_deadline";
    let cs = slow_primary(db, 30);
    let body = format!(
        "[[datasource]]\nname = \"slow\"\nqueryTimeout = 60\nodbcConnectionString = \"{cs}\"\n{}",
        fixture_ds(Engine::Sqlite, "fast", "standby", "")
    );
    let exp = Exporter::start("ops-deadline", &body);
    let started = Instant::now();
    let (status, text) =
        get_with_header(exp.port, "/metrics", ("X-Prometheus-Scrape-Timeout-Seconds", "2.5"));
    let took = started.elapsed();
    assert_eq!(status, 200);
    // 2.5 s × 0.8 = 2 s: the slow collector is cut, everything else is there.
    assert!(took < Duration::from_secs(6), "took {took:?}");
    let ok = |c: &str, ds: &str| {
        value(
            &text,
            &format!("dameng_exporter_collector_success{{collector=\"{c}\",datasource=\"{ds}\"}}"),
        )
    };
    assert_eq!(ok("instance", "slow"), Some(0.0), "{text}");
    assert_eq!(ok("sessions", "slow"), Some(1.0));
    assert_eq!(ok("instance", "fast"), Some(1.0));
    assert_eq!(value(&text, "dmdbms_thread_num_info{datasource=\"fast\"}"), Some(9.0));
    drop(exp);
    psql("postgres", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
}

#[test]
fn overlapping_scrapes_share_one_collection() {
    let db = "dmexp_it_shared";
    let cs = slow_primary(db, 2);
    let body = format!(
        "[[datasource]]\nname = \"s\"\nqueryTimeout = 20\nodbcConnectionString = \"{cs}\"\n"
    );
    let exp = Exporter::start("ops-shared", &body);
    let scans = || -> i64 {
        psql(db, "SELECT pg_stat_force_next_flush(); SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'v$threads_data'")
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(-1)
    };
    exp.get("/probe?target=s&collect[]=instance");
    std::thread::sleep(Duration::from_secs(1));
    let before = scans();
    let port = exp.port;
    let threads: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(move || http_get(port, "/probe?target=s&collect[]=instance", None))
        })
        .collect();
    for t in threads {
        let (status, text) = t.join().expect("thread").expect("scrape");
        assert_eq!(status, 200);
        assert_eq!(value(&text, "dmdbms_thread_num_info{datasource=\"s\"}"), Some(12.0), "{text}");
    }
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(scans(), before + 1, "three overlapping scrapes ran the query once");
    drop(exp);
    psql("postgres", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
}

#[test]
fn sharding_example_is_a_valid_prometheus_config() {
    let path = crate::common::root().join("examples/prometheus/prometheus_sharded.yml");
    let out = std::process::Command::new("promtool")
        .args(["check", "config"])
        .arg(&path)
        .output()
        .expect("promtool");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
