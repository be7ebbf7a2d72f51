//! The verdict table: every combination of keepalived's state, the address on an interface,
//! the cloud's holder, a task in flight and the EIP that changes the verdict.

use std::io;
use std::net::Ipv4Addr;
use std::sync::Arc;

use chrono::Utc;

use super::*;
use crate::cloud::address::AddressStatus;
use crate::cloud::havip::MemberKind;
use crate::failover::Details;
use crate::state::EventRecord;

const ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 4, 99);

fn me() -> Seat {
    Seat::new("ins-me", "eni-me")
}

fn peer() -> Seat {
    Seat::new("ins-peer", "eni-peer")
}

fn eip(status: &str, bound_to: &str) -> EipDetails {
    EipDetails {
        address: Some("203.0.113.9".into()),
        address_id: Some("eip-1".into()),
        status: Some(AddressStatus::parse(status)),
        bound_to: Some(bound_to.to_string()).filter(|s| !s.is_empty()),
    }
}

/// The cloud as a `havip` read shows it, with the EIP's status given; `attached` and
/// `settling` follow from the status as the strategy computes them.
fn cloud(holder: Holder, eip_status: &str) -> HoldView {
    let e = eip(
        eip_status,
        if eip_status == "UNBIND" {
            ""
        } else {
            "havip-1"
        },
    );
    let status = e.status.clone().unwrap();
    HoldView {
        holder,
        peers: Some(vec!["ins-peer".into()]),
        attached: status == AddressStatus::Bind,
        details: Details {
            resource: "havip-1".into(),
            vip: Some(ADDR.to_string()),
            flushed: None,
            range: Some(vec![
                ("ins-me".into(), MemberKind::Cvm),
                ("ins-peer".into(), MemberKind::Cvm),
            ]),
            check_associate: Some(true),
            settling: status.is_transitional().then(|| format!("EIP {e}")),
            eip: Some(e),
        },
    }
}

fn local(state: Option<VrrpState>, presence: Presence) -> LocalView {
    LocalView {
        state: Ok(state.map(|s| EventRecord::after(None, s, "notify", Utc::now()))),
        presence,
        booted: None,
    }
}

fn on() -> Presence {
    Presence::On {
        address: ADDR,
        label: "eth0".into(),
    }
}

fn absent(interface: Option<&str>) -> Presence {
    Presence::Absent {
        address: ADDR,
        interface: interface.map(str::to_string),
    }
}

use Holder::{Nobody, Other, ThisNode};
use VrrpState::{Backup, Fault, Master, Stop};

type Row = (
    &'static str,
    Option<VrrpState>,
    Presence,
    Holder,
    &'static str,
    Verdict,
    &'static str,
);

