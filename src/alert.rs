//! Alerts on every switch and every failure: a generic JSON webhook, a WeCom group robot, and an
//! `exec` hook (for mail or anything else).
//!
//! Alerting must never make a failover worse (issue 4 §7): [`Alerter::send`] cannot fail, every
//! target runs concurrently and is bounded by its own timeout (default 5 s), an `exec` hook that
//! overstays is killed with its whole process group, and errors are only logged. Alerts never
//! carry secrets: every event is scrubbed before it leaves (credential-like keys, TC3 signatures,
//! SecretIds, and the literal values of the credentials in the environment), target URLs are
//! redacted in logs (a WeCom robot URL's `key=` is a secret), and `exec` hooks do not inherit the
//! `TENCENTCLOUD_*` variables.
//!
//! Configuration (`[[alert]]` entries in havip.toml):
//! ```toml
//! [[alert]]
//! type = "webhook"                 # POST the event as JSON
//! url = "https://ops.example.com/havip"
//! timeout = "5s"                   # optional, default 5s
//! min_severity = "warning"         # optional: info (default) | warning | critical
//!
//! [[alert]]
//! type = "wecom"                   # WeCom (企业微信) group robot
//! url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"
//! format = "markdown"              # optional: markdown (default) | text
//! mentioned_mobile_list = ["13800000000"]   # optional, text format only
//!
//! [[alert]]
//! type = "exec"                    # event JSON on stdin, HAVIP_ALERT_* in the environment
//! command = ["/usr/local/bin/mail-havip-alert", "ops@example.com"]   # or a string, run by /bin/sh -c
//! timeout = "10s"
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long a target may take when its `timeout` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// WeCom robots reject markdown content over 4096 bytes and text over 2048 bytes.
const WECOM_MARKDOWN_MAX: usize = 4096;
const WECOM_TEXT_MAX: usize = 2048;
/// How much of an exec hook's stderr is kept for the log.
const EXEC_STDERR_MAX: usize = 2048;
/// The most of a WeCom answer read (it is `{"errcode":0,"errmsg":"ok"}`).
const WECOM_ANSWER_MAX: usize = 64 * 1024;
/// Environment variables an exec hook must not inherit: havip's own credentials.
const SECRET_ENV: [&str; 3] = [
    "TENCENTCLOUD_SECRET_ID",
    "TENCENTCLOUD_SECRET_KEY",
    "TENCENTCLOUD_TOKEN",
];
const REDACTED: &str = "** redacted **";

/// How bad an event is. Ordered, so a target's `min_severity` can filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        })
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    /// This node became MASTER and the cloud confirmed it (holder, EIP).
    Switch,
    /// A MASTER procedure (or any repair) failed or could not be confirmed.
    Failure,
    /// keepalived moved this node to BACKUP.
    Backup,
    /// keepalived reported FAULT.
    Fault,
    /// keepalived stopped.
    Stop,
    /// The cloud's holder differs from keepalived's master.
    Drift,
    /// More than one node claims the VIP.
    SplitBrain,
    /// An EIP is idle (and billed).
    Idle,
    /// A previously alerted problem is gone.
    Recovered,
    /// A test alert, sent on request to check the targets.
    Test,
    /// Local bookkeeping failed (state file, lock, journal) while the cloud work went on, or
    /// an earlier run was interrupted after a cloud write it never recorded.
    Local,
}

impl AlertKind {
    /// The severity an event of this kind has unless the sender says otherwise.
    pub fn default_severity(self) -> Severity {
        match self {
            AlertKind::Switch | AlertKind::Backup | AlertKind::Recovered | AlertKind::Test => {
                Severity::Info
            }
            AlertKind::Stop | AlertKind::Drift | AlertKind::Idle | AlertKind::Local => {
                Severity::Warning
            }
            AlertKind::Failure | AlertKind::Fault | AlertKind::SplitBrain => Severity::Critical,
        }
    }
}

