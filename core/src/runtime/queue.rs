//! The run queue of one scrape of one datasource: collectors that share a pool, served by
//! workers that each hold one connection (see [`FAN_OUT_AFTER`]).

use super::*;

/// How long one statement may run while other collectors of the datasource (and pool) wait
/// behind it on its connection before those fan out over the pool (at least; see
/// [`SLOW_FACTOR`]).
///
/// A scrape of a datasource whose statements each finish sooner runs them all back to back
/// on one connection and one blocking thread: one session, one hand-off (the per-collector
/// hand-offs were the largest cost left after the SQL itself, see BENCHMARKS.md). The clock
/// is the running statement's: a slow login does not fan a datasource out, nor does a
/// statement whose first run on a new session is slow (catalog caches); uniformly slow
/// statements (a busy CPU, an overloaded database) are handled by [`SLOW_FACTOR`]. When one statement waits
/// on the database (a slow view, a lock, a remote server) for this long, the rest of the
/// queue is spread over up to `maxOpenConns` sessions at once, so it delays the others by at
/// most this much.
pub(super) const FAN_OUT_AFTER: Duration = Duration::from_millis(50);

/// A statement counts as slow, for fan-out, when it has run this many times the datasource's
/// typical statement (the median of its previous scrape) as well as [`FAN_OUT_AFTER`]: when
/// every statement is slow (an overloaded database, or an exporter whose own CPU is
/// saturated by hundreds of datasources), more sessions at once would only add load, and
/// the queue goes on serially; a single slow view among fast ones still fans out after
/// [`FAN_OUT_AFTER`].
pub(super) const SLOW_FACTOR: u32 = 4;

/// The longest a statement runs with jobs waiting behind it before they fan out, however
/// slow the datasource's statements typically are: a datasource whose every statement takes
/// a second is still scraped in about the time of its slowest statement.
pub(super) const MAX_STUCK: Duration = Duration::from_millis(250);

/// How long a statement may run with jobs waiting behind it before they fan out: the
/// larger of [`FAN_OUT_AFTER`] and [`SLOW_FACTOR`] × `typical` (the datasource's median
/// statement time in its previous scrape; `None` before the first), at most [`MAX_STUCK`];
/// or exactly
/// `DMEXP_FAN_OUT_AFTER_MS` when the environment sets it (read once; for tests and
/// experiments).
pub(super) fn fan_out_after(typical: Option<Duration>) -> Duration {
    static FIXED: std::sync::OnceLock<Option<Duration>> = std::sync::OnceLock::new();
    let fixed = *FIXED.get_or_init(|| {
        std::env::var("DMEXP_FAN_OUT_AFTER_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|ms| Duration::from_millis(ms).min(MAX_SCRAPE_BUDGET))
    });
    fixed.unwrap_or_else(|| stuck_after(FAN_OUT_AFTER, typical))
}

/// [`fan_out_after`] without the environment.
pub(super) fn stuck_after(after: Duration, typical: Option<Duration>) -> Duration {
    typical.map_or(after, |t| after.max(t.saturating_mul(SLOW_FACTOR).min(MAX_STUCK)))
}

/// The (lower) median of `durations` (`None` when empty); sorts them. The lower one, so
/// that with two collectors, one fast and one slow, the fast one is typical.
pub(super) fn median(durations: &mut [Duration]) -> Option<Duration> {
    durations.sort_unstable();
    durations.get(durations.len().saturating_sub(1) / 2).copied()
}

/// A collector waiting in a datasource's run queue for a connection.
pub(super) struct Job {
    pub(super) collector: Arc<dyn Collector>,
    pub(super) until: Instant,
    /// Where its outcome goes: its slot in the scrape's [`Batch`].
    pub(super) reply: Reply,
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

/// The outcomes of one scrape's jobs (all the collectors of a datasource that need a
/// connection): one slot per job, and one wake-up for the scrape when the last is written,
/// instead of a channel and a wake-up per collector.
pub(super) struct Batch {
    /// Each job's outcome and how long it took (from its start, or from the batch's
    /// creation for a job that never started).
    slots: Mutex<Vec<Option<(JobOutcome, Duration)>>>,
    created: Instant,
    pending: std::sync::atomic::AtomicUsize,
    done: tokio::sync::Notify,
    /// The scrape stopped waiting (its deadline passed, or its client went away): jobs not
    /// started yet are not run.
    abandoned: AtomicBool,
}

impl Batch {
    /// A batch of `jobs` slots.
    pub(super) fn new(jobs: usize) -> Arc<Self> {
        Arc::new(Batch {
            slots: Mutex::new(std::iter::repeat_with(|| None).take(jobs).collect()),
            created: Instant::now(),
            pending: std::sync::atomic::AtomicUsize::new(jobs),
            done: tokio::sync::Notify::new(),
            abandoned: AtomicBool::new(false),
        })
    }

    /// The reply handle of job `index`.
    pub(super) fn reply(self: &Arc<Self>, index: usize) -> Reply {
        Reply { to: Some((Arc::clone(self), index)), started: None }
    }

    fn put(&self, index: usize, outcome: JobOutcome, started: Option<Instant>) {
        let took = started.unwrap_or(self.created).elapsed();
        if let Some(slot) = lock(&self.slots).get_mut(index) {
            *slot = Some((outcome, took));
        }
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            // `notify_one` keeps a permit when no one waits yet: the wake-up is not lost.
            self.done.notify_one();
        }
    }

    /// Completes when every job has its outcome.
    pub(super) async fn all_answered(&self) {
        if self.pending.load(Ordering::Acquire) == 0 {
            return;
        }
        self.done.notified().await;
    }

    /// Marks the batch abandoned: queued jobs of it are answered without running.
    pub(super) fn abandon(&self) {
        self.abandoned.store(true, Ordering::Release);
    }

    /// The outcomes so far, with how long each took (`None`: not answered yet).
    pub(super) fn take(&self) -> Vec<Option<(JobOutcome, Duration)>> {
        std::mem::take(&mut *lock(&self.slots))
    }
}

/// Where a [`Job`]'s outcome goes. Answered exactly once: a job dropped unanswered (a
/// worker that ended abnormally) answers [`JobOutcome::NotRun`].
pub(super) struct Reply {
    to: Option<(Arc<Batch>, usize)>,
    /// When the job's collector started (its duration is counted from then).
    started: Option<Instant>,
}

impl Reply {
    /// Writes the outcome into the job's slot.
    pub(super) fn send(mut self, outcome: JobOutcome) {
        if let Some((batch, index)) = self.to.take() {
            batch.put(index, outcome, self.started);
        }
    }

    /// Notes that the job's collector starts now.
    pub(super) fn start(&mut self) {
        self.started.get_or_insert_with(Instant::now);
    }

    /// True when the scrape no longer waits for this job.
    pub(super) fn is_closed(&self) -> bool {
        self.to.as_ref().is_some_and(|(b, _)| b.abandoned.load(Ordering::Acquire))
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some((batch, index)) = self.to.take() {
            batch.put(index, JobOutcome::NotRun, self.started);
        }
    }
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

    /// The queues made so far.
    pub(super) fn all(&self) -> Vec<Arc<RunQueue>> {
        lock(&self.0).clone()
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
            live: tokio::sync::watch::Sender::new(0),
        });
        queues.push(Arc::clone(&q));
        q
    }
}

