//! Passwords never appear in Debug/Display output of Config, warnings or errors.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;

use common::*;
use dmexp_config::*;

const PW: &str = "Sup3r-Secret-Pw";
const AUTH: &str = "Auth-Secret-Pw";

#[test]
fn config_debug_never_shows_passwords() {
    let text = format!(
        "enableBasicAuth = true\nbasicAuthUsername = \"admin\"\nbasicAuthPassword = \"{AUTH}\"\n\
         queryTimout = 1\n\
         [[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"{PW}\"\nunknownKey = 1\n\
         [[datasource]]\nname = \"b\"\nodbcConnectionString = \"DSN=x;PWD={PW}\"\n\
         [[datasource]]\nname = \"c\"\ndbHost = \"h:3\"\ndbUser = \"u\"\ndbPwd = \"{}\"\n",
        encrypt_password(PW)
    );
    let cfg = load("secret", &text).unwrap();
    assert_eq!(cfg.datasources[2].connection.db_pwd.expose(), PW);
    let dump = format!("{cfg:?} {cfg:#?}");
    for w in &cfg.warnings {
        assert!(!w.message.contains(PW) && !w.message.contains(AUTH));
    }
    assert!(!dump.contains(PW), "{dump}");
    assert!(!dump.contains(AUTH), "{dump}");
}

#[test]
fn errors_never_show_passwords() {
    let cases = [
        // Another problem in a file that holds a password.
        format!("[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"{PW}\"\nqueryTimeout = 999\n"),
        // Syntax error on the password line itself.
        format!("[[datasource]]\nname = \"a\"\ndbPwd = \"{PW}\n"),
        format!("[[datasource]]\nname = \"a\"\ndbPwd = {PW}\n"),
        // Wrong type next to it, password file and dbPwd together.
        format!("[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"{PW}\"\ndbPwdFile = \"f\"\nenabled = \"yes\"\n"),
        // Bad ENC payload that contains the text.
        format!("[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"ENC({PW})\"\n"),
        format!("enableBasicAuth = true\nbasicAuthPassword = \"ENC({AUTH})\"\n"),
    ];
    for text in &cases {
        let err = load("secret-err", text).unwrap_err();
        let out = format!("{err} {err:?}");
        assert!(!out.contains(PW) && !out.contains(AUTH), "{out}");
    }
}

#[test]
fn legacy_notice_and_cli_debug_hide_passwords() {
    let dir = tmpdir("secret-legacy");
    let path = dir.join("dameng_exporter.config");
    fs::write(&path, format!("dbHost=h:1\ndbUser=u\ndbPwd={PW}\nbasicAuthPassword={AUTH}\n"))
        .unwrap();
    let cfg = load_file(&path).unwrap();
    let dump = format!("{cfg:?}");
    assert!(!dump.contains(PW) && !dump.contains(AUTH), "{dump}");

    let c = CliDatasource {
        db_host: "h:1".into(),
        db_user: "u".into(),
        db_pwd: PW.into(),
        ..Default::default()
    };
    assert!(!format!("{c:?}").contains(PW));
    let cfg = from_cli(&c).unwrap();
    assert!(!format!("{cfg:?}").contains(PW));
    let g = CliGlobals { basic_auth_password: Some(AUTH.into()), ..Default::default() };
    assert!(!format!("{g:?}").contains(AUTH));
}

#[test]
fn rewrite_outcome_never_shows_passwords() {
    let path = write_cfg(
        "secret-rw",
        &format!(
            "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"{PW}\"\n"
        ),
    );
    let out = encrypt_passwords_in_file(&path).unwrap();
    assert!(!format!("{out:?}").contains(PW));
}
