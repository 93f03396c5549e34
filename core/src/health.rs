//! Datasource health: states, transitions, reconnect backoff.
//!
//! The checker of each datasource runs on its own task. A Healthy datasource is pinged every
//! `retryIntervalSeconds` when `enableHealthPing` is on. An Unhealthy one is retried with
//! exponential backoff starting at `retryIntervalSeconds` (capped at 5 minutes), and with a
//! longer backoff after a failed login (starting at 4 × the interval, capped at 30 minutes),
//! because DM locks an account after repeated failed logins. Only connection-level failures
//! change the state; a slow or failing query never does.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::api::HealthState;

/// Mutable health record of one datasource.
#[derive(Debug)]
pub struct Health {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: HealthState,
    /// True once a check finished (success or failure).
    checked: bool,
    last_error: Option<String>,
    failures: u32,
    login_failure: bool,
    since: Instant,
}

/// A state change, for logging by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Nothing changed.
    None,
    /// Became healthy (first time or recovered).
    Up,
    /// Became unhealthy, with the error.
    Down(String),
}

impl Health {
    /// A new record: `Disabled` for disabled datasources, otherwise Unhealthy-but-unchecked
    /// (scrapes still try it until the first check has finished).
    pub fn new(enabled: bool) -> Self {
        Health {
            inner: Mutex::new(Inner {
                state: if enabled { HealthState::Unhealthy } else { HealthState::Disabled },
                checked: false,
                last_error: None,
                failures: 0,
                login_failure: false,
                since: Instant::now(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Current state.
    pub fn state(&self) -> HealthState {
        self.lock().state
    }

    /// True once a check finished.
    pub fn checked(&self) -> bool {
        self.lock().checked
    }

    /// Last connection error (already redacted).
    pub fn last_error(&self) -> Option<String> {
        self.lock().last_error.clone()
    }

    /// Whether a scrape should query this datasource now.
    pub fn should_scrape(&self) -> bool {
        let i = self.lock();
        match i.state {
            HealthState::Healthy => true,
            HealthState::Unhealthy => !i.checked,
            HealthState::Disabled => false,
        }
    }

    /// Records a successful connection or ping.
    pub fn success(&self) -> Transition {
        let mut i = self.lock();
        if i.state == HealthState::Disabled {
            return Transition::None;
        }
        let was = (i.state, i.checked);
        i.state = HealthState::Healthy;
        i.checked = true;
        i.failures = 0;
        i.login_failure = false;
        i.last_error = None;
        if was != (HealthState::Healthy, true) {
            i.since = Instant::now();
            Transition::Up
        } else {
            Transition::None
        }
    }

    /// Records a connection-level failure.
    pub fn failure(&self, error: String, login_failure: bool) -> Transition {
        let mut i = self.lock();
        if i.state == HealthState::Disabled {
            return Transition::None;
        }
        let was = (i.state, i.checked);
        i.state = HealthState::Unhealthy;
        i.checked = true;
        i.failures = i.failures.saturating_add(1);
        i.login_failure = login_failure;
        i.last_error = Some(error.clone());
        if was != (HealthState::Unhealthy, true) {
            i.since = Instant::now();
            Transition::Down(error)
        } else {
            Transition::None
        }
    }

    /// Delay before the next check.
    pub fn next_delay(&self, interval: Duration) -> Duration {
        let i = self.lock();
        match i.state {
            HealthState::Healthy | HealthState::Disabled => interval,
            HealthState::Unhealthy => backoff(interval, i.failures, i.login_failure),
        }
    }
}

/// Reconnect delay after `failures` consecutive failures.
pub fn backoff(interval: Duration, failures: u32, login_failure: bool) -> Duration {
    let (base, cap) = if login_failure {
        (interval.saturating_mul(4), Duration::from_secs(1800))
    } else {
        (interval, Duration::from_secs(300).max(interval))
    };
    let exp = failures.saturating_sub(1).min(16);
    base.saturating_mul(1u32 << exp).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions() {
        let h = Health::new(true);
        assert!(h.should_scrape());
        assert_eq!(h.failure("x".into(), false), Transition::Down("x".into()));
        assert!(!h.should_scrape());
        assert_eq!(h.failure("x".into(), false), Transition::None);
        assert_eq!(h.success(), Transition::Up);
        assert_eq!(h.success(), Transition::None);
        let d = Health::new(false);
        assert_eq!(d.state(), HealthState::Disabled);
        assert_eq!(d.success(), Transition::None);
    }

    #[test]
    fn backoff_grows_and_caps() {
        let s = Duration::from_secs(30);
        assert_eq!(backoff(s, 1, false), s);
        assert_eq!(backoff(s, 2, false), Duration::from_secs(60));
        assert_eq!(backoff(s, 10, false), Duration::from_secs(300));
        assert_eq!(backoff(s, 1, true), Duration::from_secs(120));
        assert_eq!(backoff(s, 20, true), Duration::from_secs(1800));
    }
}
