//! The read-only audit behind `havip audit`: scans EIPs and HAVIPs (and ENIs where a drift range
//! must be checked) in each region, concurrently, through one client whose rate budget all the
//! regions share, and turns what it read into findings with a kind, a severity and, for idle
//! EIPs, a cost. `findings.rs` holds the rules (pure), `render.rs` the output formats.
//!
//! Only `Describe*` actions are sent. A region that cannot be read completely gives no findings
//! of its own (a verdict is only as good as what was read for it) and marks the report partial.

mod findings;
mod render;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cloud::address::{Address, DescribeAddresses};
use crate::cloud::eni::{DescribeNetworkInterfaces, NetworkInterface};
use crate::cloud::havip::{DescribeHaVips, HaVip};
use crate::cloud::region::DescribeRegions;
use crate::cloud::{fetch_all_with, Client, Error};
use crate::config::{Config, Target};

pub use findings::{region_findings, Finding, Kind, Severity};
pub use render::{render_json, render_prometheus, render_table};

/// The idle-EIP price when none is given: 0.2 CNY an hour (API.md §5, from a billing sample).
pub const DEFAULT_PRICE_CNY_PER_HOUR: f64 = 0.2;
/// Hours in the 30 days a monthly figure covers.
pub const HOURS_PER_30D: f64 = 720.0;
/// The request budget when none is given, requests per second: the API's usual per-action limit.
pub const DEFAULT_RATE: u32 = 20;

/// A configured HAVIP that should carry an EIP (a `[[vip]]` of strategy `havip` with `eip`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// The `[[vip]]`'s name.
    pub vip: String,
    pub havip_id: String,
    /// The region the configuration's client calls.
    pub region: String,
}

impl Expected {
    /// The configured HAVIPs that should carry an EIP, in `region` (the configuration's).
    pub fn from_config(cfg: &Config, region: &str) -> Vec<Expected> {
        cfg.vips
            .iter()
            .filter_map(|v| match &v.target {
                Target::Havip {
                    havip_id,
                    eip: Some(_),
                    ..
                } => Some(Expected {
                    vip: v.name.clone(),
                    havip_id: havip_id.clone(),
                    region: region.to_string(),
                }),
                _ => None,
            })
            .collect()
    }
}

/// What was read of one region.
#[derive(Clone, Debug, Default)]
pub struct RegionScan {
    pub region: String,
    pub addresses: Vec<Address>,
    pub havips: Vec<HaVip>,
    /// Every ENI of the region, read only when some drift range names members to check.
    pub enis: Option<Vec<NetworkInterface>>,
}

/// A region that could not be read completely.
#[derive(Debug, thiserror::Error)]
#[error("region {region}: {source}")]
pub struct RegionError {
    pub region: String,
    #[source]
    pub source: Error,
}

/// Counters a progress line reads while the scan runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub pages: AtomicU64,
    pub items: AtomicU64,
    pub regions_done: AtomicU64,
}

impl Progress {
    fn page(&self, items: usize) {
        self.pages.fetch_add(1, Ordering::Relaxed);
        self.items.fetch_add(items as u64, Ordering::Relaxed);
    }
}

/// What to audit.
#[derive(Clone, Debug)]
pub struct Scope {
    pub regions: Vec<String>,
    pub expected: Vec<Expected>,
    pub price_cny_per_hour: f64,
}

/// Per-region counts of what was read.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RegionSummary {
    pub region: String,
    /// Whether the region was read completely (its findings are in the report).
    pub complete: bool,
    pub eips: usize,
    pub havips: usize,
    /// `null` when the region's ENIs were not needed (or the region failed).
    pub enis: Option<usize>,
    /// The error, one line with its causes, when `complete` is false.
    pub error: Option<String>,
}

/// The audit's result: findings of the regions read completely, and which were not.
#[derive(Debug)]
pub struct Report {
    pub started: DateTime<Utc>,
    pub duration_secs: f64,
    pub price_cny_per_hour: f64,
    pub regions: Vec<RegionSummary>,
    pub findings: Vec<Finding>,
    pub errors: Vec<RegionError>,
}

impl Report {
    /// Some region could not be read: the findings cover only the others.
    pub fn partial(&self) -> bool {
        !self.errors.is_empty()
    }

