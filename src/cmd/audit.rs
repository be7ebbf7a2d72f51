//! `havip audit`: the cron job of idle-EIP billing and HAVIP readiness. Scans the regions given
//! with `--region` (repeatable), or every region (`--all-regions`), or the configured one, through
//! one client whose request budget the regions share, and prints the findings as a table, JSON or
//! Prometheus metrics (to `--output` atomically). Read-only: only `Describe*` actions.
//!
//! Exit: 0 clean, 1 warnings only, 2 any critical finding, 3 the audit could not complete (a
//! region unreadable: what was read is still printed, marked partial; or no client at all).

use std::io::{IsTerminal, Write};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::audit::{self, Expected, Progress, Report, Scope};
use crate::cloud::{Client, RateLimit};
use crate::context::Context;

use super::UsageError;

/// Exit status when the audit could not complete.
pub const EXIT_INCOMPLETE: u8 = 3;
/// The most regions one audit scans (the cloud has a few dozen): more `--region`s are a usage
/// error, and an `--all-regions` list longer than this stops the audit as incomplete (exit 3).
pub const MAX_REGIONS: usize = 100;

/// Scan EIPs and HAVIPs for idle billing and failover readiness (read-only).
///
/// Finds idle EIPs (unbound; on an ENI with no instance; on a HAVIP nobody holds), HAVIPs with
/// no holder, an empty drift range under CheckAssociate, or drift members that no longer exist,
/// configured HAVIPs without their EIP, and EIPs in arrears or blocked. Regions come from
/// --region (repeat it), --all-regions, or the configuration's region.
#[derive(Clone, Debug, clap::Args)]
#[command(
    after_help = "Exit status: 0 clean, 1 warnings only, 2 critical findings, \
    3 the audit could not complete (partial results are still printed, marked partial).\n\
    The global --timeout bounds the whole audit; without it each call has 30 s."
)]
pub struct Args {
    /// Scan every available region the cloud lists (CVM DescribeRegions); not with --region.
    #[arg(long)]
    pub all_regions: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// The idle-EIP price used for costs, CNY per hour.
    #[arg(long, value_name = "CNY", default_value_t = audit::DEFAULT_PRICE_CNY_PER_HOUR,
          value_parser = parse_price)]
    pub price_cny_per_hour: f64,
    /// Write the output to FILE atomically (temp file in the same directory, then rename), e.g.
    /// node_exporter's textfile directory; stdout when absent.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Requests per second, all regions together (the API allows 20 per action by default).
    #[arg(long, value_name = "N", default_value_t = audit::DEFAULT_RATE,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rate_limit: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Prometheus,
}

/// A price is a finite number from 0 to 1000 CNY an hour.
/// A `--price-cny-per-hour` that is not a number from 0 to 1000.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("{0:?} is not a price from 0 to 1000 CNY per hour")]
pub struct PriceError(String);

fn parse_price(s: &str) -> Result<f64, PriceError> {
    match s.trim().parse::<f64>() {
        Ok(p) if p.is_finite() && (0.0..=1000.0).contains(&p) => Ok(p),
        _ => Err(PriceError(crate::bounds::clip(s))),
    }
}

pub async fn run(args: &Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    if args.all_regions && !ctx.regions().is_empty() {
        return Err(UsageError("--all-regions scans every region; drop --region".into()).into());
    }
    if ctx.regions().len() > MAX_REGIONS {
        return Err(UsageError(format!("at most {MAX_REGIONS} regions per audit")).into());
    }
    if let Some(r) = ctx
        .regions()
        .iter()
        .find(|r| !crate::cloud::region::is_region_name(r))
    {
        return Err(UsageError(format!("--region {r:?} is not a region name")).into());
    }
    let (client, scope) = match setup(args, ctx).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("havip: error: the audit could not start: {e:#}");
            return Ok(ExitCode::from(EXIT_INCOMPLETE));
        }
    };
    let progress = Arc::new(Progress::default());
    let ticker = std::io::stderr()
        .is_terminal()
        .then(|| tokio::spawn(show_progress(progress.clone(), scope.regions.len())));
    let report = audit::run(&client, &scope, progress).await;
    if let Some(t) = ticker {
        t.abort();
        eprint!("\r\x1b[2K");
    }
    if let Err(e) = emit(args, &report) {
        eprintln!("havip: error: {e:#}");
        return Ok(ExitCode::from(EXIT_INCOMPLETE));
    }
    for e in &report.errors {
        eprintln!(
            "havip: audit incomplete: {}",
            crate::error_chain::error_chain(e)
        );
    }
    Ok(ExitCode::from(report.exit_code()))
}

