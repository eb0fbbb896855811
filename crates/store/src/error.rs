//! The one error type of the store. Each variant names what failed (the operation, the
//! table, the row) and none ever holds a token, a sealed secret or a field value.

use std::path::PathBuf;

use sfsync_core::ObjectName;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database refused or failed an operation.
    #[error("database error while {operation}")]
    Database {
        /// What the store was doing (`committing a page`, `loading changes`).
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The embedded migrations could not be applied.
    #[error("could not migrate the database schema")]
    Migration(#[source] sqlx::migrate::MigrateError),
    /// The lock file beside the database could not be created or read.
    #[error("could not open the lock file {path}")]
    LockFile {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Another process (or another store in this process) holds the database.
    #[error("the store at {path} is in use by another process")]
    Locked {
        /// The lock file that is held.
        path: PathBuf,
    },
    /// Another worker claimed the object since this writer's lease began: nothing was
    /// written, and the writer must stop working on the object.
    #[error("lease on {object} lost: held epoch {held}, current epoch {current}")]
    LeaseLost {
        /// The object.
        object: ObjectName,
        /// The epoch the writer held.
        held: i64,
        /// The epoch in the store.
        current: i64,
    },
    /// A stored row could not be read back into a domain value.
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// Which row (`snapshot 001… of Account`).
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A row the operation needs does not exist.
    #[error("{what} not found")]
    NotFound {
        /// Which row (`connection 7`).
        what: String,
    },
    /// A row with the same unique key exists.
    #[error("{what} already exists")]
    AlreadyExists {
        /// Which row (`organization acme`).
        what: String,
    },
}

impl Error {
    /// Whether the writer lost its lease and must abandon the object.
    pub fn is_lease_lost(&self) -> bool {
        matches!(self, Self::LeaseLost { .. })
    }

    /// Builds a [`Error::Corrupt`].
    pub fn corrupt(what: impl Into<String>, reason: impl ToString) -> Self {
        Self::Corrupt {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

/// Wraps a driver error with the operation it interrupted.
pub(crate) trait Context<T> {
    /// Names the operation.
    fn context(self, operation: &'static str) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, sqlx::Error> {
    fn context(self, operation: &'static str) -> Result<T, Error> {
        self.map_err(|source| Error::Database { operation, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_lease_names_the_object_and_both_epochs() {
        let err = Error::LeaseLost {
            object: ObjectName::parse("Account").unwrap(),
            held: 3,
            current: 4,
        };
        assert!(err.is_lease_lost());
        assert_eq!(
            err.to_string(),
            "lease on Account lost: held epoch 3, current epoch 4"
        );
    }

    #[test]
    fn a_lock_error_names_the_lock_file() {
        let err = Error::Locked {
            path: PathBuf::from("/data/sfsync.db.lock"),
        };
        assert!(err.to_string().contains("/data/sfsync.db.lock"), "{err}");
        assert!(!err.is_lease_lost());
    }
}
