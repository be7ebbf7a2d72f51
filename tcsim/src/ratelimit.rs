//! Per-action rate limiting (`RequestLimitExceeded`): a token bucket per action holding up to
//! one second's worth of requests, refilled continuously. A bucket rather than a fixed window so
//! a client pacing itself at the limit is never rejected because of where window edges fall.

use std::collections::HashMap;
use std::time::Instant;

#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: HashMap<String, Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// Takes a token for `action` at `rate` requests per second (0 = unlimited).
    pub fn allow(&mut self, action: &str, rate: u32, now: Instant) -> bool {
        if rate == 0 {
            return true;
        }
        let cap = f64::from(rate);
        let bucket = match self.buckets.get_mut(action) {
            Some(b) => b,
            None => self.buckets.entry(action.to_string()).or_insert(Bucket {
                tokens: cap,
                last: now,
            }),
        };
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * cap).min(cap);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets all buckets (after the limits change).
    pub fn reset(&mut self) {
        self.buckets.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let mut r = RateLimiter::default();
        let t0 = Instant::now();
        assert!((0..5).all(|_| r.allow("A", 5, t0)));
        assert!(!r.allow("A", 5, t0));
        assert!(r.allow("B", 5, t0), "actions are limited separately");
        assert!(r.allow("A", 5, t0 + Duration::from_millis(200)));
        assert!(!r.allow("A", 5, t0 + Duration::from_millis(200)));
        assert!((0..1000).all(|_| r.allow("C", 0, t0)), "0 means unlimited");
    }
}
