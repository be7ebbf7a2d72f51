//! Building the world from a scenario file: one step per section, in dependency order (VPCs,
//! subnets, ENIs, instances, HAVIPs, EIPs, then the settings that name resources), each
//! validating its entries and their references so that a bad file fails at start with a message.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use anyhow::{anyhow, bail, Context, Result};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

use super::{
    AddressSpec, EniSpec, HaVipSpec, InstanceSpec, ScenarioFile, SubnetSpec, VpcSpec,
    DEFAULT_CREATED,
};
use crate::ids::valid_id;
use crate::net::Cidr;
use crate::state::{
    bound_status, normalize_mac, Address, Association, Binding, Credential, Eni, HaVip, Instance,
    InstanceState, PrivateIp, Settings, Subnet, Vpc, World,
};

/// Validates `file` and builds the world from it.
pub(super) fn build(file: &ScenarioFile) -> Result<World> {
    file.settings
        .validate()
        .map_err(|e| anyhow!("settings: {e}"))?;
    let mut b = Builder {
        file,
        w: World::new(file.settings.clone()),
        ids: HashSet::new(),
        macs: HashSet::new(),
        ips: HashSet::new(),
        eip_ips: HashSet::new(),
        default_created: parse_rfc3339(DEFAULT_CREATED)?,
    };
    b.credentials()?;
    file.vpcs.iter().try_for_each(|v| b.vpc(v))?;
    file.subnets.iter().try_for_each(|s| b.subnet(s))?;
    file.enis.iter().try_for_each(|e| b.eni(e))?;
    file.instances.iter().try_for_each(|i| b.instance(i))?;
    file.havips.iter().try_for_each(|h| b.havip(h))?;
    file.addresses.iter().try_for_each(|a| b.address(a))?;
    b.check_settings()?;
    Ok(b.w)
}

/// The world so far, and what must stay unique across sections.
struct Builder<'a> {
    file: &'a ScenarioFile,
    w: World,
    /// Every resource ID, whatever its kind.
    ids: HashSet<String>,
    /// Normalized ENI MACs.
    macs: HashSet<String>,
    /// (VPC, IP) of every ENI private IP and HAVIP Vip.
    ips: HashSet<(String, String)>,
    /// EIP addresses.
    eip_ips: HashSet<String>,
    default_created: DateTime<Utc>,
}

