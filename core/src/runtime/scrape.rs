//! One scrape: the plan (which datasources, which collectors, until when), the schedule across
//! datasources, shared collections of overlapping scrapes, one datasource's collectors and
//! their results.

use super::*;

/// Which collectors one scrape runs (`collect[]` / `exclude[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectorFilter {
    pub(super) collect: Vec<String>,
    pub(super) exclude: Vec<String>,
}

impl CollectorFilter {
    /// Whether `name` runs.
    pub fn allows(&self, name: &str) -> bool {
        (self.collect.is_empty() || self.collect.iter().any(|c| c == name))
            && !self.exclude.iter().any(|c| c == name)
    }
    pub(super) fn key(&self) -> String {
        format!("c:{}|x:{}", self.collect.join(","), self.exclude.join(","))
    }
}

/// A validated scrape: which datasources, which collectors, until when.
#[derive(Debug, Clone)]
pub struct ScrapePlan {
    pub(super) target: Option<String>,
    pub(super) filter: Arc<CollectorFilter>,
    pub(super) deadline: Option<Instant>,
}

impl Runtime {
    /// Validates a scrape request: the target exists, the collector names are known,
    /// `collect[]` and `exclude[]` are not mixed. The deadline is
    /// `X-Prometheus-Scrape-Timeout-Seconds` × `scrapeTimeoutFactor` when Prometheus sent
    /// it, capped by `globalTimeoutSeconds` in `fast` mode.
    pub fn plan(&self, req: &ScrapeRequest) -> Result<ScrapePlan, ScrapeError> {
        if let Some(t) = &req.target {
            if !self.datasources.iter().any(|d| d.config.name == *t && d.config.enabled) {
                return Err(ScrapeError::UnknownTarget(t.clone()));
            }
        }
        if !req.collect.is_empty() && !req.exclude.is_empty() {
            return Err(ScrapeError::BadRequest(
                "use either collect[] or exclude[], not both".to_owned(),
            ));
        }
        let known = |name: &str| {
            registered().iter().any(|d| d.name == name)
                || self.datasources.iter().any(|d| d.collectors.iter().any(|c| c.name == name))
        };
        if let Some(bad) = req.collect.iter().chain(&req.exclude).find(|n| !known(n)) {
            return Err(ScrapeError::BadRequest(format!(
                "unknown collector `{bad}` in collect[]/exclude[] (see --list-collectors)"
            )));
        }
        let now = Instant::now();
        let factor = self.global.scrape_timeout_factor;
        let factor = if factor.is_finite() { factor.clamp(0.01, 1.0) } else { 1.0 };
        // `mul_f64` panics when the product overflows: clamp the header's value first.
        let from_prometheus = req.scrape_timeout.map(|t| t.min(MAX_SCRAPE_BUDGET).mul_f64(factor));
        let fast = match self.global.collection_mode {
            CollectionMode::Fast => Some(self.global.global_timeout),
            CollectionMode::Blocking => None,
        };
        let budget = match (from_prometheus, fast) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(ScrapePlan {
            target: req.target.clone(),
            filter: Arc::new(CollectorFilter {
                collect: req.collect.clone(),
                exclude: req.exclude.clone(),
            }),
            deadline: budget.map(|b| deadline_after(now, b)),
        })
    }

