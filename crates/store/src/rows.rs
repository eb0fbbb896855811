//! Reading stored text back into validated domain values: a row that fails is reported as
//! [`Error::Corrupt`], naming the table, never a panic.

use sfsync_core::{Cursor, ObjectName, OrganizationSlug, RecordId};

use crate::model::TokenHash;
use crate::{Error, Result};

/// A stored object name.
pub fn object_name(text: &str, table: &str) -> Result<ObjectName> {
    ObjectName::parse(text).map_err(|e| Error::corrupt(format!("object name in {table}"), e))
}

/// A stored record Id.
pub fn record_id(text: &str, table: &str) -> Result<RecordId> {
    RecordId::parse(text).map_err(|e| Error::corrupt(format!("record id in {table}"), e))
}

/// A stored organization slug.
pub fn slug(text: &str) -> Result<OrganizationSlug> {
    OrganizationSlug::parse(text).map_err(|e| Error::corrupt("organization slug", e))
}

/// A stored count, which both databases hold as a signed 64-bit integer.
pub fn count(value: i64, what: &str) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::corrupt(what.to_owned(), format!("negative {value}")))
}

/// A count to store: counts beyond `i64::MAX` cannot happen, and saturate if they do.
pub fn stored_count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A stored cursor: both halves or neither.
pub fn cursor(
    stamp_ms: Option<i64>,
    id: Option<&str>,
    object: &ObjectName,
) -> Result<Option<Cursor>> {
    match (stamp_ms, id) {
        (None, None) => Ok(None),
        (Some(system_modstamp_ms), Some(id)) => Ok(Some(Cursor {
            system_modstamp_ms,
            id: record_id(id, "objects")?,
        })),
        _ => Err(Error::corrupt(
            format!("cursor of {object}"),
            "only one of stamp and id is set",
        )),
    }
}

/// A stored SHA-256, which must be 32 bytes.
pub fn token_hash(bytes: &[u8], what: &str) -> Result<TokenHash> {
    let hash = <[u8; 32]>::try_from(bytes)
        .map_err(|_| Error::corrupt(what.to_owned(), format!("{} bytes, not 32", bytes.len())))?;
    Ok(TokenHash(hash))
}
