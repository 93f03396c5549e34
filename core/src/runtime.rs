//! The exporter runtime: datasources with their pools, health and collectors; one scrape.
//!
//! Data flow of a scrape (DESIGN.md §3): datasources are scheduled by `collectStrategy`;
//! an Unhealthy datasource is skipped at once (`dmdb_up 0`); the collectors of a datasource
//! queue per pool and run on blocking threads: one connection serves them one after another,
//! and those still waiting after a few milliseconds fan out over the pool (never more at once
//! than it allows, see `FAN_OUT_AFTER`); each is bounded by the scrape deadline; samples get the datasource's const labels; families are
//! merged by name, self-metrics are added and the text format is encoded. The answer is
//! always complete for what finished: failures show in metrics, not in HTTP errors.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use dmexp_config::{CollectStrategy, CollectionMode, Config, DatasourceConfig, GlobalConfig};
use futures::future::join_all;
use futures::StreamExt;
use tracing::Instrument;

use crate::collector::{
    columns_probe_sql, is_plain_identifier, registered, view_probe_sql, CacheClass, CollectContext,
    Collector, CollectorDescriptor, Family, MetricDef, MetricSpec, Sample, SkipReason, SKIP_RETRY,
};
use crate::health::{Health, Transition};
use crate::metrics::{DescError, DescFactory, FamilySet, MetricTemplate};
use crate::pool::{DatasourcePool, PoolError, PoolGuard};
use crate::query::{QueryError, Rows};
use crate::server::{DatasourceStatus, HealthState, ScrapeError, ScrapeRequest};

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

/// True when two configurations open the same connections: a reload then keeps the pool,
/// its open connections and the health state.
pub fn same_connection(a: &DatasourceConfig, b: &DatasourceConfig) -> bool {
    let cs = |d: &DatasourceConfig| crate::pool::connection_string(d).ok();
    a.enabled == b.enabled
        && cs(a) == cs(b)
        && a.query_timeout == b.query_timeout
        && a.max_open_conns == b.max_open_conns
        && a.max_idle_conns == b.max_idle_conns
        && a.conn_max_lifetime == b.conn_max_lifetime
        && a.connection_init_sql == b.connection_init_sql
}

/// Which collectors one scrape runs (`collect[]` / `exclude[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectorFilter {
    collect: Vec<String>,
    exclude: Vec<String>,
}

impl CollectorFilter {
    /// Whether `name` runs.
    pub fn allows(&self, name: &str) -> bool {
        (self.collect.is_empty() || self.collect.iter().any(|c| c == name))
            && !self.exclude.iter().any(|c| c == name)
    }
    fn key(&self) -> String {
        format!("c:{}|x:{}", self.collect.join(","), self.exclude.join(","))
    }
}

/// A validated scrape: which datasources, which collectors, until when.
#[derive(Debug, Clone)]
pub struct ScrapePlan {
    target: Option<String>,
    filter: Arc<CollectorFilter>,
    deadline: Option<Instant>,
}

