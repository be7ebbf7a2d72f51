//! The `tcsim` binary: serve a scenario (`tcsim --listen ADDR --scenario NAME|PATH`), or write a
//! generated large scenario (`tcsim generate`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use tcsim::SimOptions;

#[derive(Parser, Debug)]
#[command(
    name = "tcsim",
    version,
    about = "TencentCloud VPC API and CVM metadata simulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9180", env = "TCSIM_LISTEN")]
    listen: SocketAddr,
    /// Built-in scenario (`seed`, `large:N[:M]`, `audit:N[:M]`) or a TOML/JSON scenario file.
    #[arg(long, default_value = "seed", env = "TCSIM_SCENARIO")]
    scenario: String,
    /// Serve HTTPS with a generated certificate.
    #[arg(long)]
    tls: bool,
    /// Extra certificate subject names (127.0.0.1 and localhost are always included).
    #[arg(long = "tls-san", value_name = "NAME")]
    tls_san: Vec<String>,
    /// Write the CA certificate to trust (PEM) here.
    #[arg(long, value_name = "PATH")]
    tls_cert_out: Option<PathBuf>,
    /// Default per-action rate limit, requests/s (0 = unlimited).
    #[arg(long, value_name = "N")]
    rate_limit: Option<u32>,
    /// Per-action rate limit, e.g. `DescribeHaVips=100` (repeatable).
    #[arg(long = "rate-limit-action", value_name = "ACTION=N")]
    rate_limit_action: Vec<String>,
    /// How long async tasks stay RUNNING, in milliseconds.
    #[arg(long, value_name = "MS")]
    task_duration_ms: Option<u64>,
    /// Lifetime of metadata role credentials, in seconds.
    #[arg(long, value_name = "S")]
    credential_lifetime_s: Option<u64>,
    /// Learn gratuitous ARP from this interface (needs root).
    #[arg(long, value_name = "IFACE")]
    arp_iface: Option<String>,
    /// Metadata answers as this instance for callers whose IP matches no instance.
    #[arg(long, value_name = "INSTANCE_ID")]
    metadata_instance: Option<String>,
    /// Start with the clock this many seconds ahead (negative: behind).
    #[arg(
        long,
        value_name = "S",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    clock_offset_s: i64,
    /// Log filter (RUST_LOG syntax); logs go to stderr.
    #[arg(long, default_value = "info", env = "TCSIM_LOG")]
    log: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a generated scenario with many HAVIPs and EIPs across regions.
    Generate {
        #[arg(long, default_value_t = 1000)]
        havips: usize,
        #[arg(long, default_value_t = 2000)]
        eips: usize,
        /// Comma-separated regions.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "ap-guangzhou,ap-shanghai,ap-beijing"
        )]
        regions: Vec<String>,
        /// Output file (`.json` for JSON, else TOML); stdout when omitted.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() {
    if let Err(e) = run() {
        eprintln!("tcsim: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Generate {
            havips,
            eips,
            regions,
            out,
        }) => generate(havips, eips, &regions, out),
        None => serve(cli.serve),
    }
}

fn generate(havips: usize, eips: usize, regions: &[String], out: Option<PathBuf>) -> Result<()> {
    let file = tcsim::scenario::generate(havips, eips, regions)?;
    // Validate what we write.
    file.build().context("generated scenario is invalid")?;
    let json = out
        .as_ref()
        .is_some_and(|p| p.extension().is_some_and(|e| e == "json"));
    let text = if json {
        serde_json::to_string_pretty(&file)?
    } else {
        toml::to_string(&file)?
    };
    match out {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(())
}

fn serve(args: ServeArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&args.log)
                .with_context(|| format!("bad --log filter {:?}", args.log))?,
        )
        .with_writer(std::io::stderr)
        .init();
    let mut action_rate_limits = Vec::new();
    for spec in &args.rate_limit_action {
        let Some((action, n)) = spec.split_once('=') else {
            bail!("--rate-limit-action wants ACTION=N, got {spec:?}");
        };
        let n: u32 = n
            .parse()
            .with_context(|| format!("--rate-limit-action {spec:?}: N must be a number"))?;
        action_rate_limits.push((action.to_string(), n));
    }
    let opts = SimOptions {
        scenario: args.scenario,
        listen: args.listen,
        tls: args.tls,
        tls_sans: args.tls_san,
        tls_cert_out: args.tls_cert_out,
        rate_limit: args.rate_limit,
        action_rate_limits,
        task_duration: args.task_duration_ms.map(Duration::from_millis),
        credential_lifetime: args.credential_lifetime_s.map(Duration::from_secs),
        arp_iface: args.arp_iface,
        metadata_instance: args.metadata_instance,
        clock_offset_s: args.clock_offset_s,
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        // Handlers first: a supervisor may send SIGTERM as soon as it reads the first line.
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let server = tcsim::serve(opts).await?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "listening on {}", server.url())?;
            out.flush()?;
        }
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        tracing::info!("stopping");
        server.shutdown().await;
        Ok(())
    })
}
