//! The event model: what happened ([`AlertKind`]), how bad it is ([`Severity`]), and the
//! [`AlertEvent`] every target receives (the webhook body and the exec hook's stdin, as JSON).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::hostname::hostname;

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
    pub(crate) fn default_severity(self) -> Severity {
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
    pub(crate) fn title(&self) -> String {
        format!(
            "[{}] havip {}: {} on {}",
            self.severity, self.vip, self.kind, self.node
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
