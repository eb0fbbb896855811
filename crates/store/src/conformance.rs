//! The conformance suite: what every [`Store`] backend must do, written once against the
//! trait. Each public `async fn` is one test that panics on failure; a backend runs them
//! all with [`crate::conformance_tests!`], giving it a function that opens a fresh, empty
//! store (and a guard that cleans it up when dropped).
//!
//! Durability across a restart needs two stores in sequence, so it is split in two:
//! [`seed_for_reopen`] writes, the backend closes and opens again, and
//! [`check_after_reopen`] reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use sfsync_core::{
    Change, ChangeEvent, ChangeKind, Cursor, FeedCursor, FieldChange, FieldName, FieldType,
    FieldValue, ObjectName, OrganizationSlug, Projection, RecordId, SchemaChange, Snapshot,
};

use crate::model::*;
use crate::{Error, Store};

/// Generates one `#[tokio::test]` per conformance test. `$open` is an async fn returning
/// `(Arc<dyn Store>, guard)`: a fresh, empty store and whatever must live as long as it.
#[macro_export]
macro_rules! conformance_tests {
    ($open:path) => {
        $crate::conformance_tests!(@each $open;
            organizations_users_and_token_hashes_round_trip,
            a_connection_is_saved_reconnected_and_its_status_changed,
            sealed_tokens_round_trip_as_opaque_bytes,
            the_token_lock_is_single_flight_and_the_next_holder_reads_the_rotated_token,
            object_selection_projection_and_schedule_round_trip,
            a_lease_is_claimed_once_until_it_expires_and_each_claim_raises_the_epoch,
            a_committed_page_writes_snapshots_events_schema_events_and_progress,
            a_commit_with_a_lost_lease_leaves_snapshots_events_and_cursor_untouched,
            a_commit_to_a_missing_connection_is_not_found_and_writes_nothing,
            removed_and_soft_deleted_snapshots_are_told_apart,
            feed_cursors_strictly_increase_across_commits_and_organizations,
            concurrent_commits_get_distinct_cursors_visible_in_order,
            load_changes_pages_with_after_in_cursor_order,
            one_organization_never_sees_another_organizations_changes,
            every_field_value_round_trips_through_the_change_log,
            id_ranges_list_and_count_snapshots_in_case_sensitive_order,
            runs_and_api_spend_are_recorded,
            a_sign_in_link_works_once_and_never_after_it_expires,
            a_session_finds_its_user_until_it_is_deleted_or_expires,
            a_user_is_found_by_id_and_an_unknown_id_finds_nobody,
            a_pending_connect_is_taken_once_even_after_it_expires,
            connection_settings_start_at_the_defaults_and_survive_a_reconnect,
            disconnecting_and_keeping_data_deletes_only_the_tokens,
            a_tick_in_flight_never_revives_a_disconnected_connection,
            disconnecting_and_deleting_data_keeps_only_the_selection,
            replacing_sealed_tokens_swaps_them_only_while_they_are_unchanged,
            recent_changes_are_newest_first_and_only_the_organizations_own,
            a_records_changes_are_its_own_oldest_first,
            api_calls_are_summed_per_hour_since_a_moment,
            the_audit_log_reads_newest_first_one_organization_at_a_time,
        );
    };
    (@each $open:path; $($name:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = $open().await;
                $crate::conformance::$name(store).await;
            }
        )+
    };
}

const NOW_MS: i64 = 1_796_292_000_000; // 2026-12-03T10:00:00Z
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// An organization with an admin and a connection, the starting point of most tests.
pub struct Tenant {
    /// The organization.
    pub organization: Organization,
    /// Its first admin.
    pub admin: User,
    /// Its connection.
    pub connection: Connection,
}

/// Creates an organization named `slug` with an admin and a connection.
pub async fn create_tenant(store: &dyn Store, slug: &str) -> Tenant {
    let slug = OrganizationSlug::parse(slug).expect("valid slug");
    let organization = store.create_organization(&slug, NOW_MS).await.unwrap();
    let admin = store
        .create_user(organization.id, "admin@example.com", Role::Admin, NOW_MS)
        .await
        .unwrap();
    let connection = store
        .save_connection(&new_connection(&organization, &admin))
        .await
        .unwrap();
    Tenant {
        organization,
        admin,
        connection,
    }
}

fn new_connection(organization: &Organization, admin: &User) -> NewConnection {
    NewConnection {
        organization: organization.id,
        environment: Environment::Sandbox,
        login_url: "https://test.salesforce.com".to_owned(),
        instance_url: "https://acme.my.salesforce.com".to_owned(),
        salesforce_org_id: "00D000000000001AAA".to_owned(),
        salesforce_username: "integration@acme.example".to_owned(),
        connected_by: admin.id,
        connected_at_ms: NOW_MS,
    }
}

fn object(name: &str) -> ObjectName {
    ObjectName::parse(name).unwrap()
}

fn field(name: &str) -> FieldName {
    FieldName::parse(name).unwrap()
}

/// The `n`th Account Id, in Id order.
fn account_id(n: u32) -> RecordId {
    RecordId::parse(&format!("001{n:012}")).unwrap()
}

fn snapshot(id: &RecordId, name: &str) -> Snapshot {
    Snapshot {
        id: id.clone(),
        values: BTreeMap::from([(field("Name"), FieldValue::Text(name.to_owned()))]),
        is_deleted: false,
    }
}

fn created(id: &RecordId, name: &str) -> NewChange {
    NewChange {
        change: Change {
            record_id: id.clone(),
            kind: ChangeKind::Created,
            fields: BTreeMap::from([(
                field("Name"),
                FieldChange {
                    old: FieldValue::Null,
                    new: FieldValue::Text(name.to_owned()),
                },
            )]),
        },
        changed_at_ms: NOW_MS - 1_000,
    }
}

fn cursor_at(n: u32) -> Cursor {
    Cursor {
        system_modstamp_ms: NOW_MS - 1_000 + i64::from(n),
        id: account_id(n),
    }
}

/// A page creating Accounts `first..first + count`, moving the cursor to the last of them.
fn page_of_created(connection: ConnectionId, first: u32, count: u32) -> PageCommit {
    let ids: Vec<RecordId> = (first..first + count).map(account_id).collect();
    PageCommit {
        connection,
        object: object("Account"),
        lease_epoch: None,
        snapshots: ids
            .iter()
            .map(|id| snapshot(id, &format!("A{id}")))
            .collect(),
        removed: Vec::new(),
        changes: ids
            .iter()
            .map(|id| created(id, &format!("A{id}")))
            .collect(),
        schema_changes: Vec::new(),
        detected_at_ms: NOW_MS,
        progress: Some(ObjectProgress {
            cursor: Some(cursor_at(first + count - 1)),
            load: LoadProgress::default(),
            maintenance: Maintenance {
                deletes_covered_to_ms: Some(NOW_MS),
                formulas_refreshed_at_ms: Some(NOW_MS - 1),
                reconciled_at_ms: None,
            },
        }),
    }
}

async fn all_changes(store: &dyn Store, organization: OrganizationId) -> Vec<ChangeEvent> {
    store
        .load_changes(organization, None, 100_000)
        .await
        .unwrap()
}

fn cursors(events: &[ChangeEvent]) -> Vec<FeedCursor> {
    events.iter().map(|e| e.cursor).collect()
}

