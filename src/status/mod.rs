//! Where each VIP stands, read-only: this node's view (keepalived's last recorded state and
//! its age, the address on a local interface; [`local`]), the cloud's view through the same
//! holder function `notify` confirms with (`VipStrategy::view`: Describe calls only), and one
//! verdict on the two ([`judge`]: OK, DRIFT, SPLIT, UNKNOWN, with a typed reason).
//!
//! `havip status` observes each VIP once; the watch daemon keeps one [`VipObserver`] per VIP
//! and calls [`VipObserver::observe`] every few seconds. An observation costs one read of the
//! state file, one `SIOCGIFCONF`, and the strategy's Describe calls (`havip`: DescribeHaVips then
//! DescribeAddresses) on the engine's one client; the configuration is not read again and the
//! strategy (with the ENI lookup the `private-ip` and `eip` strategies need) is built once.
//! Nothing here writes: not to the cloud, not to the journal, not to the state directory.

pub mod judge;
pub mod local;
pub mod report;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

pub use judge::{judge, Judgement, Reason, Verdict};
pub use local::{LocalView, Presence};

use crate::cloud;
use crate::config::{StrategyKind, Target, VipConfig};
use crate::failover::node::DiscoveryError;
use crate::failover::vip::{HoldView, VipStrategy};
use crate::failover::{Cx, Engine};
use crate::state::VipState;

/// Why the cloud's view of a VIP could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// This node's instance (or ENI) could not be learned, so "this node" cannot be told from
    /// a peer.
    #[error("cannot tell which node this is")]
    Node(#[source] Arc<DiscoveryError>),
    /// A Describe call failed (after the client's retries, within the observation's deadline).
    #[error("cannot read the cloud")]
    Cloud(#[source] cloud::Error),
}

/// One look at one VIP.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The VIP's name.
    pub vip: String,
    /// Its strategy.
    pub strategy: StrategyKind,
    /// When the look started (ages are measured from here).
    pub at: DateTime<Utc>,
    /// This node's view.
    pub local: LocalView,
    /// The cloud's view, or why it could not be read.
    pub cloud: Result<HoldView, Arc<ObserveError>>,
    /// The verdict on both.
    pub judgement: Judgement,
}

impl Observation {
    /// The verdict alone.
    pub fn verdict(&self) -> Verdict {
        self.judgement.verdict
    }
}

/// Observes one configured VIP, as often as asked, over the engine's client.
pub struct VipObserver {
    engine: Arc<Engine>,
    vip: VipConfig,
    state: VipState,
    /// Built on the first observation that can build it, then kept.
    strategy: Option<VipStrategy>,
}

impl VipObserver {
    /// An observer of `vip` (one of `engine.cfg.vips`).
    pub fn new(engine: Arc<Engine>, vip: VipConfig) -> VipObserver {
        let state = VipState::new(&engine.cfg.state_dir, &vip.name);
        VipObserver {
            engine,
            vip,
            state,
            strategy: None,
        }
    }

    /// The VIP observed.
    pub fn vip(&self) -> &VipConfig {
        &self.vip
    }

    /// Reads this node's state, then the cloud (bounded by `timeout`, retries included), then
    /// the interfaces, and judges. Never fails: what could not be read is in the observation and
    /// makes it UNKNOWN.
    pub async fn observe(&mut self, timeout: Duration) -> Observation {
        let at = Utc::now();
        let state = local::read_state(&self.state);
        let cx = Cx::new(&self.engine.client, Instant::now() + timeout, None, None);
        let cloud = self.read_cloud(&cx).await.map_err(Arc::new);
        let address = self.address(cloud.as_ref().ok());
        let presence = local::presence(address, self.vip.interface.as_deref());
        let local = LocalView {
            state,
            presence,
            booted: local::booted(),
        };
        let judgement = judge(&local, cloud.as_ref());
        Observation {
            vip: self.vip.name.clone(),
            strategy: self.vip.target.kind(),
            at,
            local,
            cloud,
            judgement,
        }
    }

    async fn read_cloud(&mut self, cx: &Cx) -> Result<HoldView, ObserveError> {
        let strategy = match &mut self.strategy {
            Some(s) => s,
            None => {
                // `since` only matters to a MASTER run's freshness check, which a view skips.
                let s = VipStrategy::build(&self.engine, &self.vip, Utc::now(), &cx.client)
                    .await
                    .map_err(ObserveError::Node)?;
                self.strategy.insert(s)
            }
        };
        strategy.view(cx).await.map_err(ObserveError::Cloud)
    }

    /// The address keepalived puts on the interface: the configured `vip`, else the
    /// `private-ip` strategy's IP, else (`havip`) the HAVIP's Vip as the cloud gives it. The `eip`
    /// strategy's public address is never on an interface, so it is not looked for.
    fn address(&self, view: Option<&HoldView>) -> Option<Ipv4Addr> {
        let from_cloud = || {
            view.and_then(|v| v.details.vip.as_deref())
                .and_then(|a| a.parse().ok())
        };
        self.vip.vip.or_else(|| match &self.vip.target {
            Target::PrivateIp { private_ip } => Some(*private_ip),
            Target::Havip { .. } => from_cloud(),
            Target::Eip { .. } => None,
        })
    }
}