/// Whether a built-in collector runs for a datasource (register* switches, disabledCollectors).
pub fn collector_enabled(d: &CollectorDescriptor, ds: &DatasourceConfig) -> bool {
    let switch = match d.family {
        Family::Database => ds.register_database_metrics,
        Family::Host => ds.register_host_metrics,
        Family::Dmhs => ds.register_dmhs_metrics,
    };
    switch && d.default_enabled && !ds.disabled_collectors.iter().any(|n| n == d.name)
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

fn collector_runtime(
    factory: &DescFactory,
    ds: &DatasourceConfig,
    name: &str,
    collector: Box<dyn Collector>,
    cache_ttl: Option<Duration>,
) -> Result<CollectorRuntime, RuntimeError> {
    let templates = collector
        .metrics()
        .iter()
        .map(|s| {
            factory.template(s).map_err(|source| RuntimeError::Desc {
                datasource: ds.name.clone(),
                collector: name.to_owned(),
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(CollectorRuntime {
        name: name.to_owned(),
        collector: Arc::from(collector),
        templates: Arc::new(templates),
        cache_ttl,
        last_good: Mutex::new(None),
        skip: Mutex::new(None),
        pool: None,
    })
}

fn template(
    factory: &DescFactory,
    def: &MetricDef,
    ds: &str,
    collector: &str,
) -> Result<MetricTemplate, RuntimeError> {
    factory.template(&MetricSpec::from(def)).map_err(|source| RuntimeError::Desc {
        datasource: ds.to_owned(),
        collector: collector.to_owned(),
        source,
    })
}

/// What a runtime build found besides the runtime: a value for the caller to log or print,
/// never global state (a failed reload's build leaves nothing behind).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuildReport {
    /// Outcome of every `[[datasource.plugin]]` entry.
    pub plugins: crate::plugin::LoadReport,
}

impl Runtime {
    /// Builds pools (without connecting) and collectors for every datasource.
    pub fn build(
        config: &Config,
        build_info: BuildInfo,
    ) -> Result<(Self, BuildReport), RuntimeError> {
        Self::build_reusing(config, build_info, None)
    }

    /// Like [`Runtime::build`], taking over from `previous` (a reload) the pool and health of
    /// every datasource whose connection settings did not change ([`same_connection`]).
    /// Collectors are always rebuilt, so custom metric files are re-read.
    pub fn build_reusing(
        config: &Config,
        build_info: BuildInfo,
        previous: Option<&Runtime>,
    ) -> Result<(Self, BuildReport), RuntimeError> {
        let mut datasources = Vec::new();
        let mut reused = Vec::new();
        let mut report = BuildReport::default();
        for ds in &config.datasources {
            let old = previous.and_then(|p| {
                p.datasources
                    .iter()
                    .find(|o| o.config.name == ds.name && same_connection(&o.config, ds))
            });
            if old.is_some() {
                reused.push(ds.name.clone());
            }
            let (built, plugins) = Self::build_datasource(ds, old.map(|o| &**o))?;
            report.plugins.add(ds, plugins);
            datasources.push(Arc::new(built));
        }
        let plain = DescFactory::new(None, &[]);
        let duplicates = previous.map_or(0, |p| p.duplicates_total.load(Ordering::Relaxed));
        let runtime = Runtime {
            global: config.global.clone(),
            datasources,
            build_template: template(&plain, &BUILD_INFO, "-", "build_info")?,
            duplicates_template: template(&plain, &DUPLICATES, "-", "self")?,
            build_info,
            duplicates_total: AtomicU64::new(duplicates),
            ready: AtomicBool::new(false),
            reused,
        };
        Ok((runtime, report))
    }

    /// Names of the datasources taken over from the previous runtime.
    pub fn reused(&self) -> &[String] {
        &self.reused
    }

    fn build_datasource(
        ds: &DatasourceConfig,
        previous: Option<&DatasourceRuntime>,
    ) -> Result<(DatasourceRuntime, Vec<crate::plugin::PluginStatus>), RuntimeError> {
        let label = ds.datasource_label();
        let factory = DescFactory::new(Some(&label), &ds.labels);
        let mut collectors = Vec::new();
        let mut plugin_statuses = Vec::new();
        if ds.enabled {
            for d in registered() {
                if !collector_enabled(d, ds) {
                    continue;
                }
                let collector = match (d.factory)(ds) {
                    Ok(c) => c,
                    Err(error) => {
                        tracing::warn!(datasource = %ds.name, collector = d.name, error = %error, "Collector disabled.");
                        continue;
                    }
                };
                let ttl = match d.cache {
                    CacheClass::None => None,
                    CacheClass::BigKey => Some(ds.big_key_data_cache_time),
                };
                collectors.push(collector_runtime(&factory, ds, d.name, collector, ttl)?);
            }
            // Custom metrics of this datasource (core/src/custom.rs): adapted to the same
            // Collector trait, same const labels and self-metrics as built-ins.
            // Site plugins of this datasource (core/src/plugin/), adapted the same way.
            let (plugins, statuses) = crate::plugin::collectors(ds);
            plugin_statuses = statuses;
            let extras = crate::custom::collectors(ds).into_iter().chain(plugins);
            for extra in extras {
                let mut c =
                    collector_runtime(&factory, ds, &extra.name, extra.collector, extra.cache_ttl)?;
                c.pool = extra.pool;
                collectors.push(c);
            }
        }
        let pool = match previous {
            Some(p) => p.pool.clone(),
            None if ds.enabled => Some(DatasourcePool::new(ds)?),
            None => None,
        };
        let n = &ds.name;
        let built = DatasourceRuntime {
            self_templates: SelfTemplates {
                up: template(&factory, &UP, n, "self")?,
                success: template(&factory, &COLLECTOR_SUCCESS, n, "self")?,
                skipped: template(&factory, &COLLECTOR_SKIPPED, n, "self")?,
                duration: template(&factory, &COLLECTOR_DURATION, n, "self")?,
                scrape: template(&factory, &SCRAPE_DURATION, n, "self")?,
                last_success: template(&factory, &LAST_SUCCESS, n, "self")?,
            },
            config: ds.clone(),
            shared_config: Arc::new(ds.clone()),
            label,
            pool,
            health: previous
                .map_or_else(|| Arc::new(Health::new(ds.enabled)), |p| Arc::clone(&p.health)),
            collectors,
            last_success: Mutex::new(previous.and_then(|p| *lock(&p.last_success))),
            last_scrape: Mutex::new(None),
            inflight: Mutex::new(Vec::new()),
            close_pool_on_drop: AtomicBool::new(false),
            first_check: previous.map_or_else(
                || Arc::new(tokio::sync::watch::Sender::new(false)),
                |p| Arc::clone(&p.first_check),
            ),
        };
        Ok((built, plugin_statuses))
    }

    /// The datasources, in config order.
    pub fn datasources(&self) -> &[Arc<DatasourceRuntime>] {
        &self.datasources
    }

    /// Global settings.
    pub fn global(&self) -> &GlobalConfig {
        &self.global
    }

    /// Starts one health-check task per enabled datasource. The first check runs at once;
    /// the runtime reports ready when every first check has finished.
    pub fn start_health_checks(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = Vec::new();
        let pending = Arc::new(AtomicU64::new(0));
        for ds in self.datasources.iter().filter(|d| d.pool.is_some()) {
            pending.fetch_add(1, Ordering::SeqCst);
            let ds = Arc::clone(ds);
            let rt = Arc::clone(self);
            let pending = Arc::clone(&pending);
            // A root span: health tasks started by `POST /-/reload` must not log under the
            // request's span for the rest of their life.
            let span = tracing::info_span!(parent: None, "health", datasource = %ds.config.name);
            handles.push(tokio::spawn(
                async move {
                    let mut first = true;
                    loop {
                        let healthy = ds.health.state() == HealthState::Healthy;
                        if first || !healthy || rt.global.enable_health_ping {
                            check_once(&ds).await;
                        }
                        if first {
                            first = false;
                            ds.first_check.send_replace(true);
                            if pending.fetch_sub(1, Ordering::SeqCst) == 1 {
                                rt.ready.store(true, Ordering::SeqCst);
                            }
                        }
                        tokio::time::sleep(ds.health.next_delay(rt.global.retry_interval)).await;
                    }
                }
                .instrument(span),
            ));
        }
        if handles.is_empty() {
            self.ready.store(true, Ordering::SeqCst);
        }
        handles
    }

    /// Validates a scrape request: the target exists, the collector names are known,
    /// `collect[]` and `exclude[]` are not mixed. The deadline is
    /// `X-Prometheus-Scrape-Timeout-Seconds` × `scrapeTimeoutFactor` when Prometheus sent
    /// it, capped by `globalTimeoutSeconds` in `fast` mode.
    pub fn plan(&self, req: &ScrapeRequest) -> Result<ScrapePlan, ScrapeError> {
        if let Some(t) = &req.target {
            if !self.datasources.iter().any(|d| d.config.name == *t && d.config.enabled) {
                return Err(ScrapeError::UnknownTarget(t.clone()));
            }
        }
        if !req.collect.is_empty() && !req.exclude.is_empty() {
            return Err(ScrapeError::BadRequest(
                "use either collect[] or exclude[], not both".to_owned(),
            ));
        }
        let known = |name: &str| {
            registered().iter().any(|d| d.name == name)
                || self.datasources.iter().any(|d| d.collectors.iter().any(|c| c.name == name))
        };
        if let Some(bad) = req.collect.iter().chain(&req.exclude).find(|n| !known(n)) {
            return Err(ScrapeError::BadRequest(format!(
                "unknown collector `{bad}` in collect[]/exclude[] (see --list-collectors)"
            )));
        }
        let now = Instant::now();
        let factor = self.global.scrape_timeout_factor;
        let factor = if factor.is_finite() { factor.clamp(0.01, 1.0) } else { 1.0 };
        // `mul_f64` panics when the product overflows: clamp the header's value first.
        let from_prometheus = req.scrape_timeout.map(|t| t.min(MAX_SCRAPE_BUDGET).mul_f64(factor));
        let fast = match self.global.collection_mode {
            CollectionMode::Fast => Some(self.global.global_timeout),
            CollectionMode::Blocking => None,
        };
        let budget = match (from_prometheus, fast) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(ScrapePlan {
            target: req.target.clone(),
            filter: Arc::new(CollectorFilter {
                collect: req.collect.clone(),
                exclude: req.exclude.clone(),
            }),
            deadline: budget.map(|b| deadline_after(now, b)),
        })
    }

    /// Runs one scrape as planned and returns its families (not yet encoded).
    pub async fn scrape(&self, plan: &ScrapePlan) -> FamilySet {
        let deadline = plan.deadline;
        let filter = &plan.filter;
        let mut order: Vec<Arc<DatasourceRuntime>> = self
            .datasources
            .iter()
            .filter(|d| d.config.enabled)
            .filter(|d| plan.target.as_ref().is_none_or(|t| *t == d.config.name))
            .cloned()
            .collect();
        order.sort_by_key(|d| d.config.priority);
        let results: Vec<Arc<DatasourceResult>> = match self.global.collect_strategy {
            CollectStrategy::Serial => {
                let mut out = Vec::new();
                for ds in &order {
                    out.push(scrape_shared(ds, deadline, filter).await);
                }
                out
            }
            CollectStrategy::Concurrent => {
                join_all(order.iter().map(|ds| scrape_shared(ds, deadline, filter))).await
            }
            CollectStrategy::Hybrid => {
                let mut groups: Vec<Vec<Arc<DatasourceRuntime>>> = Vec::new();
                for ds in order {
                    match groups.last_mut() {
                        Some(g) if g[0].config.priority == ds.config.priority => g.push(ds),
                        _ => groups.push(vec![ds]),
                    }
                }
                let group_timeout = self.global.group_timeout;
                let per_group = groups.into_iter().map(|g| async move {
                    let gd = deadline_after(Instant::now(), group_timeout);
                    let d = Some(deadline.map_or(gd, |d| d.min(gd)));
                    join_all(g.iter().map(|ds| scrape_shared(ds, d, filter))).await
                });
                futures::stream::iter(per_group)
                    .buffered(self.global.max_concurrent_groups.max(1))
                    .collect::<Vec<_>>()
                    .await
                    .into_iter()
                    .flatten()
                    .collect()
            }
        };
        let mut set = FamilySet::new();
        for r in &results {
            r.add_to(&mut set);
        }
        let b = &self.build_info;
        set.add(
            &self.build_template,
            &[
                b.version.clone(),
                b.revision.clone(),
                b.branch.clone(),
                b.rustversion.clone(),
                std::env::consts::OS.to_owned(),
                std::env::consts::ARCH.to_owned(),
            ],
            1.0,
        );
        let dups = set.duplicates();
        if dups > 0 {
            tracing::warn!(count = dups, "Dropped duplicate series.");
        }
        let total = self.duplicates_total.fetch_add(dups, Ordering::Relaxed) + dups;
        set.add(&self.duplicates_template, &[], total as f64);
        set
    }

    /// Status-page rows, in config order.
    pub fn statuses(&self) -> Vec<DatasourceStatus> {
        self.datasources.iter().map(|d| d.status()).collect()
    }

    /// True once every datasource has had its first health check.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Closes the pools of datasources that `next` did not take over, each once the last
    /// scrape still running on this runtime's datasource has finished (when its last `Arc`
    /// goes): a reload never closes a pool under an in-flight scrape.
    pub fn close_unused_pools(&self, next: &Runtime) {
        for ds in &self.datasources {
            if !next.reused.contains(&ds.config.name) && ds.pool.is_some() {
                tracing::debug!(datasource = %ds.config.name, "Connection pool replaced; it closes when its last scrape finishes.");
                ds.close_pool_on_drop.store(true, Ordering::SeqCst);
            }
        }
    }
}

/// One health check: check out a connection and run `SELECT 1 FROM DUAL`.
async fn check_once(ds: &Arc<DatasourceRuntime>) {
    let Some(pool) = ds.pool.clone() else { return };
    let timeout = ds.config.query_timeout;
    let secs = usize::try_from(timeout.as_secs().max(1)).unwrap_or(300);
    pool.close_idle();
    let ping = |pool: DatasourcePool| async move {
        let mut guard = pool.get(timeout).await?;
        tokio::task::spawn_blocking(move || {
            guard.query("SELECT 1 FROM DUAL", Some(secs), Some(1)).map(|_| ())
        })
        .await
        .map_err(|join| QueryError::Connection(format!("health check task failed: {join}")))?
    };
    let bound = timeout.saturating_mul(2).saturating_add(Duration::from_secs(1));
    let run = |pool: DatasourcePool| async move {
        match tokio::time::timeout(bound, ping(pool)).await {
            Ok(r) => r,
            Err(_) => Err(QueryError::Timeout(timeout.saturating_mul(2))),
        }
    };
    let mut result = run(pool.clone()).await;
    if let Err(e) = &result {
        // A pooled connection that died (server restart, killed session) is not a down
        // datasource: drop the idle connections and try once with a fresh one. Never after
        // a failed login (DM locks accounts).
        if e.is_connection_level()
            && !e.is_login_failure()
            && ds.health.state() == HealthState::Healthy
        {
            pool.clear_idle();
            result = run(pool).await;
        }
    }
    match result {
        Ok(()) => apply(ds, ds.health.success()),
        Err(e) if e.is_connection_level() || matches!(e, QueryError::Timeout(_)) => {
            connection_failed(ds, &e);
        }
        // The connection works but the ping query failed (e.g. no DUAL): still reachable.
        Err(e) => {
            tracing::debug!(datasource = %ds.config.name, error = %e, "Ping query failed on a working connection.");
            apply(ds, ds.health.success());
        }
    }
}

/// Records a connection-level failure: the datasource turns unhealthy and its idle
/// connections are dropped. A failed login ([`QueryError::is_login_failure`]) backs off longer.
fn connection_failed(ds: &DatasourceRuntime, error: &QueryError) {
    if let Some(p) = &ds.pool {
        p.clear_idle();
    }
    apply(ds, ds.health.failure(error.to_string(), error.is_login_failure()));
}

fn apply(ds: &DatasourceRuntime, t: Transition) {
    match t {
        Transition::None => {}
        Transition::Up => {
            tracing::info!(datasource = %ds.config.name, "Datasource is healthy.");
        }
        Transition::Down(error) => {
            tracing::error!(datasource = %ds.config.name, error = %error, "Datasource is unreachable.");
        }
    }
}

struct CollectorResult {
    name: String,
    templates: Arc<Vec<MetricTemplate>>,
    samples: Arc<Vec<Sample>>,
    /// Ran and did its job, or was skipped (`skipped`): `collector_success` 1.
    success: bool,
    /// Why the collector was skipped this scrape (then `success` is true).
    skipped: Option<SkipReason>,
    duration: Duration,
}

struct DatasourceResult {
    ds: Arc<DatasourceRuntime>,
    up: bool,
    collectors: Vec<CollectorResult>,
    duration: Duration,
}

impl DatasourceResult {
    fn add_to(&self, set: &mut FamilySet) {
        let t = &self.ds.self_templates;
        set.add(&t.up, &[], if self.up { 1.0 } else { 0.0 });
        if !self.up {
            // Only exporter-side state (plugin and custom metrics load status) while down.
            for c in &self.collectors {
                for s in c.samples.iter() {
                    if let Some(tpl) = c.templates.get(s.metric) {
                        set.add(tpl, &s.labels, s.value);
                    }
                }
            }
            return;
        }
        for c in &self.collectors {
            for s in c.samples.iter() {
                match c.templates.get(s.metric) {
                    Some(tpl) => {
                        set.add(tpl, &s.labels, s.value);
                    }
                    None => tracing::warn!(
                        datasource = %self.ds.config.name, collector = %c.name,
                        index = s.metric, "Sample for an undeclared metric dropped."
                    ),
                }
            }
            let name = std::slice::from_ref(&c.name);
            set.add(&t.success, name, if c.success { 1.0 } else { 0.0 });
            if let Some(reason) = c.skipped {
                set.add(&t.skipped, &[c.name.clone(), reason.as_str().to_owned()], 1.0);
            }
            set.add(&t.duration, name, c.duration.as_secs_f64());
        }
        set.add(&t.scrape, &[], self.duration.as_secs_f64());
        if let Some(ts) = *self.ds.last_success.lock().unwrap_or_else(|e| e.into_inner()) {
            set.add(&t.last_success, &[], ts);
        }
    }
}

/// How much later than a scrape's own deadline a collection it joins may end: two
/// Prometheus servers (or `/metrics` and `/probe`) with the same timeout arriving together
/// share, a scrape with a much longer budget never keeps a short one waiting.
///
/// A twentieth of the scrape's remaining budget, between 10 ms and 250 ms.
fn join_slack(now: Instant, deadline: Instant) -> Duration {
    (deadline.saturating_duration_since(now) / 20)
        .clamp(Duration::from_millis(10), Duration::from_millis(250))
}

/// True when a scrape due at `mine` may share a collection in flight due at `theirs`:
/// neither earlier (it would cut this scrape's collectors short) nor much later (it would
/// keep this scrape past its own deadline). Scrapes without a deadline share only with each
/// other.
fn compatible_deadline(now: Instant, mine: Option<Instant>, theirs: Option<Instant>) -> bool {
    match (mine, theirs) {
        (None, None) => true,
        (Some(mine), Some(theirs)) => {
            theirs >= mine && theirs.saturating_duration_since(mine) <= join_slack(now, mine)
        }
        _ => false,
    }
}

/// Scrapes one datasource, sharing the collection with an overlapping scrape already
/// running when it has the same collector filter and a compatible deadline
/// ([`compatible_deadline`]). Each waiter still stops at its own deadline (plus the join
/// slack): then it answers with every collector of its filter failed, and the shared
/// collection goes on for the others.
async fn scrape_shared(
    ds: &Arc<DatasourceRuntime>,
    deadline: Option<Instant>,
    filter: &Arc<CollectorFilter>,
) -> Arc<DatasourceResult> {
    use futures::FutureExt as _;
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let key = filter.key();
    let now = Instant::now();
    let (id, shared) = {
        let mut inflight = lock(&ds.inflight);
        // A collection past its deadline takes no one new (its entry would otherwise stay
        // when every waiter of it was dropped, e.g. clients that disconnected).
        inflight.retain(|f| f.deadline.is_none_or(|d| d >= now));
        match inflight
            .iter()
            .find(|f| f.key == key && compatible_deadline(now, deadline, f.deadline))
        {
            Some(f) => {
                tracing::debug!(datasource = %ds.config.name, "Joining a collection in flight.");
                (f.id, f.result.clone())
            }
            None => {
                let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
                let (ds2, filter2) = (Arc::clone(ds), Arc::clone(filter));
                let f = async move {
                    let r = Arc::new(scrape_datasource(&ds2, deadline, &filter2).await);
                    lock(&ds2.inflight).retain(|f| f.id != id);
                    r
                }
                .boxed()
                .shared();
                inflight.push(InFlight { id, key, deadline, result: f.clone() });
                (id, f)
            }
        }
    };
    let Some(deadline) = deadline else {
        return shared.await;
    };
    // The collection's collectors stop at its deadline (at most the slack after this one's)
    // and answer 50 ms later at worst; this bound only guards against a collection that
    // does not (then this scrape reports its collectors failed instead of hanging).
    let give_up = deadline_after(deadline, join_slack(now, deadline) + Duration::from_millis(100));
    match tokio::time::timeout_at(tokio::time::Instant::from_std(give_up), shared).await {
        Ok(r) => r,
        Err(_) => {
            lock(&ds.inflight).retain(|f| f.id != id);
            tracing::warn!(datasource = %ds.config.name, "Shared collection still running at this scrape's deadline; its collectors count as failed.");
            Arc::new(timed_out_result(ds, filter, now.elapsed()))
        }
    }
}

/// The result of a scrape that gave up waiting: every collector of `filter` failed.
fn timed_out_result(
    ds: &Arc<DatasourceRuntime>,
    filter: &CollectorFilter,
    duration: Duration,
) -> DatasourceResult {
    let collectors = ds
        .collectors
        .iter()
        .filter(|c| filter.allows(&c.name))
        .map(|c| CollectorResult {
            name: c.name.clone(),
            templates: Arc::clone(&c.templates),
            samples: Arc::new(Vec::new()),
            success: false,
            skipped: None,
            duration,
        })
        .collect();
    DatasourceResult {
        ds: Arc::clone(ds),
        up: ds.health.state() == HealthState::Healthy,
        collectors,
        duration,
    }
}

async fn scrape_datasource(
    ds: &Arc<DatasourceRuntime>,
    deadline: Option<Instant>,
    filter: &CollectorFilter,
) -> DatasourceResult {
    let started = Instant::now();
    let span = tracing::debug_span!("scrape", datasource = %ds.config.name);
    let mut result = DatasourceResult {
        ds: Arc::clone(ds),
        up: false,
        collectors: Vec::new(),
        duration: Duration::ZERO,
    };
    if ds.pool.is_some() && !ds.health.checked() {
        let wait = per_collector_budget(ds).saturating_add(Duration::from_secs(1));
        let wait = deadline.map_or(wait, |d| wait.min(d.saturating_duration_since(Instant::now())));
        let mut rx = ds.first_check.subscribe();
        let _ = tokio::time::timeout(wait, rx.wait_for(|done| *done)).await;
    }
    if ds.pool.is_none() || !ds.health.should_scrape() {
        // Down: only the collectors that report exporter-side state (plugin and custom
        // metrics load status) still run.
        for c in ds.collectors.iter().filter(|c| !c.collector.needs_connection()) {
            if filter.allows(&c.name) {
                result.collectors.push(run_offline(
                    ds,
                    c,
                    deadline_after(Instant::now(), per_collector_budget(ds)),
                ));
            }
        }
        result.duration = started.elapsed();
        return result;
    }
    // Per collector: the query timeout plus the time to get a connection, within the deadline.
    let per_collector = per_collector_budget(ds);
    let queues = RunQueues::default();
    let futures = ds.collectors.iter().filter(|c| filter.allows(&c.name)).map(|c| {
        let ds = Arc::clone(ds);
        let queues = &queues;
        let span = tracing::debug_span!(parent: &span, "collect", collector = %c.name);
        async move {
            let collector_deadline = deadline_after(Instant::now(), per_collector);
            let until = deadline.map_or(collector_deadline, |d| d.min(collector_deadline));
            run_collector(&ds, c, until, queues).await
        }
        .instrument(span)
    });
    result.collectors = join_all(futures).await;
    // A collector's success marks an unchecked datasource healthy; a connection-level
    // failure marks it unhealthy. Query errors and timeouts leave the state alone.
    result.up = ds.health.state() == HealthState::Healthy;
    result.duration = started.elapsed();
    *lock(&ds.last_scrape) = Some(result.duration.as_secs_f64());
    if result.up && result.collectors.iter().all(|c| c.success) {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        *ds.last_success.lock().unwrap_or_else(|e| e.into_inner()) = Some(now.floor());
    }
    result
}

async fn run_collector(
    ds: &Arc<DatasourceRuntime>,
    c: &CollectorRuntime,
    until: Instant,
    queues: &RunQueues,
) -> CollectorResult {
    let started = Instant::now();
    let out = CollectorResult {
        name: c.name.clone(),
        templates: Arc::clone(&c.templates),
        samples: Arc::new(Vec::new()),
        success: false,
        skipped: None,
        duration: Duration::ZERO,
    };
    let last_good =
        || c.last_good.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    if let (Some(ttl), Some((at, samples))) = (c.cache_ttl, last_good()) {
        if at.elapsed() < ttl {
            return CollectorResult { samples, success: true, duration: started.elapsed(), ..out };
        }
    }
    let mut out = run_collector_uncached(ds, c, until, started, out, queues).await;
    if c.cache_ttl.is_some() {
        if out.success {
            *c.last_good.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some((Instant::now(), Arc::clone(&out.samples)));
        } else if let Some((_, samples)) = last_good() {
            // A cached collector serves its last good value; its success stays 0.
            out.samples = samples;
        }
    }
    out
}

/// Per collector: the query timeout plus the time to get a connection (within the deadline).
fn per_collector_budget(ds: &DatasourceRuntime) -> Duration {
    ds.config.query_timeout.saturating_mul(2)
}

/// The longest budget a scrape, a group or a collector gets: a larger one (a huge
/// `X-Prometheus-Scrape-Timeout-Seconds`, a huge `queryTimeout`) is cut to this, so that
/// deadline arithmetic never overflows.
pub const MAX_SCRAPE_BUDGET: Duration = Duration::from_secs(24 * 60 * 60);

/// `now + budget` with the budget clamped to [`MAX_SCRAPE_BUDGET`]; never panics (on a
/// platform whose `Instant` cannot go that far, the furthest of 1 day, 1 hour, 1 s, now).
pub fn deadline_after(now: Instant, budget: Duration) -> Instant {
    [budget.min(MAX_SCRAPE_BUDGET), Duration::from_secs(3600), Duration::from_secs(1)]
        .into_iter()
        .find_map(|b| now.checked_add(b))
        .unwrap_or(now)
}

/// Runs a collector that needs no connection, on the calling task (it does no I/O).
fn run_offline(ds: &DatasourceRuntime, c: &CollectorRuntime, until: Instant) -> CollectorResult {
    let started = Instant::now();
    let mut ctx = OfflineContext { config: &ds.config, until };
    let mut samples = Vec::new();
    let success = match c.collector.collect(&mut ctx, &mut samples) {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(datasource = %ds.config.name, collector = %c.name, error = %error, "Collector failed.");
            false
        }
    };
    CollectorResult {
        name: c.name.clone(),
        templates: Arc::clone(&c.templates),
        samples: Arc::new(samples),
        success,
        skipped: None,
        duration: started.elapsed(),
    }
}

/// The context of a collector that needs no connection.
struct OfflineContext<'a> {
    config: &'a DatasourceConfig,
    until: Instant,
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

/// Logs, once per skip, why a collector is skipped and (for a permission error) what to grant.
fn log_skip(
    ds: &DatasourceRuntime,
    c: &CollectorRuntime,
    reason: SkipReason,
    error: &crate::collector::CollectError,
) {
    let retry = SKIP_RETRY.as_secs() / 60;
    match reason {
        SkipReason::NotApplicable => {
            tracing::info!(datasource = %ds.config.name, collector = %c.name, error = %error, "Collector not applicable to this database; it emits nothing (tried again every {retry} min).");
        }
        SkipReason::Permission => {
            let views = registered().into_iter().find(|d| d.name == c.name).map_or("", |d| d.views);
            // With odbcConnectionString the user is inside the string: a placeholder.
            let user = if ds.config.db_user.is_empty() { "<dbUser>" } else { &ds.config.db_user };
            let grants = crate::collector::grant_statements(views, &error.to_string(), user);
            let grant = if grants.is_empty() {
                "grant SELECT on the objects it reads".to_owned()
            } else {
                grants.join(" ")
            };
            let dba = if views.contains("SYSJOB.") {
                " (DM documents the SYSJOB tables as readable by DBA users only)"
            } else {
                ""
            };
            tracing::warn!(datasource = %ds.config.name, collector = %c.name, error = %error, "Collector skipped (tried again every {retry} min): user {user} may not read its objects; to enable it: {grant}{dba}");
        }
    }
}

async fn run_collector_uncached(
    ds: &Arc<DatasourceRuntime>,
    c: &CollectorRuntime,
    until: Instant,
    started: Instant,
    mut out: CollectorResult,
    queues: &RunQueues,
) -> CollectorResult {
    if !c.collector.needs_connection() {
        return run_offline(ds, c, until);
    }
    if ds.pool.is_none() {
        return out;
    }
    let Some(pool) = c.pool.clone().or_else(|| ds.pool.clone()) else {
        return out;
    };
    if !ds.health.should_scrape() {
        // Another collector of this scrape found the datasource unreachable: do not try to
        // log in again.
        out.duration = started.elapsed();
        return out;
    }
    if let Some((reason, retry_at)) = *lock(&c.skip) {
        if Instant::now() < retry_at {
            // Skipped (no permission, not applicable): no query until the retry time.
            out.success = true;
            out.skipped = Some(reason);
            out.duration = started.elapsed();
            return out;
        }
    }
    let (reply, outcome) = tokio::sync::oneshot::channel();
    let queue = queues.queue(ds, &pool);
    queue.push(Job { collector: Arc::clone(&c.collector), until, reply, retried: false });
    let remaining = until.saturating_duration_since(Instant::now());
    let outcome = tokio::time::timeout(remaining + Duration::from_millis(50), outcome);
    tokio::pin!(outcome);
    // The fan-out timer lives in this future: when the answer comes first (a fast
    // datasource), it is dropped without ever firing or waking a thread.
    let outcome = tokio::select! {
        biased;
        r = &mut outcome => r,
        () = tokio::time::sleep_until(queue.fan_out_at) => {
            queue.fan_out();
            outcome.await
        }
    };
    drop(queue);
    match outcome {
        Ok(Ok(JobOutcome::Ran(Ok(()), samples))) => {
            out.samples = Arc::new(samples);
            out.success = true;
            if let Some((reason, _)) = lock(&c.skip).take() {
                tracing::info!(datasource = %ds.config.name, collector = %c.name, reason = reason.as_str(), "Collector runs again after being skipped.");
            }
        }
        Ok(Ok(JobOutcome::Ran(Err(error), _))) if SkipReason::of(&error).is_some() => {
            // No permission, or a view or schema this DM build or topology does not have:
            // not a failure; skipped, and tried again after SKIP_RETRY.
            let reason = SkipReason::of(&error).unwrap_or(SkipReason::NotApplicable);
            out.success = true;
            out.skipped = Some(reason);
            let previous = lock(&c.skip).replace((reason, Instant::now() + SKIP_RETRY));
            if previous.map(|(r, _)| r) != Some(reason) {
                log_skip(ds, c, reason, &error);
            }
        }
        Ok(Ok(JobOutcome::Ran(Err(error), _))) => {
            tracing::warn!(datasource = %ds.config.name, collector = %c.name, error = %error, "Collector failed.");
        }
        Ok(Ok(JobOutcome::Panicked(error))) => {
            tracing::error!(datasource = %ds.config.name, collector = %c.name, error = %error, "Collector panicked.");
        }
        Ok(Ok(JobOutcome::NoConnection(error))) => {
            tracing::warn!(datasource = %ds.config.name, collector = %c.name, error = %error, "Collector got no connection.");
        }
        Ok(Ok(JobOutcome::NotRun)) | Ok(Err(_)) => {
            tracing::debug!(datasource = %ds.config.name, collector = %c.name, "Collector not run: its deadline passed or the datasource became unreachable first.");
        }
        Err(_) => {
            tracing::warn!(datasource = %ds.config.name, collector = %c.name, "Collector timed out.");
        }
    }
    if out.success && !ds.health.checked() {
        apply(ds, ds.health.success());
    }
    out.duration = started.elapsed();
    out
}

/// How long the collectors of one datasource (and pool) run one after another on a single
/// connection before the ones still waiting fan out over the pool.
///
/// Most scrapes of a nearby database finish inside this: one pool checkout, one hand-off to
/// a blocking thread and one connection for the whole datasource instead of one each per
/// collector (the per-collector hand-offs were the largest cost left after the SQL itself,
/// see BENCHMARKS.md). When a query waits on the database (a slow view, a remote server),
/// the rest of the queue is spread over up to `maxOpenConns` connections at once, so a
/// datasource's scrape takes at most this much longer than running every collector
/// concurrently from the start.
const FAN_OUT_AFTER: Duration = Duration::from_millis(5);

/// [`FAN_OUT_AFTER`], or `DMEXP_FAN_OUT_AFTER_MS` from the environment (read once; for
/// tests and experiments: a large value keeps every datasource on its first workers).
fn fan_out_after() -> Duration {
    static AFTER: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *AFTER.get_or_init(|| {
        std::env::var("DMEXP_FAN_OUT_AFTER_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(FAN_OUT_AFTER, |ms| Duration::from_millis(ms).min(MAX_SCRAPE_BUDGET))
    })
}

/// Workers a datasource's queue starts with (per pool), before [`FAN_OUT_AFTER`].
const START_WORKERS: usize = 2;

/// A collector waiting in a datasource's run queue for a connection.
struct Job {
    collector: Arc<dyn Collector>,
    until: Instant,
    reply: tokio::sync::oneshot::Sender<JobOutcome>,
    /// The job already failed once with a connection-level error and is being retried on a
    /// fresh connection (M1: a connection killed while idle is not a down datasource).
    retried: bool,
}

/// What became of a [`Job`].
enum JobOutcome {
    /// The collector ran.
    Ran(Result<(), crate::collector::CollectError>, Vec<Sample>),
    /// The collector panicked (its connection is closed).
    Panicked(String),
    /// No connection could be had for it.
    NoConnection(String),
    /// Not started: its deadline passed, or the datasource was found unreachable first.
    NotRun,
}

/// The run queues of one scrape of one datasource, one per pool.
#[derive(Default)]
struct RunQueues(Mutex<Vec<Arc<RunQueue>>>);

impl RunQueues {
    fn queue(&self, ds: &Arc<DatasourceRuntime>, pool: &DatasourcePool) -> Arc<RunQueue> {
        let mut queues = lock(&self.0);
        if let Some(q) = queues.iter().find(|q| q.pool.id() == pool.id()) {
            return Arc::clone(q);
        }
        let q = Arc::new(RunQueue {
            ds: Arc::clone(ds),
            pool: pool.clone(),
            state: Mutex::new(QueueState::default()),
            fan_out_at: tokio::time::Instant::from_std(deadline_after(
                Instant::now(),
                fan_out_after(),
            )),
        });
        queues.push(Arc::clone(&q));
        q
    }
}

/// Collectors of one datasource that share a pool, served by workers: a worker checks out a
/// connection and runs queued collectors one after another on one blocking thread until the
/// queue is empty. One worker starts with the first job; [`FAN_OUT_AFTER`] later, jobs still
/// queued get a worker each (up to the pool size).
struct RunQueue {
    ds: Arc<DatasourceRuntime>,
    pool: DatasourcePool,
    state: Mutex<QueueState>,
    /// When jobs still queued fan out ([`FAN_OUT_AFTER`] after the queue was made).
    fan_out_at: tokio::time::Instant,
}

#[derive(Default)]
struct QueueState {
    jobs: std::collections::VecDeque<Job>,
    /// Live workers. A worker leaves only under the lock with the queue empty, so a job is
    /// never left without one.
    workers: usize,
}

/// How long a worker whose extra connection was refused waits before trying again.
const BUSY_RETRY: Duration = Duration::from_millis(500);

/// A collector that returns this long after its deadline has its connection discarded.
const OVERRUN_DISCARD: Duration = Duration::from_secs(1);

/// What a worker does without a connection (see [`RunQueue::no_connection`]).
enum NoConnection {
    /// Leave the queue to its other workers (already counted out).
    Leave,
    /// Wait a little and try again: other connections of the pool are alive.
    Retry,
    /// The pool is busy: the job at the front gives up.
    Busy,
    /// Answer every queued job; `down`: the datasource is unreachable.
    FailAll {
        /// Mark the datasource down.
        down: bool,
    },
}

/// What a worker's blocking run ended with.
enum WorkerEnd {
    /// The queue is empty; the worker is gone.
    Done,
    /// The connection broke; jobs remain, so the worker needs a new connection.
    Reconnect,
    /// The connection died under this job (connection-level error): run it once more on a
    /// connection opened after the instant given.
    Retry(Box<Job>, Instant),
}

impl RunQueue {
    fn push(self: &Arc<Self>, job: Job) {
        let mut st = lock(&self.state);
        st.jobs.push_back(job);
        if st.workers < START_WORKERS.min(self.pool.max_open()) {
            st.workers += 1;
            tokio::spawn(Arc::clone(self).worker());
        }
    }

    /// Gives every job still queued a worker of its own, up to the pool size.
    fn fan_out(self: &Arc<Self>) {
        let mut st = lock(&self.state);
        let more = st.jobs.len().min(self.pool.max_open().saturating_sub(st.workers));
        st.workers += more;
        drop(st);
        for _ in 0..more {
            tokio::spawn(Arc::clone(self).worker());
        }
    }

    /// `take` applied to the queue, or, when it finds nothing, `None` after leaving the
    /// queue (the caller must stop). One lock, so no job is queued between the two.
    fn take_or_leave<T>(
        &self,
        take: impl FnOnce(&mut std::collections::VecDeque<Job>) -> Option<T>,
    ) -> Option<T> {
        let mut st = lock(&self.state);
        let taken = take(&mut st.jobs);
        if taken.is_none() {
            st.workers -= 1;
        }
        taken
    }

    /// Answers every queued job with `outcome` and leaves the queue.
    fn fail_all_and_leave(&self, outcome: impl Fn() -> JobOutcome) {
        let mut st = lock(&self.state);
        for job in st.jobs.drain(..) {
            let _ = job.reply.send(outcome());
        }
        st.workers -= 1;
    }

    /// What a worker does when it cannot get a connection.
    fn no_connection(&self, error: &QueryError) -> NoConnection {
        if error.is_pool_busy() {
            return NoConnection::Busy;
        }
        let connect_failed = matches!(error, QueryError::Pool(PoolError::Connect { .. }));
        if connect_failed && error.is_connection_level() {
            // M2: other connections of this pool are alive, so the database is up and
            // this was a refused *extra* session.
            let mut st = lock(&self.state);
            if st.workers > 1 {
                // Other workers of this queue serve its jobs.
                st.workers -= 1;
                return NoConnection::Leave;
            }
            drop(st);
            if self.pool.open_connections() > 0 && !error.is_login_failure() {
                return NoConnection::Retry;
            }
        }
        NoConnection::FailAll { down: error.is_connection_level() }
    }

    /// One worker: a connection, then the queue on a blocking thread; a new connection if
    /// that one broke while jobs remain.
    async fn worker(self: Arc<Self>) {
        let ds = &self.ds;
        // A job whose connection failed, to run again on a connection opened after `since`.
        let mut retry: Option<(Job, Instant)> = None;
        loop {
            let until = match &retry {
                Some((job, _)) => job.until,
                None => match self.take_or_leave(|jobs| jobs.front().map(|j| j.until)) {
                    Some(until) => until,
                    None => return,
                },
            };
            if !ds.health.should_scrape() {
                if let Some((job, _)) = retry.take() {
                    let _ = job.reply.send(JobOutcome::NotRun);
                }
                return self.fail_all_and_leave(|| JobOutcome::NotRun);
            }
            let wait = until.saturating_duration_since(Instant::now()).min(ds.config.query_timeout);
            let got = match &retry {
                Some((_, since)) => self.fresh_connection(wait, *since).await,
                None => self.pool.get(wait).await,
            };
            let guard = match got {
                Ok(g) => g,
                Err(error) if retry.is_some() => {
                    // The retry of a job whose connection died found no fresh connection.
                    let down = error.is_connection_level() && !error.is_pool_busy();
                    if down {
                        connection_failed(ds, &error);
                    }
                    if let Some((job, _)) = retry.take() {
                        let _ = job.reply.send(JobOutcome::NoConnection(error.to_string()));
                    }
                    if down {
                        let msg = error.to_string();
                        return self.fail_all_and_leave(|| JobOutcome::NoConnection(msg.clone()));
                    }
                    continue;
                }
                Err(error) => match self.no_connection(&error) {
                    NoConnection::Leave => return,
                    NoConnection::Retry => {
                        // Another connection of this pool is alive (M2: a per-user session
                        // limit below the pool size): wait for it instead of logging in
                        // again at once, and do not mark the datasource down.
                        let left = until.saturating_duration_since(Instant::now());
                        tokio::time::sleep(left.min(BUSY_RETRY)).await;
                        if left <= BUSY_RETRY {
                            if let Some(job) = lock(&self.state).jobs.pop_front() {
                                let _ = job.reply.send(JobOutcome::NoConnection(error.to_string()));
                            }
                        }
                        continue;
                    }
                    NoConnection::Busy => {
                        // The pool is busy: the job at the front gives up, the rest try again.
                        if let Some(job) = lock(&self.state).jobs.pop_front() {
                            let _ = job.reply.send(JobOutcome::NoConnection(error.to_string()));
                        }
                        continue;
                    }
                    NoConnection::FailAll { down } => {
                        // The database refused or is unreachable: one failed login is
                        // enough for this scrape (DM locks accounts).
                        if down {
                            connection_failed(ds, &error);
                        }
                        let msg = error.to_string();
                        return self.fail_all_and_leave(|| JobOutcome::NoConnection(msg.clone()));
                    }
                },
            };
            let me = Arc::clone(&self);
            let first = retry.take().map(|(job, _)| job);
            match tokio::task::spawn_blocking(move || me.run_jobs(guard, first)).await {
                Ok(WorkerEnd::Done) => return,
                Ok(WorkerEnd::Reconnect) => continue,
                Ok(WorkerEnd::Retry(job, since)) => retry = Some((*job, since)),
                Err(join) => {
                    // run_jobs catches collector panics; this is the runtime shutting down.
                    tracing::error!(datasource = %ds.config.name, error = %join, "Collector worker failed.");
                    return self.fail_all_and_leave(|| JobOutcome::NotRun);
                }
            }
        }
    }

    /// A connection opened after `since` (the moment a pooled connection was found dead):
    /// older ones checked out meanwhile may be dead too (killed together), so they are
    /// closed, at most `maxOpenConns` of them, instead of given to the retried job.
    async fn fresh_connection(
        &self,
        wait: Duration,
        since: Instant,
    ) -> Result<PoolGuard, QueryError> {
        for _ in 0..=self.pool.max_open() {
            let mut guard = self.pool.get(wait).await?;
            if guard.created_at().is_some_and(|t| t >= since) {
                return Ok(guard);
            }
            guard.discard();
            // Closing a connection is a blocking ODBC call.
            let _ = tokio::task::spawn_blocking(move || drop(guard)).await;
        }
        Err(QueryError::Pool(PoolError::TimedOut(wait)))
    }

    /// Runs `first` (a job to retry), then queued jobs on `guard` (blocking) until the
    /// queue is empty or the connection breaks.
    fn run_jobs(&self, mut guard: PoolGuard, mut first: Option<Job>) -> WorkerEnd {
        let ds = &self.ds;
        loop {
            let job = match first.take() {
                Some(job) => job,
                None => match self.take_or_leave(|jobs| jobs.pop_front()) {
                    Some(job) => job,
                    None => return WorkerEnd::Done,
                },
            };
            if job.reply.is_closed() {
                continue; // the scrape gave up on it
            }
            if Instant::now() >= job.until || !ds.health.should_scrape() {
                let _ = job.reply.send(JobOutcome::NotRun);
                continue;
            }
            let mut ctx =
                BlockingContext { guard, config: Arc::clone(&ds.shared_config), until: job.until };
            let mut samples = Vec::new();
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                job.collector.collect(&mut ctx, &mut samples)
            }));
            guard = ctx.guard;
            if Instant::now() > job.until + OVERRUN_DISCARD {
                // The statement outlived its deadline (a driver that ignored both the query
                // timeout and SQLCancel): the scrape stopped waiting long ago, and the
                // connection may be in any state.
                guard.discard();
            }
            let outcome = match ran {
                Ok(Err(crate::collector::CollectError::Query(q)))
                    if q.is_connection_level() && !job.retried =>
                {
                    // M1: the pooled connection died (killed session, DB restart): drop it
                    // and the idle ones, and run the job once more on a fresh connection.
                    // The datasource counts as down only if that connect or run fails too.
                    guard.discard();
                    self.pool.clear_idle();
                    tracing::info!(datasource = %ds.config.name, error = %q, "A pooled connection failed; retrying the collector once on a fresh connection.");
                    return WorkerEnd::Retry(
                        Box::new(Job { retried: true, ..job }),
                        Instant::now(),
                    );
                }
                Ok(r) => {
                    if let Err(crate::collector::CollectError::Query(q)) = &r {
                        if q.is_connection_level() {
                            // Marked here, before the next job, so that it is not tried
                            // on a dead server.
                            connection_failed(ds, q);
                        }
                    }
                    JobOutcome::Ran(r, samples)
                }
                Err(panic) => {
                    guard.discard();
                    let msg = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "panic".to_owned());
                    JobOutcome::Panicked(msg)
                }
            };
            let _ = job.reply.send(outcome);
            if guard.is_discarded() {
                // Jobs left need another connection (the worker leaves if there are none,
                // and answers them at once if the datasource is now marked unreachable).
                return WorkerEnd::Reconnect;
            }
        }
    }
}

