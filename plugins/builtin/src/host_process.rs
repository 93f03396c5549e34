//! DM processes on the database host (`registerHostMetrics`): `dmdbms_<name>_process_is_exit`
//! for dmap, dmserver, dmwatcher, dmmonitor and dmagent, each the **number** of matching
//! processes (upstream's value, despite the name).
//!
//! Read from `/proc` directly (upstream ran `sh -c "ps -ef | grep …"` and `ls -l`):
//! - **dmserver**: the PID that V$PROCESS reports. 1 when `/proc/<pid>/cmdline` mentions
//!   `dmserver`; 0 when a process with that PID exists here but is something else (the
//!   exporter sees another PID namespace, e.g. runs in a container: disable
//!   `registerHostMetrics` there).
//! - **dmap, dmwatcher, dmmonitor, dmagent**: processes whose executable is
//!   `<bin>/<name>`, where `<bin>` is the directory of the dmserver's executable
//!   (`/proc/<pid>/exe`; else its working directory; else the directory of an absolute
//!   `argv[0]`). A process matches when its `/proc/<p>/exe` is that file, or when its
//!   `argv[0]` names it (absolute, or relative to the process's working directory). Only
//!   emitted when the dmserver was found and `<bin>` is known.
//!
//! Quiet when the exporter is not on the database host: when `/proc/<pid>` does not exist
//! or cannot be read, nothing is emitted, the collector still succeeds, and one INFO line
//! says why (again only if the reason changes).

use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CollectContext, CollectError, Collector, CollectorDescriptor, Family, MetricDef,
    MetricSpec, Sample,
};
use dmexp_core::query::{cell, Rows};

/// The dmserver process id.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ PID FROM V$PROCESS";

/// Process names, in the order of [`METRICS`].
pub const PROCESSES: [&str; 5] = ["dmap", "dmserver", "dmwatcher", "dmmonitor", "dmagent"];

const DMSERVER: usize = 1;

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #49–#53).
pub const METRICS: &[MetricDef] = &[
    MetricDef::gauge(
        "dmdbms_dmap_process_is_exit",
        "Information about DM database dmap process existence",
    ),
    MetricDef::gauge(
        "dmdbms_dmserver_process_is_exit",
        "Information about DM database dmserver process existence",
    ),
    MetricDef::gauge(
        "dmdbms_dmwatcher_process_is_exit",
        "Information about DM database dmwatcher process existence",
    ),
    MetricDef::gauge(
        "dmdbms_dmmonitor_process_is_exit",
        "Information about DM database dmmonitor process existence",
    ),
    MetricDef::gauge(
        "dmdbms_dmagent_process_is_exit",
        "Information about DM database dmagent process existence",
    ),
];

/// The first positive integer PID in the result of [`SQL`].
pub fn server_pid(rows: &Rows) -> Option<u32> {
    rows.rows.iter().find_map(|r| cell(r, 0)?.trim().parse::<u32>().ok().filter(|p| *p > 0))
}

/// What `/proc` says about the dmserver PID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// `/proc/<pid>` does not exist or cannot be read: the exporter is not on the database
    /// host (or not on Linux). Nothing is emitted.
    NotHere,
    /// A process with that PID exists here but its command line does not mention dmserver.
    NotDmserver,
    /// The dmserver process. `others` counts dmap, dmwatcher, dmmonitor and dmagent
    /// processes started from `bin`; `None` when `bin` is unknown or `/proc` cannot be listed.
    Dmserver {
        /// Directory of the dmserver executable.
        bin: Option<PathBuf>,
        /// Counts in the order dmap, dmwatcher, dmmonitor, dmagent.
        others: Option<[u32; 4]>,
    },
}

/// The argument vector of `/proc/<pid>/cmdline` (NUL-separated).
fn argv(proc_root: &Path, pid: &str) -> std::io::Result<Vec<String>> {
    let raw = std::fs::read(proc_root.join(pid).join("cmdline"))?;
    Ok(raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect())
}

