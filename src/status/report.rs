//! An observation in words: the stable JSON form (`havip status --json`, documented field by
//! field in docs/status.md, schema `havip.status/1`) and the monitoring plugin's one-line text
//! and perfdata. Both are built from an [`Observation`] alone, so the watch daemon can log or
//! serve exactly what `havip status` prints.

use std::net::Ipv4Addr;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Observation, Presence, Reason, Verdict};
use crate::config::{StrategyKind, VipConfig};
use crate::error_chain::error_chain;
use crate::failover::{EipDetails, Holder, Seat};
use crate::state::VrrpState;

/// The JSON document's `schema`: bumped only when a field changes meaning or goes away.
pub const SCHEMA: &str = "havip.status/1";

/// One VIP, as `--json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct VipReport {
    /// The VIP's name.
    pub name: String,
    /// Its strategy.
    pub strategy: StrategyKind,
    /// The verdict.
    pub verdict: Verdict,
    /// The reason's stable identifier ([`Reason::code`]).
    pub reason_code: &'static str,
    /// The reason in words.
    pub reason: String,
    /// When the observation started.
    pub observed_at: DateTime<Utc>,
    /// This node's view.
    pub local: LocalReport,
    /// The cloud's view.
    pub cloud: CloudReport,
}

/// This node's view.
#[derive(Debug, Clone, Serialize)]
pub struct LocalReport {
    /// The keepalived `vrrp_instance` the VIP follows.
    pub vrrp_instance: String,
    /// keepalived's last recorded state.
    pub state: Option<VrrpState>,
    /// When it was recorded.
    pub state_at: Option<DateTime<Utc>>,
    /// Its age in whole seconds at `observed_at`.
    pub state_age_s: Option<i64>,
    /// The event's sequence number.
    pub seq: Option<u64>,
    /// What recorded it (`notify`, `takeover`).
    pub trigger: Option<String>,
    /// Why the state file could not be read.
    pub state_error: Option<String>,
    /// The address looked for on the interfaces.
    pub address: Option<Ipv4Addr>,
    /// Whether it is on a local interface (`null`: not checked).
    pub address_on_interface: Option<bool>,
    /// Where it was found, else the configured `interface`.
    pub interface: Option<String>,
    /// Why the interfaces could not be listed.
    pub interface_error: Option<String>,
}

/// The cloud's view.
#[derive(Debug, Clone, Serialize)]
pub struct CloudReport {
    /// Why the cloud could not be read (every other field is then empty).
    pub error: Option<String>,
    /// `this_node`, `other`, `nobody`, `several`.
    pub holder: Option<&'static str>,
    /// The places the cloud names (none for `nobody`).
    pub holder_seats: Vec<SeatReport>,
    /// The resource carrying the VIP.
    pub resource: Option<String>,
    /// The address the cloud gives the VIP.
    pub vip: Option<String>,
    /// `FlushedTime` (havip).
    pub flushed_time: Option<DateTime<Utc>>,
    /// Its age in whole seconds at `observed_at`.
    pub flushed_age_s: Option<i64>,
    /// `CheckAssociate` (havip).
    pub check_associate: Option<bool>,
    /// The drift range (havip).
    pub drift_range: Option<Vec<MemberReport>>,
    /// The peers allowed to take the VIP (`null`: the cloud does not restrict who).
    pub peers: Option<Vec<String>>,
    /// The EIP from its own record.
    pub eip: Option<EipReport>,
    /// A task in flight.
    pub settling: Option<String>,
}

/// A place the cloud names.
#[derive(Debug, Clone, Serialize)]
pub struct SeatReport {
    pub instance_id: Option<String>,
    pub eni_id: Option<String>,
    pub private_ip: Option<String>,
}

/// A drift-range entry.
#[derive(Debug, Clone, Serialize)]
pub struct MemberReport {
    pub id: String,
    pub kind: String,
}

/// The EIP.
#[derive(Debug, Clone, Serialize)]
pub struct EipReport {
    pub address: Option<String>,
    pub address_id: Option<String>,
    /// `AddressStatus`; `null`: no such EIP.
    pub status: Option<String>,
    pub bound_to: Option<String>,
    /// Bound to the VIP, confirmed from its own record (and the HAVIP's side).
    pub attached: bool,
}

impl VipReport {
    /// The report of `obs`, an observation of `vip`.
    pub fn new(obs: &Observation, vip: &VipConfig) -> VipReport {
        VipReport {
            name: obs.vip.clone(),
            strategy: obs.strategy,
            verdict: obs.verdict(),
            reason_code: obs.judgement.reason.code(),
            reason: obs.judgement.reason.to_string(),
            observed_at: obs.at,
            local: local_report(obs, vip),
            cloud: cloud_report(obs),
        }
    }
}

