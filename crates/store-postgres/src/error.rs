//! Building the store's [`Error`] from driver errors and bad rows. The error type itself is
//! sfsync-store's, so that callers of either backend match on the same variants.

use sfsync_store::Error;

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

/// A stored row that cannot be read back, naming the row.
pub(crate) fn corrupt(what: impl Into<String>, reason: impl ToString) -> Error {
    Error::Corrupt {
        what: what.into(),
        reason: reason.to_string(),
    }
}

/// A row the operation needs that does not exist.
pub(crate) fn not_found(what: impl Into<String>) -> Error {
    Error::NotFound { what: what.into() }
}

/// A row whose unique key is taken.
pub(crate) fn already_exists(what: impl Into<String>) -> Error {
    Error::AlreadyExists { what: what.into() }
}

/// Whether the database refused a row for a taken unique key.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// Whether the database refused a row that names a missing parent.
pub(crate) fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_foreign_key_violation())
}