/// Target of a `/proc/<pid>/{exe,cwd}` link, without the kernel's ` (deleted)` suffix.
fn link(proc_root: &Path, pid: &str, name: &str) -> Option<PathBuf> {
    let target = std::fs::read_link(proc_root.join(pid).join(name)).ok()?;
    let text = target.to_string_lossy();
    Some(match text.strip_suffix(" (deleted)") {
        Some(t) => PathBuf::from(t),
        None => target,
    })
}

/// `.` and `..` resolved lexically (no file system access).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The executables process `pid` may be running: its `exe` link, and its `argv[0]` when
/// absolute or when its working directory can be read.
fn executables(proc_root: &Path, pid: &str, argv0: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = link(proc_root, pid, "exe").into_iter().collect();
    let a = Path::new(argv0);
    if a.is_absolute() {
        out.push(normalize(a));
    } else if argv0.contains('/') {
        if let Some(cwd) = link(proc_root, pid, "cwd") {
            out.push(normalize(&cwd.join(a)));
        }
    }
    out
}

/// The dmserver's install directory: directory of its executable, else its working
/// directory, else the directory of an absolute `argv[0]`.
fn install_dir(proc_root: &Path, pid: &str, argv0: &str) -> Option<PathBuf> {
    if let Some(dir) = link(proc_root, pid, "exe").and_then(|e| e.parent().map(Path::to_path_buf)) {
        return Some(dir);
    }
    if let Some(cwd) = link(proc_root, pid, "cwd") {
        return Some(cwd);
    }
    let a = Path::new(argv0);
    a.is_absolute().then(|| normalize(a).parent().map(Path::to_path_buf)).flatten()
}

/// Counts the processes under `proc_root` whose executable is `<bin>/<name>` for dmap,
/// dmwatcher, dmmonitor and dmagent (in that order).
pub fn count_others(proc_root: &Path, bin: &Path) -> std::io::Result<[u32; 4]> {
    let targets: Vec<PathBuf> =
        PROCESSES.iter().filter(|n| **n != "dmserver").map(|n| normalize(&bin.join(n))).collect();
    let mut counts = [0u32; 4];
    for entry in std::fs::read_dir(proc_root)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        let Some(pid) = name.to_str().filter(|s| s.bytes().all(|b| b.is_ascii_digit())) else {
            continue;
        };
        // Kernel threads and zombies have an empty command line; vanished processes fail.
        let Ok(args) = argv(proc_root, pid) else { continue };
        let Some(argv0) = args.first() else { continue };
        let exes = executables(proc_root, pid, argv0);
        if let Some(i) = targets.iter().position(|t| exes.contains(t)) {
            counts[i] += 1;
        }
    }
    Ok(counts)
}

/// Looks at the dmserver PID under `proc_root` (normally `/proc`).
pub fn observe(proc_root: &Path, pid: u32) -> Observation {
    let pid = pid.to_string();
    let Ok(args) = argv(proc_root, &pid) else { return Observation::NotHere };
    if !args.iter().any(|a| a.contains("dmserver")) {
        return Observation::NotDmserver;
    }
    let bin = args.first().and_then(|a0| install_dir(proc_root, &pid, a0));
    let others = bin.as_deref().and_then(|b| count_others(proc_root, b).ok());
    Observation::Dmserver { bin, others }
}

/// The samples of an observation (see [`Observation`]).
pub fn samples(o: &Observation) -> Vec<Sample> {
    match o {
        Observation::NotHere => Vec::new(),
        Observation::NotDmserver => vec![Sample::new(DMSERVER, 0.0)],
        Observation::Dmserver { others: None, .. } => vec![Sample::new(DMSERVER, 1.0)],
        Observation::Dmserver { others: Some([dmap, watcher, monitor, agent]), .. } => vec![
            Sample::new(0, f64::from(*dmap)),
            Sample::new(DMSERVER, 1.0),
            Sample::new(2, f64::from(*watcher)),
            Sample::new(3, f64::from(*monitor)),
            Sample::new(4, f64::from(*agent)),
        ],
    }
}