fn assert_strictly_increasing(cursors: &[FeedCursor]) {
    assert!(
        cursors.windows(2).all(|w| w[0] < w[1]),
        "feed cursors not strictly increasing: {cursors:?}"
    );
}

/// Slugs are unique; e-mails are unique within an organization; an API token is found by
/// its hash alone, and an unknown hash finds nobody.
pub async fn organizations_users_and_token_hashes_round_trip(store: Arc<dyn Store>) {
    let slug = OrganizationSlug::parse("acme").unwrap();
    let acme = store.create_organization(&slug, NOW_MS).await.unwrap();
    assert_eq!(
        store.load_organization(&slug).await.unwrap(),
        Some(acme.clone())
    );
    let taken = store.create_organization(&slug, NOW_MS).await.unwrap_err();
    assert!(matches!(taken, Error::AlreadyExists { .. }), "{taken}");
    let unknown = OrganizationSlug::parse("nobody").unwrap();
    assert_eq!(store.load_organization(&unknown).await.unwrap(), None);
    assert_eq!(
        store.load_organization_by_id(acme.id).await.unwrap(),
        Some(acme.clone())
    );
    let missing = OrganizationId(acme.id.0 + 1000);
    assert_eq!(store.load_organization_by_id(missing).await.unwrap(), None);

    let admin = store
        .create_user(acme.id, "a@acme.example", Role::Admin, NOW_MS)
        .await
        .unwrap();
    let member = store
        .create_user(acme.id, "m@acme.example", Role::Member, NOW_MS)
        .await
        .unwrap();
    let again = store
        .create_user(acme.id, "a@acme.example", Role::Member, NOW_MS)
        .await
        .unwrap_err();
    assert!(matches!(again, Error::AlreadyExists { .. }), "{again}");
    assert_eq!(
        store.load_users(acme.id).await.unwrap(),
        [admin.clone(), member]
    );

    let hash = TokenHash([7; 32]);
    store.save_api_token(admin.id, &hash, NOW_MS).await.unwrap();
    assert_eq!(store.load_user_by_token(&hash).await.unwrap(), Some(admin));
    let other = TokenHash([8; 32]);
    assert_eq!(store.load_user_by_token(&other).await.unwrap(), None);
}