impl Builder<'_> {
    fn credentials(&mut self) -> Result<()> {
        for c in &self.file.credentials {
            if c.secret_id.is_empty() || c.secret_key.is_empty() {
                bail!("credentials need a non-empty secret_id and secret_key");
            }
            self.w.credentials.push(Credential {
                secret_id: c.secret_id.clone(),
                secret_key: c.secret_key.clone(),
            });
        }
        Ok(())
    }

    fn vpc(&mut self, v: &VpcSpec) -> Result<()> {
        self.claim_id(&v.id, "vpc")?;
        Cidr::parse(&v.cidr).with_context(|| format!("VPC {}", v.id))?;
        self.w.vpcs.push(Vpc {
            id: v.id.clone(),
            region: v.region.clone(),
            cidr: v.cidr.clone(),
            name: v.name.clone(),
        });
        Ok(())
    }

    fn subnet(&mut self, s: &SubnetSpec) -> Result<()> {
        self.claim_id(&s.id, "subnet")?;
        let vpc = self
            .w
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
        let region = vpc.region.clone();
        self.w.subnets.push(Subnet {
            id: s.id.clone(),
            vpc_id: s.vpc_id.clone(),
            region,
            zone: s.zone.clone(),
            cidr: s.cidr.clone(),
            name: s.name.clone(),
        });
        Ok(())
    }

    fn eni(&mut self, e: &EniSpec) -> Result<()> {
        self.claim_id(&e.id, "eni")?;
        let subnet = self.find_subnet(&format!("ENI {}", e.id), &e.subnet_id)?;
        if let Some(iid) = &e.instance_id {
            if !self.file.instances.iter().any(|i| &i.id == iid) {
                bail!("ENI {} names unknown instance {iid}", e.id);
            }
        }
        if !valid_mac(&e.mac) || !self.macs.insert(normalize_mac(&e.mac)) {
            bail!("ENI {} has an invalid or duplicate MAC {:?}", e.id, e.mac);
        }
        self.check_eni_ips(e, &subnet)?;
        let siblings = self
            .w
            .enis
            .iter()
            .filter(|x| x.instance_id.is_some() && x.instance_id == e.instance_id)
            .count() as u32;
        let primary = e
            .primary
            .unwrap_or(e.instance_id.is_some() && siblings == 0);
        self.w.enis.push(Eni {
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
            created: self.default_created,
        });
        Ok(())
    }

    /// At least one IP, each inside the subnet and unused in the VPC.
    fn check_eni_ips(&mut self, e: &EniSpec, subnet: &Subnet) -> Result<()> {
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
            self.claim_ip(&subnet.vpc_id, ip)?;
        }
        Ok(())
    }

    /// Zone and region default to those of the instance's primary (else first) ENI.
    fn instance(&mut self, i: &InstanceSpec) -> Result<()> {
        self.claim_id(&i.id, "ins")?;
        let enis: Vec<&Eni> = self
            .w
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
        self.w.instances.push(Instance {
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
            created: self.default_created,
        });
        Ok(())
    }

    fn havip(&mut self, h: &HaVipSpec) -> Result<()> {
        self.claim_id(&h.id, "havip")?;
        let subnet = self.find_subnet(&format!("HAVIP {}", h.id), &h.subnet_id)?;
        self.check_vip(h, &subnet)?;
        let associations = self.drift_range(h)?;
        let (eni_id, instance_id) = self.holder(h)?;
        let havip = HaVip {
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
            flushed_time: self.time(h.flushed_time.as_deref())?,
            created: self.time_or_default(h.created_time.as_deref())?,
            business: h.business.clone(),
            tags: Vec::new(),
        };
        self.w.havips.push(havip);
        Ok(())
    }

    /// The Vip parses, sits inside the subnet and is unused in the VPC.
    fn check_vip(&mut self, h: &HaVipSpec, subnet: &Subnet) -> Result<()> {
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
        self.claim_ip(&subnet.vpc_id, &h.vip)
    }

    /// Each drift-range entry is a known ENI or instance.
    fn drift_range(&self, h: &HaVipSpec) -> Result<Vec<Association>> {
        let mut associations = Vec::new();
        for id in &h.drift_range {
            let instance_type = if id.starts_with("eni-") && self.w.eni(id).is_some() {
                "ENI"
            } else if id.starts_with("ins-") && self.w.instance(id).is_some() {
                "CVM"
            } else {
                bail!("HAVIP {} drift range names unknown {id}", h.id);
            };
            associations.push(Association {
                instance_id: id.clone(),
                instance_type: instance_type.into(),
            });
        }
        Ok(associations)
    }

    /// The holder's (ENI, instance): an ENI in the HAVIP's subnet, or an instance (its primary
    /// ENI).
    fn holder(&self, h: &HaVipSpec) -> Result<(Option<String>, Option<String>)> {
        let Some(id) = &h.holder else {
            return Ok((None, None));
        };
        let eni = if id.starts_with("ins-") {
            self.w.instance_enis(id).first().map(|e| (*e).clone())
        } else {
            self.w.eni(id).cloned()
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
        Ok((Some(eni.id.clone()), eni.instance_id.clone()))
    }

    fn address(&mut self, a: &AddressSpec) -> Result<()> {
        self.claim_id(&a.id, "eip")?;
        a.ip.parse::<Ipv4Addr>()
            .map_err(|_| anyhow!("EIP {} has an invalid ip {:?}", a.id, a.ip))?;
        if !self.eip_ips.insert(a.ip.clone()) {
            bail!("EIP address {} is used twice", a.ip);
        }
        let (binding, implied_region) = self.address_binding(a)?;
        if let Some(Binding::Eni {
            eni_id, private_ip, ..
        }) = &binding
        {
            if self.w.ip_address(eni_id, private_ip).is_some() {
                bail!("{private_ip} on {eni_id} has two EIPs");
            }
        }
        let region = address_region(a, implied_region)?;
        let address = Address {
            id: a.id.clone(),
            name: a.name.clone(),
            region,
            ip: a.ip.clone(),
            status: bound_status(binding.as_ref()).into(),
            binding,
            charge_type: a.charge_type.clone(),
            bandwidth: a.bandwidth,
            isp: "BGP".into(),
            created: self.time_or_default(a.created_time.as_deref())?,
            arrears: a.is_arrears,
            blocked: a.is_blocked,
        };
        self.w.addresses.push(address);
        Ok(())
    }

    /// What the EIP is bound to (at most one of `bind_havip`, `bind_instance`, `bind_eni`) and
    /// the region that binding implies.
    fn address_binding(&self, a: &AddressSpec) -> Result<(Option<Binding>, Option<String>)> {
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
        let w = &self.w;
        if let Some(hid) = &a.bind_havip {
            let h = w
                .havip(hid)
                .ok_or_else(|| anyhow!("EIP {} binds unknown HAVIP {hid}", a.id))?;
            if w.havip_address(hid).is_some() {
                bail!("HAVIP {hid} has two EIPs");
            }
            let binding = Binding::Havip {
                havip_id: hid.clone(),
            };
            return Ok((Some(binding), Some(h.region.clone())));
        }
        let (eni, ip) = if let Some(iid) = &a.bind_instance {
            let eni = w
                .instance_enis(iid)
                .first()
                .copied()
                .ok_or_else(|| anyhow!("EIP {} binds {iid}, which has no ENI", a.id))?;
            (eni, eni.private_ips[0].ip.clone())
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
            (eni, ip)
        } else {
            return Ok((None, None));
        };
        let binding = Binding::Eni {
            eni_id: eni.id.clone(),
            private_ip: ip,
            instance_id: eni.instance_id.clone(),
        };
        Ok((Some(binding), Some(eni.region.clone())))
    }

    /// Settings that name resources must name existing ones.
    fn check_settings(&self) -> Result<()> {
        if let Some(id) = &self.file.settings.metadata_default_instance {
            if self.w.instance(id).is_none() {
                bail!("settings.metadata_default_instance names unknown instance {id}");
            }
        }
        Ok(())
    }

    /// A new, well-formed ID (IDs are unique across all kinds).
    fn claim_id(&mut self, id: &str, prefix: &str) -> Result<()> {
        if !self.ids.insert(id.to_string()) {
            bail!("duplicate ID {id}");
        }
        check_id(id, prefix)
    }

    /// An IP not yet used in the VPC (by an ENI or a HAVIP).
    fn claim_ip(&mut self, vpc_id: &str, ip: &str) -> Result<()> {
        if !self.ips.insert((vpc_id.to_string(), ip.to_string())) {
            bail!("IP {ip} is used twice in VPC {vpc_id}");
        }
        Ok(())
    }

    /// The subnet `owner` (e.g. `ENI eni-…`) names.
    fn find_subnet(&self, owner: &str, subnet_id: &str) -> Result<Subnet> {
        self.w
            .subnets
            .iter()
            .find(|s| s.id == subnet_id)
            .cloned()
            .ok_or_else(|| anyhow!("{owner} names unknown subnet {subnet_id}"))
    }

    fn time(&self, t: Option<&str>) -> Result<Option<DateTime<Utc>>> {
        t.map(|t| parse_time(t, &self.file.settings)).transpose()
    }

    fn time_or_default(&self, t: Option<&str>) -> Result<DateTime<Utc>> {
        Ok(self.time(t)?.unwrap_or(self.default_created))
    }
}

/// The EIP's `region`, which must agree with its binding's; required when it is not bound.
fn address_region(a: &AddressSpec, implied: Option<String>) -> Result<String> {
    Ok(match (&a.region, implied) {
        (Some(r), Some(i)) if *r != i => {
            bail!(
                "EIP {} region {r} differs from its binding's region {i}",
                a.id
            )
        }
        (Some(r), _) => r.clone(),
        (None, Some(i)) => i,
        (None, None) => bail!("EIP {} needs a region (it is not bound)", a.id),
    })
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
    let n = normalize_mac(mac);
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
