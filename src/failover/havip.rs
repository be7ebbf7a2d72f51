//! The `havip` strategy: keepalived's gratuitous ARP moves the HAVIP; havip makes sure this node
//! may take it (drift range), optionally fences peers out, adds its own announcement when an
//! interface is configured, keeps the expected EIP bound, and confirms with DescribeHaVips that
//! this node holds the HAVIP with a `FlushedTime` not older than the transition.

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

use super::{write_error, Cx, Holder, Plan, Seat, StepError, Strategy};
use crate::cloud::address::{Address, DescribeAddresses, DisassociateAddress};
use crate::cloud::havip::{
    AssociateHaVipInstance, DescribeHaVips, DisassociateHaVipInstance, HaVip,
    HaVipAssociateAddressIp, HaVipAssociation, HaVipDisassociateAddressIp,
};
use crate::cloud::{self, task, Filter};
use crate::config::EipRef;

/// How much older than the transition a `FlushedTime` may be and still count as fresh:
/// keepalived announces at the moment it runs the notify hook, so the ARP can reach the cloud a
/// little before the event is recorded, and `FlushedTime` has one-second resolution.
pub const FRESH_SLACK: Duration = Duration::from_secs(10);

/// How long the cloud must keep showing this node as holder, with a `FlushedTime` older than
/// the transition, before that counts as confirmed. The cloud refreshes `FlushedTime` only when
/// an announcement *moves* the HAVIP, so a node that becomes MASTER again while it never lost
/// the HAVIP (BACKUP → MASTER with no peer taking over) can never show a fresh one; a second
/// read a moment later guards against acting on one lagging answer.
pub const STALE_HOLD_CONFIRM: Duration = Duration::from_secs(1);

/// The API's `YYYY-MM-DD hh:mm:ss` times are Beijing time (UTC+8).
const API_UTC_OFFSET_SECS: i32 = 8 * 3600;

/// Parses a HAVIP `FlushedTime`; the API's "never" (`0000-00-00 00:00:00`) and junk read as None.
pub fn parse_api_time(s: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    let tz = FixedOffset::east_opt(API_UTC_OFFSET_SECS)?;
    tz.from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// What this node wants of the HAVIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// `havip-…`.
    pub havip_id: String,
    /// This node's instance.
    pub instance_id: String,
    /// This node's ENI, when known (needed only to recognise ENI entries of the range).
    pub eni_id: Option<String>,
    /// The EIP that must be bound to the HAVIP (address resolved).
    pub eip: Option<Ipv4Addr>,
    /// Remove peers from the drift range.
    pub fencing: bool,
    /// Move the expected EIP when it is bound elsewhere.
    pub eip_takeover: bool,
    /// The interface to announce on, when configured.
    pub interface: Option<String>,
    /// The Vip the configuration expects, if it names one.
    pub vip: Option<Ipv4Addr>,
    /// When this node became MASTER, in the API server's clock.
    pub since: DateTime<Utc>,
}

/// What the cloud shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The HAVIP's Vip.
    pub vip: String,
    /// Holder instance (empty: none).
    pub holder_instance: String,
    /// Holder ENI (empty: none).
    pub holder_eni: String,
    /// Parsed `FlushedTime`.
    pub flushed: Option<DateTime<Utc>>,
    /// The holder changed to us while this run watched (proves freshness whatever the clocks).
    pub moved_during_run: bool,
    /// How long this run has seen this node hold the HAVIP with a stale `FlushedTime`.
    pub held_stale_for: Duration,
    /// Drift range: (id, type).
    pub range: Vec<(String, String)>,
    /// Whether the range is enforced.
    pub check_associate: bool,
    /// The EIP bound to the HAVIP (empty: none).
    pub address_ip: String,
    /// The expected EIP's own record (`DescribeAddresses`), read on every observation when an
    /// EIP is expected: its binding is confirmed from its own side.
    pub eip: Option<EipState>,
}

/// The expected EIP as DescribeAddresses shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EipState {
    /// No such address in the region.
    Missing,
    /// Found.
    Found {
        /// `eip-…`.
        address_id: String,
        /// `BIND`, `UNBIND`, `BINDING`, …
        status: String,
        /// What it is bound to (`havip-…`, `ins-…`, …; empty when unbound).
        instance_id: String,
        /// `HAVIP`, `CVM`, … when bound.
        instance_type: String,
        /// ENI it is bound to, if any.
        eni_id: String,
    },
}

