//! C-ABI SDK for dameng_exporter site plugins.
//!
//! A site plugin is a shared library (`crate-type = ["cdylib"]`) that the exporter loads per
//! datasource from `[[datasource.plugin]]` entries. This crate is the whole contract; it has
//! no dependency on the exporter's core, tokio, ODBC or prometheus.
//!
//! - [`abi`]: the `#[repr(C)]` types, status codes and [`ABI_VERSION`]. The C header
//!   `include/dm_exporter_plugin.h` is generated from it (cbindgen), so plugins can also be
//!   written in C.
//! - [`Plugin`]: the safe Rust trait; [`export_plugin!`] turns an implementation into the one
//!   exported root symbol ([`ROOT_SYMBOL`]), catching panics in every exported function.
//!
//! PLUGINS.md at the repository root is the author's guide (memory ownership, threading,
//! deadlines, what is not supported).
//!
//! # Example
//!
//! ```
//! use dmexp_plugin_sdk::{export_plugin, Error, Host, Metric, Plugin, Samples};
//!
//! /// Counts the rows of one table chosen in the plugin's config (`table = "ORDERS"`).
//! struct RowCount {
//!     table: String,
//! }
//!
//! impl Plugin for RowCount {
//!     fn create(config: &str, _host: &Host<'_>) -> Result<Self, Error> {
//!         let table = config
//!             .lines()
//!             .find_map(|l| l.strip_prefix("table = "))
//!             .map(|v| v.trim_matches('"').to_owned())
//!             .ok_or("config needs table = \"NAME\"")?;
//!         Ok(RowCount { table })
//!     }
//!
//!     fn metrics(&self) -> Vec<Metric> {
//!         vec![Metric::gauge("site_table_rows", "Rows in the table.").with_labels(&["table"])]
//!     }
//!
//!     fn collect(&mut self, host: &Host<'_>, out: &mut Samples) -> Result<(), Error> {
//!         let t = host.query(&format!("SELECT COUNT(*) FROM {}", self.table))?;
//!         out.push(0, &[&self.table], t.number(0, 0).ok_or("no count")?);
//!         Ok(())
//!     }
//! }
//!
//! export_plugin!(RowCount, name: "row_count", version: "1.0.0");
//!
//! // Without a host, queries fail cleanly (useful in a plugin's unit tests):
//! let mut p = RowCount::create("table = \"ORDERS\"", &Host::detached()).unwrap();
//! assert!(p.collect(&Host::detached(), &mut Samples::new()).is_err());
//! ```
#![warn(missing_docs)]

pub mod abi;
#[doc(hidden)]
pub mod glue;
mod safe;

pub use abi::{DmPluginDeclaration, DmPluginRootFn, ABI_VERSION};
pub use safe::{Error, Host, Level, Metric, MetricKind, Plugin, Sample, Samples, Table};

/// Name of the one symbol a plugin exports: a function `extern "C" fn() -> *const
/// DmPluginDeclaration`.
pub const ROOT_SYMBOL: &str = "dm_exporter_plugin_v1";

/// Exports a [`Plugin`] implementation as the plugin's root symbol
/// (`dm_exporter_plugin_v1`).
///
/// ```text
/// export_plugin!(MyPlugin, name: "my_plugin", version: env!("CARGO_PKG_VERSION"));
/// ```
///
/// `name` must match `[a-z_][a-z0-9_]*` (it becomes the `plugin` label and the collector
/// name `plugin:<name>`). Use it once per library.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty, name: $name:expr, version: $version:expr $(,)?) => {
        /// Root symbol of this dameng_exporter plugin.
        #[unsafe(no_mangle)]
        pub extern "C" fn dm_exporter_plugin_v1() -> *const $crate::DmPluginDeclaration {
            static DECLARATION: $crate::DmPluginDeclaration = $crate::DmPluginDeclaration {
                abi_version: $crate::ABI_VERSION,
                name: ::core::concat!($name, "\0").as_ptr().cast(),
                version: ::core::concat!($version, "\0").as_ptr().cast(),
                create: Some($crate::glue::create::<$plugin>),
                declare: Some($crate::glue::declare::<$plugin>),
                collect: Some($crate::glue::collect::<$plugin>),
                free_metrics: Some($crate::glue::free_metrics),
                free_samples: Some($crate::glue::free_samples),
                free_error: Some($crate::glue::free_error),
                destroy: Some($crate::glue::destroy::<$plugin>),
            };
            &DECLARATION
        }
        const _: $crate::DmPluginRootFn = dm_exporter_plugin_v1;
    };
}
