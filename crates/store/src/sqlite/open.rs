//! Opening the file: the lock file, the pragmas, the migrations.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::error::Context;
use crate::{Error, Result};

/// How long a statement waits for another writer before failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in the pool: readers run beside the one writer WAL allows, and a handful is
/// plenty for one process on a small machine.
const MAX_CONNECTIONS: u32 = 4;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The file a path or `sqlite://PATH` (or `sqlite:PATH`) URL names.
pub(super) fn database_path(path_or_url: &str) -> PathBuf {
    let path = path_or_url
        .strip_prefix("sqlite://")
        .or_else(|| path_or_url.strip_prefix("sqlite:"))
        .unwrap_or(path_or_url);
    // Query parameters of a URL (`?mode=rwc`) are ours to choose, not the caller's.
    let path = path.split_once('?').map_or(path, |(path, _)| path);
    PathBuf::from(path)
}

/// Takes the lock file `PATH.lock` for the life of the returned file.
pub(super) fn lock(database: &Path) -> Result<File> {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| Error::LockFile {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(Error::Locked { path }),
        Err(TryLockError::Error(source)) => Err(Error::LockFile { path, source }),
    }
}

/// Opens the pool with sfsync's pragmas and brings the schema up to date.
pub(super) async fn connect(path: &Path) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        // Snapshots are rows of one to a few kilobytes: 16 KiB pages hold several each
        // instead of spilling most into overflow pages. Applies to a new file only.
        .page_size(16 * 1024)
        // A page cache of 64 MiB per connection (negative means KiB), so a load's pages
        // are not spilled to the WAL before their transaction commits.
        .pragma("cache_size", "-65536");
    let pool = SqlitePoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .connect_with(options)
        .await
        .context("opening the database")?;
    MIGRATOR.run(&pool).await.map_err(Error::Migration)?;
    Ok(pool)
}

/// The lock file admits one process at a time, so a lease still recorded when the lock is
/// taken belongs to a process that died holding it. Releasing it (the epoch stays, still
/// fencing that process off) lets the objects run now rather than when the lease would have
/// expired. Only the lock holder may do this: a store opened beside it would release the
/// leases of a live process.
pub(super) async fn release_dead_leases(pool: &SqlitePool) -> Result<()> {
    sqlx::query(
        "UPDATE objects SET lease_owner = NULL, lease_until_ms = NULL \
         WHERE lease_owner IS NOT NULL",
    )
    .execute(pool)
    .await
    .context("releasing the leases of an earlier process")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_and_a_path_name_the_same_file() {
        let expected = PathBuf::from("/data/sfsync.db");
        assert_eq!(database_path("sqlite:///data/sfsync.db"), expected);
        assert_eq!(database_path("sqlite:/data/sfsync.db?mode=rwc"), expected);
        assert_eq!(database_path("/data/sfsync.db"), expected);
    }
}
