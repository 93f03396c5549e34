//! Is the ODBC driver that `odbcDriver` names actually usable? The first-day failure of a new
//! installation is a driver the driver manager cannot find or cannot load (docs/DM8_EVIDENCE.md
//! F7: DM's `libdodbc.so` needs `libodbcinst.so` under exactly that name, which Debian-family
//! `unixodbc` does not ship). [`check_driver`] answers before the first login is attempted, and
//! its error says what to install or which library is missing.
//!
//! `odbcDriver` is either
//! - a **path** to the driver library (contains a path separator), e.g.
//!   `/opt/dmdbms/bin/libdodbc.so`: unixODBC accepts `Driver={/path}` without any odbcinst.ini
//!   entry. The file must exist and load (`dlopen` with `RTLD_LAZY`, so every `DT_NEEDED`
//!   library must be found, but functions are bound only when called); or
//! - a **name**, e.g. `DM8 ODBC DRIVER`: a section of odbcinst.ini (the system file, found as
//!   unixODBC finds it, merged with `~/.odbcinst.ini`; names match case-insensitively as in
//!   unixODBC), whose `Driver64=` or `Driver=` library must exist and load.
//!
//! Loading runs the driver's initialisers, exactly as the driver manager would at the first
//! connect; nothing else of the driver is called, and it is unloaded again.

use std::fmt;
use std::path::{Path, PathBuf};

/// A usable driver: what `odbcDriver` resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverFound {
    /// The odbcinst.ini section name (as written in the file), `None` for a path.
    pub name: Option<String>,
    /// The odbcinst.ini file that registers it, `None` for a path.
    pub ini_file: Option<PathBuf>,
    /// The driver library that was loaded.
    pub library: PathBuf,
}

impl fmt::Display for DriverFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.name, &self.ini_file) {
            (Some(name), Some(ini)) => write!(
                f,
                "driver \"{name}\" (registered in {}) loads from {}",
                ini.display(),
                self.library.display()
            ),
            _ => write!(f, "driver library {} loads", self.library.display()),
        }
    }
}

/// Why the driver cannot be used. [`Display`](fmt::Display) gives the message for the user,
/// including what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverProblem {
    /// `odbcDriver` is empty.
    Empty,
    /// A name that no odbcinst.ini file registers.
    NotRegistered {
        /// The name as configured.
        name: String,
        /// The odbcinst.ini files that were read (existing ones).
        ini_files: Vec<PathBuf>,
        /// Registered names, in file order.
        registered: Vec<String>,
        /// The registered name closest to `name`, if any is close.
        suggestion: Option<String>,
    },
    /// The section exists but has no `Driver=` (or `Driver64=`) key.
    NoDriverKey {
        /// The section name.
        name: String,
        /// The file holding the section.
        ini_file: PathBuf,
    },
    /// The library file (a configured path, or the `Driver=` of a section) does not exist.
    FileMissing {
        /// The missing file.
        path: PathBuf,
        /// The registering section and file, when it came from odbcinst.ini.
        registered_as: Option<(String, PathBuf)>,
    },
    /// A relative `Driver=` value that is in none of the directories the driver manager searches.
    LibraryNotFound {
        /// The section name.
        name: String,
        /// The file holding the section.
        ini_file: PathBuf,
        /// The `Driver=` value.
        library: String,
        /// The directories that were searched.
        searched: Vec<PathBuf>,
    },
    /// The path exists but is not a regular file (a directory, a device).
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file exists but the dynamic loader refuses it.
    NotLoadable {
        /// The library.
        path: PathBuf,
        /// The loader's message.
        reason: String,
        /// A library the driver needs that the loader did not find, when the message says so.
        missing_dependency: Option<String>,
    },
}

impl std::error::Error for DriverProblem {}

