//! getUpdated and getDeleted: Ids changed or deleted in a window, for replication.
//!
//! Rules from the REST and SOAP guides: `start` must precede `end`; seconds are truncated;
//! getUpdated reaches back 30 days and getDeleted 15; `latestDateCovered` is where the next
//! poll starts, and an open long transaction holds it back at its start.

use serde_json::json;
use sfsync_soql::format_datetime;

use crate::clock::Millis;
use crate::error::SimError;
use crate::ids::id_str;
use crate::reply::Reply;
use crate::rest::{Call, form_param};

const DAY: Millis = 86_400_000;
const MAX_IDS: usize = 600_000;

struct Window {
    start: Millis,
    latest: Millis,
}

fn window(call: &Call<'_>, max_days: i64) -> Result<Window, SimError> {
    let bad = |m: &str| SimError::bad_request("INVALID_REPLICATION_DATE", m);
    let read = |name: &str| -> Result<Millis, SimError> {
        let text = form_param(call.query, name).ok_or_else(|| {
            SimError::bad_request("MISSING_ARGUMENT", &format!("{name} parameter is required"))
        })?;
        let ms = sfsync_soql::parse_datetime_literal(text.trim())
            .ok_or_else(|| bad(&format!("unable to parse {name}: {text}")))?;
        Ok(ms - ms.rem_euclid(60_000))
    };
    let (start, end) = (read("start")?, read("end")?);
    if start >= end {
        return Err(bad("startDate must chronologically precede endDate"));
    }
    if start < call.now - max_days * DAY {
        return Err(bad(&format!(
            "startDate cannot be more than {max_days} days ago"
        )));
    }
    let now_minute = call.now - call.now.rem_euclid(60_000);
    let pending = call
        .org
        .data
        .read()
        .expect("org")
        .pending
        .values()
        .map(|t| t.stamp)
        .min();
    let mut latest = end.min(now_minute);
    if let Some(open) = pending {
        latest = latest.min(open - open.rem_euclid(60_000));
    }
    Ok(Window {
        start,
        latest: latest.max(start),
    })
}

/// `GET /sobjects/{object}/updated/?start=&end=`.
pub fn updated(call: &Call<'_>, object: &str) -> Result<Reply, SimError> {
    let w = window(call, 30)?;
    let org = call.org.data.read().expect("org");
    let table = org.table(object).map_err(|_| SimError::not_found())?;
    let ids: Vec<&str> = table
        .rows
        .values()
        .filter(|r| !table.is_deleted(r))
        .filter(|r| (w.start..w.latest).contains(&table.stamp(r)))
        .map(|r| id_str(&r.id))
        .collect();
    if ids.len() > MAX_IDS {
        return Err(SimError::bad_request(
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 600000 ids",
        ));
    }
    Ok(Reply::json(
        &json!({"ids": ids, "latestDateCovered": format_datetime(w.latest)}),
    ))
}

/// `GET /sobjects/{object}/deleted/?start=&end=`.
pub fn deleted(call: &Call<'_>, object: &str) -> Result<Reply, SimError> {
    let w = window(call, 15)?;
    let org = call.org.data.read().expect("org");
    let table = org.table(object).map_err(|_| SimError::not_found())?;
    let records: Vec<_> = org
        .delete_log
        .iter()
        .filter(|e| e.object == table.def.name && (w.start..w.latest).contains(&e.deleted_at))
        .map(|e| json!({"id": id_str(&e.id), "deletedDate": format_datetime(e.deleted_at)}))
        .collect();
    if records.len() > MAX_IDS {
        return Err(SimError::bad_request(
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 600000 ids",
        ));
    }
    Ok(Reply::json(&json!({
        "deletedRecords": records,
        "earliestDateAvailable": format_datetime(org.earliest_date_available),
        "latestDateCovered": format_datetime(w.latest),
    })))
}
