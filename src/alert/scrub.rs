//! Secret scrubbing: what may leave this node in an alert or a log line. Credential-like keys,
//! TC3 signatures, SecretIds and the literal values of registered credentials are replaced;
//! URLs are shown without user info or query (a WeCom robot URL's `key=` is a secret).

use std::collections::BTreeSet;

use serde_json::Value;

use super::event::AlertEvent;

/// Environment variables an exec hook must not inherit: havip's own credentials (their values
/// reach the [`super::Alerter`] as secrets to scrub through the context's environment capture).
pub(super) use crate::cloud::credentials::SECRET_ENV;
const REDACTED: &str = "** redacted **";

/// A URL for logs: scheme, host, port and path, without user info, query or fragment (a WeCom
/// robot's `?key=` is its credential).
pub(crate) fn redact_url(s: &str) -> String {
    match reqwest::Url::parse(s) {
        Ok(mut u) => {
            let had_query = u.query().is_some();
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            if had_query {
                format!("{u}?…")
            } else {
                u.to_string()
            }
        }
        Err(_) => "(unparseable URL)".to_owned(),
    }
}

/// Keeps non-trivial secrets only: an empty or very short value would scrub innocent text.
pub(super) fn clean_secrets<I: IntoIterator<Item = String>>(it: I) -> Vec<String> {
    let set: BTreeSet<String> = it
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| s.len() >= 8)
        .collect();
    // Longest first, so a secret containing another is replaced whole.
    let mut v: Vec<String> = set.into_iter().collect();
    v.sort_by_key(|s| std::cmp::Reverse(s.len()));
    v
}

/// Whether a JSON key names something secret.
fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    [
        "secret",
        "token",
        "password",
        "passwd",
        "authorization",
        "signature",
        "credential",
        "private_key",
        "privatekey",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// The event as it may leave this node: secret-named keys in `details` replaced, and every
/// string scrubbed by [`scrub_str`].
pub(crate) fn scrub_event(ev: &AlertEvent, secrets: &[String]) -> AlertEvent {
    AlertEvent {
        vip: scrub_str(&ev.vip, secrets),
        kind: ev.kind,
        severity: ev.severity,
        node: scrub_str(&ev.node, secrets),
        message: scrub_str(&ev.message, secrets),
        details: scrub_value(&ev.details, secrets),
        time: ev.time,
    }
}

fn scrub_value(v: &Value, secrets: &[String]) -> Value {
    match v {
        Value::String(s) => Value::String(scrub_str(s, secrets)),
        Value::Array(a) => Value::Array(a.iter().map(|x| scrub_value(x, secrets)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = if secret_key(k) && !x.is_null() {
                        Value::String(REDACTED.to_owned())
                    } else {
                        scrub_value(x, secrets)
                    };
                    (scrub_str(k, secrets), x)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Replaces the registered secrets, TC3 `Signature=` values and SecretIds (`AKID…`) in `s`.
pub(crate) fn scrub_str(s: &str, secrets: &[String]) -> String {
    let mut out = s.to_owned();
    for sec in secrets {
        if out.contains(sec.as_str()) {
            out = out.replace(sec.as_str(), REDACTED);
        }
    }
    out = scrub_after(&out, "Signature=", |c| c.is_ascii_hexdigit());
    scrub_after(&out, "AKID", |c| c.is_ascii_alphanumeric())
}

/// Replaces the run of `keep`-characters after each `marker` (if at least 8 long) with the
/// redaction mark, keeping the marker itself so the reader knows what was there.
fn scrub_after(s: &str, marker: &str, keep: fn(char) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find(marker) {
        let after = pos + marker.len();
        out.push_str(&rest[..after]);
        let tail = &rest[after..];
        let run = tail.find(|c: char| !keep(c)).unwrap_or(tail.len());
        if run >= 8 {
            out.push_str(REDACTED);
        } else {
            out.push_str(&tail[..run]);
        }
        rest = &tail[run..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::AlertKind;

    #[test]
    fn scrubbing_removes_every_kind_of_secret() {
        let secrets = clean_secrets([
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE".to_owned(),
            "short".to_owned(),
            String::new(),
        ]);
        assert_eq!(
            secrets.len(),
            1,
            "short and empty values are not registered"
        );
        let ev = AlertEvent::new(
            "iam",
            AlertKind::Failure,
            "signing with Gu5t9xGARNpq86cd98joQYCN3EXAMPLE failed for AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        )
        .with_details(serde_json::json!({
            "SecretKey": "anything",
            "nested": [{"X-TC-Token": "tok"}, {"authorization": "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2026-11-25/vpc/tc3_request, SignedHeaders=content-type;host, Signature=2230eefd229f582d8e86a5e0ac5a2b29a6ad5f5f92bbd9d3b40ac95b98a30c28"}],
            "log": "Signature=2230eefd229f582d8e86a5e0ac5a2b29a6ad5f5f92bbd9d3b40ac95b98a30c28",
            "holder": "ins-iam00021",
            "empty_token": null,
        }));
        let out = serde_json::to_string(&scrub_event(&ev, &secrets)).unwrap();
        for leaked in [
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            "z8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            "2230eefd",
            "anything",
            "\"tok\"",
        ] {
            assert!(!out.contains(leaked), "{leaked} leaked: {out}");
        }
        assert!(
            out.contains("ins-iam00021"),
            "ordinary details survive: {out}"
        );
        assert!(out.contains("\"empty_token\":null"), "{out}");
    }

    #[test]
    fn scrub_leaves_short_runs_and_plain_text_alone() {
        assert_eq!(
            scrub_str("AKID is a prefix; Signature=abc", &[]),
            "AKID is a prefix; Signature=abc"
        );
        assert_eq!(scrub_str("", &[]), "");
    }
}
