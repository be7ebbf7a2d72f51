//! `havip check` as keepalived runs it: the real binary, exit statuses and messages, flags or
//! the configuration's `[check]`, drain flags, and failing closed on every configuration error.

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use support::bin::{Havip, Run};
use support::server::{refused_port, Behaviour, Receiver};

/// Runs `havip check ARGS` in a clean environment plus `env`.
fn check(args: &[&str], env: &[(&str, &Path)]) -> Run {
    let mut h = Havip::new().arg("check").args(args);
    for (k, v) in env {
        h = h.env(k, v);
    }
    h.run()
}

fn code(o: &Run) -> i32 {
    o.code.expect("exited, not killed")
}

fn stderr(o: &Run) -> String {
    o.stderr.clone()
}

/// The minimal configuration (`deploy/havip.minimal.toml`); the checks never reach its endpoint.
fn minimal() -> String {
    include_str!("../deploy/havip.minimal.toml").replace("PORT", "9")
}

#[test]
fn http_flags_healthy_unhealthy_refused() {
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().to_str().unwrap();
    let ok = Receiver::start(Behaviour::ok("ok"));
    let o = check(&["--http", &ok.url, "--state-dir", sd], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(o.stdout.contains("healthy"));
    let o = check(&["--quiet", "--http", &ok.url, "--state-dir", sd], &[]);
    assert_eq!(code(&o), 0);
    assert!(o.stdout.is_empty(), "--quiet prints nothing");

    let e500 = Receiver::start(Behaviour::status(500));
    let o = check(&["--http", &e500.url, "--state-dir", sd], &[]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("answered 500, expected 200"),
        "{}",
        stderr(&o)
    );
    let o = check(
        &["--http", &e500.url, "--expect", "500", "--state-dir", sd],
        &[],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let url = format!("http://127.0.0.1:{}/healthz", refused_port());
    let o = check(&["--http", &url, "--state-dir", sd], &[]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("connection failed"), "{}", stderr(&o));
}

#[test]
fn a_hanging_service_fails_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let hang = Receiver::start(Behaviour::Hang);
    let start = Instant::now();
    let o = check(
        &[
            "--http",
            &hang.url,
            "--timeout",
            "300ms",
            "--state-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    let took = start.elapsed();
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("timed out"), "{}", stderr(&o));
    assert!(took < Duration::from_secs(4), "check took {took:?}");
}

#[test]
fn tcp_flags() {
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().to_str().unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    assert_eq!(code(&check(&["--tcp", &addr, "--state-dir", sd], &[])), 0);
    let o = check(
        &[
            "--tcp",
            &format!("127.0.0.1:{}", refused_port()),
            "--state-dir",
            sd,
        ],
        &[],
    );
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("connection failed"), "{}", stderr(&o));
}

#[test]
fn drain_flags_fail_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let sd = dir.path();
    let env = [("HAVIP_STATE_DIR", sd)];
    assert_eq!(code(&check(&["--tcp", &addr, "--vip", "iam"], &env)), 0);

    std::fs::write(sd.join("iam.drain"), "").unwrap();
    let o = check(&["--tcp", &addr, "--vip", "iam"], &env);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("drained") && stderr(&o).contains("iam.drain"),
        "{}",
        stderr(&o)
    );
    // Another VIP's check is not affected by iam's flag...
    assert_eq!(code(&check(&["--tcp", &addr, "--vip", "web"], &env)), 0);
    // ...but a check that names no VIP is (it cannot tell which VIP it guards).
    assert_eq!(code(&check(&["--tcp", &addr], &env)), 1);
    std::fs::remove_file(sd.join("iam.drain")).unwrap();

    std::fs::write(sd.join("drain"), "").unwrap();
    let o = check(&["--tcp", &addr, "--vip", "web"], &env);
    assert_eq!(code(&o), 1, "the global flag drains every VIP");
}

