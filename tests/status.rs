//! `havip status`, the real binary against tcsim's seed deployment (.20 holds the HAVIP, the
//! EIP is bound to it): each exit code (OK, DRIFT, SPLIT, UNKNOWN), the EIP in a transitional
//! state, `--vip`, the JSON checked against the shape docs/status.md documents, colour only on
//! a terminal, and never a write (tcsim's request log shows Describe calls only).

mod support;

use std::path::Path;
use std::process::Command;

use havip::state::{VipState, VrrpState};
use serde_json::{json, Value};
use support::bin::*;
use support::sim::*;
use support::{EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY};
use tcsim::testing::SimHandle;

/// keepalived's event as `havip notify` records it (step 1 of notify), without the cloud part.
fn record(node: &Node, state: VrrpState) {
    VipState::new(&node.state_dir(), "iam")
        .record(state, "notify")
        .expect("record the event");
}

/// `havip status ARGS…` as `node`, after clearing tcsim's request log; asserts that the run
/// made API calls and that every one was a Describe.
fn status(node: &Node, ctl: &Ctl, args: &[&str]) -> Run {
    ctl.clear_requests();
    let mut all = vec!["status"];
    all.extend_from_slice(args);
    let r = node.run(&all);
    assert_eq!(
        ctl.writes(),
        Vec::<String>::new(),
        "status wrote to the cloud"
    );
    r
}

fn first_line(r: &Run) -> &str {
    r.stdout.lines().next().unwrap_or_default()
}

fn json_status(node: &Node, ctl: &Ctl, args: &[&str]) -> (Run, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let r = status(node, ctl, &all);
    let v = r.json();
    check_shape(&v);
    (r, v)
}

#[test]
fn ok_on_the_master_and_on_the_backup_with_describe_calls_only() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let n20 = Node::minimal(&sim, NODE20, "");
    let n21 = Node::minimal(&sim, NODE21, "");
    n20.run(&["notify", "INSTANCE", "VI_1", "MASTER", "100"])
        .assert_code(0);
    n21.run(&["notify", "INSTANCE", "VI_1", "BACKUP", "100"])
        .assert_code(0);
    let journal_before = n20.journal_lines().len();

    let r = status(&n20, &ctl, &[]);
    r.assert_code(0);
    assert!(
        first_line(&r).starts_with(&format!(
            "HAVIP OK - iam: held by {NODE20} (this node, MASTER), EIP {EIP} BIND | iam_verdict=0;1;2;0;3 iam_state_age="
        )),
        "{}",
        r.stdout
    );
    let actions = ctl.actions();
    assert_eq!(
        actions,
        ["DescribeHaVips", "DescribeAddresses"],
        "one read of each"
    );
    for want in [
        "VERDICT",
        "MASTER",
        HAVIP,
        "eip-iam00139",
        "drift range",
        "CONFIRMED",
    ] {
        assert!(r.stdout.contains(want), "{want} missing:\n{}", r.stdout);
    }
    assert!(!r.all_output().contains(EXAMPLE_SECRET_KEY));
    assert_eq!(
        n20.journal_lines().len(),
        journal_before,
        "status writes no journal"
    );

    let r = status(&n21, &ctl, &[]);
    r.assert_code(0);
    assert!(
        first_line(&r).starts_with(&format!(
            "HAVIP OK - iam: held by {NODE20} (a peer; this node BACKUP), EIP {EIP} BIND"
        )),
        "{}",
        r.stdout
    );

    let (_, v) = json_status(&n20, &ctl, &[]);
    assert_eq!(v["verdict"], "OK");
    assert_eq!(v["node"], NODE20);
    let iam = &v["vips"][0];
    assert_eq!(iam["reason_code"], "agreed");
    assert_eq!(iam["local"]["state"], "MASTER");
    assert_eq!(iam["local"]["address"], VIP);
    assert_eq!(iam["cloud"]["holder"], "this_node");
    assert_eq!(iam["cloud"]["holder_seats"][0]["eni_id"], "eni-iam00020");
    assert_eq!(iam["cloud"]["check_associate"], true);
    assert_eq!(iam["cloud"]["peers"], json!([NODE21]));
    assert_eq!(iam["cloud"]["eip"]["status"], "BIND");
    assert_eq!(iam["cloud"]["eip"]["attached"], true);
    assert_eq!(iam["journal"][0]["verdict"], "confirmed");
    assert_eq!(iam["journal"][0]["event"], "MASTER");
}

