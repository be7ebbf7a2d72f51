//! Writing what a run found: `bench/results.json` (every figure by name, both sides' medians
//! and the ratio, for tools) and `BENCHMARKS.md` (the same for people: targets with pass/fail,
//! the tables, what was not measured and why, the machine, the method, and the chart).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::machine::Machine;
use crate::stats::{Comparison, Results};

#[derive(Serialize)]
struct File<'a> {
    generated_by: &'static str,
    generated_at: String,
    machine: &'a Machine,
    #[serde(flatten)]
    results: &'a Results,
}

pub fn write_json(path: &Path, machine: &Machine, res: &Results, at: &str) -> Result<()> {
    let file = File {
        generated_by: "make bench (bench/run.sh, bench/src/main.rs)",
        generated_at: at.to_owned(),
        machine,
        results: res,
    };
    let text = serde_json::to_string_pretty(&file)? + "\n";
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// A figure in its unit, with sensible precision.
fn fmt(v: f64, unit: &str) -> String {
    match unit {
        "signatures/s" => format!("{:.0}/s", v),
        "calls" => format!("{v}"),
        "ms" if v >= 100.0 => format!("{v:.0} ms"),
        "ms" => format!("{v:.1} ms"),
        "s" => format!("{v:.3} s"),
        "MiB" => format!("{v:.1} MiB"),
        "%" => format!("{v:.3}%"),
        "pages" => format!("{v:.0} pages"),
        _ => format!("{v:.3} {unit}"),
    }
}

fn ratio(c: &Comparison) -> String {
    if c.unit == "calls" {
        format!("{} vs {}", c.ours.median, c.theirs.median)
    } else {
        format!("{:.1}×", c.ratio)
    }
}

const METHOD: &str = "\
- **One run, both sides alternating.** Every comparison runs its sides in turn in the same \
run (round r starts with side r mod k), so load from other work on the machine falls on both \
sides alike; the figures are medians over the samples, and the ratio is taken between medians. \
Ranges (min–max) are in `bench/results.json`.
- **One tcsim, over HTTPS.** `tcsim --tls --tls-cert-out …` (seed scenario, rate limit off, \
async tasks done at once) on loopback. tccli trusts only certifi's bundle, so the throwaway \
venv's certifi bundle gets tcsim's CA appended (certifi's own kept as `cacert.pem.orig`); havip gets `--ca-file` / \
`ca_file`, the Python SDK its `certification` option, curl `--cacert`.
- **Promotion.** Node .21 of the seed deployment: each sample starts with .20 holding the HAVIP \
and .21 announcing the VIP (tcsim's control API plays keepalived's gratuitous ARP, which is \
what moves a HAVIP); the handler makes sure of the drift range, the holder and the EIP, and \
confirms. `havip notify INSTANCE VI_1 MASTER 100` against `bench/promote-tccli.sh` (the same \
reads, decisions and writes with tccli and jq). In the rebind case the EIP was unbound \
meanwhile, so both rebind it (HaVipAssociateAddressIp, DescribeVpcTaskResult). A sample counts \
only if the handler exits 0 **and** tcsim's state then shows .21 holding the HAVIP with the EIP \
bound; API calls are counted from tcsim's request log.
- **One API call.** `havip api vpc DescribeHaVips`, `tccli vpc DescribeHaVips`, \
`bench/py/describe_havips.py` (official SDK) and `curl` with a request signed just before \
(by tc3-sign, outside the timing): each one process, spawn to exit, one logged request.
- **Signing.** In-process batches of about 0.25 s on one thread: tc3-sign against \
`bench/py/sign_loop.py`, the SDK's own `AbstractClient._get_tc3_signature` (ending in \
`Sign.sign_tc3`) plus the Authorization header, kept running between batches. Both sign the \
same request (POST DescribeHaVips, 202-byte body) and must produce the same header.
- **Plugged-in benches.** `cargo bench --bench audit`, `cargo bench --bench watch_footprint` \
and the root lab (`deploy/lab/e2e.sh`) run when present; each prints a JSON line whose numeric \
fields (unit suffixes `_ms`, `_s`, `_bytes`, `_kb`, `_mb`, `_percent`, `_pages`) are shown as they \
come. What could not run is listed with the reason; no figure is ever filled in.
";

type W = String;

