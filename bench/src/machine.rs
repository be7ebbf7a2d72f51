//! What the figures were measured on: CPU model, cores, kernel, OS, load, and the versions of
//! everything compared (havip's commit, rustc, Python, tccli, the SDK, curl, keepalived).

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::tools::Tools;

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    /// The CPU has SHA extensions (SHA-NI), which sha2 and OpenSSL both use.
    pub sha_extensions: bool,
    pub kernel: String,
    pub os: String,
    /// The 1-minute load average when the run started (others may share the machine).
    pub load_at_start: String,
    pub versions: Vec<(String, String)>,
}

/// The first line of `program args…`'s output (stdout, else stderr), or "unavailable".
fn first_line(program: &Path, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unavailable".to_owned())
}

fn file_field(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(['=', ':'])?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// An installed Python distribution's version, from the venv's metadata.
fn pip_version(t: &Tools, dist: &str) -> String {
    let code = format!("import importlib.metadata as m; print(m.version({dist:?}))");
    first_line(&t.python, &["-c", &code])
}

pub fn describe(t: &Tools) -> Machine {
    let p = |s: &str| Path::new(s).to_owned();
    let git = first_line(
        &p("git"),
        &[
            "-C",
            &t.root.display().to_string(),
            "rev-parse",
            "--short",
            "HEAD",
        ],
    );
    let dirty = Command::new("git")
        .args([
            "-C",
            &t.root.display().to_string(),
            "status",
            "--porcelain",
            "--untracked-files=no",
        ])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    let versions = vec![
        (
            "havip".into(),
            format!(
                "{}{}",
                git,
                if dirty {
                    " (with uncommitted changes)"
                } else {
                    ""
                }
            ),
        ),
        ("rustc".into(), first_line(&p("rustc"), &["--version"])),
        ("Python".into(), first_line(&t.python, &["--version"])),
        ("tccli".into(), pip_version(t, "tccli")),
        (
            "tencentcloud-sdk-python-common".into(),
            pip_version(t, "tencentcloud-sdk-python-common"),
        ),
        (
            "tencentcloud-sdk-python-vpc".into(),
            pip_version(t, "tencentcloud-sdk-python-vpc"),
        ),
        ("curl".into(), first_line(&p("curl"), &["--version"])),
        (
            "keepalived".into(),
            first_line(&p("keepalived"), &["--version"]),
        ),
    ];
    Machine {
        cpu: file_field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into()),
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        sha_extensions: file_field("/proc/cpuinfo", "flags")
            .is_some_and(|f| f.split_whitespace().any(|x| x == "sha_ni")),
        kernel: first_line(&p("uname"), &["-sr"]),
        os: file_field("/etc/os-release", "PRETTY_NAME").unwrap_or_else(|| "unknown".into()),
        load_at_start: std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| "unknown".into()),
        versions,
    }
}
