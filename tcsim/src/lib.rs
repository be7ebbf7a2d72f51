//! tcsim: a simulator of the TencentCloud VPC API (2017-03-12) and the CVM metadata service,
//! faithful enough for the official SDKs and for havip's tests (see `tcsim/README.md`).
//!
//! In-process use goes through [`testing::SimHandle`] (blocking, own runtime) or [`serve`]
//! (async). The state is one [`Sim`], shared by the HTTP server, the ARP listener and the
//! control API.

pub mod actions;
pub mod arp;
pub mod auth;
pub mod control;
pub mod error;
pub mod faults;
pub mod ids;
pub mod metadata;
pub mod net;
pub mod params;
pub mod pipeline;
pub mod ratelimit;
pub mod reqlog;
pub mod scenario;
pub mod server;
pub mod state;
pub mod testing;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

pub use server::{serve, RunningServer};

use crate::faults::Faults;
use crate::ratelimit::RateLimiter;
use crate::reqlog::RequestLog;
use crate::state::World;

/// How to start a simulator. `Default` is the seed scenario on `127.0.0.1:0`, plain HTTP.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// `seed`, `large:N[:M]`, `audit:N[:M]`, or a scenario file path.
    pub scenario: String,
    pub listen: SocketAddr,
    /// Serve HTTPS with a generated certificate.
    pub tls: bool,
    /// Extra subject names for the certificate (127.0.0.1 and localhost are always there).
    pub tls_sans: Vec<String>,
    /// Where to write the CA certificate (PEM) that clients should trust.
    pub tls_cert_out: Option<PathBuf>,
    /// Overrides the scenario's default per-action rate limit (0 = unlimited).
    pub rate_limit: Option<u32>,
    /// Overrides per action.
    pub action_rate_limits: Vec<(String, u32)>,
    /// Overrides the scenario's async task duration.
    pub task_duration: Option<Duration>,
    /// Overrides the lifetime of metadata role credentials.
    pub credential_lifetime: Option<Duration>,
    /// Learn gratuitous ARP from this interface (AF_PACKET; needs root).
    pub arp_iface: Option<String>,
    /// Metadata instance for callers whose IP matches no instance.
    pub metadata_instance: Option<String>,
    /// Start with the clock this many seconds ahead (negative: behind).
    pub clock_offset_s: i64,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            scenario: "seed".into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            tls_sans: Vec::new(),
            tls_cert_out: None,
            rate_limit: None,
            action_rate_limits: Vec::new(),
            task_duration: None,
            credential_lifetime: None,
            arp_iface: None,
            metadata_instance: None,
            clock_offset_s: 0,
        }
    }
}

impl SimOptions {
    /// Defaults with this scenario.
    pub fn new(scenario: &str) -> Self {
        SimOptions {
            scenario: scenario.to_string(),
            ..SimOptions::default()
        }
    }

    /// Builds the initial world: the scenario with these overrides applied.
    pub fn build_world(&self) -> anyhow::Result<World> {
        let mut file = scenario::ScenarioFile::load(&self.scenario)?;
        let s = &mut file.settings;
        if let Some(r) = self.rate_limit {
            s.rate_limit = r;
        }
        for (action, r) in &self.action_rate_limits {
            s.rate_limits.insert(action.clone(), *r);
        }
        if let Some(d) = self.task_duration {
            s.task_duration_ms = d.as_millis().try_into().unwrap_or(u64::MAX);
        }
        if let Some(d) = self.credential_lifetime {
            s.credential_lifetime_s = d.as_secs().max(1);
        }
        if let Some(i) = &self.metadata_instance {
            s.metadata_default_instance = Some(i.clone());
        }
        Clock::OFFSET_S
            .check(self.clock_offset_s.into())
            .map_err(|e| anyhow::anyhow!("clock offset: {e}"))?;
        file.build()
    }
}

/// The simulated clock: real time plus an adjustable offset (`POST /_sim/clock`). It drives
/// signature freshness, credential expiry, the `Date` header and FlushedTime; async tasks use
/// real monotonic time so a clock jump does not complete them.
#[derive(Debug, Default)]
pub struct Clock {
    offset_s: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.offset_s())
    }
    pub fn unix(&self) -> i64 {
        self.now().timestamp()
    }
    pub fn offset_s(&self) -> i64 {
        self.offset_s.load(Ordering::Relaxed)
    }
    /// The offset's range: a year either way (±366 days) covers every skew worth simulating,
    /// and keeps chrono's arithmetic far from overflow.
    pub const OFFSET_S: state::Bound = state::Bound::new("offset_s", -31_622_400, 31_622_400);

    /// Sets the offset, clamped to [`Clock::OFFSET_S`] (callers that take input check it first).
    pub fn set_offset_s(&self, s: i64) {
        let b = Clock::OFFSET_S;
        self.offset_s
            .store(s.clamp(b.min, b.max), Ordering::Relaxed);
    }
}

/// The shared simulator state.
#[derive(Debug)]
pub struct Sim {
    world: Mutex<World>,
    pub clock: Clock,
    faults: Mutex<Faults>,
    log: Mutex<RequestLog>,
    limiter: Mutex<RateLimiter>,
    /// Released when the server stops, so hung requests end.
    pub stopping: tokio::sync::watch::Sender<bool>,
}

/// Resolves once the server is stopping (`Sim::stopping`), including when it already was (unlike
/// `changed`, which would miss a stop requested before the receiver was first polled).
pub(crate) async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Locks, recovering from poisoning: a panic elsewhere must not take the simulator down.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sim {
    pub fn new(world: World) -> Sim {
        let log = RequestLog::new(world.settings.request_log_capacity);
        Sim {
            world: Mutex::new(world),
            clock: Clock::default(),
            faults: Mutex::new(Faults::default()),
            log: Mutex::new(log),
            limiter: Mutex::new(RateLimiter::default()),
            stopping: tokio::sync::watch::channel(false).0,
        }
    }

    /// The world, with due async tasks completed first.
    pub fn world(&self) -> MutexGuard<'_, World> {
        let mut w = lock(&self.world);
        w.tick(Instant::now(), self.clock.now());
        w
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    pub fn log(&self) -> MutexGuard<'_, RequestLog> {
        lock(&self.log)
    }

    pub fn limiter(&self) -> MutexGuard<'_, RateLimiter> {
        lock(&self.limiter)
    }
}
