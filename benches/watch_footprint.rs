//! `cargo bench --bench watch_footprint`: the idle footprint of `havip watch` (issue 10, "Done
//! when"): the release daemon watches the seed's HAVIP at `--interval 2s` against an in-process
//! tcsim for a minute (`HAVIP_BENCH_SECONDS`, default 60), with nothing to repair. Reports its
//! resident memory (VmRSS at the end, VmHWM the peak, from /proc/PID/status) and its CPU
//! (utime + stime from /proc/PID/stat over the window, as % of one core). Targets: under 15 MB
//! and under 0.2% of one core. The last line is JSON for the benchmark report harness.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use support::daemon::Daemon;
use support::sim::{Ctl, Node, MAC21, NODE21, VIP};
use tcsim::testing::SimHandle;

const TARGET_RSS_KB: u64 = 15 * 1024;
const TARGET_CPU_PERCENT: f64 = 0.2;

/// utime + stime of `pid`, in clock ticks (fields 14 and 15 of /proc/PID/stat).
fn cpu_ticks(pid: u32) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    // The command name (field 2) may hold spaces: count from the closing parenthesis.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or("bad stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> Result<u64, String> {
        fields
            .get(n - 3)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("stat field {n}"))
    };
    Ok(field(14)? + field(15)?)
}

/// A `Vm…:` line of /proc/PID/status, in kB.
fn status_kb(pid: u32, key: &str) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(key)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .ok_or_else(|| format!("no {key} in /proc/{pid}/status"))
}

fn run() -> Result<bool, String> {
    let seconds: u64 = std::env::var("HAVIP_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE21, "");
    ctl.arp(VIP, MAC21);
    let r = node.run(&["notify", "INSTANCE", "VI_1", "MASTER", "100"]);
    if r.code != Some(0) {
        return Err(format!("setup notify failed: {}", r.stderr));
    }
    let daemon = Daemon::start(&node, &["--interval", "2s"]);
    let pid = daemon.pid().ok_or("the daemon is not running")?;
    // Let it settle (first looks, connection pool) before the window opens.
    std::thread::sleep(Duration::from_secs(5));
    ctl.clear_requests();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let t0 = Instant::now();
    let c0 = cpu_ticks(pid)?;
    std::thread::sleep(Duration::from_secs(seconds));
    let c1 = cpu_ticks(pid)?;
    let wall = t0.elapsed().as_secs_f64();
    let rss = status_kb(pid, "VmRSS:")?;
    let hwm = status_kb(pid, "VmHWM:")?;
    let cpu = (c1 - c0) as f64 / hz / wall * 100.0;
    let calls = ctl.requests().len();
    let writes = ctl.writes().len();
    let ok = rss < TARGET_RSS_KB && hwm < TARGET_RSS_KB && cpu < TARGET_CPU_PERCENT;
    println!(
        "havip watch, idle at --interval 2s for {wall:.0} s: VmRSS {:.1} MB, VmHWM {:.1} MB \
         (target < 15 MB), CPU {cpu:.3}% of one core (target < {TARGET_CPU_PERCENT}%), \
         {calls} API calls ({writes} writes): {}",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        if ok {
            "within targets"
        } else {
            "TARGET MISSED"
        }
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "watch_footprint",
            "interval_s": 2,
            "seconds": wall,
            "vm_rss_kb": rss,
            "vm_hwm_kb": hwm,
            "cpu_percent": cpu,
            "api_calls": calls,
            "api_writes": writes,
            "target_rss_kb": TARGET_RSS_KB,
            "target_cpu_percent": TARGET_CPU_PERCENT,
            "within_targets": ok,
        })
    );
    Ok(ok)
}

fn main() -> ExitCode {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: keep that short.
    if std::env::args().any(|a| a == "--test" || a == "--list") {
        return ExitCode::SUCCESS;
    }
    match run() {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("watch_footprint: {e}");
            ExitCode::FAILURE
        }
    }
}
