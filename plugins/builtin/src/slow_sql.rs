//! Statements running longer than `slowSqlTime` in ACTIVE sessions of V$SESSIONS
//! (`dmdbms_slow_sql_info`, value = elapsed milliseconds), only when the datasource's
//! `checkSlowSQL` is on.
//!
//! Differences from upstream: the datasource's own `checkSlowSQL` / `slowSqlTime` /
//! `slowSqlMaxRows` apply (upstream used the first datasource's); the elapsed time is
//! computed in Rust from `LAST_RECV_TIME` and the server's local "now" (`SYSDATE` on DM, read in the
//! same query) instead of DM's `DATEDIFF(MS, …, SYSDATE)`; `conn_ip` is `CLNT_IP` with an
//! `::ffff:` prefix removed instead of `SUBSTR(CLNT_IP, 8, 13)`, which cut addresses longer
//! than 13 characters. The SQL text is the full statement, as upstream: on DM
//! `SF_GET_SESSION_SQL(SESS_ID)` (V$SESSIONS.SQL_TEXT keeps only the first 1000 characters,
//! docs/DM8_EVIDENCE.md F10), elsewhere V$SESSIONS.SQL_TEXT (`dmexp_core::dialect`).

use std::cmp::Ordering;

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CollectContext, CollectError, Collector, CollectorDescriptor, Family, MetricDef,
    MetricSpec, Sample,
};
use dmexp_core::dbtime::{self, DbClock};
use dmexp_core::query::{cell, Rows};

use crate::timefmt::wall_text;

/// ACTIVE sessions, oldest first. Placeholder receive times (DM shows 1900-01-01 for none) are
/// dropped in Rust ([`map_rows`]), not by a `LAST_RECV_TIME > '2000-01-01 …'` filter: that
/// literal relied on an implicit string→DATETIME conversion that depends on the session's NLS
/// format (docs/DM8_EVIDENCE.md F8).
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ SESS_ID, CURR_SCH, THRD_ID, LAST_RECV_TIME, \
    CLNT_IP, {SESSION_SQL}, {NOW} FROM V$SESSIONS \
    WHERE STATE = 'ACTIVE' ORDER BY LAST_RECV_TIME, SESS_ID";

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #19).
pub const METRICS: &[MetricDef] =
    &[MetricDef::gauge("dmdbms_slow_sql_info", "Information about slow SQL statements")
        .with_labels(&["sess_id", "curr_sch", "thrd_id", "last_recv_time", "conn_ip", "slow_sql"])];

/// Receive times at or before this are placeholders, never statements.
const EPOCH_FLOOR: &str = "2000-01-01 00:00:00";

/// The client address without an IPv4-mapped `::ffff:` prefix; NULL → `""`.
pub fn conn_ip(clnt_ip: Option<&str>) -> String {
    let ip = clnt_ip.map(str::trim).unwrap_or_default();
    match ip.get(..7) {
        Some(p) if p.eq_ignore_ascii_case("::ffff:") => ip[7..].to_owned(),
        _ => ip.to_owned(),
    }
}

/// Maps the result of [`SQL`] to samples: statements running at least `min_ms`, longest
/// first (ties by session id), at most `max_rows`.
pub fn map_rows(rows: &Rows, min_ms: f64, max_rows: usize) -> Vec<Sample> {
    let floor = dbtime::parse(EPOCH_FLOOR);
    let mut found: Vec<(f64, Vec<String>)> = Vec::new();
    for row in &rows.rows {
        let Some(clock) = cell(row, 6).and_then(DbClock::from_server_now) else {
            continue;
        };
        let Some(recv_cell) = cell(row, 3) else { continue };
        let (Some(stored), Some(recv), Some(recv_text)) =
            (dbtime::parse(recv_cell), clock.instant(recv_cell), wall_text(recv_cell))
        else {
            continue;
        };
        if floor.is_some_and(|f| stored.wall <= f.wall) {
            continue;
        }
        let elapsed = (clock.now - recv).as_seconds_f64() * 1000.0;
        let elapsed = elapsed.round();
        if elapsed < min_ms {
            continue;
        }
        let text = |i: usize| cell(row, i).map(str::trim).unwrap_or_default().to_owned();
        let Some(sess) = cell(row, 0).map(str::trim).filter(|s| !s.is_empty()) else { continue };
        found.push((
            elapsed,
            vec![sess.to_owned(), text(1), text(2), recv_text, conn_ip(cell(row, 4)), text(5)],
        ));
    }
    found.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(Ordering::Equal).then(a.1.cmp(&b.1)));
    found.truncate(max_rows);
    found.into_iter().map(|(v, labels)| Sample::with_labels(0, labels, v)).collect()
}

