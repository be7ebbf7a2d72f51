//! The simulated cloud: instances, ENIs, HAVIPs, EIPs, async tasks and credentials, plus the
//! transitions that are not API calls (ARP-driven HAVIP drift, instance stop/start, task
//! completion).
//!
//! Everything lives in one [`World`] behind one mutex (see [`crate::Sim`]); the API answers in
//! microseconds, so finer locking would buy nothing. Async tasks complete lazily: every access
//! through [`crate::Sim::world`] first applies the tasks whose deadline has passed, so there are
//! no timers and the order of effects is deterministic.

mod model;
mod tasks;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use model::{
    bound_status, normalize_mac, Address, ArpOutcome, Association, Binding, Bound, Credential, Eni,
    HaVip, Instance, InstanceState, PrivateIp, Settings, Subnet, TempCredential, Vpc,
};
pub use tasks::{Task, TaskOp, TaskStatus};

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
