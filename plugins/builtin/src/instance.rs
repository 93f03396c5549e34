//! V$INSTANCE family: instance start time, status and mode, plus the counts of waiting
//! transactions (V$TRXWAIT), deadlock history (V$DEADLOCK_HISTORY) and threads (V$THREADS).
//!
//! One query reads everything, including the server's local "now" (`SYSDATE` on DM,
//! `dmexp_core::dialect`), which is "now" for `dmdbms_start_day` and gives the zone of
//! `START_TIME` (see `dmexp_core::dbtime`).
//!
//! `dmdbms_switching_occurs` (1 normal, 0 = the instance's `MODE$` changed) is a latch kept in
//! the collector, which lives as long as its datasource: the first mode seen is the baseline
//! and stays for the life of the process; a mode different from the baseline becomes the new
//! baseline and holds the value at 0 for the datasource's `alarmKeyCacheTime`. Upstream kept
//! its baseline only for 2 × alarmKeyCacheTime, so a switch while the baseline had expired
//! was never reported (docs/UPSTREAM.md §2.8, §8 C6).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CollectContext, CollectError, Collector, CollectorDescriptor, Family, MetricDef,
    MetricSpec, Sample,
};
use dmexp_core::dbtime::DbClock;
use dmexp_core::query::{cell, cell_f64, Rows};

/// The instance query: one row.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ START_TIME, STATUS$, MODE$, {NOW}, \
    (SELECT COUNT(*) FROM V$TRXWAIT), (SELECT COUNT(*) FROM V$DEADLOCK_HISTORY), \
    (SELECT COUNT(*) FROM V$THREADS) FROM V$INSTANCE";

const START_TIME: usize = 0;
const STATUS: usize = 1;
const MODE: usize = 2;
const TRX: usize = 3;
const DEADLOCK: usize = 4;
const THREADS: usize = 5;
const START_DAY: usize = 6;
const SWITCHING: usize = 7;

/// Metrics of this collector, upstream names and help texts (docs/UPSTREAM.md §3.2 #3–#9).
pub const METRICS: &[MetricDef] = &[
    MetricDef::gauge("dmdbms_start_time_info", "Database status time"),
    MetricDef::gauge(
        "dmdbms_status_info",
        "Database status, value info: open = 1,mount = 2,suspend = 3 ,other = 4",
    ),
    MetricDef::gauge(
        "dmdbms_mode_info",
        "Database mode, value info: primary = 1,normal = 2,standby = 3 ,other = 4",
    ),
    MetricDef::gauge("dmdbms_trx_num_info", "Number of transactions"),
    MetricDef::counter("dmdbms_dead_lock_num_total", "Number of deadlocks"),
    MetricDef::gauge("dmdbms_thread_num_info", "Number of threads"),
    MetricDef::gauge("dmdbms_start_day", "Database instance start_day "),
    MetricDef::gauge(
        "dmdbms_switching_occurs",
        "Database instance switching occurs\u{ff0c} value info:  error is 0 , true is 1  ",
    ),
];

/// `STATUS$` → upstream code.
pub fn status_code(status: Option<&str>) -> f64 {
    match status.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
        Some("OPEN") => 1.0,
        Some("MOUNT") => 2.0,
        Some("SUSPEND") => 3.0,
        _ => 4.0,
    }
}

/// `MODE$` → upstream code.
pub fn mode_code(mode: Option<&str>) -> f64 {
    match mode.map(|s| s.trim().to_ascii_uppercase()).as_deref() {
        Some("PRIMARY") => 1.0,
        Some("NORMAL") => 2.0,
        Some("STANDBY") => 3.0,
        _ => 4.0,
    }
}

/// Maps the result of [`SQL`] to samples. No row: no samples (upstream emitted zeros).
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let mut out = Vec::new();
    let Some(row) = rows.first() else { return out };
    let clock = cell(row, 3).and_then(DbClock::from_server_now);
    if let (Some(clock), Some(start)) = (clock, cell(row, 0)) {
        if let Some(t) = clock.unix_seconds(start) {
            out.push(Sample::new(START_TIME, t));
        }
        if let Some(days) = clock.days_since(start) {
            out.push(Sample::new(START_DAY, days as f64));
        }
    }
    out.push(Sample::new(STATUS, status_code(cell(row, 1))));
    out.push(Sample::new(MODE, mode_code(cell(row, 2))));
    for (metric, col) in [(TRX, 4), (DEADLOCK, 5), (THREADS, 6)] {
        if let Some(v) = cell_f64(row, col) {
            out.push(Sample::new(metric, v));
        }
    }
    out
}

