//! A running `havip watch` for the integration tests: started as a node of the seed deployment
//! ([`super::sim::Node`]) with `--listen 127.0.0.1:0`, its stderr collected by a thread, its
//! address learned from the ready line, and its `/metrics` read with [`super::http`].
//! Stopped with SIGTERM (or killed) when dropped.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::http;
use super::sim::{wait_until, Node};

/// How long a test waits for something the daemon should do "within two intervals": generous,
/// since the machine may be busy; the tests poll and never time the daemon.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A `havip watch` process.
pub struct Daemon {
    child: Option<Child>,
    log: Arc<Mutex<String>>,
    /// `127.0.0.1:PORT` of /metrics and /healthz.
    pub addr: String,
}

impl Daemon {
    /// Starts `havip --config … watch --listen 127.0.0.1:0 EXTRA…` as `node` and waits for it
    /// to be ready (its "metrics on" line).
    pub fn start(node: &Node, extra: &[&str]) -> Daemon {
        Daemon::start_with(node, extra, &[])
    }

    /// [`Daemon::start`] with extra environment variables.
    pub fn start_with(node: &Node, extra: &[&str], env: &[(&str, &str)]) -> Daemon {
        let mut args = vec!["watch", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut cmd = node.command(&args).env("HAVIP_LOG", "havip=info,warn");
        for (k, v) in env {
            cmd = cmd.env(k, v);
        }
        let mut child = cmd.spawn();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr piped");
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut d = Daemon {
            child: Some(child),
            log,
            addr: String::new(),
        };
        let ready = wait_until(PATIENCE, || {
            d.log()
                .split("metrics on http://")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .is_some()
        });
        assert!(ready, "havip watch did not get ready:\n{}", d.log());
        let log = d.log();
        let rest = log.split("metrics on http://").nth(1).unwrap_or_default();
        d.addr = rest.split('/').next().unwrap_or_default().to_string();
        d
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// Runs `f` with the daemon stopped (SIGSTOP, then SIGCONT, also when `f` panics): what
    /// `f` does to the cloud happens between two of its looks, whatever their timing, as when
    /// a brief master's move falls between the real master's looks.
    pub fn stopped_while<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Resume<'a>(&'a Daemon);
        impl Drop for Resume<'_> {
            fn drop(&mut self) {
                self.0.signal(libc::SIGCONT);
            }
        }
        assert!(
            self.signal(libc::SIGSTOP),
            "SIGSTOP: the daemon is not running"
        );
        let _resume = Resume(self);
        f()
    }

    /// Everything written to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// GET `path` on the daemon: (status, body).
    pub fn get(&self, path: &str) -> Result<(u16, String), String> {
        http::request("GET", &format!("http://{}{path}", self.addr), &[], "")
            .map(|r| (r.status, r.body))
    }

    /// The metrics text (panics if /metrics does not answer 200).
    #[track_caller]
    pub fn metrics(&self) -> String {
        match self.get("/metrics") {
            Ok((200, body)) => body,
            other => panic!("GET /metrics: {other:?}\n{}", self.log()),
        }
    }

    /// The value of the sample `series` (exact name with labels), if exported.
    pub fn sample(&self, series: &str) -> Option<f64> {
        self.metrics()
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    /// Polls `f` for up to [`PATIENCE`]; panics with the daemon's log and `what` otherwise.
    #[track_caller]
    pub fn eventually(&self, what: &str, f: impl FnMut() -> bool) {
        assert!(
            wait_until(PATIENCE, f),
            "{what}\n--- havip watch log ---\n{}",
            self.log()
        );
    }

    /// Sends `signal` to the daemon; whether it was delivered.
    pub fn signal(&self, signal: i32) -> bool {
        self.child.as_ref().is_some_and(|c| {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(c.id() as i32, signal) == 0 }
        })
    }

    /// SIGTERM, then waits up to `limit` for the exit; `Some(status code)` if it exited.
    pub fn terminate(&mut self, limit: Duration) -> Option<i32> {
        self.signal(libc::SIGTERM);
        let mut child = self.child.take()?;
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Ok(Some(st)) = child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
