//! The figures other benches produce, plugged in one entry each: the audit at scale
//! (`cargo bench --bench audit`) and the idle watcher (`cargo bench --bench watch_footprint`).
//! Each runs only when it exists here; a bench prints one JSON object on a line of its stdout
//! (the last such line counts) and its numeric fields become measurements. Anything that cannot
//! run is listed as not measured, with why. (The end-to-end lab writes a timing table instead:
//! `lab.rs`.)
//!
//! Field names are read by their unit suffix (`_ms`, `_s`; `_bytes`, `_kb`, `_mb`; `_percent`,
//! `_pct`; `_pages`, 4 KiB pages) and their stem: for the audit, `wall…` / `elapsed…` against `floor…` (the time the
//! rate limit alone imposes) and `peak_rss…`; for the watcher `rss…` and `cpu…`.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::{Map, Value};

use crate::stats::{Measurement, NotMeasured, Results, Target};

/// Is `name` a bench target of the package at `root` (a `benches/NAME.rs`, or a `[[bench]]`
/// named so in its Cargo.toml)?
pub fn bench_exists(root: &Path, name: &str) -> bool {
    if root.join("benches").join(format!("{name}.rs")).is_file() {
        return true;
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    manifest.contains(&format!("name = \"{name}\"")) && manifest.contains("[[bench]]")
}

/// The last line of `text` that is a JSON object.
pub fn last_json_object(text: &str) -> Option<Map<String, Value>> {
    text.lines()
        .rev()
        .find_map(|l| match serde_json::from_str(l.trim()) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        })
}

/// A number field in a common unit: seconds for times, MiB for sizes, percent for CPU.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub stem: String,
    pub unit: &'static str,
    pub value: f64,
}

/// The number fields of `obj` in common units. A bench's own statement of a target
/// (`target_…`) is not a figure, nor is a rate (`…_per_s`): both are left out.
pub fn fields(obj: &Map<String, Value>) -> Vec<Field> {
    const UNITS: [(&str, &str, f64); 11] = [
        ("_ms", "s", 1e-3),
        ("_s", "s", 1.0),
        ("_secs", "s", 1.0),
        ("_bytes", "MiB", 1.0 / 1_048_576.0),
        ("_kb", "MiB", 1.0 / 1024.0),
        ("_kib", "MiB", 1.0 / 1024.0),
        ("_mb", "MiB", 1.0),
        ("_mib", "MiB", 1.0),
        ("_percent", "%", 1.0),
        ("_pct", "%", 1.0),
        ("_pages", "pages", 1.0),
    ];
    obj.iter()
        .filter_map(|(k, v)| {
            let n = v.as_f64()?;
            let key = k.to_ascii_lowercase();
            if key.starts_with("target_") || key.ends_with("_per_s") {
                return None;
            }
            let (suffix, unit, scale) = UNITS.iter().find(|(s, ..)| key.ends_with(s))?;
            Some(Field {
                stem: key[..key.len() - suffix.len()].to_owned(),
                unit,
                value: n * scale,
            })
        })
        .collect()
}

fn find<'a>(fields: &'a [Field], unit: &str, stems: &[&str]) -> Option<&'a Field> {
    fields
        .iter()
        .find(|f| f.unit == unit && stems.iter().any(|s| f.stem.contains(s)))
}

/// Runs `cargo bench --bench NAME` in `root`; its JSON line.
fn cargo_bench(root: &Path, name: &str) -> Result<Map<String, Value>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .current_dir(root)
        .args(["bench", "--bench", name])
        .output()
        .with_context(|| format!("running {cargo} bench --bench {name}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "cargo bench --bench {name} exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
    }
    last_json_object(&stdout)
        .with_context(|| format!("cargo bench --bench {name} printed no JSON line"))
}

fn push_fields(res: &mut Results, prefix: &str, title: &str, source: &str, fields: &[Field]) {
    for f in fields {
        res.measurements.push(Measurement {
            name: format!("{prefix}.{}_{}", f.stem, unit_key(f.unit)),
            title: format!("{title}: {}", f.stem.replace('_', " ")),
            unit: f.unit.to_owned(),
            value: f.value,
            target: None,
            source: source.to_owned(),
        });
    }
}

fn unit_key(unit: &str) -> &'static str {
    match unit {
        "s" => "s",
        "MiB" => "mib",
        "pages" => "pages",
        _ => "percent",
    }
}

