//! `havip api` end to end: the real binary against tcsim on loopback (issue 2 "Done when").
//!
//! Every run sets `--endpoint` to the simulator and `HAVIP_METADATA_ENDPOINT` to loopback, so
//! no test can reach the real API or metadata service.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::bin::{signatures_redacted, Havip, Run};
use support::http::get_json;
use support::sim::{Ctl, HAVIP, NODE20};
use support::{EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY};
use tcsim::testing::SimHandle;

/// The seed simulator, with the shortcuts these tests use.
struct Sim {
    handle: SimHandle,
}

impl Sim {
    fn start() -> Sim {
        Sim {
            handle: SimHandle::start("seed"),
        }
    }

    fn url(&self) -> String {
        self.handle.url()
    }

    fn fault(&self, spec: Value) {
        Ctl(&self.handle).fault(spec);
    }

    /// The logged API requests for `action`, oldest first.
    fn requests(&self, action: &str) -> Vec<Value> {
        Ctl(&self.handle).requests_for(action)
    }

    /// A `havip api vpc DescribeHaVips` invocation against this simulator, keys in the env.
    fn describe(&self) -> Havip {
        Havip::new()
            .with_keys()
            .endpoint(&self.url())
            .args(describe_the_havip())
    }
}

/// `api vpc DescribeHaVips '{"HaVipIds":["havip-iam00099"]}'`: the call most tests make.
fn describe_the_havip() -> [String; 4] {
    let params = json!({"HaVipIds": [HAVIP]}).to_string();
    ["api", "vpc", "DescribeHaVips", params.as_str()].map(String::from)
}

fn codes(reqs: &[Value]) -> Vec<Option<String>> {
    reqs.iter()
        .map(|r| r["code"].as_str().map(str::to_string))
        .collect()
}

#[track_caller]
fn assert_describes_the_havip(run: &Run) {
    run.assert_code(0);
    let v = run.json();
    assert_eq!(v["HaVipSet"][0]["HaVipId"], HAVIP, "{v}");
    assert!(
        v["RequestId"].as_str().is_some_and(|s| !s.is_empty()),
        "{v}"
    );
}

#[test]
fn a_call_succeeds_and_prints_the_response() {
    let sim = Sim::start();
    let run = sim.describe().run();
    assert_describes_the_havip(&run);
    assert_eq!(run.json()["TotalCount"], 1);
    assert_eq!(sim.requests("DescribeHaVips").len(), 1);
}

#[test]
fn throttled_twice_then_success_is_exactly_three_requests() {
    let sim = Sim::start();
    sim.fault(json!({"action": "DescribeHaVips", "count": 2, "error": "RequestLimitExceeded"}));
    let run = sim.describe().run();
    assert_describes_the_havip(&run);
    let reqs = sim.requests("DescribeHaVips");
    assert_eq!(reqs.len(), 3, "{reqs:?}");
    assert_eq!(
        codes(&reqs)[..2],
        [
            Some("RequestLimitExceeded".into()),
            Some("RequestLimitExceeded".into())
        ]
    );
}

#[test]
fn a_hung_request_times_out_and_the_retry_succeeds() {
    let sim = Sim::start();
    sim.fault(json!({"action": "DescribeHaVips", "count": 1, "hang": true}));
    let run = sim
        .describe()
        .args(["--request-timeout", "1s", "--timeout", "20s"])
        .run();
    assert_describes_the_havip(&run);
    // One hung request abandoned after ~1 s, then a good one: far less than the deadline.
    assert!(run.elapsed < Duration::from_secs(15), "{:?}", run.elapsed);
}