fn targets(w: &mut W, res: &Results) -> std::fmt::Result {
    writeln!(
        w,
        "## Targets\n\n| target | figure | result |\n| --- | --- | --- |"
    )?;
    for c in &res.comparisons {
        if let Some(t) = &c.target {
            let (o, th) = (fmt(c.ours.median, &c.unit), fmt(c.theirs.median, &c.unit));
            let figure = format!("{}: {o} vs {th} ({})", c.title, ratio(c));
            writeln!(w, "| {} | {figure} | **{}** |", t.text, t.verdict())?;
        }
    }
    for m in &res.measurements {
        if let Some(t) = &m.target {
            let figure = format!("{}: {}", m.title, fmt(m.value, &m.unit));
            writeln!(w, "| {} | {figure} | **{}** |", t.text, t.verdict())?;
        }
    }
    for n in &res.not_measured {
        let why = format!("not measured in this run: {}", n.reason);
        writeln!(w, "| {} | {} | {why} |", n.target, n.title)?;
    }
    Ok(())
}

fn comparisons(w: &mut W, res: &Results) -> std::fmt::Result {
    if res.comparisons.is_empty() {
        return Ok(());
    }
    writeln!(w, "\n## havip against the alternatives\n")?;
    writeln!(
        w,
        "| figure | havip | median | other side | median | havip is | samples per side |"
    )?;
    writeln!(w, "| --- | --- | --- | --- | --- | --- | --- |")?;
    for c in &res.comparisons {
        let better = match c.unit.as_str() {
            "calls" => ratio(c),
            _ => format!("{} better", ratio(c)),
        };
        let (o, th) = (fmt(c.ours.median, &c.unit), fmt(c.theirs.median, &c.unit));
        let (ol, tl) = (&c.ours.label, &c.theirs.label);
        writeln!(
            w,
            "| {} | {ol} | {o} | {tl} | {th} | {better} | {} |",
            c.title, c.ours.n
        )?;
    }
    writeln!(w, "\nWhat each figure is:\n")?;
    for c in res.comparisons.iter().filter(|c| !c.note.is_empty()) {
        writeln!(w, "- `{}`: {}", c.name, c.note)?;
    }
    for n in &res.notes {
        writeln!(w, "- {n}")?;
    }
    Ok(())
}

fn others(w: &mut W, res: &Results) -> std::fmt::Result {
    if !res.measurements.is_empty() {
        writeln!(
            w,
            "\n## Other figures\n\n| figure | value | from |\n| --- | --- | --- |"
        )?;
        for m in &res.measurements {
            writeln!(
                w,
                "| {} | {} | `{}` |",
                m.title,
                fmt(m.value, &m.unit),
                m.source
            )?;
        }
    }
    if !res.not_measured.is_empty() {
        writeln!(w, "\n## Not measured in this run\n")?;
        for n in &res.not_measured {
            writeln!(w, "- **{}** (target: {}): {}", n.title, n.target, n.reason)?;
        }
    }
    Ok(())
}

fn machine_section(w: &mut W, m: &Machine) -> std::fmt::Result {
    let sha = if m.sha_extensions { "yes" } else { "no" };
    writeln!(w, "\n## Machine\n")?;
    writeln!(
        w,
        "- CPU: {} ({} cores; SHA extensions: {sha})",
        m.cpu, m.cores
    )?;
    writeln!(w, "- OS: {}, kernel {}", m.os, m.kernel)?;
    writeln!(
        w,
        "- 1-minute load average at the start: {} (the machine is shared)",
        m.load_at_start
    )?;
    for (k, v) in &m.versions {
        writeln!(w, "- {k}: {v}")?;
    }
    Ok(())
}

pub fn write_markdown(
    path: &Path,
    machine: &Machine,
    res: &Results,
    at: &str,
    profile: &str,
) -> Result<()> {
    let mut w = String::new();
    writeln!(w, "# Benchmarks\n")?;
    writeln!(
        w,
        "Generated by `make bench` on {at} (UTC); do not edit by hand. Every figure is by name \
         in [`bench/results.json`](bench/results.json); the method is at the end.\n"
    )?;
    writeln!(
        w,
        "![havip against the alternatives: how many times better](bench/chart.svg)\n"
    )?;
    targets(&mut w, res)?;
    comparisons(&mut w, res)?;
    others(&mut w, res)?;
    if !profile.is_empty() {
        writeln!(w, "\n{}", profile.trim_end())?;
    }
    machine_section(&mut w, machine)?;
    writeln!(w, "\n## Method\n\n{METHOD}")?;
    std::fs::write(path, w).with_context(|| format!("writing {}", path.display()))
}
