//! Who "this node" is: the instance ID (configured, else from the metadata service) and the
//! ENI (configured, else the instance's ENI whose MAC matches, found with
//! DescribeNetworkInterfaces filtered by `attachment.instance-id`).

use crate::cloud::eni::DescribeNetworkInterfaces;
use crate::cloud::{self, Client, Metadata};
use crate::config::Config;

/// Why this node could not be identified, worded for the operator (each names the setting
/// that would make discovery unnecessary).
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The metadata service did not give the instance ID.
    #[error("cannot learn this node's instance ID from the metadata service {url} ({source}); set node.instance_id")]
    InstanceId { url: String, source: cloud::Error },
    /// The metadata service did not give the MAC.
    #[error(
        "cannot learn this node's MAC from the metadata service {url} ({source}); set node.eni_id"
    )]
    Mac { url: String, source: cloud::Error },
    /// DescribeNetworkInterfaces failed.
    #[error("cannot list the ENIs of {instance_id}: {source}")]
    ListEnis {
        instance_id: String,
        source: cloud::Error,
    },
    /// No ENI of the instance has the MAC.
    #[error("no ENI of {instance_id} has MAC {mac} (found: {found}); set node.eni_id")]
    NoEni {
        instance_id: String,
        mac: String,
        found: String,
    },
    /// Several ENIs have it.
    #[error("{count} ENIs of {instance_id} have MAC {mac}; set node.eni_id")]
    ManyEnis {
        instance_id: String,
        mac: String,
        count: usize,
    },
}

/// This node's instance ID.
pub async fn instance_id(cfg: &Config, md: &Metadata) -> Result<String, DiscoveryError> {
    if let Some(id) = &cfg.node.instance_id {
        return Ok(id.clone());
    }
    md.instance_id()
        .await
        .map_err(|source| DiscoveryError::InstanceId {
            url: md.base_url().to_string(),
            source,
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
        None => md.mac().await.map_err(|source| DiscoveryError::Mac {
            url: md.base_url().to_string(),
            source,
        })?,
    };
    let resp = client
        .call(&DescribeNetworkInterfaces::of_instance(instance_id))
        .await
        .map_err(|source| DiscoveryError::ListEnis {
            instance_id: instance_id.to_string(),
            source,
        })?;
    let found: Vec<_> = resp
        .network_interface_set
        .iter()
        .filter(|e| e.has_mac(&mac))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.network_interface_id.clone()),
        [] => Err(DiscoveryError::NoEni {
            instance_id: instance_id.to_string(),
            mac,
            found: resp
                .network_interface_set
                .iter()
                .map(|e| format!("{} {}", e.network_interface_id, e.mac_address))
                .collect::<Vec<_>>()
                .join(", "),
        }),
        many => Err(DiscoveryError::ManyEnis {
            instance_id: instance_id.to_string(),
            mac,
            count: many.len(),
        }),
    }
}
