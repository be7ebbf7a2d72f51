//! Comparison 1: the promotion handler. `havip notify INSTANCE VI_1 MASTER 100` (strategy
//! havip) against `bench/promote-tccli.sh`, the same job written with tccli, both as node .21
//! of the seed deployment, against the same tcsim, alternating, one process per sample.
//!
//! Each sample starts from the same cloud, set through tcsim's control API: node .20 holds the
//! HAVIP, then node .21's keepalived announces the VIP (a gratuitous ARP, `/_sim/arp`), which
//! moves the HAVIP; what is timed is the handler making sure of it and confirming. In the
//! "rebind" case the EIP was also unbound from the HAVIP meanwhile, so the handler must rebind it
//! (a real write and its task). After every sample the cloud is read back (`/_sim/state`): the
//! sample counts only if .21 holds the HAVIP and the EIP is bound to it. API calls per sample are
//! counted from tcsim's request log.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::sim::{Sim, EIP, HAVIP_ID, MAC20, MAC21, NODE21, REGION};
use crate::stats::{alternate, median, Better, Comparison, Side, Target};
use crate::tools::{timed, Tools};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Case {
    Promotion,
    Rebind,
}

/// One handler: how to run it, and the calls each of its samples made.
struct Handler<'a> {
    label: &'static str,
    tools: &'a Tools,
    sim: &'a Sim,
    config: PathBuf,
    state: PathBuf,
    calls: Vec<f64>,
    actions: Vec<String>,
}

impl Handler<'_> {
    fn command(&self) -> std::process::Command {
        let t = self.tools;
        if self.label == "havip" {
            let mut c = t.command(&t.havip);
            c.arg("--config")
                .arg(&self.config)
                .args(["notify", "INSTANCE", "VI_1", "MASTER", "100"])
                .env("HAVIP_STATE_DIR", &self.state)
                .env(
                    "HAVIP_METADATA_ENDPOINT",
                    format!("{}/_sim/node/{NODE21}", self.sim.url),
                );
            c
        } else {
            let mut c = t.command(&t.root.join("bench/promote-tccli.sh"));
            c.env("TCCLI", &t.tccli)
                .args([self.sim.host_port(), REGION, NODE21, HAVIP_ID, EIP]);
            c
        }
    }

    /// One sample: reset the cloud for `case`, run the handler, check the cloud, count calls.
    fn sample(&mut self, case: Case) -> Result<f64> {
        let sim = self.sim;
        sim.arp(MAC20)?;
        if case == Case::Rebind {
            unbind_eip(self.tools, sim)?;
        }
        sim.arp(MAC21)?;
        sim.clear_requests()?;
        let what = format!("{} ({})", self.label, case_name(case));
        let (ms, _) = timed(&what, &mut self.command())?;
        let calls = sim.requests()?;
        let view = sim.havip_view()?;
        if view != (NODE21.to_owned(), "BIND".to_owned(), HAVIP_ID.to_owned()) {
            bail!("{what} exited 0 but the cloud shows {view:?}");
        }
        if self.actions.is_empty() {
            self.actions = calls.clone();
        }
        self.calls.push(calls.len() as f64);
        Ok(ms)
    }
}

fn case_name(case: Case) -> &'static str {
    match case {
        Case::Promotion => "promotion",
        Case::Rebind => "promotion + EIP rebind",
    }
}

/// Takes the EIP off the HAVIP (`havip api`; tasks take no time in this tcsim).
fn unbind_eip(t: &Tools, sim: &Sim) -> Result<()> {
    let mut c = t.command(&t.havip);
    c.args(["--endpoint", &sim.url, "--region", REGION, "--ca-file"])
        .arg(&sim.ca)
        .args(["api", "vpc", "HaVipDisassociateAddressIp"])
        .arg(format!(r#"{{"HaVipId":"{HAVIP_ID}"}}"#));
    timed("unbinding the EIP", &mut c).map(drop)
}

fn write_config(t: &Tools, sim: &Sim) -> Result<(PathBuf, PathBuf)> {
    let config = t.work.join("havip.toml");
    let text = include_str!("../../deploy/havip.minimal.toml")
        .replace("http://127.0.0.1:PORT", &sim.url)
        .replacen(
            "region = ",
            &format!("ca_file = {:?}\nregion = ", sim.ca.display().to_string()),
            1,
        );
    std::fs::write(&config, text).context("writing havip.toml")?;
    let state = t.work.join("state");
    std::fs::create_dir_all(&state)?;
    Ok((config, state))
}

pub fn run(t: &Tools, sim: &Sim, runs: usize, notes: &mut Vec<String>) -> Result<Vec<Comparison>> {
    let (config, state) = write_config(t, sim)?;
    let new = |label| Handler {
        label,
        tools: t,
        sim,
        config: config.clone(),
        state: state.clone(),
        calls: Vec::new(),
        actions: Vec::new(),
    };
    let mut out = Vec::new();
    for case in [Case::Promotion, Case::Rebind] {
        let (mut havip, mut tccli) = (new("havip"), new("tccli script"));
        // Warm-up, not counted: page cache, Python's bytecode cache, the state directory.
        havip.sample(case)?;
        tccli.sample(case)?;
        havip.calls.clear();
        tccli.calls.clear();
        eprintln!("  {}: {runs} samples per side", case_name(case));
        let samples = alternate(
            runs,
            &mut [&mut || havip.sample(case), &mut || tccli.sample(case)],
        )?;
        let key = match case {
            Case::Promotion => "promotion",
            Case::Rebind => "promotion_rebind",
        };
        let title = format!("notify MASTER, {}: whole process", case_name(case));
        let mut wall = Comparison::new(
            &format!("{key}.wall_ms"),
            &title,
            "ms",
            Better::Lower,
            Side::new("havip notify", &samples[0]),
            Side::new("tccli script", &samples[1]),
        );
        if case == Case::Promotion {
            let t = Target::ratio_at_least("havip ≥ 30× faster than the tccli script", &wall, 30.0);
            wall = wall.with_target(t);
        }
        out.push(wall.with_note(
            "spawn to exit; the cloud read back after each sample (.21 holds the HAVIP, the EIP BIND to it)",
        ));
        out.push(
            Comparison::new(
                &format!("{key}.api_calls"),
                &format!("notify MASTER, {}: API calls", case_name(case)),
                "calls",
                Better::Lower,
                Side::new("havip notify", &havip.calls),
                Side::new("tccli script", &tccli.calls),
            )
            .with_note("requests in tcsim's log per sample"),
        );
        for h in [&havip, &tccli] {
            notes.push(format!(
                "{} ({}): {} calls per sample (median): {}",
                h.label,
                case_name(case),
                median(&h.calls),
                h.actions.join(", ")
            ));
        }
    }
    Ok(out)
}
