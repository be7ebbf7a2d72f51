//! Malformed configuration files and keepalived arguments: exit 2 with a message that names the
//! problem (the key and its line), and nothing sent to the cloud. Plus `havip config check` on
//! the minimal file, with secrets redacted.

mod support;

use support::sim::*;
use support::{EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY};
use tcsim::testing::SimHandle;

#[test]
fn malformed_configs_exit_2_naming_key_and_line() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let base = minimal_config(&sim.url(), NODE21, "");
    // (what, file text, expected line, words the message must contain)
    let cases: Vec<(&str, String, usize, &[&str])> = vec![
        (
            "unknown key",
            base.replace("deadline = \"20s\"", "deadlin = \"20s\""),
            13,
            &["deadlin"],
        ),
        (
            "wrong type",
            base.replace("deadline = \"20s\"", "deadline = 20"),
            13,
            &["deadline"],
        ),
        (
            "bad duration",
            base.replace("\"20s\"", "\"twenty\""),
            13,
            &["deadline"],
        ),
        (
            "bad strategy",
            base.replace("strategy = \"havip\"", "strategy = \"vip\""),
            10,
            &["vip"],
        ),
        (
            "havip without havip_id",
            base.replace("havip_id = \"havip-iam00099\"\n", ""),
            10,
            &["havip_id", "required"],
        ),
        (
            "bad EIP",
            base.replace("106.52.252.139", "106.52.252"),
            12,
            &["eip"],
        ),
        (
            "duplicate VIP",
            format!("{base}\n[[vip]]\nname = \"iam\"\nhavip_id = \"havip-iam00098\"\n"),
            16,
            &["duplicate", "iam"],
        ),
        (
            "private-ip without private_ip",
            base.replace("strategy = \"havip\"", "strategy = \"private-ip\"")
                .replace(
                    "havip_id = \"havip-iam00099\"\neip = \"106.52.252.139\"\n",
                    "",
                ),
            10,
            &["private_ip", "required"],
        ),
        (
            "unknown section",
            format!("{base}\n[nodes]\nx = 1\n"),
            15,
            &["nodes"],
        ),
        (
            "node id",
            base.replace("ins-iam00021", "i-21"),
            5,
            &["instance_id"],
        ),
        // Issue 7: these passed `config check` and failed only when the API refused them.
        (
            "havip_id with a path",
            base.replace("havip-iam00099", "havip-../../etc"),
            11,
            &["havip_id", "havip-../../etc", "8 lowercase"],
        ),
        (
            "havip_id too short",
            base.replace("havip-iam00099", "havip-1"),
            11,
            &["havip_id", "8 lowercase"],
        ),
        (
            "instance_id too long",
            base.replace("ins-iam00021", "ins-iam000211"),
            5,
            &["instance_id", "8 lowercase"],
        ),
        (
            "eip_id uppercase",
            base.replace("eip = \"106.52.252.139\"", "eip_id = \"eip-IAM00139\""),
            12,
            &["eip_id", "8 lowercase"],
        ),
        (
            "eni_id malformed",
            base.replace("[node]\n", "[node]\neni_id = \"eni-x\"\n"),
            5,
            &["eni_id", "8 lowercase"],
        ),
    ];
    for (what, text, line, words) in cases {
        let node = Node::new(&sim, NODE21, &text);
        for args in [
            &["notify", "INSTANCE", "VI_1", "MASTER", "50"][..],
            &["config", "check"][..],
        ] {
            let r = node.run(args);
            assert_eq!(r.code, Some(2), "{what} ({args:?}): {}", r.all_output());
            let want = format!("havip.toml:{line}: ");
            assert!(
                r.stderr.contains(&want),
                "{what}: wanted {want:?} in {}",
                r.stderr
            );
            for w in words {
                assert!(r.stderr.contains(w), "{what}: wanted {w:?} in {}", r.stderr);
            }
        }
    }
    assert!(
        ctl.requests().is_empty(),
        "a malformed config reached the cloud"
    );
}

#[test]
fn a_missing_config_file_is_named() {
    let sim = SimHandle::start("seed");
    let node = Node::minimal(&sim, NODE21, "");
    std::fs::remove_file(node.config_path()).unwrap();
    let r = node.run(&["notify", "--state", "MASTER"]);
    r.assert_code(2);
    assert!(
        r.stderr.contains("havip.toml") && r.stderr.contains("cannot read"),
        "{}",
        r.stderr
    );
}

