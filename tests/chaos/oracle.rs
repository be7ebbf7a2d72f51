//! The oracle: after each run, the invariants over tcsim's state and request log, the node's
//! journal and the webhook's alerts. It reads the journal without assuming its record layout:
//! any JSON object carrying an `action` and a numeric `attempts` is a call entry, wherever it
//! sits, and RequestIds are searched in the file's text — so intent/outcome records, or any
//! other arrangement, are judged the same way.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::harness::{Observation, ENI21};
use super::scenario::Scenario;
use crate::support::sim::{find_by, EIP, EIP_ID, HAVIP, NODE21};

/// How much longer than its deadline a run may take: process start, the journal's fsync and
/// the failure alert (invariant 4).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3);

/// A run that exits 1 with more than this much of its deadline unused gave up early
/// (invariant 6). It is longer than anything the engine may legitimately leave unused: one wait
/// round (at most 2 s) or a backoff that would overrun the deadline (at most 1 s for the two
/// faults a recoverable run may have per action).
pub const EARLY_GIVE_UP: Duration = Duration::from_millis(2500);

pub const INVARIANTS: [&str; 6] = [
    "exit 0 only when the cloud shows .21 holding the HAVIP, the EIP BIND on it, no task in flight",
    "every mutating request in tcsim's log is accounted for in the journal",
    "every exit 1 sent a failure alert",
    "the run ended within its deadline plus grace",
    "exit 0 or 1 only (no 2, signal or panic), no secret in any output",
    "a recoverable run (transient, small faults; room in the deadline) never gives up early",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// 1-based, as in [`INVARIANTS`].
    pub invariant: usize,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invariant {}: {}", self.invariant, self.detail)
    }
}

/// Every invariant the run broke. A run the scenario killed is judged only on what a killed
/// process still owes: its writes accounted for in the journal (2) and no secret anywhere (5).
pub fn judge(sc: &Scenario, obs: &Observation, grace: Duration) -> Vec<Violation> {
    let mut v = Vec::new();
    let mut flag = |invariant: usize, detail: String| v.push(Violation { invariant, detail });
    let ran_its_course = !obs.chaos_killed;

    // 1. A success is a true success.
    if obs.code == Some(0) {
        let problems = cloud_problems(&obs.state);
        if !problems.is_empty() {
            flag(
                1,
                format!("exit 0, but the cloud shows: {}", problems.join("; ")),
            );
        }
    }

    // 2. Every mutating request is in the journal.
    for d in accounting_problems(obs) {
        flag(2, d);
    }

    // 3. A failure alerts.
    if obs.code == Some(1) && !obs.alerts.iter().any(|a| a["kind"] == "failure") {
        let kinds: Vec<String> = obs.alerts.iter().map(|a| a["kind"].to_string()).collect();
        flag(
            3,
            format!(
                "exit 1 without a failure alert (alerts received: [{}])",
                kinds.join(", ")
            ),
        );
    }

    // 4. Within the deadline.
    let limit = Duration::from_secs(sc.deadline_s) + grace;
    if ran_its_course && (obs.elapsed > limit || obs.killed) {
        flag(
            4,
            format!(
                "ran {:.1}s, beyond its deadline {}s + {:.1}s grace{}",
                obs.elapsed.as_secs_f64(),
                sc.deadline_s,
                grace.as_secs_f64(),
                if obs.killed { " (killed)" } else { "" }
            ),
        );
    }

    // 5. Exit codes, panics, secrets.
    match obs.code {
        Some(0 | 1) => {}
        Some(c) => flag(5, format!("exit {c}: {}", quote(obs, &obs.stderr))),
        None if ran_its_course => flag(5, "killed by a signal".into()),
        None => {}
    }
    if obs.stderr.contains("panicked at") || obs.stdout.contains("panicked at") {
        flag(5, format!("panic: {}", quote(obs, &obs.stderr)));
    }
    let alerts = serde_json::to_string(&obs.alerts).unwrap_or_default();
    for (name, value) in &obs.secrets {
        if value.is_empty() {
            continue;
        }
        for (where_, text) in [
            ("stdout", &obs.stdout),
            ("stderr", &obs.stderr),
            ("the journal", &obs.journal),
            ("an alert", &alerts),
        ] {
            if text.contains(value.as_str()) {
                flag(5, format!("the {name} appears in {where_}"));
            }
        }
    }
    for (where_, text) in [
        ("stdout", &obs.stdout),
        ("stderr", &obs.stderr),
        ("the journal", &obs.journal),
        ("an alert", &alerts),
    ] {
        if text.contains("TC3-HMAC-SHA256 Credential=") {
            flag(5, format!("an Authorization header appears in {where_}"));
        }
    }

    // 6. No early give-up when the faults were transient.
    if sc.recoverable
        && obs.code == Some(1)
        && obs.elapsed + EARLY_GIVE_UP < Duration::from_secs(sc.deadline_s)
    {
        flag(
            6,
            format!(
                "gave up after {:.1}s of a {}s deadline: {}",
                obs.elapsed.as_secs_f64(),
                sc.deadline_s,
                quote(obs, &obs.stderr)
            ),
        );
    }
    v
}

