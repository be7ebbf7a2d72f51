//! Property tests for the client's pure parts: the backoff never exceeds its cap and never
//! shrinks as attempts grow; no input makes the envelope decoder, endpoint parser, profile
//! parser, date parser or code classifier panic.

use std::time::Duration;

use havip::cloud::client::{decode_envelope, parse_endpoint, parse_http_date};
use havip::cloud::credentials::parse_profile;
use havip::cloud::{classify_code, Error, ErrorClass, RetryPolicy};
use proptest::prelude::*;

fn class() -> impl Strategy<Value = ErrorClass> {
    prop_oneof![
        Just(ErrorClass::Transient),
        Just(ErrorClass::Throttled),
        Just(ErrorClass::Server),
        Just(ErrorClass::Busy),
    ]
}

proptest! {
    #[test]
    fn backoff_is_capped_and_monotone(
        base_ms in 1u64..5_000,
        cap_ms in 1u64..60_000,
        attempt in 0u32..200,
        jitter in 0.0f64..1.0,
        class in class(),
    ) {
        let p = RetryPolicy {
            max_attempts: 10,
            base: Duration::from_millis(base_ms),
            throttle_base: Duration::from_millis(base_ms * 2),
            cap: Duration::from_millis(cap_ms),
        };
        let now = p.backoff(class, attempt, jitter);
        let next = p.backoff(class, attempt.saturating_add(1), jitter);
        prop_assert!(now <= p.cap);
        prop_assert!(next >= now);
        // Equal jitter: never less than half the step, so retries never fire back to back.
        prop_assert!(p.backoff(class, attempt, 0.0) <= now);
    }

    #[test]
    fn envelope_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_envelope(&bytes);
    }

    #[test]
    fn envelope_errors_carry_their_code(code in "[A-Za-z][A-Za-z.]{0,40}", msg in ".{0,40}", id in "[a-f0-9-]{1,36}") {
        let body = serde_json::json!({"Response": {"Error": {"Code": code, "Message": msg}, "RequestId": id}});
        let err = decode_envelope(body.to_string().as_bytes()).unwrap_err();
        prop_assert_eq!(err.code(), Some(code.as_str()));
        prop_assert_eq!(err.request_id(), Some(id.as_str()));
        let is_api = matches!(err, Error::Api { .. });
        prop_assert!(is_api);
    }

    #[test]
    fn endpoint_parser_never_panics_and_never_allows_remote_http(s in ".{0,80}") {
        if let Ok(url) = parse_endpoint(&s, "vpc") {
            prop_assert!(url.scheme() == "https" || url.scheme() == "http");
            if url.scheme() == "http" {
                let host = url.host_str().unwrap_or_default().trim_matches(|c| c == '[' || c == ']').to_string();
                let loopback = host.eq_ignore_ascii_case("localhost")
                    || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
                prop_assert!(loopback, "{}", url);
            }
        }
    }

    #[test]
    fn profile_parser_never_panics(s in "(\\[?[a-z_ ]{0,10}\\]?|[a-z_]{0,10} ?= ?[A-Za-z0-9 ]{0,10}|#.{0,5}|\n){0,12}") {
        let _ = parse_profile(&s, "default");
    }

    #[test]
    fn date_parser_never_panics(s in ".{0,40}") {
        let _ = parse_http_date(&s);
    }

    #[test]
    fn classification_is_total(code in ".{0,60}") {
        let c = classify_code(&code);
        // Only the documented families are retried.
        if c.is_retryable() {
            prop_assert!(
                code.starts_with("RequestLimitExceeded")
                    || code.starts_with("InternalError")
                    || code.starts_with("ResourceInUse")
                    || code.starts_with("ResourceUnavailable")
                    || code.ends_with("MutexTaskRunning")
                    || code.ends_with("MutexOperationTaskRunning")
                    || matches!(code.as_str(), "InternalServerError" | "ServiceUnavailable"
                        | "FailedOperation.NetDetectTimeOut" | "UnsupportedOperation.IdempotentProcessing"),
                "{} classified retryable", code
            );
        }
    }
}
