//! ENI actions: DescribeNetworkInterfaces (find our ENI by MAC; who holds a private IP) and
//! MigratePrivateIpAddress (move a secondary IP between ENIs; asynchronous via RequestId).

use serde::{Deserialize, Serialize};

use super::{describe_action, nullable, vpc_action, Filter, RequestIdOnly, Tag};

describe_action! {
    /// `DescribeNetworkInterfaces`. `network_interface_ids` and `filters` cannot be combined.
    DescribeNetworkInterfaces { network_interface_ids }
        => DescribeNetworkInterfacesResponse { network_interface_set: NetworkInterface }
}

impl DescribeNetworkInterfaces {
    /// The ENIs attached to `instance_id` (filter `attachment.instance-id`).
    pub fn of_instance(instance_id: impl Into<String>) -> Self {
        Self::by_filters(vec![Filter::new(
            "attachment.instance-id",
            [instance_id.into()],
        )])
    }
}

/// An elastic network interface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterface {
    #[serde(default, deserialize_with = "nullable")]
    pub network_interface_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub network_interface_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub network_interface_description: String,
    #[serde(default, deserialize_with = "nullable")]
    pub subnet_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub vpc_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub group_set: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub primary: bool,
    /// Uppercase in the API's examples; compare with [`NetworkInterface::has_mac`].
    #[serde(default, deserialize_with = "nullable")]
    pub mac_address: String,
    #[serde(default, deserialize_with = "nullable")]
    pub state: String,
    #[serde(default, deserialize_with = "nullable")]
    pub private_ip_address_set: Vec<PrivateIpAddressSpecification>,
    #[serde(default)]
    pub attachment: Option<NetworkInterfaceAttachment>,
    #[serde(default, deserialize_with = "nullable")]
    pub zone: String,
    #[serde(default, deserialize_with = "nullable")]
    pub created_time: String,
    #[serde(default, deserialize_with = "nullable")]
    pub tag_set: Vec<Tag>,
    #[serde(default, deserialize_with = "nullable")]
    pub eni_type: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub business: String,
}

impl NetworkInterface {
    /// Case-insensitive MAC comparison (metadata and API disagree on case in places).
    pub fn has_mac(&self, mac: &str) -> bool {
        self.mac_address.eq_ignore_ascii_case(mac.trim())
    }

    /// Whether `ip` is one of this ENI's private IPv4s.
    pub fn has_private_ip(&self, ip: &str) -> bool {
        self.private_ip_address_set
            .iter()
            .any(|p| p.private_ip_address == ip)
    }

    /// The CVM this ENI is attached to, if any.
    pub fn instance_id(&self) -> Option<&str> {
        self.attachment
            .as_ref()
            .map(|a| a.instance_id.as_str())
            .filter(|s| !s.is_empty())
    }
}

/// A private IP on an ENI (also the request shape of Assign/UnassignPrivateIpAddresses).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrivateIpAddressSpecification {
    #[serde(default, deserialize_with = "nullable")]
    pub private_ip_address: String,
    #[serde(default, deserialize_with = "nullable")]
    pub primary: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub public_ip_address: String,
    #[serde(default, deserialize_with = "nullable")]
    pub address_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub description: String,
    #[serde(default, deserialize_with = "nullable")]
    pub is_wan_ip_blocked: bool,
    /// `PENDING`, `MIGRATING`, `DELETING`, `AVAILABLE`.
    #[serde(default, deserialize_with = "nullable")]
    pub state: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterfaceAttachment {
    #[serde(default, deserialize_with = "nullable")]
    pub instance_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub device_index: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub instance_account_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub attach_time: String,
}

/// `MigratePrivateIpAddress`: moves a secondary private IP between two ENIs of one subnet.
/// Asynchronous: wait with `task::wait_vpc_task(client, &resp.request_id)`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MigratePrivateIpAddress {
    pub source_network_interface_id: String,
    pub destination_network_interface_id: String,
    pub private_ip_address: String,
}
vpc_action!(MigratePrivateIpAddress => RequestIdOnly, "MigratePrivateIpAddress");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_shapes() {
        assert_eq!(
            serde_json::to_value(DescribeNetworkInterfaces::of_instance("ins-1")).unwrap(),
            json!({"Filters": [{"Name": "attachment.instance-id", "Values": ["ins-1"]}]})
        );
        let m = MigratePrivateIpAddress {
            source_network_interface_id: "eni-a".into(),
            destination_network_interface_id: "eni-b".into(),
            private_ip_address: "10.0.0.6".into(),
        };
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"SourceNetworkInterfaceId": "eni-a", "DestinationNetworkInterfaceId": "eni-b", "PrivateIpAddress": "10.0.0.6"})
        );
    }

    #[test]
    fn decodes_enis() {
        let r: DescribeNetworkInterfacesResponse = serde_json::from_value(json!({
            "NetworkInterfaceSet": [{
                "NetworkInterfaceId": "eni-1", "MacAddress": "20:90:6F:EE:57:E2", "Primary": true,
                "PrivateIpAddressSet": [{"PrivateIpAddress": "10.0.0.5", "Primary": true, "PublicIpAddress": null}],
                "Attachment": {"InstanceId": "ins-1", "DeviceIndex": 0, "InstanceAccountId": "1", "AttachTime": "x"},
                "EniType": 1, "Ipv6AddressSet": [], "Unknown": 3
            }, {"NetworkInterfaceId": "eni-2", "Attachment": null}],
            "TotalCount": 2, "RequestId": "r"
        }))
        .unwrap();
        let eni = &r.network_interface_set[0];
        assert!(eni.has_mac("20:90:6f:ee:57:e2"));
        assert!(eni.has_private_ip("10.0.0.5"));
        assert!(!eni.has_private_ip("10.0.0.6"));
        assert_eq!(eni.instance_id(), Some("ins-1"));
        assert_eq!(r.network_interface_set[1].instance_id(), None);
    }
}
