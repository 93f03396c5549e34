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
