//! `--check-connection`: the connection doctor's report (the checks themselves are
//! [`dmexp_core::runtime::Runtime::check_connections`]).

use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use dmexp_config::Config;
use dmexp_core::collector::Collector;
use dmexp_core::runtime::{
    CollectorOutcome, DatasourceCheck, LoginFailure, LoginInfo, LoginProblem, Runtime,
};

use super::output::out;
use super::version::build_info;
use super::{EXIT_CONFIG, EXIT_RUNTIME};

/// Logs in to every enabled datasource once, runs every enabled collector once, prints the
/// report. Exit 0 when every enabled datasource logged in, 1 otherwise (2: bad config).
pub(super) fn check_connection(config: &Config) -> ExitCode {
    let runtime = match Runtime::build(config, build_info()) {
        Ok((rt, _)) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let probe: Arc<dyn Collector> = Arc::new(dmexp_builtin::version::VersionCollector);
    let checks = rt.block_on(runtime.check_connections(Some(probe)));
    let (text, all_in) = render(&checks);
    out(&text);
    // The blocking threads of a collector that timed out must not keep the process alive.
    rt.shutdown_background();
    if all_in {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_RUNTIME)
    }
}

/// The report, and whether every enabled datasource logged in (false when none is enabled).
pub(super) fn render(checks: &[DatasourceCheck]) -> (String, bool) {
    let mut s = String::new();
    let mut enabled = 0;
    let mut logged_in = 0;
    for c in checks {
        if !c.enabled {
            let _ = writeln!(s, "datasource {}: disabled (enabled = false), not checked", c.name);
            continue;
        }
        enabled += 1;
        match &c.login {
            Ok(info) => {
                logged_in += 1;
                let _ = writeln!(s, "datasource {} (datasource=\"{}\"): login ok", c.name, c.label);
                login_lines(&mut s, info);
                collector_lines(&mut s, c);
            }
            Err(f) => {
                let _ =
                    writeln!(s, "datasource {} (datasource=\"{}\"): login FAILED", c.name, c.label);
                failure_lines(&mut s, f);
            }
        }
    }
    if enabled == 0 {
        let _ = writeln!(s, "summary: no enabled datasource to check");
        return (s, false);
    }
    let _ = writeln!(s, "summary: {logged_in} of {enabled} enabled datasource(s) logged in");
    (s, logged_in == enabled)
}

fn read_only(state: &Result<Option<bool>, String>) -> String {
    match state {
        Ok(Some(true)) => "read-only".into(),
        Ok(Some(false)) => "read-write".into(),
        Ok(None) => "unknown (this engine cannot tell)".into(),
        Err(e) => format!("unknown ({})", one_line(e)),
    }
}

fn login_lines(s: &mut String, info: &LoginInfo) {
    let version = match &info.server_version {
        None => "-".to_owned(),
        Some(Err(e)) => format!("unknown ({})", one_line(e)),
        // Labels of dmdbms_version: db_version_str, build_type, inner_ver.
        Some(Ok(labels)) => match labels.as_slice() {
            [text, edition, inner, ..] if !inner.is_empty() => {
                format!("{inner} {edition} ({text})")
            }
            [text, ..] if !text.is_empty() => text.clone(),
            _ => "unknown".to_owned(),
        },
    };
    let dbms = if info.dbms.is_empty() { "?" } else { info.dbms.as_str() };
    let _ = writeln!(s, "  server: {dbms}, version {version}");
    let mut session = format!("  session: {}", read_only(&info.session_read_only));
    if let Some(custom) = &info.custom_session_read_only {
        let _ = write!(session, "; custom metrics session: {}", read_only(custom));
    }
    let _ = writeln!(s, "{session}");
}

fn collector_lines(s: &mut String, c: &DatasourceCheck) {
    let (mut ok, mut denied, mut na, mut failed) = (0, 0, 0, 0);
    for col in &c.collectors {
        match &col.outcome {
            CollectorOutcome::Ok { series } => {
                ok += 1;
                let _ = writeln!(s, "  collector {}: ok ({series} series)", col.name);
            }
            CollectorOutcome::NotApplicable { error } => {
                na += 1;
                let _ =
                    writeln!(s, "  collector {}: not applicable: {}", col.name, one_line(error));
            }
            CollectorOutcome::PermissionDenied { error, grants } => {
                denied += 1;
                let _ =
                    writeln!(s, "  collector {}: permission denied: {}", col.name, one_line(error));
                if grants.is_empty() {
                    let _ = writeln!(s, "    fix: grant SELECT on the objects its query reads");
                }
                for g in grants {
                    let _ = writeln!(s, "    fix: {g}");
                }
            }
            CollectorOutcome::Error { error } => {
                failed += 1;
                let _ = writeln!(s, "  collector {}: error: {}", col.name, one_line(error));
            }
            _ => {}
        }
    }
    let _ = writeln!(
        s,
        "  collectors: {ok} ok, {denied} permission denied, {na} not applicable, {failed} error(s)"
    );
}

fn failure_lines(s: &mut String, f: &LoginFailure) {
    let mut codes = Vec::new();
    if let Some(state) = &f.sqlstate {
        codes.push(format!("SQLSTATE {state}"));
    }
    if let Some(n) = f.native {
        codes.push(format!("native {n}"));
    }
    let codes = if codes.is_empty() { String::new() } else { format!(" ({})", codes.join(", ")) };
    let _ = writeln!(s, "  problem: {}{codes}", f.problem.as_str());
    let _ = writeln!(s, "  error: {}", one_line(&f.message));
    let fix = match f.problem {
        LoginProblem::BadPassword => Some(
            "check dbUser and dbPwd (DM locks an account after FAILED_LOGIN_ATTEMPTS failed \
             logins; see README \"Secrets\" for the password's env and file forms)",
        ),
        LoginProblem::Unreachable => Some(
            "check dbHost and the port, that the server is running, and that no firewall \
             blocks this host",
        ),
        // check_driver's own message says what to do; a driver manager's IM002/IM003 does not.
        LoginProblem::DriverMissing if f.sqlstate.is_some() => Some(
            "install DM's ODBC driver and register it in odbcinst.ini, or set odbcDriver to \
             the path of libdodbc.so (README: \"DM's ODBC driver\")",
        ),
        LoginProblem::SessionLimit => Some(
            "the user is at its session limit (DM: SESSION_PER_USER, MAX_SESSIONS): lower \
             maxOpenConns or raise the limit",
        ),
        _ => None,
    };
    if let Some(fix) = fix {
        let _ = writeln!(s, "  fix: {fix}");
    }
}

/// Multi-line driver messages on one line.
fn one_line(s: &str) -> String {
    s.split(['\n', '\r']).map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}
