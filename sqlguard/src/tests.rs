//! Unit tests of the prover (moved from dmexp-config custom_metrics/sql.rs).

use super::*;

fn ok(sql: &str) -> String {
    check_read_only(sql).unwrap_or_else(|e| panic!("{sql:?} refused: {e:?}"))
}

fn err(sql: &str) -> SqlProblem {
    match check_read_only(sql) {
        Ok(t) => panic!("{sql:?} accepted as {t:?}"),
        Err(e) => e,
    }
}

#[test]
fn dm_queries_are_accepted() {
    for q in [
        "SELECT STATUS$, MODE$ FROM V$INSTANCE",
        "SELECT /*+DM_EXPORTER*/ STATUS$ FROM SYS.V$INSTANCE",
        "select count(*) from v$sessions where state = 'ACTIVE'",
        "SELECT TOP 10 SESS_ID FROM V$SESSIONS",
        "SELECT * FROM V$SESSIONS LIMIT 10",
        "SELECT * FROM V$SESSIONS LIMIT 5, 10",
        "SELECT * FROM V$SESSIONS LIMIT 10 OFFSET 5",
        "SELECT * FROM V$SESSIONS WHERE ROWNUM <= 10",
        "SELECT TO_CHAR(SYSDATE, 'YYYY-MM-DD') FROM DUAL",
        "SELECT DATEDIFF(SQL_TSI_DAY, START_TIME, SYSDATE) FROM V$INSTANCE",
        "SELECT NVL(a, 0), DECODE(b, 1, 'x', 'y') FROM t",
        "SELECT a.x FROM a, b WHERE a.id = b.id(+)",
        "SELECT \"EVENT#\", EVENT# FROM V$SYSTEM_EVENT",
        "WITH x AS (SELECT 1 AS a FROM DUAL) SELECT a FROM x",
        "SELECT NAME, TO_CHAR(TOTAL_SIZE*PAGE()/1024/1024) AS total_size_mb FROM SYS.V$TABLESPACE",
        "SELECT LEVEL FROM DUAL CONNECT BY LEVEL <= 3",
        "SELECT SF_GET_SESSION_SQL(SESS_ID) FROM V$SESSIONS",
        "SELECT 区域, SUM(金额) AS 总额 FROM 销售明细 GROUP BY 区域",
        "SELECT a || b FROM t",
        "SELECT x FROM t MINUS SELECT x FROM u",
        "SELECT x FROM t UNION ALL SELECT y FROM u",
        "SELECT x FROM t FETCH FIRST 10 ROWS ONLY",
        "SELECT CASE WHEN STATUS$ = 'OPEN' THEN 1 ELSE 0 END status FROM V$INSTANCE",
        "SELECT x FROM t WHERE d > SYSDATE - 1/24",
        "SELECT x FROM t WHERE d > DATE '2026-01-01'",
        "SELECT 'C:\\dm\\bak\\' AS p FROM DUAL",
        "SELECT 'it''s; not -- a /* comment' AS s FROM DUAL",
        "SELECT 1 FROM DUAL -- a comment; with a semicolon",
        "(SELECT 1 AS one FROM DUAL)",
        "SELECT (SELECT COUNT(*) FROM V$TRXWAIT) AS waits FROM DUAL",
    ] {
        ok(q);
    }
}

#[test]
fn trailing_semicolon_is_removed() {
    assert_eq!(ok("SELECT 1 FROM DUAL;"), "SELECT 1 FROM DUAL");
    assert_eq!(ok("  SELECT 1 FROM DUAL ;  -- done\n"), "SELECT 1 FROM DUAL");
    assert_eq!(ok("SELECT '中;文' AS x FROM DUAL;\n"), "SELECT '中;文' AS x FROM DUAL");
    assert_eq!(ok("SELECT 1\nFROM DUAL\n;\n/* end */"), "SELECT 1\nFROM DUAL");
    assert_eq!(ok("SELECT 1 -- c\r\nFROM DUAL;\r\n"), "SELECT 1 -- c\nFROM DUAL");
    assert_eq!(ok("\u{feff}SELECT 1 FROM DUAL"), "SELECT 1 FROM DUAL");
}

