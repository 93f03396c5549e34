//! The exporter runtime: datasources with their pools, health and collectors; one scrape.
//!
//! Data flow of a scrape (docs/DESIGN.md §3): datasources are scheduled by `collectStrategy`;
//! an Unhealthy datasource is skipped at once (`dmdb_up 0`); the collectors of a datasource
//! queue per pool as one batch and run on one blocking task: one connection serves them one
//! after another, and when a statement is slow those waiting behind it fan out over the pool
//! (never more at once than it allows, see `FAN_OUT_AFTER`); each is bounded by the scrape
//! deadline; samples get the datasource's const labels; families are
//! merged by name, self-metrics are added and the text format is encoded. The answer is
//! always complete for what finished: failures show in metrics, not in HTTP errors.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use dmexp_config::{CollectStrategy, CollectionMode, Config, DatasourceConfig, GlobalConfig};
use futures::future::join_all;
use futures::StreamExt;
use tracing::Instrument;

use crate::api::{DatasourceStatus, HealthState, ScrapeError, ScrapeRequest};
use crate::collector::{
    registered, CacheClass, Collector, CollectorDescriptor, Family, MetricDef, MetricSpec, Sample,
    SkipReason, SKIP_RETRY,
};
use crate::health::{Health, Transition};
use crate::metrics::{DescError, DescFactory, FamilySet, MetricTemplate};
use crate::pool::{DatasourcePool, PoolError, PoolGuard};
use crate::query::QueryError;

mod build;
mod doctor;
mod health_check;
mod queue;
mod scrape;
#[cfg(test)]
mod tests;

use crate::context::{BlockingContext, OfflineContext};
pub use build::{collector_enabled, same_connection, BuildReport};
pub use doctor::{
    CollectorCheck, CollectorOutcome, DatasourceCheck, LoginFailure, LoginInfo, LoginProblem,
};
use health_check::*;
use queue::*;
use scrape::*;
pub use scrape::{deadline_after, CollectorFilter, ScrapePlan, MAX_SCRAPE_BUDGET};

/// Errors building the runtime from a validated config.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// A metric declaration or label is invalid for this datasource.
    #[error("datasource `{datasource}`, collector `{collector}`: {source}")]
    Desc {
        /// Datasource name.
        datasource: String,
        /// Collector name.
        collector: String,
        /// The invalid declaration.
        #[source]
        source: DescError,
    },
    /// The pool cannot be created.
    #[error(transparent)]
    Pool(#[from] PoolError),
}

const UP: MetricDef = MetricDef::gauge(
    "dmdb_up",
    "Current health status of the data source, 1 indicates normal, 0 indicates unavailable",
);
const COLLECTOR_SUCCESS: MetricDef = MetricDef::gauge(
    "dameng_exporter_collector_success",
    "Whether the collector succeeded in the last scrape (1) or failed or timed out (0).",
)
.with_labels(&["collector"]);
const COLLECTOR_SKIPPED: MetricDef = MetricDef::gauge(
    "dameng_exporter_collector_skipped",
    "1 while the collector is skipped on this datasource: reason=\"permission\" (the user may \
     not read its objects) or reason=\"not_applicable\" (this DM build or topology lacks them).",
)
.with_labels(&["collector", "reason"]);
const COLLECTOR_DURATION: MetricDef = MetricDef::gauge(
    "dameng_exporter_collector_duration_seconds",
    "Time the collector took in the last scrape, in seconds.",
)
.with_labels(&["collector"]);
const SCRAPE_DURATION: MetricDef = MetricDef::gauge(
    "dameng_exporter_scrape_duration_seconds",
    "Time the last scrape of this datasource took, in seconds.",
);
const LAST_SUCCESS: MetricDef = MetricDef::gauge(
    "dameng_exporter_last_success_timestamp_seconds",
    "Unix time of the last scrape in which every collector of this datasource succeeded.",
);
const POOL_CONNECTIONS: MetricDef = MetricDef::gauge(
    "dameng_exporter_pool_connections",
    "Database sessions of the data source over all its pools (health checks, built-in and \
     custom metrics, plugins), by state: in_use (checked out or logging in) or idle; together \
     at most maxOpenConns.",
)
.with_labels(&["state"]);
const POOL_WAIT: MetricDef = MetricDef::counter(
    "dameng_exporter_pool_wait_seconds_total",
    "Total time spent waiting for a database session of the data source because maxOpenConns \
     sessions were in use, in seconds.",
);
const BUILD_INFO: MetricDef = MetricDef::gauge(
    "dameng_exporter_build_info",
    "A metric with a constant '1' value labeled by version, revision, branch and rustversion \
     from which dameng_exporter was built, and the os and arch of the build.",
)
.with_labels(&["version", "revision", "branch", "rustversion", "goos", "goarch"]);
const DUPLICATES: MetricDef = MetricDef::counter(
    "dameng_exporter_duplicate_series_dropped_total",
    "Series dropped because a collector produced the same name and labels twice.",
);

