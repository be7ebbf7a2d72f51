//! The watcher's Prometheus metrics: one registry, the families and their stable names
//! (documented in `docs/metrics.md`), and [`ApiObserver`], the client's [`CallObserver`] that
//! counts and times every API call. Exposition is prometheus-client's text encoder.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::cloud::{CallObserver, CallRecord};

/// The label of per-VIP metrics: the `[[vip]]` name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VipLabel {
    /// The VIP's name in the configuration.
    pub vip: String,
}

/// The labels of `havip_api_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    /// The API action, e.g. `DescribeHaVips`.
    pub action: String,
    /// `ok`, or the API's error code (`ResourceNotFound`, …), or the error class when there was
    /// no answer (`transport`, `deadline`, …).
    pub code: String,
}

/// The label of `havip_api_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabel {
    /// The API action.
    pub action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Every metric the watcher exports. Cheap to share (`Arc`); each family is internally
/// synchronised.
pub struct Metrics {
    registry: Registry,
    /// `havip_is_master{vip}`: 1 while keepalived says this node is MASTER for the VIP.
    pub is_master: Family<VipLabel, Gauge>,
    /// `havip_cloud_holder_matches{vip}`: 1 when the last verdict was OK (the cloud agrees with
    /// keepalived), 0 otherwise (drift, split, unknown).
    pub holder_matches: Family<VipLabel, Gauge>,
    /// `havip_transitions_total{vip}`: keepalived events acted on (notify FIFO).
    pub transitions: Family<VipLabel, Counter>,
    /// `havip_repairs_total{vip}`: repairs the watcher started.
    pub repairs: Family<VipLabel, Counter>,
    /// `havip_splits_total{vip}`: ticks that judged a split (this node not MASTER, yet holding).
    pub splits: Family<VipLabel, Counter>,
    /// `havip_api_requests_total{action,code}`.
    pub api_requests: Family<ApiLabels, Counter>,
    /// `havip_api_request_duration_seconds{action}`: whole calls, retries included.
    pub api_duration: Family<ActionLabel, Histogram>,
    /// `havip_last_verified_timestamp_seconds{vip}`: Unix time of the last tick that read
    /// both views and judged them.
    pub last_verified: Family<VipLabel, FloatGauge>,
    /// `havip_clock_skew_seconds`: server minus local clock, as the client measured it.
    pub clock_skew: Gauge,
    /// `havip_idle_eips{vip}`: EIPs of the VIP seen idle (and billed) at the last read.
    pub idle_eips: Family<VipLabel, Gauge>,
}

impl Metrics {
    /// A registry with every family registered under its documented name.
    pub fn new() -> Arc<Metrics> {
        let mut registry = Registry::default();
        let m = Metrics {
            is_master: Family::default(),
            holder_matches: Family::default(),
            transitions: Family::default(),
            repairs: Family::default(),
            splits: Family::default(),
            api_requests: Family::default(),
            api_duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.005, 2.0, 13))
            }),
            last_verified: Family::default(),
            clock_skew: Gauge::default(),
            idle_eips: Family::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "havip_is_master",
            "1 while keepalived reports this node MASTER for the VIP",
            m.is_master.clone(),
        );
        r.register(
            "havip_cloud_holder_matches",
            "1 when the cloud's holder agrees with keepalived (last verdict OK)",
            m.holder_matches.clone(),
        );
        r.register(
            "havip_transitions",
            "keepalived events acted on",
            m.transitions.clone(),
        );
        r.register(
            "havip_repairs",
            "repairs started by the watcher",
            m.repairs.clone(),
        );
        r.register(
            "havip_splits",
            "checks that found this node holding the VIP while not MASTER",
            m.splits.clone(),
        );
        r.register(
            "havip_api_requests",
            "API calls by action and result code",
            m.api_requests.clone(),
        );
        r.register(
            "havip_api_request_duration_seconds",
            "API call latency, retries included",
            m.api_duration.clone(),
        );
        r.register(
            "havip_last_verified_timestamp_seconds",
            "Unix time of the last completed verification of the VIP",
            m.last_verified.clone(),
        );
        r.register(
            "havip_clock_skew_seconds",
            "API server clock minus the local clock",
            m.clock_skew.clone(),
        );
        r.register(
            "havip_idle_eips",
            "EIPs of the VIP seen unbound or on an unheld HAVIP (billed while idle)",
            m.idle_eips.clone(),
        );
        r.register(
            "havip_build",
            "the running havip",
            Info::new(BuildLabels {
                version: env!("CARGO_PKG_VERSION").to_string(),
            }),
        );
        Arc::new(Metrics { registry, ..m })
    }

    /// The metrics in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The label set of one VIP.
    pub fn vip(name: &str) -> VipLabel {
        VipLabel {
            vip: name.to_string(),
        }
    }

    /// Drops every per-VIP series of a VIP that left the configuration (SIGHUP).
    pub fn forget_vip(&self, name: &str) {
        let l = Metrics::vip(name);
        self.is_master.remove(&l);
        self.holder_matches.remove(&l);
        self.last_verified.remove(&l);
        self.idle_eips.remove(&l);
        self.transitions.remove(&l);
        self.repairs.remove(&l);
        self.splits.remove(&l);
    }
}