impl fmt::Display for AlertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AlertKind::Switch => "switch",
            AlertKind::Failure => "failure",
            AlertKind::Backup => "backup",
            AlertKind::Fault => "fault",
            AlertKind::Stop => "stop",
            AlertKind::Drift => "drift",
            AlertKind::SplitBrain => "split-brain",
            AlertKind::Idle => "idle",
            AlertKind::Recovered => "recovered",
            AlertKind::Test => "test",
            AlertKind::Local => "local",
        })
    }
}

/// One alert. The webhook body and the exec hook's stdin are exactly this, as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// The VIP's configured name (`[[vip]] name`).
    pub vip: String,
    pub kind: AlertKind,
    pub severity: Severity,
    /// The node that sends the alert (instance ID when known, else the hostname).
    pub node: String,
    /// One human sentence: what happened and what it means.
    pub message: String,
    /// Anything structured (holder, EIP, plan, error, RequestIds). Scrubbed before sending.
    #[serde(default)]
    pub details: Value,
    pub time: DateTime<Utc>,
}

impl AlertEvent {
    /// An event of `kind` with its default severity, this host as `node`, now as `time`.
    pub fn new(vip: impl Into<String>, kind: AlertKind, message: impl Into<String>) -> Self {
        AlertEvent {
            vip: vip.into(),
            kind,
            severity: kind.default_severity(),
            node: hostname(),
            message: message.into(),
            details: Value::Null,
            time: Utc::now(),
        }
    }

    pub fn with_node(mut self, node: impl Into<String>) -> Self {
        self.node = node.into();
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// A one-line title: `[critical] havip iam: failure on ins-iam00021`.
    pub fn title(&self) -> String {
        format!(
            "[{}] havip {}: {} on {}",
            self.severity, self.vip, self.kind, self.node
        )
    }
}

/// The host name, for events sent before the instance ID is known.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length; gethostname NUL-terminates when it fits.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".to_owned();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// WeCom robot message format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WecomFormat {
    #[default]
    Markdown,
    Text,
}

/// The command of an `exec` target: a string is run by `/bin/sh -c`, an array is run directly.
#[derive(Clone, PartialEq, Eq)]
pub enum ExecCommand {
    Shell(String),
    Argv(Vec<String>),
}

impl fmt::Debug for ExecCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExecCommand::Shell(s) => write!(f, "Shell({s:?})"),
            ExecCommand::Argv(v) => write!(f, "Argv({v:?})"),
        }
    }
}

impl<'de> Deserialize<'de> for ExecCommand {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ExecCommand;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a command string (run by /bin/sh -c) or a non-empty array of strings")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<ExecCommand, E> {
                if s.trim().is_empty() {
                    return Err(E::custom("exec command is empty"));
                }
                Ok(ExecCommand::Shell(s.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ExecCommand, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    v.push(s);
                }
                if v.first().is_none_or(|p| p.is_empty()) {
                    return Err(serde::de::Error::custom(
                        "exec command array is empty or starts with an empty program",
                    ));
                }
                Ok(ExecCommand::Argv(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A humantime duration (`"5s"`, `"1m 30s"`) that is more than zero.
pub(crate) fn deserialize_timeout<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    let v: Option<Duration> = humantime_serde::deserialize(d)?;
    if v.is_some_and(|t| t.is_zero()) {
        return Err(serde::de::Error::custom("timeout must be more than 0s"));
    }
    Ok(v)
}

/// Accepts only absolute `http://` or `https://` URLs with a host, so a typo fails at
/// `havip config check` rather than at 3 a.m. Plain http is the user's choice.
fn deserialize_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    check_url(&s).map_err(serde::de::Error::custom)?;
    Ok(s)
}

fn check_url(s: &str) -> Result<reqwest::Url, String> {
    let u = reqwest::Url::parse(s).map_err(|e| format!("invalid URL {}: {e}", redact_url(s)))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "invalid URL {}: expected http:// or https:// with a host",
            redact_url(s)
        ));
    }
    Ok(u)
}

