//! keepalived's configuration words: one file's text into tokens with their line numbers.
//!
//! The rules follow keepalived's own reader (`parser.c`): words are separated by blanks; a word
//! that starts with `#` or `!` starts a comment that runs to the end of the line (so
//! `auth_pass ab#1` keeps its `#`); `"…"` is one word with the quotes removed (`\"` and `\\`
//! escaped inside); `{` and `}` are words of their own even when written against another word;
//! a line ending in `\` continues on the next. Nothing here knows about `include` or blocks.

use std::sync::Arc;

/// Where a token or statement is: the file and its 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, as it was opened (shared by every token of the file).
    pub file: Arc<str>,
    /// 1-based line.
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A word or a quoted string (quotes removed).
    Word(String),
    /// `{`.
    Open,
    /// `}`.
    Close,
    /// The end of a (logical) line: ends a statement.
    Newline,
}

/// A token and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned {
    pub token: Token,
    pub line: usize,
}

/// A lexical error: what and on which line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LexError {
    pub line: usize,
    pub message: String,
}

/// Splits `text` into tokens; every logical line ends with [`Token::Newline`].
pub fn tokenize(text: &str) -> Result<Vec<Spanned>, LexError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    let mut word = String::new();
    let mut word_line = line;
    let flush = |word: &mut String, out: &mut Vec<Spanned>, at: usize| {
        if !word.is_empty() {
            out.push(Spanned {
                token: Token::Word(std::mem::take(word)),
                line: at,
            });
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                flush(&mut word, &mut out, word_line);
                out.push(Spanned {
                    token: Token::Newline,
                    line,
                });
                line += 1;
            }
            '\\' if chars.peek() == Some(&'\n') => {
                // A continuation: the next line belongs to this one.
                chars.next();
                flush(&mut word, &mut out, word_line);
                line += 1;
            }
            c if c.is_whitespace() => flush(&mut word, &mut out, word_line),
            '{' | '}' => {
                flush(&mut word, &mut out, word_line);
                out.push(Spanned {
                    token: if c == '{' { Token::Open } else { Token::Close },
                    line,
                });
            }
            '#' | '!' if word.is_empty() => {
                // A comment to the end of the line (the newline itself is kept).
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            '"' if word.is_empty() => {
                let start = line;
                let s = quoted(&mut chars, &mut line).ok_or(LexError {
                    line: start,
                    message: "unterminated quoted string".into(),
                })?;
                out.push(Spanned {
                    token: Token::Word(s),
                    line: start,
                });
            }
            c => {
                if word.is_empty() {
                    word_line = line;
                }
                word.push(c);
            }
        }
    }
    flush(&mut word, &mut out, word_line);
    out.push(Spanned {
        token: Token::Newline,
        line,
    });
    Ok(out)
}

/// The rest of a quoted string after its opening quote; `None` when the line or the text ends
/// first (keepalived's strings do not span lines).
fn quoted(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    line: &mut usize,
) -> Option<String> {
    let mut s = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(s),
            '\n' => {
                *line += 1;
                return None;
            }
            '\\' => match chars.peek() {
                Some('"') | Some('\\') => s.push(chars.next()?),
                _ => s.push('\\'),
            },
            c => s.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        tokenize(text)
            .unwrap()
            .into_iter()
            .map(|t| match t.token {
                Token::Word(w) => w,
                Token::Open => "{".into(),
                Token::Close => "}".into(),
                Token::Newline => "\\n".into(),
            })
            .collect()
    }

    #[test]
    fn words_comments_quotes_and_braces() {
        assert_eq!(
            words("a b # c\n! all comment\nauth_pass ab#1\n"),
            ["a", "b", "\\n", "\\n", "auth_pass", "ab#1", "\\n", "\\n"]
        );
        assert_eq!(
            words("notify \"/usr/bin/havip notify\" x{y}"),
            ["notify", "/usr/bin/havip notify", "x", "{", "y", "}", "\\n"]
        );
        assert_eq!(words(r#"s "a \"q\" \\ b""#), ["s", r#"a "q" \ b"#, "\\n"]);
        assert_eq!(words("a \\\n b\nc"), ["a", "b", "\\n", "c", "\\n"]);
    }

    #[test]
    fn lines_are_counted_and_errors_name_them() {
        let t = tokenize("a\n\n  b {\n}\n").unwrap();
        let b = t
            .iter()
            .find(|s| s.token == Token::Word("b".into()))
            .unwrap();
        assert_eq!(b.line, 3);
        assert_eq!(t.iter().find(|s| s.token == Token::Close).unwrap().line, 4);
        let e = tokenize("a\nscript \"unterminated\nb").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("line 2: unterminated"), "{e}");
    }
}
