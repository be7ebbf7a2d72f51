//! The VPC actions against a real tcsim on loopback: seed contents, filters, pagination,
//! validation codes, async tasks and their intermediate states.

mod common;

use std::time::Duration;

use common::{start_seed, Client};
use serde_json::json;
use tcsim::testing::SimHandle;
use tcsim::SimOptions;

#[tokio::test]
async fn seed_havip_and_addresses_render_like_the_examples() {
    let sim = start_seed();
    let c = Client::new(&sim);
    let r = c.ok("DescribeHaVips", json!({})).await;
    assert_eq!(r["TotalCount"], 1);
    let h = &r["HaVipSet"][0];
    assert_eq!(h["HaVipId"], "havip-iam00099");
    assert_eq!(h["Vip"], "10.0.4.99");
    assert_eq!(h["VpcId"], "vpc-iam00001");
    assert_eq!(h["SubnetId"], "subnet-iam00004");
    assert_eq!(h["InstanceId"], "ins-iam00020");
    assert_eq!(h["NetworkInterfaceId"], "eni-iam00020");
    assert_eq!(h["AddressIp"], "106.52.252.139");
    assert_eq!(h["State"], "AVAILABLE");
    assert_eq!(h["CheckAssociate"], true);
    assert_eq!(h["FlushedTime"], "0000-00-00 00:00:00");
    assert_eq!(h["HaVipAssociationSet"].as_array().unwrap().len(), 2);
    assert_eq!(h["HaVipAssociationSet"][0]["InstanceType"], "CVM");
    assert_eq!(h["CreatedTime"], "2024-06-01 10:00:00", "Beijing time");

    let r = c.ok("DescribeAddresses", json!({})).await;
    assert_eq!(r["TotalCount"], 2);
    let bound = c.address("eip-iam00139").await;
    assert_eq!(bound["AddressStatus"], "BIND");
    assert_eq!(bound["InstanceType"], "HAVIP");
    assert_eq!(bound["InstanceId"], "havip-iam00099");
    assert_eq!(bound["CreatedTime"], "2024-06-01T02:00:00Z");
    let idle = c.address("eip-idle0001").await;
    assert_eq!(idle["AddressStatus"], "UNBIND");
    assert_eq!(idle["InstanceId"], "");
    assert_eq!(idle["InstanceType"], serde_json::Value::Null);
    assert_eq!(idle["InternetChargeType"], "TRAFFIC_POSTPAID_BY_HOUR");
    assert_eq!(idle["AddressIp"], "106.52.252.140");
}

