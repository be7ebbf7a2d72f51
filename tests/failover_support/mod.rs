//! Helpers for the failover-engine integration tests: an in-process tcsim, a temp state dir and
//! config, the real `havip` binary run as one node of the seed deployment, and tcsim's control
//! API over plain HTTP/1.1 on loopback.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tcsim::testing::SimHandle;

pub const SECRET_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
pub const SECRET_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
/// The seed's nodes.
pub const NODE20: &str = "ins-iam00020";
pub const NODE21: &str = "ins-iam00021";
pub const MAC20: &str = "52:54:00:00:04:20";
pub const MAC21: &str = "52:54:00:00:04:21";
pub const HAVIP: &str = "havip-iam00099";
pub const VIP: &str = "10.0.4.99";
pub const EIP: &str = "106.52.252.139";

/// The minimal configuration of issue 4 (`deploy/havip.minimal.toml`, the file the README and
/// `make demo` show) with `PORT` filled in, this node's instance, and `extra` lines appended to
/// the `[[vip]]` table.
pub fn minimal_config(url: &str, instance: &str, extra: &str) -> String {
    let text = include_str!("../../deploy/havip.minimal.toml")
        .replace("http://127.0.0.1:PORT", url)
        .replace("ins-iam00021", instance);
    format!("{text}{extra}")
}

/// One node of the deployment: a tcsim URL, a state dir and a config file in a temp dir.
pub struct Node {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub instance: String,
}