/// Why an observation emits less than all five metrics, for the log.
fn quiet_reason(pid: Option<u32>, o: Option<&Observation>) -> Option<String> {
    match (pid, o) {
        (None, _) => Some("V$PROCESS returned no PID".to_owned()),
        (Some(p), Some(Observation::NotHere)) => Some(format!(
            "/proc/{p} (the dmserver PID from V$PROCESS) does not exist or cannot be read: the \
             exporter is not on the database host; host process metrics are not emitted"
        )),
        (Some(p), Some(Observation::NotDmserver)) => Some(format!(
            "process {p} (the dmserver PID from V$PROCESS) is not a dmserver here: the exporter \
             sees another PID namespace; dmdbms_dmserver_process_is_exit is 0"
        )),
        (Some(p), Some(Observation::Dmserver { others: None, .. })) => Some(format!(
            "the install directory of dmserver {p} cannot be read from /proc; only \
             dmdbms_dmserver_process_is_exit is emitted"
        )),
        _ => None,
    }
}

/// The collector. Reads `/proc` (or another root, for tests).
#[derive(Debug)]
pub struct HostProcessCollector {
    proc_root: PathBuf,
    logged: Mutex<Option<String>>,
}

impl HostProcessCollector {
    /// A collector reading the process table under `proc_root`.
    pub fn new(proc_root: impl Into<PathBuf>) -> Self {
        HostProcessCollector { proc_root: proc_root.into(), logged: Mutex::new(None) }
    }

    fn log_once(&self, ds: &str, reason: Option<String>) {
        let mut last = self.logged.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(r) = &reason {
            if last.as_ref() != Some(r) {
                tracing::info!(datasource = %ds, "{r}.");
            }
        }
        *last = reason;
    }
}

impl Default for HostProcessCollector {
    fn default() -> Self {
        Self::new("/proc")
    }
}

impl Collector for HostProcessCollector {
    fn metrics(&self) -> Vec<MetricSpec> {
        METRICS.iter().map(MetricSpec::from).collect()
    }
    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        let pid = server_pid(&ctx.query(SQL)?);
        let observation = pid.map(|p| observe(&self.proc_root, p));
        self.log_once(&ctx.datasource().name, quiet_reason(pid, observation.as_ref()));
        if let Some(o) = &observation {
            out.extend(samples(o));
        }
        Ok(())
    }
}

fn build(_: &DatasourceConfig) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(HostProcessCollector::default()))
}

