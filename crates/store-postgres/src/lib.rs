//! The PostgreSQL backend of the sfsync store: several worker processes share one
//! database and divide the work through leases.
//!
//! - [`PgStore`]: the [`sfsync_store::Store`] implementation, opened with
//!   [`PgStore::connect`] (or [`PgStore::connect_in_schema`] to keep to one schema);
//! - `migrations/`: its own schema, applied at connect under sqlx's advisory lock.
//!
//! What the SQLite backend gets from its single writer, this one gets from row locks and an
//! advisory lock, each named where it is taken:
//!
//! - feed cursors come from one counter row locked until the page commits, so they become
//!   visible in increasing order (`pages`);
//! - a lease claim is one conditional upsert, so of two racing claims one wins, and a page
//!   commit locks its object's row, so no claim slips in between its fence check and its
//!   commit (`objects`);
//! - the token lock is a session advisory lock on a dedicated pooled connection (`tokens`);
//! - what works once (a sign-in link, a pending connect) is taken by `DELETE … RETURNING`.
//!
//! Unlike SQLite there is no lock file, and leases are not released at connect: other
//! live workers hold them. A lease of a worker that died lapses at its `until_ms`.

#![warn(missing_docs)]

mod access;
mod admin;
mod error;
mod feed;
mod ledger;
mod objects;
mod open;
mod pages;
mod store;
mod tenants;
mod tokens;

pub use store::PgStore;
