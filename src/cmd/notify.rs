//! `havip notify`: keepalived's notify hook. Accepts keepalived's generic form
//! (`INSTANCE|GROUP NAME STATE PRIORITY`, as `notify "/usr/local/bin/havip notify"` passes it)
//! and the explicit `--state MASTER|BACKUP|FAULT|STOP [--vip NAME]` (for `notify_master` etc.),
//! and `--state MASTER_RX_LOWER_PRI` for keepalived's `notify_master_rx_lower_pri` hook.
//!
//! Exit codes: 0 confirmed (or recorded, or superseded by a newer event); 1 failed or UNKNOWN
//! (an alert was sent); 2 usage or configuration error; 3 the cloud work succeeded but local
//! bookkeeping (state file, lock or journal) failed (an alert was sent).

use std::process::ExitCode;

use anyhow::Result;

use super::{print_reports, UsageError};
use crate::bounds::{clip, clip_quoted};
use crate::config::{Config, VipConfig};
use crate::context::Context;
use crate::failover::{handle_events, Trigger};
use crate::state::VrrpState;

/// Handle a keepalived state change: record it, and on MASTER make the cloud follow and confirm.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// keepalived's arguments: TYPE (INSTANCE or GROUP), NAME, STATE (MASTER, BACKUP, FAULT,
    /// STOP), PRIORITY.
    #[arg(value_name = "KEEPALIVED_ARGS", num_args = 0..=4, allow_hyphen_values = false)]
    pub keepalived: Vec<String>,
    /// The new state, for notify_master/notify_backup/… hooks (instead of the generic form).
    #[arg(long, value_name = "STATE", ignore_case = true)]
    pub state: Option<StateArg>,
    /// With --state: only this VIP [default: every configured VIP].
    #[arg(long, value_name = "NAME")]
    pub vip: Option<String>,
    /// Read the cloud and print the plan; write nothing (no cloud writes, no state, no journal).
    #[arg(long)]
    pub dry_run: bool,
}

/// Which VIPs an invocation addresses, and in what state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `INSTANCE NAME STATE [PRIORITY]`.
    Instance(String, VrrpState),
    /// `GROUP NAME STATE [PRIORITY]`.
    Group(String, VrrpState),
    /// `--state S [--vip NAME]`.
    Explicit(Option<String>, VrrpState),
}

impl Event {
    /// The reported state.
    pub fn state(&self) -> VrrpState {
        match self {
            Event::Instance(_, s) | Event::Group(_, s) | Event::Explicit(_, s) => *s,
        }
    }
}

/// `--state`'s values: keepalived's states in its spellings (what `Display` writes), any case,
/// `DELETED` (sent when an instance is removed on reload) for `STOP`, and [`RX_LOWER_PRI`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateArg {
    /// A VRRP state, as [`VrrpState::parse`] reads it.
    Vrrp(VrrpState),
    /// keepalived's `notify_master_rx_lower_pri` hook: a MASTER event that re-asserts the cloud.
    MasterRxLowerPri,
}

impl StateArg {
    /// The state recorded: `MASTER` for [`StateArg::MasterRxLowerPri`].
    pub fn state(self) -> VrrpState {
        match self {
            StateArg::Vrrp(s) => s,
            StateArg::MasterRxLowerPri => VrrpState::Master,
        }
    }
}

impl clap::ValueEnum for StateArg {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            StateArg::Vrrp(VrrpState::Master),
            StateArg::Vrrp(VrrpState::Backup),
            StateArg::Vrrp(VrrpState::Fault),
            StateArg::Vrrp(VrrpState::Stop),
            StateArg::MasterRxLowerPri,
        ]
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(match self {
            StateArg::Vrrp(VrrpState::Stop) => {
                clap::builder::PossibleValue::new(VrrpState::Stop.as_str()).alias("DELETED")
            }
            StateArg::Vrrp(s) => clap::builder::PossibleValue::new(s.as_str()),
            StateArg::MasterRxLowerPri => clap::builder::PossibleValue::new(RX_LOWER_PRI),
        })
    }
}

/// keepalived's `notify_master_rx_lower_pri` event: this MASTER received an advert with a
/// lower priority, so a peer was briefly master and its notify may have moved the cloud.
/// keepalived runs that hook with no arguments of its own (vrrp_notify.c `send_event_notify`),
/// so the hook line names the state: `notify_master_rx_lower_pri "/usr/local/bin/havip notify
/// --state MASTER_RX_LOWER_PRI --vip NAME"`. It is handled as a MASTER event (a repeated MASTER
/// keeps its transition time): the MASTER procedure runs again and re-asserts the cloud.
pub const RX_LOWER_PRI: &str = "MASTER_RX_LOWER_PRI";

