//! Which region to call: `--region`, then `TENCENTCLOUD_REGION`, then the metadata service's
//! `placement/region` (issue 2 §4); and the cloud's list of regions, CVM `DescribeRegions`.

use serde::{Deserialize, Serialize};

use super::credentials::{EnvVars, ENV_REGION};
use super::metadata::Metadata;
use super::{nullable, Action, Error};

/// CVM `DescribeRegions` (cvm 2017-03-12): every region the account can use. No parameters.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DescribeRegions {}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeRegionsResponse {
    #[serde(default, deserialize_with = "nullable")]
    pub total_count: u64,
    #[serde(default, deserialize_with = "nullable")]
    pub region_set: Vec<RegionInfo>,
    #[serde(default, deserialize_with = "nullable")]
    pub request_id: String,
}

/// One region: `Region` (e.g. `ap-guangzhou`), `RegionName`, `RegionState` (`AVAILABLE`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegionInfo {
    #[serde(default, deserialize_with = "nullable")]
    pub region: String,
    #[serde(default, deserialize_with = "nullable")]
    pub region_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub region_state: String,
}

impl RegionInfo {
    pub fn is_available(&self) -> bool {
        self.region_state == "AVAILABLE"
    }
}

impl Action for DescribeRegions {
    const SERVICE: &'static str = "cvm";
    const VERSION: &'static str = "2017-03-12";
    const ACTION: &'static str = "DescribeRegions";
    type Response = DescribeRegionsResponse;
}

/// Whether `r` can be a region name (it goes into a header as is).
pub fn is_region_name(r: &str) -> bool {
    !r.is_empty() && r.len() <= 64 && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Resolves the region. `flag` is `--region` as given: `Some("")` means "no region" on purpose
/// (global APIs such as CAM), so `X-TC-Region` is omitted and nothing else is consulted.
pub async fn resolve_region(
    flag: Option<&str>,
    env: &EnvVars,
    metadata: Option<&Metadata>,
) -> Result<String, Error> {
    if let Some(r) = flag {
        return validate(r.trim());
    }
    if let Some(r) = env.get(ENV_REGION) {
        return validate(r.trim());
    }
    let Some(md) = metadata else {
        return Err(Error::Config(format!(
            "no region: pass --region or set {ENV_REGION}"
        )));
    };
    match md.region().await {
        Ok(r) => validate(r.trim()),
        Err(e) => Err(Error::Config(format!(
            "no region: pass --region or set {ENV_REGION} (metadata {} did not answer: {e})",
            md.base_url()
        ))),
    }
}

/// A region is empty or letters, digits and `-` (it goes into a header as is).
fn validate(r: &str) -> Result<String, Error> {
    if r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(r.to_string())
    } else {
        Err(Error::Config(format!("region {r:?} is not a region name")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn order_flag_env_metadata() {
        let env = EnvVars::from_pairs([(ENV_REGION, "ap-shanghai")]);
        assert_eq!(
            resolve_region(Some("ap-guangzhou"), &env, None)
                .await
                .unwrap(),
            "ap-guangzhou"
        );
        assert_eq!(resolve_region(Some(""), &env, None).await.unwrap(), "");
        assert_eq!(
            resolve_region(None, &env, None).await.unwrap(),
            "ap-shanghai"
        );
        let e = resolve_region(None, &EnvVars::default(), None)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Config(_)));
        assert!(resolve_region(Some("ap guangzhou\n"), &env, None)
            .await
            .is_err());
    }

    #[tokio::test]
    async fn unreachable_metadata_is_a_config_error() {
        let md = Metadata::new("http://127.0.0.1:9", Duration::from_secs(1)).unwrap();
        let e = resolve_region(None, &EnvVars::default(), Some(&md))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e}");
        assert!(e.to_string().contains("--region"), "{e}");
    }
}
