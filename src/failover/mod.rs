//! The failover engine: each strategy is observe → plan → apply → verify, run as a small
//! reconcile loop under one deadline (ARCHITECTURE.md "Strategies").
//!
//! A strategy reads the cloud ([`Strategy::observe`]), computes the steps as a pure function of
//! desired and observed state ([`Strategy::plan`], table-tested in each strategy's module),
//! applies them, and reads the cloud again; the loop ends when a read shows the desired state
//! (CONFIRMED), when something blocks it or the deadline passes (FAILED), or when the cloud
//! cannot be read (UNKNOWN — never reported as success). An already-correct state therefore
//! costs exactly one read. Before every write the run checks that its keepalived event is still
//! the newest (`state::VipState::superseded`), so an older procedure never races a newer one.

pub mod eip;
pub mod ending;
pub mod engine;
pub mod event;
pub mod havip;
pub mod holder;
pub mod node;
pub mod planned;
pub mod private_ip;
pub mod vip;

pub use engine::{Engine, Report, Trigger};
pub(crate) use event::{handle_events, reassert, record};
pub use holder::{Details, EipDetails, Holder, Seat};
pub(crate) use planned::{planned_failover, FailoverOpts};

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use crate::backoff::Backoff;
use crate::cloud::{self, CallObserver, CallRecord, Client};
use crate::journal::{CallEntry, Journal, Verdict, WritePhase, WriteRecord};
use crate::state::VipState;

/// What a plan says should happen next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<S> {
    /// Writes (or local actions) to perform now, in order.
    pub steps: Vec<S>,
    /// Conditions that only time can satisfy (keepalived's announcement, a settling EIP).
    pub waits: Vec<String>,
    /// Problems the plan may not fix (a conflict the configuration forbids touching).
    pub blockers: Vec<String>,
}

impl<S> Default for Plan<S> {
    fn default() -> Self {
        Plan {
            steps: Vec::new(),
            waits: Vec::new(),
            blockers: Vec::new(),
        }
    }
}

impl<S: fmt::Display> Plan<S> {
    /// True when the observed state is the desired one.
    pub(crate) fn is_done(&self) -> bool {
        self.steps.is_empty() && self.waits.is_empty() && self.blockers.is_empty()
    }

    /// The plan as lines, for `--dry-run` and the journal.
    pub fn describe(&self) -> Vec<String> {
        let mut out: Vec<String> = self.steps.iter().map(|s| s.to_string()).collect();
        out.extend(self.waits.iter().map(|w| format!("wait: {w}")));
        out.extend(self.blockers.iter().map(|b| format!("blocked: {b}")));
        if out.is_empty() {
            out.push("nothing to do: the cloud already shows the desired state".into());
        }
        out
    }
}

/// Why applying a step did not succeed.
#[derive(Debug)]
pub enum StepError {
    /// The cloud refused for good (a bad parameter, a missing permission or resource): the
    /// run fails with this error.
    Failed(WriteError),
    /// Time may fix it: an async task ended FAILED, or throttling, a 5xx or a busy resource
    /// outlasted the client's retries. The loop reads the cloud again and, while the deadline
    /// allows, plans and retries.
    Retryable(WriteError),
    /// A newer event was recorded: stop without further writes.
    Superseded,
}

/// A write that failed: what it was doing, and the client's error.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct WriteError {
    /// The action, or what the step was doing ("binding EIP … to havip-…").
    pub what: String,
    /// The client's error (its code, RequestId and class).
    pub source: cloud::Error,
}

/// Turns a client error of a write into a step error naming action, code and RequestId:
/// retryable when the client's taxonomy says so or when the write's task ended FAILED (a
/// task failure is the cloud's answer for this attempt, not a verdict on the request).
pub(crate) fn write_error(what: impl Into<String>, source: cloud::Error) -> StepError {
    let retry = source.is_retryable() || matches!(source, cloud::Error::TaskFailed { .. });
    let e = WriteError {
        what: what.into(),
        source,
    };
    if retry {
        StepError::Retryable(e)
    } else {
        StepError::Failed(e)
    }
}

