//! Authentication and request-level errors: signatures, the clock window, temporary role
//! credentials, missing headers, malformed bodies and the rate limit — always the real error
//! code in the real envelope, never a crash.

mod common;

use common::{now_s, start_seed, Client};
use serde_json::{json, Value};
use tcsim::testing::SimHandle;
use tcsim::SimOptions;

async fn code_of(resp: reqwest::Response) -> String {
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.expect("JSON");
    assert!(v["Response"]["RequestId"].is_string(), "{v}");
    v["Response"]["Error"]["Code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error: {v}"))
        .to_string()
}

#[tokio::test]
async fn signature_errors() {
    let sim = start_seed();
    let c = Client::new(&sim);
    c.ok("DescribeHaVips", json!({})).await;

    let mut wrong_key = c.clone();
    wrong_key.secret_key = "not-the-key".into();
    assert_eq!(
        wrong_key.err("DescribeHaVips", json!({})).await,
        "AuthFailure.SignatureFailure"
    );

    let mut unknown = c.clone();
    unknown.secret_id = "AKIDunknownunknownunknownunknown12".into();
    assert_eq!(
        unknown.err("DescribeHaVips", json!({})).await,
        "AuthFailure.SecretIdNotFound"
    );

    // The body is signed: change it after signing.
    let resp = c
        .post_with(
            "DescribeHaVips",
            b"{}".to_vec(),
            c.now(),
            &[],
            Some(b"{ }".to_vec()),
        )
        .await;
    assert_eq!(code_of(resp).await, "AuthFailure.SignatureFailure");

    // Missing and garbled Authorization.
    let resp = c
        .http
        .post(format!("{}/", c.url))
        .header("Content-Type", "application/json")
        .header("X-TC-Action", "DescribeHaVips")
        .header("X-TC-Version", "2017-03-12")
        .header("X-TC-Timestamp", now_s().to_string())
        .header("X-TC-Region", "ap-guangzhou")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(resp).await, "AuthFailure.InvalidAuthorization");
    let resp = c
        .post_with(
            "DescribeHaVips",
            b"{}".to_vec(),
            c.now(),
            &[("Authorization", Some("TC3-HMAC-SHA256 garbage"))],
            None,
        )
        .await;
    assert_eq!(code_of(resp).await, "AuthFailure.InvalidAuthorization");

    // Unsigned-payload mode signs the literal UNSIGNED-PAYLOAD.
    let resp = c
        .post_unsigned_payload("DescribeHaVips", br#"{"Limit": 1}"#.to_vec())
        .await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["Response"]["TotalCount"], 1, "{v}");
}

#[tokio::test]
async fn clock_window_and_sim_clock() {
    let sim = start_seed();
    let c = Client::new(&sim);
    let resp = c
        .post_with("DescribeHaVips", b"{}".to_vec(), now_s() - 400, &[], None)
        .await;
    assert_eq!(code_of(resp).await, "AuthFailure.SignatureExpire");
    let resp = c
        .post_with("DescribeHaVips", b"{}".to_vec(), now_s() + 400, &[], None)
        .await;
    assert_eq!(code_of(resp).await, "AuthFailure.SignatureExpire");

    // The server's clock runs 10 minutes ahead: a correct local clock is now stale.
    let v = c.sim_post("/_sim/clock", json!({"offset_s": 600})).await;
    assert_eq!(v["offset_s"], 600);
    assert_eq!(
        c.err("DescribeHaVips", json!({})).await,
        "AuthFailure.SignatureExpire"
    );
    let mut ahead = c.clone();
    ahead.clock_offset_s = 600;
    let resp = ahead.post_raw("DescribeHaVips", b"{}".to_vec()).await;
    let date = resp.headers()["date"].to_str().unwrap().to_string();
    let served = chrono::DateTime::parse_from_rfc2822(&date).expect("RFC 7231 date");
    assert!(
        (served.timestamp() - now_s() - 600).abs() < 60,
        "Date {date} follows the simulated clock"
    );
    let v: Value = resp.json().await.unwrap();
    assert!(v["Response"]["Error"].is_null(), "{v}");
}

