//! keepalived's `notify_fifo`: the line format (`INSTANCE "VI_1" MASTER 100`, also `GROUP` lines
//! and the events that are not transitions), and the reader that hands each line, in order, to
//! the same record-then-act path as `havip notify` (`failover::record`). The FIFO is reopened
//! whenever its writer goes away (keepalived restarted or reloaded).
//!
//! The format is keepalived's `notify_fifo()` (vrrp_notify.c): `"%s \"%s\" %s %d\n"` with
//! TYPE `INSTANCE` or `GROUP`, the name in double quotes, the state (`MASTER`, `BACKUP`,
//! `FAULT`, `STOP`, `DELETED`, or the events `MASTER_RX_LOWER_PRI`, `MASTER_PRIORITY`,
//! `BACKUP_PRIORITY`) and the priority (0 for a group).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::bounds::clip_quoted;
use crate::state::VrrpState;

/// The longest line accepted: keepalived's names are short; anything longer is not its output.
pub const MAX_LINE_BYTES: u64 = 1024;

/// The pause before reopening the FIFO after its writer left (or opening failed).
const REOPEN_PAUSE: Duration = Duration::from_millis(200);

/// Who a FIFO line is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A `vrrp_instance`.
    Instance(String),
    /// A `vrrp_sync_group`.
    Group(String),
}

/// What a FIFO line asks of havip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FifoEvent {
    /// A transition, handled like `havip notify TYPE NAME STATE`.
    Transition(Subject, VrrpState),
    /// `MASTER_RX_LOWER_PRI`: this MASTER saw a lower-priority advert; re-assert the cloud
    /// (recorded as a MASTER event, like `havip notify --state MASTER_RX_LOWER_PRI`).
    RxLowerPri(Subject),
    /// `MASTER_PRIORITY` / `BACKUP_PRIORITY`: the priority changed, the state did not.
    PriorityChange(Subject),
}

/// A line that is not keepalived's FIFO format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("notify FIFO line {line}: {problem}")]
pub struct LineError {
    /// The line, clipped and quoted.
    pub line: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// Parses one line (without its newline).
pub fn parse_line(line: &str) -> Result<FifoEvent, LineError> {
    let err = |problem| LineError {
        line: clip_quoted(line),
        problem,
    };
    let line = line.trim_end_matches(['\r', '\n']);
    let (kind, rest) = line
        .split_once(' ')
        .ok_or_else(|| err("expected TYPE \"NAME\" STATE PRIORITY"))?;
    let rest = rest
        .strip_prefix('"')
        .ok_or_else(|| err("the name must be in double quotes"))?;
    let (name, rest) = rest
        .split_once('"')
        .ok_or_else(|| err("the name's closing quote is missing"))?;
    if name.is_empty() {
        return Err(err("the name is empty"));
    }
    let mut words = rest.split_whitespace();
    let state = words.next().ok_or_else(|| err("the state is missing"))?;
    match words.next() {
        Some(p) if p.parse::<u8>().is_ok() => {}
        Some(_) => return Err(err("the priority is not a number from 0 to 255")),
        None => return Err(err("the priority is missing")),
    }
    if words.next().is_some() {
        return Err(err("unexpected words after the priority"));
    }
    let subject = match kind {
        "INSTANCE" => Subject::Instance(name.to_string()),
        "GROUP" => Subject::Group(name.to_string()),
        _ => return Err(err("TYPE must be INSTANCE or GROUP")),
    };
    match state {
        "MASTER_RX_LOWER_PRI" => Ok(FifoEvent::RxLowerPri(subject)),
        "MASTER_PRIORITY" | "BACKUP_PRIORITY" => Ok(FifoEvent::PriorityChange(subject)),
        s => VrrpState::parse(s)
            .filter(|_| s.bytes().all(|b| b.is_ascii_uppercase()))
            .map(|st| FifoEvent::Transition(subject, st))
            .ok_or_else(|| err("unknown state")),
    }
}

/// Why the FIFO cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum FifoError {
    /// The path exists and is not a FIFO (or cannot be inspected).
    #[error("--fifo {}: {problem}", path.display())]
    NotAFifo { path: PathBuf, problem: String },
}

/// Checks at start that `path` is a FIFO, so a wrong path is a clear error, not a silent
/// watcher that never hears from keepalived. A path that does not exist yet is fine:
/// keepalived creates it (`notify_fifo` with `create`), and the reader waits for it.
pub fn check_path(path: &Path) -> Result<(), FifoError> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_fifo() => Ok(()),
        Ok(_) => Err(FifoError::NotAFifo {
            path: path.to_path_buf(),
            problem: "not a FIFO (keepalived's notify_fifo is a named pipe)".into(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(FifoError::NotAFifo {
            path: path.to_path_buf(),
            problem: e.to_string(),
        }),
    }
}

/// Reads `path` line by line, sending each line in order to `lines`, and reopens the FIFO when
/// its writer closes it (EOF: keepalived restarted, and may have made a new FIFO). The new
/// descriptor is opened before the old one is closed, so the pipe never lacks a reader and a
/// line written in between is not lost. Opening is non-blocking: with no writer, the reader
/// waits for one without spinning (Linux reports a hang-up only after a writer came and went).
/// Lines over [`MAX_LINE_BYTES`] are skipped with a warning. Returns when `lines` is closed.
pub async fn read_lines(path: &Path, lines: tokio::sync::mpsc::Sender<String>) {
    let mut reader = BufReader::new(open(path).await);
    tracing::info!(fifo = %path.display(), "reading keepalived's notify FIFO");
    loop {
        let mut buf = Vec::new();
        let read = (&mut reader)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut buf)
            .await;
        match read {
            Ok(_) if buf.last() != Some(&b'\n') && buf.len() as u64 > MAX_LINE_BYTES => {
                tracing::warn!(fifo = %path.display(), "a notify FIFO line over {MAX_LINE_BYTES} bytes was skipped");
                skip_to_newline(&mut reader).await;
            }
            Ok(n) if n > 0 => {
                let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                if lines.send(line).await.is_err() {
                    return;
                }
            }
            end => {
                match end {
                    Err(e) => {
                        tracing::warn!(fifo = %path.display(), error = %e, "reading the notify FIFO failed; reopening")
                    }
                    Ok(_) => {
                        tracing::info!(fifo = %path.display(), "the notify FIFO's writer closed it; reopening")
                    }
                }
                // Open first, then drop the old descriptor (the assignment), then pause.
                reader = BufReader::new(open(path).await);
                tokio::time::sleep(REOPEN_PAUSE).await;
            }
        }
    }
}

