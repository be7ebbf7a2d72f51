//! `havip doctor`, the real binary against tcsim (API and metadata service): the reference
//! deployment passes every check with exit 0 and sends no write; then the cloud, the
//! configuration and keepalived's file broken one way at a time, each giving its own FAIL or
//! WARN and exit code; `--json` against its documented shape; `--policy` naming exactly the
//! actions the strategies send.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};
use support::bin::*;
use support::sim::*;
use tcsim::testing::SimHandle;

const KEEPALIVED_NODE2: &str = include_str!("../deploy/keepalived/keepalived-node2.conf");

/// Node .21 of the reference deployment with keepalived's file beside its configuration.
fn reference(sim: &SimHandle) -> Node {
    let node = Node::minimal(sim, NODE21, "");
    write_keepalived(&node, KEEPALIVED_NODE2);
    node
}

fn keepalived_path(node: &Node) -> std::path::PathBuf {
    node.dir.path().join("keepalived.conf")
}

fn write_keepalived(node: &Node, text: &str) {
    std::fs::write(keepalived_path(node), text).unwrap();
}

/// `havip doctor --json` as `node`, with `extra` arguments first; the parsed report.
fn doctor(node: &Node, extra: &[&str]) -> (Run, Value) {
    let conf = keepalived_path(node);
    let mut args: Vec<&str> = extra.to_vec();
    args.extend([
        "doctor",
        "--json",
        "--keepalived-conf",
        conf.to_str().unwrap(),
    ]);
    let r = node.run(&args);
    let v = r.json();
    (r, v)
}

/// The check `id` (about `subject`, when given).
#[track_caller]
fn check<'a>(report: &'a Value, id: &str, subject: Option<&str>) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id && subject.is_none_or(|s| c["subject"] == s))
        .unwrap_or_else(|| panic!("no check {id} {subject:?} in {report:#}"))
}

/// The statuses that are not PASS, as `id[subject]=STATUS`.
fn not_passing(report: &Value) -> BTreeSet<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "PASS")
        .map(|c| {
            format!(
                "{}[{}]={}",
                c["id"].as_str().unwrap(),
                c["subject"].as_str().unwrap_or(""),
                c["status"].as_str().unwrap()
            )
        })
        .collect()
}

/// The documented shape (README, "havip doctor"): every field, its type, the enums.
#[track_caller]
fn assert_shape(v: &Value) {
    let obj = v.as_object().expect("an object");
    let keys: BTreeSet<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["version", "exit_code", "summary", "checks"])
    );
    assert_eq!(v["version"], 1);
    let summary = v["summary"].as_object().unwrap();
    let skeys: BTreeSet<&str> = summary.keys().map(String::as_str).collect();
    assert_eq!(skeys, BTreeSet::from(["pass", "warn", "fail", "skip"]));
    let checks = v["checks"].as_array().unwrap();
    let mut counts = [0u64; 4];
    for c in checks {
        let ckeys: BTreeSet<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            ckeys,
            BTreeSet::from(["id", "subject", "status", "message", "fix"]),
            "{c}"
        );
        assert!(c["id"].is_string() && c["message"].is_string(), "{c}");
        assert!(c["subject"].is_null() || c["subject"].is_string(), "{c}");
        let i = ["PASS", "WARN", "FAIL", "SKIP"]
            .iter()
            .position(|s| c["status"] == *s)
            .unwrap_or_else(|| panic!("status of {c}"));
        counts[i] += 1;
        assert_eq!(
            c["fix"].is_string(),
            i == 1 || i == 2,
            "fix only for WARN and FAIL: {c}"
        );
    }
    assert_eq!(
        [
            &summary["pass"],
            &summary["warn"],
            &summary["fail"],
            &summary["skip"]
        ],
        counts.map(Value::from).each_ref()
    );
    let want = if counts[2] > 0 {
        2
    } else if counts[1] > 0 {
        1
    } else {
        0
    };
    assert_eq!(v["exit_code"], want);
}

