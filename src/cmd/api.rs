//! `havip api SERVICE ACTION [JSON | -]`: one signed call, like tccli but fast, for on-call use
//! and scripts. Prints the `Response` object (RequestId included) as JSON on stdout.
//!
//! Exit 0 on success; 1 when the API (or the network) fails, with Code, Message and RequestId on
//! stderr; 2 for usage or configuration errors (invalid JSON, parameters over
//! [`MAX_PARAMS_BYTES`]: nothing is sent).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use super::UsageError;
use crate::bounds::{clip, clip_quoted, read_capped};
use crate::context::Context;

/// Send one signed TencentCloud API call and print its Response as JSON.
///
/// Example: havip api vpc DescribeHaVips '{"HaVipIds":["havip-1"]}'
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The service (product short name): vpc, cvm, cam, …
    pub service: String,
    /// The action, e.g. DescribeHaVips.
    pub action: String,
    /// Parameters as a JSON object; `-` reads them from stdin [default: {}]. At most 1 MiB
    /// (the API takes request bodies up to 10 MB); larger is refused and nothing is sent.
    pub params: Option<String>,
    /// The API version [default: 2017-03-12 for vpc and cvm, 2019-01-16 for cam].
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub api_version: Option<String>,
}

/// The largest parameters accepted, as given (argument or stdin). The API takes POST bodies up
/// to 10 MB; havip's own requests are a few hundred bytes, and an on-call command far beyond
/// this is a mistake (a wrong file piped in) better refused here than uploaded.
pub(crate) const MAX_PARAMS_BYTES: u64 = 1024 * 1024;
/// The longest service and action names accepted (the API's are well under 64 characters).
pub(crate) const MAX_NAME_CHARS: usize = 64;

/// The whole command's deadline when `--timeout` is not given.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

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

/// Why `havip api`'s arguments were refused: a usage error (exit 2), nothing was sent.
#[derive(Debug, thiserror::Error)]
pub enum ArgsError {
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error("cannot read parameters from stdin: {0}")]
    Stdin(#[source] std::io::Error),
    #[error("parameters are not valid JSON: {}", crate::bounds::clip(&.0.to_string()))]
    Json(#[source] serde_json::Error),
}

/// Validates the arguments; `stdin` is read only for `-`, and is given the cap: it returns at
/// most `MAX_PARAMS_BYTES + 1` bytes (see [`read_stdin`]), so an endless pipe cannot exhaust
/// memory.
pub fn prepare(
    args: &Args,
    stdin: impl FnOnce(u64) -> std::io::Result<Vec<u8>>,
) -> Result<Request, ArgsError> {
    let service = args.service.trim();
    if service.is_empty()
        || service.len() > MAX_NAME_CHARS
        || !service
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        return Err(UsageError(format!(
            "service {} must be a product short name such as vpc, cvm or cam",
            clip_quoted(service)
        ))
        .into());
    }
    let action = args.action.trim();
    if action.is_empty()
        || action.len() > MAX_NAME_CHARS
        || !action.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(UsageError(format!(
            "action {} must be an action name such as DescribeHaVips",
            clip_quoted(action)
        ))
        .into());
    }
    let version = match (&args.api_version, default_version(service)) {
        (Some(v), _) => {
            let v = v.trim();
            if v.is_empty()
                || v.len() > MAX_NAME_CHARS
                || !v.chars().all(|c| c.is_ascii_digit() || c == '-')
            {
                return Err(UsageError(format!(
                    "--api-version {} must look like 2017-03-12",
                    clip_quoted(v)
                ))
                .into());
            }
            v.to_string()
        }
        (None, Some(v)) => v.to_string(),
        (None, None) => {
            return Err(UsageError(format!(
                "no known API version for service {service:?}; pass --api-version"
            ))
            .into())
        }
    };
    let too_large = |from: &str| -> ArgsError {
        UsageError(format!(
            "parameters {from} are {}; nothing was sent",
            crate::bounds::too_large(MAX_PARAMS_BYTES)
        ))
        .into()
    };
    let bytes: Vec<u8> = match args.params.as_deref() {
        None => b"{}".to_vec(),
        Some("-") => stdin(MAX_PARAMS_BYTES).map_err(|e| {
            if e.kind() == std::io::ErrorKind::FileTooLarge {
                too_large("from stdin")
            } else {
                ArgsError::Stdin(e)
            }
        })?,
        Some(t) => t.as_bytes().to_vec(),
    };
    if bytes.len() as u64 > MAX_PARAMS_BYTES {
        return Err(too_large(if args.params.as_deref() == Some("-") {
            "from stdin"
        } else {
            "given as the argument"
        }));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| UsageError("parameters are not UTF-8 text".into()))?;
    let params: Value = serde_json::from_str(if text.trim().is_empty() { "{}" } else { text })
        .map_err(ArgsError::Json)?;
    if !params.is_object() {
        return Err(
            UsageError("parameters must be a JSON object, e.g. '{\"Limit\": 10}'".into()).into(),
        );
    }
    Ok(Request {
        service: service.to_string(),
        version,
        action: action.to_string(),
        params,
    })
}

