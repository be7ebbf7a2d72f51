//! Parsing each `[[vip]]` entry: a unique valid name, the strategy with exactly the keys it
//! needs (a key another strategy needs is an error at its line), the interface, the deadline
//! and the keepalived instance it follows.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::locate::Source;
use super::validate::{check_resource_id, valid_interface, valid_vip_name};
use super::{ConfigError, EipRef, StrategyKind, Target, VipConfig, DEFAULT_DEADLINE};
use crate::bounds;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVip {
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

/// Every `[[vip]]` entry, in file order. A file may have none (a raw API call needs only the
/// endpoint, region and credentials); the commands that manage VIPs ask for at least one with
/// [`Config::require_vips`](super::Config::require_vips).
pub(super) fn vips(src: &Source, raw: Vec<Spanned<RawVip>>) -> Result<Vec<VipConfig>, ConfigError> {
    let mut names = HashSet::new();
    raw.into_iter().map(|v| vip(src, v, &mut names)).collect()
}

/// One entry, its name not among `names` (and added to them).
fn vip(
    src: &Source,
    v: Spanned<RawVip>,
    names: &mut HashSet<String>,
) -> Result<VipConfig, ConfigError> {
    let v_span = v.span();
    let v = v.into_inner();
    let name = unique_name(src, &v.name, names)?;
    let kind = v
        .strategy
        .as_ref()
        .map(|s| *s.get_ref())
        .unwrap_or(StrategyKind::Havip);
    let entry = Entry {
        src,
        name: &name,
        kind,
        // A missing key is reported where it is demanded: at `strategy` when it is written
        // out, else at the `[[vip]]` header.
        table_span: v.strategy.as_ref().map_or(v_span, |s| s.span()),
    };
    let target = entry.target(&v)?;
    entry.interface(&v)?;
    let deadline = v.deadline.unwrap_or(DEFAULT_DEADLINE);
    if deadline < Duration::from_secs(1) {
        return Err(entry.required_err(format!("{} must be at least 1s", entry.ctx("deadline"))));
    }
    let vrrp_instance = match &v.vrrp_instance {
        Some(s) if s.get_ref().is_empty() => {
            return Err(entry.err(s.span(), format!("{} is empty", entry.ctx("vrrp_instance"))))
        }
        Some(s) => s.get_ref().clone(),
        // Without it the VIP follows the instance of the same name.
        None => name.clone(),
    };
    Ok(VipConfig {
        name,
        vrrp_instance,
        vrrp_group: v.vrrp_group,
        target,
        interface: v.interface.map(|s| s.into_inner()),
        vip: v.vip,
        deadline,
    })
}

/// `vip.name`: valid as a file name, and not used by an earlier entry.
fn unique_name(
    src: &Source,
    name: &Spanned<String>,
    names: &mut HashSet<String>,
) -> Result<String, ConfigError> {
    let n = name.get_ref().clone();
    if !valid_vip_name(&n) {
        return Err(src.err(
            Some(name.span()),
            format!(
                "key `vip.name`: {} must be 1-64 characters of A-Z a-z 0-9 . _ - \
                 and not start with a dot (it names files)",
                bounds::clip_quoted(&n)
            ),
        ));
    }
    if !names.insert(n.clone()) {
        return Err(src.err(
            Some(name.span()),
            format!("key `vip.name`: duplicate VIP name {n:?}"),
        ));
    }
    Ok(n)
}

/// One entry being parsed, for its messages: `VIP "iam" (strategy havip): key `…``.
struct Entry<'a> {
    src: &'a Source<'a>,
    name: &'a str,
    kind: StrategyKind,
    /// Where a missing key is reported.
    table_span: Range<usize>,
}

