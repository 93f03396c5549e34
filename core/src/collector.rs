//! The collector contract shared by built-in collectors, custom metrics and plugins.
//!
//! A collector declares its metrics once ([`MetricDef`]), and at scrape time runs SQL through a
//! [`CollectContext`] (which owns the datasource's pooled connection, the deadline and the row
//! cap) and emits [`Sample`]s. Core turns samples into metric families with the datasource's
//! const labels (see [`crate::metrics`]). Built-ins register a [`CollectorDescriptor`] with
//! `inventory::submit!`; core never names a collector.

use std::time::Duration;

use dmexp_config::DatasourceConfig;

use crate::pool::Engine;
use crate::query::{QueryError, ResultShape, RowRef, Rows};

/// Prometheus metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A value that only goes up (resets on restart).
    Counter,
    /// A value that can go up and down.
    Gauge,
}

impl MetricKind {
    /// `counter` or `gauge`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
        }
    }
}

/// A metric declared once by a collector: full name, help, type and variable label names.
/// Const labels (`datasource` and the datasource's `labels`) are added by core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    /// Full metric name, e.g. `dmdbms_status_info`.
    pub name: &'static str,
    /// HELP text.
    pub help: &'static str,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// Variable label names, in the order samples give their values.
    pub labels: &'static [&'static str],
}

impl MetricDef {
    /// A gauge without variable labels.
    pub const fn gauge(name: &'static str, help: &'static str) -> Self {
        MetricDef { name, help, kind: MetricKind::Gauge, labels: &[] }
    }
    /// A counter without variable labels.
    pub const fn counter(name: &'static str, help: &'static str) -> Self {
        MetricDef { name, help, kind: MetricKind::Counter, labels: &[] }
    }
    /// The same metric with variable labels.
    pub const fn with_labels(self, labels: &'static [&'static str]) -> Self {
        MetricDef { labels, ..self }
    }
}

/// An owned metric declaration, for collectors whose metrics are only known at runtime
/// (custom metrics, plugins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricSpec {
    /// Full metric name.
    pub name: String,
    /// HELP text.
    pub help: String,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// Variable label names.
    pub labels: Vec<String>,
}

impl From<&MetricDef> for MetricSpec {
    fn from(d: &MetricDef) -> Self {
        MetricSpec {
            name: d.name.to_owned(),
            help: d.help.to_owned(),
            kind: d.kind,
            labels: d.labels.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// One value produced at scrape time: which metric (index into the collector's
/// [`Collector::metrics`]), its variable label values (same order as the spec) and the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Index into [`Collector::metrics`].
    pub metric: usize,
    /// Variable label values.
    pub labels: Vec<String>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// A sample without variable labels.
    pub fn new(metric: usize, value: f64) -> Self {
        Sample { metric, labels: Vec::new(), value }
    }
    /// A sample with variable labels.
    pub fn with_labels(metric: usize, labels: Vec<String>, value: f64) -> Self {
        Sample { metric, labels, value }
    }
}

/// Which switch of a datasource enables a built-in collector (upstream's register* keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `registerDatabaseMetrics`.
    Database,
    /// `registerHostMetrics`.
    Host,
    /// `registerDmhsMetrics`.
    Dmhs,
}

impl Family {
    /// Name as shown in `--list-collectors`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Database => "database",
            Family::Host => "host",
            Family::Dmhs => "dmhs",
        }
    }
}

/// Error building a collector for a datasource.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The collector cannot run with this configuration.
    #[error("collector `{collector}` cannot be built: {reason}")]
    Invalid {
        /// Collector name.
        collector: String,
        /// Why.
        reason: String,
    },
}

/// Error while collecting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectError {
    /// A query failed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The result did not have the expected shape.
    #[error("unexpected result: {0}")]
    Shape(String),
    /// A collector outside core (a site plugin) reported a failure in its own words.
    #[error("{0}")]
    Failed(String),
    /// The collector does not apply to this database: a feature probe found a view or
    /// column it needs missing in this DM build or topology (the text says which). A skip
    /// with `reason="not_applicable"`, not a failure.
    #[error("not applicable: {0}")]
    NotApplicable(String),
}

impl CollectError {
    /// [`CollectError::NotApplicable`] for a view that this DM build does not have.
    pub fn missing_view(view: &str) -> Self {
        CollectError::NotApplicable(format!("this DM build has no view {view} (V$DYNAMIC_TABLES)"))
    }

