//! Unit tests of basic authentication.

use super::*;

fn basic(user: &str, pass: &str) -> HeaderValue {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    HeaderValue::from_str(&format!("Basic {token}")).unwrap()
}

fn bcrypt_hash(password: &str, version: bcrypt::Version) -> String {
    bcrypt::hash_with_result(password, 4).unwrap().format_for_version(version)
}

#[test]
fn parses_basic_headers() {
    assert_eq!(
        parse_basic(&basic("admin", "pa:ss")),
        Some(("admin".to_owned(), "pa:ss".to_owned()))
    );
    let lower = HeaderValue::from_static("basic YWRtaW46cHc=");
    assert_eq!(parse_basic(&lower), Some(("admin".to_owned(), "pw".to_owned())));
}

#[test]
fn rejects_malformed_headers() {
    for raw in [
        "",
        "Basic",
        "Basic ",
        "Basic !!!notbase64",
        "Bearer YWRtaW46cHc=",
        // base64 of "no-colon"
        "Basic bm8tY29sb24=",
        // base64 of invalid UTF-8 (0xff 0x3a 0x61)
        "Basic /zph",
    ] {
        let value = HeaderValue::from_str(raw).unwrap();
        assert_eq!(parse_basic(&value), None, "{raw:?}");
    }
    let opaque = HeaderValue::from_bytes(b"Basic \xff\xfe").unwrap();
    assert_eq!(parse_basic(&opaque), None);
}

#[test]
fn config_validation() {
    assert!(matches!(BasicAuth::new("", Secret::new("x")), Err(ServerError::EmptyUsername)));
    assert!(matches!(BasicAuth::new("u", Secret::new("")), Err(ServerError::EmptyPassword)));
    assert!(matches!(
        BasicAuth::new("u", Secret::new("$2a$12$tooshort")),
        Err(ServerError::InvalidBcryptHash { prefix: "$2a$", .. })
    ));
    let hash = bcrypt_hash("pw", bcrypt::Version::TwoY);
    let auth = BasicAuth::new("u", Secret::new(hash)).unwrap();
    assert!(auth.is_bcrypt());
    assert!(!BasicAuth::new("u", Secret::new("$2x$plain")).unwrap().is_bcrypt());
}

#[test]
fn disabled_auth_is_none() {
    assert!(BasicAuth::from_parts(false, "", &Secret::default()).unwrap().is_none());
    assert!(matches!(
        BasicAuth::from_parts(true, "", &Secret::new("pw")),
        Err(ServerError::EmptyUsername)
    ));
    let auth = BasicAuth::from_parts(true, "admin", &Secret::new("pw")).unwrap().unwrap();
    assert_eq!(auth.username(), "admin");
    assert!(!format!("{auth:?}").contains("\"pw\""));
}

fn single(username: &str, password: &str) -> Authenticator {
    Authenticator::new([BasicAuth::new(username, Secret::new(password)).unwrap()]).unwrap()
}

#[tokio::test]
async fn bcrypt_success_is_cached_and_failures_are_not() {
    let hash = bcrypt_hash("secret", bcrypt::Version::TwoB);
    let auth = single("admin", &hash);
    assert_eq!(
        auth.authenticate(Some(&basic("admin", "wrong"))).await,
        Err(AuthFailure::Rejected { username: "admin".into() })
    );
    assert_eq!(auth.cached_len(), 0);
    // Right password, wrong user: not cached either.
    assert!(auth.authenticate(Some(&basic("root", "secret"))).await.is_err());
    assert_eq!(auth.cached_len(), 0);
    assert_eq!(auth.authenticate(Some(&basic("admin", "secret"))).await, Ok(()));
    assert_eq!(auth.cached_len(), 1);
    assert_eq!(auth.authenticate(Some(&basic("admin", "secret"))).await, Ok(()));
    assert_eq!(auth.cached_len(), 1);
    // A cached password does not help a wrong username.
    assert!(auth.authenticate(Some(&basic("root", "secret"))).await.is_err());
    // Pass-the-hash.
    assert!(auth.authenticate(Some(&basic("admin", &hash))).await.is_err());
}

#[tokio::test]
async fn cache_is_bounded() {
    let hash = bcrypt_hash("pw", bcrypt::Version::TwoA);
    let auth = single("admin", &hash);
    for i in 0..VERIFIED_CACHE_CAPACITY + 3 {
        auth.remember("admin", &format!("pw{i}"));
    }
    assert_eq!(auth.cached_len(), VERIFIED_CACHE_CAPACITY);
    assert!(!auth.is_cached("admin", "pw0"));
    let newest = format!("pw{}", VERIFIED_CACHE_CAPACITY + 2);
    assert!(auth.is_cached("admin", &newest));
    // The cache is per user.
    assert!(!auth.is_cached("root", &newest));
}

#[tokio::test]
async fn plaintext_password_compares_bcrypt_looking_input_as_text() {
    let hash_of_pw = bcrypt_hash("pw", bcrypt::Version::TwoA);
    let auth = single("admin", "pw");
    assert!(auth.authenticate(Some(&basic("admin", &hash_of_pw))).await.is_err());
    assert_eq!(auth.authenticate(Some(&basic("admin", "pw"))).await, Ok(()));
    assert_eq!(auth.cached_len(), 0);
}

