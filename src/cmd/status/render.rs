//! `havip status`'s text form: one table row per VIP, then one block per VIP with everything
//! that was read. Colour (the verdict word only) when [`Paint`] says so.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::config::VipConfig;
use crate::failover::{Holder, Seat};
use crate::journal::{self, JournalRecord};
use crate::status::{Observation, Presence, Verdict};

/// One VIP to render.
pub(super) struct View<'a> {
    pub obs: &'a Observation,
    pub vip: &'a VipConfig,
    pub events: Result<&'a [JournalRecord], String>,
}

/// Colour for the verdict words: on only when asked (a terminal, no `NO_COLOR`).
pub(super) struct Paint(bool);

impl Paint {
    /// Colour on or off.
    pub(super) fn new(on: bool) -> Paint {
        Paint(on)
    }

    /// `text` (the verdict's name, padded) in the verdict's colour.
    fn verdict(&self, v: Verdict, text: &str) -> String {
        if !self.0 {
            return text.to_string();
        }
        let code = match v {
            Verdict::Ok => "32",
            Verdict::Drift => "33",
            Verdict::Split => "1;31",
            Verdict::Unknown => "35",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// The table, then the blocks.
pub(super) fn render(views: &[View<'_>], paint: &Paint) -> String {
    let mut out = String::from("\n");
    let header = [
        "VIP",
        "VERDICT",
        "KEEPALIVED",
        "ADDRESS",
        "CLOUD HOLDER",
        "EIP",
    ];
    let rows: Vec<[String; 6]> = views.iter().map(row).collect();
    let mut width = header.map(str::len);
    for r in &rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6], verdict: Option<Verdict>| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
            let padded = if i + 1 == cells.len() {
                cell.to_string()
            } else {
                format!("{cell:<w$}  ")
            };
            match (i, verdict) {
                (1, Some(v)) => s.push_str(&paint.verdict(v, &padded)),
                _ => s.push_str(&padded),
            }
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(header, None));
    for (r, v) in rows.iter().zip(views) {
        let cells = [&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]].map(String::as_str);
        let _ = writeln!(out, "{}", line(cells, Some(v.obs.verdict())));
    }
    for v in views {
        out.push('\n');
        block(&mut out, v, paint);
    }
    out
}

fn row(v: &View<'_>) -> [String; 6] {
    let o = v.obs;
    let keepalived = match (&o.local.state, o.local.age(o.at)) {
        (Ok(Some(rec)), Some(age)) => format!("{} {} ago", rec.state, ago(age)),
        (Ok(_), _) => "never recorded".into(),
        (Err(_), _) => "unreadable".into(),
    };
    let address = match &o.local.presence {
        Presence::On { address, label } => format!("{address} on {label}"),
        Presence::Absent { address, .. } => format!("{address} not here"),
        Presence::NoAddress => "-".into(),
        Presence::Unreadable(_) => "unreadable".into(),
    };
    let (holder, eip) = match &o.cloud {
        Ok(view) => (
            holder_short(&view.holder),
            view.details
                .eip
                .as_ref()
                .map(|e| {
                    let status = e.status.as_ref().map_or("not found", |s| s.as_str());
                    format!("{} {status}", e.address.as_deref().unwrap_or("-"))
                })
                .unwrap_or_else(|| "-".into()),
        ),
        Err(_) => ("unreadable".into(), "-".into()),
    };
    [
        o.vip.clone(),
        o.verdict().to_string(),
        keepalived,
        address,
        holder,
        eip,
    ]
}

fn holder_short(h: &Holder) -> String {
    let id = |s: &Seat| {
        s.instance_id
            .clone()
            .or_else(|| s.eni_id.clone())
            .unwrap_or_default()
    };
    match h {
        Holder::Nobody => "nobody".into(),
        Holder::ThisNode(s) => format!("{} (this node)", id(s)),
        Holder::Other(s) => id(s),
        Holder::Several(all) => all.iter().map(id).collect::<Vec<_>>().join(" + "),
    }
}

/// One VIP's block: the verdict and why, then each thing read.
fn block(out: &mut String, v: &View<'_>, paint: &Paint) {
    let o = v.obs;
    let verdict = o.verdict();
    let _ = writeln!(
        out,
        "{}  {}  {}",
        o.vip,
        paint.verdict(verdict, verdict.as_str()),
        o.judgement.reason
    );
    let mut item = |k: &str, val: String| {
        let _ = writeln!(out, "  {k:<12} {val}");
    };
    item("keepalived", keepalived(v));
    item("address", address(v));
    match &o.cloud {
        Err(e) => item("cloud", crate::error_chain::error_chain(&**e)),
        Ok(view) => {
            let d = &view.details;
            let vip = d
                .vip
                .as_deref()
                .map(|a| format!(" (Vip {a})"))
                .unwrap_or_default();
            let this = if view.holder.is_this_node() {
                ", this node"
            } else {
                ""
            };
            item(
                "cloud",
                format!("{}{vip}: held by {}{this}", d.resource, view.holder),
            );
            if let Some(t) = d.flushed {
                item("flushed", format!("{} ({} ago)", when(t), ago(o.at - t)));
            }
            if let Some(range) = &d.range {
                let members: Vec<String> = range
                    .iter()
                    .map(|(id, kind)| format!("{id} ({kind})"))
                    .collect();
                let check = match d.check_associate {
                    Some(true) => "; CheckAssociate on",
                    Some(false) => "; CheckAssociate off",
                    None => "",
                };
                let list = if members.is_empty() {
                    "empty".to_string()
                } else {
                    members.join(", ")
                };
                item("drift range", format!("{list}{check}"));
            }
            if let Some(e) = &d.eip {
                let bound = if view.attached {
                    ""
                } else {
                    " (not bound to the VIP)"
                };
                item("EIP", format!("{e}{bound}"));
            }
            if let Some(s) = &d.settling {
                item("settling", s.clone());
            }
        }
    }
    match &v.events {
        Err(e) => item("journal", format!("cannot read: {e}")),
        Ok([]) => {}
        Ok(recs) => {
            for (i, r) in recs.iter().rev().enumerate() {
                item(if i == 0 { "journal" } else { "" }, journal_line(r));
            }
        }
    }
}

fn keepalived(v: &View<'_>) -> String {
    let o = v.obs;
    match &o.local.state {
        Err(e) => e.to_string(),
        Ok(None) => format!(
            "no event recorded for vrrp_instance {} (havip notify has not run for {})",
            v.vip.vrrp_instance, o.vip
        ),
        Ok(Some(rec)) => {
            // A repeated MASTER keeps the transition's time.
            let since = rec.master_since.unwrap_or(rec.at);
            format!(
                "{} since {} ({} ago), event #{} from {}, vrrp_instance {}",
                rec.state,
                when(since),
                ago(o.at - since),
                rec.seq,
                rec.trigger,
                v.vip.vrrp_instance
            )
        }
    }
}

fn address(v: &View<'_>) -> String {
    match &v.obs.local.presence {
        Presence::On { address, label } => format!("{address} is on {label}"),
        Presence::Absent {
            address,
            interface: Some(i),
        } => format!("{address} is not on {i}"),
        Presence::Absent {
            address,
            interface: None,
        } => {
            format!("{address} is not on any local interface (no interface configured: not judged)")
        }
        Presence::NoAddress => "unknown (set vip in the configuration to check it)".into(),
        Presence::Unreadable(e) => format!("cannot list local interfaces: {e}"),
    }
}

/// A time as the blocks show it: `2026-11-30 12:40:01 UTC`.
fn when(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
        .replace('T', " ")
        .replace('Z', " UTC")
}

/// A compact age: `12s`, `5m12s`, `3h12m`, `2d3h`.
fn ago(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{}s", s / 60, s % 60),
        3600..86400 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86400, s % 86400 / 3600),
    }
}

/// A journal record's first line, as `havip journal` prints it.
fn journal_line(rec: &JournalRecord) -> String {
    journal::render(rec)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_are_compact() {
        let s = chrono::Duration::seconds;
        assert_eq!(ago(s(-3)), "0s");
        assert_eq!(ago(s(59)), "59s");
        assert_eq!(ago(s(312)), "5m12s");
        assert_eq!(ago(s(3 * 3600 + 720)), "3h12m");
        assert_eq!(ago(s(2 * 86400 + 3 * 3600)), "2d3h");
    }

    #[test]
    fn colour_only_when_asked() {
        assert_eq!(Paint::new(false).verdict(Verdict::Split, "SPLIT"), "SPLIT");
        let on = Paint::new(true).verdict(Verdict::Split, "SPLIT");
        assert!(on.starts_with("\x1b[") && on.ends_with("\x1b[0m"), "{on:?}");
    }
}
