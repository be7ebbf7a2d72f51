//! `havip notify` with the `havip` strategy, the real binary against tcsim's seed deployment:
//! node .21 (`ins-iam00021`) is promoted while .20 holds the HAVIP. keepalived's gratuitous
//! ARP is played through tcsim's control API, since no interface is configured.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::bin::*;
use support::sim::*;
use support::EXAMPLE_SECRET_KEY;
use tcsim::testing::SimHandle;

fn holder(ctl: &Ctl) -> String {
    ctl.havip()["instance_id"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn range(ctl: &Ctl) -> Vec<String> {
    ctl.havip()["associations"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["instance_id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn eip_binding(ctl: &Ctl, id: &str) -> Value {
    ctl.address(id)
}

/// A signed call through `havip api` (to arrange the cloud the way a test needs it).
fn api(node: &Node, action: &str, params: Value) -> Value {
    node.api(action, &params)
}

fn remove_from_range(node: &Node, instance: &str) {
    api(
        node,
        "DisassociateHaVipInstance",
        json!({"HaVipAssociationSet": [{"HaVipId": HAVIP, "InstanceId": instance, "InstanceType": "CVM"}]}),
    );
}

fn unbind_eip(node: &Node, ctl: &Ctl) {
    api(
        node,
        "HaVipDisassociateAddressIp",
        json!({"HaVipId": HAVIP}),
    );
    assert!(
        wait_until(Duration::from_secs(5), || eip_binding(ctl, "eip-iam00139")
            ["status"]
            == "UNBIND"),
        "the EIP did not unbind"
    );
}

#[test]
fn promotion_is_confirmed_and_a_second_run_costs_one_read() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::with_alerts(&sim, NODE21, |c| c.to_string());
    assert_eq!(holder(&ctl), NODE20);
    // keepalived on .21 announces the VIP as it becomes MASTER.
    assert_eq!(ctl.arp(VIP, MAC21)["moved"], true);
    ctl.clear_requests();

    let r = node.run(&["notify", "INSTANCE", "VI_1", "MASTER", "50"]);
    r.assert_code(0);
    assert!(r.stdout.contains("iam: CONFIRMED"), "{}", r.stdout);
    assert!(r.stdout.contains(EIP), "{}", r.stdout);
    assert_eq!(holder(&ctl), NODE21);
    let reqs = ctl.requests();
    let mut actions: Vec<&str> = reqs.iter().filter_map(|r| r["action"].as_str()).collect();
    actions.sort_unstable();
    assert_eq!(
        actions,
        ["DescribeAddresses", "DescribeHaVips"],
        "already correct costs one read of each side of the binding, made together"
    );

    // A repeated MASTER (keepalived re-notifies, or a restart) makes no write either.
    ctl.clear_requests();
    node.run(&["notify", "INSTANCE", "VI_1", "MASTER", "50"])
        .assert_code(0);
    assert_eq!(ctl.writes(), Vec::<String>::new());
    assert_eq!(ctl.requests().len(), 2);

    let j = node.journal();
    assert_eq!(j.len(), 2, "{j:?}");
    assert_eq!(j[0]["seq"], 1);
    assert_eq!(j[1]["seq"], 2);
    assert!(j.iter().all(|r| r["verdict"] == "confirmed"), "{j:?}");
    assert!(j[0]["calls"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["action"] == "DescribeHaVips"));
    assert!(j[0]["calls"][0]["request_id"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    // One switch alert: for the transition, not for the repeat.
    let alerts = node.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["kind"], "switch");
    assert_eq!(alerts[0]["vip"], "iam");
    let all = format!(
        "{}{}{:?}",
        r.all_output(),
        std::fs::read_to_string(node.state_dir().join("journal.jsonl")).unwrap(),
        alerts
    );
    assert!(!all.contains(EXAMPLE_SECRET_KEY), "a secret leaked");

    // `havip journal` shows it readably.
    let jr = node.run(&["journal", "-n", "1"]);
    jr.assert_code(0);
    assert!(
        jr.stdout.contains("notify#2 MASTER  CONFIRMED"),
        "{}",
        jr.stdout
    );
    assert!(jr.stdout.contains("DescribeHaVips"), "{}", jr.stdout);
    let jj = node.run(&["journal", "--json", "--vip", "iam"]);
    assert_eq!(jj.stdout.lines().count(), 2, "{}", jj.stdout);
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE21, "fencing = true");
    remove_from_range(&node, NODE21);
    ctl.clear_requests();
    let r = node.run(&["notify", "--dry-run", "INSTANCE", "VI_1", "MASTER", "50"]);
    r.assert_code(0);
    assert!(r.stdout.contains("PLANNED"), "{}", r.stdout);
    assert!(
        r.stdout.contains("add ins-iam00021 to the drift range"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("fence ins-iam00020"), "{}", r.stdout);
    assert_eq!(ctl.writes(), Vec::<String>::new());
    assert!(
        !node.state_dir().join("iam.event.json").exists(),
        "dry run recorded state"
    );
    assert!(node.journal().is_empty(), "dry run wrote the journal");
    assert_eq!(range(&ctl), vec![NODE20.to_string()]);
}

#[test]
fn a_node_outside_the_drift_range_is_added_then_confirmed() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE21, "");
    remove_from_range(&node, NODE21);
    // With CheckAssociate on, the announcement of a node outside the range moves nothing.
    assert_eq!(ctl.arp(VIP, MAC21)["moved"], false);
    let child = node.spawn(&["notify", "INSTANCE", "VI_1", "MASTER", "50"]);
    assert!(
        wait_until(Duration::from_secs(10), || range(&ctl)
            .contains(&NODE21.to_string())),
        "havip did not add the node to the drift range"
    );
    // keepalived's next announcement (garp_master_refresh) now moves it.
    assert_eq!(ctl.arp(VIP, MAC21)["moved"], true);
    let r = wait_child(child, Duration::from_secs(30));
    r.assert_code(0);
    assert!(r.stdout.contains("CONFIRMED"), "{}", r.stdout);
    assert_eq!(holder(&ctl), NODE21);
    assert_eq!(
        ctl.writes(),
        vec!["DisassociateHaVipInstance", "AssociateHaVipInstance"]
    );
}

#[test]
fn fencing_removes_the_peer_from_the_drift_range() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE21, "fencing = true");
    ctl.arp(VIP, MAC21);
    ctl.clear_requests();
    node.run(&["notify", "--state", "MASTER"]).assert_code(0);
    assert_eq!(range(&ctl), vec![NODE21.to_string()]);
    assert_eq!(ctl.writes(), vec!["DisassociateHaVipInstance"]);
    // The fenced peer's announcement can no longer take the VIP.
    assert_eq!(ctl.arp(VIP, MAC20)["moved"], false);
    ctl.clear_requests();
    node.run(&["notify", "--state", "MASTER", "--vip", "iam"])
        .assert_code(0);
    assert!(ctl.writes().is_empty());
}