/// Everything a strategy needs while it runs.
pub struct Cx {
    /// The API client, bound to the run's deadline and reporting to the journal.
    pub client: Client,
    /// The run's deadline.
    pub deadline: Instant,
    /// The event this run acts for, when it was recorded (`None`: dry run).
    pub guard: Option<(VipState, u64)>,
}

impl Cx {
    /// The context of one run: `client` bound to `deadline`, reporting its calls to `calls`
    /// (the journal), and guarded by the run's event (`None`: dry runs and planned failovers,
    /// which write nothing).
    pub fn new(
        client: &Client,
        deadline: Instant,
        guard: Option<(VipState, u64)>,
        calls: Option<Arc<CallLog>>,
    ) -> Cx {
        let mut client = client.with_deadline(deadline);
        if let Some(c) = calls {
            client = client.with_observer(c);
        }
        Cx {
            client,
            deadline,
            guard,
        }
    }

    /// Fails with [`StepError::Superseded`] when a newer event was recorded for this VIP.
    pub(crate) fn check_current(&self) -> Result<(), StepError> {
        match &self.guard {
            Some((state, seq)) if state.superseded(*seq) => Err(StepError::Superseded),
            _ => Ok(()),
        }
    }

    /// Time left before the deadline.
    pub(crate) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// One strategy, as the reconcile loop drives it.
#[allow(async_fn_in_trait)] // used with concrete types only; no Send bound needed on dyn
pub trait Strategy {
    /// The cloud state the plan needs.
    type Observed;
    /// One planned action.
    type Step: fmt::Display + Clone + Eq + std::hash::Hash;

    /// Reads the cloud. An error here means UNKNOWN.
    async fn observe(&mut self, cx: &Cx) -> Result<Self::Observed, cloud::Error>;
    /// The pure planning function of this strategy (desired state lives in `self`).
    fn plan(&self, obs: &Self::Observed) -> Plan<Self::Step>;
    /// Performs one step (awaiting its task, if it has one).
    async fn apply(&mut self, cx: &Cx, step: &Self::Step) -> Result<(), StepError>;
    /// Called between reads while the plan waits (e.g. to re-announce the VIP).
    async fn on_wait(&mut self, _cx: &Cx, _round: u32) {}
    /// One sentence describing a confirmed state.
    fn confirmed(&self, obs: &Self::Observed) -> String;
    /// Who the observation shows holding the VIP: the one answer every command uses.
    fn holder(&self, obs: &Self::Observed) -> Holder;
    /// The other nodes allowed to take the VIP (`None`: the cloud does not restrict who).
    fn peers(&self, _obs: &Self::Observed) -> Option<Vec<String>> {
        None
    }
    /// Whether what rides on the VIP (the `havip` strategy's EIP) is in place, each resource
    /// confirmed from its own Describe.
    fn attached(&self, _obs: &Self::Observed) -> bool {
        true
    }
    /// What the observation shows beside the holder (drift range, EIP, a task in flight), for
    /// the views that show or judge more than the holder (`havip status`).
    fn details(&self, _obs: &Self::Observed) -> Details {
        Details::default()
    }
}

/// The end of a strategy run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// How it ended.
    pub verdict: Verdict,
    /// One sentence about it.
    pub message: String,
    /// The first plan, as text.
    pub plan: Vec<String>,
    /// Whether any write was made.
    pub changed: bool,
}

impl Outcome {
    /// An outcome with no plan and no write: it ended before a strategy could act.
    pub(crate) fn without_plan(verdict: Verdict, message: String) -> Outcome {
        Outcome {
            verdict,
            message,
            plan: Vec::new(),
            changed: false,
        }
    }
}

