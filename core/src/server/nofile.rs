//! The process's file-descriptor limit (`RLIMIT_NOFILE`): read for the connection cap
//! ([`super::ConnectionLimits`]) and raised at startup ([`raise_nofile_limit`]).

/// The current soft limit, `None` when unknown or unlimited (or not on Unix).
pub fn soft_limit() -> Option<u64> {
    limits().and_then(|(soft, _)| soft)
}

/// `(soft, hard)`, each `None` when unlimited.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not everywhere
fn limits() -> Option<(Option<u64>, Option<u64>)> {
    let mut rlim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one `rlimit` into the valid, exclusively borrowed `rlim`.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rlim) };
    if rc != 0 {
        return None;
    }
    let finite = |v: libc::rlim_t| (v != libc::RLIM_INFINITY).then_some(v as u64);
    Some((finite(rlim.rlim_cur), finite(rlim.rlim_max)))
}

#[cfg(not(unix))]
fn limits() -> Option<(Option<u64>, Option<u64>)> {
    None
}

/// What [`raise_nofile_limit`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NofileChange {
    /// The soft limit was raised from the first to the second value (the hard limit).
    Raised(u64, u64),
    /// The soft limit already equals the hard limit (or is unlimited).
    Unchanged(Option<u64>),
    /// The limit could not be read or set (the error text).
    Failed(String),
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, so that the connection cap and the
/// ODBC pools are bounded by what the administrator allows, not by the usual 1024 default.
/// Call it once at startup, before the server starts; log the result.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not everywhere
pub fn raise_nofile_limit() -> NofileChange {
    let mut rlim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: as in `limits`.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rlim) } != 0 {
        return NofileChange::Failed(std::io::Error::last_os_error().to_string());
    }
    if rlim.rlim_cur == rlim.rlim_max || rlim.rlim_cur == libc::RLIM_INFINITY {
        let soft = (rlim.rlim_cur != libc::RLIM_INFINITY).then_some(rlim.rlim_cur as u64);
        return NofileChange::Unchanged(soft);
    }
    let old = rlim.rlim_cur;
    rlim.rlim_cur = rlim.rlim_max;
    // SAFETY: setrlimit reads one valid `rlimit`.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rlim) } != 0 {
        return NofileChange::Failed(std::io::Error::last_os_error().to_string());
    }
    NofileChange::Raised(old as u64, rlim.rlim_max as u64)
}

/// Not on Unix: nothing to raise.
#[cfg(not(unix))]
pub fn raise_nofile_limit() -> NofileChange {
    NofileChange::Unchanged(None)
}
