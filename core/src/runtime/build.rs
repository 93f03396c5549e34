//! Building a runtime from a validated configuration: pools (without connecting), the
//! collectors of every datasource (built-in, custom metrics, plugins) and the reuse decision of a
//! reload ([`same_connection`]).

use super::*;

/// True when two configurations open the same connections: a reload then keeps the pool,
/// its open connections and the health state.
pub fn same_connection(a: &DatasourceConfig, b: &DatasourceConfig) -> bool {
    a.enabled == b.enabled && a.connection == b.connection
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

pub(super) fn collector_runtime(
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

pub(super) fn template(
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

    pub(super) fn build_datasource(
        ds: &DatasourceConfig,
        previous: Option<&DatasourceRuntime>,
    ) -> Result<(DatasourceRuntime, Vec<crate::plugin::PluginStatus>), RuntimeError> {
        let label = ds.datasource_label();
        let factory = DescFactory::new(Some(&label), &ds.labels);
        let mut collectors = Vec::new();
        let mut plugin_statuses = Vec::new();
        let pool = match previous {
            Some(p) => p.pool.clone(),
            None if ds.enabled => Some(DatasourcePool::new(ds)?),
            None => None,
        };
        if let (true, Some(pool)) = (ds.enabled, &pool) {
            for d in registered() {
                if !collector_enabled(d, ds) {
                    continue;
                }
                let collector = match d.instantiate(ds) {
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
            // Their read-only pools draw on the datasource pool's session budget:
            // maxOpenConns is the total of all of them.
            let (plugins, statuses) = crate::plugin::collectors(ds, pool);
            plugin_statuses = statuses;
            let extras = crate::custom::collectors(ds, pool).into_iter().chain(plugins);
            for extra in extras {
                let mut c =
                    collector_runtime(&factory, ds, &extra.name, extra.collector, extra.cache_ttl)?;
                c.pool = extra.pool;
                collectors.push(c);
            }
        }
        let n = &ds.name;
        let built = DatasourceRuntime {
            self_templates: SelfTemplates {
                up: template(&factory, &UP, n, "self")?,
                success: template(&factory, &COLLECTOR_SUCCESS, n, "self")?,
                skipped: template(&factory, &COLLECTOR_SKIPPED, n, "self")?,
                duration: template(&factory, &COLLECTOR_DURATION, n, "self")?,
                scrape: template(&factory, &SCRAPE_DURATION, n, "self")?,
                last_success: template(&factory, &LAST_SUCCESS, n, "self")?,
                pool_connections: template(&factory, &POOL_CONNECTIONS, n, "self")?,
                pool_wait: template(&factory, &POOL_WAIT, n, "self")?,
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
            typical_statement_ns: AtomicU64::new(0),
            first_check: previous.map_or_else(
                || Arc::new(tokio::sync::watch::Sender::new(false)),
                |p| Arc::clone(&p.first_check),
            ),
        };
        Ok((built, plugin_statuses))
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
