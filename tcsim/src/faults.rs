//! Fault injection: rules posted to `/_sim/faults` that turn the next matching API calls into
//! errors, HTTP failures, delays, hangs or failed async tasks.
//!
//! Rules are checked in the order they were added; the first rule that matches the action and
//! fires (by its probability) applies, and its count, if any, goes down by one. `task_result`
//! rules are consumed only when an async task of that action starts, so they never affect the
//! request itself.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::state::Bound;

/// What a fault does.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Answer the error envelope with this code (HTTP 200).
    Error(String),
    /// Answer this HTTP status with a non-API body, as a failing gateway would.
    HttpStatus(u16),
    /// Wait this long, then handle the request normally.
    DelayMs(u64),
    /// Never answer (until the client gives up, the server stops, or a long cap passes).
    Hang,
    /// The async task this request starts ends FAILED, its state rolled back.
    TaskFailed,
}

/// A rule as posted.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hang: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_result: Option<String>,
}

/// An installed rule.
#[derive(Clone, Debug, Serialize)]
pub struct FaultRule {
    pub id: u64,
    /// An action name or `*`.
    pub action: String,
    /// Remaining firings; `None` = until cleared.
    pub remaining: Option<u64>,
    pub probability: Option<f64>,
    pub effect: Effect,
    pub fired: u64,
}

impl FaultSpec {
    /// Firings before the rule is removed (omit `count` for a rule that lasts until cleared).
    pub const COUNT: Bound = Bound::new("count", 1, 1_000_000);
    /// At most 10 minutes; `hang` is for longer.
    pub const DELAY_MS: Bound = Bound::new("delay_ms", 0, 600_000);
    /// Redirects, client and server errors: what a gateway could answer instead of the API.
    pub const HTTP_STATUS: Bound = Bound::new("http_status", 300, 599);

    /// Parses a posted rule. The numeric fields are checked on the JSON first, so a wrong type
    /// or an out-of-range number is refused naming the field and its range (serde's own message
    /// names neither); `into_rule` checks the rest.
    pub fn from_json(v: &serde_json::Value) -> Result<FaultSpec, String> {
        if let Some(obj) = v.as_object() {
            for bound in [
                FaultSpec::COUNT,
                FaultSpec::DELAY_MS,
                FaultSpec::HTTP_STATUS,
            ] {
                if let Some(n) = obj.get(bound.field) {
                    bound.check_json(n)?;
                }
            }
            if let Some(p) = obj.get("probability") {
                if !p.as_f64().is_some_and(|p| (0.0..=1.0).contains(&p)) {
                    return Err(format!(
                        "\"probability\" must be a number from 0.0 to 1.0, got {p}"
                    ));
                }
            }
        }
        serde_json::from_value(v.clone()).map_err(|e| format!("invalid fault rule: {e}"))
    }

    /// Validates the spec into a rule (`Err` is the message for a 400).
    pub fn into_rule(self, id: u64) -> Result<FaultRule, String> {
        if self.action.is_empty() {
            return Err("\"action\" must be an action name or \"*\"".into());
        }
        if let Some(n) = self.count {
            FaultSpec::COUNT
                .check(n.into())
                .map_err(|e| format!("{e} (omit it for a rule that lasts until cleared)"))?;
        }
        if let Some(p) = self.probability {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "\"probability\" must be a number from 0.0 to 1.0, got {p}"
                ));
            }
        }
        if let Some(status) = self.http_status {
            FaultSpec::HTTP_STATUS.check(status.into())?;
        }
        if let Some(ms) = self.delay_ms {
            FaultSpec::DELAY_MS
                .check(ms.into())
                .map_err(|e| format!("{e} (use \"hang\" for longer)"))?;
        }
        // Each effect given: (its value passed its check, the effect, the message if not).
        let given = [
            self.error.map(|code| {
                let msg = "\"error\" must be a non-empty error code";
                (!code.trim().is_empty(), Effect::Error(code), msg)
            }),
            // Range-checked above, with messages naming the field and its range.
            self.http_status
                .map(|status| (true, Effect::HttpStatus(status), "")),
            self.delay_ms.map(|ms| (true, Effect::DelayMs(ms), "")),
            self.hang
                .map(|hang| (hang, Effect::Hang, "\"hang\" must be true")),
            self.task_result.map(|result| {
                let msg = "\"task_result\" must be \"FAILED\"";
                (result == "FAILED", Effect::TaskFailed, msg)
            }),
        ];
        let mut effects = Vec::new();
        for (ok, effect, msg) in given.into_iter().flatten() {
            if !ok {
                return Err(msg.into());
            }
            effects.push(effect);
        }
        if effects.len() != 1 {
            return Err(
                "a rule needs exactly one effect: error, http_status, delay_ms, hang or task_result"
                    .into(),
            );
        }
        Ok(FaultRule {
            id,
            action: self.action,
            remaining: self.count,
            probability: self.probability,
            effect: effects.remove(0),
            fired: 0,
        })
    }
}

