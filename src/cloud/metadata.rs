//! The CVM instance metadata service: who and where this instance is, and its CAM role's
//! temporary credentials (`shared/tencent/API.md` §4.1).
//!
//! The base URL is configurable (`HAVIP_METADATA_ENDPOINT`) so tests can point it at tcsim;
//! paths are appended under `<base>/latest/meta-data/`. The real service speaks plain http at
//! 169.254.0.23 (`metadata.tencentyun.com`), so plain http is accepted there and on loopback
//! only ([`check_base_url`]): the service hands out role credentials, which must not cross any
//! other network unencrypted.

use std::time::Duration;

use serde::Deserialize;

use super::Error;
use crate::bounds::{clip, clip_quoted};
// The crate's one chain walker; `cloud::client` imports it from here.
pub(crate) use crate::error_chain::error_chain;

/// The metadata base URL on a real CVM.
pub(crate) const DEFAULT_BASE_URL: &str = "http://metadata.tencentyun.com";
/// The environment variable that overrides [`DEFAULT_BASE_URL`].
pub(crate) const ENDPOINT_ENV: &str = "HAVIP_METADATA_ENDPOINT";
/// The metadata service's link-local address on a CVM (what `metadata.tencentyun.com` resolves to).
pub const SERVICE_IP: std::net::Ipv4Addr = std::net::Ipv4Addr::new(169, 254, 0, 23);
/// The metadata service's name on a CVM.
pub const SERVICE_HOST: &str = "metadata.tencentyun.com";

/// A client of the metadata service. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Metadata {
    base_url: String,
    http: reqwest::Client,
}

/// The CAM role's temporary credentials as the metadata service returns them.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleCredentials {
    #[serde(default)]
    pub tmp_secret_id: String,
    #[serde(default)]
    pub tmp_secret_key: String,
    #[serde(default)]
    pub token: String,
    /// Unix seconds.
    #[serde(default)]
    pub expired_time: i64,
    #[serde(default)]
    pub expiration: String,
    /// `Success` when the credentials are valid (both SDKs require it).
    #[serde(default)]
    pub code: String,
}

impl std::fmt::Debug for RoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleCredentials")
            .field("tmp_secret_id", &self.tmp_secret_id)
            .field("tmp_secret_key", &"** redacted **")
            .field("token", &"** redacted **")
            .field("expired_time", &self.expired_time)
            .field("code", &self.code)
            .finish()
    }
}

