//! `encodeConfigPwd`: only the plaintext dbPwd values change, atomically.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::*;
use dmexp_config::*;

const MULTI: &str = "# exporter config — 注释保留\n\
encodeConfigPwd = true   # rewrite me\n\
someUnknownKey = [1, 2]  # unknown keys survive\n\
\n\
[[datasource]]\n\
name = \"plain\"\n\
dbHost = \"h1:5236\"\n\
dbUser = \"u\"\n\
dbPwd  = 'Plain Pw\"1'    # trailing comment\n\
maxIdleConns = 2\n\
\n\
[[datasource]]\n\
name = \"already\"\n\
dbHost = \"h2:5236\"\n\
dbUser = \"u\"\n\
dbPwd = \"ENC(zsvHz8TN9c/S2sXY3s/Y+fP57ujr)\"\n\
\n\
[[datasource]]\n\
name = \"from-env\"\n\
dbHost = \"h3:5236\"\n\
dbUser = \"u\"\n\
dbPwd = \"${DMEXP_T_REWRITE_PWD}\"\n\
\n\
[[datasource]]\n\
name = \"from-file\"\n\
dbHost = \"h4:5236\"\n\
dbUser = \"u\"\n\
dbPwdFile = \"pw.txt\"\n\
\n\
[[datasource]]\n\
name = \"Escaped\"\n\
DBHOST = \"h5:5236\"\n\
dbuser = \"u\"\n\
DBPWD=\"a$${b}c\"\n";

fn setup(tag: &str, text: &str) -> std::path::PathBuf {
    let path = write_cfg(tag, text);
    fs::write(path.parent().unwrap().join("pw.txt"), "filepw\n").unwrap();
    path
}

#[test]
fn only_plaintext_passwords_change_and_the_rest_is_byte_identical() {
    std::env::set_var("DMEXP_T_REWRITE_PWD", "envpw");
    let path = setup("rewrite", MULTI);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    let before = load_file(&path).unwrap();

    let out = encrypt_passwords_in_file(&path).unwrap();
    assert_eq!(
        out,
        RewriteOutcome::Rewritten { datasources: vec!["plain".into(), "Escaped".into()] }
    );
    let text = fs::read_to_string(&path).unwrap();
    let expected = MULTI
        .replace("'Plain Pw\"1'", &format!("\"{}\"", encrypt_password("Plain Pw\"1")))
        .replace("\"a$${b}c\"", &format!("\"{}\"", encrypt_password("a${b}c")));
    assert_eq!(text, expected);

    // Same passwords after the rewrite.
    let after = load_file(&path).unwrap();
    for (a, b) in before.datasources.iter().zip(&after.datasources) {
        assert_eq!(a.connection.db_pwd, b.connection.db_pwd, "{}", a.name);
    }
    assert_eq!(after.datasources[0].connection.db_pwd.expose(), "Plain Pw\"1");
    assert_eq!(after.datasources[4].connection.db_pwd.expose(), "a${b}c");

    // Permissions kept, no temporary file left behind.
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let names: Vec<_> = fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // Second run: nothing to do.
    assert_eq!(encrypt_passwords_in_file(&path).unwrap(), RewriteOutcome::Unchanged);
    assert_eq!(fs::read_to_string(&path).unwrap(), expected);
}

#[test]
fn single_source_and_crlf_files() {
    let text = "# single\r\ndbHost = \"h:1\"\r\ndbUser = \"u\"\r\ndbPwd = \"pw\" # c\r\n";
    let path = setup("rewrite-single", text);
    let out = encrypt_passwords_in_file(&path).unwrap();
    assert_eq!(out, RewriteOutcome::Rewritten { datasources: vec!["default".into()] });
    let new = fs::read_to_string(&path).unwrap();
    assert_eq!(new, text.replace("\"pw\"", &format!("\"{}\"", encrypt_password("pw"))));
    assert_eq!(load_file(&path).unwrap().datasources[0].connection.db_pwd.expose(), "pw");
}

