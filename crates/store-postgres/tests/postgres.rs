//! The PostgreSQL backend against the conformance suite, plus what only several worker
//! processes sharing one database can show: two stores on one schema stand for two
//! processes, each with its own pool.
//!
//! The database is `SFSYNC_TEST_DATABASE_URL`, by default the local PostgreSQL
//! (`postgres://postgres@127.0.0.1:5432/test`). Each test works in a fresh schema of its
//! own, dropped afterwards. An unreachable database fails the tests; set
//! `SFSYNC_SKIP_POSTGRES=1` to leave them out of the build instead (see build.rs).

#![cfg(not(skip_postgres))]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sfsync_core::{Change, ChangeKind, FeedCursor, FieldChange, FieldName, FieldValue};
use sfsync_core::{ObjectName, RecordId, Snapshot};
use sfsync_store::conformance::{self, check_after_reopen, seed_for_reopen};
use sfsync_store::{ConnectionId, NewChange, PageCommit, SealedSecret, Store};
use sfsync_store_postgres::PgStore;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn database_url() -> String {
    std::env::var("SFSYNC_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// A schema of the test's own, dropped with everything in it when the guard drops.
struct Schema {
    name: String,
}

impl Schema {
    fn fresh() -> Self {
        Self {
            name: format!("sfsync_test_{:016x}", rand::random::<u64>()),
        }
    }

    /// A store in this schema: one worker process.
    async fn connect(&self) -> PgStore {
        let url = database_url();
        PgStore::connect_in_schema(&url, &self.name)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot use PostgreSQL at {url}: {e:?}; start it, point \
                     SFSYNC_TEST_DATABASE_URL at one, or set SFSYNC_SKIP_POSTGRES=1"
                )
            })
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let drop_schema = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        // Drop cannot await, and the test's runtime may be single-threaded or shutting
        // down: a thread with a runtime of its own works in every case.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut db = PgConnection::connect(&database_url()).await?;
                db.execute(AssertSqlSafe(drop_schema)).await?;
                db.close().await
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}: {dropped:?}", self.name);
        }
    }
}

/// A fresh, empty store in a schema of its own, dropped when the guard drops.
async fn open_fresh() -> (Arc<dyn Store>, Schema) {
    let schema = Schema::fresh();
    let store = schema.connect().await;
    (Arc::new(store), schema)
}

