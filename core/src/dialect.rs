//! The per-engine SQL differences of the built-in statements, in one place (docs/DESIGN.md §7,
//! docs/DM8_EVIDENCE.md F3, F8).
//!
//! Built-in statements are portable SQL *templates*: they may contain the tokens below, which
//! [`expand`] replaces with the engine's expression. Everything else in a template runs
//! unmodified on DM8 and both fixtures.
//!
//! | Token | DM8 (and an unrecognised DBMS) | PostgreSQL fixture | SQLite fixture |
//! |---|---|---|---|
//! | [`NOW`] | `SYSDATE` | `(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')` | `CURRENT_TIMESTAMP` |
//! | [`SESSION_SQL`] | `SF_GET_SESSION_SQL(SESS_ID)` (DM only) | `SQL_TEXT` | `SQL_TEXT` |
//!
//! **"Now" is the server's clock in the server's zone.** DM records the times of its views in
//! the server's local time (V$SESSIONS: "本视图中时间相关的字段均按服务器端进行记录", E5), while
//! `CURRENT_TIMESTAMP` carries the *session's* zone, which the client sets (`dm_svc.conf
//! TIME_ZONE`, E19). `SYSDATE` is the server's local wall time, the same zone as the stored
//! times, whatever the session's zone; upstream used it too (E1). The fixtures emulate a
//! server whose zone is UTC: their stored view times are UTC wall-clock text, SQLite's
//! `CURRENT_TIMESTAMP` is UTC, and on PostgreSQL `CURRENT_TIMESTAMP AT TIME ZONE 'UTC'` is
//! the UTC wall time whatever the session's `TimeZone` is (`LOCALTIMESTAMP` would follow the
//! session, like DM's `CURRENT_TIMESTAMP`). [`crate::dbtime::DbClock::from_server_now`]
//! reads the result.
//!
//! Literals: a date/time value that the exporter computes is written with
//! [`timestamp_literal`] (an SQL-standard typed literal, `TIMESTAMP '2026-10-24 17:00:00'`),
//! never as a plain string that the server converts with the session's NLS format (F8).

use time::PrimitiveDateTime;

use crate::pool::Engine;

/// Token for the server's "now": its local wall time, in the zone view times are recorded in.
pub const NOW: &str = "{NOW}";

/// Token for the full SQL text of a V$SESSIONS row (`SESS_ID` must be in scope).
pub const SESSION_SQL: &str = "{SESSION_SQL}";

/// The engine's expression for the server's local "now" (see the module docs).
pub fn now_sql(engine: Engine) -> &'static str {
    match engine {
        // An unrecognised DBMS name is treated as DM, the production engine.
        Engine::Dm | Engine::Other => "SYSDATE",
        Engine::PostgreSql => "(CURRENT_TIMESTAMP AT TIME ZONE 'UTC')",
        Engine::Sqlite => "CURRENT_TIMESTAMP",
    }
}

/// The engine's expression for the full SQL text of a V$SESSIONS row: DM's
/// `SF_GET_SESSION_SQL(SESS_ID)` (V$SESSIONS.SQL_TEXT holds only the first 1000 characters,
/// E5; upstream and Dameng's own tools use the function, E1, E6); `SQL_TEXT` elsewhere,
/// including an unrecognised DBMS, which may not have the DM-only function.
pub fn session_sql(engine: Engine) -> &'static str {
    match engine {
        Engine::Dm => "SF_GET_SESSION_SQL(SESS_ID)",
        Engine::PostgreSql | Engine::Sqlite | Engine::Other => "SQL_TEXT",
    }
}

/// A timestamp literal whose text does not depend on the session's NLS format: the SQL
/// standard's `TIMESTAMP 'YYYY-MM-DD HH:MM:SS'` (DM 日期时间型常量, PostgreSQL); SQLite stores
/// timestamps as text, so there it is the plain string, compared as text.
pub fn timestamp_literal(engine: Engine, wall: PrimitiveDateTime) -> String {
    let text = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        wall.year(),
        wall.month() as u8,
        wall.day(),
        wall.hour(),
        wall.minute(),
        wall.second()
    );
    match engine {
        Engine::Sqlite => format!("'{text}'"),
        Engine::Dm | Engine::PostgreSql | Engine::Other => format!("TIMESTAMP '{text}'"),
    }
}

/// `template` with every token of the module docs replaced by `engine`'s expression.
pub fn expand(template: &str, engine: Engine) -> String {
    template.replace(NOW, now_sql(engine)).replace(SESSION_SQL, session_sql(engine))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn one_expression_per_engine() {
        let t = "SELECT /*+DM_EXPORTER*/ START_TIME, {NOW} FROM V$INSTANCE";
        assert_eq!(
            expand(t, Engine::Dm),
            "SELECT /*+DM_EXPORTER*/ START_TIME, SYSDATE FROM V$INSTANCE"
        );
        assert_eq!(expand(t, Engine::Other), expand(t, Engine::Dm));
        assert_eq!(
            expand(t, Engine::PostgreSql),
            "SELECT /*+DM_EXPORTER*/ START_TIME, (CURRENT_TIMESTAMP AT TIME ZONE 'UTC') FROM V$INSTANCE"
        );
        assert_eq!(
            expand(t, Engine::Sqlite),
            "SELECT /*+DM_EXPORTER*/ START_TIME, CURRENT_TIMESTAMP FROM V$INSTANCE"
        );
        let s = "SELECT {SESSION_SQL}, {NOW} FROM V$SESSIONS";
        assert_eq!(
            expand(s, Engine::Dm),
            "SELECT SF_GET_SESSION_SQL(SESS_ID), SYSDATE FROM V$SESSIONS"
        );
        assert_eq!(expand(s, Engine::Other), "SELECT SQL_TEXT, SYSDATE FROM V$SESSIONS");
        assert_eq!(expand(s, Engine::Sqlite), "SELECT SQL_TEXT, CURRENT_TIMESTAMP FROM V$SESSIONS");
        assert_eq!(expand("SELECT 1 FROM DUAL", Engine::Dm), "SELECT 1 FROM DUAL");
    }

    #[test]
    fn literals_are_typed_except_on_sqlite() {
        let w = datetime!(2026-10-24 07:05:09);
        assert_eq!(timestamp_literal(Engine::Dm, w), "TIMESTAMP '2026-10-24 07:05:09'");
        assert_eq!(timestamp_literal(Engine::PostgreSql, w), "TIMESTAMP '2026-10-24 07:05:09'");
        assert_eq!(timestamp_literal(Engine::Sqlite, w), "'2026-10-24 07:05:09'");
    }
}
