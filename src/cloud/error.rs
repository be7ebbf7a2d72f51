//! The client's one error type and the classification the retry policy runs on.
//!
//! Transport, HTTP status, API error (Code, Message, RequestId) and decoding are separate
//! variants so that callers can tell "the cloud said no" from "we never heard the cloud"
//! (STYLE.md §6). The taxonomy follows `shared/tencent/API.md` §3.3.

use std::time::Duration;

use super::codes;
use crate::bounds::{clip, clip_to, MAX_MESSAGE_BYTES};
use crate::error_chain::error_chain;

/// What kind of failure an error is, for retry decisions and for reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The request may not have reached the server (connect error, reset, per-request timeout)
    /// or an HTTP status other than 200 came back. Retried.
    Transient,
    /// `RequestLimitExceeded*`: the server asks us to slow down. Retried with a longer backoff.
    Throttled,
    /// `InternalError*`, `InternalServerError`, `ServiceUnavailable`. Retried.
    Server,
    /// The resource is busy with another task (`*MutexTaskRunning`, `ResourceInUse`,
    /// `ResourceUnavailable`, `IdempotentProcessing`, `NetDetectTimeOut`). Retried: it clears.
    Busy,
    /// `AuthFailure.SignatureExpire`: our clock (or the server's) is off. Re-signed once with the
    /// measured offset, never blindly retried.
    ClockSkew,
    /// `AuthFailure.TokenFailure`: temporary credentials expired; refreshed once.
    TokenExpired,
    /// Any other `AuthFailure*` or `*UnauthorizedOperation`: a bad key or missing permission.
    Auth,
    /// `ResourceNotFound` and `*.NotFound`: the thing does not exist. Never retried.
    NotFound,
    /// The request is wrong (`InvalidParameter*`, `MissingParameter`, `LimitExceeded`, …) or the
    /// operation is refused for good. Never retried.
    Client,
    /// The overall deadline passed.
    Deadline,
    /// A problem on our side before anything was sent: configuration, credentials, decoding.
    Local,
}

impl ErrorClass {
    /// Whether waiting and sending the same request again can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorClass::Transient | ErrorClass::Throttled | ErrorClass::Server | ErrorClass::Busy
        )
    }

    /// Short lowercase name, for logs, journals and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Transient => "transient",
            ErrorClass::Throttled => "throttled",
            ErrorClass::Server => "server",
            ErrorClass::Busy => "busy",
            ErrorClass::ClockSkew => "clock-skew",
            ErrorClass::TokenExpired => "token-expired",
            ErrorClass::Auth => "auth",
            ErrorClass::NotFound => "not-found",
            ErrorClass::Client => "client",
            ErrorClass::Deadline => "deadline",
            ErrorClass::Local => "local",
        }
    }
}

/// Classifies a TencentCloud API error code (`Response.Error.Code`).
///
/// An explicit table rather than prefix guessing where the docs name the code, because a wrong
/// "retry" burns the deadline and a wrong "never retry" fails a failover that would have worked.
pub fn classify_code(code: &str) -> ErrorClass {
    // Exact codes first: some of them share prefixes with codes of another class.
    match code {
        codes::SIGNATURE_EXPIRE => return ErrorClass::ClockSkew,
        codes::TOKEN_FAILURE => return ErrorClass::TokenExpired,
        "InternalServerError" | "ServiceUnavailable" => return ErrorClass::Server,
        "ResourceUnavailable" | "ResourceInUse" => return ErrorClass::Busy,
        "FailedOperation.NetDetectTimeOut" | "UnsupportedOperation.IdempotentProcessing" => {
            return ErrorClass::Busy
        }
        codes::RESOURCE_NOT_FOUND => return ErrorClass::NotFound,
        _ => {}
    }
    if code.starts_with("RequestLimitExceeded") {
        return ErrorClass::Throttled;
    }
    if code.starts_with("InternalError") {
        return ErrorClass::Server;
    }
    if code.ends_with("MutexTaskRunning") || code.ends_with("MutexOperationTaskRunning") {
        return ErrorClass::Busy;
    }
    if code.starts_with("ResourceInUse.") || code.starts_with("ResourceUnavailable.") {
        return ErrorClass::Busy;
    }
    if code.starts_with("AuthFailure") || code.ends_with("UnauthorizedOperation") {
        return ErrorClass::Auth;
    }
    if code.starts_with("ResourceNotFound.") || code.ends_with(".NotFound") {
        return ErrorClass::NotFound;
    }
    ErrorClass::Client
}

