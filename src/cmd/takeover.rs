//! `havip takeover`: run the MASTER procedure now, on this node — for when keepalived moved but
//! the cloud did not. Recorded as a MASTER event, so it takes part in "latest wins" with
//! keepalived's own events. Asks for confirmation on a terminal unless `--yes`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Result;

use super::notify::{print_reports, run_all};
use super::UsageError;
use crate::cli::GlobalArgs;
use crate::failover::run::Trigger;
use crate::failover::setup;
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

/// Asks `question` on the terminal; refuses (usage error) without a terminal, so a script
/// never changes the cloud by accident: it must say `--yes`.
pub fn confirm(question: &str, yes: bool) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        return Err(UsageError(format!(
            "{question}: refusing without confirmation because stdin is not a terminal; pass --yes"
        ))
        .into());
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Runs `havip takeover`.
pub async fn run(args: &Args, global: &GlobalArgs) -> Result<ExitCode> {
    let cfg = setup::load_config(global)?;
    let vips: Vec<_> = cfg
        .select(args.vip.as_deref())
        .map_err(UsageError)?
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
    let engine = setup::engine(global).await?;
    let reports = run_all(
        engine,
        vips,
        VrrpState::Master,
        Trigger::Takeover,
        args.dry_run,
        global,
    )
    .await;
    Ok(print_reports(&reports, args.dry_run))
}
