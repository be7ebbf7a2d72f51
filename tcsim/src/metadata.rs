//! The CVM metadata service (`/latest/meta-data/…`, API.md §4.1), including CAM role
//! credentials that the API then accepts.
//!
//! Which instance answers: under `/_sim/node/<InstanceId>/latest/meta-data/…` the named one
//! (tests); under `/latest/meta-data/…` the instance owning the caller's source IP (the lab, where
//! each node's traffic comes from its own address), else `settings.metadata_default_instance`
//! (`--metadata-instance`), else 404.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::json;

use crate::net::Cidr;
use crate::state::{normalize_mac, Eni, Instance, TempCredential, World};
use crate::Sim;

pub fn routes() -> Router<Arc<Sim>> {
    Router::new()
        .route("/latest/meta-data", get(by_source))
        .route("/latest/meta-data/", get(by_source))
        .route("/latest/meta-data/{*path}", get(by_source_path))
        .route("/_sim/node/{id}/latest/meta-data", get(by_node))
        .route("/_sim/node/{id}/latest/meta-data/", get(by_node))
        .route(
            "/_sim/node/{id}/latest/meta-data/{*path}",
            get(by_node_path),
        )
}

async fn by_source(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    answer_for_source(&sim, peer, "")
}

async fn by_source_path(
    State(sim): State<Arc<Sim>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(path): Path<String>,
) -> Response {
    answer_for_source(&sim, peer, &path)
}

async fn by_node(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    answer(&sim, &id, "")
}

async fn by_node_path(
    State(sim): State<Arc<Sim>>,
    Path((id, path)): Path<(String, String)>,
) -> Response {
    answer(&sim, &id, &path)
}

fn not_found(why: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain")],
        format!("404 - Not Found: {why}\n"),
    )
        .into_response()
}

fn answer_for_source(sim: &Sim, peer: SocketAddr, path: &str) -> Response {
    let ip = match peer.ip() {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(|v4| v4.to_string())
            .unwrap_or_else(|| v6.to_string()),
        std::net::IpAddr::V4(v4) => v4.to_string(),
    };
    let id = {
        let w = sim.world();
        w.enis
            .iter()
            .find(|e| e.instance_id.is_some() && e.private_ips.iter().any(|p| p.ip == ip))
            .and_then(|e| e.instance_id.clone())
            .or_else(|| w.settings.metadata_default_instance.clone())
    };
    match id {
        Some(id) => answer(sim, &id, path),
        None => not_found(&format!(
            "no instance has the private IP {ip} (use /_sim/node/<InstanceId>/latest/meta-data/ or --metadata-instance)"
        )),
    }
}

fn answer(sim: &Sim, instance_id: &str, path: &str) -> Response {
    let now = sim.clock.now();
    let mut w = sim.world();
    let Some(inst) = w.instance(instance_id).cloned() else {
        return not_found(&format!("no instance {instance_id}"));
    };
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if let ["cam", "security-credentials", role] = segments.as_slice() {
        if inst.role.as_deref() != Some(*role) {
            return not_found(&format!("instance {instance_id} has no role {role}"));
        }
        let body = credentials(&mut w, &inst, role, now.timestamp());
        return (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], body).into_response();
    }
    match lookup(&w, &inst, &segments) {
        Some(text) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], text).into_response()
        }
        None => not_found(path),
    }
}

/// The text at `segments` (a directory lists its children, one per line, subdirectories with
/// a trailing `/`).
fn lookup(w: &World, inst: &Instance, segments: &[&str]) -> Option<String> {
    let enis = w.instance_enis(&inst.id);
    let primary = enis.first().copied();
    let primary_ip = primary
        .and_then(|e| e.private_ips.first())
        .map(|p| p.ip.clone());
    let public_ip = primary
        .zip(primary_ip.as_ref())
        .and_then(|(e, ip)| w.ip_address(&e.id, ip))
        .map(|a| a.ip.clone());
    let lines = |items: &[&str]| items.join("\n");
    Some(match segments {
        [] => lines(&[
            "app-id",
            "cam/",
            "instance/",
            "instance-id",
            "instance-name",
            "local-ipv4",
            "mac",
            "network/",
            "payment/",
            "placement/",
            "public-ipv4",
            "uuid",
        ]),
        ["instance-id"] => inst.id.clone(),
        ["instance-name"] => inst.name.clone(),
        ["uuid"] => inst.uuid.clone(),
        ["app-id"] => "1250000000".into(),
        ["local-ipv4"] => primary_ip?,
        ["public-ipv4"] => public_ip?,
        ["mac"] => primary?.mac.clone(),
        ["placement"] => lines(&["region", "zone"]),
        ["placement", "region"] => inst.region.clone(),
        ["placement", "zone"] => inst.zone.clone(),
        ["instance"] => lines(&["image-id", "instance-type"]),
        ["instance", "instance-type"] => "S5.MEDIUM2".into(),
        ["instance", "image-id"] => "img-eb30mz89".into(),
        ["payment"] => lines(&["charge-type"]),
        ["payment", "charge-type"] => "POSTPAID_BY_HOUR".into(),
        ["cam"] => lines(&["security-credentials/"]),
        ["cam", "security-credentials"] => inst.role.clone()?,
        ["network"] => lines(&["interfaces/"]),
        ["network", "interfaces"] => lines(&["macs/"]),
        ["network", "interfaces", "macs"] => enis
            .iter()
            .map(|e| format!("{}/", e.mac))
            .collect::<Vec<_>>()
            .join("\n"),
        ["network", "interfaces", "macs", mac, rest @ ..] => {
            let eni = enis
                .iter()
                .find(|e| normalize_mac(&e.mac) == normalize_mac(mac))?;
            mac_entry(w, eni, rest)?
        }
        _ => return None,
    })
}

