//! Plays one [`Scenario`]: a fresh tcsim (seed scenario), the starting cloud, the faults, then
//! `havip notify INSTANCE VI_1 MASTER 100` as node .21 while a second thread plays the
//! timeline; afterwards it collects everything the oracle reads.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tc3_sign::{sign, SignableRequest, SigningParams};
use tcsim::testing::SimHandle;

use super::scenario::{Creds, Event, Kill, Scenario};
use crate::support::bin::Havip;
use crate::support::http;
use crate::support::server::{refused_port, Receiver};
use crate::support::sim::{
    minimal_config, wait_until, Ctl, EIP_ID, HAVIP, MAC20, MAC21, NODE21, VIP,
};
use crate::support::{EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY};

pub const ENI21: &str = "eni-iam00021";

/// A run's hard stop: far beyond any deadline, only to end a hung process (invariant 4 then
/// reports it).
const HARD_LIMIT_EXTRA: Duration = Duration::from_secs(30);

/// The harness's own mutating API calls during the run, which the journal cannot account for.
#[derive(Clone, Debug, Default)]
pub struct HarnessCalls {
    /// Requests sent, by action.
    pub per_action: BTreeMap<String, u64>,
    /// RequestIds of the answers.
    pub request_ids: Vec<String>,
}

/// What one run left behind.
#[derive(Clone, Debug, Default)]
pub struct Observation {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// From the spawn to the exit.
    pub elapsed: Duration,
    /// The harness killed it at the hard limit.
    pub killed: bool,
    /// The scenario's SIGKILL was sent (before the process had exited by itself).
    pub chaos_killed: bool,
    /// `/_sim/state` after the exit.
    pub state: Value,
    /// `/_sim/requests` after the exit (cleared just before the spawn).
    pub requests: Vec<Value>,
    /// The journal file.
    pub journal: String,
    /// The alerts the webhook received for this run.
    pub alerts: Vec<Value>,
    pub harness: HarnessCalls,
    /// (name, value) of every secret the node could have seen.
    pub secrets: Vec<(String, String)>,
    /// The timeline as played: (ms after the spawn, event, result).
    pub played: Vec<String>,
}

