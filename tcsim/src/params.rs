//! Request parameters: JSON bodies and flattened GET query strings, with typed getters that
//! answer the real validation codes (`MissingParameter`, `InvalidParameter`, `UnknownParameter`).
//!
//! A GET query (`Filters.0.Name=vpc-id&Filters.0.Values.0=vpc-1&Limit=10`) is unflattened into
//! the same JSON shape a POST body has, with every leaf a string; the getters then accept
//! numeric/boolean strings only for query-sourced parameters, because JSON callers (the SDKs)
//! send real numbers and booleans and the real API rejects a string there.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// Common parameters that may appear in a GET query string (API 2.0 style or tccli) and are not
/// action parameters.
const COMMON_QUERY_KEYS: &[&str] = &[
    "Action",
    "Version",
    "Region",
    "Timestamp",
    "Nonce",
    "Language",
    "Token",
    "RequestClient",
];

/// The most dot-separated levels a query parameter name may have. Real names have at most
/// four (`Filters.0.Values.0`); the bound keeps the recursive unflattening (and the drop of
/// the tree it builds) off the end of the stack: a 32 KB GET of `a.a.a…` used to abort the
/// whole simulator before authentication.
pub const MAX_QUERY_DEPTH: usize = 32;

/// One action's parameters.
#[derive(Clone, Debug, Default)]
pub struct Params {
    map: Map<String, Value>,
    /// True when the values came from a query string (all leaves are strings).
    from_query: bool,
    /// The dotted path of this object, for messages (`HaVipAssociationSet.0`).
    prefix: String,
}

/// A `Filter`: `{"Name": …, "Values": […]}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

