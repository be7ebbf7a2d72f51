//! The end-to-end lab (`deploy/lab/e2e.sh`, also `make e2e`, described in
//! `deploy/lab/README.md`) as a test: network namespaces for two nodes, a client and the
//! "cloud", real keepalived and nginx in front of the IAM stand-ins, tcsim serving the API over
//! TLS and the metadata service at 169.254.0.23, learning the HAVIP's movement from keepalived's
//! gratuitous ARP and carrying the EIP to the holder; havip as notify hook, vrrp_script and
//! track_file owner, and `havip watch` on each node as its systemd unit runs it (the `make deb`
//! package's binary and files when one was built). The scenes (the reference deployment's three,
//! a planned switch, split brain, a brief false master, cloud trouble, a stopped CVM) each check
//! the cloud and the client through the EIP; the script fails on the first check that does not
//! hold, and checks after every scene that `havip status` is OK on both nodes and that no
//! namespace routes anywhere but the lab's own bridge and links. It prints the timing table and writes
//! `target/lab/timing.json`.
//!
//! Opt-in: it needs root, may install keepalived, nginx-light and nftables with apt-get, and
//! takes one to two minutes, so it runs only with `HAVIP_E2E=1` and as root; otherwise it says
//! why and passes. The script cleans up everything it created (namespaces, processes,
//! `/etc/netns` entries) whatever happens.

use std::path::Path;
use std::process::Command;

#[test]
fn e2e_lab_scenes() {
    if std::env::var_os("HAVIP_E2E").is_none_or(|v| v.is_empty()) {
        eprintln!(
            "skipped: the end-to-end lab runs only with HAVIP_E2E=1 (and as root): `sudo make e2e`"
        );
        return;
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: the end-to-end lab needs root (network namespaces, keepalived)");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("deploy/lab/e2e.sh");
    // The script builds havip and tcsim itself (debug, like this test), so that tcsim's
    // binary exists: cargo builds only this package's binaries for its integration tests.
    let status = Command::new("bash")
        .arg(&script)
        .current_dir(root)
        .env("CARGO", env!("CARGO"))
        .env("HAVIP_LAB_PROFILE", "debug")
        .status()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        status.success(),
        "the end-to-end lab failed ({status}); its output above says which step"
    );
}
