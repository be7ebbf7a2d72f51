//! Item 5, the end-to-end lab (`deploy/lab/e2e.sh`: real keepalived and nginx in network
//! namespaces, tcsim learning their gratuitous ARP, the client reaching the service through
//! the EIP), run when this is root and the lab is here, on the release build. The figures come
//! from the timing table the lab writes, `target/lab/timing.json` (deploy/lab/timing.py): for
//! every switch, keepalived's detection (fault to the new master's transition: the floor havip
//! cannot beat), the cloud confirming the new holder, and havip's share between the two; and
//! how long `havip failover` took for the planned switch.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::stats::{Measurement, NotMeasured, Results, Target};

const TITLE: &str = "end to end (lab, root)";
const E2E_TARGET: &str = "cloud confirmed within 300 ms of keepalived's own detection";
const SWITCH_TARGET: &str = "planned switch < 1.5 s";

/// Switches that are not a plain failover: reported, not judged against the 300 ms target
/// (tcsim throttles and delays every call in "cloud trouble"; in a split brain both nodes
/// claim the VIP; a false master falls back at once, so its own notify may never confirm).
const NOT_JUDGED: [&str; 3] = ["cloud trouble", "split brain", "false master"];

/// `target/lab/timing.json`, as timing.py writes it (times in ms from the fault).
#[derive(Debug, Deserialize)]
pub struct Timing {
    pub planned_switch_ms: Option<f64>,
    pub switches: Vec<Switch>,
}

#[derive(Debug, Deserialize)]
pub struct Switch {
    pub scene: String,
    pub to: String,
    pub detect_ms: Option<f64>,
    pub confirmed_ms: Option<f64>,
    pub outage_ms: Option<f64>,
}

fn run_lab(root: &Path) -> Result<Timing> {
    let out = Command::new("timeout")
        .args(["900", "bash"])
        .arg(root.join("deploy/lab/e2e.sh"))
        .current_dir(root)
        .env("HAVIP_LAB_PROFILE", "release")
        .env("HAVIP_LAB_NO_BUILD", "1")
        // The release build just made, not a package that may be older.
        .env("HAVIP_LAB_DEB", "none")
        .output()
        .context("running deploy/lab/e2e.sh")?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        bail!(
            "deploy/lab/e2e.sh exited {:?}: {}",
            out.status.code(),
            tail.join(" / ")
        );
    }
    let path = root.join("target/lab/timing.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("the lab passed but wrote no {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} does not parse", path.display()))
}

