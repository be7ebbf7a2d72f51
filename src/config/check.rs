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

impl CheckConfig {
    /// Checks the combination: at least one probe, and `expect` only with `http`.
    pub fn validate(&self) -> Result<(), String> {
        if self.http.is_none() && self.tcp.is_none() {
            return Err("[check] needs `http` or `tcp` (or both)".to_owned());
        }
        if self.expect.is_some() && self.http.is_none() {
            return Err("[check] `expect` applies to `http`, which is not set".to_owned());
        }
        if let Some(u) = &self.http {
            parse_http_url(u)?;
        }
        if let Some(t) = &self.tcp {
            parse_tcp(t)?;
        }
        if self.timeout.is_some_and(|t| t.is_zero()) {
            return Err("[check] `timeout` must be more than 0s".to_owned());
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

pub fn parse_status(n: i64) -> Result<u16, String> {
    match u16::try_from(n) {
        Ok(s) if (100..=599).contains(&s) => Ok(s),
        _ => Err(format!(
            "expected status {n} is not an HTTP status (100-599)"
        )),
    }
}

pub fn parse_http_url(s: &str) -> Result<reqwest::Url, String> {
    let u = reqwest::Url::parse(s).map_err(|e| format!("invalid check URL {s:?}: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "invalid check URL {s:?}: expected http:// or https:// with a host"
        ));
    }
    Ok(u)
}

/// `HOST:PORT` (a name, an IPv4 address, or a bracketed IPv6 address) with a port 1–65535.
pub fn parse_tcp(s: &str) -> Result<(String, u16), String> {
    let bad = |why: &str| format!("invalid check address {s:?}: {why} (expected HOST:PORT)");
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