/// (what, keepalived's state, address here, cloud's holder, EIP status, verdict, reason code)
fn rows() -> Vec<Row> {
    vec![
        // OK
        (
            "MASTER, holds, address here",
            Some(Master),
            on(),
            ThisNode(me()),
            "BIND",
            Verdict::Ok,
            "agreed",
        ),
        (
            "MASTER, holds, no interface configured",
            Some(Master),
            absent(None),
            ThisNode(me()),
            "BIND",
            Verdict::Ok,
            "agreed",
        ),
        (
            "MASTER, holds, address unknown",
            Some(Master),
            Presence::NoAddress,
            ThisNode(me()),
            "BIND",
            Verdict::Ok,
            "agreed",
        ),
        (
            "BACKUP, peer holds",
            Some(Backup),
            absent(Some("eth0")),
            Other(peer()),
            "BIND",
            Verdict::Ok,
            "agreed",
        ),
        (
            "FAULT, peer holds",
            Some(Fault),
            absent(None),
            Other(peer()),
            "BIND",
            Verdict::Ok,
            "agreed",
        ),
        (
            "STOP, peer holds",
            Some(Stop),
            absent(None),
            Other(peer()),
            "BIND",
            Verdict::Ok,
            "agreed",
        ),
        // DRIFT: keepalived and the cloud disagree
        (
            "MASTER, cloud names nobody",
            Some(Master),
            on(),
            Nobody,
            "BIND",
            Verdict::Drift,
            "master_held_by_nobody",
        ),
        (
            "BACKUP, cloud names this node",
            Some(Backup),
            absent(None),
            ThisNode(me()),
            "BIND",
            Verdict::Drift,
            "held_not_master",
        ),
        (
            "FAULT, cloud names this node",
            Some(Fault),
            absent(None),
            ThisNode(me()),
            "BIND",
            Verdict::Drift,
            "held_not_master",
        ),
        (
            "STOP, cloud names this node",
            Some(Stop),
            absent(None),
            ThisNode(me()),
            "BIND",
            Verdict::Drift,
            "held_not_master",
        ),
        (
            "BACKUP, cloud names nobody",
            Some(Backup),
            absent(None),
            Nobody,
            "BIND",
            Verdict::Drift,
            "held_by_nobody",
        ),
        (
            "MASTER, holds, address missing from its interface",
            Some(Master),
            absent(Some("eth0")),
            ThisNode(me()),
            "BIND",
            Verdict::Drift,
            "master_without_address",
        ),
        (
            "BACKUP, address here, cloud names this node",
            Some(Backup),
            on(),
            ThisNode(me()),
            "BIND",
            Verdict::Drift,
            "held_not_master",
        ),
        (
            "BACKUP, address here, cloud names nobody",
            Some(Backup),
            on(),
            Nobody,
            "BIND",
            Verdict::Drift,
            "held_by_nobody",
        ),
        // DRIFT: the EIP
        (
            "MASTER, holds, EIP UNBINDING",
            Some(Master),
            on(),
            ThisNode(me()),
            "UNBINDING",
            Verdict::Drift,
            "settling",
        ),
        (
            "MASTER, holds, EIP BINDING",
            Some(Master),
            on(),
            ThisNode(me()),
            "BINDING",
            Verdict::Drift,
            "settling",
        ),
        (
            "MASTER, holds, EIP CREATING",
            Some(Master),
            on(),
            ThisNode(me()),
            "CREATING",
            Verdict::Drift,
            "settling",
        ),
        (
            "MASTER, holds, EIP OFFLINING",
            Some(Master),
            on(),
            ThisNode(me()),
            "OFFLINING",
            Verdict::Drift,
            "settling",
        ),
        (
            "BACKUP, peer holds, EIP UNBINDING",
            Some(Backup),
            absent(None),
            Other(peer()),
            "UNBINDING",
            Verdict::Drift,
            "settling",
        ),
        (
            "MASTER, holds, EIP UNBIND",
            Some(Master),
            on(),
            ThisNode(me()),
            "UNBIND",
            Verdict::Drift,
            "eip_not_attached",
        ),
        (
            "BACKUP, peer holds, EIP UNBIND",
            Some(Backup),
            absent(None),
            Other(peer()),
            "UNBIND",
            Verdict::Drift,
            "eip_not_attached",
        ),
        (
            "MASTER, holds, EIP BIND_ENI elsewhere",
            Some(Master),
            on(),
            ThisNode(me()),
            "BIND_ENI",
            Verdict::Drift,
            "eip_not_attached",
        ),
        // SPLIT
        (
            "MASTER here, cloud names the peer",
            Some(Master),
            absent(None),
            Other(peer()),
            "BIND",
            Verdict::Split,
            "master_held_elsewhere",
        ),
        (
            "MASTER here, address here, cloud names the peer",
            Some(Master),
            on(),
            Other(peer()),
            "BIND",
            Verdict::Split,
            "address_here_held_elsewhere",
        ),
        (
            "BACKUP, address here, cloud names the peer",
            Some(Backup),
            on(),
            Other(peer()),
            "BIND",
            Verdict::Split,
            "address_here_held_elsewhere",
        ),
        (
            "address here, peer holds, state never recorded",
            None,
            on(),
            Other(peer()),
            "BIND",
            Verdict::Split,
            "address_here_held_elsewhere",
        ),
        (
            "MASTER here, peer holds, EIP UNBINDING: the split first",
            Some(Master),
            on(),
            Other(peer()),
            "UNBINDING",
            Verdict::Split,
            "address_here_held_elsewhere",
        ),
        (
            "several holders",
            Some(Master),
            on(),
            Holder::Several(vec![me(), peer()]),
            "BIND",
            Verdict::Split,
            "several_holders",
        ),
        (
            "several holders, BACKUP",
            Some(Backup),
            absent(None),
            Holder::Several(vec![me(), peer()]),
            "BIND",
            Verdict::Split,
            "several_holders",
        ),
        // UNKNOWN
        (
            "state never recorded",
            None,
            absent(None),
            ThisNode(me()),
            "BIND",
            Verdict::Unknown,
            "no_local_state",
        ),
        (
            "state never recorded, peer holds",
            None,
            absent(None),
            Other(peer()),
            "BIND",
            Verdict::Unknown,
            "no_local_state",
        ),
        (
            "interfaces unreadable",
            Some(Master),
            Presence::Unreadable(Arc::new(io::Error::other("x"))),
            ThisNode(me()),
            "BIND",
            Verdict::Unknown,
            "interfaces_unreadable",
        ),
    ]
}