/// Runs the scenario; `hook` is this worker's webhook receiver.
pub fn execute(sc: &Scenario, hook: &Receiver) -> Observation {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let dir = tempfile::tempdir().expect("tempdir");
    let state_dir = dir.path().join("state");
    let alert_path = format!("/hook/run-{}", sc.run);
    let config = minimal_config(&sim.url(), NODE21, "")
        .replace("deadline = \"20s\"", &format!("deadline = \"{}s\"", sc.deadline_s))
        + &format!(
            "\n[[alert]]\ntype = \"webhook\"\nurl = \"http://127.0.0.1:{}{alert_path}\"\ntimeout = \"2s\"\n",
            hook.port
        );
    let config_path = dir.path().join("havip.toml");
    std::fs::write(&config_path, &config).expect("write config");

    // The starting cloud.
    ctl.settings(json!({"task_duration_ms": sc.task_ms}));
    if sc.not_in_range {
        let r = signed_call(
            &sim,
            "DisassociateHaVipInstance",
            &json!({"HaVipAssociationSet": [{"HaVipId": HAVIP, "InstanceId": NODE21}]}),
        );
        assert!(ok(&r), "setup: DisassociateHaVipInstance: {r:?}");
    }
    if sc.eip_unbound {
        let r = signed_call(
            &sim,
            "HaVipDisassociateAddressIp",
            &json!({"HaVipId": HAVIP}),
        );
        assert!(ok(&r), "setup: HaVipDisassociateAddressIp: {r:?}");
        let settled = wait_until(Duration::from_secs(20), || {
            ctl.address(EIP_ID)["status"] == "UNBIND"
        });
        assert!(settled, "setup: the EIP never reached UNBIND");
    }
    let mut scratch = HarnessCalls::default();
    for e in &sc.pre {
        play(&sim, &ctl, sc, e, None, &mut scratch);
    }
    let holder = ctl.havip()["instance_id"].clone();
    assert_eq!(
        holder == NODE21,
        sc.holds_at_spawn,
        "harness model: .21 holding at the start (holder {holder}) in {}",
        sc.describe()
    );
    ctl.clear_requests();
    let gate_id = install_faults(&sim, sc);

    // The metadata service, as this node sees it.
    let blackhole = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let metadata = match sc.creds {
        Creds::Env | Creds::Role => sim.metadata_url(NODE21),
        Creds::MetadataRefused => format!("http://127.0.0.1:{}", refused_port()),
        Creds::MetadataBlackhole => {
            format!(
                "http://127.0.0.1:{}",
                blackhole.local_addr().expect("addr").port()
            )
        }
    };
    let mut havip = Havip::at(dir.path())
        .env("HAVIP_STATE_DIR", &state_dir)
        .env("HAVIP_METADATA_ENDPOINT", &metadata);
    if sc.creds == Creds::Env {
        havip = havip.with_keys();
    }
    let mut havip = havip.arg("--config").arg(&config_path).args([
        "--request-timeout",
        "1s",
        "notify",
        "INSTANCE",
        "VI_1",
        "MASTER",
        "100",
    ]);

    let done = AtomicBool::new(false);
    let played = Mutex::new(Vec::new());
    let calls = Mutex::new(HarnessCalls::default());
    let start = Instant::now();
    let mut child = havip.spawn();
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    // The child stays unreaped until the waiter, holding this lock, sees it exit: a kill sent
    // under the lock can only reach our own process (a zombie keeps its pid), never a reused pid.
    let child = Mutex::new((child, None::<std::process::ExitStatus>));
    let chaos_killed = AtomicBool::new(false);
    let hard_limit = Duration::from_secs(sc.deadline_s) + HARD_LIMIT_EXTRA;
    let (status, elapsed, killed, stdout, stderr) = std::thread::scope(|s| {
        let out = s.spawn(move || {
            let mut b = Vec::new();
            let _ = out_pipe.read_to_end(&mut b);
            String::from_utf8_lossy(&b).into_owned()
        });
        let err = s.spawn(move || {
            let mut b = Vec::new();
            let _ = err_pipe.read_to_end(&mut b);
            String::from_utf8_lossy(&b).into_owned()
        });
        let timeline = s.spawn(|| {
            for (at, e) in &sc.timeline {
                if !sleep_until(start + Duration::from_millis(*at), &done) {
                    return;
                }
                let mut c = calls.lock().expect("calls");
                let result = play(&sim, &ctl, sc, e, gate_id, &mut c);
                let t = start.elapsed().as_millis();
                played
                    .lock()
                    .expect("played")
                    .push(format!("{t}ms {e}: {result}"));
            }
        });
        let killer = s.spawn(|| {
            let Some(kill) = sc.kill else { return };
            let at = match kill {
                Kill::At(ms) => start + Duration::from_millis(ms),
                Kill::AfterWrite { delay_ms } => loop {
                    if done.load(Ordering::SeqCst) {
                        return;
                    }
                    // havip's writes; the harness's own is HaVipDisassociateAddressIp.
                    let wrote = ctl.requests().iter().any(|r| {
                        r["action"].as_str().is_some_and(|a| {
                            !a.starts_with("Describe") && a != "HaVipDisassociateAddressIp"
                        })
                    });
                    if wrote {
                        break Instant::now() + Duration::from_millis(delay_ms);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                },
            };
            if !sleep_until(at, &done) {
                return;
            }
            let guard = child.lock().expect("child");
            if guard.1.is_none() {
                let pid = libc::pid_t::try_from(guard.0.id()).expect("pid fits");
                // SAFETY: kill(2) on our own unreaped child; no memory is involved.
                if unsafe { libc::kill(pid, libc::SIGKILL) } == 0 {
                    chaos_killed.store(true, Ordering::SeqCst);
                    let t = start.elapsed().as_millis();
                    played.lock().expect("played").push(format!("{t}ms {kill}"));
                }
            }
        });
        let mut killed = false;
        let status = loop {
            {
                let mut guard = child.lock().expect("child");
                if let Some(st) = guard.0.try_wait().expect("try_wait") {
                    guard.1 = Some(st);
                    break st;
                }
                if start.elapsed() > hard_limit {
                    let _ = guard.0.kill();
                    killed = true;
                    let st = guard.0.wait().expect("wait");
                    guard.1 = Some(st);
                    break st;
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = start.elapsed();
        done.store(true, Ordering::SeqCst);
        timeline.join().expect("timeline thread");
        killer.join().expect("killer thread");
        (
            status,
            elapsed,
            killed,
            out.join().expect("stdout reader"),
            err.join().expect("stderr reader"),
        )
    });
    drop(blackhole);

    let mut secrets = vec![("SecretKey".to_string(), EXAMPLE_SECRET_KEY.to_string())];
    if matches!(sc.creds, Creds::Role) {
        // tcsim hands out the same role credentials while more than half their life is left.
        let url = format!(
            "{}/latest/meta-data/cam/security-credentials/havip-role",
            sim.metadata_url(NODE21)
        );
        let r = http::request("GET", &url, &[], "").unwrap_or_else(|e| panic!("GET {url}: {e}"));
        if r.status == 200 {
            let v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
            for k in ["TmpSecretKey", "Token"] {
                if let Some(s) = v[k].as_str() {
                    secrets.push((k.to_string(), s.to_string()));
                }
            }
        }
    }
    let alerts = hook
        .requests()
        .into_iter()
        .filter(|r| r.path == alert_path)
        .map(|r| serde_json::from_slice(r.body()).unwrap_or(Value::Null))
        .collect();
    Observation {
        code: status.code(),
        stdout,
        stderr,
        elapsed,
        killed,
        // A SIGKILL that found a zombie changed nothing: the run ended by itself.
        chaos_killed: chaos_killed.into_inner() && status.code().is_none() && !killed,
        state: ctl.state(),
        requests: ctl.requests(),
        journal: std::fs::read_to_string(state_dir.join("journal.jsonl")).unwrap_or_default(),
        alerts,
        harness: calls.into_inner().expect("calls"),
        secrets,
        played: played.into_inner().expect("played"),
    }
}

/// Installs the run's gate (if any) and fault rules; returns the gate's rule id.
pub fn install_faults(sim: &SimHandle, sc: &Scenario) -> Option<u64> {
    // The gate goes first: tcsim applies the first rule that matches, and a delay rule ahead of
    // it would let a DescribeHaVips through (late, but successful) while the gate is shut.
    let ctl = Ctl(sim);
    let gate_id = sc.gate.as_ref().map(|g| ctl.fault(g.clone()));
    for f in &sc.faults {
        ctl.fault(f.clone());
    }
    gate_id
}

/// Plays one event; returns a short result for the replay output.
fn play(
    sim: &SimHandle,
    ctl: &Ctl,
    sc: &Scenario,
    e: &Event,
    gate_id: Option<u64>,
    calls: &mut HarnessCalls,
) -> String {
    match e {
        Event::Arp21 => arp_result(&ctl.arp(VIP, MAC21)),
        Event::ArpPeer => arp_result(&ctl.arp(VIP, MAC20)),
        Event::Stop(id) => ctl.stop_instance(id).to_string(),
        Event::Unbind { task_ms } => {
            ctl.settings(json!({"task_duration_ms": task_ms}));
            let r = signed_call(
                sim,
                "HaVipDisassociateAddressIp",
                &json!({"HaVipId": HAVIP}),
            );
            ctl.settings(json!({"task_duration_ms": sc.task_ms}));
            *calls
                .per_action
                .entry("HaVipDisassociateAddressIp".into())
                .or_default() += 1;
            match &r {
                Ok(resp) => {
                    if let Some(id) = resp["RequestId"].as_str() {
                        calls.request_ids.push(id.to_string());
                    }
                    match resp["Error"]["Code"].as_str() {
                        Some(code) => code.to_string(),
                        None => "in flight".into(),
                    }
                }
                Err(e) => e.clone(),
            }
        }
        Event::Clock(s) => {
            ctl.clock(*s);
            "set".into()
        }
        Event::OpenGate => {
            ctl.remove_fault(gate_id.expect("a gate to open"));
            "open".into()
        }
    }
}

/// Sleeps until `when`; false if the run ended first.
fn sleep_until(when: Instant, done: &AtomicBool) -> bool {
    while Instant::now() < when {
        if done.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(
            when.saturating_duration_since(Instant::now())
                .min(Duration::from_millis(5)),
        );
    }
    !done.load(Ordering::SeqCst)
}

fn arp_result(v: &Value) -> String {
    if v["moved"] == true {
        "moved".into()
    } else {
        format!("ignored ({})", v["reason"].as_str().unwrap_or("?"))
    }
}

fn ok(r: &Result<Value, String>) -> bool {
    matches!(r, Ok(v) if v.get("Error").is_none())
}

/// One signed API call, exactly one HTTP request (no retry), signed with the simulated clock so
/// a skewed server accepts it. Returns the `Response` object, or why there is none.
pub fn signed_call(sim: &SimHandle, action: &str, params: &Value) -> Result<Value, String> {
    let url = sim.url();
    let host = url.trim_start_matches("http://");
    let body = params.to_string();
    let timestamp = sim.sim().clock.unix();
    let signed = sign(
        &SignableRequest::post(host, "application/json", body.as_bytes()),
        &SigningParams {
            secret_id: EXAMPLE_SECRET_ID,
            secret_key: EXAMPLE_SECRET_KEY,
            service: "vpc",
            timestamp,
        },
    )
    .map_err(|e| format!("sign: {e}"))?;
    let (authorization, timestamp) = (signed.authorization.to_string(), timestamp.to_string());
    let r = http::request(
        "POST",
        &url,
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &authorization),
            ("X-TC-Action", action),
            ("X-TC-Version", "2017-03-12"),
            ("X-TC-Timestamp", &timestamp),
            ("X-TC-Region", "ap-guangzhou"),
        ],
        &body,
    )?;
    if r.status != 200 {
        return Err(r.status_line);
    }
    let v: Value = serde_json::from_str(&r.body).map_err(|e| format!("answer is not JSON: {e}"))?;
    Ok(v["Response"].clone())
}
