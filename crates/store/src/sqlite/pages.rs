//! Snapshots, the one-transaction page commit, and Id ranges for reconciliation.

use std::collections::BTreeMap;

use sfsync_core::{FeedCursor, ObjectName, RecordId, Snapshot};
use sqlx::{SqliteConnection, SqlitePool};

use super::{jsonb, objects};
use crate::error::Context;
use crate::model::*;
use crate::persisted::encode_values;
use crate::persisted::{AsText, decode_values, encode_changes, encode_schema_change};
use crate::rows;
use crate::{Error, Result};

const COMMIT: &str = "committing a page";

pub(super) async fn commit_page(pool: &SqlitePool, page: &PageCommit) -> Result<CommitReceipt> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.context(COMMIT)?;
    let organization = organization_of(&mut tx, page.connection).await?;
    objects::ensure(&mut tx, page.connection, &page.object).await?;

    upsert_snapshots(&mut tx, page).await?;
    remove_snapshots(&mut tx, page).await?;
    let cursors = append_changes(&mut tx, organization, page).await?;
    append_schema_events(&mut tx, page).await?;

    // The fence is checked last, inside the same transaction. Under BEGIN IMMEDIATE the
    // answer is the one a first check would give (no other writer can move the epoch
    // meanwhile), and a lost lease then takes the same rollback path as any late failure.
    if let Some(held) = page.lease_epoch {
        objects::check_lease(&mut tx, page.connection, &page.object, held).await?;
    }
    if let Some(progress) = &page.progress {
        objects::save_progress(&mut tx, page.connection, &page.object, progress).await?;
    }
    tx.commit().await.context(COMMIT)?;
    Ok(CommitReceipt { cursors })
}

async fn organization_of(db: &mut SqliteConnection, connection: ConnectionId) -> Result<i64> {
    sqlx::query_scalar("SELECT organization_id FROM connections WHERE id = ?")
        .bind(connection.0)
        .fetch_optional(db)
        .await
        .context(COMMIT)?
        .ok_or_else(|| Error::NotFound {
            what: format!("connection {connection}"),
        })
}

// Each of the next three writes a whole page in one statement, its rows passed as one JSONB
// array and unrolled by `jsonb_each`, which hands each row on as JSONB where `json_each`
// would render it as JSON text for `->>` to parse again. Statement by statement, sqlx hands every call to its
// SQLite worker thread and waits for the answer, and at a row per statement those round
// trips, not SQLite, were most of an initial load's time.

async fn upsert_snapshots(db: &mut SqliteConnection, page: &PageCommit) -> Result<()> {
    if page.snapshots.is_empty() {
        return Ok(());
    }
    let mut rows = jsonb::Rows::default();
    for snapshot in &page.snapshots {
        rows.text(snapshot.id.as_str())
            .bool(snapshot.is_deleted)
            .text(&encode_values(&snapshot.values))
            .end_row();
    }
    // `WHERE true` resolves the parsing ambiguity SQLite documents for an upsert whose rows
    // come from a SELECT.
    sqlx::query(
        "INSERT INTO snapshots (connection_id, object, record_id, is_deleted, fields) \
         SELECT ?, ?, value ->> 0, value ->> 1, value ->> 2 FROM jsonb_each(?) WHERE true \
         ON CONFLICT (connection_id, object, record_id) DO UPDATE SET \
            is_deleted = excluded.is_deleted, fields = excluded.fields",
    )
    .bind(page.connection.0)
    .bind(page.object.as_str())
    .bind(rows.finish())
    .execute(&mut *db)
    .await
    .context(COMMIT)?;
    Ok(())
}

async fn remove_snapshots(db: &mut SqliteConnection, page: &PageCommit) -> Result<()> {
    if page.removed.is_empty() {
        return Ok(());
    }
    let ids = serde_json::Value::from_iter(page.removed.iter().map(|id| id.as_str()));
    sqlx::query(
        "DELETE FROM snapshots WHERE connection_id = ? AND object = ? \
         AND record_id IN (SELECT value FROM json_each(?))",
    )
    .bind(page.connection.0)
    .bind(page.object.as_str())
    .bind(ids.to_string())
    .execute(&mut *db)
    .await
    .context(COMMIT)?;
    Ok(())
}

/// Appends the page's changes in order. Rows are inserted in array order under the write
/// lock, so the cursors AUTOINCREMENT hands out rise in that order: sorted, they pair with
/// the changes one to one.
async fn append_changes(
    db: &mut SqliteConnection,
    organization: i64,
    page: &PageCommit,
) -> Result<Vec<FeedCursor>> {
    if page.changes.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows = jsonb::Rows::default();
    for new in &page.changes {
        let change = &new.change;
        rows.text(change.record_id.as_str())
            .text(change.kind.as_text())
            .int(new.changed_at_ms)
            .text(&encode_changes(&change.fields))
            .end_row();
    }
    let mut inserted: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO change_events (organization_id, connection_id, object, record_id, \
            kind, changed_at_ms, detected_at_ms, fields) \
         SELECT ?, ?, ?, value ->> 0, value ->> 1, value ->> 2, ?, value ->> 3 \
         FROM jsonb_each(?) ORDER BY key RETURNING cursor",
    )
    .bind(organization)
    .bind(page.connection.0)
    .bind(page.object.as_str())
    .bind(page.detected_at_ms)
    .bind(rows.finish())
    .fetch_all(&mut *db)
    .await
    .context(COMMIT)?;
    if inserted.len() != page.changes.len() {
        let reason = format!("{} of {} inserted", inserted.len(), page.changes.len());
        return Err(Error::corrupt("change events of a page", reason));
    }
    inserted.sort_unstable();
    inserted
        .into_iter()
        .map(|cursor| rows::count(cursor, "change event cursor").map(FeedCursor))
        .collect()
}