/// A reconnect keeps the connection's id and makes it active again; a status carries its
/// detail for the admin's card.
pub async fn a_connection_is_saved_reconnected_and_its_status_changed(store: Arc<dyn Store>) {
    let tenant = create_tenant(&*store, "acme").await;
    let id = tenant.organization.id;
    assert_eq!(
        store.load_connection(id).await.unwrap(),
        Some(tenant.connection.clone())
    );
    assert_eq!(tenant.connection.status, ConnectionStatus::Active);

    let detail = "invalid_grant: expired access/refresh token";
    store
        .save_connection_status(
            tenant.connection.id,
            ConnectionStatus::NeedsReauthorization,
            Some(detail),
        )
        .await
        .unwrap();
    let needing = store.load_connection(id).await.unwrap().unwrap();
    assert_eq!(needing.status, ConnectionStatus::NeedsReauthorization);
    assert_eq!(needing.status_detail.as_deref(), Some(detail));

    let mut details = tenant.connection.details.clone();
    details.instance_url = "https://acme2.my.salesforce.com".to_owned();
    let again = store.save_connection(&details).await.unwrap();
    assert_eq!(again.id, tenant.connection.id);
    assert_eq!(
        (again.status, again.status_detail.as_deref()),
        (ConnectionStatus::Active, None)
    );
    assert_eq!(again.details, details);
    assert_eq!(store.load_connections().await.unwrap(), [again]);

    let missing = ConnectionId(tenant.connection.id.0 + 1000);
    let err = store
        .save_connection_status(missing, ConnectionStatus::Disconnected, None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

/// Sealed tokens come back byte for byte, whatever the bytes (not UTF-8, with NULs), and a
/// save replaces the previous ones.
pub async fn sealed_tokens_round_trip_as_opaque_bytes(store: Arc<dyn Store>) {
    let tenant = create_tenant(&*store, "acme").await;
    let id = tenant.connection.id;
    assert_eq!(store.load_sealed_tokens(id).await.unwrap(), None);

    let first = SealedSecret(vec![0x00, 0xff, 0xfe, 0x00, b'{', 0x80, 0xc3]);
    store.save_sealed_tokens(id, &first).await.unwrap();
    assert_eq!(store.load_sealed_tokens(id).await.unwrap(), Some(first));

    let second = SealedSecret((0..=255).collect());
    store.save_sealed_tokens(id, &second).await.unwrap();
    assert_eq!(
        store.load_sealed_tokens(id).await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(format!("{second:?}"), "SealedSecret(256 bytes)");
}

/// While one task holds a connection's token lock, another waits; when the first has saved
/// a rotated token and released the lock, the second re-reads that rotated token.
pub async fn the_token_lock_is_single_flight_and_the_next_holder_reads_the_rotated_token(
    store: Arc<dyn Store>,
) {
    let tenant = create_tenant(&*store, "acme").await;
    let id = tenant.connection.id;
    store
        .save_sealed_tokens(id, &SealedSecret(b"v1".to_vec()))
        .await
        .unwrap();

    let mut first = store.lock_tokens(id).await.unwrap();
    let waiter_store = store.clone();
    let (asking, asked) = tokio::sync::oneshot::channel();
    let waiter = tokio::spawn(async move {
        let _ = asking.send(());
        let mut second = waiter_store.lock_tokens(id).await.unwrap();
        second.load().await.unwrap()
    });
    asked.await.unwrap();

    // The waiter is now asking for the lock. The first holder refreshes: it re-reads, does
    // store round trips while the waiter has every chance to run, and persists the rotated
    // token before releasing the lock.
    assert_eq!(
        first.load().await.unwrap(),
        Some(SealedSecret(b"v1".to_vec()))
    );
    for _ in 0..20 {
        tokio::task::yield_now().await;
        first.load().await.unwrap();
    }
    assert!(
        !waiter.is_finished(),
        "a second holder got the lock while the first held it"
    );
    first.save(&SealedSecret(b"v2".to_vec())).await.unwrap();
    drop(first);

    assert_eq!(waiter.await.unwrap(), Some(SealedSecret(b"v2".to_vec())));
    let other = create_tenant(&*store, "globex").await.connection.id;
    // Locks are per connection: another connection's lock is free meanwhile.
    let _held = store.lock_tokens(id).await.unwrap();
    let mut unrelated = store.lock_tokens(other).await.unwrap();
    assert_eq!(unrelated.load().await.unwrap(), None);
}

/// Selection is exactly the list given (names compared without case), projections come
/// back with their types and scales, and schedules round-trip.
pub async fn object_selection_projection_and_schedule_round_trip(store: Arc<dyn Store>) {
    let tenant = create_tenant(&*store, "acme").await;
    let id = tenant.connection.id;
    let selection = [object("Account"), object("Contact")];
    store.save_selected_objects(id, &selection).await.unwrap();
    store
        .save_selected_objects(id, &[object("account"), object("Invoice__c")])
        .await
        .unwrap();
    let selected: Vec<(String, bool)> = store
        .load_object_states(id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.object.as_str().to_owned(), s.selected))
        .collect();
    assert_eq!(
        selected,
        [
            ("Account".to_owned(), true),
            ("Contact".to_owned(), false),
            ("Invoice__c".to_owned(), true)
        ]
    );

    let projection = Projection::new(object("Account"))
        .with_field(field("Name"), FieldType::String, None)
        .with_field(field("AnnualRevenue"), FieldType::Currency, Some(2));
    store
        .save_projection(id, &projection, NOW_MS)
        .await
        .unwrap();
    let schedule = ObjectSchedule {
        last_run_at_ms: Some(NOW_MS),
        last_error: Some("QUERY_TIMEOUT".to_owned()),
        next_run_at_ms: Some(NOW_MS + 60_000),
    };
    store
        .save_schedule(id, &object("ACCOUNT"), &schedule)
        .await
        .unwrap();

    let state = store
        .load_object_state(id, &object("Account"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.projection, Some(projection));
    assert_eq!(state.describe_fetched_at_ms, Some(NOW_MS));
    assert_eq!(state.schedule, schedule);
    assert_eq!(state.progress, ObjectProgress::default());
    assert_eq!(
        store.load_object_state(id, &object("Case")).await.unwrap(),
        None
    );
}

/// A lease excludes other owners until it expires; every claim raises the epoch.
pub async fn a_lease_is_claimed_once_until_it_expires_and_each_claim_raises_the_epoch(
    store: Arc<dyn Store>,
) {
    let id = create_tenant(&*store, "acme").await.connection.id;
    let account = object("Account");
    let first = store
        .claim_lease(id, &account, "worker-a", NOW_MS, NOW_MS + 30_000)
        .await
        .unwrap()
        .expect("a free object can be claimed");
    let refused = store
        .claim_lease(id, &account, "worker-b", NOW_MS + 1, NOW_MS + 30_000)
        .await
        .unwrap();
    assert_eq!(refused, None);
    let second = store
        .claim_lease(id, &account, "worker-b", NOW_MS + 30_000, NOW_MS + 60_000)
        .await
        .unwrap()
        .expect("an expired lease can be claimed");
    assert!(second.epoch > first.epoch);
    let state = store
        .load_object_state(id, &account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.lease_epoch, second.epoch);
}

/// One commit writes the page's snapshots, change events (with fresh feed cursors), schema
/// events and the object's progress.
pub async fn a_committed_page_writes_snapshots_events_schema_events_and_progress(
    store: Arc<dyn Store>,
) {
    let tenant = create_tenant(&*store, "acme").await;
    let id = tenant.connection.id;
    let mut page = page_of_created(id, 1, 3);
    page.schema_changes = vec![
        SchemaChange::FieldAdded(field("Rating__c")),
        SchemaChange::ObjectVanished,
    ];
    let receipt = store.commit_page(&page).await.unwrap();
    assert_eq!(receipt.cursors.len(), 3);
    assert_strictly_increasing(&receipt.cursors);

    let ids: Vec<RecordId> = (0..5).map(account_id).collect();
    let mut loaded = store
        .load_snapshots(id, &object("Account"), &ids)
        .await
        .unwrap();
    loaded.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(loaded, page.snapshots);
    let counts = store.count_snapshots(id).await.unwrap();
    assert_eq!(counts, BTreeMap::from([(object("Account"), 3)]));

    let events = all_changes(&*store, tenant.organization.id).await;
    assert_eq!(cursors(&events), receipt.cursors);
    for (event, new) in events.iter().zip(&page.changes) {
        assert_eq!(event.change, new.change);
        assert_eq!(event.organization, tenant.organization.slug);
        assert_eq!(
            (event.changed_at_ms, event.detected_at_ms),
            (new.changed_at_ms, NOW_MS)
        );
    }

    let state = store
        .load_object_state(id, &object("Account"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(Some(state.progress), page.progress);
    let schema = store
        .load_schema_events(id, &object("Account"))
        .await
        .unwrap();
    let changes: Vec<_> = schema.into_iter().map(|e| e.change).collect();
    assert_eq!(changes, page.schema_changes);
}

/// A commit whose lease was lost fails with `LeaseLost` and leaves snapshots, change
/// events, schema events and the cursor exactly as they were; the new holder's commit then
/// succeeds.
pub async fn a_commit_with_a_lost_lease_leaves_snapshots_events_and_cursor_untouched(
    store: Arc<dyn Store>,
) {
    let tenant = create_tenant(&*store, "acme").await;
    let id = tenant.connection.id;
    let account = object("Account");
    let old = store
        .claim_lease(id, &account, "worker-a", NOW_MS, NOW_MS + 10)
        .await
        .unwrap()
        .unwrap();
    let mut first = page_of_created(id, 1, 2);
    first.lease_epoch = Some(old.epoch);
    store.commit_page(&first).await.unwrap();
    let new = store
        .claim_lease(id, &account, "worker-b", NOW_MS + 10, NOW_MS + 20)
        .await
        .unwrap()
        .unwrap();
    let before = observe(&*store, &tenant).await;

    // The fenced page updates a record, removes one, adds one and carries a schema event,
    // so that any part written before the fence check would show.
    let mut fenced = page_of_created(id, 3, 2);
    fenced.snapshots.push(snapshot(&account_id(1), "renamed"));
    fenced.removed.push(account_id(2));
    fenced
        .schema_changes
        .push(SchemaChange::FieldHidden(field("Secret__c")));
    fenced.lease_epoch = Some(old.epoch);
    let err = store.commit_page(&fenced).await.unwrap_err();
    assert!(
        matches!(&err, Error::LeaseLost { held, current, .. } if *held == old.epoch && *current == new.epoch),
        "{err}"
    );
    assert_eq!(observe(&*store, &tenant).await, before);

    fenced.lease_epoch = Some(new.epoch);
    store.commit_page(&fenced).await.unwrap();
    assert_ne!(observe(&*store, &tenant).await, before);
}

/// Everything a page commit can touch, for before/after comparisons.
#[derive(Debug, PartialEq)]
struct Observed {
    snapshots: Vec<Snapshot>,
    events: Vec<ChangeEvent>,
    schema_events: usize,
    state: Option<ObjectState>,
}

async fn observe(store: &dyn Store, tenant: &Tenant) -> Observed {
    let id = tenant.connection.id;
    let account = object("Account");
    let ids: Vec<RecordId> = (0..10).map(account_id).collect();
    let mut snapshots = store.load_snapshots(id, &account, &ids).await.unwrap();
    snapshots.sort_by(|a, b| a.id.cmp(&b.id));
    Observed {
        snapshots,
        events: all_changes(store, tenant.organization.id).await,
        schema_events: store.load_schema_events(id, &account).await.unwrap().len(),
        state: store.load_object_state(id, &account).await.unwrap(),
    }
}

/// A page for a connection that does not exist is `NotFound`, and no event appears.
pub async fn a_commit_to_a_missing_connection_is_not_found_and_writes_nothing(
    store: Arc<dyn Store>,
) {
    let tenant = create_tenant(&*store, "acme").await;
    let missing = ConnectionId(tenant.connection.id.0 + 1000);
    let err = store
        .commit_page(&page_of_created(missing, 1, 2))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert!(
        all_changes(&*store, tenant.organization.id)
            .await
            .is_empty()
    );
}

/// A soft-deleted snapshot stays (flagged); a removed one is gone and no longer counted.
pub async fn removed_and_soft_deleted_snapshots_are_told_apart(store: Arc<dyn Store>) {
    let id = create_tenant(&*store, "acme").await.connection.id;
    store.commit_page(&page_of_created(id, 1, 3)).await.unwrap();
    let mut deleted = snapshot(&account_id(1), "A1");
    deleted.is_deleted = true;
    let page = PageCommit {
        snapshots: vec![deleted.clone()],
        removed: vec![account_id(2)],
        changes: Vec::new(),
        progress: None,
        ..page_of_created(id, 1, 1)
    };
    store.commit_page(&page).await.unwrap();

    let ids: Vec<RecordId> = (1..4).map(account_id).collect();
    let mut loaded = store
        .load_snapshots(id, &object("Account"), &ids)
        .await
        .unwrap();
    loaded.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(
        loaded,
        [
            deleted,
            snapshot(&account_id(3), &format!("A{}", account_id(3)))
        ]
    );
    let counts = store.count_snapshots(id).await.unwrap();
    assert_eq!(counts[&object("account")], 2);
    // A commit without progress leaves the cursor where the previous one put it.
    let state = store
        .load_object_state(id, &object("Account"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.progress.cursor, Some(cursor_at(3)));
}

/// Feed cursors are global: across commits and organizations they strictly increase and
/// are never handed out twice.
pub async fn feed_cursors_strictly_increase_across_commits_and_organizations(
    store: Arc<dyn Store>,
) {
    let acme = create_tenant(&*store, "acme").await;
    let globex = create_tenant(&*store, "globex").await;
    let mut given = Vec::new();
    for round in 0..4 {
        for tenant in [&acme, &globex] {
            let page = page_of_created(tenant.connection.id, round * 10 + 1, 3);
            given.extend(store.commit_page(&page).await.unwrap().cursors);
        }
    }
    assert_eq!(given.len(), 24);
    assert_strictly_increasing(&given);
}

/// Commits racing from several tasks each get distinct cursors, and a reader sees every
/// event exactly once, in cursor order.
pub async fn concurrent_commits_get_distinct_cursors_visible_in_order(store: Arc<dyn Store>) {
    let tenant = create_tenant(&*store, "acme").await;
    let id = tenant.connection.id;
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let page = page_of_created(id, task * 100 + 1, 5);
                store.commit_page(&page).await.unwrap().cursors
            })
        })
        .collect();
    let mut given = Vec::new();
    for task in tasks {
        given.extend(task.await.unwrap());
    }
    given.sort();
    let seen = cursors(&all_changes(&*store, tenant.organization.id).await);
    assert_eq!(seen, given);
    assert_strictly_increasing(&seen);
}

/// Reading with `after` pages through the change log in cursor order, without gaps or
/// repeats, and past the end reads nothing.
pub async fn load_changes_pages_with_after_in_cursor_order(store: Arc<dyn Store>) {
    let tenant = create_tenant(&*store, "acme").await;
    for first in [1, 11, 21] {
        let page = page_of_created(
            tenant.connection.id,
            first,
            if first == 21 { 5 } else { 10 },
        );
        store.commit_page(&page).await.unwrap();
    }
    let all = all_changes(&*store, tenant.organization.id).await;
    assert_eq!(all.len(), 25);

    let mut paged = Vec::new();
    let mut after = None;
    let mut sizes = Vec::new();
    loop {
        let page = store
            .load_changes(tenant.organization.id, after, 10)
            .await
            .unwrap();
        sizes.push(page.len());
        let Some(last) = page.last() else { break };
        after = Some(last.cursor);
        paged.extend(page);
    }
    assert_eq!(sizes, [10, 10, 5, 0]);
    assert_eq!(paged, all);
    let from_middle = store
        .load_changes(tenant.organization.id, Some(all[4].cursor), 3)
        .await
        .unwrap();
    assert_eq!(from_middle, all[5..8]);
}

/// Each organization's change log holds only its own events.
pub async fn one_organization_never_sees_another_organizations_changes(store: Arc<dyn Store>) {
    let acme = create_tenant(&*store, "acme").await;
    let globex = create_tenant(&*store, "globex").await;
    store
        .commit_page(&page_of_created(acme.connection.id, 1, 3))
        .await
        .unwrap();
    store
        .commit_page(&page_of_created(globex.connection.id, 1, 2))
        .await
        .unwrap();
    store
        .commit_page(&page_of_created(acme.connection.id, 4, 1))
        .await
        .unwrap();

    let of_acme = all_changes(&*store, acme.organization.id).await;
    let of_globex = all_changes(&*store, globex.organization.id).await;
    assert_eq!((of_acme.len(), of_globex.len()), (4, 2));
    assert!(
        of_acme
            .iter()
            .all(|e| e.organization == acme.organization.slug)
    );
    assert!(
        of_globex
            .iter()
            .all(|e| e.organization == globex.organization.slug)
    );
    // Reading acme after globex's first cursor still returns only acme's later events.
    let after = store
        .load_changes(acme.organization.id, Some(of_globex[0].cursor), 100)
        .await
        .unwrap();
    assert_eq!(after, of_acme[3..]);
    // Snapshots are per connection too: the same Id in another org is another record.
    let counts = store.count_snapshots(globex.connection.id).await.unwrap();
    assert_eq!(counts[&object("Account")], 2);
}

/// Every kind of field value, and every kind of change, comes back from the change log and
/// the snapshots as it went in: a date stays a date, a decimal stays exact.
pub async fn every_field_value_round_trips_through_the_change_log(store: Arc<dyn Store>) {
    let tenant = create_tenant(&*store, "acme").await;
    let values = [
        FieldValue::Null,
        FieldValue::Bool(false),
        FieldValue::Int(i64::MIN),
        FieldValue::Number(sfsync_core::Decimal::parse("-0.000123456789012345678").unwrap()),
        FieldValue::Text("naïve \"quoted\" ; text".to_owned()),
        FieldValue::Date(time::macros::date!(1700 - 01 - 01)),
        FieldValue::DateTime(NOW_MS),
        FieldValue::Json(serde_json::json!({"city": "Paris", "lines": [1, null]})),
    ];
    let fields: BTreeMap<FieldName, FieldChange> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let change = FieldChange {
                old: FieldValue::Text(format!("old {i}")),
                new: v.clone(),
            };
            (field(&format!("F{i}__c")), change)
        })
        .collect();
    let kinds = [
        ChangeKind::Created,
        ChangeKind::Updated,
        ChangeKind::Deleted,
        ChangeKind::Undeleted,
    ];
    let mut page = page_of_created(tenant.connection.id, 1, 4);
    for (new, kind) in page.changes.iter_mut().zip(kinds) {
        new.change.kind = kind;
        new.change.fields = fields.clone();
    }
    page.snapshots[0].values = fields
        .iter()
        .map(|(k, c)| (k.clone(), c.new.clone()))
        .collect();
    store.commit_page(&page).await.unwrap();

    let events = all_changes(&*store, tenant.organization.id).await;
    let back: Vec<Change> = events.into_iter().map(|e| e.change).collect();
    let given: Vec<Change> = page.changes.iter().map(|c| c.change.clone()).collect();
    assert_eq!(back, given);
    let ids = [account_id(1)];
    let loaded = store
        .load_snapshots(tenant.connection.id, &object("Account"), &ids)
        .await
        .unwrap();
    assert_eq!(loaded, page.snapshots[..1]);
}

