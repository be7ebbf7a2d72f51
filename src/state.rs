//! Per-VIP event state and locks: how concurrent, out-of-order keepalived notifications become
//! "latest wins, never two mutations in flight".
//!
//! keepalived forks a notify script per transition and does not wait, so handlers for one VIP
//! run concurrently and may start in any order (ARCHITECTURE.md "Entry points"). Each handler:
//! 1. records its event under a short *record lock*: reads the per-VIP state file, writes it back
//!    with the next sequence number (temp file, fsync, rename, fsync of the directory), so the
//!    order of records is the order keepalived's events reached the disk;
//! 2. takes the per-VIP *run lock* (held for the whole cloud procedure) and re-reads the file:
//!    if a newer event was recorded meanwhile, it exits without acting;
//! 3. while acting, checks [`VipState::superseded`] before every write, so a newer event stops
//!    an older procedure at the next step instead of after it.
//!
//! Locks are `flock(2)` on files that are never deleted, so a crashed holder releases its lock
//! with its file descriptors.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::backoff::Backoff;
use crate::error_chain::io_at_path;
use serde::{Deserialize, Serialize};

/// A keepalived VRRP state as passed to notify scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VrrpState {
    /// This node holds the VIP: run the strategy.
    Master,
    /// Another node holds it.
    Backup,
    /// This node's checks fail.
    Fault,
    /// keepalived stopped (or deleted the instance).
    Stop,
}

impl VrrpState {
    /// Parses keepalived's spelling (`MASTER`, …; `DELETED`, sent when an instance is removed
    /// on reload, counts as `STOP`). Case-insensitive for hand-typed `--state`.
    pub fn parse(s: &str) -> Option<VrrpState> {
        match s.to_ascii_uppercase().as_str() {
            "MASTER" => Some(VrrpState::Master),
            "BACKUP" => Some(VrrpState::Backup),
            "FAULT" => Some(VrrpState::Fault),
            "STOP" | "DELETED" => Some(VrrpState::Stop),
            _ => None,
        }
    }
}

impl VrrpState {
    /// keepalived's spelling: `MASTER`, `BACKUP`, `FAULT`, `STOP`.
    pub fn as_str(self) -> &'static str {
        match self {
            VrrpState::Master => "MASTER",
            VrrpState::Backup => "BACKUP",
            VrrpState::Fault => "FAULT",
            VrrpState::Stop => "STOP",
        }
    }
}

