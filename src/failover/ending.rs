//! The one place a run ends: its journal record (fsynced), its alerts (bounded by what is left
//! of the deadline) and the report the command prints.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use tokio::time::Instant;

use super::engine::{Engine, Report, Trigger};
use super::{LocalTrouble, Outcome};
use crate::alert::{AlertEvent, AlertKind};
use crate::config::VipConfig;
use crate::journal::{CallEntry, JournalRecord, Verdict};
use crate::state::{EventRecord, VrrpState};

/// How long an alert may still take when the event's deadline is already spent: the alert
/// of a run that used its whole deadline (a failure, most likely) must still get out.
const ALERT_FLOOR: Duration = Duration::from_secs(2);

/// One run of the engine: what started it, its clock, and what went wrong locally.
pub struct Run {
    /// `<pid>-<start in unix ms>`, shared by the run's write records.
    pub id: String,
    pub trigger: Trigger,
    pub started: Instant,
    pub deadline: Instant,
    pub trouble: Arc<LocalTrouble>,
}

impl Run {
    /// A run starting now, with `budget` (the VIP's deadline) to finish in.
    pub fn starting(trigger: Trigger, budget: Duration) -> Run {
        let started = Instant::now();
        Run {
            id: super::run_id(),
            trigger,
            started,
            deadline: started + budget,
            trouble: Arc::new(LocalTrouble::default()),
        }
    }
}

pub fn report(vip: &VipConfig, out: Outcome, elapsed: Duration, local: Vec<String>) -> Report {
    Report {
        vip: vip.name.clone(),
        verdict: out.verdict,
        message: out.message,
        plan: out.plan,
        elapsed,
        local,
    }
}

/// Journals a superseded event without alerting (an alert per stale event would be a storm).
pub(crate) fn finish_quiet(
    engine: &Engine,
    vip: &VipConfig,
    run: &Run,
    rec: &EventRecord,
    out: Outcome,
) -> Report {
    let elapsed = run.started.elapsed();
    let r = record(
        engine,
        vip,
        run,
        Some(rec.state),
        Some(rec.seq),
        &out,
        Vec::new(),
        elapsed,
    );
    run.trouble.journal(&engine.journal(), &r);
    report(vip, out, elapsed, run.trouble.notes())
}

#[allow(clippy::too_many_arguments)]
pub fn record(
    engine: &Engine,
    vip: &VipConfig,
    run: &Run,
    event: Option<VrrpState>,
    seq: Option<u64>,
    out: &Outcome,
    calls: Vec<CallEntry>,
    elapsed: Duration,
) -> JournalRecord {
    JournalRecord {
        time: Utc::now(),
        vip: vip.name.clone(),
        trigger: run.trigger,
        event,
        seq,
        strategy: Some(vip.target.kind()),
        node: engine.instance_id.as_ref().ok().cloned(),
        plan: out.plan.clone(),
        calls,
        verdict: out.verdict,
        message: out.message.clone(),
        elapsed_ms: elapsed.as_millis() as u64,
        dry_run: false,
        run: Some(run.id.clone()),
    }
}

/// Journals the run (fsync), then alerts: every switch, every failure, every non-MASTER event,
/// and separately any local bookkeeping trouble or interrupted earlier write. Alerts are
/// bounded by what is left of the deadline (at least [`ALERT_FLOOR`]); the time reported is
/// the failover's own, alerts excluded.
#[allow(clippy::too_many_arguments)]
pub async fn finish(
    engine: &Engine,
    vip: &VipConfig,
    run: &Run,
    event: Option<VrrpState>,
    seq: Option<u64>,
    mut out: Outcome,
    calls: Vec<CallEntry>,
    interrupted: Vec<String>,
) -> Report {
    let elapsed = run.started.elapsed();
    let n_calls = calls.len();
    for i in &interrupted {
        out.message = format!("{} (warning: {i})", out.message);
    }
    let r = record(engine, vip, run, event, seq, &out, calls, elapsed);
    run.trouble.journal(&engine.journal(), &r);
    let local = run.trouble.notes();
    if !local.is_empty() {
        out.message = format!(
            "{} (local bookkeeping degraded: {})",
            out.message,
            local.join("; ")
        );
    }
    let kind = match (out.verdict, event) {
        (Verdict::Failed | Verdict::Unknown, _) => Some(AlertKind::Failure),
        (Verdict::Confirmed, _) if out.changed => Some(AlertKind::Switch),
        (Verdict::Recorded, Some(VrrpState::Backup)) => Some(AlertKind::Backup),
        (Verdict::Recorded, Some(VrrpState::Fault)) => Some(AlertKind::Fault),
        (Verdict::Recorded, Some(VrrpState::Stop)) => Some(AlertKind::Stop),
        _ => None,
    };
    let details = json!({
        "verdict": out.verdict,
        "trigger": run.trigger.as_str(),
        "event": event,
        "seq": seq,
        "strategy": vip.target.kind().to_string(),
        "plan": out.plan,
        "api_calls": n_calls,
        "elapsed_ms": elapsed.as_millis() as u64,
        "local": local,
        "interrupted": interrupted,
    });
    let alert = |kind, message: String| {
        AlertEvent::new(vip.name.clone(), kind, format!("{}: {message}", vip.name))
            .with_node(engine.node_name())
            .with_details(details.clone())
    };
    let main = kind.map(|kind| alert(kind, out.message.clone()));
    let bookkeeping = (!local.is_empty() || !interrupted.is_empty()).then(|| {
        let what: Vec<String> = local.iter().chain(&interrupted).cloned().collect();
        alert(AlertKind::Local, what.join("; "))
    });
    // One budget for both alerts, sent one after the other so a receiver sees them in order
    // (and an exec hook appending to a file never interleaves them).
    let until = Instant::now()
        + run
            .deadline
            .saturating_duration_since(Instant::now())
            .max(ALERT_FLOOR);
    for ev in [main, bookkeeping].into_iter().flatten() {
        let left = until.saturating_duration_since(Instant::now());
        // Bounded by what is left of the budget; never fails.
        engine.alerter.send_within(&ev, left).await;
    }
    report(vip, out, elapsed, local)
}
