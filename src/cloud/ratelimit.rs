//! A request-rate budget for the API client: a GCRA limiter (the `governor` crate) behind a
//! cheap handle, [`RateLimit`], that every clone of a [`super::Client`] shares. Each attempt the
//! client sends, retries included, first waits for a cell of the budget, so a caller scanning many
//! pages (or a daemon polling many VIPs) stays within the API's limit instead of learning it from
//! `RequestLimitExceeded`.
//!
//! The API limits each action per account (API.md §2.4 documents 20 requests/s for CreateHaVip;
//! the other actions' limits are unverified, and 20/s is the usual default). One budget for all
//! actions is the conservative reading: it never exceeds any per-action limit of at least its
//! rate.
//!
//! Time is tokio's: the limiter reads `tokio::time::Instant` and waits with `tokio::time::sleep`,
//! so tests run it under paused time, and a wait never outlives the call's deadline.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

/// governor's clock on tokio's time: nanoseconds since the limiter was made.
#[derive(Clone, Debug)]
struct TokioClock {
    start: Instant,
}

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(self.start.elapsed())
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>;

/// A shared request budget: `per_second` requests each second on average, at most `burst` at
/// once after an idle spell. Clones share one budget (an `Arc`), so one `RateLimit` handed to
/// several clients (one per region, say) limits them together.
#[derive(Clone)]
pub struct RateLimit {
    limiter: Arc<Limiter>,
    clock: TokioClock,
    per_second: NonZeroU32,
    burst: NonZeroU32,
}

impl RateLimit {
    /// A budget of `per_second` requests a second, with bursts of up to `burst` requests.
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> RateLimit {
        let clock = TokioClock {
            start: Instant::now(),
        };
        let quota = Quota::per_second(per_second).allow_burst(burst);
        RateLimit {
            limiter: Arc::new(RateLimiter::direct_with_clock(quota, clock.clone())),
            clock,
            per_second,
            burst,
        }
    }

    /// A budget of `per_second` requests a second, one at a time (no burst): requests go out
    /// evenly spaced, `1/per_second` apart.
    pub fn per_second(per_second: NonZeroU32) -> RateLimit {
        RateLimit::new(per_second, NonZeroU32::MIN)
    }

    pub fn rate(&self) -> NonZeroU32 {
        self.per_second
    }

    pub fn burst(&self) -> NonZeroU32 {
        self.burst
    }

    /// Takes one request's cell of the budget, waiting as long as it takes.
    pub async fn until_ready(&self) {
        while let Some(wait) = self.try_take() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes one cell if it can be had by `deadline`, waiting for it; `false` (nothing taken)
    /// when the budget has no cell for us before then.
    pub async fn until_ready_by(&self, deadline: Instant) -> bool {
        while let Some(wait) = self.try_take() {
            if Instant::now() + wait > deadline {
                return false;
            }
            tokio::time::sleep(wait).await;
        }
        true
    }

    /// Takes a cell now (`None`), or says how long until one is free (nothing taken).
    fn try_take(&self) -> Option<Duration> {
        match self.limiter.check() {
            Ok(()) => None,
            // A zero wait (the cell frees up this very nanosecond) would spin: wait a little.
            Err(not_until) => Some(
                not_until
                    .wait_time_from(self.clock.now())
                    .max(Duration::from_micros(100)),
            ),
        }
    }
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("per_second", &self.per_second)
            .field("burst", &self.burst)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("non-zero")
    }

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced_at_the_rate() {
        let limit = RateLimit::per_second(nz(20));
        let start = Instant::now();
        for _ in 0..41 {
            limit.until_ready().await;
        }
        // The first goes at once, each of the other 40 waits 50 ms: 2 s of (paused) time.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_at_once_then_the_rate_holds() {
        let limit = RateLimit::new(nz(5), nz(3));
        let start = Instant::now();
        for _ in 0..3 {
            limit.until_ready().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "the burst is free");
        limit.until_ready().await;
        assert_eq!(start.elapsed(), Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn clones_share_one_budget() {
        let a = RateLimit::per_second(nz(10));
        let b = a.clone();
        let start = Instant::now();
        let (x, y) = (
            tokio::spawn(async move {
                for _ in 0..5 {
                    a.until_ready().await;
                }
            }),
            tokio::spawn(async move {
                for _ in 0..5 {
                    b.until_ready().await;
                }
            }),
        );
        x.await.unwrap();
        y.await.unwrap();
        // Ten requests between them at 10/s: the last one 900 ms after the first.
        assert_eq!(start.elapsed(), Duration::from_millis(900));
    }

    #[tokio::test(start_paused = true)]
    async fn no_cell_before_the_deadline_takes_nothing() {
        let limit = RateLimit::per_second(nz(1));
        assert!(limit.until_ready_by(Instant::now()).await, "first is free");
        let soon = Instant::now() + Duration::from_millis(500);
        assert!(!limit.until_ready_by(soon).await);
        assert_eq!(
            Instant::now() + Duration::from_millis(500),
            soon,
            "it did not wait for nothing"
        );
        // Nothing was taken: the next cell is still due at 1 s.
        let start = Instant::now();
        assert!(limit.until_ready_by(start + Duration::from_secs(5)).await);
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }
}