impl fmt::Display for VrrpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The newest recorded event of one VIP (the content of `<state_dir>/<vip>.event.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Strictly increasing per VIP.
    pub seq: u64,
    /// The state keepalived reported.
    pub state: VrrpState,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// What produced it: `notify`, `takeover`, …
    pub trigger: String,
    /// The recording process.
    pub pid: u32,
    /// When this node last became MASTER, while it still is: the "transition" a fresh HAVIP
    /// `FlushedTime` is compared with. A repeated MASTER keeps the earlier time, so confirming
    /// an already-correct state needs no new announcement.
    pub master_since: Option<DateTime<Utc>>,
}

impl EventRecord {
    /// The record that follows `prev` for a new `state` (the pure half of
    /// [`VipState::record`], also used in memory when the state directory cannot be written).
    pub fn after(
        prev: Option<&EventRecord>,
        state: VrrpState,
        trigger: &str,
        now: DateTime<Utc>,
    ) -> EventRecord {
        let master_since = match (state, prev) {
            (VrrpState::Master, Some(p)) if p.state == VrrpState::Master => {
                p.master_since.or(Some(p.at))
            }
            (VrrpState::Master, _) => Some(now),
            _ => None,
        };
        EventRecord {
            seq: prev.map_or(1, |p| p.seq + 1),
            state,
            at: now,
            trigger: trigger.to_string(),
            pid: std::process::id(),
            master_since,
        }
    }
}

/// How often a waiting handler tries the run lock: soon at first (a short run ends soon), then
/// every 20 ms.
const LOCK_POLL: Backoff = Backoff {
    initial: Duration::from_millis(1),
    factor: 2.0,
    max: Duration::from_millis(20),
};

/// Why the run lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another handler held it past our deadline (its PID, as it wrote it into the file).
    #[error("another havip run for this VIP{} still holds {} at the deadline", .1.map(|p| format!(" (pid {p})")).unwrap_or_default(), .0.display())]
    Timeout(PathBuf, Option<u32>),
    /// The lock file could not be opened or locked.
    #[error("cannot lock {}: {}", .0.display(), .1)]
    Io(PathBuf, #[source] io::Error),
}

/// A held `flock`; released on drop (closing the descriptor releases it).
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
}

impl LockGuard {
    /// Writes this process's PID into the lock file, so a run that times out waiting can name
    /// the holder. Best effort: a full disk must not stop the run that holds the lock.
    fn write_pid(&self) {
        use std::os::unix::fs::FileExt;
        let pid = format!("{}\n", std::process::id());
        let _ = self
            ._file
            .set_len(0)
            .and_then(|()| self._file.write_all_at(pid.as_bytes(), 0));
    }
}

/// The state files of one VIP.
#[derive(Debug, Clone)]
pub struct VipState {
    dir: PathBuf,
    vip: String,
}

impl VipState {
    /// The state of `vip` under `dir` (created on first write).
    pub fn new(dir: &Path, vip: &str) -> VipState {
        VipState {
            dir: dir.to_path_buf(),
            vip: vip.to_string(),
        }
    }

    /// `<dir>/<vip>.event.json`.
    pub(crate) fn event_path(&self) -> PathBuf {
        self.dir.join(format!("{}.event.json", self.vip))
    }

    fn record_lock_path(&self) -> PathBuf {
        self.dir.join(format!("{}.event.lock", self.vip))
    }

    /// `<dir>/<vip>.lock`, held while a procedure may write to the cloud.
    pub(crate) fn run_lock_path(&self) -> PathBuf {
        self.dir.join(format!("{}.lock", self.vip))
    }

    /// The newest recorded event, if any. A damaged file reads as an error naming it.
    pub fn read(&self) -> io::Result<Option<EventRecord>> {
        let path = self.event_path();
        match crate::bounds::read_file_capped(&path, crate::bounds::MAX_CONFIG_BYTES) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|source| {
                io::Error::new(io::ErrorKind::InvalidData, Damaged { path, source })
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_at_path("cannot read", &path, e)),
        }
    }

    /// Records `state` as the newest event and returns it with its sequence number.
    pub fn record(&self, state: VrrpState, trigger: &str) -> io::Result<EventRecord> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| io_at_path("cannot create", &self.dir, e))?;
        // The record lock is short (one read and one write), so a blocking flock is fine and
        // keeps sequence numbers dense and ordered.
        let _guard = lock_file(&self.record_lock_path(), true)?
            .ok_or_else(|| io::Error::other("blocking flock returned without the lock"))?;
        let prev = match self.read() {
            Ok(p) => p,
            // A damaged file must not wedge every future event: start again after it, but
            // keep going upward from a number no earlier file could have reached.
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                tracing::warn!("{e}; starting a new sequence");
                None
            }
            Err(e) => return Err(e),
        };
        let rec = EventRecord::after(prev.as_ref(), state, trigger, Utc::now());
        let bytes = serde_json::to_vec(&rec).map_err(io::Error::other)?;
        write_atomic(&self.event_path(), &bytes)?;
        Ok(rec)
    }

    /// Takes the run lock, polling until `deadline` (a blocking flock could not honour it).
    pub fn lock(&self, deadline: Instant) -> Result<LockGuard, LockError> {
        let path = self.run_lock_path();
        std::fs::create_dir_all(&self.dir).map_err(|e| LockError::Io(self.dir.clone(), e))?;
        let mut pauses = LOCK_POLL.pauses();
        loop {
            let pause = pauses.next_pause();
            match lock_file(&path, false) {
                Ok(Some(g)) => {
                    g.write_pid();
                    return Ok(g);
                }
                Ok(None) => {}
                Err(e) => return Err(LockError::Io(path, e)),
            }
            if Instant::now() + pause >= deadline {
                let holder = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|s| s.trim().parse().ok());
                return Err(LockError::Timeout(path, holder));
            }
            std::thread::sleep(pause);
        }
    }

    /// True when an event newer than `seq` has been recorded (or the file cannot be read,
    /// which must also stop a write: acting on a state we cannot see is not "latest wins").
    pub fn superseded(&self, seq: u64) -> bool {
        match self.read() {
            Ok(Some(r)) => r.seq != seq,
            Ok(None) | Err(_) => true,
        }
    }
}

/// A state file that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("{} is damaged: {source}", path.display())]
struct Damaged {
    path: PathBuf,
    #[source]
    source: serde_json::Error,
}

/// Opens (creating) `path` and flocks it exclusively; `Ok(None)` when non-blocking and busy.
fn lock_file(path: &Path, blocking: bool) -> io::Result<Option<LockGuard>> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| io_at_path("cannot open", path, e))?;
    let op = if blocking {
        libc::LOCK_EX
    } else {
        libc::LOCK_EX | libc::LOCK_NB
    };
    loop {
        // SAFETY: flock on a descriptor we own; it has no memory-safety preconditions.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
        if rc == 0 {
            return Ok(Some(LockGuard { _file: file }));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EWOULDBLOCK) if !blocking => return Ok(None),
            _ => return Err(io_at_path("cannot flock", path, e)),
        }
    }
}

/// Replaces `path` with `bytes` so a reader sees the old or the new content, never a mix, and
/// a crash after return loses nothing: temp file, fsync, rename, fsync of the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let ctx = |what: &str, p: &Path, e: io::Error| io_at_path(&format!("cannot {what}"), p, e);
    {
        let mut f = File::create(&tmp).map_err(|e| ctx("create", &tmp, e))?;
        f.write_all(bytes).map_err(|e| ctx("write", &tmp, e))?;
        f.sync_all().map_err(|e| ctx("fsync", &tmp, e))?;
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(ctx("rename onto", path, e));
    }
    // The rename is durable only once the directory entry is.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ctx("fsync", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_parse_like_keepalived_passes_them() {
        assert_eq!(VrrpState::parse("MASTER"), Some(VrrpState::Master));
        assert_eq!(VrrpState::parse("backup"), Some(VrrpState::Backup));
        assert_eq!(VrrpState::parse("FAULT"), Some(VrrpState::Fault));
        assert_eq!(VrrpState::parse("DELETED"), Some(VrrpState::Stop));
        assert_eq!(VrrpState::parse("MASTERX"), None);
        assert_eq!(VrrpState::parse(""), None);
    }

    #[test]
    fn sequence_increases_and_master_since_carries_over() {
        let d = tempfile::tempdir().unwrap();
        let s = VipState::new(d.path(), "iam");
        assert_eq!(s.read().unwrap(), None);
        let a = s.record(VrrpState::Master, "notify").unwrap();
        assert_eq!(a.seq, 1);
        assert_eq!(a.master_since, Some(a.at));
        let b = s.record(VrrpState::Master, "notify").unwrap();
        assert_eq!(b.seq, 2);
        assert_eq!(
            b.master_since, a.master_since,
            "repeated MASTER keeps the transition"
        );
        let c = s.record(VrrpState::Backup, "notify").unwrap();
        assert_eq!((c.seq, c.master_since), (3, None));
        let e = s.record(VrrpState::Master, "notify").unwrap();
        assert_eq!(e.master_since, Some(e.at), "a new transition after BACKUP");
        assert_eq!(s.read().unwrap(), Some(e.clone()));
        assert!(s.superseded(3));
        assert!(!s.superseded(e.seq));
    }

    #[test]
    fn damaged_file_restarts_the_sequence_instead_of_wedging() {
        let d = tempfile::tempdir().unwrap();
        let s = VipState::new(d.path(), "iam");
        std::fs::write(s.event_path(), b"{not json").unwrap();
        assert!(s.read().unwrap_err().to_string().contains("damaged"));
        assert!(s.superseded(1), "an unreadable state stops writes");
        assert_eq!(s.record(VrrpState::Backup, "notify").unwrap().seq, 1);
    }

    #[test]
    fn run_lock_is_exclusive_and_times_out() {
        let d = tempfile::tempdir().unwrap();
        let s = VipState::new(d.path(), "iam");
        let g = s.lock(Instant::now() + Duration::from_secs(1)).unwrap();
        // flock locks belong to the open file description, so a second open in this process
        // contends exactly like another process would.
        let t0 = Instant::now();
        let e = s
            .lock(Instant::now() + Duration::from_millis(50))
            .unwrap_err();
        assert!(matches!(e, LockError::Timeout(..)), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(1));
        drop(g);
        s.lock(Instant::now() + Duration::from_millis(50)).unwrap();
    }

    /// Issue 7, defect 7: the lock-timeout message did not name the holder's PID.
    #[test]
    fn regression_the_lock_timeout_names_the_holders_pid() {
        let d = tempfile::tempdir().unwrap();
        let s = VipState::new(d.path(), "iam");
        let _held = s.lock(Instant::now() + Duration::from_secs(1)).unwrap();
        let e = s
            .lock(Instant::now() + Duration::from_millis(20))
            .unwrap_err();
        assert!(
            matches!(e, LockError::Timeout(_, Some(pid)) if pid == std::process::id()),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(
            text.contains(&format!("(pid {})", std::process::id()))
                && text.contains(&s.run_lock_path().display().to_string()),
            "{text}"
        );
    }

    #[test]
    fn concurrent_records_get_distinct_dense_sequence_numbers() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().to_path_buf();
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    let s = VipState::new(&dir, "iam");
                    (0..10)
                        .map(|j| {
                            let st = if (i + j) % 2 == 0 {
                                VrrpState::Master
                            } else {
                                VrrpState::Backup
                            };
                            s.record(st, "test").unwrap().seq
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(all, (1..=80).collect::<Vec<_>>());
        assert_eq!(VipState::new(&dir, "iam").read().unwrap().unwrap().seq, 80);
    }
}
