//! keepalived runs notify scripts concurrently and out of order. 200 interleaved MASTER/BACKUP
//! events within about two seconds must leave the cloud matching the last event, with no two
//! mutations in flight at once (latest wins, per-VIP lock).

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::bin::*;
use support::sim::*;
use tcsim::testing::SimHandle;

#[test]
fn two_hundred_interleaved_events_latest_wins_and_writes_never_overlap() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE21, "");
    // The EIP is off the HAVIP, so every MASTER procedure that gets to act has a write (and a
    // 1 s task) to make: the window in which a second writer could interfere.
    node.api("HaVipDisassociateAddressIp", &json!({"HaVipId": HAVIP}));
    assert!(wait_until(Duration::from_secs(5), || {
        ctl.address("eip-iam00139")["status"] == "UNBIND"
    }));
    ctl.arp(VIP, MAC21);
    ctl.clear_requests();

    let event_file = node.state_dir().join("iam.event.json");
    let seq = || -> u64 {
        std::fs::read_to_string(&event_file)
            .ok()
            .and_then(|s| serde_json::from_str::<Value>(&s).ok())
            .and_then(|v| v["seq"].as_u64())
            .unwrap_or(0)
    };
    let t0 = std::time::Instant::now();
    let mut children = Vec::new();
    for i in 0..199 {
        let state = if i % 2 == 0 { "MASTER" } else { "BACKUP" };
        children.push(node.spawn(&["notify", "INSTANCE", "VI_1", state, "100"]));
        std::thread::sleep(Duration::from_millis(9));
    }
    // The last event is sent once every earlier one is on disk, so "last" is unambiguous.
    assert!(
        wait_until(Duration::from_secs(20), || seq() == 199),
        "events recorded: {}",
        seq()
    );
    children.push(node.spawn(&["notify", "INSTANCE", "VI_1", "MASTER", "100"]));
    let spawned_in = t0.elapsed();
    let mut results = Vec::new();
    for c in children {
        results.push(wait_child(c, Duration::from_secs(60)));
    }
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.code, Some(0), "event {i}: {}", r.all_output());
    }
    assert!(
        spawned_in < Duration::from_secs(10),
        "spawning took {spawned_in:?}"
    );

    // The last event (#200, MASTER) acted and the cloud matches it.
    assert_eq!(seq(), 200);
    let journal = node.journal();
    assert_eq!(journal.len(), 200, "one record per event");
    let last: Vec<&Value> = journal.iter().filter(|r| r["seq"] == 200).collect();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0]["event"], "MASTER");
    assert_eq!(last[0]["verdict"], "confirmed", "{}", last[0]);
    let state = ctl.state();
    assert_eq!(find_by(&state, "havips", HAVIP)["instance_id"], NODE21);
    let eip = find_by(&state, "addresses", "eip-iam00139");
    assert_eq!(
        (eip["status"].clone(), eip["binding"]["havip_id"].clone()),
        (json!("BIND"), json!(HAVIP))
    );

    // Every other event either acted while newest or stood down; none failed.
    for r in &journal {
        let v = r["verdict"].as_str().unwrap_or("");
        assert!(
            matches!(v, "confirmed" | "recorded" | "superseded"),
            "unexpected verdict: {r}"
        );
    }

    // No two runs had mutations in flight at once: each run's window, from its first write to
    // the end of its last call (task polling included), is disjoint from every other's.
    let ms = |t: &Value| {
        chrono::DateTime::parse_from_rfc3339(t.as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    let mut windows: Vec<(i64, i64, u64)> = journal
        .iter()
        .filter_map(|r| {
            let calls = r["calls"].as_array()?;
            let first = calls.iter().position(|c| c["mutating"] == true)?;
            let start = ms(&calls[first]["start"]);
            let end = calls
                .iter()
                .map(|c| ms(&c["start"]) + c["duration_ms"].as_i64().unwrap_or(0))
                .max()?;
            Some((start, end, r["seq"].as_u64().unwrap_or(0)))
        })
        .collect();
    assert!(!windows.is_empty(), "no run wrote anything");
    windows.sort();
    for w in windows.windows(2) {
        // 2 ms: the journal's clock readings are in whole milliseconds.
        assert!(
            w[0].1 <= w[1].0 + 2,
            "overlapping mutations: {:?} and {:?}",
            w[0],
            w[1]
        );
    }
    // And the cloud never saw a conflicting write (a second bind, a mutex error).
    for r in ctl.requests() {
        let a = r["action"].as_str().unwrap_or("");
        if !a.starts_with("Describe") {
            assert!(r["code"].is_null(), "a write was refused: {r}");
        }
    }
    let binds = ctl
        .writes()
        .iter()
        .filter(|a| *a == "HaVipAssociateAddressIp")
        .count();
    assert_eq!(binds, 1, "the EIP was bound {binds} times");
}