/// Id ranges are half-open and ordered as Salesforce orders Ids (case-sensitive, upper case
/// first); counting per range agrees with listing.
pub async fn id_ranges_list_and_count_snapshots_in_case_sensitive_order(store: Arc<dyn Store>) {
    let id = create_tenant(&*store, "acme").await.connection.id;
    let texts = [
        "001000000000A01",
        "001000000000B01",
        "001000000000a01",
        "001000000000b01",
    ];
    let ids: Vec<RecordId> = texts.iter().map(|t| RecordId::parse(t).unwrap()).collect();
    let page = PageCommit {
        snapshots: ids.iter().map(|i| snapshot(i, "x")).collect(),
        changes: Vec::new(),
        progress: None,
        ..page_of_created(id, 1, 1)
    };
    store.commit_page(&page).await.unwrap();
    let account = object("Account");

    let everything = IdRange::default();
    let listed = store
        .load_snapshot_ids(id, &account, &everything, 100)
        .await
        .unwrap();
    assert_eq!(listed, ids);
    let upper = IdRange {
        from: None,
        to: Some(ids[2].clone()),
    };
    let lower = IdRange {
        from: Some(ids[2].clone()),
        to: None,
    };
    let upper_ids = store
        .load_snapshot_ids(id, &account, &upper, 100)
        .await
        .unwrap();
    assert_eq!(upper_ids, ids[..2]);
    let limited = store
        .load_snapshot_ids(id, &account, &lower, 1)
        .await
        .unwrap();
    assert_eq!(limited, ids[2..3]);

    let counts = store
        .count_snapshots_in_ranges(id, &account, &[upper, lower, everything])
        .await
        .unwrap();
    assert_eq!(counts, [2, 2, 4]);
    let other = store
        .count_snapshots_in_ranges(id, &object("Contact"), &[IdRange::default()])
        .await
        .unwrap();
    assert_eq!(other, [0]);
}

