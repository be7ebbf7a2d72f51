//! Property tests over tcsim's request parsing (issue 7, "Keep proving it"): arbitrary bodies,
//! query strings, headers, Content-Types, actions and parameter JSON give a typed [`ApiError`]
//! (or, over HTTP, the real error envelope or a 4xx), never a panic, and the server keeps serving.
//!
//! Bounds: strings up to 4 KiB, bodies up to 64 KiB; case counts keep the whole file to a few
//! seconds of a loaded machine. Nothing here measures time.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use serde_json::{Map, Value};
use tc3_sign::{sign, Payload, SignableRequest, SigningParams};
use tcsim::auth::{authenticate, AuthRequest};
use tcsim::error::ApiError;
use tcsim::params::{percent_decode, Params, MAX_QUERY_DEPTH};
use tcsim::testing::{SimHandle, EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY};
use tcsim::{Sim, SimOptions};

/// Every code the parameter parser and its getters answer.
const PARAM_CODES: &[&str] = &[
    "InvalidParameter",
    "InvalidParameter.FilterNotDict",
    "InvalidParameter.FilterValuesNotList",
    "InvalidParameterValue.NotUtf8EncodingError",
    "InvalidParameterValue.Range",
    "MissingParameter",
    "UnknownParameter",
];

/// The common parameters a query may carry besides the action's own.
const COMMON_KEYS: &[&str] = &[
    "Action",
    "Version",
    "Region",
    "Timestamp",
    "Nonce",
    "Language",
    "Token",
    "RequestClient",
];

/// Parameter names the actions read, and a few they do not.
const NAMES: &[&str] = &[
    "HaVipIds",
    "HaVipId",
    "Filters",
    "Offset",
    "Limit",
    "VpcId",
    "SubnetId",
    "Vip",
    "NetworkInterfaceId",
    "CheckAssociate",
    "HaVipAssociationSet",
    "AddressIp",
    "AddressIds",
    "InstanceId",
    "PrivateIpAddress",
    "TaskId",
    "Name",
    "Values",
    "Bogus",
];

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

fn assert_typed(e: &ApiError, codes: &[&str]) -> Result<(), TestCaseError> {
    prop_assert!(
        codes.contains(&e.code.as_str()),
        "unexpected code {}: {}",
        e.code,
        e.message
    );
    prop_assert!(!e.message.is_empty(), "{} has no message", e.code);
    Ok(())
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(NAMES).prop_map(str::to_string),
        1 => "\\PC{0,12}",
    ]
}

