//! A keepalived event (or a takeover, which is a MASTER event of its own), run for one VIP:
//! record → lock → re-read → act only if still the newest event → journal → alert. keepalived
//! runs notify scripts concurrently and possibly out of order; this is where "latest wins"
//! happens (ARCHITECTURE.md, "The path of one notify").

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::ending::{finish, finish_quiet, report, Run};
use super::engine::{Engine, Report, Trigger};
use super::vip::promote;
use super::{CallLog, Cx, Outcome, WriteJournal};
use crate::config::VipConfig;
use crate::journal::{CallEntry, JournalRecord, Verdict};
use crate::state::{EventRecord, LockError, VipState, VrrpState};

/// Runs one event for several VIPs concurrently, each under its own deadline (`deadline`
/// replaces the configured one when given), and returns the reports in the VIPs' order.
pub(crate) async fn handle_events(
    engine: Arc<Engine>,
    vips: Vec<VipConfig>,
    state: VrrpState,
    trigger: Trigger,
    dry_run: bool,
    deadline: Option<Duration>,
) -> Vec<Report> {
    let mut set = JoinSet::new();
    for (i, mut vip) in vips.into_iter().enumerate() {
        if let Some(t) = deadline {
            vip.deadline = t;
        }
        let engine = engine.clone();
        set.spawn(async move { (i, handle_event(engine, vip, state, trigger, dry_run).await) });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        match r {
            Ok(r) => out.push(r),
            Err(e) => out.push((
                usize::MAX,
                Report {
                    vip: "?".into(),
                    verdict: Verdict::Failed,
                    message: format!("internal error: {e}"),
                    plan: Vec::new(),
                    elapsed: Duration::ZERO,
                    local: Vec::new(),
                },
            )),
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Handles one keepalived event (or a takeover, which is a MASTER event of its own) for one VIP:
/// record → lock → re-read → act if still newest → journal → alert.
pub(crate) async fn handle_event(
    engine: Arc<Engine>,
    vip: VipConfig,
    state: VrrpState,
    trigger: Trigger,
    dry_run: bool,
) -> Report {
    if dry_run {
        let started = Instant::now();
        let deadline = started + vip.deadline;
        let vs = VipState::new(&engine.cfg.state_dir, &vip.name);
        // Writes nothing, local state included: the plan is computed as if the event were new.
        let out = if state == VrrpState::Master {
            let since = match vs.read() {
                Ok(Some(r)) if r.state == VrrpState::Master => r.master_since.unwrap_or(r.at),
                _ => Utc::now(),
            };
            let cx = Cx::new(&engine.client, deadline, None, None);
            promote(&engine, &vip, since, &cx, true).await
        } else {
            Outcome {
                verdict: Verdict::Planned,
                message: format!("dry run: {state} would be recorded and alerted; no cloud writes"),
                plan: vec![format!("record {state}"), "alert".into()],
                changed: false,
            }
        };
        return report(&vip, out, started.elapsed(), Vec::new());
    }

    record(engine, vip, state, trigger).act().await
}

/// An event recorded (its sequence number taken) and not yet acted on. Recording is what
/// orders events: a reader of keepalived's FIFO records each line in order, then lets the runs
/// go, and the newest recorded event wins exactly as with concurrent notify processes.
pub struct Recorded {
    engine: Arc<Engine>,
    vip: VipConfig,
    vs: VipState,
    rec: EventRecord,
    recorded: bool,
    run: Run,
}

/// Records `state` for `vip` now (the deadline starts here); [`Recorded::act`] does the rest.
///
/// Local bookkeeping never stops the cloud from following keepalived: when the state directory
/// cannot be written (a full disk, a read-only mount), the event is kept in memory, the run
/// goes on without the guarantees the files give (ordering against other handlers), and the
/// trouble is reported, alerted and reflected in the exit status.
pub fn record(engine: Arc<Engine>, vip: VipConfig, state: VrrpState, trigger: Trigger) -> Recorded {
    let vs = VipState::new(&engine.cfg.state_dir, &vip.name);
    let run = Run::starting(trigger, vip.deadline);
    let (rec, recorded) = match vs.record(state, trigger.as_str()) {
        Ok(r) => (r, true),
        Err(e) => {
            run.trouble.note(format!(
                "cannot record the event (acting on it in memory): {e}"
            ));
            let prev = vs.read().ok().flatten();
            let rec = EventRecord::after(prev.as_ref(), state, trigger.as_str(), Utc::now());
            (rec, false)
        }
    };
    Recorded {
        engine,
        vip,
        vs,
        rec,
        recorded,
        run,
    }
}

impl Recorded {
    /// The event's sequence number (`None`: kept in memory only).
    pub fn seq(&self) -> Option<u64> {
        self.recorded.then_some(self.rec.seq)
    }

    /// Lock → re-read → act only if still the newest event → journal → alert.
    pub async fn act(self) -> Report {
        let Recorded {
            engine,
            vip,
            vs,
            rec,
            recorded,
            run,
        } = self;
        let state = rec.state;
        // This run recorded the event, on file or (state directory unusable) in memory: a new
        // transition is fresh either way.
        let ending = act(&engine, &vip, &vs, rec, recorded, &run, true).await;
        close(&engine, &vip, &run, state, ending).await
    }
}

/// Re-asserts the MASTER procedure for the event keepalived last reported, without recording
/// a new one (`havip watch`'s repair): the run acts for that event, under its lock, and stops
/// before its next write as soon as a newer event is recorded (a BACKUP that arrives mid-repair
/// wins). `None` when the state file does not say MASTER: there is nothing to act for, and a
/// watcher must never write on its own authority.
pub async fn reassert(engine: Arc<Engine>, vip: VipConfig, trigger: Trigger) -> Option<Report> {
    let vs = VipState::new(&engine.cfg.state_dir, &vip.name);
    let rec = match vs.read() {
        Ok(Some(rec)) if rec.state == VrrpState::Master => rec,
        _ => return None,
    };
    let run = Run::starting(trigger, vip.deadline);
    let state = rec.state;
    let ending = act(&engine, &vip, &vs, rec, true, &run, false).await;
    Some(close(&engine, &vip, &run, state, ending).await)
}

/// Journals and alerts an ending: the one place an event's run is closed.
async fn close(
    engine: &Engine,
    vip: &VipConfig,
    run: &Run,
    state: VrrpState,
    ending: Ending,
) -> Report {
    match ending {
        Ending::Journaled {
            seq,
            out,
            calls,
            interrupted,
        } => finish(engine, vip, run, Some(state), seq, out, calls, interrupted).await,
        Ending::Superseded { rec, out } => finish_quiet(engine, vip, run, &rec, out),
    }
}

/// How an event's run ended, for the one place that journals and alerts it.
enum Ending {
    /// Journaled and alerted.
    Journaled {
        seq: Option<u64>,
        out: Outcome,
        calls: Vec<CallEntry>,
        /// Writes of earlier, interrupted runs that this run found unrecorded.
        interrupted: Vec<String>,
    },
    /// A newer event took over: journaled, not alerted (no alert storm from stale events).
    Superseded { rec: EventRecord, out: Outcome },
}

impl Ending {
    fn failed(seq: Option<u64>, message: String) -> Ending {
        Ending::Journaled {
            seq,
            out: Outcome::without_plan(Verdict::Failed, message),
            calls: Vec::new(),
            interrupted: Vec::new(),
        }
    }
}

/// Lock → re-read → act only if `rec` is still the newest event (latest wins; never two
/// mutations in flight for one VIP) → find interrupted runs. A
/// recorded event (`recorded`) guards every write; one kept in memory acts alone. `fresh`: this
/// run recorded the event (on file or in memory) (a new transition is reported as a switch even without writes).
async fn act(
    engine: &Engine,
    vip: &VipConfig,
    vs: &VipState,
    rec: EventRecord,
    recorded: bool,
    run: &Run,
    fresh: bool,
) -> Ending {
    let trouble = &run.trouble;
    let state = rec.state;
    let seq = recorded.then_some(rec.seq);
    let lock = {
        let vs = vs.clone();
        let std_deadline =
            std::time::Instant::now() + run.deadline.saturating_duration_since(Instant::now());
        tokio::task::spawn_blocking(move || vs.lock(std_deadline)).await
    };
    let guard = match lock {
        Ok(Ok(g)) => Some(g),
        // Waiting out the deadline behind newer events is not a failure of this one.
        Ok(Err(LockError::Timeout(..))) if recorded && vs.superseded(rec.seq) => {
            let out = superseded(vs, &rec);
            return Ending::Superseded { rec, out };
        }
        Ok(Err(e @ LockError::Timeout(..))) => return Ending::failed(seq, e.to_string()),
        Ok(Err(e @ LockError::Io(..))) => {
            trouble.note(format!("{e} (acting without the run lock)"));
            None
        }
        Err(e) => return Ending::failed(seq, format!("lock task: {e}")),
    };
    // Re-read under the lock: only the newest event acts (latest wins).
    let mut current = recorded;
    if recorded {
        match vs.read() {
            Ok(Some(now)) if now.seq == rec.seq => {}
            Ok(_) => {
                let out = superseded(vs, &rec);
                return Ending::Superseded { rec, out };
            }
            Err(e) => {
                trouble.note(format!("cannot re-read the event state: {e}"));
                current = false;
            }
        }
    }
    let writes = WriteJournal {
        journal: engine.journal(),
        vip: vip.name.clone(),
        run: run.id.clone(),
        seq,
        trouble: trouble.clone(),
    };
    let (out, calls) = if state != VrrpState::Master {
        let out = Outcome {
            verdict: Verdict::Recorded,
            message: format!("keepalived reports {state}; recorded, no cloud writes"),
            plan: Vec::new(),
            changed: false,
        };
        (out, Vec::new())
    } else {
        let since = rec.master_since.unwrap_or(rec.at);
        let calls = CallLog::journaling(writes.clone());
        // Without a readable state file there is nothing to check "still newest" against:
        // the run acts for this event alone (and says so through `trouble`).
        let guard_seq = (current && guard.is_some()).then(|| (vs.clone(), rec.seq));
        let cx = Cx::new(&engine.client, run.deadline, guard_seq, Some(calls.clone()));
        let mut out = promote(engine, vip, since, &cx, false).await;
        // A fresh transition is a switch even when keepalived's ARP had already moved the HAVIP.
        if fresh && out.verdict == Verdict::Confirmed && is_new_transition(&rec) {
            out.changed = true;
        }
        (out, calls.take())
    };
    // Only now, with the cloud's work done, and only under the run lock (so no other run's
    // write for this VIP can be in flight): writes of earlier runs that never got an outcome.
    let interrupted = if guard.is_some() {
        interrupted_writes(engine, vip, &writes)
    } else {
        Vec::new()
    };
    Ending::Journaled {
        seq,
        out,
        calls,
        interrupted,
    }
}

/// Finds the earlier runs of this VIP that made writes and never recorded a verdict (killed
/// mid-run), records a verdict for each (UNKNOWN, so it is reported once and `havip journal`
/// shows it), and describes them.
fn interrupted_writes(engine: &Engine, vip: &VipConfig, w: &WriteJournal) -> Vec<String> {
    let runs = match w.journal.interrupted_runs(&w.vip, &w.run) {
        Ok(r) => r,
        Err(e) => {
            w.trouble.note(format!(
                "cannot check the journal for interrupted runs: {e}"
            ));
            return Vec::new();
        }
    };
    runs.into_iter()
        .map(|r| {
            let pid = r.run.split('-').next().unwrap_or("?");
            let event = r.seq.map(|s| format!(", event #{s}")).unwrap_or_default();
            let writes: Vec<String> = r
                .writes
                .iter()
                .map(|x| match (&x.outcome, &x.request_id) {
                    (Some(o), Some(id)) => format!("{} {o} (RequestId {id})", x.action),
                    (Some(o), None) => format!("{} {o}", x.action),
                    (None, _) => format!("{} with no recorded answer", x.action),
                })
                .collect();
            let text = format!(
                "an earlier run (pid {pid}{event}) was interrupted after writing to the cloud ({}); its verdict was never recorded",
                writes.join(", ")
            );
            let closing = JournalRecord {
                time: Utc::now(),
                vip: vip.name.clone(),
                trigger: Trigger::Interrupted,
                event: None,
                seq: r.seq,
                strategy: Some(vip.target.kind()),
                node: engine.instance_id.as_ref().ok().cloned(),
                plan: Vec::new(),
                calls: r
                    .writes
                    .iter()
                    .map(|x| CallEntry {
                        action: x.action.clone(),
                        request_id: x.request_id.clone(),
                        start: x.time,
                        duration_ms: 0,
                        attempts: x.attempts.unwrap_or(1),
                        outcome: x.outcome.clone().unwrap_or_else(|| "no answer recorded".into()),
                        mutating: true,
                    })
                    .collect(),
                verdict: Verdict::Unknown,
                message: format!("{text} (found by run {})", w.run),
                elapsed_ms: 0,
                dry_run: false,
                run: Some(r.run.clone()),
            };
            w.trouble.journal(&w.journal, &closing);
            text
        })
        .collect()
}

fn superseded(vs: &VipState, rec: &EventRecord) -> Outcome {
    let newer = match vs.read() {
        Ok(Some(n)) => format!("#{} {}", n.seq, n.state),
        Ok(None) => "(state file gone)".into(),
        Err(e) => format!("(unreadable state: {e})"),
    };
    Outcome {
        verdict: Verdict::Superseded,
        message: format!(
            "event #{} {} superseded by {newer}; nothing done",
            rec.seq, rec.state
        ),
        plan: Vec::new(),
        changed: false,
    }
}

fn is_new_transition(rec: &EventRecord) -> bool {
    rec.master_since == Some(rec.at)
}