/// Sets the target on the measurement made from `field`.
fn judge(res: &mut Results, prefix: &str, field: Option<&Field>, target: Target) {
    let Some(f) = field else { return };
    let name = format!("{prefix}.{}_{}", f.stem, unit_key(f.unit));
    if let Some(m) = res.measurements.iter_mut().find(|m| m.name == name) {
        m.target = Some(target);
    }
}

fn not_measured(res: &mut Results, name: &str, title: &str, reason: String, target: &str) {
    eprintln!("  {title}: not measured: {reason}");
    res.not_measured.push(NotMeasured {
        name: name.to_owned(),
        title: title.to_owned(),
        reason,
        target: target.to_owned(),
    });
}

pub fn audit(root: &Path, res: &mut Results) {
    let (title, target) = (
        "audit at scale (10,000 EIPs, 1,000 HAVIPs, 3 regions)",
        "within 10% of the rate-limit floor, peak RSS < 50 MB",
    );
    if !bench_exists(root, "audit") {
        let why = "no `audit` bench target in this checkout (benches/audit.rs, issue 12 item 3)";
        return not_measured(res, "audit", title, why.into(), target);
    }
    let obj = match cargo_bench(root, "audit") {
        Ok(o) => o,
        Err(e) => return not_measured(res, "audit", title, format!("{e:#}"), target),
    };
    let f = fields(&obj);
    push_fields(res, "audit", title, "cargo bench --bench audit", &f);
    let wall = find(&f, "s", &["wall", "elapsed"]);
    let floor = find(&f, "s", &["floor"]);
    if let (Some(w), Some(fl)) = (wall, floor) {
        let t = Target::judged(
            "wall time within 10% of the rate-limit floor",
            w.value <= fl.value * 1.1,
        );
        judge(res, "audit", wall, t);
    }
    let rss = find(&f, "MiB", &["rss", "mem"]);
    let t = rss.map(|r| Target::judged("peak RSS < 50 MB", r.value * 1.048_576 < 50.0));
    if let Some(t) = t {
        judge(res, "audit", rss, t);
    }
}

pub fn watcher(root: &Path, res: &mut Results) {
    let (title, target) = (
        "idle `havip watch` over a minute",
        "RSS < 15 MB, CPU < 0.2%",
    );
    if !bench_exists(root, "watch_footprint") {
        let why = "no `watch_footprint` bench target in this checkout (benches/watch_footprint.rs, issue 12 item 4)";
        return not_measured(res, "watch", title, why.into(), target);
    }
    let obj = match cargo_bench(root, "watch_footprint") {
        Ok(o) => o,
        Err(e) => return not_measured(res, "watch", title, format!("{e:#}"), target),
    };
    let f = fields(&obj);
    push_fields(
        res,
        "watch",
        title,
        "cargo bench --bench watch_footprint",
        &f,
    );
    let rss = find(&f, "MiB", &["rss", "mem"]);
    if let Some(r) = rss {
        let t = Target::judged("RSS < 15 MB", r.value * 1.048_576 < 15.0);
        judge(res, "watch", rss, t);
    }
    let cpu = find(&f, "%", &["cpu"]);
    if let Some(c) = cpu {
        let t = Target::judged("CPU < 0.2%", c.value < 0.2);
        judge(res, "watch", cpu, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_by_suffix_in_common_units() {
        let obj = last_json_object(
            "building…\n{\"wall_ms\": 1500, \"floor_s\": 1.4, \"peak_rss_bytes\": 20971520, \"name\": \"x\", \
             \"target_rss_kb\": 15360, \"rate_limit_per_s\": 20, \"touched_pages\": 285}\ndone\n",
        )
        .unwrap();
        let mut f = fields(&obj);
        f.sort_by(|a, b| a.stem.cmp(&b.stem));
        let want = [
            ("floor", "s", 1.4),
            ("peak_rss", "MiB", 20.0),
            ("touched", "pages", 285.0),
            ("wall", "s", 1.5),
        ];
        assert_eq!(f.len(), 4);
        for (got, (stem, unit, value)) in f.iter().zip(want) {
            assert_eq!((got.stem.as_str(), got.unit), (stem, unit));
            assert!((got.value - value).abs() < 1e-9, "{got:?}");
        }
    }

    #[test]
    fn no_json_line() {
        assert!(last_json_object("plain text\n[1, 2]\n").is_none());
    }
}