impl Params {
    /// Parameters from a JSON body. An empty body is `{}`; anything but an object is rejected.
    pub fn from_json(body: &[u8]) -> ApiResult<Params> {
        if body.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Params::default());
        }
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::new(
                "InvalidParameter",
                format!("The request body is not valid JSON: {e}."),
            )
        })?;
        match value {
            Value::Object(map) => Ok(Params::root(map, false)),
            _ => Err(ApiError::new(
                "InvalidParameter",
                "The request body must be a JSON object.",
            )),
        }
    }

    /// Parameters from a URL-encoded query (or form body), unflattened. Returns the parameters
    /// and the common keys found in the query (`Action`, `Region`, …).
    pub fn from_query(query: &str) -> ApiResult<(Params, BTreeMap<String, String>)> {
        let mut root = Node::Map(BTreeMap::new());
        let mut common = BTreeMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent_decode(k)?;
            let value = percent_decode(v)?;
            if COMMON_QUERY_KEYS.contains(&key.as_str()) {
                common.insert(key, value);
                continue;
            }
            if key.is_empty() || key.split('.').any(str::is_empty) {
                return Err(ApiError::new(
                    "InvalidParameter",
                    format!("The parameter name `{key}` is malformed."),
                ));
            }
            if key.split('.').nth(MAX_QUERY_DEPTH).is_some() {
                let top = key.split('.').next().unwrap_or_default();
                return Err(ApiError::new(
                    "InvalidParameter",
                    format!(
                        "The parameter `{top}` is nested deeper than {MAX_QUERY_DEPTH} levels."
                    ),
                ));
            }
            root.insert(&key, key.split('.').collect::<Vec<_>>().as_slice(), value)?;
        }
        // Top-level keys that are all numbers (`0=a&1=b`) would make an array: not parameters.
        let Value::Object(map) = root.into_value() else {
            return Err(ApiError::new(
                "InvalidParameter",
                "The query string has no named parameters.",
            ));
        };
        Ok((Params::root(map, true), common))
    }

    fn root(map: Map<String, Value>, from_query: bool) -> Params {
        Params {
            map,
            from_query,
            prefix: String::new(),
        }
    }

    /// The parameters as JSON (for the request log).
    pub fn to_value(&self) -> Value {
        Value::Object(self.map.clone())
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// `UnknownParameter` for any key not in `allowed`.
    pub fn check_known(&self, allowed: &[&str]) -> ApiResult<()> {
        for key in self.map.keys() {
            if !allowed.contains(&key.as_str()) {
                return Err(ApiError::new(
                    "UnknownParameter",
                    format!("The parameter `{}` is not recognized.", self.path(key)),
                ));
            }
        }
        Ok(())
    }

    /// A present, non-null value.
    fn get(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn str_opt(&self, name: &str) -> ApiResult<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::invalid_type(&self.path(name), "String")),
        }
    }

    pub fn str_req(&self, name: &str) -> ApiResult<String> {
        self.str_opt(name)?
            .ok_or_else(|| ApiError::missing(&self.path(name)))
    }

    /// An unsigned integer. JSON numbers must be non-negative integers; query strings must
    /// be decimal digits.
    pub fn u64_opt(&self, name: &str) -> ApiResult<Option<u64>> {
        let path = self.path(name);
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                if let Some(u) = n.as_u64() {
                    Ok(Some(u))
                } else if n.as_i64().is_some() {
                    Err(ApiError::new(
                        "InvalidParameterValue.Range",
                        format!("The value of parameter `{path}` must not be negative."),
                    ))
                } else {
                    Err(ApiError::invalid_type(&path, "Integer"))
                }
            }
            Some(Value::String(s)) if self.from_query => {
                if let Some(rest) = s.strip_prefix('-') {
                    if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(ApiError::new(
                            "InvalidParameterValue.Range",
                            format!("The value of parameter `{path}` must not be negative."),
                        ));
                    }
                }
                s.parse::<u64>()
                    .map(Some)
                    .map_err(|_| ApiError::invalid_type(&path, "Integer"))
            }
            Some(_) => Err(ApiError::invalid_type(&path, "Integer")),
        }
    }

    pub fn bool_opt(&self, name: &str) -> ApiResult<Option<bool>> {
        let path = self.path(name);
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if self.from_query => match s.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" => Ok(Some(false)),
                _ => Err(ApiError::invalid_type(&path, "Boolean")),
            },
            Some(_) => Err(ApiError::invalid_type(&path, "Boolean")),
        }
    }

    pub fn str_list_opt(&self, name: &str) -> ApiResult<Option<Vec<String>>> {
        self.list_opt(name, "Array of String", |path, i, v| match v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(ApiError::invalid_type(&format!("{path}.{i}"), "String")),
        })
    }

    pub fn obj_list_opt(&self, name: &str) -> ApiResult<Option<Vec<Params>>> {
        self.list_opt(name, "Array of Object", |path, i, v| match v {
            Value::Object(m) => Ok(self.nested(m, format!("{path}.{i}"))),
            _ => Err(ApiError::invalid_type(&format!("{path}.{i}"), "Object")),
        })
    }

    /// `Filters`: a list of `{"Name", "Values"}` objects. Shape errors use the
    /// `InvalidParameter.Filter*` codes that DescribeNetworkInterfaces documents.
    pub fn filters(&self) -> ApiResult<Option<Vec<Filter>>> {
        self.list_opt("Filters", "Array of Filter", |path, i, v| match v {
            Value::Object(m) => self.nested(m, format!("{path}.{i}")).filter(),
            _ => Err(ApiError::new(
                "InvalidParameter.FilterNotDict",
                format!("`{path}.{i}` must be an object with Name and Values."),
            )),
        })
    }

    /// This object as one `Filter`.
    fn filter(&self) -> ApiResult<Filter> {
        self.check_known(&["Name", "Values"])?;
        let name = self.str_req("Name")?;
        if self.get("Values").is_some_and(|v| !v.is_array()) {
            return Err(ApiError::new(
                "InvalidParameter.FilterValuesNotList",
                format!("`{}` must be a list.", self.path("Values")),
            ));
        }
        let values = self
            .str_list_opt("Values")?
            .ok_or_else(|| ApiError::missing(&self.path("Values")))?;
        Ok(Filter { name, values })
    }

    /// The array `name`, each element converted by `item` (given the array's path and the
    /// element's index); `None` when absent. Anything but an array is `InvalidParameter`.
    fn list_opt<T>(
        &self,
        name: &str,
        expected: &str,
        item: impl Fn(&str, usize, &Value) -> ApiResult<T>,
    ) -> ApiResult<Option<Vec<T>>> {
        let path = self.path(name);
        match self.get(name) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| item(&path, i, v))
                .collect::<ApiResult<Vec<_>>>()
                .map(Some),
            Some(_) => Err(ApiError::invalid_type(&path, expected)),
        }
    }

    /// An object inside these parameters, named `prefix` in messages.
    fn nested(&self, map: &Map<String, Value>, prefix: String) -> Params {
        Params {
            map: map.clone(),
            from_query: self.from_query,
            prefix,
        }
    }
}

/// The intermediate tree of an unflattened query.
enum Node {
    Leaf(String),
    Map(BTreeMap<String, Node>),
}

