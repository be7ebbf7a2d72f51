//! One VIP's watch loop, in the kube-runtime controller's shape (STYLE.md 9): [`VipWatch::reconcile`]
//! looks once (the status core's observation and verdict), acts on the [`decide`]d action, and
//! says when to look again; [`VipWatch::error_policy`] says when to look again after a failed
//! look, backing off while the failures last and resetting on the first success. [`run`] drives
//! the two with a jittered, bounded pause until told to stop. What a look and a repair do to
//! the world is the [`Effects`] trait, so the loop's decisions are tested with a fake under
//! tokio's paused time.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::decide::{decide, Decision};
use super::metrics::Metrics;
use crate::alert::{AlertEvent, AlertKind};
use crate::backoff::{Backoff, Pauses};
use crate::failover::Report;
use crate::status::{Judgement, Reason, Verdict};

/// What one look found, reduced to what the loop acts on.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The status core's judgement.
    pub judgement: Judgement,
    /// keepalived's last recorded state here is MASTER.
    pub master: bool,
    /// EIPs of the VIP seen idle (billed): unbound, or on a HAVIP nobody holds.
    pub idle_eips: i64,
    /// The API server's clock minus ours, as the client has measured it (seconds).
    pub clock_skew_s: i64,
}

/// What the loop does to the world: look, repair, announce, alert.
#[allow(async_fn_in_trait)] // used with concrete types only
pub trait Effects {
    /// One look at the VIP (never fails: what could not be read makes the verdict UNKNOWN).
    async fn look(&mut self) -> Seen;
    /// Re-runs the MASTER procedure for keepalived's last MASTER event, journaled like
    /// notify (`None`: the state file no longer says MASTER, so nothing was done).
    async fn repair(&mut self) -> Option<Report>;
    /// Announces the VIP with a gratuitous ARP, when the VIP names its interface.
    async fn announce(&mut self);
    /// Sends an alert.
    async fn alert(&mut self, ev: AlertEvent);
    /// Waits `d` before the next look (tokio's sleep, so tests run it under paused time).
    async fn pause(&mut self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

/// When to look again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// The pause before the next look (jitter is added by [`run`]).
    pub requeue_after: Duration,
}

/// Why a look produced no verdict to act on.
#[derive(Debug, thiserror::Error)]
#[error("{vip}: {reason}")]
pub struct LookError {
    /// The VIP.
    pub vip: String,
    /// What could not be read (the status core's typed reason).
    pub reason: Reason,
}

/// Pauses between repairs of a VIP that stays wrong: a repair that did not confirm is not
/// retried every tick (the API budget is shared), but at 1×, 2×, 4×… the interval, capped.
const REPAIR_BACKOFF_CAP: Duration = Duration::from_secs(300);
/// Pauses between looks while they keep failing (an API outage), capped.
const ERROR_BACKOFF_CAP: Duration = Duration::from_secs(60);

/// One VIP's loop state: what survives from one look to the next.
pub struct VipWatch {
    name: String,
    interval: Duration,
    metrics: Arc<Metrics>,
    /// Consecutive failed looks.
    errors: Pauses,
    /// Repairs that did not confirm, and when the next may start.
    repairs: Pauses,
    next_repair: Option<Instant>,
    /// A SPLIT alert was sent and the split has not cleared since (one split, one alert).
    split_alerted: bool,
}

impl VipWatch {
    /// The loop state of VIP `name`, looking every `interval`.
    pub fn new(name: &str, interval: Duration, metrics: Arc<Metrics>) -> VipWatch {
        VipWatch {
            name: name.to_string(),
            interval,
            metrics,
            errors: error_backoff(interval).pauses(),
            repairs: repair_backoff(interval).pauses(),
            next_repair: None,
            split_alerted: false,
        }
    }

