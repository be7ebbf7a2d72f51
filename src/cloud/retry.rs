//! The retry policy: which errors are retried (see [`super::ErrorClass`]) and how long to wait.
//!
//! The backoff is a pure function of the attempt number and a random draw, so it is unit-tested
//! without sleeping (STYLE.md §8). Capped exponential with "equal jitter": half of the step is
//! fixed, half random, so retries from two nodes spread out but never fire back-to-back.

use std::time::Duration;

use super::ErrorClass;
use crate::backoff::Backoff;

/// How many times to try and how long to wait in between. The overall deadline is separate and
/// always wins.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included. `1` disables retries.
    pub max_attempts: u32,
    /// The first backoff step.
    pub base: Duration,
    /// The first step after throttling: the server asked us to slow down, so start slower.
    pub throttle_base: Duration,
    /// No single wait is longer than this.
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(200),
            throttle_base: Duration::from_millis(500),
            cap: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn never() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait before attempt `failed_attempt + 1`, after attempt `failed_attempt` (1-based)
    /// failed with `class`. `jitter` is a uniform draw from `[0, 1)`; values outside are clamped.
    ///
    /// `step = min(cap, base * 2^(failed_attempt-1))`; `wait = step/2 + jitter * step/2`.
    pub fn backoff(&self, class: ErrorClass, failed_attempt: u32, jitter: f64) -> Duration {
        let base = match class {
            ErrorClass::Throttled => self.throttle_base,
            _ => self.base,
        };
        let step = Backoff {
            initial: base,
            factor: 2.0,
            max: self.cap,
        }
        .delay(failed_attempt.saturating_sub(1))
        .min(self.cap);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let half = step / 2;
        half + half.mul_f64(jitter)
    }

    /// Whether attempt `failed_attempt` (1-based) failing with `class` allows another attempt
    /// (the deadline is checked by the caller).
    pub(crate) fn should_retry(&self, class: ErrorClass, failed_attempt: u32) -> bool {
        class.is_retryable() && failed_attempt < self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            throttle_base: Duration::from_millis(400),
            cap: Duration::from_secs(2),
        }
    }

    #[test]
    fn grows_exponentially_without_jitter() {
        let p = policy();
        let waits: Vec<_> = (1..=6)
            .map(|n| p.backoff(ErrorClass::Transient, n, 0.0))
            .collect();
        assert_eq!(
            waits,
            [50, 100, 200, 400, 800, 1000].map(Duration::from_millis)
        );
    }

    #[test]
    fn full_jitter_doubles_the_floor_and_is_capped() {
        let p = policy();
        assert_eq!(
            p.backoff(ErrorClass::Server, 1, 1.0),
            Duration::from_millis(100)
        );
        assert_eq!(
            p.backoff(ErrorClass::Server, 20, 1.0),
            Duration::from_secs(2)
        );
        assert_eq!(
            p.backoff(ErrorClass::Server, u32::MAX, 0.999),
            p.backoff(ErrorClass::Server, 40, 0.999)
        );
    }

    #[test]
    fn throttling_starts_slower() {
        let p = policy();
        assert_eq!(
            p.backoff(ErrorClass::Throttled, 1, 0.0),
            Duration::from_millis(200)
        );
        assert!(
            p.backoff(ErrorClass::Throttled, 2, 0.5) > p.backoff(ErrorClass::Transient, 2, 0.5)
        );
    }

    #[test]
    fn bad_jitter_is_clamped() {
        let p = policy();
        assert_eq!(
            p.backoff(ErrorClass::Busy, 1, f64::NAN),
            Duration::from_millis(50)
        );
        assert_eq!(
            p.backoff(ErrorClass::Busy, 1, -3.0),
            Duration::from_millis(50)
        );
        assert_eq!(
            p.backoff(ErrorClass::Busy, 1, 7.0),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn retries_only_retryable_classes_and_stops_at_max() {
        let p = policy();
        assert!(p.should_retry(ErrorClass::Throttled, 1));
        assert!(p.should_retry(ErrorClass::Transient, 4));
        assert!(!p.should_retry(ErrorClass::Transient, 5));
        assert!(!p.should_retry(ErrorClass::Auth, 1));
        assert!(!p.should_retry(ErrorClass::Client, 1));
        assert!(!p.should_retry(ErrorClass::NotFound, 1));
        assert!(!RetryPolicy::never().should_retry(ErrorClass::Transient, 1));
    }

    #[test]
    fn never_exceeds_cap_for_any_input() {
        let p = RetryPolicy::default();
        for attempt in [0, 1, 2, 10, 31, 32, 1000, u32::MAX] {
            for j in [0.0, 0.25, 0.99, 1.0] {
                for class in [ErrorClass::Throttled, ErrorClass::Transient] {
                    assert!(p.backoff(class, attempt, j) <= p.cap);
                }
            }
        }
    }
}
