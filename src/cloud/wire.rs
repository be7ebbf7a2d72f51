//! What goes over the wire: endpoints (and the plain-http rule for loopback), CA files, the
//! response body (capped), the API's envelope, `Date` headers, and the redacted Authorization
//! header for logs. Pure or nearly so, and tested here.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::metadata::error_chain;
use super::Error;
use crate::bounds::{clip, clip_quoted};

/// The certificates of an extra trusted CA file (PEM; a bundle may hold several).
pub(crate) fn load_ca_file(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, Error> {
    let pem =
        crate::bounds::read_file_capped(path, crate::bounds::MAX_CA_FILE_BYTES).map_err(|e| {
            Error::ConfigFrom {
                what: format!("cannot read CA file {}", path.display()),
                source: Box::new(e),
            }
        })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::ConfigFrom {
        what: format!("CA file {}", path.display()),
        source: Box::new(e),
    })?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "CA file {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(certs)
}

/// The largest response body accepted. DescribeHaVips with 100 items is well under 1 MiB; a
/// body beyond this is a broken server or proxy, and must not exhaust memory.
pub(crate) const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Reads the body, refusing one larger than [`MAX_RESPONSE_BYTES`].
pub(super) async fn read_body(mut resp: reqwest::Response, action: &str) -> Result<Vec<u8>, Error> {
    let read_error = |e: reqwest::Error| Error::Transport {
        message: format!("{action}: reading response: {}", error_chain(&e)),
        timed_out: e.is_timeout(),
    };
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(read_error)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(Error::Decode {
                message: format!("{action}: response larger than {MAX_RESPONSE_BYTES} bytes"),
                request_id: None,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Classifies a failed send: an untrusted certificate is [`Error::Tls`] (never retried),
/// anything else a transient [`Error::Transport`].
pub(super) fn send_error(action: &str, e: &reqwest::Error) -> Error {
    let message = format!("{action}: {}", error_chain(e));
    // rustls reports "invalid peer certificate: UnknownIssuer" (or NotValidForName, Expired…)
    // deep in the source chain; reqwest exposes no typed accessor for it.
    if message.contains("invalid peer certificate") {
        return Error::Tls {
            message: format!("{message} (is the CA trusted? see --ca-file)"),
        };
    }
    Error::Transport {
        message,
        timed_out: e.is_timeout(),
    }
}

/// `https://<service>.tencentcloudapi.com`.
pub(crate) fn default_endpoint(service: &str) -> String {
    format!("https://{service}.tencentcloudapi.com")
}

/// Parses and checks an endpoint (`{service}` substituted): http(s), a host, no path, query or
/// credentials; plain http only for loopback, so keys never cross a network unencrypted.
pub fn parse_endpoint(endpoint: &str, service: &str) -> Result<reqwest::Url, Error> {
    let text = endpoint.trim().replace("{service}", service);
    let endpoint = clip_quoted(endpoint);
    let url = reqwest::Url::parse(&text).map_err(|e| Error::ConfigFrom {
        what: format!("endpoint {endpoint}"),
        source: Box::new(e),
    })?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::Config(format!("endpoint {endpoint} has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::Config(format!(
            "endpoint {} must not contain credentials (user:password@)",
            clip_quoted(&without_credentials(&url))
        )));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Config(format!(
            "endpoint {endpoint} must not have a path or query: API 3.0 always posts to /"
        )));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(Error::Config(format!(
            "endpoint {endpoint}: plain http is allowed only for loopback addresses \
             (127.0.0.0/8, ::1, localhost); use https"
        ))),
        other => Err(Error::Config(format!(
            "endpoint {endpoint}: unsupported scheme {}; use https",
            clip_quoted(other)
        ))),
    }
}