#[test]
fn malformed_keepalived_arguments_exit_2() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE21, "");
    let cases: &[(&[&str], &str)] = &[
        (&["notify"], "missing arguments"),
        (&["notify", "INSTANCE", "VI_1"], "TYPE NAME STATE"),
        (
            &["notify", "INSTANCE", "VI_1", "PRIMARY", "50"],
            "unknown state",
        ),
        (
            &["notify", "ROUTER", "VI_1", "MASTER", "50"],
            "INSTANCE or GROUP",
        ),
        (&["notify", "INSTANCE", "VI_1", "MASTER", "max"], "PRIORITY"),
        (&["notify", "INSTANCE", "VI_9", "MASTER", "50"], "VI_9"),
        (
            &["notify", "--state", "MASTER", "--vip", "nope"],
            "no VIP named \"nope\"",
        ),
        (
            &["notify", "--state", "UP"],
            "invalid value 'UP' for '--state <STATE>'",
        ),
        (
            &["notify", "--state", "MASTER", "INSTANCE", "VI_1", "MASTER"],
            "not both",
        ),
        (
            &["notify", "INSTANCE", "VI_1", "MASTER", "50", "extra"],
            "KEEPALIVED_ARGS",
        ),
    ];
    for (args, needle) in cases {
        let r = node.run(args);
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.all_output());
        assert!(
            r.stderr.contains(needle),
            "{args:?}: wanted {needle:?} in {}",
            r.stderr
        );
    }
    assert!(ctl.requests().is_empty());
    assert!(
        !node.state_dir().join("iam.event.json").exists(),
        "a malformed event was recorded"
    );
}

#[test]
fn a_group_nothing_follows_is_ignored() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE21, "");
    let r = node.run(&["notify", "GROUP", "G1", "MASTER", "50"]);
    r.assert_code(0);
    assert!(r.stdout.contains("nothing to do"), "{}", r.stdout);
    assert!(ctl.requests().is_empty());
}

#[test]
fn config_check_resolves_discovery_and_redacts_secrets() {
    let sim = SimHandle::start("seed");
    let node = Node::minimal(&sim, NODE21, "");
    let r = node.run(&["config", "check"]);
    r.assert_code(0);
    for want in [
        "(valid)",
        "region         ap-guangzhou",
        "node           ins-iam00021 (configured)",
        "eni            eni-iam00021 (discovered by MAC)",
        "credentials    source: environment",
        "vip iam  follows vrrp_instance VI_1; havip havip-iam00099, EIP 106.52.252.139",
    ] {
        assert!(r.stdout.contains(want), "wanted {want:?} in\n{}", r.stdout);
    }
    assert!(!r.all_output().contains(EXAMPLE_SECRET_KEY));

    // Credentials in the file, instance from the metadata service.
    let text = minimal_config(&sim.url(), NODE21, "")
        .replace("instance_id = \"ins-iam00021\"\n", "")
        .replace(
            "[node]\n",
            &format!("[credentials]\nsecret_id = \"{EXAMPLE_SECRET_ID}\"\nsecret_key = \"{EXAMPLE_SECRET_KEY}\"\n\n[node]\n"),
        );
    let n2 = Node::new(&sim, NODE21, &text);
    // A file holding a secret must be private, as the profile file must (issue 7).
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(n2.config_path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let r = n2.run(&["config", "check"]);
    r.assert_code(0);
    assert!(
        r.stdout
            .contains("node           ins-iam00021 (from the metadata service)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("secret_key ** redacted **"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("credentials    source: configuration"),
        "{}",
        r.stdout
    );
    // One file, one answer about its credentials (issue 8: it used to add "default chain
    // (unresolved)" after naming the file's secret_id).
    assert!(!r.stdout.contains("unresolved"), "{}", r.stdout);
    assert!(
        !r.all_output().contains(EXAMPLE_SECRET_KEY),
        "{}",
        r.all_output()
    );
    assert!(
        !r.all_output().contains(EXAMPLE_SECRET_ID),
        "{}",
        r.all_output()
    );
}

/// Issue 8: a raw call needs only the endpoint, region and credentials, so `havip api --config F`
/// works with a file that has no `[[vip]]`; the commands that manage VIPs still ask for one.
#[test]
fn a_file_without_vips_serves_a_raw_call_and_nothing_that_manages_vips() {
    let sim = SimHandle::start("seed");
    let text = format!("endpoint = \"{}\"\nregion = \"ap-guangzhou\"\n", sim.url());
    let node = Node::new(&sim, NODE21, &text);
    let r = node.run(&["api", "vpc", "DescribeHaVips"]);
    r.assert_code(0);
    assert!(r.stdout.contains("havip-iam00099"), "{}", r.stdout);
    for args in [
        &["notify", "INSTANCE", "VI_1", "MASTER", "50"][..],
        &["takeover", "--yes"][..],
        &["config", "check"][..],
    ] {
        let r = node.run(args);
        r.assert_code(2);
        assert!(
            r.stderr.contains("no `[[vip]]` entry"),
            "{args:?}: {}",
            r.stderr
        );
    }
}
