//! The lean signing path: the canonical request and the string to sign are streamed into
//! SHA-256 and HMAC state (never built as text), the signing key's HMAC state is kept by
//! [`Signer`] for as long as the UTC date and the service stay the same, and digests are hex
//! encoded on the stack. [`crate::sign`] (every stage, for logs and tests) and
//! [`crate::verify`] use the same pieces, so all three give the same signature; the SDK's
//! vectors (`tests/vectors.rs`) and the property tests pin that.
//!
//! Per signature with a kept key, this costs the payload's SHA-256, the canonical request's
//! (about 150 bytes: 3 blocks), and one HMAC over the string to sign with its key already
//! absorbed (3 blocks): 10 SHA-256 compressions for a 200-byte body.

use std::cmp::Ordering;
use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::{
    civil_from_days, CredentialScope, HeaderValueCase, Payload, SignError, SignableRequest,
    SigningKey, ALGORITHM, TERMINATOR,
};

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Lowercase hex SHA-256 of [`UNSIGNED_PAYLOAD`].
const UNSIGNED_PAYLOAD_SHA256: &[u8; 64] =
    b"438d4109ef0d676b8c2c7ed13cdfcb418e494d53b843d4634ce3b1085f07bb96";

/// Something bytes are fed into: a hash or a MAC.
trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        Digest::update(self, bytes);
    }
}

impl Sink for HmacSha256 {
    fn put(&mut self, bytes: &[u8]) {
        Mac::update(self, bytes);
    }
}

/// Feeds `bytes` through `map` (ASCII case folding) in stack-sized chunks.
fn put_mapped(sink: &mut impl Sink, bytes: &[u8], map: fn(&u8) -> u8) {
    let mut buf = [0u8; 64];
    for chunk in bytes.chunks(buf.len()) {
        for (d, s) in buf.iter_mut().zip(chunk) {
            *d = map(s);
        }
        sink.put(&buf[..chunk.len()]);
    }
}

/// Lowercase hex of a 32-byte digest.
pub(crate) fn hex32(digest: &[u8]) -> [u8; 64] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in digest.iter().take(32).enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0x0f)];
    }
    out
}

/// `HashedRequestPayload`, hex.
pub(crate) fn payload_hash(payload: &Payload<'_>) -> [u8; 64] {
    match payload {
        Payload::Bytes(b) => hex32(&Sha256::digest(b)),
        Payload::Unsigned => *UNSIGNED_PAYLOAD_SHA256,
    }
}

/// Header names compare as the spec sorts them: trimmed, ASCII-lowercased, bytewise.
fn name_cmp(a: &str, b: &str) -> Ordering {
    fn key(s: &str) -> impl Iterator<Item = u8> + '_ {
        s.trim().bytes().map(|c| c.to_ascii_lowercase())
    }
    key(a).cmp(key(b))
}

/// The signed headers in canonical order; borrowed as they are when already sorted (what
/// [`SignableRequest::post`] and `get` build), else sorted (stably) in a copy.
fn sorted_headers<'r>(req: &'r SignableRequest<'_>) -> std::borrow::Cow<'r, [(&'r str, &'r str)]> {
    let h = &req.headers;
    if h.is_sorted_by(|a, b| name_cmp(a.0, b.0) != Ordering::Greater) {
        std::borrow::Cow::Borrowed(h.as_slice())
    } else {
        let mut v: Vec<(&str, &str)> = h.clone();
        v.sort_by(|a, b| name_cmp(a.0, b.0));
        std::borrow::Cow::Owned(v)
    }
}

