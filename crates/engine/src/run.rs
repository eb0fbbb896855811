//! One run of one object: describe (cheaply, with If-Modified-Since), the initial load if it
//! is not done, the incremental read of the window behind the cursor, then the budgeted
//! checks an incremental read cannot do (hard deletes, formula drift). Every page is
//! committed with its snapshots, change events and progress in one transaction, so a
//! process killed at any instant resumes without losing or repeating an event.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sfsync_core::{
    Columns, ObjectName, Projection, Record, RecordId, SchemaChange, Snapshot, parse_datetime,
};
use sfsync_salesforce::{QueryPage, SalesforceClient};
use sfsync_store::{ConnectionId, NewChange, ObjectProgress, ObjectState, PageCommit, Store};

use crate::error::Error;

/// How runs read. Every duration is a default an operator may change.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// How far behind the cursor each incremental run re-reads, for late commits. Default
    /// 5 minutes, the window peers found late commits to fall within (salesforce-api.md §8.2).
    pub overlap: Duration,
    /// How far behind the server's clock a run stops, for rows still being committed.
    /// Default 2 seconds: SystemModstamp has second granularity.
    pub lag: Duration,
    /// Rows per initial-load and refresh page. Default 2,000, Salesforce's page size.
    pub load_page: u32,
    /// How often describe is asked whether the object changed (one call, answered 304 when
    /// it did not). Default 15 minutes; a query that fails on a vanished field re-reads it
    /// at once.
    pub describe_every: Duration,
    /// How often getDeleted is asked for hard deletes. Default 15 minutes.
    pub deletes_every: Duration,
    /// How often formula fields are re-read for every record. Default 6 hours.
    pub formulas_every: Duration,
    /// How often Ids are reconciled to catch hard deletes getDeleted no longer lists.
    /// Default 24 hours.
    pub reconcile_every: Duration,
    /// At most this many Id ranges are counted per reconciliation step. Default 20.
    pub reconcile_fanout: u32,
    /// When the initial load reads through Bulk API 2.0 instead of REST pages.
    pub bulk_load: crate::BulkLoad,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            overlap: Duration::from_secs(300),
            lag: Duration::from_secs(2),
            load_page: 2000,
            describe_every: Duration::from_secs(15 * 60),
            deletes_every: Duration::from_secs(15 * 60),
            formulas_every: Duration::from_secs(6 * 3600),
            reconcile_every: Duration::from_secs(24 * 3600),
            reconcile_fanout: 20,
            bulk_load: crate::BulkLoad::default(),
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Records read from Salesforce.
    pub records_read: u64,
    /// Change events committed.
    pub events: u64,
    /// Schema events committed.
    pub schema_events: u64,
}

/// One row of a page as a run sees it.
pub(crate) struct Row {
    pub record: Record,
    pub is_deleted: bool,
    pub stamp_ms: i64,
}

/// Everything one run works with.
pub struct ObjectRun<'a> {
    /// The store.
    pub store: &'a dyn Store,
    /// A client for the connection's org.
    pub client: &'a SalesforceClient,
    /// The connection.
    pub connection: ConnectionId,
    /// How to read.
    pub settings: &'a RunSettings,
    /// The fencing token of this run's lease, if it holds one.
    pub lease_epoch: Option<i64>,
    /// Told after each committed page of the load and the incremental read.
    pub on_progress: &'a crate::sync::OnProgress,
}

impl RunSettings {
    /// Whether a budgeted check last done at `last_ms` is due again at `now_ms`.
    pub fn is_due(last_ms: Option<i64>, every: Duration, now_ms: i64) -> bool {
        last_ms.is_none_or(|at| now_ms - at >= millis(every))
    }

    /// Whether a run of `state` at `now_ms` has nothing to do but the incremental read, so
    /// it can be polled with other quiet objects in one `/composite` call.
    pub fn is_quiet(&self, state: &ObjectState, now_ms: i64) -> bool {
        let m = &state.progress.maintenance;
        state.projection.is_some()
            && state.progress.load.done
            && state.progress.cursor.is_some()
            && !Self::is_due(state.describe_fetched_at_ms, self.describe_every, now_ms)
            && !Self::is_due(m.deletes_covered_to_ms, self.deletes_every, now_ms)
            && !Self::is_due(m.formulas_refreshed_at_ms, self.formulas_every, now_ms)
            && !Self::is_due(m.reconciled_at_ms, self.reconcile_every, now_ms)
    }
}

