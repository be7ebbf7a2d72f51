//! The EIPs' data plane (`--eip-dataplane IFACE`): makes the network namespace tcsim runs in
//! forward traffic for each EIP the way the cloud does, following tcsim's own state.
//!
//! An EIP carries traffic only while it is `BIND`: to a HAVIP, it goes to the HAVIP's Vip at the
//! MAC of the ENI that holds the HAVIP (so a node that is not the holder, or that holds it but
//! has not configured the Vip, gets nothing, as on a real VPC); to an ENI, it goes to that
//! private IP at that ENI's MAC. Otherwise (unbound, being bound or unbound, a HAVIP without
//! holder, a stopped instance) it carries nothing.
//!
//! The mechanism is the kernel's: one nftables table (`ip tcsim_eip`) with a DNAT rule per
//! carrying EIP (conntrack turns the replies back into the EIP), a drop in `forward` for the
//! flows of EIPs that carry nothing (connections opened before an unbind), and a permanent
//! neighbour entry on IFACE pinning each target IP to its holder's MAC, so delivery follows the
//! cloud's holder, not whoever answers ARP. A plain thread reads the state every
//! [`POLL`] and rewrites the table (atomically, with `nft -f -`) and the neighbours only when the
//! mapping changed. Needs root and the `nft` and `ip` tools.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::state::{normalize_mac, Binding, InstanceState, World};
use crate::Sim;

/// How often the state is read: well under keepalived's advert interval, cheap (one lock).
pub const POLL: Duration = Duration::from_millis(20);
/// The nftables table tcsim owns.
pub const TABLE: &str = "tcsim_eip";
/// More EIPs than this are not mapped (the data plane is for labs, not `large:` scenarios).
pub const MAX_EIPS: usize = 256;

/// Where one EIP's traffic goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub ip: Ipv4Addr,
    pub mac: String,
}

/// EIP → where its traffic goes (`None`: nowhere).
pub type Mapping = BTreeMap<Ipv4Addr, Option<Target>>;

/// The mapping the state implies. EIPs whose address is not IPv4 are skipped.
pub fn mapping(w: &World) -> Mapping {
    let mut map = Mapping::new();
    for a in w.addresses.iter().take(MAX_EIPS) {
        let Ok(eip) = a.ip.parse::<Ipv4Addr>() else {
            continue;
        };
        map.insert(eip, target(w, &a.status, a.binding.as_ref()));
    }
    map
}

fn target(w: &World, status: &str, binding: Option<&Binding>) -> Option<Target> {
    let (eni_id, ip) = match (status, binding?) {
        ("BIND", Binding::Havip { havip_id }) => {
            let h = w.havip(havip_id)?;
            (h.eni_id.clone()?, h.vip.clone())
        }
        (
            "BIND" | "BIND_ENI",
            Binding::Eni {
                eni_id, private_ip, ..
            },
        ) => (eni_id.clone(), private_ip.clone()),
        _ => return None,
    };
    let eni = w.eni(&eni_id)?;
    if let Some(ins) = eni.instance_id.as_deref() {
        if w.instance(ins)?.state != InstanceState::Running {
            return None;
        }
    }
    let mac = normalize_mac(&eni.mac);
    let valid_mac = mac.len() == 17
        && mac
            .split(':')
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    Some(Target {
        ip: ip.parse().ok()?,
        mac: valid_mac.then_some(mac)?,
    })
}

/// The nftables script that replaces the table with `map`'s rules, in one transaction.
pub fn ruleset(map: &Mapping) -> String {
    let mut dnat = String::new();
    let mut drop = String::new();
    for (eip, t) in map {
        match t {
            Some(t) => dnat.push_str(&format!("\t\tip daddr {eip} dnat to {}\n", t.ip)),
            None => drop.push_str(&format!("\t\tct original ip daddr {eip} drop\n")),
        }
    }
    format!(
        "table ip {TABLE}\ndelete table ip {TABLE}\ntable ip {TABLE} {{\n\
         \tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n{dnat}\t}}\n\
         \tchain forward {{\n\t\ttype filter hook forward priority filter; policy accept;\n{drop}\t}}\n}}\n"
    )
}

/// A running data plane; [`DataPlane::stop`] ends the thread and removes the table.
pub struct DataPlane {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    iface: String,
}

