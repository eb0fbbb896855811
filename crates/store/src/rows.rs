//! Reading stored text back into validated domain values: a row that fails is reported as
//! [`Error::Corrupt`], naming the table, never a panic.

use sfsync_core::{Change, ChangeEvent, ChangeKind, Cursor, FeedCursor, ObjectName};
use sfsync_core::{OrganizationSlug, RecordId};

use sqlx::FromRow;

use crate::model::*;
use crate::persisted::{AsText, decode_changes, decode_projection};
use crate::{Error, Result};

/// A stored object name.
pub fn object_name(text: &str, table: &str) -> Result<ObjectName> {
    ObjectName::parse(text).map_err(|e| Error::corrupt(format!("object name in {table}"), e))
}

/// A stored record Id.
pub fn record_id(text: &str, table: &str) -> Result<RecordId> {
    RecordId::parse(text).map_err(|e| Error::corrupt(format!("record id in {table}"), e))
}

/// A stored organization slug.
pub fn slug(text: &str) -> Result<OrganizationSlug> {
    OrganizationSlug::parse(text).map_err(|e| Error::corrupt("organization slug", e))
}

/// A stored count, which both databases hold as a signed 64-bit integer.
pub fn count(value: i64, what: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::corrupt(what.to_owned(), format!("negative {value}")))
}

/// A count to store: counts beyond `i64::MAX` cannot happen, and saturate if they do.
pub fn stored_count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A stored cursor: both halves or neither.
pub fn cursor(
    stamp_ms: Option<i64>,
    id: Option<&str>,
    object: &ObjectName,
) -> Result<Option<Cursor>> {
    match (stamp_ms, id) {
        (None, None) => Ok(None),
        (Some(system_modstamp_ms), Some(id)) => Ok(Some(Cursor {
            system_modstamp_ms,
            id: record_id(id, "objects")?,
        })),
        _ => Err(Error::corrupt(
            format!("cursor of {object}"),
            "only one of stamp and id is set",
        )),
    }
}

/// A stored SHA-256, which must be 32 bytes.
pub fn token_hash(bytes: &[u8], what: &str) -> Result<TokenHash> {
    let hash = <[u8; 32]>::try_from(bytes)
        .map_err(|_| Error::corrupt(what.to_owned(), format!("{} bytes, not 32", bytes.len())))?;
    Ok(TokenHash(hash))
}

// The rows both backends select, with their decoding into domain types. sqlx derives
// `FromRow` for any database whose driver decodes these column types.

/// A `users` row, as selected by `id, organization_id, email, role`.
#[derive(FromRow)]
pub struct UserRow {
    id: i64,
    organization_id: i64,
    email: String,
    role: String,
}

impl UserRow {
    pub fn into_user(self) -> Result<User> {
        Ok(User {
            id: UserId(self.id),
            organization: OrganizationId(self.organization_id),
            email: self.email,
            role: Role::from_text(&self.role)?,
        })
    }
}

#[derive(FromRow)]
pub struct ConnectionRow {
    id: i64,
    organization_id: i64,
    environment: String,
    login_url: String,
    instance_url: String,
    salesforce_org_id: String,
    salesforce_username: String,
    connected_by: i64,
    connected_at_ms: i64,
    status: String,
    status_detail: Option<String>,
}

impl ConnectionRow {
    pub fn into_connection(self) -> Result<Connection> {
        Ok(Connection {
            id: ConnectionId(self.id),
            details: NewConnection {
                organization: OrganizationId(self.organization_id),
                environment: Environment::from_text(&self.environment)?,
                login_url: self.login_url,
                instance_url: self.instance_url,
                salesforce_org_id: self.salesforce_org_id,
                salesforce_username: self.salesforce_username,
                connected_by: UserId(self.connected_by),
                connected_at_ms: self.connected_at_ms,
            },
            status: ConnectionStatus::from_text(&self.status)?,
            status_detail: self.status_detail,
        })
    }
}

#[derive(FromRow)]
pub struct AuditRow {
    organization_id: i64,
    user_id: Option<i64>,
    action: String,
    detail: String,
    at_ms: i64,
}

impl AuditRow {
    pub fn into_entry(self) -> AuditEntry {
        AuditEntry {
            organization: OrganizationId(self.organization_id),
            user: self.user_id.map(UserId),
            action: self.action,
            detail: self.detail,
            at_ms: self.at_ms,
        }
    }
}

#[derive(FromRow)]
pub struct RunRow {
    connection_id: i64,
    object: String,
    started_at_ms: i64,
    finished_at_ms: i64,
    records_read: i64,
    events: i64,
    api_calls: i64,
    outcome: String,
    error: Option<String>,
}