/// Any JSON value, parameter-shaped more often than not.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        "\\PC{0,40}".prop_map(Value::from),
        prop::sample::select(vec![
            "havip-iam00099",
            "10.0.4.99",
            "ins-iam00021",
            "eni-iam00021",
            ""
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(name(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(name(), json_value(), 0..8).prop_map(|m| m.into_iter().collect())
}

/// Calls every getter on every key (and on the nested objects the list getter returns): each
/// answers `Ok` or a typed error naming the parameter.
fn exercise(p: &Params, depth: usize) -> Result<(), TestCaseError> {
    let keys: Vec<String> = match p.to_value() {
        Value::Object(m) => m.keys().cloned().collect(),
        other => {
            return Err(TestCaseError::fail(format!(
                "params are not an object: {other}"
            )))
        }
    };
    let names = keys.iter().map(String::as_str).chain(NAMES.iter().copied());
    for n in names {
        let errors = [
            p.str_opt(n).err(),
            p.u64_opt(n).err(),
            p.bool_opt(n).err(),
            p.str_list_opt(n).err(),
        ];
        for e in errors.into_iter().flatten() {
            assert_typed(&e, PARAM_CODES)?;
            prop_assert!(e.message.contains(n), "{} does not name `{}`", e.message, n);
        }
        match p.obj_list_opt(n) {
            Ok(Some(items)) if depth < 3 => {
                for item in &items {
                    exercise(item, depth + 1)?;
                }
            }
            Ok(_) => {}
            Err(e) => {
                assert_typed(&e, PARAM_CODES)?;
                prop_assert!(e.message.contains(n), "{} does not name `{}`", e.message, n);
            }
        }
    }
    if let Err(e) = p.filters() {
        assert_typed(&e, PARAM_CODES)?;
        prop_assert!(e.message.contains("Filters"), "{}", e.message);
    }
    if let Err(e) = p.check_known(&["HaVipIds", "Filters", "Offset", "Limit"]) {
        assert_typed(&e, &["UnknownParameter"])?;
    }
    Ok(())
}

/// Query text: mostly the characters that matter to the unflattener, sometimes anything.
fn query_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => "([A-Za-z0-9.]{0,12}(=[A-Za-z0-9.%+_-]{0,16})?&?){0,24}",
        2 => "[aA0.9=&%+_\\-]{0,256}",
        1 => "(Filters|HaVipIds|Action|Region|Limit)(\\.[0-9]{1,3}(\\.(Name|Values)(\\.[0-9])?)?)?=[a-z0-9%]{0,8}(&(Filters|HaVipIds|Limit)(\\.[0-9]{1,2}){0,3}=[a-z0-9%]{0,8}){0,16}",
        1 => "\\PC{0,4096}",
    ]
}

/// `x` percent-encoded as a form would be, choosing per byte between `%XX`, `+` for a space,
/// and the byte itself where that is unambiguous.
fn form_encode(x: &str, style: &[u8]) -> String {
    let mut out = String::new();
    for (i, b) in x.bytes().enumerate() {
        let literal = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'*');
        match style.get(i % style.len().max(1)).copied().unwrap_or(0) % 3 {
            0 if literal => out.push(b as char),
            1 if b == b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any bytes as a JSON body: `Params` or `InvalidParameter`; whitespace alone is `{}`.
    #[test]
    fn json_body_bytes_give_params_or_invalid_parameter(
        body in prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 0..4096),
            1 => prop::collection::vec(any::<u8>(), 0..65_536),
            2 => "\\PC{0,512}".prop_map(String::into_bytes),
        ],
    ) {
        match Params::from_json(&body) {
            Ok(p) => exercise(&p, 0)?,
            Err(e) => {
                prop_assert_eq!(e.code.as_str(), "InvalidParameter");
                prop_assert!(e.message.contains("body"), "{}", e.message);
            }
        }
    }

    /// A serialized JSON value is accepted exactly when it is an object, and then unchanged;
    /// every getter on it answers a typed error naming the parameter, or a value.
    #[test]
    fn json_values_round_trip_and_getters_are_typed(v in json_value(), obj in json_object()) {
        let text = serde_json::to_vec(&v).unwrap();
        // serde_json reads some floats back a last digit off; compare with what it reads.
        let read: Value = serde_json::from_slice(&text).unwrap();
        match (&v, Params::from_json(&text)) {
            (Value::Object(_), Ok(p)) => prop_assert_eq!(p.to_value(), read),
            (Value::Object(_), Err(e)) => return Err(TestCaseError::fail(format!("object refused: {e}"))),
            (_, Ok(_)) => return Err(TestCaseError::fail("a non-object was accepted")),
            (_, Err(e)) => prop_assert_eq!(e.code.as_str(), "InvalidParameter"),
        }
        let text = serde_json::to_vec(&Value::Object(obj)).unwrap();
        let p = Params::from_json(&text).expect("an object parses");
        prop_assert_eq!(p.to_value(), serde_json::from_slice::<Value>(&text).unwrap());
        exercise(&p, 0)?;
    }

    /// Any query string (or form body): `Params` plus the common keys, or a typed error.
    #[test]
    fn query_strings_give_params_or_typed_errors(q in query_text()) {
        match Params::from_query(&q) {
            Ok((p, common)) => {
                for k in common.keys() {
                    prop_assert!(
                        COMMON_KEYS.contains(&k.as_str()),
                        "{} taken as a common key", k
                    );
                }
                exercise(&p, 0)?;
            }
            Err(e) => assert_typed(&e, &["InvalidParameter", "InvalidParameterValue.NotUtf8EncodingError"])?,
        }
    }

    /// Flat names with any values, form-encoded any way, come back exactly (as strings).
    #[test]
    fn flat_queries_round_trip(
        pairs in prop::collection::btree_map("[A-Z][A-Za-z]{0,11}", "\\PC{0,40}", 1..8),
        style in prop::collection::vec(any::<u8>(), 1..16),
    ) {
        let pairs: std::collections::BTreeMap<_, _> = pairs
            .into_iter()
            .filter(|(k, _)| !COMMON_KEYS.contains(&k.as_str()))
            .collect();
        prop_assume!(!pairs.is_empty());
        let q: Vec<String> = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k, &style), form_encode(v, &style)))
            .collect();
        let (p, common) = Params::from_query(&q.join("&")).expect("a well-formed query parses");
        prop_assert!(common.is_empty());
        let want: Map<String, Value> = pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        prop_assert_eq!(p.to_value(), Value::Object(want));
    }

    /// Deep or wide dotted names never exhaust the stack: beyond the depth bound they are an
    /// `InvalidParameter` naming the top-level parameter.
    #[test]
    fn dotted_names_of_any_depth_are_bounded(
        depth in prop_oneof![1usize..=MAX_QUERY_DEPTH, MAX_QUERY_DEPTH + 1..2048],
        seg in "[a-zA-Z0-9]{1,3}",
    ) {
        let q = format!("Top.{}=x", vec![seg.as_str(); depth - 1].join("."));
        let q = q.replace("Top.=", "Top=");
        match Params::from_query(&q) {
            Ok(_) => prop_assert!(depth <= MAX_QUERY_DEPTH),
            Err(e) => {
                prop_assert_eq!(e.code.as_str(), "InvalidParameter");
                if depth > MAX_QUERY_DEPTH {
                    prop_assert!(e.message.contains("`Top`") && e.message.contains("nested"), "{}", e.message);
                }
            }
        }
    }

    /// `percent_decode` never panics, and decodes what a form encoder wrote.
    #[test]
    fn percent_decoding_is_total_and_inverts_encoding(
        raw in "\\PC{0,256}|[%+0-9a-fA-F]{0,64}",
        text in "\\PC{0,256}",
        style in prop::collection::vec(any::<u8>(), 1..16),
    ) {
        match percent_decode(&raw) {
            Ok(s) => if !raw.contains(['%', '+']) { prop_assert_eq!(s, raw) },
            Err(e) => assert_typed(&e, &["InvalidParameter", "InvalidParameterValue.NotUtf8EncodingError"])?,
        }
        prop_assert_eq!(percent_decode(&form_encode(&text, &style)).unwrap(), text);
    }
}