/// Reads stdin, but at most `cap` bytes (one more is an error naming the cap).
pub(crate) fn read_stdin(cap: u64) -> std::io::Result<Vec<u8>> {
    read_capped(std::io::stdin().lock(), cap)
}

/// Runs the command: prepare (no network), build the client, call, print.
pub async fn run(args: &Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let start = tokio::time::Instant::now();
    let deadline = start + ctx.flags().deadline.unwrap_or(DEFAULT_TIMEOUT);
    let req = prepare(args, read_stdin)?;
    // On a node, the configuration says how to reach the cloud (endpoint, region, credentials):
    // it is used when one is named, or when the default file exists; the flags still win.
    let cfg = ctx.config_if_present()?;
    let client = ctx.client(cfg.as_deref()).await?.with_deadline(deadline);
    let response = client
        .call_raw(&req.service, &req.version, &req.action, &req.params)
        .await
        .with_context(|| format!("{} {}", req.service, clip(&req.action)))?;
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

    fn no_stdin(_cap: u64) -> std::io::Result<Vec<u8>> {
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
        let r = prepare(&args("vpc", "DescribeHaVips", Some("-")), |_| {
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
        let e = prepare(&args("vpc", "X", Some("-")), |_| {
            Err(std::io::Error::other("closed"))
        })
        .unwrap_err();
        assert!(matches!(e, ArgsError::Stdin(_)), "{e}");
        assert!(e.to_string().contains("stdin"));
    }

    /// Issue 7: 50 MB of valid JSON went to the server before it refused them.
    #[test]
    fn parameters_larger_than_the_cap_are_refused_before_sending() {
        let big = format!(
            "{{\"Filters\":\"{}\"}}",
            "x".repeat(MAX_PARAMS_BYTES as usize)
        );
        let e = prepare(&args("vpc", "DescribeHaVips", Some(&big)), no_stdin)
            .unwrap_err()
            .to_string();
        assert!(e.contains("1 MiB") && e.contains("nothing was sent"), "{e}");
        // From stdin: the reader is handed the cap and reads no more than one byte past it.
        let e = prepare(&args("vpc", "DescribeHaVips", Some("-")), |cap| {
            read_capped(std::io::repeat(b' '), cap)
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("from stdin") && e.contains("1 MiB"), "{e}");
        // Exactly the cap is fine.
        let mut at_cap = b"{}".to_vec();
        at_cap.resize(MAX_PARAMS_BYTES as usize, b' ');
        assert!(prepare(&args("vpc", "DescribeHaVips", Some("-")), |cap| {
            read_capped(&at_cap[..], cap)
        })
        .is_ok());
    }

    /// Issue 7: a 100 KB action or service name was echoed whole in the usage error.
    #[test]
    fn long_names_are_refused_and_truncated_in_the_message() {
        let long = "A".repeat(100_000);
        for a in [args("vpc", &long, None), args(&long, "X", None), {
            let mut a = args("vpc", "X", None);
            a.api_version = Some("1".repeat(100_000));
            a
        }] {
            let e = prepare(&a, no_stdin).unwrap_err().to_string();
            assert!(e.len() < 400 && e.contains("(100000 bytes)"), "{e}");
        }
    }
}
