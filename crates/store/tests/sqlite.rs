//! The SQLite backend against the conformance suite, plus what only a file can show: the
//! data surviving a reopen, the lock file, and rows damaged behind the store's back.

use std::sync::Arc;

use sfsync_store::conformance::{self, check_after_reopen, seed_for_reopen};
use sfsync_store::{Error, SqliteStore, Store};
use tempfile::TempDir;

/// A fresh store in its own temporary directory, removed when the guard drops.
async fn open_temp() -> (Arc<dyn Store>, TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(&database_url(&dir)).await.expect("open");
    (Arc::new(store), dir)
}

fn database_url(dir: &TempDir) -> String {
    format!("sqlite://{}", dir.path().join("sfsync.db").display())
}

sfsync_store::conformance_tests!(open_temp);

#[tokio::test]
async fn reopening_the_file_keeps_everything_and_never_reuses_a_feed_cursor() {
    let (store, dir) = open_temp().await;
    let seed = seed_for_reopen(store.clone()).await;
    store.close().await;
    drop(store);

    let reopened: Arc<dyn Store> = Arc::new(SqliteStore::open(&database_url(&dir)).await.unwrap());
    check_after_reopen(reopened, &seed).await;
}

#[tokio::test]
async fn a_second_open_of_the_same_file_fails_with_the_lock_error_until_the_first_closes() {
    let (store, dir) = open_temp().await;
    let err = SqliteStore::open(&database_url(&dir)).await.unwrap_err();
    let lock_path = dir.path().join("sfsync.db.lock");
    match &err {
        Error::Locked { path } => assert_eq!(path, &lock_path),
        other => panic!("expected a lock error, got {other}"),
    }
    assert!(
        err.to_string().contains(&lock_path.display().to_string()),
        "{err}"
    );

    store.close().await;
    let second = SqliteStore::open(&database_url(&dir)).await.unwrap();
    second.close().await;
}

#[tokio::test]
async fn a_plain_path_opens_the_same_store_as_a_sqlite_url() {
    let (store, dir) = open_temp().await;
    conformance::create_tenant(&*store, "acme").await;
    store.close().await;

    let by_path = SqliteStore::open(dir.path().join("sfsync.db").to_str().unwrap())
        .await
        .unwrap();
    let slug = sfsync_core::OrganizationSlug::parse("acme").unwrap();
    assert!(by_path.load_organization(&slug).await.unwrap().is_some());
}

#[tokio::test]
async fn a_damaged_row_is_reported_as_corrupt_naming_it_never_a_panic() {
    let (store, dir) = open_temp().await;
    let tenant = conformance::create_tenant(&*store, "acme").await;
    let id = sfsync_core::RecordId::parse("001000000000001").unwrap();
    let account = sfsync_core::ObjectName::parse("Account").unwrap();
    let page = sfsync_store::PageCommit {
        connection: tenant.connection.id,
        object: account.clone(),
        lease_epoch: None,
        snapshots: vec![sfsync_core::Snapshot {
            id: id.clone(),
            values: Default::default(),
            is_deleted: false,
        }],
        removed: vec![],
        changes: vec![],
        schema_changes: vec![],
        detected_at_ms: 0,
        progress: None,
    };
    store.commit_page(&page).await.unwrap();
    store.close().await;

    damage(
        &dir,
        "UPDATE snapshots SET fields = '{\"Name\": {\"t\": \"date\", \"v\": \"soon\"}}'",
    )
    .await;
    damage(&dir, "UPDATE connections SET status = 'confused'").await;

    let store = SqliteStore::open(&database_url(&dir)).await.unwrap();
    let err = store
        .load_snapshots(tenant.connection.id, &account, &[id])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("snapshot 001000000000001AAA of Account"),
        "{err}"
    );
    let err = store
        .load_connection(tenant.organization.id)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "corrupt connection status: unknown value \"confused\""
    );
}

/// Changes the file with a raw connection, as a bug or a hand edit might.
async fn damage(dir: &TempDir, sql: &'static str) {
    use sqlx::Connection;
    let url = format!("{}?mode=rw", database_url(dir));
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(sql).execute(&mut db).await.unwrap();
    db.close().await.unwrap();
}

#[tokio::test]
async fn a_lease_left_by_a_process_that_died_is_released_when_the_file_reopens() {
    let (store, dir) = open_temp().await;
    let tenant = conformance::create_tenant(&*store, "acme").await;
    let object = sfsync_core::ObjectName::parse("Account").unwrap();
    let far = i64::MAX / 2;
    let held = store
        .claim_lease(tenant.connection.id, &object, "dead", 0, far)
        .await
        .unwrap();
    let epoch = held.expect("the first claim succeeds").epoch;
    store.close().await;
    drop(store);

    let reopened = SqliteStore::open(&database_url(&dir)).await.unwrap();
    let claimed = reopened
        .claim_lease(tenant.connection.id, &object, "alive", 1, far)
        .await
        .unwrap();
    let lease = claimed.expect("the dead process's lease was released at open");
    assert!(
        lease.epoch > epoch,
        "the epoch still fences the dead process off"
    );
}

