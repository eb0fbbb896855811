#![recursion_limit = "256"]
//! A faithful fake Salesforce org over HTTP: OAuth 2.0, the REST API, Bulk API 2.0 query
//! and a control API for tests. See `docs/SIMULATOR.md` for the surface it serves.
//!
//! The simulator shares no code with sfsync's Salesforce client, so a misreading of the
//! protocol cannot hide in both.

mod activity;
mod bulk;
mod bulk_v1;
mod catalog;
pub mod clock;
mod collections;
mod composite;
mod control;
mod describe;
pub mod error;
pub mod ids;
mod oauth;
pub mod org;
mod query;
mod replication;
mod reply;
mod rest;
mod rng;
pub mod schema;
mod seed;
mod server;
mod sobject;
pub mod state;
mod values;

pub use seed::SeedCounts;
pub use server::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Simulator, SimulatorConfig};
pub use state::{Fault, FaultKind, OrgInfo, OrgSettings};