#[test]
fn drift_when_keepalived_and_the_cloud_disagree() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let n20 = Node::minimal(&sim, NODE20, "");
    // keepalived on .20 went BACKUP, but the cloud still names .20.
    record(&n20, VrrpState::Backup);
    let r = status(&n20, &ctl, &[]);
    r.assert_code(1);
    assert!(
        first_line(&r).starts_with(
            "HAVIP DRIFT - iam: keepalived is BACKUP here, but the cloud names this node"
        ),
        "{}",
        r.stdout
    );
    // MASTER, but the holder stopped and the cloud names nobody.
    record(&n20, VrrpState::Master);
    ctl.stop_instance(NODE20);
    let (r, v) = json_status(&n20, &ctl, &[]);
    r.assert_code(1);
    assert_eq!(v["verdict"], "DRIFT");
    assert_eq!(v["exit_code"], 1);
    assert_eq!(v["vips"][0]["reason_code"], "master_held_by_nobody");
    assert_eq!(v["vips"][0]["cloud"]["holder"], "nobody");
}

#[test]
fn an_eip_being_unbound_is_not_ok() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let n20 = Node::minimal(&sim, NODE20, "");
    record(&n20, VrrpState::Master);
    status(&n20, &ctl, &[]).assert_code(0);
    // The unbind task runs for a minute: the EIP shows UNBINDING for the whole test.
    ctl.settings(json!({"task_duration_ms": 60_000}));
    n20.api("HaVipDisassociateAddressIp", &json!({"HaVipId": HAVIP}));
    assert_eq!(ctl.address(EIP_ID)["status"], "UNBINDING");
    let (r, v) = json_status(&n20, &ctl, &[]);
    r.assert_code(1);
    let iam = &v["vips"][0];
    assert_eq!(iam["reason_code"], "settling", "{iam}");
    assert_eq!(iam["cloud"]["eip"]["status"], "UNBINDING");
    assert_eq!(iam["cloud"]["eip"]["attached"], false);
    assert!(
        iam["cloud"]["settling"]
            .as_str()
            .is_some_and(|s| s.contains("UNBINDING")),
        "{iam}"
    );
    let r = status(&n20, &ctl, &[]);
    r.assert_code(1);
    assert!(first_line(&r).contains("UNBINDING"), "{}", r.stdout);
}

#[test]
fn split_when_this_node_is_master_while_the_cloud_names_the_peer() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let n21 = Node::minimal(&sim, NODE21, "");
    record(&n21, VrrpState::Master);
    let r = status(&n21, &ctl, &[]);
    r.assert_code(2);
    assert!(
        first_line(&r).starts_with(&format!(
            "HAVIP SPLIT - iam: keepalived is MASTER here, but the cloud names {NODE20} (eni-iam00020)"
        )),
        "{}",
        r.stdout
    );
    let (_, v) = json_status(&n21, &ctl, &[]);
    assert_eq!(v["exit_code"], 2);
    assert_eq!(v["vips"][0]["reason_code"], "master_held_elsewhere");
    assert_eq!(v["vips"][0]["cloud"]["holder"], "other");
}

#[test]
fn unknown_when_nothing_was_recorded_or_the_cloud_cannot_be_read() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let n20 = Node::minimal(&sim, NODE20, "");
    // keepalived never notified havip on this node.
    let r = status(&n20, &ctl, &[]);
    r.assert_code(3);
    assert!(first_line(&r).starts_with("HAVIP UNKNOWN - iam: no keepalived event"));

    // An API error.
    record(&n20, VrrpState::Master);
    ctl.fault(json!({"action": "DescribeHaVips", "error": "UnauthorizedOperation"}));
    let (r, v) = json_status(&n20, &ctl, &[]);
    r.assert_code(3);
    let iam = &v["vips"][0];
    assert_eq!(iam["reason_code"], "cloud_unreadable");
    let error = iam["cloud"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("UnauthorizedOperation"), "{error}");
    assert!(
        !r.all_output().contains(EXAMPLE_SECRET_KEY),
        "no secret in the output"
    );
    assert_eq!(iam["cloud"]["holder"], Value::Null);
    ctl.clear_faults();

    // tcsim unreachable.
    let down = Node::new(
        &sim,
        NODE20,
        &minimal_config(
            &format!("http://127.0.0.1:{}", support::server::refused_port()),
            NODE20,
            "",
        ),
    );
    record(&down, VrrpState::Master);
    let r = down.run(&["--timeout", "2s", "status"]);
    r.assert_code(3);
    assert!(
        first_line(&r).starts_with("HAVIP UNKNOWN - iam: cannot read the cloud"),
        "{}",
        r.stdout
    );
}

