//! The HAVIP drift range: AssociateHaVipInstance / DisassociateHaVipInstance, and the
//! `HaVipAssociation` entries that CreateHaVip shares.

use serde_json::{Map, Value};

use super::find_havip;
use crate::actions::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::ids::valid_id;
use crate::params::Params;
use crate::state::{Association, World};

/// Which way AssociateHaVipInstance / DisassociateHaVipInstance edits the drift range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeEdit {
    Add,
    Remove,
}

/// At most 10 `HaVipAssociationSet` entries per request.
pub(super) fn check_entry_count(n: usize) -> ApiResult<()> {
    if n > 10 {
        return Err(ApiError::new(
            "LimitExceeded",
            "At most 10 HaVipAssociationSet entries are allowed.",
        ));
    }
    Ok(())
}

/// One `HaVipAssociation` entry (its InstanceId/InstanceType; the caller reads HaVipId).
pub(super) fn parse_association(a: &Params) -> ApiResult<Association> {
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
pub(super) fn check_association_target(
    ctx: &Ctx<'_>,
    w: &World,
    vpc_id: &str,
    a: &Association,
) -> ApiResult<()> {
    let in_vpc = if a.instance_type == "CVM" {
        let inst = ctx.instance(w, &a.instance_id)?;
        w.instance_enis(&inst.id).iter().any(|e| e.vpc_id == vpc_id)
    } else {
        ctx.eni(w, &a.instance_id)?.vpc_id == vpc_id
    };
    if !in_vpc {
        return Err(ApiError::new(
            "InvalidParameterValue.ParameterMismatch",
            format!("{} is not in the HAVIP's VPC {vpc_id}.", a.instance_id),
        ));
    }
    Ok(())
}

/// AssociateHaVipInstance / DisassociateHaVipInstance: edits the drift range. All entries are
/// validated before any is applied. Removing the current holder from the range unbinds the
/// HAVIP from it (FlushedTime is refreshed, as for a manual unbind).
pub fn associate_instance(
    ctx: &Ctx<'_>,
    p: &Params,
    edit: RangeEdit,
) -> ApiResult<Map<String, Value>> {
    p.check_known(&["HaVipAssociationSet"])?;
    let entries = p.obj_list_opt("HaVipAssociationSet")?.unwrap_or_default();
    if entries.is_empty() {
        return Err(ApiError::missing("HaVipAssociationSet"));
    }
    check_entry_count(entries.len())?;
    let mut w = ctx.sim.world();
    let plan = plan_edit(ctx, &w, &entries, edit)?;
    let now = ctx.sim.clock.now();
    for (havip_id, assoc) in plan {
        let Some(h) = w.havip_mut(&havip_id) else {
            continue;
        };
        match edit {
            RangeEdit::Add => h.associations.push(assoc),
            RangeEdit::Remove => {
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
    }
    Ok(Map::new())
}

/// The validated (HAVIP ID, entry) pairs: each entry's HAVIP exists, its target is in the
/// HAVIP's VPC, it is (for `Remove`) or is not (for `Add`) in the range yet, and no pair is
/// listed twice.
fn plan_edit(
    ctx: &Ctx<'_>,
    w: &World,
    entries: &[Params],
    edit: RangeEdit,
) -> ApiResult<Vec<(String, Association)>> {
    let mut plan: Vec<(String, Association)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let assoc = parse_association(e)?;
        let param = format!("HaVipAssociationSet.{i}.HaVipId");
        let havip_id = e
            .str_opt("HaVipId")?
            .ok_or_else(|| ApiError::missing(&param))?;
        let h = find_havip(ctx, w, &param, &havip_id)?;
        check_association_target(ctx, w, &h.vpc_id, &assoc)?;
        let present = h
            .associations
            .iter()
            .any(|a| a.instance_id == assoc.instance_id);
        if edit == RangeEdit::Add && present {
            return Err(ApiError::new(
                "InvalidParameterValue.DuplicatedHaVipAssociations",
                format!(
                    "HAVIP {havip_id} is already associated with {}.",
                    assoc.instance_id
                ),
            ));
        }
        if edit == RangeEdit::Remove && !present {
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
    Ok(plan)
}
