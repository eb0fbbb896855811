//! The initial load: the whole object read once by Id keyset, establishing the baseline
//! snapshots without per-record events (nothing changed; sfsync just started looking).
//!
//! Keyset pages (`WHERE Id > :last ORDER BY Id LIMIT n`) survive a restart at any page,
//! which a query locator would not, and each page commits the load's position with its
//! snapshots. The cursor is set before the first page to the server's time when the load
//! began, so whatever changes while the load runs is read by the incremental read after it.

use sfsync_core::{Cursor, Projection, RecordId, Snapshot};
use sfsync_salesforce::QueryOptions;
use sfsync_store::{LoadProgress, Maintenance, ObjectProgress};

use crate::error::Error;
use crate::plan;
use crate::run::{ObjectRun, RunReport};

impl ObjectRun<'_> {
    /// Reads the object to its end from where the load stands.
    pub(crate) async fn load(
        &self,
        projection: &Projection,
        progress: &mut ObjectProgress,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        if progress.cursor.is_none() {
            progress.cursor = Some(Cursor {
                system_modstamp_ms: self.server_now_ms(),
                id: min_id(),
            });
        }
        while !progress.load.done {
            self.load_page(projection, progress, report).await?;
        }
        // The load read every record, formula and deletion there was when it began: the
        // budgeted checks start their clocks there rather than redo its work at once.
        let began = progress.cursor.as_ref().map(|c| c.system_modstamp_ms);
        progress.maintenance = Maintenance {
            deletes_covered_to_ms: began,
            formulas_refreshed_at_ms: began,
            reconciled_at_ms: began,
        };
        let commit = self.page(&projection.object, Some(progress));
        self.store.commit_page(&commit).await?;
        tracing::info!(object = %projection.object, records = report.records_read, "initial load done");
        Ok(())
    }

    async fn load_page(
        &self,
        projection: &Projection,
        progress: &mut ObjectProgress,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        let limit = self.settings.load_page;
        let soql = plan::initial_load(projection, progress.load.last_id.as_ref(), limit);
        let page = self
            .client
            .fetch_first_page(&soql, QueryOptions::default())
            .await?;
        let rows = self.rows(projection, &page)?;
        report.records_read += rows.len() as u64;
        progress.load = LoadProgress {
            last_id: rows
                .last()
                .map(|r| r.record.id.clone())
                .or(progress.load.last_id.take()),
            done: (rows.len() as u32) < limit,
        };
        let mut commit = self.page(&projection.object, Some(progress));
        commit.snapshots = rows
            .iter()
            .map(|row| Snapshot::next(None, &row.record, false, projection))
            .collect();
        tracing::debug!(object = %projection.object, rows = rows.len(), "load page");
        self.store.commit_page(&commit).await?;
        (self.on_progress)(&projection.object, report);
        Ok(())
    }
}

/// The smallest Id, for a cursor that stands before every record of a stamp.
fn min_id() -> RecordId {
    RecordId::parse("000000000000000").expect("fifteen zeros are a well-formed Id")
}
