//! The request log behind `GET /_sim/requests`: every API request in arrival order, including
//! those rejected by authentication, rate limiting or faults. Bounded (oldest dropped) so a
//! long benchmark cannot exhaust memory. Holds parameters only: never keys, tokens or the
//! Authorization header.

use std::collections::VecDeque;

use serde::Serialize;
use serde_json::Value;

#[derive(Clone, Debug, Serialize)]
pub struct LogEntry {
    /// `null` when the request named no action.
    pub action: Option<String>,
    /// The request parameters, `null` when they could not be parsed.
    pub params: Value,
    /// The error code, or `HTTP <status>` for an injected HTTP failure; `null` on success.
    pub code: Option<String>,
    pub request_id: String,
    pub region: Option<String>,
    /// Simulated-clock Unix seconds at arrival.
    pub time: i64,
}

#[derive(Debug)]
pub struct RequestLog {
    entries: VecDeque<LogEntry>,
    capacity: usize,
}

impl RequestLog {
    pub fn new(capacity: usize) -> Self {
        RequestLog {
            entries: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Changes the capacity, dropping the oldest entries beyond it.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        while self.entries.len() > self.capacity {
            self.entries.pop_front();
        }
    }

    pub fn push(&mut self, entry: LogEntry) {
        if self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
    }

    pub fn entries(&self) -> impl Iterator<Item = &LogEntry> {
        self.entries.iter()
    }

    pub fn clear(&mut self) -> usize {
        let n = self.entries.len();
        self.entries.clear();
        n
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