#[test]
fn the_reference_deployment_passes_every_check_and_writes_nothing() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = reference(&sim);
    ctl.clear_requests();
    let (r, v) = doctor(&node, &[]);
    r.assert_code(0);
    assert_shape(&v);
    assert!(not_passing(&v).is_empty(), "{:?}", not_passing(&v));
    for id in [
        "config",
        "credentials",
        "endpoint",
        "clock",
        "permission",
        "node.instance",
        "node.eni",
        "vip.havip",
        "vip.subnet",
        "vip.check_associate",
        "vip.drift_range",
        "vip.peer",
        "vip.holder",
        "vip.eip",
        "keepalived.config",
        "keepalived.instance",
        "keepalived.vip",
        "keepalived.notify",
        "keepalived.check",
        "keepalived.unicast",
        "keepalived.nopreempt",
        "keepalived.vrrp_strict",
        "keepalived.rx_lower_pri",
        "local.state_dir",
        "local.journal",
    ] {
        check(&v, id, None);
    }
    assert!(check(&v, "credentials", None)["message"]
        .as_str()
        .unwrap()
        .contains("environment"));
    assert!(ctl.writes().is_empty(), "doctor wrote: {:?}", ctl.writes());
    assert!(!ctl.requests().is_empty());
    // The text form: one line per check and the summary.
    let conf = keepalived_path(&node);
    let t = node.run(&["doctor", "--keepalived-conf", conf.to_str().unwrap()]);
    t.assert_code(0);
    let lines: Vec<&str> = t.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        v["checks"].as_array().unwrap().len() + 1,
        "{}",
        t.stdout
    );
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .all(|l| l.starts_with("PASS  ")),
        "{}",
        t.stdout
    );
    assert!(
        lines.last().unwrap().starts_with("doctor: "),
        "{}",
        t.stdout
    );
    assert!(ctl.writes().is_empty());
    assert!(!t.all_output().contains(support::EXAMPLE_SECRET_KEY));
}

#[test]
fn a_denied_read_names_the_action() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    ctl.settings(json!({"denied_actions": ["DescribeAddresses"]}));
    let node = reference(&sim);
    let (r, v) = doctor(&node, &[]);
    r.assert_code(2);
    assert_shape(&v);
    let c = check(&v, "permission", Some("vpc:DescribeAddresses"));
    assert_eq!(c["status"], "FAIL", "{c}");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("AuthFailure.UnauthorizedOperation"),
        "{c}"
    );
    assert!(c["fix"].as_str().unwrap().contains("--policy"), "{c}");
    assert_eq!(
        check(&v, "permission", Some("vpc:DescribeHaVips"))["status"],
        "PASS"
    );
    assert_eq!(check(&v, "credentials", None)["status"], "PASS");
}

/// A probe that only ever meets server errors proves nothing: not confirmed, never "allowed".
#[test]
fn a_probe_without_an_answer_is_not_a_pass() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    ctl.fault(json!({"action": "DescribeVpcTaskResult", "error": "InternalError"}));
    let node = reference(&sim);
    let (r, v) = doctor(&node, &["--timeout", "3s"]);
    r.assert_code(2);
    assert_eq!(
        not_passing(&v),
        BTreeSet::from(["permission[vpc:DescribeVpcTaskResult]=FAIL".to_string()])
    );
    let c = check(&v, "permission", Some("vpc:DescribeVpcTaskResult"));
    assert!(
        c["message"].as_str().unwrap().contains("not confirmed"),
        "{c}"
    );
}

/// The `havip` strategy's minimal policy leaves DescribeNetworkInterfaces out: doctor then
/// cannot check the ENI and its subnet, a warning (the strategy itself does not need it).
#[test]
fn the_minimal_policy_leaves_only_the_eni_unchecked() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    ctl.settings(json!({"denied_actions": ["DescribeNetworkInterfaces"]}));
    let node = reference(&sim);
    let (r, v) = doctor(&node, &[]);
    r.assert_code(1);
    assert_eq!(
        not_passing(&v),
        BTreeSet::from([
            "node.eni[]=WARN".to_string(),
            "vip.subnet[iam]=SKIP".to_string()
        ])
    );
}

