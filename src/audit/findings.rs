//! The audit's rules: what one region's EIPs, HAVIPs and ENIs say is wrong, as findings. Pure
//! functions of what was read, tested by table below.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::Serialize;

use super::{round4, Expected, RegionScan, HOURS_PER_30D};
use crate::cloud::address::{Address, AddressStatus};
use crate::cloud::havip::{HaVip, MemberKind};
use crate::failover::havip::parse_api_time;

/// How bad a finding is. Critical: a service is (or would be) unreachable. Warning: money or
/// readiness is lost, nothing is down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// What a finding is about. The names are stable (JSON, Prometheus labels; docs/audit.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An EIP bound to a HAVIP that nobody holds: billed, and the service behind it unreachable.
    IdleEipHolderlessHavip,
    /// An EIP `UNBIND`: billed for nothing.
    IdleEipUnbound,
    /// An EIP `BIND_ENI`: on an ENI with no instance, billed for nothing.
    IdleEipDanglingEni,
    /// A configured HAVIP (with `eip` in its `[[vip]]`) that carries no EIP.
    HavipMissingEip,
    /// A configured HAVIP that the region does not have.
    HavipNotFound,
    /// A HAVIP nobody holds.
    HavipNoHolder,
    /// CheckAssociate on and an empty drift range: no node can take the HAVIP.
    HavipEmptyDriftRange,
    /// The drift range names an instance or ENI that does not exist.
    HavipStaleDriftMember,
    /// An EIP in arrears (isolated).
    EipInArrears,
    /// An EIP whose traffic is blocked.
    EipBlocked,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Kind::IdleEipHolderlessHavip,
        Kind::IdleEipUnbound,
        Kind::IdleEipDanglingEni,
        Kind::HavipMissingEip,
        Kind::HavipNotFound,
        Kind::HavipNoHolder,
        Kind::HavipEmptyDriftRange,
        Kind::HavipStaleDriftMember,
        Kind::EipInArrears,
        Kind::EipBlocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IdleEipHolderlessHavip => "idle_eip_holderless_havip",
            Kind::IdleEipUnbound => "idle_eip_unbound",
            Kind::IdleEipDanglingEni => "idle_eip_dangling_eni",
            Kind::HavipMissingEip => "havip_missing_eip",
            Kind::HavipNotFound => "havip_not_found",
            Kind::HavipNoHolder => "havip_no_holder",
            Kind::HavipEmptyDriftRange => "havip_empty_drift_range",
            Kind::HavipStaleDriftMember => "havip_stale_drift_member",
            Kind::EipInArrears => "eip_in_arrears",
            Kind::EipBlocked => "eip_blocked",
        }
    }

    /// The kinds that are an idle (billed) EIP, and carry a cost.
    pub fn is_idle_eip(self) -> bool {
        matches!(
            self,
            Kind::IdleEipHolderlessHavip | Kind::IdleEipUnbound | Kind::IdleEipDanglingEni
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing wrong with one resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub severity: Severity,
    /// `eip-…` or `havip-…`.
    pub resource_id: String,
    pub region: String,
    /// The EIP's address, for EIP findings.
    pub address_ip: Option<String>,
    /// RFC 3339 UTC: the latest time the API gives for the resource's state (see docs/audit.md).
    pub since: Option<String>,
    /// For idle EIPs: the price; otherwise `null`.
    pub cost_cny_per_hour: Option<f64>,
    pub cost_cny_per_30d: Option<f64>,
    /// One sentence for a person.
    pub detail: String,
}

impl Finding {
    /// Critical first, then by kind, region and resource.
    pub fn order(a: &Finding, b: &Finding) -> Ordering {
        (b.severity, a.kind, &a.region, &a.resource_id).cmp(&(
            a.severity,
            b.kind,
            &b.region,
            &b.resource_id,
        ))
    }
}

/// The findings of one region read completely.
pub fn region_findings(scan: &RegionScan, expected: &[Expected], price: f64) -> Vec<Finding> {
    let havips: HashMap<&str, &HaVip> = scan
        .havips
        .iter()
        .map(|h| (h.ha_vip_id.as_str(), h))
        .collect();
    let mut out = Vec::new();
    for a in &scan.addresses {
        eip_findings(scan, &havips, a, price, &mut out);
    }
    let existing = scan.enis.as_ref().map(|enis| {
        let eni_ids: HashSet<&str> = enis
            .iter()
            .map(|e| e.network_interface_id.as_str())
            .collect();
        // Every CVM has a primary ENI, so the instances that exist are those some ENI names.
        let instances: HashSet<&str> = enis.iter().filter_map(|e| e.instance_id()).collect();
        (eni_ids, instances)
    });
    for h in &scan.havips {
        havip_findings(&scan.region, h, existing.as_ref(), &mut out);
    }
    for e in expected {
        match havips.get(e.havip_id.as_str()) {
            None => out.push(finding(
                Kind::HavipNotFound,
                Severity::Critical,
                &e.havip_id,
                &scan.region,
                format!(
                    "[[vip]] {} names {}, which this region does not have",
                    e.vip, e.havip_id
                ),
            )),
            Some(h) if h.address_ip.is_empty() => out.push(Finding {
                since: havip_since(h),
                ..finding(
                    Kind::HavipMissingEip,
                    Severity::Critical,
                    &e.havip_id,
                    &scan.region,
                    format!(
                        "[[vip]] {} expects an EIP on this HAVIP; it carries none",
                        e.vip
                    ),
                )
            }),
            Some(_) => {}
        }
    }
    out
}

fn finding(kind: Kind, severity: Severity, id: &str, region: &str, detail: String) -> Finding {
    Finding {
        kind,
        severity,
        resource_id: id.to_string(),
        region: region.to_string(),
        address_ip: None,
        since: None,
        cost_cny_per_hour: None,
        cost_cny_per_30d: None,
        detail,
    }
}

/// Idle, arrears and blocked findings of one EIP. Transitional statuses (BINDING, UNBINDING,
/// CREATING, OFFLINING) are not idle: the state is not settled, so no verdict on it.
fn eip_findings(
    scan: &RegionScan,
    havips: &HashMap<&str, &HaVip>,
    a: &Address,
    price: f64,
    out: &mut Vec<Finding>,
) {
    let region = &scan.region;
    let of_eip = |kind, severity, detail: String| Finding {
        address_ip: Some(a.address_ip.clone()).filter(|s| !s.is_empty()),
        since: rfc3339(&a.created_time),
        ..finding(kind, severity, &a.address_id, region, detail)
    };
    let idle = |kind, severity, detail| Finding {
        cost_cny_per_hour: Some(round4(price)),
        cost_cny_per_30d: Some(round4(price * HOURS_PER_30D)),
        ..of_eip(kind, severity, detail)
    };
    let on_havip =
        a.instance_type.as_deref() == Some("HAVIP") || a.instance_id.starts_with("havip-");
    let mut in_service = false;
    match &a.address_status {
        AddressStatus::Unbind => out.push(idle(
            Kind::IdleEipUnbound,
            Severity::Warning,
            "unbound".to_string(),
        )),
        AddressStatus::BindEni => out.push(idle(
            Kind::IdleEipDanglingEni,
            Severity::Warning,
            format!(
                "on {}, an ENI with no instance",
                or_unknown(&a.network_interface_id)
            ),
        )),
        AddressStatus::Bind if on_havip => match havips.get(a.instance_id.as_str()) {
            Some(h) if h.has_holder() => in_service = true,
            Some(_) => out.push(idle(
                Kind::IdleEipHolderlessHavip,
                Severity::Critical,
                format!("bound to {}, which no instance holds", a.instance_id),
            )),
            None => out.push(idle(
                Kind::IdleEipHolderlessHavip,
                Severity::Critical,
                format!(
                    "bound to {}, which this region does not list",
                    a.instance_id
                ),
            )),
        },
        AddressStatus::Bind => in_service = true,
        _ => {}
    }
    // Arrears and blocked matter most on an EIP that serves traffic.
    let severity = if in_service {
        Severity::Critical
    } else {
        Severity::Warning
    };
    if a.is_arrears {
        out.push(of_eip(
            Kind::EipInArrears,
            severity,
            format!("in arrears ({})", a.address_status.as_str()),
        ));
    }
    if a.is_blocked {
        out.push(of_eip(
            Kind::EipBlocked,
            severity,
            format!("blocked ({})", a.address_status.as_str()),
        ));
    }
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "an unnamed ENI"
    } else {
        s
    }
}

