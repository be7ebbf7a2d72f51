//! Parsing the file into a [`Config`], section by section: the top-level keys, `[credentials]`,
//! `[node]`, the `[[vip]]` entries (in `vip`), `[[alert]]` (checked by the alert module) and
//! `[check]` (checked by `havip check`). Each error names the file, the line and the key.
//!
//! Parsing is two-stage ("parse first, resolve second"): the file is deserialized into `Raw*`
//! types that keep the source spans of the keys we validate, then turned into [`Config`].

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::locate::Source;
use super::validate::check_resource_id;
use super::vip::{self, RawVip};
use super::{
    AlertTarget, CheckConfig, Config, ConfigError, CredentialsConfig, NodeConfig, DEFAULT_STATE_DIR,
};
use crate::bounds;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    endpoint: Option<Spanned<String>>,
    region: Option<String>,
    ca_file: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    journal: Option<PathBuf>,
    credentials: Option<Spanned<CredentialsConfig>>,
    #[serde(default)]
    node: Option<RawNode>,
    #[serde(default)]
    vip: Vec<Spanned<RawVip>>,
    #[serde(default)]
    alert: Vec<Spanned<AlertTarget>>,
    check: Option<Spanned<CheckConfig>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    instance_id: Option<Spanned<String>>,
    eni_id: Option<Spanned<String>>,
    mac: Option<String>,
}

impl Config {
    /// Parses `text` (from `path`, for messages); `state_dir_env` is `HAVIP_STATE_DIR`, which
    /// wins over the file so unprivileged runs never touch `/var/lib`.
    pub fn parse(
        text: &str,
        path: &Path,
        state_dir_env: Option<PathBuf>,
    ) -> Result<Config, ConfigError> {
        let src = Source { path, text };
        let raw: RawConfig = toml::from_str(text).map_err(|e| src.toml_err(&e))?;
        if let Some(ep) = &raw.endpoint {
            endpoint(&src, ep)?;
        }
        let credentials = match raw.credentials {
            None => None,
            Some(c) => Some(credentials(&src, c)?),
        };
        let node = match raw.node {
            None => NodeConfig::default(),
            Some(n) => node(&src, n)?,
        };
        let vips = vip::vips(&src, raw.vip)?;
        let alert = alerts(&src, raw.alert)?;
        let check = match raw.check {
            None => None,
            Some(c) => Some(check(&src, c)?),
        };
        let state_dir = state_dir_env
            .filter(|p| !p.as_os_str().is_empty())
            .or(raw.state_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
        let journal = raw
            .journal
            .unwrap_or_else(|| state_dir.join("journal.jsonl"));
        Ok(Config {
            path: path.to_path_buf(),
            endpoint: raw.endpoint.map(|s| s.into_inner()),
            region: raw.region,
            ca_file: raw.ca_file,
            credentials,
            node,
            state_dir,
            journal,
            vips,
            alert,
            check,
        })
    }
}

/// The top-level `endpoint`: an http(s) URL.
fn endpoint(src: &Source, ep: &Spanned<String>) -> Result<(), ConfigError> {
    let v = ep.get_ref();
    if !(v.starts_with("https://") || v.starts_with("http://")) {
        return Err(src.err(
            Some(ep.span()),
            format!(
                "key `endpoint`: {} is not an http(s) URL",
                bounds::clip_quoted(v)
            ),
        ));
    }
    Ok(())
}

/// `[credentials]`: the keys that go together, and the checks the client would make on the
/// first call, made now.
fn credentials(
    src: &Source,
    c: Spanned<CredentialsConfig>,
) -> Result<CredentialsConfig, ConfigError> {
    let span = c.span();
    let c = c.into_inner();
    if c.secret_id.is_some() != c.secret_key.is_some() {
        return Err(src.err(
            Some(span),
            "section `[credentials]`: `secret_id` and `secret_key` go together".into(),
        ));
    }
    if c.token.is_some() && c.secret_id.is_none() {
        return Err(src.err(
            Some(span),
            "section `[credentials]`: `token` needs `secret_id` and `secret_key`".into(),
        ));
    }
    if let Some(m) = credentials_problem(&c) {
        return Err(src.err(Some(span), format!("section `[credentials]`: {m}")));
    }
    Ok(c)
}

/// What the client would refuse in explicit credentials: a pasted newline is a configuration
/// error (exit 2), not an UNKNOWN failover.
fn credentials_problem(c: &CredentialsConfig) -> Option<String> {
    let (Some(id), Some(key)) = (&c.secret_id, &c.secret_key) else {
        return None;
    };
    let checked = crate::cloud::Credentials::new(id.clone(), key.clone())
        .map(|_| ())
        .map_err(|e| match e {
            crate::cloud::Error::Credentials(m) => m,
            other => other.to_string(),
        });
    let token_ok = c
        .token
        .as_deref()
        .is_none_or(|t| t.trim() == t && !t.chars().any(char::is_control));
    match checked {
        Err(m) => Some(m),
        Ok(()) if !token_ok => {
            Some("the token has surrounding whitespace or control characters".into())
        }
        Ok(()) => None,
    }
}

/// `[node]`: the IDs, when given, have the shape of IDs.
fn node(src: &Source, n: RawNode) -> Result<NodeConfig, ConfigError> {
    if let Some(id) = &n.instance_id {
        if let Err(m) = check_resource_id(id.get_ref(), "ins", "an instance ID") {
            let message = format!("key `node.instance_id`: {m}");
            return Err(src.err_from(Some(id.span()), message, m));
        }
    }
    if let Some(id) = &n.eni_id {
        if let Err(m) = check_resource_id(id.get_ref(), "eni", "an ENI ID") {
            let message = format!("key `node.eni_id`: {m}");
            return Err(src.err_from(Some(id.span()), message, m));
        }
    }
    Ok(NodeConfig {
        instance_id: n.instance_id.map(|s| s.into_inner()),
        eni_id: n.eni_id.map(|s| s.into_inner()),
        mac: n.mac,
    })
}

/// `[[alert]]`: each entry as the alert module validates it.
fn alerts(src: &Source, raw: Vec<Spanned<AlertTarget>>) -> Result<Vec<AlertTarget>, ConfigError> {
    let mut alert = Vec::with_capacity(raw.len());
    for a in raw {
        let span = a.span();
        let a = a.into_inner();
        a.validate()
            .map_err(|m| src.err_from(Some(span.clone()), format!("`[[alert]]` entry: {m}"), m))?;
        alert.push(a);
    }
    Ok(alert)
}

/// `[check]`, as `havip check` validates it.
fn check(src: &Source, c: Spanned<CheckConfig>) -> Result<CheckConfig, ConfigError> {
    let span = c.span();
    let c = c.into_inner();
    c.validate()
        .map_err(|m| src.err_from(Some(span.clone()), format!("section `[check]`: {m}"), m))?;
    Ok(c)
}