    /// Runs one scrape as planned and returns its families (not yet encoded).
    pub async fn scrape(&self, plan: &ScrapePlan) -> FamilySet {
        let deadline = plan.deadline;
        let filter = &plan.filter;
        let mut order: Vec<Arc<DatasourceRuntime>> = self
            .datasources
            .iter()
            .filter(|d| d.config.enabled)
            .filter(|d| plan.target.as_ref().is_none_or(|t| *t == d.config.name))
            .cloned()
            .collect();
        order.sort_by_key(|d| d.config.priority);
        let results: Vec<Arc<DatasourceResult>> = match self.global.collect_strategy {
            CollectStrategy::Serial => {
                let mut out = Vec::new();
                for ds in &order {
                    out.push(scrape_shared(ds, deadline, filter).await);
                }
                out
            }
            CollectStrategy::Concurrent => {
                join_all(order.iter().map(|ds| scrape_shared(ds, deadline, filter))).await
            }
            CollectStrategy::Hybrid => {
                let mut groups: Vec<Vec<Arc<DatasourceRuntime>>> = Vec::new();
                for ds in order {
                    match groups.last_mut() {
                        Some(g) if g[0].config.priority == ds.config.priority => g.push(ds),
                        _ => groups.push(vec![ds]),
                    }
                }
                let group_timeout = self.global.group_timeout;
                let per_group = groups.into_iter().map(|g| async move {
                    let gd = deadline_after(Instant::now(), group_timeout);
                    let d = Some(deadline.map_or(gd, |d| d.min(gd)));
                    join_all(g.iter().map(|ds| scrape_shared(ds, d, filter))).await
                });
                futures::stream::iter(per_group)
                    .buffered(self.global.max_concurrent_groups.max(1))
                    .collect::<Vec<_>>()
                    .await
                    .into_iter()
                    .flatten()
                    .collect()
            }
        };
        let mut set = FamilySet::new();
        for r in &results {
            r.add_to(&mut set);
        }
        let b = &self.build_info;
        set.add(
            &self.build_template,
            &[
                b.version.clone(),
                b.revision.clone(),
                b.branch.clone(),
                b.rustversion.clone(),
                std::env::consts::OS.to_owned(),
                std::env::consts::ARCH.to_owned(),
            ],
            1.0,
        );
        let dups = set.duplicates();
        if dups > 0 {
            tracing::warn!(count = dups, "Dropped duplicate series.");
        }
        let total = self.duplicates_total.fetch_add(dups, Ordering::Relaxed) + dups;
        set.add(&self.duplicates_template, &[], total as f64);
        set
    }
}

pub(super) struct CollectorResult {
    pub(super) name: String,
    pub(super) templates: Arc<Vec<MetricTemplate>>,
    pub(super) samples: Arc<Vec<Sample>>,
    /// Ran and did its job, or was skipped (`skipped`): `collector_success` 1.
    pub(super) success: bool,
    /// Why the collector was skipped this scrape (then `success` is true).
    pub(super) skipped: Option<SkipReason>,
    pub(super) duration: Duration,
}

pub(super) struct DatasourceResult {
    pub(super) ds: Arc<DatasourceRuntime>,
    pub(super) up: bool,
    pub(super) collectors: Vec<CollectorResult>,
    pub(super) duration: Duration,
}

impl DatasourceResult {
    pub(super) fn add_to(&self, set: &mut FamilySet) {
        let t = &self.ds.self_templates;
        set.add(&t.up, &[], if self.up { 1.0 } else { 0.0 });
        if let Some(pool) = &self.ds.pool {
            // Read now, when the scrape is answered: its own sessions are back in the pool.
            let st = pool.stats();
            set.add(&t.pool_connections, &["in_use".to_owned()], st.in_use as f64);
            set.add(&t.pool_connections, &["idle".to_owned()], st.idle as f64);
            set.add(&t.pool_wait, &[], st.wait.as_secs_f64());
        }
        if !self.up {
            // Only exporter-side state (plugin and custom metrics load status) while down.
            for c in &self.collectors {
                for s in c.samples.iter() {
                    if let Some(tpl) = c.templates.get(s.metric) {
                        set.add(tpl, &s.labels, s.value);
                    }
                }
            }
            return;
        }
        for c in &self.collectors {
            for s in c.samples.iter() {
                match c.templates.get(s.metric) {
                    Some(tpl) => {
                        set.add(tpl, &s.labels, s.value);
                    }
                    None => tracing::warn!(
                        datasource = %self.ds.config.name, collector = %c.name,
                        index = s.metric, "Sample for an undeclared metric dropped."
                    ),
                }
            }
            let name = std::slice::from_ref(&c.name);
            set.add(&t.success, name, if c.success { 1.0 } else { 0.0 });
            if let Some(reason) = c.skipped {
                set.add(&t.skipped, &[c.name.clone(), reason.as_str().to_owned()], 1.0);
            }
            set.add(&t.duration, name, c.duration.as_secs_f64());
        }
        set.add(&t.scrape, &[], self.duration.as_secs_f64());
        if let Some(ts) = *self.ds.last_success.lock().unwrap_or_else(|e| e.into_inner()) {
            set.add(&t.last_success, &[], ts);
        }
    }
}

/// How much later than a scrape's own deadline a collection it joins may end: two
/// Prometheus servers (or `/metrics` and `/probe`) with the same timeout arriving together
/// share, a scrape with a much longer budget never keeps a short one waiting.
///
/// A twentieth of the scrape's remaining budget, between 10 ms and 250 ms.
pub(super) fn join_slack(now: Instant, deadline: Instant) -> Duration {
    (deadline.saturating_duration_since(now) / 20)
        .clamp(Duration::from_millis(10), Duration::from_millis(250))
}

