//! HTTP basic authentication, for one or more users.
//!
//! Users come from two places, and both sets work together:
//!
//! - the upstream keys `enableBasicAuth`, `basicAuthUsername`, `basicAuthPassword` (one user;
//!   the password is plaintext or a bcrypt hash, `$2a$`, `$2b$`, `$2y$`);
//! - `basic_auth_users` of the `--web.config.file` (any number of users, bcrypt hashes only,
//!   as in the Prometheus exporter toolkit).
//!
//! A username present in both accepts either password. Differences from upstream
//! (docs/UPSTREAM.md §2.9, §8.4 X2/X3), on purpose:
//!
//! - The stored bcrypt hash sent as the password is never accepted (no pass-the-hash), and a
//!   bcrypt-looking string sent against a plaintext password is compared as plaintext.
//! - `$2b$` and `$2y$` hashes (htpasswd) are bcrypt too, not plaintext.
//! - Plaintext passwords are compared in constant time ([`subtle`]), and every attempt costs
//!   the same bcrypt work whoever the user is: unknown, present in both sources, with a
//!   lower-cost hash or a plaintext password (dummy verifies pad it to the highest configured
//!   cost, see `Authenticator::plan`), so the response time does not tell which usernames
//!   exist.
//! - Successful bcrypt checks are remembered (username and password) in a small in-memory
//!   cache, so a scrape every 15 s does not pay ~0.25 s of CPU (cost 12) each time; bcrypt runs
//!   on the blocking pool with at most [`MAX_CONCURRENT_BCRYPT`] checks at once, so a flood of
//!   wrong passwords cannot take all blocking threads (which ODBC also needs).
//! - 401 bodies are fixed and never echo anything the client sent; the username is logged
//!   debug-escaped and truncated, the password never.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use dmexp_config::{GlobalConfig, Secret};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::error::{AppError, ServerError};
use super::AppState;

/// Prefixes of the bcrypt hash forms we accept as a configured password.
const BCRYPT_PREFIXES: [&str; 3] = ["$2a$", "$2b$", "$2y$"];
/// Length of a complete bcrypt hash string (`$2b$12$` + 22 salt + 31 hash characters).
const BCRYPT_HASH_LEN: usize = 60;
/// How many verified (username, password) pairs the cache keeps (normally one per user;
/// bcrypt ignores bytes after the 72nd, so a few distinct inputs can verify).
const VERIFIED_CACHE_CAPACITY: usize = 8;
/// How many bcrypt checks may run at once.
pub(crate) const MAX_CONCURRENT_BCRYPT: usize = 2;
/// Longest username prefix written to the log.
const MAX_LOGGED_USERNAME_CHARS: usize = 64;
/// What unknown usernames are checked against (its value does not matter, only the cost).
const DUMMY_PLAINTEXT: &str = "dameng_exporter dummy password";
/// bcrypt reads at most this many bytes of a password and ignores the rest.
pub const BCRYPT_MAX_PASSWORD_BYTES: usize = 72;
/// Cost of the hashes [`hash_password`] makes (the upstream `--encryptBasicAuthPwd` cost).
pub const HASH_COST: u32 = 12;
/// Configured hashes up to this cost are checked at load for being a hash of the empty
/// password (one bcrypt run each; cost 14 is about a second).
const EMPTY_HASH_CHECK_MAX_COST: u32 = 14;
/// Failed logins from one client IP allowed before the IP is throttled.
pub(crate) const FAILURES_BEFORE_THROTTLE: u32 = 5;
/// How long a throttled IP is refused without any check, doubling per further failure.
const THROTTLE_BASE: Duration = Duration::from_secs(1);
/// Upper bound of the throttle delay.
const THROTTLE_MAX: Duration = Duration::from_secs(60);
/// Client IPs the failure table remembers; the oldest entry is dropped beyond (bounded memory).
const THROTTLE_TABLE_CAPACITY: usize = 4096;
/// At most one authentication-failure WARN per this interval; the others are counted.
const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Why [`hash_password`] refused a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The empty password.
    #[error("the password is empty")]
    EmptyPassword,
    /// More bytes than bcrypt reads: the tail would be silently ignored.
    #[error(
        "the password is {0} bytes long; bcrypt only uses the first 72 bytes, choose a password \
         of at most 72 bytes"
    )]
    TooLong(usize),
    /// bcrypt itself failed.
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// Hashes a basic-auth password (bcrypt `$2a$`, cost [`HASH_COST`], as upstream's
/// `--encryptBasicAuthPwd`). Refuses the empty password and passwords longer than
/// [`BCRYPT_MAX_PASSWORD_BYTES`] bytes (bcrypt would ignore the rest).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    if password.is_empty() {
        return Err(AuthError::EmptyPassword);
    }
    if password.len() > BCRYPT_MAX_PASSWORD_BYTES {
        return Err(AuthError::TooLong(password.len()));
    }
    bcrypt::hash_with_result(password, HASH_COST)
        .map(|h| h.format_for_version(bcrypt::Version::TwoA))
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Basic-auth credentials the server accepts.
///
/// `Debug` never shows the password ([`Secret`]).
#[derive(Debug, Clone)]
pub struct BasicAuth {
    username: String,
    password: Secret,
}

