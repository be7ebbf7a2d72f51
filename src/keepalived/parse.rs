//! keepalived's configuration as a tree: `include` followed (globs, relative to the including
//! file, bounded in depth, count and size), then statements and `{ … }` blocks built from the
//! tokens of [`super::lex`], every one with its file and line.
//!
//! `include` works as in keepalived: textually, wherever a statement may start, so an included
//! file may hold whole blocks or the inside of one.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::lex::{tokenize, Location, Token};
use super::{Error, Statement};
use crate::bounds;

/// How deep includes may nest (keepalived itself allows a handful).
pub const MAX_INCLUDE_DEPTH: usize = 8;
/// How many files one configuration may read in all.
pub const MAX_FILES: usize = 256;
/// How many bytes all of them may hold together.
pub const MAX_TOTAL_BYTES: u64 = 8 * 1024 * 1024;
/// How deep blocks may nest (real configurations use three levels).
pub const MAX_NESTING: usize = 32;

/// A token with its place.
type Located = (Token, Location);

/// Reads the files of one configuration within the bounds.
#[derive(Default)]
struct Loader {
    files: Vec<PathBuf>,
    bytes: u64,
    /// The include chain being read, to refuse a file that includes itself.
    stack: Vec<PathBuf>,
}

/// Loads `path` and everything it includes; returns the statements and the files read.
pub fn load(path: &Path) -> Result<(Vec<Statement>, Vec<PathBuf>), Error> {
    let mut loader = Loader::default();
    let mut tokens = Vec::new();
    loader.file(path, None, &mut tokens)?;
    let statements = build(tokens)?;
    Ok((statements, loader.files))
}

/// The tokens of one file's `text`, each with its file and line.
fn locate(text: &str, file: Arc<str>) -> Result<Vec<Located>, Error> {
    let tokens = tokenize(text).map_err(|e| Error::Syntax {
        at: Location {
            file: file.clone(),
            line: e.line,
        },
        message: e.message,
    })?;
    Ok(tokens
        .into_iter()
        .map(|t| {
            let at = Location {
                file: file.clone(),
                line: t.line,
            };
            (t.token, at)
        })
        .collect())
}

/// Parses one text with no includes (an `include` in it is an error naming its line).
pub fn parse_str(text: &str, name: &str) -> Result<Vec<Statement>, Error> {
    let located = locate(text, Arc::from(name))?;
    if let Some(at) = include_sites(&located).first() {
        return Err(Error::Syntax {
            at: located[*at].1.clone(),
            message: "include is not allowed here".into(),
        });
    }
    build(located)
}

impl Loader {
    /// Tokenizes `path` and splices in what its includes name; `from` is the include that named it.
    fn file(
        &mut self,
        path: &Path,
        from: Option<&Location>,
        out: &mut Vec<Located>,
    ) -> Result<(), Error> {
        let at = |message: String| match from {
            Some(at) => Error::Syntax {
                at: at.clone(),
                message,
            },
            None => Error::Limit(message),
        };
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            return Err(at(format!(
                "includes nest deeper than {MAX_INCLUDE_DEPTH} levels"
            )));
        }
        if self.files.len() >= MAX_FILES {
            return Err(at(format!("more than {MAX_FILES} files included")));
        }
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&canonical) {
            return Err(at(format!("{} includes itself", path.display())));
        }
        let bytes = bounds::read_file_capped(path, bounds::MAX_CONFIG_BYTES).map_err(|source| {
            Error::Read {
                path: path.to_path_buf(),
                source,
            }
        })?;
        self.bytes += bytes.len() as u64;
        if self.bytes > MAX_TOTAL_BYTES {
            return Err(at(format!(
                "the included files hold more than {} in all",
                bounds::human_bytes(MAX_TOTAL_BYTES)
            )));
        }
        self.files.push(path.to_path_buf());
        let name: Arc<str> = Arc::from(path.display().to_string());
        let text = String::from_utf8_lossy(&bytes);
        let located = locate(&text, name)?;
        self.stack.push(canonical);
        let result = self.splice(path, located, out);
        self.stack.pop();
        result
    }

    /// Copies `tokens` to `out`, replacing each `include PATTERN` line with the files it names.
    fn splice(
        &mut self,
        path: &Path,
        tokens: Vec<Located>,
        out: &mut Vec<Located>,
    ) -> Result<(), Error> {
        let sites = include_sites(&tokens);
        let mut skip_to = 0;
        for (i, tok) in tokens.iter().enumerate() {
            if i < skip_to {
                continue;
            }
            if !sites.contains(&i) {
                out.push(tok.clone());
                continue;
            }
            let at = tok.1.clone();
            let Some((Token::Word(pattern), _)) = tokens.get(i + 1) else {
                return Err(Error::Syntax {
                    at,
                    message: "include needs a file or a glob pattern".into(),
                });
            };
            if !matches!(tokens.get(i + 2), Some((Token::Newline, _))) {
                return Err(Error::Syntax {
                    at,
                    message: "include takes exactly one pattern".into(),
                });
            }
            for file in expand(path, pattern, &at)? {
                self.file(&file, Some(&at), out)?;
            }
            skip_to = i + 3;
        }
        Ok(())
    }
}

