//! Archive send family: per archive destination, how far the destination is behind in LSN
//! (V$ARCH_SEND_INFO, V$ARCH_APPLY_INFO). Reported, as upstream, only when archiving is on
//! and the local destination is VALID (see [`crate::arch_status`]); the same value under two
//! names (`dmdbms_arch_send_detail_info`, `dmdbms_arch_send_diff_value`).
//!
//! The gap is `MAX_SEND_LSN − RPKG_LSN` (what was sent minus what the standby replayed) when
//! the build has V$ARCH_APPLY_INFO (probed once per connection) and it has a row for the
//! destination, else `MAX_SEND_LSN − LAST_SEND_LSN`.
//!
//! Differences from upstream: the apply rows are matched to destinations here, not with a
//! correlated scalar subquery, so several apply rows for one destination (one per DSC node)
//! no longer fail the whole query (docs/UPSTREAM.md §8 S3): the least advanced one counts (the
//! largest gap). A destination without an apply row (an asynchronous one) reports
//! `MAX_SEND_LSN − LAST_SEND_LSN` instead of 0. `LAST_SEND_CODE`/`LAST_SEND_DESC` and the
//! send times, which upstream fetched and discarded, are not read, so the query is the same
//! on builds without those columns (8.1.2.84).

use dmexp_config::DatasourceConfig;
use dmexp_core::collector::{
    BuildError, CollectContext, CollectError, Collector, CollectorDescriptor, Family, MetricDef,
    MetricSpec, Sample,
};
use dmexp_core::query::{cell, Rows};

use crate::arch_status::{self, ArchState};

/// Send state per destination.
pub const SEND_SQL: &str = "SELECT /*+DM_EXPORTER*/ ARCH_DEST, ARCH_TYPE, MAX_SEND_LSN, \
    LAST_SEND_LSN FROM V$ARCH_SEND_INFO";

/// Replayed LSN per destination (only where V$ARCH_APPLY_INFO exists).
pub const APPLY_SQL: &str = "SELECT /*+DM_EXPORTER*/ DEST_NAME, RPKG_LSN FROM V$ARCH_APPLY_INFO";

const DETAIL: usize = 0;
const DIFF: usize = 1;

/// Metrics of this collector, upstream names and help texts (docs/UPSTREAM.md §3.2 #29–#30).
pub const METRICS: &[MetricDef] = &[
    MetricDef::gauge(
        "dmdbms_arch_send_detail_info",
        "Information about DM database archive send detail info, return MAX_SEND_LSN - LAST_SEND_LSN = diffValue",
    )
    .with_labels(&["arch_type", "arch_dest"]),
    MetricDef::gauge(
        "dmdbms_arch_send_diff_value",
        "Information about DM database archive send diff value, return MAX_SEND_LSN - LAST_SEND_LSN = diffValue",
    )
    .with_labels(&["arch_type", "arch_dest"]),
];

/// An LSN cell: an integer (exact, LSNs are BIGINT), or a number written with a fraction.
fn lsn(row: &[Option<String>], i: usize) -> Option<i128> {
    let s = cell(row, i)?.trim();
    s.parse::<i128>().ok().or_else(|| {
        s.parse::<f64>().ok().filter(|f| f.is_finite() && f.fract() == 0.0).map(|f| f as i128)
    })
}

