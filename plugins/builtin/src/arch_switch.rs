//! Archive switch family: creation time of the newest ACTIVE archive file (V$ARCH_FILE) as
//! Unix seconds, for the dashboard's "time since the last archive switch".
//!
//! As upstream, the value is 0 when archiving is off or not valid (see
//! [`crate::arch_status`]) and when there is no ACTIVE file. Difference from upstream: the
//! stored `CREATE_TIME` is read in the server's time zone (the offset of its local "now",
//! `SYSDATE` on DM, read in the same query: `dmexp_core::dbtime`), not the exporter host's
//! (docs/UPSTREAM.md §8 C7) nor the session's.

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CollectContext, CollectError, Collector, CollectorDescriptor, Family, MetricDef,
    MetricSpec, Sample,
};
use dmexp_core::dbtime::DbClock;
use dmexp_core::query::{cell, Rows};

use crate::arch_status::{self, ArchState};

/// Newest ACTIVE archive file and the database clock: always one row.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ MAX(CREATE_TIME), {NOW} \
    FROM V$ARCH_FILE WHERE STATUS = 'ACTIVE'";

const LAST_CREATE_TIME: usize = 0;

/// Metrics of this collector, upstream name and help text (docs/UPSTREAM.md §3.2 #28).
pub const METRICS: &[MetricDef] = &[MetricDef::gauge(
    "dmdbms_arch_last_create_time_seconds",
    "Latest archive log creation time in Unix seconds; zero when archive logs are unavailable",
)];

/// Unix seconds of the newest ACTIVE file in the result of [`SQL`]; 0 when there is none
/// or its time cannot be read (upstream's "unavailable").
pub fn unix_seconds(rows: &Rows) -> f64 {
    let Some(row) = rows.first() else { return 0.0 };
    let clock = cell(row, 1).and_then(DbClock::from_server_now);
    match (clock, cell(row, 0)) {
        (Some(clock), Some(created)) => clock.unix_seconds(created).unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Samples for an archive state and, when it is valid, the result of [`SQL`].
pub fn map_rows(state: ArchState, rows: Option<&Rows>) -> Vec<Sample> {
    let value = match (state, rows) {
        (ArchState::Valid, Some(rows)) => unix_seconds(rows),
        _ => 0.0,
    };
    vec![Sample::new(LAST_CREATE_TIME, value)]
}

/// The collector.
#[derive(Debug, Default)]
pub struct ArchSwitchCollector;

impl Collector for ArchSwitchCollector {
    fn metrics(&self) -> Vec<MetricSpec> {
        METRICS.iter().map(MetricSpec::from).collect()
    }
    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        let (state, _) = arch_status::read_state(ctx)?;
        let rows = if state == ArchState::Valid { Some(ctx.query_template(SQL)?) } else { None };
        out.extend(map_rows(state, rows.as_ref()));
        Ok(())
    }
}

fn build(_: &DatasourceConfig) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(ArchSwitchCollector))
}

inventory::submit! {
    CollectorDescriptor::new(
        "arch_switch",
        "V$ARCH_FILE, V$DM_INI (ARCH_INI), V$ARCH_STATUS",
        Family::Database,
        METRICS,
        build,
    )
    .queries(&[arch_status::INI_SQL, arch_status::STATUS_SQL, SQL])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(created: Option<&str>, now: Option<&str>) -> Rows {
        Rows {
            rows: vec![vec![created.map(str::to_owned), now.map(str::to_owned)]],
            ..Default::default()
        }
    }

    #[test]
    fn newest_file_in_the_database_zone() {
        // DM: stored wall-clock time in the zone of the server (+08:00).
        let r = one(Some("2026-11-24 07:45:12"), Some("2026-11-24 10:00:00.000000 +08:00"));
        assert_eq!(map_rows(ArchState::Valid, Some(&r)), vec![Sample::new(0, 1_795_477_512.0)]);
        // SQLite / PostgreSQL fixtures: UTC.
        let r = one(Some("2026-11-24 07:45:12"), Some("2026-11-24 17:00:00 +00:00"));
        assert_eq!(unix_seconds(&r), 1_795_506_312.0);
        let r = one(Some("2026-11-24 07:45:12.000000"), Some("2026-11-24 17:00:00.5+00"));
        assert_eq!(unix_seconds(&r), 1_795_506_312.0);
    }

    #[test]
    fn zero_when_unavailable() {
        let r = one(Some("2026-11-24 07:45:12"), Some("2026-11-24 17:00:00 +00:00"));
        assert_eq!(map_rows(ArchState::Off, None), vec![Sample::new(0, 0.0)]);
        assert_eq!(map_rows(ArchState::Invalid, Some(&r)), vec![Sample::new(0, 0.0)]);
        assert_eq!(map_rows(ArchState::Valid, None), vec![Sample::new(0, 0.0)]);
        assert_eq!(unix_seconds(&one(None, Some("2026-11-24 17:00:00 +00:00"))), 0.0);
        assert_eq!(unix_seconds(&one(Some("not a time"), Some("2026-11-24 17:00:00 +00:00"))), 0.0);
        assert_eq!(unix_seconds(&one(Some("2026-11-24 07:45:12"), Some("??"))), 0.0);
        assert_eq!(unix_seconds(&Rows::default()), 0.0);
    }
}
