//! The control API under `/__sim/v1`: how tests and demos change the org behind the
//! client's back. Never counted as Salesforce API usage.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use serde::Deserialize;
use serde_json::{Map, Value as JsonValue, json};

use crate::error::SimError;
use crate::ids::id_str;
use crate::org::PendingTxn;
use crate::reply::Reply;
use crate::schema::{FieldDef, kind_from_name};
use crate::seed::SeedCounts;
use crate::state::{Fault, FaultKind, Org, OrgSettings, SimState};

type Shared = State<Arc<SimState>>;
type Result<T> = std::result::Result<T, Reply>;

/// The control API's routes.
pub fn router() -> Router<Arc<SimState>> {
    Router::new()
        .route("/__sim/v1/orgs", get(list_orgs).post(create_org))
        .route("/__sim/v1/orgs/{org}/grants", post(grant))
        .route(
            "/__sim/v1/orgs/{org}/settings",
            put(settings).get(get_settings),
        )
        .route("/__sim/v1/orgs/{org}/faults", post(fault))
        .route("/__sim/v1/orgs/{org}/counters", get(counters))
        .route("/__sim/v1/orgs/{org}/reset", post(reset))
        .route(
            "/__sim/v1/orgs/{org}/delete-log/purge",
            post(purge_delete_log),
        )
        .route(
            "/__sim/v1/orgs/{org}/sobjects/{object}",
            post(create_record),
        )
        .route(
            "/__sim/v1/orgs/{org}/sobjects/{object}/bulk-update",
            post(bulk_update),
        )
        .route("/__sim/v1/orgs/{org}/sobjects/{object}/merge", post(merge))
        .route(
            "/__sim/v1/orgs/{org}/sobjects/{object}/fields",
            post(add_field),
        )
        .route(
            "/__sim/v1/orgs/{org}/sobjects/{object}/fields/{field}",
            delete(remove_field),
        )
        .route(
            "/__sim/v1/orgs/{org}/sobjects/{object}/fields/{field}/visibility",
            put(field_visibility),
        )
        .route(
            "/__sim/v1/orgs/{org}/sobjects/{object}/{id}",
            patch(update_record).delete(delete_record),
        )
        .route(
            "/__sim/v1/orgs/{org}/sobjects/{object}/{id}/undelete",
            post(undelete_record),
        )
        .route(
            "/__sim/v1/orgs/{org}/sobjects/{object}/{id}/purge",
            post(purge_record),
        )
        .route("/__sim/v1/orgs/{org}/transactions", post(open_transaction))
        .route(
            "/__sim/v1/orgs/{org}/transactions/{txn}/commit",
            post(commit_transaction),
        )
        .route("/__sim/v1/clock/advance", post(advance_clock))
}

fn org(sim: &SimState, key: &str) -> Result<Arc<Org>> {
    sim.org(key).map_err(Reply::from)
}

async fn list_orgs(State(sim): Shared) -> Response {
    let orgs = sim.orgs.read().expect("orgs");
    Json(orgs.iter().map(|o| o.info.clone()).collect::<Vec<_>>()).into_response()
}

#[derive(Deserialize)]
struct NewOrg {
    #[serde(default)]
    seed: u64,
    #[serde(flatten)]
    counts: Option<SeedCounts>,
    #[serde(default)]
    sandbox: bool,
}

async fn create_org(State(sim): Shared, Json(body): Json<NewOrg>) -> Response {
    let org = sim.add_org(body.seed, body.counts.unwrap_or_default(), body.sandbox);
    (StatusCode::CREATED, Json(org.info.clone())).into_response()
}

async fn grant(State(sim): Shared, Path(key): Path<String>) -> Result<Response> {
    let org = org(&sim, &key)?;
    Ok(Json(crate::oauth::grant_tokens(&sim, &org)).into_response())
}

async fn settings(
    State(sim): Shared,
    Path(key): Path<String>,
    Json(patch): Json<JsonValue>,
) -> Result<Response> {
    let org = org(&sim, &key)?;
    let mut settings = org.settings.lock().expect("settings");
    let mut current = serde_json::to_value(&*settings).expect("settings serialize");
    if let (Some(current), Some(patch)) = (current.as_object_mut(), patch.as_object()) {
        for (k, v) in patch {
            if k == "api_used" {
                org.usage.lock().expect("usage").baseline = v.as_u64().unwrap_or(0);
            } else if current.contains_key(k) {
                current.insert(k.clone(), v.clone());
            } else {
                return Err(SimError::bad_request(
                    "INVALID_FIELD",
                    &format!("unknown setting {k}"),
                )
                .into());
            }
        }
    }
    *settings = serde_json::from_value::<OrgSettings>(current)
        .map_err(|e| SimError::bad_request("JSON_PARSER_ERROR", &e.to_string()))?;
    Ok(Json(settings.clone()).into_response())
}