/// Runs come back newest first; the API spend sums only calls inside the window and
/// reports the latest org-wide usage seen.
pub async fn runs_and_api_spend_are_recorded(store: Arc<dyn Store>) {
    let id = create_tenant(&*store, "acme").await.connection.id;
    let run = |started_at_ms, outcome, error: Option<&str>| RunRecord {
        connection: id,
        object: object("Account"),
        started_at_ms,
        finished_at_ms: started_at_ms + 500,
        records_read: 2_000,
        events: 3,
        api_calls: 2,
        outcome,
        error: error.map(str::to_owned),
    };
    let older = run(NOW_MS - 60_000, RunOutcome::Succeeded, None);
    let newer = run(NOW_MS, RunOutcome::Failed, Some("QUERY_TIMEOUT"));
    let first = store.save_run(&older).await.unwrap();
    let second = store.save_run(&newer).await.unwrap();
    assert_ne!(first, second);
    assert_eq!(
        store.load_runs(id, 10).await.unwrap(),
        [newer.clone(), older]
    );
    assert_eq!(store.load_runs(id, 1).await.unwrap(), [newer]);

    let spend = |at_ms, calls, org_usage| ApiCalls {
        connection: id,
        at_ms,
        calls,
        org_usage,
    };
    let usage = |used| Some(OrgUsage { used, max: 15_000 });
    store
        .save_api_calls(&spend(NOW_MS - DAY_MS - 1, 100, usage(9_000)))
        .await
        .unwrap();
    store
        .save_api_calls(&spend(NOW_MS - 1_000, 3, usage(9_500)))
        .await
        .unwrap();
    store.save_api_calls(&spend(NOW_MS, 1, None)).await.unwrap();
    let spent = store.load_api_spend(id, NOW_MS - DAY_MS).await.unwrap();
    assert_eq!(spent.calls, 4);
    assert_eq!(
        spent.latest_org_usage,
        Some((
            NOW_MS - 1_000,
            OrgUsage {
                used: 9_500,
                max: 15_000
            }
        ))
    );
}

const HOUR_MS: i64 = 60 * 60 * 1000;

fn hash(byte: u8) -> TokenHash {
    TokenHash([byte; 32])
}

/// Runs `attempt` from eight tasks at once; how many of them got something.
async fn successes<F, Fut, T>(store: &Arc<dyn Store>, attempt: F) -> usize
where
    F: Fn(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = Option<T>> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = (0..8)
        .map(|_| tokio::spawn(attempt(store.clone())))
        .collect();
    let mut got = 0;
    for task in tasks {
        got += usize::from(task.await.unwrap().is_some());
    }
    got
}

/// A sign-in link yields its user once, even to racing requests; an expired link, an
/// unknown hash and a session's hash yield nobody, and trying a session's hash as a link
/// leaves the session alone.
pub async fn a_sign_in_link_works_once_and_never_after_it_expires(store: Arc<dyn Store>) {
    let admin = create_tenant(&*store, "acme").await.admin;
    let expires = NOW_MS + 15 * 60_000;
    let link = hash(1);
    store
        .create_credential(Credential::SignInLink, admin.id, &link, expires)
        .await
        .unwrap();
    assert_eq!(
        store.redeem_sign_in_link(&link, NOW_MS).await.unwrap(),
        Some(admin.clone())
    );
    assert_eq!(
        store.redeem_sign_in_link(&link, NOW_MS).await.unwrap(),
        None
    );

    let raced = hash(2);
    store
        .create_credential(Credential::SignInLink, admin.id, &raced, expires)
        .await
        .unwrap();
    let redeemed = successes(&store, move |store| async move {
        store.redeem_sign_in_link(&raced, NOW_MS).await.unwrap()
    })
    .await;
    assert_eq!(redeemed, 1, "a link redeemed by racing requests");

    let late = hash(3);
    store
        .create_credential(Credential::SignInLink, admin.id, &late, expires)
        .await
        .unwrap();
    assert_eq!(
        store.redeem_sign_in_link(&late, expires).await.unwrap(),
        None
    );
    assert_eq!(
        store.redeem_sign_in_link(&hash(9), NOW_MS).await.unwrap(),
        None
    );

    let session = hash(4);
    store
        .create_credential(Credential::Session, admin.id, &session, expires)
        .await
        .unwrap();
    assert_eq!(
        store.redeem_sign_in_link(&session, NOW_MS).await.unwrap(),
        None
    );
    assert_eq!(
        store.load_session_user(&session, NOW_MS).await.unwrap(),
        Some(admin)
    );
}

/// A session finds its user until it expires or is deleted; a sign-in link is no session,
/// deleting a session twice is harmless, and a taken hash or a missing user is refused.
pub async fn a_session_finds_its_user_until_it_is_deleted_or_expires(store: Arc<dyn Store>) {
    let tenant = create_tenant(&*store, "acme").await;
    let member = store
        .create_user(
            tenant.organization.id,
            "m@acme.example",
            Role::Member,
            NOW_MS,
        )
        .await
        .unwrap();
    let (session, expires) = (hash(1), NOW_MS + DAY_MS);
    store
        .create_credential(Credential::Session, member.id, &session, expires)
        .await
        .unwrap();
    for now_ms in [NOW_MS, expires - 1] {
        let found = store.load_session_user(&session, now_ms).await.unwrap();
        assert_eq!(found.as_ref(), Some(&member), "at {now_ms}");
    }
    assert_eq!(
        store.load_session_user(&session, expires).await.unwrap(),
        None
    );

    let link = hash(2);
    store
        .create_credential(Credential::SignInLink, member.id, &link, expires)
        .await
        .unwrap();
    assert_eq!(store.load_session_user(&link, NOW_MS).await.unwrap(), None);
    store.delete_session(&link).await.unwrap();

    store.delete_session(&session).await.unwrap();
    assert_eq!(
        store.load_session_user(&session, NOW_MS).await.unwrap(),
        None
    );
    store.delete_session(&session).await.unwrap();
    // Deleting a session by a link's hash left the link working.
    assert_eq!(
        store.redeem_sign_in_link(&link, NOW_MS).await.unwrap(),
        Some(member.clone())
    );

    let taken = hash(3);
    store
        .create_credential(Credential::Session, member.id, &taken, expires)
        .await
        .unwrap();
    let again = store
        .create_credential(Credential::Session, tenant.admin.id, &taken, expires)
        .await
        .unwrap_err();
    assert!(matches!(again, Error::AlreadyExists { .. }), "{again}");
    let nobody = UserId(member.id.0 + 1000);
    let missing = store
        .create_credential(Credential::Session, nobody, &hash(4), expires)
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::NotFound { .. }), "{missing}");
}