/// The advice for a library that a driver needs and the loader does not find.
fn dependency_advice(lib: &str) -> String {
    if lib.starts_with("libodbcinst.so") || lib.starts_with("libodbc.so") {
        format!(
            "{lib} is part of unixODBC and DM's driver needs it under exactly that name: \
             install unixODBC's development package (Debian/Ubuntu/UOS/Kylin-deb: \
             `apt-get install unixodbc unixodbc-dev`; RHEL/CentOS/openEuler/Kylin-rpm: \
             `yum install unixODBC unixODBC-devel`) or create the link yourself, e.g. \
             `ln -s libodbcinst.so.2 /usr/lib/x86_64-linux-gnu/libodbcinst.so` (use the directory \
             that holds libodbcinst.so.2 on this machine, /usr/lib64 on RPM distributions), \
             then run `ldconfig`"
        )
    } else {
        format!(
            "{lib} is not in the loader's search path: DM's driver libraries are in the bin \
             directory of the DM installation (e.g. /opt/dmdbms/bin, or the drivers/odbc \
             directory of the client package); add that directory to /etc/ld.so.conf.d/dm.conf \
             and run `ldconfig`, or set LD_LIBRARY_PATH for the exporter (Environment= in the \
             systemd unit)"
        )
    }
}

impl fmt::Display for DriverProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriverProblem::Empty => write!(
                f,
                "odbcDriver is empty: set it to the driver's name in odbcinst.ini \
                 (e.g. \"DM8 ODBC DRIVER\") or to the path of DM's libdodbc.so"
            ),
            DriverProblem::NotRegistered { name, ini_files, registered, suggestion } => {
                let files = if ini_files.is_empty() {
                    "no odbcinst.ini was found".to_string()
                } else {
                    let list: Vec<String> =
                        ini_files.iter().map(|p| p.display().to_string()).collect();
                    format!("{} registers", list.join(" and "))
                };
                write!(f, "ODBC driver \"{name}\" is not registered: {files}")?;
                if !ini_files.is_empty() {
                    if registered.is_empty() {
                        write!(f, " no drivers")?;
                    } else {
                        let quoted: Vec<String> =
                            registered.iter().map(|n| format!("\"{n}\"")).collect();
                        write!(f, " {}", quoted.join(", "))?;
                    }
                }
                if let Some(s) = suggestion {
                    write!(f, "; did you mean \"{s}\"?")?;
                }
                write!(
                    f,
                    ". Add a section [{name}] with Driver=/path/to/libdodbc.so to odbcinst.ini \
                     (`odbcinst -j` shows which file), or set odbcDriver to the absolute path of \
                     libdodbc.so, which needs no odbcinst.ini entry"
                )
            }
            DriverProblem::NoDriverKey { name, ini_file } => write!(
                f,
                "ODBC driver \"{name}\" in {} has no Driver= line: add \
                 Driver=/path/to/libdodbc.so to that section",
                ini_file.display()
            ),
            DriverProblem::FileMissing { path, registered_as } => {
                match registered_as {
                    Some((name, ini)) => write!(
                        f,
                        "ODBC driver \"{name}\" (in {}) points to {}, which does not exist",
                        ini.display(),
                        path.display()
                    )?,
                    None => write!(f, "ODBC driver library {} does not exist", path.display())?,
                }
                write!(
                    f,
                    ": DM's driver is libdodbc.so in the bin directory of the DM installation \
                     (e.g. /opt/dmdbms/bin/libdodbc.so); copy it with the libraries beside it \
                     or correct the path"
                )
            }
            DriverProblem::LibraryNotFound { name, ini_file, library, searched } => {
                let dirs: Vec<String> = searched.iter().map(|p| p.display().to_string()).collect();
                write!(
                    f,
                    "ODBC driver \"{name}\" (in {}) has Driver={library}, which is in none of {} \
                     nor the loader's search path: write the absolute path to the library",
                    ini_file.display(),
                    dirs.join(", ")
                )
            }
            DriverProblem::NotAFile { path } => write!(
                f,
                "ODBC driver library {} is not a regular file: set odbcDriver to the path of \
                 libdodbc.so itself",
                path.display()
            ),
            DriverProblem::NotLoadable { path, reason, missing_dependency } => {
                write!(f, "ODBC driver library {} cannot be loaded ({reason})", path.display())?;
                match missing_dependency {
                    Some(lib) => write!(f, ": {}", dependency_advice(lib)),
                    None => write!(
                        f,
                        ": it must be a shared library for this machine's architecture \
                         ({}); DM's driver is libdodbc.so from a DM installation or client \
                         package built for it",
                        std::env::consts::ARCH
                    ),
                }
            }
        }
    }
}

