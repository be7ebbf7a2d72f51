//! Throughput of tcsim: signed `DescribeHaVips` requests per second over loopback.
//!
//! The target (tcsim issue): at least 5,000/s on the 2-core machine, so tcsim is never the
//! bottleneck of havip's own benchmarks. The simulator runs in-process on its own tokio runtime
//! (the seed scenario, rate limit off, as a benchmark scenario would set it); a few client tasks
//! on a second runtime sign every request afresh (TC3-HMAC-SHA256, current timestamp) and send
//! it with reqwest over keep-alive HTTP/1.1 connections. Every answer is checked to be a
//! success carrying the seed HAVIP; any error fails the run.
//!
//! `cargo bench -p tcsim --bench describe_havips`
//!
//! Bounded: `TCSIM_BENCH_REQUESTS` (default 20000) per transport, `TCSIM_BENCH_SECS` (default 30)
//! at most, `TCSIM_BENCH_CONCURRENCY` (default 8) tasks. `TCSIM_BENCH_TLS=0` skips the HTTPS run.
//! `TCSIM_BENCH_ENFORCE=1` exits non-zero below 5,000/s. Loopback only.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tc3_sign::{sign, SignableRequest, SigningParams};
use tcsim::testing::{EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY};
use tcsim::SimOptions;

const TARGET_PER_S: f64 = 5_000.0;
/// What havip's lookup sends: the seed HAVIP by ID (the SDK's JSON style).
const BODY: &str = r#"{"HaVipIds": ["havip-iam00099"], "Offset": 0, "Limit": 20}"#;

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Outcome {
    ok: u64,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

/// One signed DescribeHaVips; returns an error unless it is a success with the seed HAVIP.
async fn one(client: &reqwest::Client, url: &str, host: &str) -> Result<(), String> {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signable = SignableRequest::post(host, "application/json", BODY.as_bytes());
    let params = SigningParams {
        secret_id: EXAMPLE_SECRET_ID,
        secret_key: EXAMPLE_SECRET_KEY,
        service: "vpc",
        timestamp: ts,
    };
    let auth = sign(&signable, &params)
        .map_err(|e| e.to_string())?
        .authorization
        .to_string();
    let resp = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-TC-Action", "DescribeHaVips")
        .header("X-TC-Version", "2017-03-12")
        .header("X-TC-Region", "ap-guangzhou")
        .header("X-TC-Timestamp", ts.to_string())
        .header("Authorization", auth)
        .body(BODY)
        .send()
        .await
        .map_err(|e| format!("send: {e}"))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| format!("body: {e}"))?;
    let text = String::from_utf8_lossy(&body);
    if !status.is_success() || text.contains("\"Error\"") || !text.contains("havip-iam00099") {
        return Err(format!("HTTP {status}: {text}"));
    }
    Ok(())
}

async fn drive(
    client: reqwest::Client,
    url: String,
    host: String,
    total: u64,
    concurrency: u64,
    cap: Duration,
) -> Result<Outcome, String> {
    // Warm-up: connections, TLS sessions, the server's first allocations.
    for _ in 0..200 {
        one(&client, &url, &host).await?;
    }
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, host, issued) =
            (client.clone(), url.clone(), host.clone(), issued.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while issued.fetch_add(1, Ordering::Relaxed) < total && started.elapsed() < cap {
                let t = Instant::now();
                one(&client, &url, &host).await?;
                lat.push(t.elapsed().as_micros() as u64);
            }
            Ok::<_, String>(lat)
        }));
    }
    let mut latencies_us = Vec::new();
    for t in tasks {
        latencies_us.extend(t.await.map_err(|e| e.to_string())??);
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Ok(Outcome {
        ok: latencies_us.len() as u64,
        elapsed,
        latencies_us,
    })
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn run(tls: bool, total: u64, concurrency: u64, cap: Duration) -> Result<f64, String> {
    // The simulator: its own runtime, as if it were another process.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("tcsim")
        .enable_all()
        .build()
        .unwrap();
    let cert_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cert_path = cert_dir.path().join("ca.pem");
    let opts = SimOptions {
        tls,
        tls_cert_out: tls.then(|| cert_path.clone()),
        // The seed's default per-action limit (20/s) models the real API; a load test turns it off.
        rate_limit: Some(0),
        ..SimOptions::new("seed")
    };
    let server = server_rt
        .block_on(tcsim::serve(opts))
        .map_err(|e| format!("starting tcsim: {e:#}"))?;
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback(), "loopback only");
    let url = format!("{}/", server.url());
    let host = addr.to_string();

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("client")
        .enable_all()
        .build()
        .unwrap();
    let mut builder = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .timeout(Duration::from_secs(10))
        .no_proxy();
    if tls {
        let pem = std::fs::read(&cert_path).map_err(|e| format!("reading the cert: {e}"))?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| e.to_string())?;
        builder = builder.add_root_certificate(cert);
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    let outcome = client_rt.block_on(drive(client, url.clone(), host, total, concurrency, cap));
    server_rt.block_on(server.shutdown());
    let o = outcome?;

    let rate = o.ok as f64 / o.elapsed.as_secs_f64();
    println!(
        "tcsim DescribeHaVips over {:5}: {:6} signed requests in {:6.3} s = {:8.0} req/s \
         ({} concurrent, keep-alive; latency p50 {} us, p99 {} us, max {} us) [target >= {:.0}/s: {}]",
        if tls { "HTTPS" } else { "HTTP" },
        o.ok,
        o.elapsed.as_secs_f64(),
        rate,
        concurrency,
        pct(&o.latencies_us, 0.50),
        pct(&o.latencies_us, 0.99),
        o.latencies_us.last().copied().unwrap_or(0),
        TARGET_PER_S,
        if rate >= TARGET_PER_S { "met" } else { "NOT MET" },
    );
    Ok(rate)
}

fn main() {
    // `cargo bench` passes `--bench` (and any filter); this harness has nothing to filter.
    let total: u64 = env_num("TCSIM_BENCH_REQUESTS", 20_000);
    let cap = Duration::from_secs(env_num("TCSIM_BENCH_SECS", 30));
    let concurrency: u64 = env_num("TCSIM_BENCH_CONCURRENCY", 8).max(1);
    let with_tls = std::env::var("TCSIM_BENCH_TLS").map_or(true, |v| v != "0");
    let enforce = std::env::var("TCSIM_BENCH_ENFORCE").is_ok_and(|v| v == "1");

    let mut below = false;
    for tls in [false, true] {
        if tls && !with_tls {
            continue;
        }
        match run(tls, total, concurrency, cap) {
            Ok(rate) => below |= rate < TARGET_PER_S,
            Err(e) => {
                eprintln!("tcsim bench failed: {e}");
                std::process::exit(1);
            }
        }
    }
    if enforce && below {
        eprintln!("tcsim served fewer than {TARGET_PER_S:.0} DescribeHaVips/s");
        std::process::exit(1);
    }
}