/// `HashedCanonicalRequest` (hex) of `req`, with the payload hash already computed: the same
/// bytes as [`crate::CanonicalRequest`]'s `Display`, streamed into SHA-256.
pub(crate) fn canonical_request_hash(
    req: &SignableRequest<'_>,
    value_case: HeaderValueCase,
    payload_hash: &[u8; 64],
) -> [u8; 64] {
    let mut h = Sha256::new();
    put_mapped(&mut h, req.method.as_bytes(), u8::to_ascii_uppercase);
    h.put(b"\n/\n");
    h.put(req.query.as_bytes());
    h.put(b"\n");
    let headers = sorted_headers(req);
    for (name, value) in headers.iter() {
        put_mapped(&mut h, name.trim().as_bytes(), u8::to_ascii_lowercase);
        h.put(b":");
        match value_case {
            HeaderValueCase::AsSent => h.put(value.trim().as_bytes()),
            HeaderValueCase::Lowercase => {
                put_mapped(&mut h, value.trim().as_bytes(), u8::to_ascii_lowercase)
            }
        }
        h.put(b"\n");
    }
    h.put(b"\n");
    for (i, (name, _)) in headers.iter().enumerate() {
        if i > 0 {
            h.put(b";");
        }
        put_mapped(&mut h, name.trim().as_bytes(), u8::to_ascii_lowercase);
    }
    h.put(b"\n");
    h.put(payload_hash);
    hex32(&h.finalize())
}

/// The UTC date of `timestamp` as `YYYY-MM-DD`, on the stack.
pub(crate) fn date_bytes(timestamp: i64) -> Result<[u8; 10], SignError> {
    // Keep to years 0..=9999 so the date is always four digits, as the SDKs print it.
    const MIN: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    if !(MIN..=MAX).contains(&timestamp) {
        return Err(SignError::TimestampOutOfRange(timestamp));
    }
    let (y, m, d) = civil_from_days(timestamp.div_euclid(86_400));
    let (y, m, d) = (y as u32, m, d);
    let digit = |n: u32| b'0' + (n % 10) as u8;
    Ok([
        digit(y / 1000),
        digit(y / 100),
        digit(y / 10),
        digit(y),
        b'-',
        digit(m / 10),
        digit(m),
        b'-',
        digit(d / 10),
        digit(d),
    ])
}

/// `n` in decimal, on the stack (`buf` must hold 20 bytes: `i64::MIN` has 19 digits).
fn decimal(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut v = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// `HexEncode(HMAC_SHA256(kSigning, StringToSign))`, the string to sign streamed into `key`
/// (an HMAC state keyed with kSigning, cloned so it can be reused).
pub(crate) fn signature(
    key: &HmacSha256,
    timestamp: i64,
    date: &[u8],
    service: &str,
    hashed_canonical_request: &[u8],
) -> [u8; 64] {
    let mut mac = key.clone();
    let mut ts = [0u8; 20];
    mac.put(ALGORITHM.as_bytes());
    mac.put(b"\n");
    mac.put(decimal(timestamp, &mut ts));
    mac.put(b"\n");
    mac.put(date);
    mac.put(b"/");
    mac.put(service.as_bytes());
    mac.put(b"/");
    mac.put(TERMINATOR.as_bytes());
    mac.put(b"\n");
    mac.put(hashed_canonical_request);
    hex32(&mac.finalize().into_bytes())
}

/// An HMAC state keyed with `key` (HMAC accepts any key length).
pub(crate) fn keyed(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC takes any key length")
}

/// The signing key of one (UTC date, service), as HMAC state.
struct DayKey {
    day: i64,
    service: String,
    key: HmacSha256,
}

/// Signs requests for one key pair, keeping the date-scoped signing key
/// (`kSigning = HMAC(HMAC(HMAC("TC3" + SecretKey, Date), Service), "tc3_request")`) while the
/// UTC date and the service stay the same, so most signatures skip the three-HMAC derivation.
/// Gives the same `Authorization` header as [`crate::sign`]. `Debug` shows the SecretId only.
pub struct Signer {
    secret_id: String,
    secret_key: String,
    kept: Option<DayKey>,
}

impl Signer {
    pub fn new(secret_id: &str, secret_key: &str) -> Self {
        Signer {
            secret_id: secret_id.to_owned(),
            secret_key: secret_key.to_owned(),
            kept: None,
        }
    }

    /// The SecretId this signer signs for.
    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// Whether this signer holds exactly this key pair (a caller that keeps a signer across
    /// credential rotations checks this before reusing it).
    pub fn signs_for(&self, secret_id: &str, secret_key: &str) -> bool {
        self.secret_id == secret_id && self.secret_key == secret_key
    }

    /// The HMAC state of the signing key for `timestamp`'s UTC date and `service`: the kept
    /// one, or a new one derived (and kept) when either changed.
    fn day_key(&mut self, day: i64, date: &[u8; 10], service: &str) -> &HmacSha256 {
        let fresh = matches!(&self.kept, Some(k) if k.day == day && k.service == service);
        if !fresh {
            let scope = CredentialScope {
                // ASCII digits and dashes.
                date: String::from_utf8_lossy(date).into_owned(),
                service: service.to_owned(),
            };
            let k = SigningKey::derive(&self.secret_key, &scope);
            self.kept = Some(DayKey {
                day,
                service: service.to_owned(),
                key: keyed(&k.k_signing),
            });
        }
        match &self.kept {
            Some(k) => &k.key,
            None => unreachable!("set just above"),
        }
    }

    /// The `Authorization` header value for `req`, signed for `service` at `timestamp` (Unix
    /// seconds), with header values as sent (what the SDKs do).
    pub fn authorization(
        &mut self,
        req: &SignableRequest<'_>,
        service: &str,
        timestamp: i64,
    ) -> Result<String, SignError> {
        let date = date_bytes(timestamp)?;
        let hashed = canonical_request_hash(req, req.value_case, &payload_hash(&req.payload));
        let key = self.day_key(timestamp.div_euclid(86_400), &date, service);
        let sig = signature(key, timestamp, &date, service, &hashed);
        let names: usize = req.headers.iter().map(|(n, _)| n.len() + 1).sum();
        let mut out = String::with_capacity(
            ALGORITHM.len() + 64 + self.secret_id.len() + service.len() + names + 64,
        );
        out.push_str(ALGORITHM);
        out.push_str(" Credential=");
        out.push_str(&self.secret_id);
        out.push('/');
        push_ascii(&mut out, &date);
        out.push('/');
        out.push_str(service);
        out.push('/');
        out.push_str(TERMINATOR);
        out.push_str(", SignedHeaders=");
        for (i, (name, _)) in sorted_headers(req).iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.extend(name.trim().chars().map(|c| c.to_ascii_lowercase()));
        }
        out.push_str(", Signature=");
        push_ascii(&mut out, &sig);
        Ok(out)
    }
}

