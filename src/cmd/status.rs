//! `havip status`: where each configured VIP stands, as a monitoring plugin. Observes each VIP
//! through `status::VipObserver` (read-only: Describe calls, the state file, the interfaces),
//! adds its last journal events, prints the plugin line first, then a table and one block per
//! VIP (or `--json`, docs/status.md), and exits with the worst verdict: 0 OK, 1 DRIFT, 2 SPLIT,
//! 3 UNKNOWN. A problem before any VIP could be observed (the configuration, an unknown
//! `--vip`, the client's setup) is UNKNOWN (3) too, with the reason, as a plugin's must be.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;

mod render;

use render::Paint;

use super::UsageError;
use crate::config::VipConfig;
use crate::context::Context;
use crate::error_chain::error_chain;
use crate::failover::Engine;
use crate::journal::{self, JournalRecord, Trigger};
use crate::state::VrrpState;
use crate::status::report::{self, VipReport, SCHEMA};
use crate::status::{Observation, Verdict, VipObserver};

/// How long the cloud may take when `--timeout` is not given (per VIP; they run together).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Set (and not empty) to turn colour off (<https://no-color.org>).
pub const NO_COLOR_ENV: &str = "NO_COLOR";
/// The most journal events `--events` may ask for.
const MAX_EVENTS: usize = 50;

/// Show where each VIP stands; exits 0 OK, 1 DRIFT, 2 SPLIT, 3 UNKNOWN (a monitoring plugin).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this VIP (an unknown name is UNKNOWN, exit 3).
    #[arg(long, value_name = "NAME")]
    pub vip: Option<String>,
    /// Print the stable JSON document (docs/status.md) instead of the plugin line and table.
    #[arg(long)]
    pub json: bool,
    /// How many of each VIP's last journal events to show [0-50].
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u8).range(0..=MAX_EVENTS as i64))]
    pub events: u8,
}

/// One VIP: its observation and its journal tail.
struct Shown {
    obs: Observation,
    vip: VipConfig,
    events: std::io::Result<Vec<JournalRecord>>,
}

/// The `--json` document.
#[derive(Serialize)]
struct Document<'a> {
    schema: &'static str,
    verdict: Verdict,
    exit_code: u8,
    summary: String,
    node: Option<String>,
    error: Option<String>,
    vips: Vec<VipJson<'a>>,
}

#[derive(Serialize)]
struct VipJson<'a> {
    #[serde(flatten)]
    report: VipReport,
    journal: Vec<EventJson<'a>>,
    journal_error: Option<String>,
}

/// One journal event, as `--json` shows it (the journal's own records carry more: `havip
/// journal`).
#[derive(Serialize)]
struct EventJson<'a> {
    time: DateTime<Utc>,
    trigger: Trigger,
    event: Option<VrrpState>,
    seq: Option<u64>,
    verdict: journal::Verdict,
    message: &'a str,
    elapsed_ms: u64,
}

impl<'a> From<&'a JournalRecord> for EventJson<'a> {
    fn from(r: &'a JournalRecord) -> Self {
        EventJson {
            time: r.time,
            trigger: r.trigger,
            event: r.event,
            seq: r.seq,
            verdict: r.verdict,
            message: &r.message,
            elapsed_ms: r.elapsed_ms,
        }
    }
}

/// Runs `havip status`.
pub async fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let (node, shown) = match observe(args, ctx).await {
        Ok(x) => x,
        Err(e) => return Ok(problem(args, &e)),
    };
    let obs: Vec<Observation> = shown.iter().map(|s| s.obs.clone()).collect();
    let worst = obs
        .iter()
        .map(Observation::verdict)
        .max()
        .unwrap_or(Verdict::Unknown);
    let summary = report::plugin_line(&obs);
    if args.json {
        let doc = Document {
            schema: SCHEMA,
            verdict: worst,
            exit_code: worst.exit_code(),
            summary,
            node,
            error: None,
            vips: shown.iter().map(vip_json).collect(),
        };
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        let paint =
            Paint::new(std::io::stdout().is_terminal() && ctx.env().get(NO_COLOR_ENV).is_none());
        println!("{summary}");
        print!("{}", render::render(&shown_views(&shown), &paint));
    }
    Ok(ExitCode::from(worst.exit_code()))
}

fn vip_json(s: &Shown) -> VipJson<'_> {
    let (journal, journal_error) = match &s.events {
        Ok(r) => (r.iter().map(EventJson::from).collect(), None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    VipJson {
        report: VipReport::new(&s.obs, &s.vip),
        journal,
        journal_error,
    }
}

/// Observes the selected VIPs together, each bounded by the timeout.
async fn observe(args: &Args, ctx: &Context) -> Result<(Option<String>, Vec<Shown>)> {
    let cfg = ctx.managed_config()?;
    let selected: Vec<VipConfig> = cfg
        .select(args.vip.as_deref())
        .map_err(UsageError)?
        .into_iter()
        .cloned()
        .collect();
    let engine = ctx.engine().await?;
    let timeout = ctx.flags().deadline.unwrap_or(DEFAULT_TIMEOUT);
    let mut set = tokio::task::JoinSet::new();
    for (i, vip) in selected.iter().enumerate() {
        let mut o = VipObserver::new(engine.clone(), vip.clone());
        set.spawn(async move { (i, o.observe(timeout).await) });
    }
    let mut obs: Vec<Option<Observation>> = vec![None; selected.len()];
    while let Some(done) = set.join_next().await {
        let (i, o) = done?;
        obs[i] = Some(o);
    }
    let shown = selected
        .into_iter()
        .zip(obs)
        .filter_map(|(vip, o)| {
            let events = events(&engine, &vip.name, args.events);
            o.map(|obs| Shown { obs, vip, events })
        })
        .collect();
    Ok((engine.instance_id.as_ref().ok().cloned(), shown))
}

fn events(engine: &Arc<Engine>, vip: &str, n: u8) -> std::io::Result<Vec<JournalRecord>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    engine.journal().tail(Some(vip), n as usize).map(|(r, _)| r)
}

/// Exit 3 with the reason: nothing could be observed.
fn problem(args: &Args, e: &anyhow::Error) -> ExitCode {
    let why = error_chain(e.as_ref());
    let summary = format!("HAVIP UNKNOWN - {why}");
    if args.json {
        let doc = Document {
            schema: SCHEMA,
            verdict: Verdict::Unknown,
            exit_code: Verdict::Unknown.exit_code(),
            summary,
            node: None,
            error: Some(why),
            vips: Vec::new(),
        };
        match serde_json::to_string_pretty(&doc) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("havip: {e}"),
        }
    } else {
        println!("{summary}");
    }
    ExitCode::from(Verdict::Unknown.exit_code())
}

fn shown_views(shown: &[Shown]) -> Vec<render::View<'_>> {
    shown
        .iter()
        .map(|s| render::View {
            obs: &s.obs,
            vip: &s.vip,
            events: s.events.as_deref().map_err(|e| e.to_string()),
        })
        .collect()
}
