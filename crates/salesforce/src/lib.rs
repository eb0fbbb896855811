//! sfsync's Salesforce client: OAuth 2.0 web-server flow, REST and Bulk API 2.0 reads, and one
//! typed error. It knows Salesforce and nothing of sfsync's store.
//!
//! | module | what it holds |
//! |---|---|
//! | [`auth`] | login hosts, authorize URL (PKCE, state), code exchange, refresh, revoke, identity |
//! | [`session`] | sessions, the caller's token store, rotation-safe refresh under its lock |
//! | [`client`] | [`SalesforceClient`]: timeouts, retries, refresh once, API usage per response |
//! | [`query`] | query/queryAll as a stream of pages, `/composite` queries, long SOQL |
//! | [`describe`] | describeGlobal and sObject describe with `If-Modified-Since` |
//! | [`replication`] | getUpdated and getDeleted |
//! | [`bulk`] | Bulk API 2.0 query jobs and their CSV results |
//! | [`limits`] | `Sforce-Limit-Info` and `/limits` |
//! | [`record`] | [`Record`]: one row, `attributes` apart from the fields |
//! | [`value`] | [`FieldValue`]: one field's value, its text borrowed from the page body |
//! | [`error`] | [`Error`] and its classification (`is_retryable`, `needs_reauthorization`, ...) |
//! | [`retry`] | bounded, jittered exponential backoff |
//! | [`secret`] | token types that print `[redacted]` |
//! | [`wire`] | date-time forms and JSON decoding that names what was wrong |
//!
//! Every protocol fact here cites salesforce-api.md (in the team's shared notes) by section.
//!
//! ```no_run
//! # async fn run(store: std::sync::Arc<dyn sfsync_salesforce::TokenStore>) -> sfsync_salesforce::Result<()> {
//! use futures_util::TryStreamExt;
//! use sfsync_salesforce::*;
//!
//! let redirect = url::Url::parse("https://sfsync.example.com/oauth/callback").unwrap();
//! let oauth = OAuthClient::new(OAuthConfig::new("3MVG...", redirect, Environment::Production))?;
//! let client = SalesforceClient::connect(ClientConfig::default(), TokenRefresher::new(oauth, store)).await?;
//! let mut pages = client.query_all("SELECT Id, Name, SystemModstamp FROM Account");
//! while let Some(page) = pages.try_next().await? {
//!     for record in &page.records {
//!         println!("{:?} {:?}", record.id(), record.system_modstamp()?);
//!     }
//! }
//! println!("api usage: {:?}", client.api_usage());
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod auth;
pub mod bulk;
pub mod client;
pub mod describe;
pub mod error;
pub mod limits;
pub mod query;
pub mod record;
pub mod replication;
pub mod retry;
pub mod secret;
pub mod session;
pub mod value;
pub mod wire;

#[cfg(test)]
mod parser_properties;

pub use auth::{
    Environment, Identity, OAuthClient, OAuthConfig, PendingAuthorization, Prompt, Refreshed,
    TokenGrant,
};
pub use bulk::{BulkJob, BulkPage, BulkQueryOptions, JobState};
pub use client::{ApiVersion, ClientConfig, HttpConfig, SalesforceClient};
pub use describe::{
    Conditional, FieldDescribe, FieldType, GlobalDescribe, SObjectDescribe, SObjectSummary,
};
pub use error::{Error, Result};
pub use limits::{ApiUsage, Limit, OrgLimits, Usage};
pub use query::{CompositeQuery, CompositeQueryResult, QueryOptions, QueryPage};
pub use record::{FieldName, Fields, Record};
pub use replication::{DeletedRecord, DeletedRecords, UpdatedIds};
pub use retry::RetryPolicy;
pub use secret::{AccessToken, AuthorizationCode, ClientSecret, CodeVerifier, RefreshToken};
pub use session::{
    MemoryTokenStore, Session, StoredTokens, TokenGuard, TokenRefresher, TokenStore,
};
pub use value::{FieldValue, Text};
pub use wire::{parse_datetime, soql_datetime};
