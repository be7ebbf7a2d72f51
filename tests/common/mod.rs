//! Shared helpers for integration tests: run the real `havip` binary in a clean environment and
//! talk plain HTTP/1.1 to a loopback server (tcsim's control API) without extra dependencies.
//!
//! Generic on purpose: nothing here knows about a particular test's scenario.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The documentation's example key pair (tcsim's seed scenario accepts it).
pub const SECRET_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
pub const SECRET_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";

/// A metadata endpoint that refuses connections at once (loopback port 9), so a test that does
/// not want the metadata service never reaches the real one.
pub const NO_METADATA: &str = "http://127.0.0.1:9";

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// Both streams, for "does X appear anywhere" assertions.
    pub fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit status\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n--- stderr ---\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// A `havip` invocation with a scrubbed environment: no inherited credentials, proxies, HOME,
/// config or endpoints — only what the test sets. HOME is a fresh temp dir.
pub struct Havip {
    cmd: Command,
    stdin: Option<String>,
    home: tempfile::TempDir,
}

impl Havip {
    pub fn new() -> Self {
        let home = tempfile::tempdir().expect("temp HOME");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_havip"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home.path())
            .env("HAVIP_METADATA_ENDPOINT", NO_METADATA)
            .current_dir(home.path());
        Havip {
            cmd,
            stdin: None,
            home,
        }
    }

    /// The temporary HOME (also the working directory).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    /// Sets the example key pair in the environment.
    pub fn with_keys(self) -> Self {
        self.env("TENCENTCLOUD_SECRET_ID", SECRET_ID)
            .env("TENCENTCLOUD_SECRET_KEY", SECRET_KEY)
    }

    pub fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = Some(text.to_string());
        self
    }

    /// Writes `contents` to `rel` under HOME with `mode`, returning the path.
    pub fn write_file(&self, rel: &str, contents: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.home.path().join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create dir");
        }
        std::fs::write(&path, contents).expect("write file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    /// Runs to completion.
    pub fn run(mut self) -> Run {
        let start = Instant::now();
        self.cmd
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("spawn havip");
        if let Some(text) = self.stdin.take() {
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(text.as_bytes()).expect("write stdin");
        }
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().expect("wait for havip");
        Run {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            elapsed: start.elapsed(),
        }
    }
}

impl Default for Havip {
    fn default() -> Self {
        Havip::new()
    }
}

/// A minimal HTTP/1.1 exchange with a loopback server: `(status, body)`.
pub fn http(method: &str, url: &str, body: Option<&str>) -> (u16, String) {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("only http:// URLs: {url}"));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut stream =
        TcpStream::connect(authority).unwrap_or_else(|e| panic!("connect {authority}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, payload) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in response: {text}"));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head}"));
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let payload = if chunked {
        dechunk(payload)
    } else {
        payload.to_string()
    };
    (status, payload)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    loop {
        let Some((size_line, rest)) = s.split_once("\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 || rest.len() < size {
            return out;
        }
        out.push_str(&rest[..size]);
        s = rest[size..].trim_start_matches("\r\n");
    }
}

/// POSTs JSON and asserts a 2xx answer; returns the body.
#[track_caller]
pub fn post_json(url: &str, body: &serde_json::Value) -> String {
    let (status, text) = http("POST", url, Some(&body.to_string()));
    assert!(
        (200..300).contains(&status),
        "POST {url} {body}: {status} {text}"
    );
    text
}

/// GETs JSON and asserts a 2xx answer.
#[track_caller]
pub fn get_json(url: &str) -> serde_json::Value {
    let (status, text) = http("GET", url, None);
    assert!((200..300).contains(&status), "GET {url}: {status} {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {text}"))
}

/// Every `Signature=` in `text` is followed by a redaction marker, never by hex digits.
pub fn signatures_redacted(text: &str) -> bool {
    text.match_indices("Signature=").all(|(i, m)| {
        let after = &text[i + m.len()..];
        !after.starts_with(|c: char| c.is_ascii_hexdigit())
    })
}

/// A loopback HTTP/1.1 server that answers every request with the same canned response and
/// records the requests' heads — for behaviour no real server shows on demand (e.g. a `Date`
/// header that stays wrong). One thread; connections are served one at a time.
pub struct Canned {
    addr: std::net::SocketAddr,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Canned {
    /// Serves `status`, the extra `headers` and the JSON `body` to every request.
    pub fn start(status: u16, headers: &[(&str, &str)], body: &str) -> Canned {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut extra = String::new();
        for (k, v) in headers {
            extra.push_str(&format!("{k}: {v}\r\n"));
        }
        let response = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n{extra}\r\n{body}",
            body.len()
        );
        let (seen2, stop2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                        let head = read_request(&mut s);
                        seen2.lock().unwrap_or_else(|e| e.into_inner()).push(head);
                        let _ = s.write_all(response.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Canned { addr, seen, stop }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The request heads (request line and headers) received so far.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for Canned {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Reads one request (head plus a Content-Length body) and returns the head.
fn read_request(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&buf).into_owned(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut have = buf.len() - head_end - 4;
    while have < len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => have += n,
        }
    }
    head
}
