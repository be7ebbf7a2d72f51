//! One answer to "who holds this VIP?": each strategy reads its own resources and returns a
//! [`Holder`], used by notify, takeover, failover and status, and meant for every command to
//! come that asks where a VIP lives; plus the [`Details`] the same read shows beside the holder
//! (`havip status` and the watch daemon show and judge them).

use std::fmt;

use chrono::{DateTime, Utc};

use crate::cloud::address::AddressStatus;
use crate::cloud::havip::MemberKind;

/// Where the cloud places a VIP: the instance and/or the ENI it names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Seat {
    /// `ins-…`, when the cloud names an instance.
    pub instance_id: Option<String>,
    /// `eni-…`, when the cloud names an ENI.
    pub eni_id: Option<String>,
    /// The private IP the VIP is bound to, where that matters (the `eip` strategy).
    pub private_ip: Option<String>,
}

impl Seat {
    /// A seat from the API's strings, where an empty string means "none".
    pub fn new(instance_id: &str, eni_id: &str) -> Seat {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Seat {
            instance_id: some(instance_id),
            eni_id: some(eni_id),
            private_ip: None,
        }
    }

    /// Whether the cloud names nothing at all.
    pub fn is_empty(&self) -> bool {
        self.instance_id.is_none() && self.eni_id.is_none()
    }

    /// Whether this seat is the instance or ENI `id` (exact match on either).
    pub fn is(&self, id: &str) -> bool {
        self.instance_id.as_deref() == Some(id) || self.eni_id.as_deref() == Some(id)
    }
}

impl fmt::Display for Seat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.instance_id, &self.eni_id) {
            (Some(i), Some(e)) => write!(f, "{i} ({e})")?,
            (Some(i), None) => f.write_str(i)?,
            (None, Some(e)) => f.write_str(e)?,
            (None, None) => f.write_str("nothing")?,
        }
        match &self.private_ip {
            Some(ip) => write!(f, " {ip}"),
            None => Ok(()),
        }
    }
}

/// Who the cloud says holds a VIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// Nobody: the HAVIP has no holder, the IP or the EIP is on no ENI.
    Nobody,
    /// This node.
    ThisNode(Seat),
    /// Another node (or an ENI that is not this node's).
    Other(Seat),
    /// More than one place at once (a private IP shown on several ENIs).
    Several(Vec<Seat>),
}

impl Holder {
    /// Whether the cloud shows this node, and only this node, as the holder.
    pub fn is_this_node(&self) -> bool {
        matches!(self, Holder::ThisNode(_))
    }

    /// Whether the cloud shows another single holder.
    pub fn other(&self) -> Option<&Seat> {
        match self {
            Holder::Other(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Holder::Nobody => f.write_str("nobody"),
            Holder::ThisNode(s) | Holder::Other(s) => s.fmt(f),
            Holder::Several(seats) => {
                let all: Vec<String> = seats.iter().map(|s| s.to_string()).collect();
                f.write_str(&all.join(" and "))
            }
        }
    }
}

/// What the holder's read shows beside the holder, each field from its resource's own Describe
/// (`None`: the strategy has no such thing). Read-only: nothing here is ever written back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Details {
    /// The resource that carries the VIP: `havip-…`, the EIP, or the private IP.
    pub resource: String,
    /// The address the cloud gives the VIP (the HAVIP's `Vip`, the private IP).
    pub vip: Option<String>,
    /// `havip`: when an announcement last moved the HAVIP (`FlushedTime`).
    pub flushed: Option<DateTime<Utc>>,
    /// `havip`: the drift range (`HaVipAssociationSet`): who may take the HAVIP.
    pub range: Option<Vec<(String, MemberKind)>>,
    /// `havip`: whether the drift range is enforced (`CheckAssociate`).
    pub check_associate: Option<bool>,
    /// The EIP: the one expected on the HAVIP (`havip`), or the VIP itself (`eip`).
    pub eip: Option<EipDetails>,
    /// A task in flight on the VIP's resources (an EIP `BINDING`, an IP `MIGRATING`), named with
    /// its status: nothing is settled while it runs.
    pub settling: Option<String>,
}

/// An EIP as its own `DescribeAddresses` record shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EipDetails {
    /// The public address (configured, or learned from the record).
    pub address: Option<String>,
    /// `eip-…`, when the record was found.
    pub address_id: Option<String>,
    /// `AddressStatus`; `None`: no such EIP in the region.
    pub status: Option<AddressStatus>,
    /// What it is bound to (`havip-…`, `ins-…`, `eni-…`), when bound.
    pub bound_to: Option<String>,
}

impl fmt::Display for EipDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.address.as_deref().unwrap_or("EIP"))?;
        if let Some(id) = &self.address_id {
            write!(f, " ({id})")?;
        }
        match (&self.status, &self.bound_to) {
            (None, _) => f.write_str(" not found"),
            (Some(s), Some(to)) => write!(f, " {s} to {to}"),
            (Some(s), None) => write!(f, " {s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_read_and_match_exactly() {
        let s = Seat::new("ins-iam00020", "eni-iam00020");
        assert_eq!(s.to_string(), "ins-iam00020 (eni-iam00020)");
        assert!(s.is("ins-iam00020") && s.is("eni-iam00020"));
        assert!(!s.is("ins-iam0002"), "no substring matches");
        assert!(Seat::new("", "").is_empty());
        assert_eq!(Holder::Nobody.to_string(), "nobody");
        let h = Holder::Other(s.clone());
        assert_eq!(h.other(), Some(&s));
        assert!(!h.is_this_node());
    }
}