/// The pure authentication path over a seed world (no server): arbitrary Authorization
/// headers, timestamps, header maps, bodies and tokens.
mod auth_props {
    use super::*;

    fn sim() -> &'static Sim {
        static SIM: std::sync::OnceLock<Sim> = std::sync::OnceLock::new();
        SIM.get_or_init(|| Sim::new(SimOptions::default().build_world().expect("seed world")))
    }

    /// An Authorization value: absent, blank, garbage, or nearly right.
    fn authorization() -> impl Strategy<Value = Option<String>> {
        let near = (
            prop_oneof![Just("TC3-HMAC-SHA256".to_string()), "[ -~]{0,20}"],
            prop_oneof![Just(EXAMPLE_SECRET_ID.to_string()), "[A-Za-z0-9/]{0,40}"],
            prop_oneof!["[0-9]{4}-[0-9]{2}-[0-9]{2}", "\\PC{0,12}"],
            prop_oneof![Just("vpc".to_string()), "[a-z]{0,6}"],
            prop_oneof![Just("tc3_request".to_string()), "[a-z_]{0,12}"],
            prop_oneof![Just("content-type;host".to_string()), "[a-z;-]{0,30}"],
            prop_oneof!["[0-9a-f]{64}", "[0-9a-zA-Z]{0,70}"],
        )
            .prop_map(|(alg, id, date, svc, term, sh, sig)| {
                format!("{alg} Credential={id}/{date}/{svc}/{term}, SignedHeaders={sh}, Signature={sig}")
            });
        prop_oneof![
            1 => Just(None),
            1 => "[ \t]{0,4}".prop_map(Some),
            2 => "\\PC{0,4096}".prop_map(Some),
            4 => near.prop_map(Some),
        ]
    }

    fn timestamp() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(now_s().to_string()),
            (-400i64..400).prop_map(|d| (now_s() + d).to_string()),
            any::<i64>().prop_map(|t| t.to_string()),
            Just("99999999999999999999".to_string()),
            Just(format!(" {} ", now_s())),
            "\\PC{0,24}",
        ]
    }

    fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
        prop::collection::vec(
            (
                prop_oneof![
                    Just("Content-Type".to_string()),
                    Just("Host".to_string()),
                    Just("host".to_string()),
                    Just("X-TC-Action".to_string()),
                    "\\PC{0,16}",
                ],
                prop_oneof![
                    Just("application/json".to_string()),
                    Just("127.0.0.1:80".to_string()),
                    "\\PC{0,64}",
                ],
            ),
            0..8,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Nothing unsigned authenticates, and every refusal is an `AuthFailure.*` (or the
        /// timestamp's `InvalidParameterValue`) with a message.
        #[test]
        fn arbitrary_requests_are_refused_with_typed_errors(
            method in prop_oneof![Just("POST".to_string()), Just("GET".to_string()), "\\PC{0,8}"],
            query in "\\PC{0,64}",
            headers in headers(),
            body in prop::collection::vec(any::<u8>(), 0..4096),
            unsigned in any::<bool>(),
            timestamp in timestamp(),
            authorization in authorization(),
            token in proptest::option::of("\\PC{0,64}"),
        ) {
            let req = AuthRequest {
                method: &method,
                query: &query,
                headers: headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect(),
                body: &body,
                unsigned_payload: unsigned,
                timestamp: &timestamp,
                authorization: authorization.as_deref(),
                token: token.as_deref(),
            };
            match authenticate(sim(), &req) {
                Ok(id) => return Err(TestCaseError::fail(format!("unsigned request authenticated as {id}"))),
                Err(e) => {
                    prop_assert!(
                        e.code.starts_with("AuthFailure.") || e.code == "InvalidParameterValue",
                        "{}", e
                    );
                    prop_assert!(!e.message.is_empty());
                    // Secrets are never echoed.
                    prop_assert!(!e.message.contains(EXAMPLE_SECRET_KEY), "{}", e.message);
                }
            }
        }

        /// A correctly signed request authenticates whatever else it carries (extra headers,
        /// any body, any unsigned-payload choice), and the SecretId comes back.
        #[test]
        fn signed_requests_authenticate_with_any_extra_headers(
            body in prop::collection::vec(any::<u8>(), 0..4096),
            unsigned in any::<bool>(),
            extra in prop::collection::vec(("x-[a-z0-9-]{1,16}", "\\PC{0,64}"), 0..6),
            skew in -250i64..250,
        ) {
            let ts = now_s() + skew;
            let mut signable = SignableRequest::post("127.0.0.1:80", "application/json", &body);
            if unsigned {
                signable.payload = Payload::Unsigned;
            }
            let signed = sign(&signable, &SigningParams {
                secret_id: EXAMPLE_SECRET_ID,
                secret_key: EXAMPLE_SECRET_KEY,
                service: "vpc",
                timestamp: ts,
            }).unwrap();
            let authorization = signed.authorization.to_string();
            let ts_text = ts.to_string();
            let mut headers: Vec<(&str, &str)> = extra.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            headers.push(("Content-Type", "application/json"));
            headers.push(("Host", "127.0.0.1:80"));
            let req = AuthRequest {
                method: "POST",
                query: "",
                headers,
                body: &body,
                unsigned_payload: unsigned,
                timestamp: &ts_text,
                authorization: Some(&authorization),
                token: None,
            };
            prop_assert_eq!(authenticate(sim(), &req), Ok(EXAMPLE_SECRET_ID.to_string()));
        }
    }
}

