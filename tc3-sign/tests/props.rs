//! Property tests: sign → header → parse → verify round-trips, tampering is caught, and nothing
//! panics on arbitrary input (out-of-range timestamps, non-ASCII, garbage headers).

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tc3_sign::{
    sign, utc_date, verify, Authorization, CredentialScope, HeaderValueCase, Payload,
    ReceivedRequest, SignError, SignableRequest, Signer, SigningParams, VerifyError,
};

/// 0000-01-01T00:00:00Z ..= 9999-12-31T23:59:59Z: the timestamps `utc_date` accepts.
const TS_MIN: i64 = -62_167_219_200;
const TS_MAX: i64 = 253_402_300_799;

fn secret_id() -> impl Strategy<Value = String> {
    // A SecretId has no '/', ',', '=' or whitespace (it sits inside `Credential=.../...`).
    "[A-Za-z0-9_-]{1,48}"
}

/// Any key, including empty and non-ASCII: HMAC takes any key.
fn secret_key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9]{0,48}",
        any::<String>(),
        Just("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE".to_string()),
    ]
}

fn service() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,15}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9-]{1,20}(\\.[a-z0-9-]{1,20}){0,3}(:[0-9]{1,5})?",
        "[A-Za-z0-9.-]{1,40}",
        "127\\.0\\.0\\.1:[0-9]{1,5}",
        // Odd but sendable values (surrounding spaces are trimmed on both sides).
        " ?[^\\r\\n]{1,30} ?",
    ]
}

/// Timestamps a request can carry: mostly recent, sometimes anywhere in range, with day edges.
fn timestamp() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => 1_500_000_000i64..2_100_000_000,
        2 => TS_MIN..=TS_MAX,
        1 => (0i64..100_000).prop_map(|d| d * 86_400),
        1 => (0i64..100_000).prop_map(|d| d * 86_400 - 1),
        1 => prop_oneof![Just(TS_MIN), Just(TS_MAX), Just(0i64), Just(-1i64)],
    ]
}

fn content_type() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("application/json".to_string()),
        Just("application/json; charset=utf-8".to_string()),
        Just("Application/JSON; Charset=UTF-8".to_string()),
        "[a-zA-Z/;= -]{1,40}",
    ]
}

/// A GET query string as sent: any printable text (it is used verbatim).
fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        "([A-Za-z0-9.]{1,12}=[A-Za-z0-9%+._-]{0,20}&){0,5}[A-Za-z0-9.]{1,12}=[A-Za-z0-9%+._-]{0,20}",
        "[ -~]{0,80}",
    ]
}

#[derive(Debug, Clone)]
struct Case {
    secret_id: String,
    secret_key: String,
    service: String,
    timestamp: i64,
    host: String,
    content_type: String,
    get: bool,
    query: String,
    body: Vec<u8>,
    unsigned: bool,
    lowercase: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (secret_id(), secret_key(), service(), timestamp()),
        (host(), content_type(), any::<bool>(), query()),
        (
            proptest::collection::vec(any::<u8>(), 0..512),
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (secret_id, secret_key, service, timestamp),
                (host, content_type, get, query),
                (body, unsigned, lowercase),
            )| Case {
                secret_id,
                secret_key,
                service,
                timestamp,
                host,
                content_type,
                get,
                query: if get { query } else { String::new() },
                body: if get { Vec::new() } else { body },
                unsigned: unsigned && !get,
                lowercase,
            },
        )
}

