//! The control API: ARP-driven HAVIP movement, instance stop/start, every fault kind, the
//! request log, settings, bad input, plus the metadata tree and TLS.

mod common;

use std::time::{Duration, Instant};

use common::{start_seed, Client};
use reqwest::Method;
use serde_json::{json, Value};
use tcsim::testing::SimHandle;
use tcsim::SimOptions;

#[tokio::test]
async fn arp_moves_the_havip_within_the_drift_range() {
    let sim = start_seed();
    let c = Client::new(&sim);
    let before = c.havip("havip-iam00099").await;
    assert_eq!(before["InstanceId"], "ins-iam00020");

    let v = c.arp("10.0.4.99", "52:54:00:00:04:21").await;
    assert_eq!(v["moved"], true, "{v}");
    assert_eq!(v["havip_id"], "havip-iam00099");
    let h = c.havip("havip-iam00099").await;
    assert_eq!(h["InstanceId"], "ins-iam00021");
    assert_eq!(h["NetworkInterfaceId"], "eni-iam00021");
    assert_eq!(h["State"], "AVAILABLE");
    let flushed = h["FlushedTime"].as_str().unwrap().to_string();
    assert_ne!(flushed, "0000-00-00 00:00:00");
    assert!(chrono::NaiveDateTime::parse_from_str(&flushed, "%Y-%m-%d %H:%M:%S").is_ok());
    // The EIP follows the HAVIP: still bound to it.
    assert_eq!(
        c.address("eip-iam00139").await["InstanceId"],
        "havip-iam00099"
    );

    // The holder announcing again changes nothing.
    let v = c.arp("10.0.4.99", "52:54:00:00:04:21").await;
    assert_eq!(v["moved"], false);
    assert!(v["reason"].as_str().unwrap().contains("already held"));

    let v = c.arp("10.0.4.99", "52-54-00-00-04-20").await;
    assert_eq!(v["moved"], true, "dash-separated MAC: {v}");
    assert_eq!(
        c.havip("havip-iam00099").await["InstanceId"],
        "ins-iam00020"
    );

    // Unknown MAC, unknown Vip.
    let v = c.arp("10.0.4.99", "02:00:00:00:00:01").await;
    assert_eq!(v["moved"], false);
    assert!(v["reason"].as_str().unwrap().contains("no ENI"));
    let v = c.arp("10.0.4.77", "52:54:00:00:04:21").await;
    assert_eq!(v["moved"], false);
    assert!(v["reason"].as_str().unwrap().contains("no HAVIP"));
}

#[tokio::test]
async fn arp_outside_the_drift_range_with_and_without_check_associate() {
    let sim = start_seed();
    let c = Client::new(&sim);
    c.ok(
        "DisassociateHaVipInstance",
        json!({"HaVipAssociationSet": [{"HaVipId": "havip-iam00099", "InstanceId": "ins-iam00021"}]}),
    )
    .await;
    let v = c.arp("10.0.4.99", "52:54:00:00:04:21").await;
    assert_eq!(v["moved"], false, "{v}");
    assert!(v["reason"].as_str().unwrap().contains("drift range"), "{v}");
    let h = c.havip("havip-iam00099").await;
    assert_eq!(h["InstanceId"], "ins-iam00020", "nothing changed");
    assert_eq!(h["FlushedTime"], "0000-00-00 00:00:00");

    // An ENI entry in the range is enough.
    c.ok(
        "AssociateHaVipInstance",
        json!({"HaVipAssociationSet": [{"HaVipId": "havip-iam00099", "InstanceId": "eni-iam00021", "InstanceType": "ENI"}]}),
    )
    .await;
    assert_eq!(c.arp("10.0.4.99", "52:54:00:00:04:21").await["moved"], true);

    // Without CheckAssociate, any ENI of the subnet takes the HAVIP.
    let r = c
        .ok(
            "CreateHaVip",
            json!({"VpcId": "vpc-iam00001", "SubnetId": "subnet-iam00004", "HaVipName": "open", "Vip": "10.0.4.50"}),
        )
        .await;
    let id = r["HaVip"]["HaVipId"].as_str().unwrap().to_string();
    let v = c.arp("10.0.4.50", "52:54:00:00:04:21").await;
    assert_eq!(v["moved"], true, "{v}");
    assert_eq!(c.havip(&id).await["InstanceId"], "ins-iam00021");
}

