//! Custom metrics per datasource (the upstream `[[metric]]` TOML format), adapted to the
//! [`Collector`](crate::collector::Collector) trait.

use std::time::Duration;

use dmexp_config::DatasourceConfig;

use crate::collector::Collector;

/// A collector that is not a built-in: custom metrics (and later plugins).
pub struct ExtraCollector {
    /// The `collector` label of its self-metrics.
    pub name: String,
    /// The collector.
    pub collector: Box<dyn Collector>,
    /// Result reuse across scrapes, if any.
    pub cache_ttl: Option<Duration>,
}

/// The custom-metric collectors of one datasource.
pub fn collectors(_ds: &DatasourceConfig) -> Vec<ExtraCollector> {
    Vec::new()
}
