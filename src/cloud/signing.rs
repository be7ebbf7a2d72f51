//! Signing one request for the client: the fast path keeps a [`tc3_sign::Signer`] per key pair
//! (the day's signing key derived once, so a signature is one pass over the request: the
//! watcher signs every few seconds for as long as it runs), and `--verbose` takes the long way,
//! every stage kept, to log the canonical request and the string to sign with the
//! Authorization redacted. Both give the same header (tc3-sign's vectors pin that).

use std::sync::{Mutex, PoisonError};

use super::credentials::Credentials;
use super::wire::redacted_authorization;
use super::Error;

/// The signer of the key pair last used; replaced when the credentials change (a rotated
/// CAM role key, a reloaded configuration).
#[derive(Default)]
pub(super) struct KeptSigner(Mutex<Option<tc3_sign::Signer>>);

impl KeptSigner {
    /// The `Authorization` header value for `req`, signed for `service` at `timestamp`.
    pub(super) fn authorization(
        &self,
        req: &tc3_sign::SignableRequest<'_>,
        creds: &Credentials,
        service: &str,
        timestamp: i64,
    ) -> Result<String, Error> {
        // A panic elsewhere while holding the lock leaves a signer that is still whole.
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let signer = match kept.as_mut() {
            Some(s) if s.signs_for(creds.secret_id(), creds.secret_key()) => s,
            _ => kept.insert(tc3_sign::Signer::new(creds.secret_id(), creds.secret_key())),
        };
        signer
            .authorization(req, service, timestamp)
            .map_err(cannot_sign)
    }
}

/// What a debug log line says about the call being signed.
pub(super) struct Call<'a> {
    pub service: &'a str,
    pub version: &'a str,
    pub action: &'a str,
    pub url: &'a reqwest::Url,
    pub region: &'a str,
}

/// [`KeptSigner::authorization`] by the long way, for `--verbose`: logs every stage (the
/// Authorization redacted, the token only as present or not; no secret).
pub(super) fn sign_and_log(
    req: &tc3_sign::SignableRequest<'_>,
    creds: &Credentials,
    call: &Call<'_>,
    timestamp: i64,
) -> Result<String, Error> {
    let Call {
        service,
        version,
        action,
        url,
        region,
    } = call;
    let signed = tc3_sign::sign(
        req,
        &tc3_sign::SigningParams {
            secret_id: creds.secret_id(),
            secret_key: creds.secret_key(),
            service,
            timestamp,
        },
    )
    .map_err(cannot_sign)?;
    let body = match req.payload {
        tc3_sign::Payload::Bytes(b) => b,
        tc3_sign::Payload::Unsigned => b"(unsigned payload)",
    };
    tracing::debug!(
        "request {service} {version} {action} to {url}\n\
         --- canonical request ---\n{}\n--- string to sign ---\n{}\n\
         --- headers ---\nAuthorization: {}\nX-TC-Action: {action}\nX-TC-Timestamp: {timestamp}\n\
         X-TC-Version: {version}\nX-TC-Region: {region}\nX-TC-Token: {}\n--- body ---\n{}",
        signed.canonical_request,
        signed.string_to_sign,
        redacted_authorization(&signed.authorization),
        if creds.token().is_some() {
            "** redacted **"
        } else {
            "(none)"
        },
        String::from_utf8_lossy(body),
    );
    Ok(signed.authorization.to_string())
}

/// A request the signer refused (a timestamp outside the representable dates).
fn cannot_sign(e: tc3_sign::SignError) -> Error {
    Error::ConfigFrom {
        what: "cannot sign".into(),
        source: Box::new(e),
    }
}
