//! `havip failover`: a planned switch, run on the holder. Sets this VIP's drain flag (so
//! `havip check` fails and keepalived hands over), waits until the cloud shows a peer holding
//! the VIP (and the EIP still bound), prints how long it took, and clears the flag unless
//! `--keep-drained`. Refuses when this node is not the holder or no peer may take the VIP.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use super::{confirm, print_reports, UsageError};
use crate::context::Context;
use crate::failover::{planned_failover, FailoverOpts};

/// How long to wait for the peer when `--timeout` is not given.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Move the VIP away from this node on purpose (maintenance), and time it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The VIP to move [required when several are configured].
    #[arg(long, value_name = "NAME")]
    pub vip: Option<String>,
    /// Leave the drain flag in place afterwards (the node stays out of service).
    #[arg(long)]
    pub keep_drained: bool,
    /// Check that a failover is possible and print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Runs `havip failover` (`--timeout`, the global flag, bounds the wait; default 60 s).
pub async fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let cfg = ctx.managed_config()?;
    let vip = match (&args.vip, cfg.vips.as_slice()) {
        (None, [only]) => only.clone(),
        (None, _) => {
            return Err(UsageError(format!(
                "failover: several VIPs are configured ({}); name one with --vip",
                cfg.vips
                    .iter()
                    .map(|v| v.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .into())
        }
        (Some(n), _) => cfg.select(Some(n))?[0].clone(),
    };
    if !args.dry_run
        && !confirm(
            &format!(
                "move {} away from this node (drain it and wait for the peer)?",
                vip.name
            ),
            args.yes,
        )?
    {
        eprintln!("havip: failover cancelled");
        return Ok(ExitCode::from(1));
    }
    let engine = ctx.engine().await?;
    let opts = FailoverOpts {
        timeout: ctx.flags().deadline.unwrap_or(DEFAULT_TIMEOUT),
        keep_drained: args.keep_drained,
        dry_run: args.dry_run,
    };
    let report = planned_failover(engine, vip, opts).await;
    Ok(print_reports(&[report], args.dry_run))
}