fn parse_state(s: &str) -> Result<VrrpState, UsageError> {
    if s.eq_ignore_ascii_case(RX_LOWER_PRI) {
        return Ok(VrrpState::Master);
    }
    VrrpState::parse(s).ok_or_else(|| {
        UsageError(format!(
            "notify: unknown state {}; keepalived passes MASTER, BACKUP, FAULT or STOP (or MASTER_RX_LOWER_PRI)",
            clip_quoted(s)
        ))
    })
}

/// What started this run: `rx-lower-pri` for [`RX_LOWER_PRI`], else `notify`.
pub fn trigger(a: &Args) -> Trigger {
    let rx_lower_pri = match a.state {
        Some(s) => s == StateArg::MasterRxLowerPri,
        None => a
            .keepalived
            .get(2)
            .is_some_and(|s| s.eq_ignore_ascii_case(RX_LOWER_PRI)),
    };
    if rx_lower_pri {
        Trigger::RxLowerPri
    } else {
        Trigger::Notify
    }
}

/// Validates the arguments (no I/O): exit 2 on anything malformed.
pub fn parse_event(a: &Args) -> Result<Event, UsageError> {
    match (&a.state, a.keepalived.as_slice()) {
        (Some(_), [_, ..]) => Err(UsageError(
            "notify: give either keepalived's arguments (TYPE NAME STATE PRIORITY) or --state, not both".into(),
        )),
        (None, []) => Err(UsageError(
            "notify: missing arguments: expected TYPE NAME STATE [PRIORITY] (as keepalived passes them) or --state STATE".into(),
        )),
        (Some(s), []) => Ok(Event::Explicit(a.vip.clone(), s.state())),
        (None, args) => {
            if a.vip.is_some() {
                return Err(UsageError(
                    "notify: --vip goes with --state; keepalived's form names the instance".into(),
                ));
            }
            let ([kind, name, state] | [kind, name, state, _]) = args else {
                return Err(UsageError(format!(
                    "notify: expected TYPE NAME STATE [PRIORITY], got {} argument(s): {}",
                    args.len(),
                    args.iter()
                        .map(|a| clip_quoted(a))
                        .collect::<Vec<_>>()
                        .join(" ")
                )));
            };
            if let [_, _, _, prio] = args {
                if prio.parse::<u8>().is_err() {
                    return Err(UsageError(format!(
                        "notify: PRIORITY {} is not a number from 0 to 255",
                        clip_quoted(prio)
                    )));
                }
            }
            if name.is_empty() {
                return Err(UsageError("notify: NAME is empty".into()));
            }
            let state = parse_state(state)?;
            match kind.to_ascii_uppercase().as_str() {
                "INSTANCE" => Ok(Event::Instance(name.clone(), state)),
                "GROUP" => Ok(Event::Group(name.clone(), state)),
                _ => Err(UsageError(format!(
                    "notify: TYPE must be INSTANCE or GROUP, got {}",
                    clip_quoted(kind)
                ))),
            }
        }
    }
}