#[tokio::test]
async fn common_parameter_errors() {
    let sim = start_seed();
    let c = Client::new(&sim);
    let without = |h: &'static str| {
        let c = c.clone();
        async move {
            let mut b = c
                .http
                .post(format!("{}/", c.url))
                .header("Content-Type", "application/json")
                .body("{}");
            for (k, v) in [
                ("X-TC-Action", "DescribeHaVips".to_string()),
                ("X-TC-Version", "2017-03-12".to_string()),
                ("X-TC-Timestamp", now_s().to_string()),
                ("X-TC-Region", "ap-guangzhou".to_string()),
            ] {
                if k != h {
                    b = b.header(k, v);
                }
            }
            code_of(b.send().await.unwrap()).await
        }
    };
    assert_eq!(without("X-TC-Action").await, "MissingParameter");
    assert_eq!(without("X-TC-Version").await, "MissingParameter");
    assert_eq!(without("X-TC-Timestamp").await, "MissingParameter");

    assert_eq!(c.err("NoSuchThing", json!({})).await, "InvalidAction");
    let resp = c
        .post_with(
            "DescribeHaVips",
            b"{}".to_vec(),
            c.now(),
            &[("X-TC-Version", Some("2099-01-01"))],
            None,
        )
        .await;
    assert_eq!(code_of(resp).await, "NoSuchVersion");
    let mut no_region = c.clone();
    no_region.region = String::new();
    assert_eq!(
        no_region.err("DescribeHaVips", json!({})).await,
        "MissingParameter"
    );
    let resp = c
        .post_with(
            "DescribeHaVips",
            b"{}".to_vec(),
            c.now(),
            &[("X-TC-Timestamp", Some("yesterday"))],
            None,
        )
        .await;
    assert_eq!(code_of(resp).await, "InvalidParameterValue");
}

