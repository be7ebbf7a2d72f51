//! The checks of keepalived's configuration against havip's: per VIP, its `vrrp_instance`
//! exists, carries the VIP in `virtual_ipaddress`, runs `havip notify`, tracks a `vrrp_script`
//! that runs `havip check` and does not fail open, uses unicast, `nopreempt` with
//! `state BACKUP`, and wires `notify_master_rx_lower_pri` to havip; once, no `vrrp_strict`.
//! Pure functions of the parsed tree ([`crate::keepalived`]) and the configuration.

use std::net::Ipv4Addr;
use std::path::Path;

use super::{Check, Report};
use crate::config::{Config, VipConfig};
use crate::keepalived::{fails_open, runs_havip, script_words, KeepalivedConf, Statement};

/// Reads `path` and runs the checks for every VIP (`addrs`: each VIP's address, if known).
pub fn checks(
    cfg: &Config,
    path: &Path,
    addrs: &[(String, Option<Ipv4Addr>)],
    report: &mut Report,
) {
    let conf = match KeepalivedConf::load(path) {
        Ok(c) => c,
        Err(e) => {
            report.push(Check::fail(
                "keepalived.config",
                crate::error_chain::error_chain(&e),
                "fix the file named (or point --keepalived-conf at keepalived's configuration)",
            ));
            return;
        }
    };
    report.push(Check::pass(
        "keepalived.config",
        format!("{} parsed ({} file(s))", path.display(), conf.files.len()),
    ));
    for c in conf_checks(&conf, cfg, addrs) {
        report.push(c);
    }
}

/// Every keepalived check of a parsed configuration.
pub fn conf_checks(
    conf: &KeepalivedConf,
    cfg: &Config,
    addrs: &[(String, Option<Ipv4Addr>)],
) -> Vec<Check> {
    let mut out = vec![vrrp_strict(conf)];
    for v in &cfg.vips {
        let addr = addrs
            .iter()
            .find(|(n, _)| *n == v.name)
            .and_then(|(_, a)| *a);
        out.extend(
            instance_checks(conf, v, addr)
                .into_iter()
                .map(|c| c.about(&v.name)),
        );
    }
    out
}

fn vrrp_strict(conf: &KeepalivedConf) -> Check {
    match conf.global("vrrp_strict") {
        Some(s) => Check::fail(
            "keepalived.vrrp_strict",
            format!("vrrp_strict is set ({}): it refuses unicast peers and adds firewall rules that drop traffic to the VIP", s.at),
            "remove vrrp_strict from global_defs",
        ),
        None => Check::pass("keepalived.vrrp_strict", "vrrp_strict is not set"),
    }
}

/// The checks of the `vrrp_instance` one VIP follows.
fn instance_checks(conf: &KeepalivedConf, v: &VipConfig, addr: Option<Ipv4Addr>) -> Vec<Check> {
    let name = &v.vrrp_instance;
    let Some(vi) = conf.named("vrrp_instance", name) else {
        let found: Vec<_> = conf
            .all("vrrp_instance")
            .iter()
            .filter_map(|s| s.arg())
            .map(str::to_string)
            .collect();
        return vec![Check::fail(
            "keepalived.instance",
            format!("no vrrp_instance {name} (found: {})", if found.is_empty() { "none".into() } else { found.join(", ") }),
            format!("name the instance `{name}` in keepalived, or set vrrp_instance in havip's [[vip]] {}", v.name),
        )];
    };
    let group = v
        .vrrp_group
        .as_deref()
        .and_then(|g| conf.named("vrrp_sync_group", g));
    vec![
        Check::pass(
            "keepalived.instance",
            format!("vrrp_instance {name} at {}", vi.at),
        ),
        vip_check(vi, addr),
        notify_check(vi, group),
        track_check(conf, vi),
        unicast_check(vi),
        preempt_check(vi),
        rx_lower_pri_check(vi, group),
    ]
}

fn vip_check(vi: &Statement, addr: Option<Ipv4Addr>) -> Check {
    let Some(addr) = addr else {
        return Check::skip("keepalived.vip", "the VIP's address is unknown (set vip in havip's [[vip]], or let doctor read the HAVIP)");
    };
    let items = vi.block_items("virtual_ipaddress");
    let holds = items
        .iter()
        .any(|s| s.keyword.split('/').next() == Some(&addr.to_string()));
    if holds {
        Check::pass("keepalived.vip", format!("virtual_ipaddress holds {addr}"))
    } else {
        let have: Vec<&str> = items.iter().map(|s| s.keyword.as_str()).collect();
        Check::fail(
            "keepalived.vip",
            format!(
                "virtual_ipaddress does not hold {addr} (has: {})",
                if have.is_empty() {
                    "nothing".into()
                } else {
                    have.join(", ")
                }
            ),
            format!(
                "add `{addr}/PREFIX dev IFACE` to virtual_ipaddress of {}",
                vi.arg().unwrap_or("")
            ),
        )
    }
}

