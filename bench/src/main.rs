//! `make bench`: havip against the tools an SRE would use instead, side by side against one
//! tcsim over HTTPS, each comparison alternating its sides in the same run; then the figures
//! other benches produce (audit, watcher, the root lab). Writes `BENCHMARKS.md`,
//! `bench/results.json` and `bench/chart.svg`.
//!
//! `bench/run.sh` (what `make bench` runs) builds the release binaries and the throwaway venv
//! (tccli, the official Python SDK) first, then runs this with their paths.

mod apicall;
mod chart;
mod external;
mod lab;
mod machine;
mod promotion;
mod report;
mod signing;
mod sim;
mod stats;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;

use crate::stats::Results;

#[derive(Parser, Debug)]
#[command(
    name = "havip-bench",
    about = "havip against the alternatives (make bench)"
)]
struct Args {
    /// The repository root: BENCHMARKS.md and bench/ are written there.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Where the release havip and tcsim are.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// The venv with tccli and the official Python SDK (bench/run.sh makes it).
    #[arg(long, default_value = "target/bench-venv")]
    venv: PathBuf,
    /// Samples per side in the process comparisons.
    #[arg(long, default_value_t = 9, value_parser = clap::value_parser!(u16).range(1..=1000))]
    runs: u16,
    /// Batches per side in the signing comparison.
    #[arg(long, default_value_t = 21, value_parser = clap::value_parser!(u16).range(1..=1000))]
    sign_rounds: u16,
    /// Only these parts (promotion, api, signing, audit, watch, e2e); all when omitted.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Do not run the end-to-end lab, even as root.
    #[arg(long, env = "HAVIP_BENCH_NO_LAB")]
    no_lab: bool,
}

impl Args {
    fn wants(&self, part: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == part)
    }
}

fn run(args: &Args) -> Result<()> {
    let root = args.root.canonicalize().context("--root")?;
    let work = tempfile::Builder::new().prefix("havip-bench.").tempdir()?;
    let home = work.path().join("home");
    std::fs::create_dir_all(&home)?;
    let t = tools::Tools::new(
        &root,
        &root.join(&args.bin_dir),
        &root.join(&args.venv),
        work.path(),
    )?;
    let machine = machine::describe(&t);
    let at = chrono::Utc::now().format("%Y-%m-%d %H:%M").to_string();
    let mut res = Results::default();
    let runs = usize::from(args.runs);
    if args.wants("promotion") || args.wants("api") {
        let sim = sim::Sim::start(&t.tcsim, work.path())?;
        eprintln!("tcsim at {} (CA {})", sim.url, sim.ca.display());
        trust_ca(&t, &sim)?;
        if args.wants("promotion") {
            eprintln!("promotion: havip notify vs the tccli script");
            let mut notes = Vec::new();
            res.comparisons
                .extend(promotion::run(&t, &sim, runs, &mut notes)?);
            res.notes.extend(notes);
        }
        if args.wants("api") {
            eprintln!("one API call: havip api vs tccli vs the Python SDK vs curl");
            res.comparisons.extend(apicall::run(&t, &sim, runs)?);
        }
    }
    if args.wants("signing") {
        eprintln!("signing: tc3-sign vs the Python SDK");
        res.comparisons
            .extend(signing::run(&t, usize::from(args.sign_rounds))?);
    }
    if args.wants("audit") {
        eprintln!("audit at scale");
        external::audit(&root, &mut res);
    }
    if args.wants("watch") {
        eprintln!("watcher footprint");
        external::watcher(&root, &mut res);
    }
    if args.wants("e2e") {
        eprintln!("end to end (lab)");
        lab::run(&root, !args.no_lab, &mut res);
    }
    let profile =
        std::fs::read_to_string(root.join("bench/tc3-sign-profile.md")).unwrap_or_default();
    report::write_json(&root.join("bench/results.json"), &machine, &res, &at)?;
    chart::write_svg(&root.join("bench/chart.svg"), &res.comparisons)?;
    report::write_markdown(&root.join("BENCHMARKS.md"), &machine, &res, &at, &profile)?;
    for c in &res.comparisons {
        let verdict = c
            .target
            .as_ref()
            .map(|t| format!(" [{}: {}]", t.text, t.verdict()))
            .unwrap_or_default();
        eprintln!(
            "{:<28} {:>12.2} vs {:>12.2} {:<12} ratio {:.2}{verdict}",
            c.name, c.ours.median, c.theirs.median, c.unit, c.ratio
        );
    }
    eprintln!("wrote BENCHMARKS.md, bench/results.json, bench/chart.svg");
    Ok(())
}

/// tccli trusts only certifi's bundle: the venv's bundle becomes certifi's own roots (kept as
/// `cacert.pem.orig` the first time) plus this tcsim's CA.
fn trust_ca(t: &tools::Tools, sim: &sim::Sim) -> Result<()> {
    let out = t
        .command(&t.python)
        .args(["-c", "import certifi; print(certifi.where())"])
        .output()?;
    let bundle = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let orig = bundle.with_extension("pem.orig");
    if !orig.exists() {
        std::fs::copy(&bundle, &orig).with_context(|| format!("keeping {}", bundle.display()))?;
    }
    let mut text = std::fs::read_to_string(&orig)?;
    text.push('\n');
    text.push_str(&std::fs::read_to_string(&sim.ca)?);
    std::fs::write(&bundle, text).with_context(|| format!("writing {}", bundle.display()))
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("havip-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