/// Maps [`SEND_SQL`] and, when the build has V$ARCH_APPLY_INFO, [`APPLY_SQL`] to samples.
/// Rows without `MAX_SEND_LSN` (or without any second LSN) are skipped; destinations
/// reported twice with the same labels keep the larger gap.
pub fn map_rows(send: &Rows, apply: Option<&Rows>) -> Vec<Sample> {
    let mut gaps: Vec<(Vec<String>, i128)> = Vec::new();
    for row in &send.rows {
        let dest = cell(row, 0).unwrap_or("");
        let Some(max_send) = lsn(row, 2) else { continue };
        let replayed = apply.and_then(|a| {
            a.rows
                .iter()
                .filter(|r| cell(r, 0).is_some_and(|d| d.trim() == dest.trim()))
                .filter_map(|r| lsn(r, 1))
                .min()
        });
        let Some(base) = replayed.or_else(|| lsn(row, 3)) else { continue };
        let gap = max_send - base;
        let labels = vec![cell(row, 1).unwrap_or("").to_owned(), dest.to_owned()];
        match gaps.iter_mut().find(|(l, _)| *l == labels) {
            Some((_, g)) => *g = (*g).max(gap),
            None => gaps.push((labels, gap)),
        }
    }
    let mut out = Vec::with_capacity(gaps.len() * 2);
    for (labels, gap) in gaps {
        out.push(Sample::with_labels(DETAIL, labels.clone(), gap as f64));
        out.push(Sample::with_labels(DIFF, labels, gap as f64));
    }
    out
}

/// The collector.
#[derive(Debug, Default)]
pub struct ArchSendCollector;

impl Collector for ArchSendCollector {
    fn metrics(&self) -> Vec<MetricSpec> {
        METRICS.iter().map(MetricSpec::from).collect()
    }
    fn collect(
        &self,
        ctx: &mut dyn CollectContext,
        out: &mut Vec<Sample>,
    ) -> Result<(), CollectError> {
        let (state, _) = arch_status::read_state(ctx)?;
        if state != ArchState::Valid {
            return Ok(());
        }
        let send = ctx.query(SEND_SQL)?;
        if send.is_empty() {
            return Ok(());
        }
        let apply =
            if ctx.has_view("V$ARCH_APPLY_INFO")? { Some(ctx.query(APPLY_SQL)?) } else { None };
        out.extend(map_rows(&send, apply.as_ref()));
        Ok(())
    }
}

fn build(_: &DatasourceConfig) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(ArchSendCollector))
}

