//! The `havip` command: parses arguments, sets up logging, runs the library, and turns the
//! result into an exit status in one place.

use std::process::ExitCode;

use clap::Parser;
use havip::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("havip: error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(havip::cmd::run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("havip: error: {err:#}");
            ExitCode::from(havip::cmd::exit_code(&err))
        }
    }
}

/// Logs go to stderr (stdout is for results). `--verbose` shows havip's debug events;
/// `HAVIP_LOG` (an EnvFilter directive) overrides both.
fn init_tracing(verbose: bool) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let default = if verbose { "havip=debug,warn" } else { "warn" };
    let filter = std::env::var("HAVIP_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
