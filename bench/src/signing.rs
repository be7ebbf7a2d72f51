//! Comparison 2: signing. tc3-sign against the official Python SDK's own signing code path
//! (`bench/py/sign_loop.py`: `AbstractClient._get_tc3_signature`, which ends in
//! `Sign.sign_tc3`, plus the Authorization header) on the same inputs, in signatures per second
//! on one core. Both sides sign a POST DescribeHaVips with a 202-byte JSON body; the Python
//! process stays up and runs a batch whenever the harness asks, so the two sides alternate batch
//! by batch in one run. The Python side's header is checked against tc3-sign's first.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, ChildStdout, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use tc3_sign::{sign, SignableRequest, Signer, SigningParams};

use crate::stats::{alternate, Better, Comparison, Side, Target};
use crate::tools::Tools;

const HOST: &str = "vpc.tencentcloudapi.com";
const CONTENT_TYPE: &str = "application/json";
const SECRET_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
const SECRET_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
const TIMESTAMP: i64 = 1_700_000_000;
/// The body havip's HAVIP lookup sends, as the Python SDK would serialise it (202 bytes; the
/// same as tc3-sign/benches/sign.rs).
pub const BODY: &str = r#"{"HaVipIds": ["havip-iam00099"], "Filters": [{"Name": "vpc-id", "Values": ["vpc-iam00001"]}, {"Name": "subnet-id", "Values": ["subnet-iam00004"]}, {"Name": "havip-name", "Values": ["web"]}], "Offset": 0, "Limit": 20}"#;
/// How long one batch should take, in seconds.
const BATCH_S: f64 = 0.25;

fn params() -> SigningParams<'static> {
    SigningParams {
        secret_id: SECRET_ID,
        secret_key: SECRET_KEY,
        service: "vpc",
        timestamp: TIMESTAMP,
    }
}

/// `sign()`: every stage returned, the signing key derived on every call.
pub fn sign_full() -> String {
    let req = SignableRequest::post(HOST, CONTENT_TYPE, black_box(BODY.as_bytes()));
    let signed = sign(&req, black_box(&params())).expect("a valid timestamp");
    signed.authorization.to_string()
}

/// `Signer`: the Authorization header only, the day's signing key kept between calls.
pub fn sign_cached(signer: &mut Signer) -> String {
    let req = SignableRequest::post(HOST, CONTENT_TYPE, black_box(BODY.as_bytes()));
    signer
        .authorization(&req, "vpc", black_box(TIMESTAMP))
        .expect("a valid timestamp")
}

/// Signatures per second of `n` calls of `f`.
fn rate(n: u64, mut f: impl FnMut() -> String) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        black_box(f());
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// The batch size that takes about `BATCH_S` at `rate` signatures per second.
fn batch(rate: f64) -> u64 {
    ((rate * BATCH_S) as u64).max(100)
}

struct Python {
    child: std::process::Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    n: u64,
}

impl Python {
    fn start(t: &Tools) -> Result<(Python, String)> {
        let inputs = serde_json::json!({
            "secret_id": SECRET_ID, "secret_key": SECRET_KEY, "service": "vpc", "host": HOST,
            "content_type": CONTENT_TYPE, "body": BODY, "timestamp": TIMESTAMP,
        });
        let mut child = t
            .command(&t.python)
            .arg(t.root.join("bench/py/sign_loop.py"))
            .arg(inputs.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting bench/py/sign_loop.py")?;
        let stdin = child.stdin.take().context("stdin")?;
        let mut stdout = BufReader::new(child.stdout.take().context("stdout")?);
        let mut header = String::new();
        stdout.read_line(&mut header)?;
        Ok((
            Python {
                child,
                stdin,
                stdout,
                n: 1000,
            },
            header.trim().to_owned(),
        ))
    }

    /// One batch of `self.n` signatures: signatures per second.
    fn round(&mut self) -> Result<f64> {
        writeln!(self.stdin, "{}", self.n)?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        let ns: f64 = line
            .trim()
            .parse()
            .with_context(|| format!("sign_loop.py answered {line:?}"))?;
        Ok(self.n as f64 / (ns / 1e9))
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn run(t: &Tools, rounds: usize) -> Result<Vec<Comparison>> {
    let mut signer = Signer::new(SECRET_ID, SECRET_KEY);
    let expected = sign_full();
    if sign_cached(&mut signer) != expected {
        bail!("tc3-sign's Signer and sign() disagree on the benchmark inputs");
    }
    let (mut py, py_header) = Python::start(t)?;
    if py_header != expected {
        bail!("the Python SDK signs differently:\n  SDK:      {py_header}\n  tc3-sign: {expected}");
    }
    // Calibration (not counted): one batch each, sized from a first small one.
    let n_full = batch(rate(1000, sign_full));
    let n_cached = batch(rate(1000, || sign_cached(&mut signer)));
    py.n = batch(py.round()?);
    eprintln!(
        "  signing: {rounds} batches per side ({n_full}/{n_cached}/{} signatures)",
        py.n
    );
    let s = alternate(
        rounds,
        &mut [
            &mut || Ok(rate(n_full, sign_full)),
            &mut || Ok(rate(n_cached, || sign_cached(&mut signer))),
            &mut || py.round(),
        ],
    )?;
    let python = Side::new("Python SDK", &s[2]);
    let note = "POST DescribeHaVips, 202-byte body, one thread; the same Authorization header on both sides";
    let cached = Comparison::new(
        "signing.cached.per_s",
        "signatures per second: tc3-sign Signer (signing key kept per day) vs the Python SDK",
        "signatures/s",
        Better::Higher,
        Side::new("tc3-sign Signer", &s[1]),
        python.clone(),
    );
    let t = Target::ratio_at_least(
        "tc3-sign ≥ 10× the Python SDK's signing rate",
        &cached,
        10.0,
    );
    Ok(vec![
        cached
            .with_target(t)
            .with_note(note),
        Comparison::new(
            "signing.full.per_s",
            "signatures per second: tc3-sign sign() (every stage, key derived per call) vs the Python SDK",
            "signatures/s",
            Better::Higher,
            Side::new("tc3-sign sign()", &s[0]),
            python,
        )
        .with_note(note),
    ])
}
