//! The programs the comparisons run (havip, tcsim, tccli, the venv's Python, curl, jq) and
//! the one way a sample runs one of them: spawn to exit, timed here, failure is an error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use anyhow::{bail, Context, Result};

pub struct Tools {
    /// The repository root (scripts under bench/ are found from here).
    pub root: PathBuf,
    pub havip: PathBuf,
    pub tcsim: PathBuf,
    /// The bench venv's Python (official SDK installed) and tccli.
    pub python: PathBuf,
    pub tccli: PathBuf,
    /// A scratch directory for this run (configuration, state, certificates).
    pub work: PathBuf,
}

impl Tools {
    pub fn new(root: &Path, bin_dir: &Path, venv: &Path, work: &Path) -> Result<Tools> {
        let t = Tools {
            root: root.to_owned(),
            havip: bin_dir.join("havip"),
            tcsim: bin_dir.join("tcsim"),
            python: venv.join("bin/python"),
            tccli: venv.join("bin/tccli"),
            work: work.to_owned(),
        };
        for p in [&t.havip, &t.tcsim, &t.python, &t.tccli] {
            if !p.is_file() {
                bail!(
                    "{} is missing (bench/run.sh builds and installs it)",
                    p.display()
                );
            }
        }
        for c in ["curl", "jq"] {
            if !on_path(c) {
                bail!("{c} is not on PATH (Debian: apt-get install {c})");
            }
        }
        Ok(t)
    }

    /// A command whose environment holds only what the comparisons give every side: PATH, LANG,
    /// HOME (a scratch one, so no profile or configuration of the user's is read), and the seed
    /// credentials (`TENCENTCLOUD_SECRET_ID`/`_KEY`, read by havip, tccli and the SDK alike).
    pub fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.env_clear().env("HOME", self.work.join("home"));
        for k in ["PATH", "LANG"] {
            if let Ok(v) = std::env::var(k) {
                c.env(k, v);
            }
        }
        c.env("TENCENTCLOUD_SECRET_ID", crate::sim::SECRET_ID)
            .env("TENCENTCLOUD_SECRET_KEY", crate::sim::SECRET_KEY);
        c
    }
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false)
}

/// Runs `cmd` to completion: its wall time in milliseconds (spawn to exit) and its output. A
/// non-zero exit is an error naming `what`, with the output.
pub fn timed(what: &str, cmd: &mut Command) -> Result<(f64, Output)> {
    let start = Instant::now();
    let out = cmd
        .output()
        .with_context(|| format!("{what}: cannot start"))?;
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if !out.status.success() {
        bail!(
            "{what}: exit {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok((ms, out))
}
