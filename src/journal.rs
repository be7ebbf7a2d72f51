//! The journal: an append-only JSON-lines history of every event and attempt (what was
//! planned, each API call with its RequestId, duration and outcome, and the verdict), written
//! with fsync so that a crash loses nothing already reported, and read back by `havip journal`.
//!
//! Records never contain secrets: they are built from plan steps, action names, RequestIds,
//! error codes and messages the cloud returned, and never from request parameters.

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::config::StrategyKind;
use crate::error_chain::io_at_path;
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
    pub(crate) fn is_success(self) -> bool {
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

/// What a run was started by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// keepalived's notify hook.
    Notify,
    /// `havip takeover`.
    Takeover,
    /// `havip failover`.
    Failover,
    /// A later run's record of a run that was killed before it recorded its verdict.
    Interrupted,
    /// keepalived's `notify_master_rx_lower_pri`: this MASTER saw a lower-priority advert (a
    /// backup was briefly master and may have moved the cloud), so it re-asserts.
    #[serde(rename = "rx-lower-pri")]
    RxLowerPri,
    /// A keepalived event read from its `notify_fifo` by `havip watch`.
    Fifo,
    /// A repair by `havip watch`: the cloud drifted away from this MASTER.
    Watch,
}

impl Trigger {
    /// The name the journal, the state file and alerts use.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Notify => "notify",
            Trigger::Takeover => "takeover",
            Trigger::Failover => "failover",
            Trigger::Interrupted => "interrupted",
            Trigger::RxLowerPri => "rx-lower-pri",
            Trigger::Fifo => "fifo",
            Trigger::Watch => "watch",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
    pub trigger: Trigger,
    /// The keepalived state of the event, if the trigger had one.
    #[serde(default)]
    pub event: Option<VrrpState>,
    /// The event's sequence number, if it was recorded.
    #[serde(default)]
    pub seq: Option<u64>,
    /// `havip`, `private-ip`, `eip`.
    #[serde(default)]
    pub strategy: Option<StrategyKind>,
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
    /// The run, as its write records name it (absent in journals written before issue 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// One line written around a cloud write: its intent before the request is sent, its outcome
/// after the answer (or the give-up). A process killed in between leaves an intent with no
/// outcome; a run killed at any point after a write leaves no run record. The next run for the
/// VIP reports such runs ([`Journal::interrupted_runs`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WriteRecord {
    /// When the line was written.
    pub time: DateTime<Utc>,
    /// `intent` or `outcome`.
    pub write: WritePhase,
    /// The VIP name.
    pub vip: String,
    /// The run that makes the write: `<pid>-<start in unix ms>`.
    pub run: String,
    /// The keepalived event the run acts for, if it was recorded.
    #[serde(default)]
    pub seq: Option<u64>,
    /// The write's number within its run (1, 2, …): an intent and its outcome share it.
    pub n: u64,
    /// e.g. `HaVipAssociateAddressIp`.
    pub action: String,
    /// Outcome only: the cloud's RequestId, when an answer arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Outcome only: `ok`, or the error code or class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// Outcome only: attempts made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
}

/// The two lines around a cloud write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WritePhase {
    /// Written (fsynced) before the request is sent.
    Intent,
    /// Written after the call ended, however it ended.
    Outcome,
}

/// How much of the journal's end [`Journal::interrupted_runs`] reads: a killed run is the one
/// just before the current one, so its records are near the end; reading a bounded tail keeps
/// the check cheap however large the journal has grown.
const INTERRUPTED_SCAN_BYTES: u64 = 1 << 20;

