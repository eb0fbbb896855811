//! Organizations, users, API-token hashes and connections.

use sfsync_core::OrganizationSlug;
use sfsync_store::Result;
use sfsync_store::model::*;
use sfsync_store::rows::{ConnectionRow, UserRow};
use sqlx::PgPool;

use crate::error::not_found;
use crate::error::{Context, already_exists, is_foreign_key_violation, is_unique_violation};
use sfsync_store::persisted::AsText;
use sfsync_store::rows;

pub(crate) async fn create_organization(
    pool: &PgPool,
    slug: &OrganizationSlug,
    created_at_ms: i64,
) -> Result<Organization> {
    let inserted = sqlx::query_scalar(
        "INSERT INTO organizations (slug, created_at_ms) VALUES ($1, $2) RETURNING id",
    )
    .bind(slug.as_str())
    .bind(created_at_ms)
    .fetch_one(pool)
    .await;
    match inserted {
        Ok(id) => Ok(Organization {
            id: OrganizationId(id),
            slug: slug.clone(),
            created_at_ms,
        }),
        Err(e) if is_unique_violation(&e) => Err(already_exists(format!("organization {slug}"))),
        Err(e) => Err(e).context("creating an organization"),
    }
}

pub(crate) async fn load_organization(
    pool: &PgPool,
    slug: &OrganizationSlug,
) -> Result<Option<Organization>> {
    let row: Option<(i64, String, i64)> =
        sqlx::query_as("SELECT id, slug, created_at_ms FROM organizations WHERE slug = $1")
            .bind(slug.as_str())
            .fetch_optional(pool)
            .await
            .context("loading an organization")?;
    organization_from(row)
}

pub(crate) async fn load_organization_by_id(
    pool: &PgPool,
    id: OrganizationId,
) -> Result<Option<Organization>> {
    let row: Option<(i64, String, i64)> =
        sqlx::query_as("SELECT id, slug, created_at_ms FROM organizations WHERE id = $1")
            .bind(id.0)
            .fetch_optional(pool)
            .await
            .context("loading an organization")?;
    organization_from(row)
}

fn organization_from(row: Option<(i64, String, i64)>) -> Result<Option<Organization>> {
    row.map(|(id, slug, created_at_ms)| {
        Ok(Organization {
            id: OrganizationId(id),
            slug: rows::slug(&slug)?,
            created_at_ms,
        })
    })
    .transpose()
}