/// A query with more levels than the bound (and one whose unflattening overflowed the stack
/// before the bound existed) is an `InvalidParameter`, not an abort.
#[test]
fn deeply_nested_query_key_does_not_overflow_the_stack() {
    // 16 000 levels fit in tcsim's 32 KB GET limit.
    let q = format!("{}=x", vec!["a"; 16_000].join("."));
    let e = Params::from_query(&q).unwrap_err();
    assert_eq!(e.code, "InvalidParameter");
    assert!(e.message.contains("nested deeper"), "{e}");
    // The deepest accepted name still parses, into objects (its segments are not indices).
    let q = format!("{}=x", vec!["a"; MAX_QUERY_DEPTH].join("."));
    assert!(Params::from_query(&q).is_ok());
}

/// Nested JSON arrays far deeper than serde_json's recursion limit are a parse error.
#[test]
fn deeply_nested_json_body_is_invalid_parameter() {
    let body = format!("{{\"A\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let e = Params::from_json(body.as_bytes()).unwrap_err();
    assert_eq!(e.code, "InvalidParameter");
}

// ---- The real server on loopback, over raw HTTP/1.1 --------------------------------------

/// How one generated request authenticates.
#[derive(Clone, Debug)]
enum AuthKind {
    /// No Authorization header.
    None,
    /// A correct signature over what is sent (the request then reaches the action).
    Signed,
    /// The right shape, a random signature.
    Forged(String),
    /// Arbitrary bytes.
    Raw(Vec<u8>),
}

#[derive(Clone, Debug)]
enum Ts {
    Now,
    Text(Vec<u8>),
}

#[derive(Clone, Debug)]
struct RawRequest {
    method: String,
    query: Option<String>,
    content_type: Option<Vec<u8>>,
    action: Option<Vec<u8>>,
    version: Option<Vec<u8>>,
    region: Option<Vec<u8>>,
    timestamp: Option<Ts>,
    auth: AuthKind,
    extra: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// Header value bytes as they might arrive: printable, obs-text, and the odd control byte that
/// HTTP forbids (hyper answers 400); never CR or LF, which would end the header.
fn header_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::string::bytes_regex(&format!("[ -~]{{0,{max}}}")).unwrap(),
        1 => prop::collection::vec(any::<u8>(), 0..max)
            .prop_map(|v| v.into_iter().map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }).collect()),
    ]
}

