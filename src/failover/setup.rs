//! Builds what a run needs from the configuration and the global flags: the API client
//! (endpoint, region, credentials), the metadata service and the alerter. Parsing happened
//! before; this is the "resolve" half (STYLE.md 2), and nothing here sends an API request.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::anyhow;

use crate::alert::Alerter;
use crate::cloud::{self, Client, ClientOptions, Credentials, EnvVars, Metadata};
use crate::config::Config;

/// Global command-line overrides; `None` leaves the configuration (or the default) in force.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--endpoint` (clap also reads `HAVIP_ENDPOINT` into it).
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

/// The client options a configuration implies, with the command-line overrides on top:
/// endpoint (flag or `HAVIP_ENDPOINT`, then the file), region (flag, file, then the client's
/// `TENCENTCLOUD_REGION` → metadata), CA file, and credentials (the file's, else the chain).
/// `havip api` uses the same function, so every subcommand reaches the cloud the same way.
pub fn client_options(cfg: &Config, ov: &Overrides) -> anyhow::Result<ClientOptions> {
    let mut opts = ClientOptions {
        endpoint: ov.endpoint.clone().or_else(|| cfg.endpoint.clone()),
        region: ov.region.clone().or_else(|| cfg.region.clone()),
        ca_file: ov.ca_file.clone().or_else(|| cfg.ca_file.clone()),
        request_timeout: ov.request_timeout,
        ..ClientOptions::default()
    };
    if let Some(c) = &cfg.credentials {
        if let Some(too_open) = &c.too_open {
            return Err(anyhow!("{too_open}"));
        }
        if let Some(id) = &c.secret_id {
            let key = c.secret_key.clone().unwrap_or_default();
            // `Config::parse` made the same checks (with the line); callers name the file.
            let mut creds =
                Credentials::new(id.clone(), key).map_err(|e| anyhow!("[credentials]: {e}"))?;
            if let Some(t) = &c.token {
                creds = creds.with_token(t.clone());
            }
            opts.credentials = Some(creds);
        }
        opts.role = c.role.clone();
        opts.profile_file = c.profile_file.clone();
    }
    Ok(opts)
}

/// Resolves `cfg` with `ov` into a client, the metadata service and the alerter.
pub async fn connect(cfg: Config, ov: &Overrides) -> anyhow::Result<Env> {
    let env = EnvVars::from_process();
    let opts = client_options(&cfg, ov)?;
    // No context here: its errors name what is wrong (the metadata endpoint, or the CA file,
    // which the metadata client trusts too) and a "metadata service" prefix blamed the service
    // for a bad `--ca-file`.
    let metadata = opts
        .metadata(&env)?
        .ok_or_else(|| anyhow!("the metadata service is needed for node discovery"))?;
    let client = cloud::connect(&opts, &env)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    // Secrets written in the file are scrubbed from alerts too (the environment's always are).
    let secrets = cfg
        .credentials
        .iter()
        .flat_map(|c| [c.secret_key.clone(), c.token.clone()])
        .flatten()
        .collect::<Vec<_>>();
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