pub(crate) async fn create_user(
    pool: &PgPool,
    organization: OrganizationId,
    email: &str,
    role: Role,
    created_at_ms: i64,
) -> Result<User> {
    let inserted = sqlx::query_scalar(
        "INSERT INTO users (organization_id, email, role, created_at_ms) \
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(organization.0)
    .bind(email)
    .bind(role.as_text())
    .bind(created_at_ms)
    .fetch_one(pool)
    .await;
    match inserted {
        Ok(id) => Ok(User {
            id: UserId(id),
            organization,
            email: email.to_owned(),
            role,
        }),
        Err(e) if is_unique_violation(&e) => Err(already_exists(format!(
            "user {email} of organization {organization}"
        ))),
        Err(e) if is_foreign_key_violation(&e) => {
            Err(not_found(format!("organization {organization}")))
        }
        Err(e) => Err(e).context("creating a user"),
    }
}

pub(crate) async fn load_users(pool: &PgPool, organization: OrganizationId) -> Result<Vec<User>> {
    let users: Vec<UserRow> = sqlx::query_as(
        "SELECT id, organization_id, email, role FROM users WHERE organization_id = $1 \
         ORDER BY id",
    )
    .bind(organization.0)
    .fetch_all(pool)
    .await
    .context("loading users")?;
    users.into_iter().map(UserRow::into_user).collect()
}

pub(crate) async fn save_api_token(
    pool: &PgPool,
    user: UserId,
    hash: &TokenHash,
    created_at_ms: i64,
) -> Result<()> {
    let saved = sqlx::query(
        "INSERT INTO api_tokens (token_sha256, user_id, created_at_ms) VALUES ($1, $2, $3)",
    )
    .bind(hash.0.as_slice())
    .bind(user.0)
    .bind(created_at_ms)
    .execute(pool)
    .await;
    match saved {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(already_exists("api token")),
        Err(e) if is_foreign_key_violation(&e) => Err(not_found(format!("user {user}"))),
        Err(e) => Err(e).context("saving an api token"),
    }
}

pub(crate) async fn load_user_by_token(pool: &PgPool, hash: &TokenHash) -> Result<Option<User>> {
    let user: Option<UserRow> = sqlx::query_as(
        "SELECT u.id, u.organization_id, u.email, u.role FROM api_tokens t \
         JOIN users u ON u.id = t.user_id WHERE t.token_sha256 = $1",
    )
    .bind(hash.0.as_slice())
    .fetch_optional(pool)
    .await
    .context("loading a user by api token")?;
    user.map(UserRow::into_user).transpose()
}

/// The columns of [`ConnectionRow`], as a literal so that queries stay `&'static str`.
macro_rules! connection_columns {
    () => {
        "id, organization_id, environment, login_url, instance_url, salesforce_org_id, \
         salesforce_username, connected_by, connected_at_ms, status, status_detail"
    };
}

/// One upsert on the organization's unique key: two workers saving the same organization's
/// connection at once end with one row, the later details winning.
pub(crate) async fn save_connection(pool: &PgPool, new: &NewConnection) -> Result<Connection> {
    let row: ConnectionRow = sqlx::query_as(concat!(
        "INSERT INTO connections (organization_id, environment, login_url, instance_url, \
            salesforce_org_id, salesforce_username, connected_by, connected_at_ms, status) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active') \
         ON CONFLICT (organization_id) DO UPDATE SET environment = excluded.environment, \
            login_url = excluded.login_url, instance_url = excluded.instance_url, \
            salesforce_org_id = excluded.salesforce_org_id, \
            salesforce_username = excluded.salesforce_username, \
            connected_by = excluded.connected_by, connected_at_ms = excluded.connected_at_ms, \
            status = 'active', status_detail = NULL \
         RETURNING ",
        connection_columns!()
    ))
    .bind(new.organization.0)
    .bind(new.environment.as_text())
    .bind(&new.login_url)
    .bind(&new.instance_url)
    .bind(&new.salesforce_org_id)
    .bind(&new.salesforce_username)
    .bind(new.connected_by.0)
    .bind(new.connected_at_ms)
    .fetch_one(pool)
    .await
    .map_err(|e| match is_foreign_key_violation(&e) {
        true => not_found(format!(
            "organization {} or user {}",
            new.organization, new.connected_by
        )),
        false => sfsync_store::Error::Database {
            operation: "saving a connection",
            source: e,
        },
    })?;
    row.into_connection()
}

pub(crate) async fn load_connection(
    pool: &PgPool,
    organization: OrganizationId,
) -> Result<Option<Connection>> {
    let row: Option<ConnectionRow> = sqlx::query_as(concat!(
        "SELECT ",
        connection_columns!(),
        " FROM connections WHERE organization_id = $1"
    ))
    .bind(organization.0)
    .fetch_optional(pool)
    .await
    .context("loading a connection")?;
    row.map(ConnectionRow::into_connection).transpose()
}

pub(crate) async fn load_connections(pool: &PgPool) -> Result<Vec<Connection>> {
    let found: Vec<ConnectionRow> = sqlx::query_as(concat!(
        "SELECT ",
        connection_columns!(),
        " FROM connections ORDER BY id"
    ))
    .fetch_all(pool)
    .await
    .context("loading connections")?;
    found
        .into_iter()
        .map(ConnectionRow::into_connection)
        .collect()
}

/// The condition under which a status write leaves the row alone: a connection an admin
/// disconnected is not marked for re-authorization by a tick that was still in flight (its
/// refresh fails because the disconnect revoked the token).
macro_rules! kept_disconnected {
    ($status:literal) => {
        concat!(
            "status = 'disconnected' AND ",
            $status,
            " = 'needs_reauthorization'"
        )
    };
}

pub(crate) async fn save_connection_status(
    pool: &PgPool,
    connection: ConnectionId,
    status: ConnectionStatus,
    detail: Option<&str>,
) -> Result<()> {
    let done = sqlx::query(concat!(
        "UPDATE connections SET status = CASE WHEN ",
        kept_disconnected!("$1"),
        " THEN status ELSE $1 END, status_detail = CASE WHEN ",
        kept_disconnected!("$1"),
        " THEN status_detail ELSE $2 END WHERE id = $3"
    ))
    .bind(status.as_text())
    .bind(detail)
    .bind(connection.0)
    .execute(pool)
    .await
    .context("saving a connection status")?;
    if done.rows_affected() == 0 {
        return Err(not_found(format!("connection {connection}")));
    }
    Ok(())
}
