//! The `eip` strategy: move an EIP to this node's ENI and private IP — DisassociateAddress
//! from wherever it is, then AssociateAddress, each task awaited — and confirm with
//! DescribeAddresses.

use std::fmt;
use std::net::Ipv4Addr;

use super::havip::describe_eip;
use super::{write_error, Cx, Details, EipDetails, Holder, Plan, Seat, StepError, Strategy};
use crate::cloud::address::AddressStatus;
use crate::cloud::address::{AssociateAddress, DisassociateAddress};
use crate::cloud::codes;
use crate::cloud::{self, task};
use crate::config::EipRef;

/// What this node wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// The EIP.
    pub eip: EipRef,
    /// Our ENI.
    pub eni_id: String,
    /// Our private IP on it.
    pub private_ip: Ipv4Addr,
}

/// The EIP as DescribeAddresses shows it (`None`: it does not exist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// `eip-…`.
    pub address_id: String,
    /// The public address.
    pub address_ip: String,
    /// `BIND`, `UNBIND`, …
    pub status: AddressStatus,
    /// Bound instance (`ins-…`, `havip-…`), empty when none.
    pub instance_id: String,
    /// Bound ENI, empty when none.
    pub eni_id: String,
    /// Bound private IP, empty when none.
    pub private_ip: String,
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// DisassociateAddress.
    Disassociate {
        /// `eip-…`.
        address_id: String,
        /// Where it is now.
        from: String,
    },
    /// AssociateAddress to our ENI and IP.
    Associate {
        /// `eip-…`.
        address_id: String,
        /// Our ENI.
        eni_id: String,
        /// Our private IP.
        private_ip: Ipv4Addr,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Disassociate { address_id, from } => {
                write!(f, "unbind {address_id} from {from} (DisassociateAddress)")
            }
            Step::Associate {
                address_id,
                eni_id,
                private_ip,
            } => write!(
                f,
                "bind {address_id} to {eni_id} {private_ip} (AssociateAddress)"
            ),
        }
    }
}

/// The plan: a pure function of desired and observed state.
pub fn plan(d: &Desired, o: &Option<Observed>) -> Plan<Step> {
    let mut p = Plan::default();
    let Some(o) = o else {
        p.blockers
            .push(format!("EIP {} does not exist in this region", d.eip));
        return p;
    };
    let associate = Step::Associate {
        address_id: o.address_id.clone(),
        eni_id: d.eni_id.clone(),
        private_ip: d.private_ip,
    };
    match &o.status {
        AddressStatus::Bind | AddressStatus::BindEni => {
            if o.eni_id == d.eni_id && o.private_ip == d.private_ip.to_string() {
                return p;
            }
            let from = [&o.instance_id, &o.eni_id, &o.private_ip]
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            p.steps.push(Step::Disassociate {
                address_id: o.address_id.clone(),
                from: if from.is_empty() {
                    "its binding".into()
                } else {
                    from
                },
            });
            p.steps.push(associate);
        }
        AddressStatus::Unbind => p.steps.push(associate),
        other => p
            .waits
            .push(format!("{} to settle (status {other})", o.address_id)),
    }
    p
}

/// The strategy's state across the loop.
pub struct EipStrategy {
    /// What we want.
    pub desired: Desired,
}

impl Strategy for EipStrategy {
    type Observed = Option<Observed>;
    type Step = Step;

    async fn observe(&mut self, cx: &Cx) -> Result<Option<Observed>, cloud::Error> {
        Ok(describe_eip(&cx.client, &self.desired.eip)
            .await?
            .map(|a| Observed {
                address_id: a.address_id,
                address_ip: a.address_ip,
                status: a.address_status,
                instance_id: a.instance_id,
                eni_id: a.network_interface_id,
                private_ip: a.private_address_ip,
            }))
    }

    fn plan(&self, obs: &Option<Observed>) -> Plan<Step> {
        plan(&self.desired, obs)
    }

