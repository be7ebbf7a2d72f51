//! `cargo bench --bench watch_footprint`: the idle footprint of `havip watch` (issue 10, "Done
//! when"): the release daemon watches the seed's HAVIP at `--interval 2s` against an in-process
//! tcsim for a minute (`HAVIP_BENCH_SECONDS`, default 60), with nothing to repair. Reports its
//! resident memory (VmRSS at the end, VmHWM the peak, from /proc/PID/status) and its CPU
//! (utime + stime from /proc/PID/stat over the window, as % of one core). Targets: under 15 MB
//! and under 0.2% of one core. The last line is JSON for the benchmark report harness.
//!
//! The daemon's binary is dropped from the page cache first, so its code is read from disk as
//! after a reboot: how the file came into the cache changes what an idle look costs (a freshly
//! linked file is cached in 4 KiB pieces, a copied one in large folios), and a service runs in
//! the after-reboot state. The line also says how many of the functions listed in
//! src/hot-symbols.txt the binary has (build.rs lays them out together; scripts/hot-symbols.sh).
//! After the window it counts the pages of its own memory the daemon touches in one look
//! (code, the binary's data, heap and stacks): a figure that, unlike CPU time on a shared
//! machine, repeats from run to run.
//!
//! Beside it, over the same window, runs the floor of the same job: a few lines of plain std
//! (this bench re-executed as a child) that wakes as often and does the least any watcher must
//! do per look: read the event file, two HTTP exchanges back to back (as the watcher's budget
//! lets a look's two reads go) on one kept-alive connection to tcsim, then sleep. On a virtual machine each wake-up costs
//! what the hypervisor makes it cost; the floor shows how much of the watcher's figure that is.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use support::daemon::Daemon;
use support::sim::{Ctl, Node, MAC21, NODE21, VIP};
use tcsim::testing::SimHandle;

const TARGET_RSS_KB: u64 = 15 * 1024;
const TARGET_CPU_PERCENT: f64 = 0.2;

/// What /proc/PID/stat says a process has used so far.
#[derive(Debug, Clone, Copy)]
struct Usage {
    /// utime + stime, in clock ticks (fields 14 and 15).
    ticks: u64,
    /// Page faults: minor (field 10) and major (field 12). A watcher whose code is paged out
    /// between looks pays for it here.
    minor_faults: u64,
    major_faults: u64,
}

fn usage(pid: u32) -> Result<Usage, String> {
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
    Ok(Usage {
        ticks: field(14)? + field(15)?,
        minor_faults: field(10)?,
        major_faults: field(12)?,
    })
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

/// Pages of its own memory the daemon touches in one look: its accessed bits are cleared
/// (`/proc/PID/clear_refs`), one interval passes, and `Referenced:` is summed over each mapping
/// of `bin` and over its private memory (heap, stacks, anonymous), from `/proc/PID/smaps`.
/// Shared libraries are left out: other processes touch their pages too. Unlike CPU time on a
/// shared machine, this count repeats from run to run, so it shows what a change to the look
/// does. `None` when /proc does not allow it.
fn touched_per_look(pid: u32, bin: &Path, interval: Duration) -> Option<Touched> {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "1").ok()?;
    // One look at least (the interval is jittered by ±10%), at most two.
    std::thread::sleep(interval.mul_f64(1.15));
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    let bin = bin.canonicalize().ok()?;
    let bin = bin.to_str()?;
    let mut touched = Touched::default();
    // Where the current mapping's pages count: code, data or private, or nowhere (a library).
    let mut current: Option<fn(&mut Touched) -> &mut u64> = None;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if first.contains('-') && first.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            let perms = fields.next().unwrap_or("");
            let path = fields.nth(3).unwrap_or("");
            current = if path == bin && perms.contains('x') {
                Some(|t| &mut t.code)
            } else if path == bin {
                Some(|t| &mut t.data)
            } else if path.is_empty() || path.starts_with("[heap]") || path.starts_with("[stack]") {
                Some(|t| &mut t.private)
            } else {
                None
            };
        } else if first == "Referenced:" {
            let kb: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            if let Some(count) = current {
                *count(&mut touched) += kb / 4;
            }
        }
    }
    Some(touched)
}

/// [`touched_per_look`]'s count, in 4 KiB pages.
#[derive(Debug, Default, Clone, Copy)]
struct Touched {
    /// The binary's code.
    code: u64,
    /// The binary's constants and relocated data.
    data: u64,
    /// Heap, stacks and anonymous memory.
    private: u64,
}

impl Touched {
    fn total(&self) -> u64 {
        self.code + self.data + self.private
    }
}

/// Drops `path` from the page cache (written back first), so the next exec reads it from disk.
fn evict(path: &Path) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.sync_all()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // SAFETY: advice on an open descriptor; no memory is involved.
    let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        return Err(format!(
            "{}: posix_fadvise: {}",
            path.display(),
            std::io::Error::from_raw_os_error(rc)
        ));
    }
    Ok(())
}

/// How many of src/hot-symbols.txt's functions `bin` has, of how many listed (`None` without
/// `nm` or the list).
fn hot_symbols(bin: &Path) -> Option<(usize, usize)> {
    let list =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/hot-symbols.txt"))
            .ok()?;
    let listed: Vec<&str> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let out = std::process::Command::new("nm").arg(bin).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let names: std::collections::HashSet<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    let found = listed.iter().filter(|s| names.contains(*s)).count();
    Some((found, listed.len()))
}

