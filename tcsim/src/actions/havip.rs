//! HAVIP actions: DescribeHaVips, CreateHaVip, DeleteHaVip, ModifyHaVipAttribute,
//! AssociateHaVipInstance / DisassociateHaVipInstance (the drift range), and
//! HaVipAssociateAddressIp / HaVipDisassociateAddressIp (async EIP binding).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use serde_json::{json, Map, Value};

use super::{check_filters, matches, no_coexist, obj, page, Ctx, FilterRules};
use crate::error::{ApiError, ApiResult};
use crate::ids::valid_id;
use crate::net::Cidr;
use crate::params::Params;
use crate::state::{Association, Binding, HaVip, TaskOp, World};

/// One HaVip as the API renders it: unbound fields are `""`, FlushedTime defaults to
/// `0000-00-00 00:00:00`, State is AVAILABLE while an instance/ENI holds it, else UNBIND.
pub fn render(w: &World, h: &HaVip) -> Value {
    render_with(w, h, w.havip_address(&h.id).map(|a| a.ip.as_str()))
}

/// `render` with the HAVIP's EIP address already looked up.
fn render_with(w: &World, h: &HaVip, address_ip: Option<&str>) -> Value {
    let s = &w.settings;
    let held = h.eni_id.is_some() || h.instance_id.is_some();
    json!({
        "HaVipId": h.id,
        "HaVipName": h.name,
        "Vip": h.vip,
        "VpcId": h.vpc_id,
        "SubnetId": h.subnet_id,
        "NetworkInterfaceId": h.eni_id.clone().unwrap_or_default(),
        "InstanceId": h.instance_id.clone().unwrap_or_default(),
        "AddressIp": address_ip.unwrap_or_default(),
        "State": if held { "AVAILABLE" } else { "UNBIND" },
        "CreatedTime": s.local_time(h.created),
        "Business": h.business,
        "HaVipAssociationSet": h.associations.iter().map(|a| json!({
            "InstanceId": a.instance_id,
            "HaVipId": h.id,
            "InstanceType": a.instance_type,
        })).collect::<Vec<_>>(),
        "CheckAssociate": h.check_associate,
        "CdcId": "",
        "FlushedTime": h.flushed_time.map(|t| s.local_time(t)).unwrap_or_else(|| "0000-00-00 00:00:00".into()),
        "TagSet": h.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>(),
    })
}

const FILTERS: FilterRules<'static> = FilterRules {
    known: &[
        "havip-id",
        "havip-name",
        "vpc-id",
        "subnet-id",
        "vip",
        "address-ip",
        "havip-association.instance-id",
        "havip-association.instance-type",
        "check-associate",
        "cdc-id",
        "type",
        "termination-protection",
        "traffic-protection",
    ],
    tag_prefix: false,
    max_filters: 10,
    max_values: 5,
    too_many_filters_code: "InvalidParameterValue.LimitExceeded",
    invalid_key_code: "InvalidParameter.FilterInvalidKey",
};

/// HAVIP ID → the address of its EIP, built once per request so that a page of a large scenario
/// is not a scan of every EIP per HAVIP.
fn eip_by_havip(w: &World) -> HashMap<&str, &str> {
    w.addresses
        .iter()
        .filter(|a| a.status == "BIND" || a.status == "UNBINDING")
        .filter_map(|a| match &a.binding {
            Some(Binding::Havip { havip_id }) => Some((havip_id.as_str(), a.ip.as_str())),
            _ => None,
        })
        .collect()
}

fn attr(eips: &HashMap<&str, &str>, h: &HaVip, name: &str) -> Vec<String> {
    match name {
        "havip-id" => vec![h.id.clone()],
        "havip-name" => vec![h.name.clone()],
        "vpc-id" => vec![h.vpc_id.clone()],
        "subnet-id" => vec![h.subnet_id.clone()],
        "vip" => vec![h.vip.clone()],
        "address-ip" => eips
            .get(h.id.as_str())
            .map(|ip| ip.to_string())
            .into_iter()
            .collect(),
        "havip-association.instance-id" => h
            .associations
            .iter()
            .map(|a| a.instance_id.clone())
            .collect(),
        "havip-association.instance-type" => h
            .associations
            .iter()
            .map(|a| a.instance_type.clone())
            .collect(),
        "check-associate" => vec![super::bool_str(h.check_associate)],
        "type" => vec!["NORMAL".into()],
        "termination-protection" | "traffic-protection" => vec!["false".into()],
        _ => Vec::new(),
    }
}