#[tokio::test]
async fn network_interfaces_and_filters() {
    let sim = start_seed();
    let c = Client::new(&sim);
    let r = c
        .ok(
            "DescribeNetworkInterfaces",
            json!({"Filters": [{"Name": "attachment.instance-id", "Values": ["ins-iam00021"]}]}),
        )
        .await;
    assert_eq!(r["TotalCount"], 1);
    let e = &r["NetworkInterfaceSet"][0];
    assert_eq!(e["NetworkInterfaceId"], "eni-iam00021");
    assert_eq!(e["MacAddress"], "52:54:00:00:04:21");
    assert_eq!(e["Attachment"]["InstanceId"], "ins-iam00021");
    assert_eq!(e["PrivateIpAddressSet"][0]["PrivateIpAddress"], "10.0.4.21");
    assert_eq!(e["PrivateIpAddressSet"][0]["Primary"], true);

    let r = c
        .ok(
            "DescribeNetworkInterfaces",
            json!({"NetworkInterfaceIds": ["eni-iam00020"]}),
        )
        .await;
    let ips = r["NetworkInterfaceSet"][0]["PrivateIpAddressSet"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(ips.len(), 2, "secondary IP for the private-IP strategy");
    assert_eq!(ips[1]["PrivateIpAddress"], "10.0.4.98");
    assert_eq!(ips[1]["Primary"], false);

    // AND across filters, OR within values.
    let cases = [
        (
            "DescribeNetworkInterfaces",
            json!([{"Name": "network-interface-id", "Values": ["eni-iam00020", "eni-iam00021"]}]),
            2,
        ),
        (
            "DescribeNetworkInterfaces",
            json!([
                {"Name": "network-interface-id", "Values": ["eni-iam00020", "eni-iam00021"]},
                {"Name": "address-ip", "Values": ["10.0.4.98"]}]),
            1,
        ),
        (
            "DescribeHaVips",
            json!([{"Name": "check-associate", "Values": ["TRUE"]}]),
            1,
        ),
        (
            "DescribeHaVips",
            json!([{"Name": "havip-association.instance-id", "Values": ["ins-nothere1"]}]),
            0,
        ),
        (
            "DescribeAddresses",
            json!([{"Name": "address-status", "Values": ["UNBIND"]}]),
            1,
        ),
        (
            "DescribeAddresses",
            json!([{"Name": "instance-type", "Values": ["HAVIP"]}]),
            1,
        ),
    ];
    for (action, filters, expected) in cases {
        let r = c.ok(action, json!({"Filters": filters.clone()})).await;
        assert_eq!(r["TotalCount"], expected, "{action} {filters}");
    }
}

#[tokio::test]
async fn pagination_over_a_generated_scenario() {
    let sim = SimHandle::start_with(SimOptions {
        rate_limit: Some(0),
        ..SimOptions::new("large:300:600")
    });
    let c = Client::new(&sim);
    // large:300 puts 100 HAVIPs in each of three regions, plus seed's one in Guangzhou.
    let first = c.ok("DescribeHaVips", json!({})).await;
    assert_eq!(first["TotalCount"], 101);
    assert_eq!(
        first["HaVipSet"].as_array().unwrap().len(),
        20,
        "default Limit"
    );
    let mut seen = std::collections::HashSet::new();
    let mut offset = 0;
    loop {
        let r = c
            .ok("DescribeHaVips", json!({"Offset": offset, "Limit": 30}))
            .await;
        assert_eq!(r["TotalCount"], 101);
        let set = r["HaVipSet"].as_array().unwrap();
        if set.is_empty() {
            break;
        }
        assert!(set.len() <= 30);
        for h in set {
            assert!(seen.insert(h["HaVipId"].as_str().unwrap().to_string()));
        }
        offset += 30;
    }
    assert_eq!(seen.len(), 101);
    let r = c.ok("DescribeHaVips", json!({"Offset": 1000})).await;
    assert_eq!(r["HaVipSet"].as_array().unwrap().len(), 0);
    assert_eq!(r["TotalCount"], 101);
    let r = c.ok("DescribeHaVips", json!({"Limit": 100})).await;
    assert_eq!(r["HaVipSet"].as_array().unwrap().len(), 100);
    assert_eq!(
        c.err("DescribeHaVips", json!({"Limit": 101})).await,
        "InvalidParameterValue.LimitExceeded"
    );
    assert_eq!(
        c.err("DescribeAddresses", json!({"Limit": 500})).await,
        "InvalidParameterValue.LimitExceeded"
    );

    // Regions scope resources.
    let mut sh = c.clone();
    sh.region = "ap-shanghai".into();
    let r = sh.ok("DescribeHaVips", json!({"Limit": 1})).await;
    assert_eq!(r["TotalCount"], 100);
    let r = sh
        .ok("DescribeHaVips", json!({"HaVipIds": ["havip-iam00099"]}))
        .await;
    assert_eq!(r["TotalCount"], 0, "seed's HAVIP is in Guangzhou");
    let r = sh.ok("DescribeAddresses", json!({"Limit": 100})).await;
    assert_eq!(r["TotalCount"], 200);
    let mut tokyo = c.clone();
    tokyo.region = "ap-tokyo".into();
    assert_eq!(tokyo.ok("DescribeHaVips", json!({})).await["TotalCount"], 0);
    let mut nowhere = c.clone();
    nowhere.region = "xx-nowhere-1".into();
    assert_eq!(
        nowhere.err("DescribeHaVips", json!({})).await,
        "UnsupportedRegion"
    );
}

#[tokio::test]
async fn validation_codes() {
    let sim = start_seed();
    let c = Client::new(&sim);
    let cases = [
        (
            "DescribeHaVips",
            json!({"HaVipIds": ["havip-BAD"]}),
            "InvalidParameterValue.Malformed",
        ),
        (
            "DescribeHaVips",
            json!({"HaVipIds": ["havip-iam00099"], "Filters": [{"Name": "vip", "Values": ["10.0.4.99"]}]}),
            "InvalidParameter.Coexist",
        ),
        ("DescribeHaVips", json!({"Bogus": 1}), "UnknownParameter"),
        ("DescribeHaVips", json!({"Limit": "10"}), "InvalidParameter"),
        (
            "DescribeHaVips",
            json!({"HaVipIds": "havip-iam00099"}),
            "InvalidParameter",
        ),
        (
            "DescribeHaVips",
            json!({"Offset": -1}),
            "InvalidParameterValue.Range",
        ),
        (
            "DescribeHaVips",
            json!({"Filters": [{"Name": "nope", "Values": ["x"]}]}),
            "InvalidParameter.FilterInvalidKey",
        ),
        (
            "DescribeHaVips",
            json!({"Filters": [{"Name": "vip", "Values": ["1", "2", "3", "4", "5", "6"]}]}),
            "InvalidParameterValue.LimitExceeded",
        ),
        (
            "DescribeHaVips",
            json!({"Filters": ["vip"]}),
            "InvalidParameter.FilterNotDict",
        ),
        (
            "DescribeHaVips",
            json!({"Filters": [{"Name": "vip", "Values": "x"}]}),
            "InvalidParameter.FilterValuesNotList",
        ),
        (
            "DescribeAddresses",
            json!({"AddressIds": ["eip-1"]}),
            "InvalidParameterValue.AddressIdMalformed",
        ),
        (
            "DescribeAddresses",
            json!({"Filters": [{"Name": "bogus", "Values": ["x"]}]}),
            "InvalidParameter.InvalidFilter",
        ),
        (
            "DescribeNetworkInterfaces",
            json!({"NetworkInterfaceIds": ["eni-nothere1"]}),
            "ResourceNotFound",
        ),
        (
            "DescribeNetworkInterfaces",
            json!({"NetworkInterfaceIds": ["eni-iam00020"], "Filters": [{"Name": "vpc-id", "Values": ["vpc-iam00001"]}]}),
            "InvalidParameter.Coexist",
        ),
        (
            "HaVipAssociateAddressIp",
            json!({"HaVipId": "havip-iam00099"}),
            "MissingParameter",
        ),
        (
            "HaVipAssociateAddressIp",
            json!({"HaVipId": "havip-x", "AddressIp": "106.52.252.140"}),
            "InvalidParameterValue.Malformed",
        ),
        (
            "HaVipAssociateAddressIp",
            json!({"HaVipId": "havip-nothere1", "AddressIp": "106.52.252.140"}),
            "ResourceNotFound",
        ),
        (
            "HaVipAssociateAddressIp",
            json!({"HaVipId": "havip-iam00099", "AddressIp": "106.52.252.140"}),
            "UnsupportedOperation.BindEIP",
        ),
        (
            "HaVipAssociateAddressIp",
            json!({"HaVipId": "havip-iam00099", "AddressIp": "not-an-ip"}),
            "InvalidParameterValue.Malformed",
        ),
        (
            "HaVipDisassociateAddressIp",
            json!({"HaVipId": 5}),
            "InvalidParameter",
        ),
        (
            "AssociateAddress",
            json!({"AddressId": "eip-nothere1", "InstanceId": "ins-iam00021"}),
            "InvalidAddressId.NotFound",
        ),
        (
            "AssociateAddress",
            json!({"AddressId": "eip-iam00139", "InstanceId": "ins-iam00021"}),
            "InvalidAddressIdStatus.NotPermit",
        ),
        (
            "AssociateAddress",
            json!({"AddressId": "eip-idle0001"}),
            "InvalidParameterValue.MissingAssociateEntity",
        ),
        (
            "AssociateAddress",
            json!({"AddressId": "eip-idle0001", "InstanceId": "ins-iam00021", "NetworkInterfaceId": "eni-iam00021"}),
            "InvalidParameterConflict",
        ),
        (
            "AssociateAddress",
            json!({"AddressId": "eip-idle0001", "InstanceId": "ins-nothere1"}),
            "InvalidInstanceId.NotFound",
        ),
        (
            "AssociateAddress",
            json!({"AddressId": "eip-idle0001", "NetworkInterfaceId": "eni-iam00021"}),
            "MissingParameter",
        ),
        (
            "AssociateAddress",
            json!({"AddressId": "eip-idle0001", "NetworkInterfaceId": "eni-iam00021", "PrivateIpAddress": "10.0.4.98"}),
            "InvalidParameterValue.PrivateIpAddressNotMatch",
        ),
        (
            "DisassociateAddress",
            json!({"AddressId": "eip-idle0001"}),
            "InvalidAddressIdStatus.NotPermit",
        ),
        ("DisassociateAddress", json!({}), "MissingParameter"),
        ("DescribeTaskResult", json!({}), "MissingParameter"),
        (
            "DescribeTaskResult",
            json!({"TaskId": "123"}),
            "InvalidParameter",
        ),
        (
            "DescribeTaskResult",
            json!({"TaskId": 1}),
            "InvalidParameter",
        ),
        (
            "DescribeVpcTaskResult",
            json!({"TaskId": "no-such-task"}),
            "ResourceNotFound",
        ),
        (
            "MigratePrivateIpAddress",
            json!({"SourceNetworkInterfaceId": "eni-iam00020", "DestinationNetworkInterfaceId": "eni-iam00021", "PrivateIpAddress": "10.0.4.20"}),
            "UnsupportedOperation.PrimaryIp",
        ),
        ("AssociateHaVipInstance", json!({}), "MissingParameter"),
        (
            "AssociateHaVipInstance",
            json!({"HaVipAssociationSet": [{"HaVipId": "havip-iam00099", "InstanceId": "ins-bad"}]}),
            "InvalidParameterValue.Malformed",
        ),
        (
            "AssociateHaVipInstance",
            json!({"HaVipAssociationSet": [{"HaVipId": "havip-iam00099", "InstanceId": "ins-iam00021", "InstanceType": "ENI"}]}),
            "InvalidParameterValue.ParameterMismatch",
        ),
        (
            "AssociateHaVipInstance",
            json!({"HaVipAssociationSet": [{"HaVipId": "havip-iam00099", "InstanceId": "ins-nothere1"}]}),
            "ResourceNotFound",
        ),
        (
            "DisassociateHaVipInstance",
            json!({"HaVipAssociationSet": [{"HaVipId": "havip-iam00099", "InstanceId": "eni-iam00021"}]}),
            "ResourceNotFound",
        ),
        (
            "CreateHaVip",
            json!({"VpcId": "vpc-iam00001", "HaVipName": "x", "SubnetId": "subnet-iam00004", "Vip": "10.0.4.20"}),
            "ResourceInUse",
        ),
        (
            "CreateHaVip",
            json!({"VpcId": "vpc-iam00001", "HaVipName": "x", "SubnetId": "subnet-iam00004", "Vip": "10.0.5.20"}),
            "InvalidParameterValue.Range",
        ),
        (
            "CreateHaVip",
            json!({"VpcId": "vpc-iam00001", "SubnetId": "subnet-iam00004"}),
            "MissingParameter",
        ),
    ];
    for (action, params, code) in cases {
        assert_eq!(
            c.err(action, params.clone()).await,
            code,
            "{action} {params}"
        );
    }
}

#[tokio::test]
async fn drift_range_associations() {
    let sim = start_seed();
    let c = Client::new(&sim);
    let assoc = json!({"HaVipAssociationSet": [{"HaVipId": "havip-iam00099", "InstanceId": "ins-iam00021", "InstanceType": "CVM"}]});
    assert_eq!(
        c.err("AssociateHaVipInstance", assoc.clone()).await,
        "InvalidParameterValue.DuplicatedHaVipAssociations"
    );
    c.ok("DisassociateHaVipInstance", assoc.clone()).await;
    let h = c.havip("havip-iam00099").await;
    assert_eq!(h["HaVipAssociationSet"].as_array().unwrap().len(), 1);
    assert_eq!(
        h["InstanceId"], "ins-iam00020",
        "removing a non-holder keeps the holder"
    );
    c.ok("AssociateHaVipInstance", assoc.clone()).await;
    assert_eq!(
        c.err("AssociateHaVipInstance", assoc).await,
        "InvalidParameterValue.DuplicatedHaVipAssociations"
    );
    // An ENI entry is its own association.
    c.ok(
        "AssociateHaVipInstance",
        json!({"HaVipAssociationSet": [{"HaVipId": "havip-iam00099", "InstanceId": "eni-iam00021"}]}),
    )
    .await;
    let h = c.havip("havip-iam00099").await;
    assert_eq!(h["HaVipAssociationSet"].as_array().unwrap().len(), 3);
    // Removing the holder from the range unbinds the HAVIP (a manual unbind refreshes FlushedTime).
    c.ok(
        "DisassociateHaVipInstance",
        json!({"HaVipAssociationSet": [{"HaVipId": "havip-iam00099", "InstanceId": "ins-iam00020"}]}),
    )
    .await;
    let h = c.havip("havip-iam00099").await;
    assert_eq!(h["InstanceId"], "");
    assert_eq!(h["State"], "UNBIND");
    assert_ne!(h["FlushedTime"], "0000-00-00 00:00:00");
}

#[tokio::test]
async fn havip_eip_unbind_runs_then_succeeds() {
    let sim = SimHandle::start_with(SimOptions {
        rate_limit: Some(0),
        task_duration: Some(Duration::from_secs(3)),
        ..SimOptions::default()
    });
    let c = Client::new(&sim);
    let r = c
        .ok(
            "HaVipDisassociateAddressIp",
            json!({"HaVipId": "havip-iam00099"}),
        )
        .await;
    let task = r["RequestId"].as_str().unwrap().to_string();
    let status = c.ok("DescribeVpcTaskResult", json!({"TaskId": task})).await;
    assert_eq!(status["Status"], "RUNNING");
    assert_eq!(
        c.address("eip-iam00139").await["AddressStatus"],
        "UNBINDING"
    );
    // A second operation on the same HAVIP is refused while the task runs.
    assert_eq!(
        c.err(
            "HaVipDisassociateAddressIp",
            json!({"HaVipId": "havip-iam00099"})
        )
        .await,
        "UnsupportedOperation.MutexOperationTaskRunning"
    );
    assert_eq!(
        c.err("DisassociateAddress", json!({"AddressId": "eip-iam00139"}))
            .await,
        "OperationDenied.MutexTaskRunning"
    );
    assert_eq!(c.wait_vpc_task(&task).await, "SUCCESS");
    let eip = c.address("eip-iam00139").await;
    assert_eq!(eip["AddressStatus"], "UNBIND");
    assert_eq!(eip["InstanceType"], serde_json::Value::Null);
    assert_eq!(c.havip("havip-iam00099").await["AddressIp"], "");
    assert_eq!(
        c.err(
            "HaVipDisassociateAddressIp",
            json!({"HaVipId": "havip-iam00099"})
        )
        .await,
        "UnsupportedOperation.UnbindEIP"
    );

    // And back: bind the idle EIP to the HAVIP.
    let r = c
        .ok(
            "HaVipAssociateAddressIp",
            json!({"HaVipId": "havip-iam00099", "AddressIp": "106.52.252.140"}),
        )
        .await;
    assert_eq!(c.address("eip-idle0001").await["AddressStatus"], "BINDING");
    assert_eq!(
        c.havip("havip-iam00099").await["AddressIp"],
        "",
        "not bound until done"
    );
    assert_eq!(
        c.wait_vpc_task(r["RequestId"].as_str().unwrap()).await,
        "SUCCESS"
    );
    assert_eq!(
        c.havip("havip-iam00099").await["AddressIp"],
        "106.52.252.140"
    );
    let eip = c.address("eip-idle0001").await;
    assert_eq!(eip["AddressStatus"], "BIND");
    assert_eq!(eip["InstanceId"], "havip-iam00099");
}

#[tokio::test]
async fn associate_address_string_task_id_and_integer_task_result() {
    let sim = SimHandle::start_with(SimOptions {
        rate_limit: Some(0),
        task_duration: Some(Duration::from_secs(3)),
        ..SimOptions::default()
    });
    let c = Client::new(&sim);
    let r = c
        .ok(
            "AssociateAddress",
            json!({"AddressId": "eip-idle0001", "InstanceId": "ins-iam00021"}),
        )
        .await;
    let task_str = r["TaskId"].as_str().expect("TaskId is a JSON string");
    let task: u64 = task_str.parse().expect("numeric");
    let t = c.ok("DescribeTaskResult", json!({"TaskId": task})).await;
    assert_eq!(t["TaskId"], task, "an integer in DescribeTaskResult");
    assert_eq!(t["Result"], "RUNNING");
    assert_eq!(c.address("eip-idle0001").await["AddressStatus"], "BINDING");
    assert_eq!(
        c.err(
            "AssociateAddress",
            json!({"AddressId": "eip-idle0001", "InstanceId": "ins-iam00020"})
        )
        .await,
        "OperationDenied.MutexTaskRunning"
    );
    assert_eq!(c.wait_task(task).await, "SUCCESS");
    let eip = c.address("eip-idle0001").await;
    assert_eq!(eip["AddressStatus"], "BIND");
    assert_eq!(eip["InstanceType"], "CVM");
    assert_eq!(eip["InstanceId"], "ins-iam00021");
    assert_eq!(eip["NetworkInterfaceId"], "eni-iam00021");
    assert_eq!(eip["PrivateAddressIp"], "10.0.4.21");
    let eni = c
        .ok(
            "DescribeNetworkInterfaces",
            json!({"NetworkInterfaceIds": ["eni-iam00021"]}),
        )
        .await;
    assert_eq!(
        eni["NetworkInterfaceSet"][0]["PrivateIpAddressSet"][0]["PublicIpAddress"],
        "106.52.252.140"
    );
    assert_eq!(
        c.err(
            "AssociateAddress",
            json!({"AddressId": "eip-idle0001", "InstanceId": "ins-iam00020"})
        )
        .await,
        "InvalidAddressIdStatus.NotPermit"
    );

    let r = c
        .ok("DisassociateAddress", json!({"AddressId": "eip-idle0001"}))
        .await;
    let task: u64 = r["TaskId"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        c.address("eip-idle0001").await["AddressStatus"],
        "UNBINDING"
    );
    assert_eq!(c.wait_task(task).await, "SUCCESS");
    assert_eq!(c.address("eip-idle0001").await["AddressStatus"], "UNBIND");
    // The integer TaskId also works as a GET query parameter.
    let v = c.get("DescribeTaskResult", &format!("TaskId={task}")).await;
    assert_eq!(v["Response"]["Result"], "SUCCESS");
}

#[tokio::test]
async fn migrate_private_ip_moves_the_secondary_ip() {
    let sim = SimHandle::start_with(SimOptions {
        rate_limit: Some(0),
        task_duration: Some(Duration::from_millis(200)),
        ..SimOptions::default()
    });
    let c = Client::new(&sim);
    let r = c
        .ok(
            "MigratePrivateIpAddress",
            json!({"SourceNetworkInterfaceId": "eni-iam00020", "DestinationNetworkInterfaceId": "eni-iam00021", "PrivateIpAddress": "10.0.4.98"}),
        )
        .await;
    assert_eq!(
        c.wait_vpc_task(r["RequestId"].as_str().unwrap()).await,
        "SUCCESS"
    );
    let r = c
        .ok(
            "DescribeNetworkInterfaces",
            json!({"Filters": [{"Name": "address-ip", "Values": ["10.0.4.98"]}]}),
        )
        .await;
    assert_eq!(r["TotalCount"], 1);
    assert_eq!(
        r["NetworkInterfaceSet"][0]["NetworkInterfaceId"],
        "eni-iam00021"
    );
}

#[tokio::test]
async fn create_havip_then_describe_and_get_queries() {
    let sim = start_seed();
    let c = Client::new(&sim);
    let r = c
        .ok(
            "CreateHaVip",
            json!({"VpcId": "vpc-iam00001", "SubnetId": "subnet-iam00004", "HaVipName": "second", "ClientToken": "t-1"}),
        )
        .await;
    let h = &r["HaVip"];
    let id = h["HaVipId"].as_str().unwrap().to_string();
    assert!(id.starts_with("havip-") && id.len() == 14);
    assert_eq!(h["State"], "UNBIND");
    assert_eq!(h["Vip"], "10.0.4.2", "the first free address");
    assert_eq!(h["InstanceId"], "");
    // Idempotent with the same ClientToken.
    let again = c
        .ok(
            "CreateHaVip",
            json!({"VpcId": "vpc-iam00001", "SubnetId": "subnet-iam00004", "HaVipName": "second", "ClientToken": "t-1"}),
        )
        .await;
    assert_eq!(again["HaVip"]["HaVipId"], id.as_str());

    // GET with a flattened query.
    let v = c
        .get(
            "DescribeHaVips",
            &format!("HaVipIds.0={id}&HaVipIds.1=havip-iam00099&Limit=10"),
        )
        .await;
    assert_eq!(v["Response"]["TotalCount"], 2);
    let v = c
        .get(
            "DescribeHaVips",
            "Filters.0.Name=havip-name&Filters.0.Values.0=second&Filters.1.Name=vpc-id&Filters.1.Values.0=vpc-iam00001",
        )
        .await;
    assert_eq!(v["Response"]["TotalCount"], 1);
    assert_eq!(v["Response"]["HaVipSet"][0]["HaVipId"], id.as_str());
    let v = c.get("DescribeHaVips", "Limit=abc").await;
    assert_eq!(v["Response"]["Error"]["Code"], "InvalidParameter");

    c.ok(
        "ModifyHaVipAttribute",
        json!({"HaVipId": id, "HaVipName": "renamed"}),
    )
    .await;
    assert_eq!(c.havip(&id).await["HaVipName"], "renamed");
    let r = c.ok("DeleteHaVip", json!({"HaVipId": id})).await;
    assert_eq!(
        c.wait_vpc_task(r["RequestId"].as_str().unwrap()).await,
        "SUCCESS"
    );
    assert_eq!(
        c.ok("DescribeHaVips", json!({"HaVipIds": [id]})).await["TotalCount"],
        0
    );
}