/// Holder, drift range and drift members of one HAVIP. `existing` (ENI IDs, instance IDs) is
/// `None` when the ENIs were not read (no drift range to check).
fn havip_findings(
    region: &str,
    h: &HaVip,
    existing: Option<&(HashSet<&str>, HashSet<&str>)>,
    out: &mut Vec<Finding>,
) {
    let since = havip_since(h);
    let of_havip = |kind, detail: String| Finding {
        since: since.clone(),
        ..finding(kind, Severity::Warning, &h.ha_vip_id, region, detail)
    };
    if !h.has_holder() {
        let eip = if h.address_ip.is_empty() {
            String::new()
        } else {
            format!(" (its EIP {} is idle)", h.address_ip)
        };
        out.push(of_havip(
            Kind::HavipNoHolder,
            format!("Vip {} is held by no instance{eip}", h.vip),
        ));
    }
    if h.check_associate && h.ha_vip_association_set.is_empty() {
        out.push(of_havip(
            Kind::HavipEmptyDriftRange,
            "CheckAssociate is on and the drift range is empty: no node can take it".into(),
        ));
    }
    let Some((enis, instances)) = existing else {
        return;
    };
    for m in &h.ha_vip_association_set {
        let id = m.instance_id.as_str();
        let kind = m.kind();
        let exists = match kind {
            MemberKind::Eni => enis.contains(id),
            MemberKind::Cvm => instances.contains(id),
            MemberKind::Other(_) if id.starts_with("eni-") => enis.contains(id),
            MemberKind::Other(_) => instances.contains(id),
        };
        if !exists {
            out.push(of_havip(
                Kind::HavipStaleDriftMember,
                format!("the drift range names {kind} {id}, which does not exist"),
            ));
        }
    }
}