#[tokio::test]
async fn a_store_opened_beside_the_holder_needs_no_lock_and_its_writes_reach_the_holder() {
    let (holder, dir) = open_temp().await;
    let beside = SqliteStore::open_beside(&database_url(&dir)).await.unwrap();
    let slug = sfsync_core::OrganizationSlug::parse("acme").unwrap();
    let created = beside.create_organization(&slug, 1).await.unwrap();
    let user = beside
        .create_user(created.id, "a@acme.example", sfsync_store::Role::Admin, 1)
        .await
        .unwrap();

    assert_eq!(
        holder.load_organization(&slug).await.unwrap(),
        Some(created)
    );
    assert_eq!(holder.load_user(user.id).await.unwrap(), Some(user));
    beside.close().await;
    // Closing the store beside released nothing of the holder's.
    let err = SqliteStore::open(&database_url(&dir)).await.unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
}

#[tokio::test]
async fn opening_beside_the_holder_leaves_its_leases_alone() {
    let (holder, dir) = open_temp().await;
    let tenant = conformance::create_tenant(&*holder, "acme").await;
    let object = sfsync_core::ObjectName::parse("Account").unwrap();
    let far = i64::MAX / 2;
    let held = holder
        .claim_lease(tenant.connection.id, &object, "serve", 0, far)
        .await
        .unwrap();
    assert!(held.is_some());

    let beside = SqliteStore::open_beside(&database_url(&dir)).await.unwrap();
    let claimed = holder
        .claim_lease(tenant.connection.id, &object, "other", 1, far)
        .await
        .unwrap();
    assert_eq!(claimed, None, "the live holder's lease was released");
    beside.close().await;
}

#[tokio::test]
async fn deleting_the_data_at_disconnect_fences_off_a_run_still_in_flight() {
    let (store, _dir) = open_temp().await;
    let tenant = conformance::create_tenant(&*store, "acme").await;
    let id = tenant.connection.id;
    let account = sfsync_core::ObjectName::parse("Account").unwrap();
    let lease = store
        .claim_lease(id, &account, "worker", 0, i64::MAX / 2)
        .await
        .unwrap()
        .unwrap();
    store
        .disconnect(id, sfsync_store::SyncedData::Delete)
        .await
        .unwrap();

    let record = sfsync_core::RecordId::parse("001000000000001").unwrap();
    let late = sfsync_store::PageCommit {
        connection: id,
        object: account.clone(),
        lease_epoch: Some(lease.epoch),
        snapshots: vec![sfsync_core::Snapshot {
            id: record,
            values: Default::default(),
            is_deleted: false,
        }],
        removed: vec![],
        changes: vec![],
        schema_changes: vec![],
        detected_at_ms: 0,
        progress: None,
    };
    let err = store.commit_page(&late).await.unwrap_err();
    assert!(err.is_lease_lost(), "{err}");
    assert!(store.count_snapshots(id).await.unwrap().is_empty());
}

#[tokio::test]
async fn each_sign_in_clears_the_credentials_that_have_expired() {
    use sfsync_store::{Credential, TokenHash};
    let (store, dir) = open_temp().await;
    let admin = conformance::create_tenant(&*store, "acme").await.admin;
    let credentials = [
        (Credential::Session, TokenHash([1; 32]), 100),
        (Credential::SignInLink, TokenHash([2; 32]), 100),
        (Credential::Session, TokenHash([3; 32]), 10_000),
        (Credential::SignInLink, TokenHash([4; 32]), 10_000),
    ];
    for (kind, hash, expires_at_ms) in &credentials {
        store
            .create_credential(*kind, admin.id, hash, *expires_at_ms)
            .await
            .unwrap();
    }
    assert_eq!(
        count_rows(&dir, "SELECT COUNT(*) FROM credentials").await,
        4
    );

    let user = store.redeem_sign_in_link(&TokenHash([4; 32]), 100).await;
    assert_eq!(user.unwrap(), Some(admin));
    // The two expired ones and the redeemed link are gone; the live session stays.
    assert_eq!(
        count_rows(&dir, "SELECT COUNT(*) FROM credentials").await,
        1
    );
}

/// Reads a count with a raw connection, beside the open store.
async fn count_rows(dir: &TempDir, sql: &'static str) -> i64 {
    use sqlx::Connection;
    let url = format!("{}?mode=ro", database_url(dir));
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let count = sqlx::query_scalar(sql).fetch_one(&mut db).await.unwrap();
    db.close().await.unwrap();
    count
}
