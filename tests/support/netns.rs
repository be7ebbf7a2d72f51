//! Tests on real links: a network namespace created for one thread (no route out), set up with
//! `ip` from iproute2. Without root, or when the namespace cannot be set up, the test says why
//! and skips (passes).

use std::io;
use std::process::Command;

/// Runs `ip ARGS…`; `Err` carries its stderr.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("running ip: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Runs `body` on a new thread in a fresh network namespace, after `ip SETUP…` for each entry
/// of `setup` (and tcsim or havip started by `body` live there too). Skips, printing why
/// under `name`, when not root or when the namespace or its setup fails; panics when `body`
/// fails.
pub fn run_or_skip(
    name: &str,
    setup: &'static [&'static [&'static str]],
    body: impl FnOnce() -> Result<(), String> + Send + 'static,
) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("{name}: skipped: needs root to create a network namespace and veth pair");
        return;
    }
    let res = std::thread::spawn(move || {
        // SAFETY: unshare affects only this thread's network namespace, which dies with it.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(Outcome::Setup(format!(
                "cannot create a network namespace: {}",
                io::Error::last_os_error()
            )));
        }
        for args in setup {
            ip(args).map_err(Outcome::Setup)?;
        }
        body().map_err(Outcome::Failed)
    })
    .join()
    .unwrap_or_else(|p| std::panic::resume_unwind(p));
    match res {
        Ok(()) => {}
        Err(Outcome::Setup(e)) => eprintln!("{name}: skipped: {e}"),
        Err(Outcome::Failed(e)) => panic!("{name}: {e}"),
    }
}

/// Why a namespaced run did not finish.
enum Outcome {
    /// The namespace could not be made: skip.
    Setup(String),
    /// The test body failed.
    Failed(String),
}