impl BasicAuth {
    /// Builds the credentials. The password is plaintext or a bcrypt hash (`$2a$`, `$2b$`,
    /// `$2y$`); a value that starts like a hash must be a well-formed one.
    pub fn new(username: impl Into<String>, password: Secret) -> Result<Self, ServerError> {
        let username = username.into();
        if username.is_empty() {
            return Err(ServerError::EmptyUsername);
        }
        if password.is_empty() {
            return Err(ServerError::EmptyPassword);
        }
        if let Some(prefix) = bcrypt_prefix(password.expose()) {
            check_bcrypt_hash(prefix, password.expose())?;
            if is_hash_of_empty(password.expose()) {
                return Err(ServerError::EmptyPassword);
            }
        }
        Ok(BasicAuth { username, password })
    }

    /// Reads `enableBasicAuth`, `basicAuthUsername` and `basicAuthPassword`. `Ok(None)` when
    /// basic auth is disabled.
    pub fn from_global(cfg: &GlobalConfig) -> Result<Option<Self>, ServerError> {
        Self::from_parts(cfg.enable_basic_auth, &cfg.basic_auth_username, &cfg.basic_auth_password)
    }

    fn from_parts(
        enabled: bool,
        username: &str,
        password: &Secret,
    ) -> Result<Option<Self>, ServerError> {
        if !enabled {
            return Ok(None);
        }
        Self::new(username, password.clone()).map(Some)
    }

    /// A `basic_auth_users` entry of the web config: the password must be a bcrypt hash
    /// (`$2a$`, `$2b$`, `$2y$`), as in the Prometheus exporter toolkit. The error is the
    /// reason, for the caller to put next to the file and key.
    pub(crate) fn bcrypt_user(username: &str, hash: &str) -> Result<Self, String> {
        if username.is_empty() {
            return Err("the username is empty".to_owned());
        }
        if username.contains(':') {
            return Err(
                "a username cannot contain `:` (basic auth splits at the first one)".to_owned()
            );
        }
        let Some(prefix) = bcrypt_prefix(hash) else {
            return Err(
                "the value must be a bcrypt hash ($2a$, $2b$ or $2y$), not a password".to_owned()
            );
        };
        check_bcrypt_hash(prefix, hash).map_err(|e| match e {
            ServerError::InvalidBcryptHash { reason, .. } => {
                format!("starts with `{prefix}` but is not a valid bcrypt hash: {reason}")
            }
            other => other.to_string(),
        })?;
        if is_hash_of_empty(hash) {
            return Err(
                "the value is a bcrypt hash of the empty password; set a password".to_owned()
            );
        }
        Ok(BasicAuth { username: username.to_owned(), password: Secret::new(hash) })
    }

    /// The accepted username.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// True when the configured password is a bcrypt hash.
    pub fn is_bcrypt(&self) -> bool {
        bcrypt_prefix(self.password.expose()).is_some()
    }
}

/// The bcrypt prefix `s` starts with, if any.
fn bcrypt_prefix(s: &str) -> Option<&'static str> {
    BCRYPT_PREFIXES.into_iter().find(|p| s.starts_with(p))
}