/// `url` with its user and password removed, so an error never repeats a password.
pub(super) fn without_credentials(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

pub(super) fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The `Host` value as sent: the host, plus `:port` when it is not the scheme's default.
pub(crate) fn host_header(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// The Authorization header for logs: the SecretId shortened and the signature hidden.
pub(crate) fn redacted_authorization(auth: &tc3_sign::Authorization) -> String {
    let id = &auth.secret_id;
    let shown: String = id.chars().take(4).collect();
    format!(
        "{} Credential={shown}****/{}, SignedHeaders={}, Signature=** redacted **",
        tc3_sign::ALGORITHM,
        auth.scope,
        auth.signed_headers.join(";")
    )
}

/// Parses an HTTP `Date` header (IMF-fixdate, `Wed, 21 Oct 2015 07:28:00 GMT`) to Unix seconds.
pub fn parse_http_date(value: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc2822(value.trim())
        .ok()
        .map(|t| t.timestamp())
}

/// The `Response` object of an answer that is not an error: its text, decoded by the caller
/// straight into the action's typed response (or, for a raw call, into a JSON value), and its
/// RequestId. A look at a VIP decodes two of these every interval, so the text is never built
/// into a JSON tree first.
#[derive(Debug)]
pub(super) struct ResponseText {
    raw: Box<RawValue>,
    request_id: Option<String>,
}

impl ResponseText {
    /// Decodes the Response object into `action`'s typed response.
    pub(super) fn decode<T: DeserializeOwned>(&self, action: &str) -> Result<T, Error> {
        self.parse(&format!("{action} response"))
    }

    /// The Response object as a JSON value (RequestId included).
    pub(super) fn value(&self) -> Result<Value, Error> {
        self.parse("Response object")
    }

    /// The text as a `T`; an error names `what` and keeps the RequestId.
    fn parse<T: DeserializeOwned>(&self, what: &str) -> Result<T, Error> {
        serde_json::from_str(self.raw.get()).map_err(|e| Error::Decode {
            // serde's message may quote the offending value, which the server chose: bounded.
            message: format!("{what}: {}", clip(&e.to_string())),
            request_id: self.request_id.clone(),
        })
    }

    /// The RequestId, leaving the text.
    pub(super) fn into_request_id(self) -> Option<String> {
        self.request_id
    }
}

/// A member of an object that may be absent; present as `null` is present.
#[derive(Default)]
enum Member {
    #[default]
    Absent,
    Present(Value),
}

impl<'de> Deserialize<'de> for Member {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Member, D::Error> {
        Value::deserialize(d).map(Member::Present)
    }
}

/// Splits `{"Response": {...}}`: the Response object's text, or `Error::Api` when it has
/// `Error`. Only `Error` and `RequestId` are decoded here; every other member is skipped.
pub(super) fn split_envelope(bytes: &[u8]) -> Result<ResponseText, Error> {
    #[derive(Deserialize)]
    struct Top<'a> {
        #[serde(rename = "Response", borrow, default)]
        response: Option<&'a RawValue>,
    }
    #[derive(Deserialize)]
    struct Head {
        #[serde(rename = "Error", default)]
        error: Member,
        #[serde(rename = "RequestId", default)]
        request_id: Option<Value>,
    }
    let not_json = |e: serde_json::Error| Error::Decode {
        message: format!(
            "body is not JSON ({e}): {}",
            clip(String::from_utf8_lossy(bytes).trim())
        ),
        request_id: None,
    };
    // serde would read an array as a struct too: only an object is an envelope.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(
            match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
                Ok(_) => Error::Decode {
                    message: "body is not a JSON object".into(),
                    request_id: None,
                },
                Err(e) => not_json(e),
            },
        );
    }
    let top: Top = serde_json::from_slice(bytes).map_err(not_json)?;
    let no_response = || Error::Decode {
        message: "body has no \"Response\" object".into(),
        request_id: None,
    };
    let raw = top.response.ok_or_else(no_response)?;
    if !raw.get().starts_with('{') {
        return Err(no_response());
    }
    let head: Head = serde_json::from_str(raw.get()).map_err(|e| Error::Decode {
        message: format!("Response object: {}", clip(&e.to_string())),
        request_id: None,
    })?;
    let request_id = request_id_in(head.request_id.as_ref());
    if let Member::Present(err) = head.error {
        let field = |name: &str| err.get(name).and_then(Value::as_str).map(str::to_string);
        let Some(code) = field("Code").filter(|c| !c.is_empty()) else {
            return Err(Error::Decode {
                message: format!("Response.Error has no Code: {}", clip(&err.to_string())),
                request_id,
            });
        };
        return Err(Error::Api {
            code,
            message: field("Message").unwrap_or_default(),
            request_id,
        });
    }
    Ok(ResponseText {
        raw: raw.to_owned(),
        request_id,
    })
}

/// Unwraps `{"Response": {...}}`: the Response object, or `Error::Api` when it has `Error`.
pub fn decode_envelope(bytes: &[u8]) -> Result<Value, Error> {
    split_envelope(bytes)?.value()
}

pub(super) fn request_id_of(response: &Value) -> Option<String> {
    request_id_in(response.get("RequestId"))
}

