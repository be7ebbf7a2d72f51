//! `havip watch` with the `havip` strategy over a real link: a HAVIP moved away by a brief
//! master's announcement (tcsim's control API plays .20's gratuitous ARP) is noticed by the
//! real master's watcher, which announces the VIP itself and re-runs the MASTER procedure, and
//! tcsim, learning ARP from the veth, gives the HAVIP back to .21.
//!
//! Everything (tcsim, its ARP listener, the daemon) runs in a network namespace this test
//! creates for one thread (loopback and a veth pair, no route out). Needs root and `ip`;
//! otherwise it says why and skips.

mod support;

use support::daemon::Daemon;
use support::netns::run_or_skip;
use support::sim::{minimal_config, Ctl, Node, MAC20, NODE20, NODE21, VIP};
use tcsim::testing::SimHandle;

fn holder(ctl: &Ctl) -> String {
    ctl.havip()["instance_id"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn havip_moved_away_is_announced_back() -> Result<(), String> {
    let mut sim = SimHandle::start("seed");
    sim.listen_arp("cloud")
        .map_err(|e| format!("tcsim cannot listen for ARP on the veth: {e}"))?;
    let ctl = Ctl(&sim);
    let text = minimal_config(
        &sim.url(),
        NODE21,
        "interface = \"node21\"\nvip = \"10.0.4.99\"\n",
    );
    let node = Node::new(&sim, NODE21, &text);
    let r = node.run(&["notify", "INSTANCE", "VI_1", "MASTER", "100"]);
    if r.code != Some(0) {
        return Err(format!("notify failed:\n{}{}", r.stdout, r.stderr));
    }
    if holder(&ctl) != NODE21 {
        return Err(format!(
            "the promotion did not move the HAVIP: {}",
            ctl.havip()
        ));
    }
    let d = Daemon::start(&node, &["--interval", "1s"]);
    // .20 was MASTER for a moment and announced the VIP.
    let moved = ctl.arp(VIP, MAC20);
    if moved["moved"] != true || holder(&ctl) != NODE20 {
        return Err(format!(
            "the out-of-band announcement did not move it: {moved}"
        ));
    }
    d.eventually("the watcher did not take the HAVIP back", || {
        holder(&ctl) == NODE21
    });
    d.eventually("the repair was not counted", || {
        d.sample("havip_repairs_total{vip=\"iam\"}").unwrap_or(0.0) >= 1.0
    });
    Ok(())
}

#[test]
fn watch_announces_a_moved_havip_back() {
    run_or_skip(
        "watch_announces_a_moved_havip_back",
        &[
            &["link", "set", "lo", "up"],
            &[
                "link", "add", "node21", "type", "veth", "peer", "name", "cloud",
            ],
            &["link", "set", "node21", "address", support::sim::MAC21],
            &["link", "set", "node21", "up"],
            &["link", "set", "cloud", "up"],
        ],
        havip_moved_away_is_announced_back,
    );
}
