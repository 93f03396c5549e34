//! Example site plugin for dameng_exporter (PLUGINS.md walks through it).
//!
//! It reports, for the tables its config names, their row counts, and any number of KPIs:
//! one aggregate (`count`, `sum`, `avg`, `min`, `max`) of one column of one table, optionally
//! restricted to rows whose column is one of a list of values.
//!
//! ```toml
//! [[datasource.plugin]]
//! path = "plugins/libsite_plugin.so"
//! [datasource.plugin.config]
//! tables = ["ORDERS", "PAYMENTS"]
//! [[datasource.plugin.config.kpi]]
//! name = "paid_revenue"
//! table = "ORDERS"
//! aggregate = "sum"
//! column = "AMOUNT"
//! where_column = "STATUS"
//! where_in = ["PAID", "SHIPPED"]
//! ```
//!
//! Metrics: `site_table_rows{table}` and `site_kpi{kpi}` (gauges), plus the exporter's own
//! `datasource` and user labels. Identifiers in the config must be plain (`[A-Za-z0-9_$.]`),
//! so the config cannot inject SQL; `where_in` values are quoted as SQL literals.

use dmexp_plugin_sdk::{export_plugin, Error, Host, Metric, Plugin, Samples};
use serde::Deserialize;

/// The plugin's `[datasource.plugin.config]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Tables whose rows are counted.
    #[serde(default)]
    pub tables: Vec<String>,
    /// KPIs.
    #[serde(default)]
    pub kpi: Vec<Kpi>,
}

/// One KPI: `aggregate(column)` over `table` [where `where_column` IN (`where_in`)].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Kpi {
    /// The `kpi` label value.
    pub name: String,
    /// Table to read.
    pub table: String,
    /// `count`, `sum`, `avg`, `min` or `max`.
    pub aggregate: String,
    /// Column to aggregate (`*` for count).
    #[serde(default = "star")]
    pub column: String,
    /// Optional filter column.
    pub where_column: Option<String>,
    /// Values the filter column may take.
    #[serde(default)]
    pub where_in: Vec<String>,
}

fn star() -> String {
    "*".to_owned()
}

/// True for names that may be put into SQL literally.
fn plain(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.'))
}

fn literal(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

/// The plugin: SQL prepared once at creation.
#[derive(Debug)]
pub struct SitePlugin {
    /// (table, `SELECT COUNT(*)` statement).
    counts: Vec<(String, String)>,
    /// (kpi name, statement).
    kpis: Vec<(String, String)>,
}

impl SitePlugin {
    /// Validates the config and prepares the statements.
    pub fn from_config(config: &Config) -> Result<Self, Error> {
        if config.tables.is_empty() && config.kpi.is_empty() {
            return Err("config names no `tables` and no `kpi`: nothing to collect".into());
        }
        let mut counts = Vec::new();
        for t in &config.tables {
            if !plain(t) {
                return Err(format!("table {t:?} is not a plain identifier").into());
            }
            counts.push((t.clone(), format!("SELECT COUNT(*) FROM {t}")));
        }
        let mut kpis = Vec::new();
        for k in &config.kpi {
            let agg = k.aggregate.to_ascii_lowercase();
            if !matches!(agg.as_str(), "count" | "sum" | "avg" | "min" | "max") {
                return Err(format!("kpi {}: unknown aggregate {:?}", k.name, k.aggregate).into());
            }
            let column_ok = plain(&k.column) || (k.column == "*" && agg == "count");
            if !plain(&k.table) || !column_ok {
                return Err(
                    format!("kpi {}: table and column must be plain identifiers", k.name).into()
                );
            }
            let mut sql =
                format!("SELECT {}({}) FROM {}", agg.to_ascii_uppercase(), k.column, k.table);
            if let Some(col) = &k.where_column {
                if !plain(col) || k.where_in.is_empty() {
                    return Err(format!(
                        "kpi {}: where_column must be a plain identifier with a non-empty where_in",
                        k.name
                    )
                    .into());
                }
                let values: Vec<String> = k.where_in.iter().map(|v| literal(v)).collect();
                sql.push_str(&format!(" WHERE {col} IN ({})", values.join(", ")));
            }
            kpis.push((k.name.clone(), sql));
        }
        Ok(SitePlugin { counts, kpis })
    }

    /// The statements this instance runs, in order.
    pub fn statements(&self) -> Vec<&str> {
        self.counts.iter().chain(&self.kpis).map(|(_, s)| s.as_str()).collect()
    }
}

impl Plugin for SitePlugin {
    fn create(config: &str, host: &Host<'_>) -> Result<Self, Error> {
        let config: Config = toml::from_str(config).map_err(|e| format!("plugin config: {e}"))?;
        let plugin = SitePlugin::from_config(&config)?;
        host.debug(&format!(
            "site plugin ready: {} table(s), {} KPI(s)",
            plugin.counts.len(),
            plugin.kpis.len()
        ));
        Ok(plugin)
    }

    fn metrics(&self) -> Vec<Metric> {
        vec![
            Metric::gauge("site_table_rows", "Rows in a business table.").with_labels(&["table"]),
            Metric::gauge("site_kpi", "A business KPI computed from a user table.")
                .with_labels(&["kpi"]),
        ]
    }

    fn collect(&mut self, host: &Host<'_>, out: &mut Samples) -> Result<(), Error> {
        for (table, sql) in &self.counts {
            let t = host.query_with(sql, 1, None).map_err(|e| format!("{table}: {e}"))?;
            let n = t.number(0, 0).ok_or_else(|| format!("{table}: no row count"))?;
            out.push(0, &[table], n);
        }
        for (kpi, sql) in &self.kpis {
            let t = host.query_with(sql, 1, None).map_err(|e| format!("kpi {kpi}: {e}"))?;
            // SUM/AVG/MIN/MAX over no rows is NULL: no sample then (COUNT gives 0).
            match t.number(0, 0) {
                Some(v) => out.push(1, &[kpi], v),
                None => host.debug(&format!("kpi {kpi}: no value (no matching rows)")),
            }
        }
        Ok(())
    }
}

export_plugin!(SitePlugin, name: "site_business", version: env!("CARGO_PKG_VERSION"));

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SitePlugin, Error> {
        SitePlugin::create(text, &Host::detached())
    }

    #[test]
    fn statements_from_config() {
        let p = parse(
            "tables = [\"ORDERS\"]\n[[kpi]]\nname = \"paid\"\ntable = \"ORDERS\"\naggregate = \"sum\"\n\
             column = \"AMOUNT\"\nwhere_column = \"STATUS\"\nwhere_in = [\"PAID\", \"O'K\"]\n",
        )
        .unwrap();
        assert_eq!(
            p.statements(),
            [
                "SELECT COUNT(*) FROM ORDERS",
                "SELECT SUM(AMOUNT) FROM ORDERS WHERE STATUS IN ('PAID', 'O''K')"
            ]
        );
    }

    #[test]
    fn bad_configs_are_refused() {
        for bad in [
            "",
            "tables = [\"ORDERS; DROP TABLE X\"]",
            "[[kpi]]\nname = \"k\"\ntable = \"T\"\naggregate = \"median\"\ncolumn = \"A\"",
            "[[kpi]]\nname = \"k\"\ntable = \"T\"\naggregate = \"sum\"\ncolumn = \"*\"",
            "tablez = [\"T\"]",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn detached_host_cannot_query() {
        let mut p = parse("tables = [\"T\"]").unwrap();
        assert!(p.collect(&Host::detached(), &mut Samples::new()).is_err());
    }
}
