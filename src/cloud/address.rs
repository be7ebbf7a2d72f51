//! EIP actions: DescribeAddresses, and AssociateAddress / DisassociateAddress (asynchronous:
//! they return a `TaskId` to wait for with `task::wait_eip_task`).

use serde::{Deserialize, Serialize};

use super::{nullable, string_or_number, vpc_action, Filter, Paged, Tag};

/// `DescribeAddresses`. `address_ids` and the `address-id` filter cannot be combined.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAddresses {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub address_ids: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

impl DescribeAddresses {
    pub fn by_ids<S: Into<String>>(ids: impl IntoIterator<Item = S>) -> Self {
        DescribeAddresses {
            address_ids: ids.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    pub fn by_filters(filters: Vec<Filter>) -> Self {
        DescribeAddresses {
            filters,
            ..Default::default()
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAddressesResponse {
    #[serde(default, deserialize_with = "nullable")]
    pub total_count: u64,
    #[serde(default, deserialize_with = "nullable")]
    pub address_set: Vec<Address>,
    #[serde(default, deserialize_with = "nullable")]
    pub request_id: String,
}

vpc_action!(DescribeAddresses => DescribeAddressesResponse, "DescribeAddresses");

impl Paged for DescribeAddresses {
    type Item = Address;
    fn set_page(&mut self, offset: u64, limit: u64) {
        self.offset = Some(offset);
        self.limit = Some(limit);
    }
    fn split(resp: DescribeAddressesResponse) -> (u64, Vec<Address>) {
        (resp.total_count, resp.address_set)
    }
}

/// An EIP. Fields the API marks nullable read as empty / zero / false.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    #[serde(default, deserialize_with = "nullable")]
    pub address_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub address_name: String,
    /// `CREATING`, `BINDING`, `BIND`, `UNBINDING`, `UNBIND`, `OFFLINING`, `BIND_ENI`.
    #[serde(default, deserialize_with = "nullable")]
    pub address_status: AddressStatus,
    #[serde(default, deserialize_with = "nullable")]
    pub address_ip: String,
    /// The bound resource (CVM, NAT, HAVIP, …); empty when unbound.
    #[serde(default, deserialize_with = "nullable")]
    pub instance_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub created_time: String,
    #[serde(default, deserialize_with = "nullable")]
    pub network_interface_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub private_address_ip: String,
    #[serde(default, deserialize_with = "nullable")]
    pub is_arrears: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub is_blocked: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub is_eip_direct_connection: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub address_type: String,
    #[serde(default, deserialize_with = "nullable")]
    pub cascade_release: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub internet_service_provider: String,
    #[serde(default, deserialize_with = "nullable")]
    pub local_bgp: bool,
    #[serde(default)]
    pub bandwidth: Option<u64>,
    #[serde(default)]
    pub internet_charge_type: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub tag_set: Vec<Tag>,
    #[serde(default)]
    pub deadline_date: Option<String>,
    /// `CVM`, `NAT`, `HAVIP`, `ENI`, `CLB`, `DHCPIP`; `None` when unbound.
    #[serde(default)]
    pub instance_type: Option<String>,
    #[serde(default)]
    pub bandwidth_package_id: Option<String>,
}

impl Address {
    /// Unbound (`UNBIND`) or bound to an ENI that is attached to nothing (`BIND_ENI`): billed idle.
    pub fn is_idle_status(&self) -> bool {
        matches!(
            self.address_status,
            AddressStatus::Unbind | AddressStatus::BindEni
        )
    }
}

/// An EIP's `AddressStatus` (API.md §2.2). The transitional states mean a task is in flight:
/// nothing about the binding is settled until it ends.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum AddressStatus {
    /// `CREATING`
    Creating,
    /// `BINDING` (transitional)
    Binding,
    /// `BIND`: bound to an instance, an ENI's IP, or a HAVIP.
    Bind,
    /// `UNBINDING` (transitional)
    Unbinding,
    /// `UNBIND`: bound to nothing (billed idle).
    Unbind,
    /// `OFFLINING` (transitional)
    Offlining,
    /// `BIND_ENI`: bound to an ENI that is attached to no instance (billed idle).
    BindEni,
    /// Anything else, kept verbatim (a state the API may add).
    Other(String),
    /// Absent from the answer.
    #[default]
    Unknown,
}

impl AddressStatus {
    /// The API's spelling.
    pub fn as_str(&self) -> &str {
        match self {
            AddressStatus::Creating => "CREATING",
            AddressStatus::Binding => "BINDING",
            AddressStatus::Bind => "BIND",
            AddressStatus::Unbinding => "UNBINDING",
            AddressStatus::Unbind => "UNBIND",
            AddressStatus::Offlining => "OFFLINING",
            AddressStatus::BindEni => "BIND_ENI",
            AddressStatus::Other(s) => s,
            AddressStatus::Unknown => "",
        }
    }

    /// Reads the API's spelling.
    pub fn parse(s: &str) -> AddressStatus {
        match s {
            "CREATING" => AddressStatus::Creating,
            "BINDING" => AddressStatus::Binding,
            "BIND" => AddressStatus::Bind,
            "UNBINDING" => AddressStatus::Unbinding,
            "UNBIND" => AddressStatus::Unbind,
            "OFFLINING" => AddressStatus::Offlining,
            "BIND_ENI" => AddressStatus::BindEni,
            "" => AddressStatus::Unknown,
            other => AddressStatus::Other(other.to_string()),
        }
    }

    /// Bound to something (`BIND`, `BIND_ENI`).
    pub fn is_bound(&self) -> bool {
        matches!(self, AddressStatus::Bind | AddressStatus::BindEni)
    }

    /// A task is in flight (`CREATING`, `BINDING`, `UNBINDING`, `OFFLINING`): nothing about the
    /// binding is settled, so nothing may count as done.
    pub fn is_transitional(&self) -> bool {
        matches!(
            self,
            AddressStatus::Creating
                | AddressStatus::Binding
                | AddressStatus::Unbinding
                | AddressStatus::Offlining
        )
    }
}

impl std::fmt::Display for AddressStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AddressStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Option::<String>::deserialize(d)?.unwrap_or_default();
        Ok(AddressStatus::parse(&s))
    }
}

impl Serialize for AddressStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `AssociateAddress`: binds an EIP to an instance (its primary IP) or to an ENI's private IP.
/// Only `UNBIND` EIPs can be bound. Asynchronous: wait for `TaskId` with `task::wait_eip_task`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociateAddress {
    pub address_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Not together with `instance_id`; needs `private_ip_address`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_interface_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eip_direct_connection: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_region: Option<String>,
}