/// The [`CollectContext`] given to collectors: one pooled connection for the collector,
/// every query bounded by the collector's deadline (`until`) and the query timeout.
pub(crate) struct BlockingContext {
    guard: PoolGuard,
    config: Arc<DatasourceConfig>,
    until: Instant,
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

    fn timeout_secs(&self) -> usize {
        let t = self.remaining().min(self.config.query_timeout);
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
        let remaining = self.remaining();
        if remaining.is_zero() {
            return Err(QueryError::Timeout(self.config.query_timeout));
        }
        let timeout = remaining.min(timeout.unwrap_or(self.config.query_timeout));
        let secs = usize::try_from(timeout.as_secs_f64().ceil() as u64).unwrap_or(300).max(1);
        self.guard.query(sql, Some(secs), max_rows)
    }

    fn datasource(&self) -> &DatasourceConfig {
        &self.config
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn runtime(global: &str) -> Runtime {
        let text = format!(
            "{global}\n[[datasource]]\nname = \"a\"\n\
             odbcConnectionString = \"Driver={{SQLite3}};Database=/nonexistent/a.db\"\n"
        );
        let config = dmexp_config::load_str(&text, std::path::Path::new("t.toml")).unwrap();
        let info = BuildInfo {
            version: "v0".into(),
            revision: "r".into(),
            branch: "b".into(),
            rustversion: "1".into(),
        };
        Runtime::build(&config, info).unwrap().0
    }

    fn request(timeout: Option<Duration>) -> ScrapeRequest {
        ScrapeRequest { scrape_timeout: timeout, ..ScrapeRequest::default() }
    }

    #[test]
    fn huge_budgets_are_clamped_not_a_panic() {
        for global in ["collectionMode = \"blocking\"", "collectionMode = \"fast\""] {
            let rt = runtime(global);
            for t in
                [Duration::MAX, Duration::from_secs(u64::MAX / 2), Duration::from_secs_f64(1e19)]
            {
                let before = Instant::now();
                let plan = rt.plan(&request(Some(t))).unwrap();
                let d = plan.deadline.unwrap();
                let budget = d.duration_since(before);
                if global.contains("fast") {
                    // fast mode: globalTimeoutSeconds (default 5 s) caps it.
                    assert!(budget <= Duration::from_secs(6), "{global}: {budget:?}");
                } else {
                    assert!(budget <= MAX_SCRAPE_BUDGET + Duration::from_secs(1), "{budget:?}");
                    // × scrapeTimeoutFactor (0.8) of the clamped day.
                    assert!(budget >= MAX_SCRAPE_BUDGET.mul_f64(0.79), "{budget:?}");
                }
            }
        }
    }

    #[test]
    fn the_build_returns_the_plugin_report_as_a_value() {
        let text = "[[datasource]]\nname = \"a\"\n\
             odbcConnectionString = \"Driver={SQLite3};Database=/nonexistent/a.db\"\n\
             [[datasource.plugin]]\npath = \"/nonexistent/libx.so\"\n\
             [[datasource]]\nname = \"off\"\nenabled = false\n\
             odbcConnectionString = \"Driver={SQLite3};Database=/nonexistent/b.db\"\n\
             [[datasource.plugin]]\npath = \"/nonexistent/liby.so\"\n";
        let config = dmexp_config::load_str(text, std::path::Path::new("t.toml")).unwrap();
        let info = BuildInfo {
            version: "v0".into(),
            revision: "r".into(),
            branch: "b".into(),
            rustversion: "1".into(),
        };
        let (rt, report) = Runtime::build(&config, info.clone()).unwrap();
        let st = &report.plugins.statuses;
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].datasource, "a");
        assert_eq!(st[0].plugin, "x");
        let e = st[0].error.as_ref().unwrap();
        assert_eq!(e.kind, crate::plugin::PluginErrorKind::NotFound);
        assert!(e.message.contains("no such file: /nonexistent/libx.so"), "{}", e.message);
        assert_eq!(report.plugins.disabled, ["off"]);
        // A rebuild (reload) reports its own configuration only.
        let plain = dmexp_config::load_str(
            "[[datasource]]\nname = \"a\"\n\
             odbcConnectionString = \"Driver={SQLite3};Database=/nonexistent/a.db\"\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        let (_, again) = Runtime::build_reusing(&plain, info, Some(&rt)).unwrap();
        assert_eq!(again.plugins, crate::plugin::LoadReport::default());
    }

