//! Builds what a run needs from the configuration and the global flags: the API client
//! (endpoint, region, credentials), the metadata service and the alerter. Parsing happened
//! before; this is the "resolve" half (STYLE.md 2), and nothing here sends an API request.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};

use crate::alert::Alerter;
use crate::cloud::credentials::{Chain, CvmRoleProvider, EnvVars};
use crate::cloud::{metadata, CredentialProvider};
use crate::cloud::{
    region, Client, ClientConfig, Credentials, Metadata, StaticProvider, SystemClock,
};
use crate::config::Config;

/// The endpoint override from the environment (as for `havip api`).
pub const ENDPOINT_ENV: &str = "HAVIP_ENDPOINT";

/// Global command-line overrides; `None` leaves the configuration (or the default) in force.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--endpoint`.
    pub endpoint: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--ca-file`.
    pub ca_file: Option<PathBuf>,
    /// Per-request timeout (each HTTP exchange; retries stay inside the VIP's deadline).
    pub request_timeout: Option<Duration>,
}

/// A configuration, resolved into live objects.
pub struct Env {
    /// The configuration.
    pub cfg: Arc<Config>,
    /// The API client (no deadline yet: each run sets its own).
    pub client: Client,
    /// The metadata service (for node discovery).
    pub metadata: Metadata,
    /// Alert delivery.
    pub alerter: Alerter,
}

/// How long one metadata request may take: it is a link-local service, and discovery must not
/// eat the failover's deadline.
const METADATA_TIMEOUT: Duration = Duration::from_secs(2);

/// Resolves `cfg` with `ov`: endpoint (flag, `HAVIP_ENDPOINT`, file, default), region (flag,
/// file, `TENCENTCLOUD_REGION`, metadata), credentials (file, then the client's chain).
pub async fn connect(cfg: Config, ov: &Overrides) -> anyhow::Result<Env> {
    let env = EnvVars::from_process();
    let md_env = std::env::var(metadata::ENDPOINT_ENV).ok();
    let metadata = Metadata::from_env_value(md_env.as_deref(), METADATA_TIMEOUT)
        .context("metadata service")?;
    let endpoint = ov
        .endpoint
        .clone()
        .or_else(|| std::env::var(ENDPOINT_ENV).ok().filter(|s| !s.is_empty()))
        .or_else(|| cfg.endpoint.clone());
    let region_flag = ov.region.clone().or_else(|| cfg.region.clone());
    let region = region::resolve_region(region_flag.as_deref(), &env, Some(&metadata))
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let clock = Arc::new(SystemClock);
    let mut secrets = Vec::new();
    let creds: Arc<dyn CredentialProvider> = match &cfg.credentials {
        Some(c) if c.secret_id.is_some() => {
            let id = c.secret_id.clone().unwrap_or_default();
            let key = c.secret_key.clone().unwrap_or_default();
            secrets.push(key.clone());
            let mut creds = Credentials::new(id, key)
                .map_err(|e| anyhow!("{}: [credentials]: {e}", cfg.path.display()))?;
            if let Some(t) = &c.token {
                secrets.push(t.clone());
                creds = creds.with_token(t.clone());
            }
            Arc::new(StaticProvider::new(creds, "configuration"))
        }
        Some(c) if c.role.is_some() => Arc::new(CvmRoleProvider::new(
            metadata.clone(),
            c.role.clone().unwrap_or_default(),
            clock.clone(),
        )),
        Some(c) if c.profile_file.is_some() => Arc::new(
            Chain::default_chain(None, &env, None, clock.clone())
                .with_profile_paths(c.profile_file.iter().cloned().collect()),
        ),
        _ => Arc::new(Chain::default_chain(
            None,
            &env,
            Some(metadata.clone()),
            clock.clone(),
        )),
    };
    let mut cc = ClientConfig {
        endpoint,
        region,
        ca_file: ov.ca_file.clone().or_else(|| cfg.ca_file.clone()),
        clock,
        ..ClientConfig::default()
    };
    if let Some(t) = ov.request_timeout {
        cc.request_timeout = t;
    }
    let client = Client::new(cc, creds).map_err(|e| anyhow!("{e}"))?;
    let alerter = Alerter::new(&cfg.alert).with_secrets(secrets);
    Ok(Env {
        cfg: Arc::new(cfg),
        client,
        metadata,
        alerter,
    })
}

impl Overrides {
    /// The overrides the global flags carry.
    pub fn from_global(g: &crate::cli::GlobalArgs) -> Overrides {
        Overrides {
            endpoint: g.endpoint.clone().filter(|s| !s.is_empty()),
            region: g.region.clone(),
            ca_file: g.ca_file.clone(),
            request_timeout: g.request_timeout,
        }
    }
}

/// Loads the configuration named by `--config` / `HAVIP_CONFIG` / the default; a problem with
/// it is a usage error (exit 2) whose message names the key and line.
pub fn load_config(g: &crate::cli::GlobalArgs) -> anyhow::Result<Config> {
    let path = crate::config::config_path(g.config.as_deref());
    Config::load(&path).map_err(|e| crate::cmd::UsageError(e.to_string()).into())
}

/// Loads the configuration and resolves it into an engine (client, node identity, alerter).
/// Client setup problems (a bad endpoint, no region) are configuration errors: exit 2.
pub async fn engine(
    g: &crate::cli::GlobalArgs,
) -> anyhow::Result<Arc<crate::failover::run::Engine>> {
    let cfg = load_config(g)?;
    let path = cfg.path.clone();
    let env = connect(cfg, &Overrides::from_global(g))
        .await
        .map_err(|e| crate::cmd::UsageError(format!("{}: {e:#}", path.display())))?;
    Ok(Arc::new(crate::failover::run::Engine::new(env).await))
}