    /// [`CollectError::NotApplicable`] for columns that a view of this DM build lacks.
    pub fn missing_columns(view: &str, columns: &[&str]) -> Self {
        CollectError::NotApplicable(format!(
            "view {view} of this DM build lacks (some of) the columns {} (V$DYNAMIC_TABLE_COLUMNS)",
            columns.join(", ")
        ))
    }
}

/// Static description of a built-in collector, registered with `inventory::submit!`.
#[derive(Debug)]
pub struct CollectorDescriptor {
    /// Collector name; also the `collector` label value and the `disabledCollectors` entry.
    pub name: &'static str,
    /// DM views read.
    pub views: &'static str,
    /// Which register* switch enables it.
    pub family: Family,
    /// Enabled unless switched off.
    pub default_enabled: bool,
    /// The metrics it can produce.
    pub metrics: &'static [MetricDef],
    /// How the collector is made for one datasource.
    pub build: CollectorBuild,
    /// Result reuse across scrapes.
    pub cache: CacheClass,
    /// Every SQL statement the collector may run (for the portability test that runs each
    /// one on both fixtures, and for DBAs reviewing what the exporter executes).
    pub queries: &'static [&'static str],
}

impl CollectorDescriptor {
    /// For `inventory::submit!`: a collector with its own [`Collector`] implementation, made
    /// by `factory` (several statements, state kept across scrapes, probes before a query).
    pub const fn new(
        name: &'static str,
        views: &'static str,
        family: Family,
        metrics: &'static [MetricDef],
        factory: fn(&DatasourceConfig) -> Result<Box<dyn Collector>, BuildError>,
    ) -> Self {
        CollectorDescriptor {
            name,
            views,
            family,
            default_enabled: true,
            metrics,
            build: CollectorBuild::Factory(factory),
            cache: CacheClass::None,
            queries: &[],
        }
    }

    /// For `inventory::submit!`: the common shape, one statement (a [`crate::dialect`]
    /// template, run with [`CollectContext::query_template`]) whose rows `map` turns into
    /// samples of `metrics`. The collector is this declaration; no [`Collector`] to write:
    ///
    /// ```ignore
    /// inventory::submit! {
    ///     CollectorDescriptor::query("bufferpool", "V$BUFFERPOOL", Family::Database, METRICS, &[SQL], map_rows)
    /// }
    /// ```
    pub const fn query(
        name: &'static str,
        views: &'static str,
        family: Family,
        metrics: &'static [MetricDef],
        sql: &'static [&'static str; 1],
        map: MapRows,
    ) -> Self {
        CollectorDescriptor {
            name,
            views,
            family,
            default_enabled: true,
            metrics,
            build: CollectorBuild::Query { sql: sql[0], map },
            cache: CacheClass::None,
            queries: sql,
        }
    }

    /// Makes this collector for one datasource.
    pub fn instantiate(&self, ds: &DatasourceConfig) -> Result<Box<dyn Collector>, BuildError> {
        match self.build {
            CollectorBuild::Factory(factory) => factory(ds),
            CollectorBuild::Query { sql, map } => {
                Ok(Box::new(QueryCollector { sql, map, metrics: self.metrics }))
            }
        }
    }

    /// The same descriptor listing the SQL statements it runs.
    pub const fn queries(self, queries: &'static [&'static str]) -> Self {
        CollectorDescriptor { queries, ..self }
    }

    /// The same descriptor with its results reused for `bigKeyDataCacheTime`.
    pub const fn cached(self, cache: CacheClass) -> Self {
        CollectorDescriptor { cache, ..self }
    }
}

inventory::collect!(CollectorDescriptor);

/// Maps the rows of a [`CollectorDescriptor::query`] collector's statement to samples
/// (indexes into its metrics, as [`Sample::metric`]).
pub type MapRows = fn(&Rows) -> Vec<Sample>;

/// How a [`CollectorDescriptor`] makes its collector.
#[derive(Debug, Clone, Copy)]
pub enum CollectorBuild {
    /// An own [`Collector`] implementation, made per datasource.
    Factory(fn(&DatasourceConfig) -> Result<Box<dyn Collector>, BuildError>),
    /// One statement and a row mapping ([`CollectorDescriptor::query`]).
    Query {
        /// The statement, run once per scrape.
        sql: &'static str,
        /// Its rows to samples.
        map: MapRows,
    },
}

