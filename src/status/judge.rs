//! The one verdict on a VIP: a pure function of this node's view ([`LocalView`]) and the
//! cloud's ([`HoldView`], or why it could not be read). `havip status` prints it and exits with
//! it; the watch daemon acts on it. Table-tested below.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::local::{LocalView, Presence};
use super::ObserveError;
use crate::failover::vip::HoldView;
use crate::failover::{EipDetails, Holder, Seat};
use crate::state::VrrpState;

/// How a VIP stands, ordered from best to worst; the order is the monitoring-plugin exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Verdict {
    /// keepalived, this node's interfaces and the cloud agree, and nothing is in flight.
    Ok,
    /// keepalived and the cloud disagree (or the cloud is not settled): one side must follow.
    Drift,
    /// More than one node claims the VIP, or this node holds it while the cloud names another.
    Split,
    /// Something needed for a verdict could not be read.
    Unknown,
}

impl Verdict {
    /// The monitoring-plugin exit code: 0 OK, 1 DRIFT (WARNING), 2 SPLIT (CRITICAL), 3 UNKNOWN.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Ok => 0,
            Verdict::Drift => 1,
            Verdict::Split => 2,
            Verdict::Unknown => 3,
        }
    }

    /// `OK`, `DRIFT`, `SPLIT`, `UNKNOWN`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "OK",
            Verdict::Drift => "DRIFT",
            Verdict::Split => "SPLIT",
            Verdict::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a verdict was given: typed, so a daemon acts on the case and not on a sentence.
#[derive(Debug, Clone)]
pub enum Reason {
    /// OK: all agree; `this_node` says whether this node is the holder.
    Agreed {
        /// This node is MASTER and the cloud names it (else: BACKUP and a peer holds it).
        this_node: bool,
    },
    /// UNKNOWN: the cloud (or this node's identity) could not be read.
    CloudUnreadable(Arc<ObserveError>),
    /// UNKNOWN: the state file could not be read.
    StateUnreadable(Arc<std::io::Error>),
    /// UNKNOWN: no keepalived event was ever recorded for this VIP on this node.
    NoLocalState,
    /// UNKNOWN: keepalived's last recorded state (`state`, at `at`) predates this machine's
    /// boot (`booted`): its first event since has not come yet.
    StaleLocalState {
        state: VrrpState,
        at: DateTime<Utc>,
        booted: DateTime<Utc>,
    },
    /// UNKNOWN: the local interfaces could not be listed.
    InterfacesUnreadable(Arc<std::io::Error>),
    /// SPLIT: the cloud shows the VIP in several places at once.
    Several(Vec<Seat>),
    /// SPLIT: the VIP's address is on a local interface while the cloud names another holder.
    HereButHeldElsewhere {
        /// The local interface (label) that has the address.
        label: String,
        /// Who the cloud names.
        holder: Seat,
    },
    /// SPLIT: keepalived is MASTER here while the cloud names another holder.
    MasterButHeldElsewhere {
        /// Who the cloud names.
        holder: Seat,
    },
    /// DRIFT: a task is in flight on the VIP's resources (an EIP `UNBINDING`, …).
    Settling(String),
    /// DRIFT: keepalived is MASTER here but the cloud names nobody.
    MasterButHeldByNobody,
    /// DRIFT: keepalived is MASTER and the cloud agrees, but the address is not on the
    /// configured interface.
    MasterWithoutAddress {
        /// The configured interface.
        interface: String,
    },
    /// DRIFT: keepalived is not MASTER here but the cloud names this node.
    HeldButNotMaster(VrrpState),
    /// DRIFT: the cloud names nobody (and keepalived here is not MASTER either).
    HeldByNobody(VrrpState),
    /// DRIFT: the expected EIP is not bound to the VIP (its own record says so).
    EipNotAttached(Option<EipDetails>),
}

impl Reason {
    /// A stable identifier of the case (the JSON `reason_code`).
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Agreed { .. } => "agreed",
            Reason::CloudUnreadable(_) => "cloud_unreadable",
            Reason::StateUnreadable(_) => "state_unreadable",
            Reason::NoLocalState => "no_local_state",
            Reason::StaleLocalState { .. } => "stale_local_state",
            Reason::InterfacesUnreadable(_) => "interfaces_unreadable",
            Reason::Several(_) => "several_holders",
            Reason::HereButHeldElsewhere { .. } => "address_here_held_elsewhere",
            Reason::MasterButHeldElsewhere { .. } => "master_held_elsewhere",
            Reason::Settling(_) => "settling",
            Reason::MasterButHeldByNobody => "master_held_by_nobody",
            Reason::MasterWithoutAddress { .. } => "master_without_address",
            Reason::HeldButNotMaster(_) => "held_not_master",
            Reason::HeldByNobody(_) => "held_by_nobody",
            Reason::EipNotAttached(_) => "eip_not_attached",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Agreed { this_node: true } => {
                f.write_str("keepalived is MASTER here and the cloud agrees")
            }
            Reason::Agreed { this_node: false } => {
                f.write_str("keepalived is not MASTER here and a peer holds it")
            }
            Reason::CloudUnreadable(e) => f.write_str(&crate::error_chain::error_chain(&**e)),
            Reason::StateUnreadable(e) => write!(f, "keepalived's state: {e}"),
            Reason::NoLocalState => f.write_str(
                "no keepalived event recorded on this node (havip notify never ran for this VIP)",
            ),
            Reason::StaleLocalState { state, at, booted } => write!(
                f,
                "keepalived's last recorded state ({state} at {}) predates this boot ({}): \
                 waiting for its first event",
                at.format("%Y-%m-%dT%H:%M:%SZ"),
                booted.format("%Y-%m-%dT%H:%M:%SZ"),
            ),
            Reason::InterfacesUnreadable(e) => write!(f, "cannot list local interfaces: {e}"),
            Reason::Several(seats) => write!(
                f,
                "the cloud shows the VIP on several nodes: {}",
                Holder::Several(seats.clone())
            ),
            Reason::HereButHeldElsewhere { label, holder } => write!(
                f,
                "the address is on {label} here, but the cloud names {holder}"
            ),
            Reason::MasterButHeldElsewhere { holder } => {
                write!(f, "keepalived is MASTER here, but the cloud names {holder}")
            }
            Reason::Settling(what) => write!(f, "not settled: {what}"),
            Reason::MasterButHeldByNobody => {
                f.write_str("keepalived is MASTER here, but the cloud names nobody")
            }
            Reason::MasterWithoutAddress { interface } => write!(
                f,
                "keepalived is MASTER and the cloud agrees, but the address is not on {interface}"
            ),
            Reason::HeldButNotMaster(s) => {
                write!(f, "keepalived is {s} here, but the cloud names this node")
            }
            Reason::HeldByNobody(s) => {
                write!(f, "the cloud names nobody (keepalived is {s} here)")
            }
            Reason::EipNotAttached(Some(e)) => write!(f, "the EIP is not bound to the VIP: {e}"),
            Reason::EipNotAttached(None) => f.write_str("the expected EIP is not bound"),
        }
    }
}