/// A user is found by id, in any organization; an unknown id finds nobody.
pub async fn a_user_is_found_by_id_and_an_unknown_id_finds_nobody(store: Arc<dyn Store>) {
    let acme = create_tenant(&*store, "acme").await;
    let globex = create_tenant(&*store, "globex").await;
    assert_eq!(
        store.load_user(acme.admin.id).await.unwrap(),
        Some(acme.admin.clone())
    );
    assert_eq!(
        store.load_user(globex.admin.id).await.unwrap(),
        Some(globex.admin.clone())
    );
    let unknown = UserId(acme.admin.id.0.max(globex.admin.id.0) + 1);
    assert_eq!(store.load_user(unknown).await.unwrap(), None);
}

fn pending_connect(tenant: &Tenant, state: u8) -> PendingConnect {
    PendingConnect {
        state_hash: hash(state),
        organization: tenant.organization.id,
        user: tenant.admin.id,
        session: Some(hash(state.wrapping_add(100))),
        environment: Environment::Custom,
        login_url: "https://acme.my.salesforce.com".to_owned(),
        sealed_verifier: SealedSecret(vec![0x00, 0xff, 0x80, 0x00]),
        created_at_ms: NOW_MS,
        expires_at_ms: NOW_MS + 10 * 60_000,
    }
}

/// A pending connect comes back as it was saved, once: the second take finds nothing, racing
/// takes get it once, and an expired one is still handed out (once) so that the caller can
/// say it expired.
pub async fn a_pending_connect_is_taken_once_even_after_it_expires(store: Arc<dyn Store>) {
    let tenant = create_tenant(&*store, "acme").await;
    let pending = pending_connect(&tenant, 1);
    store.create_pending_connect(&pending).await.unwrap();
    let twice = store.create_pending_connect(&pending).await.unwrap_err();
    assert!(matches!(twice, Error::AlreadyExists { .. }), "{twice}");
    let state = pending.state_hash;
    assert_eq!(
        store.take_pending_connect(&state).await.unwrap(),
        Some(pending)
    );
    assert_eq!(store.take_pending_connect(&state).await.unwrap(), None);

    let expired = PendingConnect {
        session: None,
        environment: Environment::Production,
        expires_at_ms: NOW_MS - 1,
        ..pending_connect(&tenant, 2)
    };
    store.create_pending_connect(&expired).await.unwrap();
    let taken = store.take_pending_connect(&expired.state_hash).await;
    assert_eq!(taken.unwrap(), Some(expired.clone()));
    let again = store.take_pending_connect(&expired.state_hash).await;
    assert_eq!(again.unwrap(), None);

    let raced = pending_connect(&tenant, 3);
    store.create_pending_connect(&raced).await.unwrap();
    let state = raced.state_hash;
    let takes = successes(&store, move |store| async move {
        store.take_pending_connect(&state).await.unwrap()
    })
    .await;
    assert_eq!(takes, 1, "a state taken by racing callbacks");
    assert_eq!(store.take_pending_connect(&hash(9)).await.unwrap(), None);
}

