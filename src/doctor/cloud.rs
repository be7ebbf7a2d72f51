//! The checks of reaching the cloud: credentials found (and which source), the region and
//! endpoint answering, the clock against the API's `Date`, and each read action the configured
//! strategies need answering (not `UnauthorizedOperation`).

use serde_json::{json, Value};

use super::{Check, Report, Status};
use crate::cloud::{self, client::default_endpoint, ActionName, ErrorClass};
use crate::failover::{vip, Engine};

/// Clock skew above this many seconds is a warning: signatures still pass, but the margin is
/// gone and `FlushedTime` comparisons drift.
pub const SKEW_WARN_SECS: i64 = 60;
/// Above this the API refuses signatures (`AuthFailure.SignatureExpire`, API.md §1.4).
pub const SKEW_FAIL_SECS: i64 = 300;

/// The first call's outcome: whether the API answered at all (then the permission checks run).
pub async fn checks(engine: &Engine, report: &mut Report) -> bool {
    let client = &engine.client;
    let endpoint = client
        .config()
        .endpoint
        .clone()
        .unwrap_or_else(|| default_endpoint("vpc"));
    let region = client.region().to_string();
    let hello = client
        .call_raw(
            "vpc",
            cloud::VPC_VERSION,
            "DescribeHaVips",
            &json!({"Limit": 1}),
        )
        .await;
    let source = client.credentials_source();
    let creds = credentials(&hello, &source);
    let ep = endpoint_check(&hello, &endpoint, &region);
    // Permissions mean something only for accepted credentials at an endpoint that answers.
    let usable = creds.status == Status::Pass && ep.status == Status::Pass;
    report.push(creds);
    report.push(ep);
    report.push(clock(client.server_clock_offset()));
    if !usable {
        report.push(Check::skip(
            "permission",
            "needs accepted credentials and an endpoint that answers (see above)",
        ));
        return false;
    }
    for action in read_actions(engine) {
        report.push(
            permission(client, action, &source)
                .await
                .about(action.to_string()),
        );
    }
    true
}

/// The read actions the configured VIPs' strategies send, once each.
pub fn read_actions(engine: &Engine) -> Vec<ActionName> {
    let mut all: Vec<ActionName> = engine
        .cfg
        .vips
        .iter()
        .flat_map(|v| vip::actions(&v.target))
        .filter(|a| !a.mutating)
        .collect();
    all.sort();
    all.dedup();
    all
}

fn is_key_problem(code: &str) -> bool {
    matches!(
        code,
        "AuthFailure.SecretIdNotFound"
            | "AuthFailure.SignatureFailure"
            | "AuthFailure.InvalidSecretId"
            | "AuthFailure.TokenFailure"
            | "AuthFailure.InvalidAuthorization"
            | "AuthFailure.MFAFailure"
    )
}

/// Whether the API itself answered (an error envelope counts; a transport failure, an
/// untrusted certificate, a gateway's page or a deadline without an answer do not).
fn answered(hello: &Result<Value, cloud::Error>) -> bool {
    match hello {
        Ok(_) => true,
        Err(e) => matches!(e, cloud::Error::Api { .. } | cloud::Error::ClockSkew { .. }),
    }
}

fn credentials(hello: &Result<Value, cloud::Error>, source: &str) -> Check {
    match hello {
        Err(cloud::Error::Credentials(m)) => Check::fail(
            "credentials",
            format!("none found: {}", crate::bounds::clip_to(m, 400)),
            "set [credentials] in the configuration, TENCENTCLOUD_SECRET_ID/_KEY, a profile file, or bind a CAM role to the instance",
        ),
        Err(e) if e.code().is_some_and(is_key_problem) => Check::fail(
            "credentials",
            format!("from {source}: refused ({})", e.label()),
            "check the SecretId/SecretKey pair (no stray whitespace), that the key is enabled, and a token's expiry",
        ),
        _ if answered(hello) => {
            Check::pass("credentials", format!("from {source}, accepted by the API"))
        }
        _ => Check::skip(
            "credentials",
            format!("from {source}; not confirmed: the API did not answer"),
        ),
    }
}

