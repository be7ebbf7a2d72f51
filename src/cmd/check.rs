//! `havip check`: keepalived's `vrrp_script` — probe the service, fail while drained, fail closed.
//!
//! The seed deployment's `check_nginx.sh` failed *open* (an error in the script counted as
//! healthy, so a broken node kept the VIP). This check inverts that: exit 0 only when every
//! configured probe answered as expected within the timeout and no drain flag exists; any
//! error — unreadable configuration, bad URL, DNS failure, timeout — is a failure with a
//! one-line reason on stderr. It runs every few seconds, so it does one thing and exits.
//!
//! Exit codes: 0 healthy; 1 unhealthy (probe failed, timed out, or drained); 2 the check itself
//! is misconfigured. keepalived treats every non-zero status as a failure.
//!
//! The `[check]` section of havip.toml, used when no probe flag is given:
//! ```toml
//! [check]
//! http = "http://127.0.0.1/healthz"   # GET; healthy when the status is `expect`
//! expect = 200                        # default 200
//! tcp = "127.0.0.1:443"               # connect; may be combined with http (both must pass)
//! timeout = "2s"                      # whole probe, default 2s; keep it below vrrp_script's
//! ```

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::context::Context;
use std::time::{Duration, Instant};

use crate::config::check::{parse_http_url, parse_status, parse_tcp, CheckConfigError};
use crate::config::{CheckConfig, UnknownVip};
use crate::error_chain::{http_failure_kind, with_sources, Repeats};

/// The whole probe's bound when neither the flag nor the file sets one. keepalived's
/// `vrrp_script` default `timeout` is the script interval; 2 s stays well inside common ones.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// The status an HTTP probe expects unless told otherwise.
pub(crate) const DEFAULT_EXPECT: u16 = 200;

/// Probe the service for keepalived's `vrrp_script`.
///
/// Exit 0 healthy; 1 when a probe fails, times out, or a drain flag exists (`havip failover`
/// sets one); 2 when the check itself is misconfigured. Without probe flags, the
/// configuration's `[check]` section is used.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(
    after_help = "For a check, the global --timeout bounds the whole probe (default: the \
    [check] timeout, else 2s), and --ca-file adds a CA for an https:// probe.\n\
    Exit status: 0 healthy, 1 unhealthy or drained, 2 misconfigured."
)]
pub struct CheckArgs {
    /// GET this URL; healthy when the status is `--expect`.
    #[arg(long, value_name = "URL")]
    pub http: Option<String>,
    /// The HTTP status that means healthy [default: 200].
    #[arg(long, value_name = "STATUS", requires = "http")]
    pub expect: Option<u16>,
    /// Connect to HOST:PORT; healthy when the connection is accepted.
    #[arg(long, value_name = "HOST:PORT")]
    pub tcp: Option<String>,
    /// The whole probe's bound; set from the global `--timeout` (the whole command's deadline,
    /// which for a check is the probe) [default: the `[check]` timeout, else 2s].
    #[arg(skip)]
    pub probe_timeout: Option<Duration>,
    /// An extra CA (PEM) for an https:// probe; set from the global `--ca-file`.
    #[arg(skip)]
    pub ca_file: Option<PathBuf>,
    /// Also fail while this VIP's drain flag exists; without it, any VIP's flag fails the check.
    #[arg(long, value_name = "NAME")]
    pub vip: Option<String>,
    /// Where the drain flags live [env: HAVIP_STATE_DIR; default: the configuration's, else
    /// /var/lib/havip].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print nothing on success.
    #[arg(long, short)]
    pub quiet: bool,
}

/// One probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Http { url: String, expect: u16 },
    Tcp { addr: String },
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probe::Http { url, expect } => write!(f, "GET {url} (expect {expect})"),
            Probe::Tcp { addr } => write!(f, "tcp {addr}"),
        }
    }
}

/// What to check, fully resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub probes: Vec<Probe>,
    pub timeout: Duration,
    pub state_dir: PathBuf,
    /// `Some`: the global flag and this VIP's; `None`: the global flag and every `*.drain`.
    pub vip: Option<String>,
    /// An extra trusted CA (PEM) for https:// probes.
    pub ca_file: Option<PathBuf>,
}

