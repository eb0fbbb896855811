//! The rows the store reads and writes, in domain words. Times are UTC epoch milliseconds,
//! as everywhere in sfsync-core; ids are newtypes so that a user id can never be passed
//! where a connection id is expected.

use std::fmt;

use sfsync_core::{Change, Cursor, ObjectName, OrganizationSlug, Projection, RecordId, Snapshot};
use sfsync_core::{FeedCursor, SchemaChange};

/// Defines a database id newtype. Ids are `i64` because both SQLite and PostgreSQL
/// (`BIGINT`) hold that natively.
macro_rules! db_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

db_id!(
    /// The store's id of an organization.
    OrganizationId
);
db_id!(
    /// The store's id of a user.
    UserId
);
db_id!(
    /// The store's id of a connection.
    ConnectionId
);
db_id!(
    /// The store's id of a recorded run.
    RunId
);

/// A tenant of sfsync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    /// The store's id.
    pub id: OrganizationId,
    /// The URL-safe short name.
    pub slug: OrganizationSlug,
    /// When it was created.
    pub created_at_ms: i64,
}

/// What a user may do in its organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Connects Salesforce, selects objects, manages users.
    Admin,
    /// Reads the change feed and the views.
    Member,
}

/// A person (or a script acting for one) in an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The store's id.
    pub id: UserId,
    /// The organization the user belongs to.
    pub organization: OrganizationId,
    /// The e-mail address, unique within the organization.
    pub email: String,
    /// What the user may do.
    pub role: Role,
}

/// The SHA-256 of an API token. The store only ever sees this hash, so a copy of the
/// database yields no usable token; hashing is the caller's job.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

/// Prints a short prefix only: enough to tell two hashes apart in a log, too little to
/// matter.
impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({:02x}{:02x}..)", self.0[0], self.0[1])
    }
}

/// Which Salesforce login host a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// login.salesforce.com.
    Production,
    /// test.salesforce.com.
    Sandbox,
    /// A custom login host (My Domain, or the simulator).
    Custom,
}

/// Whether a connection is being polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionStatus {
    /// Polled on schedule.
    Active,
    /// The refresh token was refused (`invalid_grant`): an admin must connect again, and
    /// polling stops until then.
    NeedsReauthorization,
    /// Disconnected by an admin.
    Disconnected,
}

/// What is known of a connection when it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConnection {
    /// The organization it belongs to (one connection per organization).
    pub organization: OrganizationId,
    /// Which login host.
    pub environment: Environment,
    /// The login URL tokens are refreshed at.
    pub login_url: String,
    /// The instance URL API calls go to.
    pub instance_url: String,
    /// The 18-character Salesforce org id.
    pub salesforce_org_id: String,
    /// The integration user's Salesforce username.
    pub salesforce_username: String,
    /// Who connected it.
    pub connected_by: UserId,
    /// When.
    pub connected_at_ms: i64,
}

/// The link from one organization to one Salesforce org. Its tokens are kept apart, as
/// [`SealedSecret`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// The store's id.
    pub id: ConnectionId,
    /// What was recorded when it was made.
    pub details: NewConnection,
    /// Whether it is being polled.
    pub status: ConnectionStatus,
    /// Why it is in that status, for the admin's card (`invalid_grant: token revoked`).
    pub status_detail: Option<String>,
}

/// Encrypted bytes (the connection's tokens, sealed by the engine). The store keeps them
/// as they are and never sees plaintext; `Debug` prints only their length.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(pub Vec<u8>);

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedSecret({} bytes)", self.0.len())
    }
}

/// How far the initial load of an object (a keyset read by Id) has got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadProgress {
    /// The last Id committed; the load resumes strictly after it.
    pub last_id: Option<RecordId>,
    /// Whether the whole object has been read once.
    pub done: bool,
}

/// Where reading an object stands, written by [`PageCommit`] with the page it covers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectProgress {
    /// The incremental read position.
    pub cursor: Option<Cursor>,
    /// The initial load's position.
    pub load: LoadProgress,
    /// When the checks beside the incremental read last ran.
    pub maintenance: Maintenance,
}

/// When the budgeted checks that an incremental read cannot do last ran for an object. All
/// times are the server's, UTC epoch milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// getDeleted has covered deletions up to here (its `latestDateCovered`).
    pub deletes_covered_to_ms: Option<i64>,
    /// When the formula fields were last re-read for every record.
    pub formulas_refreshed_at_ms: Option<i64>,
    /// When the Id reconciliation for hard deletes last finished.
    pub reconciled_at_ms: Option<i64>,
}

/// When an object was last run and is next due.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectSchedule {
    /// When the last run finished.
    pub last_run_at_ms: Option<i64>,
    /// Why the last run failed, if it did.
    pub last_error: Option<String>,
    /// When the next run is due.
    pub next_run_at_ms: Option<i64>,
}

/// Everything the store holds about one object of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectState {
    /// The connection.
    pub connection: ConnectionId,
    /// The object.
    pub object: ObjectName,
    /// Whether the admin selected it for syncing.
    pub selected: bool,
    /// The fields read, as of the last describe.
    pub projection: Option<Projection>,
    /// When describe was last fetched (for `If-Modified-Since`).
    pub describe_fetched_at_ms: Option<i64>,
    /// Where reading stands.
    pub progress: ObjectProgress,
    /// When it last ran and next runs.
    pub schedule: ObjectSchedule,
    /// The fencing token of the current lease: it grows by one at every claim.
    pub lease_epoch: i64,
}

/// A lease on one object, held by one worker until `until_ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The fencing token to pass in [`PageCommit::lease_epoch`].
    pub epoch: i64,
    /// When the lease lapses unless renewed.
    pub until_ms: i64,
}

