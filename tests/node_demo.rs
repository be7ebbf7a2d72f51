//! `make demo` keeps working: runs scripts/demo.sh against the binaries this test run built
//! (no rebuild), and checks that it verified every step and left no process behind.
//!
//! Needs the `tcsim` binary next to `havip` (`make test` builds every binary first) and
//! python3; otherwise it says why and skips.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn the_demo_walks_the_failover_and_cleans_up() {
    let havip = Path::new(env!("CARGO_BIN_EXE_havip"));
    let bin_dir = havip.parent().expect("binary directory");
    if !bin_dir.join("tcsim").exists() {
        eprintln!(
            "skipped: no tcsim binary in {} (cargo build --workspace --bins)",
            bin_dir.display()
        );
        return;
    }
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/demo.sh");
    let tmp = tempfile::tempdir().expect("tempdir");
    // Its own process group: background jobs of a non-interactive shell stay in it, so after
    // the script exits, any process still in the group was left behind.
    let out = Command::new("bash")
        .arg(&script)
        .process_group(0)
        .env("HAVIP_DEMO_NO_BUILD", "1")
        .env("HAVIP_DEMO_TARGET", bin_dir)
        .env("TMPDIR", tmp.path())
        .env_remove("HAVIP_CONFIG")
        .env_remove("HAVIP_ENDPOINT")
        .env_remove("HAVIP_STATE_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the demo");
    let pgid = out.id();
    let out = out.wait_with_output().expect("wait for the demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");
    for want in [
        "ok: holder ins-iam00020 (eni-iam00020)",
        "ok: the HAVIP followed the announcement",
        "ok: havip notify succeeded",
        "ok: holder ins-iam00021 (eni-iam00021); eip-iam00139 106.52.252.139 is BIND",
        "ok: the journal records the calls",
        "ok: a switch alert for iam arrived, without credentials",
        "ok: status on .20: exit 0, held by ins-iam00020 (this node, MASTER)",
        "ok: status on .21: exit 0, held by ins-iam00020 (a peer; this node BACKUP)",
        "ok: status on .21: exit 0, held by ins-iam00021 (this node, MASTER)",
        "ok: status on .20: exit 0, held by ins-iam00021 (a peer; this node BACKUP)",
    ] {
        assert!(stdout.contains(want), "missing `{want}` in:\n{stdout}");
    }
    // The work directory (under our TMPDIR) is gone, so the trap ran.
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("read tmp")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "the demo left {left:?} behind");
    // No process of the demo survives (tcsim, the webhook receiver).
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...; comm may contain spaces, so split after ')'.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2) == Some(&pgid.to_string().as_str()) && fields.first() != Some(&"Z") {
            panic!("left running: {head})");
        }
    }
}