/// The mode-switch latch behind `dmdbms_switching_occurs`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SwitchLatch {
    /// The last mode code seen; kept for the life of the process.
    baseline: Option<f64>,
    /// While set and in the future, the metric is 0.
    latched_until: Option<Instant>,
}

impl SwitchLatch {
    /// Feeds the mode code read at `now`; returns the metric value (1 normal, 0 switched).
    /// A change of mode moves the baseline to the new mode and latches 0 for `hold`; a
    /// further change while latched restarts the hold.
    pub fn observe(&mut self, mode: f64, now: Instant, hold: Duration) -> f64 {
        match self.baseline {
            Some(b) if b != mode => {
                self.baseline = Some(mode);
                self.latched_until = Some(now + hold);
            }
            Some(_) => {}
            None => self.baseline = Some(mode),
        }
        match self.latched_until {
            Some(until) if now < until => 0.0,
            Some(_) => {
                self.latched_until = None;
                1.0
            }
            None => 1.0,
        }
    }
}

/// The mode code of the first row, if there is a row (the input of [`SwitchLatch`]).
pub fn mode_of(rows: &Rows) -> Option<f64> {
    rows.first().map(|row| mode_code(cell(row, 2)))
}

/// The collector. It keeps the mode-switch latch, so one instance serves one datasource.
#[derive(Debug, Default)]
pub struct InstanceCollector {
    latch: Mutex<SwitchLatch>,
}

impl Collector for InstanceCollector {
    fn metrics(&self) -> Vec<MetricSpec> {
        METRICS.iter().map(MetricSpec::from).collect()
    }
    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        let rows = ctx.query_template(SQL)?;
        out.extend(map_rows(&rows));
        if let Some(mode) = mode_of(&rows) {
            let hold = ctx.datasource().alarm_key_cache_time;
            let value = self.latch.lock().unwrap_or_else(PoisonError::into_inner).observe(
                mode,
                Instant::now(),
                hold,
            );
            out.push(Sample::new(SWITCHING, value));
        }
        Ok(())
    }
}

fn build(_: &DatasourceConfig) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(InstanceCollector::default()))
}

