//! Core of dameng_exporter: ODBC pools with health checks, the collector contract and
//! registry, the Desc factory, the scrape runtime and the HTTP server.
//!
//! Data flows as docs/DESIGN.md §3 describes: HTTP → [`runtime::Runtime::scrape`] → per datasource
//! (health-gated) → per collector on a blocking thread with a pooled connection →
//! samples → [`metrics::FamilySet`] with const labels → text format.
#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod collector;
pub mod context;
pub mod custom;
pub mod dbtime;
pub mod dialect;
pub mod exporter;
pub mod health;
pub mod logging;
pub mod metrics;
pub mod odbc_driver;
pub mod plugin;
pub mod pool;
mod pool_error;
pub mod query;
pub mod runtime;
pub mod watchdog;

pub mod server;
