//! What admins change, shared by the card's forms and the API: the polling settings, the
//! object selection and Sync now. Each change is checked, saved and written to the audit log.

use sfsync_core::ObjectName;
use sfsync_salesforce::Conditional;
use sfsync_store::{Connection, ConnectionSettings};

use crate::auth::Caller;
use crate::connect::audit;
use crate::{ApiError, AppState};

/// The shortest polling interval an admin may set: one minute.
pub const MIN_INTERVAL_SECS: u32 = 60;

/// The longest: one day.
pub const MAX_INTERVAL_SECS: u32 = 24 * 3600;

/// The caller's connection, or a conflict when there is none to act on.
pub async fn connection_of(state: &AppState, caller: &Caller) -> Result<Connection, ApiError> {
    state
        .store
        .load_connection(caller.organization.id)
        .await?
        .ok_or_else(|| ApiError::Conflict("the organization has no Salesforce connection".into()))
}

/// Checks and saves new polling settings.
pub async fn save_settings(
    state: &AppState,
    caller: &Caller,
    settings: ConnectionSettings,
) -> Result<(), ApiError> {
    caller.require_admin()?;
    let interval = settings.polling_interval_secs;
    if !(MIN_INTERVAL_SECS..=MAX_INTERVAL_SECS).contains(&interval) {
        return Err(ApiError::BadRequest(format!(
            "polling_interval_secs {interval}: expected {MIN_INTERVAL_SECS} to {MAX_INTERVAL_SECS}"
        )));
    }
    let share = settings.budget_share_percent;
    if !(1..=100).contains(&share) {
        return Err(ApiError::BadRequest(format!(
            "budget_share_percent {share}: expected 1 to 100"
        )));
    }
    let connection = connection_of(state, caller).await?;
    state
        .store
        .save_connection_settings(connection.id, &settings)
        .await?;
    let detail = format!("polling every {interval} s, at most {share} % of the daily allocation");
    audit(
        state,
        caller.organization.id,
        Some(caller.user.id),
        "settings_changed",
        detail,
    )
    .await;
    state.wake.notify_one();
    Ok(())
}

/// Parses object names, naming the first that is not an API name.
pub fn parse_objects<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<ObjectName>, ApiError> {
    let mut objects: Vec<ObjectName> = Vec::new();
    for name in names.into_iter().map(str::trim).filter(|n| !n.is_empty()) {
        let object = ObjectName::parse(name)
            .map_err(|e| ApiError::BadRequest(format!("object {name:?}: {e}")))?;
        if !objects.contains(&object) {
            objects.push(object);
        }
    }
    Ok(objects)
}

/// Selects exactly these objects, after checking with Salesforce that the connected user
/// can query each (one describeGlobal call).
pub async fn select_objects(
    state: &AppState,
    caller: &Caller,
    objects: &[ObjectName],
) -> Result<(), ApiError> {
    caller.require_admin()?;
    let connection = connection_of(state, caller).await?;
    check_queryable(state, &connection, objects).await?;
    state
        .store
        .save_selected_objects(connection.id, objects)
        .await?;
    let names: Vec<String> = objects.iter().map(ToString::to_string).collect();
    let detail = format!("objects: {}", names.join(", "));
    audit(
        state,
        caller.organization.id,
        Some(caller.user.id),
        "objects_selected",
        detail,
    )
    .await;
    state.wake.notify_one();
    Ok(())
}

async fn check_queryable(
    state: &AppState,
    connection: &Connection,
    objects: &[ObjectName],
) -> Result<(), ApiError> {
    let client = state.engine.connect_client(connection).await?;
    let global = match client.fetch_describe_global(None).await {
        Ok(Conditional::Modified { value, .. }) => value,
        Ok(_) => return Err(ApiError::Salesforce("describeGlobal answered 304".into())),
        Err(e) => return Err(ApiError::Salesforce(e.to_string())),
    };
    let unknown: Vec<String> = objects
        .iter()
        .filter(|o| {
            !global
                .sobjects
                .iter()
                .any(|s| s.queryable && s.name.eq_ignore_ascii_case(o.as_str()))
        })
        .map(ToString::to_string)
        .collect();
    match unknown.is_empty() {
        true => Ok(()),
        false => Err(ApiError::BadRequest(format!(
            "not queryable by the connected Salesforce user: {}",
            unknown.join(", ")
        ))),
    }
}

/// Makes every connection due now.
pub async fn sync_now(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    caller.require_admin()?;
    connection_of(state, caller).await?;
    state.wake.notify_one();
    audit(
        state,
        caller.organization.id,
        Some(caller.user.id),
        "sync_requested",
        String::new(),
    )
    .await;
    Ok(())
}
