//! The engine's resources for one process: the configuration, the API client, the metadata
//! service, the alerter, and this node's identity, resolved once (by `context`) and shared by
//! every run; plus what a run is started by and what it reports.

use std::sync::Arc;
use std::time::Duration;

use super::node::{self, DiscoveryError};
use crate::alert::Alerter;
use crate::cloud::{Client, Metadata};
use crate::config::Config;
pub use crate::journal::Trigger;
use crate::journal::{Journal, Verdict};

/// A configured engine plus this node's identity.
pub struct Engine {
    /// The configuration.
    pub cfg: Arc<Config>,
    /// The API client (no deadline yet: each run sets its own).
    pub client: Client,
    /// The metadata service (for node discovery).
    pub metadata: Metadata,
    /// Alert delivery.
    pub alerter: Alerter,
    /// This node's instance, resolved once (the error is shared by every run that needs it).
    pub instance_id: Result<String, Arc<DiscoveryError>>,
}

impl Engine {
    /// An engine over these resources; resolves the node's instance ID (configuration, else
    /// metadata).
    pub async fn new(
        cfg: Arc<Config>,
        client: Client,
        metadata: Metadata,
        alerter: Alerter,
    ) -> Engine {
        let instance_id = node::instance_id(&cfg, &metadata).await.map_err(Arc::new);
        Engine {
            cfg,
            client,
            metadata,
            alerter,
            instance_id,
        }
    }

    /// The journal file of this configuration.
    pub fn journal(&self) -> Journal {
        Journal::new(&self.cfg.journal)
    }

    /// This node's name for alerts: its instance, else the host name.
    pub(crate) fn node_name(&self) -> String {
        self.instance_id
            .clone()
            .unwrap_or_else(|_| crate::alert::hostname())
    }
}

/// The result of one VIP's run, as the command reports it.
#[derive(Debug, Clone)]
pub struct Report {
    /// VIP name.
    pub vip: String,
    /// How it ended.
    pub verdict: Verdict,
    /// One sentence.
    pub message: String,
    /// The plan, as lines.
    pub plan: Vec<String>,
    /// The failover's own wall time (alert delivery excluded).
    pub elapsed: Duration,
    /// Local bookkeeping that failed while the run went on (state file, lock, journal): the
    /// cloud work is reported as it ended, and the command says the bookkeeping did not keep up.
    pub local: Vec<String>,
}