/// A short key for a scene (`1 keepalived stopped` → `1_keepalived_stopped`).
fn slug(scene: &str) -> String {
    let s: String = scene
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    s.split('_')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

fn measure(res: &mut Results, name: &str, title: &str, ms: f64, target: Option<Target>) {
    res.measurements.push(Measurement {
        name: name.to_owned(),
        title: format!("{TITLE}: {title}"),
        unit: "s".to_owned(),
        value: ms / 1e3,
        target,
        source: "deploy/lab/e2e.sh (target/lab/timing.json)".to_owned(),
    });
}

fn skip(res: &mut Results, name: &str, what: &str, reason: &str, target: &str) {
    eprintln!("  {what}: not measured: {reason}");
    res.not_measured.push(NotMeasured {
        name: name.to_owned(),
        title: format!("{TITLE}: {what}"),
        reason: reason.to_owned(),
        target: target.to_owned(),
    });
}

/// The lab's switches as measurements: per scene, keepalived's detection, the cloud's
/// confirmation, and havip's share (judged against the target where the scene is a plain
/// failover); the planned switch judged against its own target.
pub fn record(timing: &Timing, res: &mut Results) {
    for sw in &timing.switches {
        let key = format!("e2e.{}", slug(&sw.scene));
        let what = format!("{} (to {})", sw.scene, sw.to);
        let judged = !NOT_JUDGED.iter().any(|s| sw.scene.contains(s));
        let (Some(d), Some(c)) = (sw.detect_ms, sw.confirmed_ms) else {
            if judged {
                let why = "the lab recorded no detection or no confirmation for this switch";
                skip(res, &key, &what, why, E2E_TARGET);
            }
            continue;
        };
        let target = judged.then(|| Target::judged(E2E_TARGET, c - d <= 300.0));
        measure(
            res,
            &format!("{key}.detect_s"),
            &format!("{what}: keepalived's detection"),
            d,
            None,
        );
        measure(
            res,
            &format!("{key}.confirmed_s"),
            &format!("{what}: fault to the cloud confirming the new holder"),
            c,
            None,
        );
        measure(
            res,
            &format!("{key}.over_detection_s"),
            &format!("{what}: confirmed minus detection (havip's share)"),
            c - d,
            target,
        );
        if let Some(o) = sw.outage_ms {
            measure(
                res,
                &format!("{key}.outage_s"),
                &format!("{what}: the client's outage through the EIP"),
                o,
                None,
            );
        }
    }
    match timing.planned_switch_ms {
        Some(ms) => measure(
            res,
            "e2e.planned_switch_s",
            "planned switch (havip failover, start to return)",
            ms,
            Some(Target::judged(SWITCH_TARGET, ms < 1500.0)),
        ),
        None => skip(
            res,
            "e2e.planned_switch",
            "planned switch",
            "the lab's timing has no planned switch",
            SWITCH_TARGET,
        ),
    }
}

pub fn run(root: &Path, enabled: bool, res: &mut Results) {
    let reason = if !enabled {
        Some("skipped (--no-lab or HAVIP_BENCH_NO_LAB)".to_owned())
    // SAFETY: geteuid(2) only reads the process credentials.
    } else if unsafe { libc::geteuid() } != 0 {
        Some("needs root (network namespaces, keepalived): run `sudo make bench`".to_owned())
    } else if !root.join("deploy/lab/e2e.sh").is_file() {
        Some("deploy/lab/e2e.sh is not in this checkout".to_owned())
    } else {
        None
    };
    match reason.map_or_else(|| run_lab(root).map_err(|e| format!("{e:#}")), Err) {
        Ok(timing) => record(&timing, res),
        Err(why) => {
            skip(
                res,
                "e2e.over_detection",
                "fault to cloud confirmed, over keepalived's detection",
                &why,
                E2E_TARGET,
            );
            skip(
                res,
                "e2e.planned_switch",
                "planned switch",
                &why,
                SWITCH_TARGET,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMING: &str = r#"{"version": 1, "unit": "ms", "columns": {},
      "planned_switch_ms": 336,
      "switches": [
        {"scene": "1 keepalived stopped", "to": "node2", "detect_ms": 228, "cloud_ms": 226,
         "confirmed_ms": 264, "havip_ms": 36, "run_ms": 24, "outage_ms": 245, "note": ""},
        {"scene": "cloud trouble", "to": "node1", "detect_ms": 231, "cloud_ms": 228,
         "confirmed_ms": 6022, "havip_ms": 5791, "run_ms": 5758, "outage_ms": 5712, "note": "x"},
        {"scene": "split brain (both MASTER)", "to": "node1", "detect_ms": 2696,
         "cloud_ms": null, "confirmed_ms": null, "havip_ms": null, "run_ms": null,
         "outage_ms": 0, "note": ""}
      ]}"#;

    fn find<'a>(res: &'a Results, name: &str) -> &'a Measurement {
        res.measurements
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", res.measurements))
    }

    #[test]
    fn the_timing_table_becomes_judged_measurements() {
        let timing: Timing = serde_json::from_str(TIMING).unwrap();
        let mut res = Results::default();
        record(&timing, &mut res);
        let over = find(&res, "e2e.1_keepalived_stopped.over_detection_s");
        assert!((over.value - 0.036).abs() < 1e-9);
        assert_eq!(over.target.as_ref().and_then(|t| t.met), Some(true));
        assert!((find(&res, "e2e.1_keepalived_stopped.detect_s").value - 0.228).abs() < 1e-9);
        // Cloud trouble is slow on purpose: reported, not judged.
        let trouble = find(&res, "e2e.cloud_trouble.over_detection_s");
        assert!(trouble.target.is_none());
        // A failover without a confirmation is listed as not measured, not as zero; a split
        // brain's is only reported when there is one.
        assert!(res.not_measured.is_empty(), "{:?}", res.not_measured);
        assert!(!res
            .measurements
            .iter()
            .any(|m| m.name.starts_with("e2e.split_brain")));
        let planned = find(&res, "e2e.planned_switch_s");
        assert!((planned.value - 0.336).abs() < 1e-9);
        assert_eq!(planned.target.as_ref().and_then(|t| t.met), Some(true));
    }

    #[test]
    fn a_share_over_300_ms_misses_the_target() {
        let mut timing: Timing = serde_json::from_str(TIMING).unwrap();
        timing.switches[0].confirmed_ms = Some(600.0);
        timing.planned_switch_ms = None;
        let mut res = Results::default();
        record(&timing, &mut res);
        let over = find(&res, "e2e.1_keepalived_stopped.over_detection_s");
        assert_eq!(over.target.as_ref().and_then(|t| t.met), Some(false));
        assert!(res
            .not_measured
            .iter()
            .any(|n| n.name == "e2e.planned_switch"));
        // A plain failover that never confirmed is not measured (not a zero).
        timing.switches[0].confirmed_ms = None;
        let mut res = Results::default();
        record(&timing, &mut res);
        assert!(res
            .not_measured
            .iter()
            .any(|n| n.name == "e2e.1_keepalived_stopped"));
    }
}
