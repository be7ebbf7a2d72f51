//! One module per subcommand; [`run`] resolves the context once and dispatches, and
//! [`exit_code`] is the one place errors become exit statuses. Commands do not import one
//! another: what two share (printing reports, asking for confirmation) lives here.
//!
//! Exit statuses: 0 success; 1 the operation failed (API error, network, deadline); 2 usage or
//! configuration error; 3 (engine commands) confirmed, with local bookkeeping degraded.
//! Commands with richer statuses (check) return their own `ExitCode` as `Ok`.

pub mod api;
pub mod audit;
pub mod check;
pub mod config;
pub mod doctor;
pub mod failover;
pub mod journal;
pub mod notify;
pub mod status;
pub mod takeover;
pub mod watch;

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use crate::cli::Cli;
use crate::cloud::{self, EnvVars};
use crate::context::{self, ConfigSource, Context};
use crate::failover::Report;

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
    /// Check the deployment before trusting it: PASS/WARN/FAIL per check, with the fix.
    Doctor(doctor::Args),
    /// Where each VIP stands: keepalived, this node and the cloud, one verdict (a monitoring plugin).
    Status(status::Args),
    /// The daemon: keep confirming each VIP, repair drift on the MASTER, serve /metrics.
    Watch(watch::Args),
    /// Scan EIPs and HAVIPs for idle billing and failover readiness (read-only; for cron).
    Audit(audit::Args),
}

/// A usage error: the command line (or its JSON) is wrong. Exit 2, nothing was sent.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Runs the parsed command line: flags, then the environment, then (on demand) the file.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.global.region.len() > 1 && !matches!(cli.command, Command::Audit(_)) {
        return Err(UsageError(
            "--region is given more than once; only `havip audit` scans several regions".into(),
        )
        .into());
    }
    let ctx = Context::new(
        cli.global.client_options(),
        ConfigSource::new(cli.global.config.as_deref()),
        EnvVars::from_process_with(&[crate::config::STATE_DIR_ENV, status::NO_COLOR_ENV]),
    )
    .with_regions(cli.global.region.clone());
    match &cli.command {
        Command::Api(args) => api::run(args, &ctx).await,
        Command::Check(args) => check::run(args, &ctx).await,
        Command::Notify(args) => notify::run(args, &ctx).await,
        Command::Takeover(args) => takeover::run(args, &ctx).await,
        Command::Failover(args) => failover::run(args, &ctx).await,
        Command::Journal(args) => journal::run(args, &ctx).await,
        Command::Config(args) => config::run(args, &ctx).await,
        Command::Doctor(args) => doctor::run(args, &ctx).await,
        Command::Status(args) => status::run(args, &ctx).await,
        Command::Watch(args) => watch::run(args, &ctx).await,
        Command::Audit(args) => audit::run(args, &ctx).await,
    }
}

/// Maps an error to the exit status, from its kind: 2 for usage, configuration and credentials
/// problems (an untrusted TLS certificate included: the fix is `--ca-file`), 1 for the rest.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause.downcast_ref::<UsageError>().is_some()
            || cause.downcast_ref::<crate::config::ConfigError>().is_some()
            || cause.downcast_ref::<crate::config::UnknownVip>().is_some()
            || cause.downcast_ref::<api::ArgsError>().is_some()
        {
            return 2;
        }
        if let Some(e) = cause.downcast_ref::<context::Error>() {
            return if e.is_setup() { 2 } else { 1 };
        }
        if let Some(e) = cause.downcast_ref::<cloud::Error>() {
            return if e.is_setup() { 2 } else { 1 };
        }
    }
    1
}

/// Exit status when the cloud work ended well but local bookkeeping (state file, lock,
/// journal) did not keep up: the failover happened, and the operator must still hear that
/// this node's records are incomplete.
pub(crate) const EXIT_LOCAL_DEGRADED: u8 = 3;

/// Prints one block per VIP and returns the exit code: 1 if any failed or is UNKNOWN, else
/// [`EXIT_LOCAL_DEGRADED`] if any run's local bookkeeping failed, else 0.
pub(crate) fn print_reports(reports: &[Report], dry_run: bool) -> ExitCode {
    let mut ok = true;
    let mut degraded = false;
    for r in reports {
        let line = format!(
            "{}: {} in {:.2}s: {}",
            r.vip,
            r.verdict,
            r.elapsed.as_secs_f64(),
            r.message
        );
        degraded |= !r.local.is_empty();
        if r.verdict.is_success() && r.local.is_empty() {
            println!("{line}");
        } else {
            ok &= r.verdict.is_success();
            eprintln!("havip: {line}");
        }
        if dry_run || !r.verdict.is_success() {
            for p in &r.plan {
                println!("  plan: {p}");
            }
        }
    }
    match (ok, degraded) {
        (false, _) => ExitCode::from(1),
        (true, true) => ExitCode::from(EXIT_LOCAL_DEGRADED),
        (true, false) => ExitCode::SUCCESS,
    }
}

/// Asks `question` on the terminal; refuses (usage error) without a terminal, so a script
/// never changes the cloud by accident: it must say `--yes`.
pub(crate) fn confirm(question: &str, yes: bool) -> anyhow::Result<bool> {
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