#[tokio::test]
async fn stopped_instance_loses_its_havip_and_is_ignored() {
    let sim = start_seed();
    let c = Client::new(&sim);
    let v = c
        .sim_post("/_sim/instances/ins-iam00020/stop", json!({}))
        .await;
    assert_eq!(v["havips_cleared"], json!(["havip-iam00099"]));
    let h = c.havip("havip-iam00099").await;
    assert_eq!(h["InstanceId"], "");
    assert_eq!(h["NetworkInterfaceId"], "");
    assert_eq!(h["State"], "UNBIND");
    // Its EIP stays on the HAVIP, which no instance holds: idle.
    let eip = c.address("eip-iam00139").await;
    assert_eq!(eip["InstanceType"], "HAVIP");
    assert_eq!(eip["AddressStatus"], "BIND");

    let v = c.arp("10.0.4.99", "52:54:00:00:04:20").await;
    assert_eq!(v["moved"], false);
    assert!(v["reason"].as_str().unwrap().contains("stopped"));
    c.sim_post("/_sim/instances/ins-iam00020/start", json!({}))
        .await;
    assert_eq!(c.arp("10.0.4.99", "52:54:00:00:04:20").await["moved"], true);

    let (status, v) = c
        .control(
            Method::POST,
            "/_sim/instances/ins-nothere1/stop",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 404, "{v}");
    let (status, _) = c
        .control(
            Method::POST,
            "/_sim/instances/ins-iam00020/reboot",
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 400);
}

