//! One session budget per datasource: `maxOpenConns` bounds every session of a datasource
//! (health checks, built-ins, custom metrics with their read-only sessions) together,
//! counted in pg_stat_activity while scrapes run and in the DM double's connect log; the
//! pool metrics `dameng_exporter_pool_connections` and `dameng_exporter_pool_wait_seconds_total`.
//!
//! PostgreSQL tests run under `flock /tmp/dmexp-pg.lock` (they count sessions).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{fixture_ds, pg_cs, scratch, value, Engine, Exporter};
use crate::isolation::psql;

fn pool_series(t: &str, ds: &str) -> (Option<f64>, Option<f64>, Option<f64>) {
    (
        value(
            t,
            &format!("dameng_exporter_pool_connections{{datasource=\"{ds}\",state=\"in_use\"}}"),
        ),
        value(
            t,
            &format!("dameng_exporter_pool_connections{{datasource=\"{ds}\",state=\"idle\"}}"),
        ),
        value(t, &format!("dameng_exporter_pool_wait_seconds_total{{datasource=\"{ds}\"}}")),
    )
}

fn custom_file(dir: &std::path::Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write custom metrics file");
    format!("customMetricsFile = \"{}\"\n", path.display())
}

/// One role per datasource, so that pg_stat_activity tells their sessions apart (usename
/// is set from the first moment of a session, unlike application_name).
struct Roles(Vec<String>);

impl Roles {
    fn create(names: &[String]) -> Roles {
        for r in names {
            psql("postgres", &format!("DROP ROLE IF EXISTS {r}"));
            psql("postgres", &format!("CREATE ROLE {r} LOGIN PASSWORD 'sess_pw'"));
            psql("postgres", &format!("GRANT dmexp TO {r}"));
        }
        Roles(names.to_vec())
    }
}

impl Drop for Roles {
    fn drop(&mut self) {
        for r in &self.0 {
            let _ = std::process::Command::new("psql")
                .args(["-X", "-q", "-h", "127.0.0.1", "-U", "dmexp", "-d", "postgres", "-c"])
                .arg(format!(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{r}'; \
                     DROP ROLE IF EXISTS {r}"
                ))
                .env("PGPASSWORD", "dmexp")
                .output();
        }
    }
}

