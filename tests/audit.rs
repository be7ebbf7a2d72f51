//! `havip audit` (issue 9), the real binary against tcsim in process: every finding kind, each
//! exit status, several regions at once, a region that fails (partial, 3), throttling during the
//! scan (retried, complete), pages across their boundaries, the JSON against its documented shape
//! (docs/audit.md), the Prometheus output through a real parser and written atomically. Every
//! test ends by checking tcsim's request log: the audit never wrote to the cloud.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{json, Value};
use support::bin::{Havip, Run};
use support::sim::Ctl;
use tcsim::scenario::SEED_TOML;
use tcsim::state::Association;
use tcsim::testing::SimHandle;

/// tcsim with the seed deployment plus `extra` TOML (more resources); the temp dir holds the file.
fn sim_with(extra: &str) -> (SimHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("scenario.toml");
    std::fs::write(&path, format!("{SEED_TOML}\n{extra}")).expect("write scenario");
    let sim = SimHandle::start(path.to_str().expect("utf-8 path"));
    (sim, dir)
}

/// `havip --endpoint URL audit ARGS…` with the example keys and no configuration.
fn audit(sim: &SimHandle, args: &[&str]) -> Run {
    let run = Havip::new()
        .with_keys()
        .args(["--endpoint", &sim.url(), "audit"])
        .args(args)
        .run();
    assert!(
        !run.stderr.contains('\r'),
        "no progress line without a terminal: {}",
        run.stderr
    );
    run
}

/// The audit of the seed region as JSON.
fn audit_json(sim: &SimHandle, args: &[&str], code: i32) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    if !args.contains(&"--region") && !args.contains(&"--all-regions") {
        all.extend_from_slice(&["--region", "ap-guangzhou"]);
    }
    let run = audit(sim, &all);
    run.assert_code(code);
    run.json()
}

/// (kind, severity, resource_id) of each finding, in the report's order.
fn findings(report: &Value) -> Vec<(String, String, String)> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (s("kind"), s("severity"), s("resource_id"))
        })
        .collect()
}

fn finding(kind: &str, severity: &str, id: &str) -> (String, String, String) {
    (kind.into(), severity.into(), id.into())
}

/// Nothing but Describe* reached the cloud.
#[track_caller]
fn assert_read_only(sim: &SimHandle) {
    let ctl = Ctl(sim);
    assert!(
        ctl.writes().is_empty(),
        "the audit wrote: {:?}",
        ctl.writes()
    );
    assert!(!ctl.requests().is_empty(), "the audit read nothing");
}

#[test]
fn the_seed_has_one_idle_eip_a_warning_exit_1() {
    let sim = SimHandle::start("seed");
    let report = audit_json(&sim, &[], 1);
    assert_eq!(
        findings(&report),
        [finding("idle_eip_unbound", "warning", "eip-idle0001")]
    );
    let f = &report["findings"][0];
    assert_eq!(f["cost_cny_per_hour"], json!(0.2));
    assert_eq!(f["cost_cny_per_30d"], json!(144.0));
    assert_eq!(f["address_ip"], "106.52.252.140");
    assert_eq!(report["summary"]["idle_eips"], 1);
    assert_eq!(report["summary"]["cost_cny_per_30d"], json!(144.0));
    assert_eq!(report["partial"], false);
    // The price is the caller's.
    let report = audit_json(&sim, &["--price-cny-per-hour", "0.5"], 1);
    assert_eq!(report["summary"]["cost_cny_per_hour"], json!(0.5));
    assert_eq!(report["summary"]["cost_cny_per_30d"], json!(360.0));
    assert_read_only(&sim);
}

#[test]
fn a_clean_deployment_exits_0() {
    let sim = SimHandle::start("seed");
    sim.sim()
        .world()
        .addresses
        .retain(|a| a.id != "eip-idle0001");
    let run = audit(&sim, &["--region", "ap-guangzhou"]);
    run.assert_code(0);
    assert!(
        run.stdout
            .starts_with("OK: 1 of 1 regions read, 0 findings"),
        "{}",
        run.stdout
    );
    assert_read_only(&sim);
}