/// Everything that can go wrong when calling the TencentCloud API.
///
/// Messages are lowercase and context-first; callers add context with `anyhow` at the top.
/// Every text that came from outside (a server's body or message, a value the user gave) is
/// bounded when displayed ([`clip_to`]), so no error line is unbounded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request could not be sent or no response came back in time.
    #[error("transport error: {}", clip_to(message, MAX_MESSAGE_BYTES))]
    Transport {
        message: String,
        /// The per-request timeout fired.
        timed_out: bool,
    },
    /// The TLS handshake failed because the server's certificate is not trusted (unknown CA,
    /// wrong name, expired). Not retried: it will not fix itself; `--ca-file` might.
    #[error("tls: {}", clip_to(message, MAX_MESSAGE_BYTES))]
    Tls { message: String },
    /// The server answered with an HTTP status other than 200 (API errors come with 200).
    #[error("http status {status}: {}", clip_to(body, MAX_MESSAGE_BYTES))]
    HttpStatus {
        status: u16,
        /// The start of the body, for diagnosis.
        body: String,
        request_id: Option<String>,
    },
    /// The API answered `Response.Error`.
    #[error("api error {}: {} (RequestId {})", clip(code), clip_to(message, MAX_MESSAGE_BYTES), clip(request_id.as_deref().unwrap_or("none")))]
    Api {
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// `AuthFailure.SignatureExpire` came back again after re-signing with the measured offset.
    #[error("clock skew of {skew_secs} s between this host and the API server persists (fix NTP): {source}")]
    ClockSkew {
        /// Server time minus local time, from the response's `Date` header.
        skew_secs: i64,
        #[source]
        source: Box<Error>,
    },
    /// The response could not be understood.
    #[error("cannot decode response: {}", clip_to(message, MAX_MESSAGE_BYTES))]
    Decode {
        message: String,
        request_id: Option<String>,
    },
    /// The overall deadline passed before a call could succeed.
    #[error("deadline of {:.1}s exceeded after {attempts} attempt(s){}", budget.as_secs_f64(), last.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default())]
    DeadlineExceeded {
        budget: Duration,
        attempts: u32,
        last: Option<Box<Error>>,
    },
    /// An asynchronous task finished with FAILED.
    #[error(
        "task {} failed: {}",
        clip(task_id),
        clip_to(message, MAX_MESSAGE_BYTES)
    )]
    TaskFailed { task_id: String, message: String },
    /// No usable credentials, or a credentials source that must not be used.
    #[error("credentials: {}", clip_to(.0, MAX_MESSAGE_BYTES))]
    Credentials(String),
    /// The client is misconfigured (endpoint, CA file, region, …).
    #[error("configuration: {}", clip_to(.0, MAX_MESSAGE_BYTES))]
    Config(String),
    /// Credentials from `place` cannot be used, for the reason `source` gives.
    #[error("credentials: {place}: {}", clip_to(&error_chain(source.as_ref()), MAX_MESSAGE_BYTES))]
    CredentialsFrom {
        /// Where they came from: `from the environment`, `profile file …`, `CAM role "…"`.
        place: String,
        #[source]
        source: Cause,
    },
    /// A file holding a secret may be read by group or others (`file` names it).
    #[error("credentials: {file} {source}")]
    TooOpen {
        /// `profile file …`, `the configuration file`.
        file: String,
        #[source]
        source: TooOpen,
    },
    /// No region was given and the metadata service did not tell it.
    #[error(
        "configuration: no region: pass --region or set {} (metadata {metadata} did not answer: \
         {source})",
        super::credentials::ENV_REGION
    )]
    NoRegion {
        /// The metadata service's address.
        metadata: String,
        #[source]
        source: Box<Error>,
    },
    /// The client is misconfigured, for the reason `source` gives (`what` names the setting).
    #[error("configuration: {what}: {}", clip_to(&error_chain(source.as_ref()), MAX_MESSAGE_BYTES))]
    ConfigFrom {
        /// The setting: `endpoint …`, `CA file …`, `http client`.
        what: String,
        #[source]
        source: Cause,
    },
}

/// The typed error behind a configuration or credentials problem.
pub(crate) type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A file holding a secret that group or others may access (its `st_mode` bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "has permissions {0:04o}, which are too open: it holds a secret key and must not be \
     accessible by group or others; run `chmod 600` on it"
)]
pub struct TooOpen(pub u32);