/// Counts and times every API call of the client it is attached to (the client's one
/// [`CallObserver`] hook, composed with the journal's).
pub struct ApiObserver(pub Arc<Metrics>);

impl CallObserver for ApiObserver {
    fn on_call(&self, rec: &CallRecord) {
        let code = rec.outcome.as_str().to_owned();
        self.0
            .api_requests
            .get_or_create(&ApiLabels {
                action: rec.action.clone(),
                code,
            })
            .inc();
        self.0
            .api_duration
            .get_or_create(&ActionLabel {
                action: rec.action.clone(),
            })
            .observe(rec.duration.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn record(action: &str, outcome: crate::cloud::CallOutcome) -> CallRecord {
        CallRecord {
            service: "vpc".into(),
            action: action.into(),
            request_id: None,
            duration: Duration::from_millis(30),
            attempts: 1,
            outcome,
            mutating: false,
            params: serde_json::Value::Null,
        }
    }

    #[test]
    fn names_are_the_documented_ones() {
        let m = Metrics::new();
        let v = Metrics::vip("iam");
        m.is_master.get_or_create(&v).set(1);
        m.holder_matches.get_or_create(&v).set(1);
        m.transitions.get_or_create(&v).inc();
        m.repairs.get_or_create(&v).inc();
        m.splits.get_or_create(&v).inc();
        m.last_verified.get_or_create(&v).set(1.7e9);
        m.idle_eips.get_or_create(&v).set(0);
        m.clock_skew.set(-3);
        let obs = ApiObserver(m.clone());
        obs.on_call(&record("DescribeHaVips", crate::cloud::CallOutcome::Ok));
        obs.on_call(&record(
            "DescribeHaVips",
            crate::cloud::CallOutcome::Failed("InternalError".into()),
        ));
        let text = m.encode();
        for line in [
            "havip_is_master{vip=\"iam\"} 1",
            "havip_cloud_holder_matches{vip=\"iam\"} 1",
            "havip_transitions_total{vip=\"iam\"} 1",
            "havip_repairs_total{vip=\"iam\"} 1",
            "havip_splits_total{vip=\"iam\"} 1",
            "havip_last_verified_timestamp_seconds{vip=\"iam\"} 1700000000.0",
            "havip_idle_eips{vip=\"iam\"} 0",
            "havip_clock_skew_seconds -3",
            "havip_api_requests_total{action=\"DescribeHaVips\",code=\"ok\"} 1",
            "havip_api_requests_total{action=\"DescribeHaVips\",code=\"InternalError\"} 1",
            "havip_api_request_duration_seconds_count{action=\"DescribeHaVips\"} 2",
            concat!(
                "havip_build_info{version=\"",
                env!("CARGO_PKG_VERSION"),
                "\"} 1"
            ),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    #[test]
    fn a_vip_that_left_the_configuration_is_forgotten() {
        let m = Metrics::new();
        m.is_master.get_or_create(&Metrics::vip("old")).set(1);
        m.forget_vip("old");
        assert!(!m.encode().contains("vip=\"old\""));
    }
}
