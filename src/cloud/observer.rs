//! What the client tells an observer about each API call (not each attempt): the intent before
//! a call is sent, and one [`CallRecord`] after it ends, to any observer attached with
//! `Client::with_observer` (a run's journal, the watch daemon's metrics). Observers compose:
//! attaching a second keeps the first ([`Both`]).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

/// Receives one record per API call (not per attempt), e.g. to journal it.
pub trait CallObserver: Send + Sync {
    /// Called once before a call's first attempt is sent, so that a write can be journaled
    /// before the cloud sees it (a process killed mid-call leaves its intent behind).
    fn before_call(&self, _service: &str, _action: &str, _mutating: bool) {}
    fn on_call(&self, rec: &CallRecord);
}

/// Two observers, told in order.
pub(crate) struct Both(pub Arc<dyn CallObserver>, pub Arc<dyn CallObserver>);

impl CallObserver for Both {
    fn before_call(&self, service: &str, action: &str, mutating: bool) {
        self.0.before_call(service, action, mutating);
        self.1.before_call(service, action, mutating);
    }

    fn on_call(&self, rec: &CallRecord) {
        self.0.on_call(rec);
        self.1.on_call(rec);
    }
}

/// What happened in one API call. Holds no secrets: parameters are the request's own fields.
#[derive(Clone, Debug, PartialEq)]
pub struct CallRecord {
    pub service: String,
    pub action: String,
    pub request_id: Option<String>,
    pub duration: Duration,
    pub attempts: u32,
    pub outcome: CallOutcome,
    /// Whether the action can change the cloud ([`super::Action::MUTATING`]).
    pub mutating: bool,
    pub params: Value,
}

/// How one API call ended, as journals name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    Ok,
    /// The API error code, or the error class when there is no code ([`super::Error::label`]).
    Failed(String),
}

impl CallOutcome {
    /// `ok`, or the error's label.
    pub fn as_str(&self) -> &str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Failed(label) => label,
        }
    }
}