#[test]
fn malicious_and_wrong_requests_are_refused() {
    let cases: &[(&str, &str)] = &[
        ("SELECT 1 FROM DUAL; DELETE FROM t", "more than one statement"),
        ("SELECT 1 FROM DUAL;; ", "more than one statement"),
        ("SELECT 1 FROM DUAL; -- x\n DROP TABLE t", "more than one statement"),
        ("SELECT 1 FROM DUAL /* ; */; UPDATE t SET a = 1", "more than one statement"),
        ("SELECT 1 FROM DUAL --\n; DELETE FROM t", "more than one statement"),
        ("SELECT 'a'';' FROM DUAL; TRUNCATE TABLE t", "more than one statement"),
        ("SELECT 'x\\'; DELETE FROM t; --' FROM DUAL", "more than one statement"),
        ("SELECT 'x\\''; DELETE FROM t; --' AS a FROM DUAL", "backslash before a quote"),
        ("/* /* */ SELECT 1 AS x, '*/ DELETE FROM t --' AS y FROM DUAL", "nested comments"),
        ("SELECT $$; DELETE FROM t; $$ AS x FROM DUAL", "dollar-quoted"),
        ("SELECT $tag$; DELETE FROM t; $tag$ AS x FROM DUAL", "dollar-quoted"),
        ("SELECT q'[ ' ; DELETE FROM t; -- ]' AS x FROM DUAL", "more than one statement"),
        ("SELECT x FROM t WHERE y = ?", "bind parameter"),
        ("SELECT x FROM t WHERE y = $1", "bind parameter"),
        ("DELETE FROM t", "is a DELETE statement"),
        ("delete from t where 1 = 1", "is a DELETE statement"),
        ("UPDATE t SET a = 1", "is an UPDATE statement"),
        ("INSERT INTO t VALUES (1)", "is an INSERT statement"),
        ("DROP TABLE t", "is a DROP statement"),
        ("TRUNCATE TABLE t", "is a TRUNCATE statement"),
        (
            "MERGE INTO t USING u ON (t.a = u.a) WHEN MATCHED THEN UPDATE SET t.b = u.b",
            "is a MERGE statement",
        ),
        ("CALL SP_SET_PARA_VALUE(1, 'X', 1)", "is a CALL statement"),
        ("EXEC SP_SET_PARA_VALUE(1, 'X', 1)", "is an EXEC statement"),
        ("EXECUTE IMMEDIATE 'DROP TABLE t'", "is an EXECUTE statement"),
        ("GRANT DBA TO u", "is a GRANT statement"),
        ("CREATE TABLE t (a INT)", "is a CREATE statement"),
        ("ALTER SYSTEM SWITCH LOGFILE", "is an ALTER statement"),
        ("BEGIN DELETE FROM t; END;", "more than one statement"),
        ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "contains a DELETE statement"),
        (
            "WITH d AS (INSERT INTO t VALUES (1) RETURNING a) SELECT a FROM d",
            "contains an INSERT statement",
        ),
        (
            "WITH d AS (UPDATE t SET a = 1 RETURNING a) SELECT a FROM d",
            "contains an UPDATE statement",
        ),
        ("SELECT a INTO b FROM t", "INTO"),
        ("SELECT a FROM t FOR UPDATE", "FOR UPDATE"),
        ("SELECT a FROM t FOR UPDATE NOWAIT", "FOR UPDATE"),
        ("SELECT a FROM t FOR SHARE", "FOR SHARE"),
        ("SELECT * FROM (SELECT a FROM t FOR UPDATE) s", "FOR UPDATE"),
        ("", "empty"),
        ("  -- just a comment\n", "empty"),
        (";", "starts with `;`"),
        ("SELECT 'unterminated FROM DUAL", "cannot be read"),
        ("SELECT FROM WHERE", "cannot read the request"),
        ("SELECT 1\0 FROM DUAL", "NUL"),
        ("SELECT E'\\'; DELETE FROM t; --' AS x", "more than one statement"),
        ("SELECT 1 AS x FROM DUAL -- c\r; DELETE FROM t", "carriage return"),
        ("SELECT 1 AS x FROM DUAL -- c\u{2028}; DELETE FROM t", "carriage return"),
        ("SELECT 1 AS x FROM DUAL -- c\u{c}; DELETE FROM t", "carriage return"),
        ("SELECT \"a\\\"; DELETE FROM t; --\" FROM DUAL", "more than one statement"),
        ("WITH x AS (SELECT 1 AS a FROM DUAL) DELETE FROM t", "contains a DELETE statement"),
        ("WITH x AS (SELECT 1 AS a FROM DUAL) INSERT INTO t SELECT a FROM x", "contains an INSERT"),
        ("WITH x AS (SELECT 1 AS a FROM DUAL) UPDATE t SET a = 1", "contains an UPDATE"),
        ("SELECT * FROM (DELETE FROM t RETURNING *) s", "contains a DELETE statement"),
        ("SELECT (WITH d AS (DELETE FROM t RETURNING 1) SELECT 1) FROM DUAL", "contains a DELETE"),
        ("(DELETE FROM t)", "contains a DELETE statement"),
        ("SELECT [a;DELETE FROM t;--] FROM DUAL", "more than one statement"),
        ("SELECT `a;b` FROM DUAL", "more than one statement"),
        ("SELECT 1 FROM DUAL；DELETE FROM t", "cannot read"),
        ("SELECT 1 FROM DUAL\n/", "cannot read"),
        ("TABLE t", "is a TABLE statement"),
        ("VALUES (1)", "is a VALUES statement"),
        ("SELECT x FROM t FOR NO KEY UPDATE", "cannot read"),
    ];
    for (sql, want) in cases {
        let e = err(sql);
        assert!(e.message.contains(want), "{sql:?}: {:?} does not say {want:?}", e.message);
    }
}

