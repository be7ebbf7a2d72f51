//! EIP actions: DescribeAddresses, AssociateAddress, DisassociateAddress (async, integer TaskId
//! returned as a JSON string, polled with DescribeTaskResult).
//!
//! An EIP bound to a HAVIP renders `AddressStatus` BIND, `InstanceType` HAVIP and `InstanceId`
//! = the HAVIP's ID, with `PrivateAddressIp` = the Vip (the real value of InstanceId there is
//! unverified; API.md §7).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use serde_json::{json, Map, Value};

use super::{check_filters, check_id_list, matches, mutex_free, obj, page, Ctx, FilterRules};
use crate::error::{ApiError, ApiResult};
use crate::ids::valid_id;
use crate::params::Params;
use crate::state::{Address, Binding, TaskOp, World};

/// The mutex code of the EIP actions.
const MUTEX_TASK_RUNNING: &str = "OperationDenied.MutexTaskRunning";

/// (InstanceId, InstanceType, NetworkInterfaceId, PrivateAddressIp) of an EIP.
fn binding_fields(
    vips: &HashMap<&str, &str>,
    a: &Address,
) -> (String, Option<&'static str>, String, String) {
    match &a.binding {
        None => (String::new(), None, String::new(), String::new()),
        Some(Binding::Havip { havip_id }) => (
            havip_id.clone(),
            Some("HAVIP"),
            String::new(),
            vips.get(havip_id.as_str())
                .map(|v| v.to_string())
                .unwrap_or_default(),
        ),
        Some(Binding::Eni {
            eni_id,
            private_ip,
            instance_id,
        }) => (
            instance_id.clone().unwrap_or_default(),
            Some(if instance_id.is_some() { "CVM" } else { "ENI" }),
            eni_id.clone(),
            private_ip.clone(),
        ),
    }
}

/// HAVIP ID → Vip, built once per request (a HAVIP-bound EIP shows the Vip as its private IP).
fn vips(w: &World) -> HashMap<&str, &str> {
    w.havips
        .iter()
        .map(|h| (h.id.as_str(), h.vip.as_str()))
        .collect()
}

pub fn render(vips: &HashMap<&str, &str>, a: &Address) -> Value {
    let (instance_id, instance_type, eni_id, private_ip) = binding_fields(vips, a);
    json!({
        "AddressId": a.id,
        "AddressName": a.name,
        "AddressStatus": a.status,
        "AddressIp": a.ip,
        "InstanceId": instance_id,
        "CreatedTime": a.created.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "NetworkInterfaceId": eni_id,
        "PrivateAddressIp": private_ip,
        "IsArrears": a.arrears,
        "IsBlocked": a.blocked,
        "IsEipDirectConnection": false,
        "AddressType": "EIP",
        "CascadeRelease": false,
        "EipAlgType": {"Ftp": true, "Sip": true},
        "InternetServiceProvider": a.isp,
        "LocalBgp": false,
        "Bandwidth": a.bandwidth,
        "InternetChargeType": a.charge_type,
        "TagSet": [],
        "DeadlineDate": null,
        "InstanceType": instance_type,
        "Egress": "center_egress1",
        "AntiDDoSPackageId": "",
        "RenewFlag": "",
        "BandwidthPackageId": null,
        "UnVpcId": "",
        "DedicatedClusterId": "",
        "EipVisibleOnEni": false,
    })
}

const FILTERS: FilterRules<'static> = FilterRules {
    known: &[
        "address-id",
        "address-name",
        "address-ip",
        "address-status",
        "instance-id",
        "private-ip-address",
        "network-interface-id",
        "is-arrears",
        "instance-type",
        "address-type",
        "address-isp",
        "dedicated-cluster-id",
        "tag-key",
        "tag-value",
    ],
    tag_prefix: true,
    max_filters: 10,
    max_values: 100,
    too_many_filters_code: "LimitExceeded.NumberOfFilters",
    invalid_key_code: "InvalidParameter.InvalidFilter",
};