/// Checks that `odbc_driver` (the configured `odbcDriver`) names a usable driver: a path that
/// exists and loads, or a name registered in odbcinst.ini whose library exists and loads.
/// Surrounding braces (`{DM8 ODBC DRIVER}`) and blanks are ignored.
///
/// The odbcinst.ini files are those unixODBC reads: `$ODBCSYSINI/$ODBCINSTINI` (defaults
/// from `odbcinst -j` when that tool is installed, else `/etc/odbcinst.ini`) and
/// `~/.odbcinst.ini`. On Windows drivers are registered in the registry, which is not read:
/// a name is accepted as is there and only a path is checked.
pub fn check_driver(odbc_driver: &str) -> Result<DriverFound, DriverProblem> {
    let sources = IniSources::from_env();
    check_driver_with(odbc_driver, &sources)
}

/// Where to look for odbcinst.ini files and driver libraries (explicit, for tests).
#[derive(Debug, Clone, Default)]
struct IniSources {
    /// odbcinst.ini files in priority order (the first that registers a name wins).
    files: Vec<PathBuf>,
    /// Directories searched for a relative `Driver=` value, before the loader's own path.
    lib_dirs: Vec<PathBuf>,
}

impl IniSources {
    fn from_env() -> Self {
        let mut files = Vec::new();
        files.push(system_odbcinst_ini());
        if let Some(home) = std::env::var_os("HOME") {
            files.push(Path::new(&home).join(".odbcinst.ini"));
        }
        let mut lib_dirs = Vec::new();
        // unixODBC resolves a relative Driver= in its own library directory's `odbc`
        // subdirectory and in that directory (Debian: /usr/lib/<triplet>/odbc), then through
        // the loader (LD_LIBRARY_PATH, ld.so.cache).
        for dir in [
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64",
            "/usr/lib",
            "/usr/local/lib",
        ] {
            let dir = Path::new(dir);
            if dir.join("libodbc.so.2").exists() || dir.join("libodbc.so").exists() {
                lib_dirs.push(dir.join("odbc"));
                lib_dirs.push(dir.to_path_buf());
            }
        }
        if let Some(paths) = std::env::var_os("LD_LIBRARY_PATH") {
            lib_dirs.extend(std::env::split_paths(&paths).filter(|p| !p.as_os_str().is_empty()));
        }
        IniSources { files, lib_dirs }
    }
}

/// The system odbcinst.ini as unixODBC finds it.
fn system_odbcinst_ini() -> PathBuf {
    let file_name = std::env::var_os("ODBCINSTINI")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("odbcinst.ini"));
    if let Some(dir) = std::env::var_os("ODBCSYSINI").filter(|v| !v.is_empty()) {
        return Path::new(&dir).join(file_name);
    }
    // `odbcinst -j` prints the compiled-in location ("DRIVERS............: /etc/odbcinst.ini").
    if let Ok(out) = std::process::Command::new("odbcinst")
        .arg("-j")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("DRIVERS") {
                if let Some((_, path)) = rest.split_once(':') {
                    let path = path.trim();
                    if !path.is_empty() {
                        return PathBuf::from(path);
                    }
                }
            }
        }
    }
    Path::new("/etc").join(file_name)
}

/// Is `s` a path rather than a driver name?
fn is_path(s: &str) -> bool {
    s.contains('/') || (cfg!(windows) && (s.contains('\\') || s.contains(':')))
}

