use std::time::{Duration, Instant};

use crate::common::{series, sqlite_cs, value, Exporter};

const DOWN_CS: &str =
    "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=1;Database=nope;UID=dmexp;PWD=dmexp";

#[test]
fn one_datasource_down_others_keep_serving() {
    let body = format!(
        "[[datasource]]\nname = \"primary\"\nodbcConnectionString = \"{}\"\n\
         [[datasource]]\nname = \"down\"\nodbcConnectionString = \"{DOWN_CS}\"\n\
         [[datasource]]\nname = \"odd\"\nodbcConnectionString = \"{}\"\n",
        sqlite_cs("primary"),
        sqlite_cs("odd")
    );
    let exp = Exporter::start("avail-one-down", &body);
    let text = exp.metrics();
    assert_eq!(value(&text, "dmdb_up{datasource=\"primary\"}"), Some(1.0));
    assert_eq!(value(&text, "dmdb_up{datasource=\"odd\"}"), Some(1.0));
    assert_eq!(value(&text, "dmdb_up{datasource=\"down\"}"), Some(0.0));
    assert_eq!(value(&text, "dmdbms_status_info{datasource=\"odd\"}"), Some(2.0));
    assert_eq!(value(&text, "dmdbms_thread_num_info{datasource=\"primary\"}"), Some(12.0));
    assert!(
        !text.lines().any(|l| l.starts_with("dmdbms_") && l.contains("datasource=\"down\"")),
        "no DM series for the down datasource"
    );
    // The landing page shows the health of each datasource.
    let (status, page) = exp.get("/");
    assert_eq!(status, 200);
    assert!(page.contains("down") && page.contains("unhealthy"), "{page}");
}

#[test]
fn starts_and_serves_when_every_datasource_is_down() {
    let body = format!(
        "[[datasource]]\nname = \"a\"\nodbcConnectionString = \"{DOWN_CS}\"\n\
         [[datasource]]\nname = \"b\"\nodbcConnectionString = \"{DOWN_CS};Database=other\"\n"
    );
    let exp = Exporter::start("avail-all-down", &body);
    let text = exp.metrics();
    assert_eq!(value(&text, "dmdb_up{datasource=\"a\"}"), Some(0.0));
    assert_eq!(value(&text, "dmdb_up{datasource=\"b\"}"), Some(0.0));
    assert_eq!(series(&text, "dameng_exporter_build_info").len(), 1);
    assert_eq!(exp.get("/-/healthy").0, 200);
}

#[test]
fn a_datasource_that_comes_up_is_picked_up() {
    let dir = crate::common::scratch("avail-recover-db");
    let db = dir.join("late.db");
    // The SQLite driver creates an empty file on connect, so point at a directory that does
    // not exist yet: connecting fails until it is created.
    let missing = dir.join("later").join("late.db");
    let body = format!(
        "[[datasource]]\nname = \"late\"\nodbcConnectionString = \"Driver=SQLite3;Database={}\"\n",
        missing.display()
    );
    let exp = Exporter::start("avail-recover", &body);
    assert_eq!(value(&exp.metrics(), "dmdb_up{datasource=\"late\"}"), Some(0.0));
    std::fs::create_dir_all(missing.parent().expect("parent")).expect("mkdir");
    std::fs::copy(crate::common::sqlite_dir().join("primary.db"), &missing).expect("copy");
    let _ = db;
    let start = Instant::now();
    loop {
        let text = exp.metrics();
        if value(&text, "dmdb_up{datasource=\"late\"}") == Some(1.0) {
            assert_eq!(value(&text, "dmdbms_thread_num_info{datasource=\"late\"}"), Some(12.0));
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "never recovered:\n{}", exp.output());
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A server that accepts TCP connections and never answers: a datasource hanging at login.
fn black_hole() -> (u16, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).expect("nonblocking");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Ok((s, _)) = listener.accept() {
                held.push(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    (port, handle)
}

#[test]
fn a_datasource_hanging_at_login_delays_nothing_else() {
    let (port, _hole) = black_hole();
    let body = format!(
        "[[datasource]]\nname = \"hang\"\nqueryTimeout = 6\n\
         odbcConnectionString = \"Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port={port};Database=x;UID=u;PWD=p\"\n\
         [[datasource]]\nname = \"primary\"\nodbcConnectionString = \"{}\"\n",
        sqlite_cs("primary")
    );
    let dir = crate::common::scratch("avail-hang");
    let http = crate::common::free_port();
    let config = dir.join("c.toml");
    std::fs::write(&config, format!("listenAddress = \"127.0.0.1:{http}\"\nlogDir = \"\"\n{body}"))
        .expect("write");
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dameng_exporter"))
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // The HTTP server answers at once, long before the hanging login gives up.
    let mut healthy_after = None;
    while started.elapsed() < Duration::from_secs(10) {
        if let Ok((200, _)) = crate::common::http_get(http, "/-/healthy", None) {
            healthy_after = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let healthy_after = healthy_after.expect("server up");
    assert!(healthy_after < Duration::from_secs(5), "HTTP took {healthy_after:?}");
    // A scrape now returns the healthy datasource's metrics; the hanging one is bounded by
    // its own login timeout (queryTimeout) and reported down.
    let (status, text) = crate::common::http_get(http, "/metrics", None).expect("scrape");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200);
    assert_eq!(
        value(&text, "dmdbms_thread_num_info{datasource=\"primary\"}"),
        Some(12.0),
        "{text}"
    );
    assert_eq!(value(&text, "dmdb_up{datasource=\"hang\"}"), Some(0.0), "{text}");
    assert!(started.elapsed() < Duration::from_secs(25), "scrape bounded by the login timeout");
}

#[test]
fn load_status_of_custom_metrics_shows_while_the_datasource_is_down() {
    let file = crate::common::root().join("config/examples/custom_metrics_test.toml");
    let body = format!(
        "[[datasource]]\nname = \"down\"\nodbcConnectionString = \"{DOWN_CS}\"\n\
         customMetricsFile = \"{}\"\n",
        file.display()
    );
    let exp = Exporter::start("avail-down-status", &body);
    let text = exp.metrics();
    assert_eq!(value(&text, "dmdb_up{datasource=\"down\"}"), Some(0.0), "{text}");
    assert_eq!(
        value(&text, "dameng_exporter_custom_metrics_load_success{datasource=\"down\"}"),
        Some(1.0),
        "{text}"
    );
    // Nothing that needs the database.
    assert!(!text.lines().any(|l| l.starts_with("dmdbms_")), "{text}");
}
