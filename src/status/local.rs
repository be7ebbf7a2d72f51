//! This node's side of a VIP: keepalived's last state as `havip notify` recorded it (the
//! per-VIP event file of `state.rs`) and whether the VIP's address is on a local interface
//! (`node::local_ipv4_addrs`). Both are local reads: no network, no writes.

use std::io;
use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};

use crate::node;
use crate::state::{EventRecord, VipState, VrrpState};

/// What this node says about one VIP.
#[derive(Debug, Clone)]
pub struct LocalView {
    /// keepalived's last event as recorded by `havip notify` (`Ok(None)`: never recorded).
    pub state: Result<Option<EventRecord>, Arc<io::Error>>,
    /// Whether the VIP's address is configured on this node.
    pub presence: Presence,
    /// When this machine booted (`None`: unknown). A state recorded before it is not
    /// keepalived's state now: after a crash or a hard stop the file still says MASTER until
    /// keepalived's first event of this boot.
    pub booted: Option<DateTime<Utc>>,
}

/// Whether the VIP's address is on a local interface.
#[derive(Debug, Clone)]
pub enum Presence {
    /// Configured on `label` (an interface or an alias label such as `eth0:vip`).
    On {
        /// The address looked for.
        address: Ipv4Addr,
        /// Where it was found.
        label: String,
    },
    /// Not configured here (on `interface` when the VIP names one, else on any interface).
    Absent {
        /// The address looked for.
        address: Ipv4Addr,
        /// The VIP's configured `interface`, when it has one.
        interface: Option<String>,
    },
    /// The VIP's address is not known (not configured, and the cloud did not say it).
    NoAddress,
    /// The interfaces could not be listed.
    Unreadable(Arc<io::Error>),
}

impl LocalView {
    /// keepalived's last recorded state, if it was read, there is one, and it was recorded
    /// since this machine booted.
    pub fn vrrp_state(&self) -> Option<VrrpState> {
        self.state
            .as_ref()
            .ok()
            .and_then(|s| s.as_ref())
            .filter(|r| self.booted_since(r).is_none())
            .map(|r| r.state)
    }

    /// When this machine booted, if that was after `rec` was recorded (a state from before
    /// the boot); `None` when `rec` is current or the boot time is unknown.
    pub fn booted_since(&self, rec: &EventRecord) -> Option<DateTime<Utc>> {
        self.booted.filter(|b| rec.at < *b)
    }

    /// How long ago keepalived's last event was recorded, at `now` (never negative).
    pub fn age(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        let rec = self.state.as_ref().ok()?.as_ref()?;
        Some((now - rec.at).max(chrono::Duration::zero()))
    }
}

impl Presence {
    /// The address looked for, when one was.
    pub fn address(&self) -> Option<Ipv4Addr> {
        match self {
            Presence::On { address, .. } | Presence::Absent { address, .. } => Some(*address),
            Presence::NoAddress | Presence::Unreadable(_) => None,
        }
    }

    /// Whether the address is here (`None`: not checked).
    pub fn is_on(&self) -> Option<bool> {
        match self {
            Presence::On { .. } => Some(true),
            Presence::Absent { .. } => Some(false),
            Presence::NoAddress | Presence::Unreadable(_) => None,
        }
    }
}

/// Reads keepalived's last recorded state of a VIP (a damaged file is an error naming it).
pub fn read_state(state: &VipState) -> Result<Option<EventRecord>, Arc<io::Error>> {
    state.read().map_err(Arc::new)
}

/// When this machine booted: `btime` of /proc/stat (read once; `None` where there is none).
pub fn booted() -> Option<DateTime<Utc>> {
    static BOOTED: OnceLock<Option<DateTime<Utc>>> = OnceLock::new();
    *BOOTED.get_or_init(|| {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        parse_btime(&stat)
    })
}

/// The `btime SECONDS` line of /proc/stat.
fn parse_btime(stat: &str) -> Option<DateTime<Utc>> {
    let secs = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    DateTime::from_timestamp(secs, 0)
}

/// Looks for `address` on this node's interfaces (on `interface` and its alias labels when given).
pub fn presence(address: Option<Ipv4Addr>, interface: Option<&str>) -> Presence {
    let Some(address) = address else {
        return Presence::NoAddress;
    };
    match node::local_ipv4_addrs() {
        Ok(addrs) => match node::vip_label(&addrs, interface, address) {
            Some(label) => Presence::On {
                address,
                label: label.to_string(),
            },
            None => Presence::Absent {
                address,
                interface: interface.map(str::to_string),
            },
        },
        Err(e) => Presence::Unreadable(Arc::new(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_found_and_an_unused_test_net_address_is_not() {
        let lo = presence(Some(Ipv4Addr::LOCALHOST), None);
        assert!(
            matches!(&lo, Presence::On { label, .. } if label == "lo"),
            "{lo:?}"
        );
        let none = presence(Some(Ipv4Addr::new(203, 0, 113, 250)), Some("lo"));
        assert!(
            matches!(&none, Presence::Absent { interface: Some(i), .. } if i == "lo"),
            "{none:?}"
        );
        assert_eq!(none.is_on(), Some(false));
        assert!(matches!(presence(None, None), Presence::NoAddress));
    }

    #[test]
    fn boot_time_from_proc_stat() {
        let stat = "cpu  1 2 3\nintr 5\nbtime 1764500000\nprocesses 9\n";
        assert_eq!(
            parse_btime(stat).map(|t| t.timestamp()),
            Some(1_764_500_000)
        );
        assert_eq!(parse_btime("cpu 1\nbtime x\n"), None);
        assert_eq!(parse_btime(""), None);
        // This machine's: in the past.
        if let Some(b) = booted() {
            assert!(b < Utc::now(), "{b}");
        }
    }

    #[test]
    fn state_and_age_come_from_the_event_file() {
        let dir = std::env::temp_dir().join(format!("havip-status-local-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let vs = VipState::new(&dir, "iam");
        let never = LocalView {
            state: read_state(&vs),
            presence: Presence::NoAddress,
            booted: None,
        };
        assert_eq!(never.vrrp_state(), None);
        assert!(matches!(never.state, Ok(None)));
        let rec = vs.record(VrrpState::Backup, "notify").unwrap();
        let mut view = LocalView {
            state: read_state(&vs),
            presence: Presence::NoAddress,
            booted: Some(rec.at - chrono::Duration::seconds(1)),
        };
        assert_eq!(view.vrrp_state(), Some(VrrpState::Backup));
        let later = rec.at + chrono::Duration::seconds(42);
        assert_eq!(view.age(later), Some(chrono::Duration::seconds(42)));
        // Recorded before the machine booted: not keepalived's state now.
        view.booted = Some(later);
        assert_eq!(view.vrrp_state(), None);
        std::fs::write(vs.event_path(), b"{not json").unwrap();
        let damaged = read_state(&vs).unwrap_err();
        assert!(damaged.to_string().contains("damaged"), "{damaged}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
