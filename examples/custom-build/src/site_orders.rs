//! The extra collector: orders by status from the site's `ORDERS` table. It is written
//! exactly like a file of `plugins/builtin` (SQL const, metrics once, pure mapping,
//! `inventory::submit!`), but lives in this crate: linking the crate registers it.

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CollectContext, CollectError, Collector, CollectorDescriptor, Family, MetricDef,
    MetricSpec, Sample,
};
use dmexp_core::query::{cell, cell_f64, Rows};

/// Orders per status.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ STATUS, COUNT(*) FROM ORDERS GROUP BY STATUS";

/// Metrics of this collector.
pub const METRICS: &[MetricDef] =
    &[MetricDef::gauge("site_orders_by_status", "Orders in the site's ORDERS table, by status.")
        .with_labels(&["status"])];

/// Rows → samples (NULL status → `UNKNOWN`).
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    rows.rows
        .iter()
        .filter_map(|r| {
            let status = cell(r, 0).unwrap_or("UNKNOWN").to_owned();
            cell_f64(r, 1).map(|n| Sample::with_labels(0, vec![status], n))
        })
        .collect()
}

/// The collector.
#[derive(Debug, Default)]
pub struct SiteOrders;

impl Collector for SiteOrders {
    fn metrics(&self) -> Vec<MetricSpec> {
        METRICS.iter().map(MetricSpec::from).collect()
    }
    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        out.extend(map_rows(&ctx.query(SQL)?));
        Ok(())
    }
}

fn build(_: &DatasourceConfig) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(SiteOrders))
}

inventory::submit! {
    CollectorDescriptor::new("site_orders", "ORDERS (site table)", Family::Database, METRICS, build)
        .queries(&[SQL])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_status_counts() {
        let rows = Rows {
            rows: vec![vec![Some("PAID".into()), Some("3".into())], vec![None, Some("1".into())]],
            ..Default::default()
        };
        assert_eq!(
            map_rows(&rows),
            vec![
                Sample::with_labels(0, vec!["PAID".into()], 3.0),
                Sample::with_labels(0, vec!["UNKNOWN".into()], 1.0)
            ]
        );
    }
}