/// Four datasources on the PostgreSQL fixture `dmexp_primary` (built-ins and two custom
/// metrics that sleep 0.3 s each), two at `maxOpenConns = 1` and two at 2, scraped by two
/// scrapers at once (different collector filters, so their collections do not merge) for
/// several seconds while a sampler counts each datasource's sessions in pg_stat_activity
/// every few milliseconds: no count ever exceeds the datasource's maxOpenConns.
#[test]
fn sessions_per_datasource_never_exceed_max_open_conns_while_scrapes_run() {
    let tag = std::process::id();
    let budgets: [(&str, u32); 4] = [("one_a", 1), ("one_b", 1), ("two_a", 2), ("two_b", 2)];
    let roles: Vec<String> = budgets.iter().map(|(n, _)| format!("dmexp_sess_{n}_{tag}")).collect();
    let _roles = Roles::create(&roles);
    let dir = scratch("sessions-budget-files");
    let custom = custom_file(
        &dir,
        "slow.toml",
        "[[metric]]\ncontext = \"slow1\"\nrequest = \"SELECT 1 AS v FROM pg_sleep(0.3)\"\n\
         metricsdesc = { v = \"v\" }\n\n\
         [[metric]]\ncontext = \"slow2\"\nrequest = \"SELECT 2 AS v FROM pg_sleep(0.3)\"\n\
         metricsdesc = { v = \"v\" }\n",
    );
    let cs = pg_cs("primary");
    let body: String = budgets
        .iter()
        .zip(&roles)
        .map(|((name, max), role)| {
            let cs = cs.replace("UID=dmexp;PWD=dmexp", &format!("UID={role};PWD=sess_pw"));
            format!(
                "[[datasource]]\nname = \"{name}\"\nodbcConnectionString = \"{cs}\"\n\
                 queryTimeout = 8\nmaxOpenConns = {max}\n{custom}\n"
            )
        })
        .collect();
    let e = Exporter::start("sessions-budget", &body);

    // The sampler: one session of its own, listing each role's backends every few ms.
    // A backend whose session the exporter closed stays listed until the server has ended
    // it (the client does not wait for that), so a sample may show one more backend for a
    // few milliseconds while a session is replaced (read-write by read-only and back): a
    // count above maxOpenConns is a violation when the same backends are all still there
    // 50 ms later, and the transient count never exceeds maxOpenConns + 1.
    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    type Seen = BTreeMap<String, Vec<String>>;
    let sampler = {
        let (stop, samples) = (Arc::clone(&stop), Arc::clone(&samples));
        let like = format!("dmexp_sess_%_{tag}");
        std::thread::spawn(move || -> (BTreeMap<String, usize>, Vec<String>) {
            use odbc_api::Cursor as _;
            let env = odbc_api::environment().expect("ODBC environment");
            let conn = env
                .connect_with_connection_string(&pg_cs("primary"), Default::default())
                .expect("sampler connects");
            let sql = format!(
                "SELECT usename::text, pid::text FROM pg_stat_activity \
                 WHERE usename::text LIKE '{like}' ORDER BY usename, pid"
            );
            let sample = || -> Seen {
                let mut cursor = conn.execute(&sql, (), None).expect("query").expect("rows");
                let mut seen = Seen::new();
                while let Some(mut row) = cursor.next_row().expect("fetch") {
                    let (mut u, mut p) = (Vec::new(), Vec::new());
                    row.get_text(1, &mut u).expect("usename");
                    row.get_text(2, &mut p).expect("pid");
                    seen.entry(String::from_utf8_lossy(&u).into_owned())
                        .or_default()
                        .push(String::from_utf8_lossy(&p).into_owned());
                }
                seen
            };
            let mut peaks = BTreeMap::new();
            let mut violations = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let seen = sample();
                for (role, pids) in &seen {
                    let peak = peaks.entry(role.clone()).or_insert(0);
                    *peak = (*peak).max(pids.len());
                }
                let over: Vec<(String, Vec<String>)> = seen
                    .into_iter()
                    .filter(|(role, pids)| pids.len() > if role.contains("_one_") { 1 } else { 2 })
                    .collect();
                if !over.is_empty() {
                    std::thread::sleep(Duration::from_millis(50));
                    let again = sample();
                    for (role, pids) in over {
                        let still = again
                            .get(&role)
                            .is_some_and(|now| pids.iter().all(|p| now.contains(p)));
                        if still {
                            violations.push(format!("{role}: backends {pids:?} for 50 ms"));
                        }
                    }
                }
                samples.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            }
            (peaks, violations)
        })
    };
    let scraper = |path: &'static str| {
        let stop = Arc::clone(&stop);
        let port = e.port;
        std::thread::spawn(move || {
            let mut texts = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                if let Ok((200, t)) = crate::common::http_get(port, path, None) {
                    texts.push(t);
                }
            }
            texts
        })
    };
    let a = scraper("/metrics");
    let b = scraper("/metrics?exclude[]=arch_queue");
    std::thread::sleep(Duration::from_secs(8));
    stop.store(true, Ordering::SeqCst);
    let (a, b) = (a.join().expect("scraper a"), b.join().expect("scraper b"));
    let (peaks, violations) = sampler.join().expect("sampler");
    assert!(
        violations.is_empty(),
        "{} samples with more sessions than maxOpenConns, first: {:?}",
        violations.len(),
        &violations[..violations.len().min(4)]
    );
    let samples = samples.load(Ordering::SeqCst);
    assert!(samples >= 200, "only {samples} samples of pg_stat_activity");
    assert!(a.len() >= 3 && b.len() >= 3, "scrapes: {} and {}", a.len(), b.len());
    for ((name, max), role) in budgets.iter().zip(&roles) {
        let peak = peaks.get(role).copied().unwrap_or(0) as u32;
        assert!(peak <= *max + 1, "{name}: {peak} sessions at once with maxOpenConns = {max}");
        assert!(peak >= 1, "{name}: never seen");
        // Both scrapers got the datasource's values: built-in and custom.
        for t in a.iter().chain(&b).skip(1) {
            assert_eq!(value(t, &format!("dmdb_up{{datasource=\"{name}\"}}")), Some(1.0), "{name}");
        }
        let t = a.last().expect("a scrape");
        assert_eq!(value(t, &format!("dmdbms_slow1_v{{datasource=\"{name}\"}}")), Some(1.0));
        assert_eq!(value(t, &format!("dmdbms_slow2_v{{datasource=\"{name}\"}}")), Some(2.0));
        let instance = format!(
            "dameng_exporter_collector_success{{collector=\"instance\",datasource=\"{name}\"}}"
        );
        assert_eq!(value(t, &instance), Some(1.0), "{name}");
        let (_, _, wait) = pool_series(t, name);
        assert!(wait.is_some_and(|w| w >= 0.0), "{name}: wait {wait:?}");
    }
    // Two collections at once on one session: someone waited. (Per datasource it depends
    // on how the scrapes interleave on a loaded machine; over the two it cannot be zero.)
    let waited: f64 = budgets[..2]
        .iter()
        .filter_map(|(name, _)| pool_series(a.last().expect("a scrape"), name).2)
        .sum();
    assert!(waited > 0.0, "no wait at maxOpenConns = 1");
    // The budget of 2 was used: fan-out and the read-only pool share it.
    let used_two = roles[2..].iter().any(|r| peaks.get(r).copied().unwrap_or(0) >= 2);
    assert!(used_two, "peaks {peaks:?}");

    // Quiet again: one scrape, answered after its sessions went back; nothing in use.
    std::thread::sleep(Duration::from_millis(300));
    let t = e.metrics();
    for (name, max) in budgets {
        // (A health ping may hold a session right now: exact values are checked on SQLite.)
        let (in_use, idle, _) = pool_series(&t, name);
        let open = in_use.zip(idle).map(|(u, i)| u + i);
        assert!(open.is_some_and(|n| (1.0..=f64::from(max)).contains(&n)), "{name}: {open:?}");
    }
}

