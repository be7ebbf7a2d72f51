//! The HTTP(S) server: binding, the accept loop with graceful shutdown, TLS, and routing (the
//! API at `/`, handled by [`crate::pipeline`]; metadata; the control API), with the `Date`
//! header from the simulated clock on every response.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderValue, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::{stopped, Sim, SimOptions};

/// How long connections get to finish when the server stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

pub use crate::pipeline::{HANG_CAP, MAX_BODY, MAX_QUERY, VERSIONS};

/// A started server.
pub struct RunningServer {
    addr: SocketAddr,
    /// With TLS: the CA certificate (PEM) clients should trust.
    ca_pem: Option<String>,
    sim: Arc<Sim>,
    task: tokio::task::JoinHandle<()>,
    arp: Option<crate::arp::ArpListener>,
    /// The metadata-only listener (`metadata_listen`): its address and accept loop.
    metadata: Option<(SocketAddr, tokio::task::JoinHandle<()>)>,
    dataplane: Option<crate::dataplane::DataPlane>,
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

    /// The metadata-only listener's `http://HOST:PORT`, when `metadata_listen` was given.
    pub fn metadata_url(&self) -> Option<String> {
        self.metadata.as_ref().map(|(a, _)| format!("http://{a}"))
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
        if let Some(dp) = self.dataplane {
            let _ = tokio::task::spawn_blocking(move || dp.stop()).await;
        }
        let _ = self.task.await;
        if let Some((_, task)) = self.metadata {
            let _ = task.await;
        }
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
    let metadata = match opts.metadata_listen {
        Some(at) => {
            let l = TcpListener::bind(at)
                .await
                .with_context(|| format!("binding the metadata listener {at}"))?;
            let addr = l.local_addr()?;
            let app = metadata_router(sim.clone());
            Some((addr, tokio::spawn(accept_loop(l, None, app, sim.clone()))))
        }
        None => None,
    };
    let dataplane = match &opts.eip_dataplane {
        Some(iface) => Some(crate::dataplane::DataPlane::start(sim.clone(), iface)?),
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
        metadata,
        dataplane,
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
        .route("/", any(crate::pipeline::api))
        .merge(crate::metadata::routes())
        .merge(crate::control::routes())
        .fallback(not_found)
        .layer(axum::middleware::map_response_with_state(
            sim.clone(),
            date_header,
        ))
        .with_state(sim)
}

/// The metadata service alone (`metadata_listen`): what a CVM reaches at 169.254.0.23.
pub fn metadata_router(sim: Arc<Sim>) -> Router {
    Router::new()
        .merge(crate::metadata::routes())
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
