//! The VPC actions: dispatch, and what they share (ID checks, region-scoped lookups, filters,
//! pagination, regions, async task start and the mutex between tasks).

pub mod address;
pub mod eni;
pub mod havip;
pub mod region;
pub mod task;

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::ids::valid_id;
use crate::params::{Filter, Params};
use crate::state::{Eni, Instance, TaskOp, World};
use crate::Sim;
use havip::RangeEdit;

/// What a handler knows about its request.
pub struct Ctx<'a> {
    pub sim: &'a Sim,
    pub action: &'a str,
    pub region: &'a str,
    pub request_id: &'a str,
}

impl Ctx<'_> {
    /// Starts the async task for this request; a `task_result` fault makes it fail.
    pub fn start_task(&self, w: &mut World, op: TaskOp, resources: Vec<String>) -> u64 {
        let fail = self.sim.faults().take_task_failure(self.action);
        w.start_task(
            self.action,
            self.region,
            self.request_id,
            op,
            resources,
            fail,
            std::time::Instant::now(),
        )
    }

    /// The ENI `id` in the request's region (`ResourceNotFound` otherwise).
    pub fn eni<'w>(&self, w: &'w World, id: &str) -> ApiResult<&'w Eni> {
        w.eni(id)
            .filter(|e| e.region == self.region)
            .ok_or_else(|| ApiError::not_found("network interface", id))
    }

    /// The instance `id` in the request's region (`ResourceNotFound` otherwise).
    pub fn instance<'w>(&self, w: &'w World, id: &str) -> ApiResult<&'w Instance> {
        w.instance(id)
            .filter(|i| i.region == self.region)
            .ok_or_else(|| ApiError::not_found("instance", id))
    }
}

/// The mutex code of the HAVIP and ENI actions (the EIP actions have their own).
pub const MUTEX_TASK_RUNNING: &str = "UnsupportedOperation.MutexOperationTaskRunning";

/// `code` when a running task holds `resource`.
pub fn mutex_free(w: &World, resource: &str, code: &str) -> ApiResult<()> {
    if let Some(t) = w.running_task_on(resource) {
        return Err(ApiError::new(
            code,
            format!(
                "A mutually exclusive task ({}, {}) is running on {resource}.",
                t.action, t.request_id
            ),
        ));
    }
    Ok(())
}

/// `InvalidParameterValue.Malformed` unless `id` is a well-formed `<prefix>-` ID.
pub fn well_formed(param: &str, id: &str, prefix: &str) -> ApiResult<()> {
    if valid_id(id, prefix) {
        Ok(())
    } else {
        Err(ApiError::malformed(param, id))
    }
}

/// At most 100 IDs in the list parameter `param`, each passing `check`.
pub fn check_id_list(
    ids: &[String],
    param: &str,
    check: impl Fn(&str) -> ApiResult<()>,
) -> ApiResult<()> {
    if ids.len() > 100 {
        return Err(ApiError::new(
            "InvalidParameterValue.LimitExceeded",
            format!("At most 100 {param} are allowed."),
        ));
    }
    ids.iter().try_for_each(|id| check(id))
}

/// Every action tcsim implements (anything else is `InvalidAction`).
pub const ACTIONS: &[&str] = &[
    "DescribeHaVips",
    "CreateHaVip",
    "DeleteHaVip",
    "ModifyHaVipAttribute",
    "AssociateHaVipInstance",
    "DisassociateHaVipInstance",
    "HaVipAssociateAddressIp",
    "HaVipDisassociateAddressIp",
    "DescribeAddresses",
    "AssociateAddress",
    "DisassociateAddress",
    "DescribeNetworkInterfaces",
    "MigratePrivateIpAddress",
    "DescribeVpcTaskResult",
    "DescribeTaskResult",
    "DescribeRegions",
];

/// The service an action belongs to: `cvm` for DescribeRegions (CVM 2017-03-12), else `vpc`.
pub fn service_of(action: &str) -> &'static str {
    match action {
        "DescribeRegions" => "cvm",
        _ => "vpc",
    }
}

/// Runs `ctx.action`. The result is the `Response` object without `RequestId`.
pub fn dispatch(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    match ctx.action {
        "DescribeHaVips" => havip::describe(ctx, p),
        "CreateHaVip" => havip::create(ctx, p),
        "DeleteHaVip" => havip::delete(ctx, p),
        "ModifyHaVipAttribute" => havip::modify(ctx, p),
        "AssociateHaVipInstance" => havip::associate_instance(ctx, p, RangeEdit::Add),
        "DisassociateHaVipInstance" => havip::associate_instance(ctx, p, RangeEdit::Remove),
        "HaVipAssociateAddressIp" => havip::associate_address(ctx, p),
        "HaVipDisassociateAddressIp" => havip::disassociate_address(ctx, p),
        "DescribeAddresses" => address::describe(ctx, p),
        "AssociateAddress" => address::associate(ctx, p),
        "DisassociateAddress" => address::disassociate(ctx, p),
        "DescribeNetworkInterfaces" => eni::describe(ctx, p),
        "MigratePrivateIpAddress" => eni::migrate(ctx, p),
        "DescribeVpcTaskResult" => task::describe_vpc(ctx, p),
        "DescribeTaskResult" => task::describe(ctx, p),
        "DescribeRegions" => region::describe(ctx, p),
        other => Err(ApiError::new(
            "InvalidAction",
            format!("The action `{other}` is not found."),
        )),
    }
}

