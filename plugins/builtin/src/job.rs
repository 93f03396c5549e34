//! Failed job runs of the DM job system (schema SYSJOB): `dmdbms_joblog_error_num` counts the
//! rows of SYSJOB.SYSJOBHISTORIES2 and SYSJOB.SYSSTEPHISTORIES2 with a non-zero ERRCODE in the
//! last 31 days, for jobs that have a step of TYPE 6 and a VALID = 'Y' schedule (as upstream).
//!
//! "Last 31 days" ends at the server's local "now" (first query: `SYSDATE` on DM,
//! `dmexp_core::dialect`), is computed in Rust and compared as a typed `TIMESTAMP '…'`
//! literal, whose text does not depend on the session's NLS date format
//! (docs/DM8_EVIDENCE.md F8), instead of upstream's `SYSDATE-31`, which has no portable
//! form. The SYSJOB
//! schema exists only after `SP_INIT_JOB_SYS(1)`; without it the collector emits nothing and
//! the runtime logs that once (upstream: a WARN on every scrape).

use std::time::Duration;

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CollectContext, CollectError, Collector, CollectorDescriptor, Family, MetricDef,
    MetricSpec, Sample,
};
use dmexp_core::dbtime::DbClock;
use dmexp_core::dialect;
use dmexp_core::pool::Engine;
use dmexp_core::query::{cell, cell_f64, QueryError, Rows};

/// The server's clock (a [`dialect`] template).
pub const NOW_SQL: &str = "SELECT /*+DM_EXPORTER*/ {NOW} FROM DUAL";

/// The token in [`ERRORS_SQL`] that is replaced by the bound (now − 31 days) as a
/// [`dialect::timestamp_literal`].
const SINCE: &str = "{SINCE}";

/// Failed runs since the bound ([`SINCE`] is replaced at run time).
pub const ERRORS_SQL: &str = "SELECT /*+DM_EXPORTER*/ COUNT(*) FROM (\
    SELECT H.NAME FROM SYSJOB.SYSJOBHISTORIES2 H \
    WHERE H.ERRCODE <> 0 AND H.START_TIME >= {SINCE} AND H.NAME IN (\
    SELECT J.NAME FROM SYSJOB.SYSJOBSCHEDULES S \
    JOIN SYSJOB.SYSJOBSTEPS T ON T.JOBID = S.JOBID \
    JOIN SYSJOB.SYSJOBS J ON J.ID = S.JOBID \
    WHERE T.\"TYPE\" = 6 AND S.VALID = 'Y') \
    UNION ALL \
    SELECT H.NAME FROM SYSJOB.SYSSTEPHISTORIES2 H \
    WHERE H.ERRCODE <> 0 AND H.START_TIME >= {SINCE} AND H.NAME IN (\
    SELECT J.NAME FROM SYSJOB.SYSJOBSCHEDULES S \
    JOIN SYSJOB.SYSJOBSTEPS T ON T.JOBID = S.JOBID \
    JOIN SYSJOB.SYSJOBS J ON J.ID = S.JOBID \
    WHERE T.\"TYPE\" = 6 AND S.VALID = 'Y')) X";

/// How far back failures count.
pub const WINDOW: Duration = Duration::from_secs(31 * 86_400);

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #18).
pub const METRICS: &[MetricDef] =
    &[MetricDef::gauge("dmdbms_joblog_error_num", "dmdbms_joblog_error_num info information")];

/// [`ERRORS_SQL`] for `engine` with the bound of the window ending at the server's "now"
/// (the result of [`NOW_SQL`]), or `None` when that did not come back as a timestamp.
pub fn errors_sql(now_rows: &Rows, engine: Engine) -> Option<String> {
    let clock = now_rows.first().and_then(|r| cell(r, 0)).and_then(DbClock::from_server_now)?;
    let since = dialect::timestamp_literal(engine, clock.wall_before(WINDOW));
    Some(dialect::expand(ERRORS_SQL, engine).replace(SINCE, &since))
}

/// Maps the count to a sample (NULL or garbage: none).
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    rows.first().and_then(|r| cell_f64(r, 0)).map(|v| Sample::new(0, v)).into_iter().collect()
}

/// DM reports a missing SYSJOB schema as an invalid schema name, which the runtime's
/// missing-object test may not know: rewrap it as SQLSTATE 3F000 (invalid schema name) so
/// the collector is "not applicable" (nothing emitted, logged once) rather than failing.
fn missing_schema_as_missing_object(e: QueryError) -> QueryError {
    if e.is_missing_object() {
        return e;
    }
    match e {
        QueryError::Driver { message, native, connection_lost, .. }
            if !connection_lost
                && message.to_uppercase().contains("SYSJOB")
                && (message.contains("无效的模式名")
                    || message.to_lowercase().contains("invalid schema")) =>
        {
            QueryError::Driver { message, sqlstate: Some("3F000".into()), native, connection_lost }
        }
        other => other,
    }
}

