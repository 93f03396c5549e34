//! Every bad-config case: the error names the file, the line or key, and the fix.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;

use common::*;
use dmexp_config::*;

/// (case, file text, fragments expected in the error; `{file}` = the path, `{line:X}` = line
/// of the first line containing X).
const CASES: &[(&str, &str, &[&str])] = &[
    (
        "no datasource",
        "listenAddress = \":9200\"\n",
        &["{file}: no datasource configured; add at least one [[datasource]]"],
    ),
    (
        "duplicate name",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h1:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n\
         [[datasource]]\nname = \"a\" # again\ndbHost = \"h2:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        &["{file}:{line:# again}: duplicate datasource name \"a\"", "(line 2)", "(line {line:# again})", "unique name"],
    ),
    (
        "duplicate host among enabled",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h1:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n\
         [[datasource]]\nname = \"b\"\ndbHost = \"h1:1?x=y\" # dup\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        &["{file}:{line:# dup}: duplicate dbHost \"h1:1\"", "#1 (a, line 3)", "set enabled = false"],
    ),
    (
        "queryTimeout too large",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\nqueryTimeout = 500\n",
        &["{file}:6: queryTimeout = 500 in [[datasource]] #1 (a) is out of range; set it between 1 and 300"],
    ),
    (
        "queryTimeout negative",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\nqueryTimeout = -1\n",
        &["{file}:6: queryTimeout = -1", "must not be negative"],
    ),
    (
        "maxOpenConns too large",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\nmaxOpenConns = 101\n",
        &["{file}:6: maxOpenConns = 101", "between 1 and 100"],
    ),
    (
        "queryTimeout as a string",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\nqueryTimeout = \"5\"\n",
        &["{file}:6: queryTimeout in [[datasource]] #1 (a) must be an integer, found a string", "queryTimeout = 5 (no quotes)"],
    ),
    (
        "enabled as a string",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\nenabled = \"true\"\n",
        &["{file}:6: enabled", "must be a boolean"],
    ),
    (
        "global type mismatch",
        "logMaxSize = 1.5\n[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        &["{file}:1: logMaxSize at the top level must be an integer, found a float"],
    ),
    (
        "missing name",
        "[[datasource]]\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        &["{file}:1: [[datasource]] #1 has no name; add name ="],
    ),
    (
        "empty name",
        "[[datasource]]\nname = \"\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        &["{file}:2: [[datasource]] #1 has no name"],
    ),
    (
        "missing dbHost",
        "[[datasource]]\nname = \"a\"\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        &["{file}:1: [[datasource]] #1 (a) has no dbHost; add dbHost = \"host:port\" (or odbcConnectionString)"],
    ),
    (
        "missing dbUser",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbPwd = \"p\"\n",
        &["{file}:1:", "has no dbUser; add dbUser"],
    ),
    (
        "missing dbPwd",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\n",
        &["{file}:1:", "has no dbPwd; add dbPwd", "dbPwdFile"],
    ),
    (
        "empty dbPwd",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"\"\n",
        &["{file}:5:", "has no dbPwd"],
    ),
    (
        "invalid label name",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\nlabels = \"env=prod,my-env=x\"\n",
        &["{file}:6: label name \"my-env\" in labels is invalid", "[a-zA-Z_][a-zA-Z0-9_]*"],
    ),
    (
        "reserved label name",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\nlabels = \"__x=1\"\n",
        &["{file}:6: label name \"__x\"", "starts with __"],
    ),
    (
        "datasource label",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\nlabels = \"datasource=x\"\n",
        &["{file}:6: label name \"datasource\"", "use another name"],
    ),
    (
        "label syntax",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\nlabels = \"env\"\n",
        &["{file}:6: labels item \"env\" has no '='; write labels = \"k1=v1,k2=v2\""],
    ),
    (
        "collectionMode",
        "collectionMode = \"slow\"\n[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        &["{file}:1: collectionMode = \"slow\" is not a collection mode; write \"blocking\" or \"fast\""],
    ),
    (
        "collectStrategy",
        "collectStrategy = \"random\"\n[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        &["{file}:1: collectStrategy = \"random\"", "\"serial\", \"concurrent\" or \"hybrid\""],
    ),
    (
        "customMetricsFile missing",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\ncustomMetricsFile = \"nope.toml\"\n",
        &["{file}:6: customMetricsFile in [[datasource]] #1 (a): file `", "nope.toml` does not exist", "registerCustomMetrics = false"],
    ),
    (
        "dbPwdFile missing",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwdFile = \"missing.pwd\"\n",
        &["{file}:5: dbPwdFile in [[datasource]] #1 (a): cannot read password file `", "missing.pwd`"],
    ),
    (
        "dbPwd and dbPwdFile",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\ndbPwdFile = \"x\"\n",
        &["{file}:6:", "sets both dbPwd (line 5) and dbPwdFile; keep only one"],
    ),
    (
        "priority too high",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\npriority = 4\n",
        &["{file}:6: priority = 4", "write 1 (high), 2 (normal, the default) or 3 (low)"],
    ),
    (
        "priority zero",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\npriority = 0\n",
        &["{file}:6: priority = 0"],
    ),
    (
        "negative global",
        "retryIntervalSeconds = -5\n[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        &["{file}:1: retryIntervalSeconds = -5 at the top level must not be negative"],
    ),
    (
        "negative cache time",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\nbigKeyDataCacheTime = -1\n",
        &["{file}:6: bigKeyDataCacheTime = -1", "must not be negative"],
    ),
    (
        "bad ENC base64",
        "[[datasource]]\nname = \"prod\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"ENC(!!!notbase64)\"\n",
        &["{file}:5: dbPwd in [[datasource]] #1 (prod): the ENC() payload is not valid base64", "--encryptPwd"],
    ),
    (
        "ENC too short",
        "[[datasource]]\nname = \"prod\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"ENC(YWJj)\"\n",
        &["{file}:5: dbPwd in [[datasource]] #1 (prod)", "too short"],
    ),
    (
        "ENC wrong salt",
        "[[datasource]]\nname = \"prod\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"ENC(base64_encrypted_password1)\"\n",
        &["{file}:5: dbPwd in [[datasource]] #1 (prod)"],
    ),
    (
        "bad ENC basic auth",
        "enableBasicAuth = true\nbasicAuthUsername = \"admin\"\nbasicAuthPassword = \"ENC(encrypted_admin_pwd)\"\n\
         [[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        &["{file}:3: basicAuthPassword: the ENC() payload"],
    ),
    (
        "scrapeTimeoutFactor",
        "scrapeTimeoutFactor = 1.5\n[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        &["{file}:1: scrapeTimeoutFactor = 1.5 is out of range"],
    ),
    (
        "listenAddress",
        "listenAddress = \"9200\"\n[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        &["{file}:1: listenAddress = \"9200\" is not a listen address", "\":9200\""],
    ),
    (
        "metricPath",
        "metricPath = \"metrics\"\n[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        &["{file}:1: metricPath = \"metrics\"", "\"/metrics\""],
    ),
    (
        "unset env var",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"${DMEXP_T_SURELY_UNSET_VAR}\"\n",
        &["{file}:5: dbPwd refers to environment variable DMEXP_T_SURELY_UNSET_VAR", "is not set"],
    ),
    (
        "single [datasource] table",
        "[datasource]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        &["{file}:1: datasource must be an array of tables, found a table", "[[datasource]] table (double brackets)"],
    ),
    (
        "plugin without path",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n[[datasource.plugin]]\nfile = \"x\"\n",
        &["{file}:6: [[datasource.plugin]] #1 in [[datasource]] #1 (a) has no path"],
    ),
    (
        "key twice in different case",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\nDBHOST = \"h:2\"\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        &["{file}:4: key \"DBHOST\" in [[datasource]] #1 (a) is given twice (also \"dbHost\" at line 3)"],
    ),
    (
        "disabledCollectors not strings",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\ndisabledCollectors = [1]\n",
        &["{file}:6: disabledCollectors", "must be an array of strings"],
    ),
];

