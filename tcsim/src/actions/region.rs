//! CVM `DescribeRegions` (service `cvm`, version 2017-03-12): the regions of the cloud, as the
//! real action answers: `TotalCount` and `RegionSet` of `{Region, RegionName, RegionState}`.
//! tcsim's regions are the real public ones it knows plus any region its scenario uses, all
//! `AVAILABLE`.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::{obj, Ctx, KNOWN_REGIONS};
use crate::error::ApiResult;
use crate::params::Params;

pub fn describe(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&[])?;
    let w = ctx.sim.world();
    let mut regions: BTreeSet<&str> = KNOWN_REGIONS.iter().copied().collect();
    regions.extend(w.vpcs.iter().map(|v| v.region.as_str()));
    regions.extend(w.addresses.iter().map(|a| a.region.as_str()));
    let set: Vec<Value> = regions
        .iter()
        .map(|r| json!({"Region": r, "RegionName": r, "RegionState": "AVAILABLE"}))
        .collect();
    Ok(obj([
        ("TotalCount", json!(set.len())),
        ("RegionSet", Value::Array(set)),
    ]))
}
