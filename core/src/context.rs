//! The [`CollectContext`]s the runtime gives collectors: [`BlockingContext`] (one pooled
//! connection, queries bounded by the collector's deadline) and [`OfflineContext`] (no
//! connection, for collectors that report exporter-side state).

use std::sync::Arc;
use std::time::{Duration, Instant};

use dmexp_config::DatasourceConfig;

use crate::collector::{columns_probe_sql, is_plain_identifier, view_probe_sql, CollectContext};
use crate::pool::{Engine, PoolGuard};
use crate::query::{QueryError, ResultShape, RowRef, Rows};

/// The context of a collector that needs no connection.
pub(crate) struct OfflineContext<'a> {
    pub(crate) config: &'a DatasourceConfig,
    pub(crate) until: Instant,
}

impl CollectContext for OfflineContext<'_> {
    fn query_with(
        &mut self,
        _: &str,
        _: Option<Duration>,
        _: Option<usize>,
    ) -> Result<Rows, QueryError> {
        Err(QueryError::Connection("this collector runs without a connection".into()))
    }
    fn datasource(&self) -> &DatasourceConfig {
        self.config
    }
    fn remaining(&self) -> Duration {
        self.until.saturating_duration_since(Instant::now())
    }
    fn has_view(&mut self, _: &str) -> Result<bool, QueryError> {
        Ok(false)
    }
    fn has_columns(&mut self, _: &str, _: &[&str]) -> Result<bool, QueryError> {
        Ok(false)
    }
}

/// The [`CollectContext`] given to collectors: one pooled connection for the collector,
/// every query bounded by the collector's deadline (`until`) and the query timeout.
pub(crate) struct BlockingContext {
    pub(crate) guard: PoolGuard,
    pub(crate) config: Arc<DatasourceConfig>,
    pub(crate) until: Instant,
}

impl BlockingContext {
    /// A context over `guard` for a collector that must finish by `until`.
    pub(crate) fn new(
        guard: PoolGuard,
        config: impl Into<Arc<DatasourceConfig>>,
        until: Instant,
    ) -> Self {
        BlockingContext { guard, config: config.into(), until }
    }

    /// The query timeout of one statement in whole seconds: `timeout` (default
    /// `queryTimeout`) within the time left; an error when no time is left.
    fn statement_secs(&self, timeout: Option<Duration>) -> Result<usize, QueryError> {
        let remaining = self.remaining();
        if remaining.is_zero() {
            return Err(QueryError::Timeout(self.config.connection.query_timeout));
        }
        let timeout = remaining.min(timeout.unwrap_or(self.config.connection.query_timeout));
        Ok(usize::try_from(timeout.as_secs_f64().ceil() as u64).unwrap_or(300).max(1))
    }

    pub(crate) fn timeout_secs(&self) -> usize {
        let t = self.remaining().min(self.config.connection.query_timeout);
        usize::try_from(t.as_secs_f64().ceil() as u64).unwrap_or(300).max(1)
    }
}

impl CollectContext for BlockingContext {
    fn query_with(
        &mut self,
        sql: &str,
        timeout: Option<Duration>,
        max_rows: Option<usize>,
    ) -> Result<Rows, QueryError> {
        let secs = self.statement_secs(timeout)?;
        self.guard.query(sql, Some(secs), max_rows)
    }

    fn query_each(
        &mut self,
        sql: &str,
        timeout: Option<Duration>,
        max_rows: Option<usize>,
        visit: &mut dyn FnMut(&[String], RowRef<'_>),
    ) -> Result<ResultShape, QueryError> {
        let secs = self.statement_secs(timeout)?;
        self.guard.query_each(sql, Some(secs), max_rows, visit)
    }

    fn datasource(&self) -> &DatasourceConfig {
        &self.config
    }

    fn engine(&self) -> Engine {
        self.guard.engine()
    }

    fn remaining(&self) -> Duration {
        self.until.saturating_duration_since(Instant::now())
    }

    fn has_view(&mut self, view: &str) -> Result<bool, QueryError> {
        if !is_plain_identifier(view) {
            return Ok(false);
        }
        let secs = self.timeout_secs();
        self.guard.probe(&format!("view:{view}"), &view_probe_sql(view), Some(secs))
    }

    fn has_columns(&mut self, view: &str, columns: &[&str]) -> Result<bool, QueryError> {
        if !is_plain_identifier(view) || !columns.iter().all(|c| is_plain_identifier(c)) {
            return Ok(false);
        }
        let secs = self.timeout_secs();
        let key = format!("cols:{view}:{}", columns.join(","));
        self.guard.probe(&key, &columns_probe_sql(view, columns), Some(secs))
    }
}
