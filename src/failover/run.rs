//! The procedures behind `notify`, `takeover` and `failover`: record the event, serialize on
//! the per-VIP lock, run the strategy, journal the attempt, alert. One function per entry point;
//! the commands only parse arguments and print.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::time::Instant;

use super::havip::{describe_havip, HavipStrategy};
use super::setup::Env;
use super::{
    eip, havip, node, private_ip, reconcile, CallLog, Cx, LocalTrouble, Outcome, WriteJournal,
};
use crate::alert::{AlertEvent, AlertKind};
use crate::config::{Target, VipConfig};
use crate::journal::{CallEntry, Journal, JournalRecord, Verdict};
use crate::state::{EventRecord, LockError, VipState, VrrpState};

/// The result of one VIP's run, as the command reports it.
#[derive(Debug, Clone)]
pub struct Report {
    /// VIP name.
    pub vip: String,
    /// How it ended.
    pub verdict: Verdict,
    /// One sentence.
    pub message: String,
    /// The plan, as lines.
    pub plan: Vec<String>,
    /// The failover's own wall time (alert delivery excluded).
    pub elapsed: Duration,
    /// Local bookkeeping that failed while the run went on (state file, lock, journal): the
    /// cloud work is reported as it ended, and the command says the bookkeeping did not keep up.
    pub local: Vec<String>,
}

/// A configured environment plus this node's identity.
pub struct Engine {
    /// Client, metadata, alerter, configuration.
    pub env: Env,
    /// This node's instance, resolved once (`Err`: the discovery message).
    pub instance_id: Result<String, String>,
}

impl Engine {
    /// Resolves the node's instance ID (configuration, else metadata).
    pub async fn new(env: Env) -> Engine {
        let instance_id = node::instance_id(&env.cfg, &env.metadata)
            .await
            .map_err(|e| e.0);
        Engine { env, instance_id }
    }

    fn journal(&self) -> Journal {
        Journal::new(&self.env.cfg.journal)
    }

    fn node_name(&self) -> String {
        self.instance_id
            .clone()
            .unwrap_or_else(|_| crate::alert::hostname())
    }
}

/// What a run was started by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// keepalived's notify hook.
    Notify,
    /// `havip takeover`.
    Takeover,
    /// `havip failover`.
    Failover,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Notify => "notify",
            Trigger::Takeover => "takeover",
            Trigger::Failover => "failover",
        }
    }
}

/// How long an alert may still take when the event's deadline is already spent: the alert
/// of a run that used its whole deadline (a failure, most likely) must still get out.
const ALERT_FLOOR: Duration = Duration::from_secs(2);

/// Handles one keepalived event (or a takeover, which is a MASTER event of its own) for one VIP:
/// record → lock → re-read → act if still newest → journal → alert.
pub async fn handle_event(
    engine: Arc<Engine>,
    vip: VipConfig,
    state: VrrpState,
    trigger: Trigger,
    dry_run: bool,
) -> Report {
    let started = Instant::now();
    let deadline = started + vip.deadline;
    let vs = VipState::new(&engine.env.cfg.state_dir, &vip.name);
    if dry_run {
        // Writes nothing, local state included: the plan is computed as if the event were new.
        let out = if state == VrrpState::Master {
            let since = match vs.read() {
                Ok(Some(r)) if r.state == VrrpState::Master => r.master_since.unwrap_or(r.at),
                _ => Utc::now(),
            };
            promote(&engine, &vip, since, None, deadline, true, None).await
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

    let run = Run {
        id: super::run_id(),
        trigger,
        started,
        deadline,
        trouble: Arc::new(LocalTrouble::default()),
    };
    match serialized(&engine, &vip, &vs, state, &run).await {
        Ending::Journaled {
            seq,
            out,
            calls,
            interrupted,
        } => {
            finish(
                &engine,
                &vip,
                &run,
                Some(state),
                seq,
                out,
                calls,
                interrupted,
            )
            .await
        }
        Ending::Superseded { rec, out } => finish_quiet(&engine, &vip, &run, &rec, out),
    }
}

/// One run of the engine: what started it, its clock, and what went wrong locally.
struct Run {
    /// `<pid>-<start in unix ms>`, shared by the run's write records.
    id: String,
    trigger: Trigger,
    started: Instant,
    deadline: Instant,
    trouble: Arc<LocalTrouble>,
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
            out: failed(message),
            calls: Vec::new(),
            interrupted: Vec::new(),
        }
    }
}

