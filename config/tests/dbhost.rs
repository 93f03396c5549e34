//! `dbHost` query options carried over from the Go exporter (docs/DM8_EVIDENCE.md F9):
//! options DM's ODBC driver does not honour are named in a warning with file, line and key.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;

use common::*;
use dmexp_config::dbhost::{classify_option, OptionKind};
use dmexp_config::*;

#[test]
fn go_driver_options_in_db_host_are_warned_with_file_and_line() {
    let text = format!(
        "{}{}",
        ds("a", "10.0.0.1:5236?autoCommit=true&socketTimeout=5&schema=MON&connectTimeout=3000"),
        ds("b", "10.0.0.2:5236"),
    );
    let path = write_cfg("dbhost-go", &text);
    let cfg = load_file(&path).unwrap();
    let line = line_of(&text, "autoCommit");
    let w: Vec<&str> = cfg.warnings.iter().map(|w| w.message.as_str()).collect();
    assert_eq!(w.len(), 2, "{w:?}");
    let file = path.display().to_string();
    assert_eq!(
        w[0],
        format!(
            "{file}:{line}: dbHost in [[datasource]] #1 (a): option autoCommit is a Go-driver \
             option; DM's ODBC driver ignores it and the exporter drops it; ODBC sessions \
             auto-commit by default; remove it"
        )
    );
    assert_eq!(
        w[1],
        format!(
            "{file}:{line}: dbHost in [[datasource]] #1 (a): option socketTimeout is a Go-driver \
             option; DM's ODBC driver ignores it and the exporter drops it; queryTimeout bounds \
             every query; set queryTimeout instead"
        )
    );
    assert!(cfg.warnings.iter().all(|w| !w.unknown_key));
}

#[test]
fn mapped_and_documented_options_give_no_warning() {
    let cfg =
        load("dbhost-ok", &ds("a", "h:5236?schema=MON&connectTimeout=5000&CHARACTER_CODE=PG_UTF8"))
            .unwrap();
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
}

#[test]
fn legacy_example_with_auto_commit_is_warned() {
    let dir = tmpdir("dbhost-legacy");
    let path = dir.join("dameng_exporter.config");
    fs::write(&path, "dbHost=127.0.0.1:5236?autoCommit=true\ndbUser=SYSDBA\ndbPwd=x\n").unwrap();
    let cfg = load_file(&path).unwrap();
    let w = cfg.warnings.iter().find(|w| w.message.contains("option autoCommit")).unwrap();
    assert!(w.message.contains(":1: "), "{}", w.message);
    assert!(w.message.contains("Go-driver option"), "{}", w.message);
}

#[test]
fn classification_is_public_for_the_pool() {
    assert_eq!(classify_option("Schema"), OptionKind::Odbc("SCHEMA"));
    assert_eq!(classify_option("connectTimeout"), OptionKind::LoginTimeout);
    assert_eq!(classify_option("dbalive"), OptionKind::GoDriverOnly);
}