#[test]
fn a_permanent_hang_keeps_the_overall_deadline() {
    let sim = Sim::start();
    sim.fault(json!({"action": "DescribeHaVips", "hang": true}));
    let run = sim
        .describe()
        .args(["--request-timeout", "1s", "--timeout", "3s"])
        .run();
    run.assert_code(1);
    assert!(run.stderr.contains("deadline"), "{}", run.stderr);
    assert!(run.stderr.contains("per-request timeout"), "{}", run.stderr);
    // 3 s deadline; generous bound for a loaded 2-core machine, far below the 30 s default.
    assert!(run.elapsed < Duration::from_secs(12), "{:?}", run.elapsed);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn server_clock_ten_minutes_ahead_is_corrected_once() {
    let sim = Sim::start();
    sim.handle.set_clock_offset_s(600);
    let run = sim.describe().run();
    assert_describes_the_havip(&run);
    let reqs = sim.requests("DescribeHaVips");
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert_eq!(
        codes(&reqs)[0].as_deref(),
        Some("AuthFailure.SignatureExpire")
    );
    // The measured skew is logged (a warning, so it shows without --verbose).
    assert!(run.stderr.contains("clock"), "{}", run.stderr);
}

#[test]
fn a_bad_key_fails_once_without_retry() {
    let sim = Sim::start();
    let run = sim
        .describe()
        .env(
            "TENCENTCLOUD_SECRET_KEY",
            "WrongKeyWrongKeyWrongKeyEXAMPLE0",
        )
        .run();
    run.assert_code(1);
    assert!(
        run.stderr.contains("AuthFailure.SignatureFailure"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("RequestId"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert_eq!(sim.requests("DescribeHaVips").len(), 1);
}

#[test]
fn api_errors_print_code_message_and_request_id() {
    let sim = Sim::start();
    let run = Havip::new()
        .with_keys()
        .endpoint(&sim.url())
        .args([
            "api",
            "vpc",
            "DescribeHaVips",
            r#"{"HaVipIds":["havip-nope0000"]}"#,
        ])
        .run();
    // Either an empty set (exit 0) or a ResourceNotFound-style error (exit 1) is legitimate API
    // behaviour; what matters is the error shape when it is an error.
    if run.code == Some(1) {
        assert!(run.stderr.contains("RequestId"), "{}", run.stderr);
        assert!(run.stderr.contains("api error"), "{}", run.stderr);
    } else {
        run.assert_code(0);
        assert_eq!(run.json()["TotalCount"], 0);
    }
    let run = Havip::new()
        .with_keys()
        .endpoint(&sim.url())
        .args([
            "api",
            "vpc",
            "DescribeHaVips",
            r#"{"HaVipIds":["havip-iam00099"],"Filters":[{"Name":"vip","Values":["10.0.4.99"]}]}"#,
        ])
        .run();
    run.assert_code(1);
    assert!(run.stderr.contains("InvalidParameter"), "{}", run.stderr);
    assert!(run.stderr.contains("RequestId"), "{}", run.stderr);
}

#[test]
fn a_world_readable_profile_file_is_refused_by_name() {
    let sim = Sim::start();
    let h = Havip::new();
    let profile = format!(
        "[default]\nsecret_id = {}\nsecret_key = {}\n",
        EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY
    );
    let path = h.write_file(".tencentcloud/credentials", &profile, 0o644);
    let run = h
        .endpoint(&sim.url())
        .args(["api", "vpc", "DescribeHaVips"])
        .run();
    run.assert_code(2);
    assert!(
        run.stderr.contains(&path.display().to_string()),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("too open"), "{}", run.stderr);
    assert!(!run.all_output().contains(EXAMPLE_SECRET_KEY));
    assert!(sim.requests("DescribeHaVips").is_empty());
}

#[test]
fn a_private_profile_file_is_used() {
    let sim = Sim::start();
    let h = Havip::new();
    let profile = format!(
        "[default]\nsecret_id = {}\nsecret_key = {}\n",
        EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY
    );
    h.write_file(".tencentcloud/credentials", &profile, 0o600);
    let run = h.endpoint(&sim.url()).args(describe_the_havip()).run();
    assert_describes_the_havip(&run);
}

#[test]
fn cvm_role_credentials_and_region_come_from_metadata() {
    let sim = Sim::start();
    let run = Havip::new()
        .env("HAVIP_METADATA_ENDPOINT", sim.handle.metadata_url(NODE20))
        .args(["--endpoint", &sim.url()])
        .args(describe_the_havip())
        .run();
    assert_describes_the_havip(&run);
}

#[test]
fn no_secret_appears_in_any_output_even_verbose() {
    let sim = Sim::start();
    // Temporary credentials from the role: a secret key and a token that must never be printed.
    let role = "havip-role";
    let creds = get_json(&format!(
        "{}/latest/meta-data/cam/security-credentials/{role}",
        sim.handle.metadata_url(NODE20)
    ));
    let tmp_key = creds["TmpSecretKey"]
        .as_str()
        .expect("TmpSecretKey")
        .to_string();
    let token = creds["Token"].as_str().expect("Token").to_string();
    assert!(!tmp_key.is_empty() && !token.is_empty());

    let role_run = |extra: &[&str]| {
        Havip::new()
            .env("HAVIP_METADATA_ENDPOINT", sim.handle.metadata_url(NODE20))
            .args(["--endpoint", &sim.url(), "--verbose"])
            .args(extra)
            .args(describe_the_havip())
            .run()
    };
    let ok = role_run(&[]);
    assert_describes_the_havip(&ok);
    // The verbose log really shows the canonical request.
    assert!(ok.stderr.contains("canonical request"), "{}", ok.stderr);
    assert!(ok.stderr.contains("content-type;host"), "{}", ok.stderr);
    sim.fault(json!({"action": "DescribeHaVips", "count": 1, "error": "InternalError"}));
    let retried = role_run(&[]);
    assert_describes_the_havip(&retried);
    sim.fault(json!({"action": "DescribeHaVips", "error": "UnauthorizedOperation"}));
    let failed = role_run(&[]);
    failed.assert_code(1);

    let keyed = sim
        .describe()
        .arg("--verbose")
        .env(
            "TENCENTCLOUD_TOKEN",
            "tok-EXAMPLE-should-never-print-0123456789",
        )
        .run();
    // A wrong key: the SignatureFailure error path, verbose.
    let wrong_key = "WrongKeyWrongKeyWrongKeyEXAMPLE0";
    let bad_key = sim
        .describe()
        .arg("--verbose")
        .env("TENCENTCLOUD_SECRET_KEY", wrong_key)
        .run();
    bad_key.assert_code(1);

    for run in [&ok, &retried, &failed, &keyed, &bad_key] {
        let out = run.all_output();
        for secret in [
            tmp_key.as_str(),
            token.as_str(),
            EXAMPLE_SECRET_KEY,
            wrong_key,
            "tok-EXAMPLE-should-never-print",
        ] {
            assert!(!out.contains(secret), "secret leaked:\n{out}");
        }
        assert!(signatures_redacted(&out), "signature leaked:\n{out}");
    }
}

#[test]
fn invalid_json_is_a_usage_error_and_nothing_is_sent() {
    let sim = Sim::start();
    for params in ["{not json", "[1, 2]", "42"] {
        let run = Havip::new()
            .with_keys()
            .endpoint(&sim.url())
            .args(["api", "vpc", "DescribeHaVips", params])
            .run();
        run.assert_code(2);
        assert!(run.stdout.is_empty());
    }
    let all = Ctl(&sim.handle).requests();
    assert_eq!(all.len(), 0, "{all:?}");
}

#[test]
fn parameters_from_stdin_and_flags_after_the_subcommand() {
    let sim = Sim::start();
    let run = Havip::new()
        .with_keys()
        .args(["api", "vpc", "DescribeHaVips", "-"])
        .endpoint(&sim.url())
        .stdin(&json!({"HaVipIds": [HAVIP]}).to_string())
        .run();
    assert_describes_the_havip(&run);
}

#[test]
fn plain_http_to_a_non_loopback_endpoint_is_refused() {
    let run = Havip::new()
        .with_keys()
        .args([
            "--endpoint",
            "http://192.0.2.10:8080",
            "--region",
            "ap-guangzhou",
        ])
        .args(["api", "vpc", "DescribeHaVips"])
        .run();
    run.assert_code(2);
    assert!(run.stderr.contains("loopback"), "{}", run.stderr);
}

#[test]
fn missing_credentials_is_a_configuration_error() {
    let sim = Sim::start();
    let run = Havip::new()
        .endpoint(&sim.url())
        .args(["api", "vpc", "DescribeHaVips"])
        .run();
    run.assert_code(2);
    assert!(
        run.stderr.contains("TENCENTCLOUD_SECRET_ID"),
        "{}",
        run.stderr
    );
    assert!(sim.requests("DescribeHaVips").is_empty());
}

#[test]
fn http_502_is_retried() {
    let sim = Sim::start();
    sim.fault(json!({"action": "DescribeHaVips", "count": 1, "http_status": 502}));
    let run = sim.describe().run();
    assert_describes_the_havip(&run);
}

#[test]
fn https_endpoint_needs_the_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let sim = tcsim::testing::SimHandle::start_with(tcsim::SimOptions {
        tls: true,
        tls_cert_out: Some(ca.clone()),
        ..tcsim::SimOptions::new("seed")
    });
    let url = sim.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let describe = || {
        Havip::new()
            .with_keys()
            .args(["--region", "ap-guangzhou", "--timeout", "10s"])
            .args(describe_the_havip())
    };
    // The flag, and the environment variables.
    assert_describes_the_havip(
        &describe()
            .args(["--endpoint", &url, "--ca-file"])
            .arg(&ca)
            .run(),
    );
    assert_describes_the_havip(
        &describe()
            .env("HAVIP_ENDPOINT", &url)
            .env("HAVIP_CA_FILE", &ca)
            .run(),
    );
    // Untrusted: refused at once (not retried until the deadline), pointing at --ca-file.
    let run = describe().args(["--endpoint", &url]).run();
    run.assert_code(2);
    assert!(run.stderr.contains("--ca-file"), "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(8), "{:?}", run.elapsed);
}

#[test]
fn environment_keys_come_before_the_profile_file() {
    // The profile is never read when the environment has keys, so its bad mode does not matter.
    let sim = Sim::start();
    let h = sim.describe();
    h.write_file(
        ".tencentcloud/credentials",
        "[default]\nsecret_id = AKIDother\nsecret_key = other\n",
        0o644,
    );
    assert_describes_the_havip(&h.run());
}

#[test]
fn credentials_file_from_the_environment() {
    let sim = Sim::start();
    let h = Havip::new();
    let profile = format!(
        "[default]\nsecret_id = {}\nsecret_key = {}\n",
        EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY
    );
    let path = h.write_file("elsewhere/creds.ini", &profile, 0o400);
    let run = h
        .env("TENCENTCLOUD_CREDENTIALS_FILE", &path)
        .endpoint(&sim.url())
        .args(describe_the_havip())
        .run();
    assert_describes_the_havip(&run);

    // Named but missing: a configuration error naming it, not a silent fall-through.
    let missing = Havip::new()
        .env("TENCENTCLOUD_CREDENTIALS_FILE", "/nonexistent/creds")
        .endpoint(&sim.url())
        .args(["api", "vpc", "DescribeHaVips"])
        .run();
    missing.assert_code(2);
    assert!(
        missing.stderr.contains("/nonexistent/creds"),
        "{}",
        missing.stderr
    );
}

#[test]
fn endless_throttling_ends_at_the_deadline_with_the_last_code() {
    let sim = Sim::start();
    sim.fault(json!({"action": "DescribeHaVips", "error": "RequestLimitExceeded"}));
    let run = sim.describe().args(["--timeout", "3s"]).run();
    run.assert_code(1);
    assert!(run.stderr.contains("deadline"), "{}", run.stderr);
    assert!(
        run.stderr.contains("RequestLimitExceeded"),
        "{}",
        run.stderr
    );
    assert!(run.elapsed < Duration::from_secs(12), "{:?}", run.elapsed);
    assert!(sim.requests("DescribeHaVips").len() >= 2);
}

#[test]
fn an_unreachable_endpoint_is_retried_until_the_deadline() {
    // Loopback port 9: connection refused, immediately, on every attempt.
    let run = Havip::new()
        .with_keys()
        .args([
            "--endpoint",
            "http://127.0.0.1:9",
            "--region",
            "ap-guangzhou",
        ])
        .args(["--timeout", "2s", "api", "vpc", "DescribeHaVips"])
        .run();
    run.assert_code(1);
    assert!(run.stderr.contains("deadline"), "{}", run.stderr);
    assert!(run.stderr.contains("transport error"), "{}", run.stderr);
    assert!(run.elapsed < Duration::from_secs(10), "{:?}", run.elapsed);
}

/// On a node, `havip api` reaches the cloud the way the configuration says (endpoint, region,
/// credentials), so on-call calls go where notify's go; flags still win.
#[test]
fn the_configuration_file_supplies_endpoint_region_and_keys() {
    let sim = Sim::start();
    let havip = Havip::new();
    let config = havip.write_file(
        "havip.toml",
        &format!(
            "endpoint = \"{}\"\nregion = \"ap-guangzhou\"\n\n[credentials]\nsecret_id = \"{EXAMPLE_SECRET_ID}\"\nsecret_key = \"{EXAMPLE_SECRET_KEY}\"\n\n[node]\ninstance_id = \"{NODE20}\"\n\n[[vip]]\nname = \"iam\"\nvrrp_instance = \"VI_1\"\nhavip_id = \"{HAVIP}\"\n",
            sim.url()
        ),
        0o600,
    );
    let run = havip
        .arg("--config")
        .arg(&config)
        .args(describe_the_havip())
        .run();
    assert_describes_the_havip(&run);
    assert!(
        !run.all_output().contains(EXAMPLE_SECRET_KEY),
        "{}",
        run.all_output()
    );

    // A broken configuration is a usage error naming the file, and nothing is sent.
    let before = sim.requests("DescribeHaVips").len();
    let havip = Havip::new().with_keys();
    let bad = havip.write_file("bad.toml", "endpoint = 3\n", 0o600);
    let run = havip
        .arg("--config")
        .arg(&bad)
        .args(["--endpoint", &sim.url(), "api", "vpc", "DescribeHaVips"])
        .run();
    run.assert_code(2);
    assert!(
        run.all_output().contains("bad.toml"),
        "{}",
        run.all_output()
    );
    assert_eq!(sim.requests("DescribeHaVips").len(), before);
}

/// A simulator serving metadata over https: `--ca-file` is trusted by the metadata client too,
/// so the CAM role's credentials and the region arrive as they do over the real plain-http service.
#[test]
fn metadata_over_https_trusts_the_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let sim = tcsim::testing::SimHandle::start_with(tcsim::SimOptions {
        tls: true,
        tls_cert_out: Some(ca.clone()),
        ..tcsim::SimOptions::new("seed")
    });
    let describe = |with_ca: bool| {
        let mut h = Havip::new()
            .env("HAVIP_METADATA_ENDPOINT", sim.metadata_url(NODE20))
            .args(["--endpoint", &sim.url(), "--timeout", "10s"]);
        if with_ca {
            h = h.arg("--ca-file").arg(&ca);
        }
        h.args(describe_the_havip()).run()
    };
    assert_describes_the_havip(&describe(true));
    // Without the CA neither the metadata nor the API can be trusted: a clear failure.
    let run = describe(false);
    assert_ne!(run.code, Some(0), "{}", run.all_output());
}
