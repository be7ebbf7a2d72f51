//! The checks of this node and each VIP's cloud resources: the instance the metadata service
//! names (equal to the configuration's), its ENI, and per `havip` VIP the HAVIP (its Vip, its
//! subnet against the ENI's), CheckAssociate, this node and a peer in the drift range, who
//! holds it, and the expected EIP bound to it. Who holds the VIP, the peers and the EIP's
//! binding come from the strategy's own view (`VipStrategy::view`), the answer `notify` and
//! `failover` use.

use std::net::Ipv4Addr;

use chrono::Utc;

use super::{Check, Report};
use crate::cloud::eni::DescribeNetworkInterfaces;
use crate::cloud::havip::HaVip;
use crate::config::{EipRef, Target, VipConfig};
use crate::failover::havip::{describe_eip, describe_havip};
use crate::failover::node::{eni_id, DiscoveryError};
use crate::failover::vip::{HoldView, VipStrategy};
use crate::failover::{Cx, Engine, Holder};

/// This node as found: its instance and its ENI with the ENI's subnet.
struct ThisNode {
    instance: String,
    eni: Option<(String, String)>,
}

/// Runs the node checks (cloud checks only when `reached`); returns each VIP's address as far
/// as it is known (configured, else the HAVIP's), for the keepalived checks.
pub async fn checks(
    engine: &Engine,
    reached: bool,
    report: &mut Report,
) -> Vec<(String, Option<Ipv4Addr>)> {
    let mut addrs: Vec<(String, Option<Ipv4Addr>)> = engine
        .cfg
        .vips
        .iter()
        .map(|v| (v.name.clone(), vip_address(v)))
        .collect();
    let instance = instance_check(engine, report).await;
    if !reached {
        report.push(Check::skip("node.eni", "the API could not be reached"));
        return addrs;
    }
    let Some(instance) = instance else {
        report.push(Check::skip("node.eni", "this node's instance is unknown"));
        return addrs;
    };
    let node = ThisNode {
        eni: eni_check(engine, &instance, report).await,
        instance,
    };
    for (v, addr) in engine.cfg.vips.iter().zip(addrs.iter_mut()) {
        if let Some(a) = vip_checks(engine, v, &node, report).await {
            addr.1 = addr.1.or(Some(a));
        }
    }
    addrs
}

/// The address keepalived must carry for `v`, from the configuration alone.
fn vip_address(v: &VipConfig) -> Option<Ipv4Addr> {
    match &v.target {
        Target::PrivateIp { private_ip } => v.vip.or(Some(*private_ip)),
        _ => v.vip,
    }
}

/// The metadata service's instance, against `[node] instance_id`.
async fn instance_check(engine: &Engine, report: &mut Report) -> Option<String> {
    let configured = engine.cfg.node.instance_id.clone();
    let md = &engine.metadata;
    match (md.instance_id().await, configured) {
        (Ok(found), Some(cfg)) if found == cfg => {
            report.push(Check::pass(
                "node.instance",
                format!("{found} (metadata service), as configured"),
            ));
            Some(found)
        }
        (Ok(found), Some(cfg)) => {
            report.push(Check::fail(
                "node.instance",
                format!("the metadata service says this is {found}, the configuration says {cfg}"),
                format!("set [node] instance_id = \"{found}\" (or remove it: it is discovered), or install this node's own configuration"),
            ));
            None
        }
        (Ok(found), None) => {
            report.push(Check::pass(
                "node.instance",
                format!("{found} (metadata service)"),
            ));
            Some(found)
        }
        (Err(e), cfg) => {
            report.push(Check::fail(
                "node.instance",
                format!("the metadata service {} did not answer: {}", md.base_url(), crate::error_chain::error_chain(&e)),
                "run doctor on the CVM itself; check that metadata.tencentyun.com resolves and is not proxied",
            ));
            cfg
        }
    }
}

