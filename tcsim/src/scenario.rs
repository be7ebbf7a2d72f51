//! Scenarios: the starting state of the simulated cloud, from a TOML or JSON file, the built-in
//! `seed`, or the generator (`large:N[:M]`, `tcsim generate`).
//!
//! The format is documented in `tcsim/README.md`; `scenarios/seed.toml` is the worked example.
//! Files are validated on load (unique IDs, references, IP formats), so a typo fails at start
//! rather than as a puzzling answer later.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::valid_id;
use crate::net::Cidr;
use crate::state::{
    Address, Association, Binding, Credential, Eni, HaVip, Instance, InstanceState, PrivateIp,
    Settings, Subnet, Vpc, World,
};

/// The built-in reference deployment.
pub const SEED_TOML: &str = include_str!("../scenarios/seed.toml");

/// The example key pair of the TencentCloud documentation, used by every built-in scenario.
pub const EXAMPLE_SECRET_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
pub const EXAMPLE_SECRET_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";

/// Creation time of resources that do not state one (fixed, so answers are reproducible).
const DEFAULT_CREATED: &str = "2024-06-01T02:00:00Z";

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub credentials: Vec<CredentialSpec>,
    #[serde(default)]
    pub vpcs: Vec<VpcSpec>,
    #[serde(default)]
    pub subnets: Vec<SubnetSpec>,
    #[serde(default)]
    pub instances: Vec<InstanceSpec>,
    #[serde(default)]
    pub enis: Vec<EniSpec>,
    #[serde(default)]
    pub havips: Vec<HaVipSpec>,
    #[serde(default)]
    pub addresses: Vec<AddressSpec>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSpec {
    pub secret_id: String,
    pub secret_key: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcSpec {
    pub id: String,
    pub region: String,
    pub cidr: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetSpec {
    pub id: String,
    pub vpc_id: String,
    pub zone: String,
    pub cidr: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceSpec {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Defaults to the zone of the instance's primary ENI's subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<InstanceState>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EniSpec {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub subnet_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Defaults to true for an instance's first ENI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    pub mac: String,
    /// Private IPs; the first is the primary IP.
    pub ips: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaVipSpec {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub subnet_id: String,
    pub vip: String,
    #[serde(default)]
    pub check_associate: bool,
    /// `ins-…` and `eni-…` IDs.
    #[serde(default)]
    pub drift_range: Vec<String>,
    /// The holder: an `eni-…` or an `ins-…` (then its primary ENI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    /// `YYYY-MM-DD hh:mm:ss` in the settings' zone, or RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flushed_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
    #[serde(default)]
    pub business: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressSpec {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub ip: String,
    /// Required unless the binding implies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_havip: Option<String>,
    /// Binds to the primary IP of the instance's primary ENI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_instance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_eni: Option<String>,
    /// With `bind_eni`: which of its IPs (default: its primary IP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<String>,
    #[serde(default = "default_charge_type")]
    pub charge_type: String,
    #[serde(default = "default_bandwidth")]
    pub bandwidth: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
}

fn default_charge_type() -> String {
    "TRAFFIC_POSTPAID_BY_HOUR".into()
}
fn default_bandwidth() -> u32 {
    1
}

impl ScenarioFile {
    /// `seed`, `large:N` / `large:N:M` (N HAVIPs, M EIPs, on top of seed), or a file path
    /// (`.json` is JSON, anything else TOML).
    pub fn load(name: &str) -> Result<ScenarioFile> {
        if name == "seed" {
            return ScenarioFile::from_toml(SEED_TOML).context("built-in seed scenario");
        }
        if let Some(spec) = name.strip_prefix("large:") {
            let mut parts = spec.split(':');
            let havips: usize = parts
                .next()
                .unwrap_or("")
                .parse()
                .map_err(|_| anyhow!("large:N needs a number of HAVIPs, got {spec:?}"))?;
            let eips: usize = match parts.next() {
                Some(m) => m
                    .parse()
                    .map_err(|_| anyhow!("large:N:M needs a number of EIPs, got {m:?}"))?,
                None => havips * 2,
            };
            let mut seed = ScenarioFile::from_toml(SEED_TOML)?;
            seed.merge(generate(havips, eips, &default_regions())?);
            return Ok(seed);
        }
        let text = std::fs::read_to_string(name).with_context(|| {
            format!("reading scenario {name:?} (not a built-in: seed, large:N)")
        })?;
        if name.ends_with(".json") {
            serde_json::from_str(&text).with_context(|| format!("parsing JSON scenario {name}"))
        } else {
            ScenarioFile::from_toml(&text).with_context(|| format!("parsing TOML scenario {name}"))
        }
    }

    pub fn from_toml(text: &str) -> Result<ScenarioFile> {
        Ok(toml::from_str(text)?)
    }

    /// Appends `other`'s resources (its settings and duplicate credentials are ignored).
    pub fn merge(&mut self, other: ScenarioFile) {
        for c in other.credentials {
            if !self.credentials.iter().any(|x| x.secret_id == c.secret_id) {
                self.credentials.push(c);
            }
        }
        self.vpcs.extend(other.vpcs);
        self.subnets.extend(other.subnets);
        self.instances.extend(other.instances);
        self.enis.extend(other.enis);
        self.havips.extend(other.havips);
        self.addresses.extend(other.addresses);
    }

    /// Validates and builds the world.
    pub fn build(&self) -> Result<World> {
        let mut w = World::new(self.settings.clone());
        let mut ids = HashSet::new();
        let mut unique = |id: &str| -> Result<()> {
            if !ids.insert(id.to_string()) {
                bail!("duplicate ID {id}");
            }
            Ok(())
        };
        let default_created = parse_rfc3339(DEFAULT_CREATED)?;

        for c in &self.credentials {
            if c.secret_id.is_empty() || c.secret_key.is_empty() {
                bail!("credentials need a non-empty secret_id and secret_key");
            }
            w.credentials.push(Credential {
                secret_id: c.secret_id.clone(),
                secret_key: c.secret_key.clone(),
            });
        }
        for v in &self.vpcs {
            unique(&v.id)?;
            check_id(&v.id, "vpc")?;
            Cidr::parse(&v.cidr).with_context(|| format!("VPC {}", v.id))?;
            w.vpcs.push(Vpc {
                id: v.id.clone(),
                region: v.region.clone(),
                cidr: v.cidr.clone(),
                name: v.name.clone(),
            });
        }
        for s in &self.subnets {
            unique(&s.id)?;
            check_id(&s.id, "subnet")?;
            let vpc = w
                .vpcs
                .iter()
                .find(|v| v.id == s.vpc_id)
                .ok_or_else(|| anyhow!("subnet {} names unknown VPC {}", s.id, s.vpc_id))?;
            Cidr::parse(&s.cidr).with_context(|| format!("subnet {}", s.id))?;
            if !s.zone.starts_with(&vpc.region) {
                bail!(
                    "subnet {} zone {} is not in region {}",
                    s.id,
                    s.zone,
                    vpc.region
                );
            }
            w.subnets.push(Subnet {
                id: s.id.clone(),
                vpc_id: s.vpc_id.clone(),
                region: vpc.region.clone(),
                zone: s.zone.clone(),
                cidr: s.cidr.clone(),
                name: s.name.clone(),
            });
        }
        let mut macs = HashSet::new();
        let mut ips = HashSet::new();
        for e in &self.enis {
            unique(&e.id)?;
            check_id(&e.id, "eni")?;
            let subnet = w
                .subnets
                .iter()
                .find(|s| s.id == e.subnet_id)
                .ok_or_else(|| anyhow!("ENI {} names unknown subnet {}", e.id, e.subnet_id))?
                .clone();
            if let Some(iid) = &e.instance_id {
                if !self.instances.iter().any(|i| &i.id == iid) {
                    bail!("ENI {} names unknown instance {iid}", e.id);
                }
            }
            if !valid_mac(&e.mac) || !macs.insert(crate::state::normalize_mac(&e.mac)) {
                bail!("ENI {} has an invalid or duplicate MAC {:?}", e.id, e.mac);
            }
            if e.ips.is_empty() {
                bail!("ENI {} needs at least one IP (its primary IP)", e.id);
            }
            let cidr = Cidr::parse(&subnet.cidr)?;
            for ip in &e.ips {
                let addr: Ipv4Addr = ip
                    .parse()
                    .map_err(|_| anyhow!("ENI {} has an invalid IP {ip:?}", e.id))?;
                if !cidr.contains(addr) {
                    bail!("ENI {} IP {ip} is outside subnet {}", e.id, subnet.cidr);
                }
                if !ips.insert((subnet.vpc_id.clone(), ip.clone())) {
                    bail!("IP {ip} is used twice in VPC {}", subnet.vpc_id);
                }
            }
            let siblings = w
                .enis
                .iter()
                .filter(|x| x.instance_id.is_some() && x.instance_id == e.instance_id)
                .count() as u32;
            let primary = e
                .primary
                .unwrap_or(e.instance_id.is_some() && siblings == 0);
            w.enis.push(Eni {
                id: e.id.clone(),
                name: e.name.clone(),
                description: String::new(),
                region: subnet.region.clone(),
                zone: subnet.zone.clone(),
                vpc_id: subnet.vpc_id.clone(),
                subnet_id: subnet.id.clone(),
                mac: e.mac.clone(),
                primary,
                instance_id: e.instance_id.clone(),
                device_index: siblings,
                private_ips: e
                    .ips
                    .iter()
                    .enumerate()
                    .map(|(i, ip)| PrivateIp {
                        ip: ip.clone(),
                        primary: i == 0,
                        state: "AVAILABLE".into(),
                    })
                    .collect(),
                created: default_created,
            });
        }
        for i in &self.instances {
            unique(&i.id)?;
            check_id(&i.id, "ins")?;
            let enis: Vec<&Eni> = w
                .enis
                .iter()
                .filter(|e| e.instance_id.as_deref() == Some(i.id.as_str()))
                .collect();
            let first = enis.iter().find(|e| e.primary).or(enis.first());
            let zone = match (&i.zone, first) {
                (Some(z), _) => z.clone(),
                (None, Some(e)) => e.zone.clone(),
                (None, None) => bail!("instance {} has no ENI and no zone", i.id),
            };
            let region = first.map(|e| e.region.clone()).unwrap_or_else(|| {
                zone.rsplit_once('-')
                    .map(|(r, _)| r.to_string())
                    .unwrap_or(zone.clone())
            });
            w.instances.push(Instance {
                id: i.id.clone(),
                name: i.name.clone(),
                uuid: i
                    .uuid
                    .clone()
                    .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                region,
                zone,
                state: i.state.unwrap_or(InstanceState::Running),
                role: i.role.clone(),
                created: default_created,
            });
        }
        for h in &self.havips {
            unique(&h.id)?;
            check_id(&h.id, "havip")?;
            let subnet = w
                .subnets
                .iter()
                .find(|s| s.id == h.subnet_id)
                .ok_or_else(|| anyhow!("HAVIP {} names unknown subnet {}", h.id, h.subnet_id))?
                .clone();
            let vip: Ipv4Addr = h
                .vip
                .parse()
                .map_err(|_| anyhow!("HAVIP {} has an invalid Vip {:?}", h.id, h.vip))?;
            if !Cidr::parse(&subnet.cidr)?.contains(vip) {
                bail!(
                    "HAVIP {} Vip {} is outside subnet {}",
                    h.id,
                    h.vip,
                    subnet.cidr
                );
            }
            if !ips.insert((subnet.vpc_id.clone(), h.vip.clone())) {
                bail!("IP {} is used twice in VPC {}", h.vip, subnet.vpc_id);
            }
            let mut associations = Vec::new();
            for id in &h.drift_range {
                let instance_type = if id.starts_with("eni-") && w.eni(id).is_some() {
                    "ENI"
                } else if id.starts_with("ins-") && w.instance(id).is_some() {
                    "CVM"
                } else {
                    bail!("HAVIP {} drift range names unknown {id}", h.id);
                };
                associations.push(Association {
                    instance_id: id.clone(),
                    instance_type: instance_type.into(),
                });
            }
            let (eni_id, instance_id) = match &h.holder {
                None => (None, None),
                Some(id) => {
                    let eni = if id.starts_with("ins-") {
                        w.instance_enis(id).first().map(|e| (*e).clone())
                    } else {
                        w.eni(id).cloned()
                    }
                    .ok_or_else(|| {
                        anyhow!(
                            "HAVIP {} holder {id} is not an ENI or instance with an ENI",
                            h.id
                        )
                    })?;
                    if eni.subnet_id != h.subnet_id {
                        bail!(
                            "HAVIP {} holder {id} is not in subnet {}",
                            h.id,
                            h.subnet_id
                        );
                    }
                    (Some(eni.id.clone()), eni.instance_id.clone())
                }
            };
            w.havips.push(HaVip {
                id: h.id.clone(),
                name: h.name.clone(),
                region: subnet.region.clone(),
                vpc_id: subnet.vpc_id.clone(),
                subnet_id: subnet.id.clone(),
                vip: h.vip.clone(),
                check_associate: h.check_associate,
                associations,
                eni_id,
                instance_id,
                flushed_time: h
                    .flushed_time
                    .as_deref()
                    .map(|t| parse_time(t, &self.settings))
                    .transpose()?,
                created: h
                    .created_time
                    .as_deref()
                    .map(|t| parse_time(t, &self.settings))
                    .transpose()?
                    .unwrap_or(default_created),
                business: h.business.clone(),
                tags: Vec::new(),
            });
        }
        let mut eip_ips = HashSet::new();
        for a in &self.addresses {
            unique(&a.id)?;
            check_id(&a.id, "eip")?;
            a.ip.parse::<Ipv4Addr>()
                .map_err(|_| anyhow!("EIP {} has an invalid ip {:?}", a.id, a.ip))?;
            if !eip_ips.insert(a.ip.clone()) {
                bail!("EIP address {} is used twice", a.ip);
            }
            let targets = [&a.bind_havip, &a.bind_instance, &a.bind_eni]
                .iter()
                .filter(|t| t.is_some())
                .count();
            if targets > 1 {
                bail!(
                    "EIP {} has more than one of bind_havip, bind_instance, bind_eni",
                    a.id
                );
            }
            let (binding, implied_region) = if let Some(hid) = &a.bind_havip {
                let h = w
                    .havip(hid)
                    .ok_or_else(|| anyhow!("EIP {} binds unknown HAVIP {hid}", a.id))?;
                if w.havip_address(hid).is_some() {
                    bail!("HAVIP {hid} has two EIPs");
                }
                (
                    Some(Binding::Havip {
                        havip_id: hid.clone(),
                    }),
                    Some(h.region.clone()),
                )
            } else if let Some(iid) = &a.bind_instance {
                let eni = w
                    .instance_enis(iid)
                    .first()
                    .map(|e| (*e).clone())
                    .ok_or_else(|| anyhow!("EIP {} binds {iid}, which has no ENI", a.id))?;
                let ip = eni.private_ips[0].ip.clone();
                (
                    Some(Binding::Eni {
                        eni_id: eni.id.clone(),
                        private_ip: ip,
                        instance_id: Some(iid.clone()),
                    }),
                    Some(eni.region.clone()),
                )
            } else if let Some(eid) = &a.bind_eni {
                let eni = w
                    .eni(eid)
                    .ok_or_else(|| anyhow!("EIP {} binds unknown ENI {eid}", a.id))?;
                let ip = a
                    .private_ip
                    .clone()
                    .unwrap_or_else(|| eni.private_ips[0].ip.clone());
                if !eni.private_ips.iter().any(|p| p.ip == ip) {
                    bail!("EIP {} binds {ip}, which is not on {eid}", a.id);
                }
                (
                    Some(Binding::Eni {
                        eni_id: eid.clone(),
                        private_ip: ip,
                        instance_id: eni.instance_id.clone(),
                    }),
                    Some(eni.region.clone()),
                )
            } else {
                (None, None)
            };
            if let Some(Binding::Eni {
                eni_id, private_ip, ..
            }) = &binding
            {
                if w.ip_address(eni_id, private_ip).is_some() {
                    bail!("{private_ip} on {eni_id} has two EIPs");
                }
            }
            let region = match (&a.region, implied_region) {
                (Some(r), Some(i)) if *r != i => {
                    bail!(
                        "EIP {} region {r} differs from its binding's region {i}",
                        a.id
                    )
                }
                (Some(r), _) => r.clone(),
                (None, Some(i)) => i,
                (None, None) => bail!("EIP {} needs a region (it is not bound)", a.id),
            };
            w.addresses.push(Address {
                id: a.id.clone(),
                name: a.name.clone(),
                region,
                ip: a.ip.clone(),
                status: crate::state::bound_status(binding.as_ref()).into(),
                binding,
                charge_type: a.charge_type.clone(),
                bandwidth: a.bandwidth,
                isp: "BGP".into(),
                created: a
                    .created_time
                    .as_deref()
                    .map(|t| parse_time(t, &self.settings))
                    .transpose()?
                    .unwrap_or(default_created),
            });
        }
        if let Some(id) = &self.settings.metadata_default_instance {
            if w.instance(id).is_none() {
                bail!("settings.metadata_default_instance names unknown instance {id}");
            }
        }
        Ok(w)
    }
}

/// Regions used by the generator when none are given.
pub fn default_regions() -> Vec<String> {
    ["ap-guangzhou", "ap-shanghai", "ap-beijing"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// HAVIPs per generated subnet (Vips .100–.199).
const HAVIPS_PER_SUBNET: usize = 100;

/// A large scenario: `havips` HAVIPs and `eips` EIPs spread evenly over `regions`. Each
/// region gets a VPC; each subnet two CVMs (both in the drift range of the subnet's HAVIPs, which
/// alternate holders) and up to 100 HAVIPs. The first EIPs are bound to HAVIPs, the rest idle.
pub fn generate(havips: usize, eips: usize, regions: &[String]) -> Result<ScenarioFile> {
    if regions.is_empty() {
        bail!("the generator needs at least one region");
    }
    let per_region_cap = 250 * HAVIPS_PER_SUBNET;
    if havips > per_region_cap * regions.len() {
        bail!("at most {per_region_cap} HAVIPs per region");
    }
    if eips > 250 * 250 * regions.len() {
        bail!("at most 62500 EIPs per region");
    }
    let mut f = ScenarioFile {
        credentials: vec![CredentialSpec {
            secret_id: EXAMPLE_SECRET_ID.into(),
            secret_key: EXAMPLE_SECRET_KEY.into(),
        }],
        ..ScenarioFile::default()
    };
    let mut counter = 0x1000_0000u32;
    let mut next_id = |prefix: &str| {
        counter += 1;
        format!("{prefix}-{counter:08x}")
    };
    let mut havip_ids: Vec<(String, String)> = Vec::new(); // (id, region)
    for (ri, region) in regions.iter().enumerate() {
        let share = havips / regions.len() + usize::from(ri < havips % regions.len());
        let octet = 10 + ri as u32;
        let vpc = next_id("vpc");
        f.vpcs.push(VpcSpec {
            id: vpc.clone(),
            region: region.clone(),
            cidr: format!("10.{octet}.0.0/16"),
            name: format!("gen-{region}"),
        });
        let subnets = share.div_ceil(HAVIPS_PER_SUBNET).max(1);
        let mut left = share;
        for k in 0..subnets {
            let subnet = next_id("subnet");
            f.subnets.push(SubnetSpec {
                id: subnet.clone(),
                vpc_id: vpc.clone(),
                zone: format!("{region}-1"),
                cidr: format!("10.{octet}.{k}.0/24"),
                name: format!("gen-{region}-{k}"),
            });
            let mut nodes = Vec::new();
            for n in 0..2u32 {
                let ins = next_id("ins");
                let eni = next_id("eni");
                f.instances.push(InstanceSpec {
                    id: ins.clone(),
                    name: format!("gen-{region}-{k}-{n}"),
                    uuid: None,
                    zone: None,
                    role: Some("havip-role".into()),
                    state: None,
                });
                f.enis.push(EniSpec {
                    id: eni.clone(),
                    name: format!("gen-{region}-{k}-{n}-eth0"),
                    subnet_id: subnet.clone(),
                    instance_id: Some(ins.clone()),
                    primary: None,
                    mac: format!(
                        "52:54:{:02x}:{:02x}:{:02x}:{:02x}",
                        ri + 1,
                        k >> 8,
                        k & 0xff,
                        0x20 + n
                    ),
                    ips: vec![format!("10.{octet}.{k}.{}", 20 + n)],
                });
                nodes.push((ins, eni));
            }
            let here = left.min(HAVIPS_PER_SUBNET);
            left -= here;
            for j in 0..here {
                let id = next_id("havip");
                havip_ids.push((id.clone(), region.clone()));
                f.havips.push(HaVipSpec {
                    id,
                    name: format!("gen-{region}-{k}-{j}"),
                    subnet_id: subnet.clone(),
                    vip: format!("10.{octet}.{k}.{}", 100 + j),
                    check_associate: true,
                    drift_range: nodes.iter().map(|(i, _)| i.clone()).collect(),
                    holder: Some(nodes[j % 2].1.clone()),
                    flushed_time: None,
                    created_time: None,
                    business: String::new(),
                });
            }
        }
    }
    // EIP addresses count up per region: 106.<60+region>.<n/250>.<n%250+1>.
    let mut per_region = vec![0usize; regions.len()];
    for e in 0..eips {
        let id = next_id("eip");
        let (bind_havip, region) = match havip_ids.get(e) {
            Some((h, r)) => (Some(h.clone()), r.clone()),
            None => (None, regions[e % regions.len()].clone()),
        };
        let ri = regions.iter().position(|r| *r == region).unwrap_or(0);
        let n = per_region[ri];
        per_region[ri] += 1;
        f.addresses.push(AddressSpec {
            id,
            name: format!("gen-{e}"),
            ip: format!("106.{}.{}.{}", 60 + ri, n / 250, n % 250 + 1),
            region: Some(region),
            bind_havip,
            bind_instance: None,
            bind_eni: None,
            private_ip: None,
            charge_type: default_charge_type(),
            bandwidth: 1,
            created_time: None,
        });
    }
    Ok(f)
}

/// IDs are `<prefix>-` plus 8 lowercase letters/digits, as the API's `Malformed` check wants.
pub fn check_id(id: &str, prefix: &str) -> Result<()> {
    if valid_id(id, prefix) {
        Ok(())
    } else {
        bail!("{id:?} is not a valid {prefix}- ID ({prefix}- and 8 lowercase letters or digits)")
    }
}

fn valid_mac(mac: &str) -> bool {
    let n = crate::state::normalize_mac(mac);
    let parts: Vec<&str> = n.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn parse_rfc3339(t: &str) -> Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(t)?.with_timezone(&Utc))
}

/// `YYYY-MM-DD hh:mm:ss` (in the settings' zone) or RFC 3339.
fn parse_time(t: &str, settings: &Settings) -> Result<DateTime<Utc>> {
    if let Ok(dt) = parse_rfc3339(t) {
        return Ok(dt);
    }
    let naive = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
        .map_err(|_| anyhow!("{t:?} is neither YYYY-MM-DD hh:mm:ss nor RFC 3339"))?;
    let offset = chrono::FixedOffset::east_opt(settings.utc_offset_hours.clamp(-23, 23) * 3600)
        .ok_or_else(|| anyhow!("bad utc_offset_hours"))?;
    Ok(offset
        .from_local_datetime(&naive)
        .single()
        .ok_or_else(|| anyhow!("{t:?} is ambiguous"))?
        .with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_builds_with_the_fixed_ids() {
        let w = ScenarioFile::load("seed").unwrap().build().unwrap();
        let h = w.havip("havip-iam00099").unwrap();
        assert_eq!(h.vip, "10.0.4.99");
        assert_eq!(h.eni_id.as_deref(), Some("eni-iam00020"));
        assert_eq!(h.instance_id.as_deref(), Some("ins-iam00020"));
        assert!(h.check_associate);
        assert_eq!(h.associations.len(), 2);
        assert_eq!(
            w.havip_address("havip-iam00099").unwrap().id,
            "eip-iam00139"
        );
        assert_eq!(w.address("eip-idle0001").unwrap().status, "UNBIND");
        assert_eq!(w.instance("ins-iam00021").unwrap().zone, "ap-guangzhou-3");
        assert_eq!(w.eni("eni-iam00020").unwrap().private_ips.len(), 2);
    }

    #[test]
    fn generator_spreads_over_regions() {
        let f = ScenarioFile::load("large:1000:3000").unwrap();
        let w = f.build().unwrap();
        assert_eq!(w.havips.len(), 1001);
        assert_eq!(w.addresses.len(), 3002);
        for r in default_regions() {
            assert!(w.havips.iter().filter(|h| h.region == r).count() >= 333);
        }
        let bound = w.addresses.iter().filter(|a| a.binding.is_some()).count();
        assert_eq!(bound, 1001);
    }

    #[test]
    fn bad_references_fail_to_load() {
        let mut f = ScenarioFile::load("seed").unwrap();
        f.havips[0].holder = Some("eni-nothere1".into());
        assert!(f.build().is_err());
        let mut f = ScenarioFile::load("seed").unwrap();
        f.enis[1].mac = f.enis[0].mac.to_uppercase();
        assert!(f.build().is_err());
        assert!(ScenarioFile::from_toml("[settings]\nbogus = 1\n").is_err());
    }
}