/// Why the check failed. `Misconfigured` maps to exit 2, the rest to exit 1.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("misconfigured: {0}")]
    Misconfigured(#[source] Misconfigured),
    #[error("drained: {} exists", .0.display())]
    Drained(PathBuf),
    #[error("cannot tell whether the node is drained: {}: {source}", path.display())]
    DrainUnknown {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{probe}: {reason}")]
    Probe {
        probe: String,
        #[source]
        reason: ProbeError,
    },
    #[error("timed out after {} ({probe})", humantime::format_duration(*.after))]
    Timeout { probe: String, after: Duration },
}

/// What is wrong with the check's own setup (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum Misconfigured {
    #[error(
        "nothing to probe: give --http URL or --tcp HOST:PORT, or a [check] section in the \
         configuration"
    )]
    NothingToProbe,
    #[error(transparent)]
    Target(#[from] CheckConfigError),
    #[error("--timeout must be more than 0s")]
    ZeroTimeout,
    #[error("invalid VIP name {0:?}")]
    VipName(String),
    #[error("cannot read CA file {}: {source}", path.display())]
    CaFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The configuration file is missing or invalid.
    #[error(transparent)]
    Config(#[from] crate::context::Error),
    /// `--vip` names a VIP the file does not define.
    #[error(transparent)]
    UnknownVip(#[from] UnknownVip),
}

impl From<Misconfigured> for CheckError {
    fn from(e: Misconfigured) -> Self {
        CheckError::Misconfigured(e)
    }
}

impl From<CheckConfigError> for CheckError {
    fn from(e: CheckConfigError) -> Self {
        CheckError::Misconfigured(e.into())
    }
}

/// Why one probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("the CA file is not a PEM certificate: {0}")]
    CaPem(#[source] reqwest::Error),
    #[error("building HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The request failed: its kind (`timed out`, `connection failed`) and its causes.
    #[error("{}", with_sources(http_failure_kind(.0).to_owned(), .0, Repeats::Keep))]
    Http(#[source] reqwest::Error),
    #[error("answered {got}, expected {expect}")]
    Status { got: u16, expect: u16 },
    #[error(transparent)]
    Address(#[from] CheckConfigError),
    #[error("connection failed: {0}")]
    Connect(#[source] io::Error),
}

impl CheckError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CheckError::Misconfigured(_) => 2,
            _ => 1,
        }
    }
}

/// Builds the plan from flags, falling back to the `[check]` section. `config_state_dir` is
/// the configuration's state directory, when a configuration was loaded.
pub fn plan(
    args: &CheckArgs,
    section: Option<&CheckConfig>,
    config_state_dir: Option<&Path>,
    env_state_dir: Option<PathBuf>,
) -> Result<Plan, CheckError> {
    let from_flags = args.http.is_some() || args.tcp.is_some();
    let (http, expect, tcp, timeout) = if from_flags {
        (
            args.http.clone(),
            args.expect,
            args.tcp.clone(),
            args.probe_timeout,
        )
    } else if let Some(c) = section {
        c.validate()?;
        (
            c.http.clone(),
            c.expect,
            c.tcp.clone(),
            args.probe_timeout.or(c.timeout),
        )
    } else {
        return Err(Misconfigured::NothingToProbe.into());
    };
    let mut probes = Vec::new();
    if let Some(url) = http {
        parse_http_url(&url)?;
        let expect = match expect {
            Some(e) => parse_status(i64::from(e))?,
            None => DEFAULT_EXPECT,
        };
        probes.push(Probe::Http { url, expect });
    }
    if let Some(addr) = tcp {
        parse_tcp(&addr)?;
        probes.push(Probe::Tcp { addr });
    }
    let timeout = timeout.unwrap_or(DEFAULT_TIMEOUT);
    if timeout.is_zero() {
        return Err(Misconfigured::ZeroTimeout.into());
    }
    if let Some(v) = &args.vip {
        // The configuration's rule for VIP names: they become file names.
        if !crate::config::valid_vip_name(v) {
            return Err(Misconfigured::VipName(v.clone()).into());
        }
    }
    let state_dir = args
        .state_dir
        .clone()
        .or(env_state_dir.filter(|p| !p.as_os_str().is_empty()))
        .or(config_state_dir.map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_STATE_DIR));
    Ok(Plan {
        probes,
        timeout,
        state_dir,
        vip: args.vip.clone(),
        ca_file: args.ca_file.clone(),
    })
}

/// The first drain flag that exists, if any. Errors other than "not there" fail closed.
pub(crate) fn find_drain_flag(
    state_dir: &Path,
    vip: Option<&str>,
) -> Result<Option<PathBuf>, CheckError> {
    let exists = |p: &Path| match std::fs::symlink_metadata(p) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(CheckError::DrainUnknown {
            path: p.to_path_buf(),
            source,
        }),
    };
    let global = state_dir.join("drain");
    if exists(&global)? {
        return Ok(Some(global));
    }
    match vip {
        Some(v) => {
            let p = state_dir.join(format!("{v}.drain"));
            Ok(exists(&p)?.then_some(p))
        }
        None => {
            let entries = match std::fs::read_dir(state_dir) {
                Ok(e) => e,
                // No state directory yet (first boot): nothing is drained.
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(source) => {
                    return Err(CheckError::DrainUnknown {
                        path: state_dir.to_path_buf(),
                        source,
                    })
                }
            };
            for entry in entries {
                let entry = entry.map_err(|source| CheckError::DrainUnknown {
                    path: state_dir.to_path_buf(),
                    source,
                })?;
                let name = entry.file_name();
                if name.to_string_lossy().ends_with(".drain") {
                    return Ok(Some(entry.path()));
                }
            }
            Ok(None)
        }
    }
}

