//! One chaos run, drawn from a seeded RNG: the starting cloud, the faults, and a timeline of
//! disturbances while `havip notify` runs. The same (seed, run) always draws the same scenario,
//! so any run replays alone (`CHAOS_ONLY`).
//!
//! The timeline keeps the oracle honest. A disturbance that takes the cloud *away* from the
//! desired state (a peer's ARP, an EIP unbind, stopping this node) is only scheduled while havip
//! provably cannot have confirmed yet: before this node's own ARP has ever moved the HAVIP to it,
//! or while a "gate" rule keeps every DescribeHaVips failing. Such events run in order on one
//! thread, before the event that ends the window, so however slow the machine, a havip that
//! exits 0 has seen them. Without that, a disturbance landing between havip's last read and its
//! exit would make a correct run look like a false success.

use std::fmt;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::support::sim::{NODE20, NODE21};

/// The fault catalogue: each run draws one or several; the report has one row per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// No fault at all (the control group).
    Baseline,
    /// `error: RequestLimitExceeded`.
    Throttle,
    /// `error: InternalError` / `ResourceUnavailable` (retryable) / `UnauthorizedOperation`.
    ApiError,
    /// `http_status` 502/503.
    Http5xx,
    /// `hang: true` (cut by `--request-timeout 1s`).
    Hang,
    /// `delay_ms`.
    Delay,
    /// `/_sim/clock` offset, before or during the run.
    ClockSkew,
    /// `task_result: FAILED` on HaVipAssociateAddressIp.
    TaskFailed,
    /// HaVipDisassociateAddressIp by someone else, its task still running.
    UnbindInFlight,
    /// This node's ARP arrives after notify started.
    ArpLate,
    /// This node never announces.
    ArpNone,
    /// The peer (.20) announces the VIP.
    ArpPeer,
    /// The old holder (.20) is stopped.
    HolderStopped,
    /// This node (.21) is stopped (the HAVIP leaves it for good).
    SelfStopped,
    /// This node is not in the drift range at the start.
    NotInRange,
    /// The EIP is not bound to the HAVIP at the start.
    EipUnbound,
    /// Every DescribeHaVips fails for a while (or for the whole run).
    ReadOutage,
    /// Credentials from the CVM role through the metadata service.
    RoleCredentials,
    /// Role credentials, and the metadata service refuses or never answers.
    MetadataDown,
    /// The process is killed (SIGKILL) mid-run: a crash, the OOM killer, a reboot.
    Killed,
}

impl Kind {
    /// Every kind but the baseline, in report order.
    pub const FAULTS: [Kind; 19] = [
        Kind::Throttle,
        Kind::ApiError,
        Kind::Http5xx,
        Kind::Hang,
        Kind::Delay,
        Kind::ClockSkew,
        Kind::TaskFailed,
        Kind::UnbindInFlight,
        Kind::ArpLate,
        Kind::ArpNone,
        Kind::ArpPeer,
        Kind::HolderStopped,
        Kind::SelfStopped,
        Kind::NotInRange,
        Kind::EipUnbound,
        Kind::ReadOutage,
        Kind::RoleCredentials,
        Kind::MetadataDown,
        Kind::Killed,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Baseline => "none",
            Kind::Throttle => "throttle",
            Kind::ApiError => "api-error",
            Kind::Http5xx => "http-5xx",
            Kind::Hang => "hang",
            Kind::Delay => "delay",
            Kind::ClockSkew => "clock-skew",
            Kind::TaskFailed => "task-failed",
            Kind::UnbindInFlight => "unbind-in-flight",
            Kind::ArpLate => "arp-late",
            Kind::ArpNone => "arp-none",
            Kind::ArpPeer => "arp-peer",
            Kind::HolderStopped => "holder-stopped",
            Kind::SelfStopped => "self-stopped",
            Kind::NotInRange => "not-in-range",
            Kind::EipUnbound => "eip-unbound",
            Kind::ReadOutage => "read-outage",
            Kind::RoleCredentials => "role-credentials",
            Kind::MetadataDown => "metadata-down",
            Kind::Killed => "killed",
        }
    }

    /// Pairs that cannot share a run (one would cancel the other).
    fn conflicts(self, other: Kind) -> bool {
        use Kind::*;
        let pair = |a, b| (self == a && other == b) || (self == b && other == a);
        pair(ArpLate, ArpNone)
            || pair(UnbindInFlight, EipUnbound)
            || pair(RoleCredentials, MetadataDown)
    }
}

