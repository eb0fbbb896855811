//! The store: everything sfsync keeps between runs, behind one backend-neutral trait.
//!
//! - [`Store`]: organizations, users and API-token hashes; sign-in links and sessions;
//!   pending connects; connections, their settings and their sealed tokens; per-object
//!   state (selection, projection, cursor, load progress, schedule, lease); snapshots; the
//!   change log; runs; the API spend ledger; Id ranges for reconciliation; the audit log;
//! - [`model`]: the rows it reads and writes;
//! - [`Error`]: how it fails;
//! - [`SqliteStore`]: the embedded default backend (one process, one file); the PostgreSQL
//!   backend, for several worker processes, is the crate `sfsync-store-postgres`;
//! - `conformance` (feature `testsuite`): the tests every backend must pass.
//!
//! The trait assumes nothing SQLite-only: several worker processes may share one
//! PostgreSQL database, so every write that must not race is a transaction or carries a
//! fencing token (the lease epoch), and every order the engine relies on (feed cursors)
//! is a property the conformance suite checks.

#![warn(missing_docs)]

use std::collections::BTreeMap;

use async_trait::async_trait;
use sfsync_core::{ChangeEvent, FeedCursor, ObjectName, OrganizationSlug, Projection};
use sfsync_core::{RecordId, SchemaEvent, Snapshot};

mod error;
pub mod model;
// Shared with the other backends (sfsync-store-postgres): one stored form for every store.
#[doc(hidden)]
pub mod persisted;
#[doc(hidden)]
pub mod rows;
mod sqlite;

#[cfg(feature = "testsuite")]
pub mod conformance;

pub use error::Error;
pub use model::*;
pub use sqlite::SqliteStore;

/// What every store operation returns.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything sfsync keeps, as one object-safe trait used as `Arc<dyn Store>`.
///
/// Verbs follow style.md: `load_` reads, `save_` writes (creating or replacing), `create_`
/// inserts what must not exist yet, `commit_` writes a page all or nothing.
#[async_trait]
pub trait Store: Send + Sync {
    // Organizations, users and API tokens.

    /// Creates an organization; [`Error::AlreadyExists`] when the slug is taken.
    async fn create_organization(
        &self,
        slug: &OrganizationSlug,
        created_at_ms: i64,
    ) -> Result<Organization>;

    /// The organization with this slug.
    async fn load_organization(&self, slug: &OrganizationSlug) -> Result<Option<Organization>>;

    /// The organization with this id.
    async fn load_organization_by_id(&self, id: OrganizationId) -> Result<Option<Organization>>;

    /// Adds a user; [`Error::AlreadyExists`] when the e-mail is taken in the organization.
    async fn create_user(
        &self,
        organization: OrganizationId,
        email: &str,
        role: Role,
        created_at_ms: i64,
    ) -> Result<User>;

    /// The users of an organization, in the order they were added.
    async fn load_users(&self, organization: OrganizationId) -> Result<Vec<User>>;

    /// Records the SHA-256 of a new API token for a user.
    async fn save_api_token(
        &self,
        user: UserId,
        hash: &TokenHash,
        created_at_ms: i64,
    ) -> Result<()>;

    /// The user an API token (given as its SHA-256) belongs to.
    async fn load_user_by_token(&self, hash: &TokenHash) -> Result<Option<User>>;

    // Connections and tokens.

    /// Records the organization's connection, replacing the details of an earlier one (a
    /// reconnect) while keeping its id and object state; the status becomes active.
    async fn save_connection(&self, connection: &NewConnection) -> Result<Connection>;

    /// The organization's connection.
    async fn load_connection(&self, organization: OrganizationId) -> Result<Option<Connection>>;

    /// Every connection, for the scheduler.
    async fn load_connections(&self) -> Result<Vec<Connection>>;

    /// Sets a connection's status and the detail shown on the admin's card. A disconnected
    /// connection is never marked [`ConnectionStatus::NeedsReauthorization`]: that comes from
    /// a tick still in flight when an admin disconnected, and must not undo the disconnect.
    async fn save_connection_status(
        &self,
        connection: ConnectionId,
        status: ConnectionStatus,
        detail: Option<&str>,
    ) -> Result<()>;

    /// Stores a connection's sealed tokens, replacing earlier ones. A refresh that may rotate
    /// the refresh token goes through [`Store::lock_tokens`] instead. A disconnected
    /// connection keeps no tokens: a save for it (from a refresh still in flight when an
    /// admin disconnected) stores nothing.
    async fn save_sealed_tokens(
        &self,
        connection: ConnectionId,
        sealed: &SealedSecret,
    ) -> Result<()>;

    /// A connection's sealed tokens.
    async fn load_sealed_tokens(&self, connection: ConnectionId) -> Result<Option<SealedSecret>>;