impl From<Address> for EipState {
    fn from(a: Address) -> EipState {
        EipState::Found {
            address_id: a.address_id,
            status: a.address_status,
            instance_id: a.instance_id,
            instance_type: a.instance_type.unwrap_or_default(),
            eni_id: a.network_interface_id,
        }
    }
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// AssociateHaVipInstance for this node.
    AddToRange {
        /// `havip-…`.
        havip_id: String,
        /// `ins-…`.
        instance_id: String,
    },
    /// DisassociateHaVipInstance for a peer (fencing).
    RemoveFromRange {
        /// `havip-…`.
        havip_id: String,
        /// `ins-…` or `eni-…`.
        id: String,
        /// `CVM` or `ENI`.
        kind: String,
    },
    /// HaVipDisassociateAddressIp: a HAVIP holds an EIP that must leave it.
    UnbindFromHavip {
        /// The HAVIP holding it.
        havip_id: String,
        /// The EIP on it.
        address_ip: String,
    },
    /// DisassociateAddress: the expected EIP is bound to something that is not a HAVIP.
    Disassociate {
        /// `eip-…`.
        address_id: String,
        /// Where it is bound.
        from: String,
    },
    /// HaVipAssociateAddressIp.
    BindEip {
        /// `havip-…`.
        havip_id: String,
        /// The EIP.
        address_ip: String,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::AddToRange {
                havip_id,
                instance_id,
            } => write!(
                f,
                "add {instance_id} to the drift range of {havip_id} (AssociateHaVipInstance)"
            ),
            Step::RemoveFromRange { havip_id, id, .. } => write!(
                f,
                "fence {id} out of the drift range of {havip_id} (DisassociateHaVipInstance)"
            ),
            Step::UnbindFromHavip {
                havip_id,
                address_ip,
            } => write!(
                f,
                "unbind EIP {address_ip} from {havip_id} (HaVipDisassociateAddressIp)"
            ),
            Step::Disassociate { address_id, from } => {
                write!(
                    f,
                    "unbind EIP {address_id} from {from} (DisassociateAddress)"
                )
            }
            Step::BindEip {
                havip_id,
                address_ip,
            } => write!(
                f,
                "bind EIP {address_ip} to {havip_id} (HaVipAssociateAddressIp)"
            ),
        }
    }
}

/// Who holds the HAVIP: its `InstanceId`/`NetworkInterfaceId`, this node when either is ours.
pub fn holder(d: &Desired, o: &Observed) -> Holder {
    let seat = Seat::new(&o.holder_instance, &o.holder_eni);
    if seat.is_empty() {
        Holder::Nobody
    } else if is_held(d, o) {
        Holder::ThisNode(seat)
    } else {
        Holder::Other(seat)
    }
}

/// Whether the cloud shows this node as the holder.
fn is_held(d: &Desired, o: &Observed) -> bool {
    is_self(d, &o.holder_instance) || is_self(d, &o.holder_eni)
}

/// Whether the holder was set by an announcement at or after the transition (or moved while
/// this run watched, which proves it whatever the clocks say).
fn is_fresh(d: &Desired, o: &Observed) -> bool {
    o.moved_during_run
        || o.flushed.is_some_and(|t| {
            t + chrono::Duration::from_std(FRESH_SLACK).unwrap_or_default() >= d.since
        })
}

fn is_self(d: &Desired, id: &str) -> bool {
    !id.is_empty() && (id == d.instance_id || d.eni_id.as_deref() == Some(id))
}