/// True when a scrape due at `mine` may share a collection in flight due at `theirs`:
/// neither earlier (it would cut this scrape's collectors short) nor much later (it would
/// keep this scrape past its own deadline). Scrapes without a deadline share only with each
/// other.
pub(super) fn compatible_deadline(
    now: Instant,
    mine: Option<Instant>,
    theirs: Option<Instant>,
) -> bool {
    match (mine, theirs) {
        (None, None) => true,
        (Some(mine), Some(theirs)) => {
            theirs >= mine && theirs.saturating_duration_since(mine) <= join_slack(now, mine)
        }
        _ => false,
    }
}

/// Scrapes one datasource, sharing the collection with an overlapping scrape already
/// running when it has the same collector filter and a compatible deadline
/// ([`compatible_deadline`]). Each waiter still stops at its own deadline (plus the join
/// slack): then it answers with every collector of its filter failed, and the shared
/// collection goes on for the others.
pub(super) async fn scrape_shared(
    ds: &Arc<DatasourceRuntime>,
    deadline: Option<Instant>,
    filter: &Arc<CollectorFilter>,
) -> Arc<DatasourceResult> {
    use futures::FutureExt as _;
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let key = filter.key();
    let now = Instant::now();
    let (id, shared) = {
        let mut inflight = lock(&ds.inflight);
        // A collection past its deadline takes no one new (its entry would otherwise stay
        // when every waiter of it was dropped, e.g. clients that disconnected).
        inflight.retain(|f| f.deadline.is_none_or(|d| d >= now));
        match inflight
            .iter()
            .find(|f| f.key == key && compatible_deadline(now, deadline, f.deadline))
        {
            Some(f) => {
                tracing::debug!(datasource = %ds.config.name, "Joining a collection in flight.");
                (f.id, f.result.clone())
            }
            None => {
                let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
                let (ds2, filter2) = (Arc::clone(ds), Arc::clone(filter));
                let f = async move {
                    let r = Arc::new(scrape_datasource(&ds2, deadline, &filter2).await);
                    lock(&ds2.inflight).retain(|f| f.id != id);
                    r
                }
                .boxed()
                .shared();
                inflight.push(InFlight { id, key, deadline, result: f.clone() });
                (id, f)
            }
        }
    };
    let Some(deadline) = deadline else {
        return shared.await;
    };
    // The collection's collectors stop at its deadline (at most the slack after this one's)
    // and answer 50 ms later at worst; this bound only guards against a collection that
    // does not (then this scrape reports its collectors failed instead of hanging).
    let give_up = deadline_after(deadline, join_slack(now, deadline) + Duration::from_millis(100));
    match tokio::time::timeout_at(tokio::time::Instant::from_std(give_up), shared).await {
        Ok(r) => r,
        Err(_) => {
            lock(&ds.inflight).retain(|f| f.id != id);
            tracing::warn!(datasource = %ds.config.name, "Shared collection still running at this scrape's deadline; its collectors count as failed.");
            Arc::new(timed_out_result(ds, filter, now.elapsed()))
        }
    }
}

/// The result of a scrape that gave up waiting: every collector of `filter` failed.
pub(super) fn timed_out_result(
    ds: &Arc<DatasourceRuntime>,
    filter: &CollectorFilter,
    duration: Duration,
) -> DatasourceResult {
    let collectors = ds
        .collectors
        .iter()
        .filter(|c| filter.allows(&c.name))
        .map(|c| CollectorResult {
            name: c.name.clone(),
            templates: Arc::clone(&c.templates),
            samples: Arc::new(Vec::new()),
            success: false,
            skipped: None,
            duration,
        })
        .collect();
    DatasourceResult {
        ds: Arc::clone(ds),
        up: ds.health.state() == HealthState::Healthy,
        collectors,
        duration,
    }
}

