//! tcsim in process: the seed deployment's names, a node of it (config, state dir and the real
//! binary), and [`Ctl`], the control API's JSON answers straight from [`SimHandle`]'s methods.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;
use tcsim::testing::SimHandle;

use super::bin::{Havip, Run};

/// The seed's nodes.
pub const NODE20: &str = "ins-iam00020";
pub const NODE21: &str = "ins-iam00021";
pub const MAC20: &str = "52:54:00:00:04:20";
pub const MAC21: &str = "52:54:00:00:04:21";
pub const HAVIP: &str = "havip-iam00099";
pub const VIP: &str = "10.0.4.99";
pub const EIP: &str = "106.52.252.139";
/// The seed's EIP on the HAVIP.
pub const EIP_ID: &str = "eip-iam00139";

/// The minimal configuration of issue 4 (`deploy/havip.minimal.toml`, the file the README and
/// `make demo` show) with `PORT` filled in, this node's instance, and `extra` lines appended to
/// the `[[vip]]` table.
pub fn minimal_config(url: &str, instance: &str, extra: &str) -> String {
    let text = include_str!("../../deploy/havip.minimal.toml")
        .replace("http://127.0.0.1:PORT", url)
        .replace("ins-iam00021", instance);
    format!("{text}{extra}")
}

/// The seed's idle EIP, used by the `eip` strategy.
pub const PUB_EIP: &str = "106.52.252.140";
/// The seed's secondary private IP (on node .20's ENI), used by the `private-ip` strategy.
pub const SECONDARY: &str = "10.0.4.98";

/// A `private-ip` VIP (`app`, `VI_2`) moving [`SECONDARY`]; `eni` pins this node's ENI.
pub fn private_ip_config(url: &str, instance: &str, eni: Option<&str>) -> String {
    let eni = eni
        .map(|e| format!("eni_id = \"{e}\"\n"))
        .unwrap_or_default();
    format!(
        r#"endpoint = "{url}"
region = "ap-guangzhou"

[node]
instance_id = "{instance}"
{eni}
[[vip]]
name = "app"
vrrp_instance = "VI_2"
strategy = "private-ip"
private_ip = "{SECONDARY}"
deadline = "20s"
"#
    )
}

/// An `eip` VIP (`pub`, `VI_3`) moving [`PUB_EIP`] onto `private_ip`.
pub fn eip_config(url: &str, instance: &str, private_ip: &str) -> String {
    format!(
        r#"endpoint = "{url}"
region = "ap-guangzhou"

[node]
instance_id = "{instance}"

[[vip]]
name = "pub"
vrrp_instance = "VI_3"
strategy = "eip"
eip = "{PUB_EIP}"
private_ip = "{private_ip}"
deadline = "20s"
"#
    )
}

