//! The `havip` strategy's I/O half: both sides of the binding read together
//! (`DescribeHaVips`, `DescribeAddresses`), each step applied (and its task awaited), and the
//! announcement repeated while waiting for the HAVIP to move.

use std::net::Ipv4Addr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::plan::{eip_bound, holder, is_fresh, is_held, is_self, plan};
use super::{parse_api_time, Desired, EipState, Observed, Step, STALE_HOLD_CONFIRM};
use crate::cloud::address::{Address, DescribeAddresses, DisassociateAddress};
use crate::cloud::havip::{
    AssociateHaVipInstance, DescribeHaVips, DisassociateHaVipInstance, HaVip,
    HaVipAssociateAddressIp, HaVipAssociation, HaVipDisassociateAddressIp, MemberKind,
};
use crate::cloud::{self, codes, task, Filter};
use crate::config::EipRef;
use crate::failover::{write_error, Cx, Details, EipDetails, Holder, Plan, StepError, Strategy};

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
            code: codes::RESOURCE_NOT_FOUND.into(),
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
        // Both sides of the binding, the EIP's read last: its own record is what says whether it
        // is bound, and reading it after the HAVIP means no unbind that the HAVIP's answer
        // could reflect is missing from it. (Read together, a slow or retried DescribeHaVips
        // could show the address of an unbind that started after DescribeAddresses answered
        // BIND: a false success the chaos campaign found.)
        let h = describe_havip(&cx.client, &self.desired.havip_id).await?;
        let a = describe_eip(&cx.client, &eip_ref).await?;
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
                    Err(e) if e.code() == Some(codes::DUPLICATED_HAVIP_ASSOCIATIONS) => Ok(()),
                    Err(e) => Err(write_error("AssociateHaVipInstance", e)),
                }
            }
            Step::RemoveFromRange { havip_id, id, kind } => {
                let a = if *kind == MemberKind::Eni || id.starts_with("eni-") {
                    HaVipAssociation::eni(havip_id, id)
                } else {
                    HaVipAssociation::cvm(havip_id, id)
                };
                let req = DisassociateHaVipInstance {
                    ha_vip_association_set: vec![a],
                };
                match cx.client.call(&req).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.code() == Some(codes::RESOURCE_NOT_FOUND) => Ok(()),
                    Err(e) => Err(write_error("DisassociateHaVipInstance", e)),
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
                            write_error(format!("unbinding EIP {address_ip} from {havip_id}"), e)
                        }),
                    // Nothing bound any more: the next read shows the real state.
                    Err(e) if e.code() == Some(codes::HAVIP_NOT_BOUND) => Ok(()),
                    Err(e) => Err(write_error("HaVipDisassociateAddressIp", e)),
                }
            }
            Step::Disassociate { address_id, from } => {
                match cx.client.call(&DisassociateAddress::new(address_id)).await {
                    Ok(r) => task::wait_eip_task(&cx.client, &r.task_id)
                        .await
                        .map(|_| ())
                        .map_err(|e| {
                            write_error(format!("unbinding EIP {address_id} from {from}"), e)
                        }),
                    Err(e) => Err(write_error("DisassociateAddress", e)),
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
                            write_error(format!("binding EIP {address_ip} to {havip_id}"), e)
                        }),
                    // Something is bound already; the next read tells what, and the plan decides.
                    Err(e) if e.code() == Some(codes::HAVIP_ALREADY_BOUND) => Ok(()),
                    Err(e) => Err(write_error("HaVipAssociateAddressIp", e)),
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

    fn details(&self, obs: &Observed) -> Details {
        let want = self.desired.eip.map(|a| a.to_string());
        let eip = match &obs.eip {
            None => None,
            Some(EipState::Missing) => Some(EipDetails {
                address: want.clone(),
                address_id: self.eip_ref.as_ref().and_then(|r| r.id.clone()),
                status: None,
                bound_to: None,
            }),
            Some(EipState::Found {
                address_id,
                status,
                instance_id,
                eni_id,
                ..
            }) => Some(EipDetails {
                address: want.clone(),
                address_id: Some(address_id.clone()),
                status: Some(status.clone()),
                bound_to: [instance_id, eni_id]
                    .into_iter()
                    .find(|s| !s.is_empty())
                    .cloned(),
            }),
        };
        let settling = eip.as_ref().and_then(|e| {
            e.status
                .as_ref()
                .filter(|s| s.is_transitional())
                .map(|_| format!("EIP {e}"))
        });
        Details {
            resource: self.desired.havip_id.clone(),
            vip: Some(obs.vip.clone()).filter(|v| !v.is_empty()),
            flushed: obs.flushed,
            range: Some(obs.range.clone()),
            check_associate: Some(obs.check_associate),
            eip,
            settling,
        }
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
                .map(|a| {
                    let kind = a.kind();
                    (a.instance_id, kind)
                })
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
    use super::super::tests::{desired, found, observed};
    use super::*;

    #[test]
    fn details_show_the_read_and_a_settling_eip() {
        let s = HavipStrategy::new(desired(), None);
        let d = s.details(&observed());
        assert_eq!(d.resource, "havip-1");
        assert_eq!(d.vip.as_deref(), Some("10.0.4.99"));
        assert_eq!(d.check_associate, Some(true));
        assert_eq!(d.range.as_ref().map(Vec::len), Some(2));
        assert_eq!(d.flushed, observed().flushed);
        let e = d.eip.expect("the EIP's own record");
        assert_eq!(
            (e.address_id.as_deref(), e.bound_to.as_deref()),
            (Some("eip-1"), Some("havip-1"))
        );
        assert_eq!(d.settling, None);
        let mut o = observed();
        o.eip = found("UNBINDING", "havip-1", "HAVIP");
        let settling = s.details(&o).settling.expect("UNBINDING is in flight");
        assert!(settling.contains("UNBINDING"), "{settling}");
        o.eip = Some(EipState::Missing);
        assert_eq!(s.details(&o).eip.and_then(|e| e.status), None);
    }
}
