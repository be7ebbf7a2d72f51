//! TencentCloud API 3.0 request signing (TC3-HMAC-SHA256) and its verification.
//!
//! Pure: no clock, no environment, no I/O. The request time is an argument, so the same inputs
//! always give the same signature (which is what lets the vectors in
//! `tests/vectors.json`, produced by the official Python SDK, pin every stage).
//!
//! Each stage of the spec is a type whose `Display` is the spec's text:
//! [`CanonicalRequest`] → [`CredentialScope`] + [`StringToSign`] → [`SigningKey`] →
//! signature → [`Authorization`] header.
//!
//! Spec: "Signature v3" (API 3.0 docs) and the SDK's `AbstractClient._get_tc3_signature`;
//! summarised in `shared/tencent/API.md` §1.

use std::fmt;

use hmac::Mac;
use sha2::{Digest, Sha256};

mod signer;
mod verify;

pub use signer::Signer;
pub use verify::{verify, ReceivedRequest, VerifyError};

use signer::HmacSha256;

/// The only algorithm name TencentCloud API 3.0 accepts.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// The literal hashed in place of the body in unsigned-payload mode (`X-TC-Content-SHA256`).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The terminator of every credential scope.
pub const TERMINATOR: &str = "tc3_request";

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut mac: HmacSha256 = signer::keyed(key);
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// Text from bytes known to be ASCII (hex digits, dates).
fn ascii(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// What is hashed as `HashedRequestPayload`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload<'a> {
    /// The exact body bytes sent (empty for GET).
    Bytes(&'a [u8]),
    /// `X-TC-Content-SHA256: UNSIGNED-PAYLOAD`: the literal `UNSIGNED-PAYLOAD` is hashed.
    Unsigned,
}

impl Payload<'_> {
    /// `HashedRequestPayload`: lowercase hex SHA-256 of the body (or of `UNSIGNED-PAYLOAD`).
    pub fn hash(&self) -> String {
        ascii(&signer::payload_hash(self))
    }
}

/// How canonical header values are written.
///
/// The official SDKs (Python 3.1.195, Go 1.3.166) write `content-type` and `host` exactly as
/// sent; the documentation says values are lowercased (its newer demo signs
/// `x-tc-action:describeinstances`). Both are accepted by the server, so a verifier tries both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HeaderValueCase {
    /// Trimmed, case kept: what the SDKs do.
    #[default]
    AsSent,
    /// Trimmed and lowercased: what the documentation describes.
    Lowercase,
}

/// A request as the signer sees it: method, query string, the headers to sign, the payload.
#[derive(Clone, Debug)]
pub struct SignableRequest<'a> {
    /// `POST` or `GET`.
    pub method: &'a str,
    /// `CanonicalQueryString`: empty for POST; for GET the query string exactly as sent.
    pub query: &'a str,
    /// The headers to sign, as `(name, value)` pairs exactly as sent (any case, any order).
    /// Must include `content-type` and `host`.
    pub headers: Vec<(&'a str, &'a str)>,
    /// The body, or unsigned-payload mode.
    pub payload: Payload<'a>,
    /// How canonical header values are written.
    pub value_case: HeaderValueCase,
}

impl<'a> SignableRequest<'a> {
    /// A POST with a body, signing `content-type;host` as the SDKs do.
    pub fn post(host: &'a str, content_type: &'a str, body: &'a [u8]) -> Self {
        SignableRequest {
            method: "POST",
            query: "",
            headers: vec![("content-type", content_type), ("host", host)],
            payload: Payload::Bytes(body),
            value_case: HeaderValueCase::AsSent,
        }
    }

    /// A GET with `query` (already URL-encoded, as sent), content type
    /// `application/x-www-form-urlencoded`, signing `content-type;host`.
    pub fn get(host: &'a str, query: &'a str) -> Self {
        SignableRequest {
            method: "GET",
            query,
            headers: vec![
                ("content-type", "application/x-www-form-urlencoded"),
                ("host", host),
            ],
            payload: Payload::Bytes(b""),
            value_case: HeaderValueCase::AsSent,
        }
    }
}

