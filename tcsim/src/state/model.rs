//! The simulated cloud's resources as plain data: settings, credentials, VPCs, subnets,
//! instances, ENIs, HAVIPs and EIPs, and the small rules about them that several modules share
//! (MAC comparison, an EIP's status from its binding).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

/// Tunables, from the scenario and then the command line.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// How long an async task stays RUNNING.
    pub task_duration_ms: u64,
    /// Default per-action rate limit in requests per second; 0 disables.
    pub rate_limit: u32,
    /// Per-action overrides of `rate_limit` (0 disables for that action).
    pub rate_limits: BTreeMap<String, u32>,
    /// Lifetime of role credentials issued by the metadata service.
    pub credential_lifetime_s: u64,
    /// Offset from UTC of the `YYYY-MM-DD hh:mm:ss` times (CreatedTime, FlushedTime). The real
    /// API answers in Beijing time, UTC+8.
    pub utc_offset_hours: i32,
    /// Metadata answers for this instance when the caller's IP matches none (e.g. a demo on one
    /// machine). Unset: such requests get 404.
    pub metadata_default_instance: Option<String>,
    /// Requests kept in the request log.
    pub request_log_capacity: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            task_duration_ms: 1000,
            rate_limit: 20,
            rate_limits: BTreeMap::new(),
            credential_lifetime_s: 3600,
            utc_offset_hours: 8,
            metadata_default_instance: None,
            request_log_capacity: 100_000,
        }
    }
}

impl Settings {
    /// The rate limit for `action` (0 = unlimited).
    pub fn rate_limit_for(&self, action: &str) -> u32 {
        self.rate_limits
            .get(action)
            .copied()
            .unwrap_or(self.rate_limit)
    }

    /// `YYYY-MM-DD hh:mm:ss` in the configured zone.
    pub fn local_time(&self, t: DateTime<Utc>) -> String {
        let offset = FixedOffset::east_opt(self.utc_offset_hours.clamp(-23, 23) * 3600)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset is valid"));
        t.with_timezone(&offset)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }
}

/// An API key pair. Serialized without its key.
#[derive(Clone, Debug, Deserialize)]
pub struct Credential {
    pub secret_id: String,
    pub secret_key: String,
}

/// Temporary credentials issued through the metadata role.
#[derive(Clone, Debug)]
pub struct TempCredential {
    pub secret_key: String,
    pub token: String,
    /// Unix seconds on the simulated clock.
    pub expired_time: i64,
    pub instance_id: String,
    pub role: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Vpc {
    pub id: String,
    pub region: String,
    pub cidr: String,
    pub name: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Subnet {
    pub id: String,
    pub vpc_id: String,
    pub region: String,
    pub zone: String,
    pub cidr: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstanceState {
    Running,
    Stopped,
}

#[derive(Clone, Debug, Serialize)]
pub struct Instance {
    pub id: String,
    pub name: String,
    pub uuid: String,
    pub region: String,
    pub zone: String,
    pub state: InstanceState,
    /// The CAM role bound to the instance (metadata `cam/security-credentials/`).
    pub role: Option<String>,
    pub created: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PrivateIp {
    pub ip: String,
    pub primary: bool,
    /// `AVAILABLE`, or `MIGRATING` while a MigratePrivateIpAddress task runs.
    pub state: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Eni {
    pub id: String,
    pub name: String,
    pub description: String,
    pub region: String,
    pub zone: String,
    pub vpc_id: String,
    pub subnet_id: String,
    /// As configured; compared case-insensitively.
    pub mac: String,
    pub primary: bool,
    pub instance_id: Option<String>,
    pub device_index: u32,
    pub private_ips: Vec<PrivateIp>,
    pub created: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Association {
    pub instance_id: String,
    /// `CVM` or `ENI`.
    pub instance_type: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct HaVip {
    pub id: String,
    pub name: String,
    pub region: String,
    pub vpc_id: String,
    pub subnet_id: String,
    pub vip: String,
    pub check_associate: bool,
    /// The drift range.
    pub associations: Vec<Association>,
    /// The holder: the ENI whose gratuitous ARP won the VIP, and its instance.
    pub eni_id: Option<String>,
    pub instance_id: Option<String>,
    pub flushed_time: Option<DateTime<Utc>>,
    pub created: DateTime<Utc>,
    pub business: String,
    /// `(Key, Value)` tags.
    pub tags: Vec<(String, String)>,
}

/// What an EIP is bound to.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Binding {
    /// `InstanceType` HAVIP, `InstanceId` = the HAVIP id.
    Havip { havip_id: String },
    /// An ENI private IP; `instance_id` is the ENI's instance (`InstanceType` CVM) or none for
    /// a dangling ENI (`BIND_ENI`, `InstanceType` ENI).
    Eni {
        eni_id: String,
        private_ip: String,
        instance_id: Option<String>,
    },
}

#[derive(Clone, Debug, Serialize)]
pub struct Address {
    pub id: String,
    pub name: String,
    pub region: String,
    pub ip: String,
    /// `BIND`, `BINDING`, `UNBIND`, `UNBINDING`, `BIND_ENI`.
    pub status: String,
    pub binding: Option<Binding>,
    pub charge_type: String,
    pub bandwidth: u32,
    pub isp: String,
    pub created: DateTime<Utc>,
}

/// The outcome of a gratuitous ARP.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ArpOutcome {
    pub moved: bool,
    pub havip_id: Option<String>,
    pub instance_id: Option<String>,
    pub network_interface_id: Option<String>,
    /// Why nothing moved (`None` when it moved).
    pub reason: Option<String>,
}

/// Lowercase, `:`-separated MAC, so `52-54-00-AB-CD-EF` equals `52:54:00:ab:cd:ef`.
pub fn normalize_mac(mac: &str) -> String {
    mac.trim().to_ascii_lowercase().replace('-', ":")
}

/// `AddressStatus` of an EIP with this binding.
pub fn bound_status(binding: Option<&Binding>) -> &'static str {
    match binding {
        None => "UNBIND",
        Some(Binding::Eni {
            instance_id: None, ..
        }) => "BIND_ENI",
        Some(_) => "BIND",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_compare_case_and_separator_insensitively() {
        assert_eq!(normalize_mac("52-54-00-AB-cd-EF"), "52:54:00:ab:cd:ef");
        assert_eq!(normalize_mac(" 20:90:6F:EE:57:E2 "), "20:90:6f:ee:57:e2");
    }

    #[test]
    fn local_time_is_beijing_by_default() {
        let s = Settings::default();
        let t = DateTime::parse_from_rfc3339("2024-06-06T14:24:45Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(s.local_time(t), "2024-06-06 22:24:45");
    }
}
