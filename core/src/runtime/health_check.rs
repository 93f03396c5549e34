//! Health checks: one task per enabled datasource, pinging it and marking it healthy or
//! unreachable (with backoff).

use super::*;

impl Runtime {
    /// Starts one health-check task per enabled datasource. The first check runs at once;
    /// the runtime reports ready when every first check has finished.
    pub fn start_health_checks(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut handles = Vec::new();
        let pending = Arc::new(AtomicU64::new(0));
        for ds in self.datasources.iter().filter(|d| d.pool.is_some()) {
            pending.fetch_add(1, Ordering::SeqCst);
            let ds = Arc::clone(ds);
            let rt = Arc::clone(self);
            let pending = Arc::clone(&pending);
            // A root span: health tasks started by `POST /-/reload` must not log under the
            // request's span for the rest of their life.
            let span = tracing::info_span!(parent: None, "health", datasource = %ds.config.name);
            handles.push(tokio::spawn(
                async move {
                    let mut first = true;
                    loop {
                        let healthy = ds.health.state() == HealthState::Healthy;
                        if first || !healthy || rt.global.enable_health_ping {
                            check_once(&ds).await;
                        }
                        if first {
                            first = false;
                            ds.first_check.send_replace(true);
                            if pending.fetch_sub(1, Ordering::SeqCst) == 1 {
                                rt.ready.store(true, Ordering::SeqCst);
                            }
                        }
                        tokio::time::sleep(ds.health.next_delay(rt.global.retry_interval)).await;
                    }
                }
                .instrument(span),
            ));
        }
        if handles.is_empty() {
            self.ready.store(true, Ordering::SeqCst);
        }
        handles
    }
}

/// One health check: check out a connection and run `SELECT 1 FROM DUAL`.
pub(super) async fn check_once(ds: &Arc<DatasourceRuntime>) {
    let Some(pool) = ds.health_pool() else { return };
    let timeout = ds.config.connection.query_timeout;
    let secs = usize::try_from(timeout.as_secs().max(1)).unwrap_or(300);
    pool.close_idle();
    let ping = |pool: DatasourcePool| async move {
        let mut guard = pool.get(timeout).await?;
        tokio::task::spawn_blocking(move || {
            guard.query("SELECT 1 FROM DUAL", Some(secs), Some(1)).map(|_| ())
        })
        .await
        .map_err(|join| QueryError::Connection(format!("health check task failed: {join}")))?
    };
    let bound = timeout.saturating_mul(2).saturating_add(Duration::from_secs(1));
    let run = |pool: DatasourcePool| async move {
        match tokio::time::timeout(bound, ping(pool)).await {
            Ok(r) => r,
            Err(_) => Err(QueryError::Timeout(timeout.saturating_mul(2))),
        }
    };
    let mut result = run(pool.clone()).await;
    if let Err(e) = &result {
        // A pooled connection that died (server restart, killed session) is not a down
        // datasource: drop the idle connections and try once with a fresh one. Never after
        // a failed login (DM locks accounts).
        if e.is_connection_level()
            && !e.is_login_failure()
            && !e.is_pool_busy()
            && ds.health.state() == HealthState::Healthy
        {
            pool.clear_idle();
            result = run(pool).await;
        }
    }
    match result {
        Ok(()) => apply(ds, ds.health.success()),
        // Every session of the budget stayed in use (a slow scrape on maxOpenConns = 1):
        // the datasource is busy, not down; the next check tries again.
        Err(e) if e.is_pool_busy() => {
            tracing::debug!(datasource = %ds.config.name, error = %e, "Health check found every session in use; not counted.");
        }
        Err(e) if e.is_connection_level() || matches!(e, QueryError::Timeout(_)) => {
            connection_failed(ds, &e);
        }
        // The connection works but the ping query failed (e.g. no DUAL): still reachable.
        Err(e) => {
            tracing::debug!(datasource = %ds.config.name, error = %e, "Ping query failed on a working connection.");
            apply(ds, ds.health.success());
        }
    }
}

/// Records a connection-level failure: the datasource turns unhealthy and its idle
/// connections are dropped. A failed login ([`QueryError::is_login_failure`]) backs off longer.
pub(super) fn connection_failed(ds: &DatasourceRuntime, error: &QueryError) {
    if let Some(p) = &ds.pool {
        p.clear_idle();
    }
    if let Some(p) = ds.health_pool() {
        p.clear_idle();
    }
    apply(ds, ds.health.failure(error.to_string(), error.is_login_failure()));
}

pub(super) fn apply(ds: &DatasourceRuntime, t: Transition) {
    match t {
        Transition::None => {}
        Transition::Up => {
            tracing::info!(datasource = %ds.config.name, "Datasource is healthy.");
        }
        Transition::Down(error) => {
            tracing::error!(datasource = %ds.config.name, error = %error, "Datasource is unreachable.");
        }
    }
}