/// How often a step may be applied before its lack of effect counts as a failure: a write the
/// cloud accepts but does not reflect must not loop until the deadline. Writes that failed in a
/// retryable way do not count: they are retried for as long as the deadline allows.
const MAX_APPLY_PER_STEP: u32 = 3;

/// The pause between reads while waiting, and before retrying after a retryable failure.
const PAUSE: Backoff = Backoff {
    initial: Duration::from_millis(200),
    factor: 1.5,
    max: Duration::from_secs(2),
};

/// Drives `s` to the desired state (or just plans, when `dry_run`).
pub(crate) async fn reconcile<S: Strategy>(s: &mut S, cx: &Cx, dry_run: bool) -> Outcome {
    let mut plan_text: Option<Vec<String>> = None;
    let mut changed = false;
    let mut tries: HashMap<S::Step, u32> = HashMap::new();
    let mut round = 0u32;
    let mut pause = PAUSE.pauses();
    // The last retryable failure, reported if the deadline ends the retries.
    let mut last_failure: Option<String> = None;
    let outcome = |verdict, message: String, plan: &Option<Vec<String>>, changed| Outcome {
        verdict,
        message,
        plan: plan.clone().unwrap_or_default(),
        changed,
    };
    loop {
        let obs = match s.observe(cx).await {
            Ok(o) => o,
            Err(e) if e.is_retryable() && cx.remaining() > pause.peek() => {
                // The client's own retries ran out with time left: try again after a pause.
                tracing::warn!("reading the cloud failed, retrying: {e}");
                last_failure = Some(format!("the cloud state cannot be read: {e}"));
                tokio::time::sleep(pause.next_pause()).await;
                continue;
            }
            Err(e) => {
                let what = if changed {
                    "after changes were made, "
                } else {
                    ""
                };
                return outcome(
                    Verdict::Unknown,
                    format!("{what}the cloud state cannot be read: {e}"),
                    &plan_text,
                    changed,
                );
            }
        };
        let plan = s.plan(&obs);
        if plan_text.is_none() {
            plan_text = Some(plan.describe());
            if dry_run {
                return outcome(
                    Verdict::Planned,
                    if plan.is_done() {
                        format!("dry run: {}", s.confirmed(&obs))
                    } else {
                        "dry run: nothing was changed".into()
                    },
                    &plan_text,
                    false,
                );
            }
        }
        if plan.is_done() {
            let mut message = s.confirmed(&obs);
            if let Some(m) = &last_failure {
                message = format!("{message} (after a retried failure: {m})");
            }
            return outcome(Verdict::Confirmed, message, &plan_text, changed);
        }
        if !plan.steps.is_empty() {
            let mut retry = None;
            for step in &plan.steps {
                if tries.get(step).copied().unwrap_or(0) >= MAX_APPLY_PER_STEP {
                    return outcome(
                        Verdict::Failed,
                        format!("{step} was applied {MAX_APPLY_PER_STEP} times without effect"),
                        &plan_text,
                        changed,
                    );
                }
                if let Err(e) = cx.check_current() {
                    return stopped(e, &plan_text, changed);
                }
                match s.apply(cx, step).await {
                    Ok(()) => {
                        changed = true;
                        *tries.entry(step.clone()).or_default() += 1;
                    }
                    Err(StepError::Retryable(e)) => {
                        let m = e.to_string();
                        // The write may have partly happened: read again before anything else.
                        changed = true;
                        retry = Some(m);
                        break;
                    }
                    Err(StepError::Failed(e)) => {
                        let m = e.to_string();
                        // A write whose answer was lost (a timeout, then a retry refused as
                        // "already done") may still have taken effect: one read decides. Only
                        // that read can turn the failure into a confirmation, never the error.
                        if let Ok(obs) = s.observe(cx).await {
                            if s.plan(&obs).is_done() {
                                return outcome(
                                    Verdict::Confirmed,
                                    format!(
                                        "{} (although a write reported: {m})",
                                        s.confirmed(&obs)
                                    ),
                                    &plan_text,
                                    true,
                                );
                            }
                        }
                        return outcome(Verdict::Failed, m, &plan_text, changed);
                    }
                    Err(e) => return stopped(e, &plan_text, changed),
                }
            }
            if let Some(m) = retry {
                let wait = pause.next_pause();
                if cx.remaining() <= wait {
                    return outcome(
                        Verdict::Failed,
                        format!("deadline reached while retrying: {m}"),
                        &plan_text,
                        changed,
                    );
                }
                tracing::warn!("{m}; reading the cloud again and retrying");
                last_failure = Some(m);
                tokio::time::sleep(wait).await;
            }
            // Read back at once: the next observation verifies what was just applied.
            continue;
        }
        if !plan.blockers.is_empty() {
            return outcome(
                Verdict::Failed,
                plan.blockers.join("; "),
                &plan_text,
                changed,
            );
        }
        // Only waits remain.
        if cx.remaining() <= pause.peek() {
            let mut message = format!("deadline reached while waiting: {}", plan.waits.join("; "));
            if let Some(m) = &last_failure {
                message = format!("{message} (earlier: {m})");
            }
            return outcome(Verdict::Failed, message, &plan_text, changed);
        }
        if let Err(e) = cx.check_current() {
            return stopped(e, &plan_text, changed);
        }
        s.on_wait(cx, round).await;
        round += 1;
        tokio::time::sleep(pause.next_pause()).await;
    }
}