/// An EIP on a HAVIP that nobody holds is billed and serves nothing: critical, exit 2.
#[test]
fn an_eip_on_a_holderless_havip_is_critical_exit_2() {
    let sim = SimHandle::start("seed");
    Ctl(&sim).stop_instance("ins-iam00020");
    let report = audit_json(&sim, &[], 2);
    assert_eq!(
        findings(&report),
        [
            finding("idle_eip_holderless_havip", "critical", "eip-iam00139"),
            finding("idle_eip_unbound", "warning", "eip-idle0001"),
            finding("havip_no_holder", "warning", "havip-iam00099"),
        ]
    );
    assert_eq!(report["summary"]["idle_eips"], 2);
    assert_eq!(report["summary"]["critical"], 1);
    let run = audit(&sim, &["--region", "ap-guangzhou"]);
    run.assert_code(2);
    assert!(run.stdout.contains("CRITICAL: "), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("idle_eip_holderless_havip  ap-guangzhou  eip-iam00139"),
        "{}",
        run.stdout
    );
    assert_read_only(&sim);
}

/// Resources that give every finding kind but the configured ones.
const EVERY_KIND: &str = r#"
[[enis]]
id = "eni-dangle01"
subnet_id = "subnet-iam00004"
mac = "52:54:00:00:04:30"
ips = ["10.0.4.30"]

[[addresses]]
id = "eip-dangle01"
ip = "106.52.252.150"
bind_eni = "eni-dangle01"

[[addresses]]
id = "eip-arrears1"
ip = "106.52.252.151"
bind_instance = "ins-iam00021"
is_arrears = true

[[addresses]]
id = "eip-blocked1"
ip = "106.52.252.152"
region = "ap-guangzhou"
is_blocked = true

[[havips]]
id = "havip-empty001"
subnet_id = "subnet-iam00004"
vip = "10.0.4.97"
check_associate = true
drift_range = []

[[havips]]
id = "havip-free0001"
subnet_id = "subnet-iam00004"
vip = "10.0.4.96"
check_associate = true
drift_range = ["ins-iam00021"]

[[addresses]]
id = "eip-onfree01"
ip = "106.52.252.153"
bind_havip = "havip-free0001"
"#;

/// A configuration whose `[[vip]]`s expect an EIP on a HAVIP without one, and on one that
/// does not exist.
fn config(url: &str) -> String {
    format!(
        r#"endpoint = "{url}"
region = "ap-guangzhou"

[node]
instance_id = "ins-iam00021"

[[vip]]
name = "web"
vrrp_instance = "VI_1"
strategy = "havip"
havip_id = "havip-empty001"
eip = "106.52.252.199"

[[vip]]
name = "db"
vrrp_instance = "VI_2"
strategy = "havip"
havip_id = "havip-gone0001"
eip = "106.52.252.198"
"#
    )
}

#[test]
fn every_finding_kind() {
    let (sim, _dir) = sim_with(EVERY_KIND);
    // A drift range that names an ENI that is gone (the API would have refused to add it; it
    // was deleted after).
    sim.sim()
        .world()
        .havip_mut("havip-iam00099")
        .expect("seed HAVIP")
        .associations
        .push(Association {
            instance_id: "eni-gone0001".into(),
            instance_type: "ENI".into(),
        });
    let h = Havip::new().with_keys();
    let cfg = h.write_file("havip.toml", &config(&sim.url()), 0o600);
    let run = h
        .args([
            "--config",
            cfg.to_str().expect("utf-8"),
            "audit",
            "--format",
            "json",
        ])
        .run();
    run.assert_code(2);
    let report = run.json();
    let got: BTreeSet<_> = findings(&report).into_iter().collect();
    let want: BTreeSet<_> = [
        finding("idle_eip_holderless_havip", "critical", "eip-onfree01"),
        finding("havip_missing_eip", "critical", "havip-empty001"),
        finding("havip_not_found", "critical", "havip-gone0001"),
        finding("eip_in_arrears", "critical", "eip-arrears1"),
        finding("idle_eip_unbound", "warning", "eip-idle0001"),
        finding("idle_eip_unbound", "warning", "eip-blocked1"),
        finding("idle_eip_dangling_eni", "warning", "eip-dangle01"),
        finding("havip_no_holder", "warning", "havip-empty001"),
        finding("havip_no_holder", "warning", "havip-free0001"),
        finding("havip_empty_drift_range", "warning", "havip-empty001"),
        finding("havip_stale_drift_member", "warning", "havip-iam00099"),
        finding("eip_blocked", "warning", "eip-blocked1"),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
    let kinds: BTreeSet<_> = got.iter().map(|(k, _, _)| k.as_str()).collect();
    assert_eq!(kinds.len(), 10, "every kind: {kinds:?}");
    let stale = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "havip_stale_drift_member")
        .unwrap();
    assert!(
        stale["detail"].as_str().unwrap().contains("eni-gone0001"),
        "{stale}"
    );
    assert_eq!(
        report["regions"][0]["enis"], 3,
        "ENIs read for the drift ranges"
    );
    assert_read_only(&sim);
}