#[test]
fn no_users_means_no_authenticator() {
    assert!(Authenticator::new(Vec::new()).is_none());
}

#[tokio::test]
async fn several_users_each_with_their_own_password() {
    let alice =
        BasicAuth::bcrypt_user("alice", &bcrypt_hash("a-pw", bcrypt::Version::TwoY)).unwrap();
    let bob = BasicAuth::bcrypt_user("bob", &bcrypt_hash("b-pw", bcrypt::Version::TwoB)).unwrap();
    let upstream = BasicAuth::new("admin", Secret::new("plain")).unwrap();
    let auth = Authenticator::new([upstream, alice, bob]).unwrap();
    assert_eq!(auth.dummy_cost, Some(4));
    assert_eq!(auth.authenticate(Some(&basic("alice", "a-pw"))).await, Ok(()));
    assert_eq!(auth.authenticate(Some(&basic("bob", "b-pw"))).await, Ok(()));
    assert_eq!(auth.authenticate(Some(&basic("admin", "plain"))).await, Ok(()));
    // The plaintext user too: among bcrypt users its attempts are padded with bcrypt work.
    assert_eq!(auth.cached_len(), 3);
    // Another user's password does not work, cached or not.
    assert!(auth.authenticate(Some(&basic("alice", "b-pw"))).await.is_err());
    assert!(auth.authenticate(Some(&basic("bob", "plain"))).await.is_err());
    // Unknown users run bcrypt against the dummy hash, made once.
    assert_eq!(
        auth.authenticate(Some(&basic("carol", "a-pw"))).await,
        Err(AuthFailure::Rejected { username: "carol".into() })
    );
    assert!(auth.work_units() > 0);
}

#[tokio::test]
async fn a_user_in_both_sources_accepts_either_password() {
    let upstream = BasicAuth::new("admin", Secret::new("old")).unwrap();
    let web = BasicAuth::bcrypt_user("admin", &bcrypt_hash("new", bcrypt::Version::TwoY)).unwrap();
    let auth = Authenticator::new([upstream, web]).unwrap();
    assert_eq!(auth.authenticate(Some(&basic("admin", "old"))).await, Ok(()));
    assert_eq!(auth.authenticate(Some(&basic("admin", "new"))).await, Ok(()));
    assert!(auth.authenticate(Some(&basic("admin", "other"))).await.is_err());
}

#[tokio::test]
async fn plaintext_only_users_need_no_dummy_bcrypt() {
    let auth = single("admin", "pw");
    assert_eq!(auth.dummy_cost, None);
    assert!(auth.authenticate(Some(&basic("root", "pw"))).await.is_err());
    assert_eq!(auth.work_units(), 0);
}

#[test]
fn web_users_must_be_bcrypt() {
    let hash = bcrypt_hash("pw", bcrypt::Version::TwoY);
    assert!(BasicAuth::bcrypt_user("alice", &hash).unwrap().is_bcrypt());
    assert!(BasicAuth::bcrypt_user("alice", "plaintext").unwrap_err().contains("bcrypt hash"));
    assert!(BasicAuth::bcrypt_user("", &hash).unwrap_err().contains("empty"));
    assert!(BasicAuth::bcrypt_user("a:b", &hash).unwrap_err().contains("`:`"));
    let broken = BasicAuth::bcrypt_user("alice", "$2y$10$short").unwrap_err();
    assert!(broken.contains("not a valid bcrypt hash"), "{broken}");
    assert!(!broken.contains("short"), "the hash is not echoed: {broken}");
}

#[test]
fn logged_username_is_truncated() {
    let long = "é".repeat(100);
    assert_eq!(loggable_username(&long).chars().count(), MAX_LOGGED_USERNAME_CHARS);
    assert_eq!(loggable_username("admin"), "admin");
}

#[test]
fn hash_password_refuses_empty_and_long_passwords() {
    assert_eq!(hash_password(""), Err(AuthError::EmptyPassword));
    assert_eq!(hash_password(&"x".repeat(73)), Err(AuthError::TooLong(73)));
    // 72 bytes of UTF-8 are fine, 73 are not, whatever the character count.
    assert_eq!(hash_password(&"é".repeat(37)), Err(AuthError::TooLong(74)));
    let hash = hash_password(&"x".repeat(72)).unwrap();
    assert!(hash.starts_with("$2a$12$"), "{hash}");
    assert!(bcrypt::verify("x".repeat(72), &hash).unwrap());
}

#[test]
fn hash_of_the_empty_password_is_refused_at_load() {
    let empty = bcrypt::hash("", 4).unwrap();
    assert!(matches!(
        BasicAuth::new("u", Secret::new(empty.clone())),
        Err(ServerError::EmptyPassword)
    ));
    assert!(BasicAuth::bcrypt_user("alice", &empty).unwrap_err().contains("empty password"));
    assert!(BasicAuth::new("u", Secret::new(bcrypt::hash("x", 4).unwrap())).is_ok());
}

