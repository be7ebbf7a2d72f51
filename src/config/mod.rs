//! havip's configuration file: parsing (with the line of every error), validation of impossible
//! combinations, defaults, and the paths derived from it (state, journal, drain flags).
//!
//! Parsing is two-stage ("parse first, resolve second"): the file is deserialized into `Raw*`
//! types that keep the source spans of the keys we validate, then turned into [`Config`], whose
//! types make the impossible combinations unrepresentable (a `havip` VIP always has a HAVIP ID).
//! Nothing here touches the network; node discovery lives in `failover::node`.
//!
//! The file (every key optional unless marked):
//! ```toml
//! endpoint = "https://vpc.tencentcloudapi.com"  # or tcsim's http://127.0.0.1:PORT
//! region = "ap-guangzhou"       # else TENCENTCLOUD_REGION, else metadata placement/region
//! ca_file = "/etc/havip/ca.pem" # an extra trusted CA
//! state_dir = "/var/lib/havip"  # HAVIP_STATE_DIR wins over it
//! journal = "/var/lib/havip/journal.jsonl"
//!
//! [credentials]                 # absent: environment, profile file, CVM role (in that order)
//! secret_id = "AKID…"           # with secret_key (and optional token), or:
//! profile_file = "/root/.tencentcloud/credentials"  # or: role = "havip-role"
//!
//! [node]                        # absent values are discovered
//! instance_id = "ins-…"         # else metadata instance-id
//! eni_id = "eni-…"              # else the instance's ENI whose MAC matches
//! mac = "52:54:00:…"            # the MAC to match (default: metadata mac)
//!
//! [[vip]]
//! name = "iam"                  # required, unique; names state files
//! vrrp_instance = "VI_1"        # default: the name
//! vrrp_group = "G1"             # also follow GROUP notifications of this sync group
//! strategy = "havip"            # havip (default) | private-ip | eip
//! havip_id = "havip-…"          # havip: required
//! eip = "106.52.252.139"        # havip: expected on the HAVIP; eip: the EIP to move
//! eip_id = "eip-…"              # alternatively (or also) by ID
//! private_ip = "10.0.4.98"      # private-ip: the IP to migrate; eip: our IP to bind to
//! interface = "eth0"            # havip: also announce by gratuitous ARP here
//! vip = "10.0.4.99"             # the Vip for ARP (default: read from the HAVIP)
//! fencing = false               # havip: remove peers from the drift range on MASTER
//! eip_takeover = false          # havip: move the expected EIP if it is bound elsewhere
//! deadline = "60s"              # the whole run, lock wait and retries included
//!
//! [[alert]]                     # see `alert::AlertTarget`: webhook, wecom, exec
//! [check]                       # see `config::check::CheckConfig`
//! ```
//!
//! The module by concern: this file holds the types; `load` reads the file, `parse` turns it
//! into a [`Config`] section by section (`vip` for each `[[vip]]`), `locate` names the file,
//! line and key of every error, and `validate` holds the checks of names and resource IDs.

pub mod check;
mod load;
mod locate;
mod parse;
mod validate;
mod vip;

use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::bounds;

pub(crate) use validate::valid_vip_name;

/// Where the file is looked for when neither `--config` nor `HAVIP_CONFIG` is given.
pub(crate) const DEFAULT_CONFIG_PATH: &str = "/etc/havip/havip.toml";
/// Where per-VIP state, locks, drain flags and the journal live by default.
pub(crate) const DEFAULT_STATE_DIR: &str = "/var/lib/havip";
/// Overrides the state directory (for unprivileged use and tests).
pub(crate) const STATE_DIR_ENV: &str = "HAVIP_STATE_DIR";
/// The whole-run deadline of one VIP when the file does not set `deadline` (issue 4: 60 s).
pub(crate) const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// A configuration problem: the message names the key, and the line when the file has one.
/// A located diagnostic: the message is composed where the key's place is known (toml's own
/// errors reach us as text); where a typed error is behind it (the file could not be read, a
/// resource ID or an `[[alert]]` entry was refused), that error is kept as the source.
#[derive(Debug, Clone)]
pub struct ConfigError {
    /// The file the problem is in.
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong, naming the key.
    pub message: String,
    /// The typed error behind the message, if any.
    pub source: Option<std::sync::Arc<dyn std::error::Error + Send + Sync>>,
}

