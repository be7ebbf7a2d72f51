//! Samples and what is reported from them: medians, the alternating runner every comparison
//! uses (so a noisy machine slows both sides alike), and the result records that
//! `bench/results.json` and BENCHMARKS.md are written from.

use anyhow::Result;
use serde::Serialize;

/// The median of `v` (the mean of the middle two for an even count); 0 for no samples.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => s[n / 2],
        _ => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Runs `rounds` rounds; in each, every side once, starting with a different side each round
/// (round r starts with side r mod k), so neither side always runs first after a pause.
/// Returns each side's samples, in side order.
pub fn alternate(
    rounds: usize,
    sides: &mut [&mut dyn FnMut() -> Result<f64>],
) -> Result<Vec<Vec<f64>>> {
    let k = sides.len();
    let mut out = vec![Vec::with_capacity(rounds); k];
    for r in 0..rounds {
        for i in 0..k {
            let s = (r + i) % k;
            out[s].push((sides[s])()?);
        }
    }
    Ok(out)
}

/// Which direction is better for a figure.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Lower,
    Higher,
}

/// One side of a comparison: its samples' median and spread.
#[derive(Clone, Debug, Serialize)]
pub struct Side {
    pub label: String,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Side {
    pub fn new(label: &str, samples: &[f64]) -> Self {
        Side {
            label: label.to_owned(),
            median: median(samples),
            min: samples.iter().copied().fold(f64::INFINITY, f64::min),
            max: samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            n: samples.len(),
        }
    }
}

/// A stated target and whether this run met it (`None`: the run could not judge it).
#[derive(Clone, Debug, Serialize)]
pub struct Target {
    pub text: String,
    pub met: Option<bool>,
    /// For a comparison: the ratio the target asks for (havip at least this many times better).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_ratio: Option<f64>,
}

impl Target {
    pub fn judged(text: &str, met: bool) -> Self {
        Target {
            text: text.to_owned(),
            met: Some(met),
            min_ratio: None,
        }
    }

    /// Met when `c`'s ratio is at least `min`.
    pub fn ratio_at_least(text: &str, c: &Comparison, min: f64) -> Self {
        Target {
            text: text.to_owned(),
            met: Some(c.ratio >= min),
            min_ratio: Some(min),
        }
    }

    pub fn verdict(&self) -> &'static str {
        match self.met {
            Some(true) => "pass",
            Some(false) => "FAIL",
            None => "not judged",
        }
    }
}

/// havip (`ours`) against another tool (`theirs`), both measured in the same alternating run.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Stable key, e.g. `promotion.wall_ms`.
    pub name: String,
    pub title: String,
    pub unit: String,
    pub better: Better,
    pub ours: Side,
    pub theirs: Side,
    /// How many times better `ours` is: theirs/ours when lower is better, ours/theirs when
    /// higher is better (so above 1 means havip wins).
    pub ratio: f64,
    pub target: Option<Target>,
    /// What was measured, in a sentence (shown under the table).
    pub note: String,
}

impl Comparison {
    pub fn new(
        name: &str,
        title: &str,
        unit: &str,
        better: Better,
        ours: Side,
        theirs: Side,
    ) -> Self {
        let ratio = match better {
            Better::Lower => theirs.median / ours.median,
            Better::Higher => ours.median / theirs.median,
        };
        Comparison {
            name: name.to_owned(),
            title: title.to_owned(),
            unit: unit.to_owned(),
            better,
            ours,
            theirs,
            ratio,
            target: None,
            note: String::new(),
        }
    }

    pub fn with_target(mut self, target: Target) -> Self {
        self.target = Some(target);
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = note.into();
        self
    }
}

/// A figure with no other side (audit, watcher, lab), as its bench reported it.
#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    pub name: String,
    pub title: String,
    pub unit: String,
    pub value: f64,
    pub target: Option<Target>,
    /// Where the figure came from (a command).
    pub source: String,
}

/// A figure this run could not produce, and why.
#[derive(Clone, Debug, Serialize)]
pub struct NotMeasured {
    pub name: String,
    pub title: String,
    pub reason: String,
    /// The target the figure would be judged against.
    pub target: String,
}

/// Everything one `make bench` found.
#[derive(Debug, Default, Serialize)]
pub struct Results {
    pub comparisons: Vec<Comparison>,
    pub measurements: Vec<Measurement>,
    pub not_measured: Vec<NotMeasured>,
    /// Free-form lines for the method section (calls each side made, sanity checks).
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn alternate_rotates_the_first_side() {
        let mut order = Vec::new();
        let log = std::cell::RefCell::new(&mut order);
        let mut a = || {
            log.borrow_mut().push('a');
            Ok(1.0)
        };
        let mut b = || {
            log.borrow_mut().push('b');
            Ok(2.0)
        };
        let got = alternate(3, &mut [&mut a, &mut b]).unwrap();
        assert_eq!(got, vec![vec![1.0; 3], vec![2.0; 3]]);
        assert_eq!(order, vec!['a', 'b', 'b', 'a', 'a', 'b']);
    }

    #[test]
    fn ratio_is_times_better_for_havip() {
        let fast = Side::new("havip", &[10.0]);
        let slow = Side::new("tccli", &[300.0]);
        let c = Comparison::new("x", "x", "ms", Better::Lower, fast.clone(), slow.clone());
        assert_eq!(c.ratio, 30.0);
        let c = Comparison::new("y", "y", "/s", Better::Higher, slow, fast);
        assert_eq!(c.ratio, 30.0);
    }
}