async fn get_settings(State(sim): Shared, Path(key): Path<String>) -> Result<Response> {
    let org = org(&sim, &key)?;
    let settings = org.settings.lock().expect("settings").clone();
    Ok(Json(settings).into_response())
}

async fn fault(
    State(sim): Shared,
    Path(key): Path<String>,
    Json(fault): Json<Fault>,
) -> Result<Response> {
    let org = org(&sim, &key)?;
    if fault.kind == FaultKind::ExpireSessions {
        crate::oauth::expire_sessions(&sim, &org.info.org_id);
    } else {
        org.faults.lock().expect("faults").push(fault);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn counters(State(sim): Shared, Path(key): Path<String>) -> Result<Response> {
    let org = org(&sim, &key)?;
    let now = sim.clock.now_ms();
    let mut usage = org.usage.lock().expect("usage");
    let used = usage.used(now);
    let total: u64 = usage.per_endpoint.values().sum();
    Ok(Json(json!({
        "api_calls": total,
        "api_usage": used,
        "per_endpoint": usage.per_endpoint,
        "bytes_served": usage.bytes_served,
    }))
    .into_response())
}

async fn reset(State(sim): Shared, Path(key): Path<String>) -> Result<Response> {
    let org = org(&sim, &key)?;
    *org.data.write().expect("org") = org.seeded.clone();
    *org.usage.lock().expect("usage") = Default::default();
    org.faults.lock().expect("faults").clear();
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn purge_delete_log(State(sim): Shared, Path(key): Path<String>) -> Result<Response> {
    let org = org(&sim, &key)?;
    org.data
        .write()
        .expect("org")
        .purge_delete_log(sim.clock.now_stamp());
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct Fields {
    #[serde(default)]
    fields: Map<String, JsonValue>,
}

fn written(id: &str, stamp: i64) -> Response {
    Json(json!({"id": id, "system_modstamp": sfsync_soql::format_datetime(stamp)})).into_response()
}

async fn create_record(
    State(sim): Shared,
    Path((key, object)): Path<(String, String)>,
    Json(body): Json<Fields>,
) -> Result<Response> {
    let org = org(&sim, &key)?;
    let stamp = sim.clock.now_stamp();
    let id = org
        .data
        .write()
        .expect("org")
        .create(&object, &body.fields, stamp)?;
    Ok((StatusCode::CREATED, written(id_str(&id), stamp)).into_response())
}

async fn update_record(
    State(sim): Shared,
    Path((key, object, id)): Path<(String, String, String)>,
    Json(body): Json<Fields>,
) -> Result<Response> {
    let org = org(&sim, &key)?;
    let stamp = sim.clock.now_stamp();
    org.data
        .write()
        .expect("org")
        .update(&object, &id, &body.fields, stamp)?;
    Ok(written(&id, stamp))
}

async fn delete_record(
    State(sim): Shared,
    Path((key, object, id)): Path<(String, String, String)>,
) -> Result<Response> {
    let org = org(&sim, &key)?;
    let stamp = sim.clock.now_stamp();
    org.data.write().expect("org").delete(&object, &id, stamp)?;
    Ok(written(&id, stamp))
}

async fn undelete_record(
    State(sim): Shared,
    Path((key, object, id)): Path<(String, String, String)>,
) -> Result<Response> {
    let org = org(&sim, &key)?;
    let stamp = sim.clock.now_stamp();
    org.data
        .write()
        .expect("org")
        .undelete(&object, &id, stamp)?;
    Ok(written(&id, stamp))
}

async fn purge_record(
    State(sim): Shared,
    Path((key, object, id)): Path<(String, String, String)>,
) -> Result<Response> {
    let org = org(&sim, &key)?;
    let stamp = sim.clock.now_stamp();
    org.data.write().expect("org").purge(&object, &id, stamp)?;
    Ok(written(&id, stamp))
}

#[derive(Deserialize)]
struct BulkUpdate {
    ids: Vec<String>,
    fields: Map<String, JsonValue>,
}

async fn bulk_update(
    State(sim): Shared,
    Path((key, object)): Path<(String, String)>,
    Json(body): Json<BulkUpdate>,
) -> Result<Response> {
    let org = org(&sim, &key)?;
    let stamp = sim.clock.now_stamp();
    let mut data = org.data.write().expect("org");
    // Validate every Id before writing any, so a bad one leaves the org untouched.
    let mut staged = data.clone();
    for id in &body.ids {
        staged.update(&object, id, &body.fields, stamp)?;
    }
    *data = staged;
    Ok(Json(
        json!({"updated": body.ids.len(), "system_modstamp": sfsync_soql::format_datetime(stamp)}),
    )
    .into_response())
}

#[derive(Deserialize)]
struct Merge {
    master: String,
    losers: Vec<String>,
}

async fn merge(
    State(sim): Shared,
    Path((key, object)): Path<(String, String)>,
    Json(body): Json<Merge>,
) -> Result<Response> {
    let org = org(&sim, &key)?;
    let stamp = sim.clock.now_stamp();
    let mut data = org.data.write().expect("org");
    let mut staged = data.clone();
    staged.merge(&object, &body.master, &body.losers, stamp)?;
    *data = staged;
    Ok(written(&body.master, stamp))
}

#[derive(Deserialize)]
struct NewField {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    picklist: Vec<String>,
}

async fn add_field(
    State(sim): Shared,
    Path((key, object)): Path<(String, String)>,
    Json(body): Json<NewField>,
) -> Result<Response> {
    let org = org(&sim, &key)?;
    let kind = kind_from_name(&body.kind).ok_or_else(|| {
        SimError::bad_request("INVALID_TYPE", &format!("unknown field type {}", body.kind))
    })?;
    if !body.name.ends_with("__c") {
        return Err(SimError::bad_request("INVALID_FIELD", "custom field names end in __c").into());
    }
    let now = sim.clock.now_ms();
    let mut data = org.data.write().expect("org");
    let index = data
        .table_index(&object)
        .ok_or_else(|| SimError::invalid_type(&object))?;
    let def = &mut data.tables[index].def;
    if def.any_field_index(&body.name).is_some() {
        return Err(SimError::bad_request(
            "DUPLICATE_DEVELOPER_NAME",
            &format!("field {} already exists", body.name),
        )
        .into());
    }
    let mut field = FieldDef::new(&body.name, kind);
    field.picklist = body
        .picklist
        .iter()
        .map(|v| Arc::from(v.as_str()))
        .collect();
    def.fields.push(field);
    def.modified_at = now;
    Ok(StatusCode::CREATED.into_response())
}

async fn remove_field(
    State(sim): Shared,
    Path((key, object, field)): Path<(String, String, String)>,
) -> Result<Response> {
    change_field(&sim, &key, &object, &field, |f| f.removed = true)
}

#[derive(Deserialize)]
struct Visibility {
    visible: bool,
}

async fn field_visibility(
    State(sim): Shared,
    Path((key, object, field)): Path<(String, String, String)>,
    Json(body): Json<Visibility>,
) -> Result<Response> {
    change_field(&sim, &key, &object, &field, |f| f.visible = body.visible)
}

fn change_field(
    sim: &SimState,
    key: &str,
    object: &str,
    field: &str,
    change: impl FnOnce(&mut FieldDef),
) -> Result<Response> {
    let org = org(sim, key)?;
    let now = sim.clock.now_ms();
    let mut data = org.data.write().expect("org");
    let index = data
        .table_index(object)
        .ok_or_else(|| SimError::invalid_type(object))?;
    let def = &mut data.tables[index].def;
    let position = def
        .any_field_index(field)
        .ok_or_else(|| SimError::no_such_field(object, field))?;
    if matches!(
        def.fields[position].name.as_str(),
        "Id" | "SystemModstamp" | "IsDeleted"
    ) {
        return Err(
            SimError::bad_request("CANNOT_MODIFY", "system fields cannot be changed").into(),
        );
    }
    change(&mut def.fields[position]);
    def.modified_at = now;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct Update {
    id: String,
    #[serde(default)]
    fields: Map<String, JsonValue>,
}

#[derive(Deserialize)]
struct NewTxn {
    object: String,
    updates: Vec<Update>,
}

async fn open_transaction(
    State(sim): Shared,
    Path(key): Path<String>,
    Json(body): Json<NewTxn>,
) -> Result<Response> {
    let org = org(&sim, &key)?;
    let stamp = sim.clock.now_stamp();
    let txn_id = crate::rng::secure_token(9);
    let mut data = org.data.write().expect("org");
    let mut updates = Vec::new();
    for update in body.updates {
        let id =
            crate::ids::parse_id(&update.id).ok_or_else(|| SimError::malformed_id(&update.id))?;
        updates.push((id, update.fields));
    }
    data.pending.insert(
        txn_id.clone(),
        PendingTxn {
            object: body.object,
            stamp,
            updates,
        },
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": txn_id, "system_modstamp": sfsync_soql::format_datetime(stamp)})),
    )
        .into_response())
}

async fn commit_transaction(
    State(sim): Shared,
    Path((key, txn)): Path<(String, String)>,
) -> Result<Response> {
    let org = org(&sim, &key)?;
    let mut data = org.data.write().expect("org");
    let pending = data.pending.remove(&txn).ok_or_else(SimError::not_found)?;
    let mut staged = data.clone();
    for (id, fields) in &pending.updates {
        staged.update(&pending.object, id_str(id), fields, pending.stamp)?;
    }
    *data = staged;
    Ok(Json(json!({"committed": pending.updates.len(), "system_modstamp": sfsync_soql::format_datetime(pending.stamp)})).into_response())
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

async fn advance_clock(State(sim): Shared, Json(body): Json<Advance>) -> Response {
    sim.clock.advance(body.seconds);
    Json(json!({"now": sfsync_soql::format_datetime(sim.clock.now_ms())})).into_response()
}