/// The result of one run.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    fn from(out: Output, elapsed: Duration) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed,
        }
    }

    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn code(&self, want: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(want),
            "exit status\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

impl Node {
    /// A node named `instance` with the given config text.
    pub fn new(sim: &SimHandle, instance: &str, config: &str) -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("havip.toml"), config).expect("write config");
        Node {
            dir,
            url: sim.url(),
            instance: instance.to_string(),
        }
    }

    /// The minimal config for `instance`, plus `extra` VIP keys.
    pub fn minimal(sim: &SimHandle, instance: &str, extra: &str) -> Node {
        let cfg = minimal_config(&sim.url(), instance, extra);
        Node::new(sim, instance, &cfg)
    }

    /// Like [`Node::minimal`], with an exec alert target recording into [`Node::alerts_file`].
    pub fn with_alerts(
        sim: &SimHandle,
        instance: &str,
        config: impl FnOnce(&str) -> String,
    ) -> Node {
        let node = Node::minimal(sim, instance, "");
        let text = config(&minimal_config(&sim.url(), instance, "")) + &node.alert_section();
        node.write_config(&text);
        node
    }

    /// Runs `havip --endpoint URL api vpc ACTION PARAMS` (a signed call to arrange the cloud).
    pub fn api(&self, action: &str, params: &Value) -> Value {
        let r = self.run(&[
            "--endpoint",
            &self.url.clone(),
            "api",
            "vpc",
            action,
            &params.to_string(),
        ]);
        r.code(0);
        serde_json::from_str(&r.stdout).expect("api prints JSON")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("havip.toml")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Replaces the config file.
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config_path(), text).expect("write config");
    }

    /// The command for `havip --config FILE ARGS…` as this node, in a clean environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_havip"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
            .env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
            .env("HAVIP_STATE_DIR", self.state_dir())
            .env(
                "HAVIP_METADATA_ENDPOINT",
                format!("{}/_sim/node/{}", self.url, self.instance),
            )
            .arg("--config")
            .arg(self.config_path())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs `havip ARGS…` and waits.
    pub fn run(&self, args: &[&str]) -> Run {
        let t = Instant::now();
        let out = self.command(args).output().expect("run havip");
        Run::from(out, t.elapsed())
    }

    /// Starts `havip ARGS…` without waiting.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).spawn().expect("spawn havip")
    }

    /// The journal's run records (one per event or command) as JSON values.
    pub fn journal(&self) -> Vec<Value> {
        self.journal_lines()
            .into_iter()
            .filter(|l| l.get("write").is_none())
            .collect()
    }

    /// Every journal line: run records and the intent/outcome records around each write.
    pub fn journal_lines(&self) -> Vec<Value> {
        match std::fs::read_to_string(self.state_dir().join("journal.jsonl")) {
            Ok(s) => s
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).expect("journal line is JSON"))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Adds an exec alert target that appends each alert (JSON on stdin) to `alerts.jsonl`,
    /// and returns that file's path.
    pub fn alerts_file(&self) -> PathBuf {
        self.dir.path().join("alerts.jsonl")
    }

    /// Config text for an `[[alert]]` exec target writing to [`Node::alerts_file`].
    pub fn alert_section(&self) -> String {
        format!(
            "\n[[alert]]\ntype = \"exec\"\ncommand = [\"sh\", \"-c\", \"cat >> '{}'; echo >> '{}'\"]\n",
            self.alerts_file().display(),
            self.alerts_file().display()
        )
    }

    /// The alerts delivered so far.
    pub fn alerts(&self) -> Vec<Value> {
        match std::fs::read_to_string(self.alerts_file()) {
            Ok(s) => s
                .lines()
                .filter(|l| !l.trim().is_empty())
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// One plain HTTP/1.1 request on loopback; returns (status, body).
pub fn http(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut s = TcpStream::connect(host).expect("connect to tcsim");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read");
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// tcsim's control API.
pub struct Ctl<'a>(pub &'a SimHandle);

impl Ctl<'_> {
    fn post(&self, path: &str, body: Value) -> Value {
        let (status, text) = http(
            "POST",
            &format!("{}{path}", self.0.url()),
            Some(&body.to_string()),
        );
        assert!(status < 300, "POST {path} {body}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Plays keepalived's gratuitous ARP for `ip` from `mac`.
    pub fn arp(&self, ip: &str, mac: &str) -> Value {
        self.post("/_sim/arp", json!({"ip": ip, "mac": mac}))
    }

    pub fn fault(&self, spec: Value) {
        self.post("/_sim/faults", spec);
    }

    pub fn clear_faults(&self) {
        http("DELETE", &format!("{}/_sim/faults", self.0.url()), None);
    }

    /// Merges `v` into the scenario's settings (e.g. `{"task_duration_ms": 1500}`).
    pub fn settings(&self, v: Value) {
        self.post("/_sim/settings", v);
    }

    pub fn clock(&self, offset_s: i64) {
        self.post("/_sim/clock", json!({"offset_s": offset_s}));
    }

    /// The request log.
    pub fn requests(&self) -> Vec<Value> {
        let (_, text) = http("GET", &format!("{}/_sim/requests", self.0.url()), None);
        serde_json::from_str(&text).expect("request log is JSON")
    }

    pub fn clear_requests(&self) {
        http("DELETE", &format!("{}/_sim/requests", self.0.url()), None);
    }

    /// Actions in the log that can change the cloud (and were accepted or not).
    pub fn writes(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter_map(|r| r["action"].as_str().map(str::to_string))
            .filter(|a| !a.starts_with("Describe"))
            .collect()
    }

    /// The cloud's view of the seed HAVIP, through a signed DescribeHaVips by havip itself would
    /// add calls to the log; the control API's state does not.
    pub fn havip(&self) -> Value {
        let (_, text) = http("GET", &format!("{}/_sim/state", self.0.url()), None);
        let v: Value = serde_json::from_str(&text).expect("state is JSON");
        find_by(&v, "havips", HAVIP)
    }

    /// The whole state.
    pub fn state(&self) -> Value {
        let (_, text) = http("GET", &format!("{}/_sim/state", self.0.url()), None);
        serde_json::from_str(&text).expect("state is JSON")
    }
}

/// Finds the object with `"id": id` in the array `key` of `state`, wherever it sits.
pub fn find_by(state: &Value, key: &str, id: &str) -> Value {
    fn walk(v: &Value, key: &str, id: &str) -> Option<Value> {
        match v {
            Value::Object(m) => {
                if let Some(Value::Array(items)) = m.get(key) {
                    if let Some(x) = items.iter().find(|x| x["id"] == id) {
                        return Some(x.clone());
                    }
                }
                m.values().find_map(|x| walk(x, key, id))
            }
            Value::Array(a) => a.iter().find_map(|x| walk(x, key, id)),
            _ => None,
        }
    }
    walk(state, key, id).unwrap_or(Value::Null)
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// Waits for a child with a bound; kills it (a test failure) if it overstays.
pub fn wait_child(mut child: Child, timeout: Duration) -> Run {
    let t = Instant::now();
    loop {
        match child.try_wait().expect("try_wait") {
            Some(_) => break,
            None if t.elapsed() > timeout => {
                let _ = child.kill();
                break;
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    let out = child.wait_with_output().expect("wait");
    Run::from(out, t.elapsed())
}

/// True when `path` exists.
pub fn exists(path: &Path) -> bool {
    path.exists()
}
