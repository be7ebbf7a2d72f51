//! `havip watch`: the daemon that keeps confirming where each VIP lives (library:
//! `crate::watch`). This module parses the flags, builds the engine with the metrics observer
//! attached, and hands the daemon a way to build a new one on SIGHUP.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use crate::cli::{parse_duration, DurationError, LogFormat};
use crate::cloud::RateLimit;
use crate::context::Context;
use crate::watch::{self, metrics::ApiObserver, metrics::Metrics, Options};

/// Watch every configured VIP: repair drift on the MASTER, alert a split, serve /metrics.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where /metrics and /healthz are served.
    #[arg(long, value_name = "ADDR", default_value = watch::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// The pause between two looks at a VIP (±10% jitter), e.g. 2s [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub interval: Option<Duration>,
    /// keepalived's notify_fifo: act on its lines in order, like `havip notify`.
    #[arg(long, value_name = "PATH")]
    pub fifo: Option<PathBuf>,
    /// The API budget shared by every VIP, FIFO event and repair: at most N requests in any
    /// one-second window (retries included).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub api_rate: u32,
    /// How log lines are written (json: one object per line, for journald pipelines).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The shortest interval accepted: a look costs API calls from a shared budget.
const MIN_INTERVAL: Duration = Duration::from_millis(500);
/// The longest interval accepted.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// Why `--interval` was refused.
#[derive(Debug, thiserror::Error)]
pub enum IntervalError {
    /// Not a duration.
    #[error(transparent)]
    Duration(#[from] DurationError),
    /// Shorter than [`MIN_INTERVAL`] or longer than [`MAX_INTERVAL`].
    #[error(
        "must be between {:?} and {}",
        MIN_INTERVAL,
        humantime::format_duration(MAX_INTERVAL)
    )]
    OutOfRange,
}

fn parse_interval(s: &str) -> Result<Duration, IntervalError> {
    let d = parse_duration(s)?;
    if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&d) {
        return Err(IntervalError::OutOfRange);
    }
    Ok(d)
}

/// Runs `havip watch` until SIGTERM.
pub async fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let metrics = Metrics::new();
    let observer = Arc::new(ApiObserver(metrics.clone()));
    // One budget for the daemon's life: every engine built on SIGHUP shares it.
    let rate = NonZeroU32::new(args.api_rate).unwrap_or(NonZeroU32::MIN);
    let ctx = ctx.with_rate_limit(RateLimit::per_second(rate));
    let engine = ctx.engine_observed(observer.clone()).await?;
    let opts = Options {
        listen: args.listen,
        interval: args.interval.unwrap_or(watch::DEFAULT_INTERVAL),
        fifo: args.fifo.clone(),
    };
    let reload = || {
        let fresh = ctx.reloaded();
        let observer = observer.clone();
        async move { fresh.engine_observed(observer).await }
    };
    watch::run(opts, engine, reload, metrics).await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_bounds() {
        assert_eq!(parse_interval("2s").ok(), Some(Duration::from_secs(2)));
        for bad in ["0", "100ms", "2h", "soon"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }
}
