//! Opening the pool: the schema it works in, and the migrations.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, PgPool};

use sfsync_store::{Error, Result};

use crate::error::{Context, is_unique_violation};

/// Connections per worker process. Page commits, readers and the token lock (which holds
/// one connection for as long as a refresh takes) share them.
const MAX_CONNECTIONS: u32 = 10;

/// How long an operation waits for a free connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Opens the pool on `url` and brings the schema up to date. With `schema`, the schema is
/// created if missing and every pooled connection works in it alone (its `search_path`),
/// migrations included.
pub(crate) async fn connect(url: &str, schema: Option<&str>) -> Result<PgPool> {
    let options: PgConnectOptions = url.parse().context("reading the database url")?;
    if let Some(schema) = schema {
        create_schema(&options, schema).await?;
    }
    let pool = pool_options(schema)
        .connect_with(options)
        .await
        .context("opening the database")?;
    // The migrator holds a database-wide advisory lock while it runs, so workers that
    // start together apply each migration once.
    MIGRATOR.run(&pool).await.map_err(Error::Migration)?;
    Ok(pool)
}

fn pool_options(schema: Option<&str>) -> PgPoolOptions {
    let options = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT);
    let Some(schema) = schema else {
        return options;
    };
    let set_path = format!("SET search_path TO {}", quote_identifier(schema));
    options.after_connect(move |db, _meta| {
        let set_path = set_path.clone();
        Box::pin(async move {
            db.execute(AssertSqlSafe(set_path)).await?;
            Ok(())
        })
    })
}

/// Creates the schema on a connection of its own, before the pool's connections look for it.
async fn create_schema(options: &PgConnectOptions, schema: &str) -> Result<()> {
    const OPERATION: &str = "creating the schema";
    let mut db = PgConnection::connect_with(options)
        .await
        .context(OPERATION)?;
    let create = format!("CREATE SCHEMA IF NOT EXISTS {}", quote_identifier(schema));
    match db.execute(AssertSqlSafe(create)).await {
        // Another worker created it at the same instant: IF NOT EXISTS does not cover that.
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e).context(OPERATION),
    }
    db.close().await.context(OPERATION)
}

/// Quotes a name as a PostgreSQL identifier: any text becomes one name, never SQL.
pub(crate) fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quoted_identifier_cannot_end_early() {
        assert_eq!(quote_identifier("sfsync"), "\"sfsync\"");
        assert_eq!(
            quote_identifier("a\"; DROP TABLE x; --"),
            "\"a\"\"; DROP TABLE x; --\""
        );
    }
}