/// Appends bytes known to be ASCII (digits, hex, dashes).
fn push_ascii(out: &mut String, bytes: &[u8]) {
    out.extend(bytes.iter().map(|&b| char::from(b)));
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"** redacted **")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UNSIGNED_PAYLOAD;

    #[test]
    fn unsigned_payload_constant_is_its_hash() {
        assert_eq!(
            &hex32(&Sha256::digest(UNSIGNED_PAYLOAD.as_bytes())),
            UNSIGNED_PAYLOAD_SHA256
        );
    }

    #[test]
    fn decimal_edges() {
        let mut b = [0u8; 20];
        assert_eq!(decimal(0, &mut b), b"0");
        assert_eq!(decimal(1_700_000_000, &mut b), b"1700000000");
        assert_eq!(decimal(-1, &mut b), b"-1");
        assert_eq!(decimal(i64::MIN, &mut b), b"-9223372036854775808");
        assert_eq!(decimal(i64::MAX, &mut b), b"9223372036854775807");
    }

    #[test]
    fn signer_debug_redacts_the_key() {
        let text = format!("{:?}", Signer::new("AKIDx", "very-secret"));
        assert!(!text.contains("very-secret"), "{text}");
        assert!(text.contains("AKIDx"));
    }

    #[test]
    fn kept_key_changes_with_the_day_and_the_service() {
        let req = SignableRequest::post("vpc.tencentcloudapi.com", "application/json", b"{}");
        let mut signer = Signer::new("AKIDx", "k");
        let mut check = |service: &str, ts: i64| {
            let params = crate::SigningParams {
                secret_id: "AKIDx",
                secret_key: "k",
                service,
                timestamp: ts,
            };
            let want = crate::sign(&req, &params)
                .unwrap()
                .authorization
                .to_string();
            assert_eq!(signer.authorization(&req, service, ts).unwrap(), want);
        };
        // Same day twice, the next day, back, another service, the last second of a day.
        for (service, ts) in [
            ("vpc", 1_700_000_000),
            ("vpc", 1_700_000_001),
            ("vpc", 1_700_086_400),
            ("vpc", 1_700_000_000),
            ("cvm", 1_700_000_000),
            ("cvm", 1_699_919_999),
            ("cvm", 1_699_920_000),
        ] {
            check(service, ts);
        }
    }
}
