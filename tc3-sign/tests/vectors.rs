//! The official-SDK vectors in `tests/vectors.json` (a copy of `shared/tencent/tc3-vectors.json`,
//! produced by tencentcloud-sdk-python-common 3.1.195), run as ONE table-driven test.
//!
//! For every vector the request is rebuilt from what was *sent* (method, query string, the
//! `Content-Type` and `Host` headers, the body bytes, or unsigned-payload mode when the request
//! carries `X-TC-Content-SHA256: UNSIGNED-PAYLOAD`), signed with the vector's inputs, and every
//! stage is compared with the SDK's. The sent `Authorization` header is then parsed and verified,
//! and three tamperings (one body byte, the wrong key, a timestamp on another day) must fail with
//! the right [`VerifyError`].
//!
//! Failures are collected, not raised one by one, so a broken stage shows in every vector it
//! breaks; each message names the vector and the stage.

use std::collections::BTreeMap;

use serde::Deserialize;
use tc3_sign::{
    sign, verify, Authorization, Payload, ReceivedRequest, SignableRequest, SigningParams,
    VerifyError, UNSIGNED_PAYLOAD,
};

/// How many vectors the file holds; the guard fails if the file and this disagree.
const EXPECTED_VECTORS: usize = 25;

#[derive(Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    name: String,
    inputs: Inputs,
    request: Request,
    expected: Expected,
}

#[derive(Deserialize)]
struct Inputs {
    secret_id: String,
    secret_key: String,
    service: String,
    timestamp: i64,
    method: Option<String>,
    host: String,
    #[serde(default)]
    unsigned_payload: Option<bool>,
}

#[derive(Deserialize)]
struct Request {
    method: String,
    url: String,
    /// Header names as sent; JSON object order is irrelevant here.
    headers: BTreeMap<String, String>,
    body: String,
    query_string: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Deserialize)]
struct Expected {
    hashed_request_payload: String,
    payload_hashed_bytes_utf8: Option<String>,
    payload_hashed_bytes_hex: Option<String>,
    canonical_request: String,
    hashed_canonical_request: String,
    credential_scope: String,
    string_to_sign: String,
    hmac_chain: Vec<HmacStep>,
    signature: String,
    signature_via_sign_tc3_on_documented_string_to_sign: Option<String>,
    authorization: String,
}

#[derive(Deserialize)]
struct HmacStep {
    step: String,
    key_hex: String,
    msg: String,
    digest_hex: String,
}

/// Collects mismatches as `vector: stage: detail`.
struct Checker<'a> {
    vector: &'a str,
    failures: &'a mut Vec<String>,
}

impl Checker<'_> {
    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, stage: &str, got: T, want: T) {
        if got != want {
            self.failures.push(format!(
                "{}: {stage}: got {got:?}, want {want:?}",
                self.vector
            ));
        }
    }

    fn ok(&mut self, stage: &str, cond: bool, detail: impl std::fmt::Display) {
        if !cond {
            self.failures
                .push(format!("{}: {stage}: {detail}", self.vector));
        }
    }
}

fn load() -> Vec<Vector> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors.json");
    let text = std::fs::read_to_string(path).expect("read tests/vectors.json");
    // The SDK's documented-example field has a capital S; serde field names are snake case.
    let text = text.replace(
        "signature_via_Sign_sign_tc3_on_documented_string_to_sign",
        "signature_via_sign_tc3_on_documented_string_to_sign",
    );
    let file: File = serde_json::from_str(&text).expect("parse tests/vectors.json");
    file.vectors
}

fn raw_vector_count() -> usize {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["vectors"].as_array().expect("vectors is an array").len()
}

