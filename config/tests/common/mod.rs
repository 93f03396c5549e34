//! Helpers shared by the config tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use dmexp_config::{load_file, Config, ConfigError};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh empty directory under Cargo's per-target temp dir (removed by `cargo clean`).
pub fn tmpdir(tag: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("dmexp-config-test-{}-{tag}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// Writes `text` as `dameng_exporter.toml` in a fresh directory and returns its path.
pub fn write_cfg(tag: &str, text: &str) -> PathBuf {
    let p = tmpdir(tag).join("dameng_exporter.toml");
    fs::write(&p, text).unwrap();
    p
}

/// Writes and loads.
pub fn load(tag: &str, text: &str) -> Result<Config, ConfigError> {
    load_file(&write_cfg(tag, text))
}

/// 1-based line of the first line containing `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in text"))
}

/// A complete, valid datasource table.
pub fn ds(name: &str, host: &str) -> String {
    format!(
        "[[datasource]]\nname = \"{name}\"\ndbHost = \"{host}\"\ndbUser = \"SYSDBA\"\ndbPwd = \"pw_{name}\"\n"
    )
}

pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
