//! Checks that need knowledge from outside this crate (the collector registry).

use crate::error::{ConfigError, Problem};
use crate::model::ConfigOrigin;
use crate::raw::suggest;
use crate::schema::Config;

impl Config {
    /// The file name used in messages (`command line` in CLI mode).
    pub fn source_name(&self) -> String {
        match &self.origin {
            ConfigOrigin::Toml(p) | ConfigOrigin::Legacy(p) => p.display().to_string(),
            ConfigOrigin::Cli => crate::CLI_SOURCE.to_string(),
        }
    }

    /// Checks every `disabledCollectors` entry against `known` (the built-in collector
    /// names of the binary). Every unknown name is reported, with the nearest known name.
    pub fn check_collector_names(&self, known: &[&str]) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        for d in &self.datasources {
            for c in &d.disabled_collectors {
                if known.contains(&c.as_str()) {
                    continue;
                }
                let hint = suggest(c, known.iter().copied())
                    .map(|s| format!("; did you mean \"{s}\"?"))
                    .unwrap_or_default();
                problems.push(
                    Problem::new(format!(
                        "disabledCollectors of datasource \"{}\" names unknown collector \"{c}\"{hint} \
                         (dameng_exporter --list-collectors shows the names)",
                        d.name
                    ))
                    .with_key("disabledCollectors")
                    .in_datasource(&d.name),
                );
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid { file: self.source_name(), problems })
        }
    }
}