/// A change found in a page, before the store places it in the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChange {
    /// The record's difference.
    pub change: Change,
    /// The record's SystemModstamp, UTC epoch milliseconds.
    pub changed_at_ms: i64,
}

/// Everything one page of a run writes, committed all or nothing: a process killed at any
/// instant leaves either the whole page or none of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCommit {
    /// The connection read.
    pub connection: ConnectionId,
    /// The object read.
    pub object: ObjectName,
    /// The lease the writer holds; when set, the commit fails with
    /// [`crate::Error::LeaseLost`] unless the object's epoch still equals it.
    pub lease_epoch: Option<i64>,
    /// Snapshots to insert or replace.
    pub snapshots: Vec<Snapshot>,
    /// Records gone for good (purged, merged away), whose snapshots are removed.
    pub removed: Vec<RecordId>,
    /// Changes to append to the organization's change log, in this order.
    pub changes: Vec<NewChange>,
    /// Schema changes of the object to append.
    pub schema_changes: Vec<SchemaChange>,
    /// When sfsync saw this page's changes.
    pub detected_at_ms: i64,
    /// The object's new read position; `None` leaves it as it is.
    pub progress: Option<ObjectProgress>,
}

/// What a committed page was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitReceipt {
    /// The feed cursors of the page's changes, in the order they were given.
    pub cursors: Vec<FeedCursor>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunOutcome {
    /// Read, diffed and committed to the end.
    Succeeded,
    /// Stopped by an error.
    Failed,
    /// Stopped early to stay within the API budget.
    Paused,
}

/// One recorded run of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    /// The connection.
    pub connection: ConnectionId,
    /// The object run.
    pub object: ObjectName,
    /// When it started.
    pub started_at_ms: i64,
    /// When it finished.
    pub finished_at_ms: i64,
    /// Records read from Salesforce.
    pub records_read: u64,
    /// Change events committed.
    pub events: u64,
    /// API calls spent.
    pub api_calls: u64,
    /// How it ended.
    pub outcome: RunOutcome,
    /// The error, when it failed.
    pub error: Option<String>,
}

/// API calls spent by sfsync, with the org-wide usage the last response reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCalls {
    /// The connection that spent them.
    pub connection: ConnectionId,
    /// When.
    pub at_ms: i64,
    /// How many calls (a `/composite` request is one).
    pub calls: u32,
    /// The org's usage from `Sforce-Limit-Info: api-usage=used/max`, when it was sent.
    pub org_usage: Option<OrgUsage>,
}

/// The org-wide API usage one response reported, shared with every other integration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgUsage {
    /// Calls used in the last 24 hours by everyone.
    pub used: u64,
    /// The org's daily allocation.
    pub max: u64,
}

/// What sfsync spent since a moment, and the latest org-wide usage it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiSpend {
    /// Calls sfsync spent since the moment asked for.
    pub calls: u64,
    /// The most recent org usage recorded, with when it was recorded.
    pub latest_org_usage: Option<(i64, OrgUsage)>,
}

/// A half-open range of record Ids, `from <= id < to`, compared as case-sensitive text,
/// which is how Salesforce orders Ids. `None` leaves that side open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdRange {
    /// The lowest Id included.
    pub from: Option<RecordId>,
    /// The first Id excluded.
    pub to: Option<RecordId>,
}

/// How often and how hard a connection is polled, set by its organization's admins. Kept
/// across reconnects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Seconds between ticks when the budget allows. Default 300 (5 minutes).
    pub polling_interval_secs: u32,
    /// The share of the org's daily API allocation sfsync may spend, in percent (1 to 100).
    /// Default 50.
    pub budget_share_percent: u8,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            polling_interval_secs: 300,
            budget_share_percent: 50,
        }
    }
}

/// An OAuth authorization an admin started and Salesforce has not yet called back for.
/// The store keeps it under the hash of its `state`, so a copy of the database cannot
/// complete it, and hands it out once: a replayed `state` finds nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingConnect {
    /// SHA-256 of the `state` sent to Salesforce.
    pub state_hash: TokenHash,
    /// The organization being connected.
    pub organization: OrganizationId,
    /// The admin who started it.
    pub user: UserId,
    /// The browser session it is bound to (the SHA-256 of its cookie); `None` when it was
    /// started through the API with a bearer token.
    pub session: Option<TokenHash>,
    /// Which login host.
    pub environment: Environment,
    /// The login URL the authorize request went to.
    pub login_url: String,
    /// The PKCE code verifier, sealed by the vault.
    pub sealed_verifier: SealedSecret,
    /// When it was started.
    pub created_at_ms: i64,
    /// When it stops being accepted.
    pub expires_at_ms: i64,
}

/// A browser session or a one-time sign-in link, stored as the SHA-256 of its secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A one-time link printed by `sfsync org create` or `sfsync user add`.
    SignInLink,
    /// The cookie of a signed-in browser.
    Session,
}

/// One line of an organization's audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The organization.
    pub organization: OrganizationId,
    /// Who acted; `None` for sfsync itself (a connection marked for re-authorization).
    pub user: Option<UserId>,
    /// What happened, a stable word (`connected`, `disconnected`, `settings_changed`).
    pub action: String,
    /// Details for people, never holding a secret.
    pub detail: String,
    /// When.
    pub at_ms: i64,
}

/// What a disconnect does with the data synced so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncedData {
    /// Snapshots and change events stay, readable and ready for a reconnect.
    Keep,
    /// Snapshots, change events, schema events and read positions are deleted.
    Delete,
}