#[test]
fn an_unbound_eip_is_bound_again() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE21, "");
    unbind_eip(&node, &ctl);
    ctl.arp(VIP, MAC21);
    ctl.clear_requests();
    let r = node.run(&["notify", "INSTANCE", "VI_1", "MASTER", "50"]);
    r.assert_code(0);
    assert_eq!(ctl.writes(), vec!["HaVipAssociateAddressIp"]);
    let a = eip_binding(&ctl, "eip-iam00139");
    assert_eq!(a["status"], "BIND", "{a}");
    assert_eq!(a["binding"]["havip_id"], HAVIP, "{a}");
}

#[test]
fn an_eip_bound_elsewhere_is_reported_and_moved_only_when_allowed() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::with_alerts(&sim, NODE21, |c| c.to_string());
    unbind_eip(&node, &ctl);
    // Someone bound the HAVIP's EIP to node .20's own address.
    api(
        &node,
        "AssociateAddress",
        json!({"AddressId": "eip-iam00139", "NetworkInterfaceId": "eni-iam00020", "PrivateIpAddress": "10.0.4.20"}),
    );
    assert!(wait_until(Duration::from_secs(5), || eip_binding(
        &ctl,
        "eip-iam00139"
    )["status"]
        == "BIND"));
    ctl.arp(VIP, MAC21);
    ctl.clear_requests();
    let r = node.run(&["notify", "INSTANCE", "VI_1", "MASTER", "50"]);
    r.assert_code(1);
    assert!(r.stderr.contains("is bound to"), "{}", r.stderr);
    assert!(r.stderr.contains("eip_takeover"), "{}", r.stderr);
    assert!(
        ctl.writes().is_empty(),
        "moved without permission: {:?}",
        ctl.writes()
    );
    let alerts = node.alerts();
    assert_eq!(
        alerts.last().map(|a| a["kind"].clone()),
        Some(json!("failure")),
        "{alerts:?}"
    );

    let allowed = Node::minimal(&sim, NODE21, "eip_takeover = true");
    ctl.clear_requests();
    let r = allowed.run(&["notify", "INSTANCE", "VI_1", "MASTER", "50"]);
    r.assert_code(0);
    assert_eq!(
        ctl.writes(),
        vec!["DisassociateAddress", "HaVipAssociateAddressIp"]
    );
    assert_eq!(
        eip_binding(&ctl, "eip-iam00139")["binding"]["havip_id"],
        HAVIP
    );
}

