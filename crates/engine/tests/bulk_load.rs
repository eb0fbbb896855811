//! The initial load through Bulk API 2.0 jobs: the snapshots it leaves are the ones REST
//! reads would, a failure inside a job resumes after the last committed page, and an org
//! that refuses jobs, or cannot count an object, or does not serve Bulk at all is read
//! through REST instead.

mod support;

use std::collections::BTreeMap;

use serde_json::json;
use sfsync_engine::{BulkLoad, RunSettings};
use sfsync_store::Store;
use support::{Harness, quiet_settings, small_counts};

/// Every seeded object (20 to 40 records) above the threshold, jobs of 12 records, results
/// in pages of 5 cut into load pages of 4: several jobs per object, several pages per job.
fn bulk_settings() -> RunSettings {
    RunSettings {
        load_page: 4,
        bulk_load: BulkLoad {
            above: Some(10),
            job_rows: 12,
            result_rows: 5,
        },
        ..quiet_settings()
    }
}

async fn held(harness: &Harness) -> BTreeMap<String, u64> {
    let counts = harness
        .store
        .count_snapshots(harness.connection.id)
        .await
        .unwrap();
    counts
        .into_iter()
        .map(|(object, n)| (object.as_str().to_string(), n))
        .collect()
}

fn seeded() -> BTreeMap<String, u64> {
    [
        ("Account", 30),
        ("Contact", 40),
        ("Opportunity", 20),
        ("Case", 20),
    ]
    .map(|(object, n)| (object.to_string(), n))
    .into()
}

async fn bulk_calls(harness: &Harness) -> u64 {
    let counters = harness.counters().await;
    counters["per_endpoint"]["bulk"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn records_loaded_through_bulk_and_reread_through_rest_differ_only_where_they_changed() {
    let harness = Harness::start(small_counts(), bulk_settings()).await;
    harness.tick_ok().await;
    assert_eq!(held(&harness).await, seeded());
    assert!(bulk_calls(&harness).await > 0, "the load used Bulk jobs");
    assert!(harness.changes().await.is_empty());

    // The incremental read goes through REST: a value that CSV carried differently from
    // JSON would show here as a change the test did not make.
    let ids = harness.ids("Account", 30).await;
    harness
        .bulk_update("Account", &ids, json!({"Description": "renewal due"}))
        .await;
    harness.tick_ok().await;
    let events = harness.changes().await;
    assert_eq!(events.len(), 30, "{events:?}");
    for event in &events {
        let fields: Vec<&str> = event.change.fields.keys().map(|f| f.as_str()).collect();
        assert!(fields.contains(&"Description"), "{fields:?}");
        assert!(
            fields
                .iter()
                .all(|f| ["Description", "LastModifiedDate", "LastModifiedById"].contains(f)),
            "{fields:?}"
        );
    }
}

#[tokio::test]
async fn a_load_failing_inside_a_bulk_job_resumes_after_its_last_committed_page() {
    let harness = Harness::start(small_counts(), bulk_settings()).await;
    // Account loads first; its second job's first result page arrives malformed, after the
    // first job's twelve records were committed.
    harness
        .fault("malformed_body", 1, Some("000000000002/results"))
        .await;
    let failed = harness.tick().await;
    assert!(!failed.succeeded(), "{failed:?}");
    assert_eq!(held(&harness).await.get("Account"), Some(&12));

    harness.tick_ok().await;
    assert_eq!(held(&harness).await, seeded());
    assert!(harness.changes().await.is_empty(), "a load emits no events");
}

#[tokio::test]
async fn an_org_past_its_daily_bulk_job_cap_is_loaded_through_rest() {
    let harness = Harness::start(small_counts(), bulk_settings()).await;
    harness
        .settings(json!({"bulk_query_jobs_daily_limit": 0}))
        .await;
    harness.tick_ok().await;
    assert_eq!(held(&harness).await, seeded());
    assert!(harness.changes().await.is_empty());
}

#[tokio::test]
async fn an_object_too_large_to_count_in_time_loads_through_bulk() {
    let settings = RunSettings {
        bulk_load: BulkLoad {
            above: Some(1000),
            ..bulk_settings().bulk_load
        },
        ..bulk_settings()
    };
    let harness = Harness::start(small_counts(), settings).await;
    // The run's first query is Account's count; no seeded object is above the threshold.
    harness.fault("query_timeout", 1, Some("query")).await;
    harness.tick_ok().await;
    assert_eq!(held(&harness).await, seeded());
    assert!(bulk_calls(&harness).await > 0, "Account went through Bulk");
}

#[tokio::test]
async fn a_server_that_does_not_serve_bulk_jobs_is_loaded_through_rest() {
    let harness = Harness::start(small_counts(), bulk_settings()).await;
    // Each of the four objects asks for a job once; each gets 404 NOT_FOUND.
    harness.fault("not_found", 4, Some("/jobs/query")).await;
    harness.tick_ok().await;
    assert_eq!(held(&harness).await, seeded());
    assert!(harness.changes().await.is_empty());
}

#[tokio::test]
async fn an_object_the_server_cannot_count_loads_through_rest() {
    let harness = Harness::start(small_counts(), bulk_settings()).await;
    harness
        .fault("malformed_query", 1, Some("SELECT COUNT() FROM Account"))
        .await;
    harness.tick_ok().await;
    assert_eq!(held(&harness).await, seeded());
    assert!(harness.changes().await.is_empty());
}