/// The floor's environment variable: `ADDR PATH STATE_FILE` (tcsim, a GET path, the file).
const FLOOR_ENV: &str = "HAVIP_BENCH_FLOOR";

/// One GET on a kept-alive connection: writes the request, reads the headers and the body
/// (Content-Length).
fn exchange(conn: &mut BufReader<TcpStream>, path: &str) -> std::io::Result<usize> {
    write!(conn.get_mut(), "GET {path} HTTP/1.1\r\nHost: tcsim\r\n\r\n")?;
    let mut len = 0;
    let mut line = String::new();
    loop {
        line.clear();
        if conn.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; len];
    conn.read_exact(&mut body)?;
    Ok(len)
}

/// The floor's loop (never returns but on an error): every 2 s, the event file and two
/// exchanges back to back.
fn floor(spec: &str) -> ExitCode {
    let mut parts = spec.splitn(3, ' ');
    let (Some(addr), Some(path), Some(file)) = (parts.next(), parts.next(), parts.next()) else {
        eprintln!("watch_footprint floor: bad {FLOOR_ENV}");
        return ExitCode::FAILURE;
    };
    let run = || -> std::io::Result<()> {
        let mut conn = BufReader::new(TcpStream::connect(addr)?);
        loop {
            std::thread::sleep(Duration::from_secs(2));
            std::fs::read(Path::new(file))?;
            exchange(&mut conn, path)?;
            exchange(&mut conn, path)?;
        }
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("watch_footprint floor: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The floor's process, stopped when dropped (on every return from [`run`], errors included).
struct FloorChild(std::process::Child);

impl Drop for FloorChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
    let bin = Path::new(env!("CARGO_BIN_EXE_havip"));
    evict(bin)?;
    let hot = hot_symbols(bin);
    let daemon = Daemon::start(&node, &["--interval", "2s"]);
    let pid = daemon.pid().ok_or("the daemon is not running")?;
    let event_file = node.state_dir().join("iam.event.json");
    let spec = format!(
        "{} /_sim/node/{NODE21}/latest/meta-data/instance-id {}",
        sim.addr(),
        event_file.display()
    );
    let floor_child = FloorChild(
        std::process::Command::new(
            std::env::current_exe().map_err(|e| format!("this bench's path: {e}"))?,
        )
        .env(FLOOR_ENV, spec)
        .spawn()
        .map_err(|e| format!("starting the floor: {e}"))?,
    );
    let floor_pid = floor_child.0.id();
    // Let it settle (first looks, connection pool) before the window opens.
    std::thread::sleep(Duration::from_secs(5));
    ctl.clear_requests();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let t0 = Instant::now();
    let c0 = usage(pid)?;
    let f0 = usage(floor_pid)?;
    std::thread::sleep(Duration::from_secs(seconds));
    let c1 = usage(pid)?;
    let f1 = usage(floor_pid)?;
    drop(floor_child);
    let wall = t0.elapsed().as_secs_f64();
    let rss = status_kb(pid, "VmRSS:")?;
    let hwm = status_kb(pid, "VmHWM:")?;
    let touched = touched_per_look(pid, bin, Duration::from_secs(2));
    let cpu = (c1.ticks - c0.ticks) as f64 / hz / wall * 100.0;
    let floor = (f1.ticks - f0.ticks) as f64 / hz / wall * 100.0;
    let minor_faults = c1.minor_faults - c0.minor_faults;
    let major_faults = c1.major_faults - c0.major_faults;
    let calls = ctl.requests().len();
    let writes = ctl.writes().len();
    let ok = rss < TARGET_RSS_KB && hwm < TARGET_RSS_KB && cpu < TARGET_CPU_PERCENT;
    println!(
        "havip watch, idle at --interval 2s for {wall:.0} s: VmRSS {:.1} MB, VmHWM {:.1} MB \
         (target < 15 MB), CPU {cpu:.3}% of one core (target < {TARGET_CPU_PERCENT}%), \
         {calls} API calls ({writes} writes), {minor_faults} minor and {major_faults} major page \
         faults, code read from disk as after a reboot, hot functions laid out: {}, {} touched \
         per look: {}; the floor of the same job in plain std \
         (event file, two loopback HTTP exchanges back to back, every 2 s), over the same window: \
         CPU {floor:.3}%",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        match hot {
            Some((found, listed)) => format!("{found} of {listed}"),
            None => "unknown (no nm or no src/hot-symbols.txt)".into(),
        },
        match touched {
            Some(t) => format!(
                "{} pages ({} of code, {} of the binary's data, {} heap and stack)",
                t.total(),
                t.code,
                t.data,
                t.private
            ),
            None => "unknown pages (/proc/PID/clear_refs not writable)".into(),
        },
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
            "floor_percent": floor,
            "api_calls": calls,
            "api_writes": writes,
            "minor_faults": minor_faults,
            "major_faults": major_faults,
            "hot_symbols_found": hot.map(|h| h.0),
            "hot_symbols_listed": hot.map(|h| h.1),
            "touched_per_look_pages": touched.map(|t| t.total()),
            "code_touched_per_look_pages": touched.map(|t| t.code),
            "data_touched_per_look_pages": touched.map(|t| t.data),
            "heap_and_stack_touched_per_look_pages": touched.map(|t| t.private),
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
    if let Ok(spec) = std::env::var(FLOOR_ENV) {
        return floor(&spec);
    }
    match run() {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("watch_footprint: {e}");
            ExitCode::FAILURE
        }
    }
}
