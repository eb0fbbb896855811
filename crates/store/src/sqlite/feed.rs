//! The change log and the schema events, read back in the order they were committed.

use crate::rows::ChangeRow;
use sfsync_core::{ChangeEvent, FeedCursor, ObjectName, RecordId, SchemaEvent};
use sqlx::SqlitePool;

use crate::Result;
use crate::error::Context;
use crate::model::{ConnectionId, OrganizationId};
use crate::persisted::decode_schema_change;
use crate::rows;

/// Selects [`ChangeRow`]s from `change_events e`, up to the `WHERE`; a literal, so that
/// queries stay `&'static str`.
macro_rules! select_changes {
    () => {
        "SELECT e.cursor, o.slug, e.object, e.record_id, e.kind, e.changed_at_ms, \
            e.detected_at_ms, e.fields \
         FROM change_events e JOIN organizations o ON o.id = e.organization_id "
    };
}

pub(super) async fn load_changes(
    pool: &SqlitePool,
    organization: OrganizationId,
    after: Option<FeedCursor>,
    limit: u32,
) -> Result<Vec<ChangeEvent>> {
    // Cursors start at 1, so 0 reads from the start; a cursor beyond i64 reads nothing.
    let after = after.map_or(0, |c| i64::try_from(c.0).unwrap_or(i64::MAX));
    let found: Vec<ChangeRow> = sqlx::query_as(concat!(
        select_changes!(),
        "WHERE e.organization_id = ? AND e.cursor > ? ORDER BY e.cursor LIMIT ?"
    ))
    .bind(organization.0)
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
    .context("loading changes")?;
    found.into_iter().map(ChangeRow::into_event).collect()
}

pub(super) async fn load_recent_changes(
    pool: &SqlitePool,
    organization: OrganizationId,
    limit: u32,
) -> Result<Vec<ChangeEvent>> {
    let found: Vec<ChangeRow> = sqlx::query_as(concat!(
        select_changes!(),
        "WHERE e.organization_id = ? ORDER BY e.cursor DESC LIMIT ?"
    ))
    .bind(organization.0)
    .bind(limit)
    .fetch_all(pool)
    .await
    .context("loading recent changes")?;
    found.into_iter().map(ChangeRow::into_event).collect()
}

pub(super) async fn load_record_changes(
    pool: &SqlitePool,
    organization: OrganizationId,
    object: &ObjectName,
    record: &RecordId,
    limit: u32,
) -> Result<Vec<ChangeEvent>> {
    // The object column of change_events has the default collation; object names compare
    // without case everywhere else, so they do here too.
    let found: Vec<ChangeRow> = sqlx::query_as(concat!(
        select_changes!(),
        "WHERE e.organization_id = ? AND e.record_id = ? AND e.object = ? COLLATE NOCASE \
         ORDER BY e.cursor LIMIT ?"
    ))
    .bind(organization.0)
    .bind(record.as_str())
    .bind(object.as_str())
    .bind(limit)
    .fetch_all(pool)
    .await
    .context("loading a record's changes")?;
    found.into_iter().map(ChangeRow::into_event).collect()
}

pub(super) async fn load_schema_events(
    pool: &SqlitePool,
    connection: ConnectionId,
    object: &ObjectName,
) -> Result<Vec<SchemaEvent>> {
    let found: Vec<(String, String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT o.slug, s.object, s.kind, s.field, s.detected_at_ms \
         FROM schema_events s \
         JOIN connections c ON c.id = s.connection_id \
         JOIN organizations o ON o.id = c.organization_id \
         WHERE s.connection_id = ? AND s.object = ? ORDER BY s.id",
    )
    .bind(connection.0)
    .bind(object.as_str())
    .fetch_all(pool)
    .await
    .context("loading schema events")?;
    found
        .into_iter()
        .map(|(slug, object, kind, field, detected_at_ms)| {
            Ok(SchemaEvent {
                organization: rows::slug(&slug)?,
                object: rows::object_name(&object, "schema_events")?,
                change: decode_schema_change(&kind, field.as_deref())?,
                detected_at_ms,
            })
        })
        .collect()
}
