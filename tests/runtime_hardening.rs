//! Runtime hardening (issue 15): scrape deadlines of overlapping scrapes (M3), reloads that
//! replace pools under in-flight scrapes (L8), the log context of health tasks started by a
//! reload (L10).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{fixture_ds, http_get, pg_cs, series, value, Engine, Exporter};
use crate::isolation::{psql, slow_primary};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn post(port: u16, path: &str) -> (u16, String) {
    let mut resp =
        agent().post(format!("http://127.0.0.1:{port}{path}")).send_empty().expect("post");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap_or_default())
}

/// GET with `X-Prometheus-Scrape-Timeout-Seconds: timeout`.
fn get_timeout(port: u16, path: &str, timeout: &str) -> (u16, String) {
    let mut resp = agent()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header("X-Prometheus-Scrape-Timeout-Seconds", timeout)
        .call()
        .expect("get");
    let status = resp.status().as_u16();
    (status, resp.body_mut().read_to_string().unwrap_or_default())
}

/// Replaces everything from the first `[[datasource]]` on in the exporter's config file.
fn write_datasources(exp: &Exporter, body: &str) {
    let text = std::fs::read_to_string(&exp.config).expect("read config");
    let head: String = text
        .lines()
        .take_while(|l| !l.starts_with("[[datasource]]"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&exp.config, format!("{head}{body}")).expect("write config");
}

/// Collectors whose `dameng_exporter_collector_success` is 0 in `text`.
fn failed_collectors(text: &str) -> Vec<String> {
    series(text, "dameng_exporter_collector_success")
        .into_iter()
        .filter(|s| s.ends_with(" 0"))
        .map(str::to_owned)
        .collect()
}

/// M3: clients hammering with a tiny scrape timeout never empty the scrapes of a normal
/// client (with or without the timeout header).
#[test]
fn tiny_deadline_scrapes_do_not_empty_normal_ones() {
    let body = fixture_ds(Engine::Sqlite, "p", "primary", "");
    let exp = Exporter::start("rt-poison", &body);
    let baseline = failed_collectors(&exp.metrics());
    let collectors = series(&exp.metrics(), "dameng_exporter_collector_success").len();
    assert!(collectors > 10, "{collectors} collectors");
    let stop = Arc::new(AtomicBool::new(false));
    let poisoned = Arc::new(AtomicUsize::new(0));
    let port = exp.port;
    let attackers: Vec<_> = (0..6)
        .map(|_| {
            let (stop, poisoned) = (Arc::clone(&stop), Arc::clone(&poisoned));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let (status, _) = get_timeout(port, "/metrics", "0.000001");
                    assert_eq!(status, 200);
                    poisoned.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    // Let the attack get going, then scrape as Prometheus would.
    while poisoned.load(Ordering::SeqCst) < 20 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut bad = Vec::new();
    for i in 0..30 {
        let (status, text) =
            if i % 2 == 0 { exp.get("/metrics") } else { get_timeout(port, "/metrics", "10") };
        assert_eq!(status, 200);
        assert_eq!(value(&text, "dmdb_up{datasource=\"p\"}"), Some(1.0), "{text}");
        let failed: Vec<String> =
            failed_collectors(&text).into_iter().filter(|f| !baseline.contains(f)).collect();
        if !failed.is_empty() {
            bad.push((i, failed));
        }
    }
    stop.store(true, Ordering::SeqCst);
    for a in attackers {
        a.join().expect("attacker");
    }
    assert!(poisoned.load(Ordering::SeqCst) > 30, "the attack ran");
    assert!(bad.is_empty(), "normal scrapes lost collectors to tiny-deadline ones: {bad:?}");
}

/// M3, the other direction: a probe with a 1 s timeout arriving while a slow probe without a
/// deadline runs does not wait for it; it answers within its own budget (0.8 s) with what
/// finished, and the slow probe still gets everything.
#[test]
fn a_short_deadline_probe_does_not_wait_for_a_slow_shared_one() {
    let db = "dmexp_runtime_m3";
    let cs = slow_primary(db, 3);
    let body = format!(
        "[[datasource]]\nname = \"s\"\nqueryTimeout = 20\nodbcConnectionString = \"{cs}\"\n"
    );
    let exp = Exporter::start("rt-m3-slow", &body);
    let port = exp.port;
    let slow = std::thread::spawn(move || {
        let started = Instant::now();
        let r = http_get(port, "/probe?target=s", None).expect("slow probe");
        (r, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let (status, text) = get_timeout(port, "/probe?target=s", "1");
    let took = started.elapsed();
    assert_eq!(status, 200);
    assert!(took < Duration::from_millis(1600), "the 1 s probe took {took:?}");
    let ok = |text: &str, c: &str| {
        value(
            text,
            &format!("dameng_exporter_collector_success{{collector=\"{c}\",datasource=\"s\"}}"),
        )
    };
    assert_eq!(ok(&text, "instance"), Some(0.0), "{text}");
    assert_eq!(ok(&text, "sessions"), Some(1.0), "{text}");
    let ((status, text), slow_took) = slow.join().expect("slow thread");
    assert_eq!(status, 200);
    assert!(slow_took >= Duration::from_secs(3), "{slow_took:?}");
    assert_eq!(ok(&text, "instance"), Some(1.0), "{text}");
    assert_eq!(value(&text, "dmdbms_thread_num_info{datasource=\"s\"}"), Some(12.0), "{text}");
    drop(exp);
    psql("postgres", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
}

/// L8: reloads that change a datasource's password (so its pool is replaced) while scrapes
/// are in flight never show it down: the old pool closes after the old runtime's last
/// scrape. `serial` makes datasource `b` start its collectors after the slow one, i.e. after
/// the reload replaced its pool.
#[test]
fn password_changing_reloads_during_scrapes_never_show_down() {
    let db = "dmexp_runtime_l8";
    let slow = slow_primary(db, 1);
    let b = pg_cs("standby");
    let config = |pwd: usize| {
        format!(
            "collectStrategy = \"serial\"\n\
             [[datasource]]\nname = \"slow\"\npriority = 1\nqueryTimeout = 20\n\
             odbcConnectionString = \"{slow}\"\n\
             [[datasource]]\nname = \"b\"\npriority = 2\n\
             odbcConnectionString = \"{}\"\n",
            b.replace("PWD=dmexp", &format!("PWD=rotated{pwd}"))
        )
    };
    let exp = Exporter::start("rt-l8", &config(0));
    // The first line of the file holds collectStrategy only after a rewrite: write it now.
    let head = std::fs::read_to_string(&exp.config).expect("config");
    let head: String = head
        .lines()
        .take_while(|l| !l.starts_with("collectStrategy") && !l.starts_with("[[datasource]]"))
        .map(|l| format!("{l}\n"))
        .collect();
    let write = |pwd: usize| {
        std::fs::write(&exp.config, format!("{head}{}", config(pwd))).expect("write config");
    };
    let text = exp.metrics();
    assert_eq!(value(&text, "dmdb_up{datasource=\"b\"}"), Some(1.0), "{text}");
    let stop = Arc::new(AtomicBool::new(false));
    let downs = Arc::new(Mutex::new(Vec::new()));
    let scrapes = Arc::new(AtomicUsize::new(0));
    let port = exp.port;
    let scrapers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, downs, scrapes) =
                (Arc::clone(&stop), Arc::clone(&downs), Arc::clone(&scrapes));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let (status, text) = http_get(port, "/metrics", None).expect("scrape");
                    assert_eq!(status, 200);
                    for ds in ["slow", "b"] {
                        if value(&text, &format!("dmdb_up{{datasource=\"{ds}\"}}")) != Some(1.0) {
                            downs.lock().expect("lock").push(ds.to_owned());
                        }
                    }
                    scrapes.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    for pwd in 1..=8 {
        write(pwd);
        let (status, body) = post(port, "/-/reload");
        assert_eq!(status, 200, "{body}");
        std::thread::sleep(Duration::from_millis(700));
    }
    stop.store(true, Ordering::SeqCst);
    for s in scrapers {
        s.join().expect("scraper");
    }
    let downs = downs.lock().expect("lock").clone();
    assert!(scrapes.load(Ordering::SeqCst) >= 6, "scrapes ran during the reloads");
    assert!(downs.is_empty(), "datasources shown down during reloads: {downs:?}");
    assert!(!exp.all_logs().contains("Datasource is unreachable"), "{}", exp.all_logs());
    drop(exp);
    psql("postgres", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
}

/// L10: the health task of a datasource added by `POST /-/reload` logs under its own
/// `health{datasource=…}` span, not under the reload request's span.
#[test]
fn health_tasks_started_by_a_reload_do_not_log_under_the_request() {
    let a = fixture_ds(Engine::Sqlite, "a", "primary", "");
    let exp = Exporter::start("rt-l10", &a);
    write_datasources(&exp, &format!("{a}{}", fixture_ds(Engine::Sqlite, "late", "standby", "")));
    let (status, body) = post(exp.port, "/-/reload");
    assert_eq!(status, 200, "{body}");
    let started = Instant::now();
    let line = loop {
        let logs = exp.all_logs();
        if let Some(l) =
            logs.lines().find(|l| l.contains("Datasource is healthy") && l.contains("late"))
        {
            break l.to_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(20), "no health line for `late`:\n{logs}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(line.contains("health{datasource=late}"), "{line}");
    assert!(!line.contains("request{"), "health line under the request span: {line}");
    assert!(!line.contains("/-/reload"), "{line}");
}
