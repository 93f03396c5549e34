//! Unit tests of the runtime (pools are built without connecting).

#![allow(clippy::unwrap_used)]

use super::*;

fn runtime(global: &str) -> Runtime {
    let text = format!(
        "{global}\n[[datasource]]\nname = \"a\"\n\
         odbcConnectionString = \"Driver={{SQLite3}};Database=/nonexistent/a.db\"\n"
    );
    let config = dmexp_config::load_str(&text, std::path::Path::new("t.toml")).unwrap();
    let info = BuildInfo {
        version: "v0".into(),
        revision: "r".into(),
        branch: "b".into(),
        rustversion: "1".into(),
    };
    Runtime::build(&config, info).unwrap().0
}

fn request(timeout: Option<Duration>) -> ScrapeRequest {
    ScrapeRequest { scrape_timeout: timeout, ..ScrapeRequest::default() }
}

#[test]
fn huge_budgets_are_clamped_not_a_panic() {
    for global in ["collectionMode = \"blocking\"", "collectionMode = \"fast\""] {
        let rt = runtime(global);
        for t in [Duration::MAX, Duration::from_secs(u64::MAX / 2), Duration::from_secs_f64(1e19)] {
            let before = Instant::now();
            let plan = rt.plan(&request(Some(t))).unwrap();
            let d = plan.deadline.unwrap();
            let budget = d.duration_since(before);
            if global.contains("fast") {
                // fast mode: globalTimeoutSeconds (default 5 s) caps it.
                assert!(budget <= Duration::from_secs(6), "{global}: {budget:?}");
            } else {
                assert!(budget <= MAX_SCRAPE_BUDGET + Duration::from_secs(1), "{budget:?}");
                // × scrapeTimeoutFactor (0.8) of the clamped day.
                assert!(budget >= MAX_SCRAPE_BUDGET.mul_f64(0.79), "{budget:?}");
            }
        }
    }
}

#[test]
fn the_build_returns_the_plugin_report_as_a_value() {
    let text = "[[datasource]]\nname = \"a\"\n\
         odbcConnectionString = \"Driver={SQLite3};Database=/nonexistent/a.db\"\n\
         [[datasource.plugin]]\npath = \"/nonexistent/libx.so\"\n\
         [[datasource]]\nname = \"off\"\nenabled = false\n\
         odbcConnectionString = \"Driver={SQLite3};Database=/nonexistent/b.db\"\n\
         [[datasource.plugin]]\npath = \"/nonexistent/liby.so\"\n";
    let config = dmexp_config::load_str(text, std::path::Path::new("t.toml")).unwrap();
    let info = BuildInfo {
        version: "v0".into(),
        revision: "r".into(),
        branch: "b".into(),
        rustversion: "1".into(),
    };
    let (rt, report) = Runtime::build(&config, info.clone()).unwrap();
    let st = &report.plugins.statuses;
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].datasource, "a");
    assert_eq!(st[0].plugin, "x");
    let e = st[0].error.as_ref().unwrap();
    assert_eq!(e.kind, crate::plugin::PluginErrorKind::NotFound);
    assert!(e.message.contains("no such file: /nonexistent/libx.so"), "{}", e.message);
    assert_eq!(report.plugins.disabled, ["off"]);
    // A rebuild (reload) reports its own configuration only.
    let plain = dmexp_config::load_str(
        "[[datasource]]\nname = \"a\"\n\
         odbcConnectionString = \"Driver={SQLite3};Database=/nonexistent/a.db\"\n",
        std::path::Path::new("t.toml"),
    )
    .unwrap();
    let (_, again) = Runtime::build_reusing(&plain, info, Some(&rt)).unwrap();
    assert_eq!(again.plugins, crate::plugin::LoadReport::default());
}

fn info() -> BuildInfo {
    BuildInfo {
        version: "v0".into(),
        revision: "r".into(),
        branch: "b".into(),
        rustversion: "1".into(),
    }
}