fn stopped(e: StepError, plan: &Option<Vec<String>>, changed: bool) -> Outcome {
    let (verdict, message) = match e {
        StepError::Failed(e) | StepError::Retryable(e) => (Verdict::Failed, e.to_string()),
        StepError::Superseded => (
            Verdict::Superseded,
            "a newer keepalived event arrived; this run stopped before its next write".into(),
        ),
    };
    Outcome {
        verdict,
        message,
        plan: plan.clone().unwrap_or_default(),
        changed,
    }
}

/// Local bookkeeping that could not be done in one run (state file, lock, journal). It never
/// stops the run: the cloud still follows keepalived, and the run reports what was lost.
#[derive(Debug, Default)]
pub struct LocalTrouble {
    notes: Mutex<Vec<String>>,
}

impl LocalTrouble {
    /// Records one problem (each distinct message once).
    pub fn note(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::warn!("local bookkeeping: {message}");
        let mut v = self.notes.lock().unwrap_or_else(|p| p.into_inner());
        if !v.contains(&message) {
            v.push(message);
        }
    }

    /// The problems noted so far.
    pub(crate) fn notes(&self) -> Vec<String> {
        self.notes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Appends `line` to `journal`; when that fails, the line goes to stderr and syslog and the
    /// failure is noted.
    pub fn journal<T: serde::Serialize>(&self, journal: &Journal, line: &T) {
        if let Err(e) = journal.append_line(line) {
            self.note(format!("journal not written: {e}"));
            crate::journal::fallback(&serde_json::to_string(line).unwrap_or_default());
        }
    }
}

/// Who a run's writes are journaled for.
#[derive(Debug, Clone)]
pub(crate) struct WriteJournal {
    /// The journal file.
    pub journal: Journal,
    /// The VIP name.
    pub vip: String,
    /// The run: `<pid>-<start in unix ms>`.
    pub run: String,
    /// The keepalived event, if recorded.
    pub seq: Option<u64>,
    /// Where journal failures are noted.
    pub trouble: Arc<LocalTrouble>,
}

/// A new run identifier: this process and the moment it started.
pub(crate) fn run_id() -> String {
    format!("{}-{}", std::process::id(), Utc::now().timestamp_millis())
}

/// Collects the API calls of one run for the journal (one entry per call, retries included)
/// and, when given a [`WriteJournal`], journals every write twice: its intent, fsynced before
/// the request is sent, and its outcome when the call ends. A run killed in between leaves the
/// intent behind for the next run to report.
#[derive(Debug, Default)]
pub struct CallLog {
    calls: Mutex<Vec<CallEntry>>,
    writes: Option<WriteJournal>,
    /// Intents written and not yet closed: (action, n).
    open: Mutex<Vec<(String, u64)>>,
    next: AtomicU64,
}

impl CallLog {
    /// A new, empty log, shared with the client, that journals nothing itself.
    pub fn new() -> Arc<CallLog> {
        Arc::new(CallLog::default())
    }