/// The installed rules.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<FaultRule>,
    next_id: u64,
}

impl Faults {
    pub fn add(&mut self, spec: FaultSpec) -> Result<FaultRule, String> {
        self.next_id += 1;
        let rule = spec.into_rule(self.next_id)?;
        self.rules.push(rule.clone());
        Ok(rule)
    }

    pub fn clear(&mut self) -> usize {
        std::mem::take(&mut self.rules).len()
    }

    /// Removes the rule with this id; false when there is none (used up, cleared, never added).
    pub fn remove(&mut self, id: u64) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        self.rules.len() != before
    }

    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The request-time effect for `action`, if a rule fires.
    pub fn take(&mut self, action: &str) -> Option<Effect> {
        self.fire(action, |e| *e != Effect::TaskFailed)
    }

    /// Whether the async task that `action` is starting must fail.
    pub fn take_task_failure(&mut self, action: &str) -> bool {
        self.fire(action, |e| *e == Effect::TaskFailed).is_some()
    }

    fn fire(&mut self, action: &str, kind: impl Fn(&Effect) -> bool) -> Option<Effect> {
        if self.rules.is_empty() {
            return None;
        }
        let mut rng = rand::thread_rng();
        let idx = self.rules.iter().position(|r| {
            (r.action == "*" || r.action == action)
                && kind(&r.effect)
                && r.probability.is_none_or(|p| rng.gen::<f64>() < p)
        })?;
        let rule = &mut self.rules[idx];
        rule.fired += 1;
        let effect = rule.effect.clone();
        if let Some(n) = &mut rule.remaining {
            *n -= 1;
            if *n == 0 {
                self.rules.remove(idx);
            }
        }
        Some(effect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> FaultSpec {
        serde_json::from_str(json).unwrap()
    }

    /// Rules installed from these JSON specs.
    fn faults(specs: &[&str]) -> Faults {
        let mut f = Faults::default();
        for s in specs {
            f.add(spec(s)).unwrap();
        }
        f
    }

    #[test]
    fn count_limits_firings() {
        let mut f =
            faults(&[r#"{"action": "DescribeHaVips", "count": 2, "error": "InternalError"}"#]);
        assert_eq!(f.take("DescribeAddresses"), None);
        assert_eq!(
            f.take("DescribeHaVips"),
            Some(Effect::Error("InternalError".into()))
        );
        assert_eq!(
            f.take("DescribeHaVips"),
            Some(Effect::Error("InternalError".into()))
        );
        assert_eq!(f.take("DescribeHaVips"), None);
        assert!(f.is_empty());
    }

    #[test]
    fn remove_takes_out_one_rule_by_id() {
        let mut f = Faults::default();
        let a = f
            .add(spec(
                r#"{"action": "DescribeHaVips", "error": "InternalError"}"#,
            ))
            .unwrap();
        let b = f
            .add(spec(r#"{"action": "*", "http_status": 503}"#))
            .unwrap();
        assert!(f.remove(a.id));
        assert!(!f.remove(a.id), "already gone");
        assert_eq!(f.rules().len(), 1);
        assert_eq!(f.rules()[0].id, b.id);
        assert_eq!(f.take("DescribeHaVips"), Some(Effect::HttpStatus(503)));
    }

    #[test]
    fn probability_zero_never_fires_and_one_always_does() {
        let mut f = faults(&[r#"{"action": "*", "probability": 0.0, "http_status": 502}"#]);
        assert!((0..1000).all(|_| f.take("X").is_none()));
        let mut f = faults(&[r#"{"action": "*", "probability": 1.0, "delay_ms": 5}"#]);
        assert!((0..1000).all(|_| f.take("X") == Some(Effect::DelayMs(5))));
    }

    #[test]
    fn task_rules_only_fire_for_tasks() {
        let mut f =
            faults(&[r#"{"action": "AssociateAddress", "count": 1, "task_result": "FAILED"}"#]);
        assert_eq!(f.take("AssociateAddress"), None);
        assert!(f.take_task_failure("AssociateAddress"));
        assert!(!f.take_task_failure("AssociateAddress"));
    }

    #[test]
    fn invalid_specs_are_rejected() {
        let bad = [
            r#"{"action": "X"}"#,
            r#"{"action": "X", "error": "A", "delay_ms": 1}"#,
            r#"{"action": "X", "count": 0, "error": "A"}"#,
            r#"{"action": "X", "probability": 1.5, "error": "A"}"#,
            r#"{"action": "X", "hang": false}"#,
            r#"{"action": "X", "task_result": "SUCCESS"}"#,
            r#"{"action": "X", "http_status": 200}"#,
            r#"{"action": "", "error": "A"}"#,
        ];
        for b in bad {
            assert!(Faults::default().add(spec(b)).is_err(), "{b}");
        }
        assert!(serde_json::from_str::<FaultSpec>(r#"{"action": "X", "eror": "A"}"#).is_err());
    }
}