pub fn describe(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&["HaVipIds", "Filters", "Offset", "Limit"])?;
    let ids = p.str_list_opt("HaVipIds")?;
    let filters = p.filters()?;
    no_coexist(&ids, &filters, "HaVipIds")?;
    if let Some(ids) = &ids {
        if ids.len() > 100 {
            return Err(ApiError::new(
                "InvalidParameterValue.LimitExceeded",
                "At most 100 HaVipIds are allowed.",
            ));
        }
        if let Some(bad) = ids.iter().find(|id| !valid_id(id, "havip")) {
            return Err(ApiError::malformed("HaVipIds", bad));
        }
    }
    let filters = filters.unwrap_or_default();
    check_filters(&filters, &FILTERS)?;
    let page = page(p)?;
    let w = ctx.sim.world();
    let eips = eip_by_havip(&w);
    let found: Vec<&HaVip> = w
        .havips
        .iter()
        .filter(|h| h.region == ctx.region)
        .filter(|h| {
            ids.as_ref()
                .is_none_or(|ids| ids.is_empty() || ids.contains(&h.id))
        })
        .filter(|h| matches(&filters, |n| attr(&eips, h, n)))
        .collect();
    let total = found.len();
    let set: Vec<Value> = page
        .apply(found)
        .into_iter()
        .map(|h| render_with(&w, h, eips.get(h.id.as_str()).copied()))
        .collect();
    Ok(obj([
        ("TotalCount", json!(total)),
        ("HaVipSet", Value::Array(set)),
    ]))
}

/// Validates a `HaVipId` parameter and finds it in the region.
fn find_havip<'w>(ctx: &Ctx<'_>, w: &'w World, param: &str, id: &str) -> ApiResult<&'w HaVip> {
    if !valid_id(id, "havip") {
        return Err(ApiError::malformed(param, id));
    }
    w.havip(id)
        .filter(|h| h.region == ctx.region)
        .ok_or_else(|| ApiError::not_found("HAVIP", id))
}

fn mutex_check(w: &World, resource: &str) -> ApiResult<()> {
    if let Some(t) = w.running_task_on(resource) {
        return Err(ApiError::new(
            "UnsupportedOperation.MutexOperationTaskRunning",
            format!(
                "A mutually exclusive task ({}, {}) is running on {resource}.",
                t.action, t.request_id
            ),
        ));
    }
    Ok(())
}