fn check_driver_with(
    odbc_driver: &str,
    sources: &IniSources,
) -> Result<DriverFound, DriverProblem> {
    let trimmed = odbc_driver.trim();
    let value =
        trimmed.strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap_or(trimmed).trim();
    if value.is_empty() {
        return Err(DriverProblem::Empty);
    }
    if is_path(value) {
        let path = PathBuf::from(value);
        check_library_file(&path, None)?;
        return Ok(DriverFound { name: None, ini_file: None, library: path });
    }
    if cfg!(windows) {
        // Registered in the registry (ODBC Data Source Administrator), not read here.
        return Ok(DriverFound {
            name: Some(value.to_string()),
            ini_file: None,
            library: PathBuf::new(),
        });
    }
    let mut read_files = Vec::new();
    let mut registered: Vec<String> = Vec::new();
    for file in &sources.files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        read_files.push(file.clone());
        let sections = parse_ini(&text);
        for section in &sections {
            if section.name.eq_ignore_ascii_case("ODBC") {
                continue; // unixODBC's own settings ([ODBC] Trace=…), not a driver
            }
            if !section.name.eq_ignore_ascii_case(value) {
                if !registered.iter().any(|r| r.eq_ignore_ascii_case(&section.name)) {
                    registered.push(section.name.clone());
                }
                continue;
            }
            let lib = section
                .get("Driver64")
                .filter(|v| !v.is_empty())
                .or_else(|| section.get("Driver").filter(|v| !v.is_empty()));
            let Some(lib) = lib else {
                return Err(DriverProblem::NoDriverKey {
                    name: section.name.clone(),
                    ini_file: file.clone(),
                });
            };
            let from = (section.name.clone(), file.clone());
            let library = if is_path(lib) {
                let p = PathBuf::from(lib);
                check_library_file(&p, Some(from))?;
                p
            } else {
                resolve_relative(lib, &section.name, file, sources)?
            };
            return Ok(DriverFound {
                name: Some(section.name.clone()),
                ini_file: Some(file.clone()),
                library,
            });
        }
    }
    let suggestion = nearest(value, &registered);
    Err(DriverProblem::NotRegistered {
        name: value.to_string(),
        ini_files: read_files,
        registered,
        suggestion,
    })
}

/// A relative `Driver=` value: the first of the search directories that has it (and it loads),
/// else whatever the loader finds by that name.
fn resolve_relative(
    lib: &str,
    name: &str,
    ini_file: &Path,
    sources: &IniSources,
) -> Result<PathBuf, DriverProblem> {
    let from = (name.to_string(), ini_file.to_path_buf());
    for dir in &sources.lib_dirs {
        let candidate = dir.join(lib);
        if candidate.exists() {
            check_library_file(&candidate, Some(from))?;
            return Ok(candidate);
        }
    }
    // The loader's own search (ld.so.cache, default directories).
    match try_load(Path::new(lib)) {
        Ok(()) => Ok(PathBuf::from(lib)),
        Err(reason) => match missing_dependency(&reason, Path::new(lib)) {
            Some(dep) => Err(DriverProblem::NotLoadable {
                path: PathBuf::from(lib),
                reason,
                missing_dependency: Some(dep),
            }),
            None => Err(DriverProblem::LibraryNotFound {
                name: name.to_string(),
                ini_file: ini_file.to_path_buf(),
                library: lib.to_string(),
                searched: sources.lib_dirs.clone(),
            }),
        },
    }
}

/// The file must exist, be a regular file (symlinks followed) and load.
fn check_library_file(
    path: &Path,
    registered_as: Option<(String, PathBuf)>,
) -> Result<(), DriverProblem> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(_) => {
            return Err(DriverProblem::FileMissing { path: path.to_path_buf(), registered_as })
        }
    };
    if !meta.is_file() {
        return Err(DriverProblem::NotAFile { path: path.to_path_buf() });
    }
    try_load(path).map_err(|reason| {
        let missing_dependency = missing_dependency(&reason, path);
        DriverProblem::NotLoadable { path: path.to_path_buf(), reason, missing_dependency }
    })
}

