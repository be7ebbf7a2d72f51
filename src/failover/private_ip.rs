//! The `private-ip` strategy (Tencent's older recipe, no HAVIP): move a secondary private IP
//! from whichever ENI holds it to ours with MigratePrivateIpAddress, await the task, and confirm
//! with DescribeNetworkInterfaces.

use std::fmt;
use std::net::Ipv4Addr;

use super::{write_error, Cx, Details, Holder, Plan, Seat, StepError, Strategy};
use crate::cloud::eni::{DescribeNetworkInterfaces, MigratePrivateIpAddress};
use crate::cloud::{self, task, Filter};

/// What this node wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// The secondary IP.
    pub ip: Ipv4Addr,
    /// Our ENI.
    pub eni_id: String,
}

/// Where the IP is, per DescribeNetworkInterfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpOnEni {
    /// `eni-…`.
    pub eni_id: String,
    /// Whether the IP is that ENI's primary IP (which cannot be migrated).
    pub primary: bool,
    /// The IP's state on that ENI (`AVAILABLE`, `MIGRATING`, …).
    pub state: String,
}

/// Every ENI that shows the IP (normally one).
pub type Observed = Vec<IpOnEni>;

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// MigratePrivateIpAddress.
    Migrate {
        /// Source ENI.
        from: String,
        /// Our ENI.
        to: String,
        /// The IP.
        ip: Ipv4Addr,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Migrate { from, to, ip } => {
                write!(
                    f,
                    "migrate {ip} from {from} to {to} (MigratePrivateIpAddress)"
                )
            }
        }
    }
}

fn settled(state: &str) -> bool {
    // An empty state is what a cloud that omits the field means by "normal".
    state.is_empty() || state.eq_ignore_ascii_case("AVAILABLE")
}

