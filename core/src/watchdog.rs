//! One process-wide watchdog thread that cancels statements past their deadline.
//!
//! Every query registers its statement handle with a deadline before it executes and
//! unregisters it (by dropping the [`Watch`]) before the handle is freed. When a deadline
//! passes first, the watchdog calls `SQLCancel` on the handle from its own thread, which ODBC
//! allows while the statement runs on another thread (DM's ODBC guide lists SQLCancel as
//! supported, docs/DM8_EVIDENCE.md E7). This enforces the deadline on drivers that refuse
//! or ignore `SQL_ATTR_QUERY_TIMEOUT` (finding F5). If a driver ignores the cancel as well,
//! the scrape still stops waiting at its own deadline and the worker discards the connection
//! when the statement finally returns.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Instant;

use odbc_api::sys::HStmt;

/// A statement handle the watchdog may cancel. Only used while the registering thread keeps
/// the handle alive (the [`Watch`] is dropped before the handle is freed).
struct Handle(HStmt);

// SAFETY: ODBC statement handles may be used from another thread for SQLCancel, which is the
// only call made through this wrapper; the handle outlives every use (see `Watch::drop`).
unsafe impl Send for Handle {}

struct Slot {
    /// `None` once the query finished: the watchdog must not touch the handle any more.
    handle: Mutex<Option<Handle>>,
    fired: AtomicBool,
}

#[derive(Default)]
struct State {
    /// Deadline and registration number → slot.
    entries: BTreeMap<(Instant, u64), Arc<Slot>>,
    next: u64,
    /// When the watchdog thread looks at `entries` next (`None`: not before it is
    /// notified). A statement due later needs no wake-up: the thread re-plans when it
    /// looks. So a scrape's statements, each due a query timeout after it started and
    /// done long before, wake the thread once per timeout at most, not once each.
    looks_at: Option<Instant>,
}

struct Watchdog {
    state: Mutex<State>,
    wake: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn watchdog() -> Option<&'static Watchdog> {
    static WATCHDOG: OnceLock<Option<&'static Watchdog>> = OnceLock::new();
    *WATCHDOG.get_or_init(|| {
        let w: &'static Watchdog =
            Box::leak(Box::new(Watchdog { state: Mutex::default(), wake: Condvar::new() }));
        match std::thread::Builder::new().name("dmexp-watchdog".into()).spawn(move || w.run()) {
            Ok(_) => Some(w),
            Err(e) => {
                tracing::error!(error = %e, "Cannot start the query watchdog thread; query deadlines rely on the driver's query timeout only.");
                None
            }
        }
    })
}

impl Watchdog {
    fn run(&self) {
        let mut st = lock(&self.state);
        loop {
            let now = Instant::now();
            let first = st.entries.keys().next().copied();
            match first {
                None => {
                    st.looks_at = None;
                    st = self.wake.wait(st).unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                Some(key) if key.0 <= now => {
                    let Some(slot) = st.entries.remove(&key) else { continue };
                    // It looks again as soon as this statement is cancelled.
                    st.looks_at = Some(now);
                    drop(st);
                    let handle = lock(&slot.handle);
                    if let Some(h) = handle.as_ref() {
                        slot.fired.store(true, Ordering::SeqCst);
                        // SAFETY: the handle is valid: the query's thread frees it only after
                        // taking it out of this slot, which waits for this lock.
                        let rc = unsafe { odbc_api::sys::SQLCancel(h.0) };
                        tracing::debug!(rc = rc.0, "Query deadline passed: SQLCancel sent.");
                    }
                    drop(handle);
                    st = lock(&self.state);
                }
                Some(key) => {
                    st.looks_at = Some(key.0);
                    st = self
                        .wake
                        .wait_timeout(st, key.0 - now)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0);
                }
            }
        }
    }
}

/// A registered statement: dropped when the query is over, before its handle is freed.
pub struct Watch {
    key: Option<(Instant, u64)>,
    slot: Arc<Slot>,
}

impl Watch {
    /// Registers `stmt` to be cancelled at `deadline`.
    ///
    /// # Safety
    /// `stmt` must be a valid statement handle that stays allocated until the returned
    /// `Watch` is dropped.
    pub unsafe fn new(stmt: HStmt, deadline: Instant) -> Watch {
        let slot = Arc::new(Slot {
            handle: Mutex::new(Some(Handle(stmt))),
            fired: AtomicBool::new(false),
        });
        let Some(w) = watchdog() else { return Watch { key: None, slot } };
        let mut st = lock(&w.state);
        let key = (deadline, st.next);
        st.next += 1;
        let sooner = st.looks_at.is_none_or(|at| deadline < at);
        st.entries.insert(key, Arc::clone(&slot));
        drop(st);
        if sooner {
            w.wake.notify_one();
        }
        Watch { key: Some(key), slot }
    }

    /// True when the watchdog cancelled the statement.
    pub fn fired(&self) -> bool {
        self.slot.fired.load(Ordering::SeqCst)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let (Some(key), Some(w)) = (self.key, watchdog()) {
            lock(&w.state).entries.remove(&key);
        }
        // Waits for a cancel in progress; afterwards the watchdog never uses the handle.
        lock(&self.slot.handle).take();
    }
}

/// Statements currently registered (for tests).
pub fn registered() -> usize {
    watchdog().map_or(0, |w| lock(&w.state).entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A null statement handle: `SQLCancel` on it is answered `SQL_INVALID_HANDLE` by the
    /// driver manager, so the watchdog's firing can be observed without a database.
    fn null_stmt() -> HStmt {
        HStmt(std::ptr::null_mut())
    }

    fn wait_fired(w: &Watch, within: Duration) -> bool {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if w.fired() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        w.fired()
    }

    #[test]
    fn a_sooner_deadline_registered_after_a_later_one_still_fires_on_time() {
        let now = Instant::now();
        // SAFETY: the null handle is never dereferenced by this crate; the driver manager
        // validates it and refuses it.
        let far = unsafe { Watch::new(null_stmt(), now + Duration::from_secs(3600)) };
        // The watchdog now sleeps until `far`: a statement due sooner must wake it.
        std::thread::sleep(Duration::from_millis(20));
        let near = unsafe { Watch::new(null_stmt(), Instant::now() + Duration::from_millis(50)) };
        // Statements due later than what the watchdog waits for do not wake it, and still
        // fire once it looks again.
        let later = unsafe { Watch::new(null_stmt(), Instant::now() + Duration::from_millis(150)) };
        assert!(wait_fired(&near, Duration::from_secs(5)), "the sooner deadline fired");
        assert!(wait_fired(&later, Duration::from_secs(5)), "the later deadline fired");
        assert!(!far.fired(), "the far deadline did not fire");
    }

    #[test]
    fn a_statement_done_before_its_deadline_is_never_cancelled() {
        let w = unsafe { Watch::new(null_stmt(), Instant::now() + Duration::from_millis(30)) };
        let slot = Arc::clone(&w.slot);
        drop(w);
        std::thread::sleep(Duration::from_millis(80));
        assert!(!slot.fired.load(Ordering::SeqCst), "an unregistered statement is not cancelled");
    }
}
