//! Whether a plugin file may be loaded, and opening it so that what was checked is what is
//! loaded.
//!
//! A plugin runs as the exporter, so every account that can change which bytes end up
//! mapped could run code as the exporter. The rule:
//!
//! - the file, and every directory from `/` down to it, is owned by root or by the
//!   exporter's (effective) user and is not writable by group or others;
//! - the path is resolved one component at a time: each symlink met is followed, and the
//!   directory *holding* it must pass the same rule (anyone who can write it can repoint the
//!   link), as must every directory of the target;
//! - a root-owned sticky directory (`/tmp`, mode 1777) is accepted as an *ancestor* (others
//!   cannot rename or remove what they do not own there), never as the directory holding the
//!   plugin or a symlink;
//! - the file is then opened with `O_NOFOLLOW`, checked again with `fstat` (same device and
//!   inode as during the walk, regular, owner and mode as above) and loaded from
//!   `/proc/self/fd/N` by the caller, so it cannot change between the check and the load.
//!
//! A refusal names the path that broke the rule, the reason and the fix.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use super::error::{PluginErrorKind, Problem};

/// More symlinks than this on one path is a loop (Linux stops at 40 as well).
const MAX_SYMLINKS: usize = 40;

/// A plugin file that passed the checks, open for loading.
#[derive(Debug)]
pub(crate) struct CheckedFile {
    /// The path with every symlink resolved.
    pub(crate) canonical: PathBuf,
    /// The open file (`O_NOFOLLOW`); load it through [`CheckedFile::proc_path`].
    pub(crate) file: File,
    /// `fstat` of [`CheckedFile::file`].
    pub(crate) meta: Metadata,
}

impl CheckedFile {
    /// `/proc/self/fd/N` of the open file: loading this path loads exactly the checked file.
    pub(crate) fn proc_path(&self) -> PathBuf {
        use std::os::fd::AsRawFd as _;
        PathBuf::from(format!("/proc/self/fd/{}", self.file.as_raw_fd()))
    }
}

/// Which rule a directory must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// On the way down: a root-owned sticky directory is fine.
    Ancestor,
    /// Holds a symlink of the path.
    HoldsSymlink,
    /// Holds the plugin file.
    HoldsPlugin,
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions, touches no memory and cannot fail.
    unsafe { libc::geteuid() }
}

fn insecure(message: String) -> Problem {
    Problem::new(PluginErrorKind::InsecurePermissions, message)
}

fn not_found(path: &Path, e: &std::io::Error) -> Problem {
    if e.kind() == std::io::ErrorKind::NotFound {
        Problem::new(PluginErrorKind::NotFound, format!("no such file: {}", path.display()))
    } else {
        Problem::new(PluginErrorKind::NotFound, format!("cannot read {}: {e}", path.display()))
    }
}

/// Owner root or `euid`.
fn owner_ok(meta: &Metadata, euid: u32) -> bool {
    meta.uid() == 0 || meta.uid() == euid
}

/// Checks one directory for `role`; `plugin` names the configured file in the message.
fn check_dir(dir: &Path, role: Role, euid: u32, plugin: &Path) -> Result<(), Problem> {
    let meta = std::fs::symlink_metadata(dir).map_err(|e| not_found(dir, &e))?;
    let mode = meta.mode() & 0o7777;
    let what = match role {
        Role::Ancestor => "the directory",
        Role::HoldsSymlink => "the directory holding a symlink of its path,",
        Role::HoldsPlugin => "its directory",
    };
    if !owner_ok(&meta, euid) {
        return Err(insecure(format!(
            "refusing {}: {what} {} is owned by uid {} (neither root nor the exporter's uid \
             {euid}); that account can replace the plugin. Fix: chown root {} (or move the \
             plugin to a directory owned by root or the exporter's user)",
            plugin.display(),
            dir.display(),
            meta.uid(),
            dir.display()
        )));
    }
    let writable = mode & 0o022 != 0;
    let sticky_root = meta.uid() == 0 && mode & 0o1000 != 0;
    if writable && !(role == Role::Ancestor && sticky_root) {
        let sticky = if sticky_root {
            " (sticky: safe above the plugin, but not as the directory holding it or a symlink)"
        } else {
            ""
        };
        return Err(insecure(format!(
            "refusing {}: {what} {} is writable by group or others (mode {mode:04o}){sticky}; \
             anyone who can write there can replace the plugin. Fix: chmod go-w {} (or move \
             the plugin to a directory only its owner can write)",
            plugin.display(),
            dir.display(),
            dir.display()
        )));
    }
    Ok(())
}