/// The plan: a pure function of desired and observed state.
pub fn plan(d: &Desired, o: &Observed) -> Plan<Step> {
    let mut p = Plan::default();
    let ours = o.iter().find(|h| h.eni_id == d.eni_id);
    let others: Vec<&IpOnEni> = o.iter().filter(|h| h.eni_id != d.eni_id).collect();
    match (ours, others.as_slice()) {
        (Some(h), []) if settled(&h.state) => {}
        (Some(h), []) => p
            .waits
            .push(format!("{} on {} to settle (state {})", d.ip, d.eni_id, h.state)),
        (_, [h]) if h.primary => p.blockers.push(format!(
            "{} is the primary IP of {}; a primary IP cannot be migrated",
            d.ip, h.eni_id
        )),
        (None, [h]) if !settled(&h.state) => p
            .waits
            .push(format!("{} on {} to settle (state {})", d.ip, h.eni_id, h.state)),
        (None, [h]) => p.steps.push(Step::Migrate {
            from: h.eni_id.clone(),
            to: d.eni_id.clone(),
            ip: d.ip,
        }),
        (None, []) => p.blockers.push(format!(
            "no ENI has {}: it must exist as a secondary IP on some ENI of the subnet to be migrated",
            d.ip
        )),
        (_, many) => p.waits.push(format!(
            "{} to be on one ENI only (shown on {}{})",
            d.ip,
            if ours.is_some() { "ours and " } else { "" },
            many.iter()
                .map(|h| h.eni_id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    p
}

/// The strategy's state across the loop.
pub struct PrivateIpStrategy {
    /// What we want.
    pub desired: Desired,
}

impl Strategy for PrivateIpStrategy {
    type Observed = Observed;
    type Step = Step;

    async fn observe(&mut self, cx: &Cx) -> Result<Observed, cloud::Error> {
        let ip = self.desired.ip.to_string();
        let req =
            DescribeNetworkInterfaces::by_filters(vec![Filter::new("address-ip", [ip.as_str()])]);
        let resp = cx.client.call(&req).await?;
        Ok(resp
            .network_interface_set
            .into_iter()
            .filter_map(|eni| {
                let spec = eni
                    .private_ip_address_set
                    .iter()
                    .find(|p| p.private_ip_address == ip)?;
                Some(IpOnEni {
                    eni_id: eni.network_interface_id.clone(),
                    primary: spec.primary,
                    state: spec.state.clone(),
                })
            })
            .collect())
    }

    fn plan(&self, obs: &Observed) -> Plan<Step> {
        plan(&self.desired, obs)
    }

    async fn apply(&mut self, cx: &Cx, step: &Step) -> Result<(), StepError> {
        let Step::Migrate { from, to, ip } = step;
        let req = MigratePrivateIpAddress {
            source_network_interface_id: from.clone(),
            destination_network_interface_id: to.clone(),
            private_ip_address: ip.to_string(),
        };
        let r = cx
            .client
            .call(&req)
            .await
            .map_err(|e| write_error("MigratePrivateIpAddress", e))?;
        task::wait_vpc_task(&cx.client, &r.request_id)
            .await
            .map(|_| ())
            .map_err(|e| write_error(format!("migrating {ip} from {from} to {to}"), e))
    }

    fn confirmed(&self, _obs: &Observed) -> String {
        format!("{} is on {}", self.desired.ip, self.desired.eni_id)
    }

    fn details(&self, obs: &Observed) -> Details {
        let ip = self.desired.ip.to_string();
        Details {
            resource: ip.clone(),
            vip: Some(ip.clone()),
            settling: obs
                .iter()
                .find(|h| !settled(&h.state))
                .map(|h| format!("{ip} is {} on {}", h.state, h.eni_id)),
            ..Details::default()
        }
    }

    fn holder(&self, obs: &Observed) -> Holder {
        let seat = |h: &IpOnEni| Seat::new("", &h.eni_id);
        match obs.as_slice() {
            [] => Holder::Nobody,
            [h] if h.eni_id == self.desired.eni_id => Holder::ThisNode(seat(h)),
            [h] => Holder::Other(seat(h)),
            many => Holder::Several(many.iter().map(seat).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(eni: &str, primary: bool, state: &str) -> IpOnEni {
        IpOnEni {
            eni_id: eni.into(),
            primary,
            state: state.into(),
        }
    }

    #[test]
    fn plan_table() {
        let d = Desired {
            ip: "10.0.4.98".parse().unwrap(),
            eni_id: "eni-me".into(),
        };
        // (what, observed, steps, waits, blockers)
        let cases: Vec<(&str, Observed, usize, usize, usize)> = vec![
            (
                "already ours",
                vec![h("eni-me", false, "AVAILABLE")],
                0,
                0,
                0,
            ),
            ("ours, state omitted", vec![h("eni-me", false, "")], 0, 0, 0),
            (
                "ours, migrating",
                vec![h("eni-me", false, "MIGRATING")],
                0,
                1,
                0,
            ),
            (
                "on the peer",
                vec![h("eni-peer", false, "AVAILABLE")],
                1,
                0,
                0,
            ),
            (
                "on the peer, migrating",
                vec![h("eni-peer", false, "MIGRATING")],
                0,
                1,
                0,
            ),
            (
                "peer's primary IP",
                vec![h("eni-peer", true, "AVAILABLE")],
                0,
                0,
                1,
            ),
            ("nowhere", vec![], 0, 0, 1),
            (
                "on two ENIs",
                vec![h("eni-me", false, ""), h("eni-peer", false, "")],
                0,
                1,
                0,
            ),
        ];
        for (what, o, steps, waits, blockers) in cases {
            let p = plan(&d, &o);
            assert_eq!(
                (p.steps.len(), p.waits.len(), p.blockers.len()),
                (steps, waits, blockers),
                "{what}: {p:?}"
            );
        }
        let p = plan(&d, &vec![h("eni-peer", false, "AVAILABLE")]);
        assert_eq!(
            p.steps[0].to_string(),
            "migrate 10.0.4.98 from eni-peer to eni-me (MigratePrivateIpAddress)"
        );
    }
}
