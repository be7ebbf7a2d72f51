//! One resolved context per process: the command line's flags first, then the environment,
//! then the configuration file, resolved once and in that direction (as ripgrep goes from its
//! low-level to its high-level arguments), and handed down to the commands.
//!
//! Commands ask the context only for what they need: `havip api` needs a client (endpoint,
//! region, credentials) and no VIP; `notify` needs the whole [`Engine`]. The configuration is
//! read at most once per process. Nothing below this layer reads the command line, and the
//! environment is read here (through [`EnvVars`]) and nowhere else.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::alert::Alerter;
use crate::cloud::{self, CallObserver, Client, ClientOptions, Credentials, EnvVars, RateLimit};
use crate::config::{Config, ConfigError, DEFAULT_CONFIG_PATH, STATE_DIR_ENV};
use crate::failover::Engine;

/// Why a context could not give a command what it asked for. Every kind is a problem with how
/// havip was set up (exit 2), except a cloud error, which keeps its own class.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file is missing or invalid (names the file, line and key).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The file is valid but its credentials or client settings cannot be used.
    #[error("{}", path.display())]
    Setup {
        /// The configuration file the settings came from.
        path: PathBuf,
        /// What failed.
        #[source]
        source: cloud::Error,
    },
    /// The client could not be built from the flags and the environment alone.
    #[error(transparent)]
    Cloud(#[from] cloud::Error),
}

impl Error {
    /// Whether this is a problem of configuration (exit 2) rather than of the cloud.
    pub(crate) fn is_setup(&self) -> bool {
        match self {
            Error::Config(_) | Error::Setup { .. } => true,
            Error::Cloud(e) => e.is_setup(),
        }
    }
}

/// Where the configuration file is, and whether someone asked for it.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    /// `--config`, else `HAVIP_CONFIG`, else the default path.
    pub path: PathBuf,
    /// Named by `--config` or `HAVIP_CONFIG` (a named file must exist; the default may not).
    pub named: bool,
}

impl ConfigSource {
    /// The file `flag` names (clap reads `HAVIP_CONFIG` into it), else the default path.
    pub fn new(flag: Option<&Path>) -> ConfigSource {
        match flag {
            Some(p) => ConfigSource {
                path: p.to_path_buf(),
                named: true,
            },
            None => ConfigSource {
                path: PathBuf::from(DEFAULT_CONFIG_PATH),
                named: false,
            },
        }
    }

    /// Whether there is a file to read: named, or present at the default path.
    pub fn present(&self) -> bool {
        self.named || self.path.exists()
    }
}

/// The process's resolved context: the flags (as client options), the environment, and the
/// configuration file, loaded on first use and kept.
pub struct Context {
    /// What the command line says about reaching the cloud; wins over the file.
    flags: ClientOptions,
    source: ConfigSource,
    env: EnvVars,
    config: OnceLock<Arc<Config>>,
    /// Every `--region` given, in order (`havip audit` scans each).
    regions: Vec<String>,
}

impl Context {
    /// A context over `flags` (from the command line), the configuration `source` and `env`.
    pub fn new(flags: ClientOptions, source: ConfigSource, env: EnvVars) -> Context {
        Context {
            flags,
            source,
            env,
            config: OnceLock::new(),
            regions: Vec::new(),
        }
    }

    /// The same context with every `--region` given, for commands that scan several.
    pub fn with_regions(mut self, regions: Vec<String>) -> Context {
        self.regions = regions;
        self
    }

    /// Every `--region` given, in order; empty when none was (the client's region is in
    /// [`Context::flags`]).
    pub fn regions(&self) -> &[String] {
        &self.regions
    }

    /// The command line's client options (endpoint, region, CA file, timeouts; `deadline` is
    /// `--timeout`, the whole command's deadline).
    pub fn flags(&self) -> &ClientOptions {
        &self.flags
    }

    /// The environment, as read once at start.
    pub fn env(&self) -> &EnvVars {
        &self.env
    }

    /// `HAVIP_STATE_DIR`, when set: wins over the file's `state_dir`.
    pub(crate) fn state_dir_env(&self) -> Option<PathBuf> {
        self.env.get(STATE_DIR_ENV).map(PathBuf::from)
    }

    /// The configuration, read once. A missing or invalid file is an error naming it.
    pub fn config(&self) -> Result<Arc<Config>, Error> {
        if let Some(c) = self.config.get() {
            return Ok(c.clone());
        }
        let cfg = Arc::new(Config::load(&self.source.path, self.state_dir_env())?);
        Ok(self.config.get_or_init(|| cfg).clone())
    }

    /// The configuration of a command that manages VIPs: it must have at least one `[[vip]]`.
    pub(crate) fn managed_config(&self) -> Result<Arc<Config>, Error> {
        let cfg = self.config()?;
        cfg.require_vips()?;
        Ok(cfg)
    }

