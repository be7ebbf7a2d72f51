//! An error and its `source()` chain as one line, `outer: inner: cause`: the one walker behind
//! every message that must say why (reqwest's "error sending request" alone does not), and the
//! one name for what kind of HTTP failure it was; and [`io_at_path`], the one way a file
//! operation's I/O error says what was done to which file while keeping the error as its source.

use std::error::Error;
use std::path::{Path, PathBuf};

/// Whether a cause whose text the line already holds is written again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeats {
    /// Every cause, as it is.
    Keep,
    /// A cause whose text the line already holds is left out (reqwest and hyper often repeat
    /// their causes in their own messages).
    Skip,
}

/// `head`, then the text of each of `e`'s sources (not `e` itself), each after `: `.
pub fn with_sources(head: String, e: &dyn Error, repeats: Repeats) -> String {
    let mut out = head;
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if repeats == Repeats::Keep || !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// `e` and its sources joined with `: `, each cause once, so "error sending request" says why.
pub(crate) fn error_chain(e: &dyn Error) -> String {
    with_sources(e.to_string(), e, Repeats::Skip)
}

/// What an HTTP request's failure was, as reports name it: `timed out`, `connection failed`
/// or `request failed`.
pub(crate) fn http_failure_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    }
}

/// A file operation that failed: `cannot open /var/lib/havip/iam.lock: Permission denied`.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {source}", path.display())]
pub(crate) struct PathError {
    /// What was being done: `cannot open`, `cannot read`, …
    what: String,
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

/// `e`, said of `path` (`what` is `cannot open`, `cannot write`, …), as an I/O error of the
/// same kind whose source is the original: callers that speak `io::Result` keep doing so.
pub(crate) fn io_at_path(what: &str, path: &Path, e: std::io::Error) -> std::io::Error {
    let kind = e.kind();
    std::io::Error::new(
        kind,
        PathError {
            what: what.to_owned(),
            path: path.to_path_buf(),
            source: e,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);

    impl fmt::Display for E {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for E {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn sources_are_joined_and_repeats_kept_or_skipped() {
        let e = E(
            "error sending request: refused",
            Some(Box::new(E("connect", Some(Box::new(E("refused", None)))))),
        );
        assert_eq!(
            with_sources("failed".into(), &e, Repeats::Keep),
            "failed: connect: refused"
        );
        assert_eq!(error_chain(&e), "error sending request: refused: connect");
        assert_eq!(error_chain(&E("alone", None)), "alone");
    }
}
