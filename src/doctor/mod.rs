//! `havip doctor`: every check an operator makes by hand before trusting a deployment, each a
//! [`Check`] with a status (PASS, WARN, FAIL, or SKIP when what it needs failed first) and, for
//! WARN and FAIL, what to do about it. Read-only: only `Describe*` calls reach the cloud.
//!
//! The checks by concern: [`cloud`] (configuration, credentials, endpoint, clock skew, read
//! permissions), [`node`] (this node and each VIP's cloud resources), [`keepalived`] (the
//! keepalived configuration against havip's), [`local`] (state and journal directories), and
//! [`policy`] (the minimal CAM policy, `--policy`). [`Report`] renders them as text or as the
//! stable JSON documented in the README.

pub mod cloud;
pub mod keepalived;
pub mod local;
pub mod node;
pub mod policy;

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::Serialize;

use crate::context::Context;

/// The version of the JSON shape; bumped only when a field changes meaning or goes away.
pub const JSON_VERSION: u32 = 1;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// As it should be.
    Pass,
    /// Not run: something it needs failed (that failure is reported on its own line).
    Skip,
    /// Works, but a failover may go wrong or take longer.
    Warn,
    /// A failover will not work as configured.
    Fail,
}

impl Status {
    /// The word printed at the start of the line.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable identifier, e.g. `clock`, `permission`, `vip.drift_range`, `keepalived.notify`.
    pub id: &'static str,
    /// What it is about, when there are several of one kind: the VIP's name, the action.
    pub subject: Option<String>,
    /// How it came out.
    pub status: Status,
    /// What was found (one line).
    pub message: String,
    /// What to do about it (WARN and FAIL only).
    pub fix: Option<String>,
}

impl Check {
    /// A passing check.
    pub fn pass(id: &'static str, message: impl Into<String>) -> Check {
        Check {
            id,
            subject: None,
            status: Status::Pass,
            message: message.into(),
            fix: None,
        }
    }

    /// A warning with its fix.
    pub fn warn(id: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            status: Status::Warn,
            fix: Some(fix.into()),
            ..Check::pass(id, message)
        }
    }

    /// A failure with its fix.
    pub fn fail(id: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            status: Status::Fail,
            fix: Some(fix.into()),
            ..Check::pass(id, message)
        }
    }

    /// Not run because `why` failed.
    pub fn skip(id: &'static str, why: impl Into<String>) -> Check {
        Check {
            status: Status::Skip,
            ..Check::pass(id, why)
        }
    }

    /// The same check about `subject`.
    pub fn about(mut self, subject: impl Into<String>) -> Check {
        self.subject = Some(subject.into());
        self
    }
}

/// Every check of one run, in the order they ran.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// The checks.
    pub checks: Vec<Check>,
}

/// How many checks came out each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    pub skip: usize,
}

impl Report {
    /// Adds a check.
    pub fn push(&mut self, c: Check) {
        self.checks.push(c);
    }

    /// The counts.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.checks {
            match c.status {
                Status::Pass => s.pass += 1,
                Status::Warn => s.warn += 1,
                Status::Fail => s.fail += 1,
                Status::Skip => s.skip += 1,
            }
        }
        s
    }

    /// 2 if any check failed, else 1 if any warned, else 0.
    pub fn exit_code(&self) -> u8 {
        let s = self.summary();
        if s.fail > 0 {
            2
        } else if s.warn > 0 {
            1
        } else {
            0
        }
    }

    /// The text report: one line per check, the fix indented below each WARN and FAIL, and a
    /// summary line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for c in &self.checks {
            let subject = c
                .subject
                .as_deref()
                .map(|s| format!(" [{s}]"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{}  {}{subject}: {}",
                c.status.as_str(),
                c.id,
                c.message
            );
            if let Some(fix) = &c.fix {
                let _ = writeln!(out, "      fix: {fix}");
            }
        }
        let s = self.summary();
        let _ = writeln!(
            out,
            "doctor: {} PASS, {} WARN, {} FAIL, {} SKIP",
            s.pass, s.warn, s.fail, s.skip
        );
        out
    }

    /// The JSON report (README, "havip doctor --json").
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "version": JSON_VERSION,
            "exit_code": self.exit_code(),
            "summary": self.summary(),
            "checks": self.checks,
        })
    }
}

/// What a doctor run looks at.
#[derive(Debug, Clone)]
pub struct Options {
    /// keepalived's configuration file.
    pub keepalived_conf: PathBuf,
}

/// Runs every check: configuration first; the cloud, this node and the VIPs when the client
/// could be built; keepalived and the local directories whenever the configuration is valid.
pub async fn run(ctx: &Context, opts: &Options) -> Report {
    let mut report = Report::default();
    let cfg = match ctx.managed_config() {
        Ok(cfg) => {
            report.push(Check::pass(
                "config",
                format!(
                    "{} is valid ({} VIP(s))",
                    cfg.path.display(),
                    cfg.vips.len()
                ),
            ));
            cfg
        }
        Err(e) => {
            report.push(Check::fail(
                "config",
                crate::error_chain::error_chain(&e),
                "fix what the message names: the file's path (`--config`, `HAVIP_CONFIG`) or the key at that line (`havip config check` shows the whole file)",
            ));
            return report;
        }
    };
    let vip_addrs = match ctx.engine().await {
        Ok(engine) => {
            let reached = cloud::checks(&engine, &mut report).await;
            node::checks(&engine, reached, &mut report).await
        }
        Err(e) => {
            report.push(Check::fail(
                "credentials",
                crate::error_chain::error_chain(&e),
                "fix the setting named (credentials, endpoint, CA file or region); see README \"Credentials\"",
            ));
            Vec::new()
        }
    };
    keepalived::checks(&cfg, &opts.keepalived_conf, &vip_addrs, &mut report);
    local::checks(&cfg, &mut report);
    report
}