impl Entry<'_> {
    fn ctx(&self, key: &str) -> String {
        format!("VIP {:?} (strategy {}): key `{key}`", self.name, self.kind)
    }

    fn err(&self, span: Range<usize>, message: String) -> ConfigError {
        self.src.err(Some(span), message)
    }

    /// An error at the place a missing key is demanded.
    fn required_err(&self, message: String) -> ConfigError {
        self.err(self.table_span.clone(), message)
    }

    /// A key this strategy does not use is an error at its line.
    fn forbid<T>(&self, present: Option<&Spanned<T>>, key: &str) -> Result<(), ConfigError> {
        match present {
            Some(s) => Err(self.err(
                s.span(),
                format!("{} does not apply to this strategy", self.ctx(key)),
            )),
            None => Ok(()),
        }
    }

    /// The strategy with exactly the resources it needs.
    fn target(&self, v: &RawVip) -> Result<Target, ConfigError> {
        let eip = self.eip_ref(v)?;
        match self.kind {
            StrategyKind::Havip => self.havip(v, eip),
            StrategyKind::PrivateIp => self.private_ip(v),
            StrategyKind::Eip => self.eip(v, eip),
        }
    }

    /// `eip` and/or `eip_id`, the ID checked.
    fn eip_ref(&self, v: &RawVip) -> Result<Option<EipRef>, ConfigError> {
        if v.eip.is_none() && v.eip_id.is_none() {
            return Ok(None);
        }
        if let Some(i) = &v.eip_id {
            if let Err(m) = check_resource_id(i.get_ref(), "eip", "an EIP ID") {
                let message = format!("{} {m}", self.ctx("eip_id"));
                return Err(self.src.err_from(Some(i.span()), message, m));
            }
        }
        Ok(Some(EipRef {
            address: v.eip.as_ref().map(|a| *a.get_ref()),
            id: v.eip_id.as_ref().map(|i| i.get_ref().clone()),
        }))
    }

    /// `strategy = "havip"`: a HAVIP ID; `eip_takeover` needs an EIP.
    fn havip(&self, v: &RawVip, eip: Option<EipRef>) -> Result<Target, ConfigError> {
        self.forbid(v.private_ip.as_ref(), "private_ip")?;
        let Some(h) = &v.havip_id else {
            return Err(self.required_err(format!("{} is required", self.ctx("havip_id"))));
        };
        if let Err(m) = check_resource_id(h.get_ref(), "havip", "a HAVIP ID") {
            let message = format!("{} {m}", self.ctx("havip_id"));
            return Err(self.src.err_from(Some(h.span()), message, m));
        }
        if let Some(t) = &v.eip_takeover {
            if *t.get_ref() && eip.is_none() {
                return Err(self.err(
                    t.span(),
                    format!("{} needs `eip` or `eip_id`", self.ctx("eip_takeover")),
                ));
            }
        }
        Ok(Target::Havip {
            havip_id: h.get_ref().clone(),
            eip,
            fencing: v.fencing.as_ref().is_some_and(|f| *f.get_ref()),
            eip_takeover: v.eip_takeover.as_ref().is_some_and(|f| *f.get_ref()),
        })
    }

    /// `strategy = "private-ip"`: the secondary IP to migrate, nothing of a HAVIP or an EIP.
    fn private_ip(&self, v: &RawVip) -> Result<Target, ConfigError> {
        self.forbid(v.havip_id.as_ref(), "havip_id")?;
        self.forbid(v.eip.as_ref(), "eip")?;
        self.forbid(v.eip_id.as_ref(), "eip_id")?;
        self.forbid(v.fencing.as_ref(), "fencing")?;
        self.forbid(v.eip_takeover.as_ref(), "eip_takeover")?;
        let private_ip = self.private_ip_of(v, "the secondary IP to migrate")?;
        Ok(Target::PrivateIp { private_ip })
    }

    /// `strategy = "eip"`: the EIP and this node's private IP it is bound to.
    fn eip(&self, v: &RawVip, eip: Option<EipRef>) -> Result<Target, ConfigError> {
        self.forbid(v.havip_id.as_ref(), "havip_id")?;
        self.forbid(v.fencing.as_ref(), "fencing")?;
        self.forbid(v.eip_takeover.as_ref(), "eip_takeover")?;
        let Some(eip) = eip else {
            return Err(self.required_err(format!("{} or `eip_id` is required", self.ctx("eip"))));
        };
        let private_ip = self.private_ip_of(v, "this node's private IP the EIP is bound to")?;
        Ok(Target::Eip { eip, private_ip })
    }

    /// The required `private_ip`; `what` says what it is for.
    fn private_ip_of(&self, v: &RawVip, what: &str) -> Result<Ipv4Addr, ConfigError> {
        match &v.private_ip {
            Some(ip) => Ok(*ip.get_ref()),
            None => {
                Err(self.required_err(format!("{} is required ({what})", self.ctx("private_ip"))))
            }
        }
    }

    /// `interface`: a valid name, and only for the havip strategy.
    fn interface(&self, v: &RawVip) -> Result<(), ConfigError> {
        if let Some(i) = &v.interface {
            let s = i.get_ref();
            if !valid_interface(s) {
                return Err(self.err(
                    i.span(),
                    format!(
                        "{} {} is not an interface name",
                        self.ctx("interface"),
                        bounds::clip_quoted(s)
                    ),
                ));
            }
        }
        if v.interface.is_some() && self.kind != StrategyKind::Havip {
            self.forbid(v.interface.as_ref(), "interface")?;
        }
        Ok(())
    }
}