#[test]
fn backup_fault_stop_are_recorded_and_alerted_without_any_api_call() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::with_alerts(&sim, NODE21, |c| c.to_string());
    ctl.clear_requests();
    node.run(&["notify", "INSTANCE", "VI_1", "BACKUP", "50"])
        .assert_code(0);
    node.run(&["notify", "--state", "FAULT"]).assert_code(0);
    node.run(&["notify", "INSTANCE", "VI_1", "STOP", "0"])
        .assert_code(0);
    assert!(ctl.requests().is_empty(), "{:?}", ctl.requests());
    let kinds: Vec<Value> = node.alerts().iter().map(|a| a["kind"].clone()).collect();
    assert_eq!(kinds, vec![json!("backup"), json!("fault"), json!("stop")]);
    let j = node.journal();
    assert_eq!(
        j.iter().map(|r| r["verdict"].clone()).collect::<Vec<_>>(),
        vec![json!("recorded"); 3]
    );
    let ev: Value = serde_json::from_str(
        &std::fs::read_to_string(node.state_dir().join("iam.event.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (ev["seq"].clone(), ev["state"].clone()),
        (json!(3), json!("STOP"))
    );
}

#[test]
fn no_announcement_fails_at_the_deadline_with_an_alert() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::with_alerts(&sim, NODE21, |c| {
        c.replace("deadline = \"20s\"", "deadline = \"3s\"")
    });
    let r = node.run(&["notify", "INSTANCE", "VI_1", "MASTER", "50"]);
    r.assert_code(1);
    assert!(r.elapsed < Duration::from_secs(10), "{:?}", r.elapsed);
    assert!(r.stderr.contains("FAILED"), "{}", r.stderr);
    assert!(r.stderr.contains("held by ins-iam00020"), "{}", r.stderr);
    assert_eq!(holder(&ctl), NODE20);
    let alerts = node.alerts();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["kind"], "failure");
    assert_eq!(alerts[0]["severity"], "critical");
    assert_eq!(node.journal()[0]["verdict"], "failed");
}

#[test]
fn takeover_needs_yes_without_a_terminal() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE21, "");
    let r = node.run(&["takeover"]);
    r.assert_code(2);
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    let d = node.run(&["takeover", "--dry-run"]);
    d.assert_code(0);
    assert!(d.stdout.contains("PLANNED"), "{}", d.stdout);
    ctl.arp(VIP, MAC21);
    let t = node.run(&["takeover", "--yes", "--vip", "iam"]);
    t.assert_code(0);
    assert!(t.stdout.contains("CONFIRMED"), "{}", t.stdout);
    assert_eq!(node.journal().last().unwrap()["trigger"], "takeover");
}