impl Metadata {
    /// A client for `base_url` (e.g. `http://metadata.tencentyun.com`, or tcsim's
    /// `http://127.0.0.1:PORT/_sim/node/ins-1`). Each request times out after `timeout`:
    /// off a CVM the service does not answer, and that must not eat the command's deadline.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, Error> {
        Metadata::with_ca_file(base_url, timeout, None)
    }

    /// As [`Metadata::new`], also trusting the CA in `ca_file` for an `https` base URL (a
    /// simulator or proxy in front of the service; the real one is plain http).
    pub(crate) fn with_ca_file(
        base_url: &str,
        timeout: Duration,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Self, Error> {
        check_base_url(base_url)?;
        let mut builder = reqwest::Client::builder()
            // The metadata service is link-local to the instance: never through a proxy.
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout);
        if let Some(path) = ca_file {
            for cert in super::client::load_ca_file(path)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| Error::ConfigFrom {
            what: "metadata client".into(),
            source: Box::new(e),
        })?;
        Ok(Metadata {
            base_url: base_url.trim_end_matches('/').to_string(),
            http,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The URL of a metadata path (relative to `latest/meta-data/`).
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}/latest/meta-data/{}",
            self.base_url,
            path.trim_start_matches('/')
        )
    }

    /// The value at `path`, trimmed; `Ok(None)` when the service answers 404 (no such item).
    pub(crate) async fn get_opt(&self, path: &str) -> Result<Option<String>, Error> {
        let url = self.url(path);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| transport(&url, e))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = read_small_body(resp, &url).await?;
        if !status.is_success() {
            return Err(Error::HttpStatus {
                status: status.as_u16(),
                body: clip(&body),
                request_id: None,
            });
        }
        Ok(Some(body.trim().to_string()))
    }

    /// The value at `path`; a 404 is an error naming the path.
    pub async fn get(&self, path: &str) -> Result<String, Error> {
        self.get_opt(path).await?.ok_or_else(|| Error::HttpStatus {
            status: 404,
            body: format!("metadata item {path} not found"),
            request_id: None,
        })
    }

    pub async fn instance_id(&self) -> Result<String, Error> {
        self.get("instance-id").await
    }

    pub async fn region(&self) -> Result<String, Error> {
        self.get("placement/region").await
    }

    /// The primary ENI's MAC, as the service writes it (uppercase on real CVMs; compare
    /// case-insensitively).
    pub async fn mac(&self) -> Result<String, Error> {
        self.get("mac").await
    }

    /// The primary private IPv4 (some images answer with a trailing `/`, trimmed here).
    pub async fn local_ipv4(&self) -> Result<String, Error> {
        Ok(self
            .get("local-ipv4")
            .await?
            .trim_end_matches('/')
            .to_string())
    }

    /// The CAM role bound to this instance; `Ok(None)` when there is none (404 or empty).
    pub async fn role_name(&self) -> Result<Option<String>, Error> {
        Ok(self
            .get_opt("cam/security-credentials/")
            .await?
            .and_then(|body| list_lines(&body).into_iter().next()))
    }

    /// The role's temporary credentials. Requires `Code == "Success"`.
    pub(crate) async fn role_credentials(&self, role: &str) -> Result<RoleCredentials, Error> {
        let path = format!("cam/security-credentials/{role}");
        let body = self.get_opt(&path).await?.ok_or_else(|| {
            Error::Credentials(format!(
                "CAM role {role:?} is not bound to this instance (metadata {path} is 404)"
            ))
        })?;
        let creds: RoleCredentials = serde_json::from_str(&body).map_err(|e| Error::Decode {
            message: format!("metadata {path}: {}", clip(&e.to_string())),
            request_id: None,
        })?;
        if creds.code != "Success" {
            return Err(Error::Credentials(format!(
                "metadata {path} answered Code {}, not Success",
                clip_quoted(&creds.code)
            )));
        }
        if creds.tmp_secret_id.is_empty() || creds.tmp_secret_key.is_empty() {
            return Err(Error::Credentials(format!(
                "metadata {path} returned empty TmpSecretId or TmpSecretKey"
            )));
        }
        Ok(creds)
    }
}

/// Checks a metadata base URL: https anywhere; plain http only to the metadata service itself
/// (169.254.0.23, `metadata.tencentyun.com`) or to loopback (a simulator on this host).
pub fn check_base_url(base_url: &str) -> Result<reqwest::Url, Error> {
    let shown = clip_quoted(base_url);
    let url = reqwest::Url::parse(base_url).map_err(|e| Error::ConfigFrom {
        what: format!("metadata endpoint {shown}"),
        source: Box::new(e),
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(format!(
            "metadata endpoint {}: must not contain credentials (user:password@)",
            clip_quoted(&super::wire::without_credentials(&url))
        )));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_metadata_service(&url) || super::wire::is_loopback(&url) => Ok(url),
        "http" => Err(Error::Config(format!(
            "metadata endpoint {shown}: plain http is allowed only for the metadata service \
             ({SERVICE_IP}, {SERVICE_HOST}) and loopback addresses; use https"
        ))),
        other => Err(Error::Config(format!(
            "metadata endpoint {shown}: unsupported scheme {}; use http or https",
            clip_quoted(other)
        ))),
    }
}

/// The URL names the metadata service: 169.254.0.23 or `metadata.tencentyun.com`.
fn is_metadata_service(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    host.eq_ignore_ascii_case(SERVICE_HOST)
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip == SERVICE_IP)
}

/// A transport error naming the URL once (reqwest's own message repeats it).
fn transport(url: &str, e: reqwest::Error) -> Error {
    let timed_out = e.is_timeout();
    Error::Transport {
        message: format!("metadata {url}: {}", error_chain(&e.without_url())),
        timed_out,
    }
}

