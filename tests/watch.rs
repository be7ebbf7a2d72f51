//! `havip watch`, the real daemon against tcsim: a MASTER's watcher notices an out-of-band
//! move and repairs it (the brief-false-master case of issue 10: a backup that was MASTER for a
//! moment moved the cloud, then fell back, and the real master got no notify), for the `eip`
//! and `private-ip` strategies here and the `havip` strategy over a real link
//! (`tests/watch_garp.rs`); a removed EIP is rebound; a SPLIT raises one alert and makes no
//! writes; an API outage backs off, keeps serving /metrics with the failures counted, and
//! recovers; the FIFO orders a burst; SIGHUP with a broken configuration keeps the old one;
//! SIGTERM drains and exits.
//!
//! "Within two intervals" is checked by polling with a generous overall timeout
//! ([`PATIENCE`]), never by a timed assertion.

mod support;

use serde_json::json;
use support::daemon::{Daemon, PATIENCE};
use support::sim::*;
use tcsim::testing::SimHandle;

const PUB_EIP_ID: &str = "eip-idle0001";

fn watch_runs(node: &Node) -> Vec<serde_json::Value> {
    node.journal()
        .into_iter()
        .filter(|r| r["trigger"] == "watch")
        .collect()
}

#[test]
fn eip_moved_by_a_brief_master_is_repaired_by_the_real_masters_watcher() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let n21 = Node::new(&sim, NODE21, &eip_config(&sim.url(), NODE21, "10.0.4.21"));
    let n20 = Node::new(&sim, NODE20, &eip_config(&sim.url(), NODE20, "10.0.4.20"));
    n21.run(&["notify", "INSTANCE", "VI_3", "MASTER", "100"])
        .assert_code(0);
    let on = |eni: &str| ctl.address(PUB_EIP_ID).to_string().contains(eni);
    assert!(on("eni-iam00021"));
    let d = Daemon::start(&n21, &["--interval", "1s"]);

    // .20 misses adverts, is MASTER for a moment, moves the EIP, and falls back, between two
    // of .21's looks (a look during the move would find the EIP unbound and rebind it first).
    d.stopped_while(|| {
        n20.run(&["notify", "INSTANCE", "VI_3", "MASTER", "90"])
            .assert_code(0);
        assert!(on("eni-iam00020"));
        n20.run(&["notify", "INSTANCE", "VI_3", "BACKUP", "90"])
            .assert_code(0);
    });

    d.eventually("the EIP did not come back to .21", || {
        on("eni-iam00021") && ctl.address(PUB_EIP_ID)["status"] == "BIND"
    });
    d.eventually("no confirmed repair in .21's journal", || {
        watch_runs(&n21).iter().any(|r| r["verdict"] == "confirmed")
    });
    d.eventually("the repair was not counted", || {
        d.sample("havip_repairs_total{vip=\"pub\"}").unwrap_or(0.0) >= 1.0
    });
    d.eventually("the holder never matched again", || {
        d.sample("havip_cloud_holder_matches{vip=\"pub\"}") == Some(1.0)
    });
}

#[test]
fn private_ip_moved_by_a_brief_master_is_migrated_back() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let n21 = Node::new(
        &sim,
        NODE21,
        &private_ip_config(&sim.url(), NODE21, Some("eni-iam00021")),
    );
    let n20 = Node::new(
        &sim,
        NODE20,
        &private_ip_config(&sim.url(), NODE20, Some("eni-iam00020")),
    );
    n21.run(&["notify", "INSTANCE", "VI_2", "MASTER", "100"])
        .assert_code(0);
    assert_eq!(enis_with(&ctl, SECONDARY), ["eni-iam00021"]);
    let d = Daemon::start(&n21, &["--interval", "1s"]);

    d.stopped_while(|| {
        n20.run(&["notify", "INSTANCE", "VI_2", "MASTER", "90"])
            .assert_code(0);
        assert_eq!(enis_with(&ctl, SECONDARY), ["eni-iam00020"]);
        n20.run(&["notify", "INSTANCE", "VI_2", "BACKUP", "90"])
            .assert_code(0);
    });

    d.eventually("the IP did not come back to .21", || {
        enis_with(&ctl, SECONDARY) == ["eni-iam00021"]
    });
    d.eventually("no confirmed repair in .21's journal", || {
        watch_runs(&n21).iter().any(|r| r["verdict"] == "confirmed")
    });
}

/// `havip` strategy: .21 holds the HAVIP (keepalived announced it) with the EIP bound.
fn havip_master(sim: &SimHandle, extra: &str) -> Node {
    let ctl = Ctl(sim);
    let node = Node::with_alerts(sim, NODE21, |c| format!("{c}{extra}"));
    assert_eq!(ctl.arp(VIP, MAC21)["moved"], true);
    node.run(&["notify", "INSTANCE", "VI_1", "MASTER", "100"])
        .assert_code(0);
    node
}

