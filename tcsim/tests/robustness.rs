//! Random, mostly wrong parameters for every action and random query strings: every answer must
//! be the real envelope (HTTP 200, a RequestId, a Response), and the server must keep serving.

mod common;

use std::time::Duration;

use common::Client;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use tcsim::testing::SimHandle;
use tcsim::SimOptions;

const NAMES: &[&str] = &[
    "HaVipIds",
    "Filters",
    "Offset",
    "Limit",
    "VpcId",
    "HaVipName",
    "SubnetId",
    "Vip",
    "NetworkInterfaceId",
    "CheckAssociate",
    "Tags",
    "HaVipAssociationSet",
    "ClientToken",
    "HaVipId",
    "AddressIp",
    "AddressIds",
    "AddressId",
    "InstanceId",
    "PrivateIpAddress",
    "EipDirectConnection",
    "InstanceRegion",
    "ReallocateNormalPublicIp",
    "NetworkInterfaceIds",
    "SourceNetworkInterfaceId",
    "DestinationNetworkInterfaceId",
    "TaskId",
    "DealName",
    "Bogus",
];

fn values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(-1),
        json!(0),
        json!(1e300),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1.5),
        json!(""),
        json!("x"),
        json!("havip-iam00099"),
        json!("eip-idle0001"),
        json!("eip-iam00139"),
        json!("10.0.4.99"),
        json!("106.52.252.140"),
        json!("ins-iam00021"),
        json!("eni-iam00021"),
        json!("eni-iam00020"),
        json!("10.0.4.98"),
        json!("vpc-iam00001"),
        json!("subnet-iam00004"),
        json!(50121411u64),
        json!([]),
        json!([1]),
        json!(["havip-iam00099", "havip-iam00099"]),
        json!(["eip-idle0001"]),
        json!([{}]),
        json!([{"Name": "vip", "Values": ["10.0.4.99"]}]),
        json!([{"Name": "vip", "Values": [null]}]),
        json!([{"HaVipId": "havip-iam00099", "InstanceId": "eni-iam00020"}]),
        json!([{"HaVipId": "havip-iam00099", "InstanceId": "ins-iam00021", "InstanceType": "X"}]),
        json!([{"Key": "k", "Value": "v"}]),
        json!({"a": {"b": [1, {"c": null}]}}),
        json!("字".repeat(3000)),
    ]
}

#[tokio::test]
async fn random_parameters_never_break_the_envelope() {
    let sim = SimHandle::start_with(SimOptions {
        rate_limit: Some(0),
        task_duration: Some(Duration::from_millis(20)),
        ..SimOptions::default()
    });
    let c = Client::new(&sim);
    let pool = values();
    let mut rng = StdRng::seed_from_u64(0x7c51);
    let mut errors = 0;
    let mut successes = 0;
    for action in tcsim::actions::ACTIONS {
        for _ in 0..120 {
            let mut params = Map::new();
            for _ in 0..rng.gen_range(0..4) {
                let name = NAMES[rng.gen_range(0..NAMES.len())];
                params.insert(name.into(), pool[rng.gen_range(0..pool.len())].clone());
            }
            let r = c.call(action, Value::Object(params)).await;
            if r.get("Error").is_some() {
                assert!(r["Error"]["Code"].is_string() && r["Error"]["Message"].is_string());
                errors += 1;
            } else {
                successes += 1;
            }
        }
    }
    assert!(
        errors > 0 && successes > 0,
        "{errors} errors, {successes} successes"
    );
    // Random query strings through GET.
    let alphabet = b"aZ09.=&%+-_HaVipIds.0Filters.1.Values.";
    for _ in 0..300 {
        let len = rng.gen_range(0..60);
        let q: String = (0..len)
            .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
            .collect();
        let v = c.get("DescribeHaVips", &q).await;
        assert!(v["Response"]["RequestId"].is_string(), "{q}: {v}");
    }
    c.ok("DescribeHaVips", json!({})).await;
}
