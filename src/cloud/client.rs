//! The generic client: signs with tc3-sign, sends with reqwest (rustls), retries per
//! [`RetryPolicy`], corrects clock skew, keeps one overall deadline, paces every attempt by an
//! optional shared [`RateLimit`], and reports each call to an optional [`CallObserver`] (the
//! journal).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::clock::{Clock, SystemClock};
use super::credentials::CredentialProvider;
use super::observer::Both;
pub use super::observer::{CallObserver, CallOutcome, CallRecord};
use super::ratelimit::RateLimit;
use super::retry::RetryPolicy;
use super::signing::{sign_and_log, Call, KeptSigner};
pub use super::wire::{decode_envelope, parse_endpoint, parse_http_date};
pub(crate) use super::wire::{default_endpoint, host_header, load_ca_file};
use super::wire::{
    is_loopback, read_body, request_id_of, send_error, split_envelope, ResponseText,
};
use super::{Action, Error, ErrorClass};
use crate::bounds::clip_to;

/// The Content-Type sent and signed. Exactly this, no charset: the signed value must be the
/// sent value (API.md §1.2).
pub(crate) const CONTENT_TYPE: &str = "application/json";
/// Sent as `X-TC-RequestClient`, shaped like the SDKs' `SDK_PYTHON_3.1.195`: the SDKs only allow
/// `[0-9a-zA-Z-_,;.]` in this header, so no `/`.
pub(crate) const REQUEST_CLIENT: &str = concat!("HAVIP_", env!("CARGO_PKG_VERSION"));

/// How the client reaches the API.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Overrides `https://<service>.tencentcloudapi.com` for every service (tcsim, a proxy).
    /// `{service}` in it is replaced by the service name. Plain `http` only for loopback.
    pub endpoint: Option<String>,
    /// `X-TC-Region`; empty means the header is omitted (CAM and other global APIs).
    pub region: String,
    /// One HTTP exchange may take at most this long (never past the deadline).
    pub request_timeout: Duration,
    /// The overall budget of one call, retries included, when no deadline was set with
    /// [`Client::with_deadline`].
    pub deadline: Duration,
    /// An extra trusted CA certificate (PEM), e.g. tcsim's `--tls` CA or an inspecting proxy's.
    pub ca_file: Option<PathBuf>,
    pub retry: RetryPolicy,
    /// Wall-clock time for `X-TC-Timestamp` and credential expiry.
    pub clock: Arc<dyn Clock>,
    /// `X-TC-Language`.
    pub language: String,
    /// The request budget every attempt waits for (none: unpaced). Shared by every clone of
    /// the client, and by any other client given the same [`RateLimit`].
    pub rate_limit: Option<RateLimit>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            endpoint: None,
            region: String::new(),
            request_timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(30),
            ca_file: None,
            retry: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
            language: "en-US".to_string(),
            rate_limit: None,
        }
    }
}

/// A TencentCloud API client. Cheap to clone; clones share the connection pool, the
/// credentials and the measured clock offset.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    deadline: Option<Instant>,
    observer: Option<Arc<dyn CallObserver>>,
    /// Overrides `ClientConfig::retry` for calls through this handle.
    retry: Option<RetryPolicy>,
    /// Overrides `ClientConfig::region` for calls through this handle.
    region: Option<String>,
    /// The budget each attempt waits for (from `ClientConfig::rate_limit` or
    /// [`Client::with_rate_limit`]).
    rate_limit: Option<RateLimit>,
}

struct Inner {
    cfg: ClientConfig,
    http: reqwest::Client,
    creds: Arc<dyn CredentialProvider>,
    /// Server time minus local time, seconds, learned from a `SignatureExpire` response.
    skew: AtomicI64,
    /// Server time minus local time, seconds, from the `Date` header of the latest response
    /// that had one ([`NO_DATE`] until then): what `havip doctor` reports as clock skew.
    date_offset: AtomicI64,
    /// Keeps the day's signing key of the current key pair.
    signer: KeptSigner,
    /// Each service's endpoint, parsed and checked on its first call.
    endpoints: Mutex<HashMap<String, reqwest::Url>>,
}

/// [`Inner::date_offset`] before any response carried a `Date`.
const NO_DATE: i64 = i64::MIN;

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.cfg.endpoint)
            .field("region", &self.region())
            .field("rate_limit", &self.rate_limit)
            .field("credentials", &self.inner.creds.source())
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// One attempt's failure, with the server's `Date` when it answered (for skew correction).
struct AttemptError {
    error: Error,
    server_time: Option<i64>,
}

impl From<Error> for AttemptError {
    fn from(error: Error) -> Self {
        AttemptError {
            error,
            server_time: None,
        }
    }
}