/// The ENIs tcsim shows carrying private IP `ip`.
pub fn enis_with(ctl: &Ctl, ip: &str) -> Vec<String> {
    ctl.state()["enis"]
        .as_array()
        .map(|enis| {
            enis.iter()
                .filter(|e| {
                    e["private_ips"]
                        .as_array()
                        .is_some_and(|ips| ips.iter().any(|p| p["ip"] == ip))
                })
                .filter_map(|e| e["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// One node of the deployment: a tcsim URL, a state dir and a config file in a temp dir.
pub struct Node {
    pub dir: tempfile::TempDir,
    pub url: String,
    pub instance: String,
    metadata: String,
}

impl Node {
    /// A node named `instance` with the given config text.
    pub fn new(sim: &SimHandle, instance: &str, config: &str) -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("havip.toml"), config).expect("write config");
        Node {
            dir,
            url: sim.url(),
            instance: instance.to_string(),
            metadata: sim.metadata_url(instance),
        }
    }

    /// The issue's minimal config for `instance`, plus `extra` VIP keys.
    pub fn minimal(sim: &SimHandle, instance: &str, extra: &str) -> Node {
        let cfg = minimal_config(&sim.url(), instance, extra);
        Node::new(sim, instance, &cfg)
    }

    /// Like [`Node::minimal`], with an exec alert target recording into [`Node::alerts_file`].
    pub fn with_alerts(
        sim: &SimHandle,
        instance: &str,
        config: impl FnOnce(&str) -> String,
    ) -> Node {
        let node = Node::minimal(sim, instance, "");
        let text = config(&minimal_config(&sim.url(), instance, "")) + &node.alert_section();
        node.write_config(&text);
        node
    }

    /// Runs `havip --endpoint URL api vpc ACTION PARAMS` (a signed call to arrange the cloud).
    pub fn api(&self, action: &str, params: &Value) -> Value {
        let r = self.run(&[
            "--endpoint",
            &self.url.clone(),
            "api",
            "vpc",
            action,
            &params.to_string(),
        ]);
        r.assert_code(0);
        serde_json::from_str(&r.stdout).expect("api prints JSON")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("havip.toml")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Replaces the config file.
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config_path(), text).expect("write config");
    }

    /// `havip` as this node, without arguments: HOME is the node's dir, the example keys, the
    /// node's state dir and its instance's metadata service.
    pub fn havip(&self) -> Havip {
        Havip::at(self.dir.path())
            .with_keys()
            .env("HAVIP_STATE_DIR", self.state_dir())
            .env("HAVIP_METADATA_ENDPOINT", &self.metadata)
    }

    /// `havip --config FILE ARGS…` as this node.
    pub fn command(&self, args: &[&str]) -> Havip {
        self.havip()
            .arg("--config")
            .arg(self.config_path())
            .args(args)
    }

    /// Runs `havip ARGS…` and waits.
    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args).run()
    }

    /// Starts `havip ARGS…` without waiting.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).spawn()
    }

    /// The journal's run records (one per event or command) as JSON values.
    pub fn journal(&self) -> Vec<Value> {
        self.journal_lines()
            .into_iter()
            .filter(|l| l.get("write").is_none())
            .collect()
    }

    /// Every journal line: run records and the intent/outcome records around each write.
    pub fn journal_lines(&self) -> Vec<Value> {
        match std::fs::read_to_string(self.state_dir().join("journal.jsonl")) {
            Ok(s) => s
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).expect("journal line is JSON"))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// The file the exec alert target of [`Node::alert_section`] appends each alert to.
    pub fn alerts_file(&self) -> PathBuf {
        self.dir.path().join("alerts.jsonl")
    }

    /// Config text for an `[[alert]]` exec target writing to [`Node::alerts_file`].
    pub fn alert_section(&self) -> String {
        format!(
            "\n[[alert]]\ntype = \"exec\"\ncommand = [\"sh\", \"-c\", \"cat >> '{}'; echo >> '{}'\"]\n",
            self.alerts_file().display(),
            self.alerts_file().display()
        )
    }

    /// The alerts delivered so far.
    pub fn alerts(&self) -> Vec<Value> {
        match std::fs::read_to_string(self.alerts_file()) {
            Ok(s) => s
                .lines()
                .filter(|l| !l.trim().is_empty())
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// tcsim's control API for assertions: each method is one [`SimHandle`] method, answering with
/// the JSON the `/_sim/` endpoint would (so tests read `r["action"]`, `["moved"]`, …).
pub struct Ctl<'a>(pub &'a SimHandle);

impl Ctl<'_> {
    /// Plays keepalived's gratuitous ARP for `ip` from `mac` (`POST /_sim/arp`).
    pub fn arp(&self, ip: &str, mac: &str) -> Value {
        serde_json::to_value(self.0.arp(ip, mac)).expect("ARP outcome as JSON")
    }

    /// Installs a fault rule (`POST /_sim/faults`); its id.
    #[track_caller]
    pub fn fault(&self, spec: Value) -> u64 {
        match self.0.add_fault(spec.clone()) {
            Ok(rule) => rule.id,
            Err(e) => panic!("fault {spec}: {e}"),
        }
    }

    /// Removes one fault rule (`DELETE /_sim/faults/<id>`).
    #[track_caller]
    pub fn remove_fault(&self, id: u64) {
        assert!(self.0.remove_fault(id), "no fault rule {id}");
    }

    pub fn clear_faults(&self) {
        self.0.clear_faults();
    }

    /// Merges `v` into the scenario's settings (e.g. `{"task_duration_ms": 1500}`).
    #[track_caller]
    pub fn settings(&self, v: Value) {
        if let Err(e) = self.0.set_settings(v.clone()) {
            panic!("settings {v}: {e}");
        }
    }

    /// Runs the simulated clock `offset_s` seconds ahead (`POST /_sim/clock`).
    pub fn clock(&self, offset_s: i64) {
        self.0.set_clock_offset_s(offset_s);
    }

    /// Stops an instance (`POST /_sim/instances/<id>/stop`); the answer's JSON.
    #[track_caller]
    pub fn stop_instance(&self, id: &str) -> Value {
        let cleared = self
            .0
            .stop_instance(id)
            .unwrap_or_else(|| panic!("no instance {id}"));
        serde_json::json!({"instance_id": id, "state": "STOPPED", "havips_cleared": cleared})
    }

    /// The request log.
    pub fn requests(&self) -> Vec<Value> {
        self.0
            .requests()
            .iter()
            .map(|r| serde_json::to_value(r).expect("log entry as JSON"))
            .collect()
    }

    /// The logged requests for `action`, oldest first.
    pub fn requests_for(&self, action: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["action"] == action)
            .collect()
    }

    pub fn clear_requests(&self) {
        self.0.clear_requests();
    }

    /// Actions in the log that can change the cloud (and were accepted or not).
    pub fn writes(&self) -> Vec<String> {
        self.actions()
            .into_iter()
            .filter(|a| !a.starts_with("Describe"))
            .collect()
    }

    /// The actions of the API requests tcsim logged, in order.
    pub fn actions(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter_map(|r| r["action"].as_str().map(str::to_string))
            .collect()
    }

    /// The cloud's view of the seed HAVIP: a signed DescribeHaVips by havip itself would add
    /// calls to the log; the control API's state does not.
    pub fn havip(&self) -> Value {
        find_by(&self.state(), "havips", HAVIP)
    }

    /// One EIP (`eip-…`) as the state shows it.
    pub fn address(&self, id: &str) -> Value {
        find_by(&self.state(), "addresses", id)
    }

    /// The whole state.
    pub fn state(&self) -> Value {
        self.0.state()
    }
}

/// Finds the object with `"id": id` in the array `key` of `state`, wherever it sits.
pub fn find_by(state: &Value, key: &str, id: &str) -> Value {
    fn walk(v: &Value, key: &str, id: &str) -> Option<Value> {
        match v {
            Value::Object(m) => {
                if let Some(Value::Array(items)) = m.get(key) {
                    if let Some(x) = items.iter().find(|x| x["id"] == id) {
                        return Some(x.clone());
                    }
                }
                m.values().find_map(|x| walk(x, key, id))
            }
            Value::Array(a) => a.iter().find_map(|x| walk(x, key, id)),
            _ => None,
        }
    }
    walk(state, key, id).unwrap_or(Value::Null)
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}
