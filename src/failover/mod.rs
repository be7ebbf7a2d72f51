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
pub mod havip;
pub mod node;
pub mod private_ip;
pub mod run;
pub mod setup;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use crate::cloud::{self, CallObserver, CallRecord, Client};
use crate::journal::{CallEntry, Verdict};
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
    pub fn is_done(&self) -> bool {
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
    /// The cloud refused or the task failed: the run fails with this message.
    Failed(String),
    /// A newer event was recorded: stop without further writes.
    Superseded,
}

/// Turns a client error of a write into a failure message, naming action, code and RequestId.
pub fn write_error(action: &str, e: &cloud::Error) -> StepError {
    StepError::Failed(format!("{action}: {e}"))
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
    /// Fails with [`StepError::Superseded`] when a newer event was recorded for this VIP.
    pub fn check_current(&self) -> Result<(), StepError> {
        match &self.guard {
            Some((state, seq)) if state.superseded(*seq) => Err(StepError::Superseded),
            _ => Ok(()),
        }
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// One strategy, as the reconcile loop drives it.
#[allow(async_fn_in_trait)] // used with concrete types only; no Send bound needed on dyn
pub trait Strategy {
    /// The cloud state the plan needs.
    type Observed;
    /// One planned action.
    type Step: fmt::Display + Clone;

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

/// How often a step may be applied before its lack of effect counts as a failure: a write the
/// cloud accepts but does not reflect must not loop until the deadline.
const MAX_APPLY_PER_STEP: u32 = 3;

/// Drives `s` to the desired state (or just plans, when `dry_run`).
pub async fn reconcile<S: Strategy>(s: &mut S, cx: &Cx, dry_run: bool) -> Outcome {
    let mut plan_text: Option<Vec<String>> = None;
    let mut changed = false;
    let mut tries: HashMap<String, u32> = HashMap::new();
    let mut round = 0u32;
    let mut pause = Duration::from_millis(200);
    let outcome = |verdict, message: String, plan: &Option<Vec<String>>, changed| Outcome {
        verdict,
        message,
        plan: plan.clone().unwrap_or_default(),
        changed,
    };
    loop {
        let obs = match s.observe(cx).await {
            Ok(o) => o,
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
            return outcome(Verdict::Confirmed, s.confirmed(&obs), &plan_text, changed);
        }
        if !plan.steps.is_empty() {
            for step in &plan.steps {
                let key = step.to_string();
                let n = tries.entry(key.clone()).or_default();
                *n += 1;
                if *n > MAX_APPLY_PER_STEP {
                    return outcome(
                        Verdict::Failed,
                        format!("{key} was applied {MAX_APPLY_PER_STEP} times without effect"),
                        &plan_text,
                        changed,
                    );
                }
                if let Err(e) = cx.check_current() {
                    return stopped(e, &plan_text, changed);
                }
                match s.apply(cx, step).await {
                    Ok(()) => changed = true,
                    Err(StepError::Failed(m)) => {
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
                        return stopped(StepError::Failed(m), &plan_text, changed);
                    }
                    Err(e) => return stopped(e, &plan_text, changed),
                }
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
        if cx.remaining() <= pause {
            return outcome(
                Verdict::Failed,
                format!("deadline reached while waiting: {}", plan.waits.join("; ")),
                &plan_text,
                changed,
            );
        }
        if let Err(e) = cx.check_current() {
            return stopped(e, &plan_text, changed);
        }
        s.on_wait(cx, round).await;
        round += 1;
        tokio::time::sleep(pause).await;
        pause = (pause * 3 / 2).min(Duration::from_secs(2));
    }
}

fn stopped(e: StepError, plan: &Option<Vec<String>>, changed: bool) -> Outcome {
    let (verdict, message) = match e {
        StepError::Failed(m) => (Verdict::Failed, m),
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

/// Collects the API calls of one run for the journal (one entry per call, retries included).
#[derive(Debug, Default)]
pub struct CallLog {
    calls: Mutex<Vec<CallEntry>>,
}

impl CallLog {
    /// A new, empty log, shared with the client.
    pub fn new() -> Arc<CallLog> {
        Arc::new(CallLog::default())
    }

    /// Takes the calls recorded so far.
    pub fn take(&self) -> Vec<CallEntry> {
        match self.calls.lock() {
            Ok(mut v) => std::mem::take(&mut *v),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }
}

impl CallObserver for CallLog {
    fn on_call(&self, rec: &CallRecord) {
        let duration = chrono::Duration::from_std(rec.duration).unwrap_or_default();
        // Only the action, RequestId, timing and outcome: parameters are left out so nothing
        // the caller passed can reach the journal.
        let entry = CallEntry {
            action: rec.action.clone(),
            request_id: rec.request_id.clone(),
            start: Utc::now() - duration,
            duration_ms: rec.duration.as_millis() as u64,
            attempts: rec.attempts,
            outcome: match &rec.outcome {
                Ok(()) => "ok".into(),
                Err(code) => code.clone(),
            },
            mutating: !rec.action.starts_with("Describe"),
        };
        match self.calls.lock() {
            Ok(mut v) => v.push(entry),
            Err(p) => p.into_inner().push(entry),
        }
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

    #[derive(Clone)]
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
                Err(StepError::Failed("refused".into()))
            } else {
                Ok(())
            }
        }
        fn confirmed(&self, _obs: &u32) -> String {
            "ok".into()
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