fn endpoint_check(hello: &Result<Value, cloud::Error>, endpoint: &str, region: &str) -> Check {
    let here = format!("{endpoint} (region {region})");
    match hello {
        Ok(_) => Check::pass("endpoint", format!("{here} answers")),
        Err(e) if e.code() == Some("UnsupportedRegion") => Check::fail(
            "endpoint",
            format!("{here}: the region is not served ({})", e.label()),
            "set `region` in the configuration to the VPC's region (e.g. ap-guangzhou)",
        ),
        Err(cloud::Error::Credentials(_)) => Check::skip(
            "endpoint",
            format!("{here}: no call made without credentials"),
        ),
        Err(e) if answered(hello) => {
            Check::pass("endpoint", format!("{here} answers ({})", e.label()))
        }
        Err(e) => Check::fail(
            "endpoint",
            format!("{here} unreachable: {}", crate::error_chain::error_chain(e)),
            "check DNS, routes and proxies to the endpoint (HTTPS, port 443), and `endpoint`/`ca_file` in the configuration",
        ),
    }
}

/// The clock check from the server's clock minus ours (`None`: no `Date` came back).
pub fn clock(offset: Option<i64>) -> Check {
    let Some(offset) = offset else {
        return Check::skip("clock", "no API response carried a Date header");
    };
    let msg = match offset {
        0 => "this host's clock agrees with the API's Date".to_string(),
        o if o > 0 => format!("this host's clock is {o} s behind the API's"),
        o => format!(
            "this host's clock is {} s ahead of the API's",
            o.unsigned_abs()
        ),
    };
    let fix = "synchronise the clock (chrony or systemd-timesyncd with Tencent's NTP, ntpupdate.tencentyun.com)";
    if offset.abs() > SKEW_FAIL_SECS {
        Check::fail(
            "clock",
            format!("{msg}: beyond the API's {SKEW_FAIL_SECS} s signature window (havip re-signs with the server's time, once per call)"),
            fix,
        )
    } else if offset.abs() > SKEW_WARN_SECS {
        Check::warn(
            "clock",
            format!("{msg} (more than {SKEW_WARN_SECS} s)"),
            fix,
        )
    } else {
        Check::pass("clock", msg)
    }
}

/// The parameters of a probe of `action`: valid enough that only CAM can refuse it.
fn probe_params(action: &str) -> Value {
    match action {
        "DescribeVpcTaskResult" => json!({"TaskId": "00000000-0000-0000-0000-000000000000"}),
        "DescribeTaskResult" => json!({"TaskId": 1}),
        _ => json!({"Limit": 1}),
    }
}

/// Whether the API lets these credentials call `action` (a read; the probe changes nothing).
async fn permission(client: &cloud::Client, action: ActionName, source: &str) -> Check {
    let probe = client
        .call_raw(
            action.service,
            cloud::VPC_VERSION,
            action.action,
            &probe_params(action.action),
        )
        .await;
    match probe {
        Ok(_) => Check::pass("permission", format!("{action} allowed")),
        Err(e)
            if e.code()
                .is_some_and(|c| c.ends_with("UnauthorizedOperation")) =>
        {
            let first = e
                .api_error()
                .map(|(_, m, _)| m.lines().next().unwrap_or("").to_string())
                .unwrap_or_default();
            Check::fail(
                "permission",
                format!("{action} denied ({}): {}", e.label(), crate::bounds::clip(&first)),
                format!("allow {action} in the CAM policy of the credentials from {source}; `havip doctor --policy` prints the minimal policy"),
            )
        }
        Err(e) if e.code().is_some_and(|c| c.starts_with("AuthFailure")) => Check::fail(
            "permission",
            format!(
                "{action} not confirmed: the API refused the request ({})",
                e.label()
            ),
            "fix the credentials (see the credentials check), then run doctor again",
        ),
        // A refusal of the probe's parameters or resource comes after CAM's check: allowed.
        Err(e @ cloud::Error::Api { .. })
            if matches!(e.class(), ErrorClass::Client | ErrorClass::NotFound) =>
        {
            Check::pass(
                "permission",
                format!("{action} allowed (the probe answered {})", e.label()),
            )
        }
        Err(e) => Check::fail(
            "permission",
            format!(
                "{action} not confirmed: {}",
                crate::error_chain::error_chain(&e)
            ),
            "run `havip doctor` again once the API answers this action",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn clock_thresholds() {
        let s = |o| clock(Some(o)).status;
        assert!(clock(Some(0)).message.contains("agrees"));
        assert!(clock(Some(-70)).message.contains("70 s ahead"));
        assert_eq!(
            [s(0), s(60), s(-61), s(300), s(301), s(-900)],
            [
                Status::Pass,
                Status::Pass,
                Status::Warn,
                Status::Warn,
                Status::Fail,
                Status::Fail
            ]
        );
        assert_eq!(clock(None).status, Status::Skip);
        assert!(clock(Some(120)).message.contains("120 s behind"));
    }
}
