//! A planned switch away from this node (`havip failover`): drain, wait until the cloud shows
//! a peer holding the VIP (and the EIP still bound), report the time, undrain.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use super::ending::{finish, report, Run};
use super::engine::{Engine, Report, Trigger};
use super::vip::VipStrategy;
use super::{CallLog, Cx, LocalTrouble, Outcome};
use crate::backoff::Backoff;
use crate::config::VipConfig;
use crate::journal::Verdict;

/// How often the cloud is read while waiting for the peer. With keepalived's `track_file` on
/// the drain flag the peer takes over within half a second, so the first reads come soon.
const POLL: Backoff = Backoff {
    initial: Duration::from_millis(100),
    factor: 1.5,
    max: Duration::from_secs(1),
};

/// Options of a planned failover.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FailoverOpts {
    /// How long to wait for the peer.
    pub timeout: Duration,
    /// Leave the drain flag in place afterwards.
    pub keep_drained: bool,
    /// Only say what would happen.
    pub dry_run: bool,
}

/// A planned switch away from this node: drain, wait for the cloud to show the peer (and the
/// EIP still bound), report the time, undrain. Refuses when this node does not hold the VIP or
/// no peer may take it.
pub(crate) async fn planned_failover(
    engine: Arc<Engine>,
    vip: VipConfig,
    opts: FailoverOpts,
) -> Report {
    let started = Instant::now();
    let deadline = started + opts.timeout;
    let calls = CallLog::new();
    let cx = Cx::new(&engine.client, deadline, None, Some(calls.clone()));
    let flag = engine.cfg.drain_flags(&vip.name)[1].clone();
    let run = Arc::new(Run {
        id: super::run_id(),
        trigger: Trigger::Failover,
        started,
        deadline,
        trouble: Arc::new(LocalTrouble::default()),
    });
    let done = |out: Outcome| {
        let engine = engine.clone();
        let vip = vip.clone();
        let calls = calls.clone();
        let run = run.clone();
        async move {
            if opts.dry_run {
                return report(&vip, out, started.elapsed(), Vec::new());
            }
            finish(
                &engine,
                &vip,
                &run,
                None,
                None,
                out,
                calls.take(),
                Vec::new(),
            )
            .await
        }
    };
    // Built once: the ENI (for the private-ip and eip strategies) is looked up once per
    // failover, not once per poll.
    let mut strategy = match VipStrategy::build(&engine, &vip, Utc::now(), &cx.client).await {
        Ok(s) => s,
        Err(e) => return done(Outcome::without_plan(Verdict::Unknown, e.to_string())).await,
    };
    let before = match strategy.view(&cx).await {
        Ok(v) => v,
        Err(e) => {
            return done(Outcome::without_plan(
                Verdict::Unknown,
                format!("cannot read the cloud: {e}"),
            ))
            .await
        }
    };
    let plan = vec![
        format!("create the drain flag {}", flag.display()),
        format!(
            "wait up to {} for the cloud to show a peer holding {}",
            humantime::format_duration(opts.timeout),
            vip.name
        ),
        if opts.keep_drained {
            "keep the drain flag".to_string()
        } else {
            "remove the drain flag".to_string()
        },
    ];
    let refuse = |message: String| Outcome {
        verdict: Verdict::Failed,
        message,
        plan: plan.clone(),
        changed: false,
    };
    if !before.holder.is_this_node() {
        return done(refuse(format!(
            "refusing: this node ({}) does not hold {} — the cloud shows {}; run failover on the holder",
            engine.node_name(),
            vip.name,
            before.holder
        )))
        .await;
    }
    if let Some(peers) = &before.peers {
        if peers.is_empty() {
            return done(refuse(format!(
                "refusing: no peer is in the drift range of {}, so nobody could take it over",
                vip.name
            )))
            .await;
        }
    }
    if opts.dry_run {
        return done(Outcome {
            verdict: Verdict::Planned,
            message: format!("dry run: this node holds {}; nothing was changed", vip.name),
            plan,
            changed: false,
        })
        .await;
    }
    if let Err(e) = write_drain_flag(&flag) {
        return done(refuse(format!(
            "cannot create the drain flag {}: {e}",
            flag.display()
        )))
        .await;
    }
    let mut pauses = POLL.pauses();
    let out = loop {
        let pause = pauses.next_pause();
        if deadline.saturating_duration_since(Instant::now()) <= pause {
            break Outcome {
                verdict: Verdict::Failed,
                message: format!(
                    "no peer took over {} within {}; this node still holds it",
                    vip.name,
                    humantime::format_duration(opts.timeout)
                ),
                plan: plan.clone(),
                changed: true,
            };
        }
        tokio::time::sleep(pause).await;
        match strategy.view(&cx).await {
            Ok(v) if v.peer_holds() => {
                break Outcome {
                    verdict: Verdict::Confirmed,
                    message: format!(
                        "{} moved from {} to {} in {:.1}s",
                        vip.name,
                        before.holder,
                        v.holder,
                        started.elapsed().as_secs_f64()
                    ),
                    plan: plan.clone(),
                    changed: true,
                };
            }
            Ok(_) => {}
            // A failed read is not an answer; keep trying until the deadline.
            Err(e) => tracing::warn!("{e}"),
        }
    };
    let mut out = out;
    if !opts.keep_drained {
        if let Err(e) = std::fs::remove_file(&flag) {
            if e.kind() != std::io::ErrorKind::NotFound {
                out.message = format!(
                    "{} (could not remove the drain flag {}: {e})",
                    out.message,
                    flag.display()
                );
            }
        }
    }
    done(out).await
}

/// Writes the drain flag: `havip check` fails while it exists, and keepalived's `track_file`
/// (deploy/keepalived) reads its first line as a number, so the `1` puts the instance in FAULT
/// at once (inotify) instead of after `fall` failed checks.
fn write_drain_flag(path: &std::path::Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::state::write_atomic(
        path,
        drain_flag_body(std::process::id(), Utc::now()).as_bytes(),
    )
}

/// The drain flag's text: `1` alone on the first line (what keepalived reads), then who and when.
fn drain_flag_body(pid: u32, at: chrono::DateTime<Utc>) -> String {
    format!(
        "1\n# drained by havip failover (pid {pid}) at {}\n",
        at.to_rfc3339()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drain_flag_starts_with_a_number_for_track_file() {
        let at = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let body = drain_flag_body(42, at);
        assert_eq!(body.lines().next(), Some("1"));
        assert!(
            body.contains("pid 42") && body.contains("2023-11-14T22:13:20"),
            "{body}"
        );
    }
}
