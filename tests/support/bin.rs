//! The real `havip` binary (STYLE.md 11), run with a scrubbed environment: no inherited
//! credentials, proxies, HOME, configuration or endpoints, only what the test sets.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY};

/// A metadata endpoint that refuses connections at once (loopback port 9), so a test that does
/// not want the metadata service never reaches the real one.
pub const NO_METADATA: &str = "http://127.0.0.1:9";

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    /// `None`: killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    fn new(out: Output, elapsed: Duration) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed,
        }
    }

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

/// What the process reads on stdin.
enum Input {
    Null,
    Text(String),
    /// A pipe the caller of [`Havip::spawn`] writes to.
    Pipe,
}

/// A `havip` invocation. HOME (also the working directory) is a fresh temp dir, or a directory
/// the caller owns ([`Havip::at`]); `HAVIP_METADATA_ENDPOINT` is [`NO_METADATA`] until set.
pub struct Havip {
    cmd: Command,
    stdin: Input,
    home: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Havip {
    pub fn new() -> Self {
        let temp = tempfile::tempdir().expect("temp HOME");
        let mut h = Havip::at(temp.path());
        h._temp = Some(temp);
        h
    }

    /// With `dir` as HOME and working directory; the caller keeps it alive.
    pub fn at(dir: &Path) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_havip"));
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir)
            .env("HAVIP_METADATA_ENDPOINT", NO_METADATA)
            .current_dir(dir);
        Havip {
            cmd,
            stdin: Input::Null,
            home: dir.to_path_buf(),
            _temp: None,
        }
    }

    /// HOME (also the working directory).
    pub fn home(&self) -> &Path {
        &self.home
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.cmd.env_remove(key);
        self
    }

    /// Sets tcsim's example key pair in the environment.
    pub fn with_keys(self) -> Self {
        self.env("TENCENTCLOUD_SECRET_ID", EXAMPLE_SECRET_ID)
            .env("TENCENTCLOUD_SECRET_KEY", EXAMPLE_SECRET_KEY)
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.cmd.arg(a);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// `--endpoint URL --region ap-guangzhou` (tcsim's seed region).
    pub fn endpoint(self, url: &str) -> Self {
        self.args(["--endpoint", url, "--region", "ap-guangzhou"])
    }

    /// Feeds `text` on stdin (otherwise stdin is /dev/null).
    pub fn stdin(mut self, text: &str) -> Self {
        self.stdin = Input::Text(text.to_owned());
        self
    }

    /// Leaves stdin a pipe for the caller of [`Havip::spawn`] to write to.
    pub fn stdin_pipe(mut self) -> Self {
        self.stdin = Input::Pipe;
        self
    }

    /// Writes `contents` to `rel` under HOME with `mode`, returning the path.
    pub fn write_file(&self, rel: &str, contents: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.home.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create dir");
        }
        std::fs::write(&path, contents).expect("write file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    /// Starts the process with stdout and stderr piped; `self` (and a temp HOME) must outlive
    /// it.
    pub fn spawn(&mut self) -> Child {
        let stdin = match self.stdin {
            Input::Null => Stdio::null(),
            Input::Text(_) | Input::Pipe => Stdio::piped(),
        };
        let mut child = self
            .cmd
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn havip");
        if let Input::Text(text) = &self.stdin {
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(text.as_bytes()).expect("write stdin");
        }
        child
    }

    /// Runs to completion.
    pub fn run(mut self) -> Run {
        let start = Instant::now();
        let out = self.spawn().wait_with_output().expect("wait for havip");
        Run::new(out, start.elapsed())
    }
}

impl Default for Havip {
    fn default() -> Self {
        Havip::new()
    }
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
    Run::new(out, t.elapsed())
}

/// Every `Signature=` in `text` is followed by a redaction marker, never by hex digits.
pub fn signatures_redacted(text: &str) -> bool {
    text.match_indices("Signature=").all(|(i, m)| {
        let after = &text[i + m.len()..];
        !after.starts_with(|c: char| c.is_ascii_hexdigit())
    })
}
