//! `ConfigError` and the per-problem detail it carries.

use std::fmt;
use std::path::PathBuf;

/// One thing wrong with a configuration: where (line and/or key, datasource) and how to fix it.
/// Messages never contain a password.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Problem {
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// The key concerned, as the user wrote it, when there is one.
    pub key: Option<String>,
    /// The datasource concerned (its name, or `#N` when it has none).
    pub datasource: Option<String>,
    /// Lowercase message naming the key and the fix.
    pub message: String,
}

impl Problem {
    /// A problem with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        Problem { line: None, key: None, datasource: None, message: message.into() }
    }

    /// Sets the line (0 means unknown).
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = (line > 0).then_some(line);
        self
    }

    /// Sets the key.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the datasource.
    pub fn in_datasource(mut self, ds: impl Into<String>) -> Self {
        self.datasource = Some(ds.into());
        self
    }

    /// `file:line: message` (or `file: message` without a line).
    pub fn render(&self, file: &str) -> String {
        match self.line {
            Some(l) => format!("{file}:{l}: {}", self.message),
            None => format!("{file}: {}", self.message),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

fn render_all(file: &str, problems: &[Problem]) -> String {
    problems.iter().map(|p| p.render(file)).collect::<Vec<_>>().join("\n")
}

/// Everything that can go wrong loading, validating or rewriting a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file `{}`: {source}; check the path given with --config", path.display())]
    Read {
        /// The path as given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is neither valid TOML nor a legacy v1.1 `key=value` file.
    #[error("{file}:{line}:{column}: invalid TOML: {message}")]
    Syntax {
        /// The file name as given.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Parser message (never quotes the offending line, which may hold a password).
        message: String,
    },
    /// One or more validation problems, all of them (one line each in `Display`).
    #[error("{}", render_all(file, problems))]
    Invalid {
        /// The file name as given (`command line` in CLI mode).
        file: String,
        /// Every problem found.
        problems: Vec<Problem>,
    },
    /// Writing the rewritten file failed (other than it being read-only).
    #[error("cannot write config file `{}`: {source}", path.display())]
    Write {
        /// The file being rewritten.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl ConfigError {
    /// The problems of an [`ConfigError::Invalid`], empty for the other variants.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid { problems, .. } => problems,
            _ => &[],
        }
    }
}