/// A `RequestId` member's value, when it is a non-empty string.
fn request_id_in(id: Option<&Value>) -> Option<String> {
    id.and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::client::CONTENT_TYPE;
    use crate::cloud::ErrorClass;

    #[test]
    fn envelope_success_error_and_garbage() {
        let ok = decode_envelope(br#"{"Response":{"TotalCount":0,"RequestId":"r1"}}"#).unwrap();
        assert_eq!(ok["RequestId"], "r1");

        let err = decode_envelope(
            br#"{"Response":{"Error":{"Code":"InvalidParameter","Message":"bad"},"RequestId":"r2"}}"#,
        )
        .unwrap_err();
        assert_eq!(err.code(), Some("InvalidParameter"));
        assert_eq!(err.request_id(), Some("r2"));
        assert!(matches!(err, Error::Api { ref message, .. } if message == "bad"));

        for bad in [
            &b"not json"[..],
            b"[]",
            br#"{"Foo":1}"#,
            br#"{"Response":3}"#,
        ] {
            let e = decode_envelope(bad).unwrap_err();
            assert!(matches!(e, Error::Decode { .. }), "{e}");
            assert_eq!(e.class(), ErrorClass::Local);
        }
        let e = decode_envelope(br#"{"Response":{"Error":{},"RequestId":"r3"}}"#).unwrap_err();
        assert!(matches!(e, Error::Decode { .. }));
        assert_eq!(e.request_id(), Some("r3"));
    }

    #[test]
    fn a_response_is_decoded_straight_from_its_text() {
        #[derive(Debug, Deserialize)]
        struct Count {
            #[serde(rename = "TotalCount")]
            total: u32,
        }
        let text = split_envelope(
            br#"{"Response":{"TotalCount":2,"HaVipSet":[{"A":[1,{"b":null}]}],"RequestId":"r9"},"Other":1}"#,
        )
        .unwrap();
        assert_eq!(text.decode::<Count>("DescribeHaVips").unwrap().total, 2);
        assert_eq!(text.value().unwrap()["HaVipSet"][0]["A"][0], 1);
        assert_eq!(text.into_request_id().as_deref(), Some("r9"));

        // A typed decode that fails names the action and keeps the RequestId.
        let text =
            split_envelope(br#"{"Response":{"TotalCount":"two","RequestId":"r10"}}"#).unwrap();
        let e = text.decode::<Count>("DescribeHaVips").unwrap_err();
        assert!(e.to_string().contains("DescribeHaVips response"), "{e}");
        assert_eq!(e.request_id(), Some("r10"));

        // `"Error": null` is an error without a Code, not a success.
        let e = split_envelope(br#"{"Response":{"Error":null,"RequestId":"r11"}}"#).unwrap_err();
        assert!(e.to_string().contains("has no Code"), "{e}");
        assert_eq!(e.request_id(), Some("r11"));

        // Each kind of broken body says which it is.
        for (body, says) in [
            (&b"{\"Response\": "[..], "body is not JSON"),
            (b"[1]", "body is not a JSON object"),
            (b"\"text\"", "body is not a JSON object"),
            (br#"{"Response":null}"#, "no \"Response\" object"),
            (br#"{"Response":[]}"#, "no \"Response\" object"),
            (br#"{"Other":{}}"#, "no \"Response\" object"),
        ] {
            let e = split_envelope(body).unwrap_err().to_string();
            assert!(e.contains(says), "{}: {e}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn endpoints() {
        let u = parse_endpoint("http://127.0.0.1:8080", "vpc").unwrap();
        assert_eq!(host_header(&u), "127.0.0.1:8080");
        let u = parse_endpoint("http://localhost:1/", "vpc").unwrap();
        assert_eq!(host_header(&u), "localhost:1");
        let u = parse_endpoint("http://[::1]:9000", "vpc").unwrap();
        assert_eq!(host_header(&u), "[::1]:9000");
        let u = parse_endpoint(&default_endpoint("cvm"), "cvm").unwrap();
        assert_eq!(host_header(&u), "cvm.tencentcloudapi.com");
        let u =
            parse_endpoint("https://{service}.ap-guangzhou.tencentcloudapi.com", "vpc").unwrap();
        assert_eq!(host_header(&u), "vpc.ap-guangzhou.tencentcloudapi.com");
        let u = parse_endpoint("https://example.test:8443", "vpc").unwrap();
        assert_eq!(host_header(&u), "example.test:8443");

        for bad in [
            "http://10.0.0.1:80",
            "http://vpc.tencentcloudapi.com",
            "ftp://127.0.0.1",
            "https://x.test/some/path",
            "https://u:p@x.test",
            "nonsense",
        ] {
            let e = parse_endpoint(bad, "vpc").unwrap_err();
            assert!(
                matches!(e, Error::Config(_) | Error::ConfigFrom { .. }),
                "{bad}: {e}"
            );
            assert!(e.is_setup(), "{bad}: {e}");
        }
        let e = parse_endpoint("http://10.0.0.1", "vpc")
            .unwrap_err()
            .to_string();
        assert!(e.contains("loopback"), "{e}");
    }

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Sat, 25 Feb 2019 16:44:25 GMT"), None); // wrong weekday
        assert_eq!(
            parse_http_date("Mon, 25 Feb 2019 16:44:25 GMT"),
            Some(1_551_113_065)
        );
        assert_eq!(parse_http_date("garbage"), None);
    }

    #[test]
    fn authorization_is_redacted_for_logs() {
        let signed = tc3_sign::sign(
            &tc3_sign::SignableRequest::post("vpc.tencentcloudapi.com", CONTENT_TYPE, b"{}"),
            &tc3_sign::SigningParams {
                secret_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
                secret_key: "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
                service: "vpc",
                timestamp: 1_700_000_000,
            },
        )
        .unwrap();
        let text = redacted_authorization(&signed.authorization);
        assert!(!text.contains(&signed.signature), "{text}");
        assert!(
            !text.contains("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"),
            "{text}"
        );
        assert!(text.contains("2023-11-14/vpc/tc3_request"), "{text}");
    }
}
