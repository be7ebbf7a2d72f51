//! The API request pipeline at `/`, one stage per function, in the order `tcsim/README.md`
//! documents ("Request checks, in order"): method and size limits → parameters parsed (errors
//! held back) → common parameters → authentication → version, action and region → parameter
//! errors → rate limit → faults → the action → the envelope. Each stage passes the request on
//! or answers with the real error code; every request, answered or rejected, is logged.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::{json, Map, Value};

use crate::actions::{self, Ctx};
use crate::auth::{self, AuthRequest};
use crate::error::{ApiError, ApiResult};
use crate::faults::Effect;
use crate::params::Params;
use crate::reqlog::LogEntry;
use crate::Sim;

/// POST bodies above this are `RequestSizeLimitExceeded` (the documented API limit is 10 MB).
pub const MAX_BODY: usize = 10 * 1024 * 1024;
/// GET requests above this are `RequestSizeLimitExceeded` (documented: 32 KB).
pub const MAX_QUERY: usize = 32 * 1024;
/// Bytes read and discarded after an oversized body, so the client sees the answer rather
/// than a reset connection.
const MAX_DRAIN: usize = 64 * 1024 * 1024;
/// The longest a `hang` fault holds a request.
pub const HANG_CAP: Duration = Duration::from_secs(600);

/// The API versions this simulator serves.
pub const VERSIONS: &[&str] = &["2017-03-12"];

/// The answer to an API request, before rendering.
enum Outcome {
    Ok(Map<String, Value>),
    Err(ApiError),
    Http(u16),
}

impl From<ApiError> for Outcome {
    fn from(e: ApiError) -> Self {
        Outcome::Err(e)
    }
}

/// What the stages read of the request line and headers.
struct ApiRequest<'a> {
    method: &'a Method,
    uri: &'a Uri,
    headers: &'a HeaderMap,
}

impl ApiRequest<'_> {
    fn query(&self) -> &str {
        self.uri.query().unwrap_or("")
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The handler for `/`: runs the pipeline, logs the request, renders the envelope.
pub async fn api(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut entry = LogEntry {
        action: None,
        params: Value::Null,
        code: None,
        request_id: request_id.clone(),
        region: None,
        time: sim.clock.unix(),
    };
    let req = ApiRequest {
        method: &method,
        uri: &uri,
        headers: &headers,
    };
    let outcome = match pipeline(&sim, &req, body, &request_id, &mut entry).await {
        Ok(map) => Outcome::Ok(map),
        Err(outcome) => outcome,
    };
    record(&sim, entry, &outcome);
    envelope(&request_id, outcome)
}

/// The stages in order; `Err` is the answer of the stage that stopped the request.
async fn pipeline(
    sim: &Sim,
    req: &ApiRequest<'_>,
    body: Body,
    request_id: &str,
    entry: &mut LogEntry,
) -> Result<Map<String, Value>, Outcome> {
    let body = read_within_limits(req, body).await?;
    // Parameters are parsed up front so that even rejected requests are logged with them;
    // a parse error is reported only once the request is authenticated.
    let (params, query_common) = parse_params(req, &body);
    if let Ok(p) = &params {
        entry.params = p.to_value();
    }
    let call = common_params(req, &query_common, entry)?;
    authenticate(sim, req, &body, &call.timestamp)?;
    let service = auth::signed_service(req.header("authorization")).unwrap_or("vpc");
    let region = check_target(sim, &call, service)?;
    let params = params?;
    rate_limit(sim, &call.action)?;
    inject_fault(sim, &call.action).await?;
    let ctx = Ctx {
        sim,
        action: &call.action,
        region: &region,
        request_id,
    };
    Ok(actions::dispatch(&ctx, &params)?)
}

/// GET or POST only; a GET query up to 32 KB, a body up to 10 MB.
async fn read_within_limits(req: &ApiRequest<'_>, body: Body) -> ApiResult<Bytes> {
    let method = req.method;
    if method != Method::POST && method != Method::GET {
        return Err(ApiError::new(
            "UnsupportedProtocol",
            format!("The HTTP method {method} is not supported; use GET or POST."),
        ));
    }
    if method == Method::GET && req.query().len() > MAX_QUERY {
        return Err(ApiError::new(
            "RequestSizeLimitExceeded",
            "GET requests are limited to 32 KB.",
        ));
    }
    match read_body(body, MAX_BODY).await {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(ApiError::new(
            "RequestSizeLimitExceeded",
            "The request body exceeds 10 MB.",
        )),
        Err(()) => Err(ApiError::new(
            "InvalidRequest",
            "The request body could not be read.",
        )),
    }
}

/// Reads at most `limit` bytes; beyond that, drains (up to a cap) and returns `None`.
async fn read_body(body: Body, limit: usize) -> Result<Option<Bytes>, ()> {
    let mut body = body;
    let mut buf = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| ())?;
        if let Ok(data) = frame.into_data() {
            total += data.len();
            if total <= limit {
                buf.extend_from_slice(&data);
            } else if total > MAX_DRAIN {
                return Ok(None);
            }
        }
    }
    Ok(if total <= limit {
        Some(Bytes::from(buf))
    } else {
        None
    })
}