impl ObjectRun<'_> {
    /// Runs one object to the end of its window.
    pub async fn run(&self, state: &ObjectState) -> Result<RunReport, Error> {
        let mut report = RunReport::default();
        let mut projection = self.refresh_projection(state, false, &mut report).await?;
        let mut progress = state.progress.clone();
        if !progress.load.done {
            self.load(&projection, &mut progress, &mut report).await?;
        }
        self.read_changes(&mut projection, &mut progress, &mut report)
            .await?;
        self.check_deletes(&projection, &mut progress, &mut report)
            .await?;
        self.refresh_formulas(&projection, &mut progress, &mut report)
            .await?;
        self.reconcile(&projection, &mut progress, &mut report)
            .await?;
        Ok(report)
    }

    /// Runs one quiet object whose incremental read a composite poll began with `first`.
    pub async fn run_polled(
        &self,
        state: &ObjectState,
        first: QueryPage,
    ) -> Result<RunReport, Error> {
        let mut report = RunReport::default();
        let mut projection = state
            .projection
            .clone()
            .ok_or_else(|| Error::ObjectVanished(state.object.as_str().to_string()))?;
        let mut progress = state.progress.clone();
        self.continue_changes(&mut projection, first, &mut progress, &mut report)
            .await?;
        Ok(report)
    }

    /// The server's clock, from the last response's `Date`; the local clock only before any
    /// response arrived.
    pub(crate) fn server_now_ms(&self) -> i64 {
        crate::sync::client_now_ms(self.client)
    }

    /// The snapshots held for these rows, by Id.
    pub(crate) async fn held(
        &self,
        object: &ObjectName,
        ids: impl Iterator<Item = &RecordId>,
    ) -> Result<HashMap<RecordId, Snapshot>, Error> {
        let ids: Vec<RecordId> = ids.cloned().collect();
        let held = self
            .store
            .load_snapshots(self.connection, object, &ids)
            .await?;
        Ok(held.into_iter().map(|s| (s.id.clone(), s)).collect())
    }

    /// A page to commit for `object`; its fields are filled in by the caller.
    pub(crate) fn page(
        &self,
        object: &ObjectName,
        progress: Option<&ObjectProgress>,
    ) -> PageCommit {
        PageCommit {
            connection: self.connection,
            object: object.clone(),
            lease_epoch: self.lease_epoch,
            snapshots: Vec::new(),
            removed: Vec::new(),
            changes: Vec::<NewChange>::new(),
            schema_changes: Vec::<SchemaChange>::new(),
            detected_at_ms: local_now_ms(),
            progress: progress.cloned(),
        }
    }
}

/// A page's rows as domain records, with their IsDeleted flag and SystemModstamp. Which
/// columns are projected is worked out once for each run of rows sharing their field names
/// (normally the whole page), not field by field in each row.
pub(crate) fn rows(
    projection: &Projection,
    records: &[sfsync_salesforce::Record],
) -> Result<Vec<Row>, Error> {
    let mut rows = Vec::with_capacity(records.len());
    for run in records.chunk_by(|a, b| b.has_fields_of(a)) {
        let columns = projection.columns(run[0].names());
        for row in run {
            rows.push(domain_row(projection, &columns, row)?);
        }
    }
    Ok(rows)
}

fn domain_row(
    projection: &Projection,
    columns: &Columns<'_>,
    row: &sfsync_salesforce::Record,
) -> Result<Row, Error> {
    let values = row.values();
    let record = columns
        .build_record(row.id().unwrap_or_default(), |i| values[i].to_json())
        .map_err(|e| record_error(&projection.object, e))?;
    let stamp_ms = row
        .get("SystemModstamp")
        .and_then(|v| v.as_str())
        .and_then(parse_datetime)
        .unwrap_or(0);
    Ok(Row {
        record,
        is_deleted: row.is_deleted(),
        stamp_ms,
    })
}

pub(crate) fn record_error(object: &ObjectName, source: sfsync_core::Error) -> Error {
    Error::Record {
        object: object.as_str().to_string(),
        source,
    }
}

/// The local clock, UTC epoch ms: for `detected_at`, which is sfsync's own moment.
pub(crate) fn local_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub(crate) fn ms_to_time(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