pub fn create(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&[
        "VpcId",
        "HaVipName",
        "SubnetId",
        "Vip",
        "NetworkInterfaceId",
        "CheckAssociate",
        "Tags",
        "HaVipAssociationSet",
        "ClientToken",
    ])?;
    let vpc_id = p.str_req("VpcId")?;
    let name = p.str_req("HaVipName")?;
    let subnet_param = p.str_opt("SubnetId")?;
    let vip_param = p.str_opt("Vip")?;
    let eni_param = p.str_opt("NetworkInterfaceId")?;
    let check_associate = p.bool_opt("CheckAssociate")?.unwrap_or(false);
    let client_token = p.str_opt("ClientToken")?;
    let tags = match p.obj_list_opt("Tags")? {
        None => Vec::new(),
        Some(list) => list
            .iter()
            .map(|t| {
                t.check_known(&["Key", "Value"])?;
                Ok((t.str_req("Key")?, t.str_opt("Value")?.unwrap_or_default()))
            })
            .collect::<ApiResult<Vec<_>>>()?,
    };
    let assoc_params = p.obj_list_opt("HaVipAssociationSet")?.unwrap_or_default();
    if name.chars().count() > 60 {
        return Err(ApiError::new(
            "InvalidParameterValue.TooLong",
            "`HaVipName` must be at most 60 characters.",
        ));
    }
    if let Some(t) = &client_token {
        if t.len() > 64 || !t.is_ascii() {
            return Err(ApiError::new(
                "InvalidParameterValue.TooLong",
                "`ClientToken` must be at most 64 ASCII characters.",
            ));
        }
    }
    if !valid_id(&vpc_id, "vpc") {
        return Err(ApiError::malformed("VpcId", &vpc_id));
    }
    if assoc_params.len() > 10 {
        return Err(ApiError::new(
            "LimitExceeded",
            "At most 10 HaVipAssociationSet entries are allowed.",
        ));
    }

    let mut w = ctx.sim.world();
    if let Some(id) = client_token.as_ref().and_then(|t| w.client_tokens.get(t)) {
        if let Some(h) = w.havip(id) {
            return Ok(obj([("HaVip", render(&w, h))]));
        }
    }
    let vpc = w
        .vpcs
        .iter()
        .find(|v| v.id == vpc_id && v.region == ctx.region)
        .ok_or_else(|| ApiError::not_found("VPC", &vpc_id))?
        .clone();
    let subnet_id = match (&subnet_param, &eni_param) {
        (Some(s), _) => {
            if !valid_id(s, "subnet") {
                return Err(ApiError::malformed("SubnetId", s));
            }
            s.clone()
        }
        (None, Some(e)) => {
            if !valid_id(e, "eni") {
                return Err(ApiError::malformed("NetworkInterfaceId", e));
            }
            w.eni(e)
                .filter(|x| x.region == ctx.region)
                .ok_or_else(|| ApiError::not_found("network interface", e))?
                .subnet_id
                .clone()
        }
        (None, None) => return Err(ApiError::missing("SubnetId")),
    };
    let subnet = w
        .subnets
        .iter()
        .find(|s| s.id == subnet_id && s.vpc_id == vpc.id)
        .ok_or_else(|| {
            ApiError::new(
                "UnsupportedOperation.SubnetNotExists",
                format!(
                    "The subnet `{subnet_id}` does not exist in VPC `{}`.",
                    vpc.id
                ),
            )
        })?
        .clone();
    let cidr = Cidr::parse(&subnet.cidr)
        .map_err(|_| ApiError::new("InternalError", "bad subnet CIDR in scenario"))?;
    let used = |w: &World, ip: &str| {
        w.havips.iter().any(|h| h.vpc_id == vpc.id && h.vip == ip)
            || w.enis
                .iter()
                .any(|e| e.vpc_id == vpc.id && e.private_ips.iter().any(|p| p.ip == ip))
    };
    let (net, broadcast) = (cidr.network(), cidr.broadcast());
    let vip = match vip_param {
        Some(v) => {
            let ip: Ipv4Addr = v.parse().map_err(|_| ApiError::malformed("Vip", &v))?;
            if !cidr.contains(ip) {
                return Err(ApiError::new(
                    "InvalidParameterValue.Range",
                    format!(
                        "The Vip {v} is outside subnet {} ({}).",
                        subnet.id, subnet.cidr
                    ),
                ));
            }
            let n = u32::from(ip);
            if n == net || n == net.saturating_add(1) || n == broadcast {
                return Err(ApiError::new(
                    "InvalidParameterValue.Reserved",
                    format!("The Vip {v} is reserved in subnet {}.", subnet.cidr),
                ));
            }
            if used(&w, &v) {
                return Err(ApiError::new(
                    "ResourceInUse",
                    format!("The IP {v} is already in use."),
                ));
            }
            v
        }
        None => (net.saturating_add(2)..broadcast)
            .map(|n| Ipv4Addr::from(n).to_string())
            .find(|ip| !used(&w, ip))
            .ok_or_else(|| {
                ApiError::new(
                    "ResourceInsufficient",
                    format!("Subnet {} has no free IP.", subnet.id),
                )
            })?,
    };
    let mut associations = Vec::new();
    for a in &assoc_params {
        let assoc = parse_association(a)?;
        check_association_target(ctx, &w, &vpc.id, &assoc)?;
        if associations.contains(&assoc) {
            return Err(ApiError::new(
                "InvalidParameterValue.Duplicate",
                format!("`{}` appears twice.", assoc.instance_id),
            ));
        }
        associations.push(assoc);
    }
    let id = loop {
        let id = crate::ids::new_id("havip");
        if w.havip(&id).is_none() {
            break id;
        }
    };
    let h = HaVip {
        id: id.clone(),
        name,
        region: ctx.region.to_string(),
        vpc_id: vpc.id.clone(),
        subnet_id: subnet.id.clone(),
        vip,
        check_associate,
        associations,
        eni_id: None,
        instance_id: None,
        flushed_time: None,
        created: ctx.sim.clock.now(),
        business: String::new(),
        tags,
    };
    let rendered = render(&w, &h);
    w.havips.push(h);
    if let Some(t) = client_token {
        w.client_tokens.insert(t, id);
    }
    Ok(obj([("HaVip", rendered)]))
}

