//! The chaos campaign: many `havip notify MASTER` runs, each against a fresh tcsim with faults
//! drawn from a seeded RNG, each judged by an oracle over the cloud's state, tcsim's request
//! log, the journal and the alerts. `make chaos` runs 1,000; `make test` runs 100.
//!
//! `CHAOS_RUNS` (default 100), `CHAOS_SEED` (default 1; `random` for a fresh one),
//! `CHAOS_ONLY=N` (replay run N alone, with everything it saw), `CHAOS_WORKERS` (default 4),
//! `CHAOS_GRACE_MS` (invariant 4's grace, default 3000), `CHAOS_VERBOSE=1` (a line per run),
//! `CHAOS_LIST=1` (print the scenarios without running them).
//! The README's "Chaos campaign" section explains the table and the invariants.

mod support;

#[path = "chaos/harness.rs"]
mod harness;
#[path = "chaos/oracle.rs"]
mod oracle;
#[path = "chaos/scenario.rs"]
mod scenario;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use harness::Observation;
use oracle::{Violation, INVARIANTS};
use scenario::{Kind, Scenario};
use support::server::{Behaviour, Receiver};

/// The campaign's knobs, from the environment.
struct Knobs {
    runs: u64,
    seed: u64,
    only: Option<u64>,
    workers: usize,
    grace: Duration,
    verbose: bool,
}

impl Knobs {
    fn from_env() -> Knobs {
        let num = |name: &str| -> Option<u64> {
            std::env::var(name).ok().map(|v| {
                v.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
            })
        };
        let seed = match std::env::var("CHAOS_SEED") {
            Ok(v) if v.trim() == "random" => {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock after 1970")
                    .as_nanos() as u64
                    % 1_000_000_000
            }
            Ok(v) => v
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("CHAOS_SEED={v:?} is neither a number nor random")),
            Err(_) => 1,
        };
        Knobs {
            runs: num("CHAOS_RUNS").unwrap_or(100),
            seed,
            only: num("CHAOS_ONLY"),
            workers: num("CHAOS_WORKERS").unwrap_or(4).max(1) as usize,
            grace: num("CHAOS_GRACE_MS")
                .map(Duration::from_millis)
                .unwrap_or(oracle::DEFAULT_GRACE),
            verbose: std::env::var("CHAOS_VERBOSE").is_ok_and(|v| v == "1"),
        }
    }

    /// The command that replays one run alone.
    fn replay(&self, run: u64) -> String {
        let release = if cfg!(debug_assertions) {
            ""
        } else {
            " --release"
        };
        format!(
            "CHAOS_SEED={} CHAOS_ONLY={run} cargo test{release} --test chaos -- --nocapture",
            self.seed
        )
    }
}

/// One judged run.
struct Outcome {
    sc: Scenario,
    obs: Observation,
    violations: Vec<Violation>,
}

