//! `havip watch`: the level-triggered half of havip. keepalived's notify hook fires once;
//! clouds and networks keep changing. The watcher looks at every VIP on a bounded, jittered
//! schedule with the same observation and verdict as `havip status` (`crate::status`), repairs
//! what a MASTER may repair through the same MASTER procedure, lock and journal as `havip
//! notify` (`failover::reassert`), alerts a SPLIT once and never writes for it, reads
//! keepalived's `notify_fifo` in order (`fifo`), and makes all of it observable on `/metrics`
//! and `/healthz` (`metrics`, `server`). It lives under systemd (`service`): readiness,
//! watchdog, SIGHUP reload (a bad configuration is rejected and the old one kept), SIGTERM
//! drain within [`DRAIN`].
//!
//! Module map: `vip` (one VIP's reconcile + error policy), `decide` (verdict → action),
//! `live` (the loop's effects on the real world), `pause` (the wait between looks), `fifo`,
//! `metrics`, `server`, `service`.

pub mod decide;
pub mod fifo;
pub mod live;
pub mod metrics;
pub mod pause;
pub mod server;
pub mod service;
pub mod vip;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use self::fifo::{FifoEvent, Subject};
use self::metrics::Metrics;
use crate::config::VipConfig;
use crate::error_chain::error_chain;
use crate::failover::{record, Engine, Trigger};
use crate::state::VrrpState;

/// How long SIGTERM waits for looks, repairs and HTTP requests in flight.
pub const DRAIN: Duration = Duration::from_secs(5);
/// The default `--interval`.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// The default `--listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9797";
/// FIFO events acted on at once; a longer burst waits (the newest still wins).
const MAX_FIFO_RUNS: usize = 32;

/// The daemon's settings (from the command line).
#[derive(Debug, Clone)]
pub struct Options {
    /// Where `/metrics` and `/healthz` are served.
    pub listen: SocketAddr,
    /// The pause between two looks at a VIP (±10% jitter).
    pub interval: Duration,
    /// keepalived's `notify_fifo`, when the watcher should read it.
    pub fifo: Option<PathBuf>,
}

