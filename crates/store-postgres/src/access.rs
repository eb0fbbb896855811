//! Who may come in: credentials, users by id and pending connects.
//!
//! A credential is the SHA-256 of a secret handed to a person (a one-time sign-in link or a
//! session cookie), mapped to a user until a moment. A pending connect is an OAuth
//! authorization an admin started and Salesforce has not called back for yet. Whatever
//! works once (a sign-in link, a pending connect's `state`) is deleted by the transaction
//! that reads it, so two racing requests cannot both use it.

use sfsync_store::model::*;
use sfsync_store::rows::{PendingRow, UserRow};
use sfsync_store::{Error, Result};
use sqlx::{PgConnection, PgPool};

use crate::error::{Context, is_foreign_key_violation, is_unique_violation};
use sfsync_store::persisted::AsText;

pub(crate) async fn create_credential(
    pool: &PgPool,
    kind: Credential,
    user: UserId,
    hash: &TokenHash,
    expires_at_ms: i64,
) -> Result<()> {
    let created = sqlx::query(
        "INSERT INTO credentials (token_sha256, kind, user_id, expires_at_ms) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(hash.0.as_slice())
    .bind(kind.as_text())
    .bind(user.0)
    .bind(expires_at_ms)
    .execute(pool)
    .await;
    match created {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(Error::AlreadyExists {
            what: format!("{} credential", kind.as_text()),
        }),
        Err(e) if is_foreign_key_violation(&e) => Err(Error::NotFound {
            what: format!("user {user}"),
        }),
        Err(e) => Err(e).context("creating a credential"),
    }
}

pub(crate) async fn redeem_sign_in_link(
    pool: &PgPool,
    hash: &TokenHash,
    now_ms: i64,
) -> Result<Option<User>> {
    const OPERATION: &str = "redeeming a sign-in link";
    let mut tx = pool.begin().await.context(OPERATION)?;
    let link: Option<(i64, i64)> = sqlx::query_as(
        "DELETE FROM credentials WHERE token_sha256 = $1 AND kind = $2 \
         RETURNING user_id, expires_at_ms",
    )
    .bind(hash.0.as_slice())
    .bind(Credential::SignInLink.as_text())
    .fetch_optional(&mut *tx)
    .await
    .context(OPERATION)?;

    sweep_expired(&mut tx, now_ms).await?;

    let user = match link {
        Some((user, expires_at_ms)) if now_ms < expires_at_ms => {
            load_user_with(&mut tx, UserId(user)).await?
        }
        _ => None,
    };
    tx.commit().await.context(OPERATION)?;
    Ok(user)
}

/// Deletes expired links and sessions, which can never be used again. Clearing them at
/// each sign-in keeps the table to live rows without a sweeper of its own. Rows another
/// sign-in has locked are skipped, not waited for: two sign-ins sweeping at once could
/// otherwise each wait for a row the other holds, and the next sweep takes what this one
/// left.
async fn sweep_expired(db: &mut PgConnection, now_ms: i64) -> Result<()> {
    sqlx::query(
        "DELETE FROM credentials WHERE token_sha256 IN ( \
            SELECT token_sha256 FROM credentials WHERE expires_at_ms <= $1 \
            FOR UPDATE SKIP LOCKED)",
    )
    .bind(now_ms)
    .execute(db)
    .await
    .context("deleting expired credentials")?;
    Ok(())
}

pub(crate) async fn load_session_user(
    pool: &PgPool,
    hash: &TokenHash,
    now_ms: i64,
) -> Result<Option<User>> {
    let user: Option<UserRow> = sqlx::query_as(
        "SELECT u.id, u.organization_id, u.email, u.role FROM credentials c \
         JOIN users u ON u.id = c.user_id \
         WHERE c.token_sha256 = $1 AND c.kind = $2 AND c.expires_at_ms > $3",
    )
    .bind(hash.0.as_slice())
    .bind(Credential::Session.as_text())
    .bind(now_ms)
    .fetch_optional(pool)
    .await
    .context("loading a session's user")?;
    user.map(UserRow::into_user).transpose()
}

/// Deletes the session, if there is one: signing out twice is not an error.
pub(crate) async fn delete_session(pool: &PgPool, hash: &TokenHash) -> Result<()> {
    sqlx::query("DELETE FROM credentials WHERE token_sha256 = $1 AND kind = $2")
        .bind(hash.0.as_slice())
        .bind(Credential::Session.as_text())
        .execute(pool)
        .await
        .context("deleting a session")?;
    Ok(())
}

pub(crate) async fn load_user(pool: &PgPool, user: UserId) -> Result<Option<User>> {
    let mut db = pool.acquire().await.context("acquiring a connection")?;
    load_user_with(&mut db, user).await
}

async fn load_user_with(db: &mut PgConnection, user: UserId) -> Result<Option<User>> {
    let found: Option<UserRow> =
        sqlx::query_as("SELECT id, organization_id, email, role FROM users WHERE id = $1")
            .bind(user.0)
            .fetch_optional(db)
            .await
            .context("loading a user")?;
    found.map(UserRow::into_user).transpose()
}

pub(crate) async fn create_pending_connect(pool: &PgPool, pending: &PendingConnect) -> Result<()> {
    let created = sqlx::query(
        "INSERT INTO pending_connects (state_sha256, organization_id, user_id, session_sha256, \
            environment, login_url, sealed_verifier, created_at_ms, expires_at_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(pending.state_hash.0.as_slice())
    .bind(pending.organization.0)
    .bind(pending.user.0)
    .bind(pending.session.as_ref().map(|hash| hash.0.as_slice()))
    .bind(pending.environment.as_text())
    .bind(&pending.login_url)
    .bind(pending.sealed_verifier.0.as_slice())
    .bind(pending.created_at_ms)
    .bind(pending.expires_at_ms)
    .execute(pool)
    .await;
    match created {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(Error::AlreadyExists {
            what: "pending connect".to_owned(),
        }),
        Err(e) if is_foreign_key_violation(&e) => Err(Error::NotFound {
            what: format!(
                "organization {} or user {}",
                pending.organization, pending.user
            ),
        }),
        Err(e) => Err(e).context("creating a pending connect"),
    }
}

pub(crate) async fn take_pending_connect(
    pool: &PgPool,
    state_hash: &TokenHash,
) -> Result<Option<PendingConnect>> {
    const OPERATION: &str = "taking a pending connect";
    let mut tx = pool.begin().await.context(OPERATION)?;
    let taken: Option<PendingRow> = sqlx::query_as(
        "DELETE FROM pending_connects WHERE state_sha256 = $1 \
         RETURNING state_sha256, organization_id, user_id, session_sha256, environment, \
            login_url, sealed_verifier, created_at_ms, expires_at_ms",
    )
    .bind(state_hash.0.as_slice())
    .fetch_optional(&mut *tx)
    .await
    .context(OPERATION)?;
    // Decoded before the commit: a row that cannot be read is reported and stays, rather
    // than vanishing with nothing to show for it.
    let pending = taken.map(PendingRow::into_pending).transpose()?;
    tx.commit().await.context(OPERATION)?;
    Ok(pending)
}