fn choice_or_bytes(
    choices: impl Into<Vec<&'static str>>,
    max: usize,
) -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        1 => Just(None),
        4 => prop::sample::select(choices.into()).prop_map(|s| Some(s.as_bytes().to_vec())),
        2 => header_bytes(max).prop_map(Some),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => json_object().prop_map(|m| serde_json::to_vec(&Value::Object(m)).unwrap()),
        1 => json_value().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => query_text().prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..65_536),
        1 => Just(Vec::new()),
    ]
}

/// The actions tcsim serves, one it does not, and an empty name.
fn actions() -> Vec<&'static str> {
    let mut all = tcsim::actions::ACTIONS.to_vec();
    all.extend(["RunInstances", ""]);
    all
}

fn extra_headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    prop::collection::vec(
        (
            prop_oneof![
                Just("X-TC-Token".to_string()),
                Just("X-TC-Content-SHA256".to_string()),
                Just("X-TC-Language".to_string()),
                "[xX]-[a-zA-Z0-9-]{1,20}",
            ],
            prop_oneof![Just(b"UNSIGNED-PAYLOAD".to_vec()), header_bytes(128)],
        ),
        0..5,
    )
}

/// Anything goes: every header present or not, right or wrong, any body.
fn random_request() -> impl Strategy<Value = RawRequest> {
    (
        (
            prop_oneof![
                6 => Just("POST".to_string()),
                3 => Just("GET".to_string()),
                1 => prop::sample::select(vec!["PUT", "DELETE", "PATCH", "OPTIONS", "FOO"]).prop_map(str::to_string),
            ],
            proptest::option::of(query_text()),
            choice_or_bytes(
                &["application/json", "application/json; charset=utf-8", "application/x-www-form-urlencoded", "text/plain", ""],
                40,
            ),
            choice_or_bytes(actions(), 40),
            choice_or_bytes(&["2017-03-12", "2020-01-01", ""], 20),
            choice_or_bytes(&["ap-guangzhou", "ap-nowhere", ""], 20),
        ),
        (
            prop_oneof![
                1 => Just(None),
                4 => Just(Some(Ts::Now)),
                2 => header_bytes(24).prop_map(|b| Some(Ts::Text(b))),
            ],
            prop_oneof![
                1 => Just(AuthKind::None),
                4 => Just(AuthKind::Signed),
                2 => "[0-9a-f]{64}".prop_map(AuthKind::Forged),
                1 => header_bytes(512).prop_map(AuthKind::Raw),
            ],
            extra_headers(),
            body(),
        ),
    )
        .prop_map(
            |((method, query, content_type, action, version, region), (timestamp, auth, extra, body))| {
                RawRequest {
                    method,
                    query,
                    content_type,
                    action,
                    version,
                    region,
                    timestamp,
                    auth,
                    extra,
                    body,
                }
            },
        )
}

