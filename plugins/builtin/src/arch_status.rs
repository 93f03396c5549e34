//! Archive status family: whether archiving is on (V$DM_INI `ARCH_INI`) and valid (the LOCAL
//! destination of V$ARCH_STATUS), plus the state of every archive destination.
//!
//! The archive state ([`ArchState`], [`read_state`]) is also the gate of the `arch_switch`
//! and `arch_send` collectors, as upstream: they report archive data only when archiving is
//! on and the local destination is VALID.
//!
//! Differences from upstream: a failing query is a collector error
//! (`dameng_exporter_collector_success` 0, no series) instead of `dmdbms_arch_status` 2,
//! which a real INVALID archive also reports (docs/UPSTREAM.md §8 C12); with several LOCAL
//! destinations the archive is valid only when every one of them is (upstream read an
//! arbitrary first row).

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CollectContext, CollectError, Collector, CollectorDescriptor, Family, MetricDef,
    MetricSpec, Sample,
};
use dmexp_core::query::{cell, QueryError, Rows};

/// `ARCH_INI` from V$DM_INI: `1` archiving on, `0` off.
pub const INI_SQL: &str =
    "SELECT /*+DM_EXPORTER*/ PARA_VALUE FROM V$DM_INI WHERE PARA_NAME = 'ARCH_INI'";

/// Every archive destination (read only when `ARCH_INI` is 1).
pub const STATUS_SQL: &str =
    "SELECT /*+DM_EXPORTER*/ ARCH_TYPE, ARCH_DEST, ARCH_SRC, ARCH_STATUS FROM V$ARCH_STATUS";

const ARCH_STATUS: usize = 0;
const ARCH_STATUS_INFO: usize = 1;

/// Metrics of this collector, upstream names and help texts (docs/UPSTREAM.md §3.2 #26–#27).
pub const METRICS: &[MetricDef] = &[
    MetricDef::gauge(
        "dmdbms_arch_status",
        "Information about DM database archive status, value info: vaild = 1,invaild = 2,no_enable= -1",
    ),
    MetricDef::gauge(
        "dmdbms_arch_status_info",
        "Information about DM database archive status, value info: vaild = 1,invaild = 0",
    )
    .with_labels(&["arch_type", "arch_dest", "arch_src"]),
];

/// The archive state of an instance, upstream's `dmdbms_arch_status` encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchState {
    /// `ARCH_INI` = 0: archiving not enabled (-1).
    Off,
    /// `ARCH_INI` = 1 and the LOCAL destination VALID (1).
    Valid,
    /// Anything else: LOCAL INVALID, no LOCAL row, a NULL or unknown value (2).
    Invalid,
}

impl ArchState {
    /// Upstream's value: -1, 1 or 2.
    pub fn code(self) -> f64 {
        match self {
            ArchState::Off => -1.0,
            ArchState::Valid => 1.0,
            ArchState::Invalid => 2.0,
        }
    }
}

/// What the result of [`INI_SQL`] means: `Some(true)` for `1`, `Some(false)` for `0`, and
/// `None` for no row, NULL or another value (upstream: state 2, "invalid").
pub fn arch_ini(rows: &Rows) -> Option<bool> {
    match rows.first().and_then(|r| cell(r, 0)).map(str::trim) {
        Some("1") => Some(true),
        Some("0") => Some(false),
        _ => None,
    }
}

fn is_valid(status: Option<&str>) -> bool {
    status.is_some_and(|s| s.trim().eq_ignore_ascii_case("VALID"))
}

/// True when the result of [`STATUS_SQL`] has at least one LOCAL destination and every
/// LOCAL destination is VALID.
pub fn local_valid(rows: &Rows) -> bool {
    let mut locals = rows
        .rows
        .iter()
        .filter(|r| cell(r, 0).is_some_and(|t| t.trim().eq_ignore_ascii_case("LOCAL")))
        .peekable();
    locals.peek().is_some() && locals.all(|r| is_valid(cell(r, 3)))
}

/// The state from the two results; `status` is `None` when [`STATUS_SQL`] was not run.
pub fn state(ini: &Rows, status: Option<&Rows>) -> ArchState {
    match (arch_ini(ini), status) {
        (Some(false), _) => ArchState::Off,
        (Some(true), Some(rows)) if local_valid(rows) => ArchState::Valid,
        _ => ArchState::Invalid,
    }
}

/// Runs [`INI_SQL`] and, when archiving is on, [`STATUS_SQL`]; returns the state and the
/// destination rows (empty when archiving is off or unknown).
pub fn read_state(ctx: &mut dyn CollectContext) -> Result<(ArchState, Rows), QueryError> {
    let ini = ctx.query(INI_SQL)?;
    if arch_ini(&ini) != Some(true) {
        return Ok((state(&ini, None), Rows::default()));
    }
    let status = ctx.query(STATUS_SQL)?;
    Ok((state(&ini, Some(&status)), status))
}

/// Samples for a state and the destination rows: `dmdbms_arch_status` always,
/// `dmdbms_arch_status_info` (VALID 1, anything else 0) only when the state is
/// [`ArchState::Valid`], as upstream. Destinations with the same labels are reported once
/// (0 if any of them is not VALID).
pub fn map_rows(state: ArchState, status: &Rows) -> Vec<Sample> {
    let mut out = vec![Sample::new(ARCH_STATUS, state.code())];
    if state != ArchState::Valid {
        return out;
    }
    let mut info: Vec<Sample> = Vec::new();
    for row in &status.rows {
        let labels: Vec<String> =
            [0, 1, 2].iter().map(|&i| cell(row, i).unwrap_or("").to_owned()).collect();
        let value = if is_valid(cell(row, 3)) { 1.0 } else { 0.0 };
        match info.iter_mut().find(|s| s.labels == labels) {
            Some(existing) => existing.value = existing.value.min(value),
            None => info.push(Sample::with_labels(ARCH_STATUS_INFO, labels, value)),
        }
    }
    out.extend(info);
    out
}