/// A run that made writes and never recorded its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InterruptedRun {
    /// Its run identifier (`<pid>-<start in unix ms>`).
    pub run: String,
    /// The event it acted for.
    pub seq: Option<u64>,
    /// Its writes, in order: the outcome where one was recorded, else the intent.
    pub writes: Vec<WriteRecord>,
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

    #[cfg(test)]
    /// Appends one run record as one line and fsyncs it before returning.
    pub(crate) fn append(&self, rec: &JournalRecord) -> io::Result<()> {
        self.append_line(rec)
    }

    /// Appends `value` (a [`JournalRecord`] or a [`WriteRecord`]) as one JSON line, fsynced. Every append starts on a fresh line: when the
    /// file ends in a torn line (a crash mid-write, a full disk), a newline is written first so
    /// the damage stays on that line and never swallows this record.
    pub fn append_line<T: Serialize>(&self, value: &T) -> io::Result<()> {
        let ctx = |what: &str, e: io::Error| io_at_path(&format!("cannot {what}"), &self.path, e);
        if let Some(dir) = self.path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| ctx("create the directory of", e))?;
            }
        }
        let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
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
        if !ends_with_newline(&f).map_err(|e| ctx("read the end of", e))? {
            line.insert(0, b'\n');
        }
        f.write_all(&line).map_err(|e| ctx("append to", e))?;
        f.sync_data().map_err(|e| ctx("fsync", e))
    }

    /// The runs of `vip` near the end of the journal that made writes but never recorded their
    /// verdict (killed between a write and the end of the run), other than run `current`.
    /// Each write is given by its outcome when one was recorded, else by its intent. Call it
    /// while holding the VIP's run lock, so no other run of the VIP is in flight.
    ///
    /// When the journal has just been rotated (logrotate renames it to `<name>.1`; see
    /// deploy/logrotate), the interrupted run may be all in the old file, or its run record in
    /// the new one: the end of `<name>.1` is read first, within the same bound.
    pub(crate) fn interrupted_runs(
        &self,
        vip: &str,
        current: &str,
    ) -> io::Result<Vec<InterruptedRun>> {
        let mut runs: Vec<InterruptedRun> = Vec::new();
        let len = match std::fs::metadata(&self.path) {
            Ok(m) => m.len(),
            // Rotated, and nothing written since.
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io_at_path("cannot read", &self.path, e)),
        };
        let mut rotated = self.path.clone().into_os_string();
        rotated.push(".1");
        // Oldest first: a run record in the new file closes a run begun in the old one.
        let sources = [
            (
                PathBuf::from(rotated),
                INTERRUPTED_SCAN_BYTES.saturating_sub(len),
            ),
            (self.path.clone(), INTERRUPTED_SCAN_BYTES),
        ];
        for (path, budget) in sources {
            if budget == 0 {
                continue;
            }
            match scan_tail(&path, budget, vip, current, &mut runs) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_at_path("cannot read", &path, e)),
            }
        }
        Ok(runs)
    }

    /// The last `n` records (of `vip`, if given), oldest first, plus the number of damaged
    /// lines skipped (a torn last line after a power cut must not hide the rest).
    pub fn tail(&self, vip: Option<&str>, n: usize) -> io::Result<(Vec<JournalRecord>, usize)> {
        let f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => return Err(io_at_path("cannot open", &self.path, e)),
        };
        let mut out = VecDeque::with_capacity(n.min(4096));
        let mut damaged = 0;
        // Bounded by the length seen at open (a device path must not read forever).
        let len = f.metadata()?.len();
        for line in BufReader::new(f.take(len)).split(b'\n') {
            // A directory opens but does not read (EISDIR): name the path, as for open.
            let line = line.map_err(|e| io_at_path("cannot read", &self.path, e))?;
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
                // Intents and outcomes of writes are kept for the next run, not shown.
                Err(_) if serde_json::from_slice::<WriteRecord>(&line).is_ok() => {}
                Err(_) => damaged += 1,
            }
        }
        Ok((out.into(), damaged))
    }
}

