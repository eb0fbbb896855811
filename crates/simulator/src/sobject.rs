//! The sObject resources that write: create (`POST /sobjects/{Object}`), update and delete
//! (`PATCH` / `DELETE /sobjects/{Object}/{id}`), and the object's basic information
//! (`GET /sobjects/{Object}`). Clients written for Salesforce make their changes through
//! these, so a change made with simple-salesforce or jsforce reaches a sync exactly as one
//! made in a real org would: a new `SystemModstamp`, the integration user as the modifier,
//! the delete in the recycle bin and in getDeleted.
//!
//! Writes see what the integration user sees: a field hidden from the user is "No such
//! column", as field-level security makes it in Salesforce.

use axum::http::StatusCode;
use serde_json::{Map, Value as Json, json};

use crate::error::SimError;
use crate::ids::{IdBytes, id_str};
use crate::reply::Reply;
use crate::rest::Call;

/// `GET /sobjects/{Object}`: the describeGlobal entry of the object and its recent items.
pub fn basic_info(call: &Call<'_>, object: &str) -> Result<Reply, SimError> {
    let org = call.org.data.read().expect("org");
    let table = org.table(object).map_err(|_| SimError::not_found())?;
    let entry = crate::describe::global_entry(&table.def, call.version);
    Ok(Reply::json(
        &json!({ "objectDescribe": entry, "recentItems": [] }),
    ))
}

/// `POST /sobjects/{Object}`: 201 with `{"id", "success", "errors"}`.
pub fn create(call: &Call<'_>, object: &str) -> Result<Reply, SimError> {
    check_object(call, object)?;
    let id = create_record(call, object, parse_fields(call.body)?)?;
    let body = json!({ "id": id_str(&id), "success": true, "errors": [] });
    Ok(Reply::json(&body).with_status(StatusCode::CREATED))
}

/// `PATCH /sobjects/{Object}/{id}`: 204, no body.
pub fn update(call: &Call<'_>, object: &str, id: &str) -> Result<Reply, SimError> {
    check_object(call, object)?;
    update_record(call, object, id, parse_fields(call.body)?).map_err(row_error)?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

/// `DELETE /sobjects/{Object}/{id}`: 204, the record in the recycle bin.
pub fn delete(call: &Call<'_>, object: &str, id: &str) -> Result<Reply, SimError> {
    check_object(call, object)?;
    delete_record(call, object, id).map_err(row_error)?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

/// Creates one record from its field values, as the integration user.
pub fn create_record(
    call: &Call<'_>,
    object: &str,
    fields: Map<String, Json>,
) -> Result<IdBytes, SimError> {
    let fields = visible_fields(call, object, fields)?;
    let stamp = call.sim.clock.now_stamp();
    let mut org = call.org.data.write().expect("org");
    org.create(object, &fields, stamp)
}

/// Updates one live record's field values, as the integration user.
pub fn update_record(
    call: &Call<'_>,
    object: &str,
    id: &str,
    fields: Map<String, Json>,
) -> Result<(), SimError> {
    let fields = visible_fields(call, object, fields)?;
    let stamp = call.sim.clock.now_stamp();
    let mut org = call.org.data.write().expect("org");
    org.update(object, id, &fields, stamp)
}

/// Moves one live record to the recycle bin.
pub fn delete_record(call: &Call<'_>, object: &str, id: &str) -> Result<(), SimError> {
    let stamp = call.sim.clock.now_stamp();
    call.org
        .data
        .write()
        .expect("org")
        .delete(object, id, stamp)
}

/// Runs `writes`; with `all_or_none`, puts back the org as it was before them when `failed`
/// says one of them failed. A write another client made meanwhile is undone too; a real org
/// isolates the two, which tests of one client at a time cannot tell apart.
pub fn all_or_none_writes<T>(
    call: &Call<'_>,
    all_or_none: bool,
    writes: impl FnOnce() -> T,
    failed: impl Fn(&T) -> bool,
) -> T {
    let before = all_or_none.then(|| call.org.data.read().expect("org").clone());
    let outcome = writes();
    if let Some(before) = before.filter(|_| failed(&outcome)) {
        *call.org.data.write().expect("org") = before;
    }
    outcome
}

/// A request body of field values.
pub fn parse_fields(body: &[u8]) -> Result<Map<String, Json>, SimError> {
    match serde_json::from_slice::<Json>(body) {
        Ok(Json::Object(fields)) => Ok(fields),
        Ok(other) => Err(parser_error(&format!("expected an object, found {other}"))),
        Err(e) => Err(parser_error(&e.to_string())),
    }
}

/// The field values checked against what the user may see. `attributes`, which clients
/// copy from query results, is not a field and is left out, as Salesforce does.
fn visible_fields(
    call: &Call<'_>,
    object: &str,
    mut fields: Map<String, Json>,
) -> Result<Map<String, Json>, SimError> {
    fields.remove("attributes");
    let org = call.org.data.read().expect("org");
    let def = &org.table(object)?.def;
    if let Some(hidden) = fields.keys().find(|name| def.field_index(name).is_none()) {
        return Err(SimError::no_such_field(&def.name, hidden));
    }
    Ok(fields)
}

/// An object missing from the URL's path is a missing resource, not a bad type.
fn check_object(call: &Call<'_>, object: &str) -> Result<(), SimError> {
    let org = call.org.data.read().expect("org");
    org.table(object)
        .map(drop)
        .map_err(|_| SimError::not_found())
}

/// On a record's own URL, a record in the recycle bin answers 404, as a missing one does.
fn row_error(e: SimError) -> SimError {
    if e.code == "ENTITY_IS_DELETED" {
        SimError {
            status: StatusCode::NOT_FOUND,
            ..e
        }
    } else {
        e
    }
}

fn parser_error(detail: &str) -> SimError {
    SimError::bad_request(
        "JSON_PARSER_ERROR",
        &format!("The request body is not a JSON object of field values: {detail}"),
    )
}