/// A verdict and why.
#[derive(Debug, Clone)]
pub struct Judgement {
    /// The verdict.
    pub verdict: Verdict,
    /// Why.
    pub reason: Reason,
}

impl fmt::Display for Judgement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.verdict, self.reason)
    }
}

fn is(verdict: Verdict, reason: Reason) -> Judgement {
    Judgement { verdict, reason }
}

/// The verdict on one VIP, in this order (the first that applies):
/// 1. the cloud could not be read: UNKNOWN;
/// 2. the cloud shows several holders, or the address is here while the cloud names another:
///    SPLIT (certain, whatever else could not be read);
/// 3. keepalived's state or the interfaces could not be read, or no event was ever recorded:
///    UNKNOWN;
/// 4. keepalived is MASTER here while the cloud names another: SPLIT;
/// 5. a task is in flight (an EIP `BINDING`/`UNBINDING`, an IP `MIGRATING`): DRIFT;
/// 6. keepalived and the cloud disagree on whether this node holds it, the cloud names nobody,
///    or keepalived is MASTER and the cloud agrees but the address is missing from the VIP's
///    `interface`: DRIFT (a missing address counts only where the VIP names its `interface`:
///    elsewhere havip cannot know where keepalived puts it). An address here while keepalived
///    is not MASTER shows as one of these or as SPLIT (rule 2);
/// 7. the expected EIP is not bound, from its own record: DRIFT;
/// 8. OK.
pub fn judge(local: &LocalView, cloud: Result<&HoldView, &Arc<ObserveError>>) -> Judgement {
    let view = match cloud {
        Ok(v) => v,
        Err(e) => return is(Verdict::Unknown, Reason::CloudUnreadable(e.clone())),
    };
    if let Holder::Several(seats) = &view.holder {
        return is(Verdict::Split, Reason::Several(seats.clone()));
    }
    if let (Holder::Other(holder), Presence::On { label, .. }) = (&view.holder, &local.presence) {
        let reason = Reason::HereButHeldElsewhere {
            label: label.clone(),
            holder: holder.clone(),
        };
        return is(Verdict::Split, reason);
    }
    let state = match &local.state {
        Err(e) => return is(Verdict::Unknown, Reason::StateUnreadable(e.clone())),
        Ok(None) => return is(Verdict::Unknown, Reason::NoLocalState),
        Ok(Some(rec)) => match local.booted_since(rec) {
            Some(booted) => {
                let reason = Reason::StaleLocalState {
                    state: rec.state,
                    at: rec.at,
                    booted,
                };
                return is(Verdict::Unknown, reason);
            }
            None => rec.state,
        },
    };
    if let Presence::Unreadable(e) = &local.presence {
        return is(Verdict::Unknown, Reason::InterfacesUnreadable(e.clone()));
    }
    let master = state == VrrpState::Master;
    if let (true, Holder::Other(holder)) = (master, &view.holder) {
        let reason = Reason::MasterButHeldElsewhere {
            holder: holder.clone(),
        };
        return is(Verdict::Split, reason);
    }
    if let Some(what) = &view.details.settling {
        return is(Verdict::Drift, Reason::Settling(what.clone()));
    }
    if let Some(reason) = disagreement(state, &view.holder, &local.presence) {
        return is(Verdict::Drift, reason);
    }
    if !view.attached {
        return is(
            Verdict::Drift,
            Reason::EipNotAttached(view.details.eip.clone()),
        );
    }
    is(Verdict::Ok, Reason::Agreed { this_node: master })
}

/// Step 6 of [`judge`]: keepalived (`state`), the cloud (`holder`) and the interfaces
/// (`presence`) disagree, once SPLIT and MASTER-elsewhere are ruled out.
fn disagreement(state: VrrpState, holder: &Holder, presence: &Presence) -> Option<Reason> {
    let master = state == VrrpState::Master;
    match (master, holder, presence) {
        (true, Holder::Nobody, _) => Some(Reason::MasterButHeldByNobody),
        (
            true,
            Holder::ThisNode(_),
            Presence::Absent {
                interface: Some(i), ..
            },
        ) => Some(Reason::MasterWithoutAddress {
            interface: i.clone(),
        }),
        (false, Holder::ThisNode(_), _) => Some(Reason::HeldButNotMaster(state)),
        (false, Holder::Nobody, _) => Some(Reason::HeldByNobody(state)),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