#[test]
fn positions_point_into_the_request() {
    let e = err("SELECT 1\nFROM DUAL;\nDELETE FROM t");
    assert_eq!((e.line, e.column), (Some(2), Some(10)));
    let e = err("SELECT a,\n  FROM t");
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("CREATE VIEW"), "{}", e.message);
}

#[test]
fn known_functions_only() {
    for q in [
        "SELECT COUNT(*) AS n FROM V$SESSIONS GROUP BY STATE",
        "SELECT STATE AS state, COUNT(*) AS sessions FROM V$SESSIONS GROUP BY STATE",
        "SELECT upper(name), coalesce(x,0) FROM t",
        "SELECT CAST(ID AS VARCHAR(10)) AS pool_id, NAME AS pool FROM V$BUFFERPOOL",
        "SELECT STATUS$, MODE$ FROM V$INSTANCE",
        "SELECT 1 AS x FROM DUAL;",
        "SELECT CASE WHEN current_setting('transaction_read_only') = 'on' THEN 1 ELSE 0 END AS f",
        "SELECT EXTRACT(EPOCH FROM now() - pg_postmaster_start_time()) AS up",
        "SELECT pg_catalog.count(*) AS n FROM t",
        "SELECT \"count\"(*) AS n FROM t",
        "SELECT Sum(a), MAX(b), avg(c), stddev(d) FROM t HAVING MIN(a) > 0",
        "SELECT TRIM(name), SUBSTRING(name FROM 1 FOR 3), ROUND(x, 2) FROM t",
        "SELECT to_char(CURRENT_TIMESTAMP, 'YYYY') AS y",
        "SELECT row_number() OVER (PARTITION BY a ORDER BY b) AS r FROM t",
        "SELECT (SELECT COUNT(*) FROM V$TRXWAIT) AS waits FROM DUAL",
        "WITH x AS (SELECT lower(a) AS a FROM t) SELECT COUNT(a) FROM x",
        "SELECT g FROM generate_series(1, 3) AS g",
        "SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE length(u.b) > 2)",
        "SELECT x FROM t UNION ALL SELECT greatest(y, 0) FROM u",
        "SELECT x FROM t WHERE d > DATE '2026-01-01'",
    ] {
        assert!(calls_only_known_functions(q), "{q}");
    }
    for q in [
        "SELECT nextval('s')",
        "SELECT set_config('a','b',false)",
        "SELECT my_func(1)",
        "SELECT CASE WHEN set_config('default_transaction_read_only', 'off', false) = 'off' THEN 1 ELSE 0 END AS done",
        // nested anywhere
        "SELECT upper(my_func(x)) FROM t",
        "SELECT CASE WHEN x = 1 THEN my_func(x) ELSE 0 END AS v FROM t",
        "SELECT CASE my_func(x) WHEN 1 THEN 1 END AS v FROM t",
        "SELECT (SELECT COUNT(*) FROM u WHERE set_config('a','b',false) = 'b') AS v FROM t",
        "SELECT * FROM (SELECT nextval('s') AS v) s",
        "WITH a AS (SELECT f() AS v) SELECT COUNT(v) FROM a",
        "SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE f(u.b) > 2)",
        "SELECT a FROM t WHERE a IN (SELECT f(b) FROM u)",
        "SELECT a FROM t JOIN u ON f(t.a) = u.a",
        "SELECT a FROM t ORDER BY f(a)",
        "SELECT a, COUNT(*) FROM t GROUP BY a HAVING f(a) > 0",
        "SELECT x FROM t UNION ALL SELECT f(y) FROM u",
        "SELECT COUNT(*) FILTER (WHERE f(a) > 0) AS n FROM t",
        "SELECT CAST(f(a) AS INTEGER) AS n FROM t",
        // qualified, quoted or DM-only names
        "SELECT public.count(x) FROM t",
        "SELECT SYS.COUNT(x) FROM t",
        "SELECT a.b.count(x) FROM t",
        "SELECT \"COUNT\"(*) AS n FROM t",
        "SELECT NVL(a, 0) FROM t",
        "SELECT DATEDIFF(SQL_TSI_DAY, START_TIME, SYSDATE) FROM V$INSTANCE",
        "SELECT NAME, TO_CHAR(TOTAL_SIZE*PAGE()/1024/1024) AS mb FROM SYS.V$TABLESPACE",
        // table functions, user types
        "SELECT 1 AS x FROM pg_sleep(4)",
        "SELECT * FROM my_srf(1)",
        "SELECT CAST(a AS my_type) FROM t",
        // refused or unparseable
        "SELECT FROM WHERE",
        "",
        "DELETE FROM t",
        "SELECT 1 FROM DUAL; SELECT set_config('a','b',false)",
        "SELECT $$x$$ AS x",
        "/* /* */ SELECT 1 AS x, '*/ SELECT set_config(''a'',''b'',false) --' AS y FROM DUAL",
        "SELECT 'unterminated",
    ] {
        assert!(!calls_only_known_functions(q), "{q}");
    }
}