/// A URL for logs: scheme, host, port and path, without user info, query or fragment (a WeCom
/// robot's `?key=` is its credential).
pub fn redact_url(s: &str) -> String {
    match reqwest::Url::parse(s) {
        Ok(mut u) => {
            let had_query = u.query().is_some();
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            if had_query {
                format!("{u}?…")
            } else {
                u.to_string()
            }
        }
        Err(_) => "(unparseable URL)".to_owned(),
    }
}

/// One `[[alert]]` entry. `Debug` and `Display` redact URLs, since a WeCom URL holds its key.
#[derive(Deserialize, Clone)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum AlertTarget {
    /// POST the [`AlertEvent`] as JSON; any 2xx is success.
    Webhook {
        #[serde(deserialize_with = "deserialize_url")]
        url: String,
        #[serde(default, deserialize_with = "deserialize_timeout")]
        timeout: Option<Duration>,
        #[serde(default)]
        min_severity: Option<Severity>,
    },
    /// A WeCom group robot (`{"msgtype":"markdown",…}` or text); success is `errcode` 0.
    Wecom {
        #[serde(deserialize_with = "deserialize_url")]
        url: String,
        #[serde(default, deserialize_with = "deserialize_timeout")]
        timeout: Option<Duration>,
        #[serde(default)]
        min_severity: Option<Severity>,
        #[serde(default)]
        format: WecomFormat,
        /// Phone numbers to @-mention (WeCom honours this for text messages only).
        #[serde(default)]
        mentioned_mobile_list: Vec<String>,
    },
    /// Run a command with the event JSON on stdin and `HAVIP_ALERT_*` in its environment;
    /// success is exit status 0 within the timeout.
    Exec {
        command: ExecCommand,
        #[serde(default, deserialize_with = "deserialize_timeout")]
        timeout: Option<Duration>,
        #[serde(default)]
        min_severity: Option<Severity>,
    },
}

impl AlertTarget {
    /// This target's time bound.
    pub fn timeout(&self) -> Duration {
        match self {
            AlertTarget::Webhook { timeout, .. }
            | AlertTarget::Wecom { timeout, .. }
            | AlertTarget::Exec { timeout, .. } => timeout.unwrap_or(DEFAULT_TIMEOUT),
        }
    }

    fn min_severity(&self) -> Severity {
        match self {
            AlertTarget::Webhook { min_severity, .. }
            | AlertTarget::Wecom { min_severity, .. }
            | AlertTarget::Exec { min_severity, .. } => min_severity.unwrap_or(Severity::Info),
        }
    }

    /// Checks what serde cannot: a zero timeout would make a target useless.
    pub fn validate(&self) -> Result<(), String> {
        if self.timeout().is_zero() {
            return Err(format!("{self}: timeout must be more than 0s"));
        }
        match self {
            AlertTarget::Webhook { url, .. } | AlertTarget::Wecom { url, .. } => {
                check_url(url).map(|_| ())
            }
            AlertTarget::Exec { .. } => Ok(()),
        }
    }
}

impl fmt::Display for AlertTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AlertTarget::Webhook { url, .. } => write!(f, "webhook {}", redact_url(url)),
            AlertTarget::Wecom { url, .. } => write!(f, "wecom {}", redact_url(url)),
            AlertTarget::Exec { command, .. } => match command {
                // Only the program: the rest of a shell line may hold a password (curl -u …).
                ExecCommand::Shell(s) => {
                    let mut words = s.split_whitespace();
                    let prog = words.next().unwrap_or("");
                    let more = if words.next().is_some() { " …" } else { "" };
                    write!(f, "exec {prog}{more}")
                }
                ExecCommand::Argv(v) => write!(f, "exec {}", v.first().map_or("", String::as_str)),
            },
        }
    }
}

