//! The `[check]` section: the probes `havip check` runs for keepalived's `vrrp_script` when no
//! probe flag is given, and the parsing of probe targets (shared with the flags).

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// The `[check]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckConfig {
    /// URL to GET (`http://` or `https://`).
    #[serde(default, deserialize_with = "deserialize_http")]
    pub http: Option<String>,
    /// The HTTP status that means healthy (default 200).
    #[serde(default, deserialize_with = "deserialize_status")]
    pub expect: Option<u16>,
    /// `HOST:PORT` to connect to.
    #[serde(default, deserialize_with = "deserialize_tcp")]
    pub tcp: Option<String>,
    /// The whole probe's bound (default 2 s).
    #[serde(default, deserialize_with = "crate::alert::deserialize_timeout")]
    pub timeout: Option<Duration>,
}

/// `url::ParseError`, named through reqwest (which re-exports `Url` but not its error).
pub(crate) type UrlParseError = <reqwest::Url as std::str::FromStr>::Err;

/// Why a `[check]` section or a probe target is refused.
#[derive(Debug, thiserror::Error)]
pub enum CheckConfigError {
    /// Neither probe.
    #[error("[check] needs `http` or `tcp` (or both)")]
    NoProbe,
    /// `expect` without `http`.
    #[error("[check] `expect` applies to `http`, which is not set")]
    ExpectWithoutHttp,
    /// A zero `timeout`.
    #[error("[check] `timeout` must be more than 0s")]
    ZeroTimeout,
    /// A status outside 100-599.
    #[error("expected status {0} is not an HTTP status (100-599)")]
    Status(i64),
    /// A URL that does not parse.
    #[error("invalid check URL {url:?}: {source}")]
    Url {
        /// The URL as given.
        url: String,
        /// Why it does not parse.
        #[source]
        source: UrlParseError,
    },
    /// A URL that is not `http(s)://` with a host.
    #[error("invalid check URL {0:?}: expected http:// or https:// with a host")]
    UrlScheme(String),
    /// An address that is not `HOST:PORT`.
    #[error("invalid check address {addr:?}: {why} (expected HOST:PORT)")]
    Address {
        /// The address as given.
        addr: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl CheckConfig {
    /// Checks the combination: at least one probe, and `expect` only with `http`.
    pub fn validate(&self) -> Result<(), CheckConfigError> {
        if self.http.is_none() && self.tcp.is_none() {
            return Err(CheckConfigError::NoProbe);
        }
        if self.expect.is_some() && self.http.is_none() {
            return Err(CheckConfigError::ExpectWithoutHttp);
        }
        if let Some(u) = &self.http {
            parse_http_url(u)?;
        }
        if let Some(t) = &self.tcp {
            parse_tcp(t)?;
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err(CheckConfigError::ZeroTimeout);
        }
        Ok(())
    }
}

fn deserialize_http<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    parse_http_url(&s).map_err(serde::de::Error::custom)?;
    Ok(Some(s))
}

fn deserialize_tcp<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = String::deserialize(d)?;
    parse_tcp(&s).map_err(serde::de::Error::custom)?;
    Ok(Some(s))
}

fn deserialize_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    let n = i64::deserialize(d)?;
    parse_status(n).map(Some).map_err(serde::de::Error::custom)
}

pub(crate) fn parse_status(n: i64) -> Result<u16, CheckConfigError> {
    match u16::try_from(n) {
        Ok(s) if (100..=599).contains(&s) => Ok(s),
        _ => Err(CheckConfigError::Status(n)),
    }
}

pub(crate) fn parse_http_url(s: &str) -> Result<reqwest::Url, CheckConfigError> {
    let u = reqwest::Url::parse(s).map_err(|source| CheckConfigError::Url {
        url: s.to_owned(),
        source,
    })?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return Err(CheckConfigError::UrlScheme(s.to_owned()));
    }
    Ok(u)
}

/// `HOST:PORT` (a name, an IPv4 address, or a bracketed IPv6 address) with a port 1–65535.
pub(crate) fn parse_tcp(s: &str) -> Result<(String, u16), CheckConfigError> {
    let bad = |why: &'static str| CheckConfigError::Address {
        addr: s.to_owned(),
        why,
    };
    let (host, port) = s.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    let port: u16 = port.parse().map_err(|_| bad("bad port"))?;
    if port == 0 {
        return Err(bad("port 0"));
    }
    // IPv6 must be bracketed ([::1]:80), or the port would be ambiguous.
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => {
            v6.parse::<std::net::Ipv6Addr>()
                .map_err(|_| bad("bad IPv6 address"))?;
            v6
        }
        None if host.contains(':') => return Err(bad("IPv6 addresses need brackets")),
        None => host,
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(bad("bad host"));
    }
    Ok((host.to_owned(), port))
}
