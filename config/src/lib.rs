//! Configuration for dameng_exporter: the multi-datasource TOML (upstream v1.2 keys, matched
//! case-insensitively), the single-source and legacy v1.1 forms, CLI mode, defaults,
//! validation with file/line/key messages, and upstream-compatible `ENC()` passwords.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod model;

pub use model::*;