/// This node's ENI (configured, else found by MAC) confirmed attached to the instance, with its
/// subnet.
async fn eni_check(
    engine: &Engine,
    instance: &str,
    report: &mut Report,
) -> Option<(String, String)> {
    let id = match eni_id(&engine.cfg, &engine.metadata, &engine.client, instance).await {
        Ok(id) => id,
        Err(DiscoveryError::ListEnis { source, .. }) if denied(&source) => {
            report.push(eni_denied(&source));
            return None;
        }
        Err(e) => {
            report.push(Check::fail(
                "node.eni",
                e.to_string(),
                "set [node] eni_id, or mac to the ENI's MAC",
            ));
            return None;
        }
    };
    match engine
        .client
        .call(&DescribeNetworkInterfaces::by_ids([id.as_str()]))
        .await
    {
        Ok(r) => match r
            .network_interface_set
            .into_iter()
            .find(|e| e.network_interface_id == id)
        {
            Some(e) if e.instance_id() == Some(instance) => {
                report.push(Check::pass(
                    "node.eni",
                    format!("{id} attached to {instance}, subnet {}", e.subnet_id),
                ));
                Some((id, e.subnet_id))
            }
            Some(e) => {
                report.push(Check::fail(
                    "node.eni",
                    format!("{id} is attached to {}, not {instance}", e.instance_id().unwrap_or("nothing")),
                    "set [node] eni_id to one of this instance's ENIs (or remove it: it is discovered by MAC)",
                ));
                None
            }
            None => {
                report.push(Check::fail(
                    "node.eni",
                    format!("{id} does not exist in this region"),
                    "set [node] eni_id to one of this instance's ENIs",
                ));
                None
            }
        },
        Err(e) if denied(&e) => {
            report.push(eni_denied(&e));
            None
        }
        Err(e) => {
            report.push(Check::fail(
                "node.eni",
                format!("cannot read {id}: {}", crate::error_chain::error_chain(&e)),
                "see the permission and endpoint checks above",
            ));
            None
        }
    }
}

/// Whether CAM refused the call (`*UnauthorizedOperation`).
fn denied(e: &crate::cloud::Error) -> bool {
    e.code()
        .is_some_and(|c| c.ends_with("UnauthorizedOperation"))
}

/// The ENI cannot be checked because `DescribeNetworkInterfaces` is not allowed: the `havip`
/// strategy does not need it (its minimal policy leaves it out), so this is a warning.
fn eni_denied(e: &crate::cloud::Error) -> Check {
    Check::warn(
        "node.eni",
        format!("cannot check this node's ENI and subnet: {}", e.label()),
        "allow vpc:DescribeNetworkInterfaces (read-only) to let doctor check them; the havip strategy itself does not need it",
    )
}

/// The checks of one VIP; returns the HAVIP's Vip when it was read.
async fn vip_checks(
    engine: &Engine,
    v: &VipConfig,
    node: &ThisNode,
    report: &mut Report,
) -> Option<Ipv4Addr> {
    let client = &engine.client;
    let deadline = tokio::time::Instant::now() + v.deadline;
    let cx = Cx::new(client, deadline, None, None);
    let view = match VipStrategy::build(engine, v, Utc::now(), client).await {
        Ok(mut s) => s
            .view(&cx)
            .await
            .map_err(|e| crate::error_chain::error_chain(&e)),
        Err(e) => Err(e.to_string()),
    };
    let Target::Havip {
        havip_id,
        eip,
        fencing,
        ..
    } = &v.target
    else {
        report.push(
            match view {
                Ok(h) => Check::pass("vip.holder", format!("held by {}", h.holder)),
                Err(e) => Check::fail(
                    "vip.holder",
                    format!("cannot read who holds it: {e}"),
                    "see the permission and endpoint checks above",
                ),
            }
            .about(&v.name),
        );
        return None;
    };
    let h = match describe_havip(client, havip_id).await {
        Ok(h) => h,
        Err(e) => {
            report.push(
                Check::fail(
                    "vip.havip",
                    format!(
                        "cannot read {havip_id}: {}",
                        crate::error_chain::error_chain(&e)
                    ),
                    format!(
                        "check havip_id and region: {havip_id} must exist in {}",
                        client.region()
                    ),
                )
                .about(&v.name),
            );
            return None;
        }
    };
    let addr = h.vip.parse().ok();
    let mut out = havip_checks(v, &h, node, *fencing);
    match view {
        Ok(view) => out.extend(view_checks(&h, &view)),
        Err(e) => out.push(Check::fail(
            "vip.holder",
            format!("cannot read who holds it: {e}"),
            "see the permission and endpoint checks above",
        )),
    }
    if let Some(eip) = eip {
        out.push(eip_check(client, eip, &h).await);
    }
    for c in out {
        report.push(c.about(&v.name));
    }
    addr
}