/// Loads and unloads the library; the loader's message on failure.
#[cfg(unix)]
fn try_load(path: &Path) -> Result<(), String> {
    use libloading::os::unix::{Library, RTLD_LAZY, RTLD_LOCAL};
    // SAFETY: loading runs the library's initialisers, which is what the ODBC driver manager
    // does with the same file at the first connect; no symbol of it is called or kept, and
    // the handle is closed before returning.
    let lib = unsafe { Library::open(Some(path), RTLD_LAZY | RTLD_LOCAL) };
    match lib {
        Ok(lib) => {
            drop(lib);
            Ok(())
        }
        Err(e) => Err(loader_message(&e)),
    }
}

/// Loads and unloads the library; the loader's message on failure.
#[cfg(windows)]
fn try_load(path: &Path) -> Result<(), String> {
    // SAFETY: as on Unix: DllMain runs, as it would in the driver manager; nothing is called.
    let lib = unsafe { libloading::Library::new(path) };
    match lib {
        Ok(lib) => {
            drop(lib);
            Ok(())
        }
        Err(e) => Err(loader_message(&e)),
    }
}

/// libloading's error without its "... failed" wrapper, when it has a source.
fn loader_message(e: &libloading::Error) -> String {
    match std::error::Error::source(e) {
        Some(src) => src.to_string(),
        None => e.to_string(),
    }
}

/// The dependency named in a glibc `dlerror` text like
/// `libodbcinst.so: cannot open shared object file: No such file or directory`, when it is
/// not the library itself.
fn missing_dependency(reason: &str, path: &Path) -> Option<String> {
    let (prefix, _) = reason.split_once(": cannot open shared object file")?;
    let dep = prefix.trim();
    let own = path.to_string_lossy();
    if dep == own || dep.is_empty() {
        return None;
    }
    Some(dep.to_string())
}

/// One `[section]` of an ini file with its `key=value` lines.
#[derive(Debug)]
struct Section {
    name: String,
    entries: Vec<(String, String)>,
}

impl Section {
    /// A key's value; keys match case-insensitively, the first occurrence wins.
    fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }
}

/// unixODBC's ini syntax: `[name]`, `key = value`, `#` or `;` comment lines.
fn parse_ini(text: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest.split(']').next().unwrap_or(rest).trim();
            sections.push(Section { name: name.to_string(), entries: Vec::new() });
            continue;
        }
        if let (Some(section), Some((k, v))) = (sections.last_mut(), line.split_once('=')) {
            section.entries.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    sections
}