inventory::submit! {
    CollectorDescriptor::new(
        "instance",
        "V$INSTANCE, V$TRXWAIT, V$DEADLOCK_HISTORY, V$THREADS",
        Family::Database,
        METRICS,
        build,
    )
    .queries(&[SQL])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(cells: &[Option<&str>]) -> Rows {
        Rows {
            rows: vec![cells.iter().map(|c| c.map(str::to_owned)).collect()],
            truncated: false,
            ..Default::default()
        }
    }

    #[test]
    fn maps_a_dm_row() {
        let r = rows(&[
            Some("2026-11-01 08:30:00"),
            Some("OPEN"),
            Some("PRIMARY"),
            Some("2026-11-24 10:00:00.000000 +08:00"),
            Some("2"),
            Some("3"),
            Some("57"),
        ]);
        let s = map_rows(&r);
        // 2026-11-01 08:30:00 +08:00 = 2026-11-01 00:30:00 UTC
        assert_eq!(
            s,
            vec![
                Sample::new(START_TIME, 1_793_493_000.0),
                Sample::new(START_DAY, 23.0),
                Sample::new(STATUS, 1.0),
                Sample::new(MODE, 1.0),
                Sample::new(TRX, 2.0),
                Sample::new(DEADLOCK, 3.0),
                Sample::new(THREADS, 57.0),
            ]
        );
    }

    #[test]
    fn codes() {
        assert_eq!(status_code(Some("MOUNT")), 2.0);
        assert_eq!(status_code(Some("suspend")), 3.0);
        assert_eq!(status_code(None), 4.0);
        assert_eq!(mode_code(Some("STANDBY")), 3.0);
        assert_eq!(mode_code(Some("NORMAL")), 2.0);
        assert_eq!(mode_code(Some("x")), 4.0);
    }

    #[test]
    fn no_row_no_samples() {
        assert!(map_rows(&Rows::default()).is_empty());
        assert_eq!(mode_of(&Rows::default()), None);
    }

    #[test]
    fn metric_indexes_match_the_table() {
        assert_eq!(METRICS[SWITCHING].name, "dmdbms_switching_occurs");
        assert_eq!(METRICS[START_DAY].name, "dmdbms_start_day");
        assert_eq!(METRICS[THREADS].name, "dmdbms_thread_num_info");
    }

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn latch_first_value_is_the_baseline() {
        let t0 = Instant::now();
        let mut l = SwitchLatch::default();
        assert_eq!(l.observe(1.0, t0, 5 * MIN), 1.0);
        assert_eq!(l.observe(1.0, t0 + MIN, 5 * MIN), 1.0);
    }

    #[test]
    fn latch_holds_zero_for_the_alarm_time_then_recovers() {
        let t0 = Instant::now();
        let mut l = SwitchLatch::default();
        assert_eq!(l.observe(1.0, t0, 5 * MIN), 1.0);
        // PRIMARY -> STANDBY
        assert_eq!(l.observe(3.0, t0 + MIN, 5 * MIN), 0.0);
        assert_eq!(l.observe(3.0, t0 + 3 * MIN, 5 * MIN), 0.0);
        assert_eq!(l.observe(3.0, t0 + 6 * MIN - Duration::from_millis(1), 5 * MIN), 0.0);
        assert_eq!(l.observe(3.0, t0 + 6 * MIN, 5 * MIN), 1.0);
        // The new mode is the baseline now: no second alarm.
        assert_eq!(l.observe(3.0, t0 + 60 * MIN, 5 * MIN), 1.0);
    }

    #[test]
    fn latch_reports_a_switch_after_a_long_quiet_time() {
        // Upstream's baseline expired after 2 x alarmKeyCacheTime, so this switch was lost.
        let t0 = Instant::now();
        let mut l = SwitchLatch::default();
        assert_eq!(l.observe(1.0, t0, 5 * MIN), 1.0);
        assert_eq!(l.observe(1.0, t0 + 600 * MIN, 5 * MIN), 1.0);
        assert_eq!(l.observe(3.0, t0 + 6000 * MIN, 5 * MIN), 0.0);
    }

    #[test]
    fn latch_switching_back_while_latched_restarts_the_hold() {
        let t0 = Instant::now();
        let mut l = SwitchLatch::default();
        l.observe(1.0, t0, 5 * MIN);
        assert_eq!(l.observe(3.0, t0 + MIN, 5 * MIN), 0.0);
        assert_eq!(l.observe(1.0, t0 + 4 * MIN, 5 * MIN), 0.0);
        assert_eq!(l.observe(1.0, t0 + 8 * MIN, 5 * MIN), 0.0);
        assert_eq!(l.observe(1.0, t0 + 9 * MIN, 5 * MIN), 1.0);
    }

    #[test]
    fn latch_unknown_mode_is_a_mode_too() {
        let t0 = Instant::now();
        let mut l = SwitchLatch::default();
        let m = mode_of(&rows(&[None, None, None])).unwrap();
        assert_eq!(m, 4.0);
        assert_eq!(l.observe(m, t0, MIN), 1.0);
        assert_eq!(l.observe(2.0, t0 + MIN, MIN), 0.0);
    }

    #[test]
    fn bad_time_skips_time_metrics_only() {
        let r = rows(&[
            Some("garbage"),
            Some("OPEN"),
            Some("NORMAL"),
            Some("2026-11-24 10:00:00"),
            None,
            Some("0"),
            Some("1"),
        ]);
        let s = map_rows(&r);
        assert_eq!(s.len(), 4);
        assert!(s
            .iter()
            .all(|x| x.metric != START_TIME && x.metric != START_DAY && x.metric != TRX));
    }
}
