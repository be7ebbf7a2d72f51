//! The minimal CAM policy for the configured strategies (`havip doctor --policy`): every action
//! the strategies send, from each strategy's own list (`failover::vip::actions`), as a CAM
//! policy document (`version` "2.0", statements of `effect`, `action`, `resource`) ready to
//! paste into the console.
//!
//! Scoping, and what it rests on (CAM's resource syntax is `qcs::SERVICE:REGION:ACCOUNT:TYPE/ID`;
//! an empty ACCOUNT means the root account of whoever creates the policy):
//! - the reads (`Describe*`) cannot be limited to resources, so they get `*`;
//! - the `havip` strategy's writes are scoped to its HAVIP, and to its EIP when `eip_id` is
//!   configured (`qcs::vpc:REGION::havip/havip-…`, `…::eip/eip-…`);
//! - the `eip` strategy's writes are scoped to its EIP when `eip_id` is configured;
//! - `MigratePrivateIpAddress` (private-ip) involves the peer's ENI, which havip does not know:
//!   `*`.
//!
//! Whether CAM checks the instance named in `AssociateHaVipInstance` as a resource too is not
//! documented (API.md §7): if the console refuses the scoped statement, use `*` for it.

use serde_json::{json, Value};

use crate::cloud::ActionName;
use crate::config::{Config, Target};
use crate::failover::vip;

/// One statement's actions and resources.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    actions: Vec<ActionName>,
    resources: Vec<String>,
}

/// The policy document for `cfg`'s VIPs; `region` is `*` when unknown.
pub fn policy(cfg: &Config, region: &str) -> Value {
    let mut reads: Vec<ActionName> = Vec::new();
    let mut writes: Vec<Statement> = Vec::new();
    for v in &cfg.vips {
        let actions = vip::actions(&v.target);
        reads.extend(actions.iter().filter(|a| !a.mutating));
        let w: Vec<ActionName> = actions.into_iter().filter(|a| a.mutating).collect();
        if w.is_empty() {
            continue;
        }
        let resources = resources(&v.target, region);
        // Statements with the same resources merge (two VIPs on `*`).
        match writes.iter_mut().find(|s| s.resources == resources) {
            Some(s) => s.actions.extend(w),
            None => writes.push(Statement {
                actions: w,
                resources,
            }),
        }
    }
    reads.sort();
    reads.dedup();
    let mut statements = Vec::new();
    if !reads.is_empty() {
        statements.push(statement(&reads, &["*".to_string()]));
    }
    for s in &mut writes {
        s.actions.sort();
        s.actions.dedup();
        statements.push(statement(&s.actions, &s.resources));
    }
    json!({"version": "2.0", "statement": statements})
}

fn statement(actions: &[ActionName], resources: &[String]) -> Value {
    json!({
        "effect": "allow",
        "action": actions.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "resource": resources,
    })
}

/// The resources the writes of `target` may be scoped to.
fn resources(target: &Target, region: &str) -> Vec<String> {
    let res = |kind: &str, id: &str| format!("qcs::vpc:{region}::{kind}/{id}");
    match target {
        Target::Havip { havip_id, eip, .. } => {
            let mut r = vec![res("havip", havip_id)];
            if let Some(id) = eip.as_ref().and_then(|e| e.id.as_deref()) {
                r.push(res("eip", id));
            }
            r
        }
        Target::Eip { eip, .. } => match &eip.id {
            Some(id) => vec![res("eip", id)],
            None => vec!["*".into()],
        },
        Target::PrivateIp { .. } => vec!["*".into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        Config::parse(text, std::path::Path::new("h.toml"), None).unwrap()
    }

    #[test]
    fn havip_policy_names_its_actions_and_scopes_writes() {
        let c = cfg("[[vip]]\nname = \"iam\"\nhavip_id = \"havip-iam00099\"\neip = \"106.52.252.139\"\neip_id = \"eip-iam00139\"\nfencing = true\n");
        let p = policy(&c, "ap-guangzhou");
        assert_eq!(p["version"], "2.0");
        let st = p["statement"].as_array().unwrap();
        assert_eq!(st.len(), 2);
        assert_eq!(st[0]["resource"], json!(["*"]));
        assert_eq!(
            st[0]["action"],
            json!([
                "vpc:DescribeAddresses",
                "vpc:DescribeHaVips",
                "vpc:DescribeVpcTaskResult"
            ])
        );
        assert_eq!(
            st[1]["resource"],
            json!([
                "qcs::vpc:ap-guangzhou::havip/havip-iam00099",
                "qcs::vpc:ap-guangzhou::eip/eip-iam00139"
            ])
        );
        assert_eq!(
            st[1]["action"],
            json!([
                "vpc:AssociateHaVipInstance",
                "vpc:DisassociateHaVipInstance",
                "vpc:HaVipAssociateAddressIp"
            ])
        );
    }

    #[test]
    fn private_ip_writes_are_unscoped_and_statements_merge() {
        let c = cfg("[[vip]]\nname = \"a\"\nstrategy = \"private-ip\"\nprivate_ip = \"10.0.4.98\"\n\n[[vip]]\nname = \"b\"\nstrategy = \"private-ip\"\nprivate_ip = \"10.0.4.97\"\n");
        let p = policy(&c, "*");
        let st = p["statement"].as_array().unwrap();
        assert_eq!(st.len(), 2, "{p:#}");
        assert_eq!(st[1]["action"], json!(["vpc:MigratePrivateIpAddress"]));
        assert_eq!(st[1]["resource"], json!(["*"]));
    }
}