async fn append_schema_events(db: &mut SqliteConnection, page: &PageCommit) -> Result<()> {
    for change in &page.schema_changes {
        let (kind, field) = encode_schema_change(change);
        sqlx::query(
            "INSERT INTO schema_events (connection_id, object, kind, field, detected_at_ms) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(page.connection.0)
        .bind(page.object.as_str())
        .bind(kind)
        .bind(field)
        .bind(page.detected_at_ms)
        .execute(&mut *db)
        .await
        .context(COMMIT)?;
    }
    Ok(())
}

pub(super) async fn load_snapshots(
    pool: &SqlitePool,
    connection: ConnectionId,
    object: &ObjectName,
    ids: &[RecordId],
) -> Result<Vec<Snapshot>> {
    // One JSON array parameter instead of a generated `IN (?, ?, …)`: the SQL stays static
    // and a 2,000-Id page never meets SQLite's limit on parameters.
    let ids_json = serde_json::Value::from_iter(ids.iter().map(|id| id.as_str()));
    let found: Vec<(String, bool, String)> = sqlx::query_as(
        "SELECT record_id, is_deleted, fields FROM snapshots \
         WHERE connection_id = ? AND object = ? \
           AND record_id IN (SELECT value FROM json_each(?))",
    )
    .bind(connection.0)
    .bind(object.as_str())
    .bind(ids_json.to_string())
    .fetch_all(pool)
    .await
    .context("loading snapshots")?;
    found
        .into_iter()
        .map(|(id, is_deleted, fields)| {
            let what = || format!("snapshot {id} of {object}");
            Ok(Snapshot {
                id: rows::record_id(&id, "snapshots")?,
                values: decode_values(&fields, what)?,
                is_deleted,
            })
        })
        .collect()
}

pub(super) async fn count_snapshots(
    pool: &SqlitePool,
    connection: ConnectionId,
) -> Result<BTreeMap<ObjectName, u64>> {
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT object, COUNT(*) FROM snapshots WHERE connection_id = ? GROUP BY object",
    )
    .bind(connection.0)
    .fetch_all(pool)
    .await
    .context("counting snapshots")?;
    counts
        .into_iter()
        .map(|(object, n)| {
            Ok((
                rows::object_name(&object, "snapshots")?,
                rows::count(n, "snapshot count")?,
            ))
        })
        .collect()
}

pub(super) async fn load_snapshot_ids(
    pool: &SqlitePool,
    connection: ConnectionId,
    object: &ObjectName,
    range: &IdRange,
    limit: u32,
) -> Result<Vec<RecordId>> {
    let to = range.to.as_ref().map(RecordId::as_str);
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT record_id FROM snapshots \
         WHERE connection_id = ? AND object = ? AND record_id >= ? \
           AND (? IS NULL OR record_id < ?) \
         ORDER BY record_id LIMIT ?",
    )
    .bind(connection.0)
    .bind(object.as_str())
    .bind(range.from.as_ref().map_or("", RecordId::as_str))
    .bind(to)
    .bind(to)
    .bind(limit)
    .fetch_all(pool)
    .await
    .context("loading snapshot ids")?;
    ids.iter()
        .map(|id| rows::record_id(id, "snapshots"))
        .collect()
}

pub(super) async fn count_in_ranges(
    pool: &SqlitePool,
    connection: ConnectionId,
    object: &ObjectName,
    ranges: &[IdRange],
) -> Result<Vec<u64>> {
    const OPERATION: &str = "counting snapshots in id ranges";
    // One read transaction, so that all counts describe the same moment.
    let mut tx = pool.begin().await.context(OPERATION)?;
    let mut counts = Vec::with_capacity(ranges.len());
    for range in ranges {
        let to = range.to.as_ref().map(RecordId::as_str);
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM snapshots \
             WHERE connection_id = ? AND object = ? AND record_id >= ? \
               AND (? IS NULL OR record_id < ?)",
        )
        .bind(connection.0)
        .bind(object.as_str())
        .bind(range.from.as_ref().map_or("", RecordId::as_str))
        .bind(to)
        .bind(to)
        .fetch_one(&mut *tx)
        .await
        .context(OPERATION)?;
        counts.push(rows::count(n, "snapshot count")?);
    }
    tx.commit().await.context(OPERATION)?;
    Ok(counts)
}
