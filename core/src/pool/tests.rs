//! Unit tests of the pool module.

use super::*;

/// F2: SQL_ATTR_CONNECTION_DEAD is never read on DM (or an unknown engine), and a failed
/// read elsewhere means "unknown, keep", never "dead".
#[test]
fn connection_liveness_is_read_only_where_trusted() {
    let never = || -> Result<bool, odbc_api::Error> { panic!("must not be read") };
    assert_eq!(connection_dead(Engine::Dm, never), None);
    assert_eq!(connection_dead(Engine::Other, never), None);
    assert_eq!(connection_dead(Engine::PostgreSql, || Ok(true)), Some(true));
    assert_eq!(connection_dead(Engine::Sqlite, || Ok(false)), Some(false));
    let failed = || Err(odbc_api::Error::NoDiagnostics { function: "SQLGetConnectAttr" });
    assert_eq!(connection_dead(Engine::PostgreSql, failed), None);
}

/// L9: login failures by SQLSTATE / native code only.
#[test]
fn connect_failures_are_classified_by_code() {
    use ConnectFailure::*;
    assert_eq!(ConnectFailure::classify(Some("28000"), Some(0)), Login);
    assert_eq!(ConnectFailure::classify(Some("28P01"), None), Login);
    assert_eq!(ConnectFailure::classify(Some("HY000"), Some(-2501)), Login);
    assert_eq!(ConnectFailure::classify(Some("53300"), Some(0)), SessionLimit);
    // A network failure whose text names port 28000 is not a login failure.
    assert_eq!(ConnectFailure::classify(Some("08001"), Some(101)), Other);
    assert_eq!(ConnectFailure::classify(None, None), Other);
}

#[test]
fn declare_fetch_only_for_postgres() {
    let pg = Secret::new("Driver={PostgreSQL Unicode};Server=h;Database=d");
    assert_eq!(
        declare_fetch_for_postgres(pg).expose(),
        "Driver={PostgreSQL Unicode};Server=h;Database=d;UseDeclareFetch=1;Fetch=128;"
    );
    let own = Secret::new("Driver={PostgreSQL Unicode};UseDeclareFetch=0;");
    assert_eq!(
        declare_fetch_for_postgres(own).expose(),
        "Driver={PostgreSQL Unicode};UseDeclareFetch=0;"
    );
    let dm = Secret::new("Driver={DM8 ODBC DRIVER};SERVER=h;");
    assert_eq!(declare_fetch_for_postgres(dm).expose(), "Driver={DM8 ODBC DRIVER};SERVER=h;");
}

#[test]
fn connection_timeout_backs_up_the_query_timeout() {
    assert_eq!(connection_timeout_sec(Duration::from_secs(10)), 25);
    assert_eq!(connection_timeout_sec(Duration::from_secs(u64::MAX)), u32::MAX);
}