impl Case {
    fn payload(&self) -> Payload<'_> {
        if self.unsigned {
            Payload::Unsigned
        } else {
            Payload::Bytes(&self.body)
        }
    }

    fn signable(&self) -> SignableRequest<'_> {
        let mut r = if self.get {
            SignableRequest::get(&self.host, &self.query)
        } else {
            SignableRequest::post(&self.host, &self.content_type, &self.body)
        };
        if !self.get {
            r.payload = self.payload();
        }
        // Header names as a client would send them.
        r.headers = vec![("Content-Type", r.headers[0].1), ("Host", r.headers[1].1)];
        r.value_case = if self.lowercase {
            HeaderValueCase::Lowercase
        } else {
            HeaderValueCase::AsSent
        };
        r
    }

    fn params(&self) -> SigningParams<'_> {
        SigningParams {
            secret_id: &self.secret_id,
            secret_key: &self.secret_key,
            service: &self.service,
            timestamp: self.timestamp,
        }
    }

    /// The request the server receives, with the X-TC-* headers a client also sends.
    fn received<'a>(&'a self, signable: &SignableRequest<'a>, ts: &'a str) -> ReceivedRequest<'a> {
        ReceivedRequest {
            method: signable.method,
            query: signable.query,
            headers: vec![
                ("X-TC-Action", "DescribeHaVips"),
                ("host", signable.headers[1].1),
                ("X-TC-Timestamp", ts),
                ("CONTENT-TYPE", signable.headers[0].1),
                ("X-TC-Version", "2017-03-12"),
            ],
            payload: signable.payload,
            timestamp: self.timestamp,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Sign, render the header, parse it back, verify: always Ok; and the parsed header equals
    /// the signed one.
    #[test]
    fn sign_then_verify_round_trips(c in case()) {
        let signable = c.signable();
        let signed = sign(&signable, &c.params()).expect("in-range timestamp signs");
        let header = signed.authorization.to_string();
        let parsed = Authorization::parse(&header).expect("our own header parses");
        prop_assert_eq!(&parsed, &signed.authorization);
        prop_assert_eq!(parsed.signed_headers.join(";"), "content-type;host");
        let ts = c.timestamp.to_string();
        let received = c.received(&signable, &ts);
        prop_assert_eq!(verify(&parsed, &c.secret_key, &received, Some(&c.service)), Ok(()));
        prop_assert_eq!(verify(&parsed, &c.secret_key, &received, None), Ok(()));
    }

    /// Any change to a signed part of the request is caught.
    #[test]
    fn tampering_is_caught(c in case(), flip in any::<prop::sample::Index>(), bit in 0u8..8) {
        let signable = c.signable();
        let signed = sign(&signable, &c.params()).unwrap();
        let auth = signed.authorization;
        let ts = c.timestamp.to_string();
        let received = c.received(&signable, &ts);

        // One body bit (signed unless unsigned-payload).
        if !c.body.is_empty() && !c.unsigned {
            let mut body = c.body.clone();
            let i = flip.index(body.len());
            body[i] ^= 1 << bit;
            let r = ReceivedRequest { payload: Payload::Bytes(&body), ..received.clone() };
            prop_assert_eq!(verify(&auth, &c.secret_key, &r, None), Err(VerifyError::SignatureMismatch));
        }
        // A byte appended to the body.
        if !c.unsigned {
            let mut body = c.body.clone();
            body.push(b' ');
            let r = ReceivedRequest { payload: Payload::Bytes(&body), ..received.clone() };
            prop_assert_eq!(verify(&auth, &c.secret_key, &r, None), Err(VerifyError::SignatureMismatch));
        }
        // The query string.
        let q = format!("{}&x=1", c.query);
        let r = ReceivedRequest { query: &q, ..received.clone() };
        prop_assert_eq!(verify(&auth, &c.secret_key, &r, None), Err(VerifyError::SignatureMismatch));
        // The method.
        let m = if c.get { "POST" } else { "GET" };
        let r = ReceivedRequest { method: m, ..received.clone() };
        prop_assert_eq!(verify(&auth, &c.secret_key, &r, None), Err(VerifyError::SignatureMismatch));
        // The key.
        let key = format!("{}x", c.secret_key);
        prop_assert_eq!(verify(&auth, &key, &received, None), Err(VerifyError::SignatureMismatch));
        // The timestamp, another second of the same day.
        let other = if c.timestamp.rem_euclid(86_400) == 0 { c.timestamp + 1 } else { c.timestamp - 1 };
        let r = ReceivedRequest { timestamp: other, ..received.clone() };
        prop_assert_eq!(verify(&auth, &c.secret_key, &r, None), Err(VerifyError::SignatureMismatch));
        // The timestamp, another day (when that day is still in range).
        if c.timestamp + 86_400 <= TS_MAX {
            let r = ReceivedRequest { timestamp: c.timestamp + 86_400, ..received.clone() };
            let is_scope_date = matches!(
                verify(&auth, &c.secret_key, &r, None),
                Err(VerifyError::ScopeDate { .. })
            );
            prop_assert!(is_scope_date);
        }
        // The signature itself, one hex digit.
        let mut bad = auth.clone();
        let i = flip.index(64);
        let digit = bad.signature.as_bytes()[i];
        let replacement = if digit == b'0' { "1" } else { "0" };
        bad.signature.replace_range(i..=i, replacement);
        prop_assert_eq!(verify(&bad, &c.secret_key, &received, None), Err(VerifyError::SignatureMismatch));
    }

    /// A signature made over lowercased header values verifies (the documentation's variant),
    /// and so does one over values as sent: the verifier tries both.
    #[test]
    fn both_header_value_cases_verify(c in case()) {
        for lowercase in [false, true] {
            let c = Case { lowercase, ..c.clone() };
            let signable = c.signable();
            let signed = sign(&signable, &c.params()).unwrap();
            let ts = c.timestamp.to_string();
            let received = c.received(&signable, &ts);
            prop_assert_eq!(verify(&signed.authorization, &c.secret_key, &received, None), Ok(()));
        }
    }

    /// Signing is deterministic and the scope date is the UTC date of the timestamp.
    #[test]
    fn sign_is_deterministic(c in case()) {
        let a = sign(&c.signable(), &c.params()).unwrap();
        let b = sign(&c.signable(), &c.params()).unwrap();
        prop_assert_eq!(&a.signature, &b.signature);
        prop_assert_eq!(a.signature.len(), 64);
        prop_assert!(a.signature.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        prop_assert_eq!(a.authorization.scope.date, utc_date(c.timestamp).unwrap());
    }

    /// The streamed hash of the canonical request is the hash of its text, and a `Signer` (its
    /// day key kept across calls, headers in any order, case and padding, extra signed headers)
    /// gives the same Authorization header as `sign`, for a run of timestamps around `c`'s.
    #[test]
    fn signer_matches_sign(
        c in case(),
        steps in proptest::collection::vec(-200_000i64..200_000, 1..6),
        extra in proptest::collection::vec(("[A-Za-z-]{1,12}", "[ -~]{0,20}"), 0..3),
        reverse in any::<bool>(),
    ) {
        let mut signable = c.signable();
        signable.headers = signable
            .headers
            .iter()
            .map(|(n, v)| (*n, *v))
            .chain(extra.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .collect();
        if reverse {
            signable.headers.reverse();
            signable.headers[0].0 = " X-Padded-Name ";
        }
        let mut signer = Signer::new(&c.secret_id, &c.secret_key);
        let mut ts = c.timestamp;
        for step in steps {
            let params = SigningParams { timestamp: ts, ..c.params() };
            match sign(&signable, &params) {
                Ok(signed) => {
                    prop_assert_eq!(
                        &signed.string_to_sign.hashed_canonical_request,
                        &signed.canonical_request.hash()
                    );
                    let got = signer.authorization(&signable, &c.service, ts);
                    prop_assert_eq!(got, Ok(signed.authorization.to_string()));
                }
                Err(e) => prop_assert_eq!(signer.authorization(&signable, &c.service, ts), Err(e)),
            }
            ts = ts.saturating_add(step);
        }
    }

    /// `utc_date` agrees with chrono over the whole accepted range, and refuses outside it.
    #[test]
    fn utc_date_matches_chrono(ts in prop_oneof![TS_MIN..=TS_MAX, any::<i64>()]) {
        match chrono::DateTime::from_timestamp(ts, 0) {
            Some(dt) if (TS_MIN..=TS_MAX).contains(&ts) => {
                prop_assert_eq!(utc_date(ts).unwrap(), dt.format("%Y-%m-%d").to_string());
            }
            _ => prop_assert_eq!(utc_date(ts), Err(SignError::TimestampOutOfRange(ts))),
        }
    }

    /// `Authorization::parse` never panics, whatever the string.
    #[test]
    fn parse_never_panics(s in any::<String>()) {
        let _ = Authorization::parse(&s);
    }

    /// ...nor on strings that are nearly headers (the interesting paths).
    #[test]
    fn parse_never_panics_near_headers(
        algo in prop_oneof![Just("TC3-HMAC-SHA256".to_string()), "[ -~]{0,20}"],
        parts in proptest::collection::vec(
            (prop_oneof![Just("Credential"), Just("SignedHeaders"), Just("Signature"), Just("X")],
             prop_oneof!["[ -~]{0,80}", "[A-Za-z0-9/_-]{0,60}", any::<String>()]),
            0..5),
        sep in prop_oneof![Just(", "), Just(","), Just(" , "), Just(";")],
    ) {
        let body: Vec<String> = parts.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let header = format!("{algo} {}", body.join(sep));
        if let Ok(a) = Authorization::parse(&header) {
            // Whatever parses renders back to something that parses to the same value.
            prop_assert_eq!(Authorization::parse(&a.to_string()), Ok(a));
        }
    }

    /// parse(display(auth)) == auth for every well-formed header value.
    #[test]
    fn parse_display_round_trips(
        secret_id in secret_id(),
        date in "[0-9]{4}-[0-9]{2}-[0-9]{2}",
        service in service(),
        signed_headers in proptest::collection::vec("[a-z0-9-]{1,20}", 1..6),
        signature in "[0-9a-f]{64}",
    ) {
        let auth = Authorization {
            secret_id,
            scope: CredentialScope { date, service },
            signed_headers,
            signature,
        };
        prop_assert_eq!(Authorization::parse(&auth.to_string()), Ok(auth.clone()));
        // Surrounding whitespace and an upper-case signature are accepted and normalised.
        let shouted = format!("  {}  ", auth.to_string().replace(&auth.signature, &auth.signature.to_uppercase()));
        prop_assert_eq!(Authorization::parse(&shouted), Ok(auth));
    }

    /// `sign` never panics: out-of-range timestamps are an error, everything else signs.
    #[test]
    fn sign_never_panics(
        method in any::<String>(),
        query in any::<String>(),
        headers in proptest::collection::vec((any::<String>(), any::<String>()), 0..4),
        body in proptest::collection::vec(any::<u8>(), 0..256),
        unsigned in any::<bool>(),
        lowercase in any::<bool>(),
        secret_id in any::<String>(),
        secret_key in any::<String>(),
        service in any::<String>(),
        timestamp in any::<i64>(),
    ) {
        let req = SignableRequest {
            method: &method,
            query: &query,
            headers: headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
            payload: if unsigned { Payload::Unsigned } else { Payload::Bytes(&body) },
            value_case: if lowercase { HeaderValueCase::Lowercase } else { HeaderValueCase::AsSent },
        };
        let params = SigningParams { secret_id: &secret_id, secret_key: &secret_key, service: &service, timestamp };
        match sign(&req, &params) {
            Ok(s) => {
                prop_assert!((TS_MIN..=TS_MAX).contains(&timestamp));
                prop_assert_eq!(s.signature.len(), 64);
                let _ = s.authorization.to_string();
            }
            Err(e) => {
                prop_assert!(!(TS_MIN..=TS_MAX).contains(&timestamp));
                prop_assert_eq!(e, SignError::TimestampOutOfRange(timestamp));
            }
        }
    }

    /// `verify` never panics on arbitrary (even nonsensical) headers and requests.
    #[test]
    fn verify_never_panics(
        secret_id in any::<String>(),
        date in prop_oneof![any::<String>(), "[0-9]{4}-[0-9]{2}-[0-9]{2}"],
        service in any::<String>(),
        signed_headers in proptest::collection::vec(
            prop_oneof![Just("content-type".to_string()), Just("host".to_string()), any::<String>()], 0..5),
        signature in any::<String>(),
        secret_key in any::<String>(),
        method in any::<String>(),
        query in any::<String>(),
        headers in proptest::collection::vec(
            (prop_oneof![Just("Content-Type".to_string()), Just("Host".to_string()), any::<String>()],
             any::<String>()), 0..5),
        body in proptest::collection::vec(any::<u8>(), 0..128),
        unsigned in any::<bool>(),
        timestamp in prop_oneof![any::<i64>(), timestamp()],
        check_service in proptest::option::of(any::<String>()),
    ) {
        let auth = Authorization { secret_id, scope: CredentialScope { date, service }, signed_headers, signature };
        let req = ReceivedRequest {
            method: &method,
            query: &query,
            headers: headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
            payload: if unsigned { Payload::Unsigned } else { Payload::Bytes(&body) },
            timestamp,
        };
        let r = verify(&auth, &secret_key, &req, check_service.as_deref());
        if !(TS_MIN..=TS_MAX).contains(&timestamp) {
            prop_assert_eq!(r, Err(VerifyError::TimestampOutOfRange(timestamp)));
        }
    }
}

/// A header that parses but was never signed by us never verifies (a fixed example, as a
/// reminder that `parse` checks only shape).
#[test]
fn well_formed_but_forged_header_is_rejected() {
    let header = "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2023-11-14/vpc/tc3_request, SignedHeaders=content-type;host, Signature=0000000000000000000000000000000000000000000000000000000000000000";
    let auth = Authorization::parse(header).unwrap();
    let req = ReceivedRequest {
        method: "POST",
        query: "",
        headers: vec![
            ("Content-Type", "application/json"),
            ("Host", "vpc.tencentcloudapi.com"),
        ],
        payload: Payload::Bytes(b"{}"),
        timestamp: 1_700_000_000,
    };
    assert_eq!(
        verify(&auth, "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", &req, Some("vpc")),
        Err(VerifyError::SignatureMismatch)
    );
}

/// Headers that do not sign content-type and host are refused before any HMAC.
#[test]
fn required_headers_must_be_signed() {
    let req = ReceivedRequest {
        method: "POST",
        query: "",
        headers: vec![
            ("Content-Type", "application/json"),
            ("Host", "vpc.tencentcloudapi.com"),
        ],
        payload: Payload::Bytes(b"{}"),
        timestamp: 1_700_000_000,
    };
    for signed in ["host", "content-type", "content-type;x-tc-action"] {
        let header = format!(
            "TC3-HMAC-SHA256 Credential=AKIDx/2023-11-14/vpc/tc3_request, SignedHeaders={signed}, Signature={}",
            "a".repeat(64)
        );
        let auth = Authorization::parse(&header).unwrap();
        assert_eq!(
            verify(&auth, "k", &req, None),
            Err(VerifyError::RequiredHeaderNotSigned),
            "{signed}"
        );
    }
}

/// `parse` names what is wrong.
#[test]
fn parse_errors() {
    let sig = "a".repeat(64);
    let cases: Vec<(String, VerifyError)> = vec![
        (String::new(), VerifyError::Malformed("no space after the algorithm")),
        (
            format!("HMAC-SHA256 Credential=a/2023-11-14/vpc/tc3_request, SignedHeaders=host, Signature={sig}"),
            VerifyError::Algorithm("HMAC-SHA256".into()),
        ),
        (
            format!("TC3-HMAC-SHA256 Credential=a/2023-11-14/vpc/tc3_requestx, SignedHeaders=host, Signature={sig}"),
            VerifyError::ScopeTerminator,
        ),
        (
            "TC3-HMAC-SHA256 Credential=a/2023-11-14/vpc/tc3_request, SignedHeaders=host".into(),
            VerifyError::Malformed("no Signature"),
        ),
        (
            format!("TC3-HMAC-SHA256 Credential=a/2023-11-14/vpc/tc3_request, SignedHeaders=host, Signature={sig}, Signature={sig}"),
            VerifyError::Malformed("a part is repeated"),
        ),
        (
            "TC3-HMAC-SHA256 Credential=a/2023-11-14/vpc/tc3_request, SignedHeaders=host, Signature=abc".into(),
            VerifyError::Malformed("Signature is not 64 hex digits"),
        ),
        (
            format!("TC3-HMAC-SHA256 Credential=a/b/2023-11-14/vpc/tc3_request, SignedHeaders=host, Signature={sig}"),
            VerifyError::Malformed("Credential is not SecretId/Date/service/tc3_request"),
        ),
        (
            format!("TC3-HMAC-SHA256 Credential=/2023-11-14/vpc/tc3_request, SignedHeaders=host, Signature={sig}"),
            VerifyError::Malformed("Credential has an empty field"),
        ),
        (
            format!("TC3-HMAC-SHA256 Credential=a/2023-11-14/vpc/tc3_request, SignedHeaders=, Signature={sig}"),
            VerifyError::Malformed("SignedHeaders is empty"),
        ),
    ];
    for (header, want) in cases {
        assert_eq!(Authorization::parse(&header), Err(want), "{header:?}");
    }
}

// ---- Which part is wrong (issue 7) -----------------------------------------------------------
// Arbitrary Authorization headers, header maps, bodies and timestamps give the verify error
// that names the part at fault, in the order `verify` checks them, and its message says which.

/// The words each error's message must contain: the part it blames.
fn part_named(e: &VerifyError) -> &'static str {
    match e {
        VerifyError::Malformed(_) => "authorization header",
        VerifyError::Algorithm(_) => "algorithm",
        VerifyError::ScopeTerminator => "credential scope",
        VerifyError::ScopeDate { .. } => "credential scope date",
        VerifyError::ScopeService { .. } => "credential scope service",
        VerifyError::RequiredHeaderNotSigned => "signed headers",
        VerifyError::SignedHeaderMissing(_) => "signed header",
        VerifyError::TimestampOutOfRange(_) => "timestamp",
        VerifyError::SignatureMismatch => "signature",
    }
}

/// The error `verify` owes for `auth` against a request with these header names at an
/// in-range `timestamp`, when the signature is not the right one.
fn expected_error(
    auth: &Authorization,
    names: &[&str],
    timestamp: i64,
    service: Option<&str>,
) -> VerifyError {
    let date = utc_date(timestamp).unwrap();
    if auth.scope.date != date {
        return VerifyError::ScopeDate {
            scope: auth.scope.date.clone(),
            expected: date,
        };
    }
    if let Some(s) = service {
        if auth.scope.service != s {
            return VerifyError::ScopeService {
                scope: auth.scope.service.clone(),
                expected: s.to_string(),
            };
        }
    }
    if !auth.signed_headers.iter().any(|h| h == "content-type")
        || !auth.signed_headers.iter().any(|h| h == "host")
    {
        return VerifyError::RequiredHeaderNotSigned;
    }
    for h in &auth.signed_headers {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(h)) {
            return VerifyError::SignedHeaderMissing(h.clone());
        }
    }
    VerifyError::SignatureMismatch
}