pub fn delete(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&["HaVipId"])?;
    let id = p.str_req("HaVipId")?;
    let mut w = ctx.sim.world();
    find_havip(ctx, &w, "HaVipId", &id)?;
    mutex_check(&w, &id)?;
    if let Some(a) = w.havip_address(&id) {
        return Err(ApiError::new(
            "UnsupportedOperation",
            format!("HAVIP {id} has EIP {}; unbind it first.", a.ip),
        ));
    }
    let fail = ctx.sim.faults().take_task_failure(ctx.action);
    w.start_task(
        ctx.action,
        ctx.region,
        ctx.request_id,
        TaskOp::DeleteHavip {
            havip_id: id.clone(),
        },
        vec![id],
        fail,
        std::time::Instant::now(),
    );
    Ok(Map::new())
}

pub fn modify(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&["HaVipId", "HaVipName"])?;
    let id = p.str_req("HaVipId")?;
    let name = p.str_opt("HaVipName")?;
    if name.as_ref().is_some_and(|n| n.chars().count() > 60) {
        return Err(ApiError::new(
            "InvalidParameterValue.TooLong",
            "`HaVipName` must be at most 60 characters.",
        ));
    }
    let mut w = ctx.sim.world();
    find_havip(ctx, &w, "HaVipId", &id)?;
    if let (Some(name), Some(h)) = (name, w.havip_mut(&id)) {
        h.name = name;
    }
    Ok(Map::new())
}

/// One `HaVipAssociation` entry (its InstanceId/InstanceType; the caller reads HaVipId).
fn parse_association(a: &Params) -> ApiResult<Association> {
    a.check_known(&["InstanceId", "HaVipId", "InstanceType"])?;
    let instance_id = a.str_req("InstanceId")?;
    let implied = if valid_id(&instance_id, "ins") {
        "CVM"
    } else if valid_id(&instance_id, "eni") {
        "ENI"
    } else {
        return Err(ApiError::malformed("InstanceId", &instance_id));
    };
    let instance_type = match a.str_opt("InstanceType")? {
        None => implied.to_string(),
        Some(t) if t == "CVM" || t == "ENI" => {
            if t != implied {
                return Err(ApiError::new(
                    "InvalidParameterValue.ParameterMismatch",
                    format!("InstanceType {t} does not match InstanceId {instance_id}."),
                ));
            }
            t
        }
        Some(t) => {
            return Err(ApiError::new(
                "InvalidParameterValue",
                format!("InstanceType must be CVM or ENI, not `{t}`."),
            ))
        }
    };
    Ok(Association {
        instance_id,
        instance_type,
    })
}

/// The instance/ENI must exist in the region and sit in the HAVIP's VPC.
fn check_association_target(
    ctx: &Ctx<'_>,
    w: &World,
    vpc_id: &str,
    a: &Association,
) -> ApiResult<()> {
    let in_vpc = if a.instance_type == "CVM" {
        let inst = w
            .instance(&a.instance_id)
            .filter(|i| i.region == ctx.region)
            .ok_or_else(|| ApiError::not_found("instance", &a.instance_id))?;
        w.instance_enis(&inst.id).iter().any(|e| e.vpc_id == vpc_id)
    } else {
        let eni = w
            .eni(&a.instance_id)
            .filter(|e| e.region == ctx.region)
            .ok_or_else(|| ApiError::not_found("network interface", &a.instance_id))?;
        eni.vpc_id == vpc_id
    };
    if !in_vpc {
        return Err(ApiError::new(
            "InvalidParameterValue.ParameterMismatch",
            format!("{} is not in the HAVIP's VPC {vpc_id}.", a.instance_id),
        ));
    }
    Ok(())
}

