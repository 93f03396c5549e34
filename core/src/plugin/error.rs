//! Plugin load problems, by kind (docs/HOUSE_STYLE.md B18). They are collected, never fail-fast: a
//! plugin that cannot be loaded disables only itself for its datasource.

use std::fmt;
use std::path::PathBuf;

/// What went wrong loading a plugin for a datasource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PluginErrorKind {
    /// The file does not exist.
    NotFound,
    /// The file or its directory is writable by group or others (or is not a regular file).
    InsecurePermissions,
    /// The file exists but cannot be loaded as a shared library (bad format, wrong
    /// architecture, missing dependency).
    NotALibrary,
    /// The library does not export the root symbol `dm_exporter_plugin_v1`.
    MissingSymbol,
    /// The declaration's `abi_version` differs from the exporter's.
    AbiMismatch,
    /// The declaration or the declared metrics are invalid (NULL function, bad name, a
    /// metric name that is invalid or already taken).
    InvalidDeclaration,
    /// The plugin's `create` or `declare` returned an error.
    ConstructorError,
    /// The plugin panicked in `create` or `declare` (caught on its side).
    Panic,
}

impl PluginErrorKind {
    /// Stable short name, as printed in logs and `--check-config`.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginErrorKind::NotFound => "not found",
            PluginErrorKind::InsecurePermissions => "insecure permissions",
            PluginErrorKind::NotALibrary => "not a shared library",
            PluginErrorKind::MissingSymbol => "missing symbol",
            PluginErrorKind::AbiMismatch => "ABI mismatch",
            PluginErrorKind::InvalidDeclaration => "invalid declaration",
            PluginErrorKind::ConstructorError => "constructor error",
            PluginErrorKind::Panic => "panic",
        }
    }
}

impl fmt::Display for PluginErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A plugin of one datasource that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("datasource `{datasource}`: plugin {path}: {kind}: {message}", path = .path.display())]
pub struct PluginLoadError {
    /// What kind of problem.
    pub kind: PluginErrorKind,
    /// Datasource whose `[[datasource.plugin]]` entry names the plugin.
    pub datasource: String,
    /// Library path as configured (resolved against the config file's directory).
    pub path: PathBuf,
    /// Details.
    pub message: String,
}

/// A problem found before the datasource is known (library level), completed into a
/// [`PluginLoadError`] by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) kind: PluginErrorKind,
    pub(crate) message: String,
}

impl Problem {
    pub(crate) fn new(kind: PluginErrorKind, message: impl Into<String>) -> Self {
        Problem { kind, message: message.into() }
    }
}