#[test]
fn clock_skew_warns_over_a_minute_and_fails_past_the_signature_window() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = reference(&sim);
    ctl.clock(120);
    let (r, v) = doctor(&node, &[]);
    r.assert_code(1);
    assert_eq!(
        not_passing(&v),
        BTreeSet::from(["clock[]=WARN".to_string()])
    );
    assert!(check(&v, "clock", None)["message"]
        .as_str()
        .unwrap()
        .contains("120 s behind"));
    ctl.clock(-400);
    let (r, v) = doctor(&node, &[]);
    r.assert_code(2);
    let c = check(&v, "clock", None);
    assert_eq!(c["status"], "FAIL", "{c}");
    assert!(
        c["message"].as_str().unwrap().contains("400 s ahead"),
        "{c}"
    );
}

#[test]
fn credentials_and_endpoint_failures() {
    let sim = SimHandle::start("seed");
    let node = reference(&sim);
    let conf = keepalived_path(&node);
    let conf = conf.to_str().unwrap();
    let r = node
        .havip()
        .env("TENCENTCLOUD_SECRET_KEY", "not-the-key-0123456789")
        .args(["--config", node.config_path().to_str().unwrap()])
        .args(["doctor", "--json", "--keepalived-conf", conf])
        .run();
    r.assert_code(2);
    let v = r.json();
    let c = check(&v, "credentials", None);
    assert_eq!(c["status"], "FAIL", "{c}");
    assert!(
        c["message"]
            .as_str()
            .unwrap()
            .contains("AuthFailure.SignatureFailure"),
        "{c}"
    );
    assert_eq!(check(&v, "permission", None)["status"], "SKIP");
    assert!(!r.all_output().contains("not-the-key"));

    node.write_config(&minimal_config("http://127.0.0.1:9", NODE21, ""));
    let (r, v) = doctor(&node, &["--timeout", "1s"]);
    r.assert_code(2);
    assert_eq!(check(&v, "endpoint", None)["status"], "FAIL");
    assert_eq!(check(&v, "node.instance", None)["status"], "PASS");
    assert_eq!(
        check(&v, "keepalived.notify", Some("iam"))["status"],
        "PASS"
    );
}

#[test]
fn the_configuration_broken_one_way_at_a_time() {
    let sim = SimHandle::start("seed");
    let node = reference(&sim);
    // Not valid: exit 2 with the key named.
    node.write_config("[[vip]]\nname = \"iam\"\nhavip_id = 7\n");
    let (r, v) = doctor(&node, &[]);
    r.assert_code(2);
    assert_shape(&v);
    let c = check(&v, "config", None);
    assert!(
        c["status"] == "FAIL" && c["message"].as_str().unwrap().contains("havip_id"),
        "{c}"
    );
    // The configuration names the other node.
    node.write_config(&minimal_config(&sim.url(), NODE20, ""));
    let (r, v) = doctor(&node, &[]);
    r.assert_code(2);
    let c = check(&v, "node.instance", None);
    assert_eq!(c["status"], "FAIL", "{c}");
    assert!(c["message"].as_str().unwrap().contains(NODE21), "{c}");
    // A HAVIP that does not exist.
    let cfg = minimal_config(&sim.url(), NODE21, "").replace(HAVIP, "havip-nothere1");
    node.write_config(&cfg);
    let (r, v) = doctor(&node, &[]);
    r.assert_code(2);
    assert_eq!(check(&v, "vip.havip", Some("iam"))["status"], "FAIL");
    // The configured vip is not the HAVIP's.
    node.write_config(&minimal_config(&sim.url(), NODE21, "vip = \"10.0.4.98\"\n"));
    let (r, v) = doctor(&node, &[]);
    r.assert_code(2);
    assert_eq!(check(&v, "vip.havip", Some("iam"))["status"], "FAIL");
    // An EIP that does not exist.
    let cfg = minimal_config(&sim.url(), NODE21, "").replace(EIP, "203.0.113.9");
    node.write_config(&cfg);
    let (r, v) = doctor(&node, &[]);
    r.assert_code(2);
    let c = check(&v, "vip.eip", Some("iam"));
    assert!(
        c["status"] == "FAIL" && c["message"].as_str().unwrap().contains("does not exist"),
        "{c}"
    );
}

