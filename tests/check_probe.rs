//! `havip check` probes against loopback services: HTTP ok / wrong status / hang / refused,
//! TCP ok / refused, and drain flags, through the library (`plan` + `execute`).

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use havip::cmd::check::{execute, plan, CheckArgs, CheckError};
use support::server::{refused_port, Behaviour, Receiver};

fn args(http: Option<String>, tcp: Option<String>, state_dir: &Path) -> CheckArgs {
    CheckArgs {
        http,
        tcp,
        probe_timeout: Some(Duration::from_millis(500)),
        state_dir: Some(state_dir.to_path_buf()),
        vip: Some("iam".to_owned()),
        ..Default::default()
    }
}

async fn check(a: &CheckArgs) -> Result<String, CheckError> {
    execute(&plan(a, None, None, None)?).await
}

#[tokio::test]
async fn http_expected_status_is_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(Behaviour::ok("ok"));
    let ok = check(&args(Some(rx.url.clone()), None, dir.path())).await;
    assert!(ok.is_ok(), "{ok:?}");
    assert_eq!(rx.requests()[0].method, "GET");

    let rx204 = Receiver::start(Behaviour::status(204));
    let mut a = args(Some(rx204.url.clone()), None, dir.path());
    a.expect = Some(204);
    assert!(check(&a).await.is_ok());
}

#[tokio::test]
async fn http_wrong_status_fails() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(Behaviour::status(500));
    let e = check(&args(Some(rx.url.clone()), None, dir.path()))
        .await
        .unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert!(e.to_string().contains("answered 500, expected 200"), "{e}");

    // A redirect is an answer, not something to follow.
    let moved = Receiver::start(Behaviour::status(302));
    let e = check(&args(Some(moved.url.clone()), None, dir.path()))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("answered 302"), "{e}");
}

#[tokio::test]
async fn http_hang_times_out_within_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(Behaviour::Hang);
    let start = Instant::now();
    let e = check(&args(Some(rx.url.clone()), None, dir.path()))
        .await
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.exit_code(), 1);
    assert!(e.to_string().contains("timed out"), "{e}");
    assert!(took >= Duration::from_millis(450), "{took:?}");
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[tokio::test]
async fn http_refused_fails() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}/healthz", refused_port());
    let e = check(&args(Some(url), None, dir.path())).await.unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert!(e.to_string().contains("connection failed"), "{e}");
}

#[tokio::test]
async fn tcp_ok_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    assert!(check(&args(None, Some(addr), dir.path())).await.is_ok());

    let e = check(&args(
        None,
        Some(format!("127.0.0.1:{}", refused_port())),
        dir.path(),
    ))
    .await
    .unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert!(e.to_string().contains("connection failed"), "{e}");
}

#[tokio::test]
async fn both_probes_must_pass() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(Behaviour::ok("ok"));
    let e = check(&args(
        Some(rx.url.clone()),
        Some(format!("127.0.0.1:{}", refused_port())),
        dir.path(),
    ))
    .await
    .unwrap_err();
    assert!(e.to_string().starts_with("tcp "), "{e}");
}

#[tokio::test]
async fn drain_flag_fails_a_healthy_service() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start(Behaviour::ok("ok"));
    let a = args(Some(rx.url.clone()), None, dir.path());
    assert!(check(&a).await.is_ok());

    std::fs::write(dir.path().join("iam.drain"), "").unwrap();
    let e = check(&a).await.unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert!(
        matches!(e, CheckError::Drained(ref p) if p.ends_with("iam.drain")),
        "{e}"
    );
    std::fs::remove_file(dir.path().join("iam.drain")).unwrap();

    std::fs::write(dir.path().join("drain"), "").unwrap();
    let e = check(&a).await.unwrap_err();
    assert!(e.to_string().contains("drained"), "{e}");
    // Drained before probing: the service was asked only by the first, undrained check.
    assert_eq!(rx.requests().len(), 1);
}

#[tokio::test]
async fn an_unreadable_state_dir_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the state directory should be: the flags cannot be looked up.
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "").unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = args(None, Some(l.local_addr().unwrap().to_string()), &not_a_dir);
    let e = check(&a).await.unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert!(matches!(e, CheckError::DrainUnknown { .. }), "{e}");
}
