//! Item 5, the end-to-end lab (`deploy/lab/e2e.sh`: real keepalived and nginx in network
//! namespaces, tcsim learning their gratuitous ARP), run when this is root and the lab is
//! here. Figures come from a JSON line the lab prints (`detect…`, `confirm…`,
//! `planned_switch…` fields, as in `external.rs`); failing that, from the lines it prints today:
//! `scene N: cloud followed in N ms` (fault to the cloud confirmed and the client served) and the
//! planned switch as `havip failover` reports it (`… CONFIRMED in X.XXs: … moved …`).

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::external::{fields, last_json_object};
use crate::stats::{Measurement, NotMeasured, Results, Target};

const TITLE: &str = "end to end (lab, root)";
const E2E_TARGET: &str = "within 300 ms of keepalived's own detection time";
const SWITCH_TARGET: &str = "planned switch < 1.5 s";

fn run_lab(root: &Path) -> Result<String> {
    let out = Command::new("timeout")
        .args(["900", "bash"])
        .arg(root.join("deploy/lab/e2e.sh"))
        .current_dir(root)
        .env("HAVIP_LAB_PROFILE", "release")
        .env("HAVIP_LAB_NO_BUILD", "1")
        .output()
        .context("running deploy/lab/e2e.sh")?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        bail!(
            "deploy/lab/e2e.sh exited {:?}: {}",
            out.status.code(),
            tail.join(" / ")
        );
    }
    Ok(stdout)
}

/// `N` from `… scene S: cloud followed in N ms …`.
fn scene_ms(out: &str, scene: u32) -> Option<f64> {
    let key = format!("scene {scene}: cloud followed in ");
    let line = out.lines().find(|l| l.contains(&key))?;
    let rest = &line[line.find(&key)? + key.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// The seconds `havip failover` reported: `…: CONFIRMED in X.XXs: … moved from …`.
fn planned_switch_s(out: &str) -> Option<f64> {
    let line = out
        .lines()
        .find(|l| l.contains("CONFIRMED in") && l.contains(" moved from "))?;
    let rest = &line[line.find("CONFIRMED in ")? + "CONFIRMED in ".len()..];
    rest.split('s').next()?.trim().parse().ok()
}

fn measure(res: &mut Results, name: &str, title: &str, value: f64, target: Option<Target>) {
    res.measurements.push(Measurement {
        name: name.to_owned(),
        title: format!("{TITLE}: {title}"),
        unit: "s".to_owned(),
        value,
        target,
        source: "deploy/lab/e2e.sh".to_owned(),
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
    let out = match reason.map_or_else(|| run_lab(root).map_err(|e| format!("{e:#}")), Err) {
        Ok(o) => o,
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
            return;
        }
    };
    let json = last_json_object(&out)
        .map(|o| fields(&o))
        .unwrap_or_default();
    let get = |stem: &str| {
        json.iter()
            .find(|f| f.unit == "s" && f.stem.contains(stem))
            .map(|f| f.value)
    };
    match (get("detect"), get("confirm")) {
        (Some(d), Some(c)) => {
            measure(res, "e2e.detect_s", "keepalived's detection", d, None);
            let t = Target::judged(E2E_TARGET, c - d <= 0.3);
            measure(
                res,
                "e2e.confirm_s",
                "fault to the cloud confirming the new holder",
                c,
                Some(t),
            );
        }
        _ => {
            for (scene, what) in [(1, "keepalived stopped"), (2, "nginx stopped")] {
                if let Some(ms) = scene_ms(&out, scene) {
                    let t = format!(
                        "scene {scene} ({what}): fault to cloud confirmed and client served"
                    );
                    measure(res, &format!("e2e.scene{scene}_s"), &t, ms / 1e3, None);
                }
            }
            let why = "the lab prints no keepalived detection time yet (a JSON line with detect_ms and confirm_ms)";
            skip(
                res,
                "e2e.over_detection",
                "fault to cloud confirmed, over keepalived's detection",
                why,
                E2E_TARGET,
            );
        }
    }
    match get("planned_switch").or_else(|| planned_switch_s(&out)) {
        Some(s) => measure(
            res,
            "e2e.planned_switch_s",
            "planned switch (havip failover)",
            s,
            Some(Target::judged(SWITCH_TARGET, s < 1.5)),
        ),
        None => skip(
            res,
            "e2e.planned_switch",
            "planned switch",
            "the lab's output has no planned-switch time",
            SWITCH_TARGET,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_todays_lab_lines() {
        let out = "[  12s] scene 1: cloud followed in 2140 ms (stop -> notify confirmed -> client served)\n\
                   [  40s] scene 2: cloud followed in 6120 ms (nginx stop -> ...)\n\
                   \x20  iam: CONFIRMED in 1.23s: iam moved from ins-iam00020 to ins-iam00021 in 1.2s\n";
        assert_eq!(scene_ms(out, 1), Some(2140.0));
        assert_eq!(scene_ms(out, 2), Some(6120.0));
        assert_eq!(scene_ms(out, 3), None);
        assert_eq!(planned_switch_s(out), Some(1.23));
    }
}
