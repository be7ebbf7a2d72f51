//! TC3-HMAC-SHA256 authentication of API requests with tc3-sign's `verify`, the 300-second
//! window against the simulated clock, and temporary credentials (metadata role) with their
//! token and expiry. Keys and tokens are never logged or echoed.

use subtle_free::ct_eq;
use tc3_sign::{Authorization, Payload, ReceivedRequest, VerifyError};

use crate::error::ApiError;
use crate::Sim;

/// The largest accepted difference between X-TC-Timestamp and the server clock.
pub const MAX_SKEW_S: i64 = 300;

/// What authentication needs from a request.
pub struct AuthRequest<'a> {
    pub method: &'a str,
    /// The raw query string for GET, empty for POST.
    pub query: &'a str,
    pub headers: Vec<(&'a str, &'a str)>,
    pub body: &'a [u8],
    pub unsigned_payload: bool,
    pub timestamp: &'a str,
    pub authorization: Option<&'a str>,
    pub token: Option<&'a str>,
}

/// Authenticates; returns the SecretId.
pub fn authenticate(sim: &Sim, req: &AuthRequest<'_>) -> Result<String, ApiError> {
    let auth = parse_authorization(req.authorization)?;
    let now = sim.clock.unix();
    let timestamp = check_timestamp(req.timestamp, now)?;
    let secret_key = secret_key(sim, &auth.secret_id, req.token, now)?;
    verify_signature(&auth, &secret_key, req, timestamp)?;
    Ok(auth.secret_id)
}

/// The `Authorization` header, present and parsable.
fn parse_authorization(header: Option<&str>) -> Result<Authorization, ApiError> {
    let Some(header) = header.filter(|h| !h.trim().is_empty()) else {
        return Err(ApiError::new(
            "AuthFailure.InvalidAuthorization",
            "The Authorization header is missing.",
        ));
    };
    Authorization::parse(header).map_err(|e| {
        ApiError::new(
            "AuthFailure.InvalidAuthorization",
            format!("The Authorization header is invalid: {e}."),
        )
    })
}

/// `X-TC-Timestamp` as Unix seconds, within [`MAX_SKEW_S`] of the simulated clock.
fn check_timestamp(timestamp: &str, now: i64) -> Result<i64, ApiError> {
    let timestamp: i64 = timestamp.trim().parse().map_err(|_| {
        ApiError::new(
            "InvalidParameterValue",
            "The value of `X-TC-Timestamp` must be Unix seconds.",
        )
    })?;
    if timestamp.abs_diff(now) > MAX_SKEW_S.unsigned_abs() {
        return Err(ApiError::new(
            "AuthFailure.SignatureExpire",
            format!(
                "Signature expired. Timestamp and server time cannot differ by more than five minutes (request {timestamp}, server {now})."
            ),
        ));
    }
    Ok(timestamp)
}

/// The key of a long-term SecretId, or of a temporary one that has not expired and came with
/// its token. Looked up under the world lock; the signature is verified outside it.
fn secret_key(
    sim: &Sim,
    secret_id: &str,
    token: Option<&str>,
    now: i64,
) -> Result<String, ApiError> {
    let w = sim.world();
    if let Some(c) = w.credentials.iter().find(|c| c.secret_id == secret_id) {
        return Ok(c.secret_key.clone());
    }
    let Some(t) = w.temp_credentials.get(secret_id) else {
        return Err(ApiError::new(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found; check that it is correct and enabled.",
        ));
    };
    if t.expired_time <= now {
        return Err(ApiError::new(
            "AuthFailure.TokenFailure",
            "The temporary credentials have expired.",
        ));
    }
    match token {
        Some(token) if ct_eq(token.as_bytes(), t.token.as_bytes()) => Ok(t.secret_key.clone()),
        Some(_) => Err(ApiError::new(
            "AuthFailure.TokenFailure",
            "The X-TC-Token does not match the temporary credentials.",
        )),
        None => Err(ApiError::new(
            "AuthFailure.TokenFailure",
            "Temporary credentials need their X-TC-Token.",
        )),
    }
}

/// The services tcsim answers for: `vpc`, and `cvm` for DescribeRegions.
pub const SERVICES: &[&str] = &["vpc", "cvm"];

/// The service a request's `Authorization` was signed for, when it is one tcsim serves (the
/// pipeline checks the action belongs to it).
pub fn signed_service(header: Option<&str>) -> Option<&'static str> {
    let auth = Authorization::parse(header?).ok()?;
    SERVICES.iter().copied().find(|s| *s == auth.scope.service)
}

/// tc3-sign's `verify` for the service signed (one of [`SERVICES`], else `vpc`): a malformed
/// header is `InvalidAuthorization`, any other mismatch `SignatureFailure`.
fn verify_signature(
    auth: &Authorization,
    secret_key: &str,
    req: &AuthRequest<'_>,
    timestamp: i64,
) -> Result<(), ApiError> {
    let received = ReceivedRequest {
        method: req.method,
        query: req.query,
        headers: req.headers.clone(),
        payload: if req.unsigned_payload {
            Payload::Unsigned
        } else {
            Payload::Bytes(req.body)
        },
        timestamp,
    };
    let service = SERVICES
        .iter()
        .copied()
        .find(|s| *s == auth.scope.service)
        .unwrap_or("vpc");
    tc3_sign::verify(auth, secret_key, &received, Some(service)).map_err(|e| match e {
        VerifyError::Malformed(_) | VerifyError::Algorithm(_) | VerifyError::ScopeTerminator => {
            ApiError::new(
                "AuthFailure.InvalidAuthorization",
                format!("The Authorization header is invalid: {e}."),
            )
        }
        _ => ApiError::new(
            "AuthFailure.SignatureFailure",
            format!("The provided credentials could not be validated: {e}. Check the SecretKey and the signing steps."),
        ),
    })
}

/// Constant-time comparison for tokens (no extra dependency for one use).
mod subtle_free {
    pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
        if a.len() != b.len() {
            return false;
        }
        a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}
