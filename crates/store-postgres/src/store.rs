//! [`PgStore`]: the [`Store`] trait over the pool, each method handing off to the module
//! that owns its tables.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sfsync_core::{ChangeEvent, FeedCursor, ObjectName, OrganizationSlug, Projection};
use sfsync_core::{RecordId, SchemaEvent, Snapshot};
use sfsync_store::model::*;
use sfsync_store::{Result, Store, TokenLock};
use sqlx::PgPool;
use sqlx::pool::PoolConnection;

use crate::error::Context;
use crate::{access, admin, feed, ledger, objects, open, pages, tenants, tokens};

/// The PostgreSQL store, shared by every worker process of one sfsync deployment. Open it
/// with [`PgStore::connect`].
pub struct PgStore {
    pool: PgPool,
    /// One mutex per connection, taken before the advisory lock: the tasks of this process
    /// queue here rather than each holding a pooled connection while it waits.
    token_locks: Mutex<HashMap<ConnectionId, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database at a `postgres://` URL and brings its schema up to date.
    /// Workers that connect at the same moment are safe: the migrations run under an
    /// advisory lock.
    pub async fn connect(url: &str) -> Result<Self> {
        Ok(Self::new(open::connect(url, None).await?))
    }

    /// Connects like [`PgStore::connect`], but keeps every table in `schema`, created if
    /// missing: each pooled connection sets its `search_path` to it alone. Several stores
    /// (tests, or deployments sharing a server) then live side by side in one database.
    pub async fn connect_in_schema(url: &str, schema: &str) -> Result<Self> {
        Ok(Self::new(open::connect(url, Some(schema)).await?))
    }

    fn new(pool: PgPool) -> Self {
        Self {
            pool,
            token_locks: Mutex::new(HashMap::new()),
        }
    }

    async fn acquire(&self) -> Result<PoolConnection<sqlx::Postgres>> {
        self.pool.acquire().await.context("acquiring a connection")
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
impl Store for PgStore {
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
        let mut db = self.acquire().await?;
        tokens::save(&mut db, connection, sealed).await
    }

    async fn load_sealed_tokens(&self, connection: ConnectionId) -> Result<Option<SealedSecret>> {
        let mut db = self.acquire().await?;
        tokens::load(&mut db, connection).await
    }

    async fn lock_tokens(&self, connection: ConnectionId) -> Result<Box<dyn TokenLock>> {
        let mutex = self.token_mutex(connection);
        Ok(Box::new(tokens::lock(&self.pool, mutex, connection).await?))
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

    /// Closes the pool, waiting for connections in use to come back. Leases stay as they
    /// are: they lapse at their `until_ms`, or this worker's successor claims them again
    /// under the same owner name.
    async fn close(&self) {
        self.pool.close().await;
    }
}
