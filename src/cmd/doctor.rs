//! `havip doctor`: checks the deployment before it is trusted (`doctor::run`), one line per
//! check, or prints the minimal CAM policy (`--policy`). Read-only: only `Describe*` calls.
//!
//! Exit codes: 0 every check passed; 1 a warning; 2 a failure (also: the configuration is
//! invalid). `--policy` exits 0 once the policy is printed, 2 when the configuration is invalid.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use crate::cloud::credentials::ENV_REGION;
use crate::context::Context;
use crate::doctor::{self, policy, Options};
use crate::keepalived::DEFAULT_PATH;

/// Check this node's deployment: configuration, credentials, endpoint, clock, permissions,
/// the node and its VIPs in the cloud, keepalived's configuration, and the state directory.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// keepalived's configuration file (includes are followed).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_PATH)]
    pub keepalived_conf: PathBuf,
    /// Print the minimal CAM policy for the configured strategies (JSON) and exit.
    #[arg(long)]
    pub policy: bool,
    /// The report as JSON (the shape is documented in the README).
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    if args.policy {
        let cfg = ctx.managed_config()?;
        let region = ctx
            .flags()
            .region
            .clone()
            .or_else(|| cfg.region.clone())
            .or_else(|| ctx.env().get(ENV_REGION).map(str::to_string))
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "*".into());
        println!(
            "{}",
            serde_json::to_string_pretty(&policy::policy(&cfg, &region))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let report = doctor::run(
        ctx,
        &Options {
            keepalived_conf: args.keepalived_conf.clone(),
        },
    )
    .await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.render_text());
    }
    Ok(ExitCode::from(report.exit_code()))
}
