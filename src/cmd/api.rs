//! `havip api SERVICE ACTION [JSON | -]`: one signed call, like tccli but fast, for on-call use
//! and scripts. Prints the `Response` object (RequestId included) as JSON on stdout.
//!
//! Exit 0 on success; 1 when the API (or the network) fails, with Code, Message and RequestId on
//! stderr; 2 for usage or configuration errors (invalid JSON: nothing is sent).

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use super::UsageError;
use crate::cli::GlobalArgs;
use crate::cloud::{self, ClientOptions, EnvVars};
use crate::config::DEFAULT_CONFIG_PATH;
use crate::failover::setup::{client_options, load_config, Overrides};

/// Send one signed TencentCloud API call and print its Response as JSON.
///
/// Example: havip api vpc DescribeHaVips '{"HaVipIds":["havip-1"]}'
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The service (product short name): vpc, cvm, cam, …
    pub service: String,
    /// The action, e.g. DescribeHaVips.
    pub action: String,
    /// Parameters as a JSON object; `-` reads them from stdin [default: {}].
    pub params: Option<String>,
    /// The API version [default: 2017-03-12 for vpc and cvm, 2019-01-16 for cam].
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub api_version: Option<String>,
}

/// The whole command's deadline when `--timeout` is not given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Known API versions per service; anything else needs `--api-version`.
pub fn default_version(service: &str) -> Option<&'static str> {
    match service {
        "vpc" | "cvm" => Some("2017-03-12"),
        "cam" => Some("2019-01-16"),
        "sts" | "tag" => Some("2018-08-13"),
        "clb" => Some("2018-03-17"),
        _ => None,
    }
}

/// Everything checked before any I/O beyond reading stdin.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub service: String,
    pub version: String,
    pub action: String,
    pub params: Value,
}

/// Validates the arguments; `stdin` is read only for `-`.
pub fn prepare(
    args: &Args,
    stdin: impl FnOnce() -> std::io::Result<String>,
) -> Result<Request, UsageError> {
    let service = args.service.trim();
    if service.is_empty()
        || !service
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return Err(UsageError(format!(
            "service {service:?} must be a product short name such as vpc, cvm or cam"
        )));
    }
    let action = args.action.trim();
    if action.is_empty() || !action.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(UsageError(format!(
            "action {action:?} must be an action name such as DescribeHaVips"
        )));
    }
    let version = match (&args.api_version, default_version(service)) {
        (Some(v), _) => {
            let v = v.trim();
            if v.is_empty() || !v.chars().all(|c| c.is_ascii_digit() || c == '-') {
                return Err(UsageError(format!(
                    "--api-version {v:?} must look like 2017-03-12"
                )));
            }
            v.to_string()
        }
        (None, Some(v)) => v.to_string(),
        (None, None) => {
            return Err(UsageError(format!(
                "no known API version for service {service:?}; pass --api-version"
            )))
        }
    };
    let text = match args.params.as_deref() {
        None => "{}".to_string(),
        Some("-") => {
            stdin().map_err(|e| UsageError(format!("cannot read parameters from stdin: {e}")))?
        }
        Some(t) => t.to_string(),
    };
    let params: Value = serde_json::from_str(if text.trim().is_empty() { "{}" } else { &text })
        .map_err(|e| UsageError(format!("parameters are not valid JSON: {e}")))?;
    if !params.is_object() {
        return Err(UsageError(
            "parameters must be a JSON object, e.g. '{\"Limit\": 10}'".into(),
        ));
    }
    Ok(Request {
        service: service.to_string(),
        version,
        action: action.to_string(),
        params,
    })
}

/// Runs the command: prepare (no network), build the client, call, print.
pub async fn run(args: &Args, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let start = tokio::time::Instant::now();
    let deadline = start + global.timeout_or(DEFAULT_TIMEOUT);
    let req = prepare(args, || {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map(|_| s)
    })?;
    let env = EnvVars::from_process();
    // On a node, the configuration says how to reach the cloud (endpoint, region, credentials):
    // use it when one is named, or when the default file exists; the flags still win.
    let overrides = Overrides::from_global(global);
    // (clap reads HAVIP_CONFIG into --config.)
    let mut opts = if global.config.is_some() || Path::new(DEFAULT_CONFIG_PATH).exists() {
        client_options(&load_config(global)?, &overrides)?
    } else {
        ClientOptions {
            endpoint: overrides.endpoint,
            region: overrides.region,
            request_timeout: overrides.request_timeout,
            ca_file: overrides.ca_file,
            ..Default::default()
        }
    };
    opts.deadline = global.timeout;
    let client = cloud::connect(&opts, &env).await?.with_deadline(deadline);
    let response = client
        .call_raw(&req.service, &req.version, &req.action, &req.params)
        .await
        .with_context(|| format!("{} {}", req.service, req.action))?;
    let text = serde_json::to_string_pretty(&response).context("cannot print the response")?;
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(service: &str, action: &str, params: Option<&str>) -> Args {
        Args {
            service: service.into(),
            action: action.into(),
            params: params.map(str::to_string),
            api_version: None,
        }
    }

    fn no_stdin() -> std::io::Result<String> {
        panic!("stdin must not be read")
    }

    #[test]
    fn versions_and_params() {
        let r = prepare(
            &args("vpc", "DescribeHaVips", Some(r#"{"HaVipIds":["havip-1"]}"#)),
            no_stdin,
        )
        .unwrap();
        assert_eq!(r.version, "2017-03-12");
        assert_eq!(r.params["HaVipIds"][0], "havip-1");
        let r = prepare(&args("cam", "GetUserAppId", None), no_stdin).unwrap();
        assert_eq!(
            (r.version.as_str(), r.params.clone()),
            ("2019-01-16", serde_json::json!({}))
        );
        let r = prepare(&args("vpc", "DescribeHaVips", Some("-")), || {
            Ok(" {\"Limit\": 1}\n".into())
        })
        .unwrap();
        assert_eq!(r.params["Limit"], 1);
        let mut a = args("foo", "Bar", None);
        a.api_version = Some("2020-01-01".into());
        assert_eq!(prepare(&a, no_stdin).unwrap().version, "2020-01-01");
    }

    #[test]
    fn usage_errors() {
        for (s, a, p) in [
            ("vpc", "DescribeHaVips", Some("{not json")),
            ("vpc", "DescribeHaVips", Some("[1,2]")),
            ("vpc", "DescribeHaVips", Some("\"x\"")),
            ("foo", "Bar", None),
            ("VPC!", "DescribeHaVips", None),
            ("vpc", "Describe HaVips", None),
            ("vpc", "", None),
        ] {
            assert!(prepare(&args(s, a, p), no_stdin).is_err(), "{s} {a} {p:?}");
        }
        let e = prepare(&args("vpc", "X", Some("-")), || {
            Err(std::io::Error::other("closed"))
        })
        .unwrap_err();
        assert!(e.0.contains("stdin"));
    }
}
