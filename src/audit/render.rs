//! The audit report's output formats: a table for people, JSON for scripts, and the Prometheus
//! text exposition format for node_exporter's textfile collector. The JSON shape and the metric
//! names are stable and documented in docs/audit.md.
//!
//! The metrics are written by hand rather than through `prometheus-client`: that crate encodes
//! OpenMetrics, while the textfile collector documents the Prometheus text format; the format is
//! three kinds of line, and the tests parse the output with a real parser.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{Finding, Kind, Report, Severity};

/// The JSON document's `format_version`; bumped only on an incompatible change.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// The report as one JSON document (shape in docs/audit.md).
pub fn render_json(r: &Report) -> Value {
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "partial": r.partial(),
        "started": r.started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "duration_seconds": (r.duration_secs * 1000.0).round() / 1000.0,
        "price_cny_per_hour": r.price_cny_per_hour,
        "regions": r.regions,
        "findings": r.findings,
        "summary": {
            "idle_eips": r.idle_eips(),
            "cost_cny_per_hour": r.idle_cost_per_hour(),
            "cost_cny_per_30d": r.idle_cost_per_30d(),
            "critical": r.count(Severity::Critical),
            "warning": r.count(Severity::Warning),
            "findings": r.findings.len(),
            "regions_scanned": r.regions.iter().filter(|s| s.complete).count(),
            "regions_failed": r.errors.len(),
            "exit_code": r.exit_code(),
        },
    })
}

/// A table, one finding a line, then the summary line.
pub fn render_table(r: &Report) -> String {
    let mut out = String::new();
    let head = [
        "SEVERITY", "KIND", "REGION", "RESOURCE", "SINCE", "CNY/30D", "DETAIL",
    ];
    let rows: Vec<[String; 7]> = r.findings.iter().map(row).collect();
    let mut widths = head.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: [&str; 7]| {
        let mut l = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i == cells.len() - 1 {
                l.push_str(cell);
            } else {
                let _ = write!(l, "{cell:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    if !rows.is_empty() {
        line(head);
        for row in &rows {
            line(row.each_ref().map(String::as_str));
        }
    }
    for e in &r.errors {
        let _ = writeln!(out, "incomplete: {}", crate::error_chain::error_chain(e));
    }
    let _ = writeln!(out, "{}", summary_line(r));
    out
}

fn row(f: &Finding) -> [String; 7] {
    let resource = match &f.address_ip {
        Some(ip) => format!("{} ({ip})", f.resource_id),
        None => f.resource_id.clone(),
    };
    [
        f.severity.as_str().to_string(),
        f.kind.as_str().to_string(),
        f.region.clone(),
        resource,
        f.since.clone().unwrap_or_else(|| "-".into()),
        f.cost_cny_per_30d
            .map(|c| format!("{c:.2}"))
            .unwrap_or_else(|| "-".into()),
        f.detail.clone(),
    ]
}

/// `OK|WARNING|CRITICAL|PARTIAL: …` with the counts and the idle cost.
pub fn summary_line(r: &Report) -> String {
    let verdict = match r.exit_code() {
        0 => "OK",
        1 => "WARNING",
        2 => "CRITICAL",
        _ => "PARTIAL",
    };
    let scanned = r.regions.iter().filter(|s| s.complete).count();
    format!(
        "{verdict}: {scanned} of {} regions read, {} findings ({} critical, {} warning); \
         {} idle EIPs at {} CNY/hour: {:.2} CNY/hour, {:.2} CNY per 30 days",
        r.regions.len(),
        r.findings.len(),
        r.count(Severity::Critical),
        r.count(Severity::Warning),
        r.idle_eips(),
        r.price_cny_per_hour,
        r.idle_cost_per_hour(),
        r.idle_cost_per_30d(),
    )
}

/// The report in the Prometheus text format (metric names in docs/audit.md). `now_secs` is the
/// run's end, for `havip_audit_last_run_timestamp_seconds`.
pub fn render_prometheus(r: &Report, now_secs: f64) -> String {
    let mut out = String::new();
    let mut family = |name: &str, help: &str, samples: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{labels} {}", number(v));
        }
    };
    let regions = |f: &dyn Fn(&str) -> f64| -> Vec<(String, f64)> {
        r.regions
            .iter()
            .map(|s| (labels(&[("region", &s.region)]), f(&s.region)))
            .collect()
    };
    let idle_in = |region: &str| {
        r.findings
            .iter()
            .filter(|f| f.kind.is_idle_eip() && f.region == region)
            .count() as f64
    };
    family(
        "havip_audit_idle_eips",
        "Idle EIPs (billed, serving nothing) found by the last audit, by region.",
        regions(&idle_in),
    );
    family(
        "havip_audit_idle_eip_cost_cny_per_30d",
        "What the idle EIPs cost per 30 days at the audit's price, CNY, by region.",
        regions(&|reg| super::round4(idle_in(reg) * r.price_cny_per_hour * super::HOURS_PER_30D)),
    );
    let mut counts: BTreeMap<(Kind, Severity, &str), usize> = BTreeMap::new();
    for f in &r.findings {
        *counts
            .entry((f.kind, f.severity, f.region.as_str()))
            .or_default() += 1;
    }
    family(
        "havip_audit_findings",
        "Findings of the last audit by kind, severity and region (absent: none).",
        counts
            .into_iter()
            .map(|((k, s, reg), n)| {
                let l = labels(&[
                    ("kind", k.as_str()),
                    ("severity", s.as_str()),
                    ("region", reg),
                ]);
                (l, n as f64)
            })
            .collect(),
    );
    let complete = |reg: &str| {
        let ok = r.regions.iter().any(|s| s.region == reg && s.complete);
        f64::from(u8::from(ok))
    };
    family(
        "havip_audit_region_complete",
        "1 when the region was read completely by the last audit, 0 when it failed.",
        regions(&complete),
    );
    family(
        "havip_audit_partial",
        "1 when the last audit could not read some region (its findings are incomplete).",
        vec![(String::new(), f64::from(u8::from(r.partial())))],
    );
    family(
        "havip_audit_duration_seconds",
        "How long the last audit took.",
        vec![(String::new(), r.duration_secs)],
    );
    family(
        "havip_audit_last_run_timestamp_seconds",
        "When the last audit ended, Unix seconds.",
        vec![(String::new(), now_secs)],
    );
    out
}

/// `{a="x",b="y"}` with the values escaped (backslash, quote, newline).
fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// A sample value: integers without a fraction, others as Rust prints them (both valid Go floats).
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            labels(&[("region", "a\"b\\c\nd")]),
            r#"{region="a\"b\\c\nd"}"#
        );
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
    }
}
