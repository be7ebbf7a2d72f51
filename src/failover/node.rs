//! Who "this node" is: the instance ID (configured, else from the metadata service) and the
//! ENI (configured, else the instance's ENI whose MAC matches, found with
//! DescribeNetworkInterfaces filtered by `attachment.instance-id`).

use crate::cloud::eni::DescribeNetworkInterfaces;
use crate::cloud::{Client, Metadata};
use crate::config::Config;

/// A discovery failure, worded for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DiscoveryError(pub String);

/// This node's instance ID.
pub async fn instance_id(cfg: &Config, md: &Metadata) -> Result<String, DiscoveryError> {
    if let Some(id) = &cfg.node.instance_id {
        return Ok(id.clone());
    }
    md.instance_id().await.map_err(|e| {
        DiscoveryError(format!(
            "cannot learn this node's instance ID from the metadata service {} ({e}); set node.instance_id",
            md.base_url()
        ))
    })
}

/// This node's ENI: configured, or matched by MAC among the instance's ENIs (case-insensitive,
/// since the metadata service and the API disagree on case). One DescribeNetworkInterfaces.
pub async fn eni_id(
    cfg: &Config,
    md: &Metadata,
    client: &Client,
    instance_id: &str,
) -> Result<String, DiscoveryError> {
    if let Some(id) = &cfg.node.eni_id {
        return Ok(id.clone());
    }
    let mac = match &cfg.node.mac {
        Some(m) => m.clone(),
        None => md.mac().await.map_err(|e| {
            DiscoveryError(format!(
                "cannot learn this node's MAC from the metadata service {} ({e}); set node.eni_id",
                md.base_url()
            ))
        })?,
    };
    let resp = client
        .call(&DescribeNetworkInterfaces::of_instance(instance_id))
        .await
        .map_err(|e| DiscoveryError(format!("cannot list the ENIs of {instance_id}: {e}")))?;
    let found: Vec<_> = resp
        .network_interface_set
        .iter()
        .filter(|e| e.has_mac(&mac))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.network_interface_id.clone()),
        [] => Err(DiscoveryError(format!(
            "no ENI of {instance_id} has MAC {mac} (found: {}); set node.eni_id",
            resp.network_interface_set
                .iter()
                .map(|e| format!("{} {}", e.network_interface_id, e.mac_address))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        many => Err(DiscoveryError(format!(
            "{} ENIs of {instance_id} have MAC {mac}; set node.eni_id",
            many.len()
        ))),
    }
}