#[test]
fn an_eip_taken_off_the_havip_is_rebound() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = havip_master(&sim, "");
    let d = Daemon::start(&node, &["--interval", "1s"]);
    ctl.clear_requests();
    node.api("HaVipDisassociateAddressIp", &json!({"HaVipId": HAVIP}));
    d.eventually("the EIP was not rebound to the HAVIP", || {
        !ctl.requests_for("HaVipAssociateAddressIp").is_empty()
            && ctl.address(EIP_ID)["status"] == "BIND"
            && ctl.address(EIP_ID).to_string().contains(HAVIP)
    });
    d.eventually("no confirmed repair in the journal", || {
        watch_runs(&node)
            .iter()
            .any(|r| r["verdict"] == "confirmed")
    });
}

#[test]
fn a_split_is_one_alert_and_no_writes() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    // The seed has .20 holding the HAVIP; keepalived on .20 says BACKUP.
    let n20 = Node::with_alerts(&sim, NODE20, |c| c.to_string());
    n20.run(&["notify", "INSTANCE", "VI_1", "BACKUP", "100"])
        .assert_code(0);
    let alerts_before = n20.alerts().len();
    ctl.clear_requests();
    let d = Daemon::start(&n20, &["--interval", "1s"]);
    d.eventually("the split was not seen three times", || {
        d.sample("havip_splits_total{vip=\"iam\"}").unwrap_or(0.0) >= 3.0
    });
    let splits: Vec<_> = n20.alerts()[alerts_before..]
        .iter()
        .filter(|a| a["kind"] == "split-brain")
        .cloned()
        .collect();
    assert_eq!(splits.len(), 1, "one split, one alert: {splits:?}");
    assert!(
        ctl.writes().is_empty(),
        "a split must never write: {:?}",
        ctl.writes()
    );
    assert!(d.log().contains("SPLIT"), "{}", d.log());
}

#[test]
fn an_api_outage_backs_off_keeps_serving_metrics_and_recovers() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = havip_master(&sim, "");
    let fault = ctl.fault(json!({"action": "DescribeHaVips", "http_status": 503}));
    let d = Daemon::start(&node, &["--interval", "1s"]);
    d.eventually("the failures were not counted", || {
        d.metrics().lines().any(|l| {
            l.starts_with("havip_api_requests_total{action=\"DescribeHaVips\",code=")
                && !l.contains("code=\"ok\"")
        })
    });
    d.eventually("the watcher did not back off", || {
        d.log().matches("cannot check the VIP").count() >= 2
    });
    assert_eq!(d.get("/healthz").map(|(s, _)| s), Ok(200));
    assert_eq!(
        d.sample("havip_cloud_holder_matches{vip=\"iam\"}"),
        Some(0.0)
    );
    assert!(ctl.writes().is_empty(), "{:?}", ctl.writes());
    // The retry pauses grow (retry_in_s=1, 2, 4…): the log says so.
    d.eventually("the pause did not grow", || {
        d.log().contains("retry_in_s=2")
    });
    ctl.remove_fault(fault);
    d.eventually("the watcher did not recover", || {
        d.sample("havip_cloud_holder_matches{vip=\"iam\"}") == Some(1.0)
    });
    assert!(d
        .metrics()
        .contains("havip_api_requests_total{action=\"DescribeHaVips\",code=\"ok\"}"));
}