/// The first of `keywords` in the instance (or its sync group) whose script runs `havip SUB`.
fn runs<'a>(scopes: &[&'a Statement], keywords: &[&str], sub: &str) -> Option<&'a Statement> {
    scopes
        .iter()
        .flat_map(|s| s.children())
        .find(|s| keywords.contains(&s.keyword.as_str()) && runs_havip(&script_words(s), sub))
}

fn notify_check(vi: &Statement, group: Option<&Statement>) -> Check {
    let scopes: Vec<&Statement> = std::iter::once(vi).chain(group).collect();
    match runs(&scopes, &["notify", "notify_master"], "notify") {
        Some(s) => Check::pass("keepalived.notify", format!("{} runs havip notify ({})", s.keyword, s.at)),
        None => Check::fail(
            "keepalived.notify",
            "neither notify nor notify_master runs `havip notify`: keepalived's promotion never reaches the cloud",
            "add `notify \"/usr/local/bin/havip notify\"` to the vrrp_instance",
        ),
    }
}

fn track_check(conf: &KeepalivedConf, vi: &Statement) -> Check {
    let tracked: Vec<&str> = vi
        .block_items("track_script")
        .iter()
        .map(|s| s.keyword.as_str())
        .collect();
    let mut problems = Vec::new();
    for name in &tracked {
        let Some(script) = conf
            .named("vrrp_script", name)
            .and_then(|s| s.child("script"))
        else {
            problems.push(format!("tracked script {name} is not defined"));
            continue;
        };
        let words = script_words(script);
        if !runs_havip(&words, "check") {
            continue;
        }
        return match fails_open(&words) {
            None => Check::pass("keepalived.check", format!("vrrp_script {name} runs havip check ({})", script.at)),
            Some(why) => Check::fail(
                "keepalived.check",
                format!("vrrp_script {name} fails open: {why}"),
                "run `havip check` alone: it fails closed, and a failing check must reach keepalived",
            ),
        };
    }
    let what = if tracked.is_empty() {
        "the instance tracks no vrrp_script".to_string()
    } else {
        format!(
            "no tracked vrrp_script runs `havip check` ({})",
            if problems.is_empty() {
                tracked.join(", ")
            } else {
                problems.join("; ")
            }
        )
    };
    Check::fail(
        "keepalived.check",
        what,
        "define `vrrp_script chk_havip { script \"/usr/local/bin/havip check --quiet\" }` and list it in the instance's track_script",
    )
}

fn unicast_check(vi: &Statement) -> Check {
    let peers = vi.block_items("unicast_peer");
    if peers.is_empty() {
        Check::fail(
            "keepalived.unicast",
            "no unicast_peer: VRRP would use multicast, which a VPC does not carry (both nodes become MASTER)",
            "add `unicast_peer { PEER_IP }` (and unicast_src_ip) to the instance",
        )
    } else {
        let list: Vec<&str> = peers.iter().map(|s| s.keyword.as_str()).collect();
        Check::pass(
            "keepalived.unicast",
            format!("unicast_peer {}", list.join(", ")),
        )
    }
}

fn preempt_check(vi: &Statement) -> Check {
    let state = vi.child("state").and_then(|s| s.arg()).unwrap_or("BACKUP");
    match (vi.has("nopreempt"), state.eq_ignore_ascii_case("BACKUP")) {
        (true, true) => Check::pass("keepalived.nopreempt", "nopreempt with state BACKUP"),
        (true, false) => Check::fail(
            "keepalived.nopreempt",
            format!("nopreempt with state {state}: keepalived ignores nopreempt unless the state is BACKUP"),
            "set `state BACKUP` on both nodes",
        ),
        (false, _) => Check::warn(
            "keepalived.nopreempt",
            "no nopreempt: a recovered node takes the VIP back, a second switch per incident",
            "add `nopreempt` and `state BACKUP` on both nodes",
        ),
    }
}

