//! Hard deletes: records purged from the recycle bin, merge losers once emptied, and rows
//! deleted for good never reach queryAll, so the incremental read cannot see them.
//!
//! Two budgeted checks catch them (design.md, "Deletes"): getDeleted over the time since the
//! last check, which Salesforce keeps for at most 15 days; and a reconciliation of Ids that
//! compares counts per Id range between Salesforce and the snapshots, drilling down only
//! where they differ, for what getDeleted no longer lists.

use std::collections::{BTreeSet, HashMap};

use sfsync_core::{Change, ChangeKind, Projection, RecordId, Snapshot};
use sfsync_salesforce::{CompositeQuery, QueryOptions};
use sfsync_store::{IdRange, NewChange, ObjectProgress};

use crate::error::Error;
use crate::plan;
use crate::run::{ObjectRun, RunReport, RunSettings, ms_to_time, record_error};

/// How far back getDeleted answers (salesforce-api.md §2.8), less a margin for clock skew.
const DELETED_HORIZON_MS: i64 = (15 * 24 * 60 - 10) * 60 * 1000;

/// A range whose snapshots are this few is compared Id by Id instead of split further.
const LEAF_IDS: u64 = 2000;

/// Count queries sent in one `/composite` call (its limit is 25 subrequests).
const COUNTS_PER_CALL: usize = 25;