/// Runs one vector; returns nothing, records every mismatch in `c`.
fn run_vector(v: &Vector, c: &mut Checker<'_>) {
    let req = &v.request;
    let inp = &v.inputs;

    // --- The request as sent. ---
    let content_type = req
        .header("Content-Type")
        .expect("every vector sends Content-Type");
    let host = req.header("Host").expect("every vector sends Host");
    let sent_ts: i64 = req
        .header("X-TC-Timestamp")
        .expect("every vector sends X-TC-Timestamp")
        .parse()
        .expect("X-TC-Timestamp is an integer");
    let sent_auth = req
        .header("Authorization")
        .expect("every vector sends Authorization");
    let unsigned = req
        .header("X-TC-Content-SHA256")
        .is_some_and(|v| v == UNSIGNED_PAYLOAD);

    // Cross-checks between the vector's inputs and its request, so the table itself is sane.
    c.eq("inputs.timestamp == X-TC-Timestamp", inp.timestamp, sent_ts);
    c.eq("inputs.host == Host", inp.host.as_str(), host);
    if let Some(m) = &inp.method {
        c.eq(
            "inputs.method == request.method",
            m.as_str(),
            req.method.as_str(),
        );
    }
    c.eq(
        "inputs.unsigned_payload == X-TC-Content-SHA256 present",
        inp.unsigned_payload.unwrap_or(false),
        unsigned,
    );
    c.ok(
        "url carries the query string",
        req.url.ends_with(&format!("/?{}", req.query_string))
            || (req.query_string.is_empty() && req.url.ends_with('/')),
        format!("url {:?}, query {:?}", req.url, req.query_string),
    );

    // What the SDK hashed as the payload must be exactly what was sent (or the literal).
    let body = req.body.as_bytes();
    let hashed_bytes: Vec<u8> = match (
        &v.expected.payload_hashed_bytes_utf8,
        &v.expected.payload_hashed_bytes_hex,
    ) {
        (Some(s), None) => s.as_bytes().to_vec(),
        (None, Some(h)) => hex::decode(h).expect("payload_hashed_bytes_hex is hex"),
        other => panic!(
            "{}: exactly one payload_hashed_bytes_* field: {other:?}",
            v.name
        ),
    };
    if unsigned {
        c.eq(
            "payload hashed is the UNSIGNED-PAYLOAD literal",
            hashed_bytes.as_slice(),
            UNSIGNED_PAYLOAD.as_bytes(),
        );
    } else {
        c.eq("payload hashed == body sent", hashed_bytes.as_slice(), body);
    }

    let payload = if unsigned {
        Payload::Unsigned
    } else {
        Payload::Bytes(body)
    };
    let mut signable = if req.method == "GET" {
        SignableRequest::get(host, &req.query_string)
    } else {
        SignableRequest::post(host, content_type, body)
    };
    // Sign the headers by their sent names (mixed case) and values, not the helpers' defaults.
    signable.method = &req.method;
    signable.query = &req.query_string;
    signable.headers = vec![("Content-Type", content_type), ("Host", host)];
    signable.payload = payload;

    let params = SigningParams {
        secret_id: &inp.secret_id,
        secret_key: &inp.secret_key,
        service: &inp.service,
        timestamp: inp.timestamp,
    };
    let signed = match sign(&signable, &params) {
        Ok(s) => s,
        Err(e) => {
            c.ok("sign", false, format!("sign failed: {e}"));
            return;
        }
    };
    let e = &v.expected;

    // --- Stage 1: payload hash and canonical request. ---
    c.eq(
        "hashed_request_payload",
        signed.canonical_request.hashed_payload.as_str(),
        e.hashed_request_payload.as_str(),
    );
    c.eq(
        "hashed_request_payload (Payload::hash)",
        payload.hash(),
        e.hashed_request_payload.clone(),
    );
    c.eq(
        "canonical_request",
        signed.canonical_request.to_string(),
        e.canonical_request.clone(),
    );
    c.eq(
        "signed_headers",
        signed.canonical_request.signed_headers(),
        "content-type;host".to_string(),
    );
    c.eq(
        "hashed_canonical_request",
        signed.canonical_request.hash(),
        e.hashed_canonical_request.clone(),
    );
    c.eq(
        "hashed_canonical_request (in StringToSign)",
        signed.string_to_sign.hashed_canonical_request.as_str(),
        e.hashed_canonical_request.as_str(),
    );

    // --- Stage 2: credential scope and string to sign. ---
    c.eq(
        "credential_scope",
        signed.string_to_sign.scope.to_string(),
        e.credential_scope.clone(),
    );
    c.eq(
        "string_to_sign",
        signed.string_to_sign.to_string(),
        e.string_to_sign.clone(),
    );

    // --- Stage 3: the HMAC chain, step by step. ---
    c.eq("hmac_chain length", e.hmac_chain.len(), 4);
    let key = &signed.signing_key;
    let date = &signed.string_to_sign.scope.date;
    let sts = signed.string_to_sign.to_string();
    let ours: [(String, &str, String); 4] = [
        (
            hex::encode(format!("TC3{}", inp.secret_key)),
            date.as_str(),
            hex::encode(key.k_date),
        ),
        (
            hex::encode(key.k_date),
            inp.service.as_str(),
            hex::encode(key.k_service),
        ),
        (
            hex::encode(key.k_service),
            "tc3_request",
            hex::encode(key.k_signing),
        ),
        (
            hex::encode(key.k_signing),
            sts.as_str(),
            signed.signature.clone(),
        ),
    ];
    for (i, (step, (key_hex, msg, digest_hex))) in e.hmac_chain.iter().zip(&ours).enumerate() {
        let stage = |what: &str| format!("hmac_chain[{i}] ({}) {what}", step.step);
        c.eq(&stage("key"), key_hex.as_str(), step.key_hex.as_str());
        c.eq(&stage("msg"), *msg, step.msg.as_str());
        c.eq(
            &stage("digest"),
            digest_hex.as_str(),
            step.digest_hex.as_str(),
        );
    }

    // --- Stage 4: signature and Authorization header. ---
    c.eq("signature", signed.signature.as_str(), e.signature.as_str());
    if let Some(doc_sig) = &e.signature_via_sign_tc3_on_documented_string_to_sign {
        c.eq(
            "signature (documented string to sign)",
            signed.signature.as_str(),
            doc_sig.as_str(),
        );
    }
    c.eq(
        "authorization",
        signed.authorization.to_string(),
        e.authorization.clone(),
    );
    c.eq(
        "authorization == the header sent",
        signed.authorization.to_string().as_str(),
        sent_auth,
    );

    // --- Verification of the header as sent. ---
    let parsed = match Authorization::parse(sent_auth) {
        Ok(a) => a,
        Err(err) => {
            c.ok("parse sent Authorization", false, err);
            return;
        }
    };
    c.eq("parse sent Authorization", &parsed, &signed.authorization);
    c.eq(
        "display(parse(sent Authorization))",
        parsed.to_string().as_str(),
        sent_auth,
    );

    let headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let received = ReceivedRequest {
        method: &req.method,
        query: &req.query_string,
        headers: headers.clone(),
        payload,
        timestamp: sent_ts,
    };
    c.eq(
        "verify (as sent)",
        verify(&parsed, &inp.secret_key, &received, Some(&inp.service)),
        Ok(()),
    );
    c.eq(
        "verify (no service check)",
        verify(&parsed, &inp.secret_key, &received, None),
        Ok(()),
    );

    // One body byte changed: covered by the signature unless the payload is unsigned.
    let mut tampered = body.to_vec();
    match tampered.last_mut() {
        Some(b) => *b ^= 0x01,
        None => tampered.push(b'x'),
    }
    let tampered_body = ReceivedRequest {
        payload: if unsigned {
            Payload::Unsigned
        } else {
            Payload::Bytes(&tampered)
        },
        ..received.clone()
    };
    let want = if unsigned {
        // The body is not signed in this mode: a changed body still verifies.
        Ok(())
    } else {
        Err(VerifyError::SignatureMismatch)
    };
    c.eq(
        "verify with one body byte changed",
        verify(&parsed, &inp.secret_key, &tampered_body, Some(&inp.service)),
        want,
    );
    if unsigned {
        // ...but claiming the body was signed when it was not fails.
        c.eq(
            "verify unsigned-payload request as a signed payload",
            verify(
                &parsed,
                &inp.secret_key,
                &ReceivedRequest {
                    payload: Payload::Bytes(body),
                    ..received.clone()
                },
                Some(&inp.service),
            ),
            Err(VerifyError::SignatureMismatch),
        );
    }

    // One query byte changed (GET): the query string is signed.
    if !req.query_string.is_empty() {
        let mut q = req.query_string.clone().into_bytes();
        *q.last_mut().unwrap() ^= 0x01;
        let q = String::from_utf8(q).expect("query stays ASCII");
        c.eq(
            "verify with one query byte changed",
            verify(
                &parsed,
                &inp.secret_key,
                &ReceivedRequest {
                    query: &q,
                    ..received.clone()
                },
                Some(&inp.service),
            ),
            Err(VerifyError::SignatureMismatch),
        );
    }

    // Host changed: the host is signed.
    let other_host: Vec<(&str, &str)> = headers
        .iter()
        .map(|&(n, v)| {
            if n.eq_ignore_ascii_case("host") {
                (n, "evil.tencentcloudapi.com")
            } else {
                (n, v)
            }
        })
        .collect();
    c.eq(
        "verify with another Host",
        verify(
            &parsed,
            &inp.secret_key,
            &ReceivedRequest {
                headers: other_host,
                ..received.clone()
            },
            Some(&inp.service),
        ),
        Err(VerifyError::SignatureMismatch),
    );

    // Wrong key.
    let mut wrong_key = inp.secret_key.clone();
    wrong_key.push('x');
    c.eq(
        "verify with the wrong key",
        verify(&parsed, &wrong_key, &received, Some(&inp.service)),
        Err(VerifyError::SignatureMismatch),
    );

    // A timestamp on another UTC day: the scope's date no longer matches.
    let next_day = sent_ts + 86_400;
    c.eq(
        "verify with a timestamp on the next day",
        verify(
            &parsed,
            &inp.secret_key,
            &ReceivedRequest {
                timestamp: next_day,
                ..received.clone()
            },
            Some(&inp.service),
        ),
        Err(VerifyError::ScopeDate {
            scope: e.credential_scope.split('/').next().unwrap().to_string(),
            expected: tc3_sign::utc_date(next_day).unwrap(),
        }),
    );
    // A different timestamp on the same day: the date matches but the signature does not.
    let same_day = if sent_ts.rem_euclid(86_400) == 0 {
        sent_ts + 1
    } else {
        sent_ts - 1
    };
    c.eq(
        "verify with another timestamp on the same day",
        verify(
            &parsed,
            &inp.secret_key,
            &ReceivedRequest {
                timestamp: same_day,
                ..received.clone()
            },
            Some(&inp.service),
        ),
        Err(VerifyError::SignatureMismatch),
    );

    // Another service than the scope's.
    c.eq(
        "verify against another service",
        verify(&parsed, &inp.secret_key, &received, Some("nosuchsvc")),
        Err(VerifyError::ScopeService {
            scope: inp.service.clone(),
            expected: "nosuchsvc".to_string(),
        }),
    );

    // A signed header missing from the request.
    let no_ct: Vec<(&str, &str)> = headers
        .iter()
        .copied()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("content-type"))
        .collect();
    c.eq(
        "verify without Content-Type",
        verify(
            &parsed,
            &inp.secret_key,
            &ReceivedRequest {
                headers: no_ct,
                ..received.clone()
            },
            Some(&inp.service),
        ),
        Err(VerifyError::SignedHeaderMissing("content-type".to_string())),
    );
}

#[test]
fn official_sdk_vectors() {
    let vectors = load();
    assert_eq!(
        raw_vector_count(),
        EXPECTED_VECTORS,
        "tests/vectors.json should hold {EXPECTED_VECTORS} vectors"
    );
    assert_eq!(vectors.len(), EXPECTED_VECTORS, "vectors deserialised");

    let mut names: Vec<&str> = vectors.iter().map(|v| v.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), vectors.len(), "vector names are unique");

    let mut failures = Vec::new();
    let mut run = Vec::new();
    for v in &vectors {
        let mut c = Checker {
            vector: &v.name,
            failures: &mut failures,
        };
        run_vector(v, &mut c);
        run.push(v.name.as_str());
    }

    // The guard: every vector in the file ran, none was skipped.
    assert_eq!(run.len(), EXPECTED_VECTORS, "vectors run");
    let all: Vec<&str> = vectors.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(run, all, "every vector ran, in file order");

    assert!(
        failures.is_empty(),
        "{} mismatch(es):\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("{} official vectors: every stage matched", run.len());
}
