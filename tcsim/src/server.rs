//! The HTTP(S) server: accept loop, routing, and the API request pipeline
//! (size limits → common parameters → authentication → region/version/action → parameters →
//! rate limit → faults → action handler → envelope), every step answering the real error codes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::actions::{self, Ctx};
use crate::auth::{self, AuthRequest};
use crate::error::ApiError;
use crate::faults::Effect;
use crate::params::Params;
use crate::reqlog::LogEntry;
use crate::{Sim, SimOptions};

/// POST bodies above this are `RequestSizeLimitExceeded` (the documented API limit is 10 MB).
pub const MAX_BODY: usize = 10 * 1024 * 1024;
/// GET requests above this are `RequestSizeLimitExceeded` (documented: 32 KB).
pub const MAX_QUERY: usize = 32 * 1024;
/// Bytes read and discarded after an oversized body, so the client sees the answer rather
/// than a reset connection.
const MAX_DRAIN: usize = 64 * 1024 * 1024;
/// The longest a `hang` fault holds a request.
pub const HANG_CAP: Duration = Duration::from_secs(600);
/// How long connections get to finish when the server stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// The API versions this simulator serves.
pub const VERSIONS: &[&str] = &["2017-03-12"];

/// A started server.
pub struct RunningServer {
    addr: SocketAddr,
    /// With TLS: the CA certificate (PEM) clients should trust.
    ca_pem: Option<String>,
    sim: Arc<Sim>,
    task: tokio::task::JoinHandle<()>,
    arp: Option<crate::arp::ArpListener>,
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT` (`https` with TLS).
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.ca_pem.is_some() {
                "https"
            } else {
                "http"
            },
            self.addr
        )
    }

    pub fn sim(&self) -> &Arc<Sim> {
        &self.sim
    }

    /// With TLS: the CA certificate (PEM) that clients should trust.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Starts learning ARP from `iface`. The packet socket is opened on the calling thread, so
    /// a caller inside another network namespace listens there.
    pub fn listen_arp(&mut self, iface: &str) -> std::io::Result<()> {
        self.arp = Some(crate::arp::ArpListener::start(iface, self.sim.clone())?);
        Ok(())
    }

    /// Stops accepting, lets open connections finish briefly, then closes them.
    pub async fn shutdown(self) {
        self.sim.stopping.send_replace(true);
        if let Some(arp) = self.arp {
            arp.stop();
        }
        let _ = self.task.await;
    }
}

/// Binds and starts serving. The world is built from `opts` first, so a bad scenario fails
/// here.
pub async fn serve(opts: SimOptions) -> anyhow::Result<RunningServer> {
    let world = opts.build_world()?;
    let sim = Arc::new(Sim::new(world));
    sim.clock.set_offset_s(opts.clock_offset_s);
    let listener = TcpListener::bind(opts.listen)
        .await
        .with_context(|| format!("binding {}", opts.listen))?;
    let addr = listener.local_addr()?;
    let (acceptor, ca_pem) = if opts.tls {
        let (acceptor, pem) = crate::tls::acceptor(&opts.tls_sans, opts.tls_cert_out.as_deref())?;
        (Some(acceptor), Some(pem))
    } else {
        (None, None)
    };
    let arp = match &opts.arp_iface {
        Some(iface) => Some(
            crate::arp::ArpListener::start(iface, sim.clone())
                .with_context(|| format!("listening for ARP on {iface}"))?,
        ),
        None => None,
    };
    let app = router(sim.clone());
    let task = tokio::spawn(accept_loop(listener, acceptor, app, sim.clone()));
    Ok(RunningServer {
        addr,
        ca_pem,
        sim,
        task,
        arp,
    })
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    sim: Arc<Sim>,
) {
    let mut stop = sim.stopping.subscribe();
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            res = listener.accept() => match res {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(stream, peer, acceptor.clone(), app.clone(), sim.stopping.subscribe()));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stopped(&mut stop) => break,
        }
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    let deadline = tokio::time::sleep(SHUTDOWN_GRACE);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            next = conns.join_next() => if next.is_none() { break },
            _ = &mut deadline => { conns.abort_all(); break }
        }
    }
}

/// Resolves once the server is stopping, including when it already was (unlike `changed`, which
/// would miss a stop requested before the receiver was first polled).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    app: Router,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        async move { app.oneshot(req.map(Body::new)).await }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    macro_rules! drive {
        ($io:expr) => {{
            let conn = builder.serve_connection($io, svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stopped(&mut stop) => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        }};
    }
    match acceptor {
        None => drive!(TokioIo::new(stream)),
        Some(acceptor) => {
            let tls = tokio::select! {
                r = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)) => r,
                _ = stopped(&mut stop) => return,
            };
            match tls {
                Ok(Ok(s)) => drive!(TokioIo::new(s)),
                Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
            }
        }
    }
}

/// All routes: the API at `/`, metadata, control.
pub fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/", any(api))
        .merge(crate::metadata::routes())
        .merge(crate::control::routes())
        .fallback(not_found)
        .layer(axum::middleware::map_response_with_state(
            sim.clone(),
            date_header,
        ))
        .with_state(sim)
}

async fn not_found(uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!("tcsim: nothing at {}\n", uri.path()),
    )
        .into_response()
}

/// `Date` (RFC 7231 IMF-fixdate) from the simulated clock, on every response.
async fn date_header(State(sim): State<Arc<Sim>>, mut resp: Response) -> Response {
    let date = sim
        .clock
        .now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    if let Ok(v) = HeaderValue::from_str(&date) {
        resp.headers_mut().insert(header::DATE, v);
    }
    resp
}

/// The answer to an API request, before rendering.
enum Outcome {
    Ok(Map<String, Value>),
    Err(ApiError),
    Http(u16),
}

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

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn api(
    State(sim): State<Arc<Sim>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let arrival = sim.clock.unix();
    let mut entry = LogEntry {
        action: None,
        params: Value::Null,
        code: None,
        request_id: request_id.clone(),
        region: None,
        time: arrival,
    };
    let outcome = pipeline(&sim, &method, &uri, &headers, body, &request_id, &mut entry).await;
    entry.code = match &outcome {
        Outcome::Ok(_) => None,
        Outcome::Err(e) => Some(e.code.clone()),
        Outcome::Http(s) => Some(format!("HTTP {s}")),
    };
    if let Some(code) = &entry.code {
        tracing::debug!(request_id, action = ?entry.action, code, "API error");
    }
    sim.log().push(entry);
    envelope(&request_id, outcome)
}

async fn pipeline(
    sim: &Sim,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    request_id: &str,
    entry: &mut LogEntry,
) -> Outcome {
    macro_rules! fail {
        ($e:expr) => {
            return Outcome::Err($e)
        };
    }
    if method != Method::POST && method != Method::GET {
        fail!(ApiError::new(
            "UnsupportedProtocol",
            format!("The HTTP method {method} is not supported; use GET or POST."),
        ));
    }
    let query = uri.query().unwrap_or("");
    if method == Method::GET && query.len() > MAX_QUERY {
        fail!(ApiError::new(
            "RequestSizeLimitExceeded",
            "GET requests are limited to 32 KB.",
        ));
    }
    let body = match read_body(body, MAX_BODY).await {
        Ok(Some(b)) => b,
        Ok(None) => fail!(ApiError::new(
            "RequestSizeLimitExceeded",
            "The request body exceeds 10 MB.",
        )),
        Err(()) => fail!(ApiError::new(
            "InvalidRequest",
            "The request body could not be read.",
        )),
    };
    let content_type = header_str(headers, "content-type").unwrap_or("");
    let form_body = method == Method::POST
        && content_type
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded");

    // Parameters are parsed up front so that even rejected requests are logged with them;
    // a parse error is reported only once the request is authenticated.
    let parsed = if method == Method::GET {
        Params::from_query(query)
    } else if form_body {
        match std::str::from_utf8(&body) {
            Ok(text) => Params::from_query(text),
            Err(_) => Err(ApiError::new(
                "InvalidParameterValue.NotUtf8EncodingError",
                "The form body is not UTF-8.",
            )),
        }
    } else {
        let ct = content_type.to_ascii_lowercase();
        if ct.starts_with("application/json") || ct.is_empty() {
            Params::from_json(&body).map(|p| (p, Default::default()))
        } else {
            Err(ApiError::new(
                "InvalidParameter",
                format!("Content-Type {content_type:?} is not supported; use application/json."),
            ))
        }
    };
    let (params, common) = match parsed {
        Ok((p, c)) => {
            entry.params = p.to_value();
            (Ok(p), c)
        }
        Err(e) => (Err(e), Default::default()),
    };
    let common_or = |header: &str, key: &str| -> Option<String> {
        header_str(headers, header)
            .map(str::to_string)
            .or_else(|| common.get(key).cloned())
    };
    let action = common_or("x-tc-action", "Action").filter(|a| !a.is_empty());
    entry.action = action.clone();
    let region = common_or("x-tc-region", "Region").filter(|r| !r.is_empty());
    entry.region = region.clone();
    let Some(action) = action else {
        fail!(ApiError::missing("Action"));
    };
    let Some(version) = common_or("x-tc-version", "Version") else {
        fail!(ApiError::missing("Version"));
    };
    let Some(timestamp) = common_or("x-tc-timestamp", "Timestamp") else {
        fail!(ApiError::missing("Timestamp"));
    };

    // Authentication.
    let mut header_pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    // HTTP/2 carries the host as `:authority`, which hyper puts in the URI, not in a header;
    // the signature still covers it as `host`.
    if !headers.contains_key(header::HOST) {
        if let Some(authority) = uri.authority() {
            header_pairs.push(("host", authority.as_str()));
        }
    }
    let unsigned = header_str(headers, "x-tc-content-sha256")
        .is_some_and(|v| v.eq_ignore_ascii_case(tc3_sign::UNSIGNED_PAYLOAD));
    let auth_req = AuthRequest {
        method: method.as_str(),
        query: if method == Method::GET { query } else { "" },
        headers: header_pairs,
        body: &body,
        unsigned_payload: unsigned,
        timestamp: &timestamp,
        authorization: header_str(headers, "authorization"),
        token: header_str(headers, "x-tc-token"),
    };
    if let Err(e) = auth::authenticate(sim, &auth_req) {
        fail!(e);
    }

    if !VERSIONS.contains(&version.as_str()) {
        fail!(ApiError::new(
            "NoSuchVersion",
            format!("The API version `{version}` does not exist for service `vpc`."),
        ));
    }
    if !actions::ACTIONS.contains(&action.as_str()) {
        fail!(ApiError::new(
            "InvalidAction",
            format!("The action `{action}` is not found for version `{version}`."),
        ));
    }
    let Some(region) = region else {
        fail!(ApiError::missing("Region"));
    };
    if !actions::region_supported(sim, &region) {
        fail!(ApiError::new(
            "UnsupportedRegion",
            format!("The service `vpc` does not support the region `{region}`."),
        ));
    }
    let params = match params {
        Ok(p) => p,
        Err(e) => fail!(e),
    };

    let rate = sim.world().settings.rate_limit_for(&action);
    if !sim.limiter().allow(&action, rate, Instant::now()) {
        fail!(ApiError::new(
            "RequestLimitExceeded",
            format!("Your current request times equals to `{rate}` in a second, which exceeds the frequency limit `{rate}` for a second. Please reduce the frequency of calls."),
        ));
    }

    let effect = {
        let mut f = sim.faults();
        if f.is_empty() {
            None
        } else {
            f.take(&action)
        }
    };
    match effect {
        None | Some(Effect::TaskFailed) => {}
        Some(Effect::Error(code)) => {
            fail!(ApiError::new(code, "Injected fault (tcsim /_sim/faults).",))
        }
        Some(Effect::HttpStatus(status)) => return Outcome::Http(status),
        Some(Effect::DelayMs(ms)) => tokio::time::sleep(Duration::from_millis(ms)).await,
        Some(Effect::Hang) => {
            let mut stop = sim.stopping.subscribe();
            tokio::select! {
                _ = tokio::time::sleep(HANG_CAP) => {}
                _ = stopped(&mut stop) => {}
            }
            return Outcome::Http(504);
        }
    }

    let ctx = Ctx {
        sim,
        action: &action,
        region: &region,
        request_id,
    };
    match actions::dispatch(&ctx, &params) {
        Ok(map) => Outcome::Ok(map),
        Err(e) => Outcome::Err(e),
    }
}