impl ObjectRun<'_> {
    /// Asks getDeleted for the deletions since the last check, when one is due.
    pub(crate) async fn check_deletes(
        &self,
        projection: &Projection,
        progress: &mut ObjectProgress,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        let now = self.server_now_ms();
        let covered = progress.maintenance.deletes_covered_to_ms;
        let start = covered
            .or(progress.cursor.as_ref().map(|c| c.system_modstamp_ms))
            .unwrap_or(now)
            .max(now - DELETED_HORIZON_MS);
        let due = RunSettings::is_due(covered, self.settings.deletes_every, now);
        // getDeleted truncates seconds and needs start strictly before end.
        if !due || now - start < 60_000 {
            return Ok(());
        }
        let object = projection.object.as_str();
        let deleted = match self
            .client
            .fetch_deleted(object, ms_to_time(start), ms_to_time(now))
            .await
        {
            Ok(deleted) => deleted,
            Err(e) if e.is_not_served() => {
                // Without a delete log, reconciling Ids is the only way to hard deletes:
                // run it now, and ask for the log again only when the next check is due.
                tracing::warn!(object, error = %e, "getDeleted is not served; reconciling Ids instead");
                progress.maintenance.reconciled_at_ms = None;
                progress.maintenance.deletes_covered_to_ms = Some(now);
                return self
                    .commit_deletions(projection, &[], progress, report)
                    .await;
            }
            Err(e) => return Err(e.into()),
        };
        if deleted
            .earliest_date_available
            .is_some_and(|earliest| to_ms(earliest) > start)
        {
            tracing::warn!(
                object,
                "the delete log was purged past our last check; reconciling Ids"
            );
            progress.maintenance.reconciled_at_ms = None;
        }
        let ids: Vec<(RecordId, i64)> = deleted
            .deleted_records
            .iter()
            .map(|d| Ok((RecordId::parse(&d.id)?, to_ms(d.deleted_date))))
            .collect::<Result<_, sfsync_core::Error>>()
            .map_err(|e| record_error(&projection.object, e))?;
        progress.maintenance.deletes_covered_to_ms = Some(to_ms(deleted.latest_date_covered));
        self.commit_deletions(projection, &ids, progress, report)
            .await
    }

    /// Marks deleted the held, alive records among `ids`, each with a delete event.
    async fn commit_deletions(
        &self,
        projection: &Projection,
        ids: &[(RecordId, i64)],
        progress: &ObjectProgress,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        let held = self
            .held(&projection.object, ids.iter().map(|(id, _)| id))
            .await?;
        let mut commit = self.page(&projection.object, Some(progress));
        for (id, deleted_at) in ids {
            let Some(before) = held.get(id).filter(|s| !s.is_deleted) else {
                continue;
            };
            commit.changes.push(deletion(id, *deleted_at));
            commit.snapshots.push(Snapshot {
                is_deleted: true,
                ..before.clone()
            });
        }
        report.events += commit.changes.len() as u64;
        self.store.commit_page(&commit).await?;
        Ok(())
    }

    /// Reconciles Ids when due: ranges whose counts differ are drilled into; in a small
    /// enough range, held Ids Salesforce no longer has are deleted (with an event if they
    /// were alive) and removed.
    pub(crate) async fn reconcile(
        &self,
        projection: &Projection,
        progress: &mut ObjectProgress,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        let now = self.server_now_ms();
        let last = progress.maintenance.reconciled_at_ms;
        if !RunSettings::is_due(last, self.settings.reconcile_every, now) {
            return Ok(());
        }
        let mut pending = vec![IdRange::default()];
        while !pending.is_empty() {
            let batch: Vec<IdRange> = pending
                .drain(..pending.len().min(COUNTS_PER_CALL))
                .collect();
            let differing = self.differing_ranges(projection, &batch).await?;
            for (range, held) in differing {
                if held <= LEAF_IDS {
                    self.reconcile_leaf(projection, &range, progress, report)
                        .await?;
                } else {
                    pending.extend(self.split(projection, &range, held).await?);
                }
            }
        }
        progress.maintenance.reconciled_at_ms = Some(now);
        let commit = self.page(&projection.object, Some(progress));
        self.store.commit_page(&commit).await?;
        Ok(())
    }

    /// The ranges whose Salesforce count (queryAll, recycle bin included) differs from the
    /// snapshots held, with the number held. One composite call counts them all.
    async fn differing_ranges(
        &self,
        projection: &Projection,
        ranges: &[IdRange],
    ) -> Result<Vec<(IdRange, u64)>, Error> {
        let queries: Vec<CompositeQuery> = ranges
            .iter()
            .enumerate()
            .map(|(i, range)| CompositeQuery {
                reference_id: format!("r{i}"),
                soql: plan::count_in_range(&projection.object, range),
                options: QueryOptions::all(),
            })
            .collect();
        let counted = self.client.fetch_composite_queries(&queries).await?;
        let held = self
            .store
            .count_snapshots_in_ranges(self.connection, &projection.object, ranges)
            .await?;
        let mut differing = Vec::new();
        for ((range, result), held) in ranges.iter().zip(counted).zip(held) {
            if result.page?.total_size != held {
                differing.push((range.clone(), held));
            }
        }
        Ok(differing)
    }

    /// Splits a range into subranges of about equal held counts, at held Ids.
    async fn split(
        &self,
        projection: &Projection,
        range: &IdRange,
        held: u64,
    ) -> Result<Vec<IdRange>, Error> {
        let ids = self
            .store
            .load_snapshot_ids(self.connection, &projection.object, range, held as u32)
            .await?;
        let step = (ids.len() / self.settings.reconcile_fanout.max(2) as usize).max(1);
        let mut bounds: Vec<Option<RecordId>> = vec![range.from.clone()];
        bounds.extend(ids.iter().step_by(step).skip(1).cloned().map(Some));
        bounds.push(range.to.clone());
        Ok(bounds
            .windows(2)
            .map(|w| IdRange {
                from: w[0].clone(),
                to: w[1].clone(),
            })
            .collect())
    }

    /// Compares one small range Id by Id.
    async fn reconcile_leaf(
        &self,
        projection: &Projection,
        range: &IdRange,
        progress: &ObjectProgress,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        let soql = plan::ids_in_range(&projection.object, range);
        let mut present = BTreeSet::new();
        let mut pages = self.client.query_with(soql, QueryOptions::all());
        while let Some(page) = futures_util::StreamExt::next(&mut pages).await {
            present.extend(
                page?
                    .records
                    .iter()
                    .filter_map(|r| r.id().map(str::to_owned)),
            );
        }
        let held_ids = self
            .store
            .load_snapshot_ids(self.connection, &projection.object, range, u32::MAX)
            .await?;
        let gone: Vec<RecordId> = held_ids
            .into_iter()
            .filter(|id| !present.contains(id.as_str()))
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        let held: HashMap<RecordId, Snapshot> = self.held(&projection.object, gone.iter()).await?;
        let mut commit = self.page(&projection.object, Some(progress));
        let now = self.server_now_ms();
        for id in &gone {
            if held.get(id).is_some_and(|s| !s.is_deleted) {
                commit.changes.push(deletion(id, now));
            }
        }
        tracing::info!(object = %projection.object, removed = gone.len(), "reconciliation removed hard-deleted records");
        report.events += commit.changes.len() as u64;
        commit.removed = gone;
        self.store.commit_page(&commit).await?;
        Ok(())
    }
}

/// The delete event of a record.
fn deletion(id: &RecordId, at_ms: i64) -> NewChange {
    NewChange {
        change: Change {
            record_id: id.clone(),
            kind: ChangeKind::Deleted,
            fields: Default::default(),
        },
        changed_at_ms: at_ms,
    }
}

fn to_ms(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}
