//! `cargo xtask dist DIR` (alias in `.cargo/config.toml`): writes havip's man pages and shell
//! completions into DIR (see `xtask::dist`). `make install` and `make deb` run it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use havip::error_chain::{with_sources, Repeats};

/// Build chores for havip.
#[derive(Debug, Parser)]
#[command(name = "xtask")]
enum Task {
    /// Write man pages (DIR/man/*.1) and bash, zsh and fish completions (DIR/completions/).
    Dist {
        /// The output directory; its man/ and completions/ are replaced.
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    match Task::parse() {
        Task::Dist { dir } => match xtask::dist::write(havip::cli::Cli::command(), &dir) {
            Ok(w) => {
                println!(
                    "xtask: {} man pages in {}, {} completion files in {}",
                    w.man_pages.len(),
                    dir.join("man").display(),
                    w.completions.len(),
                    dir.join("completions").display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                let line = with_sources(format!("xtask: error: {e}"), &e, Repeats::Keep);
                eprintln!("{line}");
                ExitCode::FAILURE
            }
        },
    }
}
