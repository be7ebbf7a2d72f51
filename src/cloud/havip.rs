//! HAVIP actions: describe, drift range (Associate/DisassociateHaVipInstance), EIP binding
//! (HaVipAssociate/DisassociateAddressIp, asynchronous: wait with `task::wait_vpc_task`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{describe_action, nullable, vpc_action, RequestIdOnly, Tag};

describe_action! {
    /// `DescribeHaVips`. `ha_vip_ids` and `filters` cannot be combined.
    DescribeHaVips { ha_vip_ids } => DescribeHaVipsResponse { ha_vip_set: HaVip }
}

/// A HAVIP. Unbound fields come back as `""` (or `null`), read as empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HaVip {
    #[serde(default, deserialize_with = "nullable")]
    pub ha_vip_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub ha_vip_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub vip: String,
    #[serde(default, deserialize_with = "nullable")]
    pub vpc_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub subnet_id: String,
    /// The ENI that holds the VIP now (learned from gratuitous ARP); empty when none.
    #[serde(default, deserialize_with = "nullable")]
    pub network_interface_id: String,
    /// The CVM that holds the VIP now; empty when none.
    #[serde(default, deserialize_with = "nullable")]
    pub instance_id: String,
    /// The EIP bound to the HAVIP; empty when none.
    #[serde(default, deserialize_with = "nullable")]
    pub address_ip: String,
    #[serde(default)]
    pub state: HaVipState,
    #[serde(default, deserialize_with = "nullable")]
    pub created_time: String,
    #[serde(default, deserialize_with = "nullable")]
    pub business: String,
    /// The drift range: instances/ENIs allowed to take the VIP (enforced with `check_associate`).
    #[serde(default, deserialize_with = "nullable")]
    pub ha_vip_association_set: Vec<HaVipAssociation>,
    #[serde(default, deserialize_with = "nullable")]
    pub check_associate: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub cdc_id: String,
    /// `YYYY-MM-DD hh:mm:ss`, refreshed when a gratuitous ARP moved the VIP;
    /// `0000-00-00 00:00:00` when never.
    #[serde(default, deserialize_with = "nullable")]
    pub flushed_time: String,
    #[serde(default, deserialize_with = "nullable")]
    pub tag_set: Vec<Tag>,
}

impl HaVip {
    /// Whether the cloud shows some instance or ENI holding the VIP.
    pub(crate) fn has_holder(&self) -> bool {
        !self.instance_id.is_empty() || !self.network_interface_id.is_empty()
    }

    /// Whether `instance_id` (`ins-…`) or `eni_id` (`eni-…`) is in the drift range.
    pub fn range_contains(&self, id: &str) -> bool {
        self.ha_vip_association_set
            .iter()
            .any(|a| a.instance_id == id)
    }
}

/// `HaVip.State`. The docs say `UNBIND`, the examples `UNBOUND`; both read as [`Unbound`].
///
/// [`Unbound`]: HaVipState::Unbound
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum HaVipState {
    Available,
    Unbound,
    /// Anything else, kept verbatim (empty when absent).
    Other(String),
    #[default]
    Unknown,
}

impl HaVipState {
    pub fn as_str(&self) -> &str {
        match self {
            HaVipState::Available => "AVAILABLE",
            HaVipState::Unbound => "UNBIND",
            HaVipState::Other(s) => s,
            HaVipState::Unknown => "",
        }
    }
}

impl<'de> Deserialize<'de> for HaVipState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        Ok(match s.as_str() {
            "AVAILABLE" => HaVipState::Available,
            "UNBIND" | "UNBOUND" => HaVipState::Unbound,
            "" => HaVipState::Unknown,
            _ => HaVipState::Other(s),
        })
    }
}

impl Serialize for HaVipState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What a drift-range entry names (`InstanceType`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MemberKind {
    /// `CVM`: an instance (its primary ENI).
    Cvm,
    /// `ENI`: an elastic network interface.
    Eni,
    /// Anything else, kept verbatim (a type the API may add).
    Other(String),
}

impl MemberKind {
    /// Reads the API's spelling (case-insensitive).
    pub fn parse(s: &str) -> MemberKind {
        match s.to_ascii_uppercase().as_str() {
            "CVM" => MemberKind::Cvm,
            "ENI" => MemberKind::Eni,
            _ => MemberKind::Other(s.to_string()),
        }
    }

    /// The API's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            MemberKind::Cvm => "CVM",
            MemberKind::Eni => "ENI",
            MemberKind::Other(s) => s,
        }
    }
}