/// Exact pool metrics after a scrape on SQLite, without health pings: nothing in use,
/// `maxIdleConns` idle (the scrape used more), no wait with a budget larger than the work.
#[test]
fn pool_metrics_after_a_scrape_are_exact() {
    let body = format!(
        "enableHealthPing = false\n{}",
        fixture_ds(Engine::Sqlite, "p", "primary", "maxOpenConns = 4\nmaxIdleConns = 1")
    );
    // Fan out at once: the scrape uses all four sessions, and keeps one.
    let e = Exporter::start_with_env("sessions-exact", &body, &[("DMEXP_FAN_OUT_AFTER_MS", "0")]);
    for _ in 0..3 {
        let t = e.metrics();
        assert_eq!(value(&t, "dmdb_up{datasource=\"p\"}"), Some(1.0));
        assert_eq!(pool_series(&t, "p"), (Some(0.0), Some(1.0), Some(0.0)));
    }
    let help = "# TYPE dameng_exporter_pool_wait_seconds_total counter";
    assert!(e.metrics().contains(help));
}

/// maxOpenConns = 1 on the DM double with built-ins and custom metrics: the read-write
/// session is closed before the read-only one opens (and back), never two at once, counted
/// from the driver's own connect/disconnect log; the custom SQL ran on a session that
/// passed the RDONLY check (else it would be refused).
#[test]
fn one_session_serves_builtins_and_read_only_custom_sql_on_dm() {
    let dir = scratch("sessions-dm-one");
    let log = dir.join("events.log");
    let exp = Exporter::start(
        "sessions-dm-one-exp",
        &crate::dm_driver::double_ds(
            "master",
            "primary",
            &format!("DMDOUBLE_SESSION_TZ=+00:00;DMDOUBLE_LOG={}", log.display()),
            &format!(
                "maxOpenConns = 1\ncustomMetricsFile = \"{}\"",
                crate::common::root()
                    .join("config/examples/custom_metrics_prod_master.toml")
                    .display()
            ),
        ),
    );
    for _ in 0..3 {
        let t = exp.metrics();
        assert_eq!(
            value(&t, "dmdbms_orders_orders{datasource=\"master\",status=\"PAID\"}"),
            Some(3.0)
        );
        assert_eq!(
            value(
                &t,
                "dameng_exporter_collector_success{collector=\"instance\",datasource=\"master\"}"
            ),
            Some(1.0)
        );
        assert_eq!(pool_series(&t, "master").0, Some(0.0));
    }
    let events = std::fs::read_to_string(&log).expect("double log");
    let (mut open, mut peak, mut connects) = (0i32, 0i32, 0);
    for line in events.lines() {
        match line {
            "connect" => {
                open += 1;
                connects += 1;
            }
            "disconnect" => open -= 1,
            _ => {}
        }
        peak = peak.max(open);
    }
    assert_eq!(peak, 1, "{connects} connects:\n{events}");
    // The mode switches cost logins: read-write, then read-only, per scrape at most.
    assert!((2..=8).contains(&connects), "{connects} connects");
}

