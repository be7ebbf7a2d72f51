//! One VIP's strategy, built from its configuration: the MASTER procedure ([`promote`]) and
//! the holder view of a planned failover ([`hold_view`]) both build it here, so they read the
//! cloud the same way and agree on who holds the VIP.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::engine::Engine;
use super::havip::{self, HavipStrategy};
use super::node::{self, DiscoveryError};
use super::{eip, private_ip, reconcile, Cx, Details, Holder, Outcome, Strategy};
use crate::cloud;
use crate::config::{Target, VipConfig};
use crate::journal::Verdict;

/// A VIP's strategy, ready to observe or reconcile.
pub enum VipStrategy {
    /// `strategy = "havip"`.
    Havip(HavipStrategy),
    /// `strategy = "private-ip"`.
    PrivateIp(private_ip::PrivateIpStrategy),
    /// `strategy = "eip"`.
    Eip(eip::EipStrategy),
}

impl VipStrategy {
    /// Builds the strategy for `vip` on this node; `since` is when this node became MASTER.
    /// The `private-ip` and `eip` strategies need this node's ENI (configured, else discovered
    /// with one call), the `havip` strategy does not.
    pub async fn build(
        engine: &Engine,
        vip: &VipConfig,
        since: DateTime<Utc>,
        client: &cloud::Client,
    ) -> Result<VipStrategy, Arc<DiscoveryError>> {
        let instance_id = engine.instance_id.clone()?;
        let cfg = &engine.cfg;
        let eni = || async {
            node::eni_id(cfg, &engine.metadata, client, &instance_id)
                .await
                .map_err(Arc::new)
        };
        Ok(match &vip.target {
            Target::Havip {
                havip_id,
                eip,
                fencing,
                eip_takeover,
            } => {
                let desired = havip::Desired {
                    havip_id: havip_id.clone(),
                    instance_id: instance_id.clone(),
                    eni_id: cfg.node.eni_id.clone(),
                    eip: eip.as_ref().and_then(|e| e.address),
                    fencing: *fencing,
                    eip_takeover: *eip_takeover,
                    interface: vip.interface.clone(),
                    vip: vip.vip,
                    since,
                };
                VipStrategy::Havip(HavipStrategy::new(desired, eip.clone()))
            }
            Target::PrivateIp { private_ip } => {
                VipStrategy::PrivateIp(private_ip::PrivateIpStrategy {
                    desired: private_ip::Desired {
                        ip: *private_ip,
                        eni_id: eni().await?,
                    },
                })
            }
            Target::Eip { eip, private_ip } => VipStrategy::Eip(eip::EipStrategy {
                desired: eip::Desired {
                    eip: eip.clone(),
                    eni_id: eni().await?,
                    private_ip: *private_ip,
                },
            }),
        })
    }

    /// Drives the strategy to the desired state (or only plans, when `dry_run`).
    pub async fn reconcile(&mut self, cx: &Cx, dry_run: bool) -> Outcome {
        match self {
            VipStrategy::Havip(s) => {
                let mut out = reconcile(s, cx, dry_run).await;
                if !s.notes.is_empty() {
                    out.message = format!("{} ({})", out.message, s.notes.join("; "));
                }
                out
            }
            VipStrategy::PrivateIp(s) => reconcile(s, cx, dry_run).await,
            VipStrategy::Eip(s) => reconcile(s, cx, dry_run).await,
        }
    }

    /// Reads the cloud once (Describe calls only) and says who holds the VIP.
    pub async fn view(&mut self, cx: &Cx) -> Result<HoldView, cloud::Error> {
        async fn one<S: Strategy>(s: &mut S, cx: &Cx) -> Result<HoldView, cloud::Error> {
            let obs = s.observe(cx).await?;
            Ok(HoldView {
                holder: s.holder(&obs),
                peers: s.peers(&obs),
                attached: s.attached(&obs),
                details: s.details(&obs),
            })
        }
        match self {
            VipStrategy::Havip(s) => one(s, cx).await,
            VipStrategy::PrivateIp(s) => one(s, cx).await,
            VipStrategy::Eip(s) => one(s, cx).await,
        }
    }
}

/// The holder as a planned failover and `havip status` see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldView {
    /// Who holds the VIP.
    pub holder: Holder,
    /// Peers allowed to take it (`None`: the cloud does not restrict who).
    pub peers: Option<Vec<String>>,
    /// The expected EIP is bound, confirmed from its own side (true when none is expected).
    pub attached: bool,
    /// What the same read shows beside the holder.
    pub details: Details,
}

impl HoldView {
    /// Whether a peer allowed to hold the VIP holds it, with the EIP in place.
    pub fn peer_holds(&self) -> bool {
        let Some(seat) = self.holder.other() else {
            return false;
        };
        self.attached
            && self
                .peers
                .as_ref()
                .is_none_or(|p| p.iter().any(|id| seat.is(id)))
    }
}

/// Builds and runs the VIP's strategy (the MASTER procedure).
pub async fn promote(
    engine: &Engine,
    vip: &VipConfig,
    since: DateTime<Utc>,
    cx: &Cx,
    dry_run: bool,
) -> Outcome {
    match VipStrategy::build(engine, vip, since, &cx.client).await {
        Ok(mut s) => s.reconcile(cx, dry_run).await,
        Err(e) => Outcome::without_plan(Verdict::Unknown, e.to_string()),
    }
}
