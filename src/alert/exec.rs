//! The `exec` transport: a hook run in its own process group (so a timeout kills everything it
//! started), with the event JSON on stdin, `HAVIP_ALERT_*` set and havip's credentials removed
//! from its environment.

use std::process::ExitStatus;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{ChildStderr, ChildStdin, Command};
use tokio::task::JoinHandle;

use super::deliver::SendError;
use super::event::AlertEvent;
use super::scrub::SECRET_ENV;
use super::target::ExecCommand;

/// How much of an exec hook's stderr is kept for the log.
const EXEC_STDERR_MAX: usize = 2048;

/// Runs an exec hook: its own process group (so a timeout kills everything it started), event
/// JSON on stdin, `HAVIP_ALERT_*` set, havip's credentials removed from its environment.
/// The caller bounds it in time: on expiry the future is dropped, which kills the group.
pub(super) async fn run(command: &ExecCommand, ev: &AlertEvent) -> Result<(), SendError> {
    let mut cmd = hook_command(command, ev)?;
    let body = serde_json::to_vec(ev).map_err(SendError::Encode)?;
    let mut child = cmd.spawn().map_err(|source| SendError::Spawn {
        hook: command_name(command),
        source,
    })?;
    let mut guard = KillGroup(child.id());

    let writer = feed_stdin(child.stdin.take(), body);
    let reader = keep_stderr(child.stderr.take());

    // The caller's timeout bounds this; on expiry the future is dropped and the guard kills
    // the group.
    let status = child.wait().await.map_err(|source| SendError::Wait {
        hook: command_name(command),
        source,
    })?;
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
    verdict(command, status, &stderr)
}

/// The hook's process: program and arguments, its environment, its pipes, its own group.
fn hook_command(command: &ExecCommand, ev: &AlertEvent) -> Result<Command, SendError> {
    let mut cmd = match command {
        ExecCommand::Shell(s) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(s);
            c
        }
        ExecCommand::Argv(v) => {
            let (prog, args) = v.split_first().ok_or(SendError::EmptyCommand)?;
            let mut c = Command::new(prog);
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
    Ok(cmd)
}

/// Writes the event to the hook's stdin and closes it.
fn feed_stdin(stdin: Option<ChildStdin>, body: Vec<u8>) -> JoinHandle<()> {
    tokio::spawn(async move {
        if let Some(mut w) = stdin {
            // A hook that ignores stdin closes the pipe early: not an error.
            let _ = w.write_all(&body).await;
            let _ = w.shutdown().await;
        }
    })
}

/// Reads the hook's stderr to its end, keeping the first [`EXEC_STDERR_MAX`] bytes.
fn keep_stderr(stderr: Option<ChildStderr>) -> JoinHandle<Vec<u8>> {
    tokio::spawn(async move {
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
    })
}

/// Success is exit status 0; a failure names the hook, its status and its stderr.
fn verdict(command: &ExecCommand, status: ExitStatus, stderr: &[u8]) -> Result<(), SendError> {
    if status.success() {
        Ok(())
    } else {
        Err(SendError::Exited {
            hook: command_name(command),
            status,
            stderr: String::from_utf8_lossy(stderr).trim().to_owned(),
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