fn rx_lower_pri_check(vi: &Statement, group: Option<&Statement>) -> Check {
    let scopes: Vec<&Statement> = std::iter::once(vi).chain(group).collect();
    let wired = ["notify", "takeover"]
        .iter()
        .find_map(|sub| runs(&scopes, &["notify_master_rx_lower_pri"], sub));
    match wired {
        Some(s) => Check::pass("keepalived.rx_lower_pri", format!("notify_master_rx_lower_pri runs havip ({})", s.at)),
        None => Check::warn(
            "keepalived.rx_lower_pri",
            "notify_master_rx_lower_pri is not wired to havip: after a split brain heals, the MASTER does not re-assert the VIP in the cloud",
            "add `notify_master_rx_lower_pri \"/usr/local/bin/havip notify --state MASTER_RX_LOWER_PRI --vip NAME\"`, or run havip watch",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    const NODE1: &str = include_str!("../../deploy/keepalived/keepalived-node1.conf");

    fn cfg() -> Config {
        let text =
            "[[vip]]\nname = \"iam\"\nvrrp_instance = \"VI_1\"\nhavip_id = \"havip-iam00099\"\n";
        Config::parse(text, std::path::Path::new("h.toml"), None).unwrap()
    }

    fn run(text: &str) -> Vec<Check> {
        let conf = KeepalivedConf::parse(text, "k.conf").unwrap();
        conf_checks(
            &conf,
            &cfg(),
            &[("iam".into(), Some("10.0.4.99".parse().unwrap()))],
        )
    }

    fn status(checks: &[Check], id: &str) -> Status {
        checks
            .iter()
            .find(|c| c.id == id)
            .unwrap_or_else(|| panic!("no {id}"))
            .status
    }

    #[test]
    fn the_deployed_config_passes() {
        let checks = run(NODE1);
        for c in &checks {
            assert_eq!(c.status, Status::Pass, "{c:?}");
        }
        assert_eq!(checks.len(), 8);
    }

    /// Each edit breaks one thing and gives that check's status.
    #[test]
    fn each_broken_variant_gives_its_own_finding() {
        let cases: &[(&str, &str, &str, Status)] = &[
            (
                "vrrp_instance VI_1 {",
                "vrrp_instance VI_9 {",
                "keepalived.instance",
                Status::Fail,
            ),
            (
                "10.0.4.99/24 dev eth0",
                "10.0.4.98/24 dev eth0",
                "keepalived.vip",
                Status::Fail,
            ),
            (
                "notify \"/usr/local/bin/havip notify\"",
                "notify \"/etc/keepalived/notify.sh\"",
                "keepalived.notify",
                Status::Fail,
            ),
            (
                "--quiet --vip iam\"",
                "--quiet --vip iam || true\"",
                "keepalived.check",
                Status::Fail,
            ),
            (
                "        chk_havip\n    }",
                "        chk_other\n    }",
                "keepalived.check",
                Status::Fail,
            ),
            (
                "    unicast_peer {\n        10.0.4.21\n    }\n",
                "",
                "keepalived.unicast",
                Status::Fail,
            ),
            ("    nopreempt\n", "", "keepalived.nopreempt", Status::Warn),
            (
                "    state BACKUP\n",
                "    state MASTER\n",
                "keepalived.nopreempt",
                Status::Fail,
            ),
            (
                "    script_user root\n",
                "    script_user root\n    vrrp_strict\n",
                "keepalived.vrrp_strict",
                Status::Fail,
            ),
            (
                "    notify_master_rx_lower_pri \"/usr/local/bin/havip notify --state MASTER_RX_LOWER_PRI --vip iam\"\n",
                "",
                "keepalived.rx_lower_pri",
                Status::Warn,
            ),
        ];
        for (from, to, id, want) in cases {
            assert!(NODE1.contains(from), "{from:?} not in the deployed config");
            let broken = NODE1.replacen(from, to, 1);
            let checks = run(&broken);
            assert_eq!(
                status(&checks, id),
                *want,
                "{id} after {from:?} -> {to:?}: {checks:#?}"
            );
            let others = checks
                .iter()
                .filter(|c| c.id != *id && c.status != Status::Pass && c.status != Status::Skip);
            assert_eq!(
                others.count(),
                0,
                "{id}: only that check changes: {checks:#?}"
            );
            assert!(checks
                .iter()
                .filter(|c| c.status != Status::Pass)
                .all(|c| c.fix.is_some() || c.status == Status::Skip));
        }
    }
}
