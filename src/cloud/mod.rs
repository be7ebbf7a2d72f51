//! The TencentCloud API client: signing applied to requests, retries, clock skew, credentials,
//! metadata, and one module per resource with one struct per action (STYLE.md §7).
//!
//! Adding an action is adding a request struct that implements [`Action`]; [`Client::call`]
//! signs, sends, retries and decodes. Response structs are tolerant: unknown fields are ignored
//! and `null` reads as the default, because the API documents many fields as nullable.

pub mod address;
pub mod client;
pub mod clock;
pub mod codes;
pub mod credentials;
pub mod eni;
pub mod error;
pub mod havip;
pub mod metadata;
pub mod observer;
mod profile;
pub mod ratelimit;
pub mod region;
pub mod retry;
pub mod setup;
mod signing;
pub mod task;
pub(crate) mod wire;

use serde::{Deserialize, Deserializer, Serialize};

pub use client::{CallObserver, CallOutcome, CallRecord, Client, ClientConfig};
pub use clock::{Clock, FixedClock, SystemClock};
pub use credentials::{CredentialProvider, Credentials, EnvVars, StaticProvider};
pub use error::{classify_code, Error, ErrorClass};
pub use metadata::Metadata;
pub use ratelimit::RateLimit;
pub use retry::RetryPolicy;
pub use setup::connect;
pub use setup::ClientOptions;

/// The VPC API version every action here uses.
pub(crate) const VPC_VERSION: &str = "2017-03-12";

/// One API action: its request parameters (serialized as the JSON body) and its response.
pub trait Action: Serialize + Send + Sync {
    /// The product short name, e.g. `vpc`.
    const SERVICE: &'static str;
    /// e.g. `2017-03-12`.
    const VERSION: &'static str;
    /// e.g. `DescribeHaVips`.
    const ACTION: &'static str;
    /// Whether the action can change the cloud (journaled before it is sent). Every action the
    /// API names `Describe*` only reads; an action may say otherwise.
    const MUTATING: bool = !is_read(Self::ACTION);
    /// The fields inside `Response`, RequestId included.
    type Response: serde::de::DeserializeOwned + Send;
}

/// An action as a CAM policy names it (`vpc:DescribeHaVips`), taken from its [`Action`] type so
/// that a list of them cannot drift from the requests the code sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionName {
    /// The product, e.g. `vpc`.
    pub service: &'static str,
    /// The action, e.g. `DescribeHaVips`.
    pub action: &'static str,
    /// Whether it can change the cloud ([`Action::MUTATING`]).
    pub mutating: bool,
}

impl ActionName {
    /// The name of the action `A`.
    pub const fn of<A: Action>() -> ActionName {
        ActionName {
            service: A::SERVICE,
            action: A::ACTION,
            mutating: A::MUTATING,
        }
    }
}

impl std::fmt::Display for ActionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.service, self.action)
    }
}

