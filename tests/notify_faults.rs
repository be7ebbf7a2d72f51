//! `havip notify MASTER` when the cloud misbehaves (tcsim's fault injection): every case ends
//! in success or in a clear failure with an alert within the deadline — never a false success.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::bin::*;
use support::sim::*;
use tcsim::testing::SimHandle;

/// Node .21 with alerts, the given deadline, and keepalived's announcement already played.
fn promoted_node(sim: &SimHandle, deadline: &str) -> Node {
    let node = Node::with_alerts(sim, NODE21, |c| {
        c.replace("deadline = \"20s\"", &format!("deadline = \"{deadline}\""))
    });
    Ctl(sim).arp(VIP, MAC21);
    node
}

fn codes(ctl: &Ctl, action: &str) -> Vec<Value> {
    ctl.requests_for(action)
        .into_iter()
        .map(|r| r["code"].clone())
        .collect()
}

fn notify(node: &Node) -> Run {
    node.run(&[
        "--request-timeout",
        "1s",
        "notify",
        "INSTANCE",
        "VI_1",
        "MASTER",
        "50",
    ])
}

#[test]
fn throttling_three_times_then_success() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = promoted_node(&sim, "20s");
    ctl.clear_requests();
    ctl.fault(json!({"action": "DescribeHaVips", "count": 3, "error": "RequestLimitExceeded"}));
    let r = notify(&node);
    r.assert_code(0);
    assert!(r.stdout.contains("CONFIRMED"), "{}", r.stdout);
    let c = codes(&ctl, "DescribeHaVips");
    assert_eq!(
        c,
        vec![
            json!("RequestLimitExceeded"),
            json!("RequestLimitExceeded"),
            json!("RequestLimitExceeded"),
            Value::Null
        ]
    );
    let rec = &node.journal()[0];
    let call = rec["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "DescribeHaVips")
        .unwrap();
    assert_eq!(
        (
            call["action"].clone(),
            call["attempts"].clone(),
            call["outcome"].clone()
        ),
        (json!("DescribeHaVips"), json!(4), json!("ok"))
    );
    assert_eq!(node.alerts()[0]["kind"], "switch");
}

#[test]
fn a_5xx_is_retried() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = promoted_node(&sim, "20s");
    ctl.clear_requests();
    ctl.fault(json!({"action": "*", "count": 1, "http_status": 502}));
    notify(&node).assert_code(0);
    // The two reads of one observation go out together; whichever met the 502 was sent again.
    let reads = codes(&ctl, "DescribeHaVips").len() + codes(&ctl, "DescribeAddresses").len();
    assert_eq!(reads, 3, "{:?}", ctl.requests());
}

#[test]
fn a_hang_is_cut_by_the_per_request_timeout_and_retried() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = promoted_node(&sim, "20s");
    ctl.fault(json!({"action": "DescribeHaVips", "count": 1, "hang": true}));
    let r = notify(&node);
    r.assert_code(0);
    assert!(r.elapsed < Duration::from_secs(15), "{:?}", r.elapsed);
}

#[test]
fn a_cloud_that_never_answers_is_unknown_with_an_alert_within_the_deadline() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = promoted_node(&sim, "4s");
    ctl.fault(json!({"action": "DescribeHaVips", "hang": true}));
    let r = notify(&node);
    r.assert_code(1);
    assert!(r.stderr.contains("UNKNOWN"), "{}", r.stderr);
    assert!(!r.stdout.contains("CONFIRMED"), "{}", r.stdout);
    // The deadline (4 s) plus process start and the alert hook.
    assert!(r.elapsed < Duration::from_secs(9), "{:?}", r.elapsed);
    let a = node.alerts();
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["kind"], "failure");
    assert_eq!(node.journal()[0]["verdict"], "unknown");
}

#[test]
fn persistent_5xx_is_unknown_never_success() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = promoted_node(&sim, "3s");
    ctl.fault(json!({"action": "DescribeHaVips", "http_status": 503}));
    let r = notify(&node);
    r.assert_code(1);
    assert!(
        r.stderr.contains("UNKNOWN") && r.stderr.contains("503"),
        "{}",
        r.stderr
    );
    assert_eq!(node.alerts()[0]["kind"], "failure");
}

#[test]
fn server_clock_ten_minutes_ahead_or_behind() {
    for offset in [600i64, -600] {
        let sim = SimHandle::start("seed");
        let ctl = Ctl(&sim);
        ctl.clock(offset);
        // The announcement is stamped with the server's (skewed) clock.
        let node = promoted_node(&sim, "20s");
        ctl.clear_requests();
        let r = notify(&node);
        r.assert_code(0);
        assert!(
            r.stdout.contains("CONFIRMED"),
            "offset {offset}: {}",
            r.stdout
        );
        let c = codes(&ctl, "DescribeHaVips");
        assert_eq!(
            c.first(),
            Some(&json!("AuthFailure.SignatureExpire")),
            "offset {offset}: {c:?}"
        );
        assert_eq!(c.last(), Some(&Value::Null), "offset {offset}: {c:?}");
    }
}

#[test]
fn a_task_that_keeps_failing_is_a_clear_failure_not_a_success() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = promoted_node(&sim, "3s");
    ctl.settings(json!({"task_duration_ms": 100}));
    node.api("HaVipDisassociateAddressIp", &json!({"HaVipId": HAVIP}));
    assert!(wait_until(Duration::from_secs(5), || {
        ctl.address("eip-iam00139")["status"] == "UNBIND"
    }));
    ctl.fault(json!({"action": "HaVipAssociateAddressIp", "task_result": "FAILED"}));
    let r = notify(&node);
    r.assert_code(1);
    assert!(r.stderr.contains("FAILED"), "{}", r.stderr);
    assert!(
        r.stderr.contains("binding EIP 106.52.252.139"),
        "{}",
        r.stderr
    );
    assert_ne!(ctl.address("eip-iam00139")["status"], "BIND");
    let a = node.alerts();
    assert_eq!(a.last().unwrap()["kind"], "failure", "{a:?}");

    // The next event (keepalived re-notifies, or an operator runs takeover) completes it.
    ctl.clear_faults();
    let r = node.run(&["takeover", "--yes"]);
    r.assert_code(0);
    assert_eq!(ctl.address("eip-iam00139")["status"], "BIND");
}

#[test]
fn a_hang_on_a_write_is_retried_and_confirmed_by_reading_back() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = promoted_node(&sim, "20s");
    node.api("HaVipDisassociateAddressIp", &json!({"HaVipId": HAVIP}));
    assert!(wait_until(Duration::from_secs(5), || {
        ctl.address("eip-iam00139")["status"] == "UNBIND"
    }));
    ctl.fault(json!({"action": "HaVipAssociateAddressIp", "count": 1, "hang": true}));
    let r = notify(&node);
    r.assert_code(0);
    assert!(
        r.stdout.contains("EIP 106.52.252.139 (eip-iam00139) BIND"),
        "{}",
        r.stdout
    );
    assert_eq!(ctl.address("eip-iam00139")["status"], "BIND");
}