inventory::submit! {
    CollectorDescriptor::new(
        "arch_send",
        "V$ARCH_SEND_INFO, V$ARCH_APPLY_INFO, V$DM_INI (ARCH_INI), V$ARCH_STATUS",
        Family::Database,
        METRICS,
        build,
    )
    .queries(&[arch_status::INI_SQL, arch_status::STATUS_SQL, SEND_SQL, APPLY_SQL])
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use dmexp_core::query::QueryError;

    use super::*;

    fn rows(data: &[&[Option<&str>]]) -> Rows {
        Rows {
            rows: data.iter().map(|r| r.iter().map(|c| c.map(str::to_owned)).collect()).collect(),
            ..Default::default()
        }
    }

    fn both(t: &str, d: &str, v: f64) -> [Sample; 2] {
        let l = vec![t.to_owned(), d.to_owned()];
        [Sample::with_labels(DETAIL, l.clone(), v), Sample::with_labels(DIFF, l, v)]
    }

    fn send() -> Rows {
        rows(&[
            &[Some("GRP1_RT_02"), Some("REALTIME"), Some("52105011"), Some("52104877")],
            &[Some("GRP1_ASYNC_03"), Some("ASYNC"), Some("52105011"), Some("52010000")],
        ])
    }

    #[test]
    fn gap_against_replayed_lsn_or_last_sent() {
        let apply = rows(&[
            &[Some("GRP1_RT_02"), Some("52104500")],
            &[Some("GRP1_RT_02"), Some("52104200")],
            &[Some("GRP1_RT_02"), None],
            &[Some("OTHER"), Some("1")],
        ]);
        let mut expected = both("REALTIME", "GRP1_RT_02", 811.0).to_vec();
        expected.extend(both("ASYNC", "GRP1_ASYNC_03", 95_011.0));
        assert_eq!(map_rows(&send(), Some(&apply)), expected);
    }

    #[test]
    fn without_apply_view_uses_last_sent() {
        let mut expected = both("REALTIME", "GRP1_RT_02", 134.0).to_vec();
        expected.extend(both("ASYNC", "GRP1_ASYNC_03", 95_011.0));
        assert_eq!(map_rows(&send(), None), expected);
    }

    #[test]
    fn nulls_and_garbage() {
        let send = rows(&[
            &[Some("A"), Some("REALTIME"), None, Some("1")],
            &[Some("B"), Some("ASYNC"), Some("x"), Some("1")],
            &[Some("C"), Some("ASYNC"), Some("10"), None],
            &[None, None, Some("10.0"), Some("4")],
            &[
                Some("D"),
                Some("TIMELY"),
                Some(" 9223372036854775807 "),
                Some("9223372036854775800"),
            ],
        ]);
        let mut expected = both("", "", 6.0).to_vec();
        expected.extend(both("TIMELY", "D", 7.0));
        assert_eq!(map_rows(&send, Some(&Rows::default())), expected);
    }

    #[test]
    fn duplicate_destination_keeps_the_larger_gap() {
        let send = rows(&[
            &[Some("S"), Some("REALTIME"), Some("100"), Some("90")],
            &[Some("S"), Some("REALTIME"), Some("100"), Some("70")],
        ]);
        assert_eq!(map_rows(&send, None), both("REALTIME", "S", 30.0).to_vec());
    }

    /// A scripted context: answers by statement, records probes.
    struct Fake {
        answers: Vec<(&'static str, Rows)>,
        apply_view: bool,
        ran: Vec<String>,
    }

    impl CollectContext for Fake {
        fn query_with(
            &mut self,
            sql: &str,
            _: Option<Duration>,
            _: Option<usize>,
        ) -> Result<Rows, QueryError> {
            self.ran.push(sql.to_owned());
            self.answers
                .iter()
                .find(|(q, _)| *q == sql)
                .map(|(_, r)| r.clone())
                .ok_or(QueryError::NoResultSet)
        }
        fn datasource(&self) -> &DatasourceConfig {
            unreachable!("not used")
        }
        fn remaining(&self) -> Duration {
            Duration::from_secs(10)
        }
        fn has_view(&mut self, view: &str) -> Result<bool, QueryError> {
            self.ran.push(format!("probe {view}"));
            Ok(self.apply_view)
        }
        fn has_columns(&mut self, _: &str, _: &[&str]) -> Result<bool, QueryError> {
            Ok(true)
        }
    }

    fn fake(ini: &str, local: &str, apply_view: bool) -> Fake {
        Fake {
            answers: vec![
                (arch_status::INI_SQL, rows(&[&[Some(ini)]])),
                (
                    arch_status::STATUS_SQL,
                    rows(&[&[Some("LOCAL"), Some("/dmarch"), Some("X"), Some(local)]]),
                ),
                (SEND_SQL, send()),
                (APPLY_SQL, rows(&[&[Some("GRP1_RT_02"), Some("52104500")]])),
            ],
            apply_view,
            ran: Vec::new(),
        }
    }

    #[test]
    fn collects_only_when_archiving_is_valid() {
        for (ini, local) in [("0", "VALID"), ("1", "INVALID")] {
            let mut ctx = fake(ini, local, true);
            let mut out = Vec::new();
            ArchSendCollector.collect(&mut ctx, &mut out).expect("collect");
            assert!(out.is_empty());
            assert!(!ctx.ran.iter().any(|q| q == SEND_SQL));
        }
        let mut ctx = fake("1", "VALID", true);
        let mut out = Vec::new();
        ArchSendCollector.collect(&mut ctx, &mut out).expect("collect");
        let mut expected = both("REALTIME", "GRP1_RT_02", 511.0).to_vec();
        expected.extend(both("ASYNC", "GRP1_ASYNC_03", 95_011.0));
        assert_eq!(out, expected);
        let mut ctx = fake("1", "VALID", false);
        let mut out = Vec::new();
        ArchSendCollector.collect(&mut ctx, &mut out).expect("collect");
        assert!(!ctx.ran.iter().any(|q| q == APPLY_SQL));
        assert_eq!(out[0].value, 134.0);
    }
}
