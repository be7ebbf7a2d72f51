//! `havip config check`: validate the configuration, resolve what it leaves to discovery
//! (instance from metadata, ENI by MAC, region, credential source), and print the result with
//! secrets redacted.
//!
//! Exit codes: 0 valid and resolved; 1 valid but discovery failed where a VIP needs it;
//! 2 invalid (the message names the key and line).

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;

use crate::config::{Config, Target};
use crate::context::Context;
use crate::failover::node;

/// Work with the configuration file.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

/// What to do with it.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Validate, resolve discovery, and print the effective configuration (secrets redacted).
    Check,
}

/// Shows enough of an ID to recognise it, never the whole of anything secret-adjacent.
fn mask(s: &str) -> String {
    let n = s.chars().count();
    if n <= 8 {
        return "****".into();
    }
    let head: String = s.chars().take(4).collect();
    let tail: String = s.chars().skip(n - 4).collect();
    format!("{head}…{tail}")
}

/// The static part of the report (no I/O), one `key  value` per line.
pub fn describe(cfg: &Config) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "configuration  {} (valid)", cfg.path.display());
    let _ = writeln!(
        s,
        "endpoint       {}",
        cfg.endpoint
            .as_deref()
            .unwrap_or("(default: https://vpc.tencentcloudapi.com)")
    );
    let _ = writeln!(s, "state dir      {}", cfg.state_dir.display());
    let _ = writeln!(s, "journal        {}", cfg.journal.display());
    match &cfg.credentials {
        None => {
            let _ = writeln!(
                s,
                "credentials    (not in the file: environment, profile file, CVM role)"
            );
        }
        Some(c) => {
            let mut parts = Vec::new();
            if let Some(id) = &c.secret_id {
                parts.push(format!("secret_id {}", mask(id)));
            }
            if c.secret_key.is_some() {
                parts.push("secret_key ** redacted **".into());
            }
            if c.token.is_some() {
                parts.push("token ** redacted **".into());
            }
            if let Some(p) = &c.profile_file {
                parts.push(format!("profile_file {}", p.display()));
            }
            if let Some(r) = &c.role {
                parts.push(format!("role {r}"));
            }
            let _ = writeln!(s, "credentials    {}", parts.join(", "));
        }
    }
    for a in &cfg.alert {
        // AlertTarget's Display redacts URL secrets (a WeCom key).
        let _ = writeln!(s, "alert          {a}");
    }
    if let Some(c) = &cfg.check {
        let mut probes = Vec::new();
        if let Some(h) = &c.http {
            probes.push(format!("http {}", crate::alert::redact_url(h)));
        }
        if let Some(t) = &c.tcp {
            probes.push(format!("tcp {t}"));
        }
        let _ = writeln!(s, "check          {}", probes.join(", "));
    }
    for v in &cfg.vips {
        let what = match &v.target {
            Target::Havip {
                havip_id,
                eip,
                fencing,
                eip_takeover,
            } => format!(
                "havip {havip_id}, EIP {}, fencing {}, eip_takeover {}",
                eip.as_ref()
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "-".into()),
                if *fencing { "on" } else { "off" },
                if *eip_takeover { "on" } else { "off" },
            ),
            Target::PrivateIp { private_ip } => format!("private-ip {private_ip}"),
            Target::Eip { eip, private_ip } => format!("eip {eip} → {private_ip}"),
        };
        let [all, one] = cfg.drain_flags(&v.name);
        let _ = writeln!(
            s,
            "vip {}  follows vrrp_instance {}{}; {what}; interface {}; deadline {}; drain flags {} {}",
            v.name,
            v.vrrp_instance,
            v.vrrp_group
                .as_ref()
                .map(|g| format!(" (group {g})"))
                .unwrap_or_default(),
            v.interface.as_deref().unwrap_or("- (no ARP from havip)"),
            humantime::format_duration(v.deadline),
            all.display(),
            one.display()
        );
    }
    s
}

/// Runs `havip config check`.
pub async fn run(args: &Args, ctx: &Context) -> Result<ExitCode> {
    let Action::Check = args.action;
    let cfg = ctx.managed_config()?;
    print!("{}", describe(&cfg));
    let engine = ctx.engine().await?;
    let env = &*engine;
    println!("region         {}", env.client.region());
    let mut ok = true;
    match &engine.instance_id {
        Ok(id) => {
            let how = if cfg.node.instance_id.is_some() {
                "configured"
            } else {
                "from the metadata service"
            };
            println!("node           {id} ({how})");
            let needs_eni = cfg
                .vips
                .iter()
                .any(|v| !matches!(v.target, Target::Havip { .. }));
            let client = env.client.with_deadline(
                tokio::time::Instant::now()
                    + ctx
                        .flags()
                        .deadline
                        .unwrap_or(std::time::Duration::from_secs(15)),
            );
            match node::eni_id(&cfg, &env.metadata, &client, id).await {
                Ok(eni) => {
                    let how = if cfg.node.eni_id.is_some() {
                        "configured"
                    } else {
                        "discovered by MAC"
                    };
                    println!("eni            {eni} ({how})");
                }
                Err(e) if needs_eni => {
                    ok = false;
                    eprintln!("havip: eni: {e}");
                }
                Err(e) => println!(
                    "eni            not resolved ({e}); the havip strategy does not need it"
                ),
            }
        }
        Err(e) => {
            ok = false;
            eprintln!("havip: node: {e}");
        }
    }
    println!("credentials    source: {}", env.client.credentials_source());
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_redacts_secrets() {
        let cfg = Config::parse(
            "[credentials]\nsecret_id = \"AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE\"\nsecret_key = \"Gu5t9xGARNpq86cd98joQYCN3EXAMPLE\"\n\
             [[vip]]\nname = \"iam\"\nhavip_id = \"havip-iam00099\"\neip = \"106.52.252.139\"\n",
            std::path::Path::new("t.toml"),
            Some("/tmp/s".into()),
        )
        .unwrap();
        let out = describe(&cfg);
        assert!(!out.contains("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"), "{out}");
        assert!(
            !out.contains("AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"),
            "{out}"
        );
        assert!(
            out.contains("AKID…MPLE") && out.contains("secret_key ** redacted **"),
            "{out}"
        );
        assert!(
            out.contains(
                "vip iam  follows vrrp_instance iam; havip havip-iam00099, EIP 106.52.252.139"
            ),
            "{out}"
        );
        assert!(out.contains("/tmp/s/iam.drain"), "{out}");
    }
}