pub(super) async fn scrape_datasource(
    ds: &Arc<DatasourceRuntime>,
    deadline: Option<Instant>,
    filter: &CollectorFilter,
) -> DatasourceResult {
    let started = Instant::now();
    let span = tracing::debug_span!("scrape", datasource = %ds.config.name);
    let mut result = DatasourceResult {
        ds: Arc::clone(ds),
        up: false,
        collectors: Vec::new(),
        duration: Duration::ZERO,
    };
    if ds.pool.is_some() && !ds.health.checked() {
        let wait = per_collector_budget(ds).saturating_add(Duration::from_secs(1));
        let wait = deadline.map_or(wait, |d| wait.min(d.saturating_duration_since(Instant::now())));
        let mut rx = ds.first_check.subscribe();
        let _ = tokio::time::timeout(wait, rx.wait_for(|done| *done)).await;
    }
    if ds.pool.is_none() || !ds.health.should_scrape() {
        // Down: only the collectors that report exporter-side state (plugin and custom
        // metrics load status) still run.
        for c in ds.collectors.iter().filter(|c| !c.collector.needs_connection()) {
            if filter.allows(&c.name) {
                result.collectors.push(run_offline(
                    ds,
                    c,
                    deadline_after(Instant::now(), per_collector_budget(ds)),
                ));
            }
        }
        result.duration = started.elapsed();
        return result;
    }
    // Every collector: the query timeout plus the time to get a connection, within the deadline.
    let collector_deadline = deadline_after(Instant::now(), per_collector_budget(ds));
    let until = deadline.map_or(collector_deadline, |d| d.min(collector_deadline));
    let mut results: Vec<Option<CollectorResult>> = Vec::new();
    // The collectors that need a connection: (position in `results`, collector, pool).
    let mut queued: Vec<(usize, &CollectorRuntime, DatasourcePool)> = Vec::new();
    for c in ds.collectors.iter().filter(|c| filter.allows(&c.name)) {
        match prepare(ds, c, until) {
            Prepared::Done(r) => results.push(Some(r)),
            Prepared::Queue(pool) => {
                queued.push((results.len(), c, pool));
                results.push(None);
            }
        }
    }
    if !queued.is_empty() {
        run_batch(ds, &queued, until, deadline, &mut results).instrument(span).await;
    }
    result.collectors = results.into_iter().flatten().collect();
    // A collector's success marks an unchecked datasource healthy; a connection-level
    // failure marks it unhealthy. Query errors and timeouts leave the state alone.
    result.up = ds.health.state() == HealthState::Healthy;
    result.duration = started.elapsed();
    *lock(&ds.last_scrape) = Some(result.duration.as_secs_f64());
    if result.up && result.collectors.iter().all(|c| c.success) {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        *ds.last_success.lock().unwrap_or_else(|e| e.into_inner()) = Some(now.floor());
    }
    result
}

/// What a collector needs before its statements run.
pub(super) enum Prepared {
    /// Answered without a connection: served from cache, offline, skipped, or the
    /// datasource has no pool.
    Done(CollectorResult),
    /// Needs a connection of this pool: queued in the scrape's batch.
    Queue(DatasourcePool),
}

fn empty_result(c: &CollectorRuntime) -> CollectorResult {
    CollectorResult {
        name: c.name.clone(),
        templates: Arc::clone(&c.templates),
        samples: Arc::new(Vec::new()),
        success: false,
        skipped: None,
        duration: Duration::ZERO,
    }
}