inventory::submit! {
    CollectorDescriptor::new("host_process", "V$PROCESS, /proc", Family::Host, METRICS, build)
        .queries(&[SQL])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fake `/proc` in a temp dir, removed on drop.
    struct FakeProc(PathBuf);

    impl FakeProc {
        fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "dmexp-fakeproc-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            FakeProc(dir)
        }

        /// Adds process `pid` with `args` as its command line and optional exe/cwd links.
        fn process(&self, pid: u32, args: &[&str], exe: Option<&str>, cwd: Option<&str>) {
            let d = self.0.join(pid.to_string());
            std::fs::create_dir_all(&d).unwrap();
            let mut cmdline = Vec::new();
            for a in args {
                cmdline.extend_from_slice(a.as_bytes());
                cmdline.push(0);
            }
            std::fs::write(d.join("cmdline"), cmdline).unwrap();
            if let Some(e) = exe {
                std::os::unix::fs::symlink(e, d.join("exe")).unwrap();
            }
            if let Some(c) = cwd {
                std::os::unix::fs::symlink(c, d.join("cwd")).unwrap();
            }
        }
    }

    impl Drop for FakeProc {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const BIN: &str = "/opt/dmdbms/bin";

    fn host() -> FakeProc {
        let p = FakeProc::new();
        p.process(
            2231,
            &["/opt/dmdbms/bin/dmserver", "path=/dmdata/DAMENG/dm.ini", "-noconsole"],
            Some("/opt/dmdbms/bin/dmserver"),
            Some("/opt/dmdbms/bin"),
        );
        // Two watchers: one found by its exe link, one (other user: no links) by argv[0].
        p.process(
            3001,
            &["/opt/dmdbms/bin/dmwatcher", "/dmdata/dmwatcher.ini"],
            Some("/opt/dmdbms/bin/dmwatcher"),
            None,
        );
        p.process(3002, &["/opt/dmdbms/bin/dmwatcher", "/dmdata/dmwatcher.ini"], None, None);
        // dmap started as ./dmap from the bin directory.
        p.process(3003, &["./dmap"], None, Some("/opt/dmdbms/bin"));
        // dmagent whose binary was replaced on disk.
        p.process(3004, &["dmagent"], Some("/opt/dmdbms/bin/dmagent (deleted)"), None);
        // Not counted: another install, a grep mentioning the path, a prefix match,
        // a kernel thread (empty cmdline), a non-numeric entry.
        p.process(3005, &["/opt/other/bin/dmwatcher"], Some("/opt/other/bin/dmwatcher"), None);
        p.process(3006, &["grep", "/opt/dmdbms/bin/dmmonitor"], Some("/usr/bin/grep"), None);
        p.process(3007, &["/opt/dmdbms/bin/dmap_helper"], None, None);
        p.process(3008, &[], None, None);
        std::fs::create_dir_all(p.0.join("self")).unwrap();
        p
    }

    #[test]
    fn counts_processes_started_from_the_install_dir() {
        let p = host();
        let o = observe(&p.0, 2231);
        assert_eq!(
            o,
            Observation::Dmserver { bin: Some(PathBuf::from(BIN)), others: Some([1, 2, 0, 1]) }
        );
        assert_eq!(
            samples(&o),
            vec![
                Sample::new(0, 1.0),
                Sample::new(1, 1.0),
                Sample::new(2, 2.0),
                Sample::new(3, 0.0),
                Sample::new(4, 1.0),
            ]
        );
        assert_eq!(quiet_reason(Some(2231), Some(&o)), None);
    }

    #[test]
    fn not_on_the_database_host() {
        let p = host();
        assert_eq!(observe(&p.0, 99), Observation::NotHere);
        assert!(samples(&Observation::NotHere).is_empty());
        assert_eq!(observe(&p.0.join("missing"), 2231), Observation::NotHere);
        assert!(quiet_reason(Some(99), Some(&Observation::NotHere))
            .is_some_and(|r| r.contains("not on the database host")));
        assert!(quiet_reason(None, None).is_some());
    }

    #[test]
    fn pid_of_another_process_is_zero_dmserver() {
        let p = host();
        assert_eq!(observe(&p.0, 3006), Observation::NotDmserver);
        assert_eq!(samples(&Observation::NotDmserver), vec![Sample::new(1, 0.0)]);
    }

    #[test]
    fn install_dir_fallbacks() {
        let p = FakeProc::new();
        // No exe link (other user): working directory.
        p.process(10, &["./dmserver", "dm.ini"], None, Some("/dm/bin"));
        p.process(11, &["/dm/bin/dmmonitor", "m.ini"], None, None);
        assert_eq!(
            observe(&p.0, 10),
            Observation::Dmserver {
                bin: Some(PathBuf::from("/dm/bin")),
                others: Some([0, 0, 1, 0])
            }
        );
        // Neither link: directory of an absolute argv[0].
        p.process(12, &["/dm/bin/../bin/dmserver", "dm.ini"], None, None);
        assert_eq!(
            observe(&p.0, 12),
            Observation::Dmserver {
                bin: Some(PathBuf::from("/dm/bin")),
                others: Some([0, 0, 1, 0])
            }
        );
        // Nothing to go on: dmserver only.
        p.process(13, &["dmserver"], None, None);
        let o = observe(&p.0, 13);
        assert_eq!(o, Observation::Dmserver { bin: None, others: None });
        assert_eq!(samples(&o), vec![Sample::new(1, 1.0)]);
        assert!(quiet_reason(Some(13), Some(&o)).is_some());
    }

    #[test]
    fn pid_from_v_process() {
        let rows = |c: &[Option<&str>]| Rows {
            rows: c.iter().map(|x| vec![x.map(str::to_owned)]).collect(),
            ..Default::default()
        };
        assert_eq!(server_pid(&rows(&[Some(" 2231 ")])), Some(2231));
        assert_eq!(
            server_pid(&rows(&[None, Some("0"), Some("-1"), Some("x"), Some("7")])),
            Some(7)
        );
        assert_eq!(server_pid(&rows(&[])), None);
    }
}