fn mac_entry(w: &World, eni: &Eni, rest: &[&str]) -> Option<String> {
    let subnet = w.subnets.iter().find(|s| s.id == eni.subnet_id)?;
    let public: Vec<String> = eni
        .private_ips
        .iter()
        .filter_map(|p| w.ip_address(&eni.id, &p.ip).map(|a| a.ip.clone()))
        .collect();
    Some(match rest {
        [] => [
            "local-ipv4s/",
            "mac",
            "owner-id",
            "primary-local-ipv4",
            "public-ipv4s",
            "subnet-id",
            "vpc-id",
        ]
        .join("\n"),
        ["mac"] => eni.mac.clone(),
        ["primary-local-ipv4"] => eni.private_ips.first()?.ip.clone(),
        ["public-ipv4s"] => public.join("\n"),
        ["vpc-id"] => eni.vpc_id.clone(),
        ["subnet-id"] => eni.subnet_id.clone(),
        ["owner-id"] => "100000000001".into(),
        ["local-ipv4s"] => eni
            .private_ips
            .iter()
            .map(|p| format!("{}/", p.ip))
            .collect::<Vec<_>>()
            .join("\n"),
        ["local-ipv4s", ip, tail @ ..] => {
            let p = eni.private_ips.iter().find(|p| p.ip == *ip)?;
            let eip = w.ip_address(&eni.id, &p.ip);
            let cidr = Cidr::parse(&subnet.cidr).ok()?;
            match tail {
                [] => [
                    "gateway",
                    "local-ipv4",
                    "public-ipv4",
                    "public-ipv4-mode",
                    "subnet-mask",
                ]
                .join("\n"),
                ["gateway"] => std::net::Ipv4Addr::from(cidr.gateway()).to_string(),
                ["local-ipv4"] => p.ip.clone(),
                ["public-ipv4"] => eip?.ip.clone(),
                ["public-ipv4-mode"] => {
                    eip?;
                    "NAT".into()
                }
                ["subnet-mask"] => std::net::Ipv4Addr::from(cidr.mask()).to_string(),
                _ => return None,
            }
        }
        _ => return None,
    })
}

/// Role credentials: the current ones while more than half their lifetime remains, else new
/// ones (older credentials stay valid until they expire, as on the real service).
fn credentials(w: &mut World, inst: &Instance, role: &str, now: i64) -> String {
    let lifetime = i64::try_from(w.settings.credential_lifetime_s.max(1)).unwrap_or(i64::MAX);
    let current = w
        .temp_credentials
        .iter()
        .filter(|(_, c)| {
            c.instance_id == inst.id
                && c.role == role
                && c.expired_time.saturating_sub(now) > lifetime / 2
        })
        .max_by_key(|(_, c)| c.expired_time)
        .map(|(id, c)| (id.clone(), c.clone()));
    let (secret_id, cred) = match current {
        Some(c) => c,
        None => {
            let rand = |n: usize| -> String {
                rand::thread_rng()
                    .sample_iter(&Alphanumeric)
                    .take(n)
                    .map(char::from)
                    .collect()
            };
            let secret_id = format!("AKID{}", rand(32));
            let cred = TempCredential {
                secret_key: rand(32),
                token: rand(96),
                expired_time: now.saturating_add(lifetime),
                instance_id: inst.id.clone(),
                role: role.to_string(),
            };
            w.add_temp_credential(secret_id.clone(), cred.clone(), now);
            (secret_id, cred)
        }
    };
    let expiration = chrono::DateTime::from_timestamp(cred.expired_time, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default();
    json!({
        "TmpSecretId": secret_id,
        "TmpSecretKey": cred.secret_key,
        "ExpiredTime": cred.expired_time,
        "Expiration": expiration,
        "Token": cred.token,
        "Code": "Success",
    })
    .to_string()
}
