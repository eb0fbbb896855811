//! Per-object state: selection, projection, progress, schedule and lease.

use crate::rows::ObjectRow;
use sfsync_core::{ObjectName, Projection};
use sqlx::{SqliteConnection, SqlitePool};

use super::tenants::is_foreign_key_violation;
use crate::error::Context;
use crate::model::*;
use crate::persisted::encode_projection;
use crate::{Error, Result};

/// Creates the object's state row if it is missing.
pub(super) async fn ensure(
    db: &mut SqliteConnection,
    connection: ConnectionId,
    object: &ObjectName,
) -> Result<()> {
    let inserted = sqlx::query(
        "INSERT INTO objects (connection_id, object) VALUES (?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(connection.0)
    .bind(object.as_str())
    .execute(db)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if is_foreign_key_violation(&e) => Err(Error::NotFound {
            what: format!("connection {connection}"),
        }),
        Err(e) => Err(e).context("creating an object state"),
    }
}

pub(super) async fn save_selected(
    pool: &SqlitePool,
    connection: ConnectionId,
    objects: &[ObjectName],
) -> Result<()> {
    const OPERATION: &str = "saving selected objects";
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .context(OPERATION)?;
    sqlx::query("UPDATE objects SET selected = 0 WHERE connection_id = ?")
        .bind(connection.0)
        .execute(&mut *tx)
        .await
        .context(OPERATION)?;
    for object in objects {
        ensure(&mut tx, connection, object).await?;
        sqlx::query("UPDATE objects SET selected = 1 WHERE connection_id = ? AND object = ?")
            .bind(connection.0)
            .bind(object.as_str())
            .execute(&mut *tx)
            .await
            .context(OPERATION)?;
    }
    tx.commit().await.context(OPERATION)
}

pub(super) async fn load_all(
    pool: &SqlitePool,
    connection: ConnectionId,
) -> Result<Vec<ObjectState>> {
    let found: Vec<ObjectRow> =
        sqlx::query_as("SELECT * FROM objects WHERE connection_id = ? ORDER BY object")
            .bind(connection.0)
            .fetch_all(pool)
            .await
            .context("loading object states")?;
    found.into_iter().map(ObjectRow::into_state).collect()
}

pub(super) async fn load_one(
    pool: &SqlitePool,
    connection: ConnectionId,
    object: &ObjectName,
) -> Result<Option<ObjectState>> {
    let found: Option<ObjectRow> =
        sqlx::query_as("SELECT * FROM objects WHERE connection_id = ? AND object = ?")
            .bind(connection.0)
            .bind(object.as_str())
            .fetch_optional(pool)
            .await
            .context("loading an object state")?;
    found.map(ObjectRow::into_state).transpose()
}

pub(super) async fn save_projection(
    pool: &SqlitePool,
    connection: ConnectionId,
    projection: &Projection,
    fetched_at_ms: i64,
) -> Result<()> {
    const OPERATION: &str = "saving a projection";
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .context(OPERATION)?;
    ensure(&mut tx, connection, &projection.object).await?;
    sqlx::query(
        "UPDATE objects SET projection = ?, describe_fetched_at_ms = ? \
         WHERE connection_id = ? AND object = ?",
    )
    .bind(encode_projection(projection))
    .bind(fetched_at_ms)
    .bind(connection.0)
    .bind(projection.object.as_str())
    .execute(&mut *tx)
    .await
    .context(OPERATION)?;
    tx.commit().await.context(OPERATION)
}

pub(super) async fn save_schedule(
    pool: &SqlitePool,
    connection: ConnectionId,
    object: &ObjectName,
    schedule: &ObjectSchedule,
) -> Result<()> {
    const OPERATION: &str = "saving an object schedule";
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .context(OPERATION)?;
    ensure(&mut tx, connection, object).await?;
    sqlx::query(
        "UPDATE objects SET last_run_at_ms = ?, last_error = ?, next_run_at_ms = ? \
         WHERE connection_id = ? AND object = ?",
    )
    .bind(schedule.last_run_at_ms)
    .bind(schedule.last_error.as_deref())
    .bind(schedule.next_run_at_ms)
    .bind(connection.0)
    .bind(object.as_str())
    .execute(&mut *tx)
    .await
    .context(OPERATION)?;
    tx.commit().await.context(OPERATION)
}

/// Who asks for a lease, and for how long.
pub(super) struct LeaseClaim<'a> {
    pub(super) owner: &'a str,
    pub(super) now_ms: i64,
    pub(super) until_ms: i64,
}

pub(super) async fn claim_lease(
    pool: &SqlitePool,
    connection: ConnectionId,
    object: &ObjectName,
    claim: &LeaseClaim<'_>,
) -> Result<Option<Lease>> {
    const OPERATION: &str = "claiming a lease";
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .context(OPERATION)?;
    ensure(&mut tx, connection, object).await?;
    // The same owner may claim again (a restarted worker keeps its name); a claim always
    // raises the epoch, so commits of the earlier claim are fenced off either way.
    let epoch: Option<i64> = sqlx::query_scalar(
        "UPDATE objects SET lease_owner = ?, lease_until_ms = ?, lease_epoch = lease_epoch + 1 \
         WHERE connection_id = ? AND object = ? \
           AND (lease_owner IS NULL OR lease_owner = ? OR lease_until_ms <= ?) \
         RETURNING lease_epoch",
    )
    .bind(claim.owner)
    .bind(claim.until_ms)
    .bind(connection.0)
    .bind(object.as_str())
    .bind(claim.owner)
    .bind(claim.now_ms)
    .fetch_optional(&mut *tx)
    .await
    .context(OPERATION)?;
    tx.commit().await.context(OPERATION)?;
    Ok(epoch.map(|epoch| Lease {
        epoch,
        until_ms: claim.until_ms,
    }))
}

/// Fails with [`Error::LeaseLost`] unless the object's epoch is still `held`.
pub(super) async fn check_lease(
    db: &mut SqliteConnection,
    connection: ConnectionId,
    object: &ObjectName,
    held: i64,
) -> Result<()> {
    let current: i64 = sqlx::query_scalar(
        "SELECT lease_epoch FROM objects WHERE connection_id = ? AND object = ?",
    )
    .bind(connection.0)
    .bind(object.as_str())
    .fetch_one(db)
    .await
    .context("checking a lease")?;
    if current != held {
        return Err(Error::LeaseLost {
            object: object.clone(),
            held,
            current,
        });
    }
    Ok(())
}

/// Writes the object's new read position.
pub(super) async fn save_progress(
    db: &mut SqliteConnection,
    connection: ConnectionId,
    object: &ObjectName,
    progress: &ObjectProgress,
) -> Result<()> {
    let cursor = progress.cursor.as_ref();
    sqlx::query(
        "UPDATE objects SET cursor_stamp_ms = ?, cursor_id = ?, load_last_id = ?, load_done = ?, \
         deletes_covered_to_ms = ?, formulas_refreshed_at_ms = ?, reconciled_at_ms = ? \
         WHERE connection_id = ? AND object = ?",
    )
    .bind(cursor.map(|c| c.system_modstamp_ms))
    .bind(cursor.map(|c| c.id.as_str()))
    .bind(progress.load.last_id.as_ref().map(|id| id.as_str()))
    .bind(progress.load.done)
    .bind(progress.maintenance.deletes_covered_to_ms)
    .bind(progress.maintenance.formulas_refreshed_at_ms)
    .bind(progress.maintenance.reconciled_at_ms)
    .bind(connection.0)
    .bind(object.as_str())
    .execute(db)
    .await
    .context("saving object progress")?;
    Ok(())
}
