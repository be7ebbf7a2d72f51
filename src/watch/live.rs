//! The watcher's [`Effects`] on the real world: a look is the status core's observation
//! ([`VipObserver`]); a repair is the MASTER procedure of the last recorded MASTER event
//! (`failover::reassert`: the same strategy code, lock and journal as `havip notify`); an
//! announcement is `node::garp`; alerts go through the engine's `Alerter`; the pause between
//! looks is a timerfd (`pause`), which wakes the process once.

use std::sync::Arc;
use std::time::Duration;

use super::pause::Pause;
use super::vip::{Effects, Seen};
use crate::alert::AlertEvent;
use crate::cloud::address::AddressStatus;
use crate::config::{StrategyKind, VipConfig};
use crate::failover::{reassert, Engine, Holder, Report, Trigger};
use crate::state::VrrpState;
use crate::status::{Observation, VipObserver};

/// How long one look may take (the Describe calls and their retries): a look that outlives
/// this is UNKNOWN, and the error policy decides when to look again.
const LOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// One VIP's effects, over the engine of the configuration in force.
pub struct Live {
    engine: Arc<Engine>,
    vip: VipConfig,
    observer: VipObserver,
    pause: Pause,
}

impl Live {
    /// The effects for `vip` (one of `engine.cfg.vips`).
    pub fn new(engine: Arc<Engine>, vip: VipConfig) -> Live {
        let observer = VipObserver::new(engine.clone(), vip.clone());
        Live {
            engine,
            vip,
            observer,
            pause: Pause::default(),
        }
    }
}

impl Effects for Live {
    async fn look(&mut self) -> Seen {
        let timeout = LOOK_TIMEOUT.min(self.vip.deadline);
        let obs = self.observer.observe(timeout).await;
        Seen {
            master: obs.local.vrrp_state() == Some(VrrpState::Master),
            idle_eips: idle_eips(&obs),
            clock_skew_s: self.engine.client.clock_skew(),
            judgement: obs.judgement,
        }
    }

    async fn repair(&mut self) -> Option<Report> {
        reassert(self.engine.clone(), self.vip.clone(), Trigger::Watch).await
    }

    async fn announce(&mut self) {
        // Only a HAVIP follows an announcement; the other strategies move by API alone.
        if self.vip.target.kind() != StrategyKind::Havip {
            return;
        }
        let (Some(iface), Some(ip)) = (self.vip.interface.clone(), self.vip.vip) else {
            return;
        };
        let vip = self.vip.name.clone();
        let sent =
            tokio::task::spawn_blocking(move || crate::node::garp::announce(&iface, ip)).await;
        match sent {
            Ok(Ok(())) => tracing::info!(vip = %vip, "announced the VIP (gratuitous ARP)"),
            Ok(Err(e)) => tracing::warn!(vip = %vip, error = %e, "cannot announce the VIP"),
            Err(e) => tracing::warn!(vip = %vip, error = %e, "announcement task failed"),
        }
    }

    async fn alert(&mut self, ev: AlertEvent) {
        let ev = ev.with_node(self.engine.node_name());
        self.engine
            .alerter
            .send_within(&ev, Duration::from_secs(10))
            .await;
    }

    async fn pause(&mut self, d: Duration) {
        self.pause.sleep(d).await;
    }
}

/// EIPs the look saw billed while idle: unbound (`UNBIND`, `BIND_ENI` without an instance), or
/// bound to a HAVIP that nobody holds (API.md §5).
fn idle_eips(obs: &Observation) -> i64 {
    let Ok(view) = &obs.cloud else { return 0 };
    let Some(eip) = &view.details.eip else {
        return 0;
    };
    let idle = match &eip.status {
        Some(AddressStatus::Unbind | AddressStatus::BindEni) => true,
        Some(AddressStatus::Bind) => {
            eip.bound_to
                .as_deref()
                .is_some_and(|t| t.starts_with("havip-"))
                && view.holder == Holder::Nobody
        }
        _ => false,
    };
    i64::from(idle)
}