    fn info() -> BuildInfo {
        BuildInfo {
            version: "v0".into(),
            revision: "r".into(),
            branch: "b".into(),
            rustversion: "1".into(),
        }
    }

    fn config(datasources: &[(&str, &str)]) -> Config {
        let mut text = String::new();
        for (name, extra) in datasources {
            text.push_str(&format!(
                "[[datasource]]\nname = \"{name}\"\n\
                 odbcConnectionString = \"Driver={{SQLite3}};Database=/nonexistent/{name}.db\"\n\
                 {extra}\n"
            ));
        }
        dmexp_config::load_str(&text, std::path::Path::new("t.toml")).unwrap()
    }

    fn one(extra: &str) -> DatasourceConfig {
        config(&[("a", extra)]).datasources.remove(0)
    }

    #[test]
    fn same_connection_compares_every_connection_setting_and_nothing_else() {
        let base = one("");
        assert!(same_connection(&base, &one("")));
        // Not connection settings: labels, collectors, priority.
        for extra in ["labels = \"env=x\"", "disabledCollectors = [\"sessions\"]", "priority = 3"] {
            assert!(same_connection(&base, &one(extra)), "{extra}");
        }
        for extra in [
            "queryTimeout = 7",
            "maxOpenConns = 3",
            "maxIdleConns = 1",
            "connMaxLifetime = 5",
            "connectionInitSql = [\"SELECT 1\"]",
            "enabled = false",
        ] {
            assert!(!same_connection(&base, &one(extra)), "{extra}");
        }
        let other = config(&[("a", "")]).datasources.remove(0);
        assert!(same_connection(&base, &other));
        let moved = dmexp_config::load_str(
            "[[datasource]]\nname = \"a\"\n\
             odbcConnectionString = \"Driver={SQLite3};Database=/nonexistent/other.db\"\n",
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        assert!(!same_connection(&base, &moved.datasources[0]));
    }

    #[test]
    fn build_reusing_keeps_the_pool_and_health_of_unchanged_datasources_only() {
        let (old, _) = Runtime::build(&config(&[("a", ""), ("b", ""), ("c", "")]), info()).unwrap();
        // a unchanged, b's query timeout changed, c removed, d added.
        let next = config(&[("a", "labels = \"env=x\""), ("b", "queryTimeout = 9"), ("d", "")]);
        let (new, _) = Runtime::build_reusing(&next, info(), Some(&old)).unwrap();
        assert_eq!(new.reused(), ["a"]);
        let pool = |rt: &Runtime, name: &str| {
            rt.datasources().iter().find(|d| d.name() == name).unwrap().pool().unwrap().id()
        };
        assert_eq!(pool(&new, "a"), pool(&old, "a"));
        assert_ne!(pool(&new, "b"), pool(&old, "b"));
        let health = |rt: &Runtime, name: &str| {
            Arc::clone(&rt.datasources().iter().find(|d| d.name() == name).unwrap().health)
        };
        assert!(Arc::ptr_eq(&health(&new, "a"), &health(&old, "a")));
        assert!(!Arc::ptr_eq(&health(&new, "b"), &health(&old, "b")));
        // The new runtime has the new labels: collectors are always rebuilt.
        let a = new.datasources().iter().find(|d| d.name() == "a").unwrap();
        assert_eq!(a.config().labels, [("env".to_owned(), "x".to_owned())]);
        // Replaced pools are marked to close when the old datasource goes, kept ones not.
        old.close_unused_pools(&new);
        let marked = |name: &str| {
            old.datasources()
                .iter()
                .find(|d| d.name() == name)
                .unwrap()
                .close_pool_on_drop
                .load(Ordering::SeqCst)
        };
        assert!(!marked("a"));
        assert!(marked("b") && marked("c"));
    }

    #[test]
    fn deadline_after_never_overflows() {
        let now = Instant::now();
        assert_eq!(deadline_after(now, Duration::MAX), now + MAX_SCRAPE_BUDGET);
        assert_eq!(deadline_after(now, Duration::from_secs(3)), now + Duration::from_secs(3));
        assert_eq!(deadline_after(now, Duration::ZERO), now);
    }

    #[test]
    fn a_scrape_joins_only_a_collection_due_at_or_shortly_after_its_own_deadline() {
        let now = Instant::now();
        let mine = now + Duration::from_secs(8);
        let at = |ms: u64| Some(mine + Duration::from_millis(ms));
        let before = |ms: u64| Some(mine - Duration::from_millis(ms));
        assert!(compatible_deadline(now, Some(mine), Some(mine)));
        // 8 s left: the slack is 250 ms (8 s / 20 = 400 ms, capped).
        assert!(compatible_deadline(now, Some(mine), at(250)));
        assert!(!compatible_deadline(now, Some(mine), at(251)));
        // An earlier collection would cut this scrape's collectors short.
        assert!(!compatible_deadline(now, Some(mine), before(1)));
        // A tiny-deadline scrape (the poisoning client) never shares with a normal one.
        let tiny = Some(now + Duration::from_micros(1));
        assert!(!compatible_deadline(now, Some(mine), tiny));
        assert!(!compatible_deadline(now, tiny, Some(mine)));
        // Without a deadline: only with each other.
        assert!(compatible_deadline(now, None, None));
        assert!(!compatible_deadline(now, Some(mine), None));
        assert!(!compatible_deadline(now, None, Some(mine)));
        // 1 s left: slack 50 ms.
        let short = now + Duration::from_secs(1);
        assert!(compatible_deadline(now, Some(short), Some(short + Duration::from_millis(50))));
        assert!(!compatible_deadline(now, Some(short), Some(short + Duration::from_millis(51))));
    }
}
