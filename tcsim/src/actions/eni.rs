//! ENI actions: DescribeNetworkInterfaces and MigratePrivateIpAddress (async, polled with
//! DescribeVpcTaskResult; the private-IP failover strategy).

use std::net::Ipv4Addr;

use serde_json::{json, Map, Value};

use super::{
    check_filters, check_id_list, matches, mutex_free, no_coexist, obj, page, well_formed, Ctx,
    FilterRules, MUTEX_TASK_RUNNING,
};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::{Eni, TaskOp, World};

pub fn render(w: &World, e: &Eni) -> Value {
    let s = &w.settings;
    let ips: Vec<Value> = e
        .private_ips
        .iter()
        .map(|p| {
            let eip = w.ip_address(&e.id, &p.ip);
            json!({
                "PrivateIpAddress": p.ip,
                "Primary": p.primary,
                "PublicIpAddress": eip.map(|a| a.ip.clone()).unwrap_or_default(),
                "AddressId": eip.map(|a| a.id.clone()).unwrap_or_default(),
                "Description": "",
                "IsWanIpBlocked": false,
                "State": p.state,
                "QosLevel": "DEFAULT",
            })
        })
        .collect();
    let attachment = match &e.instance_id {
        Some(iid) => json!({
            "DeviceIndex": e.device_index,
            "InstanceAccountId": "",
            "AttachTime": s.local_time(e.created),
            "InstanceId": iid,
        }),
        None => Value::Null,
    };
    json!({
        "NetworkInterfaceId": e.id,
        "NetworkInterfaceName": e.name,
        "NetworkInterfaceDescription": e.description,
        "SubnetId": e.subnet_id,
        "VpcId": e.vpc_id,
        "GroupSet": [],
        "Primary": e.primary,
        "MacAddress": e.mac,
        "State": "AVAILABLE",
        "NetworkInterfaceState": if e.instance_id.is_some() { "INUSE" } else { "AVAILABLE" },
        "PrivateIpAddressSet": ips,
        "Attachment": attachment,
        "Zone": e.zone,
        "CreatedTime": s.local_time(e.created),
        "Ipv6AddressSet": [],
        "TagSet": [],
        "EniType": if e.primary { 1 } else { 0 },
        "Business": "cvm",
        "CdcId": "",
        "AttachType": 0,
        "ResourceId": "",
        "QosLevel": "DEFAULT",
    })
}

const FILTERS: FilterRules<'static> = FilterRules {
    known: &[
        "vpc-id",
        "subnet-id",
        "network-interface-id",
        "attachment.instance-id",
        "groups.security-group-id",
        "network-interface-name",
        "network-interface-description",
        "address-ip",
        "ip-exact-match",
        "tag-key",
        "is-primary",
        "eni-type",
        "eni-qos",
        "address-ipv6",
        "public-address-ip",
        "address-type",
        "termination-protection",
        "traffic-protection",
    ],
    tag_prefix: true,
    max_filters: 10,
    max_values: 100,
    too_many_filters_code: "InvalidParameterValue.LimitExceeded",
    invalid_key_code: "InvalidParameter.FilterInvalidKey",
};

fn attr(w: &World, e: &Eni, name: &str) -> Vec<String> {
    match name {
        "vpc-id" => vec![e.vpc_id.clone()],
        "subnet-id" => vec![e.subnet_id.clone()],
        "network-interface-id" => vec![e.id.clone()],
        "attachment.instance-id" => e.instance_id.clone().into_iter().collect(),
        "network-interface-name" => vec![e.name.clone()],
        "network-interface-description" => vec![e.description.clone()],
        "address-ip" => e.private_ips.iter().map(|p| p.ip.clone()).collect(),
        "is-primary" => vec![super::bool_str(e.primary)],
        "eni-type" => vec![if e.primary { "1" } else { "0" }.into()],
        "eni-qos" => vec!["DEFAULT".into()],
        "public-address-ip" => e
            .private_ips
            .iter()
            .filter_map(|p| w.ip_address(&e.id, &p.ip).map(|a| a.ip.clone()))
            .collect(),
        "termination-protection" | "traffic-protection" => vec!["false".into()],
        _ => Vec::new(),
    }
}

