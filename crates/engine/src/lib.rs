//! The sync engine: for each selected object of a connection, a run reads what changed,
//! compares it with the snapshots held, and commits snapshots, change events and the cursor
//! together, page by page.
//!
//! - [`projection`]: which fields a run reads, from the object's describe;
//! - [`plan`]: the SOQL each kind of read sends (pure, so every query is tested as text);
//! - [`run`]: one run of one object, page by page, each page committed atomically;
//! - [`scheduler`]: ticks per connection, paced by the API budget;
//! - [`sync`]: the [`Engine`] and one tick of a connection, quiet objects polled together;
//! - [`tokens`]: a connection's tokens sealed at rest and lent to the client.

#![warn(missing_docs)]

mod deletes;
mod error;
mod formulas;
mod incremental;
mod load;
pub mod plan;
pub mod projection;
pub mod run;
pub mod scheduler;
mod schema;
pub mod sync;
pub mod tokens;

pub use error::Error;
pub use load::BulkLoad;
pub use run::{ObjectRun, RunReport, RunSettings};
pub use scheduler::{SchedulePolicy, Scheduler};
pub use sync::{ConnectedApp, DEFAULT_OBJECTS, Engine, EngineSettings, ObjectOutcome, TickReport};