#[test]
fn chaos_campaign() {
    let k = Knobs::from_env();
    if let Some(run) = k.only {
        replay_one(&k, run);
        return;
    }
    if std::env::var("CHAOS_LIST").is_ok_and(|v| v == "1") {
        for run in 0..k.runs {
            println!("{}", Scenario::draw(k.seed, run).describe());
        }
        return;
    }
    let started = Instant::now();
    println!(
        "chaos: {} runs, seed {}, {} workers",
        k.runs, k.seed, k.workers
    );
    let next = AtomicU64::new(0);
    let results: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..k.workers {
            s.spawn(|| {
                let hook = Receiver::start(Behaviour::ok("{}"));
                loop {
                    let run = next.fetch_add(1, Ordering::SeqCst);
                    if run >= k.runs {
                        break;
                    }
                    let sc = Scenario::draw(k.seed, run);
                    let obs = harness::execute(&sc, &hook);
                    let violations = oracle::judge(&sc, &obs, k.grace);
                    if k.verbose || !violations.is_empty() {
                        println!(
                            "run {run}: exit {:?} in {:.1}s [{}]{}",
                            obs.code,
                            obs.elapsed.as_secs_f64(),
                            labels(&sc),
                            if violations.is_empty() {
                                String::new()
                            } else {
                                format!(" — {} violation(s)", violations.len())
                            }
                        );
                    }
                    let mut r = results.lock().expect("results");
                    r.push(Outcome {
                        sc,
                        obs,
                        violations,
                    });
                    let n = r.len() as u64;
                    if !k.verbose && n % (k.runs / 10).max(1) == 0 {
                        println!(
                            "chaos: {n}/{} runs, {:.0}s",
                            k.runs,
                            started.elapsed().as_secs_f64()
                        );
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|o| o.sc.run);
    let wall = started.elapsed();
    print!("{}", table(&results));
    let total: usize = results.iter().map(|o| o.violations.len()).sum();
    let bad: Vec<&Outcome> = results
        .iter()
        .filter(|o| !o.violations.is_empty())
        .collect();
    println!(
        "chaos: {} runs, seed {}, {total} violation(s) in {} run(s), wall time {:.1}s",
        results.len(),
        k.seed,
        bad.len(),
        wall.as_secs_f64()
    );
    for o in &bad {
        println!("\n{}", o.sc.describe());
        for v in &o.violations {
            println!("  {v}");
        }
        println!("  replay: {}", k.replay(o.sc.run));
    }
    assert_eq!(
        total,
        0,
        "{total} invariant violation(s) in {} of {} runs (seed {}); each is listed above with its replay command",
        bad.len(),
        results.len(),
        k.seed
    );
}

/// `CHAOS_ONLY=N`: one run, with everything the oracle saw.
fn replay_one(k: &Knobs, run: u64) {
    let sc = Scenario::draw(k.seed, run);
    println!("{}", sc.describe());
    let hook = Receiver::start(Behaviour::ok("{}"));
    let obs = harness::execute(&sc, &hook);
    let violations = oracle::judge(&sc, &obs, k.grace);
    println!(
        "exit {:?} after {:.2}s{}",
        obs.code,
        obs.elapsed.as_secs_f64(),
        if obs.killed { " (killed)" } else { "" }
    );
    println!("timeline as played:");
    for p in &obs.played {
        println!("  {p}");
    }
    // What the node printed is shown as it was, except for secrets: a leak is reported by
    // invariant 5 and must not be repeated here.
    let redact = |text: &str| {
        obs.secrets.iter().fold(text.to_string(), |t, (_, v)| {
            if v.is_empty() {
                t
            } else {
                t.replace(v.as_str(), "** redacted **")
            }
        })
    };
    println!("--- stdout ---\n{}", redact(obs.stdout.trim_end()));
    println!("--- stderr ---\n{}", redact(obs.stderr.trim_end()));
    println!("--- journal ---\n{}", redact(obs.journal.trim_end()));
    println!("--- alerts ---");
    for a in &obs.alerts {
        println!("  {} {}", a["kind"], redact(&a["message"].to_string()));
    }
    println!("--- tcsim request log (action, code, RequestId) ---");
    for r in &obs.requests {
        println!("  {} {} {}", r["action"], r["code"], r["request_id"]);
    }
    println!("--- cloud ---");
    let problems = oracle::cloud_problems(&obs.state);
    if problems.is_empty() {
        println!("  desired state: .21 holds the HAVIP, EIP BIND on it, no task in flight");
    }
    for p in problems {
        println!("  {p}");
    }
    println!("--- verdict ---");
    for v in &violations {
        println!("  {v}");
    }
    assert!(
        violations.is_empty(),
        "{} violation(s) in run {run} (seed {})",
        violations.len(),
        k.seed
    );
    println!("  no violation");
}

fn labels(sc: &Scenario) -> String {
    sc.kinds
        .iter()
        .map(|k| k.label())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Outcomes by fault kind (a run counts once under each kind it drew), then the total.
fn table(results: &[Outcome]) -> String {
    #[derive(Default)]
    struct Row {
        runs: u64,
        exit0: u64,
        exit1: u64,
        other: u64,
        per: [u64; 6],
    }
    let add = |row: &mut Row, o: &Outcome| {
        row.runs += 1;
        match o.obs.code {
            Some(0) => row.exit0 += 1,
            Some(1) => row.exit1 += 1,
            _ => row.other += 1,
        }
        for i in 1..=6 {
            if o.violations.iter().any(|v| v.invariant == i) {
                row.per[i - 1] += 1;
            }
        }
    };
    let mut rows: BTreeMap<Kind, Row> = BTreeMap::new();
    let mut total = Row::default();
    for o in results {
        for k in &o.sc.kinds {
            add(rows.entry(*k).or_default(), o);
        }
        add(&mut total, o);
    }
    let mut out = String::new();
    out += "\ninvariants:\n";
    for (i, text) in INVARIANTS.iter().enumerate() {
        out += &format!("  {}. {text}\n", i + 1);
    }
    out += &format!(
        "\n{:<18} {:>5} {:>6} {:>6} {:>6} {:>4} {:>4} {:>4} {:>4} {:>4} {:>4}\n",
        "fault kind", "runs", "exit 0", "exit 1", "other", "v1", "v2", "v3", "v4", "v5", "v6"
    );
    let line = |name: &str, r: &Row| {
        format!(
            "{:<18} {:>5} {:>6} {:>6} {:>6} {:>4} {:>4} {:>4} {:>4} {:>4} {:>4}\n",
            name,
            r.runs,
            r.exit0,
            r.exit1,
            r.other,
            r.per[0],
            r.per[1],
            r.per[2],
            r.per[3],
            r.per[4],
            r.per[5]
        )
    };
    for k in std::iter::once(Kind::Baseline).chain(Kind::FAULTS) {
        if let Some(r) = rows.get(&k) {
            out += &line(k.label(), r);
        }
    }
    out += &line("all runs", &total);
    out += "(v1…v6: runs breaking that invariant; a run counts under each kind it drew)\n";
    // How close the slowest run came to invariant 4's limit.
    if let Some(o) = results
        .iter()
        .filter(|o| !o.obs.chaos_killed)
        .max_by_key(|o| {
            o.obs
                .elapsed
                .saturating_sub(Duration::from_secs(o.sc.deadline_s))
        })
    {
        let over = o.obs.elapsed.as_secs_f64() - o.sc.deadline_s as f64;
        out += &format!(
            "largest overrun of a deadline: {over:+.2}s (run {}, deadline {}s)\n",
            o.sc.run, o.sc.deadline_s
        );
    }
    out
}

/// The oracle and the generator, checked on their own: a violation must be a real one, and a
/// real one must not slip through.
mod oracle_checks {
    use std::time::Duration;

    use serde_json::{json, Value};
    use tcsim::testing::SimHandle;

    use super::harness::{install_faults, signed_call, HarnessCalls, Observation};
    use super::oracle::{judge, Violation, DEFAULT_GRACE};
    use super::scenario::{Event, Kind, Scenario};
    use super::support::sim::{Ctl, HAVIP, MAC21, VIP};

    /// A scenario with nothing special: deadline 4 s, not recoverable unless a test says so.
    fn scenario() -> Scenario {
        let mut sc = Scenario::draw(1, 0);
        sc.deadline_s = 4;
        sc.recoverable = false;
        sc
    }

    /// tcsim's own `/_sim/state` after .21 announced: the desired cloud, in the real format.
    fn desired_state() -> Value {
        let sim = SimHandle::start("seed");
        Ctl(&sim).arp(VIP, MAC21);
        Ctl(&sim).state()
    }

    fn observation(code: Option<i32>, state: Value) -> Observation {
        Observation {
            code,
            elapsed: Duration::from_millis(500),
            state,
            alerts: vec![json!({"kind": if code == Some(1) { "failure" } else { "switch" }})],
            secrets: vec![("SecretKey".into(), "s3cr3t-value".into())],
            ..Observation::default()
        }
    }

    fn invariants(v: &[Violation]) -> Vec<usize> {
        v.iter().map(|v| v.invariant).collect()
    }

    fn request(action: &str, code: Option<&str>, id: &str) -> Value {
        json!({"action": action, "params": {}, "code": code, "request_id": id, "region": "ap-guangzhou", "time": 0})
    }

    #[test]
    fn oracle_accepts_the_desired_cloud() {
        let obs = observation(Some(0), desired_state());
        assert_eq!(judge(&scenario(), &obs, DEFAULT_GRACE), vec![]);
    }

    /// The first engine defect the campaign pins: notify judged the EIP bound from the HAVIP's
    /// AddressIp while someone else's HaVipDisassociateAddressIp was still running.
    #[test]
    fn oracle_flags_a_success_while_the_eip_unbind_is_in_flight() {
        let sim = SimHandle::start("seed");
        let ctl = Ctl(&sim);
        ctl.arp(VIP, MAC21);
        ctl.settings(json!({"task_duration_ms": 60_000}));
        let r = signed_call(
            &sim,
            "HaVipDisassociateAddressIp",
            &json!({"HaVipId": HAVIP}),
        )
        .expect("answer");
        assert!(r.get("Error").is_none(), "{r}");
        let state = ctl.state();
        let v = judge(
            &scenario(),
            &observation(Some(0), state.clone()),
            DEFAULT_GRACE,
        );
        assert_eq!(invariants(&v), vec![1], "{v:?}");
        assert!(v[0].detail.contains("UNBINDING"), "{}", v[0].detail);
        assert!(v[0].detail.contains("still RUNNING"), "{}", v[0].detail);
        // Failing there is right.
        let v = judge(&scenario(), &observation(Some(1), state), DEFAULT_GRACE);
        assert_eq!(v, vec![]);
    }

    #[test]
    fn oracle_flags_a_success_while_the_peer_holds() {
        let state = Ctl(&SimHandle::start("seed")).state();
        let v = judge(&scenario(), &observation(Some(0), state), DEFAULT_GRACE);
        assert_eq!(invariants(&v), vec![1], "{v:?}");
        assert!(v[0].detail.contains("ins-iam00020"), "{}", v[0].detail);
    }

    #[test]
    fn oracle_counts_each_mutating_request_against_the_journal_attempts() {
        let mut obs = observation(Some(0), desired_state());
        obs.requests = vec![
            request("DescribeHaVips", None, "d1"),
            request(
                "HaVipAssociateAddressIp",
                Some("RequestLimitExceeded"),
                "w1",
            ),
            request("HaVipAssociateAddressIp", Some("HTTP 502"), "w2"),
            request("HaVipAssociateAddressIp", None, "w3"),
        ];
        let entry = |attempts: u64, id: &str| {
            json!({"calls": [{"action": "HaVipAssociateAddressIp", "request_id": id, "attempts": attempts, "outcome": "ok"}]})
                .to_string()
        };
        obs.journal = entry(3, "w3");
        assert_eq!(judge(&scenario(), &obs, DEFAULT_GRACE), vec![]);

        obs.journal = entry(2, "w3");
        let v = judge(&scenario(), &obs, DEFAULT_GRACE);
        assert_eq!(invariants(&v), vec![2], "{v:?}");
        assert!(v[0].detail.contains("logged 3"), "{}", v[0].detail);

        // A journal with no record of the write (the process died before writing it).
        obs.journal = String::new();
        let v = judge(&scenario(), &obs, DEFAULT_GRACE);
        assert_eq!(invariants(&v), vec![2, 2], "{v:?}");
        assert!(v[1].detail.contains("w3"), "{}", v[1].detail);

        // Any layout: an intent record and an outcome record nesting the call elsewhere.
        obs.journal = [
            json!({"kind": "intent", "call": {"action": "HaVipAssociateAddressIp", "attempts": 1}}),
            json!({"kind": "outcome", "detail": {"calls": [{"action": "HaVipAssociateAddressIp", "attempts": 2, "request_id": "w3"}]}}),
        ]
        .map(|v| v.to_string())
        .join("\n");
        assert_eq!(judge(&scenario(), &obs, DEFAULT_GRACE), vec![]);
    }

    /// A write the server completed after the client gave up has a RequestId nobody received:
    /// it may be missing from the journal, but only as often as attempts went unanswered.
    #[test]
    fn oracle_allows_an_unknown_request_id_only_for_an_unanswered_attempt() {
        let mut obs = observation(Some(0), desired_state());
        obs.requests = vec![
            request("AssociateHaVipInstance", None, "late"),
            request(
                "AssociateHaVipInstance",
                Some("InvalidParameterValue.DuplicatedHaVipAssociations"),
                "dup",
            ),
        ];
        obs.journal = json!({"calls": [{"action": "AssociateHaVipInstance", "request_id": "dup", "attempts": 2}]}).to_string();
        assert_eq!(judge(&scenario(), &obs, DEFAULT_GRACE), vec![]);

        obs.requests = vec![
            request("AssociateHaVipInstance", None, "late"),
            request("AssociateHaVipInstance", None, "ok"),
        ];
        obs.journal = json!({"calls": [{"action": "AssociateHaVipInstance", "request_id": "ok", "attempts": 1}]}).to_string();
        let v = judge(&scenario(), &obs, DEFAULT_GRACE);
        assert_eq!(invariants(&v), vec![2, 2], "{v:?}");
    }

    #[test]
    fn oracle_leaves_out_the_harness_own_calls() {
        let mut obs = observation(Some(1), desired_state());
        obs.requests = vec![request("HaVipDisassociateAddressIp", None, "h1")];
        obs.harness = HarnessCalls {
            per_action: [("HaVipDisassociateAddressIp".to_string(), 1)].into(),
            request_ids: vec!["h1".into()],
        };
        assert_eq!(judge(&scenario(), &obs, DEFAULT_GRACE), vec![]);
        // Not the harness's: the journal must account for it.
        obs.harness = HarnessCalls::default();
        assert_eq!(
            invariants(&judge(&scenario(), &obs, DEFAULT_GRACE)),
            vec![2, 2]
        );
    }

    #[test]
    fn oracle_requires_a_failure_alert_for_every_exit_1() {
        let mut obs = observation(Some(1), Value::Null);
        obs.alerts = vec![json!({"kind": "switch"})];
        assert_eq!(
            invariants(&judge(&scenario(), &obs, DEFAULT_GRACE)),
            vec![3]
        );
        obs.alerts.clear();
        assert_eq!(
            invariants(&judge(&scenario(), &obs, DEFAULT_GRACE)),
            vec![3]
        );
    }

    #[test]
    fn oracle_flags_a_run_past_its_deadline_plus_grace() {
        let mut obs = observation(Some(1), Value::Null);
        obs.elapsed = Duration::from_millis(4000) + DEFAULT_GRACE + Duration::from_millis(1);
        assert_eq!(
            invariants(&judge(&scenario(), &obs, DEFAULT_GRACE)),
            vec![4]
        );
        obs.elapsed = Duration::from_millis(4000) + DEFAULT_GRACE;
        assert_eq!(judge(&scenario(), &obs, DEFAULT_GRACE), vec![]);
    }

    #[test]
    fn oracle_flags_exit_2_a_signal_a_panic_and_any_secret() {
        let sc = scenario();
        let mut obs = observation(Some(2), Value::Null);
        assert_eq!(invariants(&judge(&sc, &obs, DEFAULT_GRACE)), vec![5]);
        obs.code = None;
        assert_eq!(invariants(&judge(&sc, &obs, DEFAULT_GRACE)), vec![5]);
        let mut obs = observation(Some(1), Value::Null);
        obs.stderr = "thread 'main' panicked at src/main.rs:1:1".into();
        assert_eq!(invariants(&judge(&sc, &obs, DEFAULT_GRACE)), vec![5]);
        for place in 0..4 {
            let mut obs = observation(Some(1), Value::Null);
            let leak = "key s3cr3t-value".to_string();
            match place {
                0 => obs.stdout = leak,
                1 => obs.stderr = leak,
                2 => obs.journal = leak,
                _ => obs.alerts.push(json!({"kind": "failure", "message": leak})),
            }
            let v = judge(&sc, &obs, DEFAULT_GRACE);
            assert_eq!(invariants(&v), vec![5], "place {place}: {v:?}");
        }
        let mut obs = observation(Some(1), Value::Null);
        obs.stderr =
            "Authorization: TC3-HMAC-SHA256 Credential=AKID/2024-01-01/vpc/tc3_request".into();
        assert_eq!(invariants(&judge(&sc, &obs, DEFAULT_GRACE)), vec![5]);
        // The report names the leak without repeating it.
        let mut obs = observation(Some(2), Value::Null);
        obs.stderr = "error: bad key s3cr3t-value".into();
        let v = judge(&sc, &obs, DEFAULT_GRACE);
        assert_eq!(invariants(&v), vec![5, 5], "{v:?}");
        assert!(
            v.iter().all(|v| !v.detail.contains("s3cr3t-value")),
            "{v:?}"
        );
    }

    /// The second engine defect the campaign pins: one FAILED task ended the run at once,
    /// although the fault was transient and most of the deadline was left.
    #[test]
    fn oracle_flags_an_early_give_up_only_on_a_recoverable_run() {
        let mut sc = scenario();
        sc.recoverable = true;
        let obs = observation(Some(1), Value::Null);
        let v = judge(&sc, &obs, DEFAULT_GRACE);
        assert_eq!(invariants(&v), vec![6], "{v:?}");
        // Using the deadline is no give-up, nor is failing where faults are permanent.
        let mut late = observation(Some(1), Value::Null);
        late.elapsed = Duration::from_millis(1600);
        assert_eq!(judge(&sc, &late, DEFAULT_GRACE), vec![]);
        sc.recoverable = false;
        assert_eq!(judge(&sc, &obs, DEFAULT_GRACE), vec![]);
    }

    /// The third engine defect the campaign pins: writes reached the journal only at the end of
    /// a run, so a process killed after a write left no trace of it. A killed run is judged on
    /// its journal and secrets only.
    #[test]
    fn oracle_judges_a_killed_run_on_its_journal_only() {
        let sc = scenario();
        let mut obs = observation(None, Ctl(&SimHandle::start("seed")).state());
        obs.chaos_killed = true;
        obs.alerts.clear();
        obs.elapsed = Duration::from_secs(60);
        assert_eq!(judge(&sc, &obs, DEFAULT_GRACE), vec![]);
        obs.requests = vec![request("HaVipAssociateAddressIp", None, "w1")];
        assert_eq!(invariants(&judge(&sc, &obs, DEFAULT_GRACE)), vec![2, 2]);
        obs.journal = json!({"intent": {"action": "HaVipAssociateAddressIp", "attempts": 1, "request_id": null}}).to_string();
        assert_eq!(judge(&sc, &obs, DEFAULT_GRACE), vec![]);
    }

    /// The gate is what makes undoing events safe to play during a run: while it is shut, no
    /// DescribeHaVips may succeed, whatever other rules the run has (a delay rule matching first
    /// would let one through).
    #[test]
    fn the_gate_keeps_every_describe_havips_failing_until_it_opens() {
        let sim = SimHandle::start("seed");
        let mut sc = scenario();
        sc.gate = Some(json!({"action": "DescribeHaVips", "error": "InternalError"}));
        sc.faults = vec![
            json!({"action": "DescribeHaVips", "count": 2, "delay_ms": 10}),
            json!({"action": "*", "count": 2, "delay_ms": 10}),
        ];
        let gate = install_faults(&sim, &sc).expect("a gate id");
        for _ in 0..3 {
            let r = signed_call(&sim, "DescribeHaVips", &json!({})).expect("answer");
            assert_eq!(r["Error"]["Code"], "InternalError", "{r}");
        }
        Ctl(&sim).remove_fault(gate);
        let r = signed_call(&sim, "DescribeHaVips", &json!({})).expect("answer");
        assert!(r.get("Error").is_none(), "{r}");
    }

    #[test]
    fn scenarios_replay_from_seed_and_run() {
        for run in 0..300 {
            assert_eq!(
                Scenario::draw(42, run).describe(),
                Scenario::draw(42, run).describe()
            );
        }
        assert_ne!(
            Scenario::draw(42, 1).describe(),
            Scenario::draw(43, 1).describe()
        );
    }

    /// The generator's safety claim, on thousands of draws: an event that takes the cloud away
    /// from the desired state only happens while havip cannot have confirmed — before this
    /// node's first announcement (when it did not hold the HAVIP at the start) and before the
    /// gate lets DescribeHaVips through. And the whole catalogue gets drawn.
    #[test]
    fn undoing_events_only_happen_before_havip_can_confirm() {
        let mut seen = std::collections::BTreeSet::new();
        for run in 0..20_000 {
            let sc = Scenario::draw(7, run);
            seen.extend(sc.kinds.iter().copied());
            let mut announced = sc.holds_at_spawn;
            let mut readable = sc.gate.is_none();
            for (at, e) in &sc.timeline {
                if e.undoes_progress() {
                    assert!(
                        !(announced && readable),
                        "run {run}: {e} at {at} ms could follow a confirmation: {}",
                        sc.describe()
                    );
                }
                match e {
                    Event::Arp21 => announced = true,
                    Event::OpenGate => readable = true,
                    _ => {}
                }
            }
            assert!(sc.timeline.windows(2).all(|w| w[0].0 <= w[1].0), "sorted");
            assert!(sc.deadline_s >= 3 && sc.deadline_s <= 5);
            if sc.recoverable {
                assert!(sc.kinds.iter().all(|k| !matches!(
                    k,
                    Kind::Hang | Kind::Delay | Kind::ReadOutage | Kind::ArpNone | Kind::Killed
                )));
            }
            for f in &sc.faults {
                assert!(f["count"].is_u64(), "count-limited, so a run replays: {f}");
            }
        }
        let missing: Vec<&str> = std::iter::once(Kind::Baseline)
            .chain(Kind::FAULTS)
            .filter(|k| !seen.contains(k))
            .map(|k| k.label())
            .collect();
        assert!(missing.is_empty(), "never drawn: {missing:?}");
    }
}
