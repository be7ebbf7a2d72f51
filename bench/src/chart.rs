//! The chart BENCHMARKS.md shows (`bench/chart.svg`, plotters' SVG backend): one horizontal
//! bar per comparison, how many times better havip is than the other side (log scale; 1× is
//! parity), with the figure's target marked where it has one.

use std::path::Path;

use anyhow::{anyhow, Result};
use plotters::prelude::*;

use crate::stats::Comparison;

pub fn write_svg(path: &Path, comparisons: &[Comparison]) -> Result<()> {
    // API call counts are not speed; they are in the tables.
    let bars: Vec<&Comparison> = comparisons
        .iter()
        .filter(|c| c.unit != "calls" && c.ratio.is_finite() && c.ratio > 0.0)
        .collect();
    let n = bars.len().max(1);
    let height = 120 + 44 * n as u32;
    let root = SVGBackend::new(path, (960, height)).into_drawing_area();
    let e = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let max = bars.iter().map(|c| c.ratio).fold(100.0f64, f64::max) * 2.0;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "havip vs the alternatives: times better (median ratio, log scale)",
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(36)
        .y_label_area_size(330)
        .build_cartesian_2d((0.3f64..max).log_scale(), 0f64..n as f64)
        .map_err(|x| e(&x))?;
    let label = |y: &f64| {
        let i = (n as f64 - y - 0.5).round();
        bars.get(i as usize)
            .filter(|_| (y.fract() - 0.5).abs() < 1e-6)
            .map(|c| short(c))
            .unwrap_or_default()
    };
    chart
        .configure_mesh()
        .y_labels(2 * n + 1)
        .y_label_formatter(&label)
        .x_desc("× better than the other side (1 = parity)")
        .disable_y_mesh()
        .draw()
        .map_err(|x| e(&x))?;
    for (i, c) in bars.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let met = c.target.as_ref().and_then(|t| t.met);
        let color = match met {
            Some(false) => RGBColor(214, 69, 65),
            _ if c.ratio >= 1.0 => RGBColor(46, 134, 193),
            _ => RGBColor(160, 160, 160),
        };
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.3, y + 0.2), (c.ratio, y + 0.8)],
                color.filled(),
            )))
            .map_err(|x| e(&x))?;
        chart
            .draw_series(std::iter::once(Text::new(
                format!("{:.1}×", c.ratio),
                (c.ratio * 1.08, y + 0.62),
                ("sans-serif", 14),
            )))
            .map_err(|x| e(&x))?;
        if let Some(t) = c.target.as_ref().and_then(|t| t.min_ratio) {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(t, y + 0.08), (t, y + 0.92)],
                    BLACK.stroke_width(3),
                )))
                .map_err(|x| e(&x))?;
        }
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(1.0, 0.0), (1.0, n as f64)],
            BLACK.mix(0.4),
        )))
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

/// A short label: the other side, and what is compared.
fn short(c: &Comparison) -> String {
    let what = match c.name.split('.').next().unwrap_or("") {
        "promotion" => "notify MASTER",
        "promotion_rebind" => "notify MASTER + rebind",
        "api_call" => "one API call",
        "signing" => "signatures/s",
        other => other,
    };
    format!("{what}: {} vs {}", c.ours.label, c.theirs.label)
}
