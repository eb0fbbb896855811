//! The engine against the simulator, scenario by scenario: each test changes the org behind
//! the engine's back and compares the change events with what it did: exactly those, once.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use sfsync_core::{ChangeKind, FieldName, FieldValue, SchemaChange};
use sfsync_simulator::SeedCounts;
use sfsync_store::{ConnectionStatus, Store};
use support::{Harness, quiet_settings, small_counts};

fn field(name: &str) -> FieldName {
    FieldName::parse(name).unwrap()
}

async fn loaded(counts: SeedCounts) -> Harness {
    let harness = Harness::start(counts, quiet_settings()).await;
    harness.tick_ok().await;
    harness
}

#[tokio::test]
async fn the_initial_load_holds_every_record_and_emits_no_events() {
    let harness = loaded(small_counts()).await;
    let counts = harness
        .store
        .count_snapshots(harness.connection.id)
        .await
        .unwrap();
    let held: BTreeMap<String, u64> = counts
        .into_iter()
        .map(|(o, n)| (o.as_str().to_string(), n))
        .collect();
    assert_eq!(held["Account"], 30);
    assert_eq!(held["Contact"], 40);
    assert_eq!(held["Opportunity"], 20);
    assert_eq!(held["Case"], 20);
    assert!(
        !held.contains_key("Invoice__c"),
        "custom objects sync only when selected"
    );
    assert!(harness.changes().await.is_empty());
}