/// The plan: a pure function of desired and observed state.
pub fn plan(d: &Desired, o: &Observed) -> Plan<Step> {
    let mut p = Plan::default();
    if let Some(want) = d.vip {
        if o.vip != want.to_string() {
            // The wrong HAVIP ID in the file would otherwise be "confirmed" for the wrong VIP.
            p.blockers.push(format!(
                "{} has Vip {}, but the configuration says vip = {want}",
                d.havip_id, o.vip
            ));
            return p;
        }
    }
    if !o.range.iter().any(|(id, _)| is_self(d, id)) {
        p.steps.push(Step::AddToRange {
            havip_id: d.havip_id.clone(),
            instance_id: d.instance_id.clone(),
        });
    }
    if d.fencing {
        for (id, kind) in &o.range {
            if is_self(d, id) {
                continue;
            }
            if id.starts_with("eni-") && d.eni_id.is_none() {
                // Removing an ENI entry we cannot tell from our own could fence us out.
                p.blockers.push(format!(
                    "fencing: cannot tell whether {id} is this node's ENI (set node.eni_id)"
                ));
                continue;
            }
            p.steps.push(Step::RemoveFromRange {
                havip_id: d.havip_id.clone(),
                id: id.clone(),
                kind: kind.clone(),
            });
        }
    }
    let held = is_held(d, o);
    let fresh = is_fresh(d, o) || o.held_stale_for >= STALE_HOLD_CONFIRM;
    if !held {
        // The announcement is not a step: it is repeated while waiting (see `on_wait`).
        let announce = match &d.interface {
            Some(iface) => format!("announce {} on {iface} and wait for ", o.vip),
            None => String::new(),
        };
        p.waits.push(format!(
            "{announce}{} to hold {} (held by {})",
            d.instance_id,
            d.havip_id,
            holder(d, o)
        ));
    } else if !fresh {
        p.waits.push(format!(
            "a fresh announcement, or the same holder for {}s: {} holds {} but FlushedTime {} predates the transition",
            STALE_HOLD_CONFIRM.as_secs(),
            d.instance_id,
            d.havip_id,
            o.flushed
                .map(|t| t.to_rfc3339())
                .unwrap_or_else(|| "(never)".into())
        ));
    }
    if let Some(want) = d.eip {
        plan_eip(d, o, &want.to_string(), &mut p);
    }
    p
}

/// Whether the expected EIP `want` is bound to `havip_id`, confirmed from both sides: the EIP's
/// own record (`DescribeAddresses`) says `BIND` to this HAVIP, and the HAVIP (`AddressIp`)
/// shows it. The HAVIP's side alone is not enough: it keeps showing the address while an
/// unbind is in flight (issue 7, "false success while the EIP is being unbound").
pub fn eip_bound(
    havip_id: &str,
    havip_address_ip: &str,
    want: &str,
    eip: Option<&EipState>,
) -> bool {
    havip_address_ip == want
        && matches!(eip, Some(EipState::Found { status, instance_id, .. })
            if status == "BIND" && instance_id == havip_id)
}

fn plan_eip(d: &Desired, o: &Observed, want: &str, p: &mut Plan<Step>) {
    let mut unbind_own = None;
    if !o.address_ip.is_empty() && o.address_ip != want {
        if !d.eip_takeover {
            p.blockers.push(format!(
                "{} has EIP {} bound, not the expected {want}; not changed (set eip_takeover = true to replace it)",
                d.havip_id, o.address_ip
            ));
            return;
        }
        unbind_own = Some(Step::UnbindFromHavip {
            havip_id: d.havip_id.clone(),
            address_ip: o.address_ip.clone(),
        });
    }
    let Some(eip) = &o.eip else {
        p.blockers
            .push(format!("EIP {want} could not be looked up"));
        return;
    };
    match eip {
        EipState::Missing => p
            .blockers
            .push(format!("EIP {want} does not exist in this region")),
        EipState::Found {
            address_id,
            status,
            instance_id,
            instance_type,
            eni_id,
        } => match status.as_str() {
            "BIND" if instance_id == &d.havip_id => {
                if o.address_ip != want {
                    // DescribeHaVips has not caught up with DescribeAddresses yet.
                    p.waits
                        .push(format!("{} to show EIP {want} bound", d.havip_id));
                }
            }
            "UNBIND" => {
                // The HAVIP may still show this address while its view lags the EIP's: binding
                // is still the step (the API answers "already bound" if it is, and the next
                // read decides).
                p.steps.extend(unbind_own);
                p.steps.push(Step::BindEip {
                    havip_id: d.havip_id.clone(),
                    address_ip: want.to_string(),
                });
            }
            "BIND" | "BIND_ENI" => {
                let to = if !instance_id.is_empty() {
                    instance_id.clone()
                } else if !eni_id.is_empty() {
                    eni_id.clone()
                } else {
                    "another resource".to_string()
                };
                if !d.eip_takeover {
                    p.blockers.push(format!(
                        "EIP {want} ({address_id}) is bound to {to}, not to {}; not moved (set eip_takeover = true to move it)",
                        d.havip_id
                    ));
                    return;
                }
                p.steps.extend(unbind_own);
                if instance_type.eq_ignore_ascii_case("HAVIP") || to.starts_with("havip-") {
                    p.steps.push(Step::UnbindFromHavip {
                        havip_id: to,
                        address_ip: want.to_string(),
                    });
                } else {
                    p.steps.push(Step::Disassociate {
                        address_id: address_id.clone(),
                        from: to,
                    });
                }
                p.steps.push(Step::BindEip {
                    havip_id: d.havip_id.clone(),
                    address_ip: want.to_string(),
                });
            }
            // BINDING, UNBINDING, CREATING, OFFLINING, …: a task is in flight. Not done, and
            // not safe to act on either: wait for it to settle, then plan from what it left.
            other => p.waits.push(format!(
                "EIP {want} ({address_id}) to settle: its status is {other}"
            )),
        },
    }
}

