//! Shared helpers for tcsim's integration tests: a TC3-signing API client over reqwest.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tc3_sign::{sign, SignableRequest, SigningParams};
use tcsim::testing::{SimHandle, EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY};
use tcsim::SimOptions;

/// A signing client for one simulator.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub url: String,
    pub secret_id: String,
    pub secret_key: String,
    pub token: Option<String>,
    pub region: String,
    /// Added to the local clock when signing (to follow `/_sim/clock`).
    pub clock_offset_s: i64,
}

pub fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

/// The seed scenario with rate limiting off, so tests that make many calls are not throttled
/// (the rate-limit tests turn it on explicitly).
pub fn start_seed() -> SimHandle {
    SimHandle::start_with(SimOptions {
        rate_limit: Some(0),
        ..SimOptions::default()
    })
}

impl Client {
    pub fn new(sim: &SimHandle) -> Client {
        Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("reqwest client"),
            url: sim.url(),
            secret_id: EXAMPLE_SECRET_ID.into(),
            secret_key: EXAMPLE_SECRET_KEY.into(),
            token: None,
            region: "ap-guangzhou".into(),
            clock_offset_s: 0,
        }
    }

    fn host(&self) -> String {
        self.url
            .split("://")
            .nth(1)
            .expect("url has a scheme")
            .trim_end_matches('/')
            .to_string()
    }

    /// A signed POST with exactly these body bytes; returns the raw response.
    pub async fn post_raw(&self, action: &str, body: Vec<u8>) -> reqwest::Response {
        self.post_with(action, body, self.now(), &[], None).await
    }

    pub fn now(&self) -> i64 {
        now_s() + self.clock_offset_s
    }

    /// A signed POST at `timestamp`. `overrides` replace (Some) or remove (None) headers after
    /// signing; `sent_body` replaces the body after signing.
    pub async fn post_with(
        &self,
        action: &str,
        body: Vec<u8>,
        timestamp: i64,
        overrides: &[(&str, Option<&str>)],
        sent_body: Option<Vec<u8>>,
    ) -> reqwest::Response {
        self.build_post(action, body, timestamp, overrides, sent_body, false)
            .send()
            .await
            .expect("request sent")
    }

    /// A signed POST in unsigned-payload mode (`X-TC-Content-SHA256: UNSIGNED-PAYLOAD`).
    pub async fn post_unsigned_payload(&self, action: &str, body: Vec<u8>) -> reqwest::Response {
        self.build_post(action, body, self.now(), &[], None, true)
            .send()
            .await
            .expect("request sent")
    }

    /// The signed POST that [`Client::post_with`] sends, unsent: for a test that expects the
    /// send itself to fail (a hang), or sends through another HTTP client.
    pub fn build_post(
        &self,
        action: &str,
        body: Vec<u8>,
        timestamp: i64,
        overrides: &[(&str, Option<&str>)],
        sent_body: Option<Vec<u8>>,
        unsigned_payload: bool,
    ) -> reqwest::RequestBuilder {
        let host = self.host();
        let mut req = SignableRequest::post(&host, "application/json", &body);
        if unsigned_payload {
            req.payload = tc3_sign::Payload::Unsigned;
        }
        let signed = sign(
            &req,
            &SigningParams {
                secret_id: &self.secret_id,
                secret_key: &self.secret_key,
                service: "vpc",
                timestamp,
            },
        )
        .expect("sign");
        let mut headers: Vec<(String, String)> = vec![
            ("Content-Type".into(), "application/json".into()),
            ("Authorization".into(), signed.authorization.to_string()),
            ("X-TC-Action".into(), action.into()),
            ("X-TC-Version".into(), "2017-03-12".into()),
            ("X-TC-Timestamp".into(), timestamp.to_string()),
            ("X-TC-Region".into(), self.region.clone()),
        ];
        if unsigned_payload {
            headers.push(("X-TC-Content-SHA256".into(), "UNSIGNED-PAYLOAD".into()));
        }
        if let Some(t) = &self.token {
            headers.push(("X-TC-Token".into(), t.clone()));
        }
        for (name, value) in overrides {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            if let Some(v) = value {
                headers.push((name.to_string(), v.to_string()));
            }
        }
        let mut b = self.http.post(format!("{}/", self.url));
        for (n, v) in headers {
            b = b.header(n, v);
        }
        b.body(sent_body.unwrap_or(body))
    }

    /// A signed GET with this (already encoded) query.
    pub async fn get(&self, action: &str, query: &str) -> Value {
        let host = self.host();
        let ts = self.now();
        let req = SignableRequest::get(&host, query);
        let signed = sign(
            &req,
            &SigningParams {
                secret_id: &self.secret_id,
                secret_key: &self.secret_key,
                service: "vpc",
                timestamp: ts,
            },
        )
        .expect("sign");
        self.http
            .get(format!("{}/?{query}", self.url))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Authorization", signed.authorization.to_string())
            .header("X-TC-Action", action)
            .header("X-TC-Version", "2017-03-12")
            .header("X-TC-Timestamp", ts.to_string())
            .header("X-TC-Region", &self.region)
            .send()
            .await
            .expect("request sent")
            .json()
            .await
            .expect("JSON answer")
    }

    /// A signed call; returns the `Response` object.
    pub async fn call(&self, action: &str, params: Value) -> Value {
        let body = serde_json::to_vec(&params).expect("serialize");
        let resp = self.post_raw(action, body).await;
        assert_eq!(resp.status(), 200, "{action}: HTTP status");
        let v: Value = resp.json().await.expect("JSON answer");
        let r = v["Response"].clone();
        assert!(r["RequestId"].is_string(), "{action}: no RequestId in {v}");
        r
    }

    /// A call that must succeed.
    pub async fn ok(&self, action: &str, params: Value) -> Value {
        let r = self.call(action, params).await;
        assert!(r.get("Error").is_none(), "{action} failed: {r}");
        r
    }

    /// A call that must fail; returns the error code.
    pub async fn err(&self, action: &str, params: Value) -> String {
        let r = self.call(action, params.clone()).await;
        r["Error"]["Code"]
            .as_str()
            .unwrap_or_else(|| panic!("{action} {params} should fail: {r}"))
            .to_string()
    }

    pub async fn havip(&self, id: &str) -> Value {
        let r = self.ok("DescribeHaVips", json!({"HaVipIds": [id]})).await;
        r["HaVipSet"][0].clone()
    }

    pub async fn address(&self, id: &str) -> Value {
        let r = self
            .ok("DescribeAddresses", json!({"AddressIds": [id]}))
            .await;
        r["AddressSet"][0].clone()
    }

    /// Polls DescribeVpcTaskResult until it leaves RUNNING (30 s cap).
    pub async fn wait_vpc_task(&self, task_id: &str) -> String {
        for _ in 0..300 {
            let r = self
                .ok("DescribeVpcTaskResult", json!({"TaskId": task_id}))
                .await;
            let status = r["Status"].as_str().expect("Status").to_string();
            if status != "RUNNING" {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("task {task_id} still RUNNING after 30 s");
    }

    /// Polls DescribeTaskResult until it leaves RUNNING (30 s cap).
    pub async fn wait_task(&self, task_id: u64) -> String {
        for _ in 0..300 {
            let r = self
                .ok("DescribeTaskResult", json!({"TaskId": task_id}))
                .await;
            let status = r["Result"].as_str().expect("Result").to_string();
            if status != "RUNNING" {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("task {task_id} still RUNNING after 30 s");
    }

    // Control API helpers (unsigned).

    pub async fn control(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut b = self.http.request(method, format!("{}{path}", self.url));
        if let Some(body) = body {
            b = b.json(&body);
        }
        let resp = b.send().await.expect("control request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn sim_post(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.control(reqwest::Method::POST, path, Some(body)).await;
        assert_eq!(status, 200, "POST {path}: {v}");
        v
    }

    pub async fn arp(&self, ip: &str, mac: &str) -> Value {
        self.sim_post("/_sim/arp", json!({"ip": ip, "mac": mac}))
            .await
    }

    pub async fn requests(&self) -> Vec<Value> {
        let (status, v) = self
            .control(reqwest::Method::GET, "/_sim/requests", None)
            .await;
        assert_eq!(status, 200);
        v.as_array().expect("array").clone()
    }
}