impl PartialEq for ConfigError {
    fn eq(&self, other: &Self) -> bool {
        (&self.path, self.line, &self.message) == (&other.path, other.line, &other.message)
    }
}

impl Eq for ConfigError {}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

/// How a VIP follows keepalived (ARCHITECTURE.md "Strategies").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    /// A HAVIP moved by gratuitous ARP; havip manages the drift range and the EIP, and confirms.
    Havip,
    /// A secondary private IP moved with `MigratePrivateIpAddress`.
    PrivateIp,
    /// An EIP moved to this node's ENI and private IP.
    Eip,
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StrategyKind::Havip => "havip",
            StrategyKind::PrivateIp => "private-ip",
            StrategyKind::Eip => "eip",
        })
    }
}

/// Which EIP a VIP expects: by address (what operators know) and/or by ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EipRef {
    /// The public address, e.g. `106.52.252.139`.
    pub address: Option<Ipv4Addr>,
    /// The `eip-…` ID.
    pub id: Option<String>,
}

impl fmt::Display for EipRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.address, &self.id) {
            (Some(a), Some(i)) => write!(f, "{a} ({i})"),
            (Some(a), None) => write!(f, "{a}"),
            (None, Some(i)) => write!(f, "{i}"),
            (None, None) => f.write_str("-"),
        }
    }
}

/// The strategy of one VIP with exactly the resources it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// See [`StrategyKind::Havip`].
    Havip {
        /// `havip-…`.
        havip_id: String,
        /// The EIP that must stay bound to the HAVIP, if any.
        eip: Option<EipRef>,
        /// Remove peers from the drift range on promotion.
        fencing: bool,
        /// Move the expected EIP when it is bound to something else.
        eip_takeover: bool,
    },
    /// See [`StrategyKind::PrivateIp`].
    PrivateIp {
        /// The secondary private IP that follows the master.
        private_ip: Ipv4Addr,
    },
    /// See [`StrategyKind::Eip`].
    Eip {
        /// The EIP that follows the master.
        eip: EipRef,
        /// The private IP on this node's ENI the EIP is bound to.
        private_ip: Ipv4Addr,
    },
}

impl Target {
    /// The strategy's name.
    pub fn kind(&self) -> StrategyKind {
        match self {
            Target::Havip { .. } => StrategyKind::Havip,
            Target::PrivateIp { .. } => StrategyKind::PrivateIp,
            Target::Eip { .. } => StrategyKind::Eip,
        }
    }
}

/// One `[[vip]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipConfig {
    /// Unique name; used in file names, the journal and alerts.
    pub name: String,
    /// The keepalived `vrrp_instance` this VIP follows.
    pub vrrp_instance: String,
    /// The keepalived `vrrp_sync_group` this VIP follows, if notifications come per group.
    pub vrrp_group: Option<String>,
    /// What to do on MASTER.
    pub target: Target,
    /// The interface keepalived announces on; havip sends its own gratuitous ARP only when set.
    pub interface: Option<String>,
    /// The virtual IP itself (needed for ARP; read from the HAVIP when absent).
    pub vip: Option<Ipv4Addr>,
    /// The whole run's deadline.
    pub deadline: Duration,
}

/// Explicit credentials or where to find them; every field is optional (the client's chain applies).
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsConfig {
    /// `AKID…`; needs `secret_key`.
    pub secret_id: Option<String>,
    /// Never printed.
    pub secret_key: Option<String>,
    /// Temporary-credential token; never printed.
    pub token: Option<String>,
    /// A profile file in the `~/.tencentcloud/credentials` format.
    pub profile_file: Option<PathBuf>,
    /// The CVM role whose metadata credentials to use.
    pub role: Option<String>,
    /// Set by [`Config::load`] when the file holds a secret and is group- or world-readable:
    /// the credentials are then refused where they would be used (as a profile file with that
    /// mode is), while commands that need none (`havip check`, keepalived's health probe) still
    /// run, so an upgrade never takes a VIP down over a file mode.
    #[serde(skip)]
    pub too_open: Option<crate::cloud::error::TooOpen>,
}

// Hand-written so a secret can never reach a log (STYLE.md 12).
impl fmt::Debug for CredentialsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialsConfig")
            .field("secret_id", &self.secret_id)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "** redacted **"),
            )
            .field("token", &self.token.as_ref().map(|_| "** redacted **"))
            .field("profile_file", &self.profile_file)
            .field("role", &self.role)
            .finish()
    }
}

