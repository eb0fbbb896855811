//! Sealed tokens and the single flight of their refresh, across every worker process.
//!
//! The token lock of a connection is a session-level advisory lock,
//! `pg_advisory_lock(hashtext('sf-refresh:' || current_schema()), connection id)`, held by
//! one pooled connection for the guard's life; the guard reads and writes the tokens on
//! that same connection. The schema is part of the key because advisory locks are
//! database-wide while connection ids are per schema: stores in two schemas of one
//! database (tests, or two deployments) would otherwise wait for each other's refreshes. A
//! tokio mutex per sfsync connection comes first, so that the tasks of one process queue
//! in memory and at most one of them waits in PostgreSQL, holding a pooled connection.
//!
//! A session lock outlives whatever forgot it, so every way out releases it: dropping the
//! guard unlocks and returns the connection to the pool, and a connection whose state is
//! unknown (the unlock failed, the wait for the lock was cancelled, no runtime is left to
//! unlock on) is closed instead, which ends the session and its locks with it.

use std::sync::Arc;

use async_trait::async_trait;
use sfsync_store::model::{ConnectionId, SealedSecret};
use sfsync_store::{Result, TokenLock};
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::{Context, is_foreign_key_violation, not_found};

/// The advisory lock's first key, in SQL: token refreshes of this schema.
macro_rules! lock_class {
    () => {
        "hashtext('sf-refresh:' || current_schema())"
    };
}

/// Stores a connection's sealed tokens, unless an admin disconnected it: a refresh still in
/// flight then must not bring back the tokens the disconnect deleted.
pub(crate) async fn save(
    db: &mut PgConnection,
    connection: ConnectionId,
    sealed: &SealedSecret,
) -> Result<()> {
    let saved = sqlx::query(
        "INSERT INTO connection_tokens (connection_id, sealed) SELECT $1, $2 \
         WHERE NOT EXISTS (SELECT 1 FROM connections WHERE id = $1 AND status = 'disconnected') \
         ON CONFLICT (connection_id) DO UPDATE SET sealed = excluded.sealed",
    )
    .bind(connection.0)
    .bind(sealed.0.as_slice())
    .execute(db)
    .await;
    match saved {
        Ok(_) => Ok(()),
        Err(e) if is_foreign_key_violation(&e) => {
            Err(not_found(format!("connection {connection}")))
        }
        Err(e) => Err(e).context("saving sealed tokens"),
    }
}

pub(crate) async fn load(
    db: &mut PgConnection,
    connection: ConnectionId,
) -> Result<Option<SealedSecret>> {
    let sealed: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT sealed FROM connection_tokens WHERE connection_id = $1")
            .bind(connection.0)
            .fetch_optional(db)
            .await
            .context("loading sealed tokens")?;
    Ok(sealed.map(SealedSecret))
}

/// Takes the in-process mutex, then the advisory lock on a connection of its own.
pub(crate) async fn lock(
    pool: &PgPool,
    mutex: Arc<Mutex<()>>,
    connection: ConnectionId,
) -> Result<PgTokenLock> {
    const OPERATION: &str = "taking the token lock";
    let local = mutex.lock_owned().await;
    let db = pool.acquire().await.context(OPERATION)?;
    // Until the lock is ours, dropping this future (a timeout, a cancelled task) must not
    // hand the connection back to the pool: its pending `pg_advisory_lock` would still
    // succeed there, and the lock would stay with an idle pooled connection.
    let mut pending = CloseUnlessKept(Some(db));
    let db = pending.0.as_mut().expect("set above");
    sqlx::query(concat!("SELECT pg_advisory_lock(", lock_class!(), ", $1)"))
        .bind(lock_key(connection))
        .execute(&mut **db)
        .await
        .context(OPERATION)?;
    Ok(PgTokenLock {
        held: Some(Held {
            db: pending.keep(),
            _local: local,
        }),
        connection,
    })
}

/// The advisory lock's second key: the connection id, which fits 31 bits until there are
/// two billion connections. Past that, ids alias and a refresh may wait for another
/// connection's, which costs time and never correctness.
fn lock_key(connection: ConnectionId) -> i32 {
    i32::try_from(connection.0 & i64::from(i32::MAX)).unwrap_or_default()
}

/// A pooled connection closed when dropped, unless [`CloseUnlessKept::keep`] takes it.
struct CloseUnlessKept(Option<PoolConnection<Postgres>>);

impl CloseUnlessKept {
    fn keep(mut self) -> PoolConnection<Postgres> {
        self.0.take().expect("kept once")
    }
}

impl Drop for CloseUnlessKept {
    fn drop(&mut self) {
        if let Some(db) = self.0.take() {
            close(db);
        }
    }
}

/// Closes a pooled connection, ending its session and every lock the session holds.
fn close(mut db: PoolConnection<Postgres>) {
    if tokio::runtime::Handle::try_current().is_ok() {
        db.close_on_drop();
        drop(db);
    } else {
        // Without a runtime the pool cannot close it gracefully; dropping the detached
        // connection drops its socket, which ends the session all the same.
        drop(db.detach());
    }
}

/// What the guard holds until it is dropped.
struct Held {
    db: PoolConnection<Postgres>,
    _local: OwnedMutexGuard<()>,
}

/// The held token lock of one connection (see the module docs).
pub(crate) struct PgTokenLock {
    /// `None` only while being dropped.
    held: Option<Held>,
    connection: ConnectionId,
}

impl PgTokenLock {
    fn db(&mut self) -> &mut PgConnection {
        &mut self.held.as_mut().expect("held until dropped").db
    }
}

#[async_trait]
impl TokenLock for PgTokenLock {
    async fn load(&mut self) -> Result<Option<SealedSecret>> {
        let connection = self.connection;
        load(self.db(), connection).await
    }

    /// A single statement in autocommit: durable when it returns.
    async fn save(&mut self, sealed: &SealedSecret) -> Result<()> {
        let connection = self.connection;
        save(self.db(), connection, sealed).await
    }
}

impl Drop for PgTokenLock {
    fn drop(&mut self) {
        let Some(held) = self.held.take() else { return };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(unlock(held, self.connection))),
            Err(_) => close(held.db),
        }
    }
}

/// Releases the advisory lock and returns the connection to the pool; closes it instead
/// when the unlock fails or finds nothing to release. The in-process mutex goes last, so
/// the next local holder never waits in PostgreSQL for a lock about to be released.
async fn unlock(mut held: Held, connection: ConnectionId) {
    // A statement cancelled mid-flight by dropping the guard is finished by the driver
    // before this one runs.
    let unlocked: std::result::Result<bool, sqlx::Error> = sqlx::query_scalar(concat!(
        "SELECT pg_advisory_unlock(",
        lock_class!(),
        ", $1)"
    ))
    .bind(lock_key(connection))
    .fetch_one(&mut *held.db)
    .await;
    if !matches!(unlocked, Ok(true)) {
        tracing::warn!(
            connection.id = connection.0,
            "token lock not released by unlock; closing its database connection"
        );
        close(held.db);
    }
}