    /// Takes the connection's token lock, waiting while another holder has it: the single
    /// flight of a token refresh, across every task and (on PostgreSQL) every process.
    ///
    /// The holder re-reads the tokens through the guard (another holder may have rotated
    /// them meanwhile), refreshes, and saves the rotated tokens through the guard before
    /// dropping it; dropping releases the lock. SQLite: a per-connection tokio mutex (one
    /// process holds the file) and a `BEGIN IMMEDIATE` transaction per read or write.
    /// PostgreSQL (sfsync-store-postgres): a dedicated pooled connection holding
    /// `pg_advisory_lock(hashtext('sf-refresh:' || current_schema()), connection_id)` for
    /// the guard's life (the schema keeps two deployments sharing one database apart),
    /// released by `pg_advisory_unlock` or by closing that connection if the guard is
    /// dropped mid-await, with reads and writes on that same connection.
    async fn lock_tokens(&self, connection: ConnectionId) -> Result<Box<dyn TokenLock>>;

    // Per-object state.

    /// Marks exactly these objects selected for the connection, creating their state rows;
    /// objects left out stay in the store, unselected, with their snapshots and cursor.
    async fn save_selected_objects(
        &self,
        connection: ConnectionId,
        objects: &[ObjectName],
    ) -> Result<()>;

    /// The state of every object the connection has touched.
    async fn load_object_states(&self, connection: ConnectionId) -> Result<Vec<ObjectState>>;

    /// The state of one object.
    async fn load_object_state(
        &self,
        connection: ConnectionId,
        object: &ObjectName,
    ) -> Result<Option<ObjectState>>;

    /// Records the projection built from a describe fetched at `fetched_at_ms`.
    async fn save_projection(
        &self,
        connection: ConnectionId,
        projection: &Projection,
        fetched_at_ms: i64,
    ) -> Result<()>;

    /// Records when an object last ran, how, and when it runs next.
    async fn save_schedule(
        &self,
        connection: ConnectionId,
        object: &ObjectName,
        schedule: &ObjectSchedule,
    ) -> Result<()>;

