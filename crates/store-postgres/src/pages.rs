//! Snapshots, the one-transaction page commit, and Id ranges for reconciliation.
//!
//! A page's transaction takes two row locks, always in this order: the object's state row
//! first (the lease fence, held so that no claim slips in before the commit), then the feed
//! counter, as late as possible, because every page of every worker that carries changes
//! queues on it until the holder commits.

use std::collections::BTreeMap;

use sfsync_core::{FeedCursor, ObjectName, RecordId, Snapshot};
use sfsync_store::Result;
use sfsync_store::model::*;
use sqlx::{PgConnection, PgPool};

use crate::error::{Context, not_found};
use crate::objects;
use sfsync_store::persisted::encode_values;
use sfsync_store::persisted::{AsText, decode_values, encode_changes, encode_schema_change};
use sfsync_store::rows;

const COMMIT: &str = "committing a page";

pub(crate) async fn commit_page(pool: &PgPool, page: &PageCommit) -> Result<CommitReceipt> {
    let mut tx = pool.begin().await.context(COMMIT)?;
    let organization = organization_of(&mut tx, page.connection).await?;
    objects::ensure(&mut tx, page.connection, &page.object).await?;
    objects::lock_and_check_lease(&mut tx, page.connection, &page.object, page.lease_epoch).await?;

    upsert_snapshots(&mut tx, page).await?;
    remove_snapshots(&mut tx, page).await?;
    append_schema_events(&mut tx, page).await?;
    if let Some(progress) = &page.progress {
        objects::save_progress(&mut tx, page.connection, &page.object, progress).await?;
    }
    let cursors = append_changes(&mut tx, organization, page).await?;
    tx.commit().await.context(COMMIT)?;
    Ok(CommitReceipt { cursors })
}

async fn organization_of(db: &mut PgConnection, connection: ConnectionId) -> Result<i64> {
    sqlx::query_scalar("SELECT organization_id FROM connections WHERE id = $1")
        .bind(connection.0)
        .fetch_optional(db)
        .await
        .context(COMMIT)?
        .ok_or_else(|| not_found(format!("connection {connection}")))
}

async fn upsert_snapshots(db: &mut PgConnection, page: &PageCommit) -> Result<()> {
    for snapshot in &page.snapshots {
        sqlx::query(
            "INSERT INTO snapshots (connection_id, object, record_id, is_deleted, fields) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (connection_id, lower(object), record_id) DO UPDATE SET \
                is_deleted = excluded.is_deleted, fields = excluded.fields",
        )
        .bind(page.connection.0)
        .bind(page.object.as_str())
        .bind(snapshot.id.as_str())
        .bind(snapshot.is_deleted)
        .bind(encode_values(&snapshot.values))
        .execute(&mut *db)
        .await
        .context(COMMIT)?;
    }
    Ok(())
}

async fn remove_snapshots(db: &mut PgConnection, page: &PageCommit) -> Result<()> {
    if page.removed.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = page.removed.iter().map(RecordId::as_str).collect();
    sqlx::query(
        "DELETE FROM snapshots \
         WHERE connection_id = $1 AND lower(object) = lower($2) AND record_id = ANY($3)",
    )
    .bind(page.connection.0)
    .bind(page.object.as_str())
    .bind(ids)
    .execute(db)
    .await
    .context(COMMIT)?;
    Ok(())
}

/// Takes the page's cursors from the feed counter, whose row stays locked until the
/// transaction ends, and appends the changes under them in the order given.
async fn append_changes(
    db: &mut PgConnection,
    organization: i64,
    page: &PageCommit,
) -> Result<Vec<FeedCursor>> {
    if page.changes.is_empty() {
        return Ok(Vec::new());
    }
    let count = i64::try_from(page.changes.len()).unwrap_or(i64::MAX);
    let last: i64 = sqlx::query_scalar(
        "UPDATE feed_counter SET last_cursor = last_cursor + $1 RETURNING last_cursor",
    )
    .bind(count)
    .fetch_one(&mut *db)
    .await
    .context(COMMIT)?;

    let mut cursors = Vec::with_capacity(page.changes.len());
    for (cursor, new) in (last - count + 1..).zip(&page.changes) {
        insert_change(db, organization, page, cursor, new).await?;
        cursors.push(FeedCursor(rows::count(cursor, "change event cursor")?));
    }
    Ok(cursors)
}

