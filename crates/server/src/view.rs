//! What the Salesforce card and the API show, gathered once for both: the connection and
//! who made it, each object's sync status, the API spend and the polling settings.

use std::collections::BTreeMap;

use serde::Serialize;
use sfsync_core::budget::ROLLING_DAY;
use sfsync_core::format_datetime;
use sfsync_store::{
    Connection, ConnectionSettings, ConnectionStatus, Environment, ObjectState, Organization,
    RunOutcome, RunRecord, Store,
};

use crate::ApiError;
use crate::auth::now_ms;

/// Runs read to find each object's last successful one.
const RECENT_RUNS: u32 = 200;

/// The Salesforce integration of one organization.
#[derive(Debug, Serialize)]
pub struct IntegrationView {
    /// `not_connected`, `connected`, `needs_reauthorization` or `disconnected`.
    pub status: &'static str,
    /// Why it is in that status (the refusal that stopped polling).
    pub status_detail: Option<String>,
    /// The connection, once one was made.
    #[serde(flatten)]
    pub connection: Option<ConnectionView>,
    /// How often and how hard sfsync polls.
    pub settings: SettingsView,
    /// Each object's sync status, selected ones first.
    pub objects: Vec<ObjectView>,
    /// What sfsync and the whole org spent.
    pub api: SpendView,
}

/// Who connected which Salesforce org, where and when.
#[derive(Debug, Serialize)]
pub struct ConnectionView {
    /// `production`, `sandbox` or `custom`.
    pub environment: &'static str,
    /// The login host.
    pub login_url: String,
    /// Where the org's API lives.
    pub instance_url: String,
    /// The 18-character org id.
    pub salesforce_org_id: String,
    /// The Salesforce user sfsync acts as.
    pub salesforce_username: String,
    /// The sfsync user who connected it (e-mail).
    pub connected_by: String,
    /// When, ISO 8601 UTC.
    pub connected_at: String,
}

/// The polling settings.
#[derive(Debug, Serialize)]
pub struct SettingsView {
    /// Seconds between ticks when the budget allows.
    pub polling_interval_secs: u32,
    /// sfsync's cap on the org's daily allocation, in percent.
    pub budget_share_percent: u8,
}

/// One object's sync status.
#[derive(Debug, Serialize)]
pub struct ObjectView {
    /// The API name.
    pub object: String,
    /// Whether it is synced.
    pub selected: bool,
    /// Records held.
    pub records: u64,
    /// Whether the initial load finished.
    pub loaded: bool,
    /// When a run last succeeded.
    pub last_success_at: Option<String>,
    /// When a run last finished, however it ended.
    pub last_run_at: Option<String>,
    /// When the next run is due.
    pub next_run_at: Option<String>,
    /// Why the last run failed.
    pub last_error: Option<String>,
}

/// The API spend.
#[derive(Debug, Serialize)]
pub struct SpendView {
    /// Calls sfsync made in the last 24 hours.
    pub sfsync_calls_24h: u64,
    /// The org's usage by everyone, from the last `Sforce-Limit-Info` header.
    pub org_used: Option<u64>,
    /// The org's daily allocation, from the same header.
    pub org_max: Option<u64>,
    /// sfsync's calls per hour over the last 24 hours, oldest first.
    pub hourly: Vec<HourSpend>,
}

/// sfsync's calls in one hour.
#[derive(Debug, Serialize)]
pub struct HourSpend {
    /// The hour's start, ISO 8601 UTC.
    pub hour: String,
    /// The same, UTC epoch milliseconds, to place it on the chart.
    #[serde(skip)]
    pub hour_ms: i64,
    /// Calls.
    pub calls: u64,
}

/// Gathers the view of an organization's integration.
pub async fn integration(
    store: &dyn Store,
    organization: &Organization,
) -> Result<IntegrationView, ApiError> {
    let Some(connection) = store.load_connection(organization.id).await? else {
        return Ok(not_connected());
    };
    let settings = store.load_connection_settings(connection.id).await?;
    Ok(IntegrationView {
        status: status_word(connection.status),
        status_detail: connection.status_detail.clone(),
        connection: Some(connection_view(store, &connection).await?),
        settings: settings_view(settings),
        objects: objects(store, &connection).await?,
        api: spend(store, &connection).await?,
    })
}