/// Signed calls through `havip api` to break the cloud (not doctor's: it writes nothing).
fn api(node: &Node, action: &str, params: Value) {
    node.api(action, &params);
}

#[test]
fn the_cloud_broken_one_way_at_a_time() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = reference(&sim);
    // This node out of the drift range.
    api(
        &node,
        "DisassociateHaVipInstance",
        json!({"HaVipAssociationSet": [{"HaVipId": HAVIP, "InstanceId": NODE21, "InstanceType": "CVM"}]}),
    );
    let (r, v) = doctor(&node, &[]);
    r.assert_code(2);
    assert_eq!(
        not_passing(&v),
        BTreeSet::from(["vip.drift_range[iam]=FAIL".to_string()])
    );
    api(
        &node,
        "AssociateHaVipInstance",
        json!({"HaVipAssociationSet": [{"HaVipId": HAVIP, "InstanceId": NODE21, "InstanceType": "CVM"}]}),
    );
    // The EIP unbound from the HAVIP.
    api(
        &node,
        "HaVipDisassociateAddressIp",
        json!({"HaVipId": HAVIP}),
    );
    assert!(wait_until(Duration::from_secs(5), || ctl.address(EIP_ID)
        ["status"]
        == "UNBIND"));
    let (r, v) = doctor(&node, &[]);
    r.assert_code(2);
    assert_eq!(
        not_passing(&v),
        BTreeSet::from(["vip.eip[iam]=FAIL".to_string()])
    );
    assert!(check(&v, "vip.eip", Some("iam"))["message"]
        .as_str()
        .unwrap()
        .contains("UNBIND"));
    // The peer out of the drift range (it held the HAVIP: removing it unbinds the HAVIP too).
    api(
        &node,
        "DisassociateHaVipInstance",
        json!({"HaVipAssociationSet": [{"HaVipId": HAVIP, "InstanceId": NODE20, "InstanceType": "CVM"}]}),
    );
    ctl.clear_requests();
    let (r, v) = doctor(&node, &[]);
    r.assert_code(2);
    assert_eq!(check(&v, "vip.peer", Some("iam"))["status"], "FAIL");
    assert_eq!(check(&v, "vip.holder", Some("iam"))["status"], "WARN");
    assert!(ctl.writes().is_empty(), "doctor wrote: {:?}", ctl.writes());
}

#[test]
fn check_associate_off_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("open.toml");
    let text =
        tcsim::scenario::SEED_TOML.replace("check_associate = true", "check_associate = false");
    std::fs::write(&path, text).unwrap();
    let sim = SimHandle::start(path.to_str().unwrap());
    let node = reference(&sim);
    let (r, v) = doctor(&node, &[]);
    r.assert_code(1);
    assert_eq!(
        not_passing(&v),
        BTreeSet::from(["vip.check_associate[iam]=WARN".to_string()])
    );
}