/// A correctly signed call of a real action whose parameters are arbitrary: a JSON (or form)
/// body for POST, a query for GET. This is what reaches the action handlers.
fn well_formed_request() -> impl Strategy<Value = RawRequest> {
    (
        prop::sample::select(actions()),
        prop_oneof![
            2 => json_object().prop_map(|m| (false, None, serde_json::to_vec(&Value::Object(m)).unwrap())),
            2 => prop::collection::btree_map(prop::sample::select(NAMES), json_value(), 0..3)
                .prop_map(|m| (false, None, serde_json::to_vec(&m).unwrap())),
            // A query the request line can carry: what would break the line is escaped.
            1 => query_text().prop_map(|q| (true, Some(uri_safe(&q)), Vec::new())),
            1 => query_text().prop_map(|q| (false, None, q.into_bytes())),
        ],
        prop::collection::vec(("[xX]-[a-zA-Z0-9-]{1,20}", "[ -~]{0,64}"), 0..3),
    )
        .prop_map(|(action, (get, query, body), extra)| {
            let extra = extra.into_iter().map(|(n, v)| (n, v.into_bytes())).collect();
            let form = !get && serde_json::from_slice::<Value>(&body).is_err();
            RawRequest {
                method: if get { "GET" } else { "POST" }.to_string(),
                query,
                content_type: Some(if get || form { &b"application/x-www-form-urlencoded"[..] } else { b"application/json" }.to_vec()),
                action: Some(action.as_bytes().to_vec()),
                version: Some(b"2017-03-12".to_vec()),
                region: Some(b"ap-guangzhou".to_vec()),
                timestamp: Some(Ts::Now),
                auth: AuthKind::Signed,
                extra,
                body,
            }
        })
}

/// `q` with every byte outside `[A-Za-z0-9.=&%+_-]` percent-encoded.
fn uri_safe(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".=&%+_-".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn raw_request() -> impl Strategy<Value = RawRequest> {
    prop_oneof![random_request(), well_formed_request()]
}

impl RawRequest {
    /// The bytes of the HTTP/1.1 request to `host`.
    fn render(&self, host: &str) -> Vec<u8> {
        let timestamp = match &self.timestamp {
            None => None,
            Some(Ts::Now) => Some(now_s().to_string().into_bytes()),
            Some(Ts::Text(b)) => Some(b.clone()),
        };
        let get = self.method == "GET";
        let query = self.query.clone().unwrap_or_default();
        let mut headers: Vec<(String, Vec<u8>)> = vec![("Host".into(), host.as_bytes().to_vec())];
        for (name, value) in [
            ("Content-Type", &self.content_type),
            ("X-TC-Action", &self.action),
            ("X-TC-Version", &self.version),
            ("X-TC-Region", &self.region),
            ("X-TC-Timestamp", &timestamp),
        ] {
            if let Some(v) = value {
                headers.push((name.into(), v.clone()));
            }
        }
        let unsigned = self.extra.iter().any(|(n, v)| {
            n.eq_ignore_ascii_case("x-tc-content-sha256")
                && v.eq_ignore_ascii_case(b"UNSIGNED-PAYLOAD")
        });
        let auth = match &self.auth {
            AuthKind::None => None,
            AuthKind::Raw(b) => Some(b.clone()),
            AuthKind::Forged(sig) => Some(
                format!(
                    "TC3-HMAC-SHA256 Credential={EXAMPLE_SECRET_ID}/{}/vpc/tc3_request, SignedHeaders=content-type;host, Signature={sig}",
                    tc3_sign::utc_date(now_s()).unwrap()
                )
                .into_bytes(),
            ),
            AuthKind::Signed => {
                let ct = String::from_utf8_lossy(self.content_type.as_deref().unwrap_or_default()).into_owned();
                let ts = timestamp
                    .as_deref()
                    .and_then(|t| std::str::from_utf8(t).ok())
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or_else(now_s);
                let req = SignableRequest {
                    method: if get { "GET" } else { &self.method },
                    query: if get { &query } else { "" },
                    headers: vec![("content-type", &ct), ("host", host)],
                    payload: if unsigned { Payload::Unsigned } else { Payload::Bytes(&self.body) },
                    value_case: Default::default(),
                };
                sign(&req, &SigningParams {
                    secret_id: EXAMPLE_SECRET_ID,
                    secret_key: EXAMPLE_SECRET_KEY,
                    service: "vpc",
                    timestamp: ts,
                })
                .ok()
                .map(|s| s.authorization.to_string().into_bytes())
            }
        };
        if let Some(a) = auth {
            headers.push(("Authorization".into(), a));
        }
        headers.extend(self.extra.iter().cloned());
        let target = match &self.query {
            Some(q) => format!("/?{q}"),
            None => "/".to_string(),
        };
        let mut out = format!("{} {target} HTTP/1.1\r\n", self.method).into_bytes();
        for (n, v) in headers {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(&v);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(
            format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                self.body.len()
            )
            .as_bytes(),
        );
        out.extend_from_slice(&self.body);
        out
    }
}

/// Sends `bytes` on a fresh connection and returns everything the server answered before
/// closing. A generous read timeout only guards against a hang; it asserts nothing about speed.
fn exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).expect("connect to tcsim");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    // The server may answer (400) and close before reading everything: a failed write is not
    // the verdict, the answer is.
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Status, lowercased header block and body (de-chunked) of an HTTP/1.1 response.
fn parse_response(raw: &[u8]) -> Option<(u16, String, Vec<u8>)> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let mut body = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
            let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
            let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(rest.get(..size)?);
            rest = rest.get(size + 2..)?;
        }
        body = out;
    }
    Some((status, head, body))
}

