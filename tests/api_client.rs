//! The API client as a library, against tcsim on loopback: typed actions, pagination, task
//! waiters, the call observer, clock-skew memory, token refresh, deadlines and TLS with an
//! extra CA. (`api_cli.rs` covers the same client through the real binary.)

mod support;

use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use havip::cloud::address::{AssociateAddress, DescribeAddresses};
use havip::cloud::credentials::CvmRoleProvider;
use havip::cloud::eni::{DescribeNetworkInterfaces, MigratePrivateIpAddress};
use havip::cloud::havip::{DescribeHaVips, HaVipDisassociateAddressIp, HaVipState};
use havip::cloud::task::{wait_eip_task, wait_vpc_task};
use havip::cloud::{
    fetch_all, fetch_all_concurrent, CallObserver, CallOutcome, CallRecord, Client, ClientConfig,
    CredentialProvider, Credentials, Error, ErrorClass, Metadata, RateLimit, RetryPolicy,
    StaticProvider, SystemClock,
};
use serde_json::{json, Value};
use support::server::{Behaviour, Receiver};
use support::sim::Ctl;
use support::{EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY};
use tcsim::testing::SimHandle;
use tokio::time::Instant;

fn keys() -> Arc<dyn CredentialProvider> {
    Arc::new(StaticProvider::new(
        Credentials::new(EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY).unwrap(),
        "test",
    ))
}

fn config(url: &str) -> ClientConfig {
    ClientConfig {
        endpoint: Some(url.to_string()),
        region: "ap-guangzhou".into(),
        ..ClientConfig::default()
    }
}

fn client(sim: &SimHandle) -> Client {
    Client::new(config(&sim.url()), keys()).unwrap()
}

fn requests(sim: &SimHandle, action: &str) -> Vec<Value> {
    Ctl(sim).requests_for(action)
}

fn fault(sim: &SimHandle, spec: Value) {
    Ctl(sim).fault(spec);
}

#[derive(Default)]
struct Recorder(Mutex<Vec<CallRecord>>);

impl CallObserver for Recorder {
    fn on_call(&self, rec: &CallRecord) {
        self.0.lock().unwrap().push(rec.clone());
    }
}

#[tokio::test]
async fn typed_describe_reads_the_seed() {
    let sim = SimHandle::start("seed");
    let r = client(&sim)
        .call(&DescribeHaVips::by_ids(["havip-iam00099"]))
        .await
        .unwrap();
    assert_eq!(r.total_count, 1);
    let h = &r.ha_vip_set[0];
    assert_eq!(h.vip, "10.0.4.99");
    assert_eq!(h.state, HaVipState::Available);
    assert_eq!(h.network_interface_id, "eni-iam00020");
    assert!(h.range_contains("ins-iam00020") && h.range_contains("ins-iam00021"));
    assert!(h.check_associate);
    assert!(!r.request_id.is_empty());
}

#[tokio::test]
async fn fetch_all_follows_total_count_in_pages_of_100() {
    // The generated HAVIPs spread over several regions; enough that this one needs 3+ pages.
    let sim = SimHandle::start("large:1200");
    let c = client(&sim);
    let probe = DescribeHaVips {
        limit: Some(1),
        ..Default::default()
    };
    let total = c.call(&probe).await.unwrap().total_count as usize;
    assert!(total > 200, "scenario too small for paging: {total}");
    let all = fetch_all(&c, &DescribeHaVips::default()).await.unwrap();
    assert_eq!(all.len(), total);
    let mut ids: Vec<_> = all.iter().map(|h| h.ha_vip_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), total, "pages overlap");
    let reqs = requests(&sim, "DescribeHaVips");
    // The probe, then one request per page.
    assert_eq!(reqs.len(), 1 + total.div_ceil(100), "{}", reqs.len());
    assert!(reqs[1..].iter().all(|r| r["params"]["Limit"] == 100));

    // Pages asked several at once give the same items, in the same order, one request a page.
    let sequential: Vec<_> = all.iter().map(|h| h.ha_vip_id.clone()).collect();
    let mut pages = 0;
    let concurrent = fetch_all_concurrent(&c, &DescribeHaVips::default(), 3, |_| pages += 1)
        .await
        .unwrap();
    let concurrent: Vec<_> = concurrent.iter().map(|h| h.ha_vip_id.clone()).collect();
    assert_eq!(concurrent, sequential);
    assert_eq!(pages, total.div_ceil(100));
    assert_eq!(
        requests(&sim, "DescribeHaVips").len(),
        1 + 2 * total.div_ceil(100)
    );
}