#[tokio::test]
async fn passwords_beyond_72_bytes_never_match_a_bcrypt_hash() {
    let password = "p".repeat(72);
    let auth = single("admin", &bcrypt::hash(&password, 4).unwrap());
    assert_eq!(auth.authenticate(Some(&basic("admin", &password))).await, Ok(()));
    // bcrypt alone would accept this (it ignores byte 73 on).
    assert!(
        bcrypt::verify(format!("{password}tail"), &bcrypt::hash(&password, 4).unwrap()).unwrap()
    );
    assert!(auth.authenticate(Some(&basic("admin", &format!("{password}tail")))).await.is_err());
}

#[test]
fn failures_throttle_an_ip_with_growing_delays_and_bounded_memory() {
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let other: IpAddr = "192.0.2.2".parse().unwrap();
    let t0 = Instant::now();
    let mut table = FailureTable::default();
    for _ in 0..FAILURES_BEFORE_THROTTLE - 1 {
        table.record_failure(ip, t0);
    }
    assert!(!table.is_throttled(ip, t0));
    table.record_failure(ip, t0);
    assert!(table.is_throttled(ip, t0));
    assert!(table.is_throttled(ip, t0 + Duration::from_millis(999)));
    assert!(!table.is_throttled(ip, t0 + THROTTLE_BASE));
    assert!(!table.is_throttled(other, t0));
    // Next failure: twice as long.
    table.record_failure(ip, t0);
    assert!(table.is_throttled(ip, t0 + Duration::from_millis(1999)));
    assert!(!table.is_throttled(ip, t0 + Duration::from_secs(2)));
    for _ in 0..100 {
        table.record_failure(ip, t0);
    }
    assert!(table.is_throttled(ip, t0 + THROTTLE_MAX - Duration::from_millis(1)));
    assert!(!table.is_throttled(ip, t0 + THROTTLE_MAX));
    table.record_success(ip);
    assert!(!table.is_throttled(ip, t0));
    for i in 0..THROTTLE_TABLE_CAPACITY as u32 + 10 {
        table.record_failure(IpAddr::from(i.to_be_bytes()), t0);
    }
    assert_eq!(table.len(), THROTTLE_TABLE_CAPACITY);
}

#[test]
fn failure_warnings_are_rate_limited() {
    let t0 = Instant::now();
    let mut table = FailureTable::default();
    assert_eq!(table.warn_permit(t0), Some(0));
    for _ in 0..1000 {
        assert_eq!(table.warn_permit(t0 + Duration::from_secs(1)), None);
    }
    assert_eq!(table.warn_permit(t0 + WARN_INTERVAL), Some(1000));
}

/// L2: whatever the username (unknown, in both sources, a lower-cost hash, a plaintext
/// password mixed with bcrypt users) and whatever the password (wrong, too long, the hash
/// itself, right but not cached yet), an attempt costs the same bcrypt work: slots × 2^max.
#[tokio::test]
async fn every_attempt_costs_the_same_bcrypt_work() {
    let hash = |password: &str, cost: u32| {
        bcrypt::hash_with_result(password, cost).unwrap().format_for_version(bcrypt::Version::TwoY)
    };
    let high_hash = hash("high-pw", 6);
    let users = [
        BasicAuth::new("admin", Secret::new("upstream-pw")).unwrap(),
        BasicAuth::bcrypt_user("admin", &hash("web-pw", 6)).unwrap(),
        BasicAuth::bcrypt_user("low", &hash("low-pw", 4)).unwrap(),
        BasicAuth::bcrypt_user("mid", &hash("mid-pw", 5)).unwrap(),
        BasicAuth::bcrypt_user("high", &high_hash).unwrap(),
    ];
    let auth = Authenticator::new(users).unwrap();
    // Two slots (admin has two passwords), highest cost 6.
    let per_attempt = 2 * (1 << 6);
    let long = "x".repeat(BCRYPT_MAX_PASSWORD_BYTES + 8);
    let attempts: [(&str, &str, bool); 12] = [
        ("nobody", "pw", false),
        ("nobody", &long, false),
        ("admin", "wrong", false),
        ("admin", &long, false),
        ("low", "wrong", false),
        ("mid", "wrong", false),
        ("high", "wrong", false),
        ("high", &high_hash, false),
        ("low", "", false),
        ("low", "low-pw", true),
        ("admin", "upstream-pw", true),
        ("admin", "web-pw", true),
    ];
    for (user, password, accepted) in attempts {
        let before = auth.work_units();
        let result = auth.authenticate(Some(&basic(user, password))).await;
        assert_eq!(result.is_ok(), accepted, "{user}");
        assert_eq!(auth.work_units() - before, per_attempt, "{user} / {} bytes", password.len());
    }
    // A cached success costs nothing (it proves knowledge of the password already).
    let before = auth.work_units();
    assert_eq!(auth.authenticate(Some(&basic("low", "low-pw"))).await, Ok(()));
    assert_eq!(auth.work_units(), before);
}