/// The collector of a [`CollectorDescriptor::query`] declaration.
struct QueryCollector {
    sql: &'static str,
    map: MapRows,
    metrics: &'static [MetricDef],
}

impl Collector for QueryCollector {
    fn metrics(&self) -> Vec<MetricSpec> {
        self.metrics.iter().map(MetricSpec::from).collect()
    }
    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        let rows = ctx.query_template(self.sql)?;
        out.extend((self.map)(&rows));
        Ok(())
    }
}

/// Every registered built-in collector, sorted by name.
pub fn registered() -> Vec<&'static CollectorDescriptor> {
    let mut all: Vec<_> = inventory::iter::<CollectorDescriptor>.into_iter().collect();
    all.sort_by_key(|d| d.name);
    all
}

/// What a collector gets at scrape time: a way to run SQL on this datasource (under the
/// scrape's deadline and the query timeout) and facts about the datasource.
pub trait CollectContext {
    /// Runs one query and returns all rows as text cells (NULL = `None`), under the
    /// datasource's queryTimeout (and the scrape deadline).
    fn query(&mut self, sql: &str) -> Result<Rows, QueryError> {
        self.query_with(sql, None, None)
    }
    /// Like [`CollectContext::query`] with an own timeout (still capped by the scrape
    /// deadline) and a row cap (`Rows::truncated` tells whether it cut the result).
    fn query_with(
        &mut self,
        sql: &str,
        timeout: Option<Duration>,
        max_rows: Option<usize>,
    ) -> Result<Rows, QueryError>;
    /// Like [`CollectContext::query_with`], handing each row to `visit` (with the result's
    /// lower-cased column names) instead of collecting them: on a real connection the rows
    /// are read into buffers reused for every row, so nothing is allocated per row. The
    /// default collects the rows with `query_with` and visits them.
    fn query_each(
        &mut self,
        sql: &str,
        timeout: Option<Duration>,
        max_rows: Option<usize>,
        visit: &mut dyn FnMut(&[String], RowRef<'_>),
    ) -> Result<ResultShape, QueryError> {
        let rows = self.query_with(sql, timeout, max_rows)?;
        Ok(crate::query::visit_rows(&rows, visit))
    }
    /// The datasource's configuration.
    fn datasource(&self) -> &DatasourceConfig;
    /// The engine behind the connection (from the DBMS name the driver reports), for the
    /// per-engine expressions of [`crate::dialect`]. Without a connection: [`Engine::Other`],
    /// which [`crate::dialect`] treats as DM.
    fn engine(&self) -> Engine {
        Engine::Other
    }
    /// Runs the built-in statement template `template` ([`crate::dialect::expand`] for this
    /// connection's engine) like [`CollectContext::query`].
    fn query_template(&mut self, template: &str) -> Result<Rows, QueryError> {
        let sql = crate::dialect::expand(template, self.engine());
        self.query(&sql)
    }
    /// Time left for this collector.
    fn remaining(&self) -> Duration;
    /// Whether this DM build has the dynamic view `view` (upper-case name, e.g.
    /// `V$SYSTEM_EVENT`), from V$DYNAMIC_TABLES. Answered once per connection lifetime.
    fn has_view(&mut self, view: &str) -> Result<bool, QueryError>;
    /// Whether the dynamic view `view` has every column of `columns`, from
    /// V$DYNAMIC_TABLE_COLUMNS. Answered once per connection lifetime.
    fn has_columns(&mut self, view: &str, columns: &[&str]) -> Result<bool, QueryError>;
}

/// True for names that may be put into a probe query literally (`V$X`, `COL_1`).
pub fn is_plain_identifier(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'$')
}

/// The probe query for [`CollectContext::has_view`].
pub fn view_probe_sql(view: &str) -> String {
    format!("SELECT /*+DM_EXPORTER*/ COUNT(*) FROM V$DYNAMIC_TABLES WHERE NAME = '{view}'")
}

/// The probe query for [`CollectContext::has_columns`]: counts the columns present, so the
/// answer is "all present" when the count equals `columns.len()`.
pub fn columns_probe_sql(view: &str, columns: &[&str]) -> String {
    let list: Vec<String> = columns.iter().map(|c| format!("'{c}'")).collect();
    format!(
        "SELECT /*+DM_EXPORTER*/ CASE WHEN COUNT(DISTINCT COLNAME) = {} THEN 1 ELSE 0 END \
         FROM V$DYNAMIC_TABLE_COLUMNS WHERE TABNAME = '{view}' AND COLNAME IN ({})",
        columns.len(),
        list.join(", ")
    )
}

