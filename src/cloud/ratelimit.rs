//! A request-rate budget for the API client: [`RateLimit`], a cheap handle that every clone of a
//! [`super::Client`] shares. Each attempt the client sends, retries included, first takes a
//! place in the budget, so a caller scanning many pages (or a daemon polling many VIPs) stays
//! within the API's limit instead of learning it from `RequestLimitExceeded`.
//!
//! The budget is a sliding window: never more than `per_second` requests in any one-second
//! window, which is how the API states its limits (API.md §2.4 documents 20 requests/s for
//! CreateHaVip; the other actions' limits are unverified, and 20/s is the usual default). One
//! budget for all actions is the conservative reading: it never exceeds any per-action limit of
//! at least its rate. Unlike evenly spaced requests (a GCRA without burst), requests that fit
//! the window go at once: the watcher's look reads the HAVIP and then its EIP back to back, in
//! one wake-up, instead of a fifth of a second apart.
//!
//! Time is tokio's: the window holds `tokio::time::Instant`s and waits with `tokio::time::sleep`,
//! so tests run it under paused time, and a wait never outlives the call's deadline.

use std::collections::VecDeque;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// The window the budget counts requests in.
const WINDOW: Duration = Duration::from_secs(1);

/// A shared request budget: at most `per_second` requests in any one-second window. Clones
/// share one budget (an `Arc`), so one `RateLimit` handed to several clients (one per region,
/// say) limits them together.
#[derive(Clone)]
pub struct RateLimit {
    /// When the most recent requests were let through, oldest first (at most `per_second`).
    sent: Arc<Mutex<VecDeque<Instant>>>,
    per_second: NonZeroU32,
}

impl RateLimit {
    /// A budget of at most `per_second` requests in any one-second window.
    pub fn per_second(per_second: NonZeroU32) -> RateLimit {
        let capacity = per_second.get().min(1024) as usize;
        RateLimit {
            sent: Arc::new(Mutex::new(VecDeque::with_capacity(capacity))),
            per_second,
        }
    }

    pub fn rate(&self) -> NonZeroU32 {
        self.per_second
    }

    /// Takes a place in the budget, waiting as long as it takes.
    pub async fn until_ready(&self) {
        while let Some(wait) = self.try_take() {
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes a place if one can be had by `deadline`, waiting for it; `false` (nothing taken)
    /// when the budget has no place for us before then.
    pub async fn until_ready_by(&self, deadline: Instant) -> bool {
        while let Some(wait) = self.try_take() {
            if Instant::now() + wait > deadline {
                return false;
            }
            tokio::time::sleep(wait).await;
        }
        true
    }

    /// Takes a place now (`None`), or says how long until the window has one (nothing taken).
    fn try_take(&self) -> Option<Duration> {
        let now = Instant::now();
        // The deque is consistent after every statement: a panic elsewhere cannot break it.
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        while sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            sent.pop_front();
        }
        match sent.front() {
            // Full: a place frees up when the oldest request leaves the window.
            Some(oldest) if sent.len() >= self.per_second.get() as usize => {
                Some((*oldest + WINDOW).saturating_duration_since(now))
            }
            _ => {
                sent.push_back(now);
                None
            }
        }
    }
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("per_second", &self.per_second)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).expect("non-zero")
    }

    /// Takes `n` places one after the other; returns when each was had, from the start.
    async fn take(limit: &RateLimit, n: usize) -> Vec<Duration> {
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..n {
            limit.until_ready().await;
            at.push(start.elapsed());
        }
        at
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_full_goes_at_once_then_waits_for_the_window() {
        let limit = RateLimit::per_second(nz(5));
        let at = take(&limit, 12).await;
        let ms = |v: u64| Duration::from_millis(v);
        assert_eq!(
            at,
            [0, 0, 0, 0, 0, 1000, 1000, 1000, 1000, 1000, 2000, 2000].map(ms),
            "five at once, then five more when the first five leave the window"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_rate_in_any_window() {
        // Requests arriving at uneven times (bursts and gaps) over 20 s.
        let limit = RateLimit::per_second(nz(5));
        let start = Instant::now();
        let mut at = Vec::new();
        for i in 0u64..80 {
            tokio::time::sleep(Duration::from_millis((i * 37) % 300)).await;
            limit.until_ready().await;
            at.push(start.elapsed());
        }
        for w in at.windows(6) {
            assert!(w[5] - w[0] >= WINDOW, "6 requests within {:?}", w[5] - w[0]);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_place_frees_when_its_request_leaves_the_window() {
        let limit = RateLimit::per_second(nz(2));
        limit.until_ready().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        limit.until_ready().await;
        // Full until the first leaves the window at 1 s, the second at 1.3 s.
        let at = take(&limit, 2).await;
        assert_eq!(
            at,
            [Duration::from_millis(700), Duration::from_millis(1000)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn clones_share_one_budget() {
        let a = RateLimit::per_second(nz(10));
        let b = a.clone();
        let start = Instant::now();
        let (x, y) = (
            tokio::spawn(async move { take(&a, 10).await }),
            tokio::spawn(async move { take(&b, 10).await }),
        );
        x.await.unwrap();
        y.await.unwrap();
        // Twenty requests between them at 10 in any second: the last ten a second after the first.
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn no_place_before_the_deadline_takes_nothing() {
        let limit = RateLimit::per_second(nz(1));
        assert!(limit.until_ready_by(Instant::now()).await, "first is free");
        let soon = Instant::now() + Duration::from_millis(500);
        assert!(!limit.until_ready_by(soon).await);
        assert_eq!(
            Instant::now() + Duration::from_millis(500),
            soon,
            "it did not wait for nothing"
        );
        // Nothing was taken: the next place is still free at 1 s.
        let start = Instant::now();
        assert!(limit.until_ready_by(start + Duration::from_secs(5)).await);
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }
}
