//! One module per subcommand; [`run`] dispatches, and [`exit_code`] is the one place errors
//! become exit statuses.
//!
//! Exit statuses: 0 success; 1 the operation failed (API error, network, deadline); 2 usage or
//! configuration error. Commands with richer statuses (check, status, audit) return their own
//! `ExitCode` as `Ok`.

pub mod api;
pub mod check;
pub mod config;
pub mod failover;
pub mod journal;
pub mod notify;
pub mod takeover;

use std::process::ExitCode;

use crate::cli::Cli;
use crate::cloud;

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Send one signed TencentCloud API call and print its Response as JSON.
    Api(api::Args),
    /// Probe the service for keepalived's vrrp_script; fails while drained, fails closed.
    Check(check::CheckArgs),
    /// keepalived's notify hook: record the event; on MASTER make the cloud follow and confirm.
    Notify(notify::Args),
    /// Run the MASTER procedure now on this node (keepalived moved but the cloud did not).
    Takeover(takeover::Args),
    /// Planned switch away from this node: drain, wait for the peer, report the time.
    Failover(failover::Args),
    /// Show recent failover history from the journal.
    Journal(journal::Args),
    /// Validate and show the configuration (`havip config check`).
    Config(config::Args),
}

/// A usage error: the command line (or its JSON) is wrong. Exit 2, nothing was sent.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Api(args) => api::run(args, &cli.global).await,
        Command::Check(args) => check::run(args, &cli.global).await,
        Command::Notify(args) => notify::run(args, &cli.global).await,
        Command::Takeover(args) => takeover::run(args, &cli.global).await,
        Command::Failover(args) => failover::run(args, &cli.global).await,
        Command::Journal(args) => journal::run(args, &cli.global).await,
        Command::Config(args) => config::run(args, &cli.global).await,
    }
}

/// Maps an error to the exit status: 2 for usage, configuration and credentials problems (an
/// untrusted TLS certificate included: the fix is `--ca-file`), 1 for everything else.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.downcast_ref::<UsageError>().is_some() {
            return 2;
        }
        if let Some(e) = cause.downcast_ref::<cloud::Error>() {
            return match e {
                cloud::Error::Config(_)
                | cloud::Error::Credentials(_)
                | cloud::Error::Tls { .. } => 2,
                _ => 1,
            };
        }
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn exit_codes() {
        let usage: anyhow::Error = UsageError("bad".into()).into();
        assert_eq!(exit_code(&usage), 2);
        let cfg = Err::<(), _>(cloud::Error::Config("x".into()))
            .context("setting up")
            .unwrap_err();
        assert_eq!(exit_code(&cfg), 2);
        let creds: anyhow::Error = cloud::Error::Credentials("x".into()).into();
        assert_eq!(exit_code(&creds), 2);
        let api: anyhow::Error = cloud::Error::Api {
            code: "InvalidParameter".into(),
            message: "m".into(),
            request_id: None,
        }
        .into();
        assert_eq!(exit_code(&api), 1);
        assert_eq!(exit_code(&anyhow::anyhow!("other")), 1);
    }
}