    async fn apply(&mut self, cx: &Cx, step: &Step) -> Result<(), StepError> {
        match step {
            Step::Disassociate { address_id, from } => {
                let r = match cx.client.call(&DisassociateAddress::new(address_id)).await {
                    Ok(r) => r,
                    // Already unbound (someone else moved it): the next read decides.
                    Err(e) if e.code() == Some(codes::ADDRESS_STATUS_NOT_PERMIT) => return Ok(()),
                    Err(e) => return Err(write_error("DisassociateAddress", e)),
                };
                task::wait_eip_task(&cx.client, &r.task_id)
                    .await
                    .map(|_| ())
                    .map_err(|e| write_error(format!("unbinding {address_id} from {from}"), e))
            }
            Step::Associate {
                address_id,
                eni_id,
                private_ip,
            } => {
                let req = AssociateAddress::to_eni_ip(address_id, eni_id, private_ip.to_string());
                let r = cx
                    .client
                    .call(&req)
                    .await
                    .map_err(|e| write_error("AssociateAddress", e))?;
                task::wait_eip_task(&cx.client, &r.task_id)
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        write_error(format!("binding {address_id} to {eni_id} {private_ip}"), e)
                    })
            }
        }
    }

    fn details(&self, obs: &Option<Observed>) -> Details {
        let configured = self.desired.eip.address.map(|a| a.to_string());
        let eip = match obs {
            None => EipDetails {
                address: configured,
                address_id: self.desired.eip.id.clone(),
                status: None,
                bound_to: None,
            },
            Some(o) => EipDetails {
                address: Some(o.address_ip.clone())
                    .filter(|a| !a.is_empty())
                    .or(configured),
                address_id: Some(o.address_id.clone()),
                status: Some(o.status.clone()),
                bound_to: [&o.instance_id, &o.eni_id]
                    .into_iter()
                    .find(|s| !s.is_empty())
                    .cloned(),
            },
        };
        let settling = eip
            .status
            .as_ref()
            .filter(|s| s.is_transitional())
            .map(|_| format!("EIP {eip}"));
        Details {
            resource: self.desired.eip.to_string(),
            vip: eip.address.clone(),
            eip: Some(eip),
            settling,
            ..Details::default()
        }
    }

    fn holder(&self, obs: &Option<Observed>) -> Holder {
        // Between DisassociateAddress and AssociateAddress the EIP is bound to nobody, which
        // must not read as "the peer has it".
        let Some(o) = obs
            .as_ref()
            .filter(|o| matches!(o.status.as_str(), "BIND" | "BIND_ENI") && !o.eni_id.is_empty())
        else {
            return Holder::Nobody;
        };
        let seat = Seat {
            private_ip: Some(o.private_ip.clone()),
            ..Seat::new("", &o.eni_id)
        };
        if o.eni_id == self.desired.eni_id && o.private_ip == self.desired.private_ip.to_string() {
            Holder::ThisNode(seat)
        } else {
            Holder::Other(seat)
        }
    }

    fn confirmed(&self, obs: &Option<Observed>) -> String {
        let ip = obs
            .as_ref()
            .map(|o| o.address_ip.clone())
            .unwrap_or_else(|| self.desired.eip.to_string());
        format!(
            "EIP {ip} is bound to {} {}",
            self.desired.eni_id, self.desired.private_ip
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(status: &str, eni: &str, ip: &str) -> Option<Observed> {
        Some(Observed {
            address_id: "eip-1".into(),
            address_ip: "1.1.1.1".into(),
            status: AddressStatus::parse(status),
            instance_id: String::new(),
            eni_id: eni.into(),
            private_ip: ip.into(),
        })
    }

    #[test]
    fn plan_table() {
        let d = Desired {
            eip: EipRef {
                address: Some("1.1.1.1".parse().unwrap()),
                id: None,
            },
            eni_id: "eni-me".into(),
            private_ip: "10.0.4.21".parse().unwrap(),
        };
        // (what, observed, step prefixes, waits, blockers)
        type Case = (
            &'static str,
            Option<Observed>,
            Vec<&'static str>,
            usize,
            usize,
        );
        let cases: Vec<Case> = vec![
            (
                "already ours",
                obs("BIND", "eni-me", "10.0.4.21"),
                vec![],
                0,
                0,
            ),
            (
                "our ENI, other IP",
                obs("BIND", "eni-me", "10.0.4.22"),
                vec!["unbind", "bind"],
                0,
                0,
            ),
            (
                "on the peer",
                obs("BIND", "eni-peer", "10.0.4.20"),
                vec![
                    "unbind eip-1 from eni-peer",
                    "bind eip-1 to eni-me 10.0.4.21",
                ],
                0,
                0,
            ),
            (
                "dangling ENI",
                obs("BIND_ENI", "eni-gone", "10.0.4.30"),
                vec!["unbind", "bind"],
                0,
                0,
            ),
            (
                "unbound",
                obs("UNBIND", "", ""),
                vec!["bind eip-1 to eni-me"],
                0,
                0,
            ),
            ("binding", obs("BINDING", "", ""), vec![], 1, 0),
            ("missing", None, vec![], 0, 1),
        ];
        for (what, o, steps, waits, blockers) in cases {
            let p = plan(&d, &o);
            let got: Vec<String> = p.steps.iter().map(|s| s.to_string()).collect();
            assert_eq!(got.len(), steps.len(), "{what}: {got:?}");
            for (g, w) in got.iter().zip(&steps) {
                assert!(g.starts_with(w), "{what}: {g:?} vs {w:?}");
            }
            assert_eq!(
                (p.waits.len(), p.blockers.len()),
                (waits, blockers),
                "{what}"
            );
        }
    }
}
