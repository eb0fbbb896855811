//! sObject Collections (`/composite/sobjects`): up to 200 records created, updated, deleted
//! or retrieved in one request, which counts as one API call. jsforce sends a list of
//! records here. Each record gets its own result, `{"id", "success", "errors"}`, in the order
//! sent; with `allOrNone` one failure rolls every record back.

use serde_json::{Map, Value as Json, json};

use crate::error::SimError;
use crate::ids::{id_str, parse_id};
use crate::reply::Reply;
use crate::rest::{Call, fetch_record, form_param};
use crate::sobject::{all_or_none_writes, create_record, delete_record, update_record};

const MAX_RECORDS: usize = 200;

/// `POST /composite/sobjects`: creates each record.
pub fn create(call: &Call<'_>) -> Result<Reply, SimError> {
    let (records, all_or_none) = records_of(call.body)?;
    write_each(call, &records, all_or_none, |record| {
        let object = record_type(record)?;
        create_record(call, &object, fields_of(record)).map(|id| id_str(&id).to_string())
    })
}

/// `PATCH /composite/sobjects`: updates each record named by its `id`.
pub fn update(call: &Call<'_>) -> Result<Reply, SimError> {
    let (records, all_or_none) = records_of(call.body)?;
    write_each(call, &records, all_or_none, |record| {
        let object = record_type(record)?;
        let id = record_id(record)?;
        update_record(call, &object, &id, fields_of(record)).map(|()| id)
    })
}

/// `DELETE /composite/sobjects?ids=...&allOrNone=...`: moves each record to the recycle bin.
pub fn delete(call: &Call<'_>) -> Result<Reply, SimError> {
    let ids: Vec<Json> = form_param(call.query, "ids")
        .unwrap_or_default()
        .split(',')
        .filter(|id| !id.is_empty())
        .map(|id| json!(id))
        .collect();
    check_count(ids.len())?;
    let all_or_none = form_param(call.query, "allOrNone").is_some_and(|v| v == "true");
    write_each(call, &ids, all_or_none, |id| {
        let id = id.as_str().unwrap_or_default();
        delete_record(call, &object_of(call, id)?, id).map(|()| id.to_string())
    })
}

/// `GET /composite/sobjects/{Object}?ids=...&fields=...`: the records in the order asked,
/// `null` for one that does not exist or that the user may not see.
pub fn retrieve(call: &Call<'_>, object: &str) -> Result<Reply, SimError> {
    let (ids, fields) = match call.method.as_str() {
        "POST" => {
            let body: Json =
                serde_json::from_slice(call.body).map_err(|e| parser_error(&e.to_string()))?;
            let list = |key: &str| -> Vec<String> {
                body[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Json::as_str)
                    .map(String::from)
                    .collect()
            };
            (list("ids"), list("fields"))
        }
        _ => {
            let list = |key: &str| -> Vec<String> {
                form_param(call.query, key)
                    .unwrap_or_default()
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            };
            (list("ids"), list("fields"))
        }
    };
    check_count(ids.len())?;
    if fields.is_empty() {
        return Err(SimError::bad_request(
            "MALFORMED_QUERY",
            "The fields parameter is required",
        ));
    }
    let records = ids
        .iter()
        .map(|id| retrieve_one(call, object, id, &fields))
        .collect::<Result<Vec<Json>, SimError>>()?;
    Ok(Reply::json(&Json::Array(records)))
}

fn retrieve_one(
    call: &Call<'_>,
    object: &str,
    id: &str,
    fields: &[String],
) -> Result<Json, SimError> {
    let Some(key) = parse_id(id) else {
        return Ok(Json::Null);
    };
    Ok(fetch_record(call, object, &key, fields)?.unwrap_or(Json::Null))
}

/// Runs `write` on each item and answers one result per item. With `all_or_none`, a
/// failure puts back the org as it was before the request and marks the others rolled back.
fn write_each(
    call: &Call<'_>,
    items: &[Json],
    all_or_none: bool,
    write: impl Fn(&Json) -> Result<String, SimError>,
) -> Result<Reply, SimError> {
    let outcomes: Vec<Result<String, SimError>> = all_or_none_writes(
        call,
        all_or_none,
        || items.iter().map(&write).collect(),
        |outcomes: &Vec<Result<String, SimError>>| outcomes.iter().any(Result::is_err),
    );
    let failed = outcomes.iter().any(Result::is_err);
    let results: Vec<Json> = outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(id) if all_or_none && failed => json!({"id": id, "success": false, "errors": [rolled_back()]}),
            Ok(id) => json!({"id": id, "success": true, "errors": []}),
            Err(e) => json!({"success": false, "errors": [{"statusCode": e.code, "message": e.message, "fields": e.fields}]}),
        })
        .collect();
    Ok(Reply::json(&Json::Array(results)))
}

fn rolled_back() -> Json {
    json!({
        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "message": "Record rolled back because not all records were valid and the request was using AllOrNone header",
        "fields": [],
    })
}

/// The `records` list and the `allOrNone` flag of a create or update body.
fn records_of(body: &[u8]) -> Result<(Vec<Json>, bool), SimError> {
    let body: Json = serde_json::from_slice(body).map_err(|e| parser_error(&e.to_string()))?;
    let records = body["records"]
        .as_array()
        .cloned()
        .ok_or_else(|| parser_error("missing 'records' list"))?;
    check_count(records.len())?;
    Ok((records, body["allOrNone"].as_bool().unwrap_or(false)))
}

fn check_count(n: usize) -> Result<(), SimError> {
    if n > MAX_RECORDS {
        return Err(SimError::bad_request(
            "EXCEEDED_ID_LIMIT",
            &format!(
                "record limit reached. cannot submit more than {MAX_RECORDS} records into this call"
            ),
        ));
    }
    Ok(())
}

fn record_type(record: &Json) -> Result<String, SimError> {
    record["attributes"]["type"]
        .as_str()
        .map(String::from)
        .ok_or_else(|| SimError::bad_request("INVALID_TYPE", "Must send a concrete entity type."))
}

fn record_id(record: &Json) -> Result<String, SimError> {
    let id = record.get("id").or_else(|| record.get("Id"));
    id.and_then(Json::as_str).map(String::from).ok_or_else(|| {
        SimError::bad_request("MISSING_ARGUMENT", "Id not specified in an update call")
    })
}

/// A record's field values: everything but `attributes` and its `id`.
fn fields_of(record: &Json) -> Map<String, Json> {
    let mut fields = record.as_object().cloned().unwrap_or_default();
    for key in ["attributes", "id", "Id"] {
        fields.remove(key);
    }
    fields
}

/// The object a record Id belongs to, by its key prefix.
fn object_of(call: &Call<'_>, id: &str) -> Result<String, SimError> {
    let key = parse_id(id).ok_or_else(|| SimError::malformed_id(id))?;
    let org = call.org.data.read().expect("org");
    let table = org
        .table_for_id(&key)
        .ok_or_else(|| SimError::malformed_id(id))?;
    Ok(org.tables[table].def.name.clone())
}

fn parser_error(detail: &str) -> SimError {
    SimError::bad_request(
        "JSON_PARSER_ERROR",
        &format!("The request body is malformed: {detail}"),
    )
}