#[test]
fn legacy_files_replace_only_db_pwd_lines() {
    let text =
        "# legacy\ndbHost=h:1\ndbUser=SYSDBA\n# dbPwd=commented\ndbPwd= Secret=1 \nlogLevel=info\n";
    let dir = tmpdir("rewrite-legacy");
    let path = dir.join("dameng_exporter.config");
    fs::write(&path, text).unwrap();
    assert!(matches!(encrypt_passwords_in_file(&path).unwrap(), RewriteOutcome::Rewritten { .. }));
    let new = fs::read_to_string(&path).unwrap();
    assert_eq!(
        new,
        text.replace("dbPwd= Secret=1 ", &format!("dbPwd= {} ", encrypt_password("Secret=1")))
    );
    assert_eq!(load_file(&path).unwrap().datasources[0].connection.db_pwd.expose(), "Secret=1");
    assert_eq!(encrypt_passwords_in_file(&path).unwrap(), RewriteOutcome::Unchanged);
}

#[test]
fn read_only_file_or_directory_is_reported_not_failed() {
    let text = ds("a", "h:1");
    let path = setup("rewrite-ro", &text);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o444)).unwrap();
    match encrypt_passwords_in_file(&path).unwrap() {
        RewriteOutcome::ReadOnly { reason } => assert!(reason.contains("read-only"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(fs::read_to_string(&path).unwrap(), text);

    let path = setup("rewrite-rodir", &text);
    let dir = path.parent().unwrap().to_path_buf();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
    let out = encrypt_passwords_in_file(&path);
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    assert!(matches!(out.unwrap(), RewriteOutcome::ReadOnly { .. }));
    assert_eq!(fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn symlinked_config_keeps_the_link() {
    let path = setup("rewrite-link", &ds("a", "h:1"));
    let link = path.parent().unwrap().join("link.toml");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    assert!(matches!(encrypt_passwords_in_file(&link).unwrap(), RewriteOutcome::Rewritten { .. }));
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert!(fs::read_to_string(&path).unwrap().contains("ENC("));
}

/// L15: the rewrite keeps the owner and the mode of the file, through a symlink too. Needs
/// root to give the file to another user (the test run in CI is root; elsewhere it checks
/// the mode only and says so).
#[test]
fn owner_and_mode_are_kept() {
    use std::os::unix::fs::MetadataExt as _;
    let path = setup("rewrite-owner", &ds("a", "h:1"));
    let link = path.parent().unwrap().join("owner-link.toml");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    let root = fs::metadata(&path).unwrap().uid() == 0;
    if root {
        std::os::unix::fs::chown(&path, Some(65534), Some(65533)).unwrap();
    } else {
        eprintln!("owner_and_mode_are_kept: not root, only the mode is checked");
    }
    let before = fs::metadata(&path).unwrap();
    assert!(matches!(encrypt_passwords_in_file(&link).unwrap(), RewriteOutcome::Rewritten { .. }));
    let after = fs::metadata(&path).unwrap();
    assert!(fs::read_to_string(&path).unwrap().contains("ENC("));
    assert_ne!(after.ino(), before.ino(), "the file was replaced (renamed over)");
    assert_eq!(after.permissions().mode() & 0o7777, 0o640);
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    if root {
        assert_eq!((after.uid(), after.gid()), (65534, 65533));
    }
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
}

#[test]
fn invalid_files_are_errors() {
    let path = write_cfg("rewrite-bad", "[[datasource]\nname = 1\n");
    assert!(matches!(encrypt_passwords_in_file(&path), Err(ConfigError::Syntax { .. })));
    let missing = tmpdir("rewrite-missing").join("nope.toml");
    assert!(matches!(encrypt_passwords_in_file(&missing), Err(ConfigError::Read { .. })));
}