#[tokio::test]
async fn observer_sees_attempts_outcome_and_request_id() {
    let sim = SimHandle::start("seed");
    let rec = Arc::new(Recorder::default());
    let c = client(&sim).with_observer(rec.clone());
    fault(
        &sim,
        json!({"action": "DescribeHaVips", "count": 2, "error": "RequestLimitExceeded"}),
    );
    c.call(&DescribeHaVips::by_ids(["havip-iam00099"]))
        .await
        .unwrap();
    fault(
        &sim,
        json!({"action": "DescribeAddresses", "count": 1, "error": "UnauthorizedOperation"}),
    );
    let err = c
        .call(&DescribeAddresses::by_ids(["eip-iam00139"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("UnauthorizedOperation"));
    assert_eq!(err.class(), ErrorClass::Auth);

    let recs = rec.0.lock().unwrap().clone();
    assert_eq!(recs.len(), 2);
    assert_eq!(
        (recs[0].action.as_str(), recs[0].attempts),
        ("DescribeHaVips", 3)
    );
    assert_eq!(recs[0].outcome, CallOutcome::Ok);
    assert!(recs[0].request_id.is_some());
    assert_eq!(recs[0].params, json!({"HaVipIds": ["havip-iam00099"]}));
    assert_eq!(recs[1].attempts, 1);
    assert_eq!(
        recs[1].outcome,
        CallOutcome::Failed("UnauthorizedOperation".to_string())
    );
    assert!(recs[1].request_id.is_some());
}

#[tokio::test]
async fn measured_clock_skew_is_kept_for_later_calls() {
    let sim = SimHandle::start("seed");
    Ctl(&sim).clock(600);
    let c = client(&sim);
    let req = DescribeHaVips::by_ids(["havip-iam00099"]);
    c.call(&req).await.unwrap();
    assert!((595..=605).contains(&c.clock_skew()), "{}", c.clock_skew());
    // A clone shares the offset: the next call is signed right the first time.
    c.clone().call(&req).await.unwrap();
    let codes: Vec<_> = requests(&sim, "DescribeHaVips")
        .iter()
        .map(|r| r["code"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        codes,
        [Some("AuthFailure.SignatureExpire".to_string()), None, None]
    );
}

#[tokio::test]
async fn persistent_skew_is_reported_with_the_measured_offset() {
    // A server that always says SignatureExpire and whose Date is far in the future.
    let server = Receiver::start(
        Behaviour::ok(
            r#"{"Response":{"Error":{"Code":"AuthFailure.SignatureExpire","Message":"expired"},"RequestId":"r-skew"}}"#,
        )
        .header("Date", "Tue, 01 Jan 2030 00:00:00 GMT"),
    );
    let c = Client::new(config(&server.base_url()), keys()).unwrap();
    let err = c
        .call(&DescribeHaVips::by_ids(["havip-iam00099"]))
        .await
        .unwrap_err();
    let Error::ClockSkew { skew_secs, .. } = &err else {
        panic!("expected ClockSkew, got {err:?}")
    };
    assert!(*skew_secs > 86_400, "{skew_secs}");
    assert_eq!(err.code(), Some("AuthFailure.SignatureExpire"));
    assert!(err.to_string().contains(&format!("{skew_secs} s")), "{err}");
    assert_eq!(server.requests().len(), 2, "re-signed exactly once");
}

#[tokio::test]
async fn headers_sent_match_the_contract() {
    let server = Receiver::start(Behaviour::ok(r#"{"Response":{"RequestId":"r-1"}}"#));
    let c = Client::new(config(&server.base_url()), keys()).unwrap();
    let v = c
        .call_raw("vpc", "2017-03-12", "DescribeHaVips", &json!({}))
        .await
        .unwrap();
    assert_eq!(v, json!({"RequestId": "r-1"}));
    let head = server
        .requests()
        .pop()
        .expect("one request")
        .head()
        .to_ascii_lowercase();
    for expected in [
        "post / http/1.1",
        "content-type: application/json\r\n",
        "x-tc-action: describehavips",
        "x-tc-version: 2017-03-12",
        "x-tc-region: ap-guangzhou",
        "x-tc-language: en-us",
        "x-tc-requestclient: havip_",
        "authorization: tc3-hmac-sha256 credential=akidz8krbsj5ykbzqpn74wfkmlpx3example/",
        "signedheaders=content-type;host",
        &format!("host: {}", server.base_url().trim_start_matches("http://")),
    ] {
        assert!(head.contains(expected), "missing {expected:?} in\n{head}");
    }
    assert!(!head.contains("x-tc-token"), "{head}");

    // No region: the header is omitted.
    let mut cfg = config(&server.base_url());
    cfg.region = String::new();
    Client::new(cfg, keys())
        .unwrap()
        .call_raw("cam", "2019-01-16", "GetUserAppId", &json!({}))
        .await
        .unwrap();
    let head = server.requests().pop().unwrap().head().to_ascii_lowercase();
    assert!(!head.contains("x-tc-region"), "{head}");
    assert!(head.contains("/cam/tc3_request"), "{head}");

    // Temporary credentials: the token goes out as X-TC-Token.
    let temp = Arc::new(StaticProvider::new(
        Credentials::new(EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY)
            .unwrap()
            .with_token("tok-123"),
        "test",
    ));
    Client::new(config(&server.base_url()), temp)
        .unwrap()
        .call_raw("vpc", "2017-03-12", "DescribeHaVips", &json!({}))
        .await
        .unwrap();
    let head = server.requests().pop().unwrap().head().to_owned();
    assert!(
        head.contains("x-tc-token: tok-123") || head.contains("X-TC-Token: tok-123"),
        "{head}"
    );
}

#[tokio::test]
async fn the_overall_deadline_bounds_retries_of_a_hang() {
    let sim = SimHandle::start("seed");
    fault(&sim, json!({"action": "DescribeHaVips", "hang": true}));
    let mut cfg = config(&sim.url());
    cfg.request_timeout = Duration::from_millis(500);
    let start = Instant::now();
    let c = Client::new(cfg, keys())
        .unwrap()
        .with_deadline(start + Duration::from_secs(2));
    let err = c
        .call(&DescribeHaVips::by_ids(["havip-iam00099"]))
        .await
        .unwrap_err();
    let elapsed = start.elapsed();
    let Error::DeadlineExceeded { attempts, last, .. } = &err else {
        panic!("expected DeadlineExceeded, got {err:?}")
    };
    assert!(*attempts >= 2, "{attempts}");
    assert!(
        matches!(
            last.as_deref(),
            Some(Error::Transport {
                timed_out: true,
                ..
            })
        ),
        "{last:?}"
    );
    // 2 s deadline; a generous bound that still proves the 30 s default did not apply.
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
}

#[tokio::test]
async fn non_retryable_errors_are_sent_once() {
    let sim = SimHandle::start("seed");
    let bad = Arc::new(StaticProvider::new(
        Credentials::new(EXAMPLE_SECRET_ID, "WrongKeyWrongKeyWrongKeyEXAMPLE0").unwrap(),
        "test",
    ));
    let err = Client::new(config(&sim.url()), bad)
        .unwrap()
        .call(&DescribeHaVips::by_ids(["havip-iam00099"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AuthFailure.SignatureFailure"));
    let err = client(&sim)
        .call(&DescribeHaVips::by_ids(["havip-bad"]))
        .await
        .unwrap_err();
    assert!(
        err.code().unwrap_or("").starts_with("InvalidParameter"),
        "{err}"
    );
    assert_eq!(requests(&sim, "DescribeHaVips").len(), 2);
}

#[tokio::test]
async fn retries_can_be_turned_off() {
    let sim = SimHandle::start("seed");
    fault(
        &sim,
        json!({"action": "DescribeHaVips", "count": 1, "error": "InternalError"}),
    );
    let mut cfg = config(&sim.url());
    cfg.retry = RetryPolicy::never();
    let err = Client::new(cfg, keys())
        .unwrap()
        .call(&DescribeHaVips::by_ids(["havip-iam00099"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InternalError"));
    assert_eq!(requests(&sim, "DescribeHaVips").len(), 1);

    // The same, per handle.
    fault(
        &sim,
        json!({"action": "DescribeAddresses", "count": 1, "error": "InternalError"}),
    );
    let c = client(&sim);
    let err = c
        .with_retry(RetryPolicy::never())
        .call(&DescribeAddresses::by_ids(["eip-iam00139"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InternalError"));
    // The original handle still retries.
    fault(
        &sim,
        json!({"action": "DescribeAddresses", "count": 1, "error": "InternalError"}),
    );
    c.call(&DescribeAddresses::by_ids(["eip-iam00139"]))
        .await
        .unwrap();
    assert_eq!(requests(&sim, "DescribeAddresses").len(), 3);
}

/// The request budget (issue 9): every attempt draws a cell, retries included, and clones of
/// a client (another region, too) draw on the same budget. Two requests in any second: a call
/// retried once spends both places, so the next call through any clone finds no place before
/// its 300 ms deadline, and never reaches the cloud.
#[tokio::test]
async fn the_rate_limit_paces_every_attempt_and_is_shared_by_clones() {
    let sim = SimHandle::start("seed");
    fault(
        &sim,
        json!({"action": "DescribeHaVips", "count": 1, "error": "InternalError"}),
    );
    let mut cfg = config(&sim.url());
    cfg.deadline = Duration::from_millis(300);
    cfg.retry.base = Duration::from_millis(1);
    cfg.rate_limit = Some(RateLimit::per_second(NonZeroU32::new(2).unwrap()));
    let c = Client::new(cfg, keys()).unwrap();
    let other_region = c.with_region("ap-shanghai");
    assert_eq!(other_region.region(), "ap-shanghai");
    assert_eq!(c.region(), "ap-guangzhou");
    c.call(&DescribeHaVips::by_ids(["havip-iam00099"]))
        .await
        .unwrap();
    assert_eq!(requests(&sim, "DescribeHaVips").len(), 2, "one retry");
    let err = other_region
        .call(&DescribeAddresses::by_ids(["eip-iam00139"]))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DeadlineExceeded { attempts: 0, .. }),
        "{err:?}"
    );
    assert!(
        requests(&sim, "DescribeAddresses").is_empty(),
        "nothing is sent without a cell of the budget"
    );
}

#[tokio::test]
async fn eip_task_waiter_sees_the_binding_done() {
    let sim = SimHandle::start("seed");
    let c = client(&sim);
    let r = c
        .call(&AssociateAddress::to_instance(
            "eip-idle0001",
            "ins-iam00021",
        ))
        .await
        .unwrap();
    assert!(!r.task_id.is_empty());
    let done = wait_eip_task(&c, &r.task_id).await.unwrap();
    assert_eq!(done.result, "SUCCESS");
    let a = c
        .call(&DescribeAddresses::by_ids(["eip-idle0001"]))
        .await
        .unwrap();
    assert_eq!(a.address_set[0].address_status.as_str(), "BIND");
    assert_eq!(a.address_set[0].instance_id, "ins-iam00021");
}

#[tokio::test]
async fn vpc_task_waiter_sees_a_migrated_ip() {
    let sim = SimHandle::start("seed");
    let c = client(&sim);
    let r = c
        .call(&MigratePrivateIpAddress {
            source_network_interface_id: "eni-iam00020".into(),
            destination_network_interface_id: "eni-iam00021".into(),
            private_ip_address: "10.0.4.98".into(),
        })
        .await
        .unwrap();
    let done = wait_vpc_task(&c, &r.request_id).await.unwrap();
    assert_eq!(done.status, "SUCCESS");
    let enis = c
        .call(&DescribeNetworkInterfaces::of_instance("ins-iam00021"))
        .await
        .unwrap();
    assert!(enis.network_interface_set[0].has_private_ip("10.0.4.98"));
    assert!(enis.network_interface_set[0].has_mac("52:54:00:00:04:21"));
}

#[tokio::test]
async fn a_failed_task_is_an_error() {
    let sim = SimHandle::start("seed");
    fault(
        &sim,
        json!({"action": "HaVipDisassociateAddressIp", "count": 1, "task_result": "FAILED"}),
    );
    let c = client(&sim);
    let r = c
        .call(&HaVipDisassociateAddressIp {
            ha_vip_id: "havip-iam00099".into(),
        })
        .await
        .unwrap();
    let err = wait_vpc_task(&c, &r.request_id).await.unwrap_err();
    assert!(
        matches!(err, Error::TaskFailed { ref task_id, .. } if *task_id == r.request_id),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_task_that_outlives_the_deadline_ends_the_wait() {
    let sim = SimHandle::start("seed");
    Ctl(&sim).settings(json!({"task_duration_ms": 60_000}));
    let c = client(&sim);
    let r = c
        .call(&HaVipDisassociateAddressIp {
            ha_vip_id: "havip-iam00099".into(),
        })
        .await
        .unwrap();
    let start = Instant::now();
    let err = wait_vpc_task(
        &c.with_deadline(start + Duration::from_secs(2)),
        &r.request_id,
    )
    .await
    .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Deadline, "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(8));
}

#[tokio::test]
async fn cvm_role_credentials_carry_a_token_and_refresh_on_token_failure() {
    let sim = SimHandle::start("seed");
    let md = Metadata::new(&sim.metadata_url("ins-iam00020"), Duration::from_secs(2)).unwrap();
    assert_eq!(md.instance_id().await.unwrap(), "ins-iam00020");
    assert_eq!(md.region().await.unwrap(), "ap-guangzhou");
    assert!(md
        .mac()
        .await
        .unwrap()
        .eq_ignore_ascii_case("52:54:00:00:04:20"));
    assert_eq!(md.local_ipv4().await.unwrap(), "10.0.4.20");
    assert_eq!(md.role_name().await.unwrap().as_deref(), Some("havip-role"));

    let role = CvmRoleProvider::discover(md, Arc::new(SystemClock))
        .await
        .unwrap()
        .expect("a role");
    let creds = role.credentials().await.unwrap();
    assert!(creds.token().is_some());
    assert!(creds.expires_at().is_some());

    fault(
        &sim,
        json!({"action": "DescribeHaVips", "count": 1, "error": "AuthFailure.TokenFailure"}),
    );
    let c = Client::new(config(&sim.url()), Arc::new(role)).unwrap();
    c.call(&DescribeHaVips::by_ids(["havip-iam00099"]))
        .await
        .unwrap();
    assert_eq!(requests(&sim, "DescribeHaVips").len(), 2);
}

#[tokio::test]
async fn https_with_an_extra_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    let sim = SimHandle::start_with(tcsim::SimOptions {
        tls: true,
        tls_cert_out: Some(ca.clone()),
        ..tcsim::SimOptions::new("seed")
    });
    assert!(sim.url().starts_with("https://"));
    let mut cfg = config(&sim.url());
    cfg.ca_file = Some(ca);
    let r = Client::new(cfg, keys())
        .unwrap()
        .call(&DescribeHaVips::by_ids(["havip-iam00099"]))
        .await
        .unwrap();
    assert_eq!(r.total_count, 1);

    // Without the CA the certificate is not trusted: a TLS error, not retried.
    let rec = Arc::new(Recorder::default());
    let err = Client::new(config(&sim.url()), keys())
        .unwrap()
        .with_observer(rec.clone())
        .call(&DescribeHaVips::by_ids(["havip-iam00099"]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("--ca-file"), "{err}");
    assert_eq!(rec.0.lock().unwrap()[0].attempts, 1);
}

#[tokio::test]
async fn cvm_role_credentials_are_cached_until_300s_before_expiry() {
    let sim = SimHandle::start("seed");
    let md = Metadata::new(&sim.metadata_url("ins-iam00020"), Duration::from_secs(2)).unwrap();
    let now = havip::cloud::clock::unix_seconds(std::time::SystemTime::now());
    let clock = Arc::new(havip::cloud::FixedClock::new(now));
    let role = CvmRoleProvider::new(md, "havip-role", clock.clone());
    let first = role.credentials().await.unwrap();
    let expires = first.expires_at().expect("expiry");

    // The simulator would now hand out new credentials (it rotates past half their life), so
    // getting the old ones back proves they came from the cache.
    Ctl(&sim).clock(expires - now - 200);
    assert_eq!(role.credentials().await.unwrap(), first);

    // 299 s before expiry on our clock: refreshed.
    clock.set(expires - 299);
    let second = role.credentials().await.unwrap();
    assert_ne!(second.secret_id(), first.secret_id());
    assert!(second.expires_at().unwrap() > expires);
}
