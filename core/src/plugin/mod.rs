//! Site plugins: shared libraries loaded per datasource through the C ABI of
//! `dmexp-plugin-sdk`, adapted to the [`Collector`](crate::collector::Collector) trait.

use dmexp_config::DatasourceConfig;

use crate::custom::ExtraCollector;

/// The plugin collectors of one datasource.
pub fn collectors(_ds: &DatasourceConfig) -> Vec<ExtraCollector> {
    Vec::new()
}
