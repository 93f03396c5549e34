//! V$DB_CACHE: dictionary cache counters, `dmdbms_dict_cache_total{dict_cache_type}` for
//! `lru_discard` (LRU_DISCARD), `ddl_discard` (DDL_DISCARD) and `disabled_dict_num`
//! (DISABLED_DICT_NUM).
//!
//! Older builds lack these columns (docs/DM8.md §5). Each is probed once per connection with
//! `has_columns`; a missing column gives no series, and with none of them no query runs (the
//! collector is skipped as not applicable, `dameng_exporter_collector_skipped{reason=
//! "not_applicable"} 1`). A
//! statement naming a column the build lacks cannot even be prepared there, so the row is
//! read with `SELECT *` and the columns are found by the names the driver reports. V$DB_CACHE
//! can hold one row per cache pool (POOL_ID): each counter is the sum over the rows.

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CollectContext, CollectError, Collector, CollectorDescriptor, Family, MetricDef,
    MetricSpec, Sample,
};
use dmexp_core::query::{cell_f64, Rows};

/// Every column of V$DB_CACHE; the counters are found by column name.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ * FROM V$DB_CACHE";

/// The view this collector reads.
pub const VIEW: &str = "V$DB_CACHE";

/// (column, `dict_cache_type` label), in output order.
pub const COUNTERS: [(&str, &str); 3] = [
    ("LRU_DISCARD", "lru_discard"),
    ("DDL_DISCARD", "ddl_discard"),
    ("DISABLED_DICT_NUM", "disabled_dict_num"),
];

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #48).
pub const METRICS: &[MetricDef] =
    &[MetricDef::counter("dmdbms_dict_cache_total", "DM database dictionary cache total counters")
        .with_labels(&["dict_cache_type"])];

/// Maps the result of [`SQL`] to samples, for the indexes into [`COUNTERS`] of the columns
/// this build has (`present`). Columns are located by name in `rows.columns` (any case); a
/// column absent from the result gives no series. Each counter is the sum of its numeric
/// cells over the rows; none numeric (NULL) → no series.
pub fn map_rows(rows: &Rows, present: &[usize]) -> Vec<Sample> {
    let mut out = Vec::new();
    for &i in present {
        let Some((column, label)) = COUNTERS.get(i) else { continue };
        let Some(pos) = rows.column_index(column) else { continue };
        let values: Vec<f64> = rows.rows.iter().filter_map(|r| cell_f64(r, pos)).collect();
        if !values.is_empty() {
            out.push(Sample::with_labels(0, vec![(*label).to_owned()], values.iter().sum()));
        }
    }
    out
}

/// The collector.
#[derive(Debug, Default)]
pub struct DictCacheCollector;

impl Collector for DictCacheCollector {
    fn metrics(&self) -> Vec<MetricSpec> {
        METRICS.iter().map(MetricSpec::from).collect()
    }
    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        let mut present = Vec::new();
        for (i, (column, _)) in COUNTERS.iter().enumerate() {
            if ctx.has_columns(VIEW, &[column])? {
                present.push(i);
            }
        }
        if present.is_empty() {
            let columns: Vec<&str> = COUNTERS.iter().map(|(c, _)| *c).collect();
            return Err(CollectError::missing_columns(VIEW, &columns));
        }
        let rows = ctx.query(SQL)?;
        out.extend(map_rows(&rows, &present));
        Ok(())
    }
}

fn build(_: &DatasourceConfig) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(DictCacheCollector))
}

inventory::submit! {
    CollectorDescriptor::new("dict_cache", "V$DB_CACHE", Family::Database, METRICS, build)
        .queries(&[SQL])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(columns: &[&str], data: &[&[Option<&str>]]) -> Rows {
        Rows {
            rows: data.iter().map(|r| r.iter().map(|c| c.map(str::to_owned)).collect()).collect(),
            columns: columns.iter().map(|c| c.to_lowercase()).collect(),
            ..Default::default()
        }
    }

    fn s(label: &str, v: f64) -> Sample {
        Sample::with_labels(0, vec![label.to_owned()], v)
    }

    #[test]
    fn counters_by_column_name() {
        let r = rows(
            &["DB_ADDR", "POOL_ID", "DISABLED_DICT_NUM", "LRU_DISCARD", "DDL_DISCARD"],
            &[&[Some("0x7f"), Some("0"), Some("4"), Some("1532"), Some("87")]],
        );
        assert_eq!(
            map_rows(&r, &[0, 1, 2]),
            vec![s("lru_discard", 1532.0), s("ddl_discard", 87.0), s("disabled_dict_num", 4.0)]
        );
        // Only what was probed present.
        assert_eq!(map_rows(&r, &[1]), vec![s("ddl_discard", 87.0)]);
    }

    #[test]
    fn missing_columns_nulls_and_pools() {
        // Old build: only DISABLED_DICT_NUM; two pools are summed.
        let r = rows(
            &["DB_ADDR", "DISABLED_DICT_NUM"],
            &[&[Some("a"), Some("1")], &[Some("b"), Some("2")]],
        );
        assert_eq!(map_rows(&r, &[2]), vec![s("disabled_dict_num", 3.0)]);
        // Probed present but not in the result (or no names reported): skipped, never a
        // wrong column.
        assert_eq!(map_rows(&r, &[0, 1]), vec![]);
        let unnamed = Rows { columns: Vec::new(), ..r };
        assert_eq!(map_rows(&unnamed, &[2]), vec![]);
        // NULL and garbage cells.
        let r = rows(&["LRU_DISCARD", "DDL_DISCARD"], &[&[None, Some("x")], &[None, Some("5")]]);
        assert_eq!(map_rows(&r, &[0, 1]), vec![s("ddl_discard", 5.0)]);
        assert!(map_rows(&Rows::default(), &[0, 1, 2]).is_empty());
    }
}
