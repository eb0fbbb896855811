//! Schema drift: describe, checked cheaply with If-Modified-Since, turned into schema events.
//!
//! A new field joins the projection and is backfilled alone, with a schema event and no
//! per-record events (the record did not change; sfsync just learned to see more of it). A
//! field hidden or removed leaves the projection with a schema event; since the diff only
//! compares fields on both sides, it never reports "changed to null".

use sfsync_core::{FieldName, Projection, RecordId, SchemaChange, Snapshot, plan_schema_changes};
use sfsync_salesforce::{Conditional, QueryOptions};
use sfsync_store::ObjectState;

use crate::error::Error;
use crate::plan;
use crate::projection::shape_of;
use crate::run::{ObjectRun, RunReport, RunSettings, ms_to_time, record_error};

impl ObjectRun<'_> {
    /// The projection to read with: the held one when describe is unchanged, else the fresh
    /// one, with its schema changes committed and new fields backfilled. `force` skips
    /// If-Modified-Since, for a query that failed on a field describe still promised.
    pub(crate) async fn refresh_projection(
        &self,
        state: &ObjectState,
        force: bool,
        report: &mut RunReport,
    ) -> Result<Projection, Error> {
        let held = state.projection.as_ref();
        let every = self.settings.describe_every;
        let fresh = !RunSettings::is_due(state.describe_fetched_at_ms, every, self.server_now_ms());
        if let Some(held) = held.filter(|_| fresh && !force) {
            return Ok(held.clone());
        }
        // If-Modified-Since has one-second granularity: ask from a second before the last
        // fetch, so a change made in the same second as that fetch is not answered 304.
        let since = state
            .describe_fetched_at_ms
            .filter(|_| held.is_some() && !force)
            .map(|at| ms_to_time(at - 1000));
        let describe = match self
            .client
            .fetch_describe(state.object.as_str(), since)
            .await
        {
            Ok(Conditional::NotModified) => return Ok(held.cloned().expect("checked above")),
            Ok(Conditional::Modified { value, .. }) => value,
            Err(e) if e.invalid_type().is_some() => {
                return Err(Error::ObjectVanished(state.object.as_str().to_string()));
            }
            Err(e) => return Err(e.into()),
        };
        let shape = shape_of(&describe).map_err(|e| record_error(&state.object, e))?;
        if let Some(held) = held {
            self.apply_schema_changes(state, held, &shape.projection, report)
                .await?;
        }
        let fetched_at = self.server_now_ms();
        self.store
            .save_projection(self.connection, &shape.projection, fetched_at)
            .await?;
        Ok(shape.projection)
    }

    /// Commits the schema events between the held and the fresh projection, then backfills
    /// the fields that appeared.
    async fn apply_schema_changes(
        &self,
        state: &ObjectState,
        held: &Projection,
        fresh: &Projection,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        let changes = plan_schema_changes(held, Some(fresh));
        if changes.is_empty() {
            return Ok(());
        }
        let added: Vec<FieldName> = changes
            .iter()
            .filter_map(|c| match c {
                SchemaChange::FieldAdded(f) => Some(f.clone()),
                _ => None,
            })
            .collect();
        tracing::info!(object = %state.object, changes = changes.len(), "schema changed");
        report.schema_events += changes.len() as u64;
        let mut page = self.page(&state.object, None);
        page.schema_changes = changes;
        self.store.commit_page(&page).await?;
        // Before the initial load is done there is nothing to backfill: the load reads
        // every field of the fresh projection.
        if !added.is_empty() && state.progress.load.done {
            self.backfill(fresh, &added, report).await?;
        }
        Ok(())
    }

    /// Reads Id plus the new fields of every record and folds them into the snapshots,
    /// with no change events. Records not held yet are left to the incremental read.
    async fn backfill(
        &self,
        fresh: &Projection,
        added: &[FieldName],
        report: &mut RunReport,
    ) -> Result<(), Error> {
        let mut after: Option<RecordId> = None;
        loop {
            let soql = plan::id_pages(fresh, added, after.as_ref(), self.settings.load_page);
            let page = self
                .client
                .fetch_first_page(&soql, QueryOptions::all())
                .await?;
            let rows = crate::run::rows(fresh, &page.records)?;
            report.records_read += rows.len() as u64;
            let held = self
                .held(&fresh.object, rows.iter().map(|r| &r.record.id))
                .await?;
            let mut commit = self.page(&fresh.object, None);
            commit.snapshots = rows
                .iter()
                .filter_map(|row| {
                    let before = held.get(&row.record.id)?;
                    Some(Snapshot::next(
                        Some(before),
                        &row.record,
                        before.is_deleted,
                        fresh,
                    ))
                })
                .collect();
            self.store.commit_page(&commit).await?;
            match rows.last() {
                Some(last) if rows.len() as u32 >= self.settings.load_page => {
                    after = Some(last.record.id.clone());
                }
                _ => return Ok(()),
            }
        }
    }
}
