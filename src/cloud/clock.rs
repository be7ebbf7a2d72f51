//! The one source of wall-clock time for signing and credential expiry, so tests can fix it.
//!
//! The signer is pure and takes the time as an argument (STYLE.md §3); this trait is where the
//! client gets that time from. Monotonic timing (timeouts, deadlines) uses `tokio::time` instead.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, as Unix seconds.
    fn now_unix(&self) -> i64;
}

/// The host's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> i64 {
        unix_seconds(SystemTime::now())
    }
}

/// A clock that reads what it was set to; for tests.
#[derive(Debug)]
pub struct FixedClock(Mutex<i64>);

impl FixedClock {
    pub fn new(unix: i64) -> Self {
        FixedClock(Mutex::new(unix))
    }

    pub fn set(&self, unix: i64) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = unix;
    }

    #[cfg(test)]
    pub(crate) fn advance(&self, by: std::time::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t = t.saturating_add(i64::try_from(by.as_secs()).unwrap_or(i64::MAX));
    }
}

impl Clock for FixedClock {
    fn now_unix(&self) -> i64 {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Unix seconds of a `SystemTime` (negative before 1970).
pub fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let c = FixedClock::new(1_700_000_000);
        assert_eq!(c.now_unix(), 1_700_000_000);
        c.advance(std::time::Duration::from_secs(30));
        assert_eq!(c.now_unix(), 1_700_000_030);
        c.set(5);
        assert_eq!(c.now_unix(), 5);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now_unix() > 1_577_836_800);
    }
}
