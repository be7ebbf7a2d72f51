//! The journal: an append-only JSON-lines history of every event and attempt (what was
//! planned, each API call with its RequestId, duration and outcome, and the verdict), written
//! with fsync so that a crash loses nothing already reported, and read back by `havip journal`.
//!
//! Records never contain secrets: they are built from plan steps, action names, RequestIds,
//! error codes and messages the cloud returned, and never from request parameters.

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::state::VrrpState;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The cloud, read back, shows the desired state.
    Confirmed,
    /// The procedure failed in a way we understand (the message says how).
    Failed,
    /// The cloud could not be read: nobody knows whether it is right.
    Unknown,
    /// A newer event arrived; this run stopped without (further) writes.
    Superseded,
    /// A BACKUP/FAULT/STOP event: recorded and alerted, no cloud writes.
    Recorded,
    /// `--dry-run`: the plan was printed, nothing written.
    Planned,
}

impl Verdict {
    /// Whether the run may exit 0.
    pub fn is_success(self) -> bool {
        !matches!(self, Verdict::Failed | Verdict::Unknown)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Confirmed => "CONFIRMED",
            Verdict::Failed => "FAILED",
            Verdict::Unknown => "UNKNOWN",
            Verdict::Superseded => "SUPERSEDED",
            Verdict::Recorded => "RECORDED",
            Verdict::Planned => "PLANNED",
        })
    }
}

/// One API call as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEntry {
    /// e.g. `AssociateHaVipInstance`.
    pub action: String,
    /// The cloud's RequestId, when an answer arrived.
    pub request_id: Option<String>,
    /// When the call started (with retries).
    pub start: DateTime<Utc>,
    /// Duration including retries.
    pub duration_ms: u64,
    /// Attempts made (1 without retries).
    pub attempts: u32,
    /// `ok`, or the error code / failure class.
    pub outcome: String,
    /// Whether the call can change the cloud (used to prove no two writes overlapped).
    pub mutating: bool,
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalRecord {
    /// When the record was written.
    pub time: DateTime<Utc>,
    /// The VIP name.
    pub vip: String,
    /// `notify`, `takeover`, `failover`.
    pub trigger: String,
    /// The keepalived state of the event, if the trigger had one.
    #[serde(default)]
    pub event: Option<VrrpState>,
    /// The event's sequence number, if it was recorded.
    #[serde(default)]
    pub seq: Option<u64>,
    /// `havip`, `private-ip`, `eip`.
    #[serde(default)]
    pub strategy: Option<String>,
    /// This node's instance, once known.
    #[serde(default)]
    pub node: Option<String>,
    /// The planned steps, as text.
    #[serde(default)]
    pub plan: Vec<String>,
    /// The API calls made, in order.
    #[serde(default)]
    pub calls: Vec<CallEntry>,
    /// The outcome.
    pub verdict: Verdict,
    /// One readable sentence about the outcome.
    pub message: String,
    /// Wall time of the run.
    pub elapsed_ms: u64,
    /// Whether it was a dry run.
    #[serde(default)]
    pub dry_run: bool,
}

/// Appends records to the journal file.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

impl Journal {
    /// A journal at `path` (created, with its directory, on first append).
    pub fn new(path: &Path) -> Journal {
        Journal {
            path: path.to_path_buf(),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as one line and fsyncs it before returning.
    pub fn append(&self, rec: &JournalRecord) -> io::Result<()> {
        let ctx = |what: &str, e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("cannot {what} {}: {e}", self.path.display()),
            )
        };
        if let Some(dir) = self.path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| ctx("create the directory of", e))?;
            }
        }
        let mut line = serde_json::to_vec(rec).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| ctx("open", e))?;
        // Handlers for different VIPs append concurrently; O_APPEND places each write at the
        // end, and the flock makes sure a long line is never interleaved with another.
        // SAFETY: flock on a descriptor we own.
        while unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(ctx("lock", e));
            }
        }
        f.write_all(&line).map_err(|e| ctx("append to", e))?;
        f.sync_data().map_err(|e| ctx("fsync", e))
    }

    /// The last `n` records (of `vip`, if given), oldest first, plus the number of damaged
    /// lines skipped (a torn last line after a power cut must not hide the rest).
    pub fn tail(&self, vip: Option<&str>, n: usize) -> io::Result<(Vec<JournalRecord>, usize)> {
        let f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot open {}: {e}", self.path.display()),
                ))
            }
        };
        let mut out = VecDeque::with_capacity(n.min(4096));
        let mut damaged = 0;
        for line in BufReader::new(f).split(b'\n') {
            // A directory opens but does not read (EISDIR): name the path, as for open.
            let line = line.map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot read {}: {e}", self.path.display()),
                )
            })?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<JournalRecord>(&line) {
                Ok(r) if vip.is_none_or(|v| r.vip == v) => {
                    if n == 0 {
                        continue;
                    }
                    if out.len() == n {
                        out.pop_front();
                    }
                    out.push_back(r);
                }
                Ok(_) => {}
                Err(_) => damaged += 1,
            }
        }
        Ok((out.into(), damaged))
    }
}