#[test]
fn planned_failover_waits_for_the_peer_and_times_it() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let holder_node = Node::minimal(&sim, NODE20, "");
    let other = Node::minimal(&sim, NODE21, "");

    // Not the holder: refused with the reason.
    let r = other.run(&["failover", "--yes"]);
    r.assert_code(1);
    assert!(r.stderr.contains("does not hold"), "{}", r.stderr);

    // Dry run: checks and plans only.
    let d = holder_node.run(&["failover", "--dry-run"]);
    d.assert_code(0);
    assert!(d.stdout.contains("drain flag"), "{}", d.stdout);
    let flag = holder_node.state_dir().join("iam.drain");
    assert!(!flag.exists());

    let child = holder_node.spawn(&["failover", "--yes", "--timeout", "20s"]);
    assert!(
        wait_until(Duration::from_secs(10), || flag.exists()),
        "no drain flag"
    );
    // `havip check` on .20 now fails, keepalived there steps down, .21 announces.
    ctl.arp(VIP, MAC21);
    let r = wait_child(child, Duration::from_secs(30));
    r.assert_code(0);
    assert!(r.stdout.contains("moved from ins-iam00020"), "{}", r.stdout);
    assert!(r.stdout.contains("to ins-iam00021"), "{}", r.stdout);
    assert!(!flag.exists(), "the drain flag was not cleared");
    assert_eq!(holder_node.journal().last().unwrap()["trigger"], "failover");

    // Now .20 holds nothing; and with --keep-drained the flag stays.
    let back = other.spawn(&["failover", "--yes", "--keep-drained", "--timeout", "20s"]);
    let flag21 = other.state_dir().join("iam.drain");
    assert!(wait_until(Duration::from_secs(10), || flag21.exists()));
    ctl.arp(VIP, MAC20);
    wait_child(back, Duration::from_secs(30)).assert_code(0);
    assert!(flag21.exists(), "--keep-drained removed the flag");
}

#[test]
fn planned_failover_refuses_without_a_peer_in_the_drift_range() {
    let sim = SimHandle::start("seed");
    let holder_node = Node::minimal(&sim, NODE20, "");
    remove_from_range(&holder_node, NODE21);
    let r = holder_node.run(&["failover", "--yes"]);
    r.assert_code(1);
    assert!(r.stderr.contains("no peer"), "{}", r.stderr);
    assert!(!holder_node.state_dir().join("iam.drain").exists());
}

#[test]
fn a_failed_own_announcement_is_reported_but_keepalived_s_still_counts() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    // An interface that does not exist: havip's second voice fails (no traffic anywhere), and
    // the run still succeeds once keepalived's announcement moves the HAVIP.
    let node = Node::minimal(&sim, NODE21, "interface = \"hvnone0\"");
    let child = node.spawn(&["notify", "INSTANCE", "VI_1", "MASTER", "50"]);
    assert!(wait_until(Duration::from_secs(10), || !ctl
        .requests()
        .is_empty()));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ctl.arp(VIP, MAC21)["moved"], true);
    let r = wait_child(child, Duration::from_secs(30));
    r.assert_code(0);
    assert!(r.stdout.contains("CONFIRMED"), "{}", r.stdout);
    assert!(r.stdout.contains("gratuitous ARP failed"), "{}", r.stdout);
    assert!(r.stdout.contains("hvnone0"), "{}", r.stdout);
}

#[test]
fn master_again_without_the_havip_ever_leaving_is_confirmed() {
    // The cloud refreshes FlushedTime only when an announcement moves the HAVIP, so a node
    // that goes BACKUP → MASTER while still holding it sees an old FlushedTime. Play that with
    // an announcement stamped well before the transition (server clock 250 s behind, inside
    // the signature window so no skew is learned).
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE21, "");
    ctl.clock(-250);
    assert_eq!(ctl.arp(VIP, MAC21)["moved"], true);
    node.run(&["notify", "INSTANCE", "VI_1", "BACKUP", "50"])
        .assert_code(0);
    ctl.clear_requests();
    let r = node.run(&["notify", "INSTANCE", "VI_1", "MASTER", "50"]);
    r.assert_code(0);
    assert!(r.stdout.contains("did not leave this node"), "{}", r.stdout);
    assert!(r.elapsed < Duration::from_secs(8), "{:?}", r.elapsed);
    assert!(ctl.writes().is_empty());
    assert!(
        ctl.requests().len() >= 2,
        "a stale holder needs a second read"
    );
}

#[test]
fn group_notifications_reach_the_vips_that_follow_the_group() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE21, "vrrp_group = \"G1\"");
    ctl.arp(VIP, MAC21);
    let r = node.run(&["notify", "GROUP", "G1", "MASTER", "50"]);
    r.assert_code(0);
    assert!(r.stdout.contains("iam: CONFIRMED"), "{}", r.stdout);
    let j = node.journal();
    assert_eq!((j.len(), j[0]["event"].clone()), (1, json!("MASTER")));
}
