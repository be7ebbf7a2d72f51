//! The loop's decisions under tokio's paused time: each verdict to its action, the repair and
//! error backoffs, one alert per split, the jitter's bounds, and a prompt stop.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::*;
use crate::failover::Seat;
use crate::journal::Verdict as RunVerdict;
use crate::state::VrrpState;

const INTERVAL: Duration = Duration::from_secs(5);

/// A scripted world: each look returns the next `Seen` (the last one repeats); every effect is
/// recorded with the (paused) time it happened.
struct Fake {
    script: VecDeque<Seen>,
    repair_verdict: RunVerdict,
    looks: Vec<Instant>,
    repairs: Vec<Instant>,
    announces: usize,
    alerts: Vec<AlertKind>,
    /// When set, each look makes two API calls through this budget, logged in `calls`.
    budget: Option<(crate::cloud::RateLimit, Arc<std::sync::Mutex<Vec<Instant>>>)>,
}

impl Fake {
    fn new(script: Vec<Seen>) -> Fake {
        Fake {
            script: script.into(),
            repair_verdict: RunVerdict::Confirmed,
            looks: Vec::new(),
            repairs: Vec::new(),
            announces: 0,
            alerts: Vec::new(),
            budget: None,
        }
    }
}

impl Effects for Fake {
    async fn look(&mut self) -> Seen {
        self.looks.push(Instant::now());
        if let Some((limit, calls)) = &self.budget {
            for _ in 0..2 {
                limit.until_ready().await;
                calls.lock().unwrap().push(Instant::now());
            }
        }
        if self.script.len() > 1 {
            self.script.pop_front().unwrap()
        } else {
            self.script[0].clone()
        }
    }

    async fn repair(&mut self) -> Option<Report> {
        self.repairs.push(Instant::now());
        Some(Report {
            vip: "iam".into(),
            verdict: self.repair_verdict,
            message: "scripted".into(),
            plan: Vec::new(),
            elapsed: Duration::ZERO,
            local: Vec::new(),
        })
    }

    async fn announce(&mut self) {
        self.announces += 1;
    }

    async fn alert(&mut self, ev: AlertEvent) {
        self.alerts.push(ev.kind);
    }
}

fn seen(verdict: Verdict, reason: Reason, master: bool) -> Seen {
    Seen {
        judgement: Judgement { verdict, reason },
        master,
        idle_eips: 0,
        clock_skew_s: 0,
    }
}

fn ok(master: bool) -> Seen {
    seen(Verdict::Ok, Reason::Agreed { this_node: master }, master)
}

fn held_elsewhere() -> Seen {
    let holder = Seat::new("ins-peer", "eni-peer");
    seen(
        Verdict::Split,
        Reason::MasterButHeldElsewhere { holder },
        true,
    )
}

fn held_here_not_master() -> Seen {
    seen(
        Verdict::Drift,
        Reason::HeldButNotMaster(VrrpState::Backup),
        false,
    )
}

fn unreadable() -> Seen {
    let e = Arc::new(std::io::Error::other("state file damaged"));
    seen(Verdict::Unknown, Reason::StateUnreadable(e), true)
}

fn watch() -> VipWatch {
    VipWatch::new("iam", INTERVAL, Metrics::new())
}