async fn add_fault(c: &Client, rule: Value) {
    let (status, v) = c.control(Method::POST, "/_sim/faults", Some(rule)).await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn fault_error_with_count() {
    let sim = start_seed();
    let c = Client::new(&sim);
    add_fault(
        &c,
        json!({"action": "DescribeHaVips", "count": 2, "error": "InternalError"}),
    )
    .await;
    assert_eq!(c.err("DescribeHaVips", json!({})).await, "InternalError");
    c.ok("DescribeAddresses", json!({})).await;
    assert_eq!(c.err("DescribeHaVips", json!({})).await, "InternalError");
    c.ok("DescribeHaVips", json!({})).await;

    // Faults apply after authentication.
    add_fault(&c, json!({"action": "*", "error": "ResourceUnavailable"})).await;
    let mut bad = c.clone();
    bad.secret_key = "wrong".into();
    assert_eq!(
        bad.err("DescribeHaVips", json!({})).await,
        "AuthFailure.SignatureFailure"
    );
    assert_eq!(
        c.err("DescribeAddresses", json!({})).await,
        "ResourceUnavailable"
    );
    let (_, v) = c.control(Method::DELETE, "/_sim/faults", None).await;
    assert_eq!(v["cleared"], 1);
    c.ok("DescribeAddresses", json!({})).await;
}

#[tokio::test]
async fn fault_http_status() {
    let sim = start_seed();
    let c = Client::new(&sim);
    add_fault(
        &c,
        json!({"action": "DescribeHaVips", "count": 1, "http_status": 502}),
    )
    .await;
    let resp = c.post_raw("DescribeHaVips", b"{}".to_vec()).await;
    assert_eq!(resp.status(), 502);
    assert!(resp.headers().contains_key("date"));
    c.ok("DescribeHaVips", json!({})).await;
    let log = c.requests().await;
    assert!(log.iter().any(|e| e["code"] == "HTTP 502"));
}

#[tokio::test]
async fn fault_delay() {
    let sim = start_seed();
    let c = Client::new(&sim);
    add_fault(
        &c,
        json!({"action": "DescribeHaVips", "count": 1, "delay_ms": 400}),
    )
    .await;
    let t = Instant::now();
    c.ok("DescribeHaVips", json!({})).await;
    assert!(t.elapsed() >= Duration::from_millis(400), "delayed");
}

#[tokio::test]
async fn fault_hang_until_the_client_gives_up() {
    let sim = start_seed();
    let c = Client::new(&sim);
    add_fault(
        &c,
        json!({"action": "DescribeHaVips", "count": 1, "hang": true}),
    )
    .await;
    let mut impatient = c.clone();
    impatient.http = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = impatient
        .build_post("DescribeHaVips", b"{}".to_vec(), c.now(), &[], None, false)
        .send()
        .await
        .expect_err("the request hangs");
    assert!(err.is_timeout(), "{err}");
    // The server is fine and the rule was used up.
    c.ok("DescribeHaVips", json!({})).await;
}

#[tokio::test]
async fn fault_task_result_failed_rolls_back() {
    let sim = SimHandle::start_with(SimOptions {
        rate_limit: Some(0),
        task_duration: Some(Duration::from_millis(200)),
        ..SimOptions::default()
    });
    let c = Client::new(&sim);
    add_fault(
        &c,
        json!({"action": "HaVipDisassociateAddressIp", "count": 1, "task_result": "FAILED"}),
    )
    .await;
    let r = c
        .ok(
            "HaVipDisassociateAddressIp",
            json!({"HaVipId": "havip-iam00099"}),
        )
        .await;
    let task = r["RequestId"].as_str().unwrap();
    assert_eq!(c.wait_vpc_task(task).await, "FAILED");
    let out = c.ok("DescribeVpcTaskResult", json!({"TaskId": task})).await;
    assert!(out["Output"].as_str().unwrap().starts_with("FAILED"));
    assert_eq!(
        c.address("eip-iam00139").await["AddressStatus"],
        "BIND",
        "rolled back"
    );
    assert_eq!(
        c.havip("havip-iam00099").await["AddressIp"],
        "106.52.252.139"
    );
    // The next one succeeds.
    let r = c
        .ok(
            "HaVipDisassociateAddressIp",
            json!({"HaVipId": "havip-iam00099"}),
        )
        .await;
    assert_eq!(
        c.wait_vpc_task(r["RequestId"].as_str().unwrap()).await,
        "SUCCESS"
    );

    add_fault(
        &c,
        json!({"action": "AssociateAddress", "task_result": "FAILED"}),
    )
    .await;
    let r = c
        .ok(
            "AssociateAddress",
            json!({"AddressId": "eip-idle0001", "InstanceId": "ins-iam00021"}),
        )
        .await;
    let id: u64 = r["TaskId"].as_str().unwrap().parse().unwrap();
    assert_eq!(c.wait_task(id).await, "FAILED");
    assert_eq!(c.address("eip-idle0001").await["AddressStatus"], "UNBIND");
}

#[tokio::test]
async fn one_fault_rule_is_removed_by_id_and_the_others_stay() {
    let sim = start_seed();
    let c = Client::new(&sim);
    let (_, gate) = c
        .control(
            Method::POST,
            "/_sim/faults",
            Some(json!({"action": "DescribeHaVips", "error": "InternalError"})),
        )
        .await;
    add_fault(
        &c,
        json!({"action": "DescribeAddresses", "count": 1, "error": "RequestLimitExceeded"}),
    )
    .await;
    assert_eq!(c.err("DescribeHaVips", json!({})).await, "InternalError");
    let id = gate["rule"]["id"].as_u64().unwrap();
    let v = c
        .control(Method::DELETE, &format!("/_sim/faults/{id}"), None)
        .await;
    assert_eq!(v, (200, json!({"removed": id})));
    c.ok("DescribeHaVips", json!({})).await;
    assert_eq!(
        c.err("DescribeAddresses", json!({})).await,
        "RequestLimitExceeded",
        "the other rule stays"
    );
    let (status, v) = c
        .control(Method::DELETE, &format!("/_sim/faults/{id}"), None)
        .await;
    assert_eq!(status, 404, "{v}");
    assert!(v["error"].as_str().unwrap().contains("no fault rule"));
    let (status, _) = c.control(Method::DELETE, "/_sim/faults/abc", None).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn fault_probability_zero_and_one() {
    let sim = start_seed();
    let c = Client::new(&sim);
    add_fault(
        &c,
        json!({"action": "DescribeHaVips", "probability": 0.0, "error": "InternalError"}),
    )
    .await;
    for _ in 0..20 {
        c.ok("DescribeHaVips", json!({})).await;
    }
    c.control(Method::DELETE, "/_sim/faults", None).await;
    add_fault(
        &c,
        json!({"action": "DescribeHaVips", "probability": 1.0, "error": "InternalError"}),
    )
    .await;
    for _ in 0..20 {
        assert_eq!(c.err("DescribeHaVips", json!({})).await, "InternalError");
    }
    let (_, v) = c.control(Method::GET, "/_sim/faults", None).await;
    assert_eq!(v["rules"][0]["fired"], 20);
}

#[tokio::test]
async fn bad_control_input_is_a_400_with_json() {
    let sim = start_seed();
    let c = Client::new(&sim);
    for (path, body) in [
        ("/_sim/faults", json!({"action": "X"})),
        (
            "/_sim/faults",
            json!({"action": "X", "error": "A", "hang": true}),
        ),
        (
            "/_sim/faults",
            json!({"action": "X", "probability": 2, "error": "A"}),
        ),
        (
            "/_sim/faults",
            json!({"action": "X", "bogus": 1, "error": "A"}),
        ),
        ("/_sim/arp", json!({"ip": "10.0.4.99"})),
        (
            "/_sim/arp",
            json!({"ip": "not-ip", "mac": "52:54:00:00:04:21"}),
        ),
        ("/_sim/clock", json!({"offset_s": "soon"})),
        ("/_sim/settings", json!({"rate_limit": -1})),
        ("/_sim/settings", json!({"no_such_setting": 1})),
    ] {
        let (status, v) = c.control(Method::POST, path, Some(body.clone())).await;
        assert_eq!(status, 400, "{path} {body}: {v}");
        assert!(v["error"].is_string(), "{v}");
    }
    let resp = c
        .http
        .post(format!("{}/_sim/faults", c.url))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert!(v["error"].is_string());
}

/// Defect 8 of issue 7: `/_sim/settings` and `/_sim/clock` took any number with 200
/// (`utc_offset_hours` 100, `task_duration_ms` u64::MAX). Each numeric field of every control
/// endpoint is now refused with 400, naming the field and its range, and nothing changes.
#[tokio::test]
async fn out_of_range_settings_are_refused_naming_the_field() {
    let sim = start_seed();
    let c = Client::new(&sim);
    let (_, settings_before) = c.control(Method::GET, "/_sim/settings", None).await;
    let (_, clock_before) = c.control(Method::GET, "/_sim/clock", None).await;
    let cases = [
        (
            "/_sim/settings",
            json!({"utc_offset_hours": 100}),
            "\"utc_offset_hours\" must be an integer from -12 to 14",
        ),
        (
            "/_sim/settings",
            json!({"utc_offset_hours": -13}),
            "\"utc_offset_hours\" must be an integer from -12 to 14",
        ),
        (
            "/_sim/settings",
            json!({"utc_offset_hours": 8.5}),
            "\"utc_offset_hours\" must be an integer from -12 to 14",
        ),
        (
            "/_sim/settings",
            json!({"task_duration_ms": u64::MAX}),
            "\"task_duration_ms\" must be an integer from 0 to 600000",
        ),
        (
            "/_sim/settings",
            json!({"task_duration_ms": 600_001}),
            "\"task_duration_ms\" must be an integer from 0 to 600000",
        ),
        (
            "/_sim/settings",
            json!({"task_duration_ms": -1}),
            "\"task_duration_ms\" must be an integer from 0 to 600000",
        ),
        (
            "/_sim/settings",
            json!({"task_duration_ms": "50"}),
            "\"task_duration_ms\" must be an integer from 0 to 600000",
        ),
        (
            "/_sim/settings",
            json!({"rate_limit": -1}),
            "\"rate_limit\" must be an integer from 0 to 1000000",
        ),
        (
            "/_sim/settings",
            json!({"rate_limit": 5_000_000_000u64}),
            "\"rate_limit\" must be an integer from 0 to 1000000",
        ),
        (
            "/_sim/settings",
            json!({"rate_limits": {"DescribeHaVips": 2_000_000}}),
            "\"rate_limits.DescribeHaVips\" must be an integer from 0 to 1000000",
        ),
        (
            "/_sim/settings",
            json!({"rate_limits": 5}),
            "\"rate_limits\" must be an object",
        ),
        (
            "/_sim/settings",
            json!({"credential_lifetime_s": 0}),
            "\"credential_lifetime_s\" must be an integer from 1 to 604800",
        ),
        (
            "/_sim/settings",
            json!({"credential_lifetime_s": u64::MAX}),
            "\"credential_lifetime_s\" must be an integer from 1 to 604800",
        ),
        (
            "/_sim/settings",
            json!({"request_log_capacity": 0}),
            "\"request_log_capacity\" must be an integer from 1 to 1000000",
        ),
        (
            "/_sim/settings",
            json!({"request_log_capacity": 10_000_000}),
            "\"request_log_capacity\" must be an integer from 1 to 1000000",
        ),
        // One bad field refuses the whole patch: the good one is not applied either.
        (
            "/_sim/settings",
            json!({"task_duration_ms": 50, "utc_offset_hours": 15}),
            "\"utc_offset_hours\"",
        ),
        (
            "/_sim/clock",
            json!({"offset_s": 31_622_401}),
            "\"offset_s\" must be an integer from -31622400 to 31622400",
        ),
        (
            "/_sim/clock",
            json!({"offset_s": i64::MIN}),
            "\"offset_s\" must be an integer from -31622400 to 31622400",
        ),
        (
            "/_sim/clock",
            json!({"offset_s": u64::MAX}),
            "\"offset_s\" must be an integer from -31622400 to 31622400",
        ),
        (
            "/_sim/clock",
            json!({"offset_s": 1.5}),
            "\"offset_s\" must be an integer from -31622400 to 31622400",
        ),
        (
            "/_sim/faults",
            json!({"action": "X", "count": 0, "error": "A"}),
            "\"count\" must be an integer from 1 to 1000000",
        ),
        (
            "/_sim/faults",
            json!({"action": "X", "count": -1, "error": "A"}),
            "\"count\" must be an integer from 1 to 1000000",
        ),
        (
            "/_sim/faults",
            json!({"action": "X", "count": u64::MAX, "error": "A"}),
            "\"count\" must be an integer from 1 to 1000000",
        ),
        (
            "/_sim/faults",
            json!({"action": "X", "delay_ms": 600_001}),
            "\"delay_ms\" must be an integer from 0 to 600000",
        ),
        (
            "/_sim/faults",
            json!({"action": "X", "http_status": 70_000}),
            "\"http_status\" must be an integer from 300 to 599",
        ),
        (
            "/_sim/faults",
            json!({"action": "X", "http_status": 200}),
            "\"http_status\" must be an integer from 300 to 599",
        ),
        (
            "/_sim/faults",
            json!({"action": "X", "probability": -0.5, "error": "A"}),
            "\"probability\" must be a number from 0.0 to 1.0",
        ),
        (
            "/_sim/faults",
            json!({"action": "X", "probability": "half", "error": "A"}),
            "\"probability\" must be a number from 0.0 to 1.0",
        ),
    ];
    for (path, body, expected) in cases {
        let (status, v) = c.control(Method::POST, path, Some(body.clone())).await;
        assert_eq!(status, 400, "{path} {body}: {v}");
        let msg = v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{path} {body}: {v}"));
        assert!(
            msg.contains(expected),
            "{path} {body}: {msg:?} lacks {expected:?}"
        );
    }
    let (_, settings_after) = c.control(Method::GET, "/_sim/settings", None).await;
    assert_eq!(settings_after, settings_before, "nothing changed");
    let (_, clock_after) = c.control(Method::GET, "/_sim/clock", None).await;
    assert_eq!(clock_after["offset_s"], clock_before["offset_s"]);
    let (_, faults) = c.control(Method::GET, "/_sim/faults", None).await;
    assert_eq!(faults["rules"], json!([]), "no rule was added");

    // The ends of each range are accepted.
    for body in [
        json!({"utc_offset_hours": -12, "task_duration_ms": 0, "rate_limit": 0, "credential_lifetime_s": 1, "request_log_capacity": 1}),
        json!({"utc_offset_hours": 14, "task_duration_ms": 600_000, "rate_limit": 1_000_000, "rate_limits": {"DescribeHaVips": 1_000_000}, "credential_lifetime_s": 604_800, "request_log_capacity": 1_000_000}),
    ] {
        let (status, v) = c
            .control(Method::POST, "/_sim/settings", Some(body.clone()))
            .await;
        assert_eq!(status, 200, "{body}: {v}");
        for (k, n) in body.as_object().unwrap() {
            assert_eq!(&v[k], n, "{k} applied");
        }
    }
    for offset in [-31_622_400, 31_622_400] {
        let v = c.sim_post("/_sim/clock", json!({"offset_s": offset})).await;
        assert_eq!(v["offset_s"], offset);
    }
    let (status, v) = c
        .control(
            Method::POST,
            "/_sim/faults",
            Some(json!({"action": "X", "count": 1_000_000, "http_status": 599})),
        )
        .await;
    assert_eq!(status, 200, "{v}");

    // A scenario file is held to the same ranges when it loads.
    let file = tcsim::scenario::ScenarioFile::from_toml("[settings]\nutc_offset_hours = 100\n")
        .expect("parses");
    let err = file.build().expect_err("out of range").to_string();
    assert!(
        err.contains("\"utc_offset_hours\" must be an integer from -12 to 14"),
        "{err}"
    );
}

#[tokio::test]
async fn request_log_and_settings() {
    let sim = start_seed();
    let c = Client::new(&sim);
    c.ok("DescribeHaVips", json!({"HaVipIds": ["havip-iam00099"]}))
        .await;
    c.err("DescribeHaVips", json!({"Limit": 1000})).await;
    let mut bad = c.clone();
    bad.secret_key = "wrong".into();
    bad.err("DescribeAddresses", json!({})).await;
    let log = c.requests().await;
    assert_eq!(log.len(), 3);
    assert_eq!(log[0]["action"], "DescribeHaVips");
    assert_eq!(log[0]["params"], json!({"HaVipIds": ["havip-iam00099"]}));
    assert_eq!(log[0]["code"], Value::Null);
    assert_eq!(log[1]["code"], "InvalidParameterValue.LimitExceeded");
    assert_eq!(log[2]["action"], "DescribeAddresses");
    assert_eq!(log[2]["code"], "AuthFailure.SignatureFailure");
    let text = serde_json::to_string(&log).unwrap();
    assert!(
        !text.contains(tcsim::testing::EXAMPLE_SECRET_KEY),
        "no secrets in the log"
    );
    let (_, v) = c.control(Method::DELETE, "/_sim/requests", None).await;
    assert_eq!(v["cleared"], 3);
    assert!(c.requests().await.is_empty());

    let v = c
        .sim_post(
            "/_sim/settings",
            json!({"task_duration_ms": 50, "rate_limits": {"DescribeHaVips": 1}}),
        )
        .await;
    assert_eq!(v["task_duration_ms"], 50);
    c.ok("DescribeHaVips", json!({})).await;
    assert_eq!(
        c.err("DescribeHaVips", json!({})).await,
        "RequestLimitExceeded"
    );

    let (status, state) = c.control(Method::GET, "/_sim/state", None).await;
    assert_eq!(status, 200);
    assert_eq!(state["havips"][0]["id"], "havip-iam00099");
    assert_eq!(state["instances"].as_array().unwrap().len(), 2);
    assert!(!state
        .to_string()
        .contains(tcsim::testing::EXAMPLE_SECRET_KEY));
}

#[tokio::test]
async fn metadata_tree_for_a_named_node() {
    let sim = start_seed();
    let c = Client::new(&sim);
    let get = |path: &str| {
        let url = format!("{}/_sim/node/ins-iam00021/latest/meta-data/{path}", c.url);
        let http = c.http.clone();
        async move {
            let r = http.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get("instance-id").await, (200, "ins-iam00021".into()));
    assert_eq!(get("placement/region").await, (200, "ap-guangzhou".into()));
    assert_eq!(get("placement/zone").await, (200, "ap-guangzhou-3".into()));
    assert_eq!(get("local-ipv4").await, (200, "10.0.4.21".into()));
    assert_eq!(get("mac").await, (200, "52:54:00:00:04:21".into()));
    assert_eq!(get("instance-name").await, (200, "havip-node-2".into()));
    assert_eq!(
        get("network/interfaces/macs/").await,
        (200, "52:54:00:00:04:21/".into())
    );
    let base = "network/interfaces/macs/52:54:00:00:04:21";
    assert_eq!(
        get(&format!("{base}/primary-local-ipv4")).await.1,
        "10.0.4.21"
    );
    assert_eq!(get(&format!("{base}/vpc-id")).await.1, "vpc-iam00001");
    assert_eq!(get(&format!("{base}/subnet-id")).await.1, "subnet-iam00004");
    assert_eq!(get(&format!("{base}/local-ipv4s/")).await.1, "10.0.4.21/");
    assert_eq!(
        get(&format!("{base}/local-ipv4s/10.0.4.21/subnet-mask"))
            .await
            .1,
        "255.255.255.0"
    );
    assert_eq!(get("cam/security-credentials/").await.1, "havip-role");
    assert!(get("").await.1.contains("instance-id"));
    assert_eq!(get("no-such-thing").await.0, 404);
    assert_eq!(get("public-ipv4").await.0, 404, "no EIP on the instance");
    assert_eq!(get("cam/security-credentials/other-role").await.0, 404);
    let r = c
        .http
        .get(format!(
            "{}/_sim/node/ins-nothere1/latest/meta-data/instance-id",
            c.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // By source IP: loopback is no instance's IP.
    let r = c
        .http
        .get(format!("{}/latest/meta-data/instance-id", c.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn metadata_default_instance_for_unknown_sources() {
    let sim = SimHandle::start_with(SimOptions {
        metadata_instance: Some("ins-iam00020".into()),
        ..SimOptions::default()
    });
    let c = Client::new(&sim);
    let text = c
        .http
        .get(format!("{}/latest/meta-data/instance-id", c.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, "ins-iam00020");
}

/// `metadata_listen`: the metadata service alone, over plain http, beside a TLS API (as a CVM
/// sees it at 169.254.0.23:80); neither the API nor the control API answers there.
#[tokio::test]
async fn metadata_listener_serves_metadata_only_over_plain_http() {
    let server = tcsim::serve(SimOptions {
        tls: true,
        metadata_instance: Some("ins-iam00021".into()),
        metadata_listen: Some(([127, 0, 0, 1], 0).into()),
        ..SimOptions::default()
    })
    .await
    .unwrap();
    assert!(server.url().starts_with("https://"));
    let md = server.metadata_url().expect("a metadata listener");
    assert!(md.starts_with("http://127.0.0.1:"), "{md}");
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{md}/latest/meta-data/instance-id"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("date"));
    assert_eq!(r.text().await.unwrap(), "ins-iam00021");
    for path in ["/", "/_sim/health", "/_sim/state"] {
        let r = http.get(format!("{md}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path} on the metadata listener");
    }
    let r = http.post(format!("{md}/")).body("{}").send().await.unwrap();
    assert_eq!(r.status(), 404, "no API on the metadata listener");
    server.shutdown().await;
}

#[tokio::test]
async fn tls_with_the_written_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let pem_path = dir.path().join("tcsim.pem");
    let sim = SimHandle::start_with(SimOptions {
        tls: true,
        tls_cert_out: Some(pem_path.clone()),
        rate_limit: Some(0),
        ..SimOptions::default()
    });
    assert!(sim.url().starts_with("https://127.0.0.1:"));
    let pem = std::fs::read(&pem_path).unwrap();
    let cert = reqwest::Certificate::from_pem(&pem).unwrap();
    let mut c = Client::new(&sim);
    c.http = reqwest::Client::builder()
        .add_root_certificate(cert)
        .build()
        .unwrap();
    let r = c.ok("DescribeHaVips", json!({})).await;
    assert_eq!(r["TotalCount"], 1);
    // By name too.
    c.url = sim.url().replace("127.0.0.1", "localhost");
    c.ok("DescribeAddresses", json!({})).await;
    // An untrusting client fails the handshake.
    let plain = reqwest::Client::new();
    assert!(plain
        .get(format!("{}/_sim/health", sim.url()))
        .send()
        .await
        .is_err());
}

#[test]
fn sync_shortcuts_on_the_handle() {
    let sim = SimHandle::start_with(SimOptions {
        tls: true,
        ..SimOptions::default()
    });
    assert!(sim.ca_pem().unwrap().contains("BEGIN CERTIFICATE"));
    let o = sim.arp("10.0.4.99", "52:54:00:00:04:21");
    assert!(o.moved, "{o:?}");
    assert_eq!(
        sim.stop_instance("ins-iam00021"),
        Some(vec!["havip-iam00099".to_string()])
    );
    assert!(!sim.arp("10.0.4.99", "52:54:00:00:04:21").moved);
    assert!(sim.start_instance("ins-iam00021"));
    assert_eq!(sim.stop_instance("ins-nothere1"), None);
    let rule = sim
        .add_fault(json!({"action": "DescribeHaVips", "count": 1, "error": "InternalError"}))
        .unwrap();
    assert_eq!(rule.remaining, Some(1));
    assert!(sim.add_fault(json!({"action": "X"})).is_err());
    sim.clear_faults();
    sim.set_clock_offset_s(-30);
    assert!(sim.sim().clock.offset_s() == -30);
    assert!(sim.requests().is_empty());
}

/// Dropping a handle right after start must stop the server even if its accept loop has not run
/// yet (a stop that raced the loop's start used to be missed and hang the drop).
#[test]
fn immediate_drop_never_hangs() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for i in 0..40 {
            let sim = SimHandle::start_with(SimOptions {
                tls: i % 2 == 0,
                ..SimOptions::default()
            });
            drop(sim);
        }
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("40 start/drop cycles finish (a hang means a lost stop signal)");
}

/// The handle's JSON shortcuts (settings, state, one fault, the log) answer what the control
/// API answers: they share its code, so a test may use either.
#[tokio::test]
async fn handle_shortcuts_answer_like_the_control_api() {
    let sim = start_seed();
    let c = Client::new(&sim);

    let merged = sim.set_settings(json!({"task_duration_ms": 1234})).unwrap();
    assert_eq!(merged["task_duration_ms"], 1234);
    assert_eq!(
        c.control(Method::GET, "/_sim/settings", None).await,
        (200, merged)
    );
    let bad = json!({"task_duration_ms": -1});
    let err = sim.set_settings(bad.clone()).unwrap_err();
    let (status, body) = c.control(Method::POST, "/_sim/settings", Some(bad)).await;
    assert_eq!((status, body["error"].as_str()), (400, Some(err.as_str())));
    assert!(sim.set_settings(json!([1])).is_err());

    let rule = sim
        .add_fault(json!({"action": "DescribeHaVips", "error": "InternalError"}))
        .unwrap();
    let (status, mut over_http) = c.control(Method::GET, "/_sim/state", None).await;
    assert_eq!(status, 200);
    let mut direct = sim.state();
    // The clock's reading may tick between the two; its offset may not.
    for v in [&mut direct, &mut over_http] {
        v["clock"]
            .as_object_mut()
            .unwrap()
            .retain(|k, _| k == "offset_s");
    }
    assert_eq!(direct, over_http);
    assert_eq!(direct["faults"][0]["id"], rule.id);
    assert!(sim.remove_fault(rule.id));
    assert!(!sim.remove_fault(rule.id));
    assert_eq!(sim.state()["faults"], json!([]));

    c.call("DescribeHaVips", json!({})).await;
    assert_eq!(sim.requests().len(), 1);
    assert_eq!(sim.clear_requests(), 1);
    assert!(c.requests().await.is_empty());
}
