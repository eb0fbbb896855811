//! The one error type of this crate: every way a value from Salesforce, a config file or the
//! store can fail to become a domain value. Each variant names what was being built and
//! quotes the offending text, so a log line alone says what to look at.

/// Why a piece of text or JSON could not become a domain value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Not a 15- or 18-character Salesforce Id, or an 18-character Id whose case suffix does
    /// not match its first 15 characters.
    #[error("invalid record id {text:?}: {reason}")]
    InvalidRecordId {
        /// The text as received.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not a valid API name for an object or a field, or not a valid organization slug.
    #[error("invalid {kind} {text:?}: {reason}")]
    InvalidName {
        /// Which kind of name: `object name`, `field name`, `organization slug`.
        kind: &'static str,
        /// The text as received.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A field value that does not fit its describe type.
    #[error("invalid {field_type} value {text}: expected {expected}")]
    InvalidValue {
        /// The describe type of the field, as Salesforce spells it (`currency`, `datetime`).
        field_type: String,
        /// The offending value, as JSON text (a string keeps its quotes).
        text: String,
        /// What a value of this type looks like.
        expected: &'static str,
    },
}

/// The name the brief of the sync engine uses for a failed normalisation; it is the crate's
/// single error type, as style.md asks for one error enum per library crate.
pub type ValueError = Error;
