//! The server's side: parsing an `Authorization` header ([`Authorization::parse`]) and checking
//! it against the request received and the secret key ([`verify`]), naming the part that is
//! wrong. The signature is recomputed with the same pieces as [`crate::sign`] (`signer.rs`).

use subtle::ConstantTimeEq;

use crate::{
    signer, utc_date, Authorization, CredentialScope, HeaderValueCase, Payload, SignableRequest,
    SigningKey, ALGORITHM, TERMINATOR,
};

/// Which part of an `Authorization` header, or of the request it signs, is wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("authorization header is malformed: {0}")]
    Malformed(&'static str),
    #[error("unsupported signing algorithm {0:?}; expected TC3-HMAC-SHA256")]
    Algorithm(String),
    #[error("credential scope must end in /tc3_request")]
    ScopeTerminator,
    #[error(
        "credential scope date {scope} does not match the request timestamp's UTC date {expected}"
    )]
    ScopeDate { scope: String, expected: String },
    #[error("credential scope service {scope:?} does not match the service {expected:?}")]
    ScopeService { scope: String, expected: String },
    #[error("signed headers must include content-type and host")]
    RequiredHeaderNotSigned,
    #[error("signed header {0:?} is not present in the request")]
    SignedHeaderMissing(String),
    #[error("timestamp {0} is outside the range of calendar dates")]
    TimestampOutOfRange(i64),
    #[error("signature does not match")]
    SignatureMismatch,
}

impl Authorization {
    /// Parses an `Authorization` header value.
    pub fn parse(header: &str) -> Result<Self, VerifyError> {
        let header = header.trim();
        let (algorithm, rest) = header
            .split_once(' ')
            .ok_or(VerifyError::Malformed("no space after the algorithm"))?;
        if algorithm != ALGORITHM {
            return Err(VerifyError::Algorithm(algorithm.to_string()));
        }
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let (key, value) = part
                .trim()
                .split_once('=')
                .ok_or(VerifyError::Malformed("a part has no '='"))?;
            let slot = match key {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                _ => return Err(VerifyError::Malformed("unknown part")),
            };
            if slot.replace(value).is_some() {
                return Err(VerifyError::Malformed("a part is repeated"));
            }
        }
        let credential = credential.ok_or(VerifyError::Malformed("no Credential"))?;
        let signed_headers = signed_headers.ok_or(VerifyError::Malformed("no SignedHeaders"))?;
        let signature = signature.ok_or(VerifyError::Malformed("no Signature"))?;

        // Credential=<SecretId>/<Date>/<service>/tc3_request; the SecretId has no '/'.
        let mut fields = credential.split('/');
        let (Some(secret_id), Some(date), Some(service), Some(terminator), None) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(VerifyError::Malformed(
                "Credential is not SecretId/Date/service/tc3_request",
            ));
        };
        if terminator != TERMINATOR {
            return Err(VerifyError::ScopeTerminator);
        }
        if secret_id.is_empty() || date.is_empty() || service.is_empty() {
            return Err(VerifyError::Malformed("Credential has an empty field"));
        }
        if signed_headers.is_empty() {
            return Err(VerifyError::Malformed("SignedHeaders is empty"));
        }
        if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(VerifyError::Malformed("Signature is not 64 hex digits"));
        }
        Ok(Authorization {
            secret_id: secret_id.to_string(),
            scope: CredentialScope {
                date: date.to_string(),
                service: service.to_string(),
            },
            signed_headers: signed_headers
                .split(';')
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            signature: signature.to_ascii_lowercase(),
        })
    }
}

/// A request as the server received it.
#[derive(Clone, Debug)]
pub struct ReceivedRequest<'a> {
    pub method: &'a str,
    /// The raw query string (empty for POST).
    pub query: &'a str,
    /// All received headers, `(name, value)`; looked up case-insensitively.
    pub headers: Vec<(&'a str, &'a str)>,
    pub payload: Payload<'a>,
    /// The `X-TC-Timestamp` value.
    pub timestamp: i64,
}

impl ReceivedRequest<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// Checks `auth` (already parsed, so the caller could look up the key by its SecretId) against
/// the received request and the secret key. `service`, when given, must match the scope.
///
/// The clock window (±300 s) is the caller's business: this function has no clock.
pub fn verify(
    auth: &Authorization,
    secret_key: &str,
    req: &ReceivedRequest<'_>,
    service: Option<&str>,
) -> Result<(), VerifyError> {
    let expected_date =
        utc_date(req.timestamp).map_err(|_| VerifyError::TimestampOutOfRange(req.timestamp))?;
    if auth.scope.date != expected_date {
        return Err(VerifyError::ScopeDate {
            scope: auth.scope.date.clone(),
            expected: expected_date,
        });
    }
    if let Some(service) = service {
        if auth.scope.service != service {
            return Err(VerifyError::ScopeService {
                scope: auth.scope.service.clone(),
                expected: service.to_string(),
            });
        }
    }
    let signs = |name: &str| auth.signed_headers.iter().any(|h| h == name);
    if !signs("content-type") || !signs("host") {
        return Err(VerifyError::RequiredHeaderNotSigned);
    }
    let mut headers = Vec::with_capacity(auth.signed_headers.len());
    for name in &auth.signed_headers {
        let value = req
            .header(name)
            .ok_or_else(|| VerifyError::SignedHeaderMissing(name.clone()))?;
        headers.push((name.as_str(), value));
    }
    // One key derivation for both spellings of the header values.
    let key = signer::keyed(&SigningKey::derive(secret_key, &auth.scope).k_signing);
    let signable = SignableRequest {
        method: req.method,
        query: req.query,
        headers,
        payload: req.payload,
        value_case: HeaderValueCase::AsSent,
    };
    let payload = signer::payload_hash(&req.payload);
    let mut matched = false;
    for value_case in [HeaderValueCase::AsSent, HeaderValueCase::Lowercase] {
        let hashed = signer::canonical_request_hash(&signable, value_case, &payload);
        let signature = signer::signature(
            &key,
            req.timestamp,
            auth.scope.date.as_bytes(),
            &auth.scope.service,
            &hashed,
        );
        matched |= bool::from(signature.as_slice().ct_eq(auth.signature.as_bytes()));
    }
    if matched {
        Ok(())
    } else {
        Err(VerifyError::SignatureMismatch)
    }
}
