//! Core of dameng_exporter.
#![warn(missing_docs)]

pub mod server;
