//! The JSON API under `/api/v1`, for scripts: what the card shows and does, authenticated
//! by `Authorization: Bearer TOKEN` and scoped to the token's organization. The document at
//! `/api/openapi.json` describes every route.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use sfsync_core::{FeedCursor, ObjectName, RecordId};
use sfsync_store::ConnectionSettings;

use crate::auth::ApiCaller;
use crate::connect::{ConnectRequest, begin, disconnect, synced_data};
use crate::{ApiError, AppState, admin, view};

/// The most change events one request returns.
const MAX_CHANGES: u32 = 1000;

/// The routes under `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/integrations/salesforce",
            get(integration).delete(disconnect_integration),
        )
        .route("/integrations/salesforce/connect", post(connect))
        .route("/changes", get(changes))
        .route("/objects", get(objects).put(select_objects))
        .route("/settings", get(settings).put(save_settings))
        .route("/sync", post(sync_now))
        .route("/records/{object}/{id}", get(record))
        .route("/audit", get(audit))
}

/// `GET /api/openapi.json`.
pub async fn openapi() -> impl IntoResponse {
    (
        [(CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
}

async fn integration(
    State(state): State<Arc<AppState>>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<view::IntegrationView>, ApiError> {
    Ok(Json(
        view::integration(state.store.as_ref(), &caller.organization).await?,
    ))
}

async fn connect(
    State(state): State<Arc<AppState>>,
    ApiCaller(caller): ApiCaller,
    Json(request): Json<ConnectRequest>,
) -> Result<Json<Value>, ApiError> {
    let url = begin(&state, &caller, &request).await?;
    Ok(Json(json!({"authorize_url": url.as_str()})))
}

#[derive(Deserialize)]
struct DisconnectQuery {
    #[serde(default = "keep")]
    data: String,
}

fn keep() -> String {
    "keep".to_owned()
}

async fn disconnect_integration(
    State(state): State<Arc<AppState>>,
    ApiCaller(caller): ApiCaller,
    Query(query): Query<DisconnectQuery>,
) -> Result<Json<Value>, ApiError> {
    let revoked = disconnect(&state, &caller, synced_data(&query.data)?).await?;
    Ok(Json(json!({"status": "disconnected", "revoked": revoked})))
}

#[derive(Deserialize)]
struct ChangesQuery {
    after: Option<String>,
    limit: Option<u32>,
}

async fn changes(
    State(state): State<Arc<AppState>>,
    ApiCaller(caller): ApiCaller,
    Query(query): Query<ChangesQuery>,
) -> Result<Json<Value>, ApiError> {
    let after = query
        .after
        .as_deref()
        .map(|text| {
            text.parse::<FeedCursor>()
                .map_err(|_| ApiError::BadRequest(format!("after {text:?} is not a cursor")))
        })
        .transpose()?;
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_CHANGES);
    let events = state
        .store
        .load_changes(caller.organization.id, after, limit)
        .await?;
    let next = events.last().map(|e| e.cursor.to_string()).or(query.after);
    Ok(Json(json!({"changes": events, "next_cursor": next})))
}

async fn objects(
    State(state): State<Arc<AppState>>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Value>, ApiError> {
    let view = view::integration(state.store.as_ref(), &caller.organization).await?;
    Ok(Json(json!({"objects": view.objects})))
}

#[derive(Deserialize)]
struct ObjectSelection {
    objects: Vec<String>,
}

async fn select_objects(
    State(state): State<Arc<AppState>>,
    ApiCaller(caller): ApiCaller,
    Json(selection): Json<ObjectSelection>,
) -> Result<Json<Value>, ApiError> {
    let objects = admin::parse_objects(selection.objects.iter().map(String::as_str))?;
    if objects.is_empty() {
        return Err(ApiError::BadRequest("objects: select at least one".into()));
    }
    admin::select_objects(&state, &caller, &objects).await?;
    let names: Vec<String> = objects.iter().map(ToString::to_string).collect();
    Ok(Json(json!({"objects": names})))
}

async fn settings(
    State(state): State<Arc<AppState>>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<view::SettingsView>, ApiError> {
    let view = view::integration(state.store.as_ref(), &caller.organization).await?;
    Ok(Json(view.settings))
}

#[derive(Deserialize)]
struct SettingsUpdate {
    polling_interval_secs: u32,
    budget_share_percent: u8,
}

async fn save_settings(
    State(state): State<Arc<AppState>>,
    ApiCaller(caller): ApiCaller,
    Json(update): Json<SettingsUpdate>,
) -> Result<Json<Value>, ApiError> {
    let settings = ConnectionSettings {
        polling_interval_secs: update.polling_interval_secs,
        budget_share_percent: update.budget_share_percent,
    };
    admin::save_settings(&state, &caller, settings).await?;
    Ok(Json(json!({
        "polling_interval_secs": settings.polling_interval_secs,
        "budget_share_percent": settings.budget_share_percent,
    })))
}

async fn sync_now(
    State(state): State<Arc<AppState>>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Value>, ApiError> {
    admin::sync_now(&state, &caller).await?;
    Ok(Json(json!({"status": "started"})))
}

async fn record(
    State(state): State<Arc<AppState>>,
    ApiCaller(caller): ApiCaller,
    Path((object, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let object = ObjectName::parse(&object)
        .map_err(|e| ApiError::BadRequest(format!("object {object:?}: {e}")))?;
    let id = RecordId::parse(&id).map_err(|e| ApiError::BadRequest(format!("id {id:?}: {e}")))?;
    let connection = admin::connection_of(&state, &caller).await?;
    let store = state.store.as_ref();
    let snapshot = store
        .load_snapshots(connection.id, &object, std::slice::from_ref(&id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("{object} {id}")))?;
    let history = store
        .load_record_changes(caller.organization.id, &object, &snapshot.id, MAX_CHANGES)
        .await?;
    Ok(Json(json!({
        "object": object,
        "id": snapshot.id,
        "is_deleted": snapshot.is_deleted,
        "fields": snapshot.values,
        "changes": history,
    })))
}

async fn audit(
    State(state): State<Arc<AppState>>,
    ApiCaller(caller): ApiCaller,
) -> Result<Json<Value>, ApiError> {
    caller.require_admin()?;
    let entries = state.store.load_audit(caller.organization.id, 200).await?;
    let lines: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "at": sfsync_core::format_datetime(e.at_ms),
                "user_id": e.user.map(|u| u.0),
                "action": e.action,
                "detail": e.detail,
            })
        })
        .collect();
    Ok(Json(json!({"audit": lines})))
}
