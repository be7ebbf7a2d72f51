//! The control API under `/_sim/` (no signature): ARP, faults, clock, instance stop/start,
//! settings, state and the request log. Documented in `tcsim/README.md`. Bad input answers 400
//! with `{"error": "…"}` and changes nothing; unknown instances 404. Every number is checked
//! against its [`Bound`] on the posted JSON, so the message names the field and its range.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::faults::FaultSpec;
use crate::state::{Bound, Settings};
use crate::{Clock, Sim};

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/_sim/health", get(health))
        .route("/_sim/arp", post(arp))
        .route(
            "/_sim/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/_sim/faults/{id}", delete(remove_fault))
        .route("/_sim/clock", get(get_clock).post(set_clock))
        .route("/_sim/instances/{id}/{op}", post(instance_op))
        .route("/_sim/settings", get(get_settings).post(set_settings))
        .route("/_sim/state", get(state))
        .route("/_sim/requests", get(requests).delete(clear_requests))
}

fn bad_request(msg: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": msg.into()}))).into_response()
}

/// The JSON body, or the message for a 400.
fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON body: {e}"))
}

async fn health() -> Json<Value> {
    Json(json!({"ok": true}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ArpBody {
    ip: String,
    mac: String,
}

async fn arp(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let req: ArpBody = match parse(&body) {
        Ok(r) => r,
        Err(msg) => return bad_request(msg),
    };
    if req.ip.parse::<std::net::Ipv4Addr>().is_err() {
        return bad_request(format!("\"ip\" {:?} is not an IPv4 address", req.ip));
    }
    let now = sim.clock.now();
    let outcome = sim.world().apply_arp(&req.ip, &req.mac, now);
    log_arp("control API", &req.ip, &req.mac, &outcome);
    Json(outcome).into_response()
}

/// Logs an ARP outcome (moves at info, the rest at debug).
pub fn log_arp(source: &str, ip: &str, mac: &str, o: &crate::state::ArpOutcome) {
    if o.moved {
        tracing::info!(
            source,
            ip,
            mac,
            havip = o.havip_id.as_deref().unwrap_or(""),
            eni = o.network_interface_id.as_deref().unwrap_or(""),
            "HAVIP moved by gratuitous ARP"
        );
    } else {
        tracing::debug!(
            source,
            ip,
            mac,
            reason = o.reason.as_deref().unwrap_or(""),
            "ARP ignored"
        );
    }
}

async fn list_faults(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({"rules": sim.faults().rules()}))
}

async fn add_fault(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let spec = match parse::<Value>(&body).and_then(|v| FaultSpec::from_json(&v)) {
        Ok(s) => s,
        Err(msg) => return bad_request(msg),
    };
    match sim.faults().add(spec) {
        Ok(rule) => Json(json!({"rule": rule})).into_response(),
        Err(msg) => bad_request(msg),
    }
}

async fn clear_faults(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({"cleared": sim.faults().clear()}))
}

/// Removes one rule (e.g. a persistent fault a test lifts at a chosen moment, leaving the rest).
async fn remove_fault(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let Ok(n) = id.parse::<u64>() else {
        return bad_request(format!("fault rule id {id:?} is not a number"));
    };
    if sim.faults().remove(n) {
        Json(json!({"removed": n})).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no fault rule {n}")})),
        )
            .into_response()
    }
}

fn clock_json(sim: &Sim) -> Value {
    let now = sim.clock.now();
    json!({
        "offset_s": sim.clock.offset_s(),
        "now": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "unix": now.timestamp(),
    })
}

async fn get_clock(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(clock_json(&sim))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    offset_s: i64,
}

async fn set_clock(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let req = parse::<Value>(&body).and_then(|v| {
        if let Some(n) = v.get("offset_s") {
            Clock::OFFSET_S.check_json(n)?;
        }
        serde_json::from_value::<ClockBody>(v).map_err(|e| format!("invalid clock body: {e}"))
    });
    match req {
        Ok(req) => {
            sim.clock.set_offset_s(req.offset_s);
            Json(clock_json(&sim)).into_response()
        }
        Err(msg) => bad_request(msg),
    }
}