#[test]
fn verdict_table() {
    for (what, state, presence, holder, eip_status, verdict, code) in rows() {
        let view = cloud(holder, eip_status);
        let j = judge(&local(state, presence), Ok(&view));
        assert_eq!((j.verdict, j.reason.code()), (verdict, code), "{what}: {j}");
        assert!(!j.reason.to_string().is_empty(), "{what}");
    }
}

#[test]
fn an_unreadable_cloud_or_state_is_unknown() {
    let err = Arc::new(ObserveError::Cloud(crate::cloud::Error::Api {
        code: "InternalError".into(),
        message: "boom".into(),
        request_id: Some("req-1".into()),
    }));
    let j = judge(&local(Some(Master), on()), Err(&err));
    assert_eq!(
        (j.verdict, j.reason.code()),
        (Verdict::Unknown, "cloud_unreadable")
    );
    assert!(j.to_string().contains("InternalError"), "{j}");

    let damaged = LocalView {
        state: Err(Arc::new(io::Error::other("iam.event.json is damaged"))),
        presence: on(),
        booted: None,
    };
    let view = cloud(ThisNode(me()), "BIND");
    let j = judge(&damaged, Ok(&view));
    assert_eq!(
        (j.verdict, j.reason.code()),
        (Verdict::Unknown, "state_unreadable")
    );
    assert!(j.to_string().contains("damaged"), "{j}");
    // A split is certain even when keepalived's state cannot be read.
    let elsewhere = cloud(Other(peer()), "BIND");
    assert_eq!(judge(&damaged, Ok(&elsewhere)).verdict, Verdict::Split);
}

#[test]
fn a_master_recorded_before_this_boot_is_not_acted_on() {
    // After a crash the event file still says MASTER; the cloud names the peer, which
    // keepalived made master meanwhile. That is not this node's claim: UNKNOWN, not SPLIT.
    let mut stale = local(Some(Master), absent(None));
    let at = stale.state.as_ref().unwrap().as_ref().unwrap().at;
    stale.booted = Some(at + chrono::Duration::seconds(30));
    let j = judge(&stale, Ok(&cloud(Other(peer()), "BIND")));
    assert_eq!(
        (j.verdict, j.reason.code()),
        (Verdict::Unknown, "stale_local_state")
    );
    assert!(j.to_string().contains("predates this boot"), "{j}");
    assert_eq!(stale.vrrp_state(), None);
    // Recorded after the boot: keepalived's word, as before.
    stale.booted = Some(at - chrono::Duration::seconds(30));
    let j = judge(&stale, Ok(&cloud(Other(peer()), "BIND")));
    assert_eq!(
        (j.verdict, j.reason.code()),
        (Verdict::Split, "master_held_elsewhere")
    );
    // A split that is certain stays one: the address here, the cloud elsewhere.
    let mut here = local(Some(Master), on());
    here.booted = Some(Utc::now() + chrono::Duration::seconds(30));
    let j = judge(&here, Ok(&cloud(Other(peer()), "BIND")));
    assert_eq!(j.verdict, Verdict::Split);
}

#[test]
fn a_missing_eip_and_a_settling_private_ip_are_not_ok() {
    let mut view = cloud(ThisNode(me()), "BIND");
    view.attached = false;
    view.details.eip = Some(EipDetails {
        status: None,
        address_id: None,
        bound_to: None,
        ..eip("BIND", "")
    });
    let j = judge(&local(Some(Master), on()), Ok(&view));
    assert_eq!(
        (j.verdict, j.reason.code()),
        (Verdict::Drift, "eip_not_attached")
    );
    assert!(j.to_string().contains("not found"), "{j}");

    let migrating = HoldView {
        holder: ThisNode(Seat::new("", "eni-me")),
        peers: None,
        attached: true,
        details: Details {
            settling: Some("10.0.4.98 is MIGRATING on eni-me".into()),
            ..Details::default()
        },
    };
    let j = judge(&local(Some(Master), on()), Ok(&migrating));
    assert_eq!(j.verdict, Verdict::Drift);
    assert!(j.to_string().contains("MIGRATING"), "{j}");
}

#[test]
fn verdicts_order_as_plugin_exit_codes() {
    let all = [
        Verdict::Ok,
        Verdict::Drift,
        Verdict::Split,
        Verdict::Unknown,
    ];
    for (i, v) in all.iter().enumerate() {
        assert_eq!(v.exit_code() as usize, i);
    }
    assert_eq!(all.iter().max(), Some(&Verdict::Unknown));
    assert_eq!(serde_json::to_string(&Verdict::Drift).unwrap(), "\"DRIFT\"");
}
