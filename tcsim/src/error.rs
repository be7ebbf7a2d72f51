//! The API error type: a TencentCloud error code and message, rendered in the error envelope.

use std::fmt;

/// An error answered in the real envelope
/// `{"Response": {"Error": {"Code", "Message"}, "RequestId"}}` with HTTP 200.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn missing(param: &str) -> Self {
        ApiError::new(
            "MissingParameter",
            format!("The request is missing a required parameter `{param}`."),
        )
    }

    pub fn invalid_type(param: &str, expected: &str) -> Self {
        ApiError::new(
            "InvalidParameter",
            format!("The value of parameter `{param}` must be of type {expected}."),
        )
    }

    pub fn malformed(param: &str, value: &str) -> Self {
        ApiError::new(
            "InvalidParameterValue.Malformed",
            format!("The value `{value}` of parameter `{param}` is malformed."),
        )
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        ApiError::new(
            "ResourceNotFound",
            format!("The {what} `{id}` does not exist."),
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;
