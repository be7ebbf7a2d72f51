//! The `havip` command: parses arguments, sets up logging, runs the library, and turns the
//! result into an exit status in one place.

use std::process::ExitCode;

use clap::Parser;
use havip::cli::{Cli, LogFormat};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (format, daemon) = cli.log_settings();
    init_tracing(cli.global.verbose, format, daemon);
    let runtime = match runtime(daemon).enable_all().build() {
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

/// The daemon (`havip watch`) runs on one thread: it is idle nearly all the time, and one
/// thread means no wake-ups handed between workers and no migrations, which is most of what an
/// idle watcher costs. The one-shot commands get two workers, so `audit` decodes one region's
/// pages while it waits for another's.
fn runtime(daemon: bool) -> tokio::runtime::Builder {
    if daemon {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(2);
        builder
    }
}

/// Logs go to stderr (stdout is for results). `--verbose` shows havip's debug events; the
/// daemon (`havip watch`) logs its decisions at info level; `HAVIP_LOG` (an EnvFilter
/// directive) overrides both. `--log-format json` writes one JSON object per line.
fn init_tracing(verbose: bool, format: LogFormat, daemon: bool) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let default = match (verbose, daemon) {
        (true, _) => "havip=debug,warn",
        (false, true) => "havip=info,warn",
        (false, false) => "warn",
    };
    let filter = std::env::var("HAVIP_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
