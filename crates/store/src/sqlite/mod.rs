//! The SQLite backend: the embedded default, one process and one file.
//!
//! The file is opened in WAL mode (readers never wait for the writer), with
//! `synchronous=NORMAL` (a commit survives a process crash; a power cut may lose the last
//! commits but never corrupts the file), foreign keys on and a busy timeout. Every
//! transaction that writes starts with `BEGIN IMMEDIATE`: a deferred transaction that reads
//! first and then writes fails at once with `SQLITE_BUSY` when another writer is active,
//! and SQLite does not call the busy handler in that case (rust-stack.md §1.7).
//!
//! One process only: a lock file beside the database is held for the store's life, so a
//! second `sfsync` on the same file fails with [`Error::Locked`] instead of racing.
//!
//! The one exception is a store opened *beside* the holder ([`SqliteStore::open_beside`]):
//! a short administrative command (`sfsync org create`, `sfsync user add`, `sfsync keys
//! rotate`) run while `sfsync serve` holds the file. It takes no lock and releases no lease,
//! and SQLite's own locking keeps its writes and the holder's apart. It must do no engine
//! work: leases and the token lock assume that the lock holder is the only process, so a
//! lease taken beside it would outlive a crash (only the holder's open releases dead leases)
//! and a token refresh beside it would race the holder's (the token lock is in-process).
//!
//! [`Error::Locked`]: crate::Error::Locked

mod access;
mod admin;
mod feed;
mod jsonb;
mod ledger;
mod objects;
mod open;
mod pages;
mod tenants;
mod tokens;

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sfsync_core::{ChangeEvent, FeedCursor, ObjectName, OrganizationSlug, Projection};
use sfsync_core::{RecordId, SchemaEvent, Snapshot};
use sqlx::SqlitePool;

use crate::error::Context;
use crate::model::*;
use crate::{Result, Store, TokenLock};