/// Checks the file's own metadata (owner, mode, regular).
fn check_file_meta(meta: &Metadata, path: &Path, euid: u32) -> Result<(), Problem> {
    if !meta.is_file() {
        return Err(Problem::new(
            PluginErrorKind::NotALibrary,
            format!("{} is not a regular file", path.display()),
        ));
    }
    if !owner_ok(meta, euid) {
        return Err(insecure(format!(
            "refusing {}: the file is owned by uid {} (neither root nor the exporter's uid \
             {euid}); that account can rewrite it and run code as the exporter. Fix: chown \
             root {}",
            path.display(),
            meta.uid(),
            path.display()
        )));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(insecure(format!(
            "refusing {}: the file is writable by group or others (mode {mode:04o}); anyone \
             who can write it can run code as the exporter. Fix: chmod go-w {}",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// Pushes the components of `p` to the front of `pending`, in order.
fn prepend(pending: &mut VecDeque<OsString>, p: &Path) {
    let comps: Vec<OsString> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    for c in comps.into_iter().rev() {
        pending.push_front(c);
    }
}

/// Resolves `path` component by component, checking every directory on the way (see the
/// module docs), and opens the file it names with `O_NOFOLLOW`.
pub(crate) fn open_checked(path: &Path) -> Result<CheckedFile, Problem> {
    open_checked_as(path, effective_uid())
}

fn open_checked_as(path: &Path, euid: u32) -> Result<CheckedFile, Problem> {
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().map_err(|e| not_found(path, &e))?.join(path)
    };
    let mut pending = VecDeque::new();
    prepend(&mut pending, &absolute);
    let mut resolved = PathBuf::from("/");
    check_dir(&resolved, Role::Ancestor, euid, path)?;
    let mut links = 0;
    let mut last = None;
    while let Some(comp) = pending.pop_front() {
        if comp == ".." {
            // Its parent was checked on the way down.
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&comp);
        let meta = std::fs::symlink_metadata(&candidate).map_err(|e| not_found(path, &e))?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(Problem::new(
                    PluginErrorKind::NotFound,
                    format!("cannot resolve {}: too many symlinks", path.display()),
                ));
            }
            check_dir(&resolved, Role::HoldsSymlink, euid, path)?;
            let target = std::fs::read_link(&candidate).map_err(|e| not_found(path, &e))?;
            if target.is_absolute() {
                resolved = PathBuf::from("/");
            }
            prepend(&mut pending, &target);
            continue;
        }
        if pending.is_empty() {
            last = Some(meta);
            resolved = candidate;
            break;
        }
        if !meta.is_dir() {
            return Err(Problem::new(
                PluginErrorKind::NotFound,
                format!(
                    "cannot resolve {}: {} is not a directory",
                    path.display(),
                    candidate.display()
                ),
            ));
        }
        check_dir(&candidate, Role::Ancestor, euid, path)?;
        resolved = candidate;
    }
    let Some(walked) = last else {
        return Err(Problem::new(
            PluginErrorKind::NotALibrary,
            format!("{} is not a regular file", path.display()),
        ));
    };
    check_file_meta(&walked, &resolved, euid)?;
    if let Some(dir) = resolved.parent() {
        check_dir(dir, Role::HoldsPlugin, euid, &resolved)?;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(&resolved)
        .map_err(|e| not_found(&resolved, &e))?;
    let meta = file.metadata().map_err(|e| not_found(&resolved, &e))?;
    if (meta.dev(), meta.ino()) != (walked.dev(), walked.ino()) {
        return Err(insecure(format!(
            "refusing {}: the file changed while it was being checked; try again",
            resolved.display()
        )));
    }
    check_file_meta(&meta, &resolved, euid)?;
    Ok(CheckedFile { canonical: resolved, file, meta })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("path-check-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    fn file(path: &Path, mode: u32) {
        std::fs::write(path, b"\x7fELF not really").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn refused(path: &Path) -> String {
        let e = open_checked(path).unwrap_err();
        assert_eq!(e.kind, PluginErrorKind::InsecurePermissions, "{}", e.message);
        e.message
    }

    #[test]
    fn a_safe_file_through_safe_symlinks_and_dot_dots_is_opened() {
        let d = scratch("safe");
        std::fs::create_dir(d.join("lib")).unwrap();
        mode(&d.join("lib"), 0o755);
        file(&d.join("lib/libp.so"), 0o755);
        std::os::unix::fs::symlink("lib/libp.so", d.join("link.so")).unwrap();
        let c = open_checked(&d.join("link.so")).unwrap();
        assert_eq!(c.canonical, std::fs::canonicalize(d.join("lib/libp.so")).unwrap());
        let c = open_checked(&d.join("lib/../lib/./libp.so")).unwrap();
        assert_eq!(c.canonical, std::fs::canonicalize(d.join("lib/libp.so")).unwrap());
        assert!(c.proc_path().starts_with("/proc/self/fd/"));
    }

    #[test]
    fn a_symlink_in_a_world_writable_directory_is_refused_with_that_directory() {
        let d = scratch("wwlink");
        file(&d.join("libp.so"), 0o755);
        std::fs::create_dir(d.join("ww")).unwrap();
        std::os::unix::fs::symlink(d.join("libp.so"), d.join("ww/lib.so")).unwrap();
        mode(&d.join("ww"), 0o777);
        let m = refused(&d.join("ww/lib.so"));
        assert!(m.contains(&format!("directory {} is writable", d.join("ww").display())), "{m}");
        assert!(m.contains("mode 0777"), "{m}");
    }

    #[test]
    fn a_world_writable_ancestor_is_refused_with_that_directory() {
        let d = scratch("wwparent");
        std::fs::create_dir_all(d.join("open/sub")).unwrap();
        mode(&d.join("open/sub"), 0o755);
        file(&d.join("open/sub/libp.so"), 0o755);
        mode(&d.join("open"), 0o777);
        let m = refused(&d.join("open/sub/libp.so"));
        assert!(
            m.contains(&format!("the directory {} is writable", d.join("open").display())),
            "{m}"
        );
    }

    #[test]
    fn a_sticky_root_directory_is_an_ancestor_but_not_the_plugin_directory() {
        // /tmp is root-owned and sticky on every Linux this runs on.
        let meta = std::fs::metadata("/tmp").unwrap();
        if meta.uid() != 0 || meta.mode() & 0o1000 == 0 {
            return;
        }
        let d = PathBuf::from(format!("/tmp/dmexp-path-check-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir(&d).unwrap();
        mode(&d, 0o755);
        file(&d.join("libp.so"), 0o755);
        assert!(open_checked(&d.join("libp.so")).is_ok());
        let direct = PathBuf::from(format!("/tmp/libdmexp-path-check-{}.so", std::process::id()));
        file(&direct, 0o755);
        let m = refused(&direct);
        assert!(m.contains("its directory /tmp is writable") && m.contains("sticky"), "{m}");
        // A symlink in /tmp to the safe file: whoever owns the link can repoint it.
        let link = PathBuf::from(format!("/tmp/libdmexp-path-link-{}.so", std::process::id()));
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(d.join("libp.so"), &link).unwrap();
        let m = refused(&link);
        assert!(m.contains("the directory holding a symlink of its path, /tmp is writable"), "{m}");
        let _ = std::fs::remove_file(&link);
        let _ = std::fs::remove_file(&direct);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn files_and_directories_owned_by_another_account_are_refused() {
        let d = scratch("owner");
        std::fs::create_dir(d.join("sub")).unwrap();
        mode(&d.join("sub"), 0o755);
        file(&d.join("sub/libp.so"), 0o755);
        file(&d.join("libq.so"), 0o755);
        let me = effective_uid();
        if me == 0 {
            // As root: hand the file, then a directory, to `nobody`.
            let nobody = 65534;
            std::os::unix::fs::chown(d.join("libq.so"), Some(nobody), None).unwrap();
            let m = refused(&d.join("libq.so"));
            assert!(m.contains(&format!("the file is owned by uid {nobody}")), "{m}");
            std::os::unix::fs::chown(d.join("sub"), Some(nobody), None).unwrap();
            let m = refused(&d.join("sub/libp.so"));
            assert!(
                m.contains(&format!(
                    "directory {} is owned by uid {nobody}",
                    d.join("sub").display()
                )),
                "{m}"
            );
        } else {
            // As another user: for an exporter running as some other uid, what this user
            // owns is someone else's.
            let e = open_checked_as(&d.join("libq.so"), me.wrapping_add(4242)).unwrap_err();
            assert_eq!(e.kind, PluginErrorKind::InsecurePermissions);
            assert!(e.message.contains(&format!("owned by uid {me}")), "{}", e.message);
        }
    }

    #[test]
    fn a_group_writable_file_and_a_directory_are_refused() {
        let d = scratch("loose");
        file(&d.join("libp.so"), 0o775);
        let m = refused(&d.join("libp.so"));
        assert!(m.contains("the file is writable by group or others (mode 0775)"), "{m}");
        let e = open_checked(&d).unwrap_err();
        assert_eq!(e.kind, PluginErrorKind::NotALibrary);
        let e = open_checked(&d.join("nope.so")).unwrap_err();
        assert_eq!(e.kind, PluginErrorKind::NotFound);
        assert!(e.message.contains("no such file"), "{}", e.message);
    }
}