#[tokio::test(start_paused = true)]
async fn agreement_does_nothing_and_looks_again_after_the_interval() {
    let (mut w, mut fx) = (watch(), Fake::new(vec![ok(true)]));
    let a = w.reconcile(&mut fx).await.unwrap();
    assert_eq!(a.requeue_after, INTERVAL);
    assert!(fx.repairs.is_empty() && fx.alerts.is_empty() && fx.announces == 0);
    let text = w.metrics.encode();
    assert!(
        text.contains("havip_cloud_holder_matches{vip=\"iam\"} 1"),
        "{text}"
    );
    assert!(text.contains("havip_is_master{vip=\"iam\"} 1"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_master_whose_vip_moved_announces_and_repairs() {
    let (mut w, mut fx) = (watch(), Fake::new(vec![held_elsewhere()]));
    w.reconcile(&mut fx).await.unwrap();
    assert_eq!((fx.announces, fx.repairs.len()), (1, 1));
    assert!(w
        .metrics
        .encode()
        .contains("havip_repairs_total{vip=\"iam\"} 1"));
}

#[tokio::test(start_paused = true)]
async fn a_master_whose_eip_came_off_rebinds_without_announcing() {
    let detached = seen(Verdict::Drift, Reason::EipNotAttached(None), true);
    let (mut w, mut fx) = (watch(), Fake::new(vec![detached]));
    w.reconcile(&mut fx).await.unwrap();
    assert_eq!((fx.announces, fx.repairs.len()), (0, 1));
}

#[tokio::test(start_paused = true)]
async fn a_split_is_one_alert_and_never_a_write() {
    let script = vec![
        held_here_not_master(),
        held_here_not_master(),
        held_here_not_master(),
        ok(false),
        held_here_not_master(),
    ];
    let (mut w, mut fx) = (watch(), Fake::new(script));
    for _ in 0..5 {
        w.reconcile(&mut fx).await.unwrap();
    }
    assert!(fx.repairs.is_empty() && fx.announces == 0);
    assert_eq!(
        fx.alerts,
        [
            AlertKind::SplitBrain,
            AlertKind::Recovered,
            AlertKind::SplitBrain
        ]
    );
    assert!(w
        .metrics
        .encode()
        .contains("havip_splits_total{vip=\"iam\"} 4"));
}

#[tokio::test(start_paused = true)]
async fn failed_repairs_back_off_and_a_confirmed_one_resets() {
    let (mut w, mut fx) = (watch(), Fake::new(vec![held_elsewhere()]));
    fx.repair_verdict = RunVerdict::Failed;
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(200), run(&mut w, &mut fx, rx))
        .await
        .unwrap_err();
    let gaps: Vec<u64> = fx
        .repairs
        .windows(2)
        .map(|p| (p[1] - p[0]).as_secs())
        .collect();
    // Repairs at 0, then ≈5 s, 10 s, 20 s, 40 s… apart (each within a tick's jitter), while
    // the looks go on every interval.
    assert!(fx.repairs[0] - start < Duration::from_secs(1));
    assert!(gaps.len() >= 4, "{gaps:?}");
    for (i, g) in gaps.iter().take(4).enumerate() {
        let want = 5u64 << i;
        assert!(
            *g >= want && *g <= want + 6,
            "gap {i}: {g} s, want ≈{want} s ({gaps:?})"
        );
    }
    assert!(fx.looks.len() > 30, "looks go on: {}", fx.looks.len());
    // Now the repair works: the next one confirms, and the backoff starts over.
    fx.repair_verdict = RunVerdict::Confirmed;
    fx.script = vec![held_elsewhere(), ok(true), held_elsewhere()].into();
    let before = fx.repairs.len();
    tokio::time::advance(Duration::from_secs(300)).await;
    for _ in 0..3 {
        w.reconcile(&mut fx).await.unwrap();
    }
    assert_eq!(
        fx.repairs.len(),
        before + 2,
        "a confirmed repair resets the backoff"
    );
}

#[tokio::test(start_paused = true)]
async fn unreadable_looks_back_off_to_a_minute_and_reset_on_success() {
    let (mut w, mut fx) = (watch(), Fake::new(vec![unreadable()]));
    let mut pauses = Vec::new();
    for _ in 0..7 {
        let e = w.reconcile(&mut fx).await.unwrap_err();
        assert!(e.to_string().contains("state file damaged"), "{e}");
        pauses.push(w.error_policy(&e).requeue_after.as_secs());
    }
    assert_eq!(pauses, [5, 10, 20, 40, 60, 60, 60]);
    assert!(
        fx.repairs.is_empty(),
        "nothing is written on an unreadable look"
    );
    fx.script = vec![ok(true), unreadable()].into();
    w.reconcile(&mut fx).await.unwrap();
    let e = w.reconcile(&mut fx).await.unwrap_err();
    assert_eq!(w.error_policy(&e).requeue_after, INTERVAL);
}

#[tokio::test(start_paused = true)]
async fn looks_are_jittered_within_ten_percent_of_the_interval() {
    let (mut w, mut fx) = (watch(), Fake::new(vec![ok(true)]));
    let (_tx, rx) = tokio::sync::watch::channel(false);
    tokio::time::timeout(Duration::from_secs(500), run(&mut w, &mut fx, rx))
        .await
        .unwrap_err();
    let gaps: Vec<Duration> = fx.looks.windows(2).map(|p| p[1] - p[0]).collect();
    assert!(gaps.len() > 80);
    for g in &gaps {
        assert!(
            *g >= INTERVAL.mul_f64(0.9) && *g <= INTERVAL.mul_f64(1.1),
            "{g:?}"
        );
    }
    assert!(gaps.iter().any(|g| *g != gaps[0]), "the pauses vary");
}

#[test]
fn jitter_bounds() {
    for r in [0.0, 0.25, 0.5, 0.999, 1.0, -3.0, 7.0, f64::NAN] {
        let d = jittered(Duration::from_secs(2), r);
        assert!(
            d >= Duration::from_millis(1800) && d <= Duration::from_millis(2200),
            "{r}: {d:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_stop_ends_the_loop_during_its_pause() {
    let (mut w, mut fx) = (watch(), Fake::new(vec![ok(true)]));
    let (tx, rx) = tokio::sync::watch::channel(false);
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(12)).await;
        tx.send(true).unwrap();
    });
    let start = Instant::now();
    run(&mut w, &mut fx, rx).await;
    stopper.await.unwrap();
    assert!(Instant::now() - start < Duration::from_secs(13));
    assert_eq!(fx.looks.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn ten_vips_never_exceed_the_shared_budget() {
    let limit = crate::cloud::RateLimit::per_second(std::num::NonZeroU32::new(5).unwrap());
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10 {
        let mut fx = Fake::new(vec![ok(true)]);
        fx.budget = Some((limit.clone(), calls.clone()));
        let mut w = VipWatch::new(&format!("vip{i}"), Duration::from_secs(1), Metrics::new());
        let rx = rx.clone();
        tasks.spawn(async move { run(&mut w, &mut fx, rx).await });
    }
    tokio::time::sleep(Duration::from_secs(60)).await;
    tx.send(true).unwrap();
    while tasks.join_next().await.is_some() {}
    let mut t = calls.lock().unwrap().clone();
    t.sort();
    // 10 VIPs want 20 calls a second; the budget lets 5 through in any second: never 6.
    assert!(t.len() >= 5 * 55, "the budget was used: {}", t.len());
    for w in t.windows(6) {
        assert!(
            w[5] - w[0] >= Duration::from_secs(1),
            "6 calls within {:?}",
            w[5] - w[0]
        );
    }
}