/// How long a collector's result may be reused across scrapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheClass {
    /// Queried every scrape.
    None,
    /// Reused for `bigKeyDataCacheTime` (tablespaces, datafiles, version).
    BigKey,
}

/// A collector for one datasource. `collect` runs on a blocking thread; it may block on SQL.
pub trait Collector: Send + Sync {
    /// Declared metrics; [`Sample::metric`] indexes into this.
    fn metrics(&self) -> Vec<MetricSpec>;
    /// Runs the queries and appends samples.
    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError>;
    /// False for collectors that report exporter-side state (the load status of a custom
    /// metrics file or a plugin) and run no SQL: they get no connection and run even while
    /// the datasource is down. Their context's `query` fails.
    fn needs_connection(&self) -> bool {
        true
    }
}

/// A collector that is not a built-in (custom metrics, site plugins), as the runtime
/// records it: the runtime assembles these from every source beside the registered
/// built-ins.
pub struct ExtraCollector {
    /// The `collector` label of its self-metrics.
    pub name: String,
    /// The collector.
    pub collector: Box<dyn Collector>,
    /// Result reuse across scrapes, if any.
    pub cache_ttl: Option<Duration>,
    /// The pool its queries run on instead of the datasource's own (custom metrics and
    /// plugins: the datasource's read-only pool); `None` = the datasource's pool.
    pub pool: Option<crate::pool::DatasourcePool>,
}

/// Why an enabled collector did not run on a datasource. Exposed as
/// `dameng_exporter_collector_skipped{collector,reason}` (value 1) while it lasts; a skipped
/// collector is not a failure (`dameng_exporter_collector_success` stays 1) and is retried
/// after [`SKIP_RETRY`], not on every scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The monitoring user may not read an object the collector needs (DM -5504,
    /// PostgreSQL 42501): [`grant_statements`] says what to grant.
    Permission,
    /// A view, table or schema the collector reads does not exist in this DM build or
    /// topology (DM -2106, 无效的模式名 for SYSJOB).
    NotApplicable,
}

impl SkipReason {
    /// The `reason` label value: `permission` or `not_applicable`.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Permission => "permission",
            SkipReason::NotApplicable => "not_applicable",
        }
    }

    /// The skip reason a collector error means, if any (`None`: a real failure).
    pub fn of_query(error: &QueryError) -> Option<SkipReason> {
        if error.is_connection_level() {
            None
        } else if error.is_permission_denied() {
            Some(SkipReason::Permission)
        } else if error.is_missing_object() {
            Some(SkipReason::NotApplicable)
        } else {
            None
        }
    }

    /// [`SkipReason::of_query`] for a collector's error.
    pub fn of(error: &CollectError) -> Option<SkipReason> {
        match error {
            CollectError::Query(q) => SkipReason::of_query(q),
            CollectError::NotApplicable(_) => Some(SkipReason::NotApplicable),
            CollectError::Shape(_) | CollectError::Failed(_) => None,
        }
    }
}

/// How long a skipped collector is left alone before it is tried again (a grant or an
/// upgrade is picked up within this time, without one failing query per scrape).
pub const SKIP_RETRY: Duration = Duration::from_secs(300);

/// The object a permission error names, when its text says: DM `没有[SYSJOB.SYSJOBS]对象的
/// 查询权限` gives `SYSJOB.SYSJOBS`; PostgreSQL `permission denied for table sysjobs` gives
/// `sysjobs`, `… for schema sysjob` gives `sysjob`.
fn denied_object(message: &str) -> Option<String> {
    let ident = |s: &str| {
        let name: String = s
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.' | '"'))
            .filter(|c| *c != '"')
            .collect();
        (!name.is_empty()).then_some(name)
    };
    // DM: the object in the brackets right after 没有 (driver prefixes such as `[DM]` elsewhere
    // in the message are not objects).
    for (start, _) in message.match_indices("没有[") {
        if let Some(name) = ident(&message[start + "没有[".len()..]) {
            return Some(name);
        }
    }
    let lower = message.to_lowercase();
    let at = lower.find("permission denied for ")?;
    let rest = &message[at + "permission denied for ".len()..];
    let mut words = rest.split_whitespace();
    let _kind = words.next()?;
    ident(words.next()?)
}