/// Collectors of one datasource that share a pool, served by workers: a worker checks out a
/// connection and runs queued collectors one after another on one blocking thread until the
/// queue is empty. One worker starts with the jobs; when a statement has been running for
/// [`FAN_OUT_AFTER`] while jobs are still queued, those get a worker each (up to the pool
/// size, see [`RunQueue::fan_out_when_stuck`]). The clock starts when a statement starts, so
/// a slow login never causes a fan-out: the first scrape of a datasource opens no more
/// sessions than the next ones.
pub(super) struct RunQueue {
    pub(super) ds: Arc<DatasourceRuntime>,
    pub(super) pool: DatasourcePool,
    pub(super) state: Mutex<QueueState>,
    /// Worker tasks not yet ended (a worker ends after its connection went back).
    pub(super) live: tokio::sync::watch::Sender<usize>,
}

/// What a queue's fan-out timer does when it fires ([`fan_out_at`]).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum FanOut {
    /// Nothing waits: no fan-out this scrape.
    Never,
    /// A statement has run [`FAN_OUT_AFTER`] with jobs waiting behind it: fan out now.
    Now,
    /// Look again then.
    At(Instant),
}

/// The fan-out decision at `now`: jobs still `queued`, the last statement of the queue
/// started at `last_start`, its first connection came at `connected` (`None`: still
/// logging in, so a slow login never fans out), `after` = [`fan_out_after`]. The queue also
/// fans out in time when, run one after another at the datasource's `typical` statement
/// time, the jobs left would end after their deadline `until`.
pub(super) fn fan_out_at(
    queued: usize,
    last_start: Option<Instant>,
    connected: Option<Instant>,
    now: Instant,
    after: Duration,
    typical: Option<Duration>,
    until: Instant,
) -> FanOut {
    if queued == 0 {
        return FanOut::Never;
    }
    let Some(connected) = connected else { return FanOut::At(deadline_after(now, after)) };
    let stuck = deadline_after(last_start.unwrap_or(connected).max(connected), after);
    let n = u32::try_from(queued.saturating_add(1)).unwrap_or(u32::MAX);
    let late = typical.map(|t| until.checked_sub(t.saturating_mul(n)).unwrap_or(now));
    let due = late.map_or(stuck, |l| l.min(stuck));
    if now >= due {
        FanOut::Now
    } else {
        FanOut::At(due)
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
pub(super) struct LiveWorker(Arc<RunQueue>);

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
    /// The queue fanned out already (once per scrape: the workers it starts are still
    /// logging in and have not taken their jobs yet, so counted again the same queued jobs
    /// would get a second worker each).
    pub(super) fanned_out: bool,
    /// When the last statement of this queue started (any worker): progress. Fan-out waits
    /// for the queue to stop moving ([`fan_out_at`]).
    pub(super) job_started: Option<Instant>,
    /// When the first worker of this queue got its connection.
    pub(super) connected: Option<Instant>,
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
        if st.workers == 0 {
            st.workers += 1;
            self.live.send_modify(|n| *n += 1);
            tokio::spawn(Arc::clone(self).worker());
        }
    }

    /// Fans the queue out when it stops moving: a statement has run [`FAN_OUT_AFTER`] while
    /// jobs wait behind it ([`fan_out_at`]). Returns once fanned out or when nothing is left
    /// to fan out. One timer, first due [`FAN_OUT_AFTER`] after the jobs were queued: a
    /// datasource whose statements are done by then never wakes this task for it.
    pub(super) async fn fan_out_when_stuck(self: &Arc<Self>, until: Instant) {
        let typical = self.ds.typical_statement();
        let after = fan_out_after(typical);
        let mut at = deadline_after(Instant::now(), after);
        loop {
            tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
            let decision = {
                let st = lock(&self.state);
                if st.fanned_out {
                    return;
                }
                let now = Instant::now();
                fan_out_at(st.jobs.len(), st.job_started, st.connected, now, after, typical, until)
            };
            match decision {
                FanOut::Never => return,
                FanOut::Now => return self.fan_out(),
                FanOut::At(next) => at = next,
            }
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
            job.reply.send(outcome());
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
        // Counted out in `run_jobs` when it ends the worker, before its last answer, so the
        // scrape does not wait for this task to be woken once more ([`RunQueues::settled`]).
        let mut live = Some(LiveWorker(Arc::clone(&self)));
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
                    job.reply.send(JobOutcome::NotRun);
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
                        job.reply.send(JobOutcome::NoConnection(error.to_string()));
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
                                job.reply.send(JobOutcome::NoConnection(error.to_string()));
                            }
                        }
                        continue;
                    }
                    NoConnection::Busy => {
                        // The pool is busy: the job at the front gives up, the rest try again.
                        if let Some(job) = lock(&self.state).jobs.pop_front() {
                            job.reply.send(JobOutcome::NoConnection(error.to_string()));
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
            lock(&self.state).connected.get_or_insert_with(Instant::now);
            let me = Arc::clone(&self);
            let first = retry.take().map(|(job, _)| job);
            let mut mine = live.take();
            let run = move || {
                let end = me.run_jobs(guard, first, &mut mine);
                (end, mine)
            };
            match tokio::task::spawn_blocking(run).await {
                Ok((WorkerEnd::Done, _)) => return,
                Ok((WorkerEnd::Reconnect, l)) => live = l,
                Ok((WorkerEnd::Retry(job, since), l)) => {
                    live = l;
                    retry = Some((*job, since));
                }
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
    /// `live` (the worker's count in [`RunQueue::live`]) is dropped when the worker ends
    /// here, before its last answer.
    pub(super) fn run_jobs(
        &self,
        mut guard: PoolGuard,
        mut first: Option<Job>,
        live: &mut Option<LiveWorker>,
    ) -> WorkerEnd {
        let ds = &self.ds;
        loop {
            let mut job = match first.take() {
                Some(job) => job,
                None => match self.take_or_leave(|jobs| jobs.pop_front()) {
                    Some(job) => job,
                    None => return WorkerEnd::Done,
                },
            };
            if job.reply.is_closed() {
                continue; // the scrape gave up on it (answered NotRun on drop)
            }
            lock(&self.state).job_started = Some(Instant::now());
            job.reply.start();
            if Instant::now() >= job.until || !ds.health.should_scrape() {
                job.reply.send(JobOutcome::NotRun);
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
                job.reply.send(outcome);
                return WorkerEnd::Reconnect;
            }
            // The next job is taken before this one is answered, so that the last answer
            // comes after the connection is back in the pool: a scrape's answer (and its
            // pool metrics) sees the sessions it used idle.
            match self.take_or_leave(|jobs| jobs.pop_front()) {
                Some(next) => {
                    job.reply.send(outcome);
                    first = Some(next);
                }
                None => {
                    drop(guard);
                    drop(live.take());
                    job.reply.send(outcome);
                    return WorkerEnd::Done;
                }
            }
        }
    }
}