fn config(datasources: &[(&str, &str)]) -> Config {
    let mut text = String::new();
    for (name, extra) in datasources {
        text.push_str(&format!(
            "[[datasource]]\nname = \"{name}\"\n\
             odbcConnectionString = \"Driver={{SQLite3}};Database=/nonexistent/{name}.db\"\n\
             {extra}\n"
        ));
    }
    dmexp_config::load_str(&text, std::path::Path::new("t.toml")).unwrap()
}

fn one(extra: &str) -> DatasourceConfig {
    config(&[("a", extra)]).datasources.remove(0)
}

#[test]
fn same_connection_compares_every_connection_setting_and_nothing_else() {
    let base = one("");
    assert!(same_connection(&base, &one("")));
    // Not connection settings: labels, collectors, priority.
    for extra in ["labels = \"env=x\"", "disabledCollectors = [\"sessions\"]", "priority = 3"] {
        assert!(same_connection(&base, &one(extra)), "{extra}");
    }
    for extra in [
        "queryTimeout = 7",
        "maxOpenConns = 3",
        "maxIdleConns = 1",
        "connMaxLifetime = 5",
        "connectionInitSql = [\"SELECT 1\"]",
        "enabled = false",
    ] {
        assert!(!same_connection(&base, &one(extra)), "{extra}");
    }
    let other = config(&[("a", "")]).datasources.remove(0);
    assert!(same_connection(&base, &other));
    let moved = dmexp_config::load_str(
        "[[datasource]]\nname = \"a\"\n\
         odbcConnectionString = \"Driver={SQLite3};Database=/nonexistent/other.db\"\n",
        std::path::Path::new("t.toml"),
    )
    .unwrap();
    assert!(!same_connection(&base, &moved.datasources[0]));
}

#[test]
fn build_reusing_keeps_the_pool_and_health_of_unchanged_datasources_only() {
    let (old, _) = Runtime::build(&config(&[("a", ""), ("b", ""), ("c", "")]), info()).unwrap();
    // a unchanged, b's query timeout changed, c removed, d added.
    let next = config(&[("a", "labels = \"env=x\""), ("b", "queryTimeout = 9"), ("d", "")]);
    let (new, _) = Runtime::build_reusing(&next, info(), Some(&old)).unwrap();
    assert_eq!(new.reused(), ["a"]);
    let pool = |rt: &Runtime, name: &str| {
        rt.datasources().iter().find(|d| d.name() == name).unwrap().pool().unwrap().id()
    };
    assert_eq!(pool(&new, "a"), pool(&old, "a"));
    assert_ne!(pool(&new, "b"), pool(&old, "b"));
    let health = |rt: &Runtime, name: &str| {
        Arc::clone(&rt.datasources().iter().find(|d| d.name() == name).unwrap().health)
    };
    assert!(Arc::ptr_eq(&health(&new, "a"), &health(&old, "a")));
    assert!(!Arc::ptr_eq(&health(&new, "b"), &health(&old, "b")));
    // The new runtime has the new labels: collectors are always rebuilt.
    let a = new.datasources().iter().find(|d| d.name() == "a").unwrap();
    assert_eq!(a.config().labels, [("env".to_owned(), "x".to_owned())]);
    // Replaced pools are marked to close when the old datasource goes, kept ones not.
    old.close_unused_pools(&new);
    let marked = |name: &str| {
        old.datasources()
            .iter()
            .find(|d| d.name() == name)
            .unwrap()
            .close_pool_on_drop
            .load(Ordering::SeqCst)
    };
    assert!(!marked("a"));
    assert!(marked("b") && marked("c"));
}

#[test]
fn deadline_after_never_overflows() {
    let now = Instant::now();
    assert_eq!(deadline_after(now, Duration::MAX), now + MAX_SCRAPE_BUDGET);
    assert_eq!(deadline_after(now, Duration::from_secs(3)), now + Duration::from_secs(3));
    assert_eq!(deadline_after(now, Duration::ZERO), now);
}