/// The action's parameters (from the GET query, a form body or a JSON body), and the common
/// parameters a query or form carried (`Action`, `Region`, …; empty when parsing failed).
fn parse_params(
    req: &ApiRequest<'_>,
    body: &[u8],
) -> (ApiResult<Params>, BTreeMap<String, String>) {
    let content_type = req.header("content-type").unwrap_or("");
    let ct = content_type.to_ascii_lowercase();
    let parsed = if *req.method == Method::GET {
        Params::from_query(req.query())
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        match std::str::from_utf8(body) {
            Ok(text) => Params::from_query(text),
            Err(_) => Err(ApiError::new(
                "InvalidParameterValue.NotUtf8EncodingError",
                "The form body is not UTF-8.",
            )),
        }
    } else if ct.starts_with("application/json") || ct.is_empty() {
        Params::from_json(body).map(|p| (p, Default::default()))
    } else {
        Err(ApiError::new(
            "InvalidParameter",
            format!("Content-Type {content_type:?} is not supported; use application/json."),
        ))
    };
    match parsed {
        Ok((p, common)) => (Ok(p), common),
        Err(e) => (Err(e), Default::default()),
    }
}

/// The common parameters every call needs.
struct Call {
    action: String,
    version: String,
    timestamp: String,
    region: Option<String>,
}

/// Action, Version, Timestamp (and Region, checked later) from the `X-TC-*` headers, else from
/// the query. The action and region are logged even when something is missing.
fn common_params(
    req: &ApiRequest<'_>,
    query_common: &BTreeMap<String, String>,
    entry: &mut LogEntry,
) -> ApiResult<Call> {
    let common_or = |header: &str, key: &str| -> Option<String> {
        req.header(header)
            .map(str::to_string)
            .or_else(|| query_common.get(key).cloned())
    };
    let action = common_or("x-tc-action", "Action").filter(|a| !a.is_empty());
    entry.action = action.clone();
    let region = common_or("x-tc-region", "Region").filter(|r| !r.is_empty());
    entry.region = region.clone();
    let action = action.ok_or_else(|| ApiError::missing("Action"))?;
    let version =
        common_or("x-tc-version", "Version").ok_or_else(|| ApiError::missing("Version"))?;
    let timestamp =
        common_or("x-tc-timestamp", "Timestamp").ok_or_else(|| ApiError::missing("Timestamp"))?;
    Ok(Call {
        action,
        version,
        timestamp,
        region,
    })
}

/// TC3-HMAC-SHA256 over the request as received (see [`crate::auth`]).
fn authenticate(sim: &Sim, req: &ApiRequest<'_>, body: &[u8], timestamp: &str) -> ApiResult<()> {
    let mut headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    // HTTP/2 carries the host as `:authority`, which hyper puts in the URI, not in a header;
    // the signature still covers it as `host`.
    if !req.headers.contains_key(header::HOST) {
        if let Some(authority) = req.uri.authority() {
            headers.push(("host", authority.as_str()));
        }
    }
    let unsigned = req
        .header("x-tc-content-sha256")
        .is_some_and(|v| v.eq_ignore_ascii_case(tc3_sign::UNSIGNED_PAYLOAD));
    let auth_req = AuthRequest {
        method: req.method.as_str(),
        query: if *req.method == Method::GET {
            req.query()
        } else {
            ""
        },
        headers,
        body,
        unsigned_payload: unsigned,
        timestamp,
        authorization: req.header("authorization"),
        token: req.header("x-tc-token"),
    };
    auth::authenticate(sim, &auth_req).map(|_| ())
}

