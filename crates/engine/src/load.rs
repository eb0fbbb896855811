//! The initial load: the whole object read once by Id keyset, establishing the baseline
//! snapshots without per-record events (nothing changed; sfsync just started looking).
//!
//! Keyset pages (`WHERE Id > :last ORDER BY Id LIMIT n`) survive a restart at any page,
//! which a query locator would not, and each page commits the load's position with its
//! snapshots. The cursor is set before the first page to the server's time when the load
//! began, so whatever changes while the load runs is read by the incremental read after it.
//!
//! The load reaches about 31,000 records/s into SQLite at a million records on two cores,
//! short of the 50,000 aimed for: most of the rest is per-field conversion and the JSON that
//! carries each page into SQLite (BENCHMARKS.md), which a leaner value path would remove.

use sfsync_core::{Cursor, Projection, RecordId, Snapshot};
use sfsync_salesforce::QueryOptions;
use sfsync_store::{LoadProgress, Maintenance, ObjectProgress, PageCommit};

use crate::error::Error;
use crate::plan;
use crate::run::{ObjectRun, Row, RunReport};

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
        if !progress.load.done {
            self.load_pages(projection, progress, report).await?;
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

    /// Reads and commits page after page. The next page is fetched and turned into
    /// snapshots on another task while the current one commits: its query needs only the
    /// current page's last Id, and commits stay one at a time and in order, so a crash still
    /// leaves the load at a committed page.
    async fn load_pages(
        &self,
        projection: &Projection,
        progress: &mut ObjectProgress,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        let mut page = self.spawn_load_page(projection, progress).await?;
        loop {
            let commit = self.load_commit(projection, progress, page, report);
            if progress.load.done {
                self.store.commit_page(&commit).await?;
                (self.on_progress)(&projection.object, report);
                return Ok(());
            }
            let next = self.spawn_load_page(projection, progress);
            let (committed, fetched) = tokio::join!(self.store.commit_page(&commit), next);
            committed?;
            (self.on_progress)(&projection.object, report);
            page = fetched?;
        }
    }

    /// The keyset page after the load's position as baseline snapshots, fetched and built on
    /// its own task so that this work runs beside the current page's commit.
    async fn spawn_load_page(
        &self,
        projection: &Projection,
        progress: &ObjectProgress,
    ) -> Result<Vec<Snapshot>, Error> {
        let soql = plan::initial_load(
            projection,
            progress.load.last_id.as_ref(),
            self.settings.load_page,
        );
        let client = self.client.clone();
        let projection = projection.clone();
        let task = tokio::spawn(async move {
            let page = client
                .fetch_first_page(&soql, QueryOptions::default())
                .await?;
            let rows = crate::run::rows(&projection, &page)?;
            let baseline = |row: &Row| Snapshot::next(None, &row.record, false, &projection);
            Ok::<_, Error>(rows.iter().map(baseline).collect())
        });
        task.await
            .map_err(|e| Error::Task(format!("reading a load page: {e}")))?
    }

    /// The commit of a load page: its snapshots and the load's new position.
    fn load_commit(
        &self,
        projection: &Projection,
        progress: &mut ObjectProgress,
        snapshots: Vec<Snapshot>,
        report: &mut RunReport,
    ) -> PageCommit {
        report.records_read += snapshots.len() as u64;
        progress.load = LoadProgress {
            last_id: snapshots
                .last()
                .map(|s| s.id.clone())
                .or(progress.load.last_id.take()),
            done: (snapshots.len() as u32) < self.settings.load_page,
        };
        tracing::debug!(object = %projection.object, rows = snapshots.len(), "load page");
        let mut commit = self.page(&projection.object, Some(progress));
        commit.snapshots = snapshots;
        commit
    }
}

/// The smallest Id, for a cursor that stands before every record of a stamp.
fn min_id() -> RecordId {
    RecordId::parse("000000000000000").expect("fifteen zeros are a well-formed Id")
}
