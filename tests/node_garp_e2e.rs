//! The whole promotion over a real link, with no control-API shortcut: tcsim learns ARP from one
//! end of a veth pair, node .21 is the other end (with .21's MAC), and `havip notify … MASTER`
//! with the VIP's `interface` configured must move the HAVIP by its own gratuitous ARP and then
//! see the cloud confirm it.
//!
//! Everything — tcsim, its ARP listener and the havip process — runs inside a network namespace
//! this test creates for one thread (loopback and the veth pair only, no route out). Needs root
//! and `ip`; otherwise it says why and skips.

mod support;

use support::bin::Havip;
use support::netns::run_or_skip;
use support::sim::{minimal_config, HAVIP, MAC21, NODE20, NODE21};
use tcsim::testing::SimHandle;

fn holder(sim: &SimHandle) -> String {
    let run = Havip::new()
        .with_keys()
        .endpoint(&sim.url())
        .args([
            "api",
            "vpc",
            "DescribeHaVips",
            &serde_json::json!({"HaVipIds": [HAVIP]}).to_string(),
        ])
        .run();
    run.assert_code(0);
    run.json()["HaVipSet"][0]["InstanceId"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

fn promotion_by_our_own_announcement() -> Result<(), String> {
    // tcsim's threads start from this one, so they live in this namespace too.
    let mut sim = SimHandle::start("seed");
    sim.listen_arp("cloud")
        .map_err(|e| format!("tcsim cannot listen for ARP on the veth: {e}"))?;
    assert_eq!(holder(&sim), NODE20, "the seed starts with .20 holding");

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = dir.path().join("havip.toml");
    let text = minimal_config(
        &sim.url(),
        NODE21,
        "interface = \"node21\"\nvip = \"10.0.4.99\"\n",
    );
    std::fs::write(&config, text).map_err(|e| e.to_string())?;
    let run = Havip::at(dir.path())
        .with_keys()
        .env("HAVIP_STATE_DIR", dir.path().join("state"))
        .env("HAVIP_METADATA_ENDPOINT", sim.metadata_url(NODE21))
        .arg("--config")
        .arg(&config)
        .args(["notify", "INSTANCE", "VI_1", "MASTER", "100"])
        .run();
    let report = format!("{}{}", run.stdout, run.stderr);
    assert!(run.code == Some(0), "notify failed:\n{report}");
    assert_eq!(
        holder(&sim),
        NODE21,
        "the cloud did not follow our announcement:\n{report}"
    );
    Ok(())
}

#[test]
fn notify_moves_the_havip_with_its_own_gratuitous_arp() {
    run_or_skip(
        "notify_moves_the_havip_with_its_own_gratuitous_arp",
        &[
            &["link", "set", "lo", "up"],
            &[
                "link", "add", "node21", "type", "veth", "peer", "name", "cloud",
            ],
            &["link", "set", "node21", "address", MAC21],
            &["link", "set", "node21", "up"],
            &["link", "set", "cloud", "up"],
        ],
        promotion_by_our_own_announcement,
    );
}