/// Stage 1: the canonical request.
///
/// ```text
/// CanonicalRequest = HTTPRequestMethod + "\n" + CanonicalURI + "\n" + CanonicalQueryString + "\n"
///                  + CanonicalHeaders + "\n" + SignedHeaders + "\n" + HashedRequestPayload
/// ```
/// `CanonicalURI` is always `/`; `CanonicalHeaders` is `name:value\n` per signed header, names
/// lowercased and sorted; `SignedHeaders` the names joined by `;`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonicalRequest {
    pub method: String,
    pub query: String,
    /// `(lowercase name, canonical value)`, sorted by name.
    pub headers: Vec<(String, String)>,
    pub hashed_payload: String,
}

impl CanonicalRequest {
    pub fn new(req: &SignableRequest<'_>) -> Self {
        Self::with_payload_hash(req, req.payload.hash())
    }

    fn with_payload_hash(req: &SignableRequest<'_>, hashed_payload: String) -> Self {
        let mut headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|(name, value)| {
                let value = value.trim();
                let value = match req.value_case {
                    HeaderValueCase::AsSent => value.to_string(),
                    HeaderValueCase::Lowercase => value.to_ascii_lowercase(),
                };
                (name.trim().to_ascii_lowercase(), value)
            })
            .collect();
        headers.sort_by(|a, b| a.0.cmp(&b.0));
        CanonicalRequest {
            method: req.method.to_ascii_uppercase(),
            query: req.query.to_string(),
            headers,
            hashed_payload,
        }
    }

    /// `SignedHeaders`: the lowercase names joined by `;`, e.g. `content-type;host`.
    pub fn signed_headers(&self) -> String {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        names.join(";")
    }

    /// `HashedCanonicalRequest`: lowercase hex SHA-256 of the canonical request's text.
    pub fn hash(&self) -> String {
        sha256_hex(self.to_string().as_bytes())
    }
}

impl fmt::Display for CanonicalRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.method)?;
        writeln!(f, "/")?;
        writeln!(f, "{}", self.query)?;
        for (name, value) in &self.headers {
            writeln!(f, "{name}:{value}")?;
        }
        writeln!(f)?;
        writeln!(f, "{}", self.signed_headers())?;
        write!(f, "{}", self.hashed_payload)
    }
}

/// Stage 2a: the credential scope, `Date + "/" + service + "/tc3_request"`.
///
/// `Date` is the **UTC** date of the request timestamp (`YYYY-MM-DD`); using local time breaks
/// signing around local midnight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialScope {
    pub date: String,
    pub service: String,
}

impl CredentialScope {
    pub fn new(timestamp: i64, service: &str) -> Result<Self, SignError> {
        Ok(CredentialScope {
            date: utc_date(timestamp)?,
            service: service.to_string(),
        })
    }
}

impl fmt::Display for CredentialScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{TERMINATOR}", self.date, self.service)
    }
}

/// Stage 2b: the string to sign.
///
/// ```text
/// StringToSign = "TC3-HMAC-SHA256" + "\n" + RequestTimestamp + "\n" + CredentialScope + "\n"
///              + HashedCanonicalRequest
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StringToSign {
    pub timestamp: i64,
    pub scope: CredentialScope,
    pub hashed_canonical_request: String,
}

impl fmt::Display for StringToSign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{ALGORITHM}\n{}\n{}\n{}",
            self.timestamp, self.scope, self.hashed_canonical_request
        )
    }
}

/// Stage 3: the derived signing key and the HMAC chain that produced it.
///
/// ```text
/// kDate    = HMAC_SHA256("TC3" + SecretKey, Date)
/// kService = HMAC_SHA256(kDate, Service)
/// kSigning = HMAC_SHA256(kService, "tc3_request")
/// ```
/// Its `Debug` prints nothing of the key material.
#[derive(Clone)]
pub struct SigningKey {
    pub k_date: [u8; 32],
    pub k_service: [u8; 32],
    pub k_signing: [u8; 32],
}

impl SigningKey {
    pub fn derive(secret_key: &str, scope: &CredentialScope) -> Self {
        let k_date = hmac(format!("TC3{secret_key}").as_bytes(), scope.date.as_bytes());
        let k_service = hmac(&k_date, scope.service.as_bytes());
        let k_signing = hmac(&k_service, TERMINATOR.as_bytes());
        SigningKey {
            k_date,
            k_service,
            k_signing,
        }
    }

