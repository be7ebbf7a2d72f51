//! `cargo xtask dist DIR`: one man page per command (clap_mangen) in `DIR/man/`, and the bash,
//! zsh and fish completions (clap_complete) in `DIR/completions/`.
//!
//! Man pages are named after the command path: `havip.1`, `havip-notify.1`,
//! `havip-config-check.1`. Completions keep clap_complete's names: `havip.bash`, `_havip`,
//! `havip.fish`. Both directories are emptied first, so a command that was removed leaves no
//! stale page behind for `make install` to ship.

use std::io;
use std::path::{Path, PathBuf};

use clap::Command;
use clap_complete::{Generator, Shell};

/// The shells completions are written for.
pub const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// What [`write`] wrote.
#[derive(Debug, Default)]
pub struct Written {
    /// One per command, the root first.
    pub man_pages: Vec<PathBuf>,
    /// One per shell in [`SHELLS`], in that order.
    pub completions: Vec<PathBuf>,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be written.
    #[error("cannot {what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// clap_complete failed (it writes into memory here, so only its own checks can fail).
    #[error("cannot generate the {shell} completions")]
    Completions {
        shell: Shell,
        #[source]
        source: io::Error,
    },
}

fn io_error<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// Writes the man pages and completions for `cmd` (havip's `Cli::command()`) under `out`.
pub fn write(cmd: Command, out: &Path) -> Result<Written, Error> {
    let bin = cmd.get_name().to_owned();
    // No `help` subcommand, neither as a page nor as a completion: `havip help X` is
    // `havip X --help`, and clap's `help` has no page-worthy content.
    let mut cmd = cmd.bin_name(&bin).disable_help_subcommand(true);
    cmd.build();

    let man_dir = fresh_dir(&out.join("man"))?;
    let mut written = Written::default();
    let source = format!("{bin} {}", cmd.get_version().unwrap_or_default());
    for (sub, parent) in commands(&cmd) {
        let man = clap_mangen::Man::new(sub.clone())
            .source(source.clone())
            .manual(format!("{bin} manual"));
        written
            .man_pages
            .push(man_page(man, parent, &bin, &man_dir)?);
    }

    let comp_dir = fresh_dir(&out.join("completions"))?;
    for shell in SHELLS {
        let mut text = Vec::new();
        shell
            .try_generate(&cmd, &mut text)
            .map_err(|source| Error::Completions { shell, source })?;
        let path = comp_dir.join(shell.file_name(&bin));
        std::fs::write(&path, text).map_err(io_error("write", &path))?;
        written.completions.push(path);
    }
    Ok(written)
}

/// Every command that gets a page, the root first, each with its parent's page name: the
/// visible subcommands, recursively. `cmd` must be built (display names set).
pub fn commands(cmd: &Command) -> Vec<(&Command, Option<&str>)> {
    fn walk<'a>(
        cmd: &'a Command,
        parent: Option<&'a str>,
        out: &mut Vec<(&'a Command, Option<&'a str>)>,
    ) {
        out.push((cmd, parent));
        let name = page_name(cmd);
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub, Some(name), out);
        }
    }
    let mut out = Vec::new();
    walk(cmd, None, &mut out);
    out
}

/// A built command's page name: `havip`, `havip-config-check`.
pub fn page_name(cmd: &Command) -> &str {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
}

/// Renders one page, with a SEE ALSO section naming the parent's page, the root's, and
/// keepalived's.
fn man_page(
    man: clap_mangen::Man,
    parent: Option<&str>,
    root: &str,
    dir: &Path,
) -> Result<PathBuf, Error> {
    let path = dir.join(man.get_filename());
    let mut see_also: Vec<(&str, u8)> = parent.map(|p| (p, 1)).into_iter().collect();
    if parent.is_some_and(|p| p != root) {
        see_also.push((root, 1));
    }
    see_also.extend([("keepalived", 8), ("keepalived.conf", 5)]);
    let refs: Vec<String> = see_also
        .iter()
        .map(|(page, section)| format!("\\fB{}\\fR({section})", page.replace('-', "\\-")))
        .collect();
    let mut text = Vec::new();
    man.render(&mut text).map_err(io_error("render", &path))?;
    text.extend(format!(".SH \"SEE ALSO\"\n{}\n", refs.join(", ")).into_bytes());
    std::fs::write(&path, text).map_err(io_error("write", &path))?;
    Ok(path)
}

/// `dir`, created, emptied of what an earlier run left.
fn fresh_dir(dir: &Path) -> Result<PathBuf, Error> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io_error("empty", dir))?;
    }
    std::fs::create_dir_all(dir).map_err(io_error("create", dir))?;
    Ok(dir.to_owned())
}