#[tokio::test]
async fn malformed_bodies_get_real_codes() {
    let sim = start_seed();
    let c = Client::new(&sim);
    for (body, code) in [
        (&b"{not json"[..], "InvalidParameter"),
        (b"[1, 2]", "InvalidParameter"),
        (b"\"text\"", "InvalidParameter"),
        (b"\xff\xfe", "InvalidParameter"),
        (br#"{"HaVipIds": [1]}"#, "InvalidParameter"),
        (br#"{"Limit": 1.5}"#, "InvalidParameter"),
        (br#"{"Limit": true}"#, "InvalidParameter"),
        (br#"{"Filters": {"Name": "vip"}}"#, "InvalidParameter"),
    ] {
        let resp = c.post_raw("DescribeHaVips", body.to_vec()).await;
        assert_eq!(
            code_of(resp).await,
            code,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // An 11 MB body.
    let mut huge = br#"{"HaVipIds": [""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 11 * 1024 * 1024));
    huge.extend_from_slice(br#""]}"#);
    let resp = c.post_raw("DescribeHaVips", huge).await;
    assert_eq!(code_of(resp).await, "RequestSizeLimitExceeded");
    // A long GET query.
    let q = format!("HaVipIds.0={}", "a".repeat(40 * 1024));
    let v = c.get("DescribeHaVips", &q).await;
    assert_eq!(v["Response"]["Error"]["Code"], "RequestSizeLimitExceeded");
    // Other methods.
    let resp = c
        .http
        .put(format!("{}/", c.url))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(code_of(resp).await, "UnsupportedProtocol");
    // Still serving.
    c.ok("DescribeHaVips", json!({})).await;
}

#[tokio::test]
async fn rate_limit_answers_request_limit_exceeded() {
    let sim = SimHandle::start_with(SimOptions {
        rate_limit: Some(2),
        action_rate_limits: vec![("DescribeAddresses".into(), 0)],
        ..SimOptions::default()
    });
    let c = Client::new(&sim);
    let mut limited = 0;
    for _ in 0..20 {
        let r = c.call("DescribeHaVips", json!({})).await;
        if r["Error"]["Code"] == "RequestLimitExceeded" {
            limited += 1;
        }
    }
    // 2 per second with a burst of 2: 20 calls cannot all pass unless they took 9 s.
    assert!(limited > 0, "no RequestLimitExceeded in 20 calls at 2/s");
    // DescribeAddresses is unlimited by its override.
    for _ in 0..20 {
        c.ok("DescribeAddresses", json!({})).await;
    }
    let log = c.requests().await;
    assert!(log
        .iter()
        .any(|e| e["code"] == "RequestLimitExceeded" && e["action"] == "DescribeHaVips"));
}

#[tokio::test]
async fn default_rate_limit_is_twenty_per_second() {
    let sim = SimHandle::start("seed");
    let c = Client::new(&sim);
    let started = std::time::Instant::now();
    let mut passed = 0u32;
    for i in 0..60 {
        let r = c.call("DescribeHaVips", json!({})).await;
        match r["Error"]["Code"].as_str() {
            None => passed += 1,
            Some("RequestLimitExceeded") => assert!(i >= 20, "the first 20 calls are the burst"),
            Some(other) => panic!("unexpected {other}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // A bucket of 20 refilled at 20/s lets at most 20 + 20·t calls through in t seconds.
    assert!(
        f64::from(passed) <= 20.0 + 20.0 * elapsed + 1.0,
        "{passed} calls passed in {elapsed:.2} s"
    );
    let (_, settings) = c
        .control(reqwest::Method::GET, "/_sim/settings", None)
        .await;
    assert_eq!(settings["rate_limit"], 20);
}

async fn role_credentials(c: &Client, instance: &str) -> Value {
    let base = format!(
        "{}/_sim/node/{instance}/latest/meta-data/cam/security-credentials/",
        c.url
    );
    let role = c
        .http
        .get(&base)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(role, "havip-role");
    let creds: Value = c
        .http
        .get(format!("{base}{role}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(creds["Code"], "Success");
    creds
}

#[tokio::test]
async fn metadata_role_credentials_are_accepted_then_expire() {
    let sim = start_seed();
    let c = Client::new(&sim);
    let creds = role_credentials(&c, "ins-iam00021").await;
    let expired_time = creds["ExpiredTime"].as_i64().unwrap();
    assert!(
        (expired_time - now_s() - 3600).abs() < 60,
        "default lifetime 1 h"
    );
    assert!(creds["Expiration"].as_str().unwrap().ends_with('Z'));

    let mut tmp = c.clone();
    tmp.secret_id = creds["TmpSecretId"].as_str().unwrap().into();
    tmp.secret_key = creds["TmpSecretKey"].as_str().unwrap().into();
    tmp.token = Some(creds["Token"].as_str().unwrap().into());
    tmp.ok("DescribeHaVips", json!({})).await;

    let mut no_token = tmp.clone();
    no_token.token = None;
    assert_eq!(
        no_token.err("DescribeHaVips", json!({})).await,
        "AuthFailure.TokenFailure"
    );
    let mut wrong_token = tmp.clone();
    wrong_token.token = Some("wrong".into());
    assert_eq!(
        wrong_token.err("DescribeHaVips", json!({})).await,
        "AuthFailure.TokenFailure"
    );

    // The same credentials come back while they are fresh.
    let again = role_credentials(&c, "ins-iam00021").await;
    assert_eq!(again["TmpSecretId"], creds["TmpSecretId"]);

    // Two hours later they have expired (the client follows the server clock).
    c.sim_post("/_sim/clock", json!({"offset_s": 7200})).await;
    let mut later = tmp.clone();
    later.clock_offset_s = 7200;
    assert_eq!(
        later.err("DescribeHaVips", json!({})).await,
        "AuthFailure.TokenFailure"
    );
    // New ones are issued and work.
    let fresh = role_credentials(&c, "ins-iam00021").await;
    assert_ne!(fresh["TmpSecretId"], creds["TmpSecretId"]);
    later.secret_id = fresh["TmpSecretId"].as_str().unwrap().into();
    later.secret_key = fresh["TmpSecretKey"].as_str().unwrap().into();
    later.token = Some(fresh["Token"].as_str().unwrap().into());
    later.ok("DescribeHaVips", json!({})).await;
}

#[tokio::test]
async fn short_credential_lifetime_setting() {
    let sim = SimHandle::start_with(SimOptions {
        rate_limit: Some(0),
        credential_lifetime: Some(std::time::Duration::from_secs(120)),
        ..SimOptions::default()
    });
    let c = Client::new(&sim);
    let creds = role_credentials(&c, "ins-iam00020").await;
    assert!((creds["ExpiredTime"].as_i64().unwrap() - now_s() - 120).abs() < 30);
}

/// CAM denial (`denied_actions`): the real code, the action named, checked after the signature
/// and before the parameters; other actions unaffected; an unknown action name is refused.
#[tokio::test]
async fn denied_actions_answer_unauthorized_operation() {
    let sim = SimHandle::start("seed");
    sim.set_settings(json!({"denied_actions": ["DescribeAddresses"]}))
        .unwrap();
    let c = Client::new(&sim);
    let r = c.call("DescribeAddresses", json!({"Bogus": 1})).await;
    assert_eq!(r["Error"]["Code"], "AuthFailure.UnauthorizedOperation");
    let msg = r["Error"]["Message"].as_str().unwrap();
    assert!(
        msg.contains("(vpc:DescribeAddresses)") && msg.contains("qcs::vpc:ap-guangzhou:uin/"),
        "{msg}"
    );
    c.ok("DescribeHaVips", json!({})).await;
    let e = sim
        .set_settings(json!({"denied_actions": ["DescribeNothing"]}))
        .unwrap_err();
    assert!(e.contains("DescribeNothing"), "{e}");
    sim.set_settings(json!({"denied_actions": []})).unwrap();
    c.ok("DescribeAddresses", json!({})).await;
}
