//! The webhook transport: the event POSTed as JSON, any 2xx is success. The HTTP client here
//! (built on first use, no redirects) also carries WeCom's robot messages.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::deliver::SendError;
use super::event::AlertEvent;
use crate::error_chain::{http_failure_kind, with_sources, Repeats};

/// The HTTP client of every HTTP target, built on first use, so a `havip notify` that alerts
/// nothing pays nothing.
pub(super) struct HttpClient(OnceLock<Result<reqwest::Client, Arc<reqwest::Error>>>);

impl HttpClient {
    pub(super) fn new() -> Self {
        HttpClient(OnceLock::new())
    }

    /// POSTs `body` as JSON to `url`, bounded by `limit`.
    pub(super) async fn post(
        &self,
        url: &str,
        body: Vec<u8>,
        limit: Duration,
    ) -> Result<reqwest::Response, SendError> {
        let client = self
            .0
            .get_or_init(|| {
                reqwest::Client::builder()
                    .user_agent(concat!("havip/", env!("CARGO_PKG_VERSION")))
                    // A redirect could carry the event (and a robot key) somewhere unexpected.
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(Arc::new)
            })
            .as_ref()
            .map_err(|e| SendError::Client(Arc::clone(e)))?;
        client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .timeout(limit)
            .body(body)
            .send()
            .await
            .map_err(http_err)
    }
}

/// reqwest's messages include the URL, which may hold a robot key: strip it.
pub(super) fn http_err(e: reqwest::Error) -> SendError {
    SendError::Http(e.without_url())
}

/// A failed request as the report says it: `timed out: …` with every cause.
pub(super) fn describe(e: &reqwest::Error) -> String {
    let kind = http_failure_kind(e);
    with_sources(format!("{kind}: {e}"), e, Repeats::Keep)
}

/// Delivers `ev` to a generic webhook.
pub(super) async fn send(
    http: &HttpClient,
    url: &str,
    ev: &AlertEvent,
    limit: Duration,
) -> Result<(), SendError> {
    let body = serde_json::to_vec(ev).map_err(SendError::Encode)?;
    let resp = http.post(url, body, limit).await?;
    let status = resp.status();
    if !status.is_success() {
        return Err(SendError::Status(status));
    }
    Ok(())
}