sfsync_store::conformance_tests!(open_fresh);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_keeps_everything_and_never_reuses_a_feed_cursor() {
    let (store, schema) = open_fresh().await;
    let seed = seed_for_reopen(store.clone()).await;
    store.close().await;
    drop(store);

    let reconnected: Arc<dyn Store> = Arc::new(schema.connect().await);
    check_after_reopen(reconnected, &seed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_connecting_at_once_both_migrate_the_schema_safely() {
    let schema = Schema::fresh();
    let (first, second) = tokio::join!(schema.connect(), schema.connect());
    let tenant = conformance::create_tenant(&first, "acme").await;
    let seen = second
        .load_connection(tenant.organization.id)
        .await
        .unwrap();
    assert_eq!(seen, Some(tenant.connection));
}

/// A page creating `count` records of `object` from the `first`th, one change event each.
fn page_of_created(connection: ConnectionId, object: &str, first: u32, count: u32) -> PageCommit {
    let ids: Vec<RecordId> = (first..first + count)
        .map(|n| RecordId::parse(&format!("001{n:012}")).unwrap())
        .collect();
    let name = FieldName::parse("Name").unwrap();
    let created = |id: &RecordId| NewChange {
        change: Change {
            record_id: id.clone(),
            kind: ChangeKind::Created,
            fields: BTreeMap::from([(
                name.clone(),
                FieldChange {
                    old: FieldValue::Null,
                    new: FieldValue::Text(id.to_string()),
                },
            )]),
        },
        changed_at_ms: 1_000,
    };
    PageCommit {
        connection,
        object: ObjectName::parse(object).unwrap(),
        lease_epoch: None,
        snapshots: ids
            .iter()
            .map(|id| Snapshot {
                id: id.clone(),
                values: BTreeMap::new(),
                is_deleted: false,
            })
            .collect(),
        removed: Vec::new(),
        changes: ids.iter().map(created).collect(),
        schema_changes: Vec::new(),
        detected_at_ms: 2_000,
        progress: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commits_from_two_workers_get_gapless_cursors_that_a_reader_sees_in_order() {
    let schema = Schema::fresh();
    let workers = [
        Arc::new(schema.connect().await),
        Arc::new(schema.connect().await),
    ];
    let tenant = conformance::create_tenant(&*workers[0], "acme").await;
    let (connection, organization) = (tenant.connection.id, tenant.organization.id);

    // Eight writers, four per worker, five pages of three changes each. Each writes its
    // own object, so that nothing but the feed orders their commits.
    let writers: Vec<_> = (0..8u32)
        .map(|task| {
            let store = workers[task as usize % 2].clone();
            let object = format!("Object{task}__c");
            tokio::spawn(async move {
                let mut cursors = Vec::new();
                for page in 0..5 {
                    let commit = page_of_created(connection, &object, page * 10 + 1, 3);
                    cursors.extend(store.commit_page(&commit).await.unwrap().cursors);
                }
                cursors
            })
        })
        .collect();

    // A third worker follows the feed meanwhile, as a sink would: always after the last
    // cursor it saw. An event that became visible below that cursor would be skipped.
    let reader = schema.connect().await;
    let writing_done = Arc::new(AtomicBool::new(false));
    let follow = {
        let writing_done = writing_done.clone();
        tokio::spawn(async move {
            let mut seen: Vec<FeedCursor> = Vec::new();
            loop {
                let finished = writing_done.load(Ordering::SeqCst);
                let after = seen.last().copied();
                let page = reader
                    .load_changes(organization, after, 1_000)
                    .await
                    .unwrap();
                seen.extend(page.iter().map(|event| event.cursor));
                if finished && page.is_empty() {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };

    let mut given = Vec::new();
    for writer in writers {
        given.extend(writer.await.unwrap());
    }
    writing_done.store(true, Ordering::SeqCst);
    let seen = follow.await.unwrap();

    given.sort();
    assert_eq!(given.len(), 8 * 5 * 3);
    assert_eq!(seen, given, "the follower missed or repeated events");
    let first = given[0].0;
    let gapless: Vec<FeedCursor> = (first..first + 120).map(FeedCursor).collect();
    assert_eq!(given, gapless);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_workers_claiming_the_same_object_at_once_exactly_one_wins() {
    let schema = Schema::fresh();
    let (a, b) = (schema.connect().await, schema.connect().await);
    let connection = conformance::create_tenant(&a, "acme").await.connection.id;
    for n in 0..20 {
        let object = ObjectName::parse(&format!("Object{n}__c")).unwrap();
        let (won_a, won_b) = tokio::join!(
            a.claim_lease(connection, &object, "worker-a", 0, 60_000),
            b.claim_lease(connection, &object, "worker-b", 0, 60_000),
        );
        let winners: Vec<_> = [won_a.unwrap(), won_b.unwrap()]
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(winners.len(), 1, "{object}: {winners:?}");
        assert_eq!(winners[0].epoch, 1, "{object}");
    }
}

/// Polls `check` until it holds, failing after 30 seconds.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// How many sessions wait for, and hold, the token lock of `connection` in `schema`.
async fn token_lock_sessions(schema: &Schema, connection: ConnectionId) -> (i64, i64) {
    let mut db = PgConnection::connect(&database_url()).await.unwrap();
    let counts = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE NOT granted), COUNT(*) FILTER (WHERE granted) \
         FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 \
           AND classid = hashtext('sf-refresh:' || $1)::oid AND objid = $2::int4::oid",
    )
    .bind(&schema.name)
    .bind(i32::try_from(connection.0).unwrap())
    .fetch_one(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_token_lock_of_one_worker_keeps_the_other_waiting_until_dropped() {
    let schema = Schema::fresh();
    let (a, b) = (schema.connect().await, Arc::new(schema.connect().await));
    let id = conformance::create_tenant(&a, "acme").await.connection.id;
    a.save_sealed_tokens(id, &SealedSecret(b"v1".to_vec()))
        .await
        .unwrap();

    let mut held = a.lock_tokens(id).await.unwrap();
    let waiter = {
        let b = b.clone();
        tokio::spawn(async move { b.lock_tokens(id).await.unwrap().load().await.unwrap() })
    };
    eventually("the second worker waits in PostgreSQL", || async {
        token_lock_sessions(&schema, id).await == (1, 1)
    })
    .await;
    assert!(!waiter.is_finished());

    held.save(&SealedSecret(b"v2".to_vec())).await.unwrap();
    drop(held);
    assert_eq!(waiter.await.unwrap(), Some(SealedSecret(b"v2".to_vec())));
    eventually("nobody holds the lock", || async {
        token_lock_sessions(&schema, id).await == (0, 0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wait_for_the_token_lock_cancelled_midway_leaves_no_lock_behind() {
    let schema = Schema::fresh();
    let (a, b) = (schema.connect().await, Arc::new(schema.connect().await));
    let id = conformance::create_tenant(&a, "acme").await.connection.id;

    let held = a.lock_tokens(id).await.unwrap();
    let cancelled = {
        let b = b.clone();
        tokio::spawn(async move { drop(b.lock_tokens(id).await) })
    };
    eventually("the second worker waits in PostgreSQL", || async {
        token_lock_sessions(&schema, id).await == (1, 1)
    })
    .await;
    cancelled.abort();
    assert!(cancelled.await.unwrap_err().is_cancelled());
    drop(held);

    // Had the cancelled wait's connection gone back to the pool, it would hold the lock
    // there, idle, and this would wait forever.
    let taken = tokio::time::timeout(Duration::from_secs(30), b.lock_tokens(id)).await;
    drop(taken.expect("the lock was left behind").unwrap());
    eventually("nobody holds the lock", || async {
        token_lock_sessions(&schema, id).await == (0, 0)
    })
    .await;
}