/// Runs the plan: drain flags first (cheap, and a drained node must fail even if healthy), then
/// every probe under one deadline. Returns a description of what passed.
pub async fn execute(plan: &Plan) -> Result<String, CheckError> {
    if let Some(flag) = find_drain_flag(&plan.state_dir, plan.vip.as_deref())? {
        return Err(CheckError::Drained(flag));
    }
    let ca_pem = match &plan.ca_file {
        Some(p)
            if plan
                .probes
                .iter()
                .any(|pr| matches!(pr, Probe::Http { .. })) =>
        {
            Some(
                crate::bounds::read_file_capped(p, crate::bounds::MAX_CA_FILE_BYTES).map_err(
                    |source| Misconfigured::CaFile {
                        path: p.clone(),
                        source,
                    },
                )?,
            )
        }
        _ => None,
    };
    let deadline = tokio::time::Instant::now() + plan.timeout;
    let mut passed = Vec::new();
    for probe in &plan.probes {
        let start = Instant::now();
        let res =
            tokio::time::timeout_at(deadline, run_probe(probe, plan.timeout, ca_pem.as_deref()))
                .await;
        match res {
            Err(_) => {
                return Err(CheckError::Timeout {
                    probe: probe.to_string(),
                    after: plan.timeout,
                })
            }
            Ok(Err(reason)) => {
                return Err(CheckError::Probe {
                    probe: probe.to_string(),
                    reason,
                })
            }
            Ok(Ok(())) => passed.push(format!("{probe} ok in {:.1?}", start.elapsed())),
        }
    }
    Ok(passed.join("; "))
}

