//! `cargo bench --bench audit`: `havip audit` of a generated cloud of 10,000 EIPs and 1,000 HAVIPs
//! over three regions (tcsim's `audit:1000:10000`), under tcsim's 20 requests/s per-action limit,
//! with the audit's own budget at 20 requests/s (issue 9, "Done when").
//!
//! Two figures, against their targets:
//! - wall time against the floor, pages / limit: the audit cannot go faster than its budget,
//!   so the question is how close to it it runs (target: within 10%);
//! - peak memory of the audit process, its `ru_maxrss` from `wait4` (target: under 50 MB).
//!
//! The last line printed is one JSON object (`"bench": "audit"`) with every figure, for the
//! benchmark report to collect. Exit 1 when a target is missed. `HAVIP_BENCH_RUNS` (default 1)
//! repeats the audit; the figures are the worst run's.

use std::io::Read;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use tcsim::testing::{SimHandle, EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY};
use tcsim::SimOptions;

const SCENARIO: &str = "audit:1000:10000";
const RATE: u32 = 20;
const PAGE: usize = 100;
const TARGET_RATIO: f64 = 1.10;
const TARGET_RSS_MB: f64 = 50.0;

/// One audit: wall time, peak RSS (MiB), exit status, stdout.
struct Sample {
    wall: Duration,
    rss_mb: f64,
    code: i32,
    stdout: String,
}

fn run_audit(url: &str, regions: &[String]) -> Result<Sample, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_havip"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TENCENTCLOUD_SECRET_ID", EXAMPLE_SECRET_ID)
        .env("TENCENTCLOUD_SECRET_KEY", EXAMPLE_SECRET_KEY)
        .env("HAVIP_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .args(["--endpoint", url]);
    for r in regions {
        cmd.args(["--region", r]);
    }
    cmd.args([
        "audit",
        "--format",
        "json",
        "--rate-limit",
        &RATE.to_string(),
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("spawn havip: {e}"))?;
    let mut pipe = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        pipe.read_to_string(&mut s).map(|_| s)
    });
    // wait4 reaps this very child and gives its own resource usage (ru_maxrss, KiB on Linux).
    let pid = libc::pid_t::try_from(child.id()).map_err(|e| e.to_string())?;
    let mut status = 0;
    // SAFETY: plain out-parameters; rusage is a C struct of integers, valid when zeroed.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    if got != pid {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()));
    }
    let stdout = reader
        .join()
        .map_err(|_| "stdout reader panicked")?
        .map_err(|e| format!("read stdout: {e}"))?;
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    Ok(Sample {
        wall,
        rss_mb: usage.ru_maxrss as f64 / 1024.0,
        code,
        stdout,
    })
}

/// Pages the audit must read: every region's EIPs, HAVIPs and (drift ranges to check) ENIs.
fn pages(sim: &SimHandle, regions: &[String]) -> usize {
    let w = sim.sim().world();
    regions
        .iter()
        .map(|r| {
            let eips = w.addresses.iter().filter(|a| a.region == *r).count();
            let havips = w.havips.iter().filter(|h| h.region == *r).count();
            let enis = w.enis.iter().filter(|e| e.region == *r).count();
            // An empty list still costs one request.
            [eips, havips, enis]
                .iter()
                .map(|n| n.div_ceil(PAGE).max(1))
                .sum::<usize>()
        })
        .sum()
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; any other argument is a filter this bench does not take.
    let runs: usize = std::env::var("HAVIP_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let sim = SimHandle::start_with(SimOptions {
        rate_limit: Some(RATE),
        ..SimOptions::new(SCENARIO)
    });
    let regions = tcsim::scenario::default_regions();
    let (eips, havips) = {
        let w = sim.sim().world();
        (w.addresses.len(), w.havips.len())
    };
    let pages = pages(&sim, &regions);
    let floor = pages as f64 / f64::from(RATE);
    let mut worst: Option<(f64, f64)> = None;
    let mut requests = 0;
    let mut throttled = 0;
    for i in 0..runs {
        sim.clear_requests();
        let s = match run_audit(&sim.url(), &regions) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("audit bench: {e}");
                return ExitCode::FAILURE;
            }
        };
        let log = sim.requests();
        requests = log.len();
        throttled = log
            .iter()
            .filter(|r| r.code.as_deref() == Some("RequestLimitExceeded"))
            .count();
        let report: serde_json::Value = match serde_json::from_str(&s.stdout) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("audit bench: the audit's JSON does not parse: {e}");
                return ExitCode::FAILURE;
            }
        };
        if s.code == 3 || report["partial"] != false {
            eprintln!("audit bench: the audit did not complete (exit {})", s.code);
            return ExitCode::FAILURE;
        }
        let wall = s.wall.as_secs_f64();
        println!(
            "run {}: {wall:.3} s for {requests} requests ({throttled} throttled), peak RSS {:.1} MiB, \
             {} findings, {} idle EIPs",
            i + 1,
            s.rss_mb,
            report["summary"]["findings"],
            report["summary"]["idle_eips"],
        );
        let (w, m) = worst.unwrap_or((0.0, 0.0));
        worst = Some((w.max(wall), m.max(s.rss_mb)));
    }
    let (wall, rss) = worst.unwrap_or_default();
    let ratio = wall / floor;
    let ok = ratio <= TARGET_RATIO && rss < TARGET_RSS_MB;
    println!(
        "audit of {eips} EIPs and {havips} HAVIPs over {} regions: {pages} pages at {RATE}/s, \
         floor {floor:.2} s, wall {wall:.2} s ({:.1}% over; target {:.0}%), peak RSS {rss:.1} MiB \
         (target < {TARGET_RSS_MB} MB)",
        regions.len(),
        (ratio - 1.0) * 100.0,
        (TARGET_RATIO - 1.0) * 100.0,
    );
    let line = serde_json::json!({
        "bench": "audit",
        "scenario": SCENARIO,
        "eips": eips,
        "havips": havips,
        "regions": regions.len(),
        "pages": pages,
        "requests": requests,
        "throttled": throttled,
        "rate_limit_per_s": RATE,
        "floor_s": (floor * 1000.0).round() / 1000.0,
        "wall_s": (wall * 1000.0).round() / 1000.0,
        "wall_over_floor": (ratio * 10000.0).round() / 10000.0,
        "target_wall_over_floor": TARGET_RATIO,
        "peak_rss_mib": (rss * 10.0).round() / 10.0,
        "target_peak_rss_mb": TARGET_RSS_MB,
        "runs": runs,
        "ok": ok,
    });
    println!("{line}");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