fn not_connected() -> IntegrationView {
    IntegrationView {
        status: "not_connected",
        status_detail: None,
        connection: None,
        settings: settings_view(ConnectionSettings::default()),
        objects: Vec::new(),
        api: SpendView {
            sfsync_calls_24h: 0,
            org_used: None,
            org_max: None,
            hourly: Vec::new(),
        },
    }
}

/// The stable word for a connection status.
pub fn status_word(status: ConnectionStatus) -> &'static str {
    match status {
        ConnectionStatus::Active => "connected",
        ConnectionStatus::NeedsReauthorization => "needs_reauthorization",
        ConnectionStatus::Disconnected => "disconnected",
    }
}

/// The stable word for an environment.
pub fn environment_word(environment: Environment) -> &'static str {
    match environment {
        Environment::Production => "production",
        Environment::Sandbox => "sandbox",
        Environment::Custom => "custom",
    }
}

fn settings_view(settings: ConnectionSettings) -> SettingsView {
    SettingsView {
        polling_interval_secs: settings.polling_interval_secs,
        budget_share_percent: settings.budget_share_percent,
    }
}

async fn connection_view(
    store: &dyn Store,
    connection: &Connection,
) -> Result<ConnectionView, ApiError> {
    let details = &connection.details;
    let connected_by = store
        .load_user(details.connected_by)
        .await?
        .map(|u| u.email)
        .unwrap_or_else(|| format!("user {}", details.connected_by));
    Ok(ConnectionView {
        environment: environment_word(details.environment),
        login_url: details.login_url.clone(),
        instance_url: details.instance_url.clone(),
        salesforce_org_id: details.salesforce_org_id.clone(),
        salesforce_username: details.salesforce_username.clone(),
        connected_by,
        connected_at: format_datetime(details.connected_at_ms),
    })
}

async fn objects(store: &dyn Store, connection: &Connection) -> Result<Vec<ObjectView>, ApiError> {
    let states = store.load_object_states(connection.id).await?;
    let counts = store.count_snapshots(connection.id).await?;
    let runs = store.load_runs(connection.id, RECENT_RUNS).await?;
    let mut views: Vec<ObjectView> = states
        .iter()
        .map(|state| object_view(state, &counts, &runs))
        .collect();
    views.sort_by(|a, b| b.selected.cmp(&a.selected).then(a.object.cmp(&b.object)));
    Ok(views)
}

fn object_view(
    state: &ObjectState,
    counts: &BTreeMap<sfsync_core::ObjectName, u64>,
    runs: &[RunRecord],
) -> ObjectView {
    // Runs come newest first, so the first success found is the last one.
    let last_success = runs
        .iter()
        .find(|r| r.object == state.object && r.outcome == RunOutcome::Succeeded);
    ObjectView {
        object: state.object.to_string(),
        selected: state.selected,
        records: counts.get(&state.object).copied().unwrap_or(0),
        loaded: state.progress.load.done,
        last_success_at: last_success.map(|r| format_datetime(r.finished_at_ms)),
        last_run_at: state.schedule.last_run_at_ms.map(format_datetime),
        next_run_at: state.schedule.next_run_at_ms.map(format_datetime),
        last_error: state.schedule.last_error.clone(),
    }
}

async fn spend(store: &dyn Store, connection: &Connection) -> Result<SpendView, ApiError> {
    let since = now_ms() - ROLLING_DAY.as_millis() as i64;
    let spend = store.load_api_spend(connection.id, since).await?;
    let hourly = store.load_api_calls_by_hour(connection.id, since).await?;
    let usage = spend.latest_org_usage.map(|(_, usage)| usage);
    Ok(SpendView {
        sfsync_calls_24h: spend.calls,
        org_used: usage.map(|u| u.used),
        org_max: usage.map(|u| u.max),
        hourly: hourly
            .into_iter()
            .map(|(hour, calls)| HourSpend {
                hour: format_datetime(hour),
                hour_ms: hour,
                calls,
            })
            .collect(),
    })
}