#[test]
fn deep_nesting_is_refused_without_overflow() {
    let deep = format!("SELECT {}1{} FROM DUAL", "(".repeat(5000), ")".repeat(5000));
    assert!(err(&deep).message.contains("nests deeper"));
}

/// The full refusal of `sql`: message and position.
fn refusal(sql: &str) -> String {
    err(sql).to_string()
}

const ONLY_READ: &str =
    "; custom metrics and plugins only read, so the request is refused (remove the call)";

#[test]
fn functions_with_lasting_effects_are_refused_with_the_reason() {
    let lo = "large-object functions create, change, export or read large objects, and \
              PostgreSQL lets them change data even in a read-only transaction";
    let lock = "an advisory lock can outlive the query (a session lock stays with the pooled \
                connection), and PostgreSQL allows it in a read-only transaction";
    let notify = "it sends a notification to other sessions, which PostgreSQL allows in a \
                  read-only transaction";
    let xid = "it assigns a transaction ID (consumed for good, towards wraparound), which \
               PostgreSQL allows in a read-only transaction";
    let seq = "it changes a sequence, and a sequence change is never rolled back";
    let dblink = "it runs SQL over another connection, outside this connection's read-only mode";
    let admin = "it changes server state beyond the query (other sessions, statistics, WAL, \
                 replication, configuration or server files)";
    let ro = "it switches the session out of read-only mode (transaction_read_only, \
              default_transaction_read_only)";
    let unseen = "the setting it changes is not a string literal, so it may be \
                  transaction_read_only or default_transaction_read_only (which switch the \
                  session out of read-only mode); name the setting as a literal";
    let cases: &[(&str, &str, &str, usize)] = &[
        ("SELECT lo_create(0) AS o", "lo_create", lo, 8),
        ("SELECT lo_import('/etc/passwd') AS o", "lo_import", lo, 8),
        ("SELECT lo_unlink(16400) AS o", "lo_unlink", lo, 8),
        ("SELECT lo_from_bytea(0, 'x') AS o", "lo_from_bytea", lo, 8),
        ("SELECT lowrite(0, 'x') AS o", "lowrite", lo, 8),
        ("SELECT pg_advisory_lock(4242) AS l", "pg_advisory_lock", lock, 8),
        ("SELECT pg_advisory_lock_shared(1) AS l", "pg_advisory_lock_shared", lock, 8),
        ("SELECT pg_advisory_xact_lock(1) AS l", "pg_advisory_xact_lock", lock, 8),
        ("SELECT pg_try_advisory_lock(1, 2) AS l", "pg_try_advisory_lock", lock, 8),
        ("SELECT pg_advisory_unlock_all() AS l", "pg_advisory_unlock_all", lock, 8),
        ("SELECT pg_notify('ch', 'x') AS n", "pg_notify", notify, 8),
        ("SELECT txid_current() AS x", "txid_current", xid, 8),
        ("SELECT pg_current_xact_id() AS x", "pg_current_xact_id", xid, 8),
        ("SELECT nextval('s') AS v", "nextval", seq, 8),
        ("SELECT setval('s', 1) AS v", "setval", seq, 8),
        ("SELECT dblink_exec('host=x', 'DELETE FROM t') AS r", "dblink_exec", dblink, 8),
        ("SELECT dblink_connect_u('c', 'x') AS r", "dblink_connect_u", dblink, 8),
        ("SELECT * FROM dblink('host=x', 'SELECT 1') AS t(a INT)", "dblink", dblink, 15),
        ("SELECT pg_terminate_backend(1) AS k", "pg_terminate_backend", admin, 8),
        ("SELECT pg_cancel_backend(1) AS k", "pg_cancel_backend", admin, 8),
        ("SELECT pg_stat_reset() AS r", "pg_stat_reset", admin, 8),
        ("SELECT pg_stat_reset_shared('bgwriter') AS r", "pg_stat_reset_shared", admin, 8),
        ("SELECT pg_stat_statements_reset() AS r", "pg_stat_statements_reset", admin, 8),
        ("SELECT pg_reload_conf() AS r", "pg_reload_conf", admin, 8),
        ("SELECT pg_switch_wal() AS r", "pg_switch_wal", admin, 8),
        ("SELECT pg_drop_replication_slot('s') AS r", "pg_drop_replication_slot", admin, 8),
        ("SELECT pg_replication_origin_create('o') AS r", "pg_replication_origin_create", admin, 8),
        ("SELECT pg_file_write('f', 'x', false) AS r", "pg_file_write", admin, 8),
        (
            "SELECT set_config('default_transaction_read_only', 'off', false) AS s",
            "set_config",
            ro,
            8,
        ),
        ("SELECT set_config('transaction_read_only', 'off', true) AS s", "set_config", ro, 8),
        (
            "SELECT set_config(' DEFAULT_Transaction_Read_Only ', 'off', false) AS s",
            "set_config",
            ro,
            8,
        ),
        ("SELECT set_config(name, 'off', false) AS s FROM t", "set_config", unseen, 8),
        (
            "SELECT set_config('default_' || 'transaction_read_only', 'off', false) AS s",
            "set_config",
            unseen,
            8,
        ),
        ("SELECT set_config() AS s", "set_config", unseen, 8),
    ];
    for (sql, name, reason, column) in cases {
        assert_eq!(
            refusal(sql),
            format!("calls {name}: {reason}{ONLY_READ} (line 1, column {column})"),
            "{sql}"
        );
    }
}

