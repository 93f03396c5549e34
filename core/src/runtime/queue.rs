//! The run queue of one scrape of one datasource: collectors that share a pool, served by
//! workers that each hold one connection (see [`FAN_OUT_AFTER`]).

use super::*;

/// How long the collectors of one datasource (and pool) run one after another on a single
/// connection before the ones still waiting fan out over the pool.
///
/// Most scrapes of a nearby database finish inside this: one pool checkout, one hand-off to
/// a blocking thread and one connection for the whole datasource instead of one each per
/// collector (the per-collector hand-offs were the largest cost left after the SQL itself,
/// see BENCHMARKS.md). When a query waits on the database (a slow view, a remote server),
/// the rest of the queue is spread over up to `maxOpenConns` connections at once, so a
/// datasource's scrape takes at most this much longer than running every collector
/// concurrently from the start.
pub(super) const FAN_OUT_AFTER: Duration = Duration::from_millis(5);

/// [`FAN_OUT_AFTER`], or `DMEXP_FAN_OUT_AFTER_MS` from the environment (read once; for
/// tests and experiments: a large value keeps every datasource on its first workers).
pub(super) fn fan_out_after() -> Duration {
    static AFTER: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *AFTER.get_or_init(|| {
        std::env::var("DMEXP_FAN_OUT_AFTER_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(FAN_OUT_AFTER, |ms| Duration::from_millis(ms).min(MAX_SCRAPE_BUDGET))
    })
}

/// Workers a datasource's queue starts with (per pool), before [`FAN_OUT_AFTER`].
pub(super) const START_WORKERS: usize = 2;

/// A collector waiting in a datasource's run queue for a connection.
pub(super) struct Job {
    pub(super) collector: Arc<dyn Collector>,
    pub(super) until: Instant,
    pub(super) reply: tokio::sync::oneshot::Sender<JobOutcome>,
    /// The job already failed once with a connection-level error and is being retried on a
    /// fresh connection (M1: a connection killed while idle is not a down datasource).
    pub(super) retried: bool,
}

/// What became of a [`Job`].
pub(super) enum JobOutcome {
    /// The collector ran.
    Ran(Result<(), crate::collector::CollectError>, Vec<Sample>),
    /// The collector panicked (its connection is closed).
    Panicked(String),
    /// No connection could be had for it.
    NoConnection(String),
    /// Not started: its deadline passed, or the datasource was found unreachable first.
    NotRun,
}

/// The run queues of one scrape of one datasource, one per pool.
#[derive(Default)]
pub(super) struct RunQueues(Mutex<Vec<Arc<RunQueue>>>);

impl RunQueues {
    /// Waits until every worker of these queues has ended (its connection is back in the
    /// pool or closed), at most until `until`: a worker that logged in while the others
    /// finished the queue returns its session before the scrape is answered.
    pub(super) async fn settled(&self, until: Instant) {
        let queues: Vec<Arc<RunQueue>> = lock(&self.0).clone();
        let until = tokio::time::Instant::from_std(until);
        for q in queues {
            let mut rx = q.live.subscribe();
            let _ = tokio::time::timeout_at(until, rx.wait_for(|n| *n == 0)).await;
        }
    }

    pub(super) fn queue(
        &self,
        ds: &Arc<DatasourceRuntime>,
        pool: &DatasourcePool,
    ) -> Arc<RunQueue> {
        let mut queues = lock(&self.0);
        if let Some(q) = queues.iter().find(|q| q.pool.id() == pool.id()) {
            return Arc::clone(q);
        }
        let q = Arc::new(RunQueue {
            ds: Arc::clone(ds),
            pool: pool.clone(),
            state: Mutex::new(QueueState::default()),
            connected: tokio::sync::watch::Sender::new(None),
            live: tokio::sync::watch::Sender::new(0),
            start_workers: start_workers(pool),
        });
        queues.push(Arc::clone(&q));
        q
    }
}

/// Collectors of one datasource that share a pool, served by workers: a worker checks out a
/// connection and runs queued collectors one after another on one blocking thread until the
/// queue is empty. [`START_WORKERS`] start with the first jobs; [`FAN_OUT_AFTER`] after the
/// first of them got its connection, jobs still queued get a worker each (up to the pool
/// size). A slow login delays the fan-out instead of causing it: the first scrape of a
/// datasource opens no more sessions than the next ones.
pub(super) struct RunQueue {
    pub(super) ds: Arc<DatasourceRuntime>,
    pub(super) pool: DatasourcePool,
    pub(super) state: Mutex<QueueState>,
    /// When the first worker got its connection (jobs still queued fan out
    /// [`FAN_OUT_AFTER`] later, see [`RunQueue::fan_out_due`]).
    pub(super) connected: tokio::sync::watch::Sender<Option<Instant>>,
    /// Worker tasks not yet ended (a worker ends after its connection went back).
    pub(super) live: tokio::sync::watch::Sender<usize>,
    /// Workers started with the first jobs ([`start_workers`]).
    pub(super) start_workers: usize,
}

/// [`START_WORKERS`] when the datasource's session budget has room for that many per pool
/// sharing it, else 1: with `maxOpenConns = 2` the read-write and the read-only pool start
/// with one session each and keep them, instead of the built-ins taking both and the custom
/// metrics closing one to log in again every scrape. Fan-out still uses the whole budget.
pub(super) fn start_workers(pool: &DatasourcePool) -> usize {
    start_workers_for(pool.budget_size(), pool.pools_sharing(), pool.max_open())
}

/// [`start_workers`] from the numbers: the datasource's session budget (`maxOpenConns`),
/// the pools sharing it and this pool's size.
pub(super) fn start_workers_for(budget: usize, pools_sharing: usize, max_open: usize) -> usize {
    if budget >= START_WORKERS * pools_sharing.max(1) {
        START_WORKERS.min(max_open).max(1)
    } else {
        1
    }
}

/// Workers to add at fan-out: one per queued job, up to the pool size.
pub(super) fn fan_out_count(queued: usize, max_open: usize, workers: usize) -> usize {
    queued.min(max_open.saturating_sub(workers))
}

/// [`RunQueue::no_connection`] from the facts: the error, the queue's live workers (this
/// one included) and the sessions of the pool open now.
pub(super) fn no_connection_decision(
    error: &QueryError,
    workers: usize,
    open_sessions: usize,
) -> NoConnection {
    if error.is_pool_busy() {
        return NoConnection::Busy;
    }
    let connect_failed = matches!(error, QueryError::Pool(PoolError::Connect { .. }));
    if connect_failed && error.is_connection_level() {
        // M2: other connections of this datasource are alive, so the database is up and
        // this was a refused *extra* session.
        if workers > 1 {
            // Other workers of this queue serve its jobs.
            return NoConnection::Leave;
        }
        if open_sessions > 0 && !error.is_login_failure() {
            return NoConnection::Retry;
        }
    }
    NoConnection::FailAll { down: error.is_connection_level() }
}

/// Counts a worker task out of [`RunQueue::live`] when it ends, however it ends.
struct LiveWorker(Arc<RunQueue>);

impl Drop for LiveWorker {
    fn drop(&mut self) {
        self.0.live.send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[derive(Default)]
pub(super) struct QueueState {
    pub(super) jobs: std::collections::VecDeque<Job>,
    /// Live workers. A worker leaves only under the lock with the queue empty, so a job is
    /// never left without one.
    pub(super) workers: usize,
    /// The queue fanned out already. Every collector waiting for its answer calls
    /// [`RunQueue::fan_out`] when it is due, while the workers it starts are still logging in
    /// and have not taken their jobs yet: counted again, the same queued jobs would get a
    /// second worker each (up to the pool size, more sessions than jobs).
    pub(super) fanned_out: bool,
}

/// How long a worker whose extra connection was refused waits before trying again.
pub(super) const BUSY_RETRY: Duration = Duration::from_millis(500);

/// A collector that returns this long after its deadline has its connection discarded.
pub(super) const OVERRUN_DISCARD: Duration = Duration::from_secs(1);

/// What a worker does without a connection (see [`RunQueue::no_connection`]).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NoConnection {
    /// Leave the queue to its other workers (already counted out).
    Leave,
    /// Wait a little and try again: other connections of the pool are alive.
    Retry,
    /// The pool is busy: the job at the front gives up.
    Busy,
    /// Answer every queued job; `down`: the datasource is unreachable.
    FailAll {
        /// Mark the datasource down.
        down: bool,
    },
}

/// What a worker's blocking run ended with.
pub(super) enum WorkerEnd {
    /// The queue is empty; the worker is gone.
    Done,
    /// The connection broke; jobs remain, so the worker needs a new connection.
    Reconnect,
    /// The connection died under this job (connection-level error): run it once more on a
    /// connection opened after the instant given.
    Retry(Box<Job>, Instant),
}

impl RunQueue {
    pub(super) fn push(self: &Arc<Self>, job: Job) {
        let mut st = lock(&self.state);
        st.jobs.push_back(job);
        if st.workers < self.start_workers {
            st.workers += 1;
            self.live.send_modify(|n| *n += 1);
            tokio::spawn(Arc::clone(self).worker());
        }
    }

    /// Completes [`FAN_OUT_AFTER`] after the queue's first worker got its connection (never,
    /// while no worker has one).
    pub(super) async fn fan_out_due(&self) {
        let mut rx = self.connected.subscribe();
        let at = rx.wait_for(Option::is_some).await.ok().and_then(|t| *t);
        match at {
            Some(at) => {
                let due = deadline_after(at, fan_out_after());
                tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
            }
            None => std::future::pending().await,
        }
    }

    /// Gives every job still queued a worker of its own, up to the pool size; once per
    /// queue (see [`QueueState::fanned_out`]).
    pub(super) fn fan_out(self: &Arc<Self>) {
        let mut st = lock(&self.state);
        if std::mem::replace(&mut st.fanned_out, true) {
            return;
        }
        let more = fan_out_count(st.jobs.len(), self.pool.max_open(), st.workers);
        st.workers += more;
        drop(st);
        for _ in 0..more {
            self.live.send_modify(|n| *n += 1);
            tokio::spawn(Arc::clone(self).worker());
        }
    }

    /// `take` applied to the queue, or, when it finds nothing, `None` after leaving the
    /// queue (the caller must stop). One lock, so no job is queued between the two.
    pub(super) fn take_or_leave<T>(
        &self,
        take: impl FnOnce(&mut std::collections::VecDeque<Job>) -> Option<T>,
    ) -> Option<T> {
        let mut st = lock(&self.state);
        let taken = take(&mut st.jobs);
        if taken.is_none() {
            st.workers -= 1;
        }
        taken
    }

    /// Answers every queued job with `outcome` and leaves the queue.
    pub(super) fn fail_all_and_leave(&self, outcome: impl Fn() -> JobOutcome) {
        let mut st = lock(&self.state);
        for job in st.jobs.drain(..) {
            let _ = job.reply.send(outcome());
        }
        st.workers -= 1;
    }

    /// What a worker does when it cannot get a connection.
    /// A worker that leaves is counted out under the same lock that saw the other workers.
    pub(super) fn no_connection(&self, error: &QueryError) -> NoConnection {
        let open = self.pool.stats().open();
        let mut st = lock(&self.state);
        let decision = no_connection_decision(error, st.workers, open);
        if matches!(decision, NoConnection::Leave) {
            st.workers -= 1;
        }
        decision
    }

    /// One worker: a connection, then the queue on a blocking thread; a new connection if
    /// that one broke while jobs remain.
    pub(super) async fn worker(self: Arc<Self>) {
        let _live = LiveWorker(Arc::clone(&self));
        let ds = &self.ds;
        // A job whose connection failed, to run again on a connection opened after `since`.
        let mut retry: Option<(Job, Instant)> = None;
        loop {
            let until = match &retry {
                Some((job, _)) => job.until,
                None => match self.take_or_leave(|jobs| jobs.front().map(|j| j.until)) {
                    Some(until) => until,
                    None => return,
                },
            };
            if !ds.health.should_scrape() {
                if let Some((job, _)) = retry.take() {
                    let _ = job.reply.send(JobOutcome::NotRun);
                }
                return self.fail_all_and_leave(|| JobOutcome::NotRun);
            }
            let wait = until
                .saturating_duration_since(Instant::now())
                .min(ds.config.connection.query_timeout);
            let got = match &retry {
                Some((_, since)) => self.fresh_connection(wait, *since).await,
                None => self.pool.get(wait).await,
            };
            let guard = match got {
                Ok(g) => g,
                Err(error) if retry.is_some() => {
                    // The retry of a job whose connection died found no fresh connection.
                    let down = error.is_connection_level() && !error.is_pool_busy();
                    if down {
                        connection_failed(ds, &error);
                    }
                    if let Some((job, _)) = retry.take() {
                        let _ = job.reply.send(JobOutcome::NoConnection(error.to_string()));
                    }
                    if down {
                        let msg = error.to_string();
                        return self.fail_all_and_leave(|| JobOutcome::NoConnection(msg.clone()));
                    }
                    continue;
                }
                Err(error) => match self.no_connection(&error) {
                    NoConnection::Leave => return,
                    NoConnection::Retry => {
                        // Another connection of this pool is alive (M2: a per-user session
                        // limit below the pool size): wait for it instead of logging in
                        // again at once, and do not mark the datasource down.
                        let left = until.saturating_duration_since(Instant::now());
                        tokio::time::sleep(left.min(BUSY_RETRY)).await;
                        if left <= BUSY_RETRY {
                            if let Some(job) = lock(&self.state).jobs.pop_front() {
                                let _ = job.reply.send(JobOutcome::NoConnection(error.to_string()));
                            }
                        }
                        continue;
                    }
                    NoConnection::Busy => {
                        // The pool is busy: the job at the front gives up, the rest try again.
                        if let Some(job) = lock(&self.state).jobs.pop_front() {
                            let _ = job.reply.send(JobOutcome::NoConnection(error.to_string()));
                        }
                        continue;
                    }
                    NoConnection::FailAll { down } => {
                        // The database refused or is unreachable: one failed login is
                        // enough for this scrape (DM locks accounts).
                        if down {
                            connection_failed(ds, &error);
                        }
                        let msg = error.to_string();
                        return self.fail_all_and_leave(|| JobOutcome::NoConnection(msg.clone()));
                    }
                },
            };
            self.connected.send_if_modified(|t| {
                let first = t.is_none();
                if first {
                    *t = Some(Instant::now());
                }
                first
            });
            let me = Arc::clone(&self);
            let first = retry.take().map(|(job, _)| job);
            match tokio::task::spawn_blocking(move || me.run_jobs(guard, first)).await {
                Ok(WorkerEnd::Done) => return,
                Ok(WorkerEnd::Reconnect) => continue,
                Ok(WorkerEnd::Retry(job, since)) => retry = Some((*job, since)),
                Err(join) => {
                    // run_jobs catches collector panics; this is the runtime shutting down.
                    tracing::error!(datasource = %ds.config.name, error = %join, "Collector worker failed.");
                    return self.fail_all_and_leave(|| JobOutcome::NotRun);
                }
            }
        }
    }

    /// A connection opened after `since` (the moment a pooled connection was found dead):
    /// older ones checked out meanwhile may be dead too (killed together), so they are
    /// closed, at most `maxOpenConns` of them, instead of given to the retried job.
    pub(super) async fn fresh_connection(
        &self,
        wait: Duration,
        since: Instant,
    ) -> Result<PoolGuard, QueryError> {
        for _ in 0..=self.pool.max_open() {
            let mut guard = self.pool.get(wait).await?;
            if guard.created_at().is_some_and(|t| t >= since) {
                return Ok(guard);
            }
            guard.discard();
            // Closing a connection is a blocking ODBC call.
            let _ = tokio::task::spawn_blocking(move || drop(guard)).await;
        }
        Err(QueryError::Pool(PoolError::TimedOut(wait)))
    }

    /// Runs `first` (a job to retry), then queued jobs on `guard` (blocking) until the
    /// queue is empty or the connection breaks.
    pub(super) fn run_jobs(&self, mut guard: PoolGuard, mut first: Option<Job>) -> WorkerEnd {
        let ds = &self.ds;
        loop {
            let job = match first.take() {
                Some(job) => job,
                None => match self.take_or_leave(|jobs| jobs.pop_front()) {
                    Some(job) => job,
                    None => return WorkerEnd::Done,
                },
            };
            if job.reply.is_closed() {
                continue; // the scrape gave up on it
            }
            if Instant::now() >= job.until || !ds.health.should_scrape() {
                let _ = job.reply.send(JobOutcome::NotRun);
                continue;
            }
            let mut ctx =
                BlockingContext { guard, config: Arc::clone(&ds.shared_config), until: job.until };
            let mut samples = Vec::new();
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                job.collector.collect(&mut ctx, &mut samples)
            }));
            guard = ctx.guard;
            if Instant::now() > job.until + OVERRUN_DISCARD {
                // The statement outlived its deadline (a driver that ignored both the query
                // timeout and SQLCancel): the scrape stopped waiting long ago, and the
                // connection may be in any state.
                guard.discard();
            }
            let outcome = match ran {
                Ok(Err(crate::collector::CollectError::Query(q)))
                    if q.is_connection_level() && !job.retried =>
                {
                    // M1: the pooled connection died (killed session, DB restart): drop it
                    // and the idle ones, and run the job once more on a fresh connection.
                    // The datasource counts as down only if that connect or run fails too.
                    guard.discard();
                    self.pool.clear_idle();
                    tracing::info!(datasource = %ds.config.name, error = %q, "A pooled connection failed; retrying the collector once on a fresh connection.");
                    return WorkerEnd::Retry(
                        Box::new(Job { retried: true, ..job }),
                        Instant::now(),
                    );
                }
                Ok(r) => {
                    if let Err(crate::collector::CollectError::Query(q)) = &r {
                        if q.is_connection_level() {
                            // Marked here, before the next job, so that it is not tried
                            // on a dead server.
                            connection_failed(ds, q);
                        }
                    }
                    JobOutcome::Ran(r, samples)
                }
                Err(panic) => {
                    guard.discard();
                    let msg = panic
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_owned())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "panic".to_owned());
                    JobOutcome::Panicked(msg)
                }
            };
            if guard.is_discarded() {
                // Jobs left need another connection (the worker leaves if there are none,
                // and answers them at once if the datasource is now marked unreachable).
                drop(guard);
                let _ = job.reply.send(outcome);
                return WorkerEnd::Reconnect;
            }
            // The next job is taken before this one is answered, so that the last answer
            // comes after the connection is back in the pool: a scrape's answer (and its
            // pool metrics) sees the sessions it used idle.
            match self.take_or_leave(|jobs| jobs.pop_front()) {
                Some(next) => {
                    let _ = job.reply.send(outcome);
                    first = Some(next);
                }
                None => {
                    drop(guard);
                    let _ = job.reply.send(outcome);
                    return WorkerEnd::Done;
                }
            }
        }
    }
}