fn last_good(c: &CollectorRuntime) -> Option<(Instant, Arc<Vec<Sample>>)> {
    c.last_good.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

/// Answers a collector at once where it can (a fresh cached value, no connection needed,
/// skipped until its retry time, no pool), else says which pool it queues on.
pub(super) fn prepare(
    ds: &Arc<DatasourceRuntime>,
    c: &CollectorRuntime,
    until: Instant,
) -> Prepared {
    let started = Instant::now();
    if let (Some(ttl), Some((at, samples))) = (c.cache_ttl, last_good(c)) {
        if at.elapsed() < ttl {
            return Prepared::Done(CollectorResult {
                samples,
                success: true,
                duration: started.elapsed(),
                ..empty_result(c)
            });
        }
    }
    if !c.collector.needs_connection() {
        return Prepared::Done(cached_fallback(c, run_offline(ds, c, until)));
    }
    let Some(pool) = c.pool.clone().or_else(|| ds.pool.clone()) else {
        return Prepared::Done(cached_fallback(c, empty_result(c)));
    };
    if let Some((reason, retry_at)) = *lock(&c.skip) {
        if Instant::now() < retry_at {
            // Skipped (no permission, not applicable): no query until the retry time.
            return Prepared::Done(CollectorResult {
                success: true,
                skipped: Some(reason),
                duration: started.elapsed(),
                ..empty_result(c)
            });
        }
    }
    Prepared::Queue(pool)
}

/// A cached collector remembers its good samples and serves the last good ones when it
/// failed (its success stays 0).
fn cached_fallback(c: &CollectorRuntime, mut out: CollectorResult) -> CollectorResult {
    if c.cache_ttl.is_some() {
        if out.success {
            *c.last_good.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                Some((Instant::now(), Arc::clone(&out.samples)));
        } else if let Some((_, samples)) = last_good(c) {
            out.samples = samples;
        }
    }
    out
}

/// Runs the queued collectors of one datasource as one batch: every job is queued on its
/// pool's run queue at once, the workers run them back to back on their sessions, and this
/// task wakes once, when the last outcome is in (or at `until`, the collectors' deadline,
/// when those still running count as timed out). The queues fan out when a statement is
/// slow ([`RunQueue::fan_out_when_stuck`]).
async fn run_batch(
    ds: &Arc<DatasourceRuntime>,
    queued: &[(usize, &CollectorRuntime, DatasourcePool)],
    until: Instant,
    deadline: Option<Instant>,
    results: &mut [Option<CollectorResult>],
) {
    /// Marks the batch abandoned however this scrape ends (a client that went away drops
    /// the future): jobs not started yet are then not run.
    struct Abandon<'a>(&'a Batch);
    impl Drop for Abandon<'_> {
        fn drop(&mut self) {
            self.0.abandon();
        }
    }
    let started = Instant::now();
    let batch = Batch::new(queued.len());
    let _abandon = Abandon(&batch);
    let queues = RunQueues::default();
    for (k, (_, c, pool)) in queued.iter().enumerate() {
        queues.queue(ds, pool).push(Job {
            collector: Arc::clone(&c.collector),
            until,
            reply: batch.reply(k),
            retried: false,
        });
    }
    let all = queues.all();
    let fan_out = async {
        join_all(all.iter().map(|q| q.fan_out_when_stuck(until))).await;
        std::future::pending::<()>().await
    };
    let answered = async {
        tokio::select! {
            biased;
            () = batch.all_answered() => {}
            () = fan_out => {}
        }
    };
    let give_up = tokio::time::Instant::from_std(deadline_after(until, Duration::from_millis(50)));
    let _ = tokio::time::timeout_at(give_up, answered).await;
    batch.abandon();
    let outcomes = batch.take();
    let mut ran: Vec<Duration> = outcomes
        .iter()
        .filter_map(|o| match o {
            Some((JobOutcome::Ran(..), took)) => Some(*took),
            _ => None,
        })
        .collect();
    if let Some(m) = median(&mut ran) {
        ds.set_typical_statement(m);
    }
    for ((i, c, _), outcome) in queued.iter().zip(outcomes) {
        let r = finish(ds, c, outcome, started);
        if let Some(slot) = results.get_mut(*i) {
            *slot = Some(cached_fallback(c, r));
        }
    }
    // Workers still logging in when the others emptied the queue return their sessions
    // before the answer (a login at most, within the deadline).
    let settle = deadline_after(Instant::now(), SETTLE_AFTER_SCRAPE);
    queues.settled(deadline.map_or(settle, |d| d.min(settle))).await;
}

/// The result of a queued collector from its outcome (`None`: it did not answer by its
/// deadline): success, skip (no permission, not applicable) or failure, logged.
fn finish(
    ds: &Arc<DatasourceRuntime>,
    c: &CollectorRuntime,
    outcome: Option<(JobOutcome, Duration)>,
    started: Instant,
) -> CollectorResult {
    let mut out = empty_result(c);
    // The collector's own run time (a collector queued behind others does not count their
    // time); one that did not answer, the time the scrape waited for it.
    out.duration = outcome.as_ref().map_or_else(|| started.elapsed(), |(_, took)| *took);
    match outcome.map(|(o, _)| o) {
        Some(JobOutcome::Ran(Ok(()), samples)) => {
            out.samples = Arc::new(samples);
            out.success = true;
            if let Some((reason, _)) = lock(&c.skip).take() {
                tracing::info!(datasource = %ds.config.name, collector = %c.name, reason = reason.as_str(), "Collector runs again after being skipped.");
            }
        }
        Some(JobOutcome::Ran(Err(error), _)) if SkipReason::of(&error).is_some() => {
            // No permission, or a view or schema this DM build or topology does not have:
            // not a failure; skipped, and tried again after SKIP_RETRY.
            let reason = SkipReason::of(&error).unwrap_or(SkipReason::NotApplicable);
            out.success = true;
            out.skipped = Some(reason);
            let previous = lock(&c.skip).replace((reason, Instant::now() + SKIP_RETRY));
            if previous.map(|(r, _)| r) != Some(reason) {
                log_skip(ds, c, reason, &error);
            }
        }
        Some(JobOutcome::Ran(Err(error), _)) => {
            tracing::warn!(datasource = %ds.config.name, collector = %c.name, error = %error, "Collector failed.");
        }
        Some(JobOutcome::Panicked(error)) => {
            tracing::error!(datasource = %ds.config.name, collector = %c.name, error = %error, "Collector panicked.");
        }
        Some(JobOutcome::NoConnection(error)) => {
            tracing::warn!(datasource = %ds.config.name, collector = %c.name, error = %error, "Collector got no connection.");
        }
        Some(JobOutcome::NotRun) => {
            tracing::debug!(datasource = %ds.config.name, collector = %c.name, "Collector not run: its deadline passed or the datasource became unreachable first.");
        }
        None => {
            tracing::warn!(datasource = %ds.config.name, collector = %c.name, "Collector timed out.");
        }
    }
    if out.success && !ds.health.checked() {
        apply(ds, ds.health.success());
    }
    out
}