#[test]
fn keepalived_broken_one_way_at_a_time() {
    let sim = SimHandle::start("seed");
    let node = reference(&sim);
    let cases = [
        (
            "notify \"/usr/local/bin/havip notify\"",
            "notify \"/etc/keepalived/notify.sh\"",
            "keepalived.notify[iam]=FAIL",
            2,
        ),
        (
            "    script_user root\n",
            "    script_user root\n    vrrp_strict\n",
            "keepalived.vrrp_strict[]=FAIL",
            2,
        ),
        (
            "10.0.4.99/24 dev eth0",
            "10.0.4.98/24 dev eth0",
            "keepalived.vip[iam]=FAIL",
            2,
        ),
        ("    nopreempt\n", "", "keepalived.nopreempt[iam]=WARN", 1),
        (
            "--quiet --vip iam\"",
            "--quiet --vip iam || exit 0\"",
            "keepalived.check[iam]=FAIL",
            2,
        ),
        (
            "    notify_master_rx_lower_pri \"/usr/local/bin/havip notify --state MASTER_RX_LOWER_PRI --vip iam\"\n",
            "",
            "keepalived.rx_lower_pri[iam]=WARN",
            1,
        ),
        (
            "vrrp_instance VI_1 {\n",
            "vrrp_instance VI_1 {\n    {\n",
            "keepalived.config[]=FAIL",
            2,
        ),
    ];
    for (from, to, finding, code) in cases {
        assert!(KEEPALIVED_NODE2.contains(from), "{from:?}");
        write_keepalived(&node, &KEEPALIVED_NODE2.replacen(from, to, 1));
        let (r, v) = doctor(&node, &[]);
        r.assert_code(code);
        assert_eq!(
            not_passing(&v),
            BTreeSet::from([finding.to_string()]),
            "{from:?} -> {to:?}"
        );
    }
    // A syntax error names the file and line.
    write_keepalived(
        &node,
        &KEEPALIVED_NODE2.replacen("vrrp_instance VI_1 {\n", "vrrp_instance VI_1 {\n    {\n", 1),
    );
    let (_, v) = doctor(&node, &[]);
    let msg = check(&v, "keepalived.config", None)["message"]
        .as_str()
        .unwrap()
        .to_string();
    let line = KEEPALIVED_NODE2
        .lines()
        .position(|l| l.starts_with("vrrp_instance"))
        .unwrap()
        + 2;
    assert!(msg.contains(&format!("keepalived.conf:{line}:")), "{msg}");
    // Missing file.
    std::fs::remove_file(keepalived_path(&node)).unwrap();
    let (r, v) = doctor(&node, &[]);
    r.assert_code(2);
    assert_eq!(check(&v, "keepalived.config", None)["status"], "FAIL");
}

#[test]
fn keepalived_includes_are_followed() {
    let sim = SimHandle::start("seed");
    let node = reference(&sim);
    // The instance in conf.d/, the rest in the main file.
    let at = KEEPALIVED_NODE2.find("vrrp_instance VI_1").unwrap();
    let (head, instance) = KEEPALIVED_NODE2.split_at(at);
    let d = node.dir.path().join("conf.d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("vi_1.conf"), instance).unwrap();
    write_keepalived(&node, &format!("{head}\ninclude conf.d/*.conf\n"));
    let (r, v) = doctor(&node, &[]);
    r.assert_code(0);
    assert!(check(&v, "keepalived.config", None)["message"]
        .as_str()
        .unwrap()
        .contains("2 file(s)"));
    assert!(check(&v, "keepalived.instance", Some("iam"))["message"]
        .as_str()
        .unwrap()
        .contains("vi_1.conf:"));
}

#[test]
fn an_unwritable_state_directory_fails() {
    let sim = SimHandle::start("seed");
    let node = reference(&sim);
    // A file where the state directory should be: nothing can be created under it.
    std::fs::write(node.state_dir(), "").unwrap();
    let (r, v) = doctor(&node, &[]);
    r.assert_code(2);
    assert_eq!(check(&v, "local.state_dir", None)["status"], "FAIL");
}

fn policy_actions(node: &Node) -> BTreeSet<String> {
    let r = node.run(&["doctor", "--policy"]);
    r.assert_code(0);
    let p = r.json();
    assert_eq!(p["version"], "2.0");
    let mut all = BTreeSet::new();
    for st in p["statement"].as_array().unwrap() {
        assert_eq!(st["effect"], "allow");
        assert!(!st["resource"].as_array().unwrap().is_empty());
        for a in st["action"].as_array().unwrap() {
            all.insert(a.as_str().unwrap().to_string());
        }
    }
    all
}

/// The policy names exactly what a promotion sends: every action of a MASTER run that had to
/// add this node to the range and bind the EIP, and nothing else.
#[test]
fn the_policy_names_exactly_the_actions_a_promotion_sends() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = reference(&sim);
    let policy = policy_actions(&node);
    let want: BTreeSet<String> = [
        "vpc:DescribeHaVips",
        "vpc:DescribeAddresses",
        "vpc:DescribeVpcTaskResult",
        "vpc:AssociateHaVipInstance",
        "vpc:HaVipAssociateAddressIp",
    ]
    .map(String::from)
    .into();
    assert_eq!(policy, want);
    // Every one of them is sent by a promotion that must add this node and bind the EIP.
    api(
        &node,
        "DisassociateHaVipInstance",
        json!({"HaVipAssociationSet": [{"HaVipId": HAVIP, "InstanceId": NODE21, "InstanceType": "CVM"}]}),
    );
    api(
        &node,
        "HaVipDisassociateAddressIp",
        json!({"HaVipId": HAVIP}),
    );
    assert!(wait_until(Duration::from_secs(5), || ctl.address(EIP_ID)
        ["status"]
        == "UNBIND"));
    ctl.clear_requests();
    let child = node.spawn(&["notify", "INSTANCE", "VI_1", "MASTER", "100"]);
    // keepalived's announcement, once havip has put this node in the range.
    let in_range = || {
        ctl.havip()["associations"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["instance_id"] == NODE21))
    };
    assert!(wait_until(Duration::from_secs(10), in_range));
    assert_eq!(ctl.arp(VIP, MAC21)["moved"], true);
    let r = wait_child(child, Duration::from_secs(30));
    r.assert_code(0);
    assert_eq!(
        sent(&ctl),
        want,
        "a promotion sends exactly the policy's actions"
    );
    // With fencing the peer's removal joins, scoped like the other writes.
    node.write_config(&minimal_config(&sim.url(), NODE21, "fencing = true\n"));
    let fenced = policy_actions(&node);
    assert_eq!(
        fenced.difference(&want).collect::<Vec<_>>(),
        ["vpc:DisassociateHaVipInstance"]
    );
}