#[test]
fn a_scrape_joins_only_a_collection_due_at_or_shortly_after_its_own_deadline() {
    let now = Instant::now();
    let mine = now + Duration::from_secs(8);
    let at = |ms: u64| Some(mine + Duration::from_millis(ms));
    let before = |ms: u64| Some(mine - Duration::from_millis(ms));
    assert!(compatible_deadline(now, Some(mine), Some(mine)));
    // 8 s left: the slack is 250 ms (8 s / 20 = 400 ms, capped).
    assert!(compatible_deadline(now, Some(mine), at(250)));
    assert!(!compatible_deadline(now, Some(mine), at(251)));
    // An earlier collection would cut this scrape's collectors short.
    assert!(!compatible_deadline(now, Some(mine), before(1)));
    // A tiny-deadline scrape (the poisoning client) never shares with a normal one.
    let tiny = Some(now + Duration::from_micros(1));
    assert!(!compatible_deadline(now, Some(mine), tiny));
    assert!(!compatible_deadline(now, tiny, Some(mine)));
    // Without a deadline: only with each other.
    assert!(compatible_deadline(now, None, None));
    assert!(!compatible_deadline(now, Some(mine), None));
    assert!(!compatible_deadline(now, None, Some(mine)));
    // 1 s left: slack 50 ms.
    let short = now + Duration::from_secs(1);
    assert!(compatible_deadline(now, Some(short), Some(short + Duration::from_millis(50))));
    assert!(!compatible_deadline(now, Some(short), Some(short + Duration::from_millis(51))));
}

fn connect_error(kind: crate::pool::ConnectFailure) -> QueryError {
    QueryError::Pool(PoolError::Connect {
        message: "refused".into(),
        sqlstate: None,
        native: None,
        kind,
    })
}

#[test]
fn a_worker_without_a_connection_decides_from_the_error_the_other_workers_and_open_sessions() {
    use crate::pool::ConnectFailure::{Login, Other, ReadOnly, SessionLimit};
    let busy = QueryError::Pool(PoolError::TimedOut(Duration::from_secs(1)));
    // The pool is busy: the front job gives up, whatever else is true.
    for (workers, open) in [(1, 0), (3, 2)] {
        assert_eq!(no_connection_decision(&busy, workers, open), NoConnection::Busy);
    }
    // A refused extra session (M2): another worker serves the queue, so this one leaves...
    for kind in [Other, SessionLimit, Login] {
        assert_eq!(no_connection_decision(&connect_error(kind), 2, 1), NoConnection::Leave);
    }
    // ...or, alone, it waits for the pool's other live session instead of logging in again.
    for kind in [Other, SessionLimit] {
        assert_eq!(no_connection_decision(&connect_error(kind), 1, 1), NoConnection::Retry);
    }
    // A failed login is never retried at once (DM locks accounts), even with sessions open.
    assert_eq!(
        no_connection_decision(&connect_error(Login), 1, 1),
        NoConnection::FailAll { down: true }
    );
    // Nothing open and the login refused: the datasource is down for this scrape.
    assert_eq!(
        no_connection_decision(&connect_error(Other), 1, 0),
        NoConnection::FailAll { down: true }
    );
    // A session that could not be made read-only says nothing about reachability.
    assert_eq!(
        no_connection_decision(&connect_error(ReadOnly), 2, 1),
        NoConnection::FailAll { down: false }
    );
    // A closed pool (replaced by a reload) and a lost connection are connection-level.
    assert_eq!(
        no_connection_decision(&QueryError::Pool(PoolError::Closed), 2, 1),
        NoConnection::FailAll { down: true }
    );
    let lost = QueryError::Driver {
        message: "communication link failure".into(),
        sqlstate: Some("08S01".into()),
        native: None,
        connection_lost: true,
    };
    assert_eq!(no_connection_decision(&lost, 1, 1), NoConnection::FailAll { down: true });
}