fn attr(vips: &HashMap<&str, &str>, a: &Address, name: &str) -> Vec<String> {
    let (instance_id, instance_type, eni_id, private_ip) = binding_fields(vips, a);
    let some = |s: String| if s.is_empty() { vec![] } else { vec![s] };
    match name {
        "address-id" => vec![a.id.clone()],
        "address-name" => vec![a.name.clone()],
        "address-ip" => vec![a.ip.clone()],
        "address-status" => vec![a.status.clone()],
        "instance-id" => some(instance_id),
        "private-ip-address" => some(private_ip),
        "network-interface-id" => some(eni_id),
        "is-arrears" => vec![super::bool_str(a.arrears)],
        "instance-type" => instance_type.map(str::to_string).into_iter().collect(),
        "address-type" => vec!["EIP".into()],
        "address-isp" => vec![a.isp.clone()],
        _ => Vec::new(),
    }
}

fn check_address_id(param: &str, id: &str) -> ApiResult<()> {
    if valid_id(id, "eip") {
        Ok(())
    } else {
        Err(ApiError::new(
            "InvalidParameterValue.AddressIdMalformed",
            format!(
                "The value `{id}` of parameter `{param}` is not a valid EIP ID (eip-xxxxxxxx)."
            ),
        ))
    }
}

pub fn describe(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&["AddressIds", "Filters", "Offset", "Limit"])?;
    let ids = p.str_list_opt("AddressIds")?.unwrap_or_default();
    let filters = p.filters()?.unwrap_or_default();
    if !ids.is_empty() && filters.iter().any(|f| f.name == "address-id") {
        return Err(ApiError::new(
            "InvalidParameter.Coexist",
            "The parameters `AddressIds` and `Filters.address-id` cannot be specified at the same time.",
        ));
    }
    check_id_list(&ids, "AddressIds", |id| check_address_id("AddressIds", id))?;
    check_filters(&filters, &FILTERS)?;
    // Without an address-type filter the API leaves out WanIP; every simulated address is an
    // EIP, so that default changes nothing here.
    let page = page(p)?;
    let w = ctx.sim.world();
    let vips = vips(&w);
    let found: Vec<&Address> = w
        .addresses
        .iter()
        .filter(|a| a.region == ctx.region)
        .filter(|a| ids.is_empty() || ids.contains(&a.id))
        .filter(|a| matches(&filters, |n| attr(&vips, a, n)))
        .collect();
    let (total, set) = page.render(found, |a| render(&vips, a));
    Ok(obj([("TotalCount", json!(total)), ("AddressSet", set)]))
}

fn find_address<'w>(ctx: &Ctx<'_>, w: &'w World, id: &str) -> ApiResult<&'w Address> {
    check_address_id("AddressId", id)?;
    w.address(id)
        .filter(|a| a.region == ctx.region)
        .ok_or_else(|| {
            ApiError::new(
                "InvalidAddressId.NotFound",
                format!("The EIP `{id}` does not exist."),
            )
        })
}

/// AssociateAddress's parameters, checked before the world is locked.
struct AssociateRequest {
    address_id: String,
    instance_id: Option<String>,
    eni_id: Option<String>,
    private_ip: Option<String>,
}