#[test]
fn configuration_problems_and_an_unknown_vip_are_unknown() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE20, "");
    let r = status(&node, &ctl, &["--vip", "nosuch"]);
    r.assert_code(3);
    assert!(
        first_line(&r).starts_with("HAVIP UNKNOWN - no VIP named \"nosuch\""),
        "{}",
        r.stdout
    );
    let (_, v) = json_status(&node, &ctl, &["--vip", "nosuch"]);
    assert_eq!(v["verdict"], "UNKNOWN");
    assert_eq!(v["vips"], json!([]));
    assert!(v["error"].as_str().is_some_and(|e| e.contains("nosuch")));

    node.write_config("endpoint = 7\n");
    let r = node.run(&["status"]);
    r.assert_code(3);
    assert!(
        first_line(&r).starts_with("HAVIP UNKNOWN - "),
        "{}",
        r.stdout
    );
    assert!(
        first_line(&r).contains("havip.toml"),
        "names the file: {}",
        r.stdout
    );
    let r = Havip::new()
        .args(["--config", "/nonexistent/havip.toml", "status", "--json"])
        .run();
    r.assert_code(3);
    let v = r.json();
    check_shape(&v);
    assert!(v["error"]
        .as_str()
        .is_some_and(|e| e.contains("/nonexistent/havip.toml")));
}

#[test]
fn vip_selects_one_and_the_worst_verdict_wins() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let cfg = minimal_config(&sim.url(), NODE20, "")
        + "\n[[vip]]\nname = \"web\"\nvrrp_instance = \"VI_2\"\nhavip_id = \"havip-nosuch01\"\n";
    let node = Node::new(&sim, NODE20, &cfg);
    record(&node, VrrpState::Master);
    VipState::new(&node.state_dir(), "web")
        .record(VrrpState::Master, "notify")
        .unwrap();

    let (r, v) = json_status(&node, &ctl, &[]);
    r.assert_code(3);
    let names: Vec<&str> = v["vips"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["name"].as_str())
        .collect();
    assert_eq!(names, ["iam", "web"]);
    assert_eq!(v["vips"][0]["verdict"], "OK");
    assert_eq!(v["vips"][1]["verdict"], "UNKNOWN");
    assert_eq!(v["vips"][1]["local"]["vrrp_instance"], "VI_2");

    let r = status(&node, &ctl, &["--vip", "iam"]);
    r.assert_code(0);
    assert!(
        first_line(&r).starts_with("HAVIP OK - iam: "),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("web"), "{}", r.stdout);

    let r = status(&node, &ctl, &[]);
    r.assert_code(3);
    assert!(
        first_line(&r).starts_with("HAVIP UNKNOWN - iam: held by"),
        "{}",
        r.stdout
    );
    assert!(
        first_line(&r).contains("; web: cannot read the cloud"),
        "{}",
        r.stdout
    );
}

/// In a namespace of its own (root; skipped otherwise), with the VIP's address on `hv0`
/// and nothing on its veth peer `hv1`: tcsim and havip run there, so the address check is real.
#[test]
fn the_address_on_an_interface_counts() {
    support::netns::run_or_skip(
        "the_address_on_an_interface_counts",
        &[
            &["link", "set", "lo", "up"],
            &["link", "add", "hv0", "type", "veth", "peer", "name", "hv1"],
            &["addr", "add", "10.0.4.99/24", "dev", "hv0"],
            &["link", "set", "hv0", "up"],
            &["link", "set", "hv1", "up"],
        ],
        || {
            let sim = SimHandle::start("seed");
            let ctl = Ctl(&sim);
            // .20 holds the HAVIP, keepalived there is MASTER with the address on hv0: OK.
            let n20 = Node::minimal(&sim, NODE20, "interface = \"hv0\"\n");
            record(&n20, VrrpState::Master);
            let (r, v) = json_status(&n20, &ctl, &[]);
            r.assert_code(0);
            assert_eq!(v["vips"][0]["local"]["address_on_interface"], true);
            assert_eq!(v["vips"][0]["local"]["interface"], "hv0");
            let r = status(&n20, &ctl, &[]);
            assert!(r.stdout.contains("10.0.4.99 is on hv0"), "{}", r.stdout);

            // The same, but keepalived's interface is hv1, where the address is not: DRIFT.
            n20.write_config(&minimal_config(&sim.url(), NODE20, "interface = \"hv1\"\n"));
            let (r, v) = json_status(&n20, &ctl, &[]);
            r.assert_code(1);
            assert_eq!(v["vips"][0]["reason_code"], "master_without_address");
            assert_eq!(v["vips"][0]["local"]["address_on_interface"], false);

            // .21 is BACKUP but has the address while the cloud names .20: SPLIT.
            let n21 = Node::minimal(&sim, NODE21, "interface = \"hv0\"\n");
            record(&n21, VrrpState::Backup);
            let r = status(&n21, &ctl, &[]);
            r.assert_code(2);
            assert!(
                first_line(&r).starts_with(&format!(
                    "HAVIP SPLIT - iam: the address is on hv0 here, but the cloud names {NODE20}"
                )),
                "{}",
                r.stdout
            );
            Ok(())
        },
    );
}

