//! The initial load: the whole object read once by Id keyset, establishing the baseline
//! snapshots without per-record events (nothing changed; sfsync just started looking).
//!
//! Keyset pages (`WHERE Id > :last ORDER BY Id LIMIT n`), read through REST or, for large
//! objects, Bulk API 2.0 jobs (see `read`), survive a restart at any page, which a query
//! locator would not, and each page commits the load's position with its snapshots. The
//! cursor is set before the first page to the server's time when the load began, so
//! whatever changes while the load runs is read by the incremental read after it.
//!
//! The load reaches about 65,000 records/s into SQLite at a million records through Bulk
//! and 75,000 through REST, on two cores shared with the simulator (BENCHMARKS.md).

mod read;

use sfsync_core::{Cursor, Projection, RecordId, Snapshot};
use sfsync_store::{LoadProgress, Maintenance, ObjectProgress, PageCommit};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

pub use read::BulkLoad;
use read::{LoadPage, Reader};

use crate::error::Error;
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

    /// Reads and commits page after page, in three stages that overlap: one task reads the
    /// pages (a page's query needs only the previous page's last Id), a second turns each
    /// page into baseline snapshots, and this one commits them, one at a time and in order,
    /// so a crash still leaves the load at a committed page. One-page queues between the
    /// stages bound what is held in memory; the stages stop when this function returns.
    async fn load_pages(
        &self,
        projection: &Projection,
        progress: &mut ObjectProgress,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        let mut stages = JoinSet::new();
        let (pages_out, pages) = mpsc::channel(1);
        let (baselines_out, mut baselines) = mpsc::channel(1);
        let reader = Reader {
            client: self.client.clone(),
            projection: projection.clone(),
            page: self.settings.load_page,
            bulk: self.settings.bulk_load,
        };
        stages.spawn(reader.run(progress.load.last_id.clone(), pages_out));
        stages.spawn(make_baselines(projection.clone(), pages, baselines_out));
        while let Some(baseline) = baselines.recv().await {
            let commit = self.load_commit(projection, progress, baseline?, report);
            self.store.commit_page(&commit).await?;
            (self.on_progress)(&projection.object, report);
            if progress.load.done {
                return Ok(());
            }
        }
        Err(Error::Task(format!(
            "the load of {} stopped before its last page",
            projection.object
        )))
    }

    /// The commit of a load page: its snapshots and the load's new position.
    fn load_commit(
        &self,
        projection: &Projection,
        progress: &mut ObjectProgress,
        baseline: Baseline,
        report: &mut RunReport,
    ) -> PageCommit {
        let Baseline { snapshots, last } = baseline;
        report.records_read += snapshots.len() as u64;
        progress.load = LoadProgress {
            last_id: snapshots
                .last()
                .map(|s| s.id.clone())
                .or(progress.load.last_id.take()),
            done: last,
        };
        tracing::debug!(object = %projection.object, rows = snapshots.len(), "load page");
        let mut commit = self.page(&projection.object, Some(progress));
        commit.snapshots = snapshots;
        commit
    }
}

/// A load page's records as baseline snapshots, and whether it ends the load.
struct Baseline {
    snapshots: Vec<Snapshot>,
    last: bool,
}

/// Turns each queued page into the baseline snapshots of its records, in order.
async fn make_baselines(
    projection: Projection,
    mut pages: mpsc::Receiver<Result<LoadPage, Error>>,
    out: mpsc::Sender<Result<Baseline, Error>>,
) {
    while let Some(page) = pages.recv().await {
        let baseline = page.and_then(|page| {
            let rows = crate::run::rows(&projection, &page.records)?;
            let snapshot = |row: Row| Snapshot::baseline(row.record, false);
            Ok(Baseline {
                snapshots: rows.into_iter().map(snapshot).collect(),
                last: page.last,
            })
        });
        if out.send(baseline).await.is_err() {
            return;
        }
    }
}

/// The smallest Id, for a cursor that stands before every record of a stamp.
fn min_id() -> RecordId {
    RecordId::parse("000000000000000").expect("fifteen zeros are a well-formed Id")
}