/// The `havip` strategy's state across the loop.
pub struct HavipStrategy {
    /// What we want.
    pub desired: Desired,
    /// The configured expected EIP (the address may need a lookup by ID).
    pub eip_ref: Option<EipRef>,
    /// The holder seen at the first read, to notice a move during the run.
    first_holder: Option<(String, String)>,
    /// Notes for the outcome (announce errors).
    pub notes: Vec<String>,
    /// The Vip, learned from the first read.
    vip: Option<Ipv4Addr>,
    /// The transition in this host's clock; `desired.since` is it in the server's clock.
    since_local: DateTime<Utc>,
    /// When this run first saw this node holding the HAVIP with a stale `FlushedTime`.
    stale_since: Option<std::time::Instant>,
}

impl HavipStrategy {
    /// A strategy run for `desired`; `eip_ref` is the configured EIP (resolved on first read).
    pub fn new(desired: Desired, eip_ref: Option<EipRef>) -> Self {
        HavipStrategy {
            stale_since: None,
            since_local: desired.since,
            desired,
            eip_ref,
            first_holder: None,
            notes: Vec::new(),
            vip: None,
        }
    }
}

/// Reads one HAVIP; a missing HAVIP is an error (it cannot be UNKNOWN'd into success).
pub async fn describe_havip(client: &cloud::Client, id: &str) -> Result<HaVip, cloud::Error> {
    let resp = client.call(&DescribeHaVips::by_ids([id])).await?;
    resp.ha_vip_set
        .into_iter()
        .find(|h| h.ha_vip_id == id)
        .ok_or_else(|| cloud::Error::Api {
            code: "ResourceNotFound".into(),
            message: format!("DescribeHaVips did not return {id}"),
            request_id: Some(resp.request_id),
        })
}

/// Looks an EIP up by address or ID.
pub async fn describe_eip(
    client: &cloud::Client,
    eip: &EipRef,
) -> Result<Option<Address>, cloud::Error> {
    let req = match (&eip.id, &eip.address) {
        (Some(id), _) => DescribeAddresses::by_ids([id.as_str()]),
        (None, Some(a)) => {
            DescribeAddresses::by_filters(vec![Filter::new("address-ip", [a.to_string()])])
        }
        (None, None) => return Ok(None),
    };
    let resp = client.call(&req).await?;
    Ok(resp.address_set.into_iter().find(|a| {
        eip.id.as_deref().is_none_or(|id| a.address_id == id)
            && eip.address.is_none_or(|ip| a.address_ip == ip.to_string())
    }))
}

impl Strategy for HavipStrategy {
    type Observed = Observed;
    type Step = Step;

    async fn observe(&mut self, cx: &Cx) -> Result<Observed, cloud::Error> {
        // FlushedTime is stamped by the server's clock; compare in that clock (the client
        // learns the offset from a SignatureExpire answer, 0 otherwise).
        self.desired.since = self.since_local + chrono::Duration::seconds(cx.client.clock_skew());
        let Some(eip_ref) = self.eip_query() else {
            let h = describe_havip(&cx.client, &self.desired.havip_id).await?;
            return Ok(self.observed(h, None));
        };
        // Both sides of the binding, read together: no extra latency for the second read.
        let (h, a) = tokio::join!(
            describe_havip(&cx.client, &self.desired.havip_id),
            describe_eip(&cx.client, &eip_ref)
        );
        let (h, a) = (h?, a?);
        let eip = match a {
            None => EipState::Missing,
            Some(a) => {
                // An EIP configured by ID only: its address is learned from this read.
                if self.desired.eip.is_none() {
                    self.desired.eip = a.address_ip.parse().ok();
                }
                EipState::from(a)
            }
        };
        Ok(self.observed(h, Some(eip)))
    }