/// The `GRANT` statements that would let `db_user` run a collector which failed with a
/// permission error: the denied object when the error names one of the collector's objects
/// (`views`, the descriptor's comma-separated list) or a schema of them, a probe view
/// (V$DYNAMIC_TABLES, V$DYNAMIC_TABLE_COLUMNS) when that is what was denied, otherwise every
/// object of `views`. E.g. `GRANT SELECT ON SYSJOB.SYSJOBS TO MONITOR;`.
pub fn grant_statements(views: &str, error_message: &str, db_user: &str) -> Vec<String> {
    let objects: Vec<&str> =
        views.split(',').map(str::trim).filter(|v| !v.is_empty() && is_grantable(v)).collect();
    let grant = |o: &str| format!("GRANT SELECT ON {o} TO {db_user};");
    if let Some(denied) = denied_object(error_message) {
        let d = denied.to_uppercase();
        let last = |o: &str| o.rsplit('.').next().unwrap_or(o).to_uppercase();
        let exact: Vec<String> = objects
            .iter()
            .filter(|o| o.to_uppercase() == d || last(o) == d)
            .map(|o| grant(o))
            .collect();
        if !exact.is_empty() {
            return exact;
        }
        let in_schema: Vec<String> = objects
            .iter()
            .filter(|o| o.to_uppercase().split_once('.').is_some_and(|(s, _)| s == d))
            .map(|o| grant(o))
            .collect();
        if !in_schema.is_empty() {
            return in_schema;
        }
        if d.starts_with("V$") || d.contains('.') {
            return vec![grant(&d)];
        }
    }
    objects.into_iter().map(grant).collect()
}

/// True for entries of a descriptor's view list that name an object (`V$X`, `SCH.T`), not
/// prose such as "plugin".
fn is_grantable(view: &str) -> bool {
    !view.is_empty()
        && view.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"_$.".contains(&b))
}

#[cfg(test)]
mod skip_tests {
    use super::*;

    fn driver(message: &str, sqlstate: Option<&str>, native: Option<i32>) -> QueryError {
        QueryError::Driver {
            message: message.into(),
            sqlstate: sqlstate.map(str::to_owned),
            native,
            connection_lost: false,
        }
    }

    const JOB_VIEWS: &str = "SYSJOB.SYSJOBHISTORIES2, SYSJOB.SYSSTEPHISTORIES2, \
                             SYSJOB.SYSJOBSCHEDULES, SYSJOB.SYSJOBSTEPS, SYSJOB.SYSJOBS";

    #[test]
    fn dm_and_pg_permission_errors_are_permission_skips() {
        let dm =
            driver("[DM]-5504: 没有[SYSJOB.SYSJOBS]对象的查询权限", Some("HY000"), Some(-5504));
        assert!(dm.is_permission_denied());
        assert_eq!(SkipReason::of_query(&dm), Some(SkipReason::Permission));
        let dm_text = driver("没有查询权限", None, Some(-1));
        assert!(dm_text.is_permission_denied());
        let pg = driver("ERROR: permission denied for table sysjobs", Some("42501"), Some(1));
        assert_eq!(SkipReason::of_query(&pg), Some(SkipReason::Permission));
        let missing = driver("无效的表或视图名[V$DMMONITOR]", Some("42S02"), Some(-2106));
        assert!(!missing.is_permission_denied());
        assert_eq!(SkipReason::of_query(&missing), Some(SkipReason::NotApplicable));
        let column = driver("无效的列名[LAST_SEND_CODE]", Some("42S22"), Some(-2111));
        assert_eq!(SkipReason::of_query(&column), None);
        let lost = QueryError::Driver {
            message: "permission denied; connection reset".into(),
            sqlstate: Some("08S01".into()),
            native: None,
            connection_lost: true,
        };
        assert_eq!(SkipReason::of_query(&lost), None);
        assert_eq!(SkipReason::of(&CollectError::Shape("x".into())), None);
        // A feature probe that finds the view or columns missing.
        let view = CollectError::missing_view("V$CKPT");
        assert_eq!(SkipReason::of(&view), Some(SkipReason::NotApplicable));
        assert_eq!(
            view.to_string(),
            "not applicable: this DM build has no view V$CKPT (V$DYNAMIC_TABLES)"
        );
        let cols = CollectError::missing_columns("V$RLOG", &["CKPT_LSN", "CUR_LSN"]);
        assert_eq!(SkipReason::of(&cols), Some(SkipReason::NotApplicable));
        assert!(
            cols.to_string().contains("V$RLOG") && cols.to_string().contains("CKPT_LSN, CUR_LSN")
        );
        assert_eq!(SkipReason::Permission.as_str(), "permission");
        assert_eq!(SkipReason::NotApplicable.as_str(), "not_applicable");
    }