fn parse_associate(ctx: &Ctx<'_>, p: &Params) -> ApiResult<AssociateRequest> {
    p.check_known(&[
        "AddressId",
        "InstanceId",
        "NetworkInterfaceId",
        "PrivateIpAddress",
        "EipDirectConnection",
        "InstanceRegion",
    ])?;
    let address_id = p.str_req("AddressId")?;
    let instance_id = p.str_opt("InstanceId")?;
    let eni_id = p.str_opt("NetworkInterfaceId")?;
    let private_ip = p.str_opt("PrivateIpAddress")?;
    let direct = p.bool_opt("EipDirectConnection")?.unwrap_or(false);
    let instance_region = p.str_opt("InstanceRegion")?;
    check_address_id("AddressId", &address_id)?;
    if instance_id.is_some() && eni_id.is_some() {
        return Err(ApiError::new(
            "InvalidParameterConflict",
            "`InstanceId` and `NetworkInterfaceId` cannot be specified together.",
        ));
    }
    if direct {
        return Err(ApiError::new(
            "InvalidParameterValue.InstanceDoesNotSupportEipVisibleOnEni",
            "EIP direct connection is not supported by the simulated instances.",
        ));
    }
    if instance_region.as_ref().is_some_and(|r| r != ctx.region) {
        return Err(ApiError::new(
            "InvalidParameterValue.Combination",
            "`InstanceRegion` is only for GAAP scenarios and must equal the request region.",
        ));
    }
    if let Some(ip) = &private_ip {
        if ip.parse::<Ipv4Addr>().is_err() {
            return Err(ApiError::new(
                "InvalidParameterValue.Malformed",
                format!("`PrivateIpAddress` {ip} is not an IPv4 address."),
            ));
        }
    }
    Ok(AssociateRequest {
        address_id,
        instance_id,
        eni_id,
        private_ip,
    })
}

pub fn associate(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    let req = parse_associate(ctx, p)?;
    let mut w = ctx.sim.world();
    let address = find_address(ctx, &w, &req.address_id)?.clone();
    let binding = match (&req.instance_id, &req.eni_id) {
        (Some(iid), None) => cvm_binding(ctx, &w, iid, req.private_ip.is_some())?,
        (None, Some(eid)) => eni_binding(ctx, &w, eid, req.private_ip.clone())?,
        _ => {
            return Err(ApiError::new(
                "InvalidParameterValue.MissingAssociateEntity",
                "Specify `InstanceId` or `NetworkInterfaceId`.",
            ))
        }
    };
    mutex_free(&w, &address.id, MUTEX_TASK_RUNNING)?;
    // "An EIP in arrears or blocked cannot be bound" (API.md §2.2).
    if address.arrears {
        return Err(ApiError::new(
            "OperationDenied.AddressInArrears",
            format!("The EIP `{}` is isolated for arrears.", address.id),
        ));
    }
    if address.blocked {
        return Err(ApiError::new(
            "InvalidAddressId.Blocked",
            format!("The EIP `{}` is blocked.", address.id),
        ));
    }
    if address.status != "UNBIND" {
        return Err(ApiError::new(
            "InvalidAddressIdStatus.NotPermit",
            format!(
                "EIP {} is {}; only UNBIND EIPs can be bound.",
                address.id, address.status
            ),
        ));
    }
    let eni_resource = match &binding {
        Binding::Eni { eni_id, .. } => eni_id.clone(),
        Binding::Havip { havip_id } => havip_id.clone(),
    };
    let op = TaskOp::BindAddress {
        address_id: address.id.clone(),
        binding,
    };
    let task_id = ctx.start_task(&mut w, op, vec![address.id.clone(), eni_resource]);
    Ok(obj([("TaskId", json!(task_id.to_string()))]))
}

/// `InstanceId`: the primary IP of the instance's primary ENI, which must have no EIP yet.
fn cvm_binding(ctx: &Ctx<'_>, w: &World, iid: &str, with_ip: bool) -> ApiResult<Binding> {
    if !valid_id(iid, "ins") {
        return Err(ApiError::new(
            "InvalidParameterValue.InstanceIdMalformed",
            format!("`InstanceId` {iid} is malformed."),
        ));
    }
    if ctx.instance(w, iid).is_err() {
        return Err(ApiError::new(
            "InvalidInstanceId.NotFound",
            format!("The instance `{iid}` does not exist."),
        ));
    }
    if with_ip {
        return Err(ApiError::new(
            "InvalidParameterValue.Combination",
            "`PrivateIpAddress` needs `NetworkInterfaceId`.",
        ));
    }
    let eni = w.instance_enis(iid).first().copied().ok_or_else(|| {
        ApiError::new(
            "FailedOperation.MasterEniNotFound",
            format!("Instance {iid} has no primary ENI."),
        )
    })?;
    let ip = eni
        .private_ips
        .first()
        .map(|p| p.ip.clone())
        .unwrap_or_default();
    if w.ip_address(&eni.id, &ip).is_some() {
        return Err(ApiError::new(
            "InvalidInstanceId.AlreadyBindEip",
            format!("Instance {iid} already has an EIP."),
        ));
    }
    Ok(Binding::Eni {
        eni_id: eni.id.clone(),
        private_ip: ip,
        instance_id: Some(iid.to_string()),
    })
}