/// Something the harness does to the cloud, before the run or at a moment during it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Gratuitous ARP of the VIP from this node's MAC (keepalived's announcement).
    Arp21,
    /// Gratuitous ARP of the VIP from the peer's MAC.
    ArpPeer,
    /// `/_sim/instances/ID/stop`.
    Stop(&'static str),
    /// A signed HaVipDisassociateAddressIp whose task runs for `task_ms`.
    Unbind { task_ms: u64 },
    /// `/_sim/clock` offset.
    Clock(i64),
    /// Removes the gate rule: DescribeHaVips answers again.
    OpenGate,
}

/// When the harness kills havip (SIGKILL), on a thread of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kill {
    /// `delay_ms` after tcsim logged havip's first mutating request (never, if it makes none).
    AfterWrite { delay_ms: u64 },
    /// At this many milliseconds after the spawn.
    At(u64),
}

impl fmt::Display for Kill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kill::AfterWrite { delay_ms } => {
                write!(f, "SIGKILL {delay_ms} ms after the first write")
            }
            Kill::At(ms) => write!(f, "SIGKILL at {ms} ms"),
        }
    }
}

impl Event {
    /// Whether the event can take the cloud away from the desired state, so it may only run
    /// while havip cannot have confirmed (see the module comment).
    pub fn undoes_progress(&self) -> bool {
        matches!(
            self,
            Event::ArpPeer | Event::Unbind { .. } | Event::Stop(NODE21)
        )
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Arp21 => write!(f, "arp .21"),
            Event::ArpPeer => write!(f, "arp .20 (peer)"),
            Event::Stop(id) => write!(f, "stop {id}"),
            Event::Unbind { task_ms } => write!(f, "unbind EIP (task {task_ms} ms)"),
            Event::Clock(s) => write!(f, "clock {s:+}s"),
            Event::OpenGate => write!(f, "open gate"),
        }
    }
}

/// Where the node's credentials come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Creds {
    /// `TENCENTCLOUD_SECRET_ID/KEY` in the environment.
    Env,
    /// The CVM role, metadata served by tcsim.
    Role,
    /// The CVM role, and the metadata endpoint refuses connections.
    MetadataRefused,
    /// The CVM role, and the metadata endpoint accepts but never answers.
    MetadataBlackhole,
}

/// One run.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub seed: u64,
    pub run: u64,
    /// The VIP's `deadline`.
    pub deadline_s: u64,
    /// tcsim's `task_duration_ms` for havip's own tasks.
    pub task_ms: u64,
    /// What was drawn (sorted), for the report.
    pub kinds: Vec<Kind>,
    /// Remove this node from the drift range before the run.
    pub not_in_range: bool,
    /// Unbind the EIP (and wait for UNBIND) before the run.
    pub eip_unbound: bool,
    /// Events before havip starts, in order (after the two above).
    pub pre: Vec<Event>,
    /// Fault rules installed just before havip starts.
    pub faults: Vec<Value>,
    /// A persistent DescribeHaVips rule, lifted by [`Event::OpenGate`] (if ever).
    pub gate: Option<Value>,
    /// Events during the run: milliseconds after the spawn, in order.
    pub timeline: Vec<(u64, Event)>,
    pub creds: Creds,
    /// Whether (and when) havip is killed.
    pub kill: Option<Kill>,
    /// Whether this node holds the HAVIP when havip starts (the harness checks it).
    pub holds_at_spawn: bool,
    /// Every fault is transient and small, and the deadline leaves room: giving up early here
    /// is a defect (invariant 6).
    pub recoverable: bool,
}

/// The actions havip itself calls, the targets of drawn faults.
const DESCRIBE: &str = "DescribeHaVips";

impl Scenario {
    /// The scenario of run `run` of campaign `seed`.
    pub fn draw(seed: u64, run: u64) -> Scenario {
        // SplitMix-style mixing: neighbouring runs get unrelated streams.
        let mut z = seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(run.wrapping_mul(0xBF58_476D_1CE4_E5B9));
        z ^= z >> 31;
        let mut rng = StdRng::seed_from_u64(z);
        let mut d = Draw {
            rng: &mut rng,
            sc: Scenario {
                seed,
                run,
                deadline_s: 0,
                task_ms: 0,
                kinds: Vec::new(),
                not_in_range: false,
                eip_unbound: false,
                pre: Vec::new(),
                faults: Vec::new(),
                gate: None,
                timeline: Vec::new(),
                creds: Creds::Env,
                kill: None,
                holds_at_spawn: false,
                recoverable: false,
            },
        };
        d.draw();
        d.sc
    }

    pub fn deadline_ms(&self) -> u64 {
        self.deadline_s * 1000
    }