#[tokio::test]
async fn an_update_yields_one_event_of_the_changed_fields_and_rereads_yield_nothing() {
    let harness = loaded(small_counts()).await;
    let id = harness.ids("Account", 1).await.remove(0);
    harness
        .update(
            "Account",
            &id,
            json!({"Rating": "Hot", "Industry": "Energy"}),
        )
        .await;
    harness
        .update("Account", &id, json!({"Rating": "Cold"}))
        .await;
    harness.tick_ok().await;
    harness.tick_ok().await;
    harness.tick_ok().await;

    let events = harness.changes_of(&id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let fields = &events[0].change.fields;
    assert_eq!(events[0].change.kind, ChangeKind::Updated);
    assert_eq!(
        fields[&field("Rating")].new,
        FieldValue::Text("Cold".into())
    );
    assert_eq!(
        fields[&field("Industry")].new,
        FieldValue::Text("Energy".into())
    );
    assert!(
        !fields.contains_key(&field("SystemModstamp")),
        "the cursor field is not diffed"
    );
    assert!(
        fields.keys().all(
            |f| ["Rating", "Industry", "LastModifiedDate", "LastModifiedById"]
                .contains(&f.as_str())
        ),
        "{fields:?}"
    );
}

#[tokio::test]
async fn records_sharing_one_stamp_across_a_page_boundary_each_yield_one_event() {
    let counts = SeedCounts {
        accounts: 2600,
        ..small_counts()
    };
    let harness = loaded(counts).await;
    let ids = harness.ids("Account", 2600).await;
    harness
        .bulk_update("Account", &ids, json!({"Rating": "Warm"}))
        .await;
    harness.tick_ok().await;
    // A crash-free rerun re-reads the tie group through the overlap and adds nothing.
    harness.tick_ok().await;

    let events = harness.changes().await;
    let mut per_record: BTreeMap<&str, usize> = BTreeMap::new();
    for event in &events {
        *per_record
            .entry(event.change.record_id.as_str())
            .or_default() += 1;
    }
    let changed: Vec<&String> = ids
        .iter()
        .filter(|id| per_record.contains_key(id.as_str()))
        .collect();
    // Seeded ratings are random: the records already Warm did not change.
    let already_warm = ids.len() - changed.len();
    assert!(
        changed.len() > 2000,
        "the tie group spans more than one page: {}",
        changed.len()
    );
    assert!(per_record.values().all(|&n| n == 1), "one event per record");
    assert_eq!(events.len(), ids.len() - already_warm);
}

#[tokio::test]
async fn a_late_commit_inside_the_overlap_window_is_caught_once() {
    let harness = loaded(small_counts()).await;
    let ids = harness.ids("Opportunity", 2).await;
    let late = harness
        .begin(
            "Opportunity",
            json!([{"id": ids[0], "fields": {"StageName": "Closed Won"}}]),
        )
        .await;
    harness.advance(5).await;
    harness
        .update("Opportunity", &ids[1], json!({"StageName": "Closed Lost"}))
        .await;
    harness.tick_ok().await;
    assert_eq!(harness.changes_of(&ids[1]).await.len(), 1);
    assert!(
        harness.changes_of(&ids[0]).await.is_empty(),
        "not visible yet"
    );

    harness.commit(&late).await;
    harness.tick_ok().await;
    harness.tick_ok().await;
    let events = harness.changes_of(&ids[0]).await;
    assert_eq!(
        events.len(),
        1,
        "the late commit is read through the overlap, once"
    );
    assert_eq!(
        events[0].change.fields[&field("StageName")].new,
        FieldValue::Text("Closed Won".into())
    );
}

#[tokio::test]
async fn soft_delete_undelete_purge_and_merge_each_yield_their_event_once() {
    let settings = sfsync_engine::RunSettings {
        deletes_every: Duration::ZERO,
        ..quiet_settings()
    };
    let harness = Harness::start(small_counts(), settings).await;
    harness.tick_ok().await;
    let ids = harness.ids("Account", 6).await;
    harness.delete("Account", &ids[0]).await;
    harness.delete("Account", &ids[1]).await;
    harness.tick_ok().await;
    harness.undelete("Account", &ids[1]).await;
    harness.purge("Account", &ids[2]).await;
    harness.merge("Account", &ids[3], &[&ids[4], &ids[5]]).await;
    // getDeleted truncates to the minute: let a minute pass so its window covers the purge.
    harness.advance(61).await;
    harness.tick_ok().await;
    harness.advance(61).await;
    harness.tick_ok().await;

    let of = |events: Vec<sfsync_core::ChangeEvent>| {
        events
            .into_iter()
            .map(|e| e.change.kind)
            .collect::<Vec<_>>()
    };
    assert_eq!(of(harness.changes_of(&ids[0]).await), [ChangeKind::Deleted]);
    assert_eq!(
        of(harness.changes_of(&ids[1]).await),
        [ChangeKind::Deleted, ChangeKind::Undeleted]
    );
    assert_eq!(
        of(harness.changes_of(&ids[2]).await),
        [ChangeKind::Deleted],
        "a purge is seen through getDeleted"
    );
    assert_eq!(
        of(harness.changes_of(&ids[4]).await),
        [ChangeKind::Deleted],
        "a merge loser is deleted"
    );
    assert_eq!(of(harness.changes_of(&ids[5]).await), [ChangeKind::Deleted]);
}

#[tokio::test]
async fn a_new_custom_field_is_backfilled_with_a_schema_event_and_no_record_events() {
    let settings = sfsync_engine::RunSettings {
        describe_every: Duration::ZERO,
        ..quiet_settings()
    };
    let harness = Harness::start(small_counts(), settings).await;
    harness.tick_ok().await;
    harness.add_field("Account", "Region__c", "string").await;
    let id = harness.ids("Account", 1).await.remove(0);
    harness.tick_ok().await;
    harness.tick_ok().await;

    let schema = harness
        .store
        .load_schema_events(harness.connection.id, &"Account".parse_object())
        .await
        .unwrap();
    assert_eq!(schema.len(), 1, "{schema:?}");
    assert_eq!(
        schema[0].change,
        SchemaChange::FieldAdded(field("Region__c"))
    );
    let events = harness.changes().await;
    assert!(events.is_empty(), "a backfill is no change: {events:?}");
    let snapshot = snapshot_of(&harness, "Account", &id).await;
    assert_eq!(
        snapshot.values[&field("Region__c")],
        FieldValue::Null,
        "backfilled"
    );

    harness
        .update("Account", &id, json!({"Region__c": "APAC"}))
        .await;
    harness.tick_ok().await;
    let events = harness.changes_of(&id).await;
    assert_eq!(events.len(), 1);
    let region = &events[0].change.fields[&field("Region__c")];
    assert_eq!(region.old, FieldValue::Null);
    assert_eq!(region.new, FieldValue::Text("APAC".into()));
}

#[tokio::test]
async fn a_hidden_field_leaves_with_a_schema_event_and_never_changes_to_null() {
    let harness = loaded(small_counts()).await;
    let id = harness.ids("Account", 1).await.remove(0);
    harness.set_visible("Account", "Rating", false).await;
    harness
        .update("Account", &id, json!({"Industry": "Energy"}))
        .await;
    // describe is not due (quiet settings): the query fails on the hidden field and the
    // run repairs itself from a fresh describe.
    harness.tick_ok().await;

    let schema = harness
        .store
        .load_schema_events(harness.connection.id, &"Account".parse_object())
        .await
        .unwrap();
    assert_eq!(schema.len(), 1, "{schema:?}");
    assert!(
        matches!(&schema[0].change, SchemaChange::FieldRemoved(f) | SchemaChange::FieldHidden(f) if f.as_str() == "Rating")
    );
    let events = harness.changes().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(!events[0].change.fields.contains_key(&field("Rating")));
    assert_eq!(
        events[0].change.fields[&field("Industry")].new,
        FieldValue::Text("Energy".into())
    );
}

#[tokio::test]
async fn formula_drift_is_caught_by_the_refresh() {
    let settings = sfsync_engine::RunSettings {
        formulas_every: Duration::from_secs(3600),
        ..quiet_settings()
    };
    let harness = Harness::start(small_counts(), settings).await;
    harness.tick_ok().await;
    let contact = harness.ids("Contact", 1).await.remove(0);
    let account =
        snapshot_of(&harness, "Contact", &contact).await.values[&field("AccountId")].clone();
    let FieldValue::Text(account) = account else {
        panic!("the contact has an account")
    };
    harness
        .update("Account", &account, json!({"Industry": "Biotechnology"}))
        .await;
    harness.tick_ok().await;
    assert!(
        harness.changes_of(&contact).await.is_empty(),
        "the formula changed without a new SystemModstamp"
    );

    harness.advance(3601).await;
    harness.tick_ok().await;
    let events = harness.changes_of(&contact).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].change.fields.len(), 1);
    assert_eq!(
        events[0].change.fields[&field("Account_Industry__c")].new,
        FieldValue::Text("Biotechnology".into())
    );
}