/// Checks one answer: the real envelope (an error unless the request was signed), or a 4xx.
fn check_answer(req: &RawRequest, raw: &[u8]) -> Result<(), TestCaseError> {
    let Some((status, _head, body)) = parse_response(raw) else {
        return Err(TestCaseError::fail(format!(
            "no HTTP answer ({} bytes): {:?}",
            raw.len(),
            String::from_utf8_lossy(&raw[..raw.len().min(200)])
        )));
    };
    if (400..500).contains(&status) {
        return Ok(());
    }
    prop_assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: Value = serde_json::from_slice(&body).map_err(|e| {
        TestCaseError::fail(format!(
            "answer is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        ))
    })?;
    let r = &v["Response"];
    prop_assert!(r["RequestId"].is_string(), "no RequestId: {}", v);
    match r.get("Error") {
        Some(err) => {
            prop_assert!(
                err["Code"].as_str().is_some_and(|c| !c.is_empty()),
                "no Code: {}",
                v
            );
            prop_assert!(err["Message"].is_string(), "no Message: {}", v);
        }
        None => prop_assert!(
            matches!(req.auth, AuthKind::Signed),
            "an unsigned request succeeded: {}",
            v
        ),
    }
    Ok(())
}

fn signed_describe(host: &str) -> Vec<u8> {
    RawRequest {
        method: "POST".into(),
        query: None,
        content_type: Some(b"application/json".to_vec()),
        action: Some(b"DescribeHaVips".to_vec()),
        version: Some(b"2017-03-12".to_vec()),
        region: Some(b"ap-guangzhou".to_vec()),
        timestamp: Some(Ts::Now),
        auth: AuthKind::Signed,
        extra: Vec::new(),
        body: b"{}".to_vec(),
    }
    .render(host)
}

/// Arbitrary methods, queries, headers, Content-Types, actions, timestamps, Authorization
/// values and bodies (up to 64 KiB) against the real server: every answer is the real
/// envelope or a 4xx, and afterwards the server still answers `/_sim/health` and a signed call.
#[test]
fn server_answers_arbitrary_requests_with_envelopes_and_keeps_serving() {
    let sim = SimHandle::start_with(SimOptions {
        rate_limit: Some(0),
        task_duration: Some(Duration::from_millis(20)),
        ..SimOptions::default()
    });
    let addr = sim.addr();
    let host = addr.to_string();
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 128,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    runner
        .run(&raw_request(), |req| {
            let answer = exchange(addr, &req.render(&host));
            check_answer(&req, &answer)
        })
        .unwrap();

    let (status, _, body) = parse_response(&exchange(
        addr,
        format!("GET /_sim/health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    ))
    .expect("health answers");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, _, body) =
        parse_response(&exchange(addr, &signed_describe(&host))).expect("API answers");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(v["Response"]["HaVipSet"].is_array(), "{v}");
}

/// The crash the depth bound fixes, end to end: a 32 KB GET of `a.a.a…` used to abort the
/// simulator before authentication; now it is an error envelope and the server lives on.
#[test]
fn server_survives_a_deeply_nested_get_query() {
    let sim = SimHandle::start("seed");
    let addr = sim.addr();
    let host = addr.to_string();
    let q = format!("{}=x", vec!["a"; 16_000].join("."));
    let req = format!(
        "GET /?Action=DescribeHaVips&{q} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    );
    let (status, _, body) = parse_response(&exchange(addr, req.as_bytes())).expect("an answer");
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert!(v["Response"]["Error"]["Code"].is_string(), "{v}");
    let (status, _, _) =
        parse_response(&exchange(addr, &signed_describe(&host))).expect("API answers");
    assert_eq!(status, 200);
}