/// The registered name closest to `name`, when it is close enough to be a typo.
fn nearest(name: &str, registered: &[String]) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    registered
        .iter()
        .map(|r| {
            let score = strsim::normalized_damerau_levenshtein(&lower, &r.to_ascii_lowercase());
            (score, r)
        })
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, r)| r.clone())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// A temporary directory removed on drop.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(tag: &str) -> Self {
            let p = std::env::temp_dir().join(format!(
                "dmexp-odbc-driver-{tag}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).expect("create a temporary directory");
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The SQLite ODBC driver the fixtures use (tests/fixtures/README.md), from the system
    /// odbcinst.ini, as an absolute path.
    fn sqlite_driver() -> PathBuf {
        let found = check_driver("SQLite3").expect("the fixtures' SQLite3 driver is registered");
        assert!(found.library.is_absolute(), "{found:?}");
        found.library
    }

    fn sources(dir: &TempDir, ini: &str, lib_dirs: Vec<PathBuf>) -> IniSources {
        let file = dir.0.join("odbcinst.ini");
        std::fs::write(&file, ini).expect("write odbcinst.ini");
        IniSources { files: vec![file, dir.0.join("missing-user.ini")], lib_dirs }
    }

    #[test]
    fn registered_name_resolves_to_the_system_sqlite_driver() {
        let found = check_driver("SQLite3").unwrap();
        assert_eq!(found.name.as_deref(), Some("SQLite3"));
        assert_eq!(found.library.file_name().and_then(|n| n.to_str()), Some("libsqlite3odbc.so"));
        assert!(found.library.exists());
        // braces and case as the connection string may carry them
        let again = check_driver(" {sqlite3} ").unwrap();
        assert_eq!(again.library, found.library);
        assert_eq!(again.name.as_deref(), Some("SQLite3"));
    }

    #[test]
    fn registered_name_with_absolute_driver_and_driver64_precedence() {
        let lib = sqlite_driver();
        let dir = TempDir::new("abs");
        let ini = format!(
            "[ODBC]\nTrace=No\n\n# DM\n[DM8 ODBC DRIVER]\nDescription = DM\nDriver = /nonexistent/libdodbc.so\nDriver64 = {}\n",
            lib.display()
        );
        let s = sources(&dir, &ini, vec![]);
        let found = check_driver_with("DM8 ODBC DRIVER", &s).unwrap();
        assert_eq!(
            found,
            DriverFound {
                name: Some("DM8 ODBC DRIVER".into()),
                ini_file: Some(dir.0.join("odbcinst.ini")),
                library: lib,
            }
        );
    }

    #[test]
    fn unknown_name_lists_registered_ones_and_suggests_the_nearest() {
        let dir = TempDir::new("unknown");
        let ini = "[ODBC]\nTrace=No\n[DM8 ODBC DRIVER]\nDriver=/opt/dmdbms/bin/libdodbc.so\n[SQLite3]\nDriver=libsqlite3odbc.so\n";
        let s = sources(&dir, ini, vec![]);
        let err = check_driver_with("DM8 ODBC DRIVRE", &s).unwrap_err();
        assert_eq!(
            err,
            DriverProblem::NotRegistered {
                name: "DM8 ODBC DRIVRE".into(),
                ini_files: vec![dir.0.join("odbcinst.ini")],
                registered: vec!["DM8 ODBC DRIVER".into(), "SQLite3".into()],
                suggestion: Some("DM8 ODBC DRIVER".into()),
            }
        );
        let msg = err.to_string();
        assert!(msg.starts_with("ODBC driver \"DM8 ODBC DRIVRE\" is not registered: "), "{msg}");
        assert!(msg.contains("did you mean \"DM8 ODBC DRIVER\"?"), "{msg}");
        assert!(msg.contains("absolute path of libdodbc.so"), "{msg}");
        // nothing close: no suggestion
        match check_driver_with("Oracle", &s).unwrap_err() {
            DriverProblem::NotRegistered { suggestion, .. } => assert_eq!(suggestion, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn registered_name_whose_library_is_missing_or_absent() {
        let dir = TempDir::new("missing");
        let ini = "[DM8 ODBC DRIVER]\nDriver=/opt/dmdbms/bin/libdodbc.so\n[NoLib]\nDescription=x\n[Rel]\nDriver=libdmexp-nowhere.so\n";
        let s = sources(&dir, ini, vec![dir.0.clone()]);
        let ini_path = dir.0.join("odbcinst.ini");
        assert_eq!(
            check_driver_with("DM8 ODBC DRIVER", &s).unwrap_err(),
            DriverProblem::FileMissing {
                path: "/opt/dmdbms/bin/libdodbc.so".into(),
                registered_as: Some(("DM8 ODBC DRIVER".into(), ini_path.clone())),
            }
        );
        assert_eq!(
            check_driver_with("NoLib", &s).unwrap_err(),
            DriverProblem::NoDriverKey { name: "NoLib".into(), ini_file: ini_path.clone() }
        );
        assert_eq!(
            check_driver_with("Rel", &s).unwrap_err(),
            DriverProblem::LibraryNotFound {
                name: "Rel".into(),
                ini_file: ini_path,
                library: "libdmexp-nowhere.so".into(),
                searched: vec![dir.0.clone()],
            }
        );
    }

    #[test]
    fn path_to_the_real_sqlite_driver_loads() {
        let lib = sqlite_driver();
        let found = check_driver(lib.to_str().unwrap()).unwrap();
        assert_eq!(found, DriverFound { name: None, ini_file: None, library: lib });
    }

    #[test]
    fn path_to_a_non_library_file_is_not_loadable() {
        let dir = TempDir::new("nonlib");
        let file = dir.0.join("libdodbc.so");
        // longer than an ELF header, so the loader reads it and rejects the magic
        std::fs::write(&file, "not an ELF file, a text file\n".repeat(10)).unwrap();
        let err = check_driver(file.to_str().unwrap()).unwrap_err();
        match &err {
            DriverProblem::NotLoadable { path, reason, missing_dependency } => {
                assert_eq!(path, &file);
                assert!(reason.contains("invalid ELF header"), "{reason}");
                assert_eq!(missing_dependency, &None);
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("architecture"), "{err}");
        // a directory, a missing file, an empty value
        assert_eq!(
            check_driver(dir.0.to_str().unwrap()).unwrap_err(),
            DriverProblem::NotAFile { path: dir.0.clone() }
        );
        assert_eq!(
            check_driver("/nonexistent/libdodbc.so").unwrap_err(),
            DriverProblem::FileMissing {
                path: "/nonexistent/libdodbc.so".into(),
                registered_as: None,
            }
        );
        assert_eq!(check_driver(" {} ").unwrap_err(), DriverProblem::Empty);
    }

    /// A driver built to need a library that is not installed (as libdodbc.so needs
    /// libodbcinst.so) names that library. Needs a C compiler (the build has one: ring).
    #[test]
    fn path_to_a_driver_with_a_missing_dependency_names_it() {
        let dir = TempDir::new("dep");
        let src = dir.0.join("x.c");
        std::fs::write(&src, "int dmexp_dep(void) { return 1; }\n").unwrap();
        let dep = dir.0.join("libdmexpmissingdep.so");
        let st = std::process::Command::new("cc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(&dep)
            .arg(&src)
            .args(["-Wl,-soname,libdmexpmissingdep.so"])
            .status()
            .unwrap();
        assert!(st.success());
        let drv = dir.0.join("libfakedodbc.so");
        let st = std::process::Command::new("cc")
            .args(["-shared", "-fPIC", "-o"])
            .arg(&drv)
            .arg(&src)
            .arg("-Wl,--no-as-needed")
            .arg(format!("-L{}", dir.0.display()))
            .arg("-ldmexpmissingdep")
            .status()
            .unwrap();
        assert!(st.success());
        std::fs::remove_file(&dep).unwrap();
        let err = check_driver(drv.to_str().unwrap()).unwrap_err();
        match &err {
            DriverProblem::NotLoadable { missing_dependency, .. } => {
                assert_eq!(missing_dependency.as_deref(), Some("libdmexpmissingdep.so"))
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("ld.so.conf.d"), "{err}");
    }

    #[test]
    fn libodbcinst_advice_names_the_packages_and_the_symlink() {
        let reason = "libodbcinst.so: cannot open shared object file: No such file or directory";
        let dep = missing_dependency(reason, Path::new("/opt/dmdbms/bin/libdodbc.so"));
        assert_eq!(dep.as_deref(), Some("libodbcinst.so"));
        let msg = DriverProblem::NotLoadable {
            path: "/opt/dmdbms/bin/libdodbc.so".into(),
            reason: reason.into(),
            missing_dependency: dep,
        }
        .to_string();
        assert!(msg.contains("apt-get install unixodbc unixodbc-dev"), "{msg}");
        assert!(msg.contains("yum install unixODBC unixODBC-devel"), "{msg}");
        assert!(msg.contains("ln -s libodbcinst.so.2"), "{msg}");
        // the library's own name is not a dependency
        assert_eq!(
            missing_dependency(
                "/x/libdodbc.so: cannot open shared object file: No such file or directory",
                Path::new("/x/libdodbc.so")
            ),
            None
        );
    }
}
