//! Asynchronous tasks and their waiters. VPC tasks (HaVipAssociateAddressIp,
//! MigratePrivateIpAddress, …) are polled with `DescribeVpcTaskResult` and the call's RequestId;
//! EIP tasks (AssociateAddress, DisassociateAddress) with `DescribeTaskResult` and their TaskId.

use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};
use tokio::time::Instant;

use super::{nullable, string_or_number, vpc_action, Client, Error};
use crate::backoff::Backoff;

/// `DescribeVpcTaskResult`: `TaskId` is the RequestId of the asynchronous call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeVpcTaskResult {
    pub task_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeVpcTaskResultResponse {
    /// `SUCCESS`, `FAILED` or `RUNNING`.
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
    #[serde(default, deserialize_with = "nullable")]
    pub output: String,
    #[serde(default, deserialize_with = "nullable")]
    pub result: Vec<VpcTaskResultDetailInfo>,
    #[serde(default, deserialize_with = "nullable")]
    pub request_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcTaskResultDetailInfo {
    #[serde(default, deserialize_with = "nullable")]
    pub resource_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
}

vpc_action!(DescribeVpcTaskResult => DescribeVpcTaskResultResponse, "DescribeVpcTaskResult");

/// `DescribeTaskResult` (EIP tasks): `TaskId` is an integer on the wire, though
/// AssociateAddress returns it as a string; it is kept as digits and sent as a number.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTaskResult {
    #[serde(serialize_with = "as_integer")]
    pub task_id: String,
}

