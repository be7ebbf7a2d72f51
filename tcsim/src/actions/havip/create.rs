//! CreateHaVip: parameters, the subnet (named, or the subnet of an ENI), the Vip (given and
//! checked, or the first free address), the drift range, and `ClientToken` idempotency.

use std::net::Ipv4Addr;

use serde_json::{Map, Value};

use super::drift::{check_association_target, check_entry_count, parse_association};
use super::{check_name, render};
use crate::actions::{obj, well_formed, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::net::Cidr;
use crate::params::Params;
use crate::state::{Association, HaVip, Subnet, Vpc, World};

/// CreateHaVip's parameters, checked before the world is locked.
struct CreateRequest {
    vpc_id: String,
    name: String,
    subnet_id: Option<String>,
    vip: Option<String>,
    eni_id: Option<String>,
    check_associate: bool,
    client_token: Option<String>,
    tags: Vec<(String, String)>,
    associations: Vec<Params>,
}

fn parse_create(p: &Params) -> ApiResult<CreateRequest> {
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
    let req = CreateRequest {
        vpc_id: p.str_req("VpcId")?,
        name: p.str_req("HaVipName")?,
        subnet_id: p.str_opt("SubnetId")?,
        vip: p.str_opt("Vip")?,
        eni_id: p.str_opt("NetworkInterfaceId")?,
        check_associate: p.bool_opt("CheckAssociate")?.unwrap_or(false),
        client_token: p.str_opt("ClientToken")?,
        tags: match p.obj_list_opt("Tags")? {
            None => Vec::new(),
            Some(list) => list
                .iter()
                .map(|t| {
                    t.check_known(&["Key", "Value"])?;
                    Ok((t.str_req("Key")?, t.str_opt("Value")?.unwrap_or_default()))
                })
                .collect::<ApiResult<Vec<_>>>()?,
        },
        associations: p.obj_list_opt("HaVipAssociationSet")?.unwrap_or_default(),
    };
    check_name(&req.name)?;
    if let Some(t) = &req.client_token {
        if t.len() > 64 || !t.is_ascii() {
            return Err(ApiError::new(
                "InvalidParameterValue.TooLong",
                "`ClientToken` must be at most 64 ASCII characters.",
            ));
        }
    }
    well_formed("VpcId", &req.vpc_id, "vpc")?;
    check_entry_count(req.associations.len())?;
    Ok(req)
}

pub fn create(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    let req = parse_create(p)?;
    let mut w = ctx.sim.world();
    if let Some(id) = req
        .client_token
        .as_ref()
        .and_then(|t| w.client_tokens.get(t))
    {
        if let Some(h) = w.havip(id) {
            return Ok(obj([("HaVip", render(&w, h))]));
        }
    }
    let vpc = w
        .vpcs
        .iter()
        .find(|v| v.id == req.vpc_id && v.region == ctx.region)
        .ok_or_else(|| ApiError::not_found("VPC", &req.vpc_id))?
        .clone();
    let subnet = find_subnet(ctx, &w, &vpc, &req)?;
    let vip = choose_vip(&w, &vpc, &subnet, req.vip)?;
    let associations = drift_range(ctx, &w, &vpc, &req.associations)?;
    let id = loop {
        let id = crate::ids::new_id("havip");
        if w.havip(&id).is_none() {
            break id;
        }
    };
    let h = HaVip {
        id: id.clone(),
        name: req.name,
        region: ctx.region.to_string(),
        vpc_id: vpc.id.clone(),
        subnet_id: subnet.id.clone(),
        vip,
        check_associate: req.check_associate,
        associations,
        eni_id: None,
        instance_id: None,
        flushed_time: None,
        created: ctx.sim.clock.now(),
        business: String::new(),
        tags: req.tags,
    };
    let rendered = render(&w, &h);
    w.havips.push(h);
    if let Some(t) = req.client_token {
        w.client_tokens.insert(t, id);
    }
    Ok(obj([("HaVip", rendered)]))
}

/// `SubnetId`, else the subnet of `NetworkInterfaceId`; it must be in the VPC.
fn find_subnet(ctx: &Ctx<'_>, w: &World, vpc: &Vpc, req: &CreateRequest) -> ApiResult<Subnet> {
    let subnet_id = match (&req.subnet_id, &req.eni_id) {
        (Some(s), _) => {
            well_formed("SubnetId", s, "subnet")?;
            s.clone()
        }
        (None, Some(e)) => {
            well_formed("NetworkInterfaceId", e, "eni")?;
            ctx.eni(w, e)?.subnet_id.clone()
        }
        (None, None) => return Err(ApiError::missing("SubnetId")),
    };
    w.subnets
        .iter()
        .find(|s| s.id == subnet_id && s.vpc_id == vpc.id)
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                "UnsupportedOperation.SubnetNotExists",
                format!(
                    "The subnet `{subnet_id}` does not exist in VPC `{}`.",
                    vpc.id
                ),
            )
        })
}

/// The given Vip (inside the subnet, not its network, gateway or broadcast address, unused in
/// the VPC), or else the subnet's first free address.
fn choose_vip(w: &World, vpc: &Vpc, subnet: &Subnet, vip: Option<String>) -> ApiResult<String> {
    let cidr = Cidr::parse(&subnet.cidr)
        .map_err(|_| ApiError::new("InternalError", "bad subnet CIDR in scenario"))?;
    let (net, broadcast) = (cidr.network(), cidr.broadcast());
    let Some(v) = vip else {
        return (net.saturating_add(2)..broadcast)
            .map(|n| Ipv4Addr::from(n).to_string())
            .find(|ip| !ip_in_use(w, &vpc.id, ip))
            .ok_or_else(|| {
                ApiError::new(
                    "ResourceInsufficient",
                    format!("Subnet {} has no free IP.", subnet.id),
                )
            });
    };
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
    if n == net || n == cidr.gateway() || n == broadcast {
        return Err(ApiError::new(
            "InvalidParameterValue.Reserved",
            format!("The Vip {v} is reserved in subnet {}.", subnet.cidr),
        ));
    }
    if ip_in_use(w, &vpc.id, &v) {
        return Err(ApiError::new(
            "ResourceInUse",
            format!("The IP {v} is already in use."),
        ));
    }
    Ok(v)
}

/// Whether a HAVIP or an ENI of the VPC has `ip`.
fn ip_in_use(w: &World, vpc_id: &str, ip: &str) -> bool {
    w.havips.iter().any(|h| h.vpc_id == vpc_id && h.vip == ip)
        || w.enis
            .iter()
            .any(|e| e.vpc_id == vpc_id && e.private_ips.iter().any(|p| p.ip == ip))
}

/// The `HaVipAssociationSet` entries: each valid, in the VPC, and listed once.
fn drift_range(
    ctx: &Ctx<'_>,
    w: &World,
    vpc: &Vpc,
    entries: &[Params],
) -> ApiResult<Vec<Association>> {
    let mut associations = Vec::new();
    for a in entries {
        let assoc = parse_association(a)?;
        check_association_target(ctx, w, &vpc.id, &assoc)?;
        if associations.contains(&assoc) {
            return Err(ApiError::new(
                "InvalidParameterValue.Duplicate",
                format!("`{}` appears twice.", assoc.instance_id),
            ));
        }
        associations.push(assoc);
    }
    Ok(associations)
}