    /// One paragraph, for a violation report or `CHAOS_ONLY`.
    pub fn describe(&self) -> String {
        let kinds: Vec<&str> = self.kinds.iter().map(|k| k.label()).collect();
        let mut s = format!(
            "seed {} run {} [{}]: deadline {}s, tasks {} ms, creds {:?}{}{}",
            self.seed,
            self.run,
            kinds.join(", "),
            self.deadline_s,
            self.task_ms,
            self.creds,
            if self.not_in_range {
                ", .21 out of the drift range"
            } else {
                ""
            },
            if self.eip_unbound {
                ", EIP unbound"
            } else {
                ""
            },
        );
        if !self.pre.is_empty() {
            let pre: Vec<String> = self.pre.iter().map(|e| e.to_string()).collect();
            s += &format!("; before: {}", pre.join(", "));
        }
        s += &format!(
            "; .21 holds at start: {}; recoverable: {}",
            self.holds_at_spawn, self.recoverable
        );
        for f in &self.faults {
            s += &format!("; fault {f}");
        }
        if let Some(g) = &self.gate {
            s += &format!("; gate {g}");
        }
        if let Some(k) = &self.kill {
            s += &format!("; {k}");
        }
        if !self.timeline.is_empty() {
            let t: Vec<String> = self
                .timeline
                .iter()
                .map(|(ms, e)| format!("{ms}ms {e}"))
                .collect();
            s += &format!("; during: {}", t.join(", "));
        }
        s
    }
}

struct Draw<'a> {
    rng: &'a mut StdRng,
    sc: Scenario,
}