    pub fn idle_eips(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.kind.is_idle_eip())
            .count()
    }

    /// The idle EIPs' cost per hour, rounded to 1/10000 CNY.
    pub fn idle_cost_per_hour(&self) -> f64 {
        round4(self.idle_eips() as f64 * self.price_cny_per_hour)
    }

    pub fn idle_cost_per_30d(&self) -> f64 {
        round4(self.idle_eips() as f64 * self.price_cny_per_hour * HOURS_PER_30D)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// 3 partial, 2 any critical finding, 1 warnings only, 0 clean.
    pub fn exit_code(&self) -> u8 {
        if self.partial() {
            3
        } else if self.count(Severity::Critical) > 0 {
            2
        } else if self.count(Severity::Warning) > 0 {
            1
        } else {
            0
        }
    }
}

/// Money rounded to 1/10000 CNY (the billing sample's precision is finer; reports need less).
pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// The regions the cloud offers (CVM `DescribeRegions`), available ones only, sorted.
pub async fn all_regions(client: &Client) -> Result<Vec<String>, Error> {
    let resp = client.call(&DescribeRegions::default()).await?;
    let mut regions: Vec<String> = resp
        .region_set
        .into_iter()
        .filter(|r| r.is_available() && crate::cloud::region::is_region_name(&r.region))
        .map(|r| r.region)
        .collect();
    regions.sort();
    regions.dedup();
    Ok(regions)
}

/// Scans every region of `scope` at once (the client's rate budget paces them together) and
/// builds the report.
pub async fn run(client: &Client, scope: &Scope, progress: Arc<Progress>) -> Report {
    let started = Utc::now();
    let clock = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, region) in scope.regions.iter().enumerate() {
        let client = client.with_region(region);
        let progress = progress.clone();
        let region = region.clone();
        tasks.spawn(async move {
            let result = scan_region(&client, &region, &progress).await;
            progress.regions_done.fetch_add(1, Ordering::Relaxed);
            (i, region, result)
        });
    }
    let mut results = Vec::with_capacity(scope.regions.len());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(r) => results.push(r),
            // A scan task only ends by returning; a panic there is a bug, and must not pass
            // for a clean region.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    results.sort_by_key(|(i, _, _)| *i);
    let mut report = Report {
        started,
        duration_secs: 0.0,
        price_cny_per_hour: scope.price_cny_per_hour,
        regions: Vec::new(),
        findings: Vec::new(),
        errors: Vec::new(),
    };
    for (_, region, result) in results {
        match result {
            Ok(scan) => {
                let expected: Vec<Expected> = scope
                    .expected
                    .iter()
                    .filter(|e| e.region == region)
                    .cloned()
                    .collect();
                report
                    .findings
                    .extend(region_findings(&scan, &expected, scope.price_cny_per_hour));
                report.regions.push(RegionSummary {
                    region,
                    complete: true,
                    eips: scan.addresses.len(),
                    havips: scan.havips.len(),
                    enis: scan.enis.as_ref().map(Vec::len),
                    error: None,
                });
            }
            Err(source) => {
                let error = RegionError { region, source };
                report.regions.push(RegionSummary {
                    region: error.region.clone(),
                    complete: false,
                    eips: 0,
                    havips: 0,
                    enis: None,
                    error: Some(crate::error_chain::error_chain(&error.source)),
                });
                report.errors.push(error);
            }
        }
    }
    report.findings.sort_by(Finding::order);
    report.duration_secs = clock.elapsed().as_secs_f64();
    report
}

/// One region: EIPs beside HAVIPs (then the ENIs, when a drift range needs checking).
async fn scan_region(
    client: &Client,
    region: &str,
    progress: &Progress,
) -> Result<RegionScan, Error> {
    let on_page = |n| progress.page(n);
    let all_addresses = DescribeAddresses::default();
    let addresses = fetch_all_with(client, &all_addresses, on_page);
    let havips_and_enis = async {
        let havips = fetch_all_with(client, &DescribeHaVips::default(), on_page).await?;
        let needs_enis = havips.iter().any(|h| !h.ha_vip_association_set.is_empty());
        let enis = if needs_enis {
            let req = DescribeNetworkInterfaces::default();
            Some(fetch_all_with(client, &req, on_page).await?)
        } else {
            None
        };
        Ok::<_, Error>((havips, enis))
    };
    let (addresses, (havips, enis)) = tokio::try_join!(addresses, havips_and_enis)?;
    Ok(RegionScan {
        region: region.to_string(),
        addresses,
        havips,
        enis,
    })
}