/// Record → lock → re-read → act only if still the newest event (latest wins; never two
/// mutations in flight for one VIP).
///
/// Local bookkeeping never stops the cloud from following keepalived: when the state directory
/// cannot be written (a full disk, a read-only mount), the event is kept in memory, the run
/// goes on without the guarantees the files give (ordering against other handlers), and the
/// trouble is reported, alerted and reflected in the exit status.
async fn serialized(
    engine: &Engine,
    vip: &VipConfig,
    vs: &VipState,
    state: VrrpState,
    run: &Run,
) -> Ending {
    let trouble = &run.trouble;
    let (rec, recorded) = match vs.record(state, run.trigger.as_str()) {
        Ok(r) => (r, true),
        Err(e) => {
            trouble.note(format!(
                "cannot record the event (acting on it in memory): {e}"
            ));
            let prev = vs.read().ok().flatten();
            let rec = EventRecord::after(prev.as_ref(), state, run.trigger.as_str(), Utc::now());
            (rec, false)
        }
    };
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
        let mut out = promote(
            engine,
            vip,
            since,
            guard_seq,
            run.deadline,
            false,
            Some(calls.clone()),
        )
        .await;
        // A fresh transition is a switch even when keepalived's ARP had already moved the HAVIP.
        if out.verdict == Verdict::Confirmed && is_new_transition(&rec) {
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
                trigger: "interrupted".into(),
                event: None,
                seq: r.seq,
                strategy: Some(vip.target.kind().to_string()),
                node: engine.instance_id.clone().ok(),
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

fn failed(message: String) -> Outcome {
    Outcome {
        verdict: Verdict::Failed,
        message,
        plan: Vec::new(),
        changed: false,
    }
}

fn report(vip: &VipConfig, out: Outcome, elapsed: Duration, local: Vec<String>) -> Report {
    Report {
        vip: vip.name.clone(),
        verdict: out.verdict,
        message: out.message,
        plan: out.plan,
        elapsed,
        local,
    }
}

/// Builds and runs the VIP's strategy (the MASTER procedure).
async fn promote(
    engine: &Engine,
    vip: &VipConfig,
    since: DateTime<Utc>,
    guard: Option<(VipState, u64)>,
    deadline: Instant,
    dry_run: bool,
    calls: Option<Arc<CallLog>>,
) -> Outcome {
    let instance_id = match &engine.instance_id {
        Ok(i) => i.clone(),
        Err(e) => return unknown(e.clone()),
    };
    let mut client = engine.env.client.with_deadline(deadline);
    if let Some(c) = calls {
        client = client.with_observer(c);
    }
    let cx = Cx {
        client,
        deadline,
        guard,
    };
    let cfg = &engine.env.cfg;
    match &vip.target {
        Target::Havip {
            havip_id,
            eip,
            fencing,
            eip_takeover,
        } => {
            let desired = havip::Desired {
                havip_id: havip_id.clone(),
                instance_id,
                eni_id: cfg.node.eni_id.clone(),
                eip: eip.as_ref().and_then(|e| e.address),
                fencing: *fencing,
                eip_takeover: *eip_takeover,
                interface: vip.interface.clone(),
                vip: vip.vip,
                since,
            };
            let mut s = HavipStrategy::new(desired, eip.clone());
            let mut out = reconcile(&mut s, &cx, dry_run).await;
            if !s.notes.is_empty() {
                out.message = format!("{} ({})", out.message, s.notes.join("; "));
            }
            out
        }
        Target::PrivateIp { private_ip } => {
            let eni_id =
                match node::eni_id(cfg, &engine.env.metadata, &cx.client, &instance_id).await {
                    Ok(e) => e,
                    Err(e) => return unknown(e.0),
                };
            let mut s = private_ip::PrivateIpStrategy {
                desired: private_ip::Desired {
                    ip: *private_ip,
                    eni_id,
                },
            };
            reconcile(&mut s, &cx, dry_run).await
        }
        Target::Eip { eip, private_ip } => {
            let eni_id =
                match node::eni_id(cfg, &engine.env.metadata, &cx.client, &instance_id).await {
                    Ok(e) => e,
                    Err(e) => return unknown(e.0),
                };
            let mut s = eip::EipStrategy {
                desired: eip::Desired {
                    eip: eip.clone(),
                    eni_id,
                    private_ip: *private_ip,
                },
            };
            reconcile(&mut s, &cx, dry_run).await
        }
    }
}

fn unknown(message: String) -> Outcome {
    Outcome {
        verdict: Verdict::Unknown,
        message,
        plan: Vec::new(),
        changed: false,
    }
}

/// Journals a superseded event without alerting (an alert per stale event would be a storm).
fn finish_quiet(
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
fn record(
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
        trigger: run.trigger.as_str().into(),
        event,
        seq,
        strategy: Some(vip.target.kind().to_string()),
        node: engine.instance_id.clone().ok(),
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
async fn finish(
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
    let budget = run
        .deadline
        .saturating_duration_since(Instant::now())
        .max(ALERT_FLOOR);
    let send = |ev: Option<AlertEvent>| async move {
        if let Some(ev) = ev {
            // Bounded by the budget; never fails.
            engine.env.alerter.send_within(&ev, budget).await;
        }
    };
    tokio::join!(send(main), send(bookkeeping));
    report(vip, out, elapsed, local)
}

/// The holder as a planned failover sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldView {
    /// This node holds the VIP.
    pub ours: bool,
    /// Who holds it, for messages.
    pub holder: String,
    /// Peers allowed to take it (`None`: the cloud does not restrict who).
    pub peers: Option<Vec<String>>,
    /// The expected EIP is bound (true when none is expected).
    pub eip_ok: bool,
}

async fn hold_view(
    engine: &Engine,
    vip: &VipConfig,
    cx: &Cx,
    eni_cache: &mut Option<String>,
) -> Result<HoldView, String> {
    let me = engine.instance_id.clone()?;
    let cfg = &engine.env.cfg;
    // The ENI is looked up once per failover, not once per poll (the havip strategy needs none).
    let eni = match (&vip.target, eni_cache.as_ref()) {
        (Target::Havip { .. }, _) => String::new(),
        (_, Some(e)) => e.clone(),
        (_, None) => {
            let e = node::eni_id(cfg, &engine.env.metadata, &cx.client, &me)
                .await
                .map_err(|e| e.0)?;
            *eni_cache = Some(e.clone());
            e
        }
    };
    match &vip.target {
        Target::Havip { havip_id, eip, .. } => {
            let h = describe_havip(&cx.client, havip_id)
                .await
                .map_err(|e| format!("cannot read {havip_id}: {e}"))?;
            // The EIP's binding is confirmed from its own record, as notify confirms it.
            let eip_ok = match eip {
                Some(r) => {
                    let a = havip::describe_eip(&cx.client, r)
                        .await
                        .map_err(|e| format!("cannot read EIP {r}: {e}"))?;
                    let want = match (r.address, &a) {
                        (Some(ip), _) => ip.to_string(),
                        (None, Some(a)) => a.address_ip.clone(),
                        (None, None) => String::new(),
                    };
                    let state = a.map(havip::EipState::from);
                    havip::eip_bound(havip_id, &h.address_ip, &want, state.as_ref())
                }
                None => true,
            };
            let mine =
                |id: &str| !id.is_empty() && (id == me || cfg.node.eni_id.as_deref() == Some(id));
            let ours = mine(&h.instance_id) || mine(&h.network_interface_id);
            let holder = if h.has_holder() {
                format!("{} {}", h.instance_id, h.network_interface_id)
                    .trim()
                    .to_string()
            } else {
                "nobody".into()
            };
            let peers = h.check_associate.then(|| {
                h.ha_vip_association_set
                    .iter()
                    .map(|a| a.instance_id.clone())
                    .filter(|id| !mine(id))
                    .collect()
            });
            Ok(HoldView {
                ours,
                holder,
                peers,
                eip_ok,
            })
        }
        Target::PrivateIp { private_ip } => {
            let mut s = private_ip::PrivateIpStrategy {
                desired: private_ip::Desired {
                    ip: *private_ip,
                    eni_id: eni.clone(),
                },
            };
            use super::Strategy as _;
            let o = s
                .observe(cx)
                .await
                .map_err(|e| format!("cannot read ENIs: {e}"))?;
            Ok(HoldView {
                ours: o.iter().any(|h| h.eni_id == eni),
                holder: if o.is_empty() {
                    "nobody".into()
                } else {
                    o.iter()
                        .map(|h| h.eni_id.clone())
                        .collect::<Vec<_>>()
                        .join(" ")
                },
                peers: None,
                eip_ok: true,
            })
        }
        Target::Eip { eip, private_ip } => {
            let a = havip::describe_eip(&cx.client, eip)
                .await
                .map_err(|e| format!("cannot read EIP {eip}: {e}"))?
                .ok_or_else(|| format!("EIP {eip} does not exist in this region"))?;
            Ok(HoldView {
                ours: a.network_interface_id == eni
                    && a.private_address_ip == private_ip.to_string(),
                // Between DisassociateAddress and AssociateAddress the EIP is bound to nobody,
                // which must not read as "the peer has it".
                holder: if matches!(a.address_status.as_str(), "BIND" | "BIND_ENI")
                    && !a.network_interface_id.is_empty()
                {
                    format!("{} {}", a.network_interface_id, a.private_address_ip)
                } else {
                    "nobody".into()
                },
                peers: None,
                eip_ok: true,
            })
        }
    }
}

/// Options of a planned failover.
#[derive(Debug, Clone, Copy)]
pub struct FailoverOpts {
    /// How long to wait for the peer.
    pub timeout: Duration,
    /// Leave the drain flag in place afterwards.
    pub keep_drained: bool,
    /// Only say what would happen.
    pub dry_run: bool,
}

/// A planned switch away from this node: drain, wait for the cloud to show the peer (and the
/// EIP still bound), report the time, undrain. Refuses when this node does not hold the VIP or
/// no peer may take it.
pub async fn planned_failover(engine: Arc<Engine>, vip: VipConfig, opts: FailoverOpts) -> Report {
    let started = Instant::now();
    let deadline = started + opts.timeout;
    let calls = CallLog::new();
    let cx = Cx {
        client: engine
            .env
            .client
            .with_deadline(deadline)
            .with_observer(calls.clone()),
        deadline,
        guard: None,
    };
    let flag = engine.env.cfg.drain_flags(&vip.name)[1].clone();
    let run = Arc::new(Run {
        id: super::run_id(),
        trigger: Trigger::Failover,
        started,
        deadline,
        trouble: Arc::new(LocalTrouble::default()),
    });
    let done = |out: Outcome| {
        let engine = engine.clone();
        let vip = vip.clone();
        let calls = calls.clone();
        let run = run.clone();
        async move {
            if opts.dry_run {
                return report(&vip, out, started.elapsed(), Vec::new());
            }
            finish(
                &engine,
                &vip,
                &run,
                None,
                None,
                out,
                calls.take(),
                Vec::new(),
            )
            .await
        }
    };
    let mut eni_cache = None;
    let before = match hold_view(&engine, &vip, &cx, &mut eni_cache).await {
        Ok(v) => v,
        Err(m) => return done(unknown(m)).await,
    };
    let plan = vec![
        format!("create the drain flag {}", flag.display()),
        format!(
            "wait up to {} for the cloud to show a peer holding {}",
            humantime::format_duration(opts.timeout),
            vip.name
        ),
        if opts.keep_drained {
            "keep the drain flag".to_string()
        } else {
            "remove the drain flag".to_string()
        },
    ];
    let refuse = |message: String| Outcome {
        verdict: Verdict::Failed,
        message,
        plan: plan.clone(),
        changed: false,
    };
    if !before.ours {
        return done(refuse(format!(
            "refusing: this node ({}) does not hold {} — the cloud shows {}; run failover on the holder",
            engine.node_name(),
            vip.name,
            before.holder
        )))
        .await;
    }
    if let Some(peers) = &before.peers {
        if peers.is_empty() {
            return done(refuse(format!(
                "refusing: no peer is in the drift range of {}, so nobody could take it over",
                vip.name
            )))
            .await;
        }
    }
    if opts.dry_run {
        return done(Outcome {
            verdict: Verdict::Planned,
            message: format!("dry run: this node holds {}; nothing was changed", vip.name),
            plan,
            changed: false,
        })
        .await;
    }
    if let Err(e) = write_drain_flag(&flag) {
        return done(refuse(format!(
            "cannot create the drain flag {}: {e}",
            flag.display()
        )))
        .await;
    }
    let mut pause = Duration::from_millis(200);
    let out = loop {
        if deadline.saturating_duration_since(Instant::now()) <= pause {
            break Outcome {
                verdict: Verdict::Failed,
                message: format!(
                    "no peer took over {} within {}; this node still holds it",
                    vip.name,
                    humantime::format_duration(opts.timeout)
                ),
                plan: plan.clone(),
                changed: true,
            };
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(Duration::from_secs(1));
        match hold_view(&engine, &vip, &cx, &mut eni_cache).await {
            Ok(v) if !v.ours && v.holder != "nobody" && v.eip_ok => {
                let peer_ok = v
                    .peers
                    .as_ref()
                    .is_none_or(|p| p.iter().any(|id| v.holder.contains(id.as_str())));
                if peer_ok {
                    break Outcome {
                        verdict: Verdict::Confirmed,
                        message: format!(
                            "{} moved from {} to {} in {:.1}s",
                            vip.name,
                            before.holder,
                            v.holder,
                            started.elapsed().as_secs_f64()
                        ),
                        plan: plan.clone(),
                        changed: true,
                    };
                }
            }
            Ok(_) => {}
            // A failed read is not an answer; keep trying until the deadline.
            Err(e) => tracing::warn!("{e}"),
        }
    };
    let mut out = out;
    if !opts.keep_drained {
        if let Err(e) = std::fs::remove_file(&flag) {
            if e.kind() != std::io::ErrorKind::NotFound {
                out.message = format!(
                    "{} (could not remove the drain flag {}: {e})",
                    out.message,
                    flag.display()
                );
            }
        }
    }
    done(out).await
}

fn write_drain_flag(path: &std::path::Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let body = format!(
        "drained by havip failover (pid {}) at {}\n",
        std::process::id(),
        Utc::now().to_rfc3339()
    );
    crate::state::write_atomic(path, body.as_bytes())
}
