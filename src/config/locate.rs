//! Where a configuration problem is: the file, the line of a span, and the dotted key of the
//! line toml's own errors point at, in the uniform `file:line: message` form.

use std::ops::Range;
use std::path::Path;

use super::ConfigError;
use crate::bounds;

/// The file being parsed: its path for messages, its text to turn spans into lines.
#[derive(Clone, Copy)]
pub(super) struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl Source<'_> {
    /// An error at `span` (on its line, when there is one). Every message is bounded: a 100 KB
    /// value in the file must not make a 100 KB line.
    pub fn err(&self, span: Option<Range<usize>>, message: String) -> ConfigError {
        ConfigError {
            path: self.path.to_path_buf(),
            line: span.map(|s| line_of(self.text, s.start)),
            message: bounds::clip_to(&message, bounds::MAX_MESSAGE_BYTES),
            source: None,
        }
    }

    /// [`Source::err`], keeping the typed error the message was composed from.
    pub(crate) fn err_from<E>(
        &self,
        span: Option<Range<usize>>,
        message: String,
        source: E,
    ) -> ConfigError
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        ConfigError {
            source: Some(std::sync::Arc::new(source)),
            ..self.err(span, message)
        }
    }

    /// toml's own error, with its line and, when its message does not say it, the key.
    pub(crate) fn toml_err(&self, e: &toml::de::Error) -> ConfigError {
        // toml's own message carries a snippet; the first line is the useful part, and the
        // span gives the line in our uniform `file:line: message` form.
        let msg = e.message().trim().to_string();
        // toml says nothing about some characters (a control character in a comment), nor
        // about some files that end in the middle of a value (`endpoint = [` and a comment).
        let msg = match e
            .span()
            .map(|s| self.text.get(s.start..).and_then(|t| t.chars().next()))
        {
            Some(Some(c)) if msg.is_empty() => format!("character {c:?} is not allowed here"),
            _ if msg.is_empty() => "the file ends before this value does".to_string(),
            _ => msg,
        };
        let msg = match e.span().and_then(|s| key_at(self.text, s.start)) {
            Some(key) if !msg.contains(&format!("`{key}`")) => {
                format!("key `{}`: {msg}", bounds::clip(&key))
            }
            _ => msg,
        };
        self.err(e.span(), msg)
    }
}

/// The dotted key whose `key = value` line holds byte `offset` (`vip.deadline`), so that
/// toml's type errors, which name only the expected type, also name the key.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset.min(text.len()))?;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(start..)?.lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return None;
    }
    // The innermost table header above the line, if any.
    let table = before.get(..start)?.lines().rev().find_map(|l| {
        let l = l.trim();
        l.starts_with('[')
            .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
    });
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    })
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}