/// The collector.
#[derive(Debug, Default)]
pub struct ArchStatusCollector;

impl Collector for ArchStatusCollector {
    fn metrics(&self) -> Vec<MetricSpec> {
        METRICS.iter().map(MetricSpec::from).collect()
    }
    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        let (state, status) = read_state(ctx)?;
        out.extend(map_rows(state, &status));
        Ok(())
    }
}

fn build(_: &DatasourceConfig) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(ArchStatusCollector))
}

inventory::submit! {
    CollectorDescriptor::new(
        "arch_status",
        "V$DM_INI (ARCH_INI), V$ARCH_STATUS",
        Family::Database,
        METRICS,
        build,
    )
    .queries(&[INI_SQL, STATUS_SQL])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(data: &[&[Option<&str>]]) -> Rows {
        Rows {
            rows: data.iter().map(|r| r.iter().map(|c| c.map(str::to_owned)).collect()).collect(),
            ..Default::default()
        }
    }

    fn dest(t: &str, d: &str, s: Option<&str>) -> Vec<Option<String>> {
        vec![Some(t.into()), Some(d.into()), Some("SRC".into()), s.map(str::to_owned)]
    }

    #[test]
    fn arch_ini_values() {
        assert_eq!(arch_ini(&rows(&[&[Some("1")]])), Some(true));
        assert_eq!(arch_ini(&rows(&[&[Some(" 0 ")]])), Some(false));
        assert_eq!(arch_ini(&rows(&[&[None]])), None);
        assert_eq!(arch_ini(&rows(&[&[Some("yes")]])), None);
        assert_eq!(arch_ini(&Rows::default()), None);
    }

    #[test]
    fn state_follows_upstream_encoding() {
        let on = rows(&[&[Some("1")]]);
        let off = rows(&[&[Some("0")]]);
        let valid = Rows {
            rows: vec![dest("LOCAL", "/dmarch", Some("VALID")), dest("REALTIME", "S", None)],
            ..Default::default()
        };
        let invalid =
            Rows { rows: vec![dest("LOCAL", "/dmarch", Some("INVALID"))], ..Default::default() };
        let null = Rows { rows: vec![dest("LOCAL", "/dmarch", None)], ..Default::default() };
        let no_local =
            Rows { rows: vec![dest("REALTIME", "S", Some("VALID"))], ..Default::default() };
        assert_eq!(state(&off, None), ArchState::Off);
        assert_eq!(state(&on, Some(&valid)), ArchState::Valid);
        assert_eq!(state(&on, Some(&invalid)), ArchState::Invalid);
        assert_eq!(state(&on, Some(&null)), ArchState::Invalid);
        assert_eq!(state(&on, Some(&no_local)), ArchState::Invalid);
        assert_eq!(state(&on, None), ArchState::Invalid);
        assert_eq!(state(&rows(&[&[Some("garbage")]]), None), ArchState::Invalid);
        assert_eq!(state(&Rows::default(), None), ArchState::Invalid);
        assert_eq!(
            (ArchState::Off.code(), ArchState::Valid.code(), ArchState::Invalid.code()),
            (-1.0, 1.0, 2.0)
        );
    }

    #[test]
    fn every_local_destination_must_be_valid() {
        let two = Rows {
            rows: vec![dest("LOCAL", "/a", Some("VALID")), dest("local", "/b", Some("INVALID"))],
            ..Default::default()
        };
        assert!(!local_valid(&two));
        let both = Rows {
            rows: vec![dest("LOCAL", "/a", Some("VALID")), dest("LOCAL", "/b", Some("valid "))],
            ..Default::default()
        };
        assert!(local_valid(&both));
    }

    #[test]
    fn info_only_when_valid() {
        let status = Rows {
            rows: vec![
                dest("LOCAL", "/dmarch", Some("VALID")),
                dest("ASYNC", "S3", Some("INVALID")),
                vec![Some("TIMELY".into()), None, None, None],
            ],
            ..Default::default()
        };
        assert_eq!(
            map_rows(ArchState::Valid, &status),
            vec![
                Sample::new(ARCH_STATUS, 1.0),
                Sample::with_labels(
                    ARCH_STATUS_INFO,
                    vec!["LOCAL".into(), "/dmarch".into(), "SRC".into()],
                    1.0
                ),
                Sample::with_labels(
                    ARCH_STATUS_INFO,
                    vec!["ASYNC".into(), "S3".into(), "SRC".into()],
                    0.0
                ),
                Sample::with_labels(
                    ARCH_STATUS_INFO,
                    vec!["TIMELY".into(), "".into(), "".into()],
                    0.0
                ),
            ]
        );
        assert_eq!(map_rows(ArchState::Invalid, &status), vec![Sample::new(ARCH_STATUS, 2.0)]);
        assert_eq!(
            map_rows(ArchState::Off, &Rows::default()),
            vec![Sample::new(ARCH_STATUS, -1.0)]
        );
    }

    #[test]
    fn duplicate_destinations_are_reported_once() {
        let status = Rows {
            rows: vec![
                dest("LOCAL", "/dmarch", Some("VALID")),
                dest("REALTIME", "S", Some("VALID")),
                dest("REALTIME", "S", Some("INVALID")),
            ],
            ..Default::default()
        };
        let s = map_rows(ArchState::Valid, &status);
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[2],
            Sample::with_labels(
                ARCH_STATUS_INFO,
                vec!["REALTIME".into(), "S".into(), "SRC".into()],
                0.0
            )
        );
    }
}