/// The actions in tcsim's log, as CAM names them.
fn sent(ctl: &Ctl) -> BTreeSet<String> {
    ctl.actions().iter().map(|a| format!("vpc:{a}")).collect()
}

/// The other strategies: their policy is exactly what their promotions send (the `eip` one
/// moved there and back, the `private-ip` one migrated).
#[test]
fn the_policy_of_the_other_strategies_matches_their_promotions() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let eip_cfg = |instance: &str, ip: &str| {
        format!(
            "endpoint = \"{}\"\nregion = \"ap-guangzhou\"\n\n[node]\ninstance_id = \"{instance}\"\n\n[[vip]]\nname = \"pub\"\nvrrp_instance = \"VI_3\"\nstrategy = \"eip\"\neip = \"106.52.252.140\"\nprivate_ip = \"{ip}\"\ndeadline = \"20s\"\n",
            sim.url()
        )
    };
    let n21 = Node::new(&sim, NODE21, &eip_cfg(NODE21, "10.0.4.21"));
    let n20 = Node::new(&sim, NODE20, &eip_cfg(NODE20, "10.0.4.20"));
    let policy = policy_actions(&n21);
    ctl.clear_requests();
    n21.run(&["notify", "INSTANCE", "VI_3", "MASTER", "100"])
        .assert_code(0);
    n20.run(&["notify", "INSTANCE", "VI_3", "MASTER", "100"])
        .assert_code(0);
    assert_eq!(sent(&ctl), policy, "eip");

    let pip = format!(
        "endpoint = \"{}\"\nregion = \"ap-guangzhou\"\n\n[node]\ninstance_id = \"{NODE21}\"\n\n[[vip]]\nname = \"app\"\nvrrp_instance = \"VI_2\"\nstrategy = \"private-ip\"\nprivate_ip = \"10.0.4.98\"\ndeadline = \"20s\"\n",
        sim.url()
    );
    let n = Node::new(&sim, NODE21, &pip);
    let policy = policy_actions(&n);
    ctl.clear_requests();
    n.run(&["notify", "INSTANCE", "VI_2", "MASTER", "100"])
        .assert_code(0);
    assert_eq!(sent(&ctl), policy, "private-ip");
}
