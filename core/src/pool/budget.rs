//! The session budget of one datasource: `maxOpenConns` sessions in total, shared by every
//! pool of the datasource (the read-write pool of health checks and built-in collectors, the
//! read-only pools of custom metrics and plugins).
//!
//! Every open session holds one slot of the budget's semaphore from the moment its login
//! starts until it is closed ([`super::OdbcConn`] owns the permit). A pool that needs a new
//! session and finds the budget full first closes an *idle* session of another pool of the
//! datasource (a read-only pool cannot reuse a read-write session and back: the access mode
//! is a connect attribute on DM, see docs/ARCHITECTURE.md), then waits until a session is
//! returned or closed, at most until the checkout's deadline ([`Checkout`]); it then answers
//! [`PoolError::TimedOut`] (busy, not down). Idle sessions are capped by `maxIdleConns`
//! across all pools of the datasource, not per pool.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::{Manager, OdbcConn, PoolError};
use crate::query::QueryError;

tokio::task_local! {
    /// The checkout in progress on this task: `Manager::create` reads its deadline (deadpool
    /// gives `create` no arguments) and adds its login time, so that the wait for a session
    /// is told apart from the login itself.
    pub(super) static CHECKOUT: Checkout;
}

/// One checkout ([`super::DatasourcePool::get`]) in progress.
pub(super) struct Checkout {
    /// When the caller stops waiting for a session.
    pub(super) until: Instant,
    /// The caller's wait, for the error message.
    pub(super) timeout: Duration,
    /// Time spent logging in (one new session at most per checkout attempt).
    pub(super) login: Cell<Duration>,
    /// Time spent waiting for a slot of the budget.
    pub(super) budget_wait: Cell<Duration>,
}

/// What [`super::DatasourcePool::stats`] reports: the datasource's sessions over all its
/// pools, like Go's `sql.DBStats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Sessions open or logging in, checked out by a collector or a health check.
    pub in_use: usize,
    /// Sessions open and idle in one of the datasource's pools.
    pub idle: usize,
    /// The budget: `maxOpenConns`.
    pub max_open: usize,
    /// Total time checkouts waited for a session because the budget was spent.
    pub wait: Duration,
}

/// The shared budget (see the module docs).
pub(super) struct SessionBudget {
    max_open: usize,
    max_idle: usize,
    slots: Arc<Semaphore>,
    /// Signalled when a session is returned idle or closed.
    changed: Notify,
    /// Every pool drawing on the budget, weakly (a pool of a replaced runtime goes away
    /// with its last collector).
    pools: Mutex<Vec<(u64, deadpool::managed::WeakPool<Manager>)>>,
    wait_nanos: AtomicU64,
    /// Held while a session is returned ([`SessionBudget::returning`]).
    returning: Mutex<()>,
    /// The datasource's read-only pool (id and pool), shared by custom metrics and plugins
    /// and by the runtime after a reload that kept the datasource's pool.
    read_only: Mutex<Option<(u64, deadpool::managed::WeakPool<Manager>)>>,
}

impl std::fmt::Debug for SessionBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionBudget")
            .field("max_open", &self.max_open)
            .field("max_idle", &self.max_idle)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl PoolStats {
    /// Sessions open (or logging in): `in_use + idle`.
    pub fn open(&self) -> usize {
        self.in_use + self.idle
    }
}

impl SessionBudget {
    /// A budget of `max_open` sessions keeping at most `max_idle` idle.
    pub(super) fn new(max_open: usize, max_idle: usize) -> Arc<Self> {
        let max_open = max_open.max(1);
        Arc::new(SessionBudget {
            max_open,
            max_idle: max_idle.clamp(1, max_open),
            slots: Arc::new(Semaphore::new(max_open)),
            changed: Notify::new(),
            pools: Mutex::new(Vec::new()),
            wait_nanos: AtomicU64::new(0),
            returning: Mutex::new(()),
            read_only: Mutex::new(None),
        })
    }

    /// `maxOpenConns`.
    pub(super) fn max_open(&self) -> usize {
        self.max_open
    }

    /// The datasource's read-only pool slot (see [`super::DatasourcePool::read_only_pool`]).
    pub(super) fn read_only_slot(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<(u64, deadpool::managed::WeakPool<Manager>)>> {
        lock(&self.read_only)
    }

    /// Adds a pool drawing on the budget.
    pub(super) fn register(&self, id: u64, pool: deadpool::managed::WeakPool<Manager>) {
        let mut pools = lock(&self.pools);
        pools.retain(|(_, p)| p.upgrade().is_some());
        pools.push((id, pool));
    }

    /// The live pools, the one with id `last` at the end.
    fn pools(&self, last: Option<u64>) -> Vec<deadpool::managed::Pool<Manager>> {
        let mut live: Vec<(u64, deadpool::managed::Pool<Manager>)> =
            lock(&self.pools).iter().filter_map(|(id, w)| w.upgrade().map(|p| (*id, p))).collect();
        live.sort_by_key(|(id, _)| Some(*id) == last);
        live.into_iter().map(|(_, p)| p).collect()
    }

    /// Idle sessions over all pools. (deadpool's `status().available` is not that: it
    /// subtracts checkouts still waiting or logging in.)
    pub(super) fn idle(&self) -> usize {
        let mut idle = 0;
        for p in self.pools(None) {
            // Visits exactly the idle objects, and keeps them.
            let _ = p.retain(|_, _| {
                idle += 1;
                true
            });
        }
        idle
    }

    /// True when a returned session must be closed instead of kept idle.
    pub(super) fn idle_full(&self) -> bool {
        self.idle() >= self.max_idle
    }

    /// Held while a checked-out session is returned or closed: the idle count and the
    /// return are one step.
    pub(super) fn returning(&self) -> std::sync::MutexGuard<'_, ()> {
        lock(&self.returning)
    }