fn local_report(obs: &Observation, vip: &VipConfig) -> LocalReport {
    let rec = obs.local.state.as_ref().ok().and_then(|r| r.as_ref());
    let p = &obs.local.presence;
    LocalReport {
        vrrp_instance: vip.vrrp_instance.clone(),
        state: rec.map(|r| r.state),
        state_at: rec.map(|r| r.at),
        state_age_s: obs.local.age(obs.at).map(|d| d.num_seconds()),
        seq: rec.map(|r| r.seq),
        trigger: rec.map(|r| r.trigger.clone()),
        state_error: obs.local.state.as_ref().err().map(|e| e.to_string()),
        address: p.address(),
        address_on_interface: p.is_on(),
        interface: match p {
            Presence::On { label, .. } => Some(label.clone()),
            _ => vip.interface.clone(),
        },
        interface_error: match p {
            Presence::Unreadable(e) => Some(e.to_string()),
            _ => None,
        },
    }
}

fn cloud_report(obs: &Observation) -> CloudReport {
    let view = match &obs.cloud {
        Ok(v) => v,
        Err(e) => {
            return CloudReport {
                error: Some(error_chain(&**e)),
                holder: None,
                holder_seats: Vec::new(),
                resource: None,
                vip: None,
                flushed_time: None,
                flushed_age_s: None,
                check_associate: None,
                drift_range: None,
                peers: None,
                eip: None,
                settling: None,
            }
        }
    };
    let d = &view.details;
    let (holder, seats): (_, Vec<&Seat>) = match &view.holder {
        Holder::Nobody => ("nobody", vec![]),
        Holder::ThisNode(s) => ("this_node", vec![s]),
        Holder::Other(s) => ("other", vec![s]),
        Holder::Several(all) => ("several", all.iter().collect()),
    };
    CloudReport {
        error: None,
        holder: Some(holder),
        holder_seats: seats
            .into_iter()
            .map(|s| SeatReport {
                instance_id: s.instance_id.clone(),
                eni_id: s.eni_id.clone(),
                private_ip: s.private_ip.clone(),
            })
            .collect(),
        resource: Some(d.resource.clone()).filter(|r| !r.is_empty()),
        vip: d.vip.clone(),
        flushed_time: d.flushed,
        flushed_age_s: d.flushed.map(|t| (obs.at - t).num_seconds().max(0)),
        check_associate: d.check_associate,
        drift_range: d.range.as_ref().map(|r| {
            r.iter()
                .map(|(id, kind)| MemberReport {
                    id: id.clone(),
                    kind: kind.to_string(),
                })
                .collect()
        }),
        peers: view.peers.clone(),
        eip: d.eip.as_ref().map(|e| EipReport {
            address: e.address.clone(),
            address_id: e.address_id.clone(),
            status: e.status.as_ref().map(|s| s.to_string()),
            bound_to: e.bound_to.clone(),
            attached: view.attached,
        }),
        settling: d.settling.clone(),
    }
}

/// The plugin text of one VIP: `iam: held by ins-… (this node, MASTER), EIP 1.2.3.4 BIND` when
/// OK, else `iam: <reason>`.
pub fn plugin_text(obs: &Observation) -> String {
    let view = match (&obs.judgement.reason, &obs.cloud) {
        (Reason::Agreed { .. }, Ok(v)) => v,
        (reason, _) => return format!("{}: {reason}", obs.vip),
    };
    let who = match &view.holder {
        Holder::ThisNode(s) | Holder::Other(s) => short(s),
        other => other.to_string(),
    };
    let role = match (view.holder.is_this_node(), obs.local.vrrp_state()) {
        (true, _) => "this node, MASTER".to_string(),
        (false, Some(s)) => format!("a peer; this node {s}"),
        (false, None) => "a peer".to_string(),
    };
    let eip = view
        .details
        .eip
        .as_ref()
        .map(eip_short)
        .map(|e| format!(", EIP {e}"))
        .unwrap_or_default();
    format!("{}: held by {who} ({role}){eip}", obs.vip)
}

/// A seat by its instance, else its ENI.
fn short(s: &Seat) -> String {
    s.instance_id
        .clone()
        .or_else(|| s.eni_id.clone())
        .unwrap_or_else(|| s.to_string())
}

fn eip_short(e: &EipDetails) -> String {
    let status = e.status.as_ref().map_or("not found", |s| s.as_str());
    format!("{} {status}", e.address.as_deref().unwrap_or("-"))
}

/// The plugin line: `HAVIP <WORST> - <each VIP's text>; … | <perfdata>`.
pub fn plugin_line(obs: &[Observation]) -> String {
    let worst = obs
        .iter()
        .map(Observation::verdict)
        .max()
        .unwrap_or(Verdict::Unknown);
    let texts: Vec<String> = obs.iter().map(plugin_text).collect();
    let perf: Vec<String> = obs.iter().flat_map(perfdata).collect();
    let mut line = format!("HAVIP {worst} - {}", texts.join("; "));
    if !perf.is_empty() {
        line.push_str(" | ");
        line.push_str(&perf.join(" "));
    }
    line
}

/// `<vip>_verdict=N;1;2;0;3` (the verdict as its exit code, warning at DRIFT, critical at
/// SPLIT) and `<vip>_state_age=Ns;;;0` when keepalived's state is known.
fn perfdata(obs: &Observation) -> Vec<String> {
    let mut out = vec![format!(
        "{}_verdict={};1;2;0;3",
        obs.vip,
        obs.verdict().exit_code()
    )];
    if let Some(age) = obs.local.age(obs.at) {
        out.push(format!("{}_state_age={}s;;;0", obs.vip, age.num_seconds()));
    }
    out
}
