//! End-to-end tests: the real binary, real HTTP, real ODBC drivers (SQLite3 and
//! PostgreSQL Unicode) against the DM8 catalog emulation in tests/fixtures.

mod common;

/// Attacks of issue #15 by class: slowloris and idle sockets under a low
/// descriptor limit (H3), authentication timing (L2), hostile file kinds (L5), encodeConfigPwd
/// ownership (L15), identity-label spoofing at --check-config (M5).
mod attack;

/// HTTP basic auth end to end.
mod auth;
/// One datasource down, all down, recovery: the others keep serving.
mod availability;
/// Command line: --check-config, broken configs, --encryptPwd, --list-collectors, CLI mode.
mod cli;
/// Prometheus-style flags and aliases, --log.format, --version and build_info, secrets from
/// env/files/stdin, argv scrubbing (L12), a closed stdout.
mod cli_flags;
/// Custom metrics: the example files' series on both engines, failures contained, row cap,
/// NULL/text/negative/duplicate values, dry run, --check-config, read-only on PostgreSQL.
mod custom_metrics;
/// The example Grafana dashboard and Prometheus rules/config: promtool accepts them and every
/// exporter metric they reference is produced against the fixtures.
mod dashboards;
/// The DM8 ODBC driver double (tests/dm_double): its DM behaviours, and the exporter over it.
mod dm_driver;
/// The ODBC path: statements run once, the row cap stops the driver, deadlines hold (F5, F8, L6, L7).
mod dm_path;
/// --check-connection (the doctor) over SQLite, the DM driver double and unreachable servers.
mod doctor;
/// Text 0.0.4 and OpenMetrics of one full scrape: promtool accepts both, same series, gzip.
mod exposition;
/// Collector families, group A (instance extras, tablespaces, datafiles, memory, jobs, slow
/// SQL, parameters, users, license, version).
mod families_a;
/// Collector families, group B (archive, redo, apply, LSN).
mod families_b;
/// Collector families, group C (monitor, statements, purge, checkpoint, buffer pool, DUAL,
/// watcher, system info and events, error log, dictionary cache, host processes).
mod families_c;
/// Golden exposition of one fixture instance.
mod golden;
/// Faults on PostgreSQL: slow views, killed connections; cancellation and recovery.
mod isolation;
/// Operations: hot reload, /probe and filters, the scrape deadline, shared collection.
mod operations;
/// Site plugins: the example per datasource, the C plugin, every load-failure kind, panics and
/// overruns contained, permissions, one load per library, the compiled-in extension path.
mod plugins;
/// Pooled sessions killed while idle or refused by a session limit: the datasource stays up (M1, M2).
mod pool_faults;
/// Least privilege on PostgreSQL: skips with the GRANT to run, not failures (F4).
mod privileges;
/// A real Prometheus scrapes /metrics and /probe over TLS with basic auth from
/// --web.config.file; broken web configs are config errors (exit 2).
mod prometheus_e2e;
/// Hot reload of HTTP and log settings (passwords, metric path, web config, certificates),
/// restart-required keys, log directory fallback and defaults, `:port` on IPv4 and IPv6.
mod reload;
/// Runtime hardening: deadlines of shared collections, pools replaced by reloads under
/// in-flight scrapes, log context of health tasks started by a reload.
mod runtime_hardening;
/// Exact values of the first collectors on all three fixture instances, both engines.
mod scrape;
/// Secrets never reach logs, metrics or error messages.
mod secrets;
/// One session budget per datasource (maxOpenConns is the total), counted while scrapes
/// run; the pool metrics.
mod sessions;
/// Every built-in statement runs on both fixtures and follows the portable-SQL rules.
mod sql_portability;
/// Upgrading: the Go exporter's Chinese alert rules against our metrics.
mod upstream_rules;