/// One edit of a header's text.
#[derive(Clone, Debug)]
enum Edit {
    Delete(prop::sample::Index, usize),
    Insert(prop::sample::Index, String),
    Replace(prop::sample::Index, char),
    /// Swap two of the comma-separated parts.
    SwapParts(prop::sample::Index, prop::sample::Index),
    /// Repeat one part.
    RepeatPart(prop::sample::Index),
    Uppercase(prop::sample::Index, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let i = any::<prop::sample::Index>;
    prop_oneof![
        (i(), 1usize..8).prop_map(|(a, n)| Edit::Delete(a, n)),
        (
            i(),
            prop_oneof![
                "[ ,;=/]{1,3}",
                "\\PC{0,12}",
                Just("Signature=".to_string()),
                Just("/tc3_request".to_string())
            ]
        )
            .prop_map(|(a, s)| Edit::Insert(a, s)),
        (i(), any::<char>()).prop_map(|(a, c)| Edit::Replace(a, c)),
        (i(), i()).prop_map(|(a, b)| Edit::SwapParts(a, b)),
        i().prop_map(Edit::RepeatPart),
        (i(), 1usize..20).prop_map(|(a, n)| Edit::Uppercase(a, n)),
    ]
}

fn floor_boundary(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply_edit(text: &str, e: &Edit) -> String {
    let mut t = text.to_string();
    match e {
        Edit::Delete(i, n) => {
            let a = floor_boundary(&t, i.index(t.len() + 1));
            let b = floor_boundary(&t, (a + n).min(t.len()));
            t.replace_range(a..b, "");
        }
        Edit::Insert(i, s) => {
            let a = floor_boundary(&t, i.index(t.len() + 1));
            t.insert_str(a, s);
        }
        Edit::Replace(i, c) => {
            if !t.is_empty() {
                let a = floor_boundary(&t, i.index(t.len()));
                let len = t[a..].chars().next().map_or(0, char::len_utf8);
                t.replace_range(a..a + len, &c.to_string());
            }
        }
        Edit::SwapParts(a, b) => {
            if let Some((alg, rest)) = t.split_once(' ') {
                let mut parts: Vec<&str> = rest.split(", ").collect();
                let n = parts.len();
                parts.swap(a.index(n), b.index(n));
                t = format!("{alg} {}", parts.join(", "));
            }
        }
        Edit::RepeatPart(a) => {
            if let Some((alg, rest)) = t.split_once(' ') {
                let mut parts: Vec<&str> = rest.split(", ").collect();
                let p = parts[a.index(parts.len())];
                parts.push(p);
                t = format!("{alg} {}", parts.join(", "));
            }
        }
        Edit::Uppercase(i, n) => {
            let a = floor_boundary(&t, i.index(t.len() + 1));
            let b = floor_boundary(&t, (a + n).min(t.len()));
            let up = t[a..b].to_ascii_uppercase();
            t.replace_range(a..b, &up);
        }
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// For in-range timestamps and any Authorization, header map and body, `verify` answers the
    /// error of the first part at fault (scope date, scope service, required headers, a missing
    /// signed header, the signature), and its message names that part.
    #[test]
    fn verify_names_the_part_at_fault(
        c in case(),
        right_date in any::<bool>(),
        date in prop_oneof!["[0-9]{4}-[0-9]{2}-[0-9]{2}", "\\PC{0,12}"],
        right_service in any::<bool>(),
        service in prop_oneof!["[a-z]{1,6}", "\\PC{0,8}"],
        check_service in any::<bool>(),
        signed_headers in proptest::collection::vec(
            prop_oneof![
                3 => Just("content-type".to_string()),
                3 => Just("host".to_string()),
                1 => Just("x-tc-action".to_string()),
                1 => "[a-z-]{1,12}",
                1 => "\\PC{0,8}",
            ],
            0..5,
        ),
        names in proptest::collection::vec(
            prop_oneof![
                Just("Content-Type".to_string()),
                Just("HOST".to_string()),
                Just("X-TC-Action".to_string()),
                "[A-Za-z-]{1,12}",
                "\\PC{0,8}",
            ],
            0..5,
        ),
        value in "\\PC{0,40}",
        signature in prop_oneof!["[0-9a-f]{64}", "\\PC{0,70}"],
    ) {
        let auth = Authorization {
            secret_id: c.secret_id.clone(),
            scope: CredentialScope {
                date: if right_date { utc_date(c.timestamp).unwrap() } else { date },
                service: if right_service { c.service.clone() } else { service },
            },
            signed_headers,
            signature,
        };
        let req = ReceivedRequest {
            method: "POST",
            query: "",
            headers: names.iter().map(|n| (n.as_str(), value.as_str())).collect(),
            payload: c.payload(),
            timestamp: c.timestamp,
        };
        let svc = check_service.then_some(c.service.as_str());
        let got = verify(&auth, &c.secret_key, &req, svc).unwrap_err();
        let want = expected_error(&auth, &names.iter().map(String::as_str).collect::<Vec<_>>(), c.timestamp, svc);
        prop_assert_eq!(&got, &want);
        let text = got.to_string();
        prop_assert!(text.contains(part_named(&got)), "{}", text);
    }

    /// Edits of a real Authorization header: what no longer parses is a parse error naming
    /// the header, the algorithm or the scope; what parses verifies only if it still carries
    /// the same scope, signature and set of signed headers (parts may move, case may change
    /// where it does not matter).
    #[test]
    fn edited_headers_fail_at_the_edited_part(
        c in case(),
        edits in proptest::collection::vec(edit(), 1..4),
    ) {
        let signable = c.signable();
        let signed = sign(&signable, &c.params()).unwrap();
        let mut header = signed.authorization.to_string();
        for e in &edits {
            header = apply_edit(&header, e);
        }
        let ts = c.timestamp.to_string();
        let received = c.received(&signable, &ts);
        match Authorization::parse(&header) {
            Err(e) => {
                let parse_error = matches!(
                    e,
                    VerifyError::Malformed(_) | VerifyError::Algorithm(_) | VerifyError::ScopeTerminator
                );
                prop_assert!(parse_error, "{:?}", e);
                prop_assert!(e.to_string().contains(part_named(&e)), "{}", e);
            }
            Ok(a) => match verify(&a, &c.secret_key, &received, Some(&c.service)) {
                Ok(()) => {
                    let orig = &signed.authorization;
                    prop_assert_eq!(&a.scope, &orig.scope);
                    prop_assert_eq!(&a.signature, &orig.signature);
                    let mut got = a.signed_headers.clone();
                    got.sort();
                    prop_assert_eq!(got, vec!["content-type".to_string(), "host".to_string()]);
                }
                Err(e) => prop_assert!(e.to_string().contains(part_named(&e)), "{}", e),
            },
        }
    }

    /// The parts of the header in any order, with any spacing around the commas, and the
    /// signed headers in any order: still the same signature, still verifies.
    #[test]
    fn header_part_order_and_spacing_do_not_matter(
        c in case(),
        order in Just(vec![0usize, 1, 2]).prop_shuffle(),
        seps in proptest::collection::vec("[ \t]{0,3},[ \t]{0,3}", 2),
        lead in "[ \t]{0,3}",
        host_first in any::<bool>(),
    ) {
        let signable = c.signable();
        let signed = sign(&signable, &c.params()).unwrap();
        let a = &signed.authorization;
        let sh = if host_first { "host;content-type" } else { "content-type;host" };
        let parts = [
            format!("Credential={}/{}", a.secret_id, a.scope),
            format!("SignedHeaders={sh}"),
            format!("Signature={}", a.signature),
        ];
        let header = format!(
            "TC3-HMAC-SHA256 {lead}{}{}{}{}{}",
            parts[order[0]], seps[0], parts[order[1]], seps[1], parts[order[2]]
        );
        let parsed = Authorization::parse(&header).map_err(|e| TestCaseError::fail(format!("{header:?}: {e}")))?;
        let ts = c.timestamp.to_string();
        prop_assert_eq!(verify(&parsed, &c.secret_key, &c.received(&signable, &ts), Some(&c.service)), Ok(()));
    }

    /// Header maps: headers that are not signed never matter, wherever they are; a repeated
    /// signed header after the first changes nothing (the first is the one signed); one
    /// before it with another value is a signature mismatch.
    #[test]
    fn unsigned_and_repeated_headers(
        c in case(),
        extra in proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,15}", "\\PC{0,40}"), 0..6),
        at in any::<prop::sample::Index>(),
        other in "[ -~]{1,20}",
    ) {
        let signable = c.signable();
        let signed = sign(&signable, &c.params()).unwrap();
        let ts = c.timestamp.to_string();
        let received = c.received(&signable, &ts);
        let extra: Vec<(&str, &str)> = extra
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("content-type") && !n.eq_ignore_ascii_case("host"))
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let mut headers = received.headers.clone();
        for (k, h) in extra.iter().enumerate() {
            let i = (at.index(headers.len() + 1) + k) % (headers.len() + 1);
            headers.insert(i, *h);
        }
        let r = ReceivedRequest { headers: headers.clone(), ..received.clone() };
        prop_assert_eq!(verify(&signed.authorization, &c.secret_key, &r, None), Ok(()));

        // A second Host after the first: ignored.
        let mut after = headers.clone();
        after.push(("Host", other.as_str()));
        let r = ReceivedRequest { headers: after, ..received.clone() };
        prop_assert_eq!(verify(&signed.authorization, &c.secret_key, &r, None), Ok(()));

        // A different Host before the first: that one is read, and it was not signed.
        let host = signable.headers[1].1;
        if !other.trim().eq_ignore_ascii_case(host.trim()) {
            let mut before = headers;
            before.insert(0, ("host", other.as_str()));
            let r = ReceivedRequest { headers: before, ..received };
            prop_assert_eq!(verify(&signed.authorization, &c.secret_key, &r, None), Err(VerifyError::SignatureMismatch));
        }
    }

    /// Any timestamp other than the signed one is refused, with the reason that applies: out
    /// of range, another UTC day (the scope date), or the same day (the signature).
    #[test]
    fn any_other_timestamp_is_refused(c in case(), other in prop_oneof![any::<i64>(), TS_MIN..=TS_MAX, -100_000i64..100_000]) {
        let other = if other == c.timestamp { other.wrapping_add(1) } else { other };
        let signable = c.signable();
        let signed = sign(&signable, &c.params()).unwrap();
        let ts = other.to_string();
        let r = ReceivedRequest { timestamp: other, ..c.received(&signable, &ts) };
        let got = verify(&signed.authorization, &c.secret_key, &r, None);
        let want = if !(TS_MIN..=TS_MAX).contains(&other) {
            VerifyError::TimestampOutOfRange(other)
        } else if utc_date(other).unwrap() != utc_date(c.timestamp).unwrap() {
            VerifyError::ScopeDate { scope: utc_date(c.timestamp).unwrap(), expected: utc_date(other).unwrap() }
        } else {
            VerifyError::SignatureMismatch
        };
        prop_assert_eq!(got, Err(want));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Bodies up to 64 KiB: signed bodies verify, and one flipped bit anywhere is caught.
    #[test]
    fn large_bodies_verify_and_tampering_is_caught(
        c in case(),
        body in proptest::collection::vec(any::<u8>(), 0..65_536),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let c = Case { body, get: false, unsigned: false, query: String::new(), ..c };
        let signable = c.signable();
        let signed = sign(&signable, &c.params()).unwrap();
        let ts = c.timestamp.to_string();
        let received = c.received(&signable, &ts);
        prop_assert_eq!(verify(&signed.authorization, &c.secret_key, &received, Some(&c.service)), Ok(()));
        if !c.body.is_empty() {
            let mut body = c.body.clone();
            let i = flip.index(body.len());
            body[i] ^= 1 << bit;
            let r = ReceivedRequest { payload: Payload::Bytes(&body), ..received };
            prop_assert_eq!(verify(&signed.authorization, &c.secret_key, &r, None), Err(VerifyError::SignatureMismatch));
        }
    }
}