    fn plan(&self, obs: &Observed) -> Plan<Step> {
        let mut p = plan(&self.desired, obs);
        if self.eip_ref.is_some() && self.desired.eip.is_none() {
            p.blockers.push(format!(
                "EIP {} does not exist in this region",
                self.eip_ref
                    .as_ref()
                    .map(|r| r.to_string())
                    .unwrap_or_default()
            ));
        }
        p
    }

    async fn apply(&mut self, cx: &Cx, step: &Step) -> Result<(), StepError> {
        match step {
            Step::AddToRange {
                havip_id,
                instance_id,
            } => {
                let req = AssociateHaVipInstance {
                    ha_vip_association_set: vec![HaVipAssociation::cvm(havip_id, instance_id)],
                };
                match cx.client.call(&req).await {
                    Ok(_) => Ok(()),
                    // Already in the range: what we wanted (API.md §3.3).
                    Err(e)
                        if e.code()
                            == Some("InvalidParameterValue.DuplicatedHaVipAssociations") =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(write_error("AssociateHaVipInstance", &e)),
                }
            }
            Step::RemoveFromRange { havip_id, id, kind } => {
                let a = if kind.eq_ignore_ascii_case("ENI") || id.starts_with("eni-") {
                    HaVipAssociation::eni(havip_id, id)
                } else {
                    HaVipAssociation::cvm(havip_id, id)
                };
                let req = DisassociateHaVipInstance {
                    ha_vip_association_set: vec![a],
                };
                match cx.client.call(&req).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.code() == Some("ResourceNotFound") => Ok(()),
                    Err(e) => Err(write_error("DisassociateHaVipInstance", &e)),
                }
            }
            Step::UnbindFromHavip {
                havip_id,
                address_ip,
            } => {
                let req = HaVipDisassociateAddressIp {
                    ha_vip_id: havip_id.clone(),
                };
                match cx.client.call(&req).await {
                    Ok(r) => task::wait_vpc_task(&cx.client, &r.request_id)
                        .await
                        .map(|_| ())
                        .map_err(|e| {
                            write_error(&format!("unbinding EIP {address_ip} from {havip_id}"), &e)
                        }),
                    // Nothing bound any more: the next read shows the real state.
                    Err(e) if e.code() == Some("UnsupportedOperation.UnbindEIP") => Ok(()),
                    Err(e) => Err(write_error("HaVipDisassociateAddressIp", &e)),
                }
            }
            Step::Disassociate { address_id, from } => {
                match cx.client.call(&DisassociateAddress::new(address_id)).await {
                    Ok(r) => task::wait_eip_task(&cx.client, &r.task_id)
                        .await
                        .map(|_| ())
                        .map_err(|e| {
                            write_error(&format!("unbinding EIP {address_id} from {from}"), &e)
                        }),
                    Err(e) => Err(write_error("DisassociateAddress", &e)),
                }
            }
            Step::BindEip {
                havip_id,
                address_ip,
            } => {
                let req = HaVipAssociateAddressIp {
                    ha_vip_id: havip_id.clone(),
                    address_ip: address_ip.clone(),
                };
                match cx.client.call(&req).await {
                    Ok(r) => task::wait_vpc_task(&cx.client, &r.request_id)
                        .await
                        .map(|_| ())
                        .map_err(|e| {
                            write_error(&format!("binding EIP {address_ip} to {havip_id}"), &e)
                        }),
                    // Something is bound already; the next read tells what, and the plan decides.
                    Err(e) if e.code() == Some("UnsupportedOperation.BindEIP") => Ok(()),
                    Err(e) => Err(write_error("HaVipAssociateAddressIp", &e)),
                }
            }
        }
    }

    async fn on_wait(&mut self, _cx: &Cx, round: u32) {
        // Announce at once, then re-announce with backoff (rounds 1, 2, 4, 8, …), and only
        // where an interface is configured: havip never sends ARP on an interface nobody named.
        if let (Some(iface), Some(vip)) = (self.desired.interface.clone(), self.vip) {
            if round == 0 || round.is_power_of_two() {
                self.announce(&iface, vip).await;
            }
        }
    }

    fn confirmed(&self, obs: &Observed) -> String {
        let eip = match (&self.desired.eip, &obs.eip) {
            (Some(want), Some(EipState::Found { address_id, .. })) => {
                format!(", EIP {want} ({address_id}) BIND to it")
            }
            _ => String::new(),
        };
        let stale = if obs.held_stale_for >= STALE_HOLD_CONFIRM && !is_fresh(&self.desired, obs) {
            " (FlushedTime predates this transition: the HAVIP did not leave this node)"
        } else {
            ""
        };
        format!(
            "{} holds {} ({}){eip}{stale}",
            holder(&self.desired, obs),
            self.desired.havip_id,
            obs.vip
        )
    }

    fn holder(&self, obs: &Observed) -> Holder {
        holder(&self.desired, obs)
    }

    fn peers(&self, obs: &Observed) -> Option<Vec<String>> {
        obs.check_associate.then(|| {
            obs.range
                .iter()
                .map(|(id, _)| id.clone())
                .filter(|id| !is_self(&self.desired, id))
                .collect()
        })
    }

    fn attached(&self, obs: &Observed) -> bool {
        match self.desired.eip {
            Some(want) => eip_bound(
                &self.desired.havip_id,
                &obs.address_ip,
                &want.to_string(),
                obs.eip.as_ref(),
            ),
            None => self.eip_ref.is_none(),
        }
    }
}

