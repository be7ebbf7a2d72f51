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
//!
//! The module by concern: `event` (what an alert says), `target` (one `[[alert]]` entry),
//! `deliver` (the [`Alerter`]: concurrency and time bounds), the transports `webhook`, `wecom`
//! and `exec`, `scrub` (what may leave this node) and `hostname`.

mod deliver;
mod event;
mod exec;
mod hostname;
mod scrub;
mod target;
mod webhook;
mod wecom;

pub use deliver::{Alerter, Outcome};
pub use event::{AlertEvent, AlertKind, Severity};
pub(crate) use hostname::hostname;
pub(crate) use scrub::redact_url;
pub(crate) use target::deserialize_timeout;
pub use target::AlertTarget;
