//! One run of one object: describe (cheaply, with If-Modified-Since), the initial load if
//! it is not done, then the incremental read of the window behind the cursor. Every page is
//! committed with its snapshots, change events and progress in one transaction, so a
//! process killed at any instant resumes without losing or repeating an event.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use sfsync_core::{
    Cursor, ObjectName, Projection, RecordId, SchemaChange, Snapshot, diff, plan_schema_changes,
    plan_window,
};
use sfsync_salesforce::{Conditional, QueryOptions, QueryPage, SalesforceClient};
use sfsync_store::{
    ConnectionId, LoadProgress, NewChange, ObjectProgress, ObjectState, PageCommit, Store,
};

use crate::error::Error;
use crate::plan;
use crate::projection::{ObjectShape, shape_of};

/// How runs read.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// How far behind the cursor each incremental run re-reads, for late commits.
    pub overlap: Duration,
    /// How far behind the server's clock a run stops, for rows still being committed.
    pub lag: Duration,
    /// Rows per initial-load page (at most 2,000, Salesforce's page size).
    pub load_page: u32,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            overlap: Duration::from_secs(300),
            lag: Duration::from_secs(2),
            load_page: 2000,
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
    /// The server's clock, UTC epoch ms (from a response's `Date`, not the local clock).
    pub server_now_ms: i64,
}