/// The indices of `include` words that start a statement.
fn include_sites(tokens: &[Located]) -> Vec<usize> {
    let mut sites = Vec::new();
    let mut at_start = true;
    for (i, (tok, _)) in tokens.iter().enumerate() {
        match tok {
            Token::Word(w) => {
                if at_start && w == "include" {
                    sites.push(i);
                }
                at_start = false;
            }
            Token::Newline | Token::Open | Token::Close => at_start = true,
        }
    }
    sites
}

/// The files an include names: a glob relative to the including file's directory, in sorted
/// order. A plain name that does not exist is an error; a glob may match nothing.
fn expand(including: &Path, pattern: &str, at: &Location) -> Result<Vec<PathBuf>, Error> {
    let base = including.parent().unwrap_or(Path::new("."));
    let full = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        base.join(pattern)
    };
    let text = full.to_string_lossy().into_owned();
    let is_glob = pattern.contains(['*', '?', '[']);
    if !is_glob {
        if !full.exists() {
            return Err(Error::Syntax {
                at: at.clone(),
                message: format!("include {}: no such file", bounds::clip(&text)),
            });
        }
        return Ok(vec![full]);
    }
    let paths = glob::glob(&text).map_err(|e| Error::Syntax {
        at: at.clone(),
        message: format!("include {}: bad pattern: {}", bounds::clip(&text), e.msg),
    })?;
    let mut files = Vec::new();
    for p in paths {
        match p {
            Ok(p) if p.is_file() => files.push(p),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::Read {
                    path: e.path().to_path_buf(),
                    source: e.into(),
                })
            }
        }
        if files.len() > MAX_FILES {
            return Err(Error::Syntax {
                at: at.clone(),
                message: format!(
                    "include {} matches more than {MAX_FILES} files",
                    bounds::clip(&text)
                ),
            });
        }
    }
    files.sort();
    Ok(files)
}

/// Builds statements from the spliced tokens.
fn build(tokens: Vec<Located>) -> Result<Vec<Statement>, Error> {
    let mut it = tokens.into_iter();
    block(&mut it, None, 0)
}

/// The statements up to the `}` that closes the block opened at `opened` (or to the end).
fn block(
    it: &mut impl Iterator<Item = Located>,
    opened: Option<&Location>,
    depth: usize,
) -> Result<Vec<Statement>, Error> {
    let mut out = Vec::new();
    let mut words: Vec<(String, Location)> = Vec::new();
    let finish = |words: &mut Vec<(String, Location)>, out: &mut Vec<Statement>, block| {
        if words.is_empty() {
            return;
        }
        let mut w = std::mem::take(words).into_iter();
        let (keyword, at) = w.next().expect("not empty");
        out.push(Statement {
            keyword,
            args: w.map(|(s, _)| s).collect(),
            block,
            at,
        });
    };
    while let Some((tok, at)) = it.next() {
        match tok {
            Token::Word(s) => words.push((s, at)),
            Token::Newline => finish(&mut words, &mut out, None),
            Token::Open => {
                if words.is_empty() {
                    return Err(Error::Syntax {
                        at,
                        message: "`{` without a keyword before it on its line".into(),
                    });
                }
                if depth + 1 > MAX_NESTING {
                    return Err(Error::Syntax {
                        at,
                        message: format!("blocks nest deeper than {MAX_NESTING} levels"),
                    });
                }
                let children = block(it, Some(&at), depth + 1)?;
                finish(&mut words, &mut out, Some(children));
            }
            Token::Close => {
                finish(&mut words, &mut out, None);
                return match opened {
                    Some(_) => Ok(out),
                    None => Err(Error::Syntax {
                        at,
                        message: "`}` closes no block".into(),
                    }),
                };
            }
        }
    }
    finish(&mut words, &mut out, None);
    match opened {
        None => Ok(out),
        Some(at) => Err(Error::Syntax {
            at: at.clone(),
            message: "this `{` is never closed (missing `}`)".into(),
        }),
    }
}
