//! HAVIP actions: DescribeHaVips, DeleteHaVip, ModifyHaVipAttribute, and
//! HaVipAssociateAddressIp / HaVipDisassociateAddressIp (async EIP binding). CreateHaVip is in
//! `create`, AssociateHaVipInstance / DisassociateHaVipInstance (the drift range) in `drift`.

mod create;
mod drift;

pub use create::create;
pub use drift::{associate_instance, RangeEdit};

use std::collections::HashMap;
use std::net::Ipv4Addr;

use serde_json::{json, Map, Value};

use super::{
    check_filters, check_id_list, matches, mutex_free, no_coexist, obj, page, well_formed, Ctx,
    FilterRules, MUTEX_TASK_RUNNING,
};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::{Binding, HaVip, TaskOp, World};

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
    let ids = ids.unwrap_or_default();
    check_id_list(&ids, "HaVipIds", |id| well_formed("HaVipIds", id, "havip"))?;
    let filters = filters.unwrap_or_default();
    check_filters(&filters, &FILTERS)?;
    let page = page(p)?;
    let w = ctx.sim.world();
    let eips = eip_by_havip(&w);
    let found: Vec<&HaVip> = w
        .havips
        .iter()
        .filter(|h| h.region == ctx.region)
        .filter(|h| ids.is_empty() || ids.contains(&h.id))
        .filter(|h| matches(&filters, |n| attr(&eips, h, n)))
        .collect();
    let (total, set) = page.render(found, |h| {
        render_with(&w, h, eips.get(h.id.as_str()).copied())
    });
    Ok(obj([("TotalCount", json!(total)), ("HaVipSet", set)]))
}

/// Validates a `HaVipId` parameter and finds it in the region.
fn find_havip<'w>(ctx: &Ctx<'_>, w: &'w World, param: &str, id: &str) -> ApiResult<&'w HaVip> {
    well_formed(param, id, "havip")?;
    w.havip(id)
        .filter(|h| h.region == ctx.region)
        .ok_or_else(|| ApiError::not_found("HAVIP", id))
}

/// `HaVipName` is at most 60 characters.
fn check_name(name: &str) -> ApiResult<()> {
    if name.chars().count() > 60 {
        return Err(ApiError::new(
            "InvalidParameterValue.TooLong",
            "`HaVipName` must be at most 60 characters.",
        ));
    }
    Ok(())
}

pub fn delete(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&["HaVipId"])?;
    let id = p.str_req("HaVipId")?;
    let mut w = ctx.sim.world();
    find_havip(ctx, &w, "HaVipId", &id)?;
    mutex_free(&w, &id, MUTEX_TASK_RUNNING)?;
    if let Some(a) = w.havip_address(&id) {
        return Err(ApiError::new(
            "UnsupportedOperation",
            format!("HAVIP {id} has EIP {}; unbind it first.", a.ip),
        ));
    }
    let op = TaskOp::DeleteHavip {
        havip_id: id.clone(),
    };
    ctx.start_task(&mut w, op, vec![id]);
    Ok(Map::new())
}

pub fn modify(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&["HaVipId", "HaVipName"])?;
    let id = p.str_req("HaVipId")?;
    let name = p.str_opt("HaVipName")?;
    if let Some(name) = &name {
        check_name(name)?;
    }
    let mut w = ctx.sim.world();
    find_havip(ctx, &w, "HaVipId", &id)?;
    if let (Some(name), Some(h)) = (name, w.havip_mut(&id)) {
        h.name = name;
    }
    Ok(Map::new())
}

pub fn associate_address(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&["HaVipId", "AddressIp"])?;
    let havip_id = p.str_req("HaVipId")?;
    let address_ip = p.str_req("AddressIp")?;
    well_formed("HaVipId", &havip_id, "havip")?;
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
    mutex_free(&w, &havip_id, MUTEX_TASK_RUNNING)?;
    mutex_free(&w, &address.id, MUTEX_TASK_RUNNING)?;
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
    let op = TaskOp::HavipBindEip {
        havip_id: havip_id.clone(),
        address_id: address.id.clone(),
    };
    ctx.start_task(&mut w, op, vec![havip_id, address.id]);
    Ok(Map::new())
}

pub fn disassociate_address(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&["HaVipId"])?;
    let havip_id = p.str_req("HaVipId")?;
    let mut w = ctx.sim.world();
    find_havip(ctx, &w, "HaVipId", &havip_id)?;
    mutex_free(&w, &havip_id, MUTEX_TASK_RUNNING)?;
    let Some(address) = w.havip_address(&havip_id).cloned() else {
        return Err(ApiError::new(
            "UnsupportedOperation.UnbindEIP",
            format!("HAVIP {havip_id} has no EIP."),
        ));
    };
    mutex_free(&w, &address.id, MUTEX_TASK_RUNNING)?;
    let op = TaskOp::HavipUnbindEip {
        havip_id: havip_id.clone(),
        address_id: address.id.clone(),
    };
    ctx.start_task(&mut w, op, vec![havip_id, address.id]);
    Ok(Map::new())
}