#[tokio::test]
async fn an_access_token_expiring_mid_run_is_refreshed_and_nothing_is_lost() {
    let counts = SeedCounts {
        accounts: 4500,
        ..small_counts()
    };
    let harness = Harness::start(counts, quiet_settings()).await;
    // The session dies after the first page of the load.
    harness.fault("expire_sessions", 1, Some("query")).await;
    harness.tick_ok().await;
    let held = harness
        .store
        .count_snapshots(harness.connection.id)
        .await
        .unwrap();
    assert_eq!(held[&"Account".parse_object()], 4500);
}

#[tokio::test]
async fn rotated_refresh_tokens_are_kept_and_never_reused() {
    let harness = loaded(small_counts()).await;
    harness
        .settings(json!({"rotate_refresh_tokens": true}))
        .await;
    let ids = harness.ids("Case", 3).await;
    for (i, id) in ids.iter().enumerate() {
        harness.fault("expire_sessions", 1, None).await;
        harness
            .update(
                "Case",
                id,
                json!({"Priority": if i % 2 == 0 { "High" } else { "Low" }}),
            )
            .await;
        harness.tick_ok().await;
    }
    let status = harness
        .store
        .load_connection(harness.organization.id)
        .await
        .unwrap()
        .unwrap()
        .status;
    assert_eq!(
        status,
        ConnectionStatus::Active,
        "a reused refresh token would have revoked the grant"
    );
    let changed = harness.changes().await.len();
    assert!(changed >= 2, "{changed}");
}

#[tokio::test]
async fn a_revoked_grant_marks_the_connection_for_reauthorization_and_stops() {
    let harness = loaded(small_counts()).await;
    harness.settings(json!({"user_active": false})).await;
    harness.fault("expire_sessions", 1, None).await;
    let report = harness.tick().await;
    assert!(report.needs_reauthorization);
    let connection = harness
        .store
        .load_connection(harness.organization.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(connection.status, ConnectionStatus::NeedsReauthorization);
    assert!(connection.status_detail.unwrap().contains("invalid_grant"));
}

#[tokio::test]
async fn a_503_burst_and_a_query_timeout_are_absorbed_in_the_same_run() {
    let harness = loaded(small_counts()).await;
    let id = harness.ids("Opportunity", 1).await.remove(0);
    harness
        .update(
            "Opportunity",
            &id,
            json!({"StageName": "Negotiation/Review"}),
        )
        .await;
    harness.fault("unavailable", 3, None).await;
    harness.fault("query_timeout", 1, Some("query")).await;
    harness.tick_ok().await;
    assert_eq!(harness.changes_of(&id).await.len(), 1);
}

#[tokio::test]
async fn an_expired_query_locator_restarts_from_the_committed_cursor() {
    let counts = SeedCounts {
        accounts: 2600,
        ..small_counts()
    };
    let harness = loaded(counts).await;
    let ids = harness.ids("Account", 2600).await;
    harness
        .bulk_update("Account", &ids, json!({"Description": "renewal due"}))
        .await;
    harness.fault("invalid_query_locator", 1, None).await;
    harness.tick_ok().await;
    let events = harness.changes().await;
    assert_eq!(
        events.len(),
        2600,
        "each record once, though its second page was re-read"
    );
}

#[tokio::test]
async fn request_limit_exceeded_mid_run_pauses_and_a_later_run_loses_nothing() {
    let counts = SeedCounts {
        accounts: 2600,
        ..small_counts()
    };
    let harness = loaded(counts).await;
    let ids = harness.ids("Account", 2600).await;
    harness
        .bulk_update("Account", &ids, json!({"Description": "churn risk"}))
        .await;
    harness.fault("request_limit", 1, Some("query/")).await;
    let paused = harness.tick().await;
    assert!(paused.rate_limited, "{paused:?}");
    assert!(harness.changes().await.len() < 2600);

    harness.tick_ok().await;
    let events = harness.changes().await;
    assert_eq!(events.len(), 2600);
    let mut seen: Vec<&str> = events.iter().map(|e| e.change.record_id.as_str()).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 2600, "no record twice");
}