#[test]
fn the_fifo_orders_a_burst_and_the_newest_event_wins() {
    let sim = SimHandle::start("seed");
    let node = Node::minimal(&sim, NODE21, "");
    let fifo = node.dir.path().join("keepalived.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let d = Daemon::start(
        &node,
        &["--interval", "1s", "--fifo", fifo.to_str().unwrap()],
    );
    let burst = [
        "INSTANCE \"VI_1\" MASTER 100",
        "INSTANCE \"VI_1\" BACKUP 100",
        "INSTANCE \"VI_1\" MASTER_PRIORITY 90",
        "INSTANCE \"VI_1\" MASTER 100",
        "INSTANCE \"VI_9\" MASTER 100",
        "INSTANCE \"VI_1\" FAULT 0",
    ];
    let text: String = burst.iter().map(|l| format!("{l}\n")).collect();
    {
        use std::io::Write;
        let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        w.write_all(text.as_bytes()).unwrap();
    } // keepalived goes away: the watcher reopens the FIFO
    let state = || {
        std::fs::read_to_string(node.state_dir().join("iam.event.json"))
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
    };
    d.eventually("the last event did not win", || {
        state().is_some_and(|s| s["seq"] == 4 && s["state"] == "FAULT")
    });
    d.eventually("every event was not journaled", || {
        node.journal()
            .iter()
            .filter(|r| r["trigger"] == "fifo")
            .count()
            == 4
    });
    let events: Vec<(u64, String)> = node
        .journal()
        .iter()
        .filter(|r| r["trigger"] == "fifo")
        .map(|r| {
            (
                r["seq"].as_u64().unwrap(),
                r["event"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut sorted = events.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            (1, "MASTER".to_string()),
            (2, "BACKUP".to_string()),
            (3, "MASTER".to_string()),
            (4, "FAULT".to_string())
        ],
        "the FIFO's order is the events' order"
    );
    assert!(d
        .metrics()
        .contains("havip_transitions_total{vip=\"iam\"} 4"));
    // A second writer (keepalived restarted) is heard too.
    {
        use std::io::Write;
        let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        w.write_all(b"INSTANCE \"VI_1\" BACKUP 100\n").unwrap();
    }
    d.eventually("the reopened FIFO was not read", || {
        state().is_some_and(|s| s["seq"] == 5 && s["state"] == "BACKUP")
    });
}

#[test]
fn sighup_with_a_broken_configuration_keeps_the_old_one() {
    let sim = SimHandle::start("seed");
    let node = havip_master(&sim, "");
    let good = std::fs::read_to_string(node.config_path()).unwrap();
    let d = Daemon::start(&node, &["--interval", "1s"]);
    let verified = || d.sample("havip_last_verified_timestamp_seconds{vip=\"iam\"}");
    d.eventually("no first look", || verified().is_some());
    node.write_config("this is = = not TOML\n");
    d.signal(libc::SIGHUP);
    d.eventually("the broken configuration was not rejected", || {
        d.log()
            .contains("configuration rejected; keeping the one in force")
    });
    let before = d
        .sample("havip_last_verified_timestamp_seconds{vip=\"iam\"}")
        .unwrap();
    d.eventually("the old configuration stopped being watched", || {
        d.sample("havip_last_verified_timestamp_seconds{vip=\"iam\"}")
            .unwrap()
            > before
    });
    assert_eq!(d.get("/healthz").map(|(s, _)| s), Ok(200));
    // A good file with a renamed VIP is taken: the new name is watched, the old one forgotten.
    node.write_config(&good.replace("name = \"iam\"", "name = \"iam2\""));
    d.signal(libc::SIGHUP);
    d.eventually("the new configuration was not taken", || {
        d.metrics()
            .contains("havip_last_verified_timestamp_seconds{vip=\"iam2\"}")
    });
    assert!(!d.metrics().contains("vip=\"iam\""), "{}", d.metrics());
}

#[test]
fn sigterm_drains_and_exits() {
    let sim = SimHandle::start("seed");
    let node = havip_master(&sim, "");
    let mut d = Daemon::start(&node, &["--interval", "1s"]);
    d.eventually("no first look", || {
        d.sample("havip_last_verified_timestamp_seconds{vip=\"iam\"}")
            .is_some()
    });
    let code = d.terminate(PATIENCE);
    assert_eq!(code, Some(0), "{}", d.log());
    assert!(d.log().contains("draining"), "{}", d.log());
}

#[test]
fn bad_flags_and_a_missing_fifo_directory_are_clear_errors() {
    let sim = SimHandle::start("seed");
    let node = Node::minimal(&sim, NODE21, "");
    let r = node.run(&["watch", "--interval", "0"]);
    r.assert_code(2);
    assert!(r.stderr.contains("--interval"), "{}", r.stderr);
    let plain = node.dir.path().join("plain");
    std::fs::write(&plain, "").unwrap();
    let r = node.run(&[
        "watch",
        "--listen",
        "127.0.0.1:0",
        "--fifo",
        plain.to_str().unwrap(),
    ]);
    r.assert_code(1);
    assert!(r.stderr.contains("not a FIFO"), "{}", r.stderr);
}

#[test]
fn systemd_hears_ready_and_watchdog_pings_and_logs_are_json() {
    use std::os::unix::net::UnixDatagram;
    let sim = SimHandle::start("seed");
    let node = havip_master(&sim, "");
    let socket = node.dir.path().join("notify.sock");
    let systemd = UnixDatagram::bind(&socket).unwrap();
    systemd
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let d = Daemon::start_with(
        &node,
        &["--interval", "1s", "--log-format", "json"],
        &[
            ("NOTIFY_SOCKET", socket.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );
    let mut heard = String::new();
    let mut buf = [0u8; 4096];
    d.eventually("systemd did not hear READY=1 and WATCHDOG=1", || {
        if let Ok(n) = systemd.recv(&mut buf) {
            heard.push_str(&String::from_utf8_lossy(&buf[..n]));
            heard.push('\n');
        }
        heard.contains("READY=1") && heard.contains("WATCHDOG=1")
    });
    for line in d.log().lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
    }
}