    /// A session was returned or closed: waiting checkouts look again.
    pub(super) fn notify(&self) {
        self.changed.notify_waiters();
    }

    /// Sessions and waits now.
    pub(super) fn stats(&self) -> PoolStats {
        let open = self.max_open.saturating_sub(self.slots.available_permits());
        let idle = self.idle();
        PoolStats {
            in_use: open.saturating_sub(idle),
            idle,
            max_open: self.max_open,
            wait: Duration::from_nanos(self.wait_nanos.load(Ordering::Relaxed)),
        }
    }

    /// Adds to the total wait.
    pub(super) fn add_wait(&self, waited: Duration) {
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        if nanos > 0 {
            self.wait_nanos.fetch_add(nanos, Ordering::Relaxed);
        }
    }

    /// Removes the idle sessions `drop_it` selects from every pool of the budget.
    pub(super) fn retain_idle(
        &self,
        mut drop_it: impl FnMut(&deadpool::managed::Metrics) -> bool,
    ) -> Vec<OdbcConn> {
        let mut removed = Vec::new();
        for p in self.pools(None) {
            removed.extend(p.retain(|_, m| !drop_it(&m)).removed);
        }
        removed
    }

    /// One idle session taken out of its pool (the pool `pool_id` last), to be closed.
    fn take_idle(&self, pool_id: u64) -> Option<OdbcConn> {
        for p in self.pools(Some(pool_id)) {
            let mut taken = false;
            let removed = p.retain(|_, _| std::mem::replace(&mut taken, true)).removed;
            if let Some(conn) = removed.into_iter().next() {
                return Some(conn);
            }
        }
        None
    }

    /// A slot for a new session of pool `pool_id`: free, or freed by closing an idle session
    /// of another pool, or waited for until the checkout's deadline.
    pub(super) async fn acquire(&self, pool_id: u64) -> Result<OwnedSemaphorePermit, QueryError> {
        let (until, timeout) = CHECKOUT
            .try_with(|c| (c.until, c.timeout))
            .unwrap_or_else(|_| (Instant::now() + Duration::from_secs(5), Duration::from_secs(5)));
        let mut waiting_since: Option<Instant> = None;
        let result = loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            match Arc::clone(&self.slots).try_acquire_owned() {
                Ok(p) => break Ok(p),
                Err(TryAcquireError::Closed) => break Err(QueryError::Pool(PoolError::Closed)),
                Err(TryAcquireError::NoPermits) => {}
            }
            if let Some(conn) = self.take_idle(pool_id) {
                // Closing is a blocking ODBC call; its slot is free once it returns.
                tracing::debug!(
                    datasource = %conn.datasource,
                    "Closing an idle session of another pool of this datasource: maxOpenConns \
                     is the total."
                );
                let _ = tokio::task::spawn_blocking(move || drop(conn)).await;
                continue;
            }
            waiting_since.get_or_insert_with(Instant::now);
            tokio::select! {
                p = Arc::clone(&self.slots).acquire_owned() => {
                    break p.map_err(|_| QueryError::Pool(PoolError::Closed));
                }
                () = &mut changed => {}
                () = tokio::time::sleep_until(tokio::time::Instant::from_std(until)) => {
                    break Err(QueryError::Pool(PoolError::TimedOut(timeout)));
                }
            }
        };
        if let Some(since) = waiting_since {
            let waited = since.elapsed();
            let _ = CHECKOUT.try_with(|c| c.budget_wait.set(c.budget_wait.get() + waited));
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_cap_is_at_least_one_and_at_most_the_budget() {
        assert_eq!(SessionBudget::new(2, 0).max_idle, 1);
        assert_eq!(SessionBudget::new(2, 5).max_idle, 2);
        assert_eq!(SessionBudget::new(0, 0).max_open, 1);
    }

    #[test]
    fn an_empty_budget_reports_nothing_in_use() {
        let b = SessionBudget::new(3, 2);
        b.add_wait(Duration::from_millis(1500));
        b.add_wait(Duration::ZERO);
        assert_eq!(
            b.stats(),
            PoolStats { in_use: 0, idle: 0, max_open: 3, wait: Duration::from_millis(1500) }
        );
        let held = Arc::clone(&b.slots).try_acquire_owned().expect("a free slot");
        assert_eq!(b.stats().in_use, 1);
        drop(held);
        assert_eq!(b.stats().in_use, 0);
    }
}