/// Build facts shown in `dameng_exporter_build_info`.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    /// Version, e.g. `v0.1.0`.
    pub version: String,
    /// Git revision or `unknown`.
    pub revision: String,
    /// Git branch or `unknown`.
    pub branch: String,
    /// rustc version or `unknown`.
    pub rustversion: String,
}

struct CollectorRuntime {
    name: String,
    collector: Arc<dyn Collector>,
    templates: Arc<Vec<MetricTemplate>>,
    /// How long a result is reused (`bigKeyDataCacheTime` for cached collectors).
    cache_ttl: Option<Duration>,
    /// Last good result and when it was taken.
    last_good: Mutex<Option<(Instant, Arc<Vec<Sample>>)>>,
    /// Why the collector is skipped and when it is tried again ([`SKIP_RETRY`] after the
    /// query that found it); `None` while it runs normally.
    skip: Mutex<Option<(SkipReason, Instant)>>,
    /// The pool this collector's queries run on instead of the datasource's own (custom
    /// metrics: the read-only pool).
    pool: Option<DatasourcePool>,
}

/// One datasource at runtime.
pub struct DatasourceRuntime {
    config: DatasourceConfig,
    label: String,
    pool: Option<DatasourcePool>,
    /// Shared with the datasource's successor after a reload that kept its connection.
    health: Arc<Health>,
    collectors: Vec<CollectorRuntime>,
    self_templates: SelfTemplates,
    last_success: Mutex<Option<f64>>,
    last_scrape: Mutex<Option<f64>>,
    /// Collections in flight: an overlapping scrape with the same collector filter and a
    /// compatible deadline shares one ([`scrape_shared`]).
    inflight: Mutex<Vec<InFlight>>,
    /// Becomes true when the first health check has finished: a scrape that arrives before
    /// waits for it instead of opening connections of its own (one login attempt, not one
    /// per collector, against a datasource that may have a wrong password).
    first_check: Arc<tokio::sync::watch::Sender<bool>>,
    /// The configuration again, shared with every collector's blocking context (a scrape
    /// hands each collector this `Arc` instead of a deep copy of the configuration).
    shared_config: Arc<DatasourceConfig>,
    /// Set when a reload replaced this datasource's pool: the pool is closed when the last
    /// scrape still using this runtime is done (on drop), not under it.
    close_pool_on_drop: AtomicBool,
    /// The median run time of the statements of the last scrape that ran any, in
    /// nanoseconds (0: none yet): what "slow" means for this datasource's fan-out
    /// ([`queue::SLOW_FACTOR`]).
    typical_statement_ns: AtomicU64,
}

impl Drop for DatasourceRuntime {
    fn drop(&mut self) {
        if self.close_pool_on_drop.load(Ordering::SeqCst) {
            if let Some(p) = &self.pool {
                tracing::info!(datasource = %self.config.name, "Closing the replaced connection pool (its last scrape finished).");
                p.close();
            }
        }
    }
}