/// The readable form `havip journal` prints for one record.
pub fn render(rec: &JournalRecord) -> String {
    let mut s = String::new();
    let event = rec.event.map(|e| format!(" {e}")).unwrap_or_default();
    let seq = rec.seq.map(|n| format!("#{n}")).unwrap_or_default();
    let dry = if rec.dry_run { " (dry run)" } else { "" };
    let _ = writeln!(
        s,
        "{}  {}  {}{}{}  {}  {:.2}s{}  {}",
        rec.time
            .to_rfc3339_opts(SecondsFormat::Millis, true)
            .replace('T', " "),
        rec.vip,
        rec.trigger,
        seq,
        event,
        rec.verdict,
        rec.elapsed_ms as f64 / 1000.0,
        dry,
        rec.message
    );
    if !rec.plan.is_empty() {
        let _ = writeln!(s, "    plan: {}", rec.plan.join("; "));
    }
    for c in &rec.calls {
        let _ = writeln!(
            s,
            "    {:<28} {:>6} ms  {}{}  {}",
            c.action,
            c.duration_ms,
            c.outcome,
            if c.attempts > 1 {
                format!(" after {} attempts", c.attempts)
            } else {
                String::new()
            },
            c.request_id.as_deref().unwrap_or("-")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(vip: &str, seq: u64) -> JournalRecord {
        JournalRecord {
            time: Utc::now(),
            vip: vip.into(),
            trigger: "notify".into(),
            event: Some(VrrpState::Master),
            seq: Some(seq),
            strategy: Some("havip".into()),
            node: Some("ins-iam00021".into()),
            plan: vec!["add ins-iam00021 to the drift range of havip-1".into()],
            calls: vec![CallEntry {
                action: "AssociateHaVipInstance".into(),
                request_id: Some("req-1".into()),
                start: Utc::now(),
                duration_ms: 12,
                attempts: 3,
                outcome: "ok".into(),
                mutating: true,
            }],
            verdict: Verdict::Confirmed,
            message: "ins-iam00021 holds havip-1".into(),
            elapsed_ms: 1234,
            dry_run: false,
        }
    }

    #[test]
    fn append_then_tail_filters_and_limits() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::new(&d.path().join("sub/journal.jsonl"));
        assert_eq!(
            j.tail(None, 10).unwrap().0.len(),
            0,
            "no file yet is empty history"
        );
        for i in 1..=5 {
            j.append(&rec(if i % 2 == 0 { "b" } else { "a" }, i))
                .unwrap();
        }
        let (all, bad) = j.tail(None, 3).unwrap();
        assert_eq!(bad, 0);
        assert_eq!(
            all.iter().map(|r| r.seq.unwrap()).collect::<Vec<_>>(),
            [3, 4, 5]
        );
        let (a, _) = j.tail(Some("a"), 10).unwrap();
        assert_eq!(
            a.iter().map(|r| r.seq.unwrap()).collect::<Vec<_>>(),
            [1, 3, 5]
        );
    }

    #[test]
    fn a_torn_line_is_counted_not_fatal() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("j.jsonl");
        let j = Journal::new(&p);
        j.append(&rec("a", 1)).unwrap();
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"time\":\"2026").unwrap();
        let (recs, bad) = j.tail(None, 10).unwrap();
        assert_eq!((recs.len(), bad), (1, 1));
    }

    #[test]
    fn render_is_readable() {
        let out = render(&rec("iam", 7));
        assert!(
            out.contains("iam  notify#7 MASTER  CONFIRMED  1.23s"),
            "{out}"
        );
        assert!(out.contains("plan: add ins-iam00021"), "{out}");
        assert!(
            out.contains("AssociateHaVipInstance") && out.contains("after 3 attempts"),
            "{out}"
        );
    }
}