#[test]
fn a_queue_fans_out_only_when_its_running_statement_is_slow_and_jobs_wait() {
    let t0 = Instant::now();
    let after = Duration::from_millis(50);
    let ms = Duration::from_millis;
    let far = t0 + Duration::from_secs(3600);
    let at = |queued, last_start, connected, now| {
        fan_out_at(queued, last_start, connected, now, after, None, far)
    };
    // Nothing waits: no fan-out, however long the statement runs.
    assert_eq!(at(0, Some(t0), Some(t0), t0 + ms(500)), FanOut::Never);
    // Still logging in: look again later, never fan out (a slow login is not a slow query).
    assert_eq!(at(3, None, None, t0 + ms(500)), FanOut::At(t0 + ms(550)));
    // Connected, no statement started yet: counted from the connection.
    assert_eq!(at(3, None, Some(t0), t0 + ms(10)), FanOut::At(t0 + ms(50)));
    assert_eq!(at(3, None, Some(t0), t0 + ms(50)), FanOut::Now);
    // Every statement that starts moves the clock: a busy but moving queue stays on one
    // session.
    let started = t0 + ms(30);
    assert_eq!(at(3, Some(started), Some(t0), t0 + ms(60)), FanOut::At(started + ms(50)));
    assert_eq!(at(3, Some(started), Some(t0), started + ms(50)), FanOut::Now);
    // A start from before this connection (another worker's) counts from the connection.
    let connected = t0 + ms(20);
    assert_eq!(at(2, Some(t0), Some(connected), t0 + ms(30)), FanOut::At(connected + after));
    // Run one after another at the typical statement time (200 ms), 45 jobs would end past
    // a deadline 8 s out: fan out at once instead of when the first statement is stuck.
    let until = t0 + ms(8000);
    let typical = Some(ms(200));
    assert_eq!(fan_out_at(45, None, Some(t0), t0, after, typical, until), FanOut::Now);
    // Six of them fit: fan out only if one gets stuck, or when the rest stop fitting.
    assert_eq!(
        fan_out_at(6, Some(t0), Some(t0), t0, after, typical, until),
        FanOut::At(t0 + after)
    );
    let late = t0 + ms(8000 - 7 * 200);
    assert_eq!(fan_out_at(6, Some(t0), Some(t0), t0, ms(10_000), typical, until), FanOut::At(late));
}

#[test]
fn a_statement_is_slow_against_the_datasources_typical_one() {
    let ms = Duration::from_millis;
    let after = ms(50);
    // No history yet, or fast statements: FAN_OUT_AFTER.
    assert_eq!(stuck_after(after, None), ms(50));
    assert_eq!(stuck_after(after, Some(ms(1))), ms(50));
    // Every statement slow (20 ms sleeping views; an overloaded CPU at 60 ms each): only
    // SLOW_FACTOR × the typical one counts as stuck, so the queue stays serial.
    assert_eq!(stuck_after(after, Some(ms(20))), ms(80));
    assert_eq!(stuck_after(after, Some(ms(60))), ms(240));
    // Statements that all take a second still fan out after MAX_STUCK.
    assert_eq!(stuck_after(after, Some(ms(1000))), MAX_STUCK);
    assert_eq!(stuck_after(after, Some(Duration::MAX)), MAX_STUCK);
}

#[test]
fn the_typical_statement_is_the_lower_median_of_the_last_scrape() {
    let ms = Duration::from_millis;
    assert_eq!(median(&mut []), None);
    assert_eq!(median(&mut [ms(7)]), Some(ms(7)));
    // One slow view among fast statements does not make the datasource "slow".
    assert_eq!(median(&mut [ms(2000), ms(1), ms(2), ms(1), ms(3), ms(1)]), Some(ms(1)));
    assert_eq!(median(&mut [ms(2000), ms(1)]), Some(ms(1)));
    assert_eq!(median(&mut [ms(20), ms(21), ms(22)]), Some(ms(21)));
}

#[test]
fn fan_out_gives_each_queued_job_a_worker_up_to_the_pool_size() {
    assert_eq!(fan_out_count(0, 10, 2), 0);
    assert_eq!(fan_out_count(3, 10, 2), 3);
    assert_eq!(fan_out_count(20, 10, 2), 8);
    assert_eq!(fan_out_count(5, 2, 2), 0);
    // More workers than the pool (a reload shrank it) never underflows.
    assert_eq!(fan_out_count(5, 2, 4), 0);
}
