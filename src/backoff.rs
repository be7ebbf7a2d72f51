//! One backoff for every wait in havip: the client's retries (which add jitter on top), task
//! polling, the reconcile loop's re-reads, the planned failover's polls and the lock poll.
//! Pure — the pause is a function of the attempt number — so it is tested without sleeping.

use std::time::Duration;

/// A capped exponential: `min(max, initial * factor^n)` for the `n`-th pause (0-based).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Backoff {
    /// The first pause.
    pub initial: Duration,
    /// Growth per pause (values below 1, or not finite, count as 1: never shrinking).
    pub factor: f64,
    /// No pause is longer than this.
    pub max: Duration,
}

impl Backoff {
    /// The `n`-th pause (0-based): `min(max, initial * factor^n)`.
    pub fn delay(&self, n: u32) -> Duration {
        let factor = if self.factor.is_finite() && self.factor >= 1.0 {
            self.factor
        } else {
            1.0
        };
        let exp = i32::try_from(n.min(64)).unwrap_or(64);
        let secs = self.initial.as_secs_f64() * factor.powi(exp);
        if !secs.is_finite() || secs >= self.max.as_secs_f64() {
            self.max
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    /// The pauses in order, as a loop consumes them.
    pub(crate) fn pauses(&self) -> Pauses {
        Pauses {
            backoff: self.clone(),
            n: 0,
        }
    }
}

/// A loop's position in a [`Backoff`]: the next pause, and the one after.
#[derive(Clone, Debug)]
pub(crate) struct Pauses {
    backoff: Backoff,
    n: u32,
}

impl Pauses {
    /// The pause the next call to [`Pauses::next_pause`] returns.
    pub(crate) fn peek(&self) -> Duration {
        self.backoff.delay(self.n)
    }

    /// The next pause; the one after it grows.
    pub(crate) fn next_pause(&mut self) -> Duration {
        let d = self.peek();
        self.n = self.n.saturating_add(1);
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(initial_ms: u64, factor: f64, max_ms: u64) -> Backoff {
        Backoff {
            initial: Duration::from_millis(initial_ms),
            factor,
            max: Duration::from_millis(max_ms),
        }
    }

    #[test]
    fn grows_to_the_cap_and_stays() {
        let p = b(100, 2.0, 1000);
        let got: Vec<u128> = (0..6).map(|n| p.delay(n).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.delay(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn a_factor_below_one_or_not_finite_never_shrinks() {
        for f in [0.5, 0.0, -3.0, f64::NAN, f64::INFINITY] {
            let p = b(100, f, 1000);
            let d = p.delay(3);
            assert!(
                d == Duration::from_millis(100) || d == Duration::from_secs(1),
                "{f}: {d:?}"
            );
        }
    }

    #[test]
    fn pauses_follow_the_delays() {
        let mut p = b(200, 1.5, 2000).pauses();
        assert_eq!(p.peek(), Duration::from_millis(200));
        assert_eq!(p.next_pause(), Duration::from_millis(200));
        assert_eq!(p.next_pause(), Duration::from_millis(300));
        assert_eq!(p.peek(), Duration::from_millis(450));
    }

    proptest::proptest! {
        #[test]
        fn capped_and_monotone(initial in 0u64..10_000, factor in 0.0f64..10.0, max in 1u64..60_000, n in 0u32..200) {
            let p = b(initial, factor, max);
            proptest::prop_assert!(p.delay(n) <= p.max.max(p.initial));
            proptest::prop_assert!(p.delay(n + 1) >= p.delay(n));
        }
    }
}