async fn insert_change(
    db: &mut PgConnection,
    organization: i64,
    page: &PageCommit,
    cursor: i64,
    new: &NewChange,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO change_events (cursor, organization_id, connection_id, object, record_id, \
            kind, changed_at_ms, detected_at_ms, fields) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(cursor)
    .bind(organization)
    .bind(page.connection.0)
    .bind(page.object.as_str())
    .bind(new.change.record_id.as_str())
    .bind(new.change.kind.as_text())
    .bind(new.changed_at_ms)
    .bind(page.detected_at_ms)
    .bind(encode_changes(&new.change.fields))
    .execute(db)
    .await
    .context(COMMIT)?;
    Ok(())
}

async fn append_schema_events(db: &mut PgConnection, page: &PageCommit) -> Result<()> {
    for change in &page.schema_changes {
        let (kind, field) = encode_schema_change(change);
        sqlx::query(
            "INSERT INTO schema_events (connection_id, object, kind, field, detected_at_ms) \
             VALUES ($1, $2, $3, $4, $5)",
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

pub(crate) async fn load_snapshots(
    pool: &PgPool,
    connection: ConnectionId,
    object: &ObjectName,
    ids: &[RecordId],
) -> Result<Vec<Snapshot>> {
    let ids: Vec<&str> = ids.iter().map(RecordId::as_str).collect();
    let found: Vec<(String, bool, String)> = sqlx::query_as(
        "SELECT record_id, is_deleted, fields FROM snapshots \
         WHERE connection_id = $1 AND lower(object) = lower($2) AND record_id = ANY($3)",
    )
    .bind(connection.0)
    .bind(object.as_str())
    .bind(ids)
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

pub(crate) async fn count_snapshots(
    pool: &PgPool,
    connection: ConnectionId,
) -> Result<BTreeMap<ObjectName, u64>> {
    // Grouped as the unique key groups them; any spelling of the name stands for the group.
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT min(object), COUNT(*) FROM snapshots WHERE connection_id = $1 \
         GROUP BY lower(object)",
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

pub(crate) async fn load_snapshot_ids(
    pool: &PgPool,
    connection: ConnectionId,
    object: &ObjectName,
    range: &IdRange,
    limit: u32,
) -> Result<Vec<RecordId>> {
    // record_id is COLLATE "C", so `>=`, `<` and ORDER BY compare bytes, as Salesforce
    // orders Ids (upper case before lower case).
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT record_id FROM snapshots \
         WHERE connection_id = $1 AND lower(object) = lower($2) AND record_id >= $3 \
           AND ($4::text IS NULL OR record_id < $4) \
         ORDER BY record_id LIMIT $5",
    )
    .bind(connection.0)
    .bind(object.as_str())
    .bind(range.from.as_ref().map_or("", RecordId::as_str))
    .bind(range.to.as_ref().map(RecordId::as_str))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .context("loading snapshot ids")?;
    ids.iter()
        .map(|id| rows::record_id(id, "snapshots"))
        .collect()
}

pub(crate) async fn count_in_ranges(
    pool: &PgPool,
    connection: ConnectionId,
    object: &ObjectName,
    ranges: &[IdRange],
) -> Result<Vec<u64>> {
    const OPERATION: &str = "counting snapshots in id ranges";
    // One repeatable-read transaction, so that all counts describe the same moment even
    // while other workers commit pages.
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .context(OPERATION)?;
    let mut counts = Vec::with_capacity(ranges.len());
    for range in ranges {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM snapshots \
             WHERE connection_id = $1 AND lower(object) = lower($2) AND record_id >= $3 \
               AND ($4::text IS NULL OR record_id < $4)",
        )
        .bind(connection.0)
        .bind(object.as_str())
        .bind(range.from.as_ref().map_or("", RecordId::as_str))
        .bind(range.to.as_ref().map(RecordId::as_str))
        .fetch_one(&mut *tx)
        .await
        .context(OPERATION)?;
        counts.push(rows::count(n, "snapshot count")?);
    }
    tx.commit().await.context(OPERATION)?;
    Ok(counts)
}