pub fn describe(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&["NetworkInterfaceIds", "Filters", "Offset", "Limit"])?;
    let ids = p.str_list_opt("NetworkInterfaceIds")?;
    let filters = p.filters()?;
    no_coexist(&ids, &filters, "NetworkInterfaceIds")?;
    let ids = ids.unwrap_or_default();
    check_id_list(&ids, "NetworkInterfaceIds", |id| {
        well_formed("NetworkInterfaceIds", id, "eni")
    })?;
    // `ip-exact-match` only changes how `address-ip` matches; both are exact here.
    let filters: Vec<_> = filters.unwrap_or_default().into_iter().collect();
    check_filters(&filters, &FILTERS)?;
    let filters: Vec<_> = filters
        .into_iter()
        .filter(|f| f.name != "ip-exact-match")
        .collect();
    let page = page(p)?;
    let w = ctx.sim.world();
    if let Some(missing) = ids
        .iter()
        .find(|id| w.eni(id).is_none_or(|e| e.region != ctx.region))
    {
        return Err(ApiError::not_found("network interface", missing));
    }
    let found: Vec<&Eni> = w
        .enis
        .iter()
        .filter(|e| e.region == ctx.region)
        .filter(|e| ids.is_empty() || ids.contains(&e.id))
        .filter(|e| matches(&filters, |n| attr(&w, e, n)))
        .collect();
    let (total, set) = page.render(found, |e| render(&w, e));
    Ok(obj([
        ("NetworkInterfaceSet", set),
        ("TotalCount", json!(total)),
    ]))
}

pub fn migrate(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&[
        "SourceNetworkInterfaceId",
        "DestinationNetworkInterfaceId",
        "PrivateIpAddress",
    ])?;
    let src_id = p.str_req("SourceNetworkInterfaceId")?;
    let dst_id = p.str_req("DestinationNetworkInterfaceId")?;
    let ip = p.str_req("PrivateIpAddress")?;
    well_formed("SourceNetworkInterfaceId", &src_id, "eni")?;
    well_formed("DestinationNetworkInterfaceId", &dst_id, "eni")?;
    if ip.parse::<Ipv4Addr>().is_err() {
        return Err(ApiError::malformed("PrivateIpAddress", &ip));
    }
    let mut w = ctx.sim.world();
    let src = ctx.eni(&w, &src_id)?;
    let dst = ctx.eni(&w, &dst_id)?;
    let Some(pip) = src.private_ips.iter().find(|p| p.ip == ip) else {
        return Err(ApiError::new(
            "ResourceNotFound",
            format!("{ip} is not a private IP of {src_id}."),
        ));
    };
    if pip.primary {
        return Err(ApiError::new(
            "UnsupportedOperation.PrimaryIp",
            format!("{ip} is the primary IP of {src_id}; primary IPs cannot be migrated."),
        ));
    }
    if src_id == dst_id {
        return Err(ApiError::new(
            "UnsupportedOperation",
            "The source and destination ENIs are the same.",
        ));
    }
    if src.subnet_id != dst.subnet_id {
        return Err(ApiError::new(
            "UnsupportedOperation",
            format!("{src_id} and {dst_id} are in different subnets; migration needs one subnet."),
        ));
    }
    mutex_free(&w, &src_id, MUTEX_TASK_RUNNING)?;
    mutex_free(&w, &dst_id, MUTEX_TASK_RUNNING)?;
    let op = TaskOp::MigrateIp {
        source: src_id.clone(),
        destination: dst_id.clone(),
        ip,
    };
    ctx.start_task(&mut w, op, vec![src_id, dst_id]);
    Ok(Map::new())
}
