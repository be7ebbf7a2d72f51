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

/// An inclusive range a numeric setting or control field must fall in. The control API checks
/// the posted JSON against it (so a wrong type or an overflow is refused naming the field, not
/// with serde's anonymous message), and a scenario's settings are checked against it at load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bound {
    pub field: &'static str,
    pub min: i64,
    pub max: i64,
}

impl Bound {
    pub const fn new(field: &'static str, min: i64, max: i64) -> Bound {
        Bound { field, min, max }
    }

    /// `Ok` when `n` is in range, else the message naming the field and the range.
    pub fn check(&self, n: i128) -> Result<(), String> {
        self.check_named(self.field, n)
    }

    /// As [`Bound::check`], naming the field `name` (e.g. `rate_limits.DescribeHaVips`).
    pub fn check_named(&self, name: &str, n: i128) -> Result<(), String> {
        if (i128::from(self.min)..=i128::from(self.max)).contains(&n) {
            Ok(())
        } else {
            Err(self.message(name, &n.to_string()))
        }
    }

    /// The check on a posted JSON value: it must be an integer in range.
    pub fn check_json(&self, v: &serde_json::Value) -> Result<(), String> {
        self.check_json_named(self.field, v)
    }

    /// As [`Bound::check_json`], naming the field `name`.
    pub fn check_json_named(&self, name: &str, v: &serde_json::Value) -> Result<(), String> {
        let n = v
            .as_i64()
            .map(i128::from)
            .or_else(|| v.as_u64().map(i128::from));
        match n {
            Some(n) => self.check_named(name, n),
            None => Err(self.message(name, &v.to_string())),
        }
    }

    fn message(&self, name: &str, got: &str) -> String {
        format!(
            "{name:?} must be an integer from {} to {}, got {got}",
            self.min, self.max
        )
    }
}

impl Settings {
    /// Async tasks last at most 10 minutes (a real VPC task takes seconds).
    pub const TASK_DURATION_MS: Bound = Bound::new("task_duration_ms", 0, 600_000);
    /// Requests per second per action; 0 = unlimited.
    pub const RATE_LIMIT: Bound = Bound::new("rate_limit", 0, 1_000_000);
    /// Each entry of `rate_limits` (named `rate_limits.<Action>` in messages).
    pub const RATE_LIMITS_ENTRY: Bound = Bound::new("rate_limits", 0, 1_000_000);
    /// One second to seven days.
    pub const CREDENTIAL_LIFETIME_S: Bound = Bound::new("credential_lifetime_s", 1, 604_800);
    /// The real zones: UTC-12 to UTC+14.
    pub const UTC_OFFSET_HOURS: Bound = Bound::new("utc_offset_hours", -12, 14);
    /// At least one entry, at most a million.
    pub const REQUEST_LOG_CAPACITY: Bound = Bound::new("request_log_capacity", 1, 1_000_000);

    /// The bounds of the scalar numeric settings, by name.
    pub const SCALARS: [Bound; 5] = [
        Settings::TASK_DURATION_MS,
        Settings::RATE_LIMIT,
        Settings::CREDENTIAL_LIFETIME_S,
        Settings::UTC_OFFSET_HOURS,
        Settings::REQUEST_LOG_CAPACITY,
    ];

    /// Checks every numeric setting against its bound (the message names the first bad one).
    pub fn validate(&self) -> Result<(), String> {
        Settings::TASK_DURATION_MS.check(self.task_duration_ms.into())?;
        Settings::RATE_LIMIT.check(self.rate_limit.into())?;
        for (action, r) in &self.rate_limits {
            Settings::RATE_LIMITS_ENTRY
                .check_named(&format!("rate_limits.{action}"), (*r).into())?;
        }
        Settings::CREDENTIAL_LIFETIME_S.check(self.credential_lifetime_s.into())?;
        Settings::UTC_OFFSET_HOURS.check(self.utc_offset_hours.into())?;
        let capacity = i128::try_from(self.request_log_capacity).unwrap_or(i128::MAX);
        Settings::REQUEST_LOG_CAPACITY.check(capacity)?;
        Ok(())
    }

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
    /// `IsArrears`: the account owes for it (the EIP is isolated).
    pub arrears: bool,
    /// `IsBlocked`: its traffic is blocked.
    pub blocked: bool,
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
