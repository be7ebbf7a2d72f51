//! Turning options (flags, config file, environment) into a ready [`Client`]: region and
//! credentials resolution, the metadata endpoint, the endpoint override. Shared by every
//! subcommand that talks to the cloud.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::clock::{Clock, SystemClock};
use super::credentials::{Chain, Credentials, CvmRoleProvider, EnvVars};
use super::metadata::{Metadata, DEFAULT_BASE_URL, ENDPOINT_ENV};
use super::ratelimit::RateLimit;
use super::region::resolve_region;
use super::retry::RetryPolicy;
use super::CredentialProvider;
use super::{Client, ClientConfig, Error};

/// How long one metadata request may take: off a CVM nothing answers, and that must not eat
/// the command's deadline.
pub const METADATA_TIMEOUT: Duration = Duration::from_secs(2);

/// Everything a command knows about how to reach the cloud; `None` means "resolve it".
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    pub endpoint: Option<String>,
    /// `Some("")` means "no region on purpose" (global APIs).
    pub region: Option<String>,
    pub request_timeout: Option<Duration>,
    /// The per-call budget when no deadline is set on the client (default 30 s).
    pub deadline: Option<Duration>,
    pub ca_file: Option<PathBuf>,
    pub retry: Option<RetryPolicy>,
    /// Credentials from a config file; they win over every other source.
    pub credentials: Option<Credentials>,
    /// Take credentials from this CAM role (metadata service) instead of searching the chain.
    pub role: Option<String>,
    /// The profile file a config file names: the chain reads only it, and it must exist.
    pub profile_file: Option<PathBuf>,
    /// The metadata base URL; default from `HAVIP_METADATA_ENDPOINT`, else the real service.
    pub metadata_endpoint: Option<String>,
    /// Skip the metadata service entirely (no region or CAM role from it).
    pub no_metadata: bool,
    pub clock: Option<Arc<dyn Clock>>,
    /// A request budget every attempt of the client (and its clones) waits for; `None`: unpaced
    /// (the API's `RequestLimitExceeded` is then retried as throttling).
    pub rate_limit: Option<RateLimit>,
}

impl ClientOptions {
    /// The metadata client these options imply (`None` when disabled); it trusts `ca_file` too,
    /// for a simulator serving metadata over https.
    pub fn metadata(&self, env: &EnvVars) -> Result<Option<Metadata>, Error> {
        if self.no_metadata {
            return Ok(None);
        }
        let base = self
            .metadata_endpoint
            .as_deref()
            .or_else(|| env.get(ENDPOINT_ENV))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .unwrap_or(DEFAULT_BASE_URL);
        Metadata::with_ca_file(base, METADATA_TIMEOUT, self.ca_file.as_deref()).map(Some)
    }
}

/// Builds a client: validates the endpoint and CA file first (no I/O), then the credentials that
/// need no network (explicit → environment → profile file), then resolves the region (flag →
/// `TENCENTCLOUD_REGION` → metadata). The CVM role, when nothing local has credentials, resolves
/// on the first call.
pub async fn connect(opts: &ClientOptions, env: &EnvVars) -> Result<Client, Error> {
    connect_with_metadata(opts, env)
        .await
        .map(|(client, _)| client)
}

