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
use crate::ids::id_str;
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
    let fields = writable_fields(call, object)?;
    let stamp = call.sim.clock.now_stamp();
    let id = call
        .org
        .data
        .write()
        .expect("org")
        .create(object, &fields, stamp)?;
    let body = json!({ "id": id_str(&id), "success": true, "errors": [] });
    Ok(Reply::json(&body).with_status(StatusCode::CREATED))
}

/// `PATCH /sobjects/{Object}/{id}`: 204, no body.
pub fn update(call: &Call<'_>, object: &str, id: &str) -> Result<Reply, SimError> {
    let fields = writable_fields(call, object)?;
    let stamp = call.sim.clock.now_stamp();
    call.org
        .data
        .write()
        .expect("org")
        .update(object, id, &fields, stamp)
        .map_err(row_error)?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

/// `DELETE /sobjects/{Object}/{id}`: 204, the record in the recycle bin.
pub fn delete(call: &Call<'_>, object: &str, id: &str) -> Result<Reply, SimError> {
    check_object(call, object)?;
    let stamp = call.sim.clock.now_stamp();
    call.org
        .data
        .write()
        .expect("org")
        .delete(object, id, stamp)
        .map_err(row_error)?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

/// The body's field values, checked against what the user may see. `attributes`, which
/// clients copy from query results, is not a field and is left out, as Salesforce does.
fn writable_fields(call: &Call<'_>, object: &str) -> Result<Map<String, Json>, SimError> {
    check_object(call, object)?;
    let mut fields = match serde_json::from_slice::<Json>(call.body) {
        Ok(Json::Object(fields)) => fields,
        Ok(other) => return Err(parser_error(&format!("expected an object, found {other}"))),
        Err(e) => return Err(parser_error(&e.to_string())),
    };
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
