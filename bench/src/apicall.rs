//! Comparison 1b: one API call from a fresh process. `havip api vpc DescribeHaVips` against
//! `tccli vpc DescribeHaVips`, a one-shot Python script with the official SDK
//! (`bench/py/describe_havips.py`), and `curl` sending one request signed in advance (the floor
//! for one HTTPS call from a process: no signing, no JSON, no runtime start-up). All four ask the
//! same tcsim for the same HAVIP over HTTPS, alternating; each sample is one process, spawn to
//! exit, and must print the HAVIP's ID.

use std::process::Command;

use anyhow::{bail, Result};

use crate::sim::{Sim, HAVIP_ID, REGION, SECRET_ID, SECRET_KEY};
use crate::stats::{alternate, Better, Comparison, Side, Target};
use crate::tools::{timed, Tools};

const VERSION: &str = "2017-03-12";

fn params() -> String {
    format!(r#"{{"HaVipIds":["{HAVIP_ID}"]}}"#)
}

fn havip(t: &Tools, sim: &Sim) -> Command {
    let mut c = t.command(&t.havip);
    c.args(["--endpoint", &sim.url, "--region", REGION, "--ca-file"])
        .arg(&sim.ca)
        .args(["api", "vpc", "DescribeHaVips"])
        .arg(params());
    // The flags name everything; the credentials are the environment's (a machine with
    // /etc/havip/havip.toml would sign with that file's key, and tcsim would refuse it loudly).
    c
}

fn tccli(t: &Tools, sim: &Sim) -> Command {
    let mut c = t.command(&t.tccli);
    c.args(["vpc", "DescribeHaVips", "--HaVipIds"])
        .arg(format!(r#"["{HAVIP_ID}"]"#))
        .args(["--endpoint", sim.host_port(), "--region", REGION]);
    c
}

fn sdk(t: &Tools, sim: &Sim) -> Command {
    let mut c = t.command(&t.python);
    c.arg(t.root.join("bench/py/describe_havips.py"))
        .args([sim.host_port(), REGION])
        .arg(&sim.ca)
        .arg(HAVIP_ID);
    c
}

/// `curl` with a request signed now (tcsim accepts five minutes either way; every sample gets a
/// fresh one, signed before the clock starts).
fn curl(sim: &Sim) -> Result<Command> {
    let body = params();
    let host = sim.host_port();
    let timestamp = chrono::Utc::now().timestamp();
    let req = tc3_sign::SignableRequest::post(host, "application/json", body.as_bytes());
    let signed = tc3_sign::sign(
        &req,
        &tc3_sign::SigningParams {
            secret_id: SECRET_ID,
            secret_key: SECRET_KEY,
            service: "vpc",
            timestamp,
        },
    )?;
    let mut c = Command::new("curl");
    c.args(["-sS", "--fail", "--cacert"])
        .arg(&sim.ca)
        .args(["-H", "Content-Type: application/json"])
        .arg("-H")
        .arg(format!("Authorization: {}", signed.authorization))
        .args(["-H", "X-TC-Action: DescribeHaVips"])
        .args(["-H", &format!("X-TC-Version: {VERSION}")])
        .args(["-H", &format!("X-TC-Timestamp: {timestamp}")])
        .args(["-H", &format!("X-TC-Region: {REGION}")])
        .args(["--data-binary", &body])
        .arg(format!("{}/", sim.url));
    Ok(c)
}

/// One sample: run, check the answer names the HAVIP and is no error.
fn sample(what: &str, mut cmd: Command) -> Result<f64> {
    let (ms, out) = timed(what, &mut cmd)?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains(HAVIP_ID) || text.contains("\"Error\"") {
        bail!("{what}: unexpected answer: {text}");
    }
    Ok(ms)
}

pub fn run(t: &Tools, sim: &Sim, runs: usize) -> Result<Vec<Comparison>> {
    // Warm-up, and a check that each side makes exactly one call.
    for (what, cmd) in [
        ("havip api", havip(t, sim)),
        ("tccli", tccli(t, sim)),
        ("Python SDK script", sdk(t, sim)),
        ("curl", curl(sim)?),
    ] {
        sim.clear_requests()?;
        sample(what, cmd)?;
        let calls = sim.requests()?;
        if calls != ["DescribeHaVips"] {
            bail!("{what} made {calls:?}, expected one DescribeHaVips");
        }
    }
    eprintln!("  DescribeHaVips: {runs} samples per side");
    let s = alternate(
        runs,
        &mut [
            &mut || sample("havip api", havip(t, sim)),
            &mut || sample("tccli", tccli(t, sim)),
            &mut || sample("Python SDK script", sdk(t, sim)),
            &mut || sample("curl", curl(sim)?),
        ],
    )?;
    let ours = Side::new("havip api", &s[0]);
    let title = "one DescribeHaVips from a fresh process";
    let pair = |key: &str, label: &str, theirs: &[f64]| {
        Comparison::new(
            &format!("api_call.{key}.wall_ms"),
            &format!("{title}, vs {label}"),
            "ms",
            Better::Lower,
            ours.clone(),
            Side::new(label, theirs),
        )
        .with_note("spawn to exit, over HTTPS, one call each (checked in tcsim's log)")
    };
    let vs_curl = pair("curl", "curl (pre-signed)", &s[3]);
    // Within 1.5× of curl: havip's time at most 1.5 × curl's, i.e. ratio ≥ 1/1.5.
    let t = Target::ratio_at_least("havip api within 1.5× of curl", &vs_curl, 1.0 / 1.5);
    Ok(vec![
        pair("tccli", "tccli", &s[1]),
        pair("python_sdk", "Python SDK script", &s[2]),
        vs_curl.with_target(t),
    ])
}