/// The collector.
#[derive(Debug, Default)]
pub struct SlowSqlCollector;

impl Collector for SlowSqlCollector {
    fn metrics(&self) -> Vec<MetricSpec> {
        METRICS.iter().map(MetricSpec::from).collect()
    }
    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        let ds = ctx.datasource();
        if !ds.check_slow_sql {
            return Ok(());
        }
        let min_ms = ds.slow_sql_time.as_secs_f64() * 1000.0;
        let max_rows = usize::try_from(ds.slow_sql_max_rows).unwrap_or(usize::MAX);
        let rows = ctx.query_template(SQL)?;
        out.extend(map_rows(&rows, min_ms, max_rows));
        Ok(())
    }
}

fn build(_: &DatasourceConfig) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(SlowSqlCollector))
}

inventory::submit! {
    CollectorDescriptor::new("slow_sql", "V$SESSIONS", Family::Database, METRICS, build)
        .queries(&[SQL])
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-24 10:00:00.000000 +08:00";

    fn row(cells: [Option<&str>; 7]) -> Vec<Option<String>> {
        cells.iter().map(|c| c.map(str::to_owned)).collect()
    }

    fn rows(r: Vec<Vec<Option<String>>>) -> Rows {
        Rows { rows: r, ..Rows::default() }
    }

    fn labels(l: [&str; 6]) -> Vec<String> {
        l.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn ip_prefix_only_is_removed() {
        assert_eq!(conn_ip(Some("::ffff:192.168.100.100")), "192.168.100.100");
        assert_eq!(conn_ip(Some("::FFFF:10.0.0.1")), "10.0.0.1");
        assert_eq!(conn_ip(Some("10.1.2.3")), "10.1.2.3");
        assert_eq!(conn_ip(Some("fe80::1")), "fe80::1");
        assert_eq!(conn_ip(Some("::1")), "::1");
        assert_eq!(conn_ip(None), "");
    }

    #[test]
    fn longest_first_threshold_and_cap() {
        let r = rows(vec![
            row([
                Some("1"),
                Some("APP"),
                Some("4021"),
                Some("2026-11-24 09:58:00"),
                Some("::ffff:192.168.10.21"),
                Some("INSERT"),
                Some(NOW),
            ]),
            row([
                Some("2"),
                Some("REPORT"),
                Some("4077"),
                Some("2026-11-24 09:59:50.5"),
                Some("::ffff:192.168.100.100"),
                Some("SELECT \"x\"\n1"),
                Some(NOW),
            ]),
            // 5 s: below a 10 s threshold.
            row([Some("3"), None, Some("1"), Some("2026-11-24 09:59:55"), None, None, Some(NOW)]),
        ]);
        let a = labels(["1", "APP", "4021", "2026-11-24 09:58:00", "192.168.10.21", "INSERT"]);
        let b = labels([
            "2",
            "REPORT",
            "4077",
            "2026-11-24 09:59:50",
            "192.168.100.100",
            "SELECT \"x\"\n1",
        ]);
        assert_eq!(map_rows(&r, 10_000.0, 10), vec![Sample::with_labels(0, a.clone(), 120_000.0)]);
        assert_eq!(
            map_rows(&r, 9_000.0, 10),
            vec![Sample::with_labels(0, a.clone(), 120_000.0), Sample::with_labels(0, b, 9_500.0)]
        );
        assert_eq!(map_rows(&r, 9_000.0, 1), vec![Sample::with_labels(0, a, 120_000.0)]);
        assert_eq!(map_rows(&r, 0.0, 10).len(), 3);
        assert!(map_rows(&r, 0.0, 0).is_empty());
    }

    #[test]
    fn placeholders_nulls_and_garbage_are_skipped() {
        let r = rows(vec![
            row([Some("1"), None, None, Some("1900-01-01 00:00:00"), None, None, Some(NOW)]),
            row([Some("2"), None, None, Some("2000-01-01 00:00:00"), None, None, Some(NOW)]),
            row([Some("3"), None, None, None, None, None, Some(NOW)]),
            row([Some("4"), None, None, Some("yesterday"), None, None, Some(NOW)]),
            row([Some("5"), None, None, Some("2026-11-24 09:00:00"), None, None, None]),
            row([None, None, None, Some("2026-11-24 09:00:00"), None, None, Some(NOW)]),
            row([Some("7"), None, None, Some("2026-11-24 09:00:00"), None, None, Some(NOW)]),
        ]);
        assert_eq!(
            map_rows(&r, 10_000.0, 10),
            vec![Sample::with_labels(
                0,
                labels(["7", "", "", "2026-11-24 09:00:00", "", ""]),
                3_600_000.0
            )]
        );
    }
}
