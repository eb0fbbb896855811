//! The replication resources: getUpdated and getDeleted (salesforce-api.md §2.8).
//!
//! They return Ids only, for an object with `replicateable: true`, over a window that must
//! start before it ends, lies within the last 30 days (updated) or 15 days (deleted), and has
//! its seconds truncated by Salesforce. `latestDateCovered` is where the next poll starts; it
//! lags behind long-running transactions, which is Salesforce admitting that rows can appear
//! with a timestamp earlier than "now".

use serde::{Deserialize, Serialize};
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

use crate::client::{Request, SalesforceClient};
use crate::describe::checked_name;
use crate::error::{Error, Result};
use crate::wire;

/// getUpdated: Ids of records created or updated in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdatedIds {
    /// The Ids.
    pub ids: Vec<String>,
    /// The end of the window actually covered; start the next poll here.
    #[serde(deserialize_with = "wire::de_datetime")]
    pub latest_date_covered: OffsetDateTime,
}

/// getDeleted: records deleted in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedRecords {
    /// The deleted records.
    pub deleted_records: Vec<DeletedRecord>,
    /// The oldest deletion still known; older ones were purged from the Recycle Bin.
    #[serde(default, deserialize_with = "wire::de_opt_datetime")]
    pub earliest_date_available: Option<OffsetDateTime>,
    /// The end of the window actually covered.
    #[serde(deserialize_with = "wire::de_datetime")]
    pub latest_date_covered: OffsetDateTime,
}

/// One deleted record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedRecord {
    /// The record Id.
    pub id: String,
    /// When it was deleted (its `SystemModstamp`).
    #[serde(deserialize_with = "wire::de_datetime")]
    pub deleted_date: OffsetDateTime,
}

impl SalesforceClient {
    /// getUpdated: `GET /sobjects/{object}/updated/?start=&end=`.
    pub async fn fetch_updated(
        &self,
        object: &str,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> Result<UpdatedIds> {
        let request = self.replication_request("updated", object, start, end)?;
        wire::parse_json("getUpdated response", &self.execute(&request).await?.body)
    }

    /// getDeleted: `GET /sobjects/{object}/deleted/?start=&end=`.
    pub async fn fetch_deleted(
        &self,
        object: &str,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> Result<DeletedRecords> {
        let request = self.replication_request("deleted", object, start, end)?;
        wire::parse_json("getDeleted response", &self.execute(&request).await?.body)
    }

    fn replication_request(
        &self,
        kind: &str,
        object: &str,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> Result<Request> {
        // Salesforce answers INVALID_REPLICATION_DATE; checking here saves the call.
        if start >= end {
            return Err(Error::InvalidArgument(format!(
                "{kind} window must start before it ends"
            )));
        }
        let path = self.data_path(&format!("sobjects/{}/{kind}/", checked_name(object)?));
        let what = if kind == "updated" {
            "getUpdated"
        } else {
            "getDeleted"
        };
        Ok(Request::get(what, path)
            .query("start", window_bound(start))
            .query("end", window_bound(end)))
    }
}

/// The documented parameter form, `2013-05-06T00:00:00+00:00`, in UTC.
fn window_bound(at: OffsetDateTime) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+00:00");
    at.to_offset(UtcOffset::UTC)
        .format(format)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn documented_responses_parse() {
        let updated: UpdatedIds = wire::parse_json(
            "getUpdated response",
            br#"{"ids":["a00D0000008pQR5IAM"],"latestDateCovered":"2013-05-08T21:20:00.000+0000"}"#,
        )
        .unwrap();
        assert_eq!(updated.latest_date_covered, datetime!(2013-05-08 21:20 UTC));
        let deleted: DeletedRecords = wire::parse_json(
            "getDeleted response",
            br#"{"deletedRecords":[{"id":"a00D0000008pQRAIA2","deletedDate":"2013-05-07T22:07:19.000+0000"}],
                 "earliestDateAvailable":"2013-05-03T15:57:00.000+0000","latestDateCovered":"2013-05-08T21:20:00.000+0000"}"#,
        )
        .unwrap();
        assert_eq!(
            deleted.deleted_records[0].deleted_date,
            datetime!(2013-05-07 22:07:19 UTC)
        );
    }

    #[test]
    fn a_bad_date_names_the_key() {
        let err = wire::parse_json::<UpdatedIds>(
            "getUpdated response",
            br#"{"ids":[],"latestDateCovered":"yesterday"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("latestDateCovered"), "{err}");
    }

    #[test]
    fn window_bounds_use_the_documented_form() {
        assert_eq!(
            window_bound(datetime!(2013-05-06 02:00 +2)),
            "2013-05-06T00:00:00+00:00"
        );
    }
}