/// A HAVIP's FlushedTime (the last announcement or unbind), else its CreatedTime, in UTC.
fn havip_since(h: &HaVip) -> Option<String> {
    parse_api_time(&h.flushed_time)
        .or_else(|| parse_api_time(&h.created_time))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// An EIP's `CreatedTime` (ISO 8601 UTC) normalized; `None` when absent or unreadable.
fn rfc3339(s: &str) -> Option<String> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| {
            t.to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::eni::{NetworkInterface, NetworkInterfaceAttachment};
    use crate::cloud::havip::HaVipAssociation;

    fn eip(id: &str, status: AddressStatus, bound_to: &str) -> Address {
        Address {
            address_id: id.into(),
            address_ip: "203.0.113.7".into(),
            address_status: status,
            instance_id: bound_to.into(),
            instance_type: bound_to.starts_with("havip-").then(|| "HAVIP".into()),
            created_time: "2024-06-01T02:00:00Z".into(),
            ..Address::default()
        }
    }

    fn havip(id: &str, holder: &str, range: &[&str]) -> HaVip {
        HaVip {
            ha_vip_id: id.into(),
            vip: "10.0.4.99".into(),
            instance_id: holder.into(),
            check_associate: true,
            created_time: "2024-06-01 10:00:00".into(),
            flushed_time: "0000-00-00 00:00:00".into(),
            ha_vip_association_set: range
                .iter()
                .map(|m| HaVipAssociation {
                    instance_id: m.to_string(),
                    instance_type: if m.starts_with("eni-") { "ENI" } else { "CVM" }.into(),
                    ..HaVipAssociation::default()
                })
                .collect(),
            ..HaVip::default()
        }
    }

    fn eni(id: &str, instance: Option<&str>) -> NetworkInterface {
        NetworkInterface {
            network_interface_id: id.into(),
            attachment: instance.map(|i| NetworkInterfaceAttachment {
                instance_id: i.into(),
                ..NetworkInterfaceAttachment::default()
            }),
            ..NetworkInterface::default()
        }
    }

    fn kinds(f: &[Finding]) -> Vec<(Kind, Severity, &str)> {
        f.iter()
            .map(|f| (f.kind, f.severity, f.resource_id.as_str()))
            .collect()
    }

    #[test]
    fn each_rule_gives_its_finding() {
        let mut arrears = eip("eip-arrears1", AddressStatus::Bind, "ins-00000001");
        arrears.is_arrears = true;
        let mut blocked = eip("eip-blocked1", AddressStatus::Unbind, "");
        blocked.is_blocked = true;
        let scan = RegionScan {
            region: "ap-guangzhou".into(),
            addresses: vec![
                eip("eip-unbound1", AddressStatus::Unbind, ""),
                eip("eip-dangle01", AddressStatus::BindEni, ""),
                eip("eip-onhavip1", AddressStatus::Bind, "havip-held0001"),
                eip("eip-onfree01", AddressStatus::Bind, "havip-free0001"),
                eip("eip-moving01", AddressStatus::Binding, ""),
                arrears,
                blocked,
            ],
            havips: vec![
                havip(
                    "havip-held0001",
                    "ins-00000001",
                    &["ins-00000001", "eni-gone0001"],
                ),
                havip("havip-free0001", "", &["ins-00000001"]),
                havip("havip-empty001", "ins-00000001", &[]),
            ],
            enis: Some(vec![eni("eni-00000001", Some("ins-00000001"))]),
        };
        let expected = [
            Expected {
                vip: "web".into(),
                havip_id: "havip-empty001".into(),
                region: "ap-guangzhou".into(),
            },
            Expected {
                vip: "db".into(),
                havip_id: "havip-nothere1".into(),
                region: "ap-guangzhou".into(),
            },
        ];
        let mut got = region_findings(&scan, &expected, 0.2);
        got.sort_by(Finding::order);
        use Kind::*;
        use Severity::*;
        assert_eq!(
            kinds(&got),
            vec![
                (IdleEipHolderlessHavip, Critical, "eip-onfree01"),
                (HavipMissingEip, Critical, "havip-empty001"),
                (HavipNotFound, Critical, "havip-nothere1"),
                (EipInArrears, Critical, "eip-arrears1"),
                (IdleEipUnbound, Warning, "eip-blocked1"),
                (IdleEipUnbound, Warning, "eip-unbound1"),
                (IdleEipDanglingEni, Warning, "eip-dangle01"),
                (HavipNoHolder, Warning, "havip-free0001"),
                (HavipEmptyDriftRange, Warning, "havip-empty001"),
                (HavipStaleDriftMember, Warning, "havip-held0001"),
                (EipBlocked, Warning, "eip-blocked1"),
            ]
        );
        let idle = got.iter().find(|f| f.kind == IdleEipUnbound).unwrap();
        assert_eq!(idle.cost_cny_per_hour, Some(0.2));
        assert_eq!(idle.cost_cny_per_30d, Some(144.0));
        assert_eq!(idle.since.as_deref(), Some("2024-06-01T02:00:00Z"));
        let free = got.iter().find(|f| f.kind == HavipNoHolder).unwrap();
        assert_eq!(free.cost_cny_per_hour, None, "only idle EIPs carry a cost");
        assert_eq!(
            free.since.as_deref(),
            Some("2024-06-01T02:00:00Z"),
            "no FlushedTime: CreatedTime, Beijing time read as UTC+8"
        );
        let stale = got
            .iter()
            .find(|f| f.kind == HavipStaleDriftMember)
            .unwrap();
        assert!(stale.detail.contains("eni-gone0001"), "{}", stale.detail);
    }

    #[test]
    fn a_clean_region_has_no_findings_and_members_need_the_enis() {
        let scan = RegionScan {
            region: "ap-shanghai".into(),
            addresses: vec![eip("eip-onhavip1", AddressStatus::Bind, "havip-held0001")],
            havips: vec![havip("havip-held0001", "ins-00000001", &["ins-gone0001"])],
            enis: None,
        };
        assert!(region_findings(&scan, &[], 0.2).is_empty());
        let scan = RegionScan {
            enis: Some(vec![eni("eni-1", Some("ins-00000001"))]),
            ..scan
        };
        assert_eq!(
            kinds(&region_findings(&scan, &[], 0.2)),
            vec![(
                Kind::HavipStaleDriftMember,
                Severity::Warning,
                "havip-held0001"
            )]
        );
    }
}
