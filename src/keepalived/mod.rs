//! keepalived's configuration, read the way keepalived reads it: words, quoted strings,
//! comments (`#`, `!`), `{ … }` blocks and `include` with globs ([`lex`], [`parse`]), into a
//! tree of [`Statement`]s with the file and line of each, and the few queries `havip doctor`
//! asks of it (a `vrrp_instance` by name, the script a `notify` runs, …).
//!
//! Only the grammar is known here, not the meaning of keywords beyond those queries: an
//! unknown keyword is kept, as keepalived itself only warns about it.

pub mod lex;
pub mod parse;

use std::path::{Path, PathBuf};

pub use lex::Location;

/// The default configuration file.
pub const DEFAULT_PATH: &str = "/etc/keepalived/keepalived.conf";

/// Why a configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read (missing, unreadable, too large).
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid keepalived syntax, or an include goes wrong.
    #[error("{at}: {message}")]
    Syntax {
        /// Where.
        at: Location,
        /// What is wrong.
        message: String,
    },
    /// A bound on the whole configuration was passed before any include named it.
    #[error("{0}")]
    Limit(String),
}

/// One statement: a keyword, its arguments, and the block that follows it, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The first word (`vrrp_instance`, `state`, `10.0.4.99/24`, …).
    pub keyword: String,
    /// The other words on its line, before any `{`.
    pub args: Vec<String>,
    /// The statements inside `{ … }`, when the line opens a block.
    pub block: Option<Vec<Statement>>,
    /// Where the keyword is.
    pub at: Location,
}

impl Statement {
    /// The first argument (a block's name, a setting's value).
    pub fn arg(&self) -> Option<&str> {
        self.args.first().map(String::as_str)
    }

    /// The statements of its block (none when it has no block).
    pub fn children(&self) -> &[Statement] {
        self.block.as_deref().unwrap_or(&[])
    }

    /// The first child statement with `keyword`.
    pub fn child(&self, keyword: &str) -> Option<&Statement> {
        self.children().iter().find(|s| s.keyword == keyword)
    }

    /// Whether a child statement `keyword` is present.
    pub fn has(&self, keyword: &str) -> bool {
        self.child(keyword).is_some()
    }

    /// The words of every statement inside the block `keyword` (e.g. the addresses of
    /// `virtual_ipaddress`, or the script names of `track_script`), keyword first.
    pub fn block_items(&self, keyword: &str) -> Vec<&Statement> {
        self.children()
            .iter()
            .filter(|s| s.keyword == keyword)
            .flat_map(|s| s.children())
            .collect()
    }
}

/// A whole configuration: its top-level statements and every file read for it.
#[derive(Debug, Clone)]
pub struct KeepalivedConf {
    /// Top-level statements, includes spliced in.
    pub statements: Vec<Statement>,
    /// The files read, the main one first.
    pub files: Vec<PathBuf>,
}

impl KeepalivedConf {
    /// Reads `path` and its includes.
    pub fn load(path: &Path) -> Result<KeepalivedConf, Error> {
        let (statements, files) = parse::load(path)?;
        Ok(KeepalivedConf { statements, files })
    }

    /// Parses one text without includes (tests, and text from elsewhere).
    pub fn parse(text: &str, name: &str) -> Result<KeepalivedConf, Error> {
        Ok(KeepalivedConf {
            statements: parse::parse_str(text, name)?,
            files: Vec::new(),
        })
    }

    /// The top-level statements with `keyword`.
    pub fn all(&self, keyword: &str) -> Vec<&Statement> {
        self.statements
            .iter()
            .filter(|s| s.keyword == keyword)
            .collect()
    }

    /// The top-level block `keyword NAME { … }`.
    pub fn named(&self, keyword: &str, name: &str) -> Option<&Statement> {
        self.all(keyword)
            .into_iter()
            .find(|s| s.arg() == Some(name) && s.block.is_some())
    }

    /// Whether `global_defs` sets `keyword`.
    pub fn global(&self, keyword: &str) -> Option<&Statement> {
        self.all("global_defs")
            .into_iter()
            .find_map(|g| g.child(keyword))
    }
}

/// The command a script setting runs, as words: keepalived takes the whole quoted string (or
/// the remaining words) as the command line.
pub fn script_words(s: &Statement) -> Vec<&str> {
    s.args.iter().flat_map(|a| a.split_whitespace()).collect()
}

/// Whether the command line runs `havip SUBCOMMAND` (the program named `havip` by path or not,
/// directly or through `sh -c`, followed by the subcommand, global flags allowed between).
pub fn runs_havip(words: &[&str], subcommand: &str) -> bool {
    words.iter().enumerate().any(|(i, w)| {
        let program = w.trim_start_matches(['\'', '"']);
        (program == "havip" || program.ends_with("/havip"))
            && words[i + 1..]
                .iter()
                .map(|w| w.trim_end_matches(['\'', '"', ';']))
                .find(|w| !w.starts_with('-') && !w.contains('/'))
                .is_some_and(|w| w == subcommand)
    })
}

/// Why a health-check command line would pass whatever the check says ("fails open"), if it
/// would: `|| true`, `|| :`, `|| exit 0`, `; exit 0`, `; true`.
pub fn fails_open(words: &[&str]) -> Option<String> {
    const OPEN: [&str; 5] = ["||true", "||:", "||exit0", ";exit0", ";true"];
    let line = words.join(" ");
    let compact: String = line
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '\'' | '"'))
        .collect();
    OPEN.iter().find(|p| compact.contains(*p)).map(|p| {
        format!(
            "`{}` succeeds whatever the check says (`{p}`)",
            crate::bounds::clip(&line)
        )
    })
}

#[cfg(test)]
mod tests;
