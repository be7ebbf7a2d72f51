//! Async task polling: DescribeVpcTaskResult (TaskId = the RequestId of the async call) and
//! DescribeTaskResult (integer TaskId, as AssociateAddress/DisassociateAddress return it).

use serde_json::{json, Map, Value};

use super::{obj, Ctx};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;

pub fn describe_vpc(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&["TaskId"])?;
    let task_id = p.str_req("TaskId")?;
    let w = ctx.sim.world();
    let task = w
        .tasks
        .iter()
        .find(|t| t.request_id == task_id && t.region == ctx.region)
        .ok_or_else(|| ApiError::not_found("task", &task_id))?;
    let status = task.status.as_str();
    let output = if task.output.is_empty() {
        status.to_string()
    } else {
        task.output.clone()
    };
    Ok(obj([
        ("Status", json!(status)),
        ("Output", json!(output)),
        ("Result", json!([])),
    ]))
}

pub fn describe(ctx: &Ctx<'_>, p: &Params) -> ApiResult<Map<String, Value>> {
    p.check_known(&["TaskId", "DealName"])?;
    let task_id = p.u64_opt("TaskId")?;
    let deal = p.str_opt("DealName")?;
    let Some(task_id) = task_id else {
        return Err(match deal {
            Some(d) => ApiError::new(
                "InvalidParameter",
                format!("The deal `{d}` does not exist."),
            ),
            None => ApiError::missing("TaskId"),
        });
    };
    let w = ctx.sim.world();
    let task = w
        .tasks
        .iter()
        .find(|t| t.task_id == task_id && t.region == ctx.region)
        .ok_or_else(|| {
            ApiError::new(
                "InvalidParameter",
                format!("The task `{task_id}` does not exist."),
            )
        })?;
    Ok(obj([
        ("TaskId", json!(task.task_id)),
        ("Result", json!(task.status.as_str())),
    ]))
}