impl RunRow {
    pub fn into_run(self) -> Result<RunRecord> {
        Ok(RunRecord {
            connection: ConnectionId(self.connection_id),
            object: object_name(&self.object, "runs")?,
            started_at_ms: self.started_at_ms,
            finished_at_ms: self.finished_at_ms,
            records_read: count(self.records_read, "run records read")?,
            events: count(self.events, "run events")?,
            api_calls: count(self.api_calls, "run api calls")?,
            outcome: RunOutcome::from_text(&self.outcome)?,
            error: self.error,
        })
    }
}

#[derive(FromRow)]
pub struct ChangeRow {
    cursor: i64,
    slug: String,
    object: String,
    record_id: String,
    kind: String,
    changed_at_ms: i64,
    detected_at_ms: i64,
    fields: String,
}

impl ChangeRow {
    pub fn into_event(self) -> Result<ChangeEvent> {
        let cursor = self.cursor;
        Ok(ChangeEvent {
            cursor: FeedCursor(count(cursor, "change event cursor")?),
            organization: slug(&self.slug)?,
            object: object_name(&self.object, "change_events")?,
            changed_at_ms: self.changed_at_ms,
            detected_at_ms: self.detected_at_ms,
            change: Change {
                record_id: record_id(&self.record_id, "change_events")?,
                kind: ChangeKind::from_text(&self.kind)?,
                fields: decode_changes(&self.fields, || format!("change event {cursor}"))?,
            },
        })
    }
}

#[derive(FromRow)]
pub struct ObjectRow {
    connection_id: i64,
    object: String,
    selected: bool,
    projection: Option<String>,
    describe_fetched_at_ms: Option<i64>,
    cursor_stamp_ms: Option<i64>,
    cursor_id: Option<String>,
    load_last_id: Option<String>,
    load_done: bool,
    deletes_covered_to_ms: Option<i64>,
    formulas_refreshed_at_ms: Option<i64>,
    reconciled_at_ms: Option<i64>,
    last_run_at_ms: Option<i64>,
    last_error: Option<String>,
    next_run_at_ms: Option<i64>,
    lease_epoch: i64,
}

impl ObjectRow {
    pub fn into_state(self) -> Result<ObjectState> {
        let object = object_name(&self.object, "objects")?;
        let projection = self
            .projection
            .map(|text| decode_projection(&object, &text))
            .transpose()?;
        let cursor = cursor(self.cursor_stamp_ms, self.cursor_id.as_deref(), &object)?;
        let last_id = self
            .load_last_id
            .map(|id| record_id(&id, "objects"))
            .transpose()?;
        Ok(ObjectState {
            connection: ConnectionId(self.connection_id),
            object,
            selected: self.selected,
            projection,
            describe_fetched_at_ms: self.describe_fetched_at_ms,
            progress: ObjectProgress {
                cursor,
                load: LoadProgress {
                    last_id,
                    done: self.load_done,
                },
                maintenance: Maintenance {
                    deletes_covered_to_ms: self.deletes_covered_to_ms,
                    formulas_refreshed_at_ms: self.formulas_refreshed_at_ms,
                    reconciled_at_ms: self.reconciled_at_ms,
                },
            },
            schedule: ObjectSchedule {
                last_run_at_ms: self.last_run_at_ms,
                last_error: self.last_error,
                next_run_at_ms: self.next_run_at_ms,
            },
            lease_epoch: self.lease_epoch,
        })
    }
}

#[derive(FromRow)]
pub struct PendingRow {
    state_sha256: Vec<u8>,
    organization_id: i64,
    user_id: i64,
    session_sha256: Option<Vec<u8>>,
    environment: String,
    login_url: String,
    sealed_verifier: Vec<u8>,
    created_at_ms: i64,
    expires_at_ms: i64,
}

impl PendingRow {
    pub fn into_pending(self) -> Result<PendingConnect> {
        const WHAT: &str = "pending connect";
        let session = self
            .session_sha256
            .map(|bytes| token_hash(&bytes, WHAT))
            .transpose()?;
        Ok(PendingConnect {
            state_hash: token_hash(&self.state_sha256, WHAT)?,
            organization: OrganizationId(self.organization_id),
            user: UserId(self.user_id),
            session,
            environment: Environment::from_text(&self.environment)?,
            login_url: self.login_url,
            sealed_verifier: SealedSecret(self.sealed_verifier),
            created_at_ms: self.created_at_ms,
            expires_at_ms: self.expires_at_ms,
        })
    }
}