impl Error {
    /// The API error code, when the cloud gave one (also through a clock-skew wrapper).
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } => Some(code),
            Error::ClockSkew { source, .. } => source.code(),
            _ => None,
        }
    }

    /// The RequestId of the response that carried this error, when there was one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { request_id, .. }
            | Error::HttpStatus { request_id, .. }
            | Error::Decode { request_id, .. } => request_id.as_deref(),
            Error::ClockSkew { source, .. } => source.request_id(),
            Error::DeadlineExceeded {
                last: Some(last), ..
            } => last.request_id(),
            _ => None,
        }
    }

    /// The innermost API error (Code, Message, RequestId), looking through wrappers.
    pub(crate) fn api_error(&self) -> Option<(&str, &str, Option<&str>)> {
        match self {
            Error::Api {
                code,
                message,
                request_id,
            } => Some((code, message, request_id.as_deref())),
            Error::ClockSkew { source, .. } => source.api_error(),
            Error::DeadlineExceeded {
                last: Some(last), ..
            } => last.api_error(),
            _ => None,
        }
    }

    /// A request that got no answer in time (the per-request timeout fired).
    pub(crate) fn is_timed_out(&self) -> bool {
        matches!(
            self,
            Error::Transport {
                timed_out: true,
                ..
            }
        )
    }

    /// The class the retry policy acts on.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Transport { .. } => ErrorClass::Transient,
            Error::HttpStatus { status, .. } => match status {
                429 => ErrorClass::Throttled,
                500..=599 => ErrorClass::Server,
                // Other statuses (a proxy's 4xx, a redirect) are still "not the API's answer":
                // retried as transient, per issue 2 ("retry … non-200s").
                _ => ErrorClass::Transient,
            },
            Error::Api { code, .. } => classify_code(code),
            Error::ClockSkew { .. } => ErrorClass::ClockSkew,
            Error::DeadlineExceeded { .. } => ErrorClass::Deadline,
            Error::TaskFailed { .. } => ErrorClass::Client,
            Error::Decode { .. }
            | Error::Credentials(_)
            | Error::CredentialsFrom { .. }
            | Error::TooOpen { .. }
            | Error::Config(_)
            | Error::ConfigFrom { .. }
            | Error::NoRegion { .. }
            | Error::Tls { .. } => ErrorClass::Local,
        }
    }

    /// Whether this is a problem of setup (configuration, credentials, an untrusted
    /// certificate: the fix is `--ca-file`) rather than of the cloud.
    pub(crate) fn is_setup(&self) -> bool {
        matches!(
            self,
            Error::Config(_)
                | Error::ConfigFrom { .. }
                | Error::NoRegion { .. }
                | Error::Credentials(_)
                | Error::CredentialsFrom { .. }
                | Error::TooOpen { .. }
                | Error::Tls { .. }
        )
    }

    /// Whether the same request may succeed if sent again after a pause.
    pub fn is_retryable(&self) -> bool {
        self.class().is_retryable()
    }

    /// A short label for journals and metrics: the API code if any, else the class.
    pub fn label(&self) -> String {
        match self.code() {
            Some(code) => code.to_string(),
            None => self.class().as_str().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_codes() {
        for code in [
            "RequestLimitExceeded",
            "RequestLimitExceeded.UinLimitExceeded",
            "RequestLimitExceeded.IPLimitExceeded",
            "InternalError",
            "InternalError.ModuleError",
            "InternalServerError",
            "ServiceUnavailable",
            "ResourceUnavailable",
            "ResourceInUse",
            "UnsupportedOperation.MutexOperationTaskRunning",
            "OperationDenied.MutexTaskRunning",
            "FailedOperation.NetDetectTimeOut",
            "UnsupportedOperation.IdempotentProcessing",
        ] {
            assert!(
                classify_code(code).is_retryable(),
                "{code} should be retried"
            );
        }
    }

    #[test]
    fn never_retried_codes() {
        for code in [
            "AuthFailure.SignatureFailure",
            "AuthFailure.SecretIdNotFound",
            "AuthFailure.InvalidSecretId",
            "AuthFailure.InvalidAuthorization",
            "AuthFailure.UnauthorizedOperation",
            "UnauthorizedOperation",
            "InvalidParameter",
            "InvalidParameterValue.Malformed",
            "InvalidParameterValue.DuplicatedHaVipAssociations",
            "MissingParameter",
            "UnknownParameter",
            "InvalidAction",
            "ResourceNotFound",
            "InvalidAddressId.NotFound",
            "UnsupportedOperation",
            "UnsupportedOperation.BindEIP",
            "LimitExceeded",
            "OperationDenied.AddressInArrears",
            "AuthFailure.SignatureExpire",
            "AuthFailure.TokenFailure",
        ] {
            assert!(
                !classify_code(code).is_retryable(),
                "{code} must not be retried"
            );
        }
    }

    #[test]
    fn specific_classes() {
        assert_eq!(
            classify_code("AuthFailure.SignatureExpire"),
            ErrorClass::ClockSkew
        );
        assert_eq!(
            classify_code("AuthFailure.TokenFailure"),
            ErrorClass::TokenExpired
        );
        assert_eq!(
            classify_code("AuthFailure.SignatureFailure"),
            ErrorClass::Auth
        );
        assert_eq!(classify_code("RequestLimitExceeded"), ErrorClass::Throttled);
        assert_eq!(classify_code("ResourceNotFound"), ErrorClass::NotFound);
        assert_eq!(
            classify_code("InvalidInstanceId.NotFound"),
            ErrorClass::NotFound
        );
        assert_eq!(
            classify_code("InvalidParameter.Coexist"),
            ErrorClass::Client
        );
    }

    #[test]
    fn http_status_classes() {
        let status = |s| Error::HttpStatus {
            status: s,
            body: String::new(),
            request_id: None,
        };
        assert_eq!(status(502).class(), ErrorClass::Server);
        assert_eq!(status(429).class(), ErrorClass::Throttled);
        assert_eq!(status(404).class(), ErrorClass::Transient);
        assert!(status(404).is_retryable());
    }

    #[test]
    fn api_error_display_has_code_message_and_request_id() {
        let e = Error::Api {
            code: "AuthFailure.SignatureFailure".into(),
            message: "bad signature".into(),
            request_id: Some("req-1".into()),
        };
        let text = e.to_string();
        assert!(text.contains("AuthFailure.SignatureFailure"), "{text}");
        assert!(text.contains("bad signature"), "{text}");
        assert!(text.contains("req-1"), "{text}");
        assert_eq!(e.code(), Some("AuthFailure.SignatureFailure"));
    }

    #[test]
    fn wrappers_expose_the_inner_api_error() {
        let inner = Error::Api {
            code: "AuthFailure.SignatureExpire".into(),
            message: "expired".into(),
            request_id: Some("r".into()),
        };
        let skew = Error::ClockSkew {
            skew_secs: 600,
            source: Box::new(inner),
        };
        assert_eq!(skew.code(), Some("AuthFailure.SignatureExpire"));
        assert!(skew.to_string().contains("600 s"));
        let deadline = Error::DeadlineExceeded {
            budget: Duration::from_secs(3),
            attempts: 4,
            last: Some(Box::new(skew)),
        };
        assert_eq!(deadline.class(), ErrorClass::Deadline);
        assert_eq!(
            deadline.api_error().map(|a| a.0),
            Some("AuthFailure.SignatureExpire")
        );
        assert_eq!(deadline.request_id(), Some("r"));
        assert!(!deadline.is_retryable());
    }

    /// Issue 7: a 502's HTML page, or a server message quoting a 100 KB ID, printed whole.
    #[test]
    fn long_server_bodies_and_messages_are_truncated_in_errors() {
        let page = format!("<html>{}</html>", "x".repeat(100_000));
        let errors = [
            Error::HttpStatus {
                status: 502,
                body: page.clone(),
                request_id: None,
            },
            Error::Api {
                code: "InvalidParameterValue.Malformed".into(),
                message: format!("The HaVipId `havip-{}` is malformed.", "a".repeat(100_000)),
                request_id: Some("r".into()),
            },
            Error::Decode {
                message: page.clone(),
                request_id: None,
            },
            Error::Transport {
                message: page.clone(),
                timed_out: false,
            },
            Error::Config(page.clone()),
            Error::Credentials(page.clone()),
            Error::TaskFailed {
                task_id: page.clone(),
                message: page,
            },
        ];
        for e in errors {
            let text = e.to_string();
            assert!(text.len() < 2 * MAX_MESSAGE_BYTES, "{} bytes", text.len());
            assert!(text.contains("… ("), "no ellipsis and length: {text}");
        }
    }
}