#[test]
fn refused_functions_are_found_anywhere_and_however_written() {
    let lo = |line: usize, column: usize| {
        format!(
            "calls lo_create: large-object functions create, change, export or read large \
             objects, and PostgreSQL lets them change data even in a read-only \
             transaction{ONLY_READ} (line {line}, column {column})"
        )
    };
    for (sql, line, column) in [
        ("SELECT LO_CREATE(0) AS o FROM DUAL", 1, 8),
        ("SELECT pg_catalog.lo_create(0) AS o", 1, 19),
        ("SELECT \"lo_create\"(0) AS o", 1, 8),
        ("SELECT public.\"LO_CREATE\"(0) AS o", 1, 15),
        ("SELECT COUNT(*) AS n FROM t WHERE lo_create(0) > 0", 1, 35),
        ("SELECT (SELECT lo_create(0)) AS o FROM DUAL", 1, 16),
        ("SELECT a FROM t WHERE a IN (SELECT lo_create(0) FROM u)", 1, 36),
        ("SELECT * FROM lo_create(0)", 1, 15),
        ("SELECT * FROM pg_catalog.lo_create(0) AS x", 1, 26),
        ("WITH c AS (SELECT lo_create(0) AS o) SELECT o FROM c", 1, 19),
        ("SELECT 1 AS x FROM DUAL UNION ALL SELECT lo_create(0) FROM DUAL", 1, 42),
        ("SELECT upper(CAST(lo_create(0) AS VARCHAR(10))) AS o", 1, 19),
        ("SELECT CASE WHEN x = 1 THEN lo_create(0) ELSE 0 END AS v FROM t", 1, 29),
        ("SELECT a FROM t ORDER BY lo_create(0)", 1, 26),
        ("SELECT a FROM t JOIN u ON lo_create(0) = u.a", 1, 27),
        ("SELECT 1 AS x\nFROM DUAL\nWHERE lo_create(0) > 0;", 3, 7),
    ] {
        assert_eq!(refusal(sql), lo(line, column), "{sql}");
    }
}