/// [`connect`], also handing back the metadata client it built (`None` when disabled), for
/// callers that need it too (node discovery): one client, one read of the CA file.
pub async fn connect_with_metadata(
    opts: &ClientOptions,
    env: &EnvVars,
) -> Result<(Client, Option<Metadata>), Error> {
    let defaults = ClientConfig::default();
    let clock = opts
        .clock
        .clone()
        .unwrap_or_else(|| Arc::new(SystemClock) as Arc<dyn Clock>);
    let metadata = opts.metadata(env)?;
    let mut cfg = ClientConfig {
        endpoint: opts.endpoint.clone().filter(|e| !e.trim().is_empty()),
        region: String::new(),
        request_timeout: opts.request_timeout.unwrap_or(defaults.request_timeout),
        deadline: opts.deadline.unwrap_or(defaults.deadline),
        ca_file: opts.ca_file.clone(),
        retry: opts.retry.clone().unwrap_or_default(),
        clock: clock.clone(),
        language: defaults.language,
        rate_limit: opts.rate_limit.clone(),
    };
    let creds: Arc<dyn CredentialProvider> = match (&opts.credentials, &opts.role) {
        (None, Some(role)) => {
            let Some(md) = metadata.clone() else {
                return Err(Error::Config(format!(
                    "credentials from CAM role {role:?} need the metadata service"
                )));
            };
            Arc::new(CvmRoleProvider::new(md, role.clone(), clock))
        }
        _ => {
            let chain =
                Chain::default_chain(opts.credentials.clone(), env, metadata.clone(), clock);
            let chain = match &opts.profile_file {
                Some(path) => chain.with_profile_file(path.clone()),
                None => chain,
            };
            // Credential problems visible without the network (half the environment pair, a
            // profile file too open or missing) fail here, as configuration errors, before
            // any call is attempted.
            chain.resolve_local().await?;
            Arc::new(chain)
        }
    };
    // Build once before the region lookup so a bad endpoint or CA file fails without I/O.
    Client::new(cfg.clone(), creds.clone())?;
    cfg.region = resolve_region(opts.region.as_deref(), env, metadata.as_ref()).await?;
    Ok((Client::new(cfg, creds)?, metadata))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bad_endpoint_fails_before_any_lookup() {
        let opts = ClientOptions {
            endpoint: Some("http://192.0.2.1:80".into()),
            // A metadata endpoint that would hang if contacted: the endpoint error must come first.
            metadata_endpoint: Some("http://127.0.0.1:9".into()),
            ..Default::default()
        };
        let e = connect(&opts, &EnvVars::default()).await.unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e}");
        assert!(e.to_string().contains("loopback"), "{e}");
    }

    #[tokio::test]
    async fn region_from_env_and_no_metadata() {
        let opts = ClientOptions {
            endpoint: Some("http://127.0.0.1:9".into()),
            no_metadata: true,
            ..Default::default()
        };
        let env = EnvVars::from_pairs([("TENCENTCLOUD_REGION", "ap-beijing")]);
        let c = connect(&opts, &env).await.unwrap();
        assert_eq!(c.region(), "ap-beijing");
        let e = connect(&opts, &EnvVars::default()).await.unwrap_err();
        assert!(matches!(e, Error::Config(_)));
    }

    #[test]
    fn metadata_defaults_to_the_real_service() {
        let opts = ClientOptions::default();
        for env in [
            EnvVars::default(),
            EnvVars::from_pairs([(ENDPOINT_ENV, "  ")]),
        ] {
            let md = opts.metadata(&env).unwrap().expect("metadata is on");
            assert_eq!(md.base_url(), DEFAULT_BASE_URL);
        }
        let env = EnvVars::from_pairs([(ENDPOINT_ENV, "http://127.0.0.1:9/_sim/node/ins-1")]);
        let md = opts.metadata(&env).unwrap().expect("metadata is on");
        assert_eq!(md.base_url(), "http://127.0.0.1:9/_sim/node/ins-1");
        let off = ClientOptions {
            no_metadata: true,
            ..Default::default()
        };
        assert!(off.metadata(&env).unwrap().is_none());
    }

    #[tokio::test]
    async fn missing_ca_file_is_a_config_error() {
        let opts = ClientOptions {
            ca_file: Some("/nonexistent/ca.pem".into()),
            region: Some("ap-guangzhou".into()),
            no_metadata: true,
            ..Default::default()
        };
        let e = connect(&opts, &EnvVars::default()).await.unwrap_err();
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }

    /// Issue 7: an empty `TENCENTCLOUD_SECRET_KEY` was a configuration error for `havip api`
    /// but an UNKNOWN failover for `havip notify`; now `connect` refuses it for everyone.
    #[tokio::test]
    async fn empty_env_secret_key_fails_at_connect() {
        let opts = ClientOptions {
            endpoint: Some("http://127.0.0.1:9".into()),
            region: Some("ap-guangzhou".into()),
            no_metadata: true,
            ..Default::default()
        };
        let env = EnvVars::from_pairs([
            ("TENCENTCLOUD_SECRET_ID", "AKIDx"),
            ("TENCENTCLOUD_SECRET_KEY", ""),
        ]);
        let e = connect(&opts, &env).await.unwrap_err();
        assert!(matches!(e, Error::Credentials(_)), "{e}");
    }

    /// Issue 7: a bad CA file was blamed on the metadata service.
    #[tokio::test]
    async fn a_bad_ca_file_is_named_not_blamed_on_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate").unwrap();
        let opts = ClientOptions {
            ca_file: Some(ca.clone()),
            region: Some("ap-guangzhou".into()),
            metadata_endpoint: Some("http://127.0.0.1:9".into()),
            ..Default::default()
        };
        let e = connect(&opts, &EnvVars::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("CA file {}", ca.display())), "{e}");
        assert!(!e.contains("metadata"), "{e}");
    }
}