impl Node {
    fn insert(&mut self, full: &str, path: &[&str], value: String) -> ApiResult<()> {
        let conflict = || {
            ApiError::new(
                "InvalidParameter",
                format!("The parameter `{full}` conflicts with another parameter."),
            )
        };
        let Node::Map(map) = self else {
            return Err(conflict());
        };
        match path {
            [] => Err(conflict()),
            [last] => {
                if map.contains_key(*last) {
                    return Err(conflict());
                }
                map.insert((*last).to_string(), Node::Leaf(value));
                Ok(())
            }
            [first, rest @ ..] => map
                .entry((*first).to_string())
                .or_insert_with(|| Node::Map(BTreeMap::new()))
                .insert(full, rest, value),
        }
    }

    fn into_value(self) -> Value {
        match self {
            Node::Leaf(s) => Value::String(s),
            Node::Map(map) => {
                let all_indices =
                    !map.is_empty() && map.keys().all(|k| k.bytes().all(|b| b.is_ascii_digit()));
                if all_indices {
                    let mut items: Vec<(u64, Node)> = map
                        .into_iter()
                        .map(|(k, v)| (k.parse::<u64>().unwrap_or(u64::MAX), v))
                        .collect();
                    items.sort_by_key(|(i, _)| *i);
                    Value::Array(items.into_iter().map(|(_, v)| v.into_value()).collect())
                } else {
                    Value::Object(map.into_iter().map(|(k, v)| (k, v.into_value())).collect())
                }
            }
        }
    }
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; UTF-8 required.
pub fn percent_decode(s: &str) -> ApiResult<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| {
                    std::str::from_utf8(h)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                });
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        return Err(ApiError::new(
                            "InvalidParameter",
                            "The query string has a malformed percent-escape.",
                        ))
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| {
        ApiError::new(
            "InvalidParameterValue.NotUtf8EncodingError",
            "The query string is not UTF-8.",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unflattens_filters_and_lists() {
        let (p, common) = Params::from_query(
            "Action=DescribeHaVips&Filters.0.Name=vpc-id&Filters.0.Values.0=vpc-1&Filters.0.Values.1=vpc%2D2&HaVipIds.0=havip-1&Limit=10",
        )
        .unwrap();
        assert_eq!(
            common.get("Action").map(String::as_str),
            Some("DescribeHaVips")
        );
        assert_eq!(
            p.to_value(),
            json!({"Filters": [{"Name": "vpc-id", "Values": ["vpc-1", "vpc-2"]}],
                   "HaVipIds": ["havip-1"], "Limit": "10"})
        );
        assert_eq!(p.u64_opt("Limit").unwrap(), Some(10));
    }

    #[test]
    fn indices_sort_numerically() {
        let (p, _) = Params::from_query("A.10=k&A.2=c&A.0=a").unwrap();
        assert_eq!(p.to_value(), json!({"A": ["a", "c", "k"]}));
    }

    #[test]
    fn numeric_top_level_keys_are_rejected() {
        assert_eq!(
            Params::from_query("0=a&1=b").unwrap_err().code,
            "InvalidParameter"
        );
    }

    #[test]
    fn conflicting_query_keys_are_rejected() {
        let e = Params::from_query("A=1&A.0=2").unwrap_err();
        assert_eq!(e.code, "InvalidParameter");
        let e = Params::from_query("A=1&A=2").unwrap_err();
        assert_eq!(e.code, "InvalidParameter");
    }

    #[test]
    fn json_types_are_strict() {
        let p =
            Params::from_json(br#"{"Limit": "10", "Offset": -1, "CheckAssociate": 1}"#).unwrap();
        assert_eq!(p.u64_opt("Limit").unwrap_err().code, "InvalidParameter");
        assert_eq!(
            p.u64_opt("Offset").unwrap_err().code,
            "InvalidParameterValue.Range"
        );
        assert_eq!(
            p.bool_opt("CheckAssociate").unwrap_err().code,
            "InvalidParameter"
        );
    }

    #[test]
    fn bad_json_and_non_objects() {
        assert_eq!(
            Params::from_json(b"{").unwrap_err().code,
            "InvalidParameter"
        );
        assert_eq!(
            Params::from_json(b"[1]").unwrap_err().code,
            "InvalidParameter"
        );
        assert!(Params::from_json(b"").unwrap().is_empty());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a+b%2Fc").unwrap(), "a b/c");
        assert_eq!(percent_decode("%E4%B8%BB").unwrap(), "主");
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("%ff").is_err());
    }
}