impl DataPlane {
    /// Applies the current mapping once (so a missing `nft` or a bad interface fails here), then
    /// follows the state on a thread.
    pub fn start(sim: Arc<Sim>, iface: &str) -> Result<DataPlane> {
        if iface.is_empty() || iface.len() > 15 || iface.contains(['/', ' ']) {
            bail!("--eip-dataplane: {iface:?} is not an interface name");
        }
        let first = mapping(&sim.world());
        apply(iface, &Mapping::new(), &first).context("setting up the EIP data plane")?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, iface) = (stop.clone(), iface.to_string());
            std::thread::Builder::new()
                .name("eip-dataplane".into())
                .spawn(move || follow(&sim, &iface, first, &stop))?
        };
        Ok(DataPlane {
            stop,
            thread: Some(thread),
            iface: iface.to_string(),
        })
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = nft(&format!("table ip {TABLE}\ndelete table ip {TABLE}\n"));
        tracing::info!(iface = %self.iface, "EIP data plane removed");
    }
}

fn follow(sim: &Sim, iface: &str, mut current: Mapping, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(POLL);
        let next = mapping(&sim.world());
        if next == current {
            continue;
        }
        match apply(iface, &current, &next) {
            Ok(()) => current = next,
            // Retried on the next poll: the mapping still differs.
            Err(e) => tracing::warn!("EIP data plane: {e:#}"),
        }
    }
}

/// Moves the kernel from `old` to `new`: neighbours for the new targets first, then the table,
/// then the neighbours nobody uses any more.
fn apply(iface: &str, old: &Mapping, new: &Mapping) -> Result<()> {
    for (eip, t) in new {
        if let Some(t) = t {
            if old.get(eip) != Some(&Some(t.clone())) {
                ip(&[
                    "neigh",
                    "replace",
                    &t.ip.to_string(),
                    "lladdr",
                    &t.mac,
                    "dev",
                    iface,
                    "nud",
                    "permanent",
                ])?;
            }
        }
    }
    nft(&ruleset(new))?;
    let in_use: Vec<Ipv4Addr> = new.values().flatten().map(|t| t.ip).collect();
    for t in old.values().flatten() {
        if !in_use.contains(&t.ip) {
            // Already gone is fine.
            let _ = ip(&["neigh", "del", &t.ip.to_string(), "dev", iface]);
        }
    }
    for (eip, t) in new {
        if old.get(eip) != Some(t) {
            match t {
                Some(t) => {
                    tracing::info!(%eip, to = %t.ip, mac = %t.mac, "EIP data plane: forwarding")
                }
                None => tracing::info!(%eip, "EIP data plane: carrying nothing"),
            }
        }
    }
    Ok(())
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running ip")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn nft(script: &str) -> Result<()> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("running nft (package nftables)")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(script.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("nft: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimOptions;

    fn seed() -> World {
        SimOptions::new("seed").build_world().unwrap()
    }
    const EIP: Ipv4Addr = Ipv4Addr::new(106, 52, 252, 139);
    const IDLE: Ipv4Addr = Ipv4Addr::new(106, 52, 252, 140);

    #[test]
    fn a_bound_eip_follows_the_havip_holder() {
        let mut w = seed();
        let m = mapping(&w);
        let to_node1 = Target {
            ip: Ipv4Addr::new(10, 0, 4, 99),
            mac: "52:54:00:00:04:20".into(),
        };
        assert_eq!(m[&EIP], Some(to_node1));
        assert_eq!(m[&IDLE], None);
        w.havip_mut("havip-iam00099").unwrap().eni_id = Some("eni-iam00021".into());
        assert_eq!(mapping(&w)[&EIP].as_ref().unwrap().mac, "52:54:00:00:04:21");
        w.havip_mut("havip-iam00099").unwrap().eni_id = None;
        assert_eq!(
            mapping(&w)[&EIP],
            None,
            "a HAVIP without holder carries nothing"
        );
    }

    #[test]
    fn an_eip_in_transit_or_unbound_carries_nothing() {
        let mut w = seed();
        for status in ["BINDING", "UNBINDING", "UNBIND"] {
            w.address_mut("eip-iam00139").unwrap().status = status.into();
            assert_eq!(mapping(&w)[&EIP], None, "{status}");
        }
    }

    #[test]
    fn the_ruleset_dnats_carriers_and_drops_the_rest() {
        let text = ruleset(&mapping(&seed()));
        assert!(
            text.contains("ip daddr 106.52.252.139 dnat to 10.0.4.99"),
            "{text}"
        );
        assert!(
            text.contains("ct original ip daddr 106.52.252.140 drop"),
            "{text}"
        );
        assert!(text.starts_with("table ip tcsim_eip\ndelete table ip tcsim_eip\n"));
    }
}
