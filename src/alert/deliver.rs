//! Delivery: the [`Alerter`] sends an event to every target concurrently, each bounded by its
//! own timeout (capped by what is left of the caller's deadline, [`Alerter::send_within`]),
//! scrubbed of secrets before it leaves, and reports what happened to each target.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::event::AlertEvent;
use super::scrub::{clean_secrets, scrub_event, scrub_str};
use super::target::AlertTarget;
use super::webhook::HttpClient;
use super::{exec, webhook, wecom};

/// Why one target's delivery failed. Its text goes to the journal and the log only after
/// [`scrub_str`] (a receiver's answer or a hook's stderr may echo a secret); URLs never reach
/// it (reqwest's errors are stripped of theirs).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    #[error("encoding event: {0}")]
    Encode(#[source] serde_json::Error),
    /// The HTTP client could not be built (kept for every later target: shared).
    #[error("building HTTP client: {0}")]
    Client(#[source] Arc<reqwest::Error>),
    /// The request failed: its kind (`timed out`, `connection failed`) and its causes.
    #[error("{}", webhook::describe(.0))]
    Http(#[source] reqwest::Error),
    #[error("receiver answered HTTP {0}")]
    Status(reqwest::StatusCode),
    #[error("WeCom answered HTTP {0}")]
    WecomStatus(reqwest::StatusCode),
    #[error("WeCom answered more than {}", crate::bounds::human_bytes(*.0 as u64))]
    WecomTooLong(usize),
    #[error("WeCom errcode {code}: {}", crate::bounds::clip(message))]
    Wecom { code: i64, message: String },
    #[error("exec command is empty")]
    EmptyCommand,
    #[error("starting {hook}: {source}")]
    Spawn {
        hook: String,
        #[source]
        source: std::io::Error,
    },
    #[error("waiting for {hook}: {source}")]
    Wait {
        hook: String,
        #[source]
        source: std::io::Error,
    },
    /// The hook exited unsuccessfully; `stderr` is the start of what it wrote, trimmed.
    #[error("{hook} exited with {status}{}", if stderr.is_empty() { String::new() } else { format!(": {stderr}") })]
    Exited {
        hook: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("timed out after {}", humantime::format_duration(*.0))]
    Timeout(Duration),
}

/// What happened to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Below the target's `min_severity`.
    Skipped,
    /// The reason, already scrubbed of secrets.
    Failed(String),
}

/// The result of one target's delivery, for the journal.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The target, redacted (see [`AlertTarget`]'s `Display`).
    pub target: String,
    pub outcome: Outcome,
    pub elapsed: Duration,
}

/// Sends events to every configured target. Cheap to create: the HTTP client is built on first
/// use, so a `havip notify` that alerts nothing pays nothing.
#[derive(Clone)]
pub struct Alerter {
    inner: Arc<Inner>,
}

struct Inner {
    targets: Vec<AlertTarget>,
    secrets: Vec<String>,
    http: HttpClient,
}

impl fmt::Debug for Alerter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Alerter")
            .field("targets", &self.inner.targets)
            .field(
                "secrets",
                &format_args!("{} registered", self.inner.secrets.len()),
            )
            .finish()
    }
}

impl Alerter {
    /// An alerter for `targets`, with no secrets registered yet: it reads no environment (the
    /// context hands the credentials' values down through [`Alerter::with_secrets`]).
    pub fn new(targets: &[AlertTarget]) -> Self {
        Alerter {
            inner: Arc::new(Inner {
                targets: targets.to_vec(),
                secrets: Vec::new(),
                http: HttpClient::new(),
            }),
        }
    }

    /// Registers literal secrets (the credentials of the environment, the file, a profile file
    /// or the CVM role) that must never appear in an alert.
    pub fn with_secrets<I, S>(self, secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut all = self.inner.secrets.clone();
        all.extend(secrets.into_iter().map(Into::into));
        Alerter {
            inner: Arc::new(Inner {
                targets: self.inner.targets.clone(),
                secrets: clean_secrets(all),
                http: HttpClient::new(),
            }),
        }
    }

    pub fn targets(&self) -> &[AlertTarget] {
        &self.inner.targets
    }

    /// Sends `ev` to every target concurrently and returns when all have finished or timed
    /// out. Never fails; failures are logged (redacted) and reported per target.
    pub async fn send(&self, ev: &AlertEvent) -> Vec<Delivery> {
        self.send_within(ev, Duration::MAX).await
    }

    /// [`Alerter::send`], with every target's timeout capped by `budget` (what is left of the
    /// event's deadline): an alert target configured with a long timeout must not keep a
    /// notify handler alive past its deadline.
    pub(crate) async fn send_within(&self, ev: &AlertEvent, budget: Duration) -> Vec<Delivery> {
        if self.inner.targets.is_empty() {
            return Vec::new();
        }
        let ev = Arc::new(scrub_event(ev, &self.inner.secrets));
        let mut set = tokio::task::JoinSet::new();
        for i in 0..self.inner.targets.len() {
            let inner = Arc::clone(&self.inner);
            let ev = Arc::clone(&ev);
            set.spawn(async move { (i, inner.deliver(i, &ev, budget).await) });
        }
        let mut out: Vec<Option<Delivery>> = vec![None; self.inner.targets.len()];
        while let Some(res) = set.join_next().await {
            match res {
                Ok((i, d)) => out[i] = Some(d),
                Err(e) => tracing::warn!("alert delivery task failed: {e}"),
            }
        }
        out.into_iter()
            .enumerate()
            .map(|(i, d)| {
                d.unwrap_or_else(|| Delivery {
                    target: self.inner.targets[i].to_string(),
                    outcome: Outcome::Failed("delivery task panicked".to_owned()),
                    elapsed: Duration::ZERO,
                })
            })
            .collect()
    }
}

impl Inner {
    async fn deliver(&self, i: usize, ev: &AlertEvent, budget: Duration) -> Delivery {
        let target = &self.targets[i];
        let name = target.to_string();
        let start = Instant::now();
        if ev.severity < target.min_severity() {
            return Delivery {
                target: name,
                outcome: Outcome::Skipped,
                elapsed: Duration::ZERO,
            };
        }
        let limit = target.timeout().min(budget);
        // The per-target bound is enforced here for every kind, whatever the transport does.
        let res = match tokio::time::timeout(limit, self.transport(target, ev, limit)).await {
            Ok(r) => r,
            Err(_) => Err(SendError::Timeout(limit)),
        };
        let elapsed = start.elapsed();
        let outcome = match res {
            Ok(()) => {
                tracing::debug!(target = %name, ?elapsed, "alert sent");
                Outcome::Sent
            }
            Err(e) => {
                let e = scrub_str(&e.to_string(), &self.secrets);
                tracing::warn!(target = %name, ?elapsed, "alert not delivered: {e}");
                Outcome::Failed(e)
            }
        };
        Delivery {
            target: name,
            outcome,
            elapsed,
        }
    }

    /// Hands the event to the target's transport.
    async fn transport(
        &self,
        target: &AlertTarget,
        ev: &AlertEvent,
        limit: Duration,
    ) -> Result<(), SendError> {
        match target {
            AlertTarget::Webhook { url, .. } => webhook::send(&self.http, url, ev, limit).await,
            AlertTarget::Wecom {
                url,
                format,
                mentioned_mobile_list,
                ..
            } => wecom::send(&self.http, url, *format, mentioned_mobile_list, ev, limit).await,
            AlertTarget::Exec { command, .. } => exec::run(command, ev).await,
        }
    }
}