impl HavipStrategy {
    /// How to look the expected EIP up: by ID when configured, else by address.
    fn eip_query(&self) -> Option<EipRef> {
        match (&self.eip_ref, self.desired.eip) {
            (None, None) => None,
            (r, address) => Some(EipRef {
                address: address.or_else(|| r.as_ref().and_then(|r| r.address)),
                id: r.as_ref().and_then(|r| r.id.clone()),
            }),
        }
    }

    fn observed(&mut self, h: HaVip, eip: Option<EipState>) -> Observed {
        self.vip = self.desired.vip.or_else(|| h.vip.parse().ok());
        let now = (h.instance_id.clone(), h.network_interface_id.clone());
        let first = self.first_holder.get_or_insert_with(|| now.clone());
        let moved_during_run = *first != now;
        let mut o = Observed {
            vip: h.vip.clone(),
            holder_instance: h.instance_id,
            holder_eni: h.network_interface_id,
            flushed: parse_api_time(&h.flushed_time),
            moved_during_run,
            held_stale_for: Duration::ZERO,
            range: h
                .ha_vip_association_set
                .into_iter()
                .map(|a| (a.instance_id, a.instance_type))
                .collect(),
            check_associate: h.check_associate,
            address_ip: h.address_ip,
            eip,
        };
        if is_held(&self.desired, &o) && !is_fresh(&self.desired, &o) {
            let since = *self.stale_since.get_or_insert_with(std::time::Instant::now);
            o.held_stale_for = since.elapsed();
        } else {
            self.stale_since = None;
        }
        o
    }

