//! `havip takeover`: run the MASTER procedure now, on this node — for when keepalived moved but
//! the cloud did not. Recorded as a MASTER event, so it takes part in "latest wins" with
//! keepalived's own events. Asks for confirmation on a terminal unless `--yes`.

use std::process::ExitCode;

use anyhow::Result;

use super::{confirm, print_reports};
use crate::context::Context;
use crate::failover::{handle_events, Trigger};
use crate::state::VrrpState;

/// Make the cloud show this node as the VIP's holder now (the MASTER procedure).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this VIP [default: every configured VIP].
    #[arg(long, value_name = "NAME")]
    pub vip: Option<String>,
    /// Read the cloud and print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Runs `havip takeover`.
pub async fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let cfg = ctx.managed_config()?;
    let vips: Vec<_> = cfg
        .select(args.vip.as_deref())?
        .into_iter()
        .cloned()
        .collect();
    if !args.dry_run {
        let names: Vec<&str> = vips.iter().map(|v| v.name.as_str()).collect();
        let q = format!(
            "take over {} on this node (runs the MASTER procedure against the cloud)?",
            names.join(", ")
        );
        if !confirm(&q, args.yes)? {
            eprintln!("havip: takeover cancelled");
            return Ok(ExitCode::from(1));
        }
    }
    let engine = ctx.engine().await?;
    let reports = handle_events(
        engine,
        vips,
        VrrpState::Master,
        Trigger::Takeover,
        args.dry_run,
        ctx.flags().deadline,
    )
    .await;
    Ok(print_reports(&reports, args.dry_run))
}