impl Draw<'_> {
    fn draw(&mut self) {
        let sc = &mut self.sc;
        sc.deadline_s = self.rng.gen_range(3..=5);
        sc.task_ms = self.rng.gen_range(50..=400);
        let n = match self.rng.gen_range(0..100) {
            0..=4 => 0,
            5..=44 => 1,
            45..=79 => 2,
            _ => 3,
        };
        let mut kinds: Vec<Kind> = Vec::new();
        while kinds.len() < n {
            let k = *Kind::FAULTS.choose(self.rng).expect("catalogue");
            if !kinds.contains(&k) && !kinds.iter().any(|o| o.conflicts(k)) {
                kinds.push(k);
            }
        }
        if kinds.is_empty() {
            kinds.push(Kind::Baseline);
        }
        kinds.sort();
        self.sc.kinds = kinds;
        self.build();
    }

    fn has(&self, k: Kind) -> bool {
        self.sc.kinds.contains(&k)
    }

    fn build(&mut self) {
        let deadline_ms = self.sc.deadline_ms();
        self.sc.not_in_range = self.has(Kind::NotInRange);
        // A task to fail, or a write to be killed after, needs an EIP to bind (unless the EIP
        // is being unbound by someone else, or this node must first join the drift range).
        self.sc.eip_unbound = self.has(Kind::EipUnbound)
            || (self.has(Kind::TaskFailed) && !self.has(Kind::UnbindInFlight))
            || (self.has(Kind::Killed)
                && !self.has(Kind::UnbindInFlight)
                && !self.has(Kind::NotInRange));
        self.sc.creds = if self.has(Kind::RoleCredentials) {
            Creds::Role
        } else if self.has(Kind::MetadataDown) {
            if self.rng.gen_bool(0.5) {
                Creds::MetadataRefused
            } else {
                Creds::MetadataBlackhole
            }
        } else {
            Creds::Env
        };

        // This node's announcement: before the run (keepalived announces on promotion, then
        // runs the hook), late, or never.
        let mut late_arp: Option<u64> = None;
        if self.has(Kind::ArpLate) {
            late_arp = Some(self.rng.gen_range(200..=2500));
        } else if !self.has(Kind::ArpNone) {
            self.sc.pre.push(Event::Arp21);
        }
        // keepalived re-announces (garp_master_refresh): after being ignored out of the drift
        // range, or after a peer's announcement.
        if self.sc.not_in_range && late_arp.is_none() && !self.has(Kind::ArpNone) {
            late_arp = Some(self.rng.gen_range(300..=2500));
        }
        // The old holder stopped: before, or at any moment (it cannot undo this node's hold).
        if self.has(Kind::HolderStopped) {
            if self.rng.gen_bool(0.5) {
                self.sc.pre.insert(0, Event::Stop(NODE20));
            } else {
                let t = self.rng.gen_range(0..deadline_ms);
                self.sc.timeline.push((t, Event::Stop(NODE20)));
            }
        }
        if self.has(Kind::ClockSkew) {
            let mag: i64 = if self.rng.gen_bool(0.5) {
                self.rng.gen_range(30..=280)
            } else {
                self.rng.gen_range(310..=900)
            };
            let offset = if self.rng.gen_bool(0.5) { mag } else { -mag };
            if self.rng.gen_bool(0.6) {
                self.sc.pre.push(Event::Clock(offset));
            } else {
                let t = self.rng.gen_range(0..deadline_ms);
                self.sc.timeline.push((t, Event::Clock(offset)));
            }
        }
        // The gate: every DescribeHaVips fails until it opens (or for the whole run).
        // `gate_block` is when havip can read again: 0 without a gate, never if it stays shut.
        let mut gate_block = 0;
        if self.has(Kind::ReadOutage) {
            let effect = match self.rng.gen_range(0..4) {
                0 => json!({"error": "RequestLimitExceeded"}),
                1 => json!({"error": "InternalError"}),
                2 => json!({"http_status": 503}),
                _ => json!({"hang": true}),
            };
            let mut rule = json!({"action": DESCRIBE});
            merge(&mut rule, &effect);
            self.sc.gate = Some(rule);
            gate_block = u64::MAX;
            if self.rng.gen_bool(0.8) {
                let t = self.rng.gen_range(300..=2500);
                gate_block = t;
                self.sc.timeline.push((t, Event::OpenGate));
            }
        }
        // Whether this node holds the HAVIP once the pre-run events so far have played. A
        // stopped peer's announcement is ignored, so it only counts while .20 runs.
        let peer_runs = !self.sc.pre.contains(&Event::Stop(NODE20));
        let holds_before_peer = self.sc.pre.contains(&Event::Arp21) && !self.sc.not_in_range;
        // The peer announces: during the run while havip cannot have confirmed (then this
        // node's keepalived usually re-announces), or else just before the run.
        if self.has(Kind::ArpPeer) {
            let window = window_end(holds_before_peer, late_arp, gate_block, deadline_ms);
            if window > 150 {
                let t = self.rng.gen_range(50..window - 50);
                self.sc.timeline.push((t, Event::ArpPeer));
                if holds_before_peer && self.rng.gen_bool(0.7) {
                    let re = t + self.rng.gen_range(100..=1500);
                    self.sc.timeline.push((re, Event::Arp21));
                }
            } else {
                self.sc.pre.push(Event::ArpPeer);
                if peer_runs && late_arp.is_none() && self.rng.gen_bool(0.7) {
                    late_arp = Some(self.rng.gen_range(200..=2500));
                }
            }
        }
        if let Some(t) = late_arp {
            self.sc.timeline.push((t, Event::Arp21));
        }
        let holds = holds_before_peer && !(peer_runs && self.sc.pre.contains(&Event::ArpPeer));
        // Someone else unbinds the EIP, its task long enough to be in flight: just before the
        // run, or during it while havip cannot have confirmed.
        if self.has(Kind::UnbindInFlight) {
            let task_ms = self.rng.gen_range(800..=3000);
            let arp = first_arp21(&self.sc.timeline);
            let window = window_end(holds, arp, gate_block, deadline_ms);
            if window > 150 && self.rng.gen_bool(0.5) {
                let t = self.rng.gen_range(50..window - 50);
                self.sc.timeline.push((t, Event::Unbind { task_ms }));
            } else {
                self.sc.pre.push(Event::Unbind { task_ms });
            }
        }
        // This node stopped: its HAVIP is cleared and its announcements ignored from then on.
        if self.has(Kind::SelfStopped) {
            let arp = first_arp21(&self.sc.timeline);
            let window = window_end(holds, arp, gate_block, deadline_ms);
            if window > 150 {
                let t = self.rng.gen_range(50..window - 50);
                self.sc.timeline.push((t, Event::Stop(NODE21)));
            } else {
                self.sc.pre.push(Event::Stop(NODE21));
            }
        }
        let holds = holds && !self.sc.pre.contains(&Event::Stop(NODE21));
        self.sc.holds_at_spawn = holds;
        // The kill takes the process away whatever it was doing; nothing after it matters.
        if self.has(Kind::Killed) {
            self.sc.kill = Some(if self.rng.gen_bool(0.7) {
                Kill::AfterWrite {
                    delay_ms: self.rng.gen_range(0..=300),
                }
            } else {
                Kill::At(self.rng.gen_range(50..deadline_ms))
            });
        }
        // Stable sort: at equal times the order of insertion (window events first) stands.
        self.sc.timeline.sort_by_key(|(t, _)| *t);
        self.draw_faults();
        self.sc.recoverable = self.recoverable();
    }

    /// The transient fault rules of the drawn kinds, on the actions havip calls in this run.
    fn draw_faults(&mut self) {
        let eip_moves = self.sc.eip_unbound || self.has(Kind::UnbindInFlight);
        let mut actions = vec![DESCRIBE];
        if eip_moves {
            actions.extend([
                "DescribeAddresses",
                "HaVipAssociateAddressIp",
                "DescribeVpcTaskResult",
            ]);
        }
        if self.sc.not_in_range {
            actions.push("AssociateHaVipInstance");
        }
        // "*" would also hit the harness's own signed unbind during the run.
        let harness_calls_during = self
            .sc
            .timeline
            .iter()
            .any(|(_, e)| matches!(e, Event::Unbind { .. }));
        let kinds = self.sc.kinds.clone();
        for k in kinds {
            let effect = match k {
                Kind::Throttle => {
                    json!({"count": self.rng.gen_range(1..=4), "error": "RequestLimitExceeded"})
                }
                Kind::ApiError => {
                    let code = *[
                        "InternalError",
                        "InternalError",
                        "ResourceUnavailable",
                        "UnauthorizedOperation",
                    ]
                    .choose(self.rng)
                    .expect("codes");
                    json!({"count": self.rng.gen_range(1..=3), "error": code})
                }
                Kind::Http5xx => {
                    json!({"count": self.rng.gen_range(1..=3), "http_status": *[502, 503].choose(self.rng).expect("statuses")})
                }
                Kind::Hang => json!({"count": self.rng.gen_range(1..=2), "hang": true}),
                Kind::Delay => {
                    json!({"count": self.rng.gen_range(1..=3), "delay_ms": self.rng.gen_range(100..=1500)})
                }
                Kind::TaskFailed => {
                    self.sc.faults.push(json!({"action": "HaVipAssociateAddressIp", "count": self.rng.gen_range(1..=3), "task_result": "FAILED"}));
                    continue;
                }
                _ => continue,
            };
            let action = if !harness_calls_during && self.rng.gen_bool(0.15) {
                "*"
            } else {
                actions.choose(self.rng).expect("actions")
            };
            let mut rule = json!({ "action": action });
            merge(&mut rule, &effect);
            self.sc.faults.push(rule);
        }
    }

    /// Invariant 6 applies: every fault clears by itself, soon, and the deadline leaves room.
    /// Faults are counted per action ("*" counts for all) so the retries they cause stay short.
    fn recoverable(&self) -> bool {
        let sc = &self.sc;
        if sc.deadline_s < 4 {
            return false;
        }
        let allowed = [
            Kind::Baseline,
            Kind::Throttle,
            Kind::ApiError,
            Kind::Http5xx,
            Kind::TaskFailed,
            Kind::ClockSkew,
            Kind::HolderStopped,
            Kind::EipUnbound,
            Kind::ArpLate,
            Kind::RoleCredentials,
        ];
        if !sc.kinds.iter().all(|k| allowed.contains(k)) {
            return false;
        }
        if first_arp21(&sc.timeline).is_some_and(|t| t > 1500) {
            return false;
        }
        let mut per_action: std::collections::BTreeMap<String, u64> = Default::default();
        for f in &sc.faults {
            let count = f["count"].as_u64().unwrap_or(u64::MAX);
            if f["error"] == "UnauthorizedOperation" {
                return false;
            }
            let key = if f.get("task_result").is_some() {
                "task".to_string()
            } else {
                f["action"].as_str().unwrap_or("*").to_string()
            };
            *per_action.entry(key).or_default() += count;
        }
        let star = per_action.get("*").copied().unwrap_or(0);
        per_action
            .iter()
            .all(|(k, n)| if k == "*" { *n <= 2 } else { n + star <= 2 })
    }
}

/// The first moment havip could confirm, in milliseconds after the spawn and capped at the
/// deadline: after this node's first announcement (unless it holds at the start, or never if it
/// does not announce) and after the gate lets reads through (`gate_block`).
fn window_end(holds: bool, arp: Option<u64>, gate_block: u64, deadline_ms: u64) -> u64 {
    let by_arp = if holds { 0 } else { arp.unwrap_or(u64::MAX) };
    by_arp.max(gate_block).min(deadline_ms)
}

fn first_arp21(timeline: &[(u64, Event)]) -> Option<u64> {
    timeline
        .iter()
        .filter(|(_, e)| *e == Event::Arp21)
        .map(|(t, _)| *t)
        .min()
}

fn merge(into: &mut Value, from: &Value) {
    if let (Some(a), Some(b)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in b {
            a.insert(k.clone(), v.clone());
        }
    }
}