/// True when `hash` (well-formed) verifies the empty password. Hashes above
/// [`EMPTY_HASH_CHECK_MAX_COST`] are not checked (too slow for a config load).
fn is_hash_of_empty(hash: &str) -> bool {
    bcrypt_cost(hash).is_some_and(|cost| cost <= EMPTY_HASH_CHECK_MAX_COST)
        && bcrypt::verify("", hash).unwrap_or(false)
}

/// Cost of a bcrypt hash, `None` for plaintext.
fn bcrypt_cost(s: &str) -> Option<u32> {
    bcrypt_prefix(s)?;
    s.parse::<bcrypt::HashParts>().ok().map(|parts| parts.get_cost())
}

/// Structural check of a configured hash, so that typos are startup errors and not a 401 on
/// every scrape. Does not run bcrypt.
fn check_bcrypt_hash(prefix: &'static str, hash: &str) -> Result<(), ServerError> {
    let invalid = |reason| ServerError::InvalidBcryptHash { prefix, reason };
    if hash.len() != BCRYPT_HASH_LEN || !hash.is_ascii() {
        return Err(invalid("expected 60 ASCII characters"));
    }
    let parts: bcrypt::HashParts = hash.parse().map_err(|_| invalid("malformed"))?;
    if !(4..=31).contains(&parts.get_cost()) {
        return Err(invalid("cost must be between 4 and 31"));
    }
    let body_ok = hash[7..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
    if !body_ok || hash.as_bytes()[6] != b'$' {
        return Err(invalid("malformed"));
    }
    Ok(())
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    /// No `Authorization` header.
    Missing,
    /// A header that is not `Basic base64(user:password)` in UTF-8.
    Malformed,
    /// Well-formed, but wrong username or password. Carries the submitted username.
    Rejected { username: String },
}

/// Checks requests against a set of users ([`BasicAuth`]), with a cache of successful bcrypt
/// checks.
///
/// The users come from the upstream keys (`enableBasicAuth`, one user, plaintext or bcrypt)
/// and from the web config's `basic_auth_users` (bcrypt only); a request passes when it
/// matches any of them. A username present in both accepts either password.
///
/// One instance per set of HTTP settings: a reload ([`super::ServerHandle::apply`]) builds a
/// new one and so drops the cache.
pub(crate) struct Authenticator {
    /// Username → accepted passwords (plaintext or bcrypt hashes).
    users: HashMap<String, Vec<Secret>>,
    /// Cost of the dummy hash that unknown usernames are checked against: the highest cost
    /// among the configured bcrypt hashes, `None` when no password is a bcrypt hash.
    dummy_cost: Option<u32>,
    /// Most passwords any one username has (a user in both sources has two): every attempt
    /// costs this many slots of bcrypt work ([`Authenticator::plan`]).
    slots: usize,
    /// Dummy hashes by cost, made on first use (on the blocking pool, like every bcrypt call).
    dummy_hashes: Arc<DummyHashes>,
    /// bcrypt work done, in units of 2^cost.
    work_units: Arc<AtomicU64>,
    /// Verified (username, password) pairs.
    verified: Mutex<VecDeque<(String, Secret)>>,
    bcrypt_slots: Arc<Semaphore>,
    /// Failed logins per client IP (throttling, L1).
    failures: Mutex<FailureTable>,
}

impl Authenticator {
    /// An authenticator for `users`; `None` when there is none (no authentication).
    pub(crate) fn new(users: impl IntoIterator<Item = BasicAuth>) -> Option<Self> {
        let mut map: HashMap<String, Vec<Secret>> = HashMap::new();
        let mut dummy_cost = None;
        for user in users {
            if let Some(cost) = bcrypt_cost(user.password.expose()) {
                dummy_cost = Some(dummy_cost.map_or(cost, |c: u32| c.max(cost)));
            }
            map.entry(user.username).or_default().push(user.password);
        }
        if map.is_empty() {
            return None;
        }
        let slots = map.values().map(Vec::len).max().unwrap_or(1);
        Some(Authenticator {
            users: map,
            dummy_cost,
            slots,
            dummy_hashes: Arc::new(std::array::from_fn(|_| OnceLock::new())),
            work_units: Arc::new(AtomicU64::new(0)),
            verified: Mutex::new(VecDeque::with_capacity(VERIFIED_CACHE_CAPACITY)),
            bcrypt_slots: Arc::new(Semaphore::new(MAX_CONCURRENT_BCRYPT)),
            failures: Mutex::new(FailureTable::default()),
        })
    }

    /// Checks the `Authorization` header of a request.
    pub(crate) async fn authenticate(
        &self,
        authorization: Option<&HeaderValue>,
    ) -> Result<(), AuthFailure> {
        let header = authorization.ok_or(AuthFailure::Missing)?;
        let (username, password) = parse_basic(header).ok_or(AuthFailure::Malformed)?;
        if self.credentials_match(&username, &password).await {
            Ok(())
        } else {
            Err(AuthFailure::Rejected { username })
        }
    }

    async fn credentials_match(&self, username: &str, password: &str) -> bool {
        if self.is_cached(username, password) {
            return true;
        }
        let stored = self.users.get(username).map(Vec::as_slice).unwrap_or(&[]);
        let plan = self.plan(stored, password);
        let mut ok = false;
        // No early exit: a user in both sources costs the same whichever password is sent.
        for (configured, check) in stored.iter().zip(&plan.checks) {
            if let Check::Plaintext = check {
                ok |= bool::from(password.as_bytes().ct_eq(configured.expose().as_bytes()));
            }
        }
        ok |= self.run_bcrypt(password, plan).await;
        // Remembered whenever the attempt cost bcrypt work (a plaintext password among bcrypt
        // users too: its attempts are padded), so a scrape every 15 s pays it once.
        if ok && self.dummy_cost.is_some() {
            self.remember(username, password);
        }
        ok
    }

    /// The work of one attempt (L2): every attempt that is not a cached success costs the same
    /// bcrypt work, [`Authenticator::slots`] × 2^(highest configured cost), whoever the user
    /// is. Slot `i` checks the user's `i`-th password: a bcrypt hash of cost `c` is verified and
    /// padded with dummy verifies of costs `c..max` (2^c + 2^c + 2^(c+1) + … + 2^(max-1) =
    /// 2^max); a plaintext password, a too-long password or the hash sent as the password
    /// costs one dummy verify at the highest cost; slots the user has no password for (an
    /// unknown user has none) too.
    fn plan(&self, stored: &[Secret], password: &str) -> Plan {
        let mut plan = Plan::default();
        let Some(max) = self.dummy_cost else {
            // Plaintext only: constant-time comparisons, no bcrypt at all.
            plan.checks = stored.iter().map(|_| Check::Plaintext).collect();
            return plan;
        };
        for configured in stored {
            match bcrypt_cost(configured.expose()) {
                None => {
                    plan.checks.push(Check::Plaintext);
                    plan.dummy_costs.push(max);
                }
                // bcrypt would ignore the tail, so "right 72 bytes + anything" would pass.
                Some(_) if password.len() > BCRYPT_MAX_PASSWORD_BYTES => {
                    plan.checks.push(Check::Refused);
                    plan.dummy_costs.push(max);
                }
                // Pass-the-hash: knowing the hash must not be enough.
                Some(_)
                    if bool::from(password.as_bytes().ct_eq(configured.expose().as_bytes())) =>
                {
                    plan.checks.push(Check::Refused);
                    plan.dummy_costs.push(max);
                }
                Some(cost) => {
                    plan.checks.push(Check::Bcrypt);
                    plan.hashes.push(configured.clone());
                    plan.dummy_costs.extend(cost.min(max)..max);
                }
            }
        }
        for _ in stored.len()..self.slots {
            plan.dummy_costs.push(max);
        }
        plan
    }

    /// Runs the bcrypt part of `plan` on the blocking pool (one slot of
    /// [`MAX_CONCURRENT_BCRYPT`]); true when one of its hashes verified `password`.
    async fn run_bcrypt(&self, password: &str, plan: Plan) -> bool {
        if plan.hashes.is_empty() && plan.dummy_costs.is_empty() {
            return false;
        }
        // The permit moves into the blocking task: if the request times out and this future
        // is dropped, the slot stays taken until bcrypt has actually finished.
        let Ok(permit) = Arc::clone(&self.bcrypt_slots).acquire_owned().await else {
            return false;
        };
        let candidate = Secret::new(password);
        let dummies = Arc::clone(&self.dummy_hashes);
        let work = Arc::clone(&self.work_units);
        let result = tokio::task::spawn_blocking(move || {
            let mut matched = false;
            let mut broken = false;
            for hash in &plan.hashes {
                match bcrypt::verify(candidate.expose(), hash.expose()) {
                    Ok(m) => matched |= m,
                    Err(_) => broken = true,
                }
                count_work(&work, bcrypt_cost(hash.expose()));
            }
            for &cost in &plan.dummy_costs {
                if let Some(hash) = dummy_hash(&dummies, cost) {
                    let _ = bcrypt::verify(candidate.expose(), hash.expose());
                    count_work(&work, Some(cost));
                }
            }
            drop(permit);
            (matched, broken)
        })
        .await;
        match result {
            Ok((matched, broken)) => {
                if broken {
                    // BcryptError's Display may contain the hash: do not log it.
                    tracing::error!(
                        "A configured bcrypt hash (basicAuthPassword or basic_auth_users) cannot \
                         be checked; fix the hash."
                    );
                }
                matched
            }
            Err(error) => {
                tracing::error!(error = %error, "Password check task failed.");
                false
            }
        }
    }

    /// bcrypt work done so far, in units of 2^cost (for tests of L2).
    #[cfg(test)]
    pub(crate) fn work_units(&self) -> u64 {
        self.work_units.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn is_cached(&self, username: &str, password: &str) -> bool {
        let verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        // No early exit: every entry is compared.
        verified
            .iter()
            .fold(subtle::Choice::from(0), |found, (user, known)| {
                found
                    | (username.as_bytes().ct_eq(user.as_bytes())
                        & password.as_bytes().ct_eq(known.expose().as_bytes()))
            })
            .into()
    }

    fn remember(&self, username: &str, password: &str) {
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= VERIFIED_CACHE_CAPACITY {
            verified.pop_front();
        }
        verified.push_back((username.to_owned(), Secret::new(password)));
    }

    #[cfg(test)]
    fn cached_len(&self) -> usize {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// Dummy hashes by bcrypt cost (index = cost, 0..=31).
type DummyHashes = [OnceLock<Option<Secret>>; 32];

/// The dummy hash of `cost`, made on first use.
fn dummy_hash(dummies: &DummyHashes, cost: u32) -> Option<&Secret> {
    let slot = dummies.get(usize::try_from(cost).ok()?)?;
    slot.get_or_init(|| bcrypt::hash(DUMMY_PLAINTEXT, cost).ok().map(Secret::new)).as_ref()
}

fn count_work(work: &AtomicU64, cost: Option<u32>) {
    if let Some(cost) = cost {
        work.fetch_add(1u64.checked_shl(cost).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// What one configured password of the user costs in an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Compared in constant time (and padded with a dummy verify).
    Plaintext,
    /// Verified with bcrypt.
    Bcrypt,
    /// Refused without bcrypt (too long, or the hash itself), padded with a dummy verify.
    Refused,
}

/// The work of one attempt, see [`Authenticator::plan`].
#[derive(Debug, Default)]
struct Plan {
    /// One per configured password of the user, in order.
    checks: Vec<Check>,
    /// The user's bcrypt hashes to verify.
    hashes: Vec<Secret>,
    /// Costs of the dummy verifies that pad the attempt.
    dummy_costs: Vec<u32>,
}

/// Failed logins per client IP, bounded ([`THROTTLE_TABLE_CAPACITY`] entries), plus the
/// rate limit of the failure WARN.
#[derive(Default)]
pub(crate) struct FailureTable {
    /// IP → (consecutive failures, refused until).
    by_ip: HashMap<IpAddr, (u32, Option<Instant>)>,
    /// Insertion order, for eviction.
    order: VecDeque<IpAddr>,
    last_warn: Option<Instant>,
    suppressed_warnings: u64,
}

impl FailureTable {
    /// True while `ip` is throttled: the request is refused without any password check.
    pub(crate) fn is_throttled(&self, ip: IpAddr, now: Instant) -> bool {
        self.by_ip.get(&ip).and_then(|(_, until)| *until).is_some_and(|until| now < until)
    }

    /// Records a failure; after [`FAILURES_BEFORE_THROTTLE`] of them the IP is refused for
    /// [`THROTTLE_BASE`], doubling with each further failure up to [`THROTTLE_MAX`].
    pub(crate) fn record_failure(&mut self, ip: IpAddr, now: Instant) {
        if !self.by_ip.contains_key(&ip) {
            if self.by_ip.len() >= THROTTLE_TABLE_CAPACITY {
                if let Some(oldest) = self.order.pop_front() {
                    self.by_ip.remove(&oldest);
                }
            }
            self.order.push_back(ip);
        }
        let entry = self.by_ip.entry(ip).or_insert((0, None));
        entry.0 = entry.0.saturating_add(1);
        if entry.0 >= FAILURES_BEFORE_THROTTLE {
            let doublings = (entry.0 - FAILURES_BEFORE_THROTTLE).min(16);
            let delay = THROTTLE_BASE.saturating_mul(1 << doublings).min(THROTTLE_MAX);
            entry.1 = Some(now + delay);
        }
    }

    /// A successful login clears the IP's failures.
    pub(crate) fn record_success(&mut self, ip: IpAddr) {
        if self.by_ip.remove(&ip).is_some() {
            self.order.retain(|known| *known != ip);
        }
    }

    /// `Some(suppressed count)` when a WARN may be written now, `None` when it must be
    /// counted instead.
    fn warn_permit(&mut self, now: Instant) -> Option<u64> {
        if self.last_warn.is_some_and(|last| now.duration_since(last) < WARN_INTERVAL) {
            self.suppressed_warnings += 1;
            return None;
        }
        self.last_warn = Some(now);
        Some(std::mem::take(&mut self.suppressed_warnings))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.by_ip.len()
    }
}

/// Parses `Basic base64(username:password)`; `None` for anything else.
fn parse_basic(header: &HeaderValue) -> Option<(String, String)> {
    let value = header.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (username, password) = text.split_once(':')?;
    Some((username.to_owned(), password.to_owned()))
}

/// The submitted username as it may appear in a log: at most
/// [`MAX_LOGGED_USERNAME_CHARS`] characters (it is logged with `?`, so escaped).
fn loggable_username(username: &str) -> &str {
    match username.char_indices().nth(MAX_LOGGED_USERNAME_CHARS) {
        Some((end, _)) => &username[..end],
        None => username,
    }
}

/// Middleware: requires credentials on the protected paths (the metric path and `/`) when
/// basic auth is configured. `/-/healthy` and `/-/ready` stay open for orchestrators.
pub(crate) async fn require_auth(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let live = state.live_of(&request);
    let Some(auth) = live.auth.as_deref() else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    if !super::routes::is_protected(path, &live.metric_path) {
        return next.run(request).await;
    }
    // Also in the request span, but that span is INFO and may be filtered out.
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(a)| *a);
    let remote_addr = peer.map(tracing::field::display);
    let lock = || auth.failures.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(peer) = peer {
        if lock().is_throttled(peer.ip(), Instant::now()) {
            tracing::debug!(remote_addr, "Throttled client refused without a password check.");
            return AppError::Unauthorized.into_response();
        }
    }
    match auth.authenticate(request.headers().get(header::AUTHORIZATION)).await {
        Ok(()) => {
            if let Some(peer) = peer {
                lock().record_success(peer.ip());
            }
            next.run(request).await
        }
        Err(failure) => {
            if matches!(failure, AuthFailure::Missing) {
                // Browsers ask without credentials first; not worth a warning or a strike.
                tracing::debug!("Request without credentials refused.");
                return AppError::Unauthorized.into_response();
            }
            let permit = {
                let mut table = lock();
                if let Some(peer) = peer {
                    table.record_failure(peer.ip(), Instant::now());
                }
                table.warn_permit(Instant::now())
            };
            match (&failure, permit) {
                (_, None) => {
                    tracing::debug!(remote_addr, "Authentication failed (warning rate-limited).");
                }
                (AuthFailure::Rejected { username }, Some(suppressed)) => {
                    tracing::warn!(
                        remote_addr,
                        username = ?loggable_username(username),
                        suppressed,
                        "Basic authentication failed."
                    );
                }
                (_, Some(suppressed)) => {
                    tracing::warn!(
                        remote_addr,
                        suppressed,
                        "Malformed Authorization header refused."
                    );
                }
            }
            AppError::Unauthorized.into_response()
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
