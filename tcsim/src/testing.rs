//! In-process simulators for tests: [`SimHandle`] runs a server on its own tokio runtime in a
//! background thread, so synchronous tests (that spawn the havip binary) and async tests alike
//! can use it. Dropping the handle stops the server.

use std::net::SocketAddr;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use crate::faults::{FaultRule, FaultSpec};
use crate::reqlog::LogEntry;
use crate::state::ArpOutcome;
use crate::{serve, Sim, SimOptions};

pub use crate::scenario::{EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY};

/// A running simulator on loopback.
pub struct SimHandle {
    addr: SocketAddr,
    url: String,
    ca_pem: Option<String>,
    sim: Arc<Sim>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    arp: Vec<crate::arp::ArpListener>,
}

impl SimHandle {
    /// `seed`, `large:N[:M]`, `audit:N[:M]` or a scenario path, on `127.0.0.1:0`. Panics only if the
    /// simulator cannot start (bad scenario, no port).
    pub fn start(scenario: &str) -> SimHandle {
        SimHandle::start_with(SimOptions::new(scenario))
    }

    /// Panics only if the simulator cannot start.
    pub fn start_with(opts: SimOptions) -> SimHandle {
        match SimHandle::try_start_with(opts) {
            Ok(h) => h,
            Err(e) => panic!("tcsim failed to start: {e:#}"),
        }
    }

    pub fn try_start_with(opts: SimOptions) -> anyhow::Result<SimHandle> {
        let (ready_tx, ready_rx) = mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tcsim".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("tcsim-worker")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(anyhow::Error::from(e)));
                        return;
                    }
                };
                rt.block_on(async move {
                    match serve(opts).await {
                        Ok(server) => {
                            let _ = ready_tx.send(Ok((
                                server.local_addr(),
                                server.url(),
                                server.sim().clone(),
                                server.ca_pem().map(str::to_string),
                            )));
                            // A dropped sender also means stop.
                            let _ = stop_rx.await;
                            server.shutdown().await;
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        let (addr, url, sim, ca_pem) = ready_rx
            .recv()
            .map_err(|_| anyhow::anyhow!("the tcsim thread exited before starting"))??;
        Ok(SimHandle {
            addr,
            url,
            ca_pem,
            sim,
            stop: Some(stop_tx),
            thread: Some(thread),
            arp: Vec::new(),
        })
    }

    /// `http://127.0.0.1:PORT` (`https` with TLS).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The simulator state, for direct inspection.
    pub fn sim(&self) -> &Arc<Sim> {
        &self.sim
    }

    /// The metadata endpoint of one instance (`HAVIP_METADATA_ENDPOINT`).
    pub fn metadata_url(&self, instance_id: &str) -> String {
        format!("{}/_sim/node/{instance_id}", self.url)
    }

    /// With TLS: the CA certificate (PEM) that clients should trust.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    // Shortcuts for synchronous tests: the same effects as the `/_sim/` control API, without an
    // HTTP client.

    /// A gratuitous ARP for `ip` from `mac` (`POST /_sim/arp`).
    pub fn arp(&self, ip: &str, mac: &str) -> ArpOutcome {
        let now = self.sim.clock.now();
        self.sim.world().apply_arp(ip, mac, now)
    }

    /// Stops an instance (`POST /_sim/instances/<id>/stop`); the HAVIPs it held, or `None` for
    /// an unknown instance.
    pub fn stop_instance(&self, id: &str) -> Option<Vec<String>> {
        self.sim.world().stop_instance(id)
    }

    /// Starts an instance; false for an unknown one.
    pub fn start_instance(&self, id: &str) -> bool {
        self.sim.world().start_instance(id)
    }

    /// Runs the simulated clock `offset_s` seconds ahead (`POST /_sim/clock`).
    pub fn set_clock_offset_s(&self, offset_s: i64) {
        self.sim.clock.set_offset_s(offset_s);
    }

    /// Installs a fault rule (`POST /_sim/faults`); `Err` says why the rule is invalid.
    pub fn add_fault(&self, rule: serde_json::Value) -> Result<FaultRule, String> {
        let spec = FaultSpec::from_json(&rule)?;
        self.sim.faults().add(spec)
    }

    /// Removes one fault rule (`DELETE /_sim/faults/<id>`); false if there is none with `id`.
    pub fn remove_fault(&self, id: u64) -> bool {
        self.sim.faults().remove(id)
    }

    /// Removes every fault rule (`DELETE /_sim/faults`).
    pub fn clear_faults(&self) {
        self.sim.faults().clear();
    }

    /// Merges `patch` into the settings (`POST /_sim/settings`) and returns them; `Err` says
    /// why the patch is invalid, and nothing changed.
    pub fn set_settings(&self, patch: serde_json::Value) -> Result<serde_json::Value, String> {
        crate::control::merge_settings(&self.sim, patch)
    }

    /// The whole simulated world with the clock and the fault rules, as `GET /_sim/state`
    /// shows it.
    pub fn state(&self) -> serde_json::Value {
        crate::control::state_json(&self.sim)
    }

    /// The request log (`GET /_sim/requests`).
    pub fn requests(&self) -> Vec<LogEntry> {
        self.sim.log().entries().cloned().collect()
    }

    /// Empties the request log (`DELETE /_sim/requests`); how many entries it held.
    pub fn clear_requests(&self) -> usize {
        self.sim.log().clear()
    }

    /// Learns ARP from `iface`, opened on the calling thread (and so in its network namespace).
    pub fn listen_arp(&mut self, iface: &str) -> std::io::Result<()> {
        self.arp
            .push(crate::arp::ArpListener::start(iface, self.sim.clone())?);
        Ok(())
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.arp.clear();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
