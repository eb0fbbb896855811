//! Per-object state: selection, projection, progress, schedule and lease.
//!
//! Every write that may create the object's row is one upsert on `(connection_id,
//! lower(object))`, so two workers touching a new object at once end with one row and
//! neither fails. The lease claim is such an upsert too, with the claim's condition in its
//! `WHERE`: PostgreSQL evaluates it on the row it has locked, after any concurrent claim
//! has committed, so of two racing claims exactly one wins.

use sfsync_core::{ObjectName, Projection};
use sfsync_store::model::*;
use sfsync_store::rows::ObjectRow;
use sfsync_store::{Error, Result};
use sqlx::{PgConnection, PgPool};

use crate::error::{Context, is_foreign_key_violation, not_found};
use sfsync_store::persisted::encode_projection;

/// The columns of [`ObjectRow`], as a literal so that queries stay `&'static str`.
macro_rules! object_columns {
    () => {
        "connection_id, object, selected, projection, describe_fetched_at_ms, \
         cursor_stamp_ms, cursor_id, load_last_id, load_done, deletes_covered_to_ms, \
         formulas_refreshed_at_ms, reconciled_at_ms, last_run_at_ms, last_error, \
         next_run_at_ms, lease_epoch"
    };
}

/// Maps a write that named a missing connection to [`Error::NotFound`].
fn missing_connection(
    connection: ConnectionId,
    operation: &'static str,
) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| match is_foreign_key_violation(&e) {
        true => not_found(format!("connection {connection}")),
        false => Error::Database {
            operation,
            source: e,
        },
    }
}

/// Creates the object's state row if it is missing.
pub(crate) async fn ensure(
    db: &mut PgConnection,
    connection: ConnectionId,
    object: &ObjectName,
) -> Result<()> {
    const OPERATION: &str = "creating an object state";
    sqlx::query(
        "INSERT INTO objects (connection_id, object) VALUES ($1, $2) \
         ON CONFLICT (connection_id, lower(object)) DO NOTHING",
    )
    .bind(connection.0)
    .bind(object.as_str())
    .execute(db)
    .await
    .map_err(missing_connection(connection, OPERATION))?;
    Ok(())
}

pub(crate) async fn save_selected(
    pool: &PgPool,
    connection: ConnectionId,
    objects: &[ObjectName],
) -> Result<()> {
    const OPERATION: &str = "saving selected objects";
    let mut tx = pool.begin().await.context(OPERATION)?;
    sqlx::query("UPDATE objects SET selected = FALSE WHERE connection_id = $1")
        .bind(connection.0)
        .execute(&mut *tx)
        .await
        .context(OPERATION)?;
    // One statement per object: a list naming an object twice (in two cases) would make a
    // single multi-row upsert touch its row twice, which PostgreSQL refuses.
    for object in objects {
        sqlx::query(
            "INSERT INTO objects (connection_id, object, selected) VALUES ($1, $2, TRUE) \
             ON CONFLICT (connection_id, lower(object)) DO UPDATE SET selected = TRUE",
        )
        .bind(connection.0)
        .bind(object.as_str())
        .execute(&mut *tx)
        .await
        .map_err(missing_connection(connection, OPERATION))?;
    }
    tx.commit().await.context(OPERATION)
}

pub(crate) async fn load_all(pool: &PgPool, connection: ConnectionId) -> Result<Vec<ObjectState>> {
    // Ordered as SQLite's COLLATE NOCASE orders: ASCII folded to lower case, then bytes.
    let found: Vec<ObjectRow> = sqlx::query_as(concat!(
        "SELECT ",
        object_columns!(),
        " FROM objects WHERE connection_id = $1 ORDER BY lower(object) COLLATE \"C\""
    ))
    .bind(connection.0)
    .fetch_all(pool)
    .await
    .context("loading object states")?;
    found.into_iter().map(ObjectRow::into_state).collect()
}

pub(crate) async fn load_one(
    pool: &PgPool,
    connection: ConnectionId,
    object: &ObjectName,
) -> Result<Option<ObjectState>> {
    let found: Option<ObjectRow> = sqlx::query_as(concat!(
        "SELECT ",
        object_columns!(),
        " FROM objects WHERE connection_id = $1 AND lower(object) = lower($2)"
    ))
    .bind(connection.0)
    .bind(object.as_str())
    .fetch_optional(pool)
    .await
    .context("loading an object state")?;
    found.map(ObjectRow::into_state).transpose()
}