#[tokio::test]
async fn an_idle_tick_over_five_objects_costs_one_api_call() {
    let harness = loaded(small_counts()).await;
    harness
        .store
        .save_selected_objects(
            harness.connection.id,
            &["Account", "Contact", "Opportunity", "Case", "Invoice__c"].map(|o| o.parse_object()),
        )
        .await
        .unwrap();
    harness.tick_ok().await;
    let report = harness.tick_ok().await;
    assert_eq!(report.objects.len(), 5);
    assert!(
        report.api_calls <= 2,
        "an idle tick cost {} calls",
        report.api_calls
    );
    assert_eq!(report.api_calls, 1);
}

/// The kinds of the change events of one record, in order.
async fn kinds_of(harness: &Harness, id: &str) -> Vec<ChangeKind> {
    let events = harness.changes_of(id).await;
    events.iter().map(|e| e.change.kind).collect()
}

async fn snapshot_of(harness: &Harness, object: &str, id: &str) -> sfsync_core::Snapshot {
    let id = sfsync_core::RecordId::parse(id).unwrap();
    let mut held = harness
        .store
        .load_snapshots(harness.connection.id, &object.parse_object(), &[id])
        .await
        .unwrap();
    held.pop().expect("the record is held")
}

trait ParseObject {
    fn parse_object(&self) -> sfsync_core::ObjectName;
}

impl ParseObject for str {
    fn parse_object(&self) -> sfsync_core::ObjectName {
        sfsync_core::ObjectName::parse(self).unwrap()
    }
}

#[tokio::test]
async fn reconciliation_finds_hard_deletes_that_get_deleted_no_longer_lists() {
    let settings = sfsync_engine::RunSettings {
        reconcile_every: Duration::ZERO,
        ..quiet_settings()
    };
    let counts = SeedCounts {
        accounts: 4100,
        ..small_counts()
    };
    let harness = Harness::start(counts, settings).await;
    harness.tick_ok().await;
    let ids = harness.ids("Account", 4100).await;
    // Spread over the Id space, so the drill-down must split more than one range.
    let purged = [&ids[10], &ids[2500], &ids[4000]];
    for id in purged {
        harness.purge("Account", id).await;
    }
    // Soft-deleted and then purged: already reported deleted, so only removed.
    harness.delete("Account", &ids[3000]).await;
    harness.tick_ok().await;
    harness.purge("Account", &ids[3000]).await;
    harness.tick_ok().await;

    for id in purged {
        assert_eq!(kinds_of(&harness, id).await, [ChangeKind::Deleted], "{id}");
    }
    assert_eq!(
        harness.changes_of(&ids[3000]).await.len(),
        1,
        "deleted once, when soft-deleted"
    );
    let held = harness
        .store
        .count_snapshots(harness.connection.id)
        .await
        .unwrap();
    assert_eq!(
        held[&"Account".parse_object()],
        4100 - 4,
        "the purged records are no longer held"
    );
    assert_eq!(harness.changes().await.len(), 4);
}

#[tokio::test]
async fn without_get_deleted_a_purge_is_found_by_reconciling_ids() {
    let settings = sfsync_engine::RunSettings {
        deletes_every: Duration::ZERO,
        ..quiet_settings()
    };
    let harness = Harness::start(small_counts(), settings).await;
    harness.tick_ok().await;
    let ids = harness.ids("Account", 3).await;
    harness.purge("Account", &ids[2]).await;
    harness.advance(61).await;
    // A server without the delete log: every getDeleted answers 404 NOT_FOUND.
    harness.fault("not_found", 100, Some("/deleted")).await;
    harness.tick_ok().await;

    assert_eq!(kinds_of(&harness, &ids[2]).await, [ChangeKind::Deleted]);
    assert_eq!(harness.changes().await.len(), 1);
}

#[tokio::test]
async fn without_composite_reconciliation_counts_range_by_range() {
    let settings = sfsync_engine::RunSettings {
        reconcile_every: Duration::ZERO,
        ..quiet_settings()
    };
    let harness = Harness::start(small_counts(), settings).await;
    harness.tick_ok().await;
    let ids = harness.ids("Contact", 5).await;
    harness.purge("Contact", &ids[4]).await;
    harness.fault("not_found", 1, Some("/composite")).await;
    harness.tick_ok().await;

    assert_eq!(kinds_of(&harness, &ids[4]).await, [ChangeKind::Deleted]);
    assert_eq!(harness.changes().await.len(), 1);
}