impl fmt::Display for MemberKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of a drift range. `instance_type` is `CVM` or `ENI` ([`MemberKind`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HaVipAssociation {
    #[serde(default, deserialize_with = "nullable")]
    pub instance_id: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub ha_vip_id: String,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub instance_type: String,
}

impl HaVipAssociation {
    /// A CVM (`ins-…`) in the drift range of `ha_vip_id`.
    /// What the entry names.
    pub fn kind(&self) -> MemberKind {
        MemberKind::parse(&self.instance_type)
    }

    pub fn cvm(ha_vip_id: impl Into<String>, instance_id: impl Into<String>) -> Self {
        HaVipAssociation {
            instance_id: instance_id.into(),
            ha_vip_id: ha_vip_id.into(),
            instance_type: MemberKind::Cvm.as_str().into(),
        }
    }

    /// An ENI (`eni-…`) in the drift range of `ha_vip_id`.
    pub fn eni(ha_vip_id: impl Into<String>, eni_id: impl Into<String>) -> Self {
        HaVipAssociation {
            instance_id: eni_id.into(),
            ha_vip_id: ha_vip_id.into(),
            instance_type: MemberKind::Eni.as_str().into(),
        }
    }
}

/// `AssociateHaVipInstance`: adds entries to drift ranges (does **not** move the VIP).
/// `InvalidParameterValue.DuplicatedHaVipAssociations` means the entry is already there.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociateHaVipInstance {
    pub ha_vip_association_set: Vec<HaVipAssociation>,
}
vpc_action!(AssociateHaVipInstance => RequestIdOnly, "AssociateHaVipInstance");

/// `DisassociateHaVipInstance`: removes entries from drift ranges.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DisassociateHaVipInstance {
    pub ha_vip_association_set: Vec<HaVipAssociation>,
}
vpc_action!(DisassociateHaVipInstance => RequestIdOnly, "DisassociateHaVipInstance");

/// `HaVipAssociateAddressIp`: binds an EIP (by address) to a HAVIP. Asynchronous: wait with
/// `task::wait_vpc_task(client, &resp.request_id)`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HaVipAssociateAddressIp {
    pub ha_vip_id: String,
    pub address_ip: String,
}
vpc_action!(HaVipAssociateAddressIp => RequestIdOnly, "HaVipAssociateAddressIp");

/// `HaVipDisassociateAddressIp`: unbinds the HAVIP's EIP. Asynchronous, like the above.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HaVipDisassociateAddressIp {
    pub ha_vip_id: String,
}
vpc_action!(HaVipDisassociateAddressIp => RequestIdOnly, "HaVipDisassociateAddressIp");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::{Filter, Paged};
    use serde_json::json;

    #[test]
    fn request_shapes() {
        assert_eq!(
            serde_json::to_value(DescribeHaVips::by_ids(["havip-1"])).unwrap(),
            json!({"HaVipIds": ["havip-1"]})
        );
        let mut d = DescribeHaVips::by_filters(vec![Filter::new("vip", ["10.0.0.10"])]);
        d.set_page(100, 100);
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"Filters": [{"Name": "vip", "Values": ["10.0.0.10"]}], "Offset": 100, "Limit": 100})
        );
        let a = AssociateHaVipInstance {
            ha_vip_association_set: vec![HaVipAssociation::cvm("havip-1", "ins-1")],
        };
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            json!({"HaVipAssociationSet": [{"InstanceId": "ins-1", "HaVipId": "havip-1", "InstanceType": "CVM"}]})
        );
        assert_eq!(
            serde_json::to_value(HaVipAssociateAddressIp {
                ha_vip_id: "havip-1".into(),
                address_ip: "1.2.3.4".into()
            })
            .unwrap(),
            json!({"HaVipId": "havip-1", "AddressIp": "1.2.3.4"})
        );
    }

    #[test]
    fn decodes_the_documented_example_and_tolerates_nulls() {
        let r: DescribeHaVipsResponse = serde_json::from_value(json!({
            "HaVipSet": [
                {"HaVipId": "havip-2kce8v4q", "HaVipName": "demo", "Vip": "10.3.3.15", "VpcId": "vpc-o31qeah3",
                 "SubnetId": "subnet-8qywqc4y", "NetworkInterfaceId": "", "InstanceId": "", "AddressIp": "",
                 "Business": "", "State": "UNBOUND", "CreatedTime": "2018-04-03 20:00:05"},
                {"HaVipId": "havip-b", "State": "AVAILABLE", "InstanceId": "ins-1", "NetworkInterfaceId": null,
                 "HaVipAssociationSet": [{"InstanceId": "ins-1", "HaVipId": "havip-b", "InstanceType": "CVM"}],
                 "CheckAssociate": true, "FlushedTime": "2024-06-06 22:24:45", "SomethingNew": {"x": 1}},
                {"HaVipId": "havip-c", "State": "UNBIND", "HaVipAssociationSet": null, "CheckAssociate": null},
                {"HaVipId": "havip-d", "State": "DELETING"}
            ],
            "TotalCount": 4,
            "RequestId": "1c827bf1"
        }))
        .unwrap();
        assert_eq!(r.total_count, 4);
        assert_eq!(r.request_id, "1c827bf1");
        let states: Vec<_> = r.ha_vip_set.iter().map(|h| h.state.clone()).collect();
        assert_eq!(
            states,
            [
                HaVipState::Unbound,
                HaVipState::Available,
                HaVipState::Unbound,
                HaVipState::Other("DELETING".into())
            ]
        );
        assert!(!r.ha_vip_set[0].has_holder());
        assert!(r.ha_vip_set[1].has_holder());
        assert!(r.ha_vip_set[1].range_contains("ins-1"));
        assert!(!r.ha_vip_set[1].range_contains("ins-2"));
        assert_eq!(r.ha_vip_set[1].network_interface_id, "");
        assert!(!r.ha_vip_set[2].check_associate);
    }
}