impl Client {
    /// Validates the configuration (endpoint scheme, CA file) and builds the HTTP client.
    /// Does no network I/O.
    pub fn new(cfg: ClientConfig, creds: Arc<dyn CredentialProvider>) -> Result<Client, Error> {
        let mut loopback_only = false;
        if let Some(ep) = &cfg.endpoint {
            let url = parse_endpoint(ep, "vpc")?;
            loopback_only = is_loopback(&url);
        }
        if cfg.request_timeout.is_zero() {
            return Err(Error::Config("request timeout must be positive".into()));
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(REQUEST_CLIENT)
            .connect_timeout(cfg.request_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            // API 3.0 answers every request itself: a redirect is a proxy or server fault, and
            // a signed request is never re-sent somewhere else.
            .redirect(reqwest::redirect::Policy::none());
        if loopback_only {
            // A loopback endpoint (tcsim) must never be sent through an HTTP(S)_PROXY.
            builder = builder.no_proxy();
        }
        if let Some(path) = &cfg.ca_file {
            for cert in load_ca_file(path)? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let http = builder.build().map_err(|e| Error::ConfigFrom {
            what: "http client".into(),
            source: Box::new(e),
        })?;
        let rate_limit = cfg.rate_limit.clone();
        Ok(Client {
            inner: Arc::new(Inner {
                cfg,
                http,
                creds,
                skew: AtomicI64::new(0),
                date_offset: AtomicI64::new(NO_DATE),
                signer: KeptSigner::default(),
                endpoints: Mutex::default(),
            }),
            deadline: None,
            observer: None,
            retry: None,
            region: None,
            rate_limit,
        })
    }

    /// A client whose every later call (retries and task polling included) ends by `deadline`.
    pub fn with_deadline(&self, deadline: Instant) -> Client {
        Client {
            deadline: Some(deadline),
            ..self.clone()
        }
    }

    /// A client that reports each call to `obs`, after any observer this client already has
    /// (the watcher's metrics stay attached when a run adds its journal).
    pub fn with_observer(&self, obs: Arc<dyn CallObserver>) -> Client {
        let observer: Arc<dyn CallObserver> = match &self.observer {
            Some(first) => Arc::new(Both(first.clone(), obs)),
            None => obs,
        };
        Client {
            observer: Some(observer),
            ..self.clone()
        }
    }

    /// A client that retries per `policy` (e.g. [`RetryPolicy::never`] for a write whose
    /// outcome the caller would rather read back than repeat). Transport failures of writes are
    /// otherwise retried: a write may then be applied twice, which the API answers with a
    /// "already done" code the caller checks (e.g. `DuplicatedHaVipAssociations`).
    pub fn with_retry(&self, policy: RetryPolicy) -> Client {
        Client {
            retry: Some(policy),
            ..self.clone()
        }
    }

    /// A client whose every attempt, retries included, first waits for a cell of `limit`
    /// (never past the call's deadline). Clones of the result, and every other client given a
    /// clone of `limit`, draw on the same budget.
    pub fn with_rate_limit(&self, limit: RateLimit) -> Client {
        Client {
            rate_limit: Some(limit),
            ..self.clone()
        }
    }

    /// The same client (connections, credentials, clock skew, budget) calling `region`.
    pub fn with_region(&self, region: &str) -> Client {
        Client {
            region: Some(region.to_string()),
            ..self.clone()
        }
    }

    pub fn region(&self) -> &str {
        self.region.as_deref().unwrap_or(&self.inner.cfg.region)
    }

    /// The budget this client's attempts wait for, if any.
    pub fn rate_limit(&self) -> Option<&RateLimit> {
        self.rate_limit.as_ref()
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.cfg
    }

    /// The deadline set with [`Client::with_deadline`], if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The deadline a call starting at `start` runs under.
    pub(crate) fn effective_deadline(&self, start: Instant) -> Instant {
        self.deadline.unwrap_or(start + self.inner.cfg.deadline)
    }

    /// The clock offset (server minus local, seconds) measured so far; 0 until a
    /// `SignatureExpire` was seen.
    pub fn clock_skew(&self) -> i64 {
        self.inner.skew.load(Ordering::Relaxed)
    }

    /// The server's clock minus ours, in seconds, from the `Date` header of the latest
    /// response (any answer, an error included); `None` before any response had one. Unlike
    /// [`Client::clock_skew`], measured on every response, not only after `SignatureExpire`.
    pub fn server_clock_offset(&self) -> Option<i64> {
        match self.inner.date_offset.load(Ordering::Relaxed) {
            NO_DATE => None,
            offset => Some(offset),
        }
    }

    /// Where the credentials come from (for logs).
    pub(crate) fn credentials_source(&self) -> String {
        self.inner.creds.source()
    }

    /// Calls a typed action and decodes its response.
    pub async fn call<A: Action>(&self, req: &A) -> Result<A::Response, Error> {
        let params = serde_json::to_value(req).map_err(|e| Error::ConfigFrom {
            what: format!("cannot encode {} parameters", A::ACTION),
            source: Box::new(e),
        })?;
        let start = Instant::now();
        self.before(A::SERVICE, A::ACTION, A::MUTATING);
        let (result, attempts) = self
            .execute(A::SERVICE, A::VERSION, A::ACTION, &params, start)
            .await;
        let result = result.and_then(|text| {
            let r = text.decode::<A::Response>(A::ACTION)?;
            Ok((r, text.into_request_id()))
        });
        let call = (A::SERVICE, A::ACTION, A::MUTATING);
        self.observe(call, &params, start, attempts, &result);
        result.map(|(r, _)| r)
    }

    /// Calls any action with JSON parameters; returns the `Response` object (RequestId included).
    /// A raw call declares nothing about itself: anything but a `Describe*` counts as a write.
    pub async fn call_raw(
        &self,
        service: &str,
        version: &str,
        action: &str,
        params: &Value,
    ) -> Result<Value, Error> {
        let start = Instant::now();
        let mutating = !super::is_read(action);
        self.before(service, action, mutating);
        let (result, attempts) = self.execute(service, version, action, params, start).await;
        let result = result.and_then(|text| Ok((text.value()?, text.into_request_id())));
        self.observe(
            (service, action, mutating),
            params,
            start,
            attempts,
            &result,
        );
        result.map(|(v, _)| v)
    }

    /// Tells the observer a call is about to be sent (so a write is journaled before it is made).
    fn before(&self, service: &str, action: &str, mutating: bool) {
        if let Some(obs) = &self.observer {
            obs.before_call(service, action, mutating);
        }
    }

    fn observe<T>(
        &self,
        (service, action, mutating): (&str, &str, bool),
        params: &Value,
        start: Instant,
        attempts: u32,
        result: &Result<(T, Option<String>), Error>,
    ) {
        let Some(obs) = &self.observer else { return };
        let (request_id, outcome) = match result {
            Ok((_, id)) => (id.clone(), CallOutcome::Ok),
            Err(e) => (
                e.request_id().map(str::to_string),
                CallOutcome::Failed(e.label()),
            ),
        };
        obs.on_call(&CallRecord {
            service: service.to_string(),
            action: action.to_string(),
            request_id,
            duration: start.elapsed(),
            attempts,
            outcome,
            mutating,
            params: params.clone(),
        });
    }

    /// `service`'s endpoint: the configured one (`{service}` substituted) or the default,
    /// parsed and checked once.
    fn endpoint(&self, service: &str) -> Result<reqwest::Url, Error> {
        let mut known = self
            .inner
            .endpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(url) = known.get(service) {
            return Ok(url.clone());
        }
        let url = match &self.inner.cfg.endpoint {
            Some(ep) => parse_endpoint(ep, service)?,
            None => parse_endpoint(&default_endpoint(service), service)?,
        };
        known.insert(service.to_string(), url.clone());
        Ok(url)
    }

    /// Sends until success, a non-retryable error, the attempt limit or the deadline.
    async fn execute(
        &self,
        service: &str,
        version: &str,
        action: &str,
        params: &Value,
        start: Instant,
    ) -> (Result<ResponseText, Error>, u32) {
        let cfg = &self.inner.cfg;
        let retry = self.retry.as_ref().unwrap_or(&cfg.retry);
        let deadline = self.effective_deadline(start);
        let budget = deadline.saturating_duration_since(start);
        let body = match serde_json::to_vec(params) {
            Ok(b) => b,
            Err(e) => {
                let e = Error::ConfigFrom {
                    what: "cannot encode parameters".into(),
                    source: Box::new(e),
                };
                return (Err(e), 0);
            }
        };
        let url = match self.endpoint(service) {
            Ok(u) => u,
            Err(e) => return (Err(e), 0),
        };
        let mut attempts = 0u32;
        let mut skew_corrected: Option<i64> = None;
        let mut token_refreshed = false;
        let mut last: Option<Error> = None;
        let expired = |attempts: u32, last: Option<Error>| {
            let last = last.map(Box::new);
            let e = Error::DeadlineExceeded {
                budget,
                attempts,
                last,
            };
            (Err(e), attempts)
        };
        loop {
            let now = Instant::now();
            if now >= deadline {
                return expired(attempts, last);
            }
            if let Some(limit) = &self.rate_limit {
                if !limit.until_ready_by(deadline).await {
                    return expired(attempts, last);
                }
            }
            let now = Instant::now();
            attempts += 1;
            let per_request = cfg
                .request_timeout
                .min(deadline.saturating_duration_since(now));
            let outcome = tokio::time::timeout(
                per_request,
                self.attempt(service, version, action, &url, &body),
            )
            .await
            .unwrap_or_else(|_| {
                Err(AttemptError::from(Error::Transport {
                    message: format!(
                        "{action}: no response within {:.1}s (per-request timeout)",
                        per_request.as_secs_f64()
                    ),
                    timed_out: true,
                }))
            });
            let AttemptError { error, server_time } = match outcome {
                Ok(v) => return (Ok(v), attempts),
                Err(e) => e,
            };
            if per_request < cfg.request_timeout && error.is_timed_out() && last.is_some() {
                // The deadline, not the server, cut this attempt short: the news is the deadline,
                // and the last answer the server gave (e.g. RequestLimitExceeded) says why.
                return expired(attempts, last);
            }
            let class = error.class();
            tracing::debug!(action, attempt = attempts, class = class.as_str(), error = %error, "attempt failed");
            match class {
                ErrorClass::ClockSkew => {
                    if let Some(measured) = skew_corrected {
                        // Re-signed with the server's own time and still expired: report the skew.
                        return (
                            Err(Error::ClockSkew {
                                skew_secs: measured,
                                source: Box::new(error),
                            }),
                            attempts,
                        );
                    }
                    let Some(server) = server_time else {
                        return (Err(error), attempts);
                    };
                    let offset = server - cfg.clock.now_unix();
                    tracing::warn!(
                        skew_secs = offset,
                        "API server clock differs from ours by {offset} s (AuthFailure.SignatureExpire); \
                         re-signing with the server's time — fix NTP on this host"
                    );
                    self.inner.skew.store(offset, Ordering::Relaxed);
                    skew_corrected = Some(offset);
                    last = Some(error);
                    continue;
                }
                ErrorClass::TokenExpired if !token_refreshed => {
                    token_refreshed = true;
                    self.inner.creds.invalidate().await;
                    last = Some(error);
                    continue;
                }
                _ => {}
            }
            if !retry.should_retry(class, attempts) {
                return (Err(error), attempts);
            }
            let wait = retry.backoff(class, attempts, rand::random::<f64>());
            if Instant::now() + wait >= deadline {
                return expired(attempts, Some(error));
            }
            tracing::debug!(action, wait_ms = wait.as_millis() as u64, "retrying");
            last = Some(error);
            tokio::time::sleep(wait).await;
        }
    }

    /// One signed HTTP exchange.
    async fn attempt(
        &self,
        service: &str,
        version: &str,
        action: &str,
        url: &reqwest::Url,
        body: &[u8],
    ) -> Result<ResponseText, AttemptError> {
        let cfg = &self.inner.cfg;
        let creds = self.inner.creds.credentials().await?;
        let host = host_header(url);
        let timestamp = cfg.clock.now_unix() + self.inner.skew.load(Ordering::Relaxed);
        let signable = tc3_sign::SignableRequest::post(&host, CONTENT_TYPE, body);
        let authorization = if tracing::enabled!(tracing::Level::DEBUG) {
            let call = Call {
                service,
                version,
                action,
                url,
                region: self.region(),
            };
            sign_and_log(&signable, &creds, &call, timestamp)?
        } else {
            self.inner
                .signer
                .authorization(&signable, &creds, service, timestamp)?
        };
        let mut req = self
            .inner
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header("X-TC-Action", action)
            .header("X-TC-Timestamp", timestamp.to_string())
            .header("X-TC-Version", version)
            .header("X-TC-Language", cfg.language.as_str())
            .header("X-TC-RequestClient", REQUEST_CLIENT)
            .body(body.to_vec());
        if !self.region().is_empty() {
            req = req.header("X-TC-Region", self.region());
        }
        if let Some(token) = creds.token() {
            let mut value = reqwest::header::HeaderValue::from_str(token)
                .map_err(|_| Error::Credentials("token is not a valid header value".into()))?;
            value.set_sensitive(true);
            req = req.header("X-TC-Token", value);
        }
        let resp = req.send().await.map_err(|e| send_error(action, &e))?;
        let status = resp.status();
        let server_time = resp
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date);
        if let Some(server) = server_time {
            let offset = server - cfg.clock.now_unix();
            self.inner.date_offset.store(offset, Ordering::Relaxed);
        }
        let bytes = read_body(resp, action).await?;
        tracing::debug!(
            action,
            status = status.as_u16(),
            bytes = bytes.len(),
            "response received"
        );
        let result = if status != reqwest::StatusCode::OK {
            let text = String::from_utf8_lossy(&bytes);
            Err(Error::HttpStatus {
                status: status.as_u16(),
                body: clip_to(text.trim(), 300),
                request_id: serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|v| v.get("Response").and_then(request_id_of)),
            })
        } else {
            split_envelope(&bytes)
        };
        result.map_err(|error| AttemptError { error, server_time })
    }
}