async fn run_probe(
    probe: &Probe,
    timeout: Duration,
    ca_pem: Option<&[u8]>,
) -> Result<(), ProbeError> {
    match probe {
        Probe::Http { url, expect } => {
            let mut builder = reqwest::Client::builder();
            if let Some(pem) = ca_pem {
                let cert = reqwest::Certificate::from_pem(pem).map_err(ProbeError::CaPem)?;
                builder = builder.add_root_certificate(cert);
            }
            let client = builder
                // A health check of a local service must not go through a proxy from the
                // environment, and a redirect is an answer, not something to follow.
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(timeout)
                .user_agent(concat!("havip-check/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(ProbeError::Client)?;
            let resp = client.get(url).send().await.map_err(ProbeError::Http)?;
            let got = resp.status().as_u16();
            if got != *expect {
                return Err(ProbeError::Status {
                    got,
                    expect: *expect,
                });
            }
            Ok(())
        }
        Probe::Tcp { addr } => {
            let (host, port) = parse_tcp(addr)?;
            tokio::net::TcpStream::connect((host.as_str(), port))
                .await
                .map(drop)
                .map_err(ProbeError::Connect)
        }
    }
}

/// Loads the configuration when one is named (`--config`, `HAVIP_CONFIG`) or the default file
/// exists. A named file that is missing, or any file that does not parse, fails closed; so
/// does a `--vip` the file does not define (its drain flag would never be looked for).
fn load_config(
    ctx: &Context,
    vip: Option<&str>,
) -> Result<(Option<CheckConfig>, Option<PathBuf>), Misconfigured> {
    let Some(cfg) = ctx.config_if_present()? else {
        return Ok((None, None));
    };
    if let Some(v) = vip {
        cfg.select(Some(v))?;
    }
    Ok((cfg.check.clone(), Some(cfg.state_dir.clone())))
}

/// The command: resolve, drain flags, probes; one line on stderr when unhealthy.
pub async fn run(args: &CheckArgs, ctx: &Context) -> anyhow::Result<ExitCode> {
    let mut args = args.clone();
    args.probe_timeout = ctx.flags().deadline;
    args.ca_file = ctx.flags().ca_file.clone();
    let env_state_dir = ctx.state_dir_env();
    // Flags alone are enough when the default file is absent; when a file is named or
    // present, it must load (fail closed).
    let outcome = match load_config(ctx, args.vip.as_deref()) {
        Ok((section, state_dir)) => {
            match plan(&args, section.as_ref(), state_dir.as_deref(), env_state_dir) {
                Ok(p) => execute(&p).await,
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e.into()),
    };
    Ok(match outcome {
        Ok(passed) => {
            if !args.quiet {
                println!("havip check: healthy: {passed}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("havip check: unhealthy: {e}");
            ExitCode::from(e.exit_code())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        check: Option<CheckConfig>,
    }

    /// The `[check]` section of `s`, or toml's error as text (the test looks for words in it).
    fn section(s: &str) -> Result<CheckConfig, toml::de::Error> {
        toml::from_str::<File>(s).map(|f| f.check.expect("a [check] section"))
    }

    #[test]
    fn section_parses_and_rejects_mistakes() {
        let c = section(
            "[check]\nhttp = \"http://127.0.0.1/healthz\"\nexpect = 204\ntimeout = \"1500ms\"\n",
        )
        .unwrap();
        assert_eq!(c.expect, Some(204));
        assert_eq!(c.timeout, Some(Duration::from_millis(1500)));
        assert!(c.validate().is_ok());
        for (body, want) in [
            ("htp = \"x\"", "htp"),
            ("http = \"ftp://h/\"", "http:// or https://"),
            ("http = \"nope\"", "invalid check URL"),
            ("tcp = \"127.0.0.1\"", "no port"),
            ("tcp = \"127.0.0.1:0\"", "port 0"),
            ("tcp = \"127.0.0.1:99999\"", "bad port"),
            ("http = \"http://h/\"\nexpect = 42", "not an HTTP status"),
            ("http = \"http://h/\"\ntimeout = \"0s\"", "more than 0s"),
            ("http = \"http://h/\"\ntimeout = \"fast\"", "fast"),
        ] {
            let err = section(&format!("[check]\n{body}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{body:?}: {err}");
        }
        assert!(section("[check]\n")
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string()
            .contains("needs `http` or `tcp`"));
        assert!(section("[check]\ntcp = \"h:1\"\nexpect = 200\n")
            .unwrap()
            .validate()
            .unwrap_err()
            .to_string()
            .contains("expect"));
    }

    #[test]
    fn tcp_addresses() {
        assert_eq!(
            parse_tcp("127.0.0.1:80").unwrap(),
            ("127.0.0.1".to_owned(), 80)
        );
        assert_eq!(parse_tcp("[::1]:443").unwrap(), ("::1".to_owned(), 443));
        assert_eq!(
            parse_tcp("localhost:8080").unwrap(),
            ("localhost".to_owned(), 8080)
        );
        for bad in ["", ":80", "::1:80", "host:", "host:-1", "a b:80"] {
            assert!(parse_tcp(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn flags_win_over_the_section_and_state_dir_resolves_in_order() {
        let sec = CheckConfig {
            http: Some("http://127.0.0.1:1/healthz".into()),
            expect: None,
            tcp: None,
            timeout: Some(Duration::from_secs(1)),
        };
        let args = CheckArgs {
            tcp: Some("127.0.0.1:2".into()),
            ..Default::default()
        };
        let p = plan(&args, Some(&sec), Some(Path::new("/cfg")), None).unwrap();
        assert_eq!(
            p.probes,
            vec![Probe::Tcp {
                addr: "127.0.0.1:2".into()
            }]
        );
        assert_eq!(p.timeout, DEFAULT_TIMEOUT);
        assert_eq!(p.state_dir, PathBuf::from("/cfg"));

        let p = plan(&CheckArgs::default(), Some(&sec), None, Some("/env".into())).unwrap();
        assert_eq!(
            p.probes,
            vec![Probe::Http {
                url: "http://127.0.0.1:1/healthz".into(),
                expect: 200
            }]
        );
        assert_eq!(p.timeout, Duration::from_secs(1));
        assert_eq!(p.state_dir, PathBuf::from("/env"));

        let args = CheckArgs {
            state_dir: Some("/flag".into()),
            ..Default::default()
        };
        let p = plan(
            &args,
            Some(&sec),
            Some(Path::new("/cfg")),
            Some("/env".into()),
        )
        .unwrap();
        assert_eq!(p.state_dir, PathBuf::from("/flag"));

        let p = plan(&CheckArgs::default(), Some(&sec), None, None).unwrap();
        assert_eq!(p.state_dir, PathBuf::from(crate::config::DEFAULT_STATE_DIR));
    }

    #[test]
    fn nothing_to_probe_or_bad_flags_is_misconfigured() {
        let e = plan(&CheckArgs::default(), None, None, None).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("nothing to probe"), "{e}");
        for args in [
            CheckArgs {
                http: Some("nope".into()),
                ..Default::default()
            },
            CheckArgs {
                http: Some("http://h/".into()),
                expect: Some(7),
                ..Default::default()
            },
            CheckArgs {
                tcp: Some("h".into()),
                ..Default::default()
            },
            CheckArgs {
                tcp: Some("h:1".into()),
                probe_timeout: Some(Duration::ZERO),
                ..Default::default()
            },
            CheckArgs {
                tcp: Some("h:1".into()),
                vip: Some("../etc".into()),
                ..Default::default()
            },
        ] {
            let e = plan(&args, None, None, None).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{args:?}: {e}");
        }
    }

    #[test]
    fn drain_flags_global_per_vip_and_any() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(find_drain_flag(d, Some("iam")).unwrap(), None);
        assert_eq!(find_drain_flag(d, None).unwrap(), None);
        assert_eq!(find_drain_flag(&d.join("missing"), None).unwrap(), None);

        std::fs::write(d.join("web.drain"), "").unwrap();
        assert_eq!(
            find_drain_flag(d, Some("iam")).unwrap(),
            None,
            "another VIP's flag"
        );
        assert_eq!(
            find_drain_flag(d, Some("web")).unwrap(),
            Some(d.join("web.drain"))
        );
        assert_eq!(find_drain_flag(d, None).unwrap(), Some(d.join("web.drain")));

        std::fs::write(d.join("drain"), "").unwrap();
        assert_eq!(
            find_drain_flag(d, Some("iam")).unwrap(),
            Some(d.join("drain"))
        );
    }
}
