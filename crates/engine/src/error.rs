//! How a run fails.

/// A run's failure: from Salesforce, from the store, or from data that does not fit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Salesforce refused or failed (classify with the client error's methods).
    #[error("salesforce: {0}")]
    Salesforce(#[from] sfsync_salesforce::Error),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] sfsync_store::Error),
    /// A record or value from Salesforce did not fit its describe.
    #[error("record of {object}: {source}")]
    Record {
        /// The object read.
        object: String,
        /// What did not fit.
        source: sfsync_core::Error,
    },
    /// A page Salesforce sent lacks what the read needs.
    #[error("page of {object} is malformed: {reason}")]
    Malformed {
        /// The object read.
        object: String,
        /// What was wrong.
        reason: String,
    },
    /// The connection's tokens could not be read.
    #[error("tokens: {0}")]
    Tokens(#[from] crate::tokens::TokenError),
    /// The object is not in describe (deleted, or not readable by the integration user).
    #[error("object {0} is not readable by the integration user")]
    ObjectVanished(String),
    /// A task of the run panicked or was cancelled.
    #[error("a task of the run stopped: {0}")]
    Task(String),
}

impl Error {
    /// Whether the connection needs an admin to connect again (invalid_grant): polling must
    /// stop rather than loop.
    pub fn needs_reauthorization(&self) -> bool {
        matches!(self, Error::Salesforce(e) if e.needs_reauthorization())
    }

    /// Whether the org's daily allocation is spent (REQUEST_LIMIT_EXCEEDED): pause, do not fail.
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Error::Salesforce(e) if e.is_rate_limited())
    }
}
