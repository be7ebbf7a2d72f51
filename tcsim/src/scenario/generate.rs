//! The scenario generator behind `large:N[:M]` and `tcsim generate`: many HAVIPs and EIPs spread
//! evenly over regions, with deterministic IDs, addresses and MACs.

use anyhow::{bail, Result};

use super::{
    default_charge_type, AddressSpec, CredentialSpec, EniSpec, HaVipSpec, InstanceSpec,
    ScenarioFile, SubnetSpec, VpcSpec, EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY,
};

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
    let mut g = Generator {
        f: ScenarioFile {
            credentials: vec![CredentialSpec {
                secret_id: EXAMPLE_SECRET_ID.into(),
                secret_key: EXAMPLE_SECRET_KEY.into(),
            }],
            ..ScenarioFile::default()
        },
        counter: 0x1000_0000,
        havip_ids: Vec::new(),
    };
    for (ri, region) in regions.iter().enumerate() {
        let share = havips / regions.len() + usize::from(ri < havips % regions.len());
        g.region(ri, region, share);
    }
    g.addresses(eips, regions);
    Ok(g.f)
}

/// The scenario being generated.
struct Generator {
    f: ScenarioFile,
    /// The last ID number handed out; IDs count up across all kinds.
    counter: u32,
    /// (HAVIP ID, region) in creation order, for binding the first EIPs.
    havip_ids: Vec<(String, String)>,
}