    /// `Signature = HexEncode(HMAC_SHA256(kSigning, StringToSign))`, lowercase.
    pub fn sign(&self, string_to_sign: &StringToSign) -> String {
        let sts = string_to_sign;
        ascii(&signer::signature(
            &signer::keyed(&self.k_signing),
            sts.timestamp,
            sts.scope.date.as_bytes(),
            &sts.scope.service,
            sts.hashed_canonical_request.as_bytes(),
        ))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(** redacted **)")
    }
}

/// Who signs and when. `Debug` redacts the secret key.
#[derive(Clone)]
pub struct SigningParams<'a> {
    pub secret_id: &'a str,
    pub secret_key: &'a str,
    /// The product short name (`vpc`, `cvm`, `cam`): the first label of the product domain.
    pub service: &'a str,
    /// `X-TC-Timestamp`, Unix seconds.
    pub timestamp: i64,
}

impl fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningParams")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"** redacted **")
            .field("service", &self.service)
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

/// Every stage of one signature, for tests, `--verbose` logs and debugging.
#[derive(Clone, Debug)]
pub struct Signed {
    pub canonical_request: CanonicalRequest,
    pub string_to_sign: StringToSign,
    pub signing_key: SigningKey,
    /// Lowercase hex.
    pub signature: String,
    pub authorization: Authorization,
}

/// Stage 4: the `Authorization` header.
///
/// ```text
/// TC3-HMAC-SHA256 Credential=<SecretId>/<CredentialScope>, SignedHeaders=<names>, Signature=<hex>
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub secret_id: String,
    pub scope: CredentialScope,
    /// Lowercase names, in header order.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl fmt::Display for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={}",
            self.secret_id,
            self.scope,
            self.signed_headers.join(";"),
            self.signature
        )
    }
}

/// Why a request could not be signed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    #[error("timestamp {0} is outside the range of calendar dates")]
    TimestampOutOfRange(i64),
}

/// Signs `req` with `params`, returning every stage.
pub fn sign(req: &SignableRequest<'_>, params: &SigningParams<'_>) -> Result<Signed, SignError> {
    let scope = CredentialScope::new(params.timestamp, params.service)?;
    let payload = signer::payload_hash(&req.payload);
    let hashed = signer::canonical_request_hash(req, req.value_case, &payload);
    let canonical_request = CanonicalRequest::with_payload_hash(req, ascii(&payload));
    let string_to_sign = StringToSign {
        timestamp: params.timestamp,
        hashed_canonical_request: ascii(&hashed),
        scope: scope.clone(),
    };
    let signing_key = SigningKey::derive(params.secret_key, &scope);
    let signature = signing_key.sign(&string_to_sign);
    let authorization = Authorization {
        secret_id: params.secret_id.to_string(),
        scope,
        signed_headers: canonical_request
            .headers
            .iter()
            .map(|(n, _)| n.clone())
            .collect(),
        signature: signature.clone(),
    };
    Ok(Signed {
        canonical_request,
        string_to_sign,
        signing_key,
        signature,
        authorization,
    })
}

/// The UTC calendar date (`YYYY-MM-DD`) of a Unix timestamp (years 0 to 9999).
pub fn utc_date(timestamp: i64) -> Result<String, SignError> {
    signer::date_bytes(timestamp).map(|d| ascii(&d))
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
/// Howard Hinnant's `civil_from_days` (<http://howardhinnant.github.io/date_algorithms.html>).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_date_known_points() {
        assert_eq!(utc_date(0).unwrap(), "1970-01-01");
        assert_eq!(utc_date(1_551_113_065).unwrap(), "2019-02-25");
        assert_eq!(utc_date(1_551_139_199).unwrap(), "2019-02-25");
        assert_eq!(utc_date(1_551_139_200).unwrap(), "2019-02-26");
        assert_eq!(utc_date(951_782_400).unwrap(), "2000-02-29");
        assert_eq!(utc_date(-1).unwrap(), "1969-12-31");
        assert!(utc_date(i64::MAX).is_err());
        assert!(utc_date(i64::MIN).is_err());
    }

    #[test]
    fn signing_params_debug_redacts_the_key() {
        let p = SigningParams {
            secret_id: "AKIDx",
            secret_key: "very-secret",
            service: "vpc",
            timestamp: 1,
        };
        let text = format!("{p:?}");
        assert!(!text.contains("very-secret"), "{text}");
        assert!(text.contains("redacted"));
    }
}