    /// The configuration when there is one to read (named, or at the default path).
    pub(crate) fn config_if_present(&self) -> Result<Option<Arc<Config>>, Error> {
        if self.source.present() {
            self.config().map(Some)
        } else {
            Ok(None)
        }
    }

    /// The client options: the flags, over the file's settings and credentials when a
    /// configuration is given. A raw call needs nothing else of the file (no `[[vip]]`).
    pub(crate) fn client_options(&self, cfg: Option<&Config>) -> Result<ClientOptions, Error> {
        match cfg {
            Some(cfg) => file_options(cfg, &self.flags).map_err(|source| Error::Setup {
                path: cfg.path.clone(),
                source,
            }),
            None => Ok(self.flags.clone()),
        }
    }

    /// A client built from [`Context::client_options`].
    pub async fn client(&self, cfg: Option<&Config>) -> Result<Client, Error> {
        let opts = self.client_options(cfg)?;
        let client = cloud::connect(&opts, &self.env).await;
        match cfg {
            Some(cfg) => client.map_err(|source| Error::Setup {
                path: cfg.path.clone(),
                source,
            }),
            None => Ok(client?),
        }
    }

    /// A context over the same flags, file and environment whose configuration is not read
    /// yet: `havip watch` builds one on SIGHUP to read the file again.
    pub fn reloaded(&self) -> Context {
        Context::new(self.flags.clone(), self.source.clone(), self.env.clone())
            .with_regions(self.regions.clone())
    }

    /// [`Context::reloaded`], with every client built from it sharing `limit` (the watcher's
    /// global API budget, kept across reloads).
    pub fn with_rate_limit(&self, limit: RateLimit) -> Context {
        let mut c = self.reloaded();
        c.flags.rate_limit = Some(limit);
        c
    }

    /// [`Context::engine`], with every API call of the engine's client also reported to
    /// `observer` (the watcher's metrics).
    pub async fn engine_observed(
        &self,
        observer: Arc<dyn CallObserver>,
    ) -> Result<Arc<Engine>, Error> {
        self.build_engine(Some(observer)).await
    }

    /// Everything the failover engine needs: the configuration, the client, the metadata
    /// service, the alerter, and this node's identity (resolved once).
    pub async fn engine(&self) -> Result<Arc<Engine>, Error> {
        self.build_engine(None).await
    }

    async fn build_engine(
        &self,
        observer: Option<Arc<dyn CallObserver>>,
    ) -> Result<Arc<Engine>, Error> {
        let cfg = self.managed_config()?;
        let setup = |source| Error::Setup {
            path: cfg.path.clone(),
            source,
        };
        let opts = self.client_options(Some(&cfg))?;
        let (client, metadata) = cloud::setup::connect_with_metadata(&opts, &self.env)
            .await
            .map_err(setup)?;
        let client = match observer {
            Some(o) => client.with_observer(o),
            None => client,
        };
        let metadata = metadata.ok_or_else(|| {
            setup(cloud::Error::Config(
                "the metadata service is needed for node discovery".into(),
            ))
        })?;
        // The credentials of the environment and of the file are scrubbed from alerts.
        let file_secrets = cfg
            .credentials
            .iter()
            .flat_map(|c| [c.secret_key.clone(), c.token.clone()])
            .flatten();
        let secrets = self
            .env
            .secrets()
            .map(str::to_owned)
            .chain(file_secrets)
            .collect::<Vec<_>>();
        let alerter = Alerter::new(&cfg.alert).with_secrets(secrets);
        Ok(Arc::new(
            Engine::new(cfg.clone(), client, metadata, alerter).await,
        ))
    }
}

/// The file's client settings with the flags on top: endpoint (flag or `HAVIP_ENDPOINT`, then
/// the file), region (flag, file, then `TENCENTCLOUD_REGION` → metadata), CA file, and
/// credentials (the file's, else the chain).
fn file_options(cfg: &Config, flags: &ClientOptions) -> Result<ClientOptions, cloud::Error> {
    let mut opts = ClientOptions {
        endpoint: flags.endpoint.clone().or_else(|| cfg.endpoint.clone()),
        region: flags.region.clone().or_else(|| cfg.region.clone()),
        ca_file: flags.ca_file.clone().or_else(|| cfg.ca_file.clone()),
        ..flags.clone()
    };
    if let Some(c) = &cfg.credentials {
        if let Some(too_open) = c.too_open {
            return Err(cloud::Error::TooOpen {
                file: "the configuration file".into(),
                source: too_open,
            });
        }
        if let Some(id) = &c.secret_id {
            let key = c.secret_key.clone().unwrap_or_default();
            // `Config::parse` made the same checks (with the line); the caller names the file.
            let mut creds =
                Credentials::new(id.clone(), key).map_err(|e| cloud::Error::CredentialsFrom {
                    place: "[credentials]".into(),
                    source: Box::new(e),
                })?;
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
