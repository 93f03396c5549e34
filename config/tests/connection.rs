//! `ConnectionSettings`: every key that shapes a connection or the pool is inside it (so the
//! reload's reuse decision, `a.connection == b.connection`, sees it) and no other key is.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

fn conn(tag: &str, extra: &str) -> dmexp_config::ConnectionSettings {
    let text = format!("{}{extra}\n", ds("a", "h:5236"));
    load(tag, &text).unwrap().datasources.remove(0).connection
}

#[test]
fn every_connection_key_changes_the_settings() {
    let base = conn("conn-base", "");
    assert_eq!(base, conn("conn-same", ""));
    let dir = tmpdir("conn-pwdfile");
    let pwd = dir.join("pw");
    std::fs::write(&pwd, "other").unwrap();
    let changed = [
        "queryTimeout = 7".to_string(),
        "maxOpenConns = 3".to_string(),
        "maxIdleConns = 1".to_string(),
        "connMaxLifetime = 5".to_string(),
        "connectionInitSql = [\"SELECT 1\"]".to_string(),
        "odbcDriver = \"Other\"".to_string(),
        "odbcConnectionString = \"DSN=x\"".to_string(),
    ];
    for extra in &changed {
        assert_ne!(base, conn("conn-changed", extra), "{extra}");
    }
    // dbHost, dbUser and dbPwd are in the base table; vary them directly.
    for (from, to) in [
        ("dbHost = \"h:5236\"", "dbHost = \"h:5237\""),
        ("dbUser = \"SYSDBA\"", "dbUser = \"MON\""),
        ("dbPwd = \"pw_a\"", "dbPwd = \"pw_b\""),
    ] {
        let text = ds("a", "h:5236").replace(from, to);
        let other = load("conn-ident", &text).unwrap().datasources.remove(0).connection;
        assert_ne!(base, other, "{to}");
    }
    let text = ds("a", "h:5236")
        .replace("dbPwd = \"pw_a\"", &format!("dbPwdFile = \"{}\"", pwd.display()));
    let from_file = load("conn-file", &text).unwrap().datasources.remove(0).connection;
    assert_eq!(from_file.db_pwd.expose(), "other");
    assert_ne!(base, from_file);
}

#[test]
fn other_keys_leave_the_settings_alone() {
    let base = conn("conn-base2", "");
    for extra in [
        "labels = \"env=x\"",
        "disabledCollectors = [\"sessions\"]",
        "priority = 3",
        "description = \"d\"",
        "enabled = false",
        "checkSlowSQL = true",
        "slowSqlTime = 5",
        "bigKeyDataCacheTime = 2",
        "registerHostMetrics = true",
    ] {
        assert_eq!(base, conn("conn-other", extra), "{extra}");
    }
}