/// A served version, a known action of the service signed for, and a region that is real or used by the scenario.
fn check_target(sim: &Sim, call: &Call, service: &str) -> ApiResult<String> {
    let (action, version) = (&call.action, &call.version);
    if !VERSIONS.contains(&version.as_str()) {
        return Err(ApiError::new(
            "NoSuchVersion",
            format!("The API version `{version}` does not exist for service `vpc`."),
        ));
    }
    if !actions::ACTIONS.contains(&action.as_str()) || actions::service_of(action) != service {
        return Err(ApiError::new(
            "InvalidAction",
            format!(
                "The action `{action}` is not found for service `{service}` version `{version}`."
            ),
        ));
    }
    let Some(region) = call.region.clone() else {
        return Err(ApiError::missing("Region"));
    };
    if !actions::region_supported(sim, &region) {
        return Err(ApiError::new(
            "UnsupportedRegion",
            format!("The service `vpc` does not support the region `{region}`."),
        ));
    }
    Ok(region)
}

/// The per-action token bucket (`RequestLimitExceeded`).
fn rate_limit(sim: &Sim, action: &str) -> ApiResult<()> {
    let rate = sim.world().settings.rate_limit_for(action);
    if !sim.limiter().allow(action, rate, Instant::now()) {
        return Err(ApiError::new(
            "RequestLimitExceeded",
            format!("Your current request times equals to `{rate}` in a second, which exceeds the frequency limit `{rate}` for a second. Please reduce the frequency of calls."),
        ));
    }
    Ok(())
}

/// The request-time effect of the first fault rule that fires, if any. A delay passes the
/// request on afterwards; `task_result` rules fire later, when the action starts its task.
async fn inject_fault(sim: &Sim, action: &str) -> Result<(), Outcome> {
    let effect = sim.faults().take(action);
    match effect {
        None | Some(Effect::TaskFailed) => Ok(()),
        Some(Effect::Error(code)) => {
            Err(ApiError::new(code, "Injected fault (tcsim /_sim/faults).").into())
        }
        Some(Effect::HttpStatus(status)) => Err(Outcome::Http(status)),
        Some(Effect::DelayMs(ms)) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(())
        }
        Some(Effect::Hang) => {
            let mut stop = sim.stopping.subscribe();
            tokio::select! {
                _ = tokio::time::sleep(HANG_CAP) => {}
                _ = crate::stopped(&mut stop) => {}
            }
            Err(Outcome::Http(504))
        }
    }
}

/// Completes the log entry with the outcome's code and appends it to the request log.
fn record(sim: &Sim, mut entry: LogEntry, outcome: &Outcome) {
    entry.code = match outcome {
        Outcome::Ok(_) => None,
        Outcome::Err(e) => Some(e.code.clone()),
        Outcome::Http(s) => Some(format!("HTTP {s}")),
    };
    if let Some(code) = &entry.code {
        tracing::debug!(request_id = entry.request_id, action = ?entry.action, code, "API error");
    }
    sim.log().push(entry);
}

/// The real envelope (HTTP 200, `{"Response": {…, "RequestId"}}`), or a gateway's HTML page for
/// an injected HTTP failure.
fn envelope(request_id: &str, outcome: Outcome) -> Response {
    let body = match outcome {
        Outcome::Ok(mut map) => {
            map.insert("RequestId".into(), Value::String(request_id.into()));
            json!({ "Response": map })
        }
        Outcome::Err(e) => json!({"Response": {
            "Error": {"Code": e.code, "Message": e.message},
            "RequestId": request_id,
        }}),
        Outcome::Http(status) => {
            let code = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            return (
                code,
                [(header::CONTENT_TYPE, "text/html")],
                format!(
                    "<html><head><title>{code}</title></head><body><center><h1>{code}</h1></center><hr><center>tcsim injected fault</center></body></html>\n"
                ),
            )
                .into_response();
        }
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response()
}
