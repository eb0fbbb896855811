//! What admins do to a connection beside syncing it: its polling settings, disconnecting
//! it, re-sealing every token under a new master key, and the organization's audit log.

use crate::rows::AuditRow;
use sqlx::{SqliteConnection, SqlitePool};

use super::tenants::is_foreign_key_violation;
use crate::error::Context;
use crate::model::*;
use crate::persisted::AsText;
use crate::{Error, Result};

fn connection_not_found(connection: ConnectionId) -> Error {
    Error::NotFound {
        what: format!("connection {connection}"),
    }
}

pub(super) async fn load_settings(
    pool: &SqlitePool,
    connection: ConnectionId,
) -> Result<ConnectionSettings> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT polling_interval_secs, budget_share_percent FROM connections WHERE id = ?",
    )
    .bind(connection.0)
    .fetch_optional(pool)
    .await
    .context("loading connection settings")?;
    let (interval, share) = row.ok_or_else(|| connection_not_found(connection))?;
    Ok(ConnectionSettings {
        polling_interval_secs: setting(interval, "polling interval", connection)?,
        budget_share_percent: setting(share, "budget share", connection)?,
    })
}

/// A stored setting, which must fit its type.
fn setting<T: TryFrom<i64>>(value: i64, name: &str, connection: ConnectionId) -> Result<T> {
    T::try_from(value).map_err(|_| {
        Error::corrupt(
            format!("{name} of connection {connection}"),
            format!("out of range {value}"),
        )
    })
}

pub(super) async fn save_settings(
    pool: &SqlitePool,
    connection: ConnectionId,
    settings: &ConnectionSettings,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE connections SET polling_interval_secs = ?, budget_share_percent = ? WHERE id = ?",
    )
    .bind(settings.polling_interval_secs)
    .bind(settings.budget_share_percent)
    .bind(connection.0)
    .execute(pool)
    .await
    .context("saving connection settings")?;
    if done.rows_affected() == 0 {
        return Err(connection_not_found(connection));
    }
    Ok(())
}

const DISCONNECT: &str = "disconnecting";

pub(super) async fn disconnect(
    pool: &SqlitePool,
    connection: ConnectionId,
    data: SyncedData,
) -> Result<()> {
    let mut tx = pool
        .begin_with("BEGIN IMMEDIATE")
        .await
        .context(DISCONNECT)?;
    let done = sqlx::query("UPDATE connections SET status = ?, status_detail = NULL WHERE id = ?")
        .bind(ConnectionStatus::Disconnected.as_text())
        .bind(connection.0)
        .execute(&mut *tx)
        .await
        .context(DISCONNECT)?;
    if done.rows_affected() == 0 {
        return Err(connection_not_found(connection));
    }
    sqlx::query("DELETE FROM connection_tokens WHERE connection_id = ?")
        .bind(connection.0)
        .execute(&mut *tx)
        .await
        .context(DISCONNECT)?;
    if data == SyncedData::Delete {
        delete_synced_data(&mut tx, connection).await?;
    }
    tx.commit().await.context(DISCONNECT)
}

/// Deletes what was read from Salesforce and sends every object back to a first load.
async fn delete_synced_data(db: &mut SqliteConnection, connection: ConnectionId) -> Result<()> {
    const DELETES: [&str; 3] = [
        "DELETE FROM snapshots WHERE connection_id = ?",
        "DELETE FROM change_events WHERE connection_id = ?",
        "DELETE FROM schema_events WHERE connection_id = ?",
    ];
    for statement in DELETES {
        sqlx::query(statement)
            .bind(connection.0)
            .execute(&mut *db)
            .await
            .context(DISCONNECT)?;
    }

    // The selection and the schedule stay, for a reconnect. The epoch rises, as a claim
    // would: a run still in flight can then no longer commit a page (and a cursor) onto the
    // emptied object, which would make a reconnect resume past records it never kept.
    sqlx::query(
        "UPDATE objects SET projection = NULL, describe_fetched_at_ms = NULL, \
            cursor_stamp_ms = NULL, cursor_id = NULL, load_last_id = NULL, load_done = 0, \
            deletes_covered_to_ms = NULL, formulas_refreshed_at_ms = NULL, \
            reconciled_at_ms = NULL, lease_epoch = lease_epoch + 1 \
         WHERE connection_id = ?",
    )
    .bind(connection.0)
    .execute(&mut *db)
    .await
    .context(DISCONNECT)?;
    Ok(())
}

pub(super) async fn load_all_sealed_tokens(
    pool: &SqlitePool,
) -> Result<Vec<(ConnectionId, SealedSecret)>> {
    let found: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT connection_id, sealed FROM connection_tokens ORDER BY connection_id",
    )
    .fetch_all(pool)
    .await
    .context("loading every sealed token")?;
    Ok(found
        .into_iter()
        .map(|(id, sealed)| (ConnectionId(id), SealedSecret(sealed)))
        .collect())
}

/// One statement compares and swaps, so nothing can slip in between, even from another
/// process sharing the file.
pub(super) async fn replace_sealed_tokens(
    pool: &SqlitePool,
    connection: ConnectionId,
    expected: &SealedSecret,
    replacement: &SealedSecret,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE connection_tokens SET sealed = ? WHERE connection_id = ? AND sealed = ?",
    )
    .bind(replacement.0.as_slice())
    .bind(connection.0)
    .bind(expected.0.as_slice())
    .execute(pool)
    .await
    .context("replacing sealed tokens")?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn save_audit(pool: &SqlitePool, entry: &AuditEntry) -> Result<()> {
    let saved = sqlx::query(
        "INSERT INTO audit_log (organization_id, user_id, action, detail, at_ms) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(entry.organization.0)
    .bind(entry.user.map(|user| user.0))
    .bind(&entry.action)
    .bind(&entry.detail)
    .bind(entry.at_ms)
    .execute(pool)
    .await;
    match saved {
        Ok(_) => Ok(()),
        Err(e) if is_foreign_key_violation(&e) => Err(Error::NotFound {
            what: format!("organization {} or its user", entry.organization),
        }),
        Err(e) => Err(e).context("saving an audit entry"),
    }
}

pub(super) async fn load_audit(
    pool: &SqlitePool,
    organization: OrganizationId,
    limit: u32,
) -> Result<Vec<AuditEntry>> {
    let found: Vec<AuditRow> = sqlx::query_as(
        "SELECT organization_id, user_id, action, detail, at_ms FROM audit_log \
         WHERE organization_id = ? ORDER BY at_ms DESC, id DESC LIMIT ?",
    )
    .bind(organization.0)
    .bind(limit)
    .fetch_all(pool)
    .await
    .context("loading the audit log")?;
    Ok(found.into_iter().map(AuditRow::into_entry).collect())
}
