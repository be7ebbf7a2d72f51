//! The target configuration: one `[[alert]]` entry ([`AlertTarget`]), its serde deserialisers
//! (URLs, timeouts, exec commands) and the validation serde cannot do. `Debug` and `Display`
//! redact what may be secret (a robot URL's key, the arguments of a shell line).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::event::Severity;
use super::scrub::redact_url;

/// How long a target may take when its `timeout` is not set.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// WeCom robot message format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WecomFormat {
    #[default]
    Markdown,
    Text,
}

/// The command of an `exec` target: a string is run by `/bin/sh -c`, an array is run directly.
#[derive(Clone, PartialEq, Eq)]
pub enum ExecCommand {
    Shell(String),
    Argv(Vec<String>),
}

impl fmt::Debug for ExecCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecCommand::Shell(s) => write!(f, "Shell({s:?})"),
            ExecCommand::Argv(v) => write!(f, "Argv({v:?})"),
        }
    }
}

impl<'de> Deserialize<'de> for ExecCommand {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ExecCommand;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a command string (run by /bin/sh -c) or a non-empty array of strings")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<ExecCommand, E> {
                if s.trim().is_empty() {
                    return Err(E::custom("exec command is empty"));
                }
                Ok(ExecCommand::Shell(s.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ExecCommand, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    v.push(s);
                }
                if v.first().is_none_or(|p| p.is_empty()) {
                    return Err(serde::de::Error::custom(
                        "exec command array is empty or starts with an empty program",
                    ));
                }
                Ok(ExecCommand::Argv(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A humantime duration (`"5s"`, `"1m 30s"`) that is more than zero.
pub(crate) fn deserialize_timeout<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    let v: Option<Duration> = humantime_serde::deserialize(d)?;
    if v.is_some_and(|t| t.is_zero()) {
        return Err(serde::de::Error::custom("timeout must be more than 0s"));
    }
    Ok(v)
}

/// Accepts only absolute `http://` or `https://` URLs with a host, so a typo fails at
/// `havip config check` rather than at 3 a.m. Plain http is the user's choice.
fn deserialize_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_url(&s).map_err(serde::de::Error::custom)?;
    Ok(s)
}

/// Why an `[[alert]]` entry is refused. URLs are kept redacted (a WeCom URL holds its key).
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The URL does not parse.
    #[error("invalid URL {redacted}: {source}")]
    Url {
        redacted: String,
        #[source]
        source: crate::config::check::UrlParseError,
    },
    /// Not `http(s)://` with a host.
    #[error("invalid URL {0}: expected http:// or https:// with a host")]
    UrlScheme(String),
    /// A zero timeout (`target` is the redacted target).
    #[error("{target}: timeout must be more than 0s")]
    ZeroTimeout { target: String },
}

fn check_url(s: &str) -> Result<reqwest::Url, TargetError> {
    let u = reqwest::Url::parse(s).map_err(|source| TargetError::Url {
        redacted: redact_url(s),
        source,
    })?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return Err(TargetError::UrlScheme(redact_url(s)));
    }
    Ok(u)
}

/// One `[[alert]]` entry. `Debug` and `Display` redact URLs, since a WeCom URL holds its key.
#[derive(Deserialize, Clone)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AlertTarget {
    /// POST the [`AlertEvent`](super::AlertEvent) as JSON; any 2xx is success.
    Webhook {
        #[serde(deserialize_with = "deserialize_url")]
        url: String,
        #[serde(default, deserialize_with = "deserialize_timeout")]
        timeout: Option<Duration>,
        #[serde(default)]
        min_severity: Option<Severity>,
    },
    /// A WeCom group robot (`{"msgtype":"markdown",…}` or text); success is `errcode` 0.
    Wecom {
        #[serde(deserialize_with = "deserialize_url")]
        url: String,
        #[serde(default, deserialize_with = "deserialize_timeout")]
        timeout: Option<Duration>,
        #[serde(default)]
        min_severity: Option<Severity>,
        #[serde(default)]
        format: WecomFormat,
        /// Phone numbers to @-mention (WeCom honours this for text messages only).
        #[serde(default)]
        mentioned_mobile_list: Vec<String>,
    },
    /// Run a command with the event JSON on stdin and `HAVIP_ALERT_*` in its environment;
    /// success is exit status 0 within the timeout.
    Exec {
        command: ExecCommand,
        #[serde(default, deserialize_with = "deserialize_timeout")]
        timeout: Option<Duration>,
        #[serde(default)]
        min_severity: Option<Severity>,
    },
}

impl AlertTarget {
    /// This target's time bound.
    pub fn timeout(&self) -> Duration {
        match self {
            AlertTarget::Webhook { timeout, .. }
            | AlertTarget::Wecom { timeout, .. }
            | AlertTarget::Exec { timeout, .. } => timeout.unwrap_or(DEFAULT_TIMEOUT),
        }
    }

    pub(super) fn min_severity(&self) -> Severity {
        match self {
            AlertTarget::Webhook { min_severity, .. }
            | AlertTarget::Wecom { min_severity, .. }
            | AlertTarget::Exec { min_severity, .. } => min_severity.unwrap_or(Severity::Info),
        }
    }