impl Generator {
    fn next_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{:08x}", self.counter)
    }

    /// Region number `ri`: a VPC `10.<10+ri>.0.0/16` and enough subnets for `share` HAVIPs.
    fn region(&mut self, ri: usize, region: &str, share: usize) {
        let octet = 10 + ri as u32;
        let vpc = self.next_id("vpc");
        self.f.vpcs.push(VpcSpec {
            id: vpc.clone(),
            region: region.to_string(),
            cidr: format!("10.{octet}.0.0/16"),
            name: format!("gen-{region}"),
        });
        let subnets = share.div_ceil(HAVIPS_PER_SUBNET).max(1);
        let mut left = share;
        for k in 0..subnets {
            let here = left.min(HAVIPS_PER_SUBNET);
            left -= here;
            self.subnet(ri, region, &vpc, k, here);
        }
    }

    /// Subnet `k` of region `ri`: two CVMs and `havips` HAVIPs that alternate holders.
    fn subnet(&mut self, ri: usize, region: &str, vpc: &str, k: usize, havips: usize) {
        let octet = 10 + ri as u32;
        let subnet = self.next_id("subnet");
        self.f.subnets.push(SubnetSpec {
            id: subnet.clone(),
            vpc_id: vpc.to_string(),
            zone: format!("{region}-1"),
            cidr: format!("10.{octet}.{k}.0/24"),
            name: format!("gen-{region}-{k}"),
        });
        let nodes: Vec<(String, String)> = (0..2u32)
            .map(|n| self.node(ri, region, &subnet, k, n))
            .collect();
        for j in 0..havips {
            let id = self.next_id("havip");
            self.havip_ids.push((id.clone(), region.to_string()));
            self.f.havips.push(HaVipSpec {
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

    /// CVM `n` of subnet `k` (at `.20 + n`) with its ENI; returns (instance ID, ENI ID).
    fn node(
        &mut self,
        ri: usize,
        region: &str,
        subnet: &str,
        k: usize,
        n: u32,
    ) -> (String, String) {
        let octet = 10 + ri as u32;
        let ins = self.next_id("ins");
        let eni = self.next_id("eni");
        self.f.instances.push(InstanceSpec {
            id: ins.clone(),
            name: format!("gen-{region}-{k}-{n}"),
            uuid: None,
            zone: None,
            role: Some("havip-role".into()),
            state: None,
        });
        self.f.enis.push(EniSpec {
            id: eni.clone(),
            name: format!("gen-{region}-{k}-{n}-eth0"),
            subnet_id: subnet.to_string(),
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
        (ins, eni)
    }

    /// `eips` EIPs: the first bound to the HAVIPs, the rest idle and spread over the regions.
    /// Addresses count up per region: 106.<60+region>.<n/250>.<n%250+1>.
    fn addresses(&mut self, eips: usize, regions: &[String]) {
        let mut per_region = vec![0usize; regions.len()];
        for e in 0..eips {
            let id = self.next_id("eip");
            let (bind_havip, region) = match self.havip_ids.get(e) {
                Some((h, r)) => (Some(h.clone()), r.clone()),
                None => (None, regions[e % regions.len()].clone()),
            };
            let ri = regions.iter().position(|r| *r == region).unwrap_or(0);
            let n = per_region[ri];
            per_region[ri] += 1;
            self.f.addresses.push(AddressSpec {
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
                is_arrears: false,
                is_blocked: false,
            });
        }
    }
}

/// Dangling ENIs (no instance) per region in [`generate_audit`], and EIPs bound to each.
const DANGLING_ENIS: usize = 2;
const EIPS_PER_DANGLING_ENI: usize = 5;

/// The scenario behind `audit:N:M`: [`generate`]'s, with what `havip audit` looks for mixed in,
/// deterministically: every 10th HAVIP has no holder (so the EIP on it, if any, is idle), every
/// 25th HAVIP has CheckAssociate on and an empty drift range, every 500th EIP is in arrears and
/// every 700th blocked, and each region has dangling ENIs (no instance) with EIPs on them
/// (`BIND_ENI`). The rest of the EIPs past the HAVIPs' are `UNBIND`, as in [`generate`].
pub fn generate_audit(havips: usize, eips: usize, regions: &[String]) -> Result<ScenarioFile> {
    let dangling = regions.len() * DANGLING_ENIS * EIPS_PER_DANGLING_ENI;
    let mut f = generate(havips, eips.saturating_sub(dangling), regions)?;
    for (i, h) in f.havips.iter_mut().enumerate() {
        if i % 10 == 0 {
            h.holder = None;
        }
        if i % 25 == 1 {
            h.drift_range.clear();
        }
    }
    for (i, a) in f.addresses.iter_mut().enumerate() {
        a.is_arrears = i % 500 == 499;
        a.is_blocked = i % 700 == 699;
    }
    let mut counter = 0x2000_0000u32;
    for (ri, region) in regions.iter().enumerate() {
        let Some(subnet) = f
            .subnets
            .iter()
            .find(|s| s.zone.starts_with(region.as_str()))
            .cloned()
        else {
            continue;
        };
        let base = subnet.cidr.trim_end_matches(".0/24").to_string();
        for d in 0..DANGLING_ENIS {
            counter += 1;
            let eni = format!("eni-{counter:08x}");
            let ips: Vec<String> = (0..EIPS_PER_DANGLING_ENI)
                .map(|n| format!("{base}.{}", 220 + d * EIPS_PER_DANGLING_ENI + n))
                .collect();
            f.enis.push(EniSpec {
                id: eni.clone(),
                name: format!("gen-{region}-dangling-{d}"),
                subnet_id: subnet.id.clone(),
                instance_id: None,
                primary: Some(false),
                mac: format!("52:54:{:02x}:ff:ff:{:02x}", ri + 1, d),
                ips: ips.clone(),
            });
            for (n, ip) in ips.into_iter().enumerate() {
                counter += 1;
                f.addresses.push(AddressSpec {
                    id: format!("eip-{counter:08x}"),
                    name: format!("gen-{region}-dangling-{d}-{n}"),
                    ip: format!("106.{}.255.{}", 60 + ri, d * EIPS_PER_DANGLING_ENI + n + 1),
                    region: None,
                    bind_havip: None,
                    bind_instance: None,
                    bind_eni: Some(eni.clone()),
                    private_ip: Some(ip),
                    charge_type: default_charge_type(),
                    bandwidth: 1,
                    created_time: None,
                    is_arrears: false,
                    is_blocked: false,
                });
            }
        }
    }
    Ok(f)
}
