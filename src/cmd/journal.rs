//! `havip journal`: the recent history of events and attempts, readable (or as JSON lines).

use std::process::ExitCode;

use anyhow::Result;

use crate::context::Context;
use crate::journal::{render, Journal};

/// Show recent failover history: events, plans, API calls with RequestIds, verdicts.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this VIP.
    #[arg(long, value_name = "NAME")]
    pub vip: Option<String>,
    /// How many records (the most recent).
    #[arg(short = 'n', long = "lines", value_name = "N", default_value_t = 20)]
    pub n: usize,
    /// Print the records as JSON lines, as stored.
    #[arg(long)]
    pub json: bool,
}

/// Runs `havip journal`.
pub async fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let cfg = ctx.config()?;
    let j = Journal::new(&cfg.journal);
    let (recs, damaged) = j.tail(args.vip.as_deref(), args.n)?;
    if recs.is_empty() && !args.json {
        println!("no journal records in {}", j.path().display());
    }
    for r in &recs {
        if args.json {
            println!("{}", serde_json::to_string(r)?);
        } else {
            print!("{}", render(r));
        }
    }
    if damaged > 0 {
        eprintln!(
            "havip: skipped {damaged} damaged line(s) in {}",
            j.path().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
