//! The `tcsim` binary: first stdout line, clean SIGTERM, scenario files and the generator.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn spawn(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tcsim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tcsim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}

fn stop(mut child: Child) {
    // SAFETY: plain kill(2) on our child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            return;
        }
        assert!(Instant::now() < deadline, "tcsim did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn prints_the_url_then_stops_on_sigterm() {
    let (child, line) = spawn(&["--listen", "127.0.0.1:0", "--scenario", "seed"]);
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line {line:?}"))
        .trim()
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let v: serde_json::Value = reqwest::get(format!("{url}/_sim/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["ok"], true);
    stop(child);
}

#[tokio::test]
async fn tls_flag_prints_https() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("ca.pem");
    let (child, line) = spawn(&[
        "--listen",
        "127.0.0.1:0",
        "--tls",
        "--tls-san",
        "vpc.tencentcloudapi.com",
        "--tls-cert-out",
        pem.to_str().unwrap(),
    ]);
    assert!(
        line.starts_with("listening on https://127.0.0.1:"),
        "{line:?}"
    );
    let cert = reqwest::Certificate::from_pem(&std::fs::read(&pem).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(cert)
        .build()
        .unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap();
    let resp = client
        .get(format!("{url}/_sim/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    stop(child);
}

#[tokio::test]
async fn generated_scenario_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["big.json", "big.toml"] {
        let path = dir.path().join(name);
        let out = Command::new(env!("CARGO_BIN_EXE_tcsim"))
            .args([
                "generate",
                "--havips",
                "250",
                "--eips",
                "400",
                "--regions",
                "ap-guangzhou,ap-singapore",
            ])
            .args(["--out", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (child, line) = spawn(&[
            "--listen",
            "127.0.0.1:0",
            "--scenario",
            path.to_str().unwrap(),
        ]);
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .to_string();
        let state: serde_json::Value = reqwest::get(format!("{url}/_sim/state"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(state["havips"].as_array().unwrap().len(), 250);
        assert_eq!(state["addresses"].as_array().unwrap().len(), 400);
        let sg = state["havips"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["region"] == "ap-singapore")
            .count();
        assert_eq!(sg, 125);
        stop(child);
    }
}

#[test]
fn bad_scenario_fails_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[[havips]]\nid = \"havip-x\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tcsim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--scenario",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("scenario"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_tcsim"))
        .args(["--listen", "127.0.0.1:0", "--scenario", "no-such-scenario"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
