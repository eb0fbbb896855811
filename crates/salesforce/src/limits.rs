//! API usage: the org's daily allocation, as every response reports it and as `/limits` lists it.
//!
//! Every REST response except the versions list carries
//! `Sforce-Limit-Info: api-usage=18/5000` for the whole org over a rolling 24 hours, sometimes
//! with `api-bursts=1/750` or the old `per-app-api-usage=17/250(appName=x)` in the same header
//! (salesforce-api.md §2.9). An anchored pattern such as `^api-usage=(\d+)/(\d+)$` silently
//! misses the combined forms, so the header is split into its `;`-separated items instead.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A used/limit pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Calls used in the window.
    pub used: u64,
    /// Calls allowed in the window.
    pub limit: u64,
}

/// What one `Sforce-Limit-Info` header said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiUsage {
    /// `api-usage`: the org's calls in the rolling 24 hours, against its daily allocation.
    pub api: Usage,
    /// `api-bursts`, when present: calls over the allocation that the org may burst to.
    pub bursts: Option<Usage>,
}

impl ApiUsage {
    /// Calls left before `REQUEST_LIMIT_EXCEEDED` (bursts not counted).
    pub fn remaining(&self) -> u64 {
        self.api.limit.saturating_sub(self.api.used)
    }
}

/// Parses a `Sforce-Limit-Info` header; `None` when it holds no well-formed `api-usage` item.
pub fn parse_limit_info(header: &str) -> Option<ApiUsage> {
    let mut api = None;
    let mut bursts = None;
    for item in header.split([';', ',']) {
        let Some((key, value)) = item.trim().split_once('=') else {
            continue;
        };
        match key.trim() {
            "api-usage" => api = parse_usage(value),
            "api-bursts" => bursts = parse_usage(value),
            // per-app-api-usage and anything Salesforce adds later are not the org's total.
            _ => {}
        }
    }
    Some(ApiUsage { api: api?, bursts })
}

fn parse_usage(value: &str) -> Option<Usage> {
    let (used, limit) = value.trim().split_once('/')?;
    Some(Usage {
        used: used.trim().parse().ok()?,
        limit: limit.trim().parse().ok()?,
    })
}

/// One entry of `/limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limit {
    /// The allocation.
    #[serde(rename = "Max")]
    pub max: i64,
    /// What is left of it.
    #[serde(rename = "Remaining")]
    pub remaining: i64,
}

/// The `/limits` resource: `{Name: {"Max": n, "Remaining": n}}`. Nested per-app entries that
/// some orgs list under a limit are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrgLimits(pub BTreeMap<String, Limit>);

impl OrgLimits {
    /// A limit by name, e.g. `DailyBulkV2QueryJobs`.
    pub fn get(&self, name: &str) -> Option<Limit> {
        self.0.get(name).copied()
    }

    /// `DailyApiRequests`: the allocation `Sforce-Limit-Info` reports against.
    pub fn daily_api_requests(&self) -> Option<Limit> {
        self.get("DailyApiRequests")
    }
}

impl crate::SalesforceClient {
    /// The `/limits` resource. Reading it costs an API call; [`Self::api_usage`] is free.
    pub async fn fetch_limits(&self) -> crate::Result<OrgLimits> {
        let request = crate::client::Request::get("limits", self.data_path("limits/"));
        crate::wire::parse_json("limits response", &self.execute(&request).await?.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(used: u64, limit: u64) -> Usage {
        Usage { used, limit }
    }

    #[test]
    fn reads_plain_api_usage() {
        let parsed = parse_limit_info("api-usage=18/5000").unwrap();
        assert_eq!(
            parsed,
            ApiUsage {
                api: usage(18, 5000),
                bursts: None
            }
        );
        assert_eq!(parsed.remaining(), 4982);
    }

    #[test]
    fn reads_api_usage_beside_bursts_and_per_app_usage_in_any_order() {
        let header = "per-app-api-usage=17/250(appName=sample-connected-app); api-usage=25/5000; api-bursts=1/750";
        let parsed = parse_limit_info(header).unwrap();
        assert_eq!(parsed.api, usage(25, 5000));
        assert_eq!(parsed.bursts, Some(usage(1, 750)));
        let reversed = parse_limit_info("api-bursts=2/750;api-usage=3/100").unwrap();
        assert_eq!(reversed.api, usage(3, 100));
    }

    #[test]
    fn per_app_usage_alone_is_not_the_org_total() {
        assert_eq!(
            parse_limit_info("per-app-api-usage=17/250(appName=x)"),
            None
        );
        assert_eq!(parse_limit_info("api-usage=abc/10"), None);
        assert_eq!(parse_limit_info(""), None);
    }

    #[test]
    fn limits_ignore_nested_per_app_entries() {
        let body = br#"{"DailyApiRequests":{"Max":15000,"Remaining":14998,"Ant Migration Tool":{"Max":0,"Remaining":0}},
                        "DataStorageMB":{"Max":5,"Remaining":5}}"#;
        let limits: OrgLimits = crate::wire::parse_json("limits response", body).unwrap();
        assert_eq!(
            limits.daily_api_requests(),
            Some(Limit {
                max: 15000,
                remaining: 14998
            })
        );
        let err = crate::wire::parse_json::<OrgLimits>(
            "limits response",
            br#"{"X":{"Max":"a","Remaining":1}}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("X.Max"), "{err}");
    }
}