/// Reads the last `budget` bytes of the journal file at `path` for
/// [`Journal::interrupted_runs`]: a write record of `vip` (not of run `current`) opens or
/// updates its run in `runs`, a run record closes it.
fn scan_tail(
    path: &Path,
    budget: u64,
    vip: &str,
    current: &str,
    runs: &mut Vec<InterruptedRun>,
) -> io::Result<()> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let from = len.saturating_sub(budget);
    f.seek(SeekFrom::Start(from))?;
    // Only up to the length seen: a device (`/dev/full` reads as endless zeros) or a file
    // growing behind us must not make this read unbounded.
    let mut lines = BufReader::new(f.take(len - from)).split(b'\n');
    if from > 0 {
        // The first line is most likely cut by the seek.
        lines.next();
    }
    for line in lines {
        let line = line?;
        if let Ok(w) = serde_json::from_slice::<WriteRecord>(&line) {
            if w.vip != vip || w.run == current {
                continue;
            }
            let i = match runs.iter().position(|r| r.run == w.run) {
                Some(i) => i,
                None => {
                    runs.push(InterruptedRun {
                        run: w.run.clone(),
                        seq: w.seq,
                        writes: Vec::new(),
                    });
                    runs.len() - 1
                }
            };
            let writes = &mut runs[i].writes;
            match writes.iter_mut().find(|x| x.n == w.n) {
                Some(x) if w.write == WritePhase::Outcome => *x = w,
                Some(_) => {}
                None => writes.push(w),
            }
        } else if let Ok(r) = serde_json::from_slice::<JournalRecord>(&line) {
            // A run record closes its run, including the record a later run writes for an
            // interrupted one once it has reported it.
            if let Some(run) = r.run.as_deref().filter(|_| r.vip == vip) {
                runs.retain(|x| x.run != run);
            }
        }
    }
    Ok(())
}

/// Whether the file is empty or its last byte is a newline (read with `pread`, so the append
/// position is untouched).
fn ends_with_newline(f: &std::fs::File) -> io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    let mut last = [0u8; 1];
    f.read_exact_at(&mut last, len - 1)?;
    Ok(last[0] == b'\n')
}

/// Where a journal line goes when the journal cannot be written: standard error and syslog
/// (keepalived discards a notify script's output, so syslog is the copy that survives).
pub(crate) fn fallback(line: &str) {
    eprintln!("havip: journal (not written to file): {line}");
    if let Ok(msg) = std::ffi::CString::new(format!("journal: {line}")) {
        // SAFETY: a constant format string and a NUL-terminated argument; syslog(3) opens
        // the connection itself when openlog was not called.
        unsafe {
            libc::syslog(
                libc::LOG_DAEMON | libc::LOG_WARNING,
                c"havip %s".as_ptr(),
                msg.as_ptr(),
            )
        };
    }
}

