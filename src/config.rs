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
//! [check]                       # see `cmd::check::CheckConfig`
//! ```

use std::collections::HashSet;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::bounds::{self, MAX_CONFIG_BYTES};

/// Where the file is looked for when neither `--config` nor `HAVIP_CONFIG` is given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/havip/havip.toml";
/// Where per-VIP state, locks, drain flags and the journal live by default.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/havip";
/// Overrides the state directory (for unprivileged use and tests).
pub const STATE_DIR_ENV: &str = "HAVIP_STATE_DIR";
/// Names the configuration file when `--config` is not given.
pub const CONFIG_ENV: &str = "HAVIP_CONFIG";
/// The whole-run deadline of one VIP when the file does not set `deadline` (issue 4: 60 s).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// A configuration problem: the message names the key, and the line when the file has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file the problem is in.
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong, naming the key.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// How a VIP follows keepalived (ARCHITECTURE.md "Strategies").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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
    pub too_open: Option<String>,
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
pub use crate::cmd::check::CheckConfig;

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    endpoint: Option<Spanned<String>>,
    region: Option<String>,
    ca_file: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    journal: Option<PathBuf>,
    credentials: Option<Spanned<CredentialsConfig>>,
    #[serde(default)]
    node: Option<RawNode>,
    #[serde(default)]
    vip: Vec<Spanned<RawVip>>,
    #[serde(default)]
    alert: Vec<Spanned<AlertTarget>>,
    check: Option<Spanned<CheckConfig>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    instance_id: Option<Spanned<String>>,
    eni_id: Option<Spanned<String>>,
    mac: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVip {
    name: Spanned<String>,
    vrrp_instance: Option<Spanned<String>>,
    vrrp_group: Option<String>,
    strategy: Option<Spanned<StrategyKind>>,
    havip_id: Option<Spanned<String>>,
    eip: Option<Spanned<Ipv4Addr>>,
    eip_id: Option<Spanned<String>>,
    private_ip: Option<Spanned<Ipv4Addr>>,
    interface: Option<Spanned<String>>,
    vip: Option<Ipv4Addr>,
    fencing: Option<Spanned<bool>>,
    eip_takeover: Option<Spanned<bool>>,
    #[serde(default, with = "humantime_serde::option")]
    deadline: Option<Duration>,
}

