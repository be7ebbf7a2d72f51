//! The `havip` strategy: keepalived's gratuitous ARP moves the HAVIP; havip makes sure this node
//! may take it (drift range), optionally fences peers out, adds its own announcement when an
//! interface is configured, keeps the expected EIP bound, and confirms with DescribeHaVips that
//! this node holds the HAVIP with a `FlushedTime` not older than the transition.

//!
//! `mod.rs` holds what the strategy talks about (desired and observed state, the steps);
//! `plan.rs` the pure planning and the holder function; `strategy.rs` the reads and writes.

mod plan;
mod strategy;

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};

pub use plan::{eip_bound, holder, plan};
pub use strategy::{describe_eip, describe_havip, HavipStrategy};

use crate::cloud::address::{Address, AddressStatus};
use crate::cloud::havip::MemberKind;

/// How much older than the transition a `FlushedTime` may be and still count as fresh:
/// keepalived announces at the moment it runs the notify hook, so the ARP can reach the cloud a
/// little before the event is recorded, and `FlushedTime` has one-second resolution.
pub const FRESH_SLACK: Duration = Duration::from_secs(10);

/// How long the cloud must keep showing this node as holder, with a `FlushedTime` older than
/// the transition, before that counts as confirmed. The cloud refreshes `FlushedTime` only when
/// an announcement *moves* the HAVIP, so a node that becomes MASTER again while it never lost
/// the HAVIP (BACKUP → MASTER with no peer taking over) can never show a fresh one; a second
/// read a moment later guards against acting on one lagging answer.
pub const STALE_HOLD_CONFIRM: Duration = Duration::from_secs(1);

/// The API's `YYYY-MM-DD hh:mm:ss` times are Beijing time (UTC+8).
const API_UTC_OFFSET_SECS: i32 = 8 * 3600;

/// Parses a HAVIP `FlushedTime`; the API's "never" (`0000-00-00 00:00:00`) and junk read as None.
pub fn parse_api_time(s: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    let tz = FixedOffset::east_opt(API_UTC_OFFSET_SECS)?;
    tz.from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// What this node wants of the HAVIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    /// `havip-…`.
    pub havip_id: String,
    /// This node's instance.
    pub instance_id: String,
    /// This node's ENI, when known (needed only to recognise ENI entries of the range).
    pub eni_id: Option<String>,
    /// The EIP that must be bound to the HAVIP (address resolved).
    pub eip: Option<Ipv4Addr>,
    /// Remove peers from the drift range.
    pub fencing: bool,
    /// Move the expected EIP when it is bound elsewhere.
    pub eip_takeover: bool,
    /// The interface to announce on, when configured.
    pub interface: Option<String>,
    /// The Vip the configuration expects, if it names one.
    pub vip: Option<Ipv4Addr>,
    /// When this node became MASTER, in the API server's clock.
    pub since: DateTime<Utc>,
}

/// What the cloud shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The HAVIP's Vip.
    pub vip: String,
    /// Holder instance (empty: none).
    pub holder_instance: String,
    /// Holder ENI (empty: none).
    pub holder_eni: String,
    /// Parsed `FlushedTime`.
    pub flushed: Option<DateTime<Utc>>,
    /// The holder changed to us while this run watched (proves freshness whatever the clocks).
    pub moved_during_run: bool,
    /// How long this run has seen this node hold the HAVIP with a stale `FlushedTime`.
    pub held_stale_for: Duration,
    /// Drift range: (id, what it names).
    pub range: Vec<(String, MemberKind)>,
    /// Whether the range is enforced.
    pub check_associate: bool,
    /// The EIP bound to the HAVIP (empty: none).
    pub address_ip: String,
    /// The expected EIP's own record (`DescribeAddresses`), read on every observation when an
    /// EIP is expected: its binding is confirmed from its own side.
    pub eip: Option<EipState>,
}

