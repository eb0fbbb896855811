//! Formula drift: a formula field (describe `calculated`) can change without its record's
//! SystemModstamp moving, when an input on another record changes or time passes
//! (salesforce-api.md §8.4). On a budgeted schedule, a refresh reads Id plus the formula
//! fields of every record, in Id pages, and diffs them like any other read.

use sfsync_core::{FieldName, Projection, RecordId, Snapshot, diff};
use sfsync_salesforce::QueryOptions;
use sfsync_store::{NewChange, ObjectProgress};

use crate::error::Error;
use crate::plan;
use crate::run::{ObjectRun, RunReport, RunSettings};

impl ObjectRun<'_> {
    /// Re-reads the formula fields when a refresh is due.
    pub(crate) async fn refresh_formulas(
        &self,
        projection: &Projection,
        progress: &mut ObjectProgress,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        let formulas: Vec<FieldName> = projection.formulas().cloned().collect();
        let now = self.server_now_ms();
        let last = progress.maintenance.formulas_refreshed_at_ms;
        let due = RunSettings::is_due(last, self.settings.formulas_every, now);
        if formulas.is_empty() || !due {
            return Ok(());
        }
        let mut after = None;
        while let Some(last_id) = self
            .refresh_page(projection, &formulas, after, report)
            .await?
        {
            after = Some(last_id);
        }
        progress.maintenance.formulas_refreshed_at_ms = Some(now);
        let commit = self.page(&projection.object, Some(progress));
        self.store.commit_page(&commit).await?;
        Ok(())
    }

    /// Refreshes one Id page; returns the last Id when more pages follow.
    async fn refresh_page(
        &self,
        projection: &Projection,
        formulas: &[FieldName],
        after: Option<RecordId>,
        report: &mut RunReport,
    ) -> Result<Option<RecordId>, Error> {
        let limit = self.settings.load_page;
        let soql = plan::id_pages(projection, formulas, after.as_ref(), limit);
        let page = self
            .client
            .fetch_first_page(&soql, QueryOptions::default())
            .await?;
        let rows = crate::run::rows(projection, &page.records)?;
        report.records_read += rows.len() as u64;
        let held = self
            .held(&projection.object, rows.iter().map(|r| &r.record.id))
            .await?;
        let mut commit = self.page(&projection.object, None);
        let now = self.server_now_ms();
        for row in &rows {
            // A record not held yet, or held as deleted, is the incremental read's to report.
            let Some(before) = held.get(&row.record.id).filter(|s| !s.is_deleted) else {
                continue;
            };
            if let Some(change) = diff(Some(before), &row.record, false, projection) {
                commit.changes.push(NewChange {
                    change,
                    changed_at_ms: now,
                });
                commit
                    .snapshots
                    .push(Snapshot::next(Some(before), &row.record, false, projection));
            }
        }
        report.events += commit.changes.len() as u64;
        self.store.commit_page(&commit).await?;
        let full = rows.len() as u32 >= limit;
        Ok(rows.last().filter(|_| full).map(|r| r.record.id.clone()))
    }
}
