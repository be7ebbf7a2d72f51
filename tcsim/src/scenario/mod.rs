//! Scenarios: the starting state of the simulated cloud, from a TOML or JSON file, the built-in
//! `seed`, or the generators (`large:N[:M]`, `audit:N[:M]`, `tcsim generate`).
//!
//! The format is documented in `tcsim/README.md`; `scenarios/seed.toml` is the worked example.
//! Files are validated on load (unique IDs, references, IP formats), so a typo fails at start
//! rather than as a puzzling answer later.

mod build;
mod generate;

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};

use crate::state::{InstanceState, Settings, World};

pub use build::check_id;
pub use generate::{default_regions, generate, generate_audit};

/// The built-in reference deployment.
pub const SEED_TOML: &str = include_str!("../../scenarios/seed.toml");

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
    /// `IsArrears` (default false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_arrears: bool,
    /// `IsBlocked` (default false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_blocked: bool,
}

/// `N` or `N:M` of `large:`/`audit:` (M defaults to 2N).
fn counts(spec: &str, prefix: &str) -> Result<(usize, usize)> {
    let mut parts = spec.split(':');
    let havips: usize = parts
        .next()
        .unwrap_or("")
        .parse()
        .map_err(|_| anyhow!("{prefix}:N needs a number of HAVIPs, got {spec:?}"))?;
    let eips = match parts.next() {
        Some(m) => m
            .parse()
            .map_err(|_| anyhow!("{prefix}:N:M needs a number of EIPs, got {m:?}"))?,
        None => havips * 2,
    };
    Ok((havips, eips))
}

fn default_charge_type() -> String {
    "TRAFFIC_POSTPAID_BY_HOUR".into()
}
fn default_bandwidth() -> u32 {
    1
}

impl ScenarioFile {
    /// `seed`, `large:N` / `large:N:M` (N HAVIPs, M EIPs, on top of seed), `audit:N:M` (the
    /// same counts with audit findings mixed in, without seed; see [`generate_audit`]), or a
    /// file path
    /// (`.json` is JSON, anything else TOML).
    pub fn load(name: &str) -> Result<ScenarioFile> {
        if name == "seed" {
            return ScenarioFile::from_toml(SEED_TOML).context("built-in seed scenario");
        }
        if let Some(spec) = name.strip_prefix("audit:") {
            let (havips, eips) = counts(spec, "audit")?;
            return generate_audit(havips, eips, &default_regions());
        }
        if let Some(spec) = name.strip_prefix("large:") {
            let (havips, eips) = counts(spec, "large")?;
            let mut seed = ScenarioFile::from_toml(SEED_TOML)?;
            seed.merge(generate(havips, eips, &default_regions())?);
            return Ok(seed);
        }
        let text = std::fs::read_to_string(name).with_context(|| {
            format!("reading scenario {name:?} (not a built-in: seed, large:N, audit:N)")
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
        build::build(self)
    }
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
    fn audit_generator_mixes_in_findings() {
        let w = ScenarioFile::load("audit:1000:10000")
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(w.havips.len(), 1000);
        assert_eq!(w.addresses.len(), 10_000);
        let count = |status: &str| w.addresses.iter().filter(|a| a.status == status).count();
        assert_eq!(
            count("BIND_ENI"),
            30,
            "two dangling ENIs with five EIPs per region"
        );
        assert_eq!(count("BIND"), 1000);
        assert!(w.havips.iter().filter(|h| h.eni_id.is_none()).count() == 100);
        assert!(w.addresses.iter().any(|a| a.arrears) && w.addresses.iter().any(|a| a.blocked));
        assert!(w.enis.iter().any(|e| e.instance_id.is_none()));
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