/// Opens the FIFO for reading, retrying (with a pause) until it exists and opens.
async fn open(path: &Path) -> tokio::net::unix::pipe::Receiver {
    loop {
        match tokio::net::unix::pipe::OpenOptions::new().open_receiver(path) {
            Ok(rx) => return rx,
            Err(e) => {
                tracing::warn!(fifo = %path.display(), error = %e, "cannot open the notify FIFO; retrying");
                tokio::time::sleep(REOPEN_PAUSE * 5).await;
            }
        }
    }
}

async fn skip_to_newline<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) {
    loop {
        let mut buf = Vec::new();
        match (&mut *r)
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) if buf.last() == Some(&b'\n') => return,
            Ok(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(n: &str) -> Subject {
        Subject::Instance(n.into())
    }

    #[test]
    fn keepalived_lines() {
        let ok = [
            (
                "INSTANCE \"VI_1\" MASTER 100",
                FifoEvent::Transition(inst("VI_1"), VrrpState::Master),
            ),
            (
                "INSTANCE \"VI_1\" BACKUP 90\n",
                FifoEvent::Transition(inst("VI_1"), VrrpState::Backup),
            ),
            (
                "GROUP \"G 1\" FAULT 0",
                FifoEvent::Transition(Subject::Group("G 1".into()), VrrpState::Fault),
            ),
            (
                "INSTANCE \"VI_1\" STOP 100",
                FifoEvent::Transition(inst("VI_1"), VrrpState::Stop),
            ),
            (
                "INSTANCE \"VI_1\" DELETED 100",
                FifoEvent::Transition(inst("VI_1"), VrrpState::Stop),
            ),
            (
                "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 100",
                FifoEvent::RxLowerPri(inst("VI_1")),
            ),
            (
                "INSTANCE \"VI_1\" MASTER_PRIORITY 80",
                FifoEvent::PriorityChange(inst("VI_1")),
            ),
            (
                "INSTANCE \"VI_1\" BACKUP_PRIORITY 80",
                FifoEvent::PriorityChange(inst("VI_1")),
            ),
        ];
        for (line, want) in ok {
            assert_eq!(parse_line(line), Ok(want), "{line:?}");
        }
        let bad = [
            ("", "TYPE"),
            ("INSTANCE VI_1 MASTER 100", "double quotes"),
            ("INSTANCE \"VI_1 MASTER 100", "closing quote"),
            ("INSTANCE \"\" MASTER 100", "empty"),
            ("INSTANCE \"VI_1\"", "state is missing"),
            ("INSTANCE \"VI_1\" MASTER", "priority is missing"),
            ("INSTANCE \"VI_1\" MASTER 300", "0 to 255"),
            ("INSTANCE \"VI_1\" MASTER 100 extra", "after the priority"),
            ("VS \"VI_1\" MASTER 100", "INSTANCE or GROUP"),
            ("INSTANCE \"VI_1\" {UNKNOWN} 100", "unknown state"),
            ("INSTANCE \"VI_1\" master 100", "unknown state"),
        ];
        for (line, needle) in bad {
            let e = parse_line(line).unwrap_err();
            assert!(e.to_string().contains(needle), "{line:?}: {e}");
        }
    }

    #[test]
    fn a_regular_file_is_not_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("plain");
        std::fs::write(&f, "x").unwrap();
        assert!(check_path(&f)
            .unwrap_err()
            .to_string()
            .contains("not a FIFO"));
        assert!(check_path(&dir.path().join("absent")).is_ok());
    }

    #[tokio::test]
    async fn lines_in_order_across_a_writer_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let (tx, mut rx) = tokio::sync::mpsc::channel(16);
        let p = path.clone();
        let reader = tokio::spawn(async move { read_lines(&p, tx).await });
        let long = "x".repeat(3000);
        for batch in [
            vec![
                "INSTANCE \"VI_1\" MASTER 100",
                &long,
                "INSTANCE \"VI_1\" BACKUP 90",
            ],
            vec!["INSTANCE \"VI_1\" MASTER 100"],
        ] {
            // One writer per batch: keepalived restarting between them.
            let p = path.clone();
            let text: String = batch.iter().map(|l| format!("{l}\n")).collect();
            tokio::task::spawn_blocking(move || {
                use std::io::Write;
                let mut w = std::fs::OpenOptions::new().write(true).open(p).unwrap();
                w.write_all(text.as_bytes()).unwrap();
            })
            .await
            .unwrap();
        }
        let mut got = Vec::new();
        while got.len() < 3 {
            got.push(rx.recv().await.unwrap());
        }
        reader.abort();
        assert_eq!(
            got,
            [
                "INSTANCE \"VI_1\" MASTER 100",
                "INSTANCE \"VI_1\" BACKUP 90",
                "INSTANCE \"VI_1\" MASTER 100"
            ]
        );
    }
}
