//! The pure domain of sfsync: what a Salesforce record, value, change and budget are, with
//! no I/O and no async, so that every rule here is tested alone.
//!
//! - [`ids`]: record Ids, object and field names, organization slugs;
//! - [`value`]: field types and [`normalize`], which makes two reads of one value equal;
//! - [`record`]: records, snapshots and projections;
//! - [`diff()`]: a record against its snapshot, as a [`Change`];
//! - [`cursor`]: the (SystemModstamp, Id) read position and the window a run reads;
//! - [`event`]: change events and schema events as JSON lines;
//! - [`budget`]: the API budget arithmetic and the `Sforce-Limit-Info` header.
//!
//! The words are design.md's glossary: organization, object, record, snapshot, projection,
//! cursor, run, change event, schema event, budget.

#![warn(missing_docs)]

pub mod budget;
pub mod cursor;
mod datetime;
mod decimal;
mod diff;
mod error;
pub mod event;
pub mod ids;
pub mod record;
pub mod value;

pub use budget::{ApiUsage, BudgetPlan, BudgetPolicy, parse_limit_info, plan_budget};
pub use cursor::{Cursor, Window, advance, plan_window, soql_literal};
pub use datetime::{format_datetime, parse_datetime};
pub use decimal::Decimal;
pub use diff::{Change, ChangeKind, FieldChange, diff};
pub use error::{Error, ValueError};
pub use event::{ChangeEvent, FeedCursor, SchemaChange, SchemaEvent, plan_schema_changes};
pub use ids::{FieldName, ObjectName, OrganizationSlug, RecordId};
pub use record::{Columns, FieldSpec, Projection, Record, Snapshot};
pub use value::{FieldType, FieldValue, normalize};