/// The library as the watch daemon uses it: one engine, one observer per VIP, observed again
/// and again; each observation costs the strategy's two Describe calls and nothing else, and
/// the configuration is not read again (the file is gone by the second look).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_observer_looks_again_cheaply_without_rereading_the_configuration() {
    use havip::cloud::{ClientOptions, EnvVars};
    use havip::context::{ConfigSource, Context};
    use havip::status::{Verdict, VipObserver};
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let keys = format!(
        "\n[credentials]\nsecret_id = \"{EXAMPLE_SECRET_ID}\"\nsecret_key = \"{EXAMPLE_SECRET_KEY}\"\n"
    );
    let node = Node::minimal(&sim, NODE20, "");
    // The state directory in the file: this context reads no environment.
    let text = format!(
        "state_dir = \"{}\"\n{}{keys}",
        node.state_dir().display(),
        minimal_config(&sim.url(), NODE20, "")
    );
    node.write_config(&text);
    std::fs::set_permissions(node.config_path(), std::fs::Permissions::from_mode(0o600)).unwrap();
    record(&node, VrrpState::Master);
    let flags = ClientOptions {
        metadata_endpoint: Some(sim.metadata_url(NODE20)),
        ..ClientOptions::default()
    };
    let path = node.config_path();
    let ctx = Context::new(flags, ConfigSource::new(Some(&path)), EnvVars::default());
    let engine = ctx.engine().await.expect("engine");
    assert_eq!(engine.cfg.vips.len(), 1);
    let vip = engine.cfg.vips[0].clone();
    std::fs::remove_file(&path).unwrap();
    let mut observer = VipObserver::new(engine, vip);
    ctl.clear_requests();
    for round in 0..3 {
        let o = observer.observe(Duration::from_secs(5)).await;
        assert_eq!(o.verdict(), Verdict::Ok, "round {round}: {}", o.judgement);
    }
    let actions = ctl.actions();
    assert_eq!(actions, ["DescribeHaVips", "DescribeAddresses"].repeat(3));
}