/// The readable form `havip journal` prints for one record.
pub(crate) fn render(rec: &JournalRecord) -> String {
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
            trigger: Trigger::Notify,
            event: Some(VrrpState::Master),
            seq: Some(seq),
            strategy: Some(StrategyKind::Havip),
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
            run: None,
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

    /// Issue 7, defect 5: `printf '{"time":"x' >> journal`, and the next append landed on the
    /// same line, so that record was lost too.
    #[test]
    fn regression_a_torn_last_line_does_not_swallow_the_next_record() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("j.jsonl");
        let j = Journal::new(&p);
        j.append(&rec("a", 1)).unwrap();
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"time\":\"x").unwrap();
        j.append(&rec("a", 2)).unwrap();
        let (recs, bad) = j.tail(None, 10).unwrap();
        assert_eq!(
            recs.iter().map(|r| r.seq.unwrap()).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(bad, 1, "only the torn fragment is damaged");
    }

    #[test]
    fn interrupted_runs_are_runs_with_writes_and_no_run_record() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::new(&d.path().join("j.jsonl"));
        let w = |run: &str, vip: &str, n: u64, phase: WritePhase| WriteRecord {
            time: Utc::now(),
            write: phase,
            vip: vip.into(),
            run: run.into(),
            seq: Some(1),
            n,
            action: "HaVipAssociateAddressIp".into(),
            request_id: None,
            outcome: None,
            attempts: None,
        };
        for r in [
            w("1-1", "iam", 1, WritePhase::Intent),
            w("1-1", "iam", 1, WritePhase::Outcome),
            w("2-2", "iam", 1, WritePhase::Intent),
            w("2-2", "iam", 1, WritePhase::Outcome),
            w("2-2", "iam", 2, WritePhase::Intent),
            w("4-4", "other", 1, WritePhase::Intent),
            w("3-3", "iam", 1, WritePhase::Intent),
        ] {
            j.append_line(&r).unwrap();
        }
        let mut closed = rec("iam", 4);
        closed.run = Some("1-1".into());
        j.append(&closed).unwrap();
        let open = j.interrupted_runs("iam", "3-3").unwrap();
        assert_eq!(
            open.iter().map(|r| r.run.as_str()).collect::<Vec<_>>(),
            ["2-2"],
            "closed runs, other VIPs' and the current run are not interrupted"
        );
        let phases: Vec<WritePhase> = open[0].writes.iter().map(|w| w.write).collect();
        assert_eq!(phases, [WritePhase::Outcome, WritePhase::Intent]);
        let (recs, bad) = j.tail(None, 10).unwrap();
        assert_eq!((recs.len(), bad), (1, 0), "write records are not damage");
    }

    #[test]
    fn an_interrupted_run_is_found_across_a_rotation() {
        let d = tempfile::tempdir().unwrap();
        let old = Journal::new(&d.path().join("j.jsonl.1"));
        let j = Journal::new(&d.path().join("j.jsonl"));
        let w = |run: &str, phase: WritePhase| WriteRecord {
            time: Utc::now(),
            write: phase,
            vip: "iam".into(),
            run: run.into(),
            seq: Some(1),
            n: 1,
            action: "AssociateAddress".into(),
            request_id: None,
            outcome: None,
            attempts: None,
        };
        // Killed before the rotation: all of run 2-2 is in the old file. Run 5-5 wrote before
        // the rotation and recorded its verdict after it.
        old.append_line(&w("2-2", WritePhase::Intent)).unwrap();
        old.append_line(&w("5-5", WritePhase::Intent)).unwrap();
        old.append_line(&w("5-5", WritePhase::Outcome)).unwrap();
        let mut closed = rec("iam", 6);
        closed.run = Some("5-5".into());
        j.append(&closed).unwrap();
        j.append_line(&w("3-3", WritePhase::Intent)).unwrap();
        let open = j.interrupted_runs("iam", "3-3").unwrap();
        assert_eq!(
            open.iter().map(|r| r.run.as_str()).collect::<Vec<_>>(),
            ["2-2"]
        );
        // Once 2-2 is reported, its closing record (in the new file) closes it.
        let mut reported = rec("iam", 7);
        reported.run = Some("2-2".into());
        j.append(&reported).unwrap();
        assert!(j.interrupted_runs("iam", "3-3").unwrap().is_empty());
        // Just rotated, nothing written since: the old file alone is read.
        let d = tempfile::tempdir().unwrap();
        let old = Journal::new(&d.path().join("j.jsonl.1"));
        old.append_line(&w("8-8", WritePhase::Intent)).unwrap();
        let j = Journal::new(&d.path().join("j.jsonl"));
        let open = j.interrupted_runs("iam", "9-9").unwrap();
        assert_eq!(
            open.iter().map(|r| r.run.as_str()).collect::<Vec<_>>(),
            ["8-8"]
        );
    }

    #[test]
    fn a_device_journal_is_read_within_bounds() {
        // /dev/zero reads as endless NULs: bounded by its length (0), it is an empty journal.
        let j = Journal::new(Path::new("/dev/zero"));
        assert_eq!(j.tail(None, 10).unwrap().0.len(), 0);
        assert!(j.interrupted_runs("iam", "1-1").unwrap().is_empty());
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