/// The VIPs an event concerns. `Ok(empty)` for a group nothing follows (keepalived notifies
/// groups and their instances; VIPs usually follow instances).
pub fn select<'a>(cfg: &'a Config, ev: &Event) -> Result<Vec<&'a VipConfig>> {
    match ev {
        Event::Instance(name, _) => {
            let v = cfg.vips_for_instance(name);
            if v.is_empty() {
                return Err(UsageError(format!(
                    "notify: no [[vip]] in {} follows vrrp_instance {} (configured: {})",
                    cfg.path.display(),
                    clip_quoted(name),
                    clip(
                        &cfg.vips
                            .iter()
                            .map(|v| v.vrrp_instance.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                ))
                .into());
            }
            Ok(v)
        }
        Event::Group(name, _) => Ok(cfg.vips_for_group(name)),
        Event::Explicit(name, _) => Ok(cfg.select(name.as_deref())?),
    }
}

/// Runs `havip notify`.
pub async fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let ev = parse_event(args)?;
    let cfg = ctx.managed_config()?;
    let vips: Vec<VipConfig> = select(&cfg, &ev)?.into_iter().cloned().collect();
    if vips.is_empty() {
        println!("no VIP follows this group; nothing to do");
        return Ok(ExitCode::SUCCESS);
    }
    let engine = ctx.engine().await?;
    let reports = handle_events(
        engine,
        vips,
        ev.state(),
        trigger(args),
        args.dry_run,
        ctx.flags().deadline,
    )
    .await;
    Ok(print_reports(&reports, args.dry_run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rx_lower_pri_is_a_master_event_with_its_own_trigger() {
        let hook = args(&[], Some("MASTER_RX_LOWER_PRI"), Some("iam"));
        assert_eq!(
            parse_event(&hook).unwrap(),
            Event::Explicit(Some("iam".into()), VrrpState::Master)
        );
        assert_eq!(trigger(&hook), Trigger::RxLowerPri);
        let generic = args(
            &["INSTANCE", "VI_1", "MASTER_RX_LOWER_PRI", "100"],
            None,
            None,
        );
        assert_eq!(
            parse_event(&generic).unwrap(),
            Event::Instance("VI_1".into(), VrrpState::Master)
        );
        assert_eq!(trigger(&generic), Trigger::RxLowerPri);
        assert_eq!(
            trigger(&args(&["INSTANCE", "VI_1", "MASTER", "100"], None, None)),
            Trigger::Notify
        );
    }

    fn args(pos: &[&str], state: Option<&str>, vip: Option<&str>) -> Args {
        Args {
            keepalived: pos.iter().map(|s| s.to_string()).collect(),
            state: state.map(|s| <StateArg as clap::ValueEnum>::from_str(s, true).unwrap()),
            vip: vip.map(Into::into),
            dry_run: false,
        }
    }

    #[test]
    fn keepalived_argument_table() {
        type Ok<'a> = (&'a [&'a str], Option<&'a str>, Option<&'a str>, Event);
        let ok: &[Ok] = &[
            (
                &["INSTANCE", "VI_1", "MASTER", "50"],
                None,
                None,
                Event::Instance("VI_1".into(), VrrpState::Master),
            ),
            (
                &["INSTANCE", "VI_1", "BACKUP"],
                None,
                None,
                Event::Instance("VI_1".into(), VrrpState::Backup),
            ),
            (
                &["GROUP", "G1", "FAULT", "0"],
                None,
                None,
                Event::Group("G1".into(), VrrpState::Fault),
            ),
            (
                &[],
                Some("STOP"),
                None,
                Event::Explicit(None, VrrpState::Stop),
            ),
            (
                &[],
                Some("master"),
                Some("iam"),
                Event::Explicit(Some("iam".into()), VrrpState::Master),
            ),
        ];
        for (pos, st, vip, want) in ok {
            assert_eq!(
                &parse_event(&args(pos, *st, *vip)).unwrap(),
                want,
                "{pos:?}"
            );
        }
        type Bad<'a> = (&'a [&'a str], Option<&'a str>, Option<&'a str>, &'a str);
        let bad: &[Bad] = &[
            (&[], None, None, "missing arguments"),
            (&["INSTANCE", "VI_1"], None, None, "TYPE NAME STATE"),
            (
                &["INSTANCE", "VI_1", "PRIMARY", "50"],
                None,
                None,
                "unknown state",
            ),
            (
                &["VRRP", "VI_1", "MASTER", "50"],
                None,
                None,
                "INSTANCE or GROUP",
            ),
            (
                &["INSTANCE", "VI_1", "MASTER", "high"],
                None,
                None,
                "PRIORITY",
            ),
            (
                &["INSTANCE", "VI_1", "MASTER", "50"],
                Some("MASTER"),
                None,
                "not both",
            ),
            (
                &["INSTANCE", "VI_1", "MASTER"],
                None,
                Some("iam"),
                "--vip goes with --state",
            ),
        ];
        for (pos, st, vip, needle) in bad {
            let e = parse_event(&args(pos, *st, *vip)).unwrap_err();
            assert!(e.0.contains(needle), "{pos:?}: {e}");
        }
    }

    /// `--state` takes what keepalived's STATE takes: the four names in any case, and DELETED.
    #[test]
    fn state_flag_spellings() {
        use clap::Parser;
        let state = |s: &str| -> Result<Option<VrrpState>, clap::Error> {
            let cli = crate::cli::Cli::try_parse_from(["havip", "notify", "--state", s])?;
            match cli.command {
                crate::cmd::Command::Notify(a) => Ok(a.state.map(StateArg::state)),
                _ => unreachable!("notify parses as notify"),
            }
        };
        for (s, want) in [
            ("MASTER", VrrpState::Master),
            ("master", VrrpState::Master),
            ("Backup", VrrpState::Backup),
            ("FAULT", VrrpState::Fault),
            ("STOP", VrrpState::Stop),
            ("DELETED", VrrpState::Stop),
            ("deleted", VrrpState::Stop),
        ] {
            assert_eq!(state(s).unwrap(), Some(want), "{s}");
            assert_eq!(VrrpState::parse(s), Some(want), "{s}");
        }
        for s in ["LEADER", "UP", "", "MASTER "] {
            let e = state(s).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue, "{s}: {e}");
            assert_eq!(VrrpState::parse(s), None, "{s}");
        }
    }
}