#[test]
fn the_config_check_section_is_used_without_flags() {
    let dir = tempfile::tempdir().unwrap();
    let ok = Receiver::start(Behaviour::ok("ok"));
    let cfg = dir.path().join("havip.toml");
    let state = dir.path().join("state");
    // Top-level keys come before the tables, so state_dir goes first.
    std::fs::write(
        &cfg,
        format!(
            "state_dir = \"{}\"\n{}\n[check]\nhttp = \"{}\"\ntimeout = \"1s\"\n",
            state.display(),
            minimal(),
            ok.url
        ),
    )
    .unwrap();

    let c = cfg.to_str().unwrap();
    let o = check(&["--config", c, "--vip", "iam"], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(ok.requests().len(), 1, "the [check] URL was probed");

    // The configuration's state directory holds the drain flags.
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("iam.drain"), "").unwrap();
    let o = check(&["--config", c, "--vip", "iam"], &[]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("drained"), "{}", stderr(&o));
    // A VIP the file does not define is a mistake, not "not drained".
    let o = check(&["--config", c, "--vip", "iam2"], &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("iam2"), "{}", stderr(&o));
    // HAVIP_CONFIG names the file as well as --config does.
    let o = check(&["--vip", "iam"], &[("HAVIP_CONFIG", cfg.as_path())]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
}

#[test]
fn configuration_errors_fail_closed_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let sd = dir.path().to_str().unwrap();

    // Nothing to probe.
    let o = check(&["--state-dir", sd], &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("nothing to probe"), "{}", stderr(&o));

    // A named configuration that is missing fails, even with a probe flag that would pass.
    let missing = dir.path().join("missing.toml");
    let o = check(
        &["--config", missing.to_str().unwrap(), "--tcp", &addr],
        &[],
    );
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("missing.toml"), "{}", stderr(&o));

    // A configuration that does not parse fails, naming the line.
    let broken = dir.path().join("broken.toml");
    std::fs::write(
        &broken,
        format!(
            "{}\n[check]\nhttp = \"http://127.0.0.1/\"\nbogus = 1\n",
            minimal()
        ),
    )
    .unwrap();
    let o = check(&["--config", broken.to_str().unwrap(), "--tcp", &addr], &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("bogus"), "{}", stderr(&o));

    // Bad flags.
    for args in [
        vec!["--http", "not a url"],
        vec!["--http", "ftp://127.0.0.1/"],
        vec!["--tcp", "127.0.0.1"],
        vec!["--tcp", &addr, "--vip", "../etc"],
    ] {
        let mut a = args.clone();
        a.extend(["--state-dir", sd]);
        let o = check(&a, &[]);
        assert_eq!(code(&o), 2, "{args:?}: {}", stderr(&o));
    }
    // clap's own usage errors are 2 as well.
    assert_eq!(
        code(&check(&["--expect", "200"], &[])),
        2,
        "--expect needs --http"
    );
    assert_eq!(
        code(&check(&["--http", "http://h/", "--expect", "abc"], &[])),
        2
    );
}

#[test]
fn https_probe_trusts_the_ca_file_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("tcsim-ca.pem");
    // tcsim's --tls: a self-signed certificate for 127.0.0.1, written as PEM.
    let sim = tcsim::testing::SimHandle::start_with(tcsim::SimOptions {
        tls: true,
        tls_cert_out: Some(pem.clone()),
        ..tcsim::SimOptions::new("seed")
    });
    let url = format!("{}/_sim/health", sim.url());
    assert!(url.starts_with("https://"), "{url}");
    let sd = dir.path().to_str().unwrap();
    let p = pem.to_str().unwrap();

    let o = check(&["--http", &url, "--ca-file", p, "--state-dir", sd], &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let o = check(&["--http", &url, "--state-dir", sd], &[]);
    assert_eq!(code(&o), 1, "an untrusted certificate is unhealthy");
    assert!(
        stderr(&o).contains("request failed") || stderr(&o).contains("connection failed"),
        "{}",
        stderr(&o)
    );

    std::fs::write(dir.path().join("junk.pem"), "not a certificate").unwrap();
    let junk = dir.path().join("junk.pem");
    let o = check(
        &[
            "--http",
            &url,
            "--ca-file",
            junk.to_str().unwrap(),
            "--state-dir",
            sd,
        ],
        &[],
    );
    assert_ne!(code(&o), 0, "{}", stderr(&o));
}
