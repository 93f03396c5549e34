//! DUAL: can this datasource answer `SELECT 1 FROM DUAL`? `dmdbms_dual_info` is 1 when it
//! can and 0 when the query fails.
//!
//! This collector reports a failed query as a value, not as a collector error: a bad query
//! or a timeout gives `dmdbms_dual_info 0` and `collector_success 1`. A lost connection is
//! still returned as an error, so that the datasource's health check sees it (the whole
//! datasource is then reported by `dmdb_up`).

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CollectContext, CollectError, Collector, CollectorDescriptor, Family, MetricDef,
    MetricSpec, Sample,
};
use dmexp_core::query::{cell_f64, QueryError, Rows};

/// Upstream's liveness query.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ 1 FROM DUAL";

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #41).
pub const METRICS: &[MetricDef] = &[MetricDef::gauge(
    "dmdbms_dual_info",
    "Information about DM database query dual table info,return false is 0, true is 1",
)];

/// Maps the outcome of [`SQL`] to the sample: the selected value (1) when the query gave a
/// numeric first cell, 0 when it failed or returned nothing usable (upstream scanned the
/// value the same way and fell back to 0).
pub fn map_result(result: &Result<Rows, QueryError>) -> Vec<Sample> {
    let value = match result {
        Ok(rows) => rows.first().and_then(|r| cell_f64(r, 0)).unwrap_or(0.0),
        Err(_) => 0.0,
    };
    vec![Sample::new(0, value)]
}

/// The collector.
#[derive(Debug, Default)]
pub struct DualCollector;

impl Collector for DualCollector {
    fn metrics(&self) -> Vec<MetricSpec> {
        METRICS.iter().map(MetricSpec::from).collect()
    }
    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        let result = match ctx.query(SQL) {
            Err(e) if e.is_connection_level() => return Err(e.into()),
            other => other,
        };
        if let Err(e) = &result {
            tracing::warn!(error = %e, "SELECT 1 FROM DUAL failed; dmdbms_dual_info is 0.");
        }
        out.extend(map_result(&result));
        Ok(())
    }
}

fn build(_: &DatasourceConfig) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(DualCollector))
}

inventory::submit! {
    CollectorDescriptor::new("dual", "DUAL", Family::Database, METRICS, build).queries(&[SQL])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(cells: &[Option<&str>]) -> Rows {
        Rows {
            rows: cells.iter().map(|c| vec![c.map(str::to_owned)]).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn success_is_the_selected_one() {
        assert_eq!(map_result(&Ok(rows(&[Some("1")]))), vec![Sample::new(0, 1.0)]);
    }

    #[test]
    fn failure_or_nothing_usable_is_zero() {
        let err = QueryError::Driver {
            message: "syntax error".into(),
            sqlstate: Some("42000".into()),
            native: None,
            connection_lost: false,
        };
        assert_eq!(map_result(&Err(err)), vec![Sample::new(0, 0.0)]);
        assert_eq!(
            map_result(&Err(QueryError::Timeout(std::time::Duration::from_secs(1)))),
            vec![Sample::new(0, 0.0)]
        );
        assert_eq!(map_result(&Ok(Rows::default())), vec![Sample::new(0, 0.0)]);
        assert_eq!(map_result(&Ok(rows(&[None]))), vec![Sample::new(0, 0.0)]);
        assert_eq!(map_result(&Ok(rows(&[Some("x")]))), vec![Sample::new(0, 0.0)]);
    }
}