    /// A log that also journals the intent and outcome of every write.
    pub(crate) fn journaling(writes: WriteJournal) -> Arc<CallLog> {
        Arc::new(CallLog {
            writes: Some(writes),
            ..CallLog::default()
        })
    }

    /// Takes the calls recorded so far.
    pub fn take(&self) -> Vec<CallEntry> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl CallObserver for CallLog {
    fn before_call(&self, _service: &str, action: &str, mutating: bool) {
        let Some(w) = &self.writes else { return };
        if !mutating {
            return;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let rec = WriteRecord {
            time: Utc::now(),
            write: WritePhase::Intent,
            vip: w.vip.clone(),
            run: w.run.clone(),
            seq: w.seq,
            n,
            action: action.to_string(),
            request_id: None,
            outcome: None,
            attempts: None,
        };
        w.trouble.journal(&w.journal, &rec);
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((action.to_string(), n));
    }

    fn on_call(&self, rec: &CallRecord) {
        let duration = chrono::Duration::from_std(rec.duration).unwrap_or_default();
        let outcome = rec.outcome.as_str().to_owned();
        let mutating = rec.mutating;
        if let (Some(w), true) = (&self.writes, mutating) {
            let n = {
                let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
                open.iter()
                    .position(|(a, _)| *a == rec.action)
                    .map(|i| open.remove(i).1)
            };
            if let Some(n) = n {
                let out = WriteRecord {
                    time: Utc::now(),
                    write: WritePhase::Outcome,
                    vip: w.vip.clone(),
                    run: w.run.clone(),
                    seq: w.seq,
                    n,
                    action: rec.action.clone(),
                    request_id: rec.request_id.clone(),
                    outcome: Some(outcome.clone()),
                    attempts: Some(rec.attempts),
                };
                w.trouble.journal(&w.journal, &out);
            }
        }
        // Only the action, RequestId, timing and outcome: parameters are left out so nothing
        // the caller passed can reach the journal.
        let entry = CallEntry {
            action: rec.action.clone(),
            request_id: rec.request_id.clone(),
            start: Utc::now() - duration,
            duration_ms: rec.duration.as_millis() as u64,
            attempts: rec.attempts,
            outcome,
            mutating,
        };
        self.calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A strategy over a scripted sequence of observations, to test the loop itself.
    struct Scripted {
        obs: Vec<Result<u32, ()>>,
        applied: Vec<String>,
        fail_apply: bool,
    }

    #[derive(Clone, PartialEq, Eq, Hash)]
    struct Step(&'static str);
    impl fmt::Display for Step {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Strategy for Scripted {
        type Observed = u32;
        type Step = Step;
        async fn observe(&mut self, _cx: &Cx) -> Result<u32, cloud::Error> {
            // Running out of script reads as an unreadable cloud.
            let next = if self.obs.is_empty() {
                Err(())
            } else {
                self.obs.remove(0)
            };
            match next {
                Ok(v) => Ok(v),
                Err(()) => Err(cloud::Error::Transport {
                    message: "connection refused".into(),
                    timed_out: false,
                }),
            }
        }
        // 0: done; 1: one write needed; 2: waiting; 3: blocked.
        fn plan(&self, obs: &u32) -> Plan<Step> {
            let mut p = Plan::default();
            match obs {
                0 => {}
                1 => p.steps.push(Step("write")),
                2 => p.waits.push("announcement".into()),
                _ => p.blockers.push("conflict".into()),
            }
            p
        }
        async fn apply(&mut self, _cx: &Cx, step: &Step) -> Result<(), StepError> {
            self.applied.push(step.to_string());
            if self.fail_apply {
                Err(write_error(
                    "AssociateHaVipInstance",
                    cloud::Error::Api {
                        code: "InvalidParameter".into(),
                        message: "refused".into(),
                        request_id: None,
                    },
                ))
            } else {
                Ok(())
            }
        }
        fn confirmed(&self, _obs: &u32) -> String {
            "ok".into()
        }
        fn holder(&self, obs: &u32) -> Holder {
            match obs {
                0 => Holder::ThisNode(Seat::new("ins-me", "")),
                _ => Holder::Nobody,
            }
        }
    }

    fn cx(secs: u64) -> Cx {
        let client = Client::new(
            cloud::ClientConfig::default(),
            Arc::new(cloud::StaticProvider::new(
                cloud::Credentials::new("AKIDtest", "key").unwrap(),
                "test",
            )),
        )
        .unwrap();
        Cx {
            client,
            deadline: Instant::now() + Duration::from_secs(secs),
            guard: None,
        }
    }

    fn run(
        obs: Vec<Result<u32, ()>>,
        fail_apply: bool,
        dry: bool,
        secs: u64,
    ) -> (Outcome, Vec<String>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let mut s = Scripted {
            obs,
            applied: Vec::new(),
            fail_apply,
        };
        let o = rt.block_on(reconcile(&mut s, &cx(secs), dry));
        (o, s.applied)
    }

    #[test]
    fn loop_outcomes() {
        // (what, observations, apply fails, dry run, verdict, writes, changed)
        type Case = (
            &'static str,
            Vec<Result<u32, ()>>,
            bool,
            bool,
            Verdict,
            usize,
            bool,
        );
        let cases: Vec<Case> = vec![
            (
                "already correct: one read",
                vec![Ok(0)],
                false,
                false,
                Verdict::Confirmed,
                0,
                false,
            ),
            (
                "write then confirm",
                vec![Ok(1), Ok(0)],
                false,
                false,
                Verdict::Confirmed,
                1,
                true,
            ),
            (
                "wait then confirm",
                vec![Ok(2), Ok(2), Ok(0)],
                false,
                false,
                Verdict::Confirmed,
                0,
                false,
            ),
            (
                "unreadable is unknown",
                vec![Err(())],
                false,
                false,
                Verdict::Unknown,
                0,
                false,
            ),
            (
                "unreadable after write",
                vec![Ok(1), Err(())],
                false,
                false,
                Verdict::Unknown,
                1,
                true,
            ),
            (
                "blocked fails",
                vec![Ok(3)],
                false,
                false,
                Verdict::Failed,
                0,
                false,
            ),
            (
                "refused write fails",
                vec![Ok(1)],
                true,
                false,
                Verdict::Failed,
                1,
                false,
            ),
            (
                "ineffective write gives up",
                vec![Ok(1); 5],
                false,
                false,
                Verdict::Failed,
                3,
                true,
            ),
            (
                "dry run plans only",
                vec![Ok(1)],
                false,
                true,
                Verdict::Planned,
                0,
                false,
            ),
        ];
        for (what, obs, fail, dry, verdict, writes, changed) in cases {
            let first_read_ok = obs[0].is_ok();
            let (o, applied) = run(obs, fail, dry, 30);
            assert_eq!(o.verdict, verdict, "{what}: {o:?}");
            assert_eq!(applied.len(), writes, "{what}");
            assert_eq!(o.changed, changed, "{what}");
            assert_eq!(
                !o.plan.is_empty(),
                first_read_ok,
                "{what}: the first plan is kept"
            );
        }
    }

    #[test]
    fn waiting_past_the_deadline_fails_and_names_the_wait() {
        let (o, _) = run(vec![Ok(2); 100], false, false, 3);
        assert_eq!(o.verdict, Verdict::Failed);
        assert!(o.message.contains("announcement"), "{}", o.message);
    }
}