/// AssociateHaVipInstance (`add`) / DisassociateHaVipInstance: edits the drift range. All
/// entries are validated before any is applied. Removing the current holder from the range
/// unbinds the HAVIP from it (FlushedTime is refreshed, as for a manual unbind).
pub fn associate_instance(ctx: &Ctx<'_>, p: &Params, add: bool) -> ApiResult<Map<String, Value>> {
    p.check_known(&["HaVipAssociationSet"])?;
    let entries = p.obj_list_opt("HaVipAssociationSet")?.unwrap_or_default();
    if entries.is_empty() {
        return Err(ApiError::missing("HaVipAssociationSet"));
    }
    if entries.len() > 10 {
        return Err(ApiError::new(
            "LimitExceeded",
            "At most 10 HaVipAssociationSet entries are allowed.",
        ));
    }
    let mut w = ctx.sim.world();
    let mut plan: Vec<(String, Association)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let assoc = parse_association(e)?;
        let havip_id = e
            .str_opt("HaVipId")?
            .ok_or_else(|| ApiError::missing(&format!("HaVipAssociationSet.{i}.HaVipId")))?;
        let h = find_havip(
            ctx,
            &w,
            &format!("HaVipAssociationSet.{i}.HaVipId"),
            &havip_id,
        )?;
        check_association_target(ctx, &w, &h.vpc_id, &assoc)?;
        let present = h
            .associations
            .iter()
            .any(|a| a.instance_id == assoc.instance_id);
        if add && present {
            return Err(ApiError::new(
                "InvalidParameterValue.DuplicatedHaVipAssociations",
                format!(
                    "HAVIP {havip_id} is already associated with {}.",
                    assoc.instance_id
                ),
            ));
        }
        if !add && !present {
            return Err(ApiError::new(
                "ResourceNotFound",
                format!(
                    "HAVIP {havip_id} is not associated with {}.",
                    assoc.instance_id
                ),
            ));
        }
        if plan
            .iter()
            .any(|(h, a)| *h == havip_id && a.instance_id == assoc.instance_id)
        {
            return Err(ApiError::new(
                "InvalidParameterValue.Duplicate",
                format!("The pair {havip_id}/{} appears twice.", assoc.instance_id),
            ));
        }
        plan.push((havip_id, assoc));
    }
    let now = ctx.sim.clock.now();
    for (havip_id, assoc) in plan {
        let Some(h) = w.havip_mut(&havip_id) else {
            continue;
        };
        if add {
            h.associations.push(assoc);
        } else {
            h.associations
                .retain(|a| a.instance_id != assoc.instance_id);
            let holds = h.instance_id.as_deref() == Some(assoc.instance_id.as_str())
                || h.eni_id.as_deref() == Some(assoc.instance_id.as_str());
            if holds {
                h.instance_id = None;
                h.eni_id = None;
                h.flushed_time = Some(now);
            }
        }
    }
    Ok(Map::new())
}

pub fn associate_address(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&["HaVipId", "AddressIp"])?;
    let havip_id = p.str_req("HaVipId")?;
    let address_ip = p.str_req("AddressIp")?;
    if !valid_id(&havip_id, "havip") {
        return Err(ApiError::malformed("HaVipId", &havip_id));
    }
    if address_ip.parse::<Ipv4Addr>().is_err() {
        return Err(ApiError::malformed("AddressIp", &address_ip));
    }
    let mut w = ctx.sim.world();
    find_havip(ctx, &w, "HaVipId", &havip_id)?;
    let address = w
        .addresses
        .iter()
        .find(|a| a.ip == address_ip && a.region == ctx.region)
        .ok_or_else(|| ApiError::not_found("EIP", &address_ip))?
        .clone();
    mutex_check(&w, &havip_id)?;
    mutex_check(&w, &address.id)?;
    if let Some(a) = w.havip_address(&havip_id) {
        return Err(ApiError::new(
            "UnsupportedOperation.BindEIP",
            format!("HAVIP {havip_id} is already bound to EIP {}.", a.ip),
        ));
    }
    if address.status != "UNBIND" {
        return Err(ApiError::new(
            "UnsupportedOperation",
            format!(
                "EIP {address_ip} is {} and cannot be bound to a HAVIP.",
                address.status
            ),
        ));
    }
    let fail = ctx.sim.faults().take_task_failure(ctx.action);
    w.start_task(
        ctx.action,
        ctx.region,
        ctx.request_id,
        TaskOp::HavipBindEip {
            havip_id: havip_id.clone(),
            address_id: address.id.clone(),
        },
        vec![havip_id, address.id],
        fail,
        std::time::Instant::now(),
    );
    Ok(Map::new())
}

pub fn disassociate_address(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&["HaVipId"])?;
    let havip_id = p.str_req("HaVipId")?;
    let mut w = ctx.sim.world();
    find_havip(ctx, &w, "HaVipId", &havip_id)?;
    mutex_check(&w, &havip_id)?;
    let Some(address) = w.havip_address(&havip_id).cloned() else {
        return Err(ApiError::new(
            "UnsupportedOperation.UnbindEIP",
            format!("HAVIP {havip_id} has no EIP."),
        ));
    };
    mutex_check(&w, &address.id)?;
    let fail = ctx.sim.faults().take_task_failure(ctx.action);
    w.start_task(
        ctx.action,
        ctx.region,
        ctx.request_id,
        TaskOp::HavipUnbindEip {
            havip_id: havip_id.clone(),
            address_id: address.id.clone(),
        },
        vec![havip_id, address.id],
        fail,
        std::time::Instant::now(),
    );
    Ok(Map::new())
}
