//! Sealed tokens and the single flight of their refresh.

use async_trait::async_trait;
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::OwnedMutexGuard;

use super::tenants::is_foreign_key_violation;
use crate::error::Context;
use crate::model::{ConnectionId, SealedSecret};
use crate::{Error, Result, TokenLock};

/// Stores a connection's sealed tokens, unless an admin disconnected it: a refresh still in
/// flight then must not bring back the tokens the disconnect deleted.
pub(super) async fn save(
    db: &mut SqliteConnection,
    connection: ConnectionId,
    sealed: &SealedSecret,
) -> Result<()> {
    let saved = sqlx::query(
        "INSERT INTO connection_tokens (connection_id, sealed) SELECT ?1, ?2 \
         WHERE NOT EXISTS (SELECT 1 FROM connections WHERE id = ?1 AND status = 'disconnected') \
         ON CONFLICT (connection_id) DO UPDATE SET sealed = excluded.sealed",
    )
    .bind(connection.0)
    .bind(sealed.0.as_slice())
    .execute(db)
    .await;
    match saved {
        Ok(_) => Ok(()),
        Err(e) if is_foreign_key_violation(&e) => Err(Error::NotFound {
            what: format!("connection {connection}"),
        }),
        Err(e) => Err(e).context("saving sealed tokens"),
    }
}

pub(super) async fn load(
    db: &mut SqliteConnection,
    connection: ConnectionId,
) -> Result<Option<SealedSecret>> {
    let sealed: Option<Vec<u8>> =
        sqlx::query_scalar("SELECT sealed FROM connection_tokens WHERE connection_id = ?")
            .bind(connection.0)
            .fetch_optional(db)
            .await
            .context("loading sealed tokens")?;
    Ok(sealed.map(SealedSecret))
}

/// The token lock of one connection: the in-process mutex, held until dropped.
pub(super) struct SqliteTokenLock {
    pool: SqlitePool,
    connection: ConnectionId,
    _held: OwnedMutexGuard<()>,
}

impl SqliteTokenLock {
    pub(super) fn new(
        pool: SqlitePool,
        connection: ConnectionId,
        held: OwnedMutexGuard<()>,
    ) -> Self {
        Self {
            pool,
            connection,
            _held: held,
        }
    }
}

#[async_trait]
impl TokenLock for SqliteTokenLock {
    /// Reads inside `BEGIN IMMEDIATE`, which waits for any writer still committing, so the
    /// read sees the last tokens saved by whoever held the lock before.
    async fn load(&mut self) -> Result<Option<SealedSecret>> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .context("re-reading sealed tokens")?;
        let sealed = load(&mut tx, self.connection).await?;
        tx.commit().await.context("re-reading sealed tokens")?;
        Ok(sealed)
    }

    async fn save(&mut self, sealed: &SealedSecret) -> Result<()> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .context("saving rotated tokens")?;
        save(&mut tx, self.connection, sealed).await?;
        tx.commit().await.context("saving rotated tokens")
    }
}
