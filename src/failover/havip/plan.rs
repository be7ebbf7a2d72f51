//! The `havip` strategy's pure half: the plan (a function of desired and observed state,
//! table-tested in `mod.rs`) and the one answer to "who holds the HAVIP?".

use super::{Desired, EipState, Observed, Step, FRESH_SLACK, STALE_HOLD_CONFIRM};
use crate::cloud::address::AddressStatus;
use crate::failover::{Holder, Plan, Seat};

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
pub(super) fn is_held(d: &Desired, o: &Observed) -> bool {
    is_self(d, &o.holder_instance) || is_self(d, &o.holder_eni)
}

/// Whether the holder was set by an announcement at or after the transition (or moved while
/// this run watched, which proves it whatever the clocks say).
pub(super) fn is_fresh(d: &Desired, o: &Observed) -> bool {
    o.moved_during_run
        || o.flushed.is_some_and(|t| {
            t + chrono::Duration::from_std(FRESH_SLACK).unwrap_or_default() >= d.since
        })
}

pub(super) fn is_self(d: &Desired, id: &str) -> bool {
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
pub(crate) fn eip_bound(
    havip_id: &str,
    havip_address_ip: &str,
    want: &str,
    eip: Option<&EipState>,
) -> bool {
    havip_address_ip == want
        && matches!(eip, Some(EipState::Found { status, instance_id, .. })
            if *status == AddressStatus::Bind && instance_id == havip_id)
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
        } => match status {
            AddressStatus::Bind if instance_id == &d.havip_id => {
                if o.address_ip != want {
                    // DescribeHaVips has not caught up with DescribeAddresses yet.
                    p.waits
                        .push(format!("{} to show EIP {want} bound", d.havip_id));
                }
            }
            AddressStatus::Unbind => {
                // The HAVIP may still show this address while its view lags the EIP's: binding
                // is still the step (the API answers "already bound" if it is, and the next
                // read decides).
                p.steps.extend(unbind_own);
                p.steps.push(Step::BindEip {
                    havip_id: d.havip_id.clone(),
                    address_ip: want.to_string(),
                });
            }
            AddressStatus::Bind | AddressStatus::BindEni => {
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