/// The expected EIP as DescribeAddresses shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EipState {
    /// No such address in the region.
    Missing,
    /// Found.
    Found {
        /// `eip-…`.
        address_id: String,
        /// `BIND`, `UNBIND`, `BINDING`, …
        status: AddressStatus,
        /// What it is bound to (`havip-…`, `ins-…`, …; empty when unbound).
        instance_id: String,
        /// `HAVIP`, `CVM`, … when bound.
        instance_type: String,
        /// ENI it is bound to, if any.
        eni_id: String,
    },
}

impl From<Address> for EipState {
    fn from(a: Address) -> EipState {
        EipState::Found {
            address_id: a.address_id,
            status: a.address_status,
            instance_id: a.instance_id,
            instance_type: a.instance_type.unwrap_or_default(),
            eni_id: a.network_interface_id,
        }
    }
}

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    /// AssociateHaVipInstance for this node.
    AddToRange {
        /// `havip-…`.
        havip_id: String,
        /// `ins-…`.
        instance_id: String,
    },
    /// DisassociateHaVipInstance for a peer (fencing).
    RemoveFromRange {
        /// `havip-…`.
        havip_id: String,
        /// `ins-…` or `eni-…`.
        id: String,
        /// `CVM` or `ENI`.
        kind: MemberKind,
    },
    /// HaVipDisassociateAddressIp: a HAVIP holds an EIP that must leave it.
    UnbindFromHavip {
        /// The HAVIP holding it.
        havip_id: String,
        /// The EIP on it.
        address_ip: String,
    },
    /// DisassociateAddress: the expected EIP is bound to something that is not a HAVIP.
    Disassociate {
        /// `eip-…`.
        address_id: String,
        /// Where it is bound.
        from: String,
    },
    /// HaVipAssociateAddressIp.
    BindEip {
        /// `havip-…`.
        havip_id: String,
        /// The EIP.
        address_ip: String,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::AddToRange {
                havip_id,
                instance_id,
            } => write!(
                f,
                "add {instance_id} to the drift range of {havip_id} (AssociateHaVipInstance)"
            ),
            Step::RemoveFromRange { havip_id, id, .. } => write!(
                f,
                "fence {id} out of the drift range of {havip_id} (DisassociateHaVipInstance)"
            ),
            Step::UnbindFromHavip {
                havip_id,
                address_ip,
            } => write!(
                f,
                "unbind EIP {address_ip} from {havip_id} (HaVipDisassociateAddressIp)"
            ),
            Step::Disassociate { address_id, from } => {
                write!(
                    f,
                    "unbind EIP {address_id} from {from} (DisassociateAddress)"
                )
            }
            Step::BindEip {
                havip_id,
                address_ip,
            } => write!(
                f,
                "bind EIP {address_ip} to {havip_id} (HaVipAssociateAddressIp)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    pub(super) fn desired() -> Desired {
        Desired {
            havip_id: "havip-1".into(),
            instance_id: "ins-me".into(),
            eni_id: Some("eni-me".into()),
            eip: Some("1.1.1.1".parse().unwrap()),
            fencing: false,
            eip_takeover: false,
            interface: None,
            vip: Some("10.0.4.99".parse().unwrap()),
            since: t("2026-01-01T00:00:00Z"),
        }
    }

    pub(super) fn observed() -> Observed {
        Observed {
            vip: "10.0.4.99".into(),
            holder_instance: "ins-me".into(),
            holder_eni: "eni-me".into(),
            flushed: Some(t("2026-01-01T00:00:01Z")),
            moved_during_run: false,
            held_stale_for: Duration::ZERO,
            range: vec![
                ("ins-me".into(), MemberKind::Cvm),
                ("ins-peer".into(), MemberKind::Cvm),
            ],
            check_associate: true,
            address_ip: "1.1.1.1".into(),
            eip: found("BIND", "havip-1", "HAVIP"),
        }
    }

    pub(super) fn found(status: &str, instance: &str, kind: &str) -> Option<EipState> {
        Some(EipState::Found {
            address_id: "eip-1".into(),
            status: AddressStatus::parse(status),
            instance_id: instance.into(),
            instance_type: kind.into(),
            eni_id: String::new(),
        })
    }

    #[test]
    fn eip_bound_needs_both_sides() {
        let bind = found("BIND", "havip-1", "HAVIP");
        assert!(eip_bound("havip-1", "1.1.1.1", "1.1.1.1", bind.as_ref()));
        assert!(!eip_bound("havip-1", "", "1.1.1.1", bind.as_ref()));
        assert!(!eip_bound("havip-1", "1.1.1.1", "1.1.1.1", None));
        for (status, on) in [
            ("UNBINDING", "havip-1"),
            ("BINDING", "havip-1"),
            ("UNBIND", ""),
            ("BIND", "havip-2"),
        ] {
            let e = found(status, on, "HAVIP");
            assert!(
                !eip_bound("havip-1", "1.1.1.1", "1.1.1.1", e.as_ref()),
                "{status} on {on:?} is not bound"
            );
        }
    }

    #[test]
    fn api_times_are_beijing_time() {
        assert_eq!(
            parse_api_time("2026-01-01 08:00:00"),
            Some(t("2026-01-01T00:00:00Z"))
        );
        assert_eq!(parse_api_time("0000-00-00 00:00:00"), None);
        assert_eq!(parse_api_time(""), None);
    }

    type Case = (
        &'static str,
        fn(&mut Desired, &mut Observed),
        Vec<&'static str>,
        usize,
        usize,
    );

    /// (what, change to the baseline, expected step prefixes, waits, blockers)
    #[test]
    fn plan_table() {
        let cases: Vec<Case> = vec![
            ("already correct", |_, _| {}, vec![], 0, 0),
            (
                "configured Vip differs",
                |d, _| d.vip = Some("10.0.4.98".parse().unwrap()),
                vec![],
                0,
                1,
            ),
            ("no Vip configured", |d, _| d.vip = None, vec![], 0, 0),
            (
                "holder by ENI only",
                |_, o| o.holder_instance.clear(),
                vec![],
                0,
                0,
            ),
            (
                "out of range",
                |_, o| o.range.retain(|(i, _)| i != "ins-me"),
                vec!["add ins-me"],
                0,
                0,
            ),
            (
                "in range by ENI",
                |_, o| o.range = vec![("eni-me".into(), MemberKind::Eni)],
                vec![],
                0,
                0,
            ),
            (
                "peer holds: wait",
                |_, o| {
                    o.holder_instance = "ins-peer".into();
                    o.holder_eni = "eni-peer".into();
                },
                vec![],
                1,
                0,
            ),
            (
                "peer holds, interface: announce and wait",
                |d, o| {
                    d.interface = Some("eth0".into());
                    o.holder_instance = "ins-peer".into();
                    o.holder_eni = "eni-peer".into();
                },
                vec![],
                1,
                0,
            ),
            (
                "nobody holds: wait",
                |_, o| {
                    o.holder_instance.clear();
                    o.holder_eni.clear();
                },
                vec![],
                1,
                0,
            ),
            (
                "stale FlushedTime: wait",
                |_, o| o.flushed = Some(t("2025-12-31T23:00:00Z")),
                vec![],
                1,
                0,
            ),
            (
                "FlushedTime within slack",
                |_, o| o.flushed = Some(t("2025-12-31T23:59:55Z")),
                vec![],
                0,
                0,
            ),
            (
                "stale but moved during run",
                |_, o| {
                    o.flushed = Some(t("2025-12-31T23:00:00Z"));
                    o.moved_during_run = true;
                },
                vec![],
                0,
                0,
            ),
            (
                "fencing removes peer",
                |d, _| d.fencing = true,
                vec!["fence ins-peer"],
                0,
                0,
            ),
            (
                "fencing with unknown ENI entry blocks",
                |d, o| {
                    d.fencing = true;
                    d.eni_id = None;
                    o.range.push(("eni-x".into(), MemberKind::Eni));
                },
                vec!["fence ins-peer"],
                0,
                1,
            ),
            (
                "no EIP expected",
                |d, o| {
                    d.eip = None;
                    o.address_ip.clear();
                },
                vec![],
                0,
                0,
            ),
            (
                "EIP unbound: bind",
                |_, o| {
                    o.address_ip.clear();
                    o.eip = found("UNBIND", "", "");
                },
                vec!["bind EIP 1.1.1.1"],
                0,
                0,
            ),
            (
                "EIP missing",
                |_, o| {
                    o.address_ip.clear();
                    o.eip = Some(EipState::Missing);
                },
                vec![],
                0,
                1,
            ),
            (
                "EIP elsewhere, no takeover",
                |_, o| {
                    o.address_ip.clear();
                    o.eip = found("BIND", "ins-other", "CVM");
                },
                vec![],
                0,
                1,
            ),
            (
                "EIP elsewhere, takeover",
                |d, o| {
                    d.eip_takeover = true;
                    o.address_ip.clear();
                    o.eip = found("BIND", "ins-other", "CVM");
                },
                vec!["unbind EIP eip-1 from ins-other", "bind EIP"],
                0,
                0,
            ),
            (
                "EIP on another HAVIP, takeover",
                |d, o| {
                    d.eip_takeover = true;
                    o.address_ip.clear();
                    o.eip = found("BIND", "havip-2", "HAVIP");
                },
                vec!["unbind EIP 1.1.1.1 from havip-2", "bind EIP"],
                0,
                0,
            ),
            (
                "HAVIP has other EIP, no takeover",
                |_, o| {
                    o.address_ip = "2.2.2.2".into();
                    o.eip = found("UNBIND", "", "");
                },
                vec![],
                0,
                1,
            ),
            (
                "HAVIP has other EIP, takeover",
                |d, o| {
                    d.eip_takeover = true;
                    o.address_ip = "2.2.2.2".into();
                    o.eip = found("UNBIND", "", "");
                },
                vec!["unbind EIP 2.2.2.2 from havip-1", "bind EIP"],
                0,
                0,
            ),
            (
                "EIP settling",
                |_, o| {
                    o.address_ip.clear();
                    o.eip = found("BINDING", "", "");
                },
                vec![],
                1,
                0,
            ),
            (
                "regression: false success while the EIP is being unbound",
                |_, o| o.eip = found("UNBINDING", "havip-1", "HAVIP"),
                vec![],
                1,
                0,
            ),
            (
                "EIP already unbound while the HAVIP still shows it: bind",
                |_, o| o.eip = found("UNBIND", "", ""),
                vec!["bind EIP 1.1.1.1"],
                0,
                0,
            ),
            (
                "EIP being bound to this HAVIP: wait",
                |_, o| {
                    o.address_ip.clear();
                    o.eip = found("BINDING", "havip-1", "HAVIP");
                },
                vec![],
                1,
                0,
            ),
            (
                "EIP not read: never confirmed",
                |_, o| o.eip = None,
                vec![],
                0,
                1,
            ),
            (
                "EIP lags on HAVIP",
                |_, o| {
                    o.address_ip.clear();
                    o.eip = found("BIND", "havip-1", "HAVIP");
                },
                vec![],
                1,
                0,
            ),
        ];
        for (what, change, steps, waits, blockers) in cases {
            let (mut d, mut o) = (desired(), observed());
            change(&mut d, &mut o);
            let p = plan(&d, &o);
            let got: Vec<String> = p.steps.iter().map(|s| s.to_string()).collect();
            assert_eq!(got.len(), steps.len(), "{what}: {got:?}");
            for (g, w) in got.iter().zip(&steps) {
                assert!(g.starts_with(w), "{what}: {g:?} should start with {w:?}");
            }
            assert_eq!(p.waits.len(), waits, "{what}: {:?}", p.waits);
            assert_eq!(p.blockers.len(), blockers, "{what}: {:?}", p.blockers);
        }
    }
}