/// `--all-regions`' list, refused when longer than [`MAX_REGIONS`]: never a silent cut, since
/// an audit that skipped regions would call them clean.
fn within_region_cap(all: &[String]) -> anyhow::Result<()> {
    anyhow::ensure!(
        all.len() <= MAX_REGIONS,
        "the cloud lists {} available regions, more than the {MAX_REGIONS} one audit scans; \
         name them with --region in several audits",
        all.len()
    );
    Ok(())
}

/// The client (paced by `--rate-limit`, bounded by `--timeout`) and what to scan.
async fn setup(args: &Args, ctx: &Context) -> anyhow::Result<(Client, Scope)> {
    let cfg = ctx.config_if_present()?;
    let mut opts = ctx.client_options(cfg.as_deref())?;
    let rate = NonZeroU32::new(args.rate_limit).unwrap_or(NonZeroU32::MIN);
    opts.rate_limit = Some(RateLimit::per_second(rate));
    // The client's own region is the configuration's (where its HAVIPs are), else the first
    // --region; the regions scanned are set per call.
    match &cfg {
        Some(c) => opts.region = c.region.clone(),
        None => opts.region = ctx.regions().first().cloned(),
    }
    let mut client = crate::cloud::connect(&opts, ctx.env()).await?;
    if let Some(t) = ctx.flags().deadline {
        client = client.with_deadline(tokio::time::Instant::now() + t);
    }
    let expected = match &cfg {
        Some(c) => Expected::from_config(c, client.region()),
        None => Vec::new(),
    };
    let regions = if args.all_regions {
        let all = audit::all_regions(&client).await?;
        within_region_cap(&all)?;
        all
    } else if !ctx.regions().is_empty() {
        let mut given = ctx.regions().to_vec();
        given.dedup();
        given
    } else {
        vec![client.region().to_string()]
    };
    if let Some(r) = regions
        .iter()
        .find(|r| !crate::cloud::region::is_region_name(r))
    {
        return Err(UsageError(format!("region {r:?} is not a region name")).into());
    }
    let scope = Scope {
        regions,
        expected,
        price_cny_per_hour: args.price_cny_per_hour,
    };
    Ok((client, scope))
}

/// Writes the report in the chosen format to `--output` (atomically) or stdout.
fn emit(args: &Args, report: &Report) -> anyhow::Result<()> {
    let text = match args.format {
        Format::Table => audit::render_table(report),
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&audit::render_json(report))?;
            s.push('\n');
            s
        }
        Format::Prometheus => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs_f64();
            audit::render_prometheus(report, now)
        }
    };
    match &args.output {
        Some(path) => crate::state::write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write the audit to {}", path.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        }
    }
}

/// A progress line on the terminal, redrawn four times a second until aborted.
async fn show_progress(p: Arc<Progress>, regions: usize) {
    loop {
        eprint!(
            "\r\x1b[2Khavip audit: {} pages, {} resources read, {}/{regions} regions done",
            p.pages.load(Ordering::Relaxed),
            p.items.load(Ordering::Relaxed),
            p.regions_done.load(Ordering::Relaxed),
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_bounded() {
        assert_eq!(parse_price("0.2"), Ok(0.2));
        assert_eq!(parse_price("0"), Ok(0.0));
        for bad in ["-1", "NaN", "inf", "1e9", "x", ""] {
            assert!(parse_price(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_all_regions_list_past_the_cap_is_refused_not_cut() {
        let regions = |n: usize| (0..n).map(|i| format!("ap-r{i}")).collect::<Vec<_>>();
        assert!(within_region_cap(&regions(MAX_REGIONS)).is_ok());
        let e = within_region_cap(&regions(MAX_REGIONS + 1)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the cloud lists 101 available regions, more than the 100 one audit scans; name \
             them with --region in several audits"
        );
    }
}