/// Why the watcher could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--listen` cannot be bound.
    #[error(transparent)]
    Listen(#[from] server::ListenError),
    /// `--fifo` is not a FIFO.
    #[error(transparent)]
    Fifo(#[from] fifo::FifoError),
    /// The signal handlers cannot be installed.
    #[error("cannot install signal handlers")]
    Signals(#[source] std::io::Error),
}

/// Runs the watcher until SIGTERM or SIGINT: `engine` is the configuration in force; `reload`
/// builds a new one on SIGHUP (its error is logged and the old one kept).
pub async fn run<R, Fut, E>(
    opts: Options,
    engine: Arc<Engine>,
    reload: R,
    metrics: Arc<Metrics>,
) -> Result<(), Error>
where
    R: Fn() -> Fut,
    Fut: Future<Output = Result<Arc<Engine>, E>>,
    E: std::error::Error + 'static,
{
    if let Some(f) = &opts.fifo {
        fifo::check_path(f)?;
    }
    let mut signals = service::Signals::install().map_err(Error::Signals)?;
    let listener = server::bind(opts.listen).await?;
    let listening = listener.local_addr().unwrap_or(opts.listen);
    let healthy = Arc::new(AtomicBool::new(true));
    let (stop_tx, stop_rx) = watch::channel(false);
    let shared = server::Shared {
        metrics: metrics.clone(),
        healthy: healthy.clone(),
    };
    let mut http_stop = stop_rx.clone();
    let http = tokio::spawn(server::serve(listener, shared, async move {
        let _ = http_stop.wait_for(|s| *s).await;
    }));
    let (engine_tx, engine_rx) = watch::channel(engine.clone());
    let mut loops = Loops::default();
    loops.start(&engine, &opts, &metrics);
    let fifo_task = opts
        .fifo
        .clone()
        .map(|p| tokio::spawn(read_fifo(p, engine_rx, metrics.clone())));
    let watchdog = service::watchdog_period().map(|p| tokio::spawn(service::watchdog(p)));
    let status = format!(
        "watching {} VIP(s) every {:?}; metrics on http://{}/metrics",
        engine.cfg.vips.len(),
        opts.interval,
        listening
    );
    tracing::info!("{status}");
    service::ready(&status);
    while signals.next().await == service::Request::Reload {
        service::reloading();
        match reload().await {
            Ok(new) => {
                let old = engine_tx.send_replace(new.clone());
                loops.replace(&old, &new, &opts, &metrics);
            }
            Err(e) => tracing::error!(
                error = %error_chain(&e),
                "configuration rejected; keeping the one in force"
            ),
        }
        service::ready(&status);
    }
    tracing::info!("draining (at most {DRAIN:?})");
    service::stopping();
    healthy.store(false, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    if let Some(t) = &fifo_task {
        t.abort();
    }
    let drained = tokio::time::timeout(DRAIN, async {
        loops.stop_all().await;
        let _ = http.await;
    })
    .await;
    if drained.is_err() {
        tracing::warn!("drain took longer than {DRAIN:?}; exiting with work in flight");
    }
    if let Some(w) = watchdog {
        w.abort();
    }
    Ok(())
}

/// The per-VIP loops of each configuration generation: a reload stops the old generation's
/// loops at their next pause (a repair in flight finishes) and starts the new one's.
#[derive(Default)]
struct Loops {
    current: Option<watch::Sender<bool>>,
    tasks: JoinSet<()>,
    /// The previous generations, finishing their current look or repair.
    retiring: Vec<JoinSet<()>>,
}

impl Loops {
    /// Moves from `old`'s VIPs to `new`'s (SIGHUP with a good file).
    fn replace(&mut self, old: &Engine, new: &Arc<Engine>, opts: &Options, metrics: &Arc<Metrics>) {
        let gone: Vec<String> = old
            .cfg
            .vips
            .iter()
            .filter(|v| new.cfg.vip(&v.name).is_none())
            .map(|v| v.name.clone())
            .collect();
        self.start(new, opts, metrics);
        self.forget_when_retired(gone, metrics.clone());
        tracing::info!(path = %new.cfg.path.display(), vips = new.cfg.vips.len(), "configuration reloaded");
    }

    fn start(&mut self, engine: &Arc<Engine>, opts: &Options, metrics: &Arc<Metrics>) {
        if let Some(old) = self.current.take() {
            let _ = old.send(true);
            self.retiring.push(std::mem::take(&mut self.tasks));
        }
        let (tx, rx) = watch::channel(false);
        for v in &engine.cfg.vips {
            let fx = live::Live::new(engine.clone(), v.clone());
            let w = vip::VipWatch::new(&v.name, opts.interval, metrics.clone());
            let rx = rx.clone();
            let span = tracing::info_span!("watch", vip = %v.name);
            self.tasks.spawn(tracing::Instrument::instrument(
                async move {
                    let (mut w, mut fx) = (w, fx);
                    vip::run(&mut w, &mut fx, rx).await
                },
                span,
            ));
        }
        self.current = Some(tx);
    }

    /// Drops the series of VIPs that left the configuration once the loops that watched them
    /// are done (a look in flight would otherwise bring them back).
    fn forget_when_retired(&mut self, gone: Vec<String>, metrics: Arc<Metrics>) {
        let mut old = std::mem::take(&mut self.retiring);
        self.tasks.spawn(async move {
            for set in &mut old {
                while set.join_next().await.is_some() {}
            }
            for name in gone {
                metrics.forget_vip(&name);
            }
        });
    }

    async fn stop_all(&mut self) {
        if let Some(tx) = self.current.take() {
            let _ = tx.send(true);
        }
        while self.tasks.join_next().await.is_some() {}
    }
}

impl Drop for Loops {
    fn drop(&mut self) {
        self.tasks.abort_all();
        for set in &mut self.retiring {
            set.abort_all();
        }
    }
}

/// Reads keepalived's FIFO for ever: each line is recorded in order (so the newest event wins,
/// exactly as with concurrent notify processes) and acted on by the engine in force.
async fn read_fifo(path: PathBuf, engine: watch::Receiver<Arc<Engine>>, metrics: Arc<Metrics>) {
    let (tx, mut lines) = tokio::sync::mpsc::channel(MAX_FIFO_RUNS);
    let reader = tokio::spawn(async move { fifo::read_lines(&path, tx).await });
    let mut runs = JoinSet::new();
    while let Some(line) = lines.recv().await {
        while runs.try_join_next().is_some() {}
        while runs.len() >= MAX_FIFO_RUNS {
            runs.join_next().await;
        }
        let engine = engine.borrow().clone();
        on_fifo_line(&line, engine, &metrics, &mut runs);
    }
    reader.abort();
}

fn on_fifo_line(line: &str, engine: Arc<Engine>, metrics: &Metrics, runs: &mut JoinSet<()>) {
    let event = match fifo::parse_line(line) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!("{e}; ignored");
            return;
        }
    };
    let (subject, state, trigger) = match event {
        FifoEvent::Transition(s, st) => (s, st, Trigger::Fifo),
        FifoEvent::RxLowerPri(s) => (s, VrrpState::Master, Trigger::RxLowerPri),
        FifoEvent::PriorityChange(s) => {
            tracing::debug!(?s, "priority change (no transition); ignored");
            return;
        }
    };
    let vips: Vec<VipConfig> = match &subject {
        Subject::Instance(n) => engine.cfg.vips_for_instance(n),
        Subject::Group(n) => engine.cfg.vips_for_group(n),
    }
    .into_iter()
    .cloned()
    .collect();
    if vips.is_empty() {
        tracing::debug!(?subject, "no VIP follows it; ignored");
    }
    for v in vips {
        tracing::info!(vip = %v.name, %state, %trigger, "keepalived event from the FIFO");
        let label = Metrics::vip(&v.name);
        metrics.transitions.get_or_create(&label).inc();
        metrics
            .is_master
            .get_or_create(&label)
            .set(i64::from(state == VrrpState::Master));
        // Recorded here, in the FIFO's order; acted on concurrently (latest wins).
        let recorded = record(engine.clone(), v, state, trigger);
        runs.spawn(async move {
            let r = recorded.act().await;
            tracing::info!(vip = %r.vip, verdict = %r.verdict, "{}", r.message);
        });
    }
}