impl ObjectRun<'_> {
    /// Runs one object to the end of its window.
    pub async fn run(&self, state: &ObjectState) -> Result<RunReport, Error> {
        let mut report = RunReport::default();
        let shape = self.refresh_shape(state, &mut report).await?;
        let mut progress = state.progress.clone();
        if !progress.load.done {
            self.load(&shape.projection, &mut progress, &mut report)
                .await?;
        }
        self.read_changes(&shape.projection, &mut progress, &mut report)
            .await?;
        Ok(report)
    }

    /// Fetches describe if it changed since the last fetch, and records schema changes.
    async fn refresh_shape(
        &self,
        state: &ObjectState,
        report: &mut RunReport,
    ) -> Result<ObjectShape, Error> {
        let since = state
            .describe_fetched_at_ms
            .filter(|_| state.projection.is_some())
            .map(ms_to_time);
        let fetched = self
            .client
            .fetch_describe(state.object.as_str(), since)
            .await;
        let describe = match fetched {
            Ok(Conditional::NotModified) => return Ok(held_shape(state)),
            Ok(Conditional::Modified { value, .. }) => value,
            Err(e) if e.invalid_type().is_some() => {
                return Err(Error::ObjectVanished(state.object.as_str().to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        let shape = shape_of(&describe).map_err(|source| record_error(&state.object, source))?;
        if let Some(held) = &state.projection {
            let changes = plan_schema_changes(held, Some(&shape.projection));
            self.apply_schema_changes(held, &shape.projection, changes, state, report)
                .await?;
        }
        self.store
            .save_projection(self.connection, &shape.projection, self.server_now_ms)
            .await?;
        Ok(shape)
    }

    /// Commits schema events; new fields are backfilled alone, without per-record events.
    async fn apply_schema_changes(
        &self,
        held: &Projection,
        fresh: &Projection,
        changes: Vec<SchemaChange>,
        state: &ObjectState,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        if changes.is_empty() {
            return Ok(());
        }
        let added: Vec<_> = changes
            .iter()
            .filter_map(|c| match c {
                SchemaChange::FieldAdded(f) => Some(f.clone()),
                _ => None,
            })
            .collect();
        report.schema_events += changes.len() as u64;
        let page = self.page_commit(&state.object, Vec::new(), Vec::new(), changes, None);
        self.store.commit_page(&page).await?;
        if !added.is_empty() && state.progress.load.done {
            let mut backfill = Projection::new(fresh.object.clone());
            for name in &added {
                if let Some(spec) = fresh.fields.get(name) {
                    backfill =
                        backfill.with_field(name.clone(), spec.field_type.clone(), spec.scale);
                }
            }
            self.backfill(&backfill, held, fresh, report).await?;
        }
        Ok(())
    }

    /// Reads Id plus the new fields of every record and folds them into the snapshots,
    /// with no change events: a field that appeared did not change any record.
    async fn backfill(
        &self,
        fields: &Projection,
        _held: &Projection,
        fresh: &Projection,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        let mut after: Option<RecordId> = None;
        loop {
            let soql = plan::initial_load(fields, after.as_ref(), self.settings.load_page);
            let page = self
                .client
                .fetch_first_page(&soql, QueryOptions::default())
                .await?;
            let records = self.records(fields, &page)?;
            report.records_read += records.len() as u64;
            let ids: Vec<RecordId> = records.iter().map(|(r, _, _)| r.id.clone()).collect();
            let held = self.snapshots(&fresh.object, &ids).await?;
            let snapshots = records
                .iter()
                .filter_map(|(record, _, _)| {
                    let before = held.get(&record.id)?;
                    Some(Snapshot::next(
                        Some(before),
                        record,
                        before.is_deleted,
                        fresh,
                    ))
                })
                .collect();
            let commit = self.page_commit(&fresh.object, snapshots, Vec::new(), Vec::new(), None);
            self.store.commit_page(&commit).await?;
            match ids.last() {
                Some(last) if ids.len() as u32 >= self.settings.load_page => {
                    after = Some(last.clone())
                }
                _ => return Ok(()),
            }
        }
    }

    /// The initial load: the whole object by Id keyset, snapshots only (the baseline has no
    /// events). The cursor is set before the first page to a moment before the load began,
    /// so changes made while it runs are read by the next incremental run.
    async fn load(
        &self,
        projection: &Projection,
        progress: &mut ObjectProgress,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        if progress.cursor.is_none() {
            progress.cursor = Some(Cursor {
                system_modstamp_ms: self.server_now_ms,
                id: min_id(),
            });
        }
        loop {
            let soql = plan::initial_load(
                projection,
                progress.load.last_id.as_ref(),
                self.settings.load_page,
            );
            let page = self
                .client
                .fetch_first_page(&soql, QueryOptions::default())
                .await?;
            let records = self.records(projection, &page)?;
            report.records_read += records.len() as u64;
            let last = records.last().map(|(r, _, _)| r.id.clone());
            let full = records.len() as u32 >= self.settings.load_page;
            let snapshots = records
                .iter()
                .map(|(r, _, _)| Snapshot::next(None, r, false, projection))
                .collect();
            progress.load = LoadProgress {
                last_id: last.or(progress.load.last_id.take()),
                done: !full,
            };
            let commit = self.page_commit(
                &projection.object,
                snapshots,
                Vec::new(),
                Vec::new(),
                Some(progress.clone()),
            );
            self.store.commit_page(&commit).await?;
            if !full {
                return Ok(());
            }
        }
    }

    /// The incremental read: queryAll over the window, page by page through the query
    /// locator, diffing each record against its snapshot.
    async fn read_changes(
        &self,
        projection: &Projection,
        progress: &mut ObjectProgress,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        let window = plan_window(
            progress.cursor.as_ref(),
            self.server_now_ms,
            self.settings.overlap,
            self.settings.lag,
        );
        if window.is_empty() {
            return Ok(());
        }
        let soql = plan::incremental(projection, &window);
        let mut pages = self.client.query_with(soql, QueryOptions::all());
        while let Some(page) = pages.next().await {
            let page = page?;
            self.commit_changes(projection, &page, progress, report)
                .await?;
        }
        Ok(())
    }

    async fn commit_changes(
        &self,
        projection: &Projection,
        page: &QueryPage,
        progress: &mut ObjectProgress,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        let records = self.records(projection, page)?;
        report.records_read += records.len() as u64;
        let ids: Vec<RecordId> = records.iter().map(|(r, _, _)| r.id.clone()).collect();
        let held = self.snapshots(&projection.object, &ids).await?;
        let mut snapshots = Vec::with_capacity(records.len());
        let mut changes = Vec::new();
        for (record, deleted, stamp) in &records {
            let before = held.get(&record.id);
            if let Some(change) = diff(before, record, *deleted, projection) {
                changes.push(NewChange {
                    change,
                    changed_at_ms: *stamp,
                });
            }
            snapshots.push(Snapshot::next(before, record, *deleted, projection));
            let read = Cursor {
                system_modstamp_ms: *stamp,
                id: record.id.clone(),
            };
            progress.cursor = Some(sfsync_core::advance(progress.cursor.take(), read));
        }
        report.events += changes.len() as u64;
        let commit = self.page_commit(
            &projection.object,
            snapshots,
            changes,
            Vec::new(),
            Some(progress.clone()),
        );
        self.store.commit_page(&commit).await?;
        Ok(())
    }

    /// The page's rows as domain records, with their IsDeleted flag and SystemModstamp.
    fn records(
        &self,
        projection: &Projection,
        page: &QueryPage,
    ) -> Result<Vec<(sfsync_core::Record, bool, i64)>, Error> {
        let object = &projection.object;
        page.records
            .iter()
            .map(|row| {
                let map: serde_json::Map<String, serde_json::Value> = row
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_json()))
                    .collect();
                let record = projection
                    .build_record(&map)
                    .map_err(|e| record_error(object, e))?;
                let stamp = row
                    .system_modstamp()
                    .map_err(Error::Salesforce)?
                    .map(time_to_ms)
                    .unwrap_or(0);
                Ok((record, row.is_deleted(), stamp))
            })
            .collect()
    }

    async fn snapshots(
        &self,
        object: &ObjectName,
        ids: &[RecordId],
    ) -> Result<HashMap<RecordId, Snapshot>, Error> {
        let held = self
            .store
            .load_snapshots(self.connection, object, ids)
            .await?;
        Ok(held.into_iter().map(|s| (s.id.clone(), s)).collect())
    }

    fn page_commit(
        &self,
        object: &ObjectName,
        snapshots: Vec<Snapshot>,
        changes: Vec<NewChange>,
        schema_changes: Vec<SchemaChange>,
        progress: Option<ObjectProgress>,
    ) -> PageCommit {
        PageCommit {
            connection: self.connection,
            object: object.clone(),
            lease_epoch: self.lease_epoch,
            snapshots,
            removed: Vec::new(),
            changes,
            schema_changes,
            detected_at_ms: self.server_now_ms,
            progress,
        }
    }
}

fn held_shape(state: &ObjectState) -> ObjectShape {
    let projection = state
        .projection
        .clone()
        .unwrap_or_else(|| Projection::new(state.object.clone()));
    ObjectShape {
        projection,
        formulas: Vec::new(),
        has_cursor_field: true,
    }
}

fn record_error(object: &ObjectName, source: sfsync_core::Error) -> Error {
    Error::Record {
        object: object.as_str().to_string(),
        source,
    }
}

/// The smallest Id, for a cursor that stands before every record of a stamp.
fn min_id() -> RecordId {
    RecordId::parse("000000000000000").expect("fifteen zeros are a well-formed Id")
}

fn ms_to_time(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

fn time_to_ms(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}
