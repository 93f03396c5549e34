//! Database users from DBA_USERS joined with SYSUSERS (`dmdbms_user_list_info`, 1 when the
//! account is locked), excluding SYS, SYSSSO and SYSAUDITOR as upstream.
//!
//! Times are formatted `YYYY-MM-DD HH:MM:SS` and `expiry_date_day` (calendar days until the
//! password expires, as DM's `DATEDIFF(DAY, SYSDATE, EXPIRY_DATE)`) is computed in Rust from
//! the server's local "now" (`SYSDATE` on DM, read in the same query). The series also carries `account_status` (DBA_USERS
//! ACCOUNT_STATUS as DM reports it: OPEN, LOCKED, EXPIRED…), which the upstream dashboard's
//! user table expects but upstream never emitted.

use dmexp_core::collector::{CollectorDescriptor, Family, MetricDef, Sample};
use dmexp_core::dbtime::DbClock;
use dmexp_core::query::{cell, Rows};

use crate::timefmt::wall_text;

/// Users with their read-only flag, status, expiry, tablespace, profile, creation time and
/// the database clock.
pub const SQL: &str = "SELECT /*+DM_EXPORTER*/ A.USERNAME, B.RN_FLAG, A.ACCOUNT_STATUS, \
    A.EXPIRY_DATE, A.DEFAULT_TABLESPACE, A.PROFILE, A.CREATED, {NOW} \
    FROM DBA_USERS A JOIN SYSUSERS B ON A.USER_ID = B.ID \
    WHERE A.USERNAME NOT IN ('SYS', 'SYSSSO', 'SYSAUDITOR') ORDER BY A.USERNAME";

/// Metrics of this collector (docs/UPSTREAM.md §3.2 #23, plus `account_status`).
pub const METRICS: &[MetricDef] =
    &[MetricDef::gauge("dmdbms_user_list_info", "Information about DM database users")
        .with_labels(&[
            "username",
            "read_only",
            "expiry_date",
            "expiry_date_day",
            "default_tablespace",
            "profile",
            "create_time",
            "account_status",
        ])];

/// SYSUSERS.RN_FLAG → `Y` (read-only) / `N`; anything else `""` (as upstream's CASE).
pub fn read_only(rn_flag: Option<&str>) -> &'static str {
    match rn_flag.map(str::trim) {
        Some("1") => "Y",
        Some("0") => "N",
        _ => "",
    }
}

/// Value: 1 when ACCOUNT_STATUS says the account is locked (`LOCKED`, also DM's combined
/// forms such as `EXPIRED & LOCKED`), else 0.
pub fn locked(status: Option<&str>) -> f64 {
    let s = status.map(str::to_ascii_uppercase).unwrap_or_default();
    if s.split(|c: char| !c.is_ascii_alphabetic()).any(|w| w == "LOCKED") {
        1.0
    } else {
        0.0
    }
}

/// Maps the result of [`SQL`] to samples. A NULL label value is `""`; a time that does not
/// parse is shown as the database sent it, and then has no day count.
pub fn map_rows(rows: &Rows) -> Vec<Sample> {
    let mut out = Vec::new();
    for row in &rows.rows {
        let Some(user) = cell(row, 0).map(str::trim).filter(|u| !u.is_empty()) else { continue };
        let text = |i: usize| cell(row, i).map(str::trim).unwrap_or_default().to_owned();
        let time =
            |i: usize| cell(row, i).map(|t| wall_text(t).unwrap_or_else(|| t.trim().to_owned()));
        let clock = cell(row, 7).and_then(DbClock::from_server_now);
        let days = match (clock, cell(row, 3)) {
            (Some(c), Some(expiry)) => c.days_since(expiry).map(|d| (-d).to_string()),
            _ => None,
        };
        let labels = vec![
            user.to_owned(),
            read_only(cell(row, 1)).to_owned(),
            time(3).unwrap_or_default(),
            days.unwrap_or_default(),
            text(4),
            text(5),
            time(6).unwrap_or_default(),
            text(2),
        ];
        out.push(Sample::with_labels(0, labels, locked(cell(row, 2))));
    }
    out
}

inventory::submit! {
    CollectorDescriptor::query("user", "DBA_USERS, SYSUSERS", Family::Database, METRICS, &[SQL], map_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2026-11-24 00:30:00.000000 +08:00";

    fn row(c: [Option<&str>; 8]) -> Vec<Option<String>> {
        c.iter().map(|x| x.map(str::to_owned)).collect()
    }

    fn labels(l: [&str; 8]) -> Vec<String> {
        l.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn maps_users() {
        let rows = Rows {
            rows: vec![
                row([
                    Some("APP"),
                    Some("0"),
                    Some("OPEN"),
                    Some("2027-05-20 10:00:00.000000"),
                    Some("APP_DATA"),
                    Some("DEFAULT"),
                    Some("2026-03-16 09:00:00"),
                    Some(NOW),
                ]),
                row([
                    Some("OLD_ETL"),
                    Some("0"),
                    Some("LOCKED"),
                    Some("2026-10-01 00:00:00"),
                    Some("APP_DATA"),
                    Some("DEFAULT"),
                    Some("2026-03-20 11:11:11"),
                    Some(NOW),
                ]),
                row([
                    Some("DEV"),
                    None,
                    Some("EXPIRED & LOCKED"),
                    None,
                    None,
                    None,
                    Some("sometime"),
                    Some(NOW),
                ]),
            ],
            ..Rows::default()
        };
        assert_eq!(
            map_rows(&rows),
            vec![
                Sample::with_labels(
                    0,
                    labels([
                        "APP",
                        "N",
                        "2027-05-20 10:00:00",
                        "177",
                        "APP_DATA",
                        "DEFAULT",
                        "2026-03-16 09:00:00",
                        "OPEN"
                    ]),
                    0.0
                ),
                Sample::with_labels(
                    0,
                    labels([
                        "OLD_ETL",
                        "N",
                        "2026-10-01 00:00:00",
                        "-54",
                        "APP_DATA",
                        "DEFAULT",
                        "2026-03-20 11:11:11",
                        "LOCKED"
                    ]),
                    1.0
                ),
                Sample::with_labels(
                    0,
                    labels(["DEV", "", "", "", "", "", "sometime", "EXPIRED & LOCKED"]),
                    1.0
                ),
            ]
        );
    }

    #[test]
    fn flags_and_garbage() {
        assert_eq!(read_only(Some("1")), "Y");
        assert_eq!(read_only(Some(" 0")), "N");
        assert_eq!(read_only(Some("2")), "");
        assert_eq!(read_only(None), "");
        assert_eq!(locked(Some("locked")), 1.0);
        assert_eq!(locked(Some("UNLOCKED")), 0.0);
        assert_eq!(locked(None), 0.0);
        let rows = Rows {
            rows: vec![
                row([None, None, None, None, None, None, None, None]),
                row([Some("U"), None, None, Some("never"), None, None, None, Some("bad clock")]),
            ],
            ..Rows::default()
        };
        assert_eq!(
            map_rows(&rows),
            vec![Sample::with_labels(0, labels(["U", "", "never", "", "", "", "", ""]), 0.0)]
        );
    }
}