impl fmt::Debug for AlertTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AlertTarget({self}, timeout {}, min_severity {})",
            humantime::format_duration(self.timeout()),
            self.min_severity()
        )
    }
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
    http: OnceLock<Result<reqwest::Client, String>>,
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
    /// An alerter for `targets`. The values of `TENCENTCLOUD_SECRET_ID`, `_SECRET_KEY` and
    /// `_TOKEN` in the environment are registered as secrets to scrub.
    pub fn new(targets: &[AlertTarget]) -> Self {
        let env_secrets = SECRET_ENV.iter().filter_map(|k| std::env::var(k).ok());
        Alerter {
            inner: Arc::new(Inner {
                targets: targets.to_vec(),
                secrets: clean_secrets(env_secrets),
                http: OnceLock::new(),
            }),
        }
    }

    /// Registers more literal secrets (credentials from a profile file or the CVM role) that
    /// must never appear in an alert.
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
                http: OnceLock::new(),
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
    pub async fn send_within(&self, ev: &AlertEvent, budget: Duration) -> Vec<Delivery> {
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
        let res = match tokio::time::timeout(limit, self.deliver_inner(target, ev, limit)).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "timed out after {}",
                humantime::format_duration(limit)
            )),
        };
        let elapsed = start.elapsed();
        let outcome = match res {
            Ok(()) => {
                tracing::debug!(target = %name, ?elapsed, "alert sent");
                Outcome::Sent
            }
            Err(e) => {
                let e = scrub_str(&e, &self.secrets);
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

    async fn deliver_inner(
        &self,
        target: &AlertTarget,
        ev: &AlertEvent,
        limit: Duration,
    ) -> Result<(), String> {
        match target {
            AlertTarget::Webhook { url, .. } => {
                let body = serde_json::to_vec(ev).map_err(|e| format!("encoding event: {e}"))?;
                let resp = self.post(url, body, limit).await?;
                let status = resp.status();
                if !status.is_success() {
                    return Err(format!("receiver answered HTTP {status}"));
                }
                Ok(())
            }
            AlertTarget::Wecom {
                url,
                format,
                mentioned_mobile_list,
                ..
            } => {
                let msg = wecom_message(ev, *format, mentioned_mobile_list);
                let body = serde_json::to_vec(&msg).map_err(|e| format!("encoding event: {e}"))?;
                let resp = self.post(url, body, limit).await?;
                let status = resp.status();
                if !status.is_success() {
                    return Err(format!("WeCom answered HTTP {status}"));
                }
                // WeCom's answer is a small JSON object; read no more than 64 KiB of it.
                let mut resp = resp;
                let mut text = Vec::new();
                while let Some(chunk) = resp.chunk().await.map_err(http_err)? {
                    if text.len() + chunk.len() > WECOM_ANSWER_MAX {
                        return Err(format!(
                            "WeCom answered more than {}",
                            crate::bounds::human_bytes(WECOM_ANSWER_MAX as u64)
                        ));
                    }
                    text.extend_from_slice(&chunk);
                }
                // WeCom answers 200 even on errors; the verdict is errcode.
                if let Ok(v) = serde_json::from_slice::<Value>(&text) {
                    if let Some(code) = v.get("errcode").and_then(Value::as_i64) {
                        if code != 0 {
                            let msg = v.get("errmsg").and_then(Value::as_str).unwrap_or("");
                            return Err(format!(
                                "WeCom errcode {code}: {}",
                                crate::bounds::clip(msg)
                            ));
                        }
                    }
                }
                Ok(())
            }
            AlertTarget::Exec { command, .. } => run_exec(command, ev).await,
        }
    }

    async fn post(
        &self,
        url: &str,
        body: Vec<u8>,
        limit: Duration,
    ) -> Result<reqwest::Response, String> {
        let client = self
            .http
            .get_or_init(|| {
                reqwest::Client::builder()
                    .user_agent(concat!("havip/", env!("CARGO_PKG_VERSION")))
                    // A redirect could carry the event (and a robot key) somewhere unexpected.
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| format!("building HTTP client: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)?;
        client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(limit)
            .body(body)
            .send()
            .await
            .map_err(http_err)
    }
}

/// reqwest's messages include the URL, which may hold a robot key: strip it.
fn http_err(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let e = e.without_url();
    let mut msg = format!("{kind}: {e}");
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}

/// The WeCom robot message for an event.
pub fn wecom_message(ev: &AlertEvent, format: WecomFormat, mentioned: &[String]) -> Value {
    let time = ev.time.format("%Y-%m-%d %H:%M:%S UTC");
    match format {
        WecomFormat::Markdown => {
            // WeCom markdown supports three font colours: info (green), comment (grey),
            // warning (orange).
            let colour = match ev.severity {
                Severity::Info => "info",
                Severity::Warning => "comment",
                Severity::Critical => "warning",
            };
            let content = format!(
                "**havip {vip}: {kind}**\n> severity: <font color=\"{colour}\">{sev}</font>\n> node: {node}\n> time: {time}\n\n{msg}",
                vip = ev.vip,
                kind = ev.kind,
                sev = ev.severity,
                node = ev.node,
                msg = ev.message,
            );
            serde_json::json!({
                "msgtype": "markdown",
                "markdown": { "content": truncate(&content, WECOM_MARKDOWN_MAX) },
            })
        }
        WecomFormat::Text => {
            let content = format!("{}\n{}\ntime: {time}", ev.title(), ev.message);
            serde_json::json!({
                "msgtype": "text",
                "text": {
                    "content": truncate(&content, WECOM_TEXT_MAX),
                    "mentioned_mobile_list": mentioned,
                },
            })
        }
    }
}

/// At most `max` bytes, cut at a character boundary, with an ellipsis when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Runs an exec hook: its own process group (so a timeout kills everything it started), event
/// JSON on stdin, `HAVIP_ALERT_*` set, havip's credentials removed from its environment.
/// The caller bounds it in time: on expiry the future is dropped, which kills the group.
async fn run_exec(command: &ExecCommand, ev: &AlertEvent) -> Result<(), String> {
    let mut cmd = match command {
        ExecCommand::Shell(s) => {
            let mut c = tokio::process::Command::new("/bin/sh");
            c.arg("-c").arg(s);
            c
        }
        ExecCommand::Argv(v) => {
            let (prog, args) = v
                .split_first()
                .ok_or_else(|| "exec command is empty".to_owned())?;
            let mut c = tokio::process::Command::new(prog);
            c.args(args);
            c
        }
    };
    for k in SECRET_ENV {
        cmd.env_remove(k);
    }
    cmd.env("HAVIP_ALERT_VIP", &ev.vip)
        .env("HAVIP_ALERT_KIND", ev.kind.to_string())
        .env("HAVIP_ALERT_SEVERITY", ev.severity.to_string())
        .env("HAVIP_ALERT_NODE", &ev.node)
        .env("HAVIP_ALERT_MESSAGE", &ev.message)
        .env("HAVIP_ALERT_TIME", ev.time.to_rfc3339())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let body = serde_json::to_vec(ev).map_err(|e| format!("encoding event: {e}"))?;
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("starting {}: {e}", command_name(command)))?;
    let mut guard = KillGroup(child.id());

    let stdin = child.stdin.take();
    let writer = tokio::spawn(async move {
        if let Some(mut w) = stdin {
            // A hook that ignores stdin closes the pipe early: not an error.
            let _ = w.write_all(&body).await;
            let _ = w.shutdown().await;
        }
    });
    let stderr = child.stderr.take();
    let reader = tokio::spawn(async move {
        let mut kept = Vec::new();
        if let Some(mut r) = stderr {
            let mut buf = [0u8; 1024];
            // Drain everything so the hook never blocks on a full pipe; keep the start.
            while let Ok(n) = r.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let room = EXEC_STDERR_MAX.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
        kept
    });

    // The caller's timeout bounds this; on expiry the future is dropped and the guard kills
    // the group.
    let status = child
        .wait()
        .await
        .map_err(|e| format!("waiting for {}: {e}", command_name(command)))?;
    writer.abort();
    // Something the hook left in the background may hold stderr open: do not wait for it.
    let stderr = tokio::time::timeout(Duration::from_millis(200), reader)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    // It exited by itself: leave whatever it started in the background alone (mail(1) may
    // hand over to a sendmail that outlives it).
    guard.0 = None;
    if status.success() {
        Ok(())
    } else {
        let tail = String::from_utf8_lossy(&stderr);
        let tail = tail.trim();
        Err(if tail.is_empty() {
            format!("{} exited with {status}", command_name(command))
        } else {
            format!("{} exited with {status}: {tail}", command_name(command))
        })
    }
}

fn command_name(c: &ExecCommand) -> String {
    match c {
        ExecCommand::Shell(_) => "exec hook (/bin/sh -c)".to_owned(),
        ExecCommand::Argv(v) => v.first().cloned().unwrap_or_default(),
    }
}

/// Kills a process group when dropped (on timeout or cancellation).
struct KillGroup(Option<u32>);

impl Drop for KillGroup {
    fn drop(&mut self) {
        if let Some(pid) = self.0.and_then(|p| libc::pid_t::try_from(p).ok()) {
            // SAFETY: signalling the process group we created; ESRCH (already gone) is fine.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }
}

/// Keeps non-trivial secrets only: an empty or very short value would scrub innocent text.
fn clean_secrets<I: IntoIterator<Item = String>>(it: I) -> Vec<String> {
    let set: BTreeSet<String> = it
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| s.len() >= 8)
        .collect();
    // Longest first, so a secret containing another is replaced whole.
    let mut v: Vec<String> = set.into_iter().collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.len()));
    v
}

/// Whether a JSON key names something secret.
fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    [
        "secret",
        "token",
        "password",
        "passwd",
        "authorization",
        "signature",
        "credential",
        "private_key",
        "privatekey",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// The event as it may leave this node: secret-named keys in `details` replaced, and every
/// string scrubbed by [`scrub_str`].
pub fn scrub_event(ev: &AlertEvent, secrets: &[String]) -> AlertEvent {
    AlertEvent {
        vip: scrub_str(&ev.vip, secrets),
        kind: ev.kind,
        severity: ev.severity,
        node: scrub_str(&ev.node, secrets),
        message: scrub_str(&ev.message, secrets),
        details: scrub_value(&ev.details, secrets),
        time: ev.time,
    }
}

fn scrub_value(v: &Value, secrets: &[String]) -> Value {
    match v {
        Value::String(s) => Value::String(scrub_str(s, secrets)),
        Value::Array(a) => Value::Array(a.iter().map(|x| scrub_value(x, secrets)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = if secret_key(k) && !x.is_null() {
                        Value::String(REDACTED.to_owned())
                    } else {
                        scrub_value(x, secrets)
                    };
                    (scrub_str(k, secrets), x)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Replaces the registered secrets, TC3 `Signature=` values and SecretIds (`AKID…`) in `s`.
pub fn scrub_str(s: &str, secrets: &[String]) -> String {
    let mut out = s.to_owned();
    for sec in secrets {
        if out.contains(sec.as_str()) {
            out = out.replace(sec.as_str(), REDACTED);
        }
    }
    out = scrub_after(&out, "Signature=", |c| c.is_ascii_hexdigit());
    scrub_after(&out, "AKID", |c| c.is_ascii_alphanumeric())
}

/// Replaces the run of `keep`-characters after each `marker` (if at least 8 long) with the
/// redaction mark, keeping the marker itself so the reader knows what was there.
fn scrub_after(s: &str, marker: &str, keep: fn(char) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find(marker) {
        let after = pos + marker.len();
        out.push_str(&rest[..after]);
        let tail = &rest[after..];
        let run = tail.find(|c: char| !keep(c)).unwrap_or(tail.len());
        if run >= 8 {
            out.push_str(REDACTED);
        } else {
            out.push_str(&tail[..run]);
        }
        rest = &tail[run..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Cfg {
        #[serde(default)]
        alert: Vec<AlertTarget>,
    }

    fn parse(s: &str) -> Result<Vec<AlertTarget>, String> {
        toml::from_str::<Cfg>(s)
            .map(|c| c.alert)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn targets_parse_from_toml() {
        let t = parse(
            r#"
            [[alert]]
            type = "webhook"
            url = "http://127.0.0.1:9000/hook"
            timeout = "3s"

            [[alert]]
            type = "wecom"
            url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abcdef123456"
            format = "text"
            min_severity = "warning"

            [[alert]]
            type = "exec"
            command = "mail -s havip ops@example.com"

            [[alert]]
            type = "exec"
            command = ["/usr/bin/logger", "-t", "havip"]
            "#,
        )
        .unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t[0].timeout(), Duration::from_secs(3));
        assert_eq!(t[1].timeout(), DEFAULT_TIMEOUT);
        assert!(matches!(
            t[1],
            AlertTarget::Wecom {
                format: WecomFormat::Text,
                ..
            }
        ));
        assert_eq!(t[1].min_severity(), Severity::Warning);
        assert!(
            matches!(&t[2], AlertTarget::Exec { command: ExecCommand::Shell(s), .. } if s.starts_with("mail"))
        );
        assert!(
            matches!(&t[3], AlertTarget::Exec { command: ExecCommand::Argv(v), .. } if v.len() == 3)
        );
        assert!(t.iter().all(|t| t.validate().is_ok()));
    }

    #[test]
    fn bad_targets_are_errors_naming_the_problem() {
        let cases = [
            (
                "type = \"webhook\"\nurl = \"http://x/\"\nbogus = 1",
                "bogus",
            ),
            ("type = \"pager\"\nurl = \"http://x/\"", "pager"),
            ("type = \"webhook\"\nurl = \"ftp://x/\"", "http"),
            ("type = \"webhook\"\nurl = \"not a url\"", "invalid URL"),
            (
                "type = \"webhook\"\nurl = \"http://x/\"\ntimeout = \"soon\"",
                "soon",
            ),
            ("type = \"exec\"\ncommand = []", "empty"),
            ("type = \"exec\"\ncommand = \"  \"", "empty"),
            ("type = \"exec\"\ncommand = 5", "command string"),
            ("type = \"webhook\"", "url"),
        ];
        for (body, want) in cases {
            let err = parse(&format!("[[alert]]\n{body}\n")).unwrap_err();
            assert!(err.contains(want), "{body:?}: {err}");
        }
        let zero = parse("[[alert]]\ntype = \"webhook\"\nurl = \"http://x/\"\ntimeout = \"0s\"\n");
        assert!(zero.unwrap_err().contains("more than 0s"));
    }

    #[test]
    fn debug_and_display_hide_robot_keys() {
        let t = parse(
            "[[alert]]\ntype = \"wecom\"\nurl = \"https://user:pw@qyapi.weixin.qq.com/cgi-bin/webhook/send?key=s3cr3t-robot-key\"\n",
        )
        .unwrap();
        for s in [format!("{:?}", t[0]), t[0].to_string()] {
            assert!(!s.contains("s3cr3t"), "{s}");
            assert!(!s.contains("pw@"), "{s}");
            assert!(
                s.contains("qyapi.weixin.qq.com/cgi-bin/webhook/send?…"),
                "{s}"
            );
        }
        // The message of a bad-URL error does not echo the key either (the configuration
        // loader reports the message and the line, not toml's source snippet).
        let err = toml::from_str::<Cfg>(
            "[[alert]]\ntype = \"wecom\"\nurl = \"gopher://h/?key=s3cr3t-robot-key\"\n",
        )
        .err()
        .expect("gopher is refused");
        assert!(err.message().contains("gopher://h/?…"), "{}", err.message());
        assert!(!err.message().contains("s3cr3t"), "{}", err.message());

        // A shell command line shows only its program: the rest may hold a password.
        let t =
            parse("[[alert]]\ntype = \"exec\"\ncommand = \"curl -u ops:hunter22 https://h/\"\n")
                .unwrap();
        assert_eq!(t[0].to_string(), "exec curl …");
        assert!(!format!("{:?}", t[0]).contains("hunter22"));
    }

    #[test]
    fn scrubbing_removes_every_kind_of_secret() {
        let secrets = clean_secrets([
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE".to_owned(),
            "short".to_owned(),
            String::new(),
        ]);
        assert_eq!(
            secrets.len(),
            1,
            "short and empty values are not registered"
        );
        let ev = AlertEvent::new(
            "iam",
            AlertKind::Failure,
            "signing with Gu5t9xGARNpq86cd98joQYCN3EXAMPLE failed for AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        )
        .with_details(serde_json::json!({
            "SecretKey": "anything",
            "nested": [{"X-TC-Token": "tok"}, {"authorization": "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2026-11-25/vpc/tc3_request, SignedHeaders=content-type;host, Signature=2230eefd229f582d8e86a5e0ac5a2b29a6ad5f5f92bbd9d3b40ac95b98a30c28"}],
            "log": "Signature=2230eefd229f582d8e86a5e0ac5a2b29a6ad5f5f92bbd9d3b40ac95b98a30c28",
            "holder": "ins-iam00021",
            "empty_token": null,
        }));
        let out = serde_json::to_string(&scrub_event(&ev, &secrets)).unwrap();
        for leaked in [
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            "z8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            "2230eefd",
            "anything",
            "\"tok\"",
        ] {
            assert!(!out.contains(leaked), "{leaked} leaked: {out}");
        }
        assert!(
            out.contains("ins-iam00021"),
            "ordinary details survive: {out}"
        );
        assert!(out.contains("\"empty_token\":null"), "{out}");
    }

    #[test]
    fn scrub_leaves_short_runs_and_plain_text_alone() {
        assert_eq!(
            scrub_str("AKID is a prefix; Signature=abc", &[]),
            "AKID is a prefix; Signature=abc"
        );
        assert_eq!(scrub_str("", &[]), "");
    }

    #[test]
    fn wecom_messages_have_the_robot_shapes() {
        let ev = AlertEvent::new(
            "iam",
            AlertKind::Switch,
            "ins-iam00021 now holds havip-iam00099",
        )
        .with_node("ins-iam00021");
        let md = wecom_message(&ev, WecomFormat::Markdown, &[]);
        assert_eq!(md["msgtype"], "markdown");
        let content = md["markdown"]["content"].as_str().unwrap();
        assert!(content.contains("**havip iam: switch**"), "{content}");
        assert!(
            content.contains("ins-iam00021 now holds havip-iam00099"),
            "{content}"
        );
        let txt = wecom_message(&ev, WecomFormat::Text, &["13800000000".to_owned()]);
        assert_eq!(txt["msgtype"], "text");
        assert_eq!(txt["text"]["mentioned_mobile_list"][0], "13800000000");

        let long = AlertEvent::new("iam", AlertKind::Failure, "é".repeat(5000));
        let md = wecom_message(&long, WecomFormat::Markdown, &[]);
        let c = md["markdown"]["content"].as_str().unwrap();
        assert!(c.len() <= WECOM_MARKDOWN_MAX && c.ends_with('…'));
        let t = wecom_message(&long, WecomFormat::Text, &[]);
        assert!(t["text"]["content"].as_str().unwrap().len() <= WECOM_TEXT_MAX);
    }

    #[test]
    fn event_json_shape_is_stable() {
        let ev = AlertEvent::new("iam", AlertKind::SplitBrain, "two holders").with_node("n1");
        let v = serde_json::to_value(&ev).unwrap();
        assert_eq!(v["kind"], "split-brain");
        assert_eq!(v["severity"], "critical");
        assert_eq!(v["node"], "n1");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
        let back: AlertEvent = serde_json::from_value(v).unwrap();
        assert_eq!(back, ev);
    }

    #[test]
    fn severities_order_and_kinds_default() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Critical);
        assert_eq!(AlertKind::Failure.default_severity(), Severity::Critical);
        assert_eq!(AlertKind::Switch.default_severity(), Severity::Info);
    }
}
