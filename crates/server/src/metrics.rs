//! `/metrics` in Prometheus' text format. Counters are fed by the scheduler after every
//! tick; the lag per object is read from the store when scraped. Labels hold organization
//! slugs, object names and outcomes only: never a message or a record Id.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use sfsync_engine::TickReport;
use sfsync_store::OrganizationId;

use crate::auth::now_ms;
use crate::{ApiError, AppState};

/// Counters of one object of one organization.
#[derive(Debug, Default, Clone, Copy)]
struct ObjectCounters {
    runs_succeeded: u64,
    runs_failed: u64,
    records_read: u64,
    events: u64,
}

/// A counter's name, help text and how to read it from an object's counters.
type Series = (&'static str, &'static str, fn(&ObjectCounters) -> u64);

/// The service's counters since it started.
#[derive(Debug, Default)]
pub struct Metrics {
    objects: Mutex<BTreeMap<(OrganizationId, String), ObjectCounters>>,
    api_calls: Mutex<BTreeMap<OrganizationId, u64>>,
}

impl Metrics {
    /// Adds what a tick of `organization`'s connection did.
    pub fn record_tick(&self, organization: OrganizationId, report: &TickReport) {
        let mut objects = self.objects.lock().unwrap_or_else(|p| p.into_inner());
        for outcome in &report.objects {
            let key = (organization, outcome.object.to_string());
            let counters = objects.entry(key).or_default();
            match &outcome.result {
                Ok(run) => {
                    counters.runs_succeeded += 1;
                    counters.records_read += run.records_read;
                    counters.events += run.events;
                }
                Err(_) => counters.runs_failed += 1,
            }
        }
        drop(objects);
        let mut calls = self.api_calls.lock().unwrap_or_else(|p| p.into_inner());
        *calls.entry(organization).or_default() += report.api_calls;
    }

    fn render_counters(&self, slugs: &BTreeMap<OrganizationId, String>, out: &mut String) {
        let slug = |id: &OrganizationId| slugs.get(id).cloned().unwrap_or_else(|| id.to_string());
        let objects = self
            .objects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let series: [Series; 4] = [
            (
                "sfsync_records_read_total",
                "Records read from Salesforce.",
                |c| c.records_read,
            ),
            (
                "sfsync_change_events_total",
                "Change events recorded.",
                |c| c.events,
            ),
            (
                "sfsync_runs_succeeded_total",
                "Object runs that finished.",
                |c| c.runs_succeeded,
            ),
            ("sfsync_run_errors_total", "Object runs that failed.", |c| {
                c.runs_failed
            }),
        ];
        for (name, help, value) in series {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((org, object), counters) in &objects {
                let _ = writeln!(
                    out,
                    "{name}{{organization=\"{}\",object=\"{object}\"}} {}",
                    slug(org),
                    value(counters)
                );
            }
        }
        let calls = self
            .api_calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let name = "sfsync_api_calls_total";
        let _ = writeln!(
            out,
            "# HELP {name} Salesforce API calls sfsync made.\n# TYPE {name} counter"
        );
        for (org, n) in calls {
            let _ = writeln!(out, "{name}{{organization=\"{}\"}} {n}", slug(&org));
        }
    }
}

/// `GET /metrics`.
pub async fn render(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    let mut slugs = BTreeMap::new();
    for connection in state.store.load_connections().await? {
        let id = connection.details.organization;
        if let Some(org) = state.store.load_organization_by_id(id).await? {
            slugs.insert(id, org.slug.as_str().to_owned());
        }
    }
    let mut out = String::new();
    state.metrics.render_counters(&slugs, &mut out);
    render_lag(&state, &slugs, &mut out).await?;
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}

/// How far each selected object's cursor stands behind the local clock.
async fn render_lag(
    state: &AppState,
    slugs: &BTreeMap<OrganizationId, String>,
    out: &mut String,
) -> Result<(), ApiError> {
    let name = "sfsync_lag_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Seconds between now and the newest SystemModstamp read.\n# TYPE {name} gauge"
    );
    let now = now_ms();
    for connection in state.store.load_connections().await? {
        let Some(org) = slugs.get(&connection.details.organization) else {
            continue;
        };
        for object in state.store.load_object_states(connection.id).await? {
            let Some(cursor) = object.progress.cursor.filter(|_| object.selected) else {
                continue;
            };
            let lag = (now - cursor.system_modstamp_ms).max(0) as f64 / 1000.0;
            let _ = writeln!(
                out,
                "{name}{{organization=\"{}\",object=\"{}\"}} {lag:.3}",
                org, object.object
            );
        }
    }
    Ok(())
}