/// `[node]`: this machine. Missing values are discovered (metadata, then DescribeNetworkInterfaces).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeConfig {
    /// `ins-…`; from the metadata service when absent.
    pub instance_id: Option<String>,
    /// `eni-…`; found by MAC among the instance's ENIs when absent and a strategy needs it.
    pub eni_id: Option<String>,
    /// The MAC of the ENI to use for discovery; the metadata `mac` (primary ENI) when absent.
    pub mac: Option<String>,
}

/// The alert targets of the `[[alert]]` entries (defined by the alert module).
pub use crate::alert::AlertTarget;
/// The optional `[check]` section (defined by `havip check`).
pub use check::CheckConfig;

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (or `<defaults>`).
    pub path: PathBuf,
    /// API endpoint; `None` means the client's default (the real one) or `HAVIP_ENDPOINT`.
    pub endpoint: Option<String>,
    /// Region; `None` means the client's chain (`TENCENTCLOUD_REGION`, metadata).
    pub region: Option<String>,
    /// Extra CA for the endpoint.
    pub ca_file: Option<PathBuf>,
    /// `[credentials]`, if present.
    pub credentials: Option<CredentialsConfig>,
    /// `[node]`.
    pub node: NodeConfig,
    /// Directory of per-VIP state, locks and drain flags.
    pub state_dir: PathBuf,
    /// The journal file.
    pub journal: PathBuf,
    /// The VIPs, in file order.
    pub vips: Vec<VipConfig>,
    /// `[[alert]]` targets.
    pub alert: Vec<AlertTarget>,
    /// `[check]`.
    pub check: Option<CheckConfig>,
}

impl Config {
    /// This configuration, when it has at least one `[[vip]]` (what every command that manages
    /// VIPs needs); else the error naming the file.
    pub fn require_vips(&self) -> Result<(), ConfigError> {
        if self.vips.is_empty() {
            return Err(ConfigError {
                path: self.path.clone(),
                line: None,
                message: "no `[[vip]]` entry: havip needs at least one VIP to manage".into(),
                source: None,
            });
        }
        Ok(())
    }
    /// The drain flags that make `havip check` fail for `vip`: one for all VIPs, one for this
    /// VIP. `havip failover` sets the second; an operator may touch the first by hand.
    pub(crate) fn drain_flags(&self, vip: &str) -> [PathBuf; 2] {
        [
            self.state_dir.join("drain"),
            self.state_dir.join(format!("{vip}.drain")),
        ]
    }

    /// The VIP entry named `name`.
    pub fn vip(&self, name: &str) -> Option<&VipConfig> {
        self.vips.iter().find(|v| v.name == name)
    }

    /// The VIPs that follow keepalived's `vrrp_instance` `name`.
    pub(crate) fn vips_for_instance(&self, name: &str) -> Vec<&VipConfig> {
        self.vips
            .iter()
            .filter(|v| v.vrrp_instance == name)
            .collect()
    }

    /// The VIPs that follow keepalived's `vrrp_sync_group` `name`.
    pub(crate) fn vips_for_group(&self, name: &str) -> Vec<&VipConfig> {
        self.vips
            .iter()
            .filter(|v| v.vrrp_group.as_deref() == Some(name))
            .collect()
    }

    /// Selects VIPs by `--vip NAME`, or all of them; an unknown name is a usage error.
    pub fn select(&self, name: Option<&str>) -> Result<Vec<&VipConfig>, UnknownVip> {
        match name {
            None => Ok(self.vips.iter().collect()),
            Some(n) => match self.vip(n) {
                Some(v) => Ok(vec![v]),
                None => Err(UnknownVip {
                    name: n.to_owned(),
                    path: self.path.clone(),
                    configured: self.vips.iter().map(|v| v.name.clone()).collect(),
                }),
            },
        }
    }
}

/// A `--vip NAME` the file does not define (a usage error: exit 2).
#[derive(Debug, thiserror::Error)]
#[error(
    "no VIP named {} in {} (configured: {})",
    bounds::clip_quoted(name),
    path.display(),
    configured.join(", ")
)]
pub struct UnknownVip {
    /// The name asked for.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The names it does define.
    pub configured: Vec<String>,
}

#[cfg(test)]
mod tests;