/// Real public regions (a region with no resources answers empty lists, as the real API
/// does); anything else is `UnsupportedRegion` unless the scenario uses it.
pub const KNOWN_REGIONS: &[&str] = &[
    "ap-bangkok",
    "ap-beijing",
    "ap-beijing-fsi",
    "ap-chengdu",
    "ap-chongqing",
    "ap-guangzhou",
    "ap-hongkong",
    "ap-jakarta",
    "ap-mumbai",
    "ap-nanjing",
    "ap-seoul",
    "ap-shanghai",
    "ap-shanghai-fsi",
    "ap-shenzhen-fsi",
    "ap-singapore",
    "ap-taipei",
    "ap-tokyo",
    "eu-frankfurt",
    "na-ashburn",
    "na-siliconvalley",
    "na-toronto",
    "sa-saopaulo",
];

pub fn region_supported(sim: &Sim, region: &str) -> bool {
    KNOWN_REGIONS.contains(&region) || sim.world().has_region(region)
}

/// Offset/Limit: Limit defaults to 20 (also for 0), at most 100.
pub struct Page {
    pub offset: usize,
    pub limit: usize,
}

pub fn page(p: &Params) -> ApiResult<Page> {
    let offset = p.u64_opt("Offset")?.unwrap_or(0);
    let limit = match p.u64_opt("Limit")? {
        None | Some(0) => 20,
        Some(l) if l > 100 => {
            return Err(ApiError::new(
                "InvalidParameterValue.LimitExceeded",
                format!("The value of `Limit` is {l}; the maximum is 100."),
            ))
        }
        Some(l) => l,
    };
    Ok(Page {
        offset: usize::try_from(offset).unwrap_or(usize::MAX),
        limit: limit as usize,
    })
}

impl Page {
    /// `TotalCount` and the requested window of `found`, rendered as a JSON array.
    pub fn render<T>(&self, found: Vec<T>, render: impl Fn(T) -> Value) -> (usize, Value) {
        let total = found.len();
        let set = found
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .map(render)
            .collect();
        (total, Value::Array(set))
    }
}

/// Limits and codes for one action's filters.
pub struct FilterRules<'a> {
    pub known: &'a [&'a str],
    /// Names starting with `tag:` are valid.
    pub tag_prefix: bool,
    pub max_filters: usize,
    pub max_values: usize,
    pub too_many_filters_code: &'a str,
    pub invalid_key_code: &'a str,
}

pub fn check_filters(filters: &[Filter], rules: &FilterRules<'_>) -> ApiResult<()> {
    if filters.len() > rules.max_filters {
        return Err(ApiError::new(
            rules.too_many_filters_code,
            format!("At most {} filters are allowed.", rules.max_filters),
        ));
    }
    for f in filters {
        let known = rules.known.contains(&f.name.as_str())
            || (rules.tag_prefix && f.name.starts_with("tag:") && f.name.len() > 4);
        if !known {
            return Err(ApiError::new(
                rules.invalid_key_code,
                format!("The filter name `{}` is not supported.", f.name),
            ));
        }
        if f.values.len() > rules.max_values {
            return Err(ApiError::new(
                "InvalidParameterValue.LimitExceeded",
                format!(
                    "The filter `{}` has {} values; at most {} are allowed.",
                    f.name,
                    f.values.len(),
                    rules.max_values
                ),
            ));
        }
    }
    Ok(())
}

/// AND across filters, OR within a filter's values. `attr` gives a resource's values for a
/// filter name (booleans as `TRUE`/`FALSE`, compared case-insensitively).
pub fn matches(filters: &[Filter], attr: impl Fn(&str) -> Vec<String>) -> bool {
    filters.iter().all(|f| {
        let have = attr(&f.name);
        f.values.iter().any(|want| {
            have.iter().any(|h| {
                h == want || ((h == "TRUE" || h == "FALSE") && h.eq_ignore_ascii_case(want.trim()))
            })
        })
    })
}

pub fn bool_str(b: bool) -> String {
    if b { "TRUE" } else { "FALSE" }.to_string()
}

/// Rejects IDs and Filters together (`InvalidParameter.Coexist`).
pub fn no_coexist(
    ids: &Option<Vec<String>>,
    filters: &Option<Vec<Filter>>,
    ids_name: &str,
) -> ApiResult<()> {
    let has_ids = ids.as_ref().is_some_and(|v| !v.is_empty());
    let has_filters = filters.as_ref().is_some_and(|v| !v.is_empty());
    if has_ids && has_filters {
        return Err(ApiError::new(
            "InvalidParameter.Coexist",
            format!(
                "The parameters `{ids_name}` and `Filters` cannot be specified at the same time."
            ),
        ));
    }
    Ok(())
}

/// A JSON object from pairs.
pub fn obj<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_logic() {
        let f = |n: &str, v: &[&str]| Filter {
            name: n.into(),
            values: v.iter().map(|s| s.to_string()).collect(),
        };
        let attr = |name: &str| match name {
            "a" => vec!["1".to_string()],
            "b" => vec!["TRUE".to_string()],
            _ => vec![],
        };
        assert!(matches(&[f("a", &["0", "1"])], attr));
        assert!(!matches(&[f("a", &["1"]), f("b", &["false"])], attr));
        assert!(matches(&[f("a", &["1"]), f("b", &["true"])], attr));
        assert!(matches(&[], attr));
    }
}