/// The SQLite store. Open it with [`SqliteStore::open`].
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
    /// The held lock file; `None` once closed, or from the start when opened beside.
    lock_file: Mutex<Option<File>>,
    /// One mutex per connection: the single flight of token refreshes. One process holds
    /// the file, so an in-process mutex excludes every other refresher.
    token_locks: Mutex<HashMap<ConnectionId, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store at a path or a `sqlite://PATH` URL: takes the
    /// lock file `PATH.lock`, applies the pragmas and runs the embedded migrations.
    pub async fn open(path_or_url: &str) -> Result<Self> {
        let path = open::database_path(path_or_url);
        let lock_file = open::lock(&path)?;
        let pool = open::connect(&path).await?;
        open::release_dead_leases(&pool).await?;
        Ok(Self::new(pool, path, Some(lock_file)))
    }

    /// Opens (creating if needed) the store at a path or a `sqlite://PATH` URL beside the
    /// process that may hold it: without taking the lock file and without releasing
    /// leases, for a short administrative command run while `sfsync serve` holds the store
    /// (creating an organization, adding a user, rotating the master key).
    ///
    /// It must not run engine work: no [`Store::claim_lease`], no [`Store::lock_tokens`],
    /// no [`Store::commit_page`]. Both exclusions assume one process per file; the module
    /// docs say why. Closing it releases nothing the holder relies on.
    pub async fn open_beside(path_or_url: &str) -> Result<Self> {
        let path = open::database_path(path_or_url);
        let pool = open::connect(&path).await?;
        Ok(Self::new(pool, path, None))
    }

    fn new(pool: SqlitePool, path: PathBuf, lock_file: Option<File>) -> Self {
        Self {
            pool,
            path,
            lock_file: Mutex::new(lock_file),
            token_locks: Mutex::new(HashMap::new()),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn token_mutex(&self, connection: ConnectionId) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .token_locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(connection).or_default().clone()
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_organization(
        &self,
        slug: &OrganizationSlug,
        created_at_ms: i64,
    ) -> Result<Organization> {
        tenants::create_organization(&self.pool, slug, created_at_ms).await
    }

    async fn load_organization(&self, slug: &OrganizationSlug) -> Result<Option<Organization>> {
        tenants::load_organization(&self.pool, slug).await
    }

    async fn load_organization_by_id(&self, id: OrganizationId) -> Result<Option<Organization>> {
        tenants::load_organization_by_id(&self.pool, id).await
    }

    async fn create_user(
        &self,
        organization: OrganizationId,
        email: &str,
        role: Role,
        created_at_ms: i64,
    ) -> Result<User> {
        tenants::create_user(&self.pool, organization, email, role, created_at_ms).await
    }

    async fn load_users(&self, organization: OrganizationId) -> Result<Vec<User>> {
        tenants::load_users(&self.pool, organization).await
    }

    async fn save_api_token(
        &self,
        user: UserId,
        hash: &TokenHash,
        created_at_ms: i64,
    ) -> Result<()> {
        tenants::save_api_token(&self.pool, user, hash, created_at_ms).await
    }

    async fn load_user_by_token(&self, hash: &TokenHash) -> Result<Option<User>> {
        tenants::load_user_by_token(&self.pool, hash).await
    }

    async fn save_connection(&self, connection: &NewConnection) -> Result<Connection> {
        tenants::save_connection(&self.pool, connection).await
    }

    async fn load_connection(&self, organization: OrganizationId) -> Result<Option<Connection>> {
        tenants::load_connection(&self.pool, organization).await
    }

    async fn load_connections(&self) -> Result<Vec<Connection>> {
        tenants::load_connections(&self.pool).await
    }

    async fn save_connection_status(
        &self,
        connection: ConnectionId,
        status: ConnectionStatus,
        detail: Option<&str>,
    ) -> Result<()> {
        tenants::save_connection_status(&self.pool, connection, status, detail).await
    }

    async fn save_sealed_tokens(
        &self,
        connection: ConnectionId,
        sealed: &SealedSecret,
    ) -> Result<()> {
        let mut db = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        tokens::save(&mut db, connection, sealed).await
    }

    async fn load_sealed_tokens(&self, connection: ConnectionId) -> Result<Option<SealedSecret>> {
        let mut db = self
            .pool
            .acquire()
            .await
            .context("acquiring a connection")?;
        tokens::load(&mut db, connection).await
    }

    async fn lock_tokens(&self, connection: ConnectionId) -> Result<Box<dyn TokenLock>> {
        let guard = self.token_mutex(connection).lock_owned().await;
        Ok(Box::new(tokens::SqliteTokenLock::new(
            self.pool.clone(),
            connection,
            guard,
        )))
    }

    async fn save_selected_objects(
        &self,
        connection: ConnectionId,
        objects: &[ObjectName],
    ) -> Result<()> {
        objects::save_selected(&self.pool, connection, objects).await
    }

    async fn load_object_states(&self, connection: ConnectionId) -> Result<Vec<ObjectState>> {
        objects::load_all(&self.pool, connection).await
    }

    async fn load_object_state(
        &self,
        connection: ConnectionId,
        object: &ObjectName,
    ) -> Result<Option<ObjectState>> {
        objects::load_one(&self.pool, connection, object).await
    }

    async fn save_projection(
        &self,
        connection: ConnectionId,
        projection: &Projection,
        fetched_at_ms: i64,
    ) -> Result<()> {
        objects::save_projection(&self.pool, connection, projection, fetched_at_ms).await
    }

    async fn save_schedule(
        &self,
        connection: ConnectionId,
        object: &ObjectName,
        schedule: &ObjectSchedule,
    ) -> Result<()> {
        objects::save_schedule(&self.pool, connection, object, schedule).await
    }

    async fn claim_lease(
        &self,
        connection: ConnectionId,
        object: &ObjectName,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<Lease>> {
        let claim = objects::LeaseClaim {
            owner,
            now_ms,
            until_ms,
        };
        objects::claim_lease(&self.pool, connection, object, &claim).await
    }

    async fn load_snapshots(
        &self,
        connection: ConnectionId,
        object: &ObjectName,
        ids: &[RecordId],
    ) -> Result<Vec<Snapshot>> {
        pages::load_snapshots(&self.pool, connection, object, ids).await
    }

    async fn count_snapshots(&self, connection: ConnectionId) -> Result<BTreeMap<ObjectName, u64>> {
        pages::count_snapshots(&self.pool, connection).await
    }

    async fn commit_page(&self, page: &PageCommit) -> Result<CommitReceipt> {
        pages::commit_page(&self.pool, page).await
    }

    async fn load_changes(
        &self,
        organization: OrganizationId,
        after: Option<FeedCursor>,
        limit: u32,
    ) -> Result<Vec<ChangeEvent>> {
        feed::load_changes(&self.pool, organization, after, limit).await
    }

    async fn load_schema_events(
        &self,
        connection: ConnectionId,
        object: &ObjectName,
    ) -> Result<Vec<SchemaEvent>> {
        feed::load_schema_events(&self.pool, connection, object).await
    }

    async fn save_run(&self, run: &RunRecord) -> Result<RunId> {
        ledger::save_run(&self.pool, run).await
    }

    async fn load_runs(&self, connection: ConnectionId, limit: u32) -> Result<Vec<RunRecord>> {
        ledger::load_runs(&self.pool, connection, limit).await
    }

    async fn save_api_calls(&self, calls: &ApiCalls) -> Result<()> {
        ledger::save_api_calls(&self.pool, calls).await
    }

    async fn load_api_spend(&self, connection: ConnectionId, since_ms: i64) -> Result<ApiSpend> {
        ledger::load_api_spend(&self.pool, connection, since_ms).await
    }

    async fn load_snapshot_ids(
        &self,
        connection: ConnectionId,
        object: &ObjectName,
        range: &IdRange,
        limit: u32,
    ) -> Result<Vec<RecordId>> {
        pages::load_snapshot_ids(&self.pool, connection, object, range, limit).await
    }

    async fn count_snapshots_in_ranges(
        &self,
        connection: ConnectionId,
        object: &ObjectName,
        ranges: &[IdRange],
    ) -> Result<Vec<u64>> {
        pages::count_in_ranges(&self.pool, connection, object, ranges).await
    }

    async fn create_credential(
        &self,
        kind: Credential,
        user: UserId,
        hash: &TokenHash,
        expires_at_ms: i64,
    ) -> Result<()> {
        access::create_credential(&self.pool, kind, user, hash, expires_at_ms).await
    }

    async fn redeem_sign_in_link(&self, hash: &TokenHash, now_ms: i64) -> Result<Option<User>> {
        access::redeem_sign_in_link(&self.pool, hash, now_ms).await
    }

    async fn load_session_user(&self, hash: &TokenHash, now_ms: i64) -> Result<Option<User>> {
        access::load_session_user(&self.pool, hash, now_ms).await
    }

    async fn delete_session(&self, hash: &TokenHash) -> Result<()> {
        access::delete_session(&self.pool, hash).await
    }

    async fn load_user(&self, user: UserId) -> Result<Option<User>> {
        access::load_user(&self.pool, user).await
    }

    async fn create_pending_connect(&self, pending: &PendingConnect) -> Result<()> {
        access::create_pending_connect(&self.pool, pending).await
    }

    async fn take_pending_connect(&self, state_hash: &TokenHash) -> Result<Option<PendingConnect>> {
        access::take_pending_connect(&self.pool, state_hash).await
    }

    async fn load_connection_settings(
        &self,
        connection: ConnectionId,
    ) -> Result<ConnectionSettings> {
        admin::load_settings(&self.pool, connection).await
    }

    async fn save_connection_settings(
        &self,
        connection: ConnectionId,
        settings: &ConnectionSettings,
    ) -> Result<()> {
        admin::save_settings(&self.pool, connection, settings).await
    }

    async fn disconnect(&self, connection: ConnectionId, data: SyncedData) -> Result<()> {
        admin::disconnect(&self.pool, connection, data).await
    }

    async fn load_all_sealed_tokens(&self) -> Result<Vec<(ConnectionId, SealedSecret)>> {
        admin::load_all_sealed_tokens(&self.pool).await
    }

    async fn replace_sealed_tokens(
        &self,
        connection: ConnectionId,
        expected: &SealedSecret,
        replacement: &SealedSecret,
    ) -> Result<bool> {
        admin::replace_sealed_tokens(&self.pool, connection, expected, replacement).await
    }

    async fn load_recent_changes(
        &self,
        organization: OrganizationId,
        limit: u32,
    ) -> Result<Vec<ChangeEvent>> {
        feed::load_recent_changes(&self.pool, organization, limit).await
    }

    async fn load_record_changes(
        &self,
        organization: OrganizationId,
        object: &ObjectName,
        record: &RecordId,
        limit: u32,
    ) -> Result<Vec<ChangeEvent>> {
        feed::load_record_changes(&self.pool, organization, object, record, limit).await
    }

    async fn load_api_calls_by_hour(
        &self,
        connection: ConnectionId,
        since_ms: i64,
    ) -> Result<Vec<(i64, u64)>> {
        ledger::load_api_calls_by_hour(&self.pool, connection, since_ms).await
    }

    async fn save_audit(&self, entry: &AuditEntry) -> Result<()> {
        admin::save_audit(&self.pool, entry).await
    }

    async fn load_audit(
        &self,
        organization: OrganizationId,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        admin::load_audit(&self.pool, organization, limit).await
    }

    async fn close(&self) {
        self.pool.close().await;
        // Released only after the pool is closed, so that the next opener finds no
        // connection of ours still writing.
        let mut lock_file = self
            .lock_file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(file) = lock_file.take() {
            // Closing the file releases the lock too; unlocking first is only explicit.
            let _ = file.unlock();
        }
    }
}
