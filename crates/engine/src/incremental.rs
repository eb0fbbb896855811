//! The incremental read: queryAll over the window behind the cursor, ordered by
//! (SystemModstamp, Id), each page diffed against the snapshots and committed with the
//! cursor it reached.
//!
//! queryAll returns soft-deleted rows with their own SystemModstamp, so one read sees
//! updates, soft deletes, undeletes and merge losers together (salesforce-api.md §2.7). The
//! read recovers in the same run from the failures that peers let break a sync (§8):
//! QUERY_TIMEOUT halves the window, INVALID_QUERY_LOCATOR restarts from the committed
//! cursor, INVALID_FIELD re-reads describe and drops the vanished field.

use futures_util::StreamExt;
use sfsync_core::{Cursor, ObjectName, Projection, Window, advance, diff, plan_window};
use sfsync_salesforce::{QueryOptions, QueryPage};
use sfsync_store::{NewChange, ObjectProgress};

use crate::error::Error;
use crate::plan;
use crate::run::{ObjectRun, RunReport, RunSettings};

/// How often one run restarts after an expired query locator before it gives up.
const LOCATOR_RESTARTS: u32 = 3;

/// How many times a timed-out window is halved before the run gives up.
const TIMEOUT_SPLITS: u32 = 4;

impl ObjectRun<'_> {
    /// Reads the window from the cursor to a little behind the server's clock.
    pub(crate) async fn read_changes(
        &self,
        projection: &mut Projection,
        progress: &mut ObjectProgress,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        let to_ms = plan_window(
            None,
            self.server_now_ms(),
            self.settings.overlap,
            self.settings.lag,
        )
        .to_ms;
        let mut restarts = 0;
        let mut repaired = false;
        loop {
            let window = self.window_from(progress, to_ms);
            let read = self
                .read_window(projection, window, progress, report, 0)
                .await;
            match read {
                Err(Error::Salesforce(e))
                    if e.is_invalid_query_locator() && restarts < LOCATOR_RESTARTS =>
                {
                    tracing::warn!(object = %projection.object, "query locator expired; restarting from the cursor");
                    restarts += 1;
                }
                Err(Error::Salesforce(e)) if e.invalid_field().is_some() && !repaired => {
                    tracing::warn!(object = %projection.object, field = e.invalid_field(), "a field vanished; re-reading describe");
                    *projection = self.repair_projection(&projection.object, report).await?;
                    repaired = true;
                }
                other => return other,
            }
        }
    }

    /// The SOQL of an incremental read of `state` at the server's time `now_ms`, for a
    /// poll of quiet objects in one `/composite` call.
    pub fn poll_soql(
        settings: &RunSettings,
        projection: &Projection,
        progress: &ObjectProgress,
        now_ms: i64,
    ) -> String {
        let to_ms = plan_window(None, now_ms, settings.overlap, settings.lag).to_ms;
        let from_ms = plan_window(
            progress.cursor.as_ref(),
            to_ms,
            settings.overlap,
            settings.lag,
        )
        .from_ms;
        plan::incremental(projection, &Window { from_ms, to_ms })
    }

    /// Continues an incremental read whose first page a composite poll brought. An expired
    /// locator on a later page restarts the read from the committed cursor.
    pub(crate) async fn continue_changes(
        &self,
        projection: &mut Projection,
        first: QueryPage,
        progress: &mut ObjectProgress,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        self.commit_changes(projection, &first, progress, report)
            .await?;
        let mut pages = self.client.continue_query(&first, QueryOptions::all());
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => {
                    self.commit_changes(projection, &page, progress, report)
                        .await?
                }
                Err(e) if e.is_invalid_query_locator() => {
                    return self.read_changes(projection, progress, report).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The window from `overlap` behind the committed cursor to `to_ms`.
    fn window_from(&self, progress: &ObjectProgress, to_ms: i64) -> Window {
        let from = plan_window(
            progress.cursor.as_ref(),
            to_ms,
            self.settings.overlap,
            self.settings.lag,
        )
        .from_ms;
        Window {
            from_ms: from,
            to_ms,
        }
    }

    /// Re-reads describe without If-Modified-Since, committing the schema change.
    async fn repair_projection(
        &self,
        object: &ObjectName,
        report: &mut RunReport,
    ) -> Result<Projection, Error> {
        let state = self
            .store
            .load_object_state(self.connection, object)
            .await?
            .ok_or_else(|| Error::ObjectVanished(object.as_str().to_string()))?;
        self.refresh_projection(&state, true, report).await
    }

    /// Reads one window page by page; on QUERY_TIMEOUT, reads its two halves instead.
    async fn read_window(
        &self,
        projection: &Projection,
        window: Window,
        progress: &mut ObjectProgress,
        report: &mut RunReport,
        splits: u32,
    ) -> Result<(), Error> {
        if window.is_empty() {
            return Ok(());
        }
        let read = self.read_pages(projection, &window, progress, report).await;
        match read {
            Err(Error::Salesforce(e)) if e.is_query_timeout() && splits < TIMEOUT_SPLITS => {
                let Some((low, high)) = halve(&window) else {
                    return Err(Error::Salesforce(e));
                };
                tracing::warn!(object = %projection.object, splits, "query timed out; halving the window");
                Box::pin(self.read_window(projection, low, progress, report, splits + 1)).await?;
                Box::pin(self.read_window(projection, high, progress, report, splits + 1)).await
            }
            other => other,
        }
    }

    async fn read_pages(
        &self,
        projection: &Projection,
        window: &Window,
        progress: &mut ObjectProgress,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        let soql = plan::incremental(projection, window);
        let mut pages = self.client.query_with(soql, QueryOptions::all());
        while let Some(page) = pages.next().await {
            self.commit_changes(projection, &page?, progress, report)
                .await?;
        }
        Ok(())
    }

    /// Diffs one page against the snapshots and commits snapshots, events and cursor.
    async fn commit_changes(
        &self,
        projection: &Projection,
        page: &QueryPage,
        progress: &mut ObjectProgress,
        report: &mut RunReport,
    ) -> Result<(), Error> {
        let rows = crate::run::rows(projection, &page.records)?;
        if let Some(row) = rows.iter().find(|r| r.stamp_ms == 0) {
            let reason = format!("row {} has no SystemModstamp", row.record.id.as_str());
            let object = projection.object.as_str().to_string();
            return Err(Error::Malformed { object, reason });
        }
        report.records_read += rows.len() as u64;
        let held = self
            .held(&projection.object, rows.iter().map(|r| &r.record.id))
            .await?;
        let mut commit = self.page(&projection.object, None);
        for row in &rows {
            let before = held.get(&row.record.id);
            if let Some(change) = diff(before, &row.record, row.is_deleted, projection) {
                commit.changes.push(NewChange {
                    change,
                    changed_at_ms: row.stamp_ms,
                });
            }
            commit.snapshots.push(sfsync_core::Snapshot::next(
                before,
                &row.record,
                row.is_deleted,
                projection,
            ));
            let read = Cursor {
                system_modstamp_ms: row.stamp_ms,
                id: row.record.id.clone(),
            };
            progress.cursor = Some(advance(progress.cursor.take(), read));
        }
        report.events += commit.changes.len() as u64;
        commit.progress = Some(progress.clone());
        tracing::debug!(object = %projection.object, rows = rows.len(), events = commit.changes.len(), "incremental page");
        self.store.commit_page(&commit).await?;
        (self.on_progress)(&projection.object, report);
        Ok(())
    }
}

/// The two halves of a window, or `None` when it is too narrow to split or has no lower
/// bound (which a read after the initial load always has).
fn halve(window: &Window) -> Option<(Window, Window)> {
    let from = window.from_ms?;
    let mid = from + (window.to_ms - from) / 2;
    (mid > from).then_some((
        Window {
            from_ms: Some(from),
            to_ms: mid,
        },
        Window {
            from_ms: Some(mid + 1),
            to_ms: window.to_ms,
        },
    ))
}
