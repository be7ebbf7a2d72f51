//! tcsim as the benchmarks use it: a child process (`tcsim --tls`, the seed scenario, rate
//! limit off, async tasks done at once), its CA certificate, and the few control-API calls
//! (`/_sim/...`) that reset it between samples and read what a sample did.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// Node .20's and node .21's MACs in the seed scenario: a gratuitous ARP from one of them moves
/// the HAVIP to that node, as keepalived's announcement would.
pub const MAC20: &str = "52:54:00:00:04:20";
pub const MAC21: &str = "52:54:00:00:04:21";
pub const VIP: &str = "10.0.4.99";
pub const HAVIP_ID: &str = "havip-iam00099";
pub const EIP: &str = "106.52.252.139";
pub const NODE21: &str = "ins-iam00021";
/// The seed scenario's key pair (tcsim's documented example credentials).
pub const SECRET_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
pub const SECRET_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
pub const REGION: &str = "ap-guangzhou";

pub struct Sim {
    child: Child,
    /// `https://127.0.0.1:PORT`
    pub url: String,
    /// The CA certificate tcsim wrote (`--tls-cert-out`).
    pub ca: PathBuf,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Sim {
    /// Starts `tcsim` on a free loopback port; its CA goes to `dir/tcsim-ca.pem`, its log to
    /// `dir/tcsim.log`.
    pub fn start(tcsim: &Path, dir: &Path) -> Result<Sim> {
        let ca = dir.join("tcsim-ca.pem");
        let log = std::fs::File::create(dir.join("tcsim.log"))?;
        let mut child = Command::new(tcsim)
            .args(["--listen", "127.0.0.1:0", "--scenario", "seed", "--tls"])
            .arg("--tls-cert-out")
            .arg(&ca)
            .args([
                "--rate-limit",
                "0",
                "--task-duration-ms",
                "0",
                "--log",
                "warn",
            ])
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", tcsim.display()))?;
        let mut line = String::new();
        let stdout = child.stdout.take().context("tcsim's stdout")?;
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(url) = line.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            bail!(
                "tcsim did not start (first line {line:?}); see {}/tcsim.log",
                dir.display()
            );
        };
        let pem = std::fs::read(&ca).with_context(|| format!("reading {}", ca.display()))?;
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem)?)
            .timeout(Duration::from_secs(10))
            .build()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Sim {
            url: url.to_owned(),
            child,
            ca,
            http,
            rt,
        })
    }

    /// `127.0.0.1:PORT`, what tccli's `--endpoint` wants.
    pub fn host_port(&self) -> &str {
        self.url.trim_start_matches("https://")
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}{path}", self.url);
        self.rt.block_on(async {
            let mut req = self.http.request(method.clone(), &url);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req
                .send()
                .await
                .with_context(|| format!("{method} {path}"))?;
            let status = resp.status();
            let text = resp.text().await?;
            if !status.is_success() {
                bail!("{method} {path}: {status}: {text}");
            }
            serde_json::from_str(&text).with_context(|| format!("{method} {path}: {text}"))
        })
    }

    /// A gratuitous ARP for the VIP from `mac`, as keepalived sends on promotion.
    pub fn arp(&self, mac: &str) -> Result<()> {
        let v = self.call(
            reqwest::Method::POST,
            "/_sim/arp",
            Some(serde_json::json!({"ip": VIP, "mac": mac})),
        )?;
        // `moved: false` is fine when that node already holds it.
        match v.get("moved").and_then(Value::as_bool) {
            Some(_) => Ok(()),
            None => bail!("unexpected /_sim/arp answer: {v}"),
        }
    }

    /// The actions logged since the last clear, in order (`Action(Code)` for errors).
    pub fn requests(&self) -> Result<Vec<String>> {
        let v = self.call(reqwest::Method::GET, "/_sim/requests", None)?;
        let list = v.as_array().context("/_sim/requests is not a list")?;
        Ok(list
            .iter()
            .map(|r| {
                let action = r["action"].as_str().unwrap_or("?");
                match r["code"].as_str() {
                    Some(c) if !c.is_empty() => format!("{action}({c})"),
                    _ => action.to_owned(),
                }
            })
            .collect())
    }

    pub fn clear_requests(&self) -> Result<()> {
        self.call(reqwest::Method::DELETE, "/_sim/requests", None)
            .map(drop)
    }

    /// The cloud's view of the seed HAVIP and its EIP: `(holder instance, EIP status, HAVIP the
    /// EIP is bound to)`, read from `/_sim/state`.
    pub fn havip_view(&self) -> Result<(String, String, String)> {
        let state = self.call(reqwest::Method::GET, "/_sim/state", None)?;
        let find = |list: &str, key: &str, want: &str| -> Option<Value> {
            state[list]
                .as_array()?
                .iter()
                .find(|h| h[key].as_str() == Some(want))
                .cloned()
        };
        let h = find("havips", "id", HAVIP_ID).context("no seed HAVIP in /_sim/state")?;
        let a = find("addresses", "ip", EIP).context("no seed EIP in /_sim/state")?;
        let s = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
        Ok((
            s(&h, "instance_id"),
            s(&a, "status"),
            s(&a["binding"], "havip_id"),
        ))
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        // SIGTERM: tcsim stops cleanly; SIGKILL if it has not within 2 s.
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child's pid; no memory is shared.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        for _ in 0..20 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