    async fn announce(&mut self, iface: &str, vip: Ipv4Addr) {
        let iface = iface.to_string();
        let res =
            tokio::task::spawn_blocking(move || crate::node::garp::announce(&iface, vip)).await;
        match res {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let note = format!("gratuitous ARP failed: {e}");
                tracing::warn!("{note}");
                if !self.notes.contains(&note) {
                    self.notes.push(note);
                }
            }
            Err(e) => tracing::warn!("gratuitous ARP task: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn desired() -> Desired {
        Desired {
            havip_id: "havip-1".into(),
            instance_id: "ins-me".into(),
            eni_id: Some("eni-me".into()),
            eip: Some("1.1.1.1".parse().unwrap()),
            fencing: false,
            eip_takeover: false,
            interface: None,
            vip: Some("10.0.4.99".parse().unwrap()),
            since: t("2026-01-01T00:00:00Z"),
        }
    }

    fn observed() -> Observed {
        Observed {
            vip: "10.0.4.99".into(),
            holder_instance: "ins-me".into(),
            holder_eni: "eni-me".into(),
            flushed: Some(t("2026-01-01T00:00:01Z")),
            moved_during_run: false,
            held_stale_for: Duration::ZERO,
            range: vec![
                ("ins-me".into(), "CVM".into()),
                ("ins-peer".into(), "CVM".into()),
            ],
            check_associate: true,
            address_ip: "1.1.1.1".into(),
            eip: found("BIND", "havip-1", "HAVIP"),
        }
    }

    fn found(status: &str, instance: &str, kind: &str) -> Option<EipState> {
        Some(EipState::Found {
            address_id: "eip-1".into(),
            status: status.into(),
            instance_id: instance.into(),
            instance_type: kind.into(),
            eni_id: String::new(),
        })
    }

    #[test]
    fn eip_bound_needs_both_sides() {
        let bind = found("BIND", "havip-1", "HAVIP");
        assert!(eip_bound("havip-1", "1.1.1.1", "1.1.1.1", bind.as_ref()));
        assert!(!eip_bound("havip-1", "", "1.1.1.1", bind.as_ref()));
        assert!(!eip_bound("havip-1", "1.1.1.1", "1.1.1.1", None));
        for (status, on) in [
            ("UNBINDING", "havip-1"),
            ("BINDING", "havip-1"),
            ("UNBIND", ""),
            ("BIND", "havip-2"),
        ] {
            let e = found(status, on, "HAVIP");
            assert!(
                !eip_bound("havip-1", "1.1.1.1", "1.1.1.1", e.as_ref()),
                "{status} on {on:?} is not bound"
            );
        }
    }

    #[test]
    fn api_times_are_beijing_time() {
        assert_eq!(
            parse_api_time("2026-01-01 08:00:00"),
            Some(t("2026-01-01T00:00:00Z"))
        );
        assert_eq!(parse_api_time("0000-00-00 00:00:00"), None);
        assert_eq!(parse_api_time(""), None);
    }

    type Case = (
        &'static str,
        fn(&mut Desired, &mut Observed),
        Vec<&'static str>,
        usize,
        usize,
    );

    /// (what, change to the baseline, expected step prefixes, waits, blockers)
    #[test]
    fn plan_table() {
        let cases: Vec<Case> = vec![
            ("already correct", |_, _| {}, vec![], 0, 0),
            (
                "configured Vip differs",
                |d, _| d.vip = Some("10.0.4.98".parse().unwrap()),
                vec![],
                0,
                1,
            ),
            ("no Vip configured", |d, _| d.vip = None, vec![], 0, 0),
            (
                "holder by ENI only",
                |_, o| o.holder_instance.clear(),
                vec![],
                0,
                0,
            ),
            (
                "out of range",
                |_, o| o.range.retain(|(i, _)| i != "ins-me"),
                vec!["add ins-me"],
                0,
                0,
            ),
            (
                "in range by ENI",
                |_, o| o.range = vec![("eni-me".into(), "ENI".into())],
                vec![],
                0,
                0,
            ),
            (
                "peer holds: wait",
                |_, o| {
                    o.holder_instance = "ins-peer".into();
                    o.holder_eni = "eni-peer".into();
                },
                vec![],
                1,
                0,
            ),
            (
                "peer holds, interface: announce and wait",
                |d, o| {
                    d.interface = Some("eth0".into());
                    o.holder_instance = "ins-peer".into();
                    o.holder_eni = "eni-peer".into();
                },
                vec![],
                1,
                0,
            ),
            (
                "nobody holds: wait",
                |_, o| {
                    o.holder_instance.clear();
                    o.holder_eni.clear();
                },
                vec![],
                1,
                0,
            ),
            (
                "stale FlushedTime: wait",
                |_, o| o.flushed = Some(t("2025-12-31T23:00:00Z")),
                vec![],
                1,
                0,
            ),
            (
                "FlushedTime within slack",
                |_, o| o.flushed = Some(t("2025-12-31T23:59:55Z")),
                vec![],
                0,
                0,
            ),
            (
                "stale but moved during run",
                |_, o| {
                    o.flushed = Some(t("2025-12-31T23:00:00Z"));
                    o.moved_during_run = true;
                },
                vec![],
                0,
                0,
            ),
            (
                "fencing removes peer",
                |d, _| d.fencing = true,
                vec!["fence ins-peer"],
                0,
                0,
            ),
            (
                "fencing with unknown ENI entry blocks",
                |d, o| {
                    d.fencing = true;
                    d.eni_id = None;
                    o.range.push(("eni-x".into(), "ENI".into()));
                },
                vec!["fence ins-peer"],
                0,
                1,
            ),
            (
                "no EIP expected",
                |d, o| {
                    d.eip = None;
                    o.address_ip.clear();
                },
                vec![],
                0,
                0,
            ),
            (
                "EIP unbound: bind",
                |_, o| {
                    o.address_ip.clear();
                    o.eip = found("UNBIND", "", "");
                },
                vec!["bind EIP 1.1.1.1"],
                0,
                0,
            ),
            (
                "EIP missing",
                |_, o| {
                    o.address_ip.clear();
                    o.eip = Some(EipState::Missing);
                },
                vec![],
                0,
                1,
            ),
            (
                "EIP elsewhere, no takeover",
                |_, o| {
                    o.address_ip.clear();
                    o.eip = found("BIND", "ins-other", "CVM");
                },
                vec![],
                0,
                1,
            ),
            (
                "EIP elsewhere, takeover",
                |d, o| {
                    d.eip_takeover = true;
                    o.address_ip.clear();
                    o.eip = found("BIND", "ins-other", "CVM");
                },
                vec!["unbind EIP eip-1 from ins-other", "bind EIP"],
                0,
                0,
            ),
            (
                "EIP on another HAVIP, takeover",
                |d, o| {
                    d.eip_takeover = true;
                    o.address_ip.clear();
                    o.eip = found("BIND", "havip-2", "HAVIP");
                },
                vec!["unbind EIP 1.1.1.1 from havip-2", "bind EIP"],
                0,
                0,
            ),
            (
                "HAVIP has other EIP, no takeover",
                |_, o| {
                    o.address_ip = "2.2.2.2".into();
                    o.eip = found("UNBIND", "", "");
                },
                vec![],
                0,
                1,
            ),
            (
                "HAVIP has other EIP, takeover",
                |d, o| {
                    d.eip_takeover = true;
                    o.address_ip = "2.2.2.2".into();
                    o.eip = found("UNBIND", "", "");
                },
                vec!["unbind EIP 2.2.2.2 from havip-1", "bind EIP"],
                0,
                0,
            ),
            (
                "EIP settling",
                |_, o| {
                    o.address_ip.clear();
                    o.eip = found("BINDING", "", "");
                },
                vec![],
                1,
                0,
            ),
            (
                "regression: false success while the EIP is being unbound",
                |_, o| o.eip = found("UNBINDING", "havip-1", "HAVIP"),
                vec![],
                1,
                0,
            ),
            (
                "EIP already unbound while the HAVIP still shows it: bind",
                |_, o| o.eip = found("UNBIND", "", ""),
                vec!["bind EIP 1.1.1.1"],
                0,
                0,
            ),
            (
                "EIP being bound to this HAVIP: wait",
                |_, o| {
                    o.address_ip.clear();
                    o.eip = found("BINDING", "havip-1", "HAVIP");
                },
                vec![],
                1,
                0,
            ),
            (
                "EIP not read: never confirmed",
                |_, o| o.eip = None,
                vec![],
                0,
                1,
            ),
            (
                "EIP lags on HAVIP",
                |_, o| {
                    o.address_ip.clear();
                    o.eip = found("BIND", "havip-1", "HAVIP");
                },
                vec![],
                1,
                0,
            ),
        ];
        for (what, change, steps, waits, blockers) in cases {
            let (mut d, mut o) = (desired(), observed());
            change(&mut d, &mut o);
            let p = plan(&d, &o);
            let got: Vec<String> = p.steps.iter().map(|s| s.to_string()).collect();
            assert_eq!(got.len(), steps.len(), "{what}: {got:?}");
            for (g, w) in got.iter().zip(&steps) {
                assert!(g.starts_with(w), "{what}: {g:?} should start with {w:?}");
            }
            assert_eq!(p.waits.len(), waits, "{what}: {:?}", p.waits);
            assert_eq!(p.blockers.len(), blockers, "{what}: {:?}", p.blockers);
        }
    }
}
