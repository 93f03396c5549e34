//! What a reload applies besides the runtime ([`AppReload`], the [`ReloadHook`] that [`super::run`]
//! installs), and what needs a restart.
//!
//! | Setting | On reload |
//! |---|---|
//! | datasources and their keys, custom metrics files, plugins | applied (the runtime is rebuilt; unchanged connections are kept) |
//! | `metricPath`, `enableBasicAuth`, `basicAuthUsername`, `basicAuthPassword` | applied from the next request (old passwords refused) |
//! | `--web.config.file`: `basic_auth_users`, `http_server_config.headers` | applied from the next request (the file is re-read) |
//! | `--web.config.file`: `tls_server_config` certificate, key, client CA, versions | applied from the next connection (certificate rotation) |
//! | `logLevel` | applied at once (unless `DMEXP_LOG` is set, which decides) |
//! | `listenAddress` | restart needed |
//! | switching between HTTP and HTTPS (adding or removing `tls_server_config`) | restart needed (key `tls_server_config`) |
//! | `logDir`, `logMaxSize`, `logMaxBackups`, `logMaxAge`, the log format | restart needed |
//!
//! "Restart needed" is logged as WARN at the reload, shown on the status page and exposed as
//! `dameng_exporter_config_restart_required{key="…"} 1`: the series exists only while the
//! running process differs from the file (it goes away when the file is changed back or the
//! process restarted). A reload whose new HTTP settings are invalid (a bad bcrypt hash, an
//! unreadable certificate, a broken web config file) is refused as a whole: the runtime, the
//! credentials and the certificate stay as they were.

use std::path::PathBuf;

use dmexp_config::Config;

use crate::api::{ReloadError, RestartRequired};
use crate::exporter::{CommitReload, ReloadHook};
use crate::logging::{LogControl, LoggingOptions};
use crate::server::{HttpSettings, ServerHandle};

/// The reload steps of the composition root: HTTP settings (re-reading `--web.config.file`)
/// and the log level.
#[derive(Debug)]
pub struct AppReload {
    server: ServerHandle,
    web_config_file: Option<PathBuf>,
    log: LogControl,
}

impl AppReload {
    /// Reload steps for the server behind `server` and the logging behind `log`.
    pub fn new(server: ServerHandle, web_config_file: Option<PathBuf>, log: LogControl) -> Self {
        AppReload { server, web_config_file, log }
    }
}

impl ReloadHook for AppReload {
    fn prepare(&self, config: &Config) -> Result<CommitReload, ReloadError> {
        let http = HttpSettings::from_config(&config.global, self.web_config_file.as_deref())
            .map_err(|e| ReloadError::Http(Box::new(e)))?;
        let log_opts = LoggingOptions::from_global(&config.global);
        let server = self.server.clone();
        let log = self.log.clone();
        Ok(Box::new(move || commit(&server, http, &log, &log_opts)))
    }
}

/// Applies validated settings; returns what needs a restart. Never fails: what cannot be
/// applied is logged and stays as it was.
fn commit(
    server: &ServerHandle,
    http: HttpSettings,
    log: &LogControl,
    log_opts: &LoggingOptions,
) -> Vec<RestartRequired> {
    for w in http.warnings() {
        tracing::warn!(warning = %w, "Web config warning.");
    }
    let summary = http.summary();
    let mut notes = match server.apply(http) {
        Ok(notes) => notes,
        Err(error) => {
            tracing::error!(error = %error, "HTTP settings not applied; the previous ones stay.");
            Vec::new()
        }
    };
    tracing::info!(settings = %summary, "HTTP settings applied.");
    match log.apply(log_opts) {
        Ok(more) => notes.extend(more),
        Err(error) => {
            tracing::error!(error = %error, "Log settings not applied; the previous ones stay.");
        }
    }
    notes
}
