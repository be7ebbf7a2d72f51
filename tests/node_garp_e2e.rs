//! The whole promotion over a real link, with no control-API shortcut: tcsim learns ARP from one
//! end of a veth pair, node .21 is the other end (with .21's MAC), and `havip notify … MASTER`
//! with the VIP's `interface` configured must move the HAVIP by its own gratuitous ARP and then
//! see the cloud confirm it.
//!
//! Everything — tcsim, its ARP listener and the havip process — runs inside a network namespace
//! this test creates for one thread (loopback and the veth pair only, no route out). Needs root
//! and `ip`; otherwise it says why and skips.

use std::io;
use std::process::Command;

use tcsim::testing::{SimHandle, EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY};

fn ip(args: &[&str]) -> Result<(), String> {
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

fn holder(sim: &SimHandle) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_havip"))
        .args(["--endpoint", &sim.url(), "--region", "ap-guangzhou"])
        .args([
            "api",
            "vpc",
            "DescribeHaVips",
            r#"{"HaVipIds":["havip-iam00099"]}"#,
        ])
        .env("TENCENTCLOUD_SECRET_ID", EXAMPLE_SECRET_ID)
        .env("TENCENTCLOUD_SECRET_KEY", EXAMPLE_SECRET_KEY)
        .output()
        .expect("run havip api");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v["HaVipSet"][0]["InstanceId"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn promotion_by_our_own_announcement() -> Result<(), String> {
    // SAFETY: unshare affects only this thread (and what it starts), which ends with the test.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "skip: cannot create a network namespace: {}",
            io::Error::last_os_error()
        ));
    }
    ip(&["link", "set", "lo", "up"])
        .and_then(|()| {
            ip(&[
                "link", "add", "node21", "type", "veth", "peer", "name", "cloud",
            ])
        })
        .and_then(|()| ip(&["link", "set", "node21", "address", "52:54:00:00:04:21"]))
        .and_then(|()| ip(&["link", "set", "node21", "up"]))
        .and_then(|()| ip(&["link", "set", "cloud", "up"]))
        .map_err(|e| format!("skip: {e}"))?;

    // tcsim's threads start from this one, so they live in this namespace too.
    let mut sim = SimHandle::start("seed");
    sim.listen_arp("cloud")
        .map_err(|e| format!("tcsim cannot listen for ARP on the veth: {e}"))?;
    assert_eq!(
        holder(&sim),
        "ins-iam00020",
        "the seed starts with .20 holding"
    );

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = dir.path().join("havip.toml");
    std::fs::write(
        &config,
        format!(
            r#"endpoint = "{}"
region = "ap-guangzhou"

[node]
instance_id = "ins-iam00021"

[[vip]]
name = "iam"
vrrp_instance = "VI_1"
strategy = "havip"
havip_id = "havip-iam00099"
eip = "106.52.252.139"
interface = "node21"
vip = "10.0.4.99"
deadline = "20s"
"#,
            sim.url()
        ),
    )
    .map_err(|e| e.to_string())?;
    let out = Command::new(env!("CARGO_BIN_EXE_havip"))
        .arg("--config")
        .arg(&config)
        .args(["notify", "INSTANCE", "VI_1", "MASTER", "100"])
        .env("HAVIP_STATE_DIR", dir.path().join("state"))
        .env("HAVIP_METADATA_ENDPOINT", sim.metadata_url("ins-iam00021"))
        .env("TENCENTCLOUD_SECRET_ID", EXAMPLE_SECRET_ID)
        .env("TENCENTCLOUD_SECRET_KEY", EXAMPLE_SECRET_KEY)
        .env_remove("HAVIP_CONFIG")
        .env_remove("HAVIP_ENDPOINT")
        .output()
        .map_err(|e| e.to_string())?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "notify failed:\n{report}");
    assert_eq!(
        holder(&sim),
        "ins-iam00021",
        "the cloud did not follow our announcement:\n{report}"
    );
    Ok(())
}

#[test]
fn notify_moves_the_havip_with_its_own_gratuitous_arp() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to create a network namespace and veth pair");
        return;
    }
    let res = std::thread::spawn(promotion_by_our_own_announcement)
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p));
    match res {
        Ok(()) => {}
        Err(e) if e.starts_with("skip: ") => eprintln!("skipped: {}", &e[6..]),
        Err(e) => panic!("{e}"),
    }
}