/// One collection in flight ([`scrape_shared`]).
struct InFlight {
    /// Tells this entry apart from a later one with the same key (for its removal).
    id: u64,
    /// [`CollectorFilter::key`] of the collection.
    key: String,
    /// The collection's deadline.
    deadline: Option<Instant>,
    result: SharedResult,
}

type SharedResult =
    futures::future::Shared<futures::future::BoxFuture<'static, Arc<DatasourceResult>>>;

struct SelfTemplates {
    up: MetricTemplate,
    success: MetricTemplate,
    skipped: MetricTemplate,
    duration: MetricTemplate,
    scrape: MetricTemplate,
    last_success: MetricTemplate,
    pool_connections: MetricTemplate,
    pool_wait: MetricTemplate,
}

impl std::fmt::Debug for DatasourceRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatasourceRuntime")
            .field("name", &self.config.name)
            .field("label", &self.label)
            .field("collectors", &self.collectors.iter().map(|c| &c.name).collect::<Vec<_>>())
            .finish()
    }
}

impl DatasourceRuntime {
    /// The pool the health checks use: the datasource's read-write pool when a collector
    /// runs on it (built-ins) or none needs a connection, else the read-only pool its
    /// collectors all run on (custom metrics, plugins). So a datasource watched only through
    /// custom SQL holds one session, which the pings keep warm for the scrapes, instead of a
    /// second one just for the pings.
    pub(super) fn health_pool(&self) -> Option<DatasourcePool> {
        let rw = self.pool.clone()?;
        let mut other = None;
        for c in self.collectors.iter().filter(|c| c.collector.needs_connection()) {
            match &c.pool {
                None => return Some(rw),
                Some(p) => other = Some(p.clone()),
            }
        }
        Some(other.unwrap_or(rw))
    }

    /// The median statement time of the last scrape that ran any.
    pub(super) fn typical_statement(&self) -> Option<Duration> {
        match self.typical_statement_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns)),
        }
    }

    fn set_typical_statement(&self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.typical_statement_ns.store(ns, Ordering::Relaxed);
    }

    /// Configured name.
    pub fn name(&self) -> &str {
        &self.config.name
    }
    /// Value of the `datasource` label.
    pub fn label(&self) -> &str {
        &self.label
    }
    /// Health record.
    pub fn health(&self) -> &Health {
        &self.health
    }
    /// Names of the enabled collectors.
    pub fn collector_names(&self) -> Vec<&str> {
        self.collectors.iter().map(|c| c.name.as_str()).collect()
    }
    /// The pool (None when disabled).
    pub fn pool(&self) -> Option<&DatasourcePool> {
        self.pool.as_ref()
    }
    /// The datasource's configuration.
    pub fn config(&self) -> &DatasourceConfig {
        &self.config
    }
    /// Status-page row.
    pub fn status(&self) -> DatasourceStatus {
        DatasourceStatus {
            name: self.config.name.clone(),
            label: self.label.clone(),
            state: self.health.state(),
            last_error: self.health.last_error(),
            collectors: self.collectors.iter().map(|c| c.name.clone()).collect(),
            last_scrape_seconds: *lock(&self.last_scrape),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The whole exporter state.
pub struct Runtime {
    global: GlobalConfig,
    datasources: Vec<Arc<DatasourceRuntime>>,
    build_info: BuildInfo,
    build_template: MetricTemplate,
    duplicates_template: MetricTemplate,
    duplicates_total: AtomicU64,
    ready: AtomicBool,
    /// Datasources whose pool and health were taken over from the previous runtime.
    reused: Vec<String>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("datasources", &self.datasources).finish()
    }
}

impl Runtime {
    /// The datasources, in config order.
    pub fn datasources(&self) -> &[Arc<DatasourceRuntime>] {
        &self.datasources
    }

    /// Global settings.
    pub fn global(&self) -> &GlobalConfig {
        &self.global
    }

    /// Status-page rows, in config order.
    pub fn statuses(&self) -> Vec<DatasourceStatus> {
        self.datasources.iter().map(|d| d.status()).collect()
    }

    /// True once every datasource has had its first health check.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}