/// The collector.
#[derive(Debug, Default)]
pub struct JobCollector;

impl Collector for JobCollector {
    fn metrics(&self) -> Vec<MetricSpec> {
        METRICS.iter().map(MetricSpec::from).collect()
    }
    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        let now = ctx.query_template(NOW_SQL)?;
        let Some(sql) = errors_sql(&now, ctx.engine()) else {
            return Err(CollectError::Shape(format!(
                "the server's \"now\" is not a timestamp: {:?}",
                now.first().and_then(|r| cell(r, 0))
            )));
        };
        let rows = ctx.query(&sql).map_err(missing_schema_as_missing_object)?;
        out.extend(map_rows(&rows));
        Ok(())
    }
}

fn build(_: &DatasourceConfig) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(JobCollector))
}

inventory::submit! {
    CollectorDescriptor::new(
        "job",
        "SYSJOB.SYSJOBHISTORIES2, SYSJOB.SYSSTEPHISTORIES2, SYSJOB.SYSJOBSCHEDULES, \
         SYSJOB.SYSJOBSTEPS, SYSJOB.SYSJOBS",
        Family::Database,
        METRICS,
        build,
    )
    .queries(&[NOW_SQL, ERRORS_SQL])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(v: Option<&str>) -> Rows {
        Rows { rows: vec![vec![v.map(str::to_owned)]], ..Rows::default() }
    }

    #[test]
    fn bound_is_31_days_before_the_server_clock_as_a_typed_literal() {
        let sql = errors_sql(&one(Some("2026-11-24 17:00:00.123456 +08:00")), Engine::Dm).unwrap();
        assert_eq!(
            sql.matches("START_TIME >= TIMESTAMP '2026-10-24 17:00:00'").count(),
            2,
            "{sql}"
        );
        assert!(!sql.contains('{'), "{sql}");
        let sql = errors_sql(&one(Some("2026-03-02 00:00:00 +00:00")), Engine::Sqlite).unwrap();
        assert_eq!(sql.matches("START_TIME >= '2026-01-30 00:00:00'").count(), 2, "{sql}");
        let sql = errors_sql(&one(Some("2026-03-02 00:00:00 +00:00")), Engine::PostgreSql).unwrap();
        assert_eq!(sql.matches("START_TIME >= TIMESTAMP '2026-01-30 00:00:00'").count(), 2);
        assert_eq!(errors_sql(&one(Some("soon")), Engine::Dm), None);
        assert_eq!(errors_sql(&one(None), Engine::Dm), None);
        assert_eq!(errors_sql(&Rows::default(), Engine::Dm), None);
    }

    #[test]
    fn template_has_the_token_twice_and_no_date_literal() {
        assert_eq!(ERRORS_SQL.matches(SINCE).count(), 2);
        assert!(!ERRORS_SQL.contains("'2"), "{ERRORS_SQL}");
    }

    #[test]
    fn count() {
        assert_eq!(map_rows(&one(Some("3"))), vec![Sample::new(0, 3.0)]);
        assert_eq!(map_rows(&one(Some("0"))), vec![Sample::new(0, 0.0)]);
        assert!(map_rows(&one(None)).is_empty());
        assert!(map_rows(&one(Some("x"))).is_empty());
        assert!(map_rows(&Rows::default()).is_empty());
    }

    fn driver(message: &str, sqlstate: Option<&str>) -> QueryError {
        QueryError::Driver {
            message: message.into(),
            sqlstate: sqlstate.map(Into::into),
            native: Some(-2103),
            connection_lost: false,
        }
    }

    #[test]
    fn dm_missing_schema_is_not_applicable() {
        let e = missing_schema_as_missing_object(driver("[DM]无效的模式名[SYSJOB]", Some("HY000")));
        assert!(e.is_missing_object());
        let e = missing_schema_as_missing_object(driver("invalid schema name [SYSJOB]", None));
        assert!(e.is_missing_object());
        // Other errors stay errors.
        let e = missing_schema_as_missing_object(driver("no privilege on SYSJOB.SYSJOBS", None));
        assert!(!e.is_missing_object());
        let e = missing_schema_as_missing_object(driver("无效的模式名[APP]", None));
        assert!(!e.is_missing_object());
    }
}