    /// Checks what serde cannot: a zero timeout would make a target useless.
    pub fn validate(&self) -> Result<(), TargetError> {
        if self.timeout().is_zero() {
            return Err(TargetError::ZeroTimeout {
                target: self.to_string(),
            });
        }
        match self {
            AlertTarget::Webhook { url, .. } | AlertTarget::Wecom { url, .. } => {
                check_url(url).map(|_| ())
            }
            AlertTarget::Exec { .. } => Ok(()),
        }
    }
}

impl fmt::Display for AlertTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlertTarget::Webhook { url, .. } => write!(f, "webhook {}", redact_url(url)),
            AlertTarget::Wecom { url, .. } => write!(f, "wecom {}", redact_url(url)),
            AlertTarget::Exec { command, .. } => match command {
                // Only the program: the rest of a shell line may hold a password (curl -u …).
                ExecCommand::Shell(s) => {
                    let mut words = s.split_whitespace();
                    let prog = words.next().unwrap_or("");
                    let more = if words.next().is_some() { " …" } else { "" };
                    write!(f, "exec {prog}{more}")
                }
                ExecCommand::Argv(v) => write!(f, "exec {}", v.first().map_or("", String::as_str)),
            },
        }
    }
}

impl fmt::Debug for AlertTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AlertTarget({self}, timeout {}, min_severity {})",
            humantime::format_duration(self.timeout()),
            self.min_severity()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        #[serde(default)]
        alert: Vec<AlertTarget>,
    }

    fn parse(s: &str) -> Result<Vec<AlertTarget>, toml::de::Error> {
        toml::from_str::<Cfg>(s).map(|c| c.alert)
    }

    #[test]
    fn targets_parse_from_toml() {
        let t = parse(
            r#"
            [[alert]]
            type = "webhook"
            url = "http://127.0.0.1:9000/hook"
            timeout = "3s"

            [[alert]]
            type = "wecom"
            url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcdef123456"
            format = "text"
            min_severity = "warning"

            [[alert]]
            type = "exec"
            command = "mail -s havip ops@example.com"

            [[alert]]
            type = "exec"
            command = ["/usr/bin/logger", "-t", "havip"]
            "#,
        )
        .unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t[0].timeout(), Duration::from_secs(3));
        assert_eq!(t[1].timeout(), DEFAULT_TIMEOUT);
        assert!(matches!(
            t[1],
            AlertTarget::Wecom {
                format: WecomFormat::Text,
                ..
            }
        ));
        assert_eq!(t[1].min_severity(), Severity::Warning);
        assert!(
            matches!(&t[2], AlertTarget::Exec { command: ExecCommand::Shell(s), .. } if s.starts_with("mail"))
        );
        assert!(
            matches!(&t[3], AlertTarget::Exec { command: ExecCommand::Argv(v), .. } if v.len() == 3)
        );
        assert!(t.iter().all(|t| t.validate().is_ok()));
    }

    #[test]
    fn bad_targets_are_errors_naming_the_problem() {
        let cases = [
            (
                "type = \"webhook\"\nurl = \"http://x/\"\nbogus = 1",
                "bogus",
            ),
            ("type = \"pager\"\nurl = \"http://x/\"", "pager"),
            ("type = \"webhook\"\nurl = \"ftp://x/\"", "http"),
            ("type = \"webhook\"\nurl = \"not a url\"", "invalid URL"),
            (
                "type = \"webhook\"\nurl = \"http://x/\"\ntimeout = \"soon\"",
                "soon",
            ),
            ("type = \"exec\"\ncommand = []", "empty"),
            ("type = \"exec\"\ncommand = \"  \"", "empty"),
            ("type = \"exec\"\ncommand = 5", "command string"),
            ("type = \"webhook\"", "url"),
        ];
        for (body, want) in cases {
            let err = parse(&format!("[[alert]]\n{body}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{body:?}: {err}");
        }
        let zero = parse("[[alert]]\ntype = \"webhook\"\nurl = \"http://x/\"\ntimeout = \"0s\"\n");
        assert!(zero.unwrap_err().to_string().contains("more than 0s"));
    }

    #[test]
    fn debug_and_display_hide_robot_keys() {
        let t = parse(
            "[[alert]]\ntype = \"wecom\"\nurl = \"https://user:pw@qyapi.weixin.qq.com/cgi-bin/webhook/send?key=s3cr3t-robot-key\"\n",
        )
        .unwrap();
        for s in [format!("{:?}", t[0]), t[0].to_string()] {
            assert!(!s.contains("s3cr3t"), "{s}");
            assert!(!s.contains("pw@"), "{s}");
            assert!(
                s.contains("qyapi.weixin.qq.com/cgi-bin/webhook/send?…"),
                "{s}"
            );
        }
        // The message of a bad-URL error does not echo the key either (the configuration
        // loader reports the message and the line, not toml's source snippet).
        let err = toml::from_str::<Cfg>(
            "[[alert]]\ntype = \"wecom\"\nurl = \"gopher://h/?key=s3cr3t-robot-key\"\n",
        )
        .err()
        .expect("gopher is refused");
        assert!(err.message().contains("gopher://h/?…"), "{}", err.message());
        assert!(!err.message().contains("s3cr3t"), "{}", err.message());

        // A shell command line shows only its program: the rest may hold a password.
        let t =
            parse("[[alert]]\ntype = \"exec\"\ncommand = \"curl -u ops:hunter22 https://h/\"\n")
                .unwrap();
        assert_eq!(t[0].to_string(), "exec curl …");
        assert!(!format!("{:?}", t[0]).contains("hunter22"));
    }
}