/// What the HAVIP's own record says: its Vip, subnet, CheckAssociate, this node in the range.
fn havip_checks(v: &VipConfig, h: &HaVip, node: &ThisNode, fencing: bool) -> Vec<Check> {
    let mut out = Vec::new();
    out.push(match v.vip {
        Some(want) if h.vip != want.to_string() => Check::fail(
            "vip.havip",
            format!(
                "{} has Vip {}, the configuration says vip = {want}",
                h.ha_vip_id, h.vip
            ),
            "correct havip_id or vip: they must name the same HAVIP",
        ),
        _ => Check::pass("vip.havip", format!("{} has Vip {}", h.ha_vip_id, h.vip)),
    });
    out.push(match &node.eni {
        Some((eni, subnet)) if *subnet == h.subnet_id => Check::pass(
            "vip.subnet",
            format!("{} is in {subnet}, like {eni}", h.vip),
        ),
        Some((eni, subnet)) => Check::fail(
            "vip.subnet",
            format!(
                "{} is in {}, this node's {eni} in {subnet}",
                h.vip, h.subnet_id
            ),
            "a HAVIP moves only to ENIs of its own subnet: create it in this node's subnet",
        ),
        None => Check::skip("vip.subnet", "this node's ENI is unknown"),
    });
    out.push(if h.check_associate {
        Check::pass("vip.check_associate", "CheckAssociate is on: only the drift range may take the HAVIP")
    } else {
        Check::warn(
            "vip.check_associate",
            "CheckAssociate is off: any instance in the subnet can take the HAVIP by announcing it",
            "turn CheckAssociate on and put both nodes in the drift range (console, HAVIP → drift range)",
        )
    });
    let eni = node.eni.as_ref().map(|(e, _)| e.as_str());
    let in_range = h.range_contains(&node.instance) || eni.is_some_and(|e| h.range_contains(e));
    out.push(if in_range {
        Check::pass("vip.drift_range", format!("{} is in the drift range", node.instance))
    } else if fencing {
        Check::warn(
            "vip.drift_range",
            format!("{} is not in the drift range (fenced out by the peer's promotion)", node.instance),
            "none needed while the peer is MASTER: `havip notify` adds this node back on promotion",
        )
    } else {
        Check::fail(
            "vip.drift_range",
            format!("{} is not in the drift range: its announcements are ignored until `havip notify` adds it", node.instance),
            format!("add it now: console, or `havip api vpc AssociateHaVipInstance '{{\"HaVipAssociationSet\":[{{\"HaVipId\":\"{}\",\"InstanceId\":\"{}\"}}]}}'`", h.ha_vip_id, node.instance),
        )
    });
    out
}

/// What the strategy's view says: a peer allowed to take over, and who holds it now.
fn view_checks(h: &HaVip, view: &HoldView) -> Vec<Check> {
    let peer = match &view.peers {
        Some(p) if p.is_empty() => Check::fail(
            "vip.peer",
            "no peer is in the drift range: nobody can take over from this node",
            format!(
                "add the peer's instance to {}'s drift range (AssociateHaVipInstance)",
                h.ha_vip_id
            ),
        ),
        Some(p) => Check::pass(
            "vip.peer",
            format!("peer(s) in the drift range: {}", p.join(", ")),
        ),
        None => Check::pass("vip.peer", "CheckAssociate is off: any node may take over"),
    };
    let holder = match &view.holder {
        Holder::Nobody => Check::warn(
            "vip.holder",
            format!("nobody holds {}: the VIP answers nowhere", h.ha_vip_id),
            "run `havip takeover` on the node keepalived made MASTER",
        ),
        Holder::Several(_) => Check::fail(
            "vip.holder",
            format!("held by {} at once", view.holder),
            "stop keepalived on all but one node, then `havip takeover` there",
        ),
        other => Check::pass("vip.holder", format!("held by {other}")),
    };
    vec![peer, holder]
}

/// The expected EIP: it exists and is bound to the HAVIP, each side confirmed from its own
/// Describe (`eip_bound`).
async fn eip_check(client: &crate::cloud::Client, eip: &EipRef, h: &HaVip) -> Check {
    let found = match describe_eip(client, eip).await {
        Ok(found) => found,
        Err(e) => {
            return Check::fail(
                "vip.eip",
                format!(
                    "cannot read EIP {eip}: {}",
                    crate::error_chain::error_chain(&e)
                ),
                "see the permission and endpoint checks above",
            )
        }
    };
    let Some(a) = found else {
        return Check::fail(
            "vip.eip",
            format!("EIP {eip} does not exist in {}", client.region()),
            "correct eip/eip_id in the configuration",
        );
    };
    let state = crate::failover::havip::EipState::from(a.clone());
    if crate::failover::havip::eip_bound(&h.ha_vip_id, &h.address_ip, &a.address_ip, Some(&state)) {
        Check::pass(
            "vip.eip",
            format!(
                "EIP {} ({}) is bound to {}",
                a.address_ip, a.address_id, h.ha_vip_id
            ),
        )
    } else {
        let on = if a.instance_id.is_empty() {
            "nothing".to_string()
        } else {
            a.instance_id.clone()
        };
        Check::fail(
            "vip.eip",
            format!("EIP {} ({}) is {} on {on}, {} carries {}", a.address_ip, a.address_id, a.address_status.as_str(), h.ha_vip_id, if h.address_ip.is_empty() { "no EIP" } else { &h.address_ip }),
            "run `havip takeover` on the MASTER (it binds the EIP; with eip_takeover = true it also moves it from elsewhere)",
        )
    }
}