impl Config {
    /// Reads and validates the file at `path`; `state_dir_env` is `HAVIP_STATE_DIR` (read by
    /// the caller: the environment is read in one place), which wins over the file.
    ///
    /// The file is read with a cap ([`MAX_CONFIG_BYTES`]): `/dev/zero`, an endless FIFO or a
    /// huge file is an error naming the file and the cap, not an out-of-memory kill. A file that
    /// holds a secret (`secret_key`, `token`) has its credentials refused where they would be
    /// used when group or others may read it, as the profile file is.
    pub fn load(path: &Path, state_dir_env: Option<PathBuf>) -> Result<Config, ConfigError> {
        let fail = |message: String| ConfigError {
            path: path.to_path_buf(),
            line: None,
            message,
        };
        let file = std::fs::File::open(path)
            .map_err(|e| fail(format!("cannot read the configuration file: {e}")))?;
        let meta = file
            .metadata()
            .map_err(|e| fail(format!("cannot read the configuration file: {e}")))?;
        if meta.is_dir() {
            return Err(fail(
                "cannot read the configuration file: it is a directory".into(),
            ));
        }
        if meta.is_file() && meta.len() > MAX_CONFIG_BYTES {
            return Err(fail(format!(
                "cannot read the configuration file: {}",
                bounds::too_large(MAX_CONFIG_BYTES)
            )));
        }
        let bytes = bounds::read_capped(file, MAX_CONFIG_BYTES)
            .map_err(|e| fail(format!("cannot read the configuration file: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            fail(format!(
                "the configuration file is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        let cfg = Config::parse(&text, path, state_dir_env)?;
        let mut cfg = cfg;
        if let Some(c) = cfg
            .credentials
            .as_mut()
            .filter(|c| c.secret_key.is_some() || c.token.is_some())
        {
            use std::os::unix::fs::PermissionsExt;
            c.too_open =
                crate::cloud::credentials::check_secret_file_mode(meta.permissions().mode())
                    .err()
                    .map(|too_open| format!("the configuration file {too_open}"));
        }
        Ok(cfg)
    }

    /// Parses `text` (from `path`, for messages); `state_dir_env` is `HAVIP_STATE_DIR`, which
    /// wins over the file so unprivileged runs never touch `/var/lib`.
    pub fn parse(
        text: &str,
        path: &Path,
        state_dir_env: Option<PathBuf>,
    ) -> Result<Config, ConfigError> {
        // Every message is bounded: a 100 KB value in the file must not make a 100 KB line.
        let err = |span: Option<std::ops::Range<usize>>, message: String| ConfigError {
            path: path.to_path_buf(),
            line: span.map(|s| line_of(text, s.start)),
            message: bounds::clip_to(&message, bounds::MAX_MESSAGE_BYTES),
        };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            // toml's own message carries a snippet; the first line is the useful part, and the
            // span gives the line in our uniform `file:line: message` form.
            let msg = e.message().trim().to_string();
            // toml says nothing about some characters (a control character in a comment).
            let msg = match e.span().and_then(|s| text.get(s.start..)?.chars().next()) {
                Some(c) if msg.is_empty() => format!("character {c:?} is not allowed here"),
                _ => msg,
            };
            let msg = match e.span().and_then(|s| key_at(text, s.start)) {
                Some(key) if !msg.contains(&format!("`{key}`")) => {
                    format!("key `{}`: {msg}", bounds::clip(&key))
                }
                _ => msg,
            };
            err(e.span(), msg)
        })?;

        if let Some(ep) = &raw.endpoint {
            let v = ep.get_ref();
            if !(v.starts_with("https://") || v.starts_with("http://")) {
                return Err(err(
                    Some(ep.span()),
                    format!(
                        "key `endpoint`: {} is not an http(s) URL",
                        bounds::clip_quoted(v)
                    ),
                ));
            }
        }
        let credentials = match raw.credentials {
            None => None,
            Some(c) => {
                let span = c.span();
                let c = c.into_inner();
                if c.secret_id.is_some() != c.secret_key.is_some() {
                    return Err(err(
                        Some(span),
                        "section `[credentials]`: `secret_id` and `secret_key` go together".into(),
                    ));
                }
                if c.token.is_some() && c.secret_id.is_none() {
                    return Err(err(
                        Some(span),
                        "section `[credentials]`: `token` needs `secret_id` and `secret_key`"
                            .into(),
                    ));
                }
                // The checks the client would make on the first call, made now: a pasted
                // newline is a configuration error (exit 2), not an UNKNOWN failover.
                if let (Some(id), Some(key)) = (&c.secret_id, &c.secret_key) {
                    let checked = crate::cloud::Credentials::new(id.clone(), key.clone())
                        .map(|_| ())
                        .map_err(|e| match e {
                            crate::cloud::Error::Credentials(m) => m,
                            other => other.to_string(),
                        });
                    let token_ok = c
                        .token
                        .as_deref()
                        .is_none_or(|t| t.trim() == t && !t.chars().any(char::is_control));
                    let problem = match checked {
                        Err(m) => Some(m),
                        Ok(()) if !token_ok => Some(
                            "the token has surrounding whitespace or control characters".into(),
                        ),
                        Ok(()) => None,
                    };
                    if let Some(m) = problem {
                        return Err(err(Some(span), format!("section `[credentials]`: {m}")));
                    }
                }
                Some(c)
            }
        };
        let node = match raw.node {
            None => NodeConfig::default(),
            Some(n) => {
                if let Some(id) = &n.instance_id {
                    if let Err(m) = check_resource_id(id.get_ref(), "ins", "an instance ID") {
                        return Err(err(Some(id.span()), format!("key `node.instance_id`: {m}")));
                    }
                }
                if let Some(id) = &n.eni_id {
                    if let Err(m) = check_resource_id(id.get_ref(), "eni", "an ENI ID") {
                        return Err(err(Some(id.span()), format!("key `node.eni_id`: {m}")));
                    }
                }
                NodeConfig {
                    instance_id: n.instance_id.map(|s| s.into_inner()),
                    eni_id: n.eni_id.map(|s| s.into_inner()),
                    mac: n.mac,
                }
            }
        };
        if raw.vip.is_empty() {
            return Err(err(
                None,
                "no `[[vip]]` entry: havip needs at least one VIP to manage".into(),
            ));
        }
        let mut names = HashSet::new();
        let mut vips = Vec::with_capacity(raw.vip.len());
        for v in raw.vip {
            let v_span = v.span();
            let v = v.into_inner();
            // A missing key is reported where it is demanded: at `strategy` when it is
            // written out, else at the `[[vip]]` header.
            let table_span = v.strategy.as_ref().map_or(v_span, |s| s.span());
            let name = v.name.get_ref().clone();
            if !valid_name(&name) {
                return Err(err(
                    Some(v.name.span()),
                    format!(
                        "key `vip.name`: {} must be 1-64 characters of A-Z a-z 0-9 . _ - \
                         and not start with a dot (it names files)",
                        bounds::clip_quoted(&name)
                    ),
                ));
            }
            if !names.insert(name.clone()) {
                return Err(err(
                    Some(v.name.span()),
                    format!("key `vip.name`: duplicate VIP name {name:?}"),
                ));
            }
            let kind = v
                .strategy
                .as_ref()
                .map(|s| *s.get_ref())
                .unwrap_or(StrategyKind::Havip);
            let ctx = |key: &str| format!("VIP {name:?} (strategy {kind}): key `{key}`");
            let forbid = |present: Option<std::ops::Range<usize>>, key: &str| match present {
                Some(span) => Err(err(
                    Some(span),
                    format!("{} does not apply to this strategy", ctx(key)),
                )),
                None => Ok(()),
            };
            let eip_ref = match (&v.eip, &v.eip_id) {
                (None, None) => None,
                (a, i) => {
                    if let Some(i) = i {
                        if let Err(m) = check_resource_id(i.get_ref(), "eip", "an EIP ID") {
                            return Err(err(Some(i.span()), format!("{} {m}", ctx("eip_id"))));
                        }
                    }
                    Some(EipRef {
                        address: a.as_ref().map(|a| *a.get_ref()),
                        id: i.as_ref().map(|i| i.get_ref().clone()),
                    })
                }
            };
            let target = match kind {
                StrategyKind::Havip => {
                    forbid(v.private_ip.as_ref().map(|s| s.span()), "private_ip")?;
                    let Some(h) = &v.havip_id else {
                        return Err(err(
                            Some(table_span),
                            format!("{} is required", ctx("havip_id")),
                        ));
                    };
                    if let Err(m) = check_resource_id(h.get_ref(), "havip", "a HAVIP ID") {
                        return Err(err(Some(h.span()), format!("{} {m}", ctx("havip_id"))));
                    }
                    if let Some(t) = &v.eip_takeover {
                        if *t.get_ref() && eip_ref.is_none() {
                            return Err(err(
                                Some(t.span()),
                                format!("{} needs `eip` or `eip_id`", ctx("eip_takeover")),
                            ));
                        }
                    }
                    Target::Havip {
                        havip_id: h.get_ref().clone(),
                        eip: eip_ref,
                        fencing: v.fencing.as_ref().is_some_and(|f| *f.get_ref()),
                        eip_takeover: v.eip_takeover.as_ref().is_some_and(|f| *f.get_ref()),
                    }
                }
                StrategyKind::PrivateIp => {
                    forbid(v.havip_id.as_ref().map(|s| s.span()), "havip_id")?;
                    forbid(v.eip.as_ref().map(|s| s.span()), "eip")?;
                    forbid(v.eip_id.as_ref().map(|s| s.span()), "eip_id")?;
                    forbid(v.fencing.as_ref().map(|s| s.span()), "fencing")?;
                    forbid(v.eip_takeover.as_ref().map(|s| s.span()), "eip_takeover")?;
                    let Some(ip) = &v.private_ip else {
                        return Err(err(
                            Some(table_span),
                            format!(
                                "{} is required (the secondary IP to migrate)",
                                ctx("private_ip")
                            ),
                        ));
                    };
                    Target::PrivateIp {
                        private_ip: *ip.get_ref(),
                    }
                }
                StrategyKind::Eip => {
                    forbid(v.havip_id.as_ref().map(|s| s.span()), "havip_id")?;
                    forbid(v.fencing.as_ref().map(|s| s.span()), "fencing")?;
                    forbid(v.eip_takeover.as_ref().map(|s| s.span()), "eip_takeover")?;
                    let Some(eip) = eip_ref else {
                        return Err(err(
                            Some(table_span),
                            format!("{} or `eip_id` is required", ctx("eip")),
                        ));
                    };
                    let Some(ip) = &v.private_ip else {
                        return Err(err(
                            Some(table_span),
                            format!(
                                "{} is required (this node's private IP the EIP is bound to)",
                                ctx("private_ip")
                            ),
                        ));
                    };
                    Target::Eip {
                        eip,
                        private_ip: *ip.get_ref(),
                    }
                }
            };
            if let Some(i) = &v.interface {
                let s = i.get_ref();
                if s.is_empty()
                    || s.len() > 15
                    || s.contains('/')
                    || s.contains(char::is_whitespace)
                {
                    return Err(err(
                        Some(i.span()),
                        format!(
                            "{} {} is not an interface name",
                            ctx("interface"),
                            bounds::clip_quoted(s)
                        ),
                    ));
                }
            }
            if v.interface.is_some() && kind != StrategyKind::Havip {
                forbid(v.interface.as_ref().map(|s| s.span()), "interface")?;
            }
            let deadline = v.deadline.unwrap_or(DEFAULT_DEADLINE);
            if deadline < Duration::from_secs(1) {
                return Err(err(
                    Some(table_span),
                    format!("{} must be at least 1s", ctx("deadline")),
                ));
            }
            let vrrp_instance = match &v.vrrp_instance {
                Some(s) if s.get_ref().is_empty() => {
                    return Err(err(
                        Some(s.span()),
                        format!("{} is empty", ctx("vrrp_instance")),
                    ))
                }
                Some(s) => s.get_ref().clone(),
                // Without it the VIP follows the instance of the same name.
                None => name.clone(),
            };
            vips.push(VipConfig {
                name,
                vrrp_instance,
                vrrp_group: v.vrrp_group,
                target,
                interface: v.interface.map(|s| s.into_inner()),
                vip: v.vip,
                deadline,
            });
        }
        let mut alert = Vec::with_capacity(raw.alert.len());
        for a in raw.alert {
            let span = a.span();
            let a = a.into_inner();
            a.validate()
                .map_err(|m| err(Some(span.clone()), format!("`[[alert]]` entry: {m}")))?;
            alert.push(a);
        }
        let check = match raw.check {
            None => None,
            Some(c) => {
                let span = c.span();
                let c = c.into_inner();
                c.validate()
                    .map_err(|m| err(Some(span.clone()), format!("section `[check]`: {m}")))?;
                Some(c)
            }
        };
        let state_dir = state_dir_env
            .filter(|p| !p.as_os_str().is_empty())
            .or(raw.state_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
        let journal = raw
            .journal
            .unwrap_or_else(|| state_dir.join("journal.jsonl"));
        Ok(Config {
            path: path.to_path_buf(),
            endpoint: raw.endpoint.map(|s| s.into_inner()),
            region: raw.region,
            ca_file: raw.ca_file,
            credentials,
            node,
            state_dir,
            journal,
            vips,
            alert,
            check,
        })
    }

    /// The drain flags that make `havip check` fail for `vip`: one for all VIPs, one for this
    /// VIP. `havip failover` sets the second; an operator may touch the first by hand.
    pub fn drain_flags(&self, vip: &str) -> [PathBuf; 2] {
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
    pub fn vips_for_instance(&self, name: &str) -> Vec<&VipConfig> {
        self.vips
            .iter()
            .filter(|v| v.vrrp_instance == name)
            .collect()
    }

    /// The VIPs that follow keepalived's `vrrp_sync_group` `name`.
    pub fn vips_for_group(&self, name: &str) -> Vec<&VipConfig> {
        self.vips
            .iter()
            .filter(|v| v.vrrp_group.as_deref() == Some(name))
            .collect()
    }

    /// Selects VIPs by `--vip NAME`, or all of them; an unknown name is a usage error.
    pub fn select(&self, name: Option<&str>) -> Result<Vec<&VipConfig>, String> {
        match name {
            None => Ok(self.vips.iter().collect()),
            Some(n) => match self.vip(n) {
                Some(v) => Ok(vec![v]),
                None => Err(format!(
                    "no VIP named {} in {} (configured: {})",
                    bounds::clip_quoted(n),
                    self.path.display(),
                    self.vips
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            },
        }
    }
}

/// Whether `id` has the shape of a Tencent Cloud resource ID: `<prefix>-` and exactly 8
/// lowercase letters or digits (`havip-iam00099`, `ins-3g445roi`; tcsim checks the same).
pub fn is_resource_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|tail| {
            tail.len() == 8
                && tail
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// [`is_resource_id`], with the message for the configuration: `"x" is not a HAVIP ID (…)`.
fn check_resource_id(id: &str, prefix: &str, what: &str) -> Result<(), String> {
    if is_resource_id(id, prefix) {
        return Ok(());
    }
    Err(format!(
        "{} is not {what} ({prefix}- and 8 lowercase letters or digits, e.g. {prefix}-1a2b3c4d)",
        bounds::clip_quoted(id)
    ))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The dotted key whose `key = value` line holds byte `offset` (`vip.deadline`), so that
/// toml's type errors, which name only the expected type, also name the key.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset.min(text.len()))?;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(start..)?.lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return None;
    }
    // The innermost table header above the line, if any.
    let table = before.get(..start)?.lines().rev().find_map(|l| {
        let l = l.trim();
        l.starts_with('[')
            .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
    });
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    })
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The minimal file of issue 4, exactly as the README shows it (tcsim's port filled in).
    fn minimal() -> String {
        include_str!("../deploy/havip.minimal.toml").replace("PORT", "4000")
    }

    #[test]
    fn the_readme_shows_the_minimal_file_exactly() {
        let file = include_str!("../deploy/havip.minimal.toml");
        assert!(
            include_str!("../README.md").contains(file),
            "README.md's minimal configuration differs from deploy/havip.minimal.toml"
        );
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("t.toml"), None)
    }

    #[test]
    fn minimal_file_from_issue_4_parses() {
        let c = parse(&minimal()).unwrap();
        assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:4000"));
        assert_eq!(c.node.instance_id.as_deref(), Some("ins-iam00021"));
        assert_eq!(c.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
        assert_eq!(c.journal, PathBuf::from("/var/lib/havip/journal.jsonl"));
        let v = &c.vips[0];
        assert_eq!(v.name, "iam");
        assert_eq!(v.vrrp_instance, "VI_1");
        assert_eq!(v.deadline, Duration::from_secs(20));
        assert_eq!(
            v.target,
            Target::Havip {
                havip_id: "havip-iam00099".into(),
                eip: Some(EipRef {
                    address: Some("106.52.252.139".parse().unwrap()),
                    id: None
                }),
                fencing: false,
                eip_takeover: false,
            }
        );
        assert_eq!(c.vips_for_instance("VI_1").len(), 1);
        assert!(c.vips_for_instance("VI_2").is_empty());
    }

    #[test]
    fn state_dir_env_wins_and_drain_flags_follow_it() {
        let c = Config::parse(&minimal(), Path::new("t.toml"), Some("/tmp/x".into())).unwrap();
        assert_eq!(c.journal, PathBuf::from("/tmp/x/journal.jsonl"));
        assert_eq!(
            c.drain_flags("iam"),
            [
                PathBuf::from("/tmp/x/drain"),
                PathBuf::from("/tmp/x/iam.drain")
            ]
        );
    }

    /// Each malformed file gives an error naming the key and the line it is on.
    #[test]
    fn errors_name_key_and_line() {
        let cases: &[(&str, &str, usize, &str)] = &[
            (
                "unknown top-level key",
                "region = \"x\"\nbogus = 1\n[[vip]]\nname=\"a\"\nhavip_id=\"havip-aaaa0001\"\n",
                2,
                "bogus",
            ),
            (
                "unknown vip key",
                "[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0001\"\nfencng = true\n",
                4,
                "fencng",
            ),
            (
                "wrong type",
                "[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0001\"\nfencing = \"yes\"\n",
                4,
                "bool",
            ),
            (
                "wrong type names the key",
                "[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0001\"\ndeadline = 20\n",
                4,
                "key `vip.deadline`",
            ),
            (
                "bad duration",
                "[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0001\"\ndeadline = \"soon\"\n",
                4,
                "",
            ),
            (
                "unknown strategy",
                "[[vip]]\nname = \"a\"\nstrategy = \"magic\"\n",
                3,
                "magic",
            ),
            (
                "havip without havip_id",
                "region = \"r\"\n\n[[vip]]\nname = \"a\"\nstrategy = \"havip\"\n",
                5,
                "havip_id",
            ),
            (
                "private-ip without private_ip",
                "[[vip]]\nname = \"a\"\nstrategy = \"private-ip\"\n",
                3,
                "private_ip",
            ),
            (
                "eip without eip",
                "[[vip]]\nname = \"a\"\nstrategy = \"eip\"\nprivate_ip = \"10.0.4.50\"\n",
                3,
                "eip",
            ),
            (
                "duplicate names",
                "[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0001\"\n\n[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0002\"\n",
                6,
                "duplicate",
            ),
            (
                "havip_id on private-ip",
                "[[vip]]\nname = \"a\"\nstrategy = \"private-ip\"\nprivate_ip = \"10.0.4.50\"\nhavip_id = \"havip-aaaa0001\"\n",
                5,
                "havip_id",
            ),
            (
                "bad ip",
                "[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0001\"\neip = \"1.2.3\"\n",
                4,
                "",
            ),
            (
                "bad havip id",
                "[[vip]]\nname = \"a\"\nhavip_id = \"vip-1\"\n",
                3,
                "havip_id",
            ),
            (
                "bad name",
                "[[vip]]\nname = \"../x\"\nhavip_id = \"havip-aaaa0001\"\n",
                2,
                "vip.name",
            ),
            (
                "takeover without eip",
                "[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0001\"\neip_takeover = true\n",
                4,
                "eip_takeover",
            ),
            (
                "bad instance id",
                "[node]\ninstance_id = \"i-1\"\n[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0001\"\n",
                2,
                "instance_id",
            ),
            (
                "syntax error",
                "[[vip]\nname = \"a\"\n",
                1,
                "",
            ),
        ];
        let mut wrong = Vec::new();
        for (what, text, line, needle) in cases {
            let e = parse(text).expect_err(what);
            if e.line != Some(*line)
                || !e.message.contains(needle)
                || !e.to_string().starts_with(&format!("t.toml:{line}: "))
            {
                wrong.push(format!("{what}: want line {line} and {needle:?}, got {e}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    proptest::proptest! {
        /// No input makes the parser panic: bytes, and key/value soup shaped like our files.
        #[test]
        fn parsing_never_panics(text in "\\PC{0,200}") {
            let _ = parse(&text);
        }

        #[test]
        fn tomlish_input_never_panics(
            lines in proptest::collection::vec(
                "(\\[\\[vip\\]\\]|\\[node\\]|[a-z_]{1,12} = (\"[a-z0-9.:-]{0,20}\"|[0-9]{1,4}|true))",
                0..12,
            )
        ) {
            let _ = parse(&lines.join("\n"));
        }
    }

    #[test]
    fn no_vip_is_an_error() {
        let e = parse("region = \"ap-guangzhou\"\n").unwrap_err();
        assert!(e.message.contains("[[vip]]"), "{e}");
    }

    #[test]
    fn credentials_debug_is_redacted() {
        let c = parse(
            "[credentials]\nsecret_id = \"AKIDx\"\nsecret_key = \"topsecret\"\ntoken = \"tok\"\n[[vip]]\nname=\"a\"\nhavip_id=\"havip-aaaa0001\"\n",
        )
        .unwrap();
        let dbg = format!("{:?}", c.credentials);
        assert!(
            !dbg.contains("topsecret") && !dbg.contains("tok\""),
            "{dbg}"
        );
        assert!(dbg.contains("AKIDx"));
        let e = parse(
            "[credentials]\nsecret_id = \"AKIDx\"\n[[vip]]\nname=\"a\"\nhavip_id=\"havip-aaaa0001\"\n",
        )
        .unwrap_err();
        assert!(e.message.contains("secret_key"), "{e}");
    }

    #[test]
    fn strategies_and_selection() {
        let c = parse(
            "[[vip]]\nname = \"p\"\nstrategy = \"private-ip\"\nprivate_ip = \"10.0.4.50\"\nvrrp_group = \"G\"\n\
             [[vip]]\nname = \"e\"\nstrategy = \"eip\"\neip_id = \"eip-idle0001\"\nprivate_ip = \"10.0.4.21\"\n",
        )
        .unwrap();
        assert_eq!(c.vips[0].vrrp_instance, "p");
        assert_eq!(c.vips[0].target.kind(), StrategyKind::PrivateIp);
        assert_eq!(c.vips_for_group("G").len(), 1);
        assert_eq!(c.vips[1].target.kind(), StrategyKind::Eip);
        assert_eq!(c.select(None).unwrap().len(), 2);
        assert!(c.select(Some("zzz")).unwrap_err().contains("p, e"));
        assert_eq!(c.vips[0].deadline, DEFAULT_DEADLINE);
    }

    /// Issue 7: `havip-../../etc` passed `config check` and failed only at the API.
    #[test]
    fn malformed_resource_ids_are_refused_with_key_and_line() {
        let cases: &[(&str, &str, usize, &str)] = &[
            (
                "path in havip_id",
                "[[vip]]\nname = \"a\"\nhavip_id = \"havip-../../etc\"\n",
                3,
                "key `havip_id`",
            ),
            (
                "short havip_id",
                "[[vip]]\nname = \"a\"\nhavip_id = \"havip-1\"\n",
                3,
                "key `havip_id`",
            ),
            (
                "uppercase havip_id",
                "[[vip]]\nname = \"a\"\nhavip_id = \"havip-IAM00099\"\n",
                3,
                "key `havip_id`",
            ),
            (
                "long havip_id",
                "[[vip]]\nname = \"a\"\nhavip_id = \"havip-iam000999\"\n",
                3,
                "key `havip_id`",
            ),
            (
                "eip_id",
                "[[vip]]\nname = \"a\"\nhavip_id = \"havip-iam00099\"\neip_id = \"eip-x y\"\n",
                4,
                "key `eip_id`",
            ),
            (
                "instance_id",
                "[node]\ninstance_id = \"ins-iam0002\"\n[[vip]]\nname = \"a\"\nhavip_id = \"havip-iam00099\"\n",
                2,
                "key `node.instance_id`",
            ),
            (
                "eni_id",
                "[node]\neni_id = \"eni-../x/yz\"\n[[vip]]\nname = \"a\"\nhavip_id = \"havip-iam00099\"\n",
                2,
                "key `node.eni_id`",
            ),
        ];
        for (what, text, line, needle) in cases {
            let e = parse(text).expect_err(what);
            assert_eq!(e.line, Some(*line), "{what}: {e}");
            assert!(
                e.message.contains(needle) && e.message.contains("8 lowercase"),
                "{what}: {e}"
            );
        }
        // The seed scenario's IDs and the documentation's are accepted.
        let c = parse(
            "[node]\ninstance_id = \"ins-3g445roi\"\neni_id = \"eni-olifj433\"\n\
             [[vip]]\nname = \"a\"\nhavip_id = \"havip-iam00099\"\neip_id = \"eip-idle0001\"\n",
        )
        .unwrap();
        assert_eq!(c.node.eni_id.as_deref(), Some("eni-olifj433"));
    }

    /// Issue 7: a 100 KB ID or name was repeated whole in the error.
    #[test]
    fn long_values_are_truncated_in_config_errors() {
        let long = "z".repeat(100_000);
        for text in [
            format!("[[vip]]\nname = \"a\"\nhavip_id = \"havip-{long}\"\n"),
            format!("[[vip]]\nname = \"{long}\"\nhavip_id = \"havip-iam00099\"\n"),
            format!("endpoint = \"ftp://{long}\"\n[[vip]]\nname = \"a\"\nhavip_id = \"havip-iam00099\"\n"),
            format!("{long} = 1\n"),
            format!("[[vip]]\nname = \"a\"\nhavip_id = \"havip-iam00099\"\nfencing = \"{long}\"\n"),
        ] {
            let e = parse(&text).unwrap_err().to_string();
            assert!(e.len() < 1200, "{} bytes: {}", e.len(), &e[..300]);
        }
        let e = parse(&format!(
            "[[vip]]\nname = \"a\"\nhavip_id = \"havip-{long}\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("… (100006 bytes)"), "{e}");
    }

    /// Issue 7: a pasted newline in `secret_key` was found only at the first call (exit 1,
    /// UNKNOWN) instead of as a configuration error with its line.
    #[test]
    fn malformed_config_credentials_are_a_config_error() {
        let vip = "[[vip]]\nname = \"a\"\nhavip_id = \"havip-iam00099\"\n";
        for (creds, needle) in [
            (
                "secret_id = \"AKIDx\"\nsecret_key = \"k\\n\"\n",
                "SecretKey has surrounding whitespace",
            ),
            (
                "secret_id = \"\"\nsecret_key = \"k\"\n",
                "SecretId is empty",
            ),
            ("token = \"t\"\n", "`token` needs"),
            (
                "secret_id = \"AKIDx\"\nsecret_key = \"k\"\ntoken = \" t\"\n",
                "token has surrounding",
            ),
        ] {
            let e = parse(&format!("\n[credentials]\n{creds}{vip}")).unwrap_err();
            assert_eq!(e.line, Some(2), "{e}");
            assert!(e.message.contains(needle), "{e}");
        }
    }

    fn write(dir: &Path, text: &str, mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join("havip.toml");
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    /// Issue 7: `--config /dev/zero` read until out of memory.
    #[test]
    fn config_larger_than_the_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = minimal();
        text.push_str(&"#".repeat(MAX_CONFIG_BYTES as usize));
        let p = write(dir.path(), &text, 0o600);
        for path in [p.as_path(), Path::new("/dev/zero")] {
            let e = Config::load(path, None).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("{}: ", path.display())) && e.contains("1 MiB"),
                "{e}"
            );
        }
        let e = Config::load(dir.path(), None).unwrap_err().to_string();
        assert!(e.contains("directory"), "{e}");
    }

    /// Issue 7: a config file holding `secret_key` with mode 0644 was accepted while a profile
    /// file with the same mode was refused.
    #[test]
    fn a_group_readable_config_file_with_a_secret_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let secret = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
        let text = format!(
            "{}\n[credentials]\nsecret_id = \"AKIDx\"\nsecret_key = \"{secret}\"\n",
            minimal()
        );
        for mode in [0o644, 0o640, 0o604] {
            let p = write(dir.path(), &text, mode);
            // It loads (a health probe needs no credentials), with its credentials refused.
            let cfg = Config::load(&p, None).unwrap();
            let e = cfg.credentials.unwrap().too_open.unwrap();
            let profile_wording =
                crate::cloud::credentials::check_secret_file_mode(mode).unwrap_err();
            assert!(
                e.contains(&profile_wording) && e.contains("too open"),
                "{e}"
            );
            assert!(
                !e.contains(&p.display().to_string()),
                "the caller names the file: {e}"
            );
            assert!(!e.contains(secret), "{e}");
        }
        let p = write(dir.path(), &text, 0o600);
        assert_eq!(
            Config::load(&p, None)
                .unwrap()
                .credentials
                .unwrap()
                .too_open,
            None
        );
        // Without a secret in it the file may be world-readable, as /etc files are.
        let p = write(dir.path(), &minimal(), 0o644);
        assert!(Config::load(&p, None).is_ok());
    }
}
