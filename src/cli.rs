//! The command line: global flags shared by every subcommand, and the subcommand itself.
//!
//! Parsing only validates shapes (STYLE.md §2); reading the environment, files and the network
//! happens in the subcommands. Global flags are accepted before or after the subcommand.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::cloud::ClientOptions;
use crate::cmd::Command;

/// Keeps a Tencent Cloud HAVIP (and its EIP) where keepalived says it should be, and proves it.
#[derive(Debug, Parser)]
#[command(name = "havip", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand accepts (listed apart in each subcommand's help).
#[derive(Clone, Debug, Default, clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// API endpoint for every service, instead of `https://SERVICE.tencentcloudapi.com` ({service}
    /// in the URL is replaced by the service); plain http only for loopback addresses.
    #[arg(long, global = true, env = "HAVIP_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
    /// Region, e.g. ap-guangzhou [default: $TENCENTCLOUD_REGION, else the instance's region
    /// from the metadata service]. An empty value omits X-TC-Region (global APIs). Only
    /// `havip audit` takes it more than once (one region each).
    #[arg(long, global = true, value_name = "REGION", action = clap::ArgAction::Append)]
    pub region: Vec<String>,
    /// The whole command's deadline, retries included, e.g. 30s or 1m [default: the VIP's
    /// `deadline` for notify and takeover, 60s for failover, 30s for api, 2s for check, 10s
    /// for status].
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// How long one HTTP request may take before it is abandoned and retried [default: 5s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub request_timeout: Option<Duration>,
    /// Log each request's canonical form (secrets and signature redacted) and every retry.
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// An extra trusted CA certificate (PEM), e.g. tcsim's or an inspecting proxy's.
    #[arg(long, global = true, env = "HAVIP_CA_FILE", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// The configuration file [default: /etc/havip/havip.toml].
    #[arg(long, global = true, env = "HAVIP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line (tracing-subscriber's JSON format), for journald pipelines.
    Json,
}

impl Cli {
    /// The log format and whether this is the long-running daemon (which logs its decisions at
    /// info level by default; one-shot commands log warnings only).
    pub fn log_settings(&self) -> (LogFormat, bool) {
        match &self.command {
            Command::Watch(args) => (args.log_format, true),
            _ => (LogFormat::Text, false),
        }
    }
}

impl GlobalArgs {
    /// What the flags say about reaching the cloud, as client options (`None` fields are left to
    /// the configuration file and the environment). `deadline` is `--timeout`.
    pub(crate) fn client_options(&self) -> ClientOptions {
        ClientOptions {
            endpoint: self.endpoint.clone().filter(|s| !s.is_empty()),
            region: self.region.last().cloned(),
            ca_file: self.ca_file.clone(),
            request_timeout: self.request_timeout,
            deadline: self.timeout,
            ..ClientOptions::default()
        }
    }
}

/// Why a duration flag was refused (clap prints it after the flag's name).
#[derive(Debug, thiserror::Error)]
pub enum DurationError {
    /// A bare number that is negative, too large or not finite.
    #[error("{0:?} is not a valid number of seconds")]
    Seconds(String),
    /// Not a humantime duration.
    #[error("{text:?}: {source}")]
    Humantime {
        /// The flag's value.
        text: String,
        /// What humantime said.
        #[source]
        source: humantime::DurationError,
    },
    /// Zero.
    #[error("must be greater than zero")]
    Zero,
}

/// A duration as `30s`, `1m30s`, `500ms` (humantime), or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let s = s.trim();
    let d = if let Ok(secs) = s.parse::<f64>() {
        if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
            return Err(DurationError::Seconds(s.to_owned()));
        }
        Duration::from_secs_f64(secs)
    } else {
        humantime::parse_duration(s).map_err(|source| DurationError::Humantime {
            text: s.to_owned(),
            source,
        })?
    };
    if d.is_zero() {
        return Err(DurationError::Zero);
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2.5").unwrap(), Duration::from_millis(2500));
        for bad in ["0", "0s", "-1", "abc", "NaN", "inf", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn global_flags_before_or_after_the_subcommand() {
        let a = Cli::try_parse_from(["havip", "--region", "ap-x", "api", "vpc", "DescribeHaVips"])
            .unwrap();
        let b = Cli::try_parse_from([
            "havip",
            "api",
            "vpc",
            "DescribeHaVips",
            "--region",
            "ap-x",
            "--timeout",
            "3s",
        ])
        .unwrap();
        assert_eq!(a.global.region, ["ap-x"]);
        assert_eq!(b.global.region, ["ap-x"]);
        assert_eq!(b.global.timeout, Some(Duration::from_secs(3)));
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