/// Unbound EIPs in another region than the seed's.
fn shanghai_eips(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "[[addresses]]\nid = \"eip-sh{i:06}\"\nip = \"106.53.{}.{}\"\nregion = \"ap-shanghai\"\n",
                i / 250,
                i % 250 + 1
            )
        })
        .collect()
}

#[test]
fn regions_are_scanned_together_and_a_failed_region_makes_the_audit_partial() {
    let (sim, _dir) = sim_with(&shanghai_eips(3));
    let regions = ["--region", "ap-guangzhou", "--region", "ap-shanghai"];
    let report = audit_json(&sim, &regions, 1);
    let per_region: Vec<_> = report["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["region"].clone(),
                r["eips"].clone(),
                r["complete"].clone(),
            )
        })
        .collect();
    assert_eq!(
        per_region,
        [
            (json!("ap-guangzhou"), json!(2), json!(true)),
            (json!("ap-shanghai"), json!(3), json!(true)),
        ]
    );
    assert_eq!(report["summary"]["idle_eips"], 4);
    let asked: BTreeSet<_> = Ctl(&sim)
        .requests_for("DescribeAddresses")
        .iter()
        .map(|r| r["region"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        asked,
        BTreeSet::from(["ap-guangzhou".into(), "ap-shanghai".into()])
    );

    // A region the cloud refuses: what was read is printed, marked partial, exit 3.
    let mut args = regions.to_vec();
    args.extend(["--region", "xx-nowhere-1"]);
    let report = audit_json(&sim, &args, 3);
    assert_eq!(report["partial"], true);
    assert_eq!(report["summary"]["regions_failed"], 1);
    assert_eq!(
        report["summary"]["idle_eips"], 4,
        "the other regions' findings"
    );
    let failed = &report["regions"][2];
    assert_eq!(
        (failed["region"].as_str(), failed["complete"].as_bool()),
        (Some("xx-nowhere-1"), Some(false))
    );
    assert!(
        failed["error"]
            .as_str()
            .unwrap()
            .contains("UnsupportedRegion"),
        "{failed}"
    );
    let run = audit(&sim, &args);
    run.assert_code(3);
    assert!(
        run.stdout.contains("PARTIAL: 2 of 3 regions read"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("xx-nowhere-1"), "{}", run.stderr);
    assert_read_only(&sim);
}

#[test]
fn throttling_during_the_scan_is_retried_and_the_audit_completes() {
    let (sim, _dir) = sim_with(&shanghai_eips(150));
    let ctl = Ctl(&sim);
    ctl.fault(json!({"action": "DescribeAddresses", "count": 3, "error": "RequestLimitExceeded"}));
    // And tcsim's own limit, below the audit's pace, for the HAVIPs.
    sim.set_settings(json!({"rate_limits": {"DescribeHaVips": 1}}))
        .expect("settings");
    let regions = [
        "--region",
        "ap-guangzhou",
        "--region",
        "ap-shanghai",
        "--rate-limit",
        "50",
    ];
    let report = audit_json(&sim, &regions, 1);
    assert_eq!(report["partial"], false);
    assert_eq!(report["summary"]["idle_eips"], 151);
    let codes: Vec<_> = ctl
        .requests_for("DescribeAddresses")
        .iter()
        .map(|r| r["code"].clone())
        .collect();
    let throttled = codes
        .iter()
        .filter(|c| **c == "RequestLimitExceeded")
        .count();
    assert_eq!(throttled, 3, "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| c.is_null()).count(),
        3,
        "three pages read"
    );
    let havip_codes: Vec<_> = ctl
        .requests_for("DescribeHaVips")
        .iter()
        .map(|r| r["code"].clone())
        .collect();
    assert!(
        havip_codes.iter().filter(|c| c.is_null()).count() == 2,
        "one page per region: {havip_codes:?}"
    );
    assert_read_only(&sim);
}

#[test]
fn pages_follow_total_count_across_their_boundaries() {
    // 200 EIPs in the seed region (two full pages: no third request) and 101 in Shanghai (a
    // full page and one more).
    let extra: String = (0..198)
        .map(|i| {
            format!(
                "[[addresses]]\nid = \"eip-gz{i:06}\"\nip = \"106.54.0.{}\"\nregion = \"ap-guangzhou\"\n",
                i + 1
            )
        })
        .collect();
    let (sim, _dir) = sim_with(&(extra + &shanghai_eips(101)));
    let regions = [
        "--region",
        "ap-guangzhou",
        "--region",
        "ap-shanghai",
        "--rate-limit",
        "100",
    ];
    let report = audit_json(&sim, &regions, 1);
    let eips: Vec<_> = report["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["eips"].clone())
        .collect();
    assert_eq!(eips, [json!(200), json!(101)]);
    assert_eq!(report["summary"]["idle_eips"], 199 + 101);
    let mut offsets: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in Ctl(&sim).requests_for("DescribeAddresses") {
        assert_eq!(r["params"]["Limit"], 100);
        offsets
            .entry(r["region"].as_str().unwrap().to_string())
            .or_default()
            .push(r["params"]["Offset"].as_u64().unwrap());
    }
    assert_eq!(offsets["ap-guangzhou"], [0, 100]);
    assert_eq!(offsets["ap-shanghai"], [0, 100]);
    let ids: BTreeSet<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["resource_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 300, "no EIP twice, none missing");
    assert_read_only(&sim);
}

/// Keys documented as "… or null", with their type when not null (docs/audit.md).
const NULLABLE: &[(&str, &str)] = &[
    ("since", "string"),
    ("cost_cny_per_hour", "number"),
    ("cost_cny_per_30d", "number"),
    ("address_ip", "string"),
    ("enis", "number"),
    ("error", "string"),
];

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `got` has exactly the keys of `doc` at every level, and the same JSON types (or null where
/// documented); arrays are checked element by element against the documented first element.
fn same_shape(path: &str, doc: &Value, got: &Value) {
    match (doc, got) {
        (Value::Object(d), Value::Object(g)) => {
            let dk: BTreeSet<_> = d.keys().collect();
            let gk: BTreeSet<_> = g.keys().collect();
            assert_eq!(dk, gk, "keys of {path}");
            for (k, v) in d {
                let key = k.as_str();
                if let Some((_, ty)) = NULLABLE.iter().find(|(n, _)| *n == key) {
                    let got = type_name(&g[key]);
                    assert!(
                        got == "null" || got == *ty,
                        "{path}.{k}: {ty} or null, got {got}"
                    );
                    continue;
                }
                same_shape(&format!("{path}.{k}"), v, &g[key]);
            }
        }
        (Value::Array(d), Value::Array(g)) => {
            for (i, item) in g.iter().enumerate() {
                same_shape(&format!("{path}[{i}]"), &d[0], item);
            }
        }
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_)) => {}
        _ => panic!("{path}: documented as {doc}, got {got}"),
    }
}

/// The first ```json block of docs/audit.md.
fn documented_json() -> Value {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/audit.md"))
        .expect("docs/audit.md");
    let start = doc.find("```json\n").expect("a json block") + "```json\n".len();
    let end = start + doc[start..].find("```").expect("its end");
    serde_json::from_str(&doc[start..end]).expect("the documented JSON parses")
}

#[test]
fn the_json_has_the_documented_shape() {
    let (sim, _dir) = sim_with(EVERY_KIND);
    Ctl(&sim).stop_instance("ins-iam00020");
    let doc = documented_json();
    let report = audit_json(&sim, &[], 2);
    assert!(report["findings"].as_array().unwrap().len() > 5);
    same_shape("$", &doc, &report);
    // A failed region shows its error and no ENI count.
    let partial = audit_json(
        &sim,
        &["--region", "ap-guangzhou", "--region", "xx-nowhere-1"],
        3,
    );
    same_shape("$", &doc, &partial);
    assert!(partial["regions"][1]["error"].is_string());
    assert_read_only(&sim);
}

/// Lines of a Prometheus text file that hold samples (not comments, not blank).
fn sample_lines(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count()
}

#[test]
fn prometheus_output_parses_and_is_written_atomically() {
    let sim = SimHandle::start("seed");
    Ctl(&sim).stop_instance("ins-iam00020");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("havip_audit.prom");
    std::fs::write(&out, "old contents\n").expect("old file");
    let out_arg = out.to_str().expect("utf-8");
    let run = audit(
        &sim,
        &[
            "--region",
            "ap-guangzhou",
            "--format",
            "prometheus",
            "--output",
            out_arg,
        ],
    );
    run.assert_code(2);
    assert!(run.stdout.is_empty(), "with --output, nothing on stdout");
    let text = std::fs::read_to_string(&out).expect("written");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["havip_audit.prom"], "no temp file left behind");
    let scrape =
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("parses");
    assert_eq!(
        scrape.samples.len(),
        sample_lines(&text),
        "every sample line parsed:\n{text}"
    );
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
            .unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"));
        match s.value {
            prometheus_parse::Value::Gauge(v) => v,
            ref other => panic!("{name} is not a gauge: {other:?}"),
        }
    };
    let gz = [("region", "ap-guangzhou")];
    assert_eq!(value("havip_audit_idle_eips", &gz), 2.0);
    assert_eq!(value("havip_audit_idle_eip_cost_cny_per_30d", &gz), 288.0);
    let critical = [
        ("kind", "idle_eip_holderless_havip"),
        ("severity", "critical"),
        ("region", "ap-guangzhou"),
    ];
    assert_eq!(value("havip_audit_findings", &critical), 1.0);
    assert_eq!(value("havip_audit_region_complete", &gz), 1.0);
    assert_eq!(value("havip_audit_partial", &[]), 0.0);
    assert!(value("havip_audit_last_run_timestamp_seconds", &[]) > 1.7e9);
    assert!(
        scrape.docs.contains_key("havip_audit_findings"),
        "HELP lines"
    );
    promtool_check(&text);

    // An output that cannot be written: exit 3, the old file untouched.
    let bad = dir.path().join("missing-dir/havip_audit.prom");
    let run = audit(
        &sim,
        &[
            "--region",
            "ap-guangzhou",
            "--format",
            "prometheus",
            "--output",
            bad.to_str().unwrap(),
        ],
    );
    run.assert_code(3);
    assert!(run.stderr.contains("missing-dir"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), text);
    assert_read_only(&sim);
}