/// A connection starts with the default settings; saved ones come back, and survive a
/// reconnect and a disconnect; each connection has its own.
pub async fn connection_settings_start_at_the_defaults_and_survive_a_reconnect(
    store: Arc<dyn Store>,
) {
    let tenant = create_tenant(&*store, "acme").await;
    let id = tenant.connection.id;
    let defaults = ConnectionSettings {
        polling_interval_secs: 300,
        budget_share_percent: 50,
    };
    assert_eq!(store.load_connection_settings(id).await.unwrap(), defaults);

    let chosen = ConnectionSettings {
        polling_interval_secs: 3_600,
        budget_share_percent: 100,
    };
    store.save_connection_settings(id, &chosen).await.unwrap();
    assert_eq!(store.load_connection_settings(id).await.unwrap(), chosen);
    let again = store
        .save_connection(&tenant.connection.details)
        .await
        .unwrap();
    assert_eq!(again.id, id);
    assert_eq!(store.load_connection_settings(id).await.unwrap(), chosen);
    store.disconnect(id, SyncedData::Delete).await.unwrap();
    store
        .save_connection(&tenant.connection.details)
        .await
        .unwrap();
    assert_eq!(store.load_connection_settings(id).await.unwrap(), chosen);

    let other = create_tenant(&*store, "globex").await.connection.id;
    assert_eq!(
        store.load_connection_settings(other).await.unwrap(),
        defaults
    );
    let missing = ConnectionId(id.0.max(other.0) + 1000);
    let err = store.load_connection_settings(missing).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    let err = store
        .save_connection_settings(missing, &chosen)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

/// Gives a tenant's connection everything a disconnect may delete: tokens, a selection with
/// an unselected object, a projection, snapshots, change events, a schema event and a read
/// position with a finished load.
async fn seed_synced_data(store: &dyn Store, tenant: &Tenant) {
    let id = tenant.connection.id;
    store
        .save_sealed_tokens(id, &SealedSecret(vec![9, 0, 9]))
        .await
        .unwrap();
    store
        .save_selected_objects(id, &[object("Account"), object("Contact")])
        .await
        .unwrap();
    store
        .save_selected_objects(id, &[object("Account")])
        .await
        .unwrap();
    let projection =
        Projection::new(object("Account")).with_field(field("Name"), FieldType::String, None);
    store
        .save_projection(id, &projection, NOW_MS)
        .await
        .unwrap();
    let mut page = page_of_created(id, 1, 3);
    page.schema_changes = vec![SchemaChange::FieldAdded(field("Rating__c"))];
    if let Some(progress) = &mut page.progress {
        progress.load = LoadProgress {
            last_id: Some(account_id(3)),
            done: true,
        };
        progress.maintenance.reconciled_at_ms = Some(NOW_MS - 2);
    }
    store.commit_page(&page).await.unwrap();
}

/// A tick still running when an admin disconnects may save a refreshed token, or fail its
/// refresh (the token was revoked) and mark the connection for re-authorization: neither
/// may undo the disconnect.
pub async fn a_tick_in_flight_never_revives_a_disconnected_connection(store: Arc<dyn Store>) {
    let acme = create_tenant(&*store, "acme").await;
    let globex = create_tenant(&*store, "globex").await;
    store
        .disconnect(acme.connection.id, SyncedData::Keep)
        .await
        .unwrap();
    for tenant in [&acme, &globex] {
        store
            .save_connection_status(
                tenant.connection.id,
                ConnectionStatus::NeedsReauthorization,
                Some("invalid_grant: expired access/refresh token"),
            )
            .await
            .unwrap();
    }
    let status = |c: Option<Connection>| c.map(|c| (c.status, c.status_detail));
    let acme_now = status(store.load_connection(acme.organization.id).await.unwrap());
    assert_eq!(acme_now, Some((ConnectionStatus::Disconnected, None)));
    let globex_now = status(store.load_connection(globex.organization.id).await.unwrap());
    let marked = Some("invalid_grant: expired access/refresh token".to_owned());
    assert_eq!(
        globex_now,
        Some((ConnectionStatus::NeedsReauthorization, marked))
    );

    // A refresh still in flight saves rotated tokens: the disconnected connection keeps none.
    let rotated = SealedSecret(vec![9; 48]);
    let mut lock = store.lock_tokens(acme.connection.id).await.unwrap();
    lock.save(&rotated).await.unwrap();
    drop(lock);
    assert_eq!(
        store.load_sealed_tokens(acme.connection.id).await.unwrap(),
        None
    );

    // An admin's reconnect, and any other status, still apply.
    store
        .save_connection_status(acme.connection.id, ConnectionStatus::Active, None)
        .await
        .unwrap();
    let acme_now = status(store.load_connection(acme.organization.id).await.unwrap());
    assert_eq!(acme_now, Some((ConnectionStatus::Active, None)));
}

/// Disconnecting and keeping the data deletes the tokens and marks the connection
/// disconnected; snapshots, changes, schema events and positions stay as they were, and
/// another connection keeps its tokens.
pub async fn disconnecting_and_keeping_data_deletes_only_the_tokens(store: Arc<dyn Store>) {
    let acme = create_tenant(&*store, "acme").await;
    let globex = create_tenant(&*store, "globex").await;
    seed_synced_data(&*store, &acme).await;
    seed_synced_data(&*store, &globex).await;
    let before = observe(&*store, &acme).await;
    assert!(!before.events.is_empty() && before.schema_events > 0);

    store
        .disconnect(acme.connection.id, SyncedData::Keep)
        .await
        .unwrap();
    assert_eq!(observe(&*store, &acme).await, before);
    assert_eq!(
        store.load_sealed_tokens(acme.connection.id).await.unwrap(),
        None
    );
    let connection = store.load_connection(acme.organization.id).await.unwrap();
    assert_eq!(
        connection.map(|c| c.status),
        Some(ConnectionStatus::Disconnected)
    );
    assert!(
        store
            .load_sealed_tokens(globex.connection.id)
            .await
            .unwrap()
            .is_some()
    );
    let missing = ConnectionId(globex.connection.id.0 + 1000);
    let err = store
        .disconnect(missing, SyncedData::Keep)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

/// Disconnecting and deleting the data removes the connection's snapshots, change events,
/// schema events, projections and read positions, keeps which objects are selected, and
/// leaves another connection's rows exactly as they were.
pub async fn disconnecting_and_deleting_data_keeps_only_the_selection(store: Arc<dyn Store>) {
    let acme = create_tenant(&*store, "acme").await;
    let globex = create_tenant(&*store, "globex").await;
    seed_synced_data(&*store, &acme).await;
    seed_synced_data(&*store, &globex).await;
    let globex_before = observe(&*store, &globex).await;
    let globex_states = store
        .load_object_states(globex.connection.id)
        .await
        .unwrap();

    let id = acme.connection.id;
    store.disconnect(id, SyncedData::Delete).await.unwrap();
    assert_eq!(store.count_snapshots(id).await.unwrap(), BTreeMap::new());
    assert_eq!(all_changes(&*store, acme.organization.id).await, []);
    let schema = store.load_schema_events(id, &object("Account")).await;
    assert_eq!(schema.unwrap(), []);
    assert_eq!(store.load_sealed_tokens(id).await.unwrap(), None);
    let connection = store.load_connection(acme.organization.id).await.unwrap();
    assert_eq!(
        connection.map(|c| c.status),
        Some(ConnectionStatus::Disconnected)
    );
    let states = store.load_object_states(id).await.unwrap();
    let selection: Vec<(&str, bool)> = states
        .iter()
        .map(|s| (s.object.as_str(), s.selected))
        .collect();
    assert_eq!(selection, [("Account", true), ("Contact", false)]);
    for state in &states {
        assert_eq!(state.projection, None, "{}", state.object);
        assert_eq!(state.describe_fetched_at_ms, None, "{}", state.object);
        assert_eq!(
            state.progress,
            ObjectProgress::default(),
            "{}",
            state.object
        );
    }

    assert_eq!(observe(&*store, &globex).await, globex_before);
    assert_eq!(
        store
            .load_object_states(globex.connection.id)
            .await
            .unwrap(),
        globex_states
    );
    assert!(
        store
            .load_sealed_tokens(globex.connection.id)
            .await
            .unwrap()
            .is_some()
    );
}

/// Every connection's tokens are listed for a key rotation; a replacement lands only while
/// the tokens still equal what the rotation read, and touches no other connection.
pub async fn replacing_sealed_tokens_swaps_them_only_while_they_are_unchanged(
    store: Arc<dyn Store>,
) {
    let acme = create_tenant(&*store, "acme").await.connection.id;
    let globex = create_tenant(&*store, "globex").await.connection.id;
    let initech = create_tenant(&*store, "initech").await.connection.id;
    let (old, rotated) = (SealedSecret(b"old".to_vec()), SealedSecret(b"new".to_vec()));
    let theirs = SealedSecret(b"globex".to_vec());
    store.save_sealed_tokens(acme, &old).await.unwrap();
    store.save_sealed_tokens(globex, &theirs).await.unwrap();
    let mut all = store.load_all_sealed_tokens().await.unwrap();
    all.sort_by_key(|(id, _)| *id);
    assert_eq!(all, [(acme, old.clone()), (globex, theirs.clone())]);

    assert!(
        store
            .replace_sealed_tokens(acme, &old, &rotated)
            .await
            .unwrap()
    );
    assert_eq!(
        store.load_sealed_tokens(acme).await.unwrap(),
        Some(rotated.clone())
    );
    // The rotation read `old`, but a refresh has saved other tokens since.
    let stale = SealedSecret(b"resealed old".to_vec());
    assert!(
        !store
            .replace_sealed_tokens(acme, &old, &stale)
            .await
            .unwrap()
    );
    assert_eq!(store.load_sealed_tokens(acme).await.unwrap(), Some(rotated));
    assert_eq!(
        store.load_sealed_tokens(globex).await.unwrap(),
        Some(theirs)
    );
    assert!(
        !store
            .replace_sealed_tokens(initech, &old, &stale)
            .await
            .unwrap()
    );
    assert_eq!(store.load_sealed_tokens(initech).await.unwrap(), None);
}

/// Recent changes are the organization's newest events, newest first, up to the limit; the
/// events of another organization committed in between never appear.
pub async fn recent_changes_are_newest_first_and_only_the_organizations_own(store: Arc<dyn Store>) {
    let acme = create_tenant(&*store, "acme").await;
    let globex = create_tenant(&*store, "globex").await;
    for (tenant, first, count) in [
        (&acme, 1, 3),
        (&globex, 1, 2),
        (&acme, 4, 2),
        (&globex, 3, 1),
    ] {
        let page = page_of_created(tenant.connection.id, first, count);
        store.commit_page(&page).await.unwrap();
    }
    let oldest_first = all_changes(&*store, acme.organization.id).await;
    let newest_first: Vec<ChangeEvent> = oldest_first.iter().rev().cloned().collect();
    let recent = store
        .load_recent_changes(acme.organization.id, 100)
        .await
        .unwrap();
    assert_eq!(recent, newest_first);
    let two = store
        .load_recent_changes(acme.organization.id, 2)
        .await
        .unwrap();
    assert_eq!(two, newest_first[..2]);
    let theirs = store
        .load_recent_changes(globex.organization.id, 100)
        .await
        .unwrap();
    assert_eq!(theirs.len(), 3);
    assert!(
        theirs
            .iter()
            .all(|e| e.organization == globex.organization.slug)
    );
}

/// A record's changes are its own events, oldest first, up to the limit: the object is
/// matched without case, and the same Id under another object or in another organization
/// is another record.
pub async fn a_records_changes_are_its_own_oldest_first(store: Arc<dyn Store>) {
    let acme = create_tenant(&*store, "acme").await;
    let globex = create_tenant(&*store, "globex").await;
    let id = acme.connection.id;
    let record = account_id(2);
    store.commit_page(&page_of_created(id, 1, 3)).await.unwrap();
    let mut update = page_of_created(id, 2, 1);
    update.changes[0].change.kind = ChangeKind::Updated;
    store.commit_page(&update).await.unwrap();
    let contact = PageCommit {
        object: object("Contact"),
        ..page_of_created(id, 2, 1)
    };
    store.commit_page(&contact).await.unwrap();
    store
        .commit_page(&page_of_created(globex.connection.id, 2, 1))
        .await
        .unwrap();

    let organization = acme.organization.id;
    let history = store
        .load_record_changes(organization, &object("ACCOUNT"), &record, 100)
        .await
        .unwrap();
    let kinds: Vec<ChangeKind> = history.iter().map(|e| e.change.kind).collect();
    assert_eq!(kinds, [ChangeKind::Created, ChangeKind::Updated]);
    assert!(history.iter().all(|e| e.change.record_id == record));
    assert!(history.iter().all(|e| e.object == object("Account")));
    assert!(
        history
            .iter()
            .all(|e| e.organization == acme.organization.slug)
    );
    let first = store
        .load_record_changes(organization, &object("Account"), &record, 1)
        .await
        .unwrap();
    assert_eq!(first, history[..1]);
    let unknown = store
        .load_record_changes(organization, &object("Account"), &account_id(7), 100)
        .await
        .unwrap();
    assert_eq!(unknown, []);
}

/// API calls are summed per UTC hour since the moment asked for, oldest hour first; hours
/// without calls and other connections' calls are left out.
pub async fn api_calls_are_summed_per_hour_since_a_moment(store: Arc<dyn Store>) {
    let id = create_tenant(&*store, "acme").await.connection.id;
    let other = create_tenant(&*store, "globex").await.connection.id;
    let hour = NOW_MS / HOUR_MS * HOUR_MS;
    let since = hour - HOUR_MS;
    let spent = [
        (id, since - 1, 100),
        (id, since, 1),
        (id, hour - 1, 2),
        (id, hour, 4),
        (other, hour + 1, 50),
        (id, hour + HOUR_MS - 1, 5),
        (id, hour + 3 * HOUR_MS + 10, 6),
    ];
    for (connection, at_ms, calls) in spent {
        let calls = ApiCalls {
            connection,
            at_ms,
            calls,
            org_usage: None,
        };
        store.save_api_calls(&calls).await.unwrap();
    }
    assert_eq!(
        store.load_api_calls_by_hour(id, since).await.unwrap(),
        [(since, 3), (hour, 9), (hour + 3 * HOUR_MS, 6)]
    );
    assert_eq!(
        store.load_api_calls_by_hour(other, since).await.unwrap(),
        [(hour, 50)]
    );
}

/// The audit log reads newest first, up to the limit, one organization at a time; an entry
/// by sfsync itself has no user.
pub async fn the_audit_log_reads_newest_first_one_organization_at_a_time(store: Arc<dyn Store>) {
    let acme = create_tenant(&*store, "acme").await;
    let globex = create_tenant(&*store, "globex").await;
    let entry = |tenant: &Tenant, user: Option<UserId>, action: &str, at_ms| AuditEntry {
        organization: tenant.organization.id,
        user,
        action: action.to_owned(),
        detail: format!("{action} at {at_ms}"),
        at_ms,
    };
    let admin = Some(acme.admin.id);
    let entries = [
        entry(&acme, admin, "connected", NOW_MS - 2_000),
        entry(&globex, Some(globex.admin.id), "connected", NOW_MS - 1_500),
        entry(&acme, admin, "settings_changed", NOW_MS - 1_000),
        entry(&acme, None, "needs_reauthorization", NOW_MS),
    ];
    for entry in &entries {
        store.save_audit(entry).await.unwrap();
    }
    let log = store.load_audit(acme.organization.id, 10).await.unwrap();
    assert_eq!(
        log,
        [entries[3].clone(), entries[2].clone(), entries[0].clone()]
    );
    let latest = store.load_audit(acme.organization.id, 1).await.unwrap();
    assert_eq!(latest, log[..1]);
    let theirs = store.load_audit(globex.organization.id, 10).await.unwrap();
    assert_eq!(theirs, [entries[1].clone()]);
}

/// What [`seed_for_reopen`] wrote, for [`check_after_reopen`] to find.
#[derive(Debug)]
pub struct ReopenSeed {
    organization: OrganizationSlug,
    events: Vec<ChangeEvent>,
    state: ObjectState,
    tokens: SealedSecret,
}

/// Writes a tenant, tokens, object state and committed pages, before a restart.
pub async fn seed_for_reopen(store: Arc<dyn Store>) -> ReopenSeed {
    let tenant = create_tenant(&*store, "acme").await;
    let id = tenant.connection.id;
    let tokens = SealedSecret(vec![1, 0, 255, 42]);
    store.save_sealed_tokens(id, &tokens).await.unwrap();
    store
        .save_selected_objects(id, &[object("Account")])
        .await
        .unwrap();
    store.commit_page(&page_of_created(id, 1, 3)).await.unwrap();
    store.commit_page(&page_of_created(id, 4, 2)).await.unwrap();
    ReopenSeed {
        organization: tenant.organization.slug,
        events: all_changes(&*store, tenant.organization.id).await,
        state: store
            .load_object_state(id, &object("Account"))
            .await
            .unwrap()
            .unwrap(),
        tokens,
    }
}

/// After a restart: everything seeded is there, and new events get cursors above every
/// cursor handed out before.
pub async fn check_after_reopen(store: Arc<dyn Store>, seed: &ReopenSeed) {
    let organization = store
        .load_organization(&seed.organization)
        .await
        .unwrap()
        .unwrap();
    let connection = store
        .load_connection(organization.id)
        .await
        .unwrap()
        .unwrap();
    let id = connection.id;
    assert_eq!(all_changes(&*store, organization.id).await, seed.events);
    let state = store
        .load_object_state(id, &object("Account"))
        .await
        .unwrap();
    assert_eq!(state.as_ref(), Some(&seed.state));
    assert_eq!(
        store.load_sealed_tokens(id).await.unwrap().as_ref(),
        Some(&seed.tokens)
    );
    assert_eq!(
        store.count_snapshots(id).await.unwrap()[&object("Account")],
        5
    );

    let receipt = store.commit_page(&page_of_created(id, 6, 1)).await.unwrap();
    let highest = seed.events.last().map(|e| e.cursor).unwrap();
    assert!(
        receipt.cursors[0] > highest,
        "{:?} reused after reopen",
        receipt.cursors
    );
}
