//! The `private-ip` and `eip` strategies, the real binary against tcsim's seed: promotion ends
//! with the cloud confirming this node; a second run makes no writes; `--dry-run` writes
//! nothing; a FAILED task is a clear failure with an alert.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::bin::*;
use support::sim::*;
use tcsim::testing::SimHandle;

#[test]
fn private_ip_promotion_second_run_and_dry_run() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    // ENI discovered from the metadata MAC and DescribeNetworkInterfaces.
    let node = Node::new(&sim, NODE21, &private_ip_config(&sim.url(), NODE21, None));
    assert_eq!(enis_with(&ctl, SECONDARY), vec!["eni-iam00020"]);
    ctl.clear_requests();

    let d = node.run(&["notify", "--dry-run", "INSTANCE", "VI_2", "MASTER", "100"]);
    d.assert_code(0);
    assert!(
        d.stdout
            .contains("migrate 10.0.4.98 from eni-iam00020 to eni-iam00021"),
        "{}",
        d.stdout
    );
    assert!(ctl.writes().is_empty());
    assert_eq!(enis_with(&ctl, SECONDARY), vec!["eni-iam00020"]);

    let r = node.run(&["notify", "INSTANCE", "VI_2", "MASTER", "100"]);
    r.assert_code(0);
    assert!(r.stdout.contains("app: CONFIRMED"), "{}", r.stdout);
    assert!(
        r.stdout.contains("10.0.4.98 is on eni-iam00021"),
        "{}",
        r.stdout
    );
    assert_eq!(enis_with(&ctl, SECONDARY), vec!["eni-iam00021"]);
    assert_eq!(ctl.writes(), vec!["MigratePrivateIpAddress"]);
    // Confirmed by reading the ENIs back after the task.
    let actions = ctl.actions();
    assert_eq!(
        actions.last().map(String::as_str),
        Some("DescribeNetworkInterfaces"),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"DescribeVpcTaskResult".to_string()),
        "{actions:?}"
    );

    // Second run: no writes; with the ENI configured, exactly one read.
    let pinned = Node::new(
        &sim,
        NODE21,
        &private_ip_config(&sim.url(), NODE21, Some("eni-iam00021")),
    );
    ctl.clear_requests();
    pinned
        .run(&["notify", "INSTANCE", "VI_2", "MASTER", "100"])
        .assert_code(0);
    assert_eq!(ctl.requests().len(), 1, "{:?}", ctl.requests());
    assert!(ctl.writes().is_empty());
}

/// Issue 7, defect 3: one transient FAILED task must not end the run with most of the
/// deadline left; the loop reads the cloud again and retries.
#[test]
fn regression_one_failed_migrate_task_is_retried_within_the_deadline() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE21, "");
    let text = private_ip_config(&sim.url(), NODE21, Some("eni-iam00021")) + &node.alert_section();
    node.write_config(&text);
    ctl.fault(json!({"action": "MigratePrivateIpAddress", "count": 1, "task_result": "FAILED"}));
    let r = node.run(&["notify", "--state", "MASTER", "--vip", "app"]);
    r.assert_code(0);
    assert!(r.stdout.contains("CONFIRMED"), "{}", r.stdout);
    assert!(r.stdout.contains("retried failure"), "{}", r.stdout);
    assert_eq!(enis_with(&ctl, SECONDARY), vec!["eni-iam00021"]);
    let migrations = ctl
        .requests()
        .into_iter()
        .filter(|q| q["action"] == "MigratePrivateIpAddress")
        .count();
    assert_eq!(migrations, 2, "one failed task, one retry");
}

#[test]
fn private_ip_task_that_keeps_failing_is_a_clear_failure() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE21, "");
    let text = private_ip_config(&sim.url(), NODE21, Some("eni-iam00021")) + &node.alert_section();
    node.write_config(&text);
    ctl.fault(json!({"action": "MigratePrivateIpAddress", "task_result": "FAILED"}));
    let r = node.run(&[
        "--timeout",
        "3s",
        "notify",
        "--state",
        "MASTER",
        "--vip",
        "app",
    ]);
    r.assert_code(1);
    assert!(r.stderr.contains("migrating 10.0.4.98"), "{}", r.stderr);
    assert_eq!(enis_with(&ctl, SECONDARY), vec!["eni-iam00020"]);
    assert_eq!(node.alerts().last().unwrap()["kind"], "failure");
}

#[test]
fn private_ip_that_exists_nowhere_is_a_clear_failure() {
    let sim = SimHandle::start("seed");
    let node = Node::new(
        &sim,
        NODE21,
        &private_ip_config(&sim.url(), NODE21, Some("eni-iam00021"))
            .replace(SECONDARY, "10.0.4.77"),
    );
    let r = node.run(&["notify", "--state", "MASTER"]);
    r.assert_code(1);
    assert!(r.stderr.contains("no ENI has 10.0.4.77"), "{}", r.stderr);
}