/// Runs `node`'s `havip status` on a pseudo-terminal (util-linux `script`), with `extra`
/// environment; `None` when `script` is not installed.
fn on_a_terminal(node: &Node, extra: &[(&str, &str)]) -> Option<String> {
    let script = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let cmd = format!(
        "{} --config {} status",
        env!("CARGO_BIN_EXE_havip"),
        node.config_path().display()
    );
    let mut c = Command::new(script);
    c.args(["-qec", &cmd, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", node.dir.path())
        .env("TERM", "xterm")
        .env("TENCENTCLOUD_SECRET_ID", EXAMPLE_SECRET_ID)
        .env("TENCENTCLOUD_SECRET_KEY", EXAMPLE_SECRET_KEY)
        .env("HAVIP_STATE_DIR", node.state_dir())
        .env("HAVIP_METADATA_ENDPOINT", NO_METADATA);
    for (k, v) in extra {
        c.env(k, v);
    }
    let out = c.output().expect("run script");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE20, "");
    record(&node, VrrpState::Master);
    // Not a terminal (a pipe): no escape codes, with or without NO_COLOR.
    let piped = status(&node, &ctl, &[]);
    piped.assert_code(0);
    assert!(!piped.stdout.contains('\x1b'), "{:?}", piped.stdout);
    let r = node.command(&["status"]).env("NO_COLOR", "1").run();
    r.assert_code(0);
    assert!(!r.stdout.contains('\x1b'), "{:?}", r.stdout);

    let Some(tty) = on_a_terminal(&node, &[]) else {
        eprintln!("skipped: util-linux `script` is not installed, no pseudo-terminal to test on");
        return;
    };
    assert!(tty.contains("HAVIP OK - iam"), "{tty:?}");
    assert!(
        tty.contains("\x1b[32mOK"),
        "coloured on a terminal: {tty:?}"
    );
    let plain = on_a_terminal(&node, &[("NO_COLOR", "1")]).unwrap();
    assert!(plain.contains("HAVIP OK - iam"), "{plain:?}");
    assert!(!plain.contains('\x1b'), "NO_COLOR: {plain:?}");
}

// ---- the documented JSON shape (docs/status.md) ----

/// The shape block of docs/status.md: the first ```json block after "## JSON output".
fn documented_shape() -> Value {
    let doc = include_str!("../docs/status.md");
    let from = doc
        .find("## JSON output")
        .expect("docs/status.md has a JSON section");
    let rest = &doc[from..];
    let start = rest.find("```json\n").expect("a json block") + "```json\n".len();
    let end = rest[start..].find("```").expect("the block ends") + start;
    serde_json::from_str(&rest[start..end]).expect("the documented shape is JSON")
}

#[track_caller]
fn check_shape(v: &Value) {
    if let Err(e) = conforms(&documented_shape(), v, "$") {
        panic!("the JSON does not match docs/status.md: {e}\n{v:#}");
    }
}

/// Whether `v` has the documented shape: exactly the documented keys (`key?`: may be null),
/// each value of the type or literal the shape names (alternatives separated by `|`).
fn conforms(shape: &Value, v: &Value, at: &str) -> Result<(), String> {
    match shape {
        Value::Object(fields) => {
            let obj = v.as_object().ok_or(format!("{at}: not an object"))?;
            let documented: Vec<&str> = fields.keys().map(|k| k.trim_end_matches('?')).collect();
            for k in obj.keys() {
                if !documented.contains(&k.as_str()) {
                    return Err(format!("{at}.{k}: not documented"));
                }
            }
            for (k, sub) in fields {
                let (name, nullable) = match k.strip_suffix('?') {
                    Some(n) => (n, true),
                    None => (k.as_str(), false),
                };
                let val = obj.get(name).ok_or(format!("{at}.{name}: missing"))?;
                if !(nullable && val.is_null()) {
                    conforms(sub, val, &format!("{at}.{name}"))?;
                }
            }
            Ok(())
        }
        Value::Array(elem) => {
            let items = v.as_array().ok_or(format!("{at}: not an array"))?;
            let elem = elem.first().ok_or(format!("{at}: no element shape"))?;
            for (i, item) in items.iter().enumerate() {
                conforms(elem, item, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        Value::String(spec) => {
            let ok = spec.split('|').any(|alt| match alt {
                "string" => v.is_string(),
                "integer" => v.is_i64() || v.is_u64(),
                "boolean" => v.is_boolean(),
                "null" => v.is_null(),
                "timestamp" => v
                    .as_str()
                    .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok()),
                literal => v.as_str() == Some(literal),
            });
            ok.then_some(()).ok_or(format!("{at}: {v} is not {spec}"))
        }
        other => Err(format!("{at}: bad shape {other}")),
    }
}

#[test]
fn the_shape_checker_rejects_what_the_documentation_does_not_say() {
    let shape = documented_shape();
    assert!(conforms(&shape, &json!({}), "$").is_err());
    let shape = json!({"a": "OK|DRIFT", "b?": {"c": "integer|null"}, "d": ["timestamp"]});
    let good = json!({"a": "OK", "b": null, "d": ["2026-01-01T00:00:00Z"]});
    assert_eq!(conforms(&shape, &good, "$"), Ok(()));
    for bad in [
        json!({"a": "NOPE", "b": null, "d": []}),
        json!({"a": "OK", "b": {"c": "1"}, "d": []}),
        json!({"a": "OK", "b": null, "d": ["yesterday"]}),
        json!({"a": "OK", "b": null, "d": [], "extra": 1}),
        json!({"a": "OK", "d": []}),
    ] {
        assert!(conforms(&shape, &bad, "$").is_err(), "{bad}");
    }
}