/// The entries of a directory listing: one per line, trailing `/` removed, blanks skipped.
fn list_lines(body: &str) -> Vec<String> {
    body.lines()
        .map(|l| l.trim().trim_end_matches('/').to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The largest metadata answer read: the items are a few bytes, a credentials document well
/// under 4 KiB. More is a broken service (or not the metadata service at all).
pub(crate) const MAX_METADATA_BYTES: usize = 64 * 1024;

/// Reads a metadata answer, refusing one larger than [`MAX_METADATA_BYTES`].
async fn read_small_body(mut resp: reqwest::Response, url: &str) -> Result<String, Error> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| transport(url, e))? {
        if body.len() + chunk.len() > MAX_METADATA_BYTES {
            return Err(Error::Decode {
                message: format!(
                    "metadata {url}: answer larger than {}",
                    crate::bounds::human_bytes(MAX_METADATA_BYTES as u64)
                ),
                request_id: None,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_under_latest_meta_data() {
        let m = Metadata::new(
            "http://127.0.0.1:9/_sim/node/ins-1/",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(
            m.url("placement/region"),
            "http://127.0.0.1:9/_sim/node/ins-1/latest/meta-data/placement/region"
        );
        assert_eq!(
            m.url("/cam/security-credentials/"),
            "http://127.0.0.1:9/_sim/node/ins-1/latest/meta-data/cam/security-credentials/"
        );
    }

    #[test]
    fn bad_endpoints_and_ca_files() {
        let t = Duration::from_secs(1);
        let e = Metadata::with_ca_file(
            "https://127.0.0.1:9",
            t,
            Some("/nonexistent/ca.pem".as_ref()),
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        assert!(Metadata::new("not a url", Duration::from_secs(1)).is_err());
        assert!(Metadata::new("ftp://x/", Duration::from_secs(1)).is_err());
    }

    #[test]
    fn plain_http_only_to_the_service_and_loopback() {
        for ok in [
            DEFAULT_BASE_URL,
            "http://169.254.0.23",
            "http://169.254.0.23:80/",
            "http://METADATA.tencentyun.com/",
            "http://127.0.0.1:9/_sim/node/ins-1",
            "http://localhost:8080",
            "http://[::1]:9",
            "https://10.0.4.2:8443",
            "https://metadata.example.com",
        ] {
            assert!(check_base_url(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "http://10.0.4.2:9180",
            "http://169.254.0.24",
            "http://169.254.0.23.example.com",
            "http://metadata.tencentyun.com.example.com",
            "http://203.0.113.7",
            "http://[fe80::1]",
        ] {
            let e = check_base_url(bad).unwrap_err().to_string();
            assert!(
                e.contains("plain http") && e.contains("169.254.0.23"),
                "{bad}: {e}"
            );
        }
        let e = check_base_url("http://user:hunter2@169.254.0.23")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2") && e.contains("credentials"), "{e}");
        let e = check_base_url("gopher://169.254.0.23")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unsupported scheme"), "{e}");
    }

    #[test]
    fn listings_drop_slashes_and_blanks() {
        assert_eq!(
            list_lines("52:54:00:AA:BB:01/\n\n52:54:00:AA:BB:02/\n"),
            vec!["52:54:00:AA:BB:01", "52:54:00:AA:BB:02"]
        );
    }

    #[test]
    fn role_credentials_debug_redacts() {
        let c: RoleCredentials = serde_json::from_str(
            r#"{"TmpSecretId":"AKIDtmp","TmpSecretKey":"tmp-key-secret","Token":"tok-secret",
                "ExpiredTime":1615590047,"Expiration":"2021-03-12T23:00:47Z","Code":"Success"}"#,
        )
        .unwrap();
        let text = format!("{c:?}");
        assert!(
            !text.contains("tmp-key-secret") && !text.contains("tok-secret"),
            "{text}"
        );
        assert_eq!(c.expired_time, 1_615_590_047);
    }
}