#[test]
fn eip_moves_to_this_node_and_back() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let n21 = Node::new(&sim, NODE21, &eip_config(&sim.url(), NODE21, "10.0.4.21"));
    let n20 = Node::new(&sim, NODE20, &eip_config(&sim.url(), NODE20, "10.0.4.20"));
    let eip = || ctl.address("eip-idle0001");
    assert_eq!(eip()["status"], "UNBIND");
    ctl.clear_requests();

    let d = n21.run(&["notify", "--dry-run", "INSTANCE", "VI_3", "MASTER", "100"]);
    d.assert_code(0);
    assert!(
        d.stdout
            .contains("bind eip-idle0001 to eni-iam00021 10.0.4.21"),
        "{}",
        d.stdout
    );
    assert!(ctl.writes().is_empty());

    let r = n21.run(&["notify", "INSTANCE", "VI_3", "MASTER", "100"]);
    r.assert_code(0);
    assert!(
        r.stdout
            .contains("EIP 106.52.252.140 is bound to eni-iam00021 10.0.4.21"),
        "{}",
        r.stdout
    );
    assert_eq!(ctl.writes(), vec!["AssociateAddress"]);
    let b = eip();
    assert_eq!(b["status"], "BIND", "{b}");

    // Second run: one read (ENI discovery aside), no writes.
    ctl.clear_requests();
    n21.run(&["notify", "INSTANCE", "VI_3", "MASTER", "100"])
        .assert_code(0);
    assert!(ctl.writes().is_empty());
    let reads: Vec<Value> = ctl
        .requests()
        .into_iter()
        .filter(|r| r["action"] == "DescribeAddresses")
        .collect();
    assert_eq!(reads.len(), 1);

    // Node .20 takes it: unbind from .21, bind to .20, each task awaited.
    ctl.clear_requests();
    let r = n20.run(&["notify", "INSTANCE", "VI_3", "MASTER", "100"]);
    r.assert_code(0);
    assert_eq!(
        ctl.writes(),
        vec!["DisassociateAddress", "AssociateAddress"]
    );
    let actions = ctl.actions();
    let pos = |a: &str| actions.iter().position(|x| x == a).unwrap();
    assert!(
        pos("DescribeTaskResult") < pos("AssociateAddress"),
        "the unbind task was not awaited: {actions:?}"
    );
    assert!(wait_until(Duration::from_secs(1), || eip()["status"] == "BIND"));
    assert!(eip().to_string().contains("eni-iam00020"), "{}", eip());
}

#[test]
fn eip_failed_task_is_retried_then_confirmed() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::new(&sim, NODE21, &eip_config(&sim.url(), NODE21, "10.0.4.21"));
    ctl.fault(json!({"action": "AssociateAddress", "count": 1, "task_result": "FAILED"}));
    let r = node.run(&["notify", "INSTANCE", "VI_3", "MASTER", "100"]);
    r.assert_code(0);
    assert!(r.stdout.contains("retried failure"), "{}", r.stdout);
    assert_eq!(ctl.address("eip-idle0001")["status"], "BIND");
}

#[test]
fn eip_failed_task_is_never_a_success() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::new(&sim, NODE21, &eip_config(&sim.url(), NODE21, "10.0.4.21"));
    ctl.fault(json!({"action": "AssociateAddress", "task_result": "FAILED"}));
    let r = node.run(&[
        "--timeout",
        "3s",
        "notify",
        "INSTANCE",
        "VI_3",
        "MASTER",
        "100",
    ]);
    r.assert_code(1);
    assert!(r.stderr.contains("FAILED"), "{}", r.stderr);
    // The deadline may end the run while a retried task is still in flight (BINDING, bound
    // to end FAILED); it is never BIND.
    let status = ctl.address("eip-idle0001")["status"].clone();
    assert!(status == "UNBIND" || status == "BINDING", "{status}");
    assert_eq!(node.journal()[0]["verdict"], "failed");
}

#[test]
fn planned_failover_of_an_eip_waits_for_the_peer_to_take_it() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let n21 = Node::new(&sim, NODE21, &eip_config(&sim.url(), NODE21, "10.0.4.21"));
    let n20 = Node::new(&sim, NODE20, &eip_config(&sim.url(), NODE20, "10.0.4.20"));
    // .20 does not hold it: refused.
    let r = n20.run(&["failover", "--yes"]);
    r.assert_code(1);
    assert!(r.stderr.contains("does not hold"), "{}", r.stderr);
    n21.run(&["notify", "INSTANCE", "VI_3", "MASTER", "100"])
        .assert_code(0);

    let child = n21.spawn(&["failover", "--yes", "--timeout", "20s"]);
    let flag = n21.state_dir().join("pub.drain");
    assert!(
        wait_until(Duration::from_secs(10), || flag.exists()),
        "no drain flag"
    );
    // keepalived on .20 becomes MASTER because .21's check now fails.
    n20.run(&["notify", "INSTANCE", "VI_3", "MASTER", "100"])
        .assert_code(0);
    let r = wait_child(child, Duration::from_secs(30));
    r.assert_code(0);
    assert!(
        r.stdout
            .contains("moved from eni-iam00021 10.0.4.21 to eni-iam00020 10.0.4.20"),
        "{}",
        r.stdout
    );
    assert!(!flag.exists());
    let eni_lookups = ctl
        .requests()
        .iter()
        .filter(|r| r["action"] == "DescribeNetworkInterfaces")
        .count();
    // The refused failover, two notify runs and the failover: each discovers its ENI once,
    // however many times the failover polled.
    assert_eq!(eni_lookups, 4);
}