/// `NetworkInterfaceId` + `PrivateIpAddress`: an IP of that ENI that has no EIP yet.
fn eni_binding(ctx: &Ctx<'_>, w: &World, eid: &str, ip: Option<String>) -> ApiResult<Binding> {
    if !valid_id(eid, "eni") {
        return Err(ApiError::new(
            "InvalidParameterValue.Malformed",
            format!("`NetworkInterfaceId` {eid} is malformed."),
        ));
    }
    let Some(ip) = ip else {
        return Err(ApiError::missing("PrivateIpAddress"));
    };
    let eni = ctx.eni(w, eid).map_err(|_| {
        ApiError::new(
            "InvalidNetworkInterfaceId.NotFound",
            format!("The network interface `{eid}` does not exist."),
        )
    })?;
    if !eni.private_ips.iter().any(|p| p.ip == ip) {
        return Err(ApiError::new(
            "InvalidParameterValue.PrivateIpAddressNotMatch",
            format!("{ip} is not a private IP of {eid}."),
        ));
    }
    if w.ip_address(eid, &ip).is_some() {
        return Err(ApiError::new(
            "InvalidPrivateIpAddress.AlreadyBindEip",
            format!("{ip} on {eid} already has an EIP."),
        ));
    }
    Ok(Binding::Eni {
        eni_id: eid.to_string(),
        private_ip: ip,
        instance_id: eni.instance_id.clone(),
    })
}

pub fn disassociate(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&["AddressId", "ReallocateNormalPublicIp"])?;
    let address_id = p.str_req("AddressId")?;
    let reallocate = p.bool_opt("ReallocateNormalPublicIp")?.unwrap_or(false);
    let mut w = ctx.sim.world();
    let address = find_address(ctx, &w, &address_id)?.clone();
    mutex_free(&w, &address.id, MUTEX_TASK_RUNNING)?;
    if address.status != "BIND" && address.status != "BIND_ENI" {
        return Err(ApiError::new(
            "InvalidAddressIdStatus.NotPermit",
            format!(
                "EIP {} is {}; only BIND and BIND_ENI EIPs can be unbound.",
                address.id, address.status
            ),
        ));
    }
    if reallocate && !on_primary_ip(&w, &address) {
        return Err(ApiError::new(
            "InvalidParameterValue.OnlySupportedForMasterNetworkCard",
            "`ReallocateNormalPublicIp` is only for an EIP on the primary IP of a primary ENI.",
        ));
    }
    let mut resources = vec![address.id.clone()];
    if let Some(Binding::Havip { havip_id }) = &address.binding {
        resources.push(havip_id.clone());
    }
    let op = TaskOp::UnbindAddress {
        address_id: address.id.clone(),
    };
    let task_id = ctx.start_task(&mut w, op, resources);
    Ok(obj([("TaskId", json!(task_id.to_string()))]))
}

/// Whether the EIP is on the primary IP of a primary ENI (`ReallocateNormalPublicIp` needs it).
fn on_primary_ip(w: &World, address: &Address) -> bool {
    match &address.binding {
        Some(Binding::Eni {
            eni_id, private_ip, ..
        }) => w.eni(eni_id).is_some_and(|e| {
            e.primary && e.private_ips.first().is_some_and(|p| &p.ip == private_ip)
        }),
        _ => false,
    }
}
