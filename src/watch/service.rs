//! Living under systemd: `Type=notify` readiness, reload and stop notices, and watchdog pings
//! (sd-notify; all of them no-ops outside systemd, when `NOTIFY_SOCKET` is unset), and the
//! signals the watcher obeys (SIGHUP reloads, SIGTERM and SIGINT drain).

use std::time::Duration;

use sd_notify::NotifyState;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// Tells systemd something; a failure is logged, never fatal (the watcher still watches).
fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::debug!(error = %e, "cannot notify systemd");
    }
}

/// `READY=1` with a status line.
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// `RELOADING=1` (a SIGHUP is being handled).
pub fn reloading() {
    notify(&[
        NotifyState::Reloading,
        NotifyState::Status("reloading the configuration"),
    ]);
}

/// `STOPPING=1` (draining).
pub fn stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("draining")]);
}

/// How often to ping systemd's watchdog: half of `WatchdogSec` (`WATCHDOG_USEC`), or `None`
/// when no watchdog is set for this process. sd-notify requires `WATCHDOG_PID` to name this
/// process; systemd's own `sd_watchdog_enabled` also accepts it absent (a service manager that
/// sets only `WATCHDOG_USEC`), and so does this.
pub fn watchdog_period() -> Option<Duration> {
    let mut usec = 0u64;
    if sd_notify::watchdog_enabled(false, &mut usec) {
        return Some(Duration::from_micros(usec / 2));
    }
    if std::env::var_os("WATCHDOG_PID").is_some() {
        return None;
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Pings the watchdog every `period` for ever. It runs on the same runtime as the loops, so a
/// wedged runtime stops the pings and systemd restarts the service.
pub async fn watchdog(period: Duration) {
    let mut tick = tokio::time::interval(period.max(Duration::from_millis(100)));
    loop {
        tick.tick().await;
        notify(&[NotifyState::Watchdog]);
    }
}

/// The signals the watcher handles.
pub struct Signals {
    hup: Signal,
    term: Signal,
    int: Signal,
}

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// SIGHUP: read the configuration again.
    Reload,
    /// SIGTERM or SIGINT: drain and exit.
    Stop,
}

impl Signals {
    /// Installs the handlers (from now on these signals no longer kill the process).
    pub fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            hup: signal(SignalKind::hangup())?,
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// The next request.
    pub async fn next(&mut self) -> Request {
        tokio::select! {
            _ = self.hup.recv() => Request::Reload,
            _ = self.term.recv() => Request::Stop,
            _ = self.int.recv() => Request::Stop,
        }
    }
}