    #[test]
    fn grants_name_the_denied_object_or_every_object() {
        assert_eq!(
            grant_statements(JOB_VIEWS, "[DM]-5504: 没有[SYSJOB.SYSJOBS]对象的查询权限", "MONITOR"),
            vec!["GRANT SELECT ON SYSJOB.SYSJOBS TO MONITOR;"]
        );
        assert_eq!(
            grant_statements(JOB_VIEWS, "ERROR: permission denied for table sysjobsteps", "m"),
            vec!["GRANT SELECT ON SYSJOB.SYSJOBSTEPS TO m;"]
        );
        assert_eq!(
            grant_statements(JOB_VIEWS, "ERROR: permission denied for schema sysjob", "m").len(),
            5
        );
        assert_eq!(
            grant_statements("V$CKPT", "没有[V$DYNAMIC_TABLES]对象的查询权限", "M"),
            vec!["GRANT SELECT ON V$DYNAMIC_TABLES TO M;"]
        );
        assert_eq!(
            grant_statements("DBA_USERS, SYSUSERS", "no object named", "M"),
            vec!["GRANT SELECT ON DBA_USERS TO M;", "GRANT SELECT ON SYSUSERS TO M;"]
        );
    }
}

#[cfg(test)]
mod query_declaration_tests {
    use super::*;

    /// A context that answers every statement with the same rows and records what ran.
    struct Canned {
        ran: Vec<String>,
        rows: Rows,
        ds: DatasourceConfig,
    }

    impl CollectContext for Canned {
        fn query_with(
            &mut self,
            sql: &str,
            _timeout: Option<Duration>,
            _max_rows: Option<usize>,
        ) -> Result<Rows, QueryError> {
            self.ran.push(sql.to_owned());
            Ok(self.rows.clone())
        }
        fn datasource(&self) -> &DatasourceConfig {
            &self.ds
        }
        fn remaining(&self) -> Duration {
            Duration::from_secs(1)
        }
        fn has_view(&mut self, _view: &str) -> Result<bool, QueryError> {
            Ok(true)
        }
        fn has_columns(&mut self, _view: &str, _columns: &[&str]) -> Result<bool, QueryError> {
            Ok(true)
        }
    }

    const SQL: &str = "SELECT /*+DM_EXPORTER*/ N FROM V$T";
    const METRICS: &[MetricDef] = &[MetricDef::gauge("dmdbms_t", "T.").with_labels(&["n"])];

    fn map(rows: &Rows) -> Vec<Sample> {
        rows.rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let n = r.first().cloned().flatten().unwrap_or_default();
                Sample::with_labels(0, vec![n], i as f64 + 1.0)
            })
            .collect()
    }

    #[test]
    fn a_query_declaration_runs_its_statement_once_and_maps_the_rows() {
        let d = CollectorDescriptor::query("t", "V$T", Family::Database, METRICS, &[SQL], map);
        assert_eq!(d.queries, &[SQL]);
        let ds = dmexp_config::from_cli(&dmexp_config::CliDatasource {
            db_host: "127.0.0.1:5236".into(),
            db_user: "u".into(),
            db_pwd: "p".into(),
            ..Default::default()
        })
        .expect("cli datasource")
        .datasources
        .remove(0);
        let collector = d.instantiate(&ds).expect("built");
        assert_eq!(collector.metrics(), vec![MetricSpec::from(&METRICS[0])]);
        let rows = Rows {
            rows: vec![vec![Some("a".into())], vec![Some("b".into())]],
            ..Default::default()
        };
        let mut ctx = Canned { ran: Vec::new(), rows, ds };
        let mut out = Vec::new();
        collector.collect(&mut ctx, &mut out).expect("collected");
        assert_eq!(ctx.ran, vec![SQL.to_owned()]);
        assert_eq!(
            out,
            vec![
                Sample::with_labels(0, vec!["a".into()], 1.0),
                Sample::with_labels(0, vec!["b".into()], 2.0)
            ]
        );
    }
}