    /// Claims an object for `owner` until `until_ms`, if no other owner holds an unexpired
    /// lease at `now_ms`; each claim raises the epoch by one, which fences off the previous
    /// holder's commits. `None` when another owner holds it.
    async fn claim_lease(
        &self,
        connection: ConnectionId,
        object: &ObjectName,
        owner: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<Lease>>;

    // Snapshots and pages.

    /// The snapshots held for these Ids (those that exist, in no particular order).
    async fn load_snapshots(
        &self,
        connection: ConnectionId,
        object: &ObjectName,
        ids: &[RecordId],
    ) -> Result<Vec<Snapshot>>;

    /// How many snapshots each object of the connection holds, soft-deleted ones included.
    async fn count_snapshots(&self, connection: ConnectionId) -> Result<BTreeMap<ObjectName, u64>>;

    /// Writes one page in one transaction: snapshot upserts and removals, change events (the
    /// store assigns their feed cursors), schema events and the object's new progress. All
    /// or nothing; [`Error::LeaseLost`] when `lease_epoch` no longer matches.
    ///
    /// Feed cursors are global, strictly increasing and never reused, and they become
    /// visible in increasing order: a reader that has seen cursor N never later sees a new
    /// event below N. (SQLite gets this from its single writer; a PostgreSQL backend must
    /// take the cursors from a counter row locked until commit, not from a sequence, whose
    /// values commit out of order.)
    async fn commit_page(&self, page: &PageCommit) -> Result<CommitReceipt>;

    // The change log.

    /// The organization's change events after `after` (from the start when `None`), in
    /// cursor order, at most `limit`.
    async fn load_changes(
        &self,
        organization: OrganizationId,
        after: Option<FeedCursor>,
        limit: u32,
    ) -> Result<Vec<ChangeEvent>>;

    /// The schema events of one object, oldest first.
    async fn load_schema_events(
        &self,
        connection: ConnectionId,
        object: &ObjectName,
    ) -> Result<Vec<SchemaEvent>>;

    // Runs and the API budget.

    /// Records a finished run.
    async fn save_run(&self, run: &RunRecord) -> Result<RunId>;

    /// The connection's most recent runs, newest first.
    async fn load_runs(&self, connection: ConnectionId, limit: u32) -> Result<Vec<RunRecord>>;

    /// Adds API calls sfsync spent to the ledger.
    async fn save_api_calls(&self, calls: &ApiCalls) -> Result<()>;

    /// What sfsync spent since `since_ms` (pass now minus 24 hours for the daily budget),
    /// and the latest org-wide usage seen.
    async fn load_api_spend(&self, connection: ConnectionId, since_ms: i64) -> Result<ApiSpend>;

    // Reconciliation of hard deletes.

    /// The snapshot Ids of an object within a range, in Id order, at most `limit`.
    async fn load_snapshot_ids(
        &self,
        connection: ConnectionId,
        object: &ObjectName,
        range: &IdRange,
        limit: u32,
    ) -> Result<Vec<RecordId>>;

    /// How many snapshots of an object fall in each range, soft-deleted ones included (as
    /// a `queryAll` count includes them).
    async fn count_snapshots_in_ranges(
        &self,
        connection: ConnectionId,
        object: &ObjectName,
        ranges: &[IdRange],
    ) -> Result<Vec<u64>>;

    // Sign-in, sessions and users.

    /// Records a sign-in link or a session for a user, by the SHA-256 of its secret.
    async fn create_credential(
        &self,
        kind: Credential,
        user: UserId,
        hash: &TokenHash,
        expires_at_ms: i64,
    ) -> Result<()>;

    /// Exchanges a one-time sign-in link for its user: the link is deleted in the same
    /// transaction, so it works once. `None` when unknown, used or expired at `now_ms`.
    async fn redeem_sign_in_link(&self, hash: &TokenHash, now_ms: i64) -> Result<Option<User>>;

    /// The user of an unexpired session.
    async fn load_session_user(&self, hash: &TokenHash, now_ms: i64) -> Result<Option<User>>;

    /// Ends a session (sign out).
    async fn delete_session(&self, hash: &TokenHash) -> Result<()>;

    /// A user by id.
    async fn load_user(&self, user: UserId) -> Result<Option<User>>;

    // Connecting, settings and disconnecting.

    /// Records an authorization an admin started.
    async fn create_pending_connect(&self, pending: &PendingConnect) -> Result<()>;

    /// Takes the pending authorization with this `state` hash, deleting it in the same
    /// transaction: a `state` is accepted once. Expired ones are returned too (the caller
    /// tells the admin it expired) and deleted.
    async fn take_pending_connect(&self, state_hash: &TokenHash) -> Result<Option<PendingConnect>>;

    /// The connection's polling settings (defaults until an admin changes them).
    async fn load_connection_settings(
        &self,
        connection: ConnectionId,
    ) -> Result<ConnectionSettings>;

    /// Saves the connection's polling settings.
    async fn save_connection_settings(
        &self,
        connection: ConnectionId,
        settings: &ConnectionSettings,
    ) -> Result<()>;

    /// Disconnects: deletes the sealed tokens, marks the connection disconnected and, with
    /// [`SyncedData::Delete`], deletes its snapshots, change and schema events, and object
    /// read positions, all in one transaction.
    async fn disconnect(&self, connection: ConnectionId, data: SyncedData) -> Result<()>;

    /// Every stored sealed token, for a master-key rotation.
    async fn load_all_sealed_tokens(&self) -> Result<Vec<(ConnectionId, SealedSecret)>>;

    /// Replaces a connection's sealed tokens only if they still equal `expected` (a refresh
    /// may have rotated them meanwhile); whether it replaced them.
    async fn replace_sealed_tokens(
        &self,
        connection: ConnectionId,
        expected: &SealedSecret,
        replacement: &SealedSecret,
    ) -> Result<bool>;

    // Views for the admin's card and the API.

    /// The organization's newest change events, newest first, at most `limit`.
    async fn load_recent_changes(
        &self,
        organization: OrganizationId,
        limit: u32,
    ) -> Result<Vec<ChangeEvent>>;

    /// One record's change events, oldest first, at most `limit`.
    async fn load_record_changes(
        &self,
        organization: OrganizationId,
        object: &ObjectName,
        record: &RecordId,
        limit: u32,
    ) -> Result<Vec<ChangeEvent>>;

    /// API calls sfsync spent per hour since `since_ms`: `(start of the hour, calls)`,
    /// oldest first, hours without calls left out.
    async fn load_api_calls_by_hour(
        &self,
        connection: ConnectionId,
        since_ms: i64,
    ) -> Result<Vec<(i64, u64)>>;

    /// Appends to the organization's audit log.
    async fn save_audit(&self, entry: &AuditEntry) -> Result<()>;

    /// The organization's audit log, newest first, at most `limit`.
    async fn load_audit(&self, organization: OrganizationId, limit: u32)
    -> Result<Vec<AuditEntry>>;

    /// Closes the store: waits for open work, closes connections and releases whatever
    /// keeps another process out. Later calls fail.
    async fn close(&self);
}

/// The held token lock of one connection (see [`Store::lock_tokens`]). Dropping it releases
/// the lock.
#[async_trait]
pub trait TokenLock: Send {
    /// Re-reads the sealed tokens, as stored now.
    async fn load(&mut self) -> Result<Option<SealedSecret>>;

    /// Stores rotated tokens durably before returning, while the lock is still held.
    async fn save(&mut self, sealed: &SealedSecret) -> Result<()>;
}