/// A pool of one on PostgreSQL: after its read-write session served the health check, a
/// custom metric whose SELECT calls a writing function still cannot write (the read-only
/// session is a new one, never the read-write session switched).
#[test]
fn one_session_budget_keeps_custom_sql_read_only_on_postgres() {
    let started = Instant::now();
    let tag = std::process::id();
    let db = format!("dmexp_sess_ro_{tag}");
    psql("postgres", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    psql("postgres", &format!("CREATE DATABASE {db}"));
    psql(
        &db,
        "CREATE TABLE ro_items (id INTEGER); CREATE TABLE DUAL (ID INTEGER); \
         INSERT INTO DUAL VALUES (1); CREATE FUNCTION ro_insert() RETURNS INTEGER \
         LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ro_items VALUES (1); RETURN 1; END $$",
    );
    let dir = scratch("sessions-pg-ro-files");
    let custom = custom_file(
        &dir,
        "w.toml",
        "[[metric]]\ncontext = \"ins\"\nrequest = \"SELECT ro_insert() AS n\"\n\
         metricsdesc = { n = \"n\" }\n\n\
         [[metric]]\ncontext = \"items\"\nrequest = \"SELECT COUNT(*) AS n FROM ro_items\"\n\
         metricsdesc = { n = \"n\" }\n",
    );
    let cs = pg_cs("primary").replace("Database=dmexp_primary", &format!("Database={db}"));
    let body = format!(
        "[[datasource]]\nname = \"s\"\nodbcConnectionString = \"{cs}\"\n\
         registerDatabaseMetrics = false\nmaxOpenConns = 1\n{custom}"
    );
    let e = Exporter::start("sessions-pg-ro", &body);
    for _ in 0..4 {
        let t = e.metrics();
        let ins = "dameng_exporter_collector_success{collector=\"custom_ins\",datasource=\"s\"}";
        assert_eq!(value(&t, ins), Some(0.0));
        assert_eq!(value(&t, "dmdbms_items_n{datasource=\"s\"}"), Some(0.0));
        let sessions: usize = psql(
            "postgres",
            &format!("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = '{db}'"),
        )
        .parse()
        .expect("a count");
        assert!(sessions <= 1, "{sessions} sessions with maxOpenConns = 1");
        // Let a health ping take the session back to read-write in between.
        std::thread::sleep(Duration::from_millis(1100));
    }
    assert!(e.all_logs().contains("read-only transaction"), "{}", e.all_logs());
    drop(e);
    assert_eq!(psql(&db, "SELECT COUNT(*) FROM ro_items"), "0");
    psql("postgres", &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
    assert!(started.elapsed() < Duration::from_secs(60));
}

/// maxOpenConns = 2 on the DM double with built-ins and custom metrics: the read-write and
/// the read-only pool start with one session each and keep it, so five scrapes log in
/// exactly twice (no fan-out, no health pings, so the count is exact) instead of closing a
/// session to open one of the other kind every scrape.
#[test]
fn two_sessions_serve_builtins_and_custom_sql_without_relogging_on_dm() {
    let dir = scratch("sessions-dm-two");
    let log = dir.join("events.log");
    let body = format!(
        "enableHealthPing = false\n{}",
        crate::dm_driver::double_ds(
            "master",
            "primary",
            &format!("DMDOUBLE_SESSION_TZ=+00:00;DMDOUBLE_LOG={}", log.display()),
            &format!(
                "maxOpenConns = 2\ncustomMetricsFile = \"{}\"",
                crate::common::root()
                    .join("config/examples/custom_metrics_prod_master.toml")
                    .display()
            ),
        )
    );
    let exp = Exporter::start_with_env(
        "sessions-dm-two-exp",
        &body,
        &[("DMEXP_FAN_OUT_AFTER_MS", "600000")],
    );
    for _ in 0..5 {
        let t = exp.metrics();
        assert_eq!(
            value(&t, "dmdbms_orders_orders{datasource=\"master\",status=\"PAID\"}"),
            Some(3.0)
        );
        assert_eq!(pool_series(&t, "master"), (Some(0.0), Some(2.0), Some(0.0)));
    }
    let events = std::fs::read_to_string(&log).expect("double log");
    let count = |e: &str| events.lines().filter(|l| *l == e).count();
    assert_eq!((count("connect"), count("disconnect")), (2, 0), "{events}");
}