fn expand(frag: &str, file: &str, text: &str) -> String {
    let mut out = frag.replace("{file}", file);
    while let Some(start) = out.find("{line:") {
        let end = start + out[start..].find('}').unwrap();
        let needle = out[start + 6..end].to_string();
        out.replace_range(start..=end, &line_of(text, &needle).to_string());
    }
    out
}

#[test]
fn every_bad_config_names_file_line_and_fix() {
    for (case, text, frags) in CASES {
        let path = write_cfg("bad", text);
        let err = match load_file(&path) {
            Ok(_) => panic!("{case}: loaded without error"),
            Err(e) => e,
        };
        let msg = err.to_string();
        let file = path.display().to_string();
        for frag in *frags {
            let want = expand(frag, &file, text);
            assert!(msg.contains(&want), "{case}:\n  want: {want}\n  got:  {msg}");
        }
        assert_eq!(msg, msg.trim_end(), "{case}: no trailing whitespace");
        assert!(matches!(err, ConfigError::Invalid { .. }), "{case}: {err:?}");
    }
}

#[test]
fn fine_variants_of_the_bad_cases_load() {
    let ok_cases: &[(&str, &str)] = &[
        (
            "duplicate host but one disabled",
            "[[datasource]]\nname = \"a\"\ndbHost = \"h1:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n\
             [[datasource]]\nname = \"b\"\nenabled = false\ndbHost = \"h1:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        ),
        (
            "missing custom metrics file but registerCustomMetrics = false",
            "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n\
             registerCustomMetrics = false\ncustomMetricsFile = \"nope.toml\"\n",
        ),
        (
            "missing custom metrics file but disabled",
            "[[datasource]]\nname = \"a\"\nenabled = false\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n\
             customMetricsFile = \"nope.toml\"\n",
        ),
        (
            "bad basic auth ENC while auth is off",
            "basicAuthPassword = \"ENC(x)\"\n[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n",
        ),
        (
            "odbc datasource without user and password",
            "[[datasource]]\nname = \"a\"\nodbcConnectionString = \"DSN=x\"\n",
        ),
    ];
    for (case, text) in ok_cases {
        if let Err(e) = load("ok", text) {
            panic!("{case}: {e}");
        }
    }
}

#[test]
fn all_problems_are_reported_one_line_each() {
    let text =
        "collectionMode = \"x\"\n[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\n\
                dbPwd = \"p\"\nqueryTimeout = 999\nmaxOpenConns = -3\nlabels = \"a-b=1\"\n";
    let err = load("many", text).unwrap_err();
    assert_eq!(err.problems().len(), 4, "{err}");
    assert_eq!(err.to_string().lines().count(), 4, "{err}");
    let keys: Vec<_> = err.problems().iter().filter_map(|p| p.key.as_deref()).collect();
    assert_eq!(keys, ["collectionMode", "queryTimeout", "maxOpenConns", "labels"]);
    assert_eq!(err.problems()[1].datasource.as_deref(), Some("a"));
    assert_eq!(err.problems()[1].line, Some(7));
}

#[test]
fn syntax_errors_name_file_line_and_column() {
    let text = "listenAddress = \":9200\"\n[[datasource]]\nname = \"a\"\nqueryTimeout = = 3\n";
    let path = write_cfg("syntax", text);
    let err = load_file(&path).unwrap_err();
    match &err {
        ConfigError::Syntax { line, .. } => assert_eq!(*line, 4),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().starts_with(&format!("{}:4:", path.display())), "{err}");
}

#[test]
fn missing_file_is_a_read_error() {
    let dir = tmpdir("missing");
    let err = load_file(&dir.join("nope.toml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(err.to_string().contains("nope.toml"));
}

#[test]
fn bad_enc_payloads_never_panic() {
    let payloads = [
        "ENC()",
        "ENC(=)",
        "ENC(====)",
        "ENC(A)",
        "ENC(zsvHz8TN9c/S2sXY3s/Y)",
        "ENC(zsvHz8TN9c/S2sXY3s/Y+fP57uj)",
        "ENC(\u{00e9}\u{00e9})",
        "ENC(ENC(x))",
        "ENC(zsvHz8TN9c/S2sXY3s/Y/w==)",
        "ENC( )",
    ];
    for p in payloads {
        let _ = decrypt_password(p);
        let text = format!(
            "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"{p}\"\n"
        );
        let r = std::panic::catch_unwind(|| load("enc", &text));
        assert!(r.is_ok(), "panicked on {p}");
    }
    // A 15-byte salt and nothing else is the empty password: loads, then fails "no dbPwd".
    let e = encrypt_password("");
    let text = format!(
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"{e}\"\n"
    );
    assert!(load("enc-empty", &text).unwrap_err().to_string().contains("no dbPwd"));
}

#[test]
fn empty_password_file_is_an_error() {
    let path = write_cfg(
        "emptypwd",
        "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwdFile = \"p\"\n",
    );
    fs::write(path.parent().unwrap().join("p"), "\n").unwrap();
    let err = load_file(&path).unwrap_err();
    assert!(err.to_string().contains("is empty"), "{err}");
}

#[test]
fn disabled_collectors_are_checked_against_the_registry() {
    let text = "[[datasource]]\nname = \"a\"\ndbHost = \"h:1\"\ndbUser = \"u\"\ndbPwd = \"p\"\n\
                disabledCollectors = [\"slow_sql\", \"tablespaces\", \"zzzz\"]\n";
    let cfg = load("collectors", text).unwrap();
    let known = ["slow_sql", "tablespace", "sessions"];
    let err = cfg.check_collector_names(&known).unwrap_err();
    assert_eq!(err.problems().len(), 2, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("unknown collector \"tablespaces\"; did you mean \"tablespace\"?"),
        "{msg}"
    );
    assert!(msg.contains("unknown collector \"zzzz\""), "{msg}");
    assert!(msg.starts_with(&cfg.source_name()), "{msg}");
    let mut ok = cfg.clone();
    ok.datasources[0].disabled_collectors = vec!["sessions".into()];
    ok.check_collector_names(&known).unwrap();
}

#[test]
fn a_toml_file_with_an_unquoted_value_is_a_syntax_error_not_legacy() {
    // Looks like key=value lines, but the quoted values show it is TOML.
    let text = "[[datasource]]\nname = \"a\"\ndbHost = 127.0.0.1:5236\n";
    assert!(matches!(load("notlegacy", text), Err(ConfigError::Syntax { line: 3, .. })));
    let text = "listenAddress = \":9200\"\ndbHost = 127.0.0.1:5236\n";
    assert!(matches!(load("notlegacy2", text), Err(ConfigError::Syntax { line: 2, .. })));
}