pub(crate) async fn save_projection(
    pool: &PgPool,
    connection: ConnectionId,
    projection: &Projection,
    fetched_at_ms: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO objects (connection_id, object, projection, describe_fetched_at_ms) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (connection_id, lower(object)) DO UPDATE SET \
            projection = excluded.projection, \
            describe_fetched_at_ms = excluded.describe_fetched_at_ms",
    )
    .bind(connection.0)
    .bind(projection.object.as_str())
    .bind(encode_projection(projection))
    .bind(fetched_at_ms)
    .execute(pool)
    .await
    .map_err(missing_connection(connection, "saving a projection"))?;
    Ok(())
}

pub(crate) async fn save_schedule(
    pool: &PgPool,
    connection: ConnectionId,
    object: &ObjectName,
    schedule: &ObjectSchedule,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO objects (connection_id, object, last_run_at_ms, last_error, \
            next_run_at_ms) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (connection_id, lower(object)) DO UPDATE SET \
            last_run_at_ms = excluded.last_run_at_ms, last_error = excluded.last_error, \
            next_run_at_ms = excluded.next_run_at_ms",
    )
    .bind(connection.0)
    .bind(object.as_str())
    .bind(schedule.last_run_at_ms)
    .bind(schedule.last_error.as_deref())
    .bind(schedule.next_run_at_ms)
    .execute(pool)
    .await
    .map_err(missing_connection(connection, "saving an object schedule"))?;
    Ok(())
}

/// Who asks for a lease, and for how long.
pub(crate) struct LeaseClaim<'a> {
    pub(crate) owner: &'a str,
    pub(crate) now_ms: i64,
    pub(crate) until_ms: i64,
}

pub(crate) async fn claim_lease(
    pool: &PgPool,
    connection: ConnectionId,
    object: &ObjectName,
    claim: &LeaseClaim<'_>,
) -> Result<Option<Lease>> {
    // The same owner may claim again (a restarted worker keeps its name); a claim always
    // raises the epoch, so commits of the earlier claim are fenced off either way. A new
    // row starts at epoch 1, as a claim of a row at the default 0 would give.
    let epoch: Option<i64> = sqlx::query_scalar(
        "INSERT INTO objects (connection_id, object, lease_owner, lease_until_ms, lease_epoch) \
         VALUES ($1, $2, $3, $4, 1) \
         ON CONFLICT (connection_id, lower(object)) DO UPDATE SET \
            lease_owner = excluded.lease_owner, lease_until_ms = excluded.lease_until_ms, \
            lease_epoch = objects.lease_epoch + 1 \
         WHERE objects.lease_owner IS NULL OR objects.lease_owner = excluded.lease_owner \
            OR objects.lease_until_ms <= $5 \
         RETURNING lease_epoch",
    )
    .bind(connection.0)
    .bind(object.as_str())
    .bind(claim.owner)
    .bind(claim.until_ms)
    .bind(claim.now_ms)
    .fetch_optional(pool)
    .await
    .map_err(missing_connection(connection, "claiming a lease"))?;
    Ok(epoch.map(|epoch| Lease {
        epoch,
        until_ms: claim.until_ms,
    }))
}

/// Locks the object's row until the transaction ends and fails with [`Error::LeaseLost`]
/// unless its epoch is still `held`. With the row locked, no claim can raise the epoch
/// before the page commits: a claim waits, then fences off only later pages.
pub(crate) async fn lock_and_check_lease(
    db: &mut PgConnection,
    connection: ConnectionId,
    object: &ObjectName,
    held: Option<i64>,
) -> Result<()> {
    let current: i64 = sqlx::query_scalar(
        "SELECT lease_epoch FROM objects WHERE connection_id = $1 AND lower(object) = lower($2) \
         FOR UPDATE",
    )
    .bind(connection.0)
    .bind(object.as_str())
    .fetch_one(db)
    .await
    .context("checking a lease")?;
    match held {
        Some(held) if held != current => Err(Error::LeaseLost {
            object: object.clone(),
            held,
            current,
        }),
        _ => Ok(()),
    }
}

/// Writes the object's new read position.
pub(crate) async fn save_progress(
    db: &mut PgConnection,
    connection: ConnectionId,
    object: &ObjectName,
    progress: &ObjectProgress,
) -> Result<()> {
    let cursor = progress.cursor.as_ref();
    sqlx::query(
        "UPDATE objects SET cursor_stamp_ms = $1, cursor_id = $2, load_last_id = $3, \
            load_done = $4, deletes_covered_to_ms = $5, formulas_refreshed_at_ms = $6, \
            reconciled_at_ms = $7 \
         WHERE connection_id = $8 AND lower(object) = lower($9)",
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