/// Whether an action, by the API's naming, only reads (`Describe*`).
pub const fn is_read(action: &str) -> bool {
    let (a, p) = (action.as_bytes(), b"Describe");
    if a.len() < p.len() {
        return false;
    }
    let mut i = 0;
    while i < p.len() {
        if a[i] != p[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Declares a VPC 2017-03-12 action.
macro_rules! vpc_action {
    ($req:ty => $resp:ty, $name:literal) => {
        impl $crate::cloud::Action for $req {
            const SERVICE: &'static str = "vpc";
            const VERSION: &'static str = $crate::cloud::VPC_VERSION;
            const ACTION: &'static str = $name;
            type Response = $resp;
        }
    };
}
pub(crate) use vpc_action;

/// Declares a paged VPC `Describe*` action: the request (by IDs or by filters, which the API
/// does not let one combine; `Offset`/`Limit` set by [`fetch_all`]), the response (`TotalCount`,
/// the set, `RequestId`), and its [`Paged`] impl. The action's name is the request type's.
macro_rules! describe_action {
    (
        $(#[$doc:meta])*
        $req:ident { $ids:ident } => $resp:ident { $set:ident: $item:ty }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $req {
            #[serde(skip_serializing_if = "Vec::is_empty")]
            pub $ids: Vec<String>,
            #[serde(skip_serializing_if = "Vec::is_empty")]
            pub filters: Vec<$crate::cloud::Filter>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub offset: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub limit: Option<u64>,
        }

        impl $req {
            /// These resources, by ID.
            pub fn by_ids<S: Into<String>>(ids: impl IntoIterator<Item = S>) -> Self {
                $req {
                    $ids: ids.into_iter().map(Into::into).collect(),
                    ..Default::default()
                }
            }

            /// The resources that match every filter (not every Describe is searched so).
            #[allow(dead_code)]
            pub(crate) fn by_filters(filters: Vec<$crate::cloud::Filter>) -> Self {
                $req {
                    filters,
                    ..Default::default()
                }
            }
        }

        #[doc = concat!("`", stringify!($req), "`'s answer.")]
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        pub struct $resp {
            #[serde(default, deserialize_with = "crate::cloud::nullable")]
            pub total_count: u64,
            #[serde(default, deserialize_with = "crate::cloud::nullable")]
            pub $set: Vec<$item>,
            #[serde(default, deserialize_with = "crate::cloud::nullable")]
            pub request_id: String,
        }

        impl $crate::cloud::Action for $req {
            const SERVICE: &'static str = "vpc";
            const VERSION: &'static str = $crate::cloud::VPC_VERSION;
            const ACTION: &'static str = stringify!($req);
            type Response = $resp;
        }

        impl $crate::cloud::Paged for $req {
            type Item = $item;
            fn set_page(&mut self, offset: u64, limit: u64) {
                self.offset = Some(offset);
                self.limit = Some(limit);
            }
            fn split(resp: $resp) -> (u64, Vec<$item>) {
                (resp.total_count, resp.$set)
            }
        }
    };
}
pub(crate) use describe_action;

/// A query filter: filters are AND-ed, values within one are OR-ed; booleans as `"TRUE"`/`"FALSE"`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

impl Filter {
    pub fn new<S: Into<String>>(
        name: impl Into<String>,
        values: impl IntoIterator<Item = S>,
    ) -> Self {
        Filter {
            name: name.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }
}

/// A response that carries nothing but its RequestId (most write actions).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequestIdOnly {
    #[serde(default, deserialize_with = "nullable")]
    pub request_id: String,
}

/// A key/value tag.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    #[serde(default, deserialize_with = "nullable")]
    pub key: String,
    #[serde(default, deserialize_with = "nullable")]
    pub value: String,
}

/// The largest page the Describe actions accept.
pub(crate) const PAGE_LIMIT: u64 = 100;

/// A Describe action that pages with `Offset`/`Limit` and answers `TotalCount`.
pub trait Paged: Action + Clone {
    type Item: Send;
    /// Sets `Offset` and `Limit`.
    fn set_page(&mut self, offset: u64, limit: u64);
    /// `TotalCount` and the page's items.
    fn split(resp: Self::Response) -> (u64, Vec<Self::Item>);
}

/// Fetches every item of a paged Describe: pages of [`PAGE_LIMIT`] until `TotalCount` items
/// are in (or a page comes back empty, so a server that lies about TotalCount cannot loop us).
pub async fn fetch_all<A: Paged>(client: &Client, req: &A) -> Result<Vec<A::Item>, Error> {
    fetch_all_with(client, req, |_| {}).await
}

/// [`fetch_all`], telling `on_page` the number of items of each page as it arrives (a progress
/// line over a long scan).
pub async fn fetch_all_with<A: Paged>(
    client: &Client,
    req: &A,
    mut on_page: impl FnMut(usize),
) -> Result<Vec<A::Item>, Error> {
    let mut items = Vec::new();
    let mut offset = 0u64;
    loop {
        let mut page_req = req.clone();
        page_req.set_page(offset, PAGE_LIMIT);
        let (total, page) = A::split(client.call(&page_req).await?);
        let got = page.len() as u64;
        on_page(page.len());
        items.extend(page);
        offset += got;
        if got == 0 || offset >= total {
            return Ok(items);
        }
    }
}

/// [`fetch_all_with`] with up to `in_flight` pages asked at once once the first page has told
/// `TotalCount`: a caller paced by a [`RateLimit`] then always has a request waiting for the
/// next cell of its budget, instead of leaving cells unused while one page is in flight. Items
/// come back in page order. A page that comes back empty stops the asking (a server that lies
/// about TotalCount cannot make us ask forever), and the first error ends the fetch, dropping
/// (aborting) the pages in flight.
pub async fn fetch_all_concurrent<A>(
    client: &Client,
    req: &A,
    in_flight: usize,
    mut on_page: impl FnMut(usize),
) -> Result<Vec<A::Item>, Error>
where
    A: Paged + 'static,
    A::Item: 'static,
    A::Response: 'static,
{
    let mut first = req.clone();
    first.set_page(0, PAGE_LIMIT);
    let (total, mut items) = A::split(client.call(&first).await?);
    on_page(items.len());
    let mut next = items.len() as u64;
    if next == 0 || next >= total {
        return Ok(items);
    }
    let mut pages = std::collections::BTreeMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut exhausted = false;
    loop {
        while !exhausted && tasks.len() < in_flight.max(1) && next < total {
            let mut page_req = req.clone();
            page_req.set_page(next, PAGE_LIMIT);
            let (client, offset) = (client.clone(), next);
            tasks.spawn(async move { (offset, client.call(&page_req).await) });
            next += PAGE_LIMIT;
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let (offset, result) = match joined {
            Ok(r) => r,
            // A page task only ends by returning; a panic there is a bug, not an empty page.
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        let (_, page) = A::split(result?);
        on_page(page.len());
        exhausted |= page.is_empty();
        pages.insert(offset, page);
    }
    items.extend(pages.into_values().flatten());
    Ok(items)
}

/// Deserializes `null` (or a missing field, with `#[serde(default)]`) as the type's default.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Deserializes a string or a number as a string (`TaskId` is `"50121411"` in AssociateAddress
/// and `12566700` in DescribeTaskResult); `null` reads as empty.
pub(crate) fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        I(i64),
        U(u64),
        F(f64),
    }
    Ok(match Option::<Either>::deserialize(d)? {
        None => String::new(),
        Some(Either::S(s)) => s,
        Some(Either::I(i)) => i.to_string(),
        Some(Either::U(u)) => u.to_string(),
        Some(Either::F(f)) => f.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_the_describe_actions() {
        assert!(is_read("DescribeHaVips") && is_read("DescribeVpcTaskResult"));
        for w in ["HaVipAssociateAddressIp", "AssociateAddress", "Describ", ""] {
            assert!(!is_read(w), "{w}");
        }
        let flags = [
            <havip::HaVipAssociateAddressIp as Action>::MUTATING,
            <havip::DescribeHaVips as Action>::MUTATING,
        ];
        assert_eq!(flags, [true, false], "a write is mutating, a read is not");
    }

    #[test]
    fn filter_serializes_pascal_case() {
        let f = Filter::new("vpc-id", ["vpc-1", "vpc-2"]);
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            serde_json::json!({"Name": "vpc-id", "Values": ["vpc-1", "vpc-2"]})
        );
    }

    #[test]
    fn nullable_and_string_or_number() {
        #[derive(Deserialize)]
        struct T {
            #[serde(default, deserialize_with = "nullable")]
            a: String,
            #[serde(default, deserialize_with = "nullable")]
            b: Vec<u8>,
            #[serde(default, deserialize_with = "string_or_number")]
            c: String,
            #[serde(default, deserialize_with = "string_or_number")]
            d: String,
        }
        let t: T = serde_json::from_str(r#"{"a":null,"c":12566700,"d":"50121411","x":1}"#).unwrap();
        assert_eq!(
            (t.a.as_str(), t.b.len(), t.c.as_str(), t.d.as_str()),
            ("", 0, "12566700", "50121411")
        );
        let t: T = serde_json::from_str(r#"{"c":null}"#).unwrap();
        assert_eq!(t.c, "");
    }
}