async fn instance_op(
    State(sim): State<Arc<Sim>>,
    Path((id, op)): Path<(String, String)>,
) -> Response {
    let mut w = sim.world();
    let result = match op.as_str() {
        "stop" => w.stop_instance(&id).map(
            |cleared| json!({"instance_id": id, "state": "STOPPED", "havips_cleared": cleared}),
        ),
        "start" => w
            .start_instance(&id)
            .then(|| json!({"instance_id": id, "state": "RUNNING"})),
        _ => return bad_request(format!("unknown operation {op:?}; use stop or start")),
    };
    match result {
        Some(v) => Json(v).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no instance {id}")})),
        )
            .into_response(),
    }
}

async fn get_settings(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!(sim.world().settings))
}

/// Merges the posted fields into the settings (same names as the scenario's `[settings]`).
async fn set_settings(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    match parse(&body).and_then(|patch| merge_settings(&sim, patch)) {
        Ok(v) => Json(v).into_response(),
        Err(msg) => bad_request(msg),
    }
}

/// Merges `patch` into the settings and returns them (`POST /_sim/settings`, and
/// [`crate::testing::SimHandle::set_settings`]); `Err` is the 400's message, and changes nothing.
pub(crate) fn merge_settings(sim: &Sim, patch: Value) -> Result<Value, String> {
    let Value::Object(patch) = patch else {
        return Err("the body must be a JSON object of settings".into());
    };
    check_numeric_settings(&patch)?;
    let mut w = sim.world();
    let mut merged = json!(w.settings);
    if let Value::Object(m) = &mut merged {
        for (k, v) in patch {
            m.insert(k, v);
        }
    }
    let s = serde_json::from_value::<crate::state::Settings>(merged)
        .map_err(|e| format!("invalid settings: {e}"))?;
    s.validate()?;
    if let Some(id) = &s.metadata_default_instance {
        if w.instance(id).is_none() {
            return Err(format!("no instance {id}"));
        }
    }
    let capacity = s.request_log_capacity;
    w.settings = s;
    let out = json!(w.settings);
    drop(w);
    sim.limiter().reset();
    sim.log().set_capacity(capacity);
    Ok(out)
}

/// Checks each numeric field of a settings patch against its bound, before anything merges.
fn check_numeric_settings(patch: &serde_json::Map<String, Value>) -> Result<(), String> {
    for (k, v) in patch {
        if let Some(bound) = Settings::SCALARS.iter().find(|b| b.field == k) {
            bound.check_json(v)?;
        } else if k == "rate_limits" {
            let Some(entries) = v.as_object() else {
                return Err(format!(
                    "\"rate_limits\" must be an object of action names to requests/s, got {v}"
                ));
            };
            let bound: Bound = Settings::RATE_LIMITS_ENTRY;
            for (action, n) in entries {
                bound.check_json_named(&format!("rate_limits.{action}"), n)?;
            }
        }
    }
    Ok(())
}

async fn state(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(state_json(&sim))
}

/// The world with the clock and the fault rules (`GET /_sim/state`, and
/// [`crate::testing::SimHandle::state`]).
pub(crate) fn state_json(sim: &Sim) -> Value {
    let w = sim.world();
    let mut v = json!(*w);
    drop(w);
    if let Value::Object(m) = &mut v {
        m.insert("clock".into(), clock_json(sim));
        m.insert("faults".into(), json!(sim.faults().rules()));
    }
    v
}

async fn requests(State(sim): State<Arc<Sim>>) -> Response {
    let log = sim.log();
    let body = serde_json::to_vec(&log.entries().collect::<Vec<_>>()).unwrap_or_default();
    drop(log);
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

async fn clear_requests(State(sim): State<Arc<Sim>>) -> Json<Value> {
    Json(json!({"cleared": sim.log().clear()}))
}