impl AssociateAddress {
    /// Bind `address_id` to the primary private IP of `instance_id`'s primary ENI.
    pub fn to_instance(address_id: impl Into<String>, instance_id: impl Into<String>) -> Self {
        AssociateAddress {
            address_id: address_id.into(),
            instance_id: Some(instance_id.into()),
            ..Default::default()
        }
    }

    /// Bind `address_id` to `private_ip` on the ENI `eni_id`.
    pub fn to_eni_ip(
        address_id: impl Into<String>,
        eni_id: impl Into<String>,
        private_ip: impl Into<String>,
    ) -> Self {
        AssociateAddress {
            address_id: address_id.into(),
            network_interface_id: Some(eni_id.into()),
            private_ip_address: Some(private_ip.into()),
            ..Default::default()
        }
    }
}

/// The response of AssociateAddress and DisassociateAddress. `TaskId` arrives as a JSON string;
/// it is kept as a string.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddressTaskResponse {
    #[serde(default, deserialize_with = "string_or_number")]
    pub task_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub request_id: String,
}

vpc_action!(AssociateAddress => AddressTaskResponse, "AssociateAddress");

/// `DisassociateAddress`: only `BIND` and `BIND_ENI` EIPs. Asynchronous (`TaskId`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DisassociateAddress {
    pub address_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reallocate_normal_public_ip: Option<bool>,
}

impl DisassociateAddress {
    pub fn new(address_id: impl Into<String>) -> Self {
        DisassociateAddress {
            address_id: address_id.into(),
            reallocate_normal_public_ip: None,
        }
    }
}

vpc_action!(DisassociateAddress => AddressTaskResponse, "DisassociateAddress");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_shapes() {
        assert_eq!(
            serde_json::to_value(AssociateAddress::to_instance("eip-1", "ins-1")).unwrap(),
            json!({"AddressId": "eip-1", "InstanceId": "ins-1"})
        );
        assert_eq!(
            serde_json::to_value(AssociateAddress::to_eni_ip("eip-1", "eni-1", "10.0.0.5"))
                .unwrap(),
            json!({"AddressId": "eip-1", "NetworkInterfaceId": "eni-1", "PrivateIpAddress": "10.0.0.5"})
        );
        assert_eq!(
            serde_json::to_value(DisassociateAddress::new("eip-1")).unwrap(),
            json!({"AddressId": "eip-1"})
        );
    }

    #[test]
    fn decodes_nullable_fields_and_string_task_ids() {
        let r: DescribeAddressesResponse = serde_json::from_value(json!({
            "TotalCount": 1,
            "AddressSet": [{"AddressId": "eip-1", "AddressStatus": "BIND", "AddressIp": "1.1.1.1",
                "InstanceId": "havip-1", "NetworkInterfaceId": null, "PrivateAddressIp": null,
                "Bandwidth": null, "InternetChargeType": null, "InstanceType": "HAVIP",
                "EipAlgType": {"Ftp": false, "Sip": false}, "TagSet": []}],
            "RequestId": "r"
        }))
        .unwrap();
        let a = &r.address_set[0];
        assert_eq!(a.instance_type.as_deref(), Some("HAVIP"));
        assert_eq!(a.network_interface_id, "");
        assert_eq!(a.bandwidth, None);
        assert!(!a.is_idle_status());

        let t: AddressTaskResponse =
            serde_json::from_value(json!({"TaskId": "50121411", "RequestId": "r"})).unwrap();
        assert_eq!(t.task_id, "50121411");
        let t: AddressTaskResponse =
            serde_json::from_value(json!({"TaskId": 7, "RequestId": "r"})).unwrap();
        assert_eq!(t.task_id, "7");
    }
}