    /// Looks once and acts: repairs (MASTER only, paced by the repair backoff), alerts a split
    /// once, or does nothing. An UNKNOWN look is an error for [`VipWatch::error_policy`].
    pub async fn reconcile<E: Effects>(&mut self, fx: &mut E) -> Result<Action, LookError> {
        let seen = fx.look().await;
        let label = Metrics::vip(&self.name);
        let m = &self.metrics;
        m.is_master
            .get_or_create(&label)
            .set(i64::from(seen.master));
        m.holder_matches
            .get_or_create(&label)
            .set(i64::from(seen.judgement.verdict == Verdict::Ok));
        let decision = decide(&seen.judgement, seen.master);
        if decision == Decision::Unreadable {
            return Err(LookError {
                vip: self.name.clone(),
                reason: seen.judgement.reason,
            });
        }
        self.errors = error_backoff(self.interval).pauses();
        m.last_verified
            .get_or_create(&label)
            .set(chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
        m.idle_eips.get_or_create(&label).set(seen.idle_eips);
        m.clock_skew.set(seen.clock_skew_s);
        tracing::debug!(vip = %self.name, verdict = %seen.judgement, decision = decision.as_str(), "checked");
        if decision != Decision::Split && self.split_alerted {
            self.split_alerted = false;
            let text = format!("the split is over: {}", seen.judgement);
            tracing::info!(vip = %self.name, "{text}");
            fx.alert(AlertEvent::new(&self.name, AlertKind::Recovered, text))
                .await;
        }
        match decision {
            Decision::Nothing => {
                if seen.judgement.verdict == Verdict::Ok {
                    self.repairs = repair_backoff(self.interval).pauses();
                    self.next_repair = None;
                }
                Ok(self.requeue())
            }
            Decision::Wait | Decision::Unreadable => Ok(self.requeue()),
            Decision::Split => {
                self.metrics.splits.get_or_create(&label).inc();
                if !self.split_alerted {
                    self.split_alerted = true;
                    let text = format!(
                        "{} (this node never writes while it is not MASTER)",
                        seen.judgement
                    );
                    tracing::error!(vip = %self.name, "SPLIT: {text}");
                    fx.alert(AlertEvent::new(&self.name, AlertKind::SplitBrain, text))
                        .await;
                }
                Ok(self.requeue())
            }
            Decision::Repair | Decision::Rebind => Ok(self.repair(fx, decision, &seen).await),
        }
    }

    /// After a failed look: look again after the interval, doubling while failures last
    /// (capped at a minute); the first good look resets it.
    pub fn error_policy(&mut self, err: &LookError) -> Action {
        let after = self.errors.next_pause();
        tracing::warn!(vip = %self.name, error = %err, retry_in_s = after.as_secs_f64(), "cannot check the VIP");
        Action {
            requeue_after: after,
        }
    }

    fn requeue(&self) -> Action {
        Action {
            requeue_after: self.interval,
        }
    }

    async fn repair<E: Effects>(&mut self, fx: &mut E, decision: Decision, seen: &Seen) -> Action {
        let now = Instant::now();
        if let Some(at) = self.next_repair.filter(|at| *at > now) {
            tracing::debug!(vip = %self.name, "repair backing off");
            return Action {
                requeue_after: self.interval.min(at - now),
            };
        }
        tracing::warn!(vip = %self.name, decision = decision.as_str(), verdict = %seen.judgement, "repairing: this node is MASTER");
        self.metrics
            .repairs
            .get_or_create(&Metrics::vip(&self.name))
            .inc();
        if decision == Decision::Repair {
            fx.announce().await;
        }
        let confirmed = match fx.repair().await {
            Some(r) => {
                tracing::info!(vip = %self.name, verdict = %r.verdict, "repair: {}", r.message);
                r.verdict == crate::journal::Verdict::Confirmed
            }
            None => {
                tracing::info!(vip = %self.name, "repair skipped: keepalived is no longer MASTER here");
                true
            }
        };
        if confirmed {
            self.repairs = repair_backoff(self.interval).pauses();
            self.next_repair = None;
        } else {
            self.next_repair = Some(Instant::now() + self.repairs.next_pause());
        }
        self.requeue()
    }
}

fn repair_backoff(interval: Duration) -> Backoff {
    Backoff {
        initial: interval,
        factor: 2.0,
        max: REPAIR_BACKOFF_CAP.max(interval),
    }
}

fn error_backoff(interval: Duration) -> Backoff {
    Backoff {
        initial: interval,
        factor: 2.0,
        max: ERROR_BACKOFF_CAP.max(interval),
    }
}

/// `after`, spread by ±10% with `r` in [0, 1): VIPs (and nodes) that started together drift
/// apart instead of calling the API in step. Always within [0.9, 1.1] × `after`.
pub fn jittered(after: Duration, r: f64) -> Duration {
    let r = if r.is_finite() {
        r.clamp(0.0, 1.0)
    } else {
        0.5
    };
    after.mul_f64(0.9 + 0.2 * r)
}

/// Drives `w` until `stop` turns true: reconcile (or error policy), then a jittered pause.
/// A look or repair in progress is finished, never cut, when the stop comes.
pub async fn run<E: Effects>(
    w: &mut VipWatch,
    fx: &mut E,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let action = match w.reconcile(fx).await {
            Ok(a) => a,
            Err(e) => w.error_policy(&e),
        };
        let pause = jittered(action.requeue_after, rand::random::<f64>());
        tokio::select! {
            _ = fx.pause(pause) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod tests;
