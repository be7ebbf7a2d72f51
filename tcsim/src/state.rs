//! The simulated cloud: instances, ENIs, HAVIPs, EIPs, async tasks and credentials, plus the
//! transitions that are not API calls (ARP-driven HAVIP drift, instance stop/start, task
//! completion).
//!
//! Everything lives in one [`World`] behind one mutex (see [`crate::Sim`]); the API answers in
//! microseconds, so finer locking would buy nothing. Async tasks complete lazily: every access
//! through [`crate::Sim::world`] first applies the tasks whose deadline has passed, so there are
//! no timers and the order of effects is deterministic.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

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
}

/// What an async task does when it completes.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum TaskOp {
    HavipBindEip {
        havip_id: String,
        address_id: String,
    },
    HavipUnbindEip {
        havip_id: String,
        address_id: String,
    },
    BindAddress {
        address_id: String,
        binding: Binding,
    },
    UnbindAddress {
        address_id: String,
    },
    MigrateIp {
        source: String,
        destination: String,
        ip: String,
    },
    DeleteHavip {
        havip_id: String,
    },
}

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    Running,
    Success,
    Failed,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Running => "RUNNING",
            TaskStatus::Success => "SUCCESS",
            TaskStatus::Failed => "FAILED",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Task {
    /// The integer TaskId (DescribeTaskResult).
    pub task_id: u64,
    /// The RequestId of the call that started it (DescribeVpcTaskResult).
    pub request_id: String,
    pub action: String,
    pub region: String,
    pub status: TaskStatus,
    /// Decided at creation (a `task_result: FAILED` fault).
    pub will_fail: bool,
    #[serde(skip)]
    pub deadline: Instant,
    /// Resources a second operation must not touch while this runs.
    pub resources: Vec<String>,
    pub op: TaskOp,
    pub output: String,
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

/// Finished tasks kept for DescribeTaskResult/DescribeVpcTaskResult.
const FINISHED_TASKS_KEPT: usize = 10_000;
/// Temporary credentials kept (oldest dropped first).
const TEMP_CREDENTIALS_KEPT: usize = 10_000;

/// The whole simulated cloud.
#[derive(Debug, Serialize)]
pub struct World {
    pub settings: Settings,
    pub vpcs: Vec<Vpc>,
    pub subnets: Vec<Subnet>,
    pub instances: Vec<Instance>,
    pub enis: Vec<Eni>,
    pub havips: Vec<HaVip>,
    pub addresses: Vec<Address>,
    pub tasks: Vec<Task>,
    #[serde(serialize_with = "serialize_credential_ids")]
    pub credentials: Vec<Credential>,
    #[serde(skip)]
    pub temp_credentials: HashMap<String, TempCredential>,
    /// CreateHaVip idempotency: ClientToken → HaVipId.
    #[serde(skip)]
    pub client_tokens: HashMap<String, String>,
    #[serde(skip)]
    pub next_task_id: u64,
    #[serde(skip)]
    running_tasks: usize,
}

fn serialize_credential_ids<S: serde::Serializer>(
    creds: &[Credential],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(creds.iter().map(|c| &c.secret_id))
}

/// Lowercase, `:`-separated MAC, so `52-54-00-AB-CD-EF` equals `52:54:00:ab:cd:ef`.
pub fn normalize_mac(mac: &str) -> String {
    mac.trim().to_ascii_lowercase().replace('-', ":")
}

impl World {
    pub fn new(settings: Settings) -> World {
        World {
            settings,
            vpcs: Vec::new(),
            subnets: Vec::new(),
            instances: Vec::new(),
            enis: Vec::new(),
            havips: Vec::new(),
            addresses: Vec::new(),
            tasks: Vec::new(),
            credentials: Vec::new(),
            temp_credentials: HashMap::new(),
            client_tokens: HashMap::new(),
            next_task_id: 50_121_411,
            running_tasks: 0,
        }
    }

    /// Regions with at least one VPC or EIP.
    pub fn has_region(&self, region: &str) -> bool {
        self.vpcs.iter().any(|v| v.region == region)
            || self.addresses.iter().any(|a| a.region == region)
    }

    pub fn instance(&self, id: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.id == id)
    }
    pub fn instance_mut(&mut self, id: &str) -> Option<&mut Instance> {
        self.instances.iter_mut().find(|i| i.id == id)
    }
    pub fn eni(&self, id: &str) -> Option<&Eni> {
        self.enis.iter().find(|e| e.id == id)
    }
    pub fn eni_mut(&mut self, id: &str) -> Option<&mut Eni> {
        self.enis.iter_mut().find(|e| e.id == id)
    }
    pub fn havip(&self, id: &str) -> Option<&HaVip> {
        self.havips.iter().find(|h| h.id == id)
    }
    pub fn havip_mut(&mut self, id: &str) -> Option<&mut HaVip> {
        self.havips.iter_mut().find(|h| h.id == id)
    }
    pub fn address(&self, id: &str) -> Option<&Address> {
        self.addresses.iter().find(|a| a.id == id)
    }
    pub fn address_mut(&mut self, id: &str) -> Option<&mut Address> {
        self.addresses.iter_mut().find(|a| a.id == id)
    }

    /// The instance's ENIs, primary first.
    pub fn instance_enis(&self, instance_id: &str) -> Vec<&Eni> {
        let mut enis: Vec<&Eni> = self
            .enis
            .iter()
            .filter(|e| e.instance_id.as_deref() == Some(instance_id))
            .collect();
        enis.sort_by_key(|e| (!e.primary, e.device_index));
        enis
    }

    /// The EIP bound to a HAVIP as `HaVip.AddressIp` shows it: bound, or being unbound.
    pub fn havip_address(&self, havip_id: &str) -> Option<&Address> {
        self.addresses.iter().find(|a| {
            matches!(&a.binding, Some(Binding::Havip { havip_id: h }) if h == havip_id)
                && (a.status == "BIND" || a.status == "UNBINDING")
        })
    }

    /// The EIP bound to an ENI private IP.
    pub fn ip_address(&self, eni_id: &str, ip: &str) -> Option<&Address> {
        self.addresses.iter().find(|a| {
            matches!(&a.binding, Some(Binding::Eni { eni_id: e, private_ip: p, .. }) if e == eni_id && p == ip)
        })
    }

    /// The running task that holds `resource`, if any.
    pub fn running_task_on(&self, resource: &str) -> Option<&Task> {
        if self.running_tasks == 0 {
            return None;
        }
        self.tasks
            .iter()
            .find(|t| t.status == TaskStatus::Running && t.resources.iter().any(|r| r == resource))
    }

    /// Starts an async task: applies the intermediate state (EIP BINDING/UNBINDING, IP
    /// MIGRATING) and returns the integer TaskId.
    #[allow(clippy::too_many_arguments)]
    pub fn start_task(
        &mut self,
        action: &str,
        region: &str,
        request_id: &str,
        op: TaskOp,
        resources: Vec<String>,
        will_fail: bool,
        now: Instant,
    ) -> u64 {
        match &op {
            TaskOp::HavipBindEip { address_id, .. } | TaskOp::BindAddress { address_id, .. } => {
                if let Some(a) = self.address_mut(address_id) {
                    a.status = "BINDING".into();
                }
            }
            TaskOp::HavipUnbindEip { address_id, .. } | TaskOp::UnbindAddress { address_id } => {
                if let Some(a) = self.address_mut(address_id) {
                    a.status = "UNBINDING".into();
                }
            }
            TaskOp::MigrateIp { source, ip, .. } => {
                if let Some(p) = self
                    .eni_mut(source)
                    .and_then(|e| e.private_ips.iter_mut().find(|p| &p.ip == ip))
                {
                    p.state = "MIGRATING".into();
                }
            }
            TaskOp::DeleteHavip { .. } => {}
        }
        let task_id = self.next_task_id;
        self.next_task_id += 1;
        self.tasks.push(Task {
            task_id,
            request_id: request_id.to_string(),
            action: action.to_string(),
            region: region.to_string(),
            status: TaskStatus::Running,
            will_fail,
            deadline: now
                .checked_add(Duration::from_millis(self.settings.task_duration_ms))
                .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400)),
            resources,
            op,
            output: String::new(),
        });
        self.running_tasks += 1;
        self.prune_tasks();
        task_id
    }

    fn prune_tasks(&mut self) {
        let finished = self.tasks.len() - self.running_tasks;
        if finished > FINISHED_TASKS_KEPT {
            let mut drop = finished - FINISHED_TASKS_KEPT;
            self.tasks.retain(|t| {
                if drop > 0 && t.status != TaskStatus::Running {
                    drop -= 1;
                    false
                } else {
                    true
                }
            });
        }
    }

    /// Completes every running task whose deadline has passed, in start order.
    pub fn tick(&mut self, now: Instant, wall: DateTime<Utc>) {
        if self.running_tasks == 0 {
            return;
        }
        let due: Vec<usize> = self
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| t.status == TaskStatus::Running && t.deadline <= now)
            .map(|(i, _)| i)
            .collect();
        for i in due {
            let (op, will_fail) = (self.tasks[i].op.clone(), self.tasks[i].will_fail);
            let result = if will_fail {
                self.rollback(&op);
                Err("injected failure (task_result fault)".to_string())
            } else {
                self.apply(&op, wall)
            };
            let task = &mut self.tasks[i];
            match result {
                Ok(()) => {
                    task.status = TaskStatus::Success;
                    task.output = "SUCCESS".into();
                }
                Err(why) => {
                    task.status = TaskStatus::Failed;
                    task.output = format!("FAILED: {why}");
                }
            }
            self.running_tasks -= 1;
        }
    }

    /// Undoes the intermediate state of a failed task.
    fn rollback(&mut self, op: &TaskOp) {
        match op {
            TaskOp::HavipBindEip { address_id, .. } | TaskOp::BindAddress { address_id, .. } => {
                if let Some(a) = self.address_mut(address_id) {
                    a.status = "UNBIND".into();
                }
            }
            TaskOp::HavipUnbindEip { address_id, .. } | TaskOp::UnbindAddress { address_id } => {
                if let Some(a) = self.address_mut(address_id) {
                    a.status = bound_status(a.binding.as_ref()).into();
                }
            }
            TaskOp::MigrateIp { source, ip, .. } => {
                if let Some(p) = self
                    .eni_mut(source)
                    .and_then(|e| e.private_ips.iter_mut().find(|p| &p.ip == ip))
                {
                    p.state = "AVAILABLE".into();
                }
            }
            TaskOp::DeleteHavip { .. } => {}
        }
    }

    /// Applies a successful task. Resources may have changed meanwhile (an instance
    /// stopped, …); anything that no longer makes sense fails the task instead.
    fn apply(&mut self, op: &TaskOp, _wall: DateTime<Utc>) -> Result<(), String> {
        match op {
            TaskOp::HavipBindEip {
                havip_id,
                address_id,
            } => {
                if self.havip(havip_id).is_none() {
                    self.rollback(op);
                    return Err(format!("HAVIP {havip_id} no longer exists"));
                }
                let a = self
                    .address_mut(address_id)
                    .ok_or_else(|| format!("EIP {address_id} no longer exists"))?;
                a.status = "BIND".into();
                a.binding = Some(Binding::Havip {
                    havip_id: havip_id.clone(),
                });
                Ok(())
            }
            TaskOp::BindAddress {
                address_id,
                binding,
            } => {
                let a = self
                    .address_mut(address_id)
                    .ok_or_else(|| format!("EIP {address_id} no longer exists"))?;
                a.status = bound_status(Some(binding)).into();
                a.binding = Some(binding.clone());
                Ok(())
            }
            TaskOp::HavipUnbindEip { address_id, .. } | TaskOp::UnbindAddress { address_id } => {
                let a = self
                    .address_mut(address_id)
                    .ok_or_else(|| format!("EIP {address_id} no longer exists"))?;
                a.status = "UNBIND".into();
                a.binding = None;
                Ok(())
            }
            TaskOp::MigrateIp {
                source,
                destination,
                ip,
            } => {
                let src = self
                    .eni_mut(source)
                    .ok_or_else(|| format!("ENI {source} no longer exists"))?;
                let Some(pos) = src.private_ips.iter().position(|p| &p.ip == ip) else {
                    return Err(format!("{ip} is no longer on {source}"));
                };
                let mut moved = src.private_ips.remove(pos);
                moved.state = "AVAILABLE".into();
                moved.primary = false;
                let Some(dst) = self.eni_mut(destination) else {
                    // Put it back: the destination vanished.
                    if let Some(src) = self.eni_mut(source) {
                        src.private_ips.insert(pos, moved);
                    }
                    return Err(format!("ENI {destination} no longer exists"));
                };
                dst.private_ips.push(moved);
                let dst_instance = dst.instance_id.clone();
                // An EIP on that IP follows it to the new ENI.
                for a in &mut self.addresses {
                    if let Some(Binding::Eni {
                        eni_id,
                        private_ip,
                        instance_id,
                    }) = &mut a.binding
                    {
                        if eni_id == source && private_ip == ip {
                            *eni_id = destination.clone();
                            *instance_id = dst_instance.clone();
                            a.status = bound_status(a.binding.as_ref()).into();
                        }
                    }
                }
                Ok(())
            }
            TaskOp::DeleteHavip { havip_id } => {
                self.havips.retain(|h| &h.id != havip_id);
                Ok(())
            }
        }
    }

    /// A gratuitous ARP for `ip` from `mac`: moves the HAVIP whose Vip is `ip`, in the ENI's
    /// subnet, to that ENI and its instance, unless the drift-range check forbids it.
    pub fn apply_arp(&mut self, ip: &str, mac: &str, wall: DateTime<Utc>) -> ArpOutcome {
        let not_moved = |havip_id: Option<String>, reason: String| ArpOutcome {
            moved: false,
            havip_id,
            instance_id: None,
            network_interface_id: None,
            reason: Some(reason),
        };
        let mac_n = normalize_mac(mac);
        let Some(eni) = self.enis.iter().find(|e| normalize_mac(&e.mac) == mac_n) else {
            return not_moved(None, format!("no ENI has MAC {mac}"));
        };
        let (eni_id, subnet_id, instance_id) = (
            eni.id.clone(),
            eni.subnet_id.clone(),
            eni.instance_id.clone(),
        );
        let Some(idx) = self
            .havips
            .iter()
            .position(|h| h.vip == ip && h.subnet_id == subnet_id)
        else {
            return not_moved(
                None,
                format!("no HAVIP has Vip {ip} in subnet {subnet_id} of ENI {eni_id}"),
            );
        };
        let havip_id = self.havips[idx].id.clone();
        if let Some(iid) = &instance_id {
            if self
                .instance(iid)
                .is_some_and(|i| i.state == InstanceState::Stopped)
            {
                return not_moved(Some(havip_id), format!("instance {iid} is stopped"));
            }
        }
        let h = &self.havips[idx];
        if h.check_associate {
            let in_range = h
                .associations
                .iter()
                .any(|a| a.instance_id == eni_id || Some(&a.instance_id) == instance_id.as_ref());
            if !in_range {
                return not_moved(
                    Some(havip_id),
                    format!(
                        "CheckAssociate is on and neither ENI {eni_id} nor instance {} is in the drift range",
                        instance_id.as_deref().unwrap_or("(none)")
                    ),
                );
            }
        }
        if h.eni_id.as_deref() == Some(eni_id.as_str()) {
            return ArpOutcome {
                moved: false,
                havip_id: Some(havip_id),
                instance_id,
                network_interface_id: Some(eni_id.clone()),
                reason: Some(format!("already held by ENI {eni_id}")),
            };
        }
        let h = &mut self.havips[idx];
        h.eni_id = Some(eni_id.clone());
        h.instance_id = instance_id.clone();
        h.flushed_time = Some(wall);
        ArpOutcome {
            moved: true,
            havip_id: Some(havip_id),
            instance_id,
            network_interface_id: Some(eni_id),
            reason: None,
        }
    }

    /// Stops an instance: every HAVIP it (or one of its ENIs) held loses its holder; the EIP on
    /// such a HAVIP stays bound to the HAVIP and is therefore idle. Returns the HAVIPs cleared.
    pub fn stop_instance(&mut self, id: &str) -> Option<Vec<String>> {
        self.instance_mut(id)?.state = InstanceState::Stopped;
        let enis: Vec<String> = self
            .enis
            .iter()
            .filter(|e| e.instance_id.as_deref() == Some(id))
            .map(|e| e.id.clone())
            .collect();
        let mut cleared = Vec::new();
        for h in &mut self.havips {
            let held = h.instance_id.as_deref() == Some(id)
                || h.eni_id.as_ref().is_some_and(|e| enis.contains(e));
            if held {
                h.instance_id = None;
                h.eni_id = None;
                cleared.push(h.id.clone());
            }
        }
        Some(cleared)
    }

    pub fn start_instance(&mut self, id: &str) -> bool {
        match self.instance_mut(id) {
            Some(i) => {
                i.state = InstanceState::Running;
                true
            }
            None => false,
        }
    }

    /// Stores temporary credentials, dropping expired ones and the oldest beyond the cap.
    pub fn add_temp_credential(&mut self, secret_id: String, cred: TempCredential, now_s: i64) {
        self.temp_credentials.retain(|_, c| c.expired_time > now_s);
        if self.temp_credentials.len() >= TEMP_CREDENTIALS_KEPT {
            if let Some(oldest) = self
                .temp_credentials
                .iter()
                .min_by_key(|(_, c)| c.expired_time)
                .map(|(k, _)| k.clone())
            {
                self.temp_credentials.remove(&oldest);
            }
        }
        self.temp_credentials.insert(secret_id, cred);
    }
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