/// What keeps the cloud from the desired state (empty: it is there).
pub fn cloud_problems(state: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let h = find_by(state, "havips", HAVIP);
    let (inst, eni) = (&h["instance_id"], &h["eni_id"]);
    if *inst != NODE21 || *eni != ENI21 {
        p.push(format!("HAVIP held by {inst}/{eni}"));
    }
    let eip = state["addresses"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["ip"] == EIP))
        .cloned()
        .unwrap_or(Value::Null);
    if eip["status"] != "BIND" {
        p.push(format!("EIP {EIP} is {}", eip["status"]));
    }
    if eip["binding"]["type"] != "havip" || eip["binding"]["havip_id"] != HAVIP {
        p.push(format!("EIP {EIP} bound to {}", eip["binding"]));
    }
    for t in state["tasks"].as_array().into_iter().flatten() {
        let ours = t["resources"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| *x == HAVIP || *x == EIP_ID));
        if t["status"] == "RUNNING" && ours {
            p.push(format!(
                "{} task {} still RUNNING",
                t["action"], t["task_id"]
            ));
        }
    }
    p
}

/// Call entries anywhere in the journal: every object with an `action` string and a numeric
/// `attempts`. Returns, per action, (attempts, attempts whose RequestId the entry does not
/// carry). Each entry carries at most one RequestId (the answered attempt); its other attempts
/// failed or went unanswered.
///
/// Write records (`"write": "intent"|"outcome"`, journaled around each write) are not counted
/// twice: a write's attempts are in its run's call entries, and its outcome counts only when
/// its run was killed before writing them. An intent with no outcome and no run record (a run
/// killed mid-call) accounts for any number of that action's requests, all unanswered: the
/// journal says the write was made and that its answer is unknown, which is the most anyone
/// can know.
pub fn journal_attempts(journal: &str) -> BTreeMap<String, (u64, u64)> {
    fn walk(v: &Value, out: &mut BTreeMap<String, (u64, u64)>) {
        match v {
            Value::Object(m) => {
                if let (Some(a), Some(n)) = (
                    m.get("action").and_then(Value::as_str),
                    m.get("attempts").and_then(Value::as_u64),
                ) {
                    let has_id = m
                        .get("request_id")
                        .and_then(Value::as_str)
                        .is_some_and(|s| !s.is_empty());
                    let e = out.entry(a.to_string()).or_default();
                    e.0 += n;
                    e.1 += n.saturating_sub(u64::from(has_id));
                }
                m.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    // (run, n) → action, for intents not (yet) closed by an outcome.
    let mut open: BTreeMap<(String, u64), String> = BTreeMap::new();
    // Outcomes, counted only for runs that never wrote their run record.
    let mut outcomes: Vec<(String, Value)> = Vec::new();
    let mut closed_runs: Vec<String> = Vec::new();
    for line in journal.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            // An unparsable line accounts for nothing; the counts below then show it.
            continue;
        };
        let key = || {
            (
                v["run"].as_str().unwrap_or_default().to_string(),
                v["n"].as_u64().unwrap_or_default(),
            )
        };
        match v["write"].as_str() {
            Some("intent") => {
                open.insert(key(), v["action"].as_str().unwrap_or_default().to_string());
            }
            Some(_) => {
                open.remove(&key());
                outcomes.push((key().0, v.clone()));
            }
            None => {
                if let Some(run) = v["run"].as_str() {
                    closed_runs.push(run.to_string());
                }
                walk(&v, &mut out);
            }
        }
    }
    for (run, v) in &outcomes {
        if !closed_runs.contains(run) {
            walk(v, &mut out);
        }
    }
    for ((run, _), action) in open {
        if !closed_runs.contains(&run) {
            out.insert(action, (u64::MAX, u64::MAX));
        }
    }
    out
}

/// Invariant 2: for each mutating action, tcsim logged no more requests than the journal's
/// attempts; every successful one's RequestId is in the journal, except as many as there were
/// attempts without a recorded answer (a request the server completed after the client gave
/// up: nobody can know its RequestId). The harness's own calls are left out.
pub fn accounting_problems(obs: &Observation) -> Vec<String> {
    let mut logged: BTreeMap<String, u64> = BTreeMap::new();
    let mut unmatched: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &obs.requests {
        let Some(action) = r["action"].as_str() else {
            continue;
        };
        if action.starts_with("Describe") {
            continue;
        }
        let id = r["request_id"].as_str().unwrap_or("");
        if obs.harness.request_ids.iter().any(|h| h == id) {
            continue;
        }
        *logged.entry(action.to_string()).or_default() += 1;
        if r["code"].is_null() && !id.is_empty() && !obs.journal.contains(id) {
            unmatched
                .entry(action.to_string())
                .or_default()
                .push(id.to_string());
        }
    }
    // A harness request that got no RequestId back cannot be told from havip's: discount it
    // from the count, and allow one more unmatched success for it.
    let mut unidentified: BTreeMap<String, u64> = BTreeMap::new();
    for (action, sent) in &obs.harness.per_action {
        let identified = obs
            .requests
            .iter()
            .filter(|r| {
                r["action"] == action.as_str()
                    && obs
                        .harness
                        .request_ids
                        .iter()
                        .any(|h| r["request_id"] == h.as_str())
            })
            .count() as u64;
        let n = sent.saturating_sub(identified);
        if n > 0 {
            unidentified.insert(action.clone(), n);
            if let Some(l) = logged.get_mut(action) {
                *l = l.saturating_sub(n);
            }
        }
    }
    let journal = journal_attempts(&obs.journal);
    let mut p = Vec::new();
    for (action, n) in &logged {
        let (attempts, _) = journal.get(action).copied().unwrap_or((0, 0));
        if *n > attempts {
            p.push(format!(
                "tcsim logged {n} {action} request(s), the journal accounts for {attempts} attempt(s)"
            ));
        }
    }
    for (action, ids) in &unmatched {
        let (_, unanswered) = journal.get(action).copied().unwrap_or((0, 0));
        let allowed = unanswered.saturating_add(unidentified.get(action).copied().unwrap_or(0));
        if ids.len() as u64 > allowed {
            p.push(format!(
                "successful {action} RequestId(s) missing from the journal: {}",
                ids.join(", ")
            ));
        }
    }
    p
}

/// The first line of `s`, shortened, with the run's secrets blanked (a violation report must
/// not repeat a leak).
fn quote(obs: &Observation, s: &str) -> String {
    obs.secrets
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .fold(first_line(s), |t, (_, v)| {
            t.replace(v.as_str(), "** redacted **")
        })
}

fn first_line(s: &str) -> String {
    let line = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let mut out: String = line.chars().take(240).collect();
    if line.chars().count() > 240 {
        out.push('…');
    }
    out
}