/// The longest a scrape's answer waits, once every collector has answered, for the workers
/// that are still logging in or returning their sessions.
pub(super) const SETTLE_AFTER_SCRAPE: Duration = Duration::from_secs(1);

/// Per collector: the query timeout plus the time to get a connection (within the deadline).
pub(super) fn per_collector_budget(ds: &DatasourceRuntime) -> Duration {
    ds.config.connection.query_timeout.saturating_mul(2)
}

/// The longest budget a scrape, a group or a collector gets: a larger one (a huge
/// `X-Prometheus-Scrape-Timeout-Seconds`, a huge `queryTimeout`) is cut to this, so that
/// deadline arithmetic never overflows.
pub const MAX_SCRAPE_BUDGET: Duration = Duration::from_secs(24 * 60 * 60);

/// `now + budget` with the budget clamped to [`MAX_SCRAPE_BUDGET`]; never panics (on a
/// platform whose `Instant` cannot go that far, the furthest of 1 day, 1 hour, 1 s, now).
pub fn deadline_after(now: Instant, budget: Duration) -> Instant {
    [budget.min(MAX_SCRAPE_BUDGET), Duration::from_secs(3600), Duration::from_secs(1)]
        .into_iter()
        .find_map(|b| now.checked_add(b))
        .unwrap_or(now)
}

/// Runs a collector that needs no connection, on the calling task (it does no I/O).
pub(super) fn run_offline(
    ds: &DatasourceRuntime,
    c: &CollectorRuntime,
    until: Instant,
) -> CollectorResult {
    let started = Instant::now();
    let mut ctx = OfflineContext { config: &ds.config, until };
    let mut samples = Vec::new();
    let success = match c.collector.collect(&mut ctx, &mut samples) {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(datasource = %ds.config.name, collector = %c.name, error = %error, "Collector failed.");
            false
        }
    };
    CollectorResult {
        name: c.name.clone(),
        templates: Arc::clone(&c.templates),
        samples: Arc::new(samples),
        success,
        skipped: None,
        duration: started.elapsed(),
    }
}

/// Logs, once per skip, why a collector is skipped and (for a permission error) what to grant.
pub(super) fn log_skip(
    ds: &DatasourceRuntime,
    c: &CollectorRuntime,
    reason: SkipReason,
    error: &crate::collector::CollectError,
) {
    let retry = SKIP_RETRY.as_secs() / 60;
    match reason {
        SkipReason::NotApplicable => {
            tracing::info!(datasource = %ds.config.name, collector = %c.name, error = %error, "Collector not applicable to this database; it emits nothing (tried again every {retry} min).");
        }
        SkipReason::Permission => {
            let views = registered().into_iter().find(|d| d.name == c.name).map_or("", |d| d.views);
            // With odbcConnectionString the user is inside the string: a placeholder.
            let user = if ds.config.connection.db_user.is_empty() {
                "<dbUser>"
            } else {
                &ds.config.connection.db_user
            };
            let grants = crate::collector::grant_statements(views, &error.to_string(), user);
            let grant = if grants.is_empty() {
                "grant SELECT on the objects it reads".to_owned()
            } else {
                grants.join(" ")
            };
            let dba = if views.contains("SYSJOB.") {
                " (DM documents the SYSJOB tables as readable by DBA users only)"
            } else {
                ""
            };
            tracing::warn!(datasource = %ds.config.name, collector = %c.name, error = %error, "Collector skipped (tried again every {retry} min): user {user} may not read its objects; to enable it: {grant}{dba}");
        }
    }
}