/// Debian's `promtool check metrics`, when installed (the `prometheus` package); the parser
/// above runs either way.
fn promtool_check(text: &str) {
    use std::io::Write;
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("promtool is not installed (apt-get install prometheus): skipping its check");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn all_regions_come_from_describe_regions() {
    let (sim, _dir) = sim_with(&shanghai_eips(2));
    let run = Havip::new()
        .with_keys()
        .env("TENCENTCLOUD_REGION", "ap-guangzhou")
        .args([
            "--endpoint",
            &sim.url(),
            "audit",
            "--all-regions",
            "--format",
            "json",
        ])
        .run();
    run.assert_code(1);
    let report = run.json();
    let regions: Vec<_> = report["regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["region"].as_str().unwrap().to_string())
        .collect();
    assert!(regions.len() > 10, "{regions:?}");
    assert!(regions.contains(&"ap-shanghai".to_string()));
    assert_eq!(report["summary"]["idle_eips"], 3);
    assert_eq!(Ctl(&sim).requests_for("DescribeRegions").len(), 1);
    assert_read_only(&sim);
}

#[test]
fn bad_input_is_refused_before_any_call() {
    let sim = SimHandle::start("seed");
    for (args, needle) in [
        (
            vec!["--all-regions", "--region", "ap-guangzhou"],
            "--all-regions",
        ),
        (vec!["--price-cny-per-hour=-1"], "price"),
        (vec!["--price-cny-per-hour", "NaN"], "price"),
        (vec!["--rate-limit", "0"], "rate-limit"),
        (vec!["--format", "xml"], "xml"),
        (vec!["--region", "ap guangzhou"], "region"),
    ] {
        let run = audit(&sim, &args);
        assert!(
            run.code == Some(2) && run.all_output().contains(needle),
            "{args:?}: {run:?}"
        );
    }
    // Several regions are only for the audit.
    let run = Havip::new()
        .with_keys()
        .args([
            "--endpoint",
            &sim.url(),
            "--region",
            "a",
            "--region",
            "b",
            "api",
            "vpc",
            "DescribeHaVips",
        ])
        .run();
    run.assert_code(2);
    assert!(run.stderr.contains("only `havip audit`"), "{}", run.stderr);
    assert!(Ctl(&sim).requests().is_empty(), "nothing was sent");
}