#[test]
fn look_alikes_and_other_settings_are_not_refused() {
    for q in [
        // reads of the same families
        "SELECT currval('s') AS v",
        "SELECT lastval() AS v",
        "SELECT txid_current_if_assigned() AS x",
        "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory'",
        "SELECT COUNT(*) AS n FROM pg_largeobject_metadata",
        "SELECT current_setting('default_transaction_read_only') AS s",
        // set_config of another setting named by a literal (re-asserted by the pool)
        "SELECT set_config('search_path', 'public', false) AS s",
        "SELECT set_config('application_name', 'x', true) AS s",
        // columns and names that only contain a refused name
        "SELECT nextval, lo_create FROM t",
        "SELECT LOWER(a), LOCATE('x', a), LOG(2, 8) FROM t",
        "SELECT a FROM lo_things",
        // DM built-ins
        "SELECT SF_GET_SESSION_SQL(SESS_ID) FROM V$SESSIONS",
        "SELECT DBMS_LOB.GETLENGTH(c) AS n FROM t",
    ] {
        ok(q);
    }
}

/// The plugin host's former first-keyword rule (core/src/plugin/adapter.rs), now this
/// crate's: what it accepted is accepted, what it refused is refused.
#[test]
fn plugin_queries_follow_the_same_rule() {
    for q in [
        "SELECT 1",
        "  select * from t;",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "-- comment\nSELECT 1",
        "/* hint */ SELECT 1",
        "(SELECT 1) UNION (SELECT 2)",
        "SELECT /*+DM_EXPORTER*/ COUNT(*) FROM V$SESSIONS",
    ] {
        ok(q);
    }
    for (q, want) in [
        ("DELETE FROM t", "the request is a DELETE statement; only a SELECT or WITH query"),
        ("update t set a = 1", "the request is an UPDATE statement"),
        ("SELECT 1; DROP TABLE t", "more than one statement"),
        ("-- SELECT\nDROP TABLE t", "the request is a DROP statement"),
        ("/* SELECT */ INSERT INTO t VALUES (1)", "the request is an INSERT statement"),
        ("", "empty"),
        ("SELECTX 1", "the request is a SELECTX statement"),
    ] {
        let e = err(q);
        assert!(e.message.starts_with(want) || e.message.contains(want), "{q:?}: {e}");
    }
}