fn as_integer<S: Serializer>(id: &str, s: S) -> Result<S::Ok, S::Error> {
    match id.trim().parse::<u64>() {
        Ok(n) => s.serialize_u64(n),
        Err(_) => Err(serde::ser::Error::custom(format!(
            "task id {id:?} is not a non-negative integer"
        ))),
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeTaskResultResponse {
    #[serde(default, deserialize_with = "string_or_number")]
    pub task_id: String,
    /// `SUCCESS`, `FAILED` or `RUNNING`.
    #[serde(default, deserialize_with = "nullable")]
    pub result: String,
    #[serde(default, deserialize_with = "nullable")]
    pub request_id: String,
}

vpc_action!(DescribeTaskResult => DescribeTaskResultResponse, "DescribeTaskResult");

/// How a waiter polls: the first pause, growth per poll, the longest pause.
pub(crate) type PollPolicy = Backoff;

/// The default polling of a task: 300 ms, growing by 1.6, at most 3 s.
pub(crate) const DEFAULT_POLL: Backoff = Backoff {
    initial: Duration::from_millis(300),
    factor: 1.6,
    max: Duration::from_secs(3),
};

/// Where a task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskStatus {
    Running,
    Success,
    Failed,
}

impl TaskStatus {
    /// Reads `SUCCESS` / `FAILED`; anything else (`RUNNING`, or a state we do not know) is
    /// still running: the deadline ends the wait.
    pub fn parse(s: &str) -> TaskStatus {
        match s.trim().to_ascii_uppercase().as_str() {
            "SUCCESS" => TaskStatus::Success,
            "FAILED" | "FAIL" => TaskStatus::Failed,
            _ => TaskStatus::Running,
        }
    }
}

/// Waits for a VPC task (the RequestId of HaVipAssociateAddressIp, MigratePrivateIpAddress, …)
/// until SUCCESS, FAILED (→ [`Error::TaskFailed`]) or the client's deadline.
pub async fn wait_vpc_task(
    client: &Client,
    request_id: &str,
) -> Result<DescribeVpcTaskResultResponse, Error> {
    wait_vpc_task_with(client, request_id, &DEFAULT_POLL).await
}

pub(crate) async fn wait_vpc_task_with(
    client: &Client,
    request_id: &str,
    poll: &PollPolicy,
) -> Result<DescribeVpcTaskResultResponse, Error> {
    let req = DescribeVpcTaskResult {
        task_id: request_id.to_string(),
    };
    wait(client, request_id, poll, |c| {
        let req = req.clone();
        async move {
            let r = c.call(&req).await?;
            let status = TaskStatus::parse(&r.status);
            let detail = if r.output.is_empty() {
                r.status.clone()
            } else {
                r.output.clone()
            };
            Ok((status, detail, r))
        }
    })
    .await
}

/// Waits for an EIP task (the `TaskId` of AssociateAddress / DisassociateAddress).
pub async fn wait_eip_task(
    client: &Client,
    task_id: &str,
) -> Result<DescribeTaskResultResponse, Error> {
    wait_eip_task_with(client, task_id, &DEFAULT_POLL).await
}

pub(crate) async fn wait_eip_task_with(
    client: &Client,
    task_id: &str,
    poll: &PollPolicy,
) -> Result<DescribeTaskResultResponse, Error> {
    if task_id.trim().parse::<u64>().is_err() {
        return Err(Error::Decode {
            message: format!("EIP task id {task_id:?} is not an integer"),
            request_id: None,
        });
    }
    let req = DescribeTaskResult {
        task_id: task_id.trim().to_string(),
    };
    wait(client, task_id, poll, |c| {
        let req = req.clone();
        async move {
            let r = c.call(&req).await?;
            let status = TaskStatus::parse(&r.result);
            let detail = r.result.clone();
            Ok((status, detail, r))
        }
    })
    .await
}

/// The polling loop shared by both waiters: every poll and pause stays inside one deadline.
async fn wait<T, F, Fut>(
    client: &Client,
    task_id: &str,
    poll: &PollPolicy,
    mut check: F,
) -> Result<T, Error>
where
    F: FnMut(Client) -> Fut,
    Fut: std::future::Future<Output = Result<(TaskStatus, String, T), Error>>,
{
    let start = Instant::now();
    let deadline = client.effective_deadline(start);
    let client = client.with_deadline(deadline);
    let mut polls = 0u32;
    loop {
        polls += 1;
        let (status, detail, value) = check(client.clone()).await?;
        match status {
            TaskStatus::Success => return Ok(value),
            TaskStatus::Failed => {
                return Err(Error::TaskFailed {
                    task_id: task_id.to_string(),
                    message: detail,
                })
            }
            TaskStatus::Running => {}
        }
        let pause = poll.delay(polls - 1);
        if Instant::now() + pause >= deadline {
            return Err(Error::DeadlineExceeded {
                budget: deadline.saturating_duration_since(start),
                attempts: polls,
                last: Some(Box::new(Error::TaskFailed {
                    task_id: task_id.to_string(),
                    message: format!("still {detail} after {polls} poll(s)"),
                })),
            });
        }
        tracing::debug!(
            task_id,
            polls,
            pause_ms = pause.as_millis() as u64,
            "task still running"
        );
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::cloud::{ClientConfig, Credentials, StaticProvider};
    use std::sync::Arc;

    /// A client that is never used to send: `wait` only takes its deadline.
    fn offline_client() -> Client {
        let creds = Credentials::new("AKIDtest", "key").unwrap();
        Client::new(
            ClientConfig::default(),
            Arc::new(StaticProvider::new(creds, "test")),
        )
        .unwrap()
    }

    fn poll() -> PollPolicy {
        PollPolicy {
            initial: Duration::from_millis(100),
            factor: 2.0,
            max: Duration::from_secs(1),
        }
    }

    /// A fake task that reports RUNNING `running` times, then `last`.
    async fn run_fake(
        client: &Client,
        running: u32,
        last: TaskStatus,
    ) -> (Result<u32, Error>, u32) {
        let polls = std::sync::atomic::AtomicU32::new(0);
        let r = wait(client, "task-1", &poll(), |_| {
            let n = polls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            async move {
                let status = if n > running {
                    last
                } else {
                    TaskStatus::Running
                };
                Ok((status, format!("poll {n}"), n))
            }
        })
        .await;
        (r, polls.load(std::sync::atomic::Ordering::SeqCst))
    }

    #[tokio::test(start_paused = true)]
    async fn waits_with_growing_pauses_until_success() {
        let start = Instant::now();
        let (r, polls) = run_fake(&offline_client(), 3, TaskStatus::Success).await;
        assert_eq!(r.unwrap(), 4);
        assert_eq!(polls, 4);
        // 100 + 200 + 400 ms of (virtual) pauses between the four polls.
        assert_eq!(start.elapsed(), Duration::from_millis(700));
    }

    #[tokio::test(start_paused = true)]
    async fn failed_task_is_an_error_naming_the_task() {
        let (r, _) = run_fake(&offline_client(), 1, TaskStatus::Failed).await;
        let e = r.unwrap_err();
        assert!(
            matches!(&e, Error::TaskFailed { task_id, message } if task_id == "task-1" && message == "poll 2"),
            "{e:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_task_running_past_the_deadline_stops_the_wait_in_time() {
        let start = Instant::now();
        let client = offline_client().with_deadline(start + Duration::from_secs(5));
        let (r, polls) = run_fake(&client, u32::MAX, TaskStatus::Success).await;
        let e = r.unwrap_err();
        assert_eq!(e.class(), crate::cloud::ErrorClass::Deadline, "{e:?}");
        assert!(
            start.elapsed() <= Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        assert!(polls >= 5, "{polls}");
        assert!(e.to_string().contains("still poll"), "{e}");
    }

    #[test]
    fn eip_task_id_goes_out_as_a_number() {
        let r = DescribeTaskResult {
            task_id: "12566700".into(),
        };
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"TaskId": 12566700})
        );
        let bad = DescribeTaskResult {
            task_id: "x1".into(),
        };
        assert!(serde_json::to_value(&bad).is_err());
    }

    #[test]
    fn statuses() {
        assert_eq!(TaskStatus::parse("SUCCESS"), TaskStatus::Success);
        assert_eq!(TaskStatus::parse("FAILED"), TaskStatus::Failed);
        assert_eq!(TaskStatus::parse("RUNNING"), TaskStatus::Running);
        assert_eq!(TaskStatus::parse("WHATEVER"), TaskStatus::Running);
    }

    #[test]
    fn decodes_task_results() {
        let r: DescribeVpcTaskResultResponse = serde_json::from_value(json!({
            "Status": "SUCCESS", "Output": "SUCCESS",
            "Result": [{"ResourceId": "eni-olifj433", "Status": "SUCCESS"}], "RequestId": "r"}))
        .unwrap();
        assert_eq!(r.result[0].resource_id, "eni-olifj433");
        let r: DescribeTaskResultResponse = serde_json::from_value(
            json!({"TaskId": 12566700, "Result": "SUCCESS", "RequestId": "r"}),
        )
        .unwrap();
        assert_eq!(r.task_id, "12566700");
    }
}
