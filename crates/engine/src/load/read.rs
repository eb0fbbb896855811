//! The load's reading stage: keyset pages through REST, or Bulk API 2.0 jobs when more
//! records remain than [`BulkLoad::above`].
//!
//! Either way records come in Id order and each page holds the records after the previous
//! page's last Id, so wherever a crash stops the load, it resumes after its last committed
//! Id. A Bulk job is itself a keyset window (`WHERE Id > :last ORDER BY Id LIMIT n`), and its
//! result pages are cut into load pages of the REST size, so each commit is the size of a
//! REST page. When the org refuses a job (Bulk not enabled, its daily job cap reached,
//! an object or field Bulk cannot read), the rest of the object is read through REST.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use sfsync_core::{Projection, RecordId};
use sfsync_salesforce::{BulkQueryOptions, QueryOptions, Record, SalesforceClient};
use tokio::sync::mpsc;

use crate::error::Error;
use crate::plan;

/// When and how the initial load reads through Bulk API 2.0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkLoad {
    /// Bulk is used when more records than this remain to be read; `None` never uses it.
    /// Default 50,000: well past the few thousand records where a job's fixed calls (create,
    /// polls, delete) cost less than REST's one call per 2,000 records.
    pub above: Option<u64>,
    /// Records per job. `ORDER BY` turns off Salesforce's PK chunking, so windows keep each
    /// job short. Default 500,000.
    pub job_rows: u32,
    /// Rows per result page (`maxRecords`), one API call each, for objects of up to 45
    /// fields; a wider object gets proportionally fewer rows (never fewer than a load page),
    /// so that a page holds about as many values whatever the width. Default 10,000.
    pub result_rows: u32,
}

impl Default for BulkLoad {
    fn default() -> Self {
        Self {
            above: Some(50_000),
            job_rows: 500_000,
            result_rows: 10_000,
        }
    }
}

/// The width up to which a Bulk result page holds `result_rows` rows: that of the objects
/// the memory figures in BENCHMARKS.md were measured with.
const RESULT_PAGE_WIDTH: u64 = 45;

impl BulkLoad {
    /// Rows per result page for an object of `fields` fields: [`BulkLoad::result_rows`] up to
    /// 45 fields, proportionally fewer beyond, and never fewer than a load page of `page`.
    fn result_rows_for(&self, fields: usize, page: u32) -> u32 {
        let width = u64::try_from(fields)
            .unwrap_or(u64::MAX)
            .max(RESULT_PAGE_WIDTH);
        let rows = u64::from(self.result_rows) * RESULT_PAGE_WIDTH / width;
        let floor = page.min(self.result_rows);
        u32::try_from(rows).unwrap_or(self.result_rows).max(floor)
    }
}

/// Records handed to the next stage, and whether they end the load.
#[derive(Debug)]
pub(super) struct LoadPage {
    pub records: Vec<Record>,
    pub last: bool,
}

/// Where pages go; a page sent after the receiver is gone stops the reading.
pub(super) type Pages = mpsc::Sender<Result<LoadPage, Error>>;

/// Reads one object's records from a load position.
pub(super) struct Reader {
    pub client: SalesforceClient,
    pub projection: Projection,
    /// Records per REST page and per load page.
    pub page: u32,
    pub bulk: BulkLoad,
}

impl Reader {
    /// Reads everything after `after` and hands it on page by page; an error is handed on
    /// too and ends the reading.
    pub(super) async fn run(self, mut after: Option<RecordId>, out: Pages) {
        if let Err(error) = self.read(&mut after, &out).await {
            // Nobody is left to tell when the receiver is gone; that is how reading stops.
            let _ = out.send(Err(error)).await;
        }
    }

    async fn read(&self, after: &mut Option<RecordId>, out: &Pages) -> Result<(), Error> {
        if self.wants_bulk(after.as_ref()).await? {
            match self.read_bulk(after, out).await {
                Err(Error::Salesforce(refused)) if bulk_refused(&refused) => tracing::warn!(
                    object = %self.projection.object, error = %refused,
                    "bulk query refused; reading the rest through REST"
                ),
                read => return read,
            }
        }
        self.read_rest(after, out).await
    }

    /// Whether more records remain after `after` than the Bulk threshold (one COUNT call).
    /// A count that runs past Salesforce's query time limit answers yes: only an object far
    /// above any threshold takes that long to count.
    async fn wants_bulk(&self, after: Option<&RecordId>) -> Result<bool, Error> {
        let Some(above) = self.bulk.above else {
            return Ok(false);
        };
        let soql = plan::count_after(&self.projection.object, after);
        match self
            .client
            .fetch_first_page(&soql, QueryOptions::default())
            .await
        {
            Ok(count) => Ok(count.total_size > above),
            Err(sfsync_salesforce::Error::QueryTimeout { .. }) => Ok(true),
            // A server that cannot count (COUNT() refused as malformed) can still be read
            // page by page; anything really wrong with the object fails the REST read too.
            Err(error @ sfsync_salesforce::Error::Api { status: 400, .. }) => {
                tracing::warn!(object = %self.projection.object, %error, "cannot count the object; loading it through REST");
                Ok(false)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// REST keyset pages until a short one, the last.
    async fn read_rest(&self, after: &mut Option<RecordId>, out: &Pages) -> Result<(), Error> {
        loop {
            let soql = plan::initial_load(&self.projection, after.as_ref(), self.page);
            let page = self
                .client
                .fetch_first_page(&soql, QueryOptions::default())
                .await?;
            let last = (page.records.len() as u32) < self.page;
            self.hand_on(page.records, last, after, out).await?;
            if last {
                return Ok(());
            }
        }
    }

    /// Bulk jobs, window after window, until a job returns fewer rows than its window.
    async fn read_bulk(&self, after: &mut Option<RecordId>, out: &Pages) -> Result<(), Error> {
        let options = BulkQueryOptions {
            max_records: self
                .bulk
                .result_rows_for(self.projection.fields.len(), self.page),
            poll_initial: Duration::from_millis(200),
            ..BulkQueryOptions::default()
        };
        loop {
            let soql = plan::initial_load(&self.projection, after.as_ref(), self.bulk.job_rows);
            let created = self.client.create_bulk_query(&soql, &options).await?;
            let job = self.client.wait_for_bulk_job(&created.id, &options).await?;
            let mut results = read_ahead(self.client.bulk_results(&job, &options));
            let mut read = 0u64;
            while let Some(result) = results.recv().await.transpose()? {
                read += result.records.len() as u64;
                self.hand_on_in_pages(result.records, after, out).await?;
            }
            self.delete_job(&job.id).await;
            if read < u64::from(self.bulk.job_rows) {
                return self.hand_on(Vec::new(), true, after, out).await;
            }
        }
    }

    /// A result page cut into load pages.
    async fn hand_on_in_pages(
        &self,
        mut records: Vec<Record>,
        after: &mut Option<RecordId>,
        out: &Pages,
    ) -> Result<(), Error> {
        while !records.is_empty() {
            let rest = records.split_off(records.len().min(self.page as usize));
            self.hand_on(records, false, after, out).await?;
            records = rest;
        }
        Ok(())
    }

    /// Sends a page on and moves `after` to its last record.
    async fn hand_on(
        &self,
        records: Vec<Record>,
        last: bool,
        after: &mut Option<RecordId>,
        out: &Pages,
    ) -> Result<(), Error> {
        if let Some(record) = records.last() {
            let id = RecordId::parse(record.id().unwrap_or_default())
                .map_err(|e| crate::run::record_error(&self.projection.object, e))?;
            *after = Some(id);
        }
        out.send(Ok(LoadPage { records, last }))
            .await
            .map_err(|_| Error::Task("the load stopped taking pages".into()))
    }

    /// Frees the job's stored results; they would otherwise count against the org's daily
    /// result storage until Salesforce drops them after seven days.
    async fn delete_job(&self, job_id: &str) {
        if let Err(error) = self.client.delete_bulk_job(job_id).await {
            tracing::warn!(job_id, %error, "could not delete a finished bulk job");
        }
    }
}

/// Downloads `pages` one page ahead of the caller, on its own task: a result page is large,
/// and without this the next one would start downloading only when every load page cut from
/// the current one had been taken, leaving the later stages idle meanwhile. The task stops
/// after the first error or once the receiver is gone.
fn read_ahead<T: Send + 'static>(
    mut pages: BoxStream<'static, sfsync_salesforce::Result<T>>,
) -> mpsc::Receiver<sfsync_salesforce::Result<T>> {
    let (out, ahead) = mpsc::channel(1);
    tokio::spawn(async move {
        while let Some(page) = pages.next().await {
            let failed = page.is_err();
            if out.send(page).await.is_err() || failed {
                return;
            }
        }
    });
    ahead
}

/// Whether Salesforce refused a Bulk job for what it is rather than for a passing failure:
/// a 400 or 403 when creating it, a server that does not serve Bulk API 2.0 at all, or a
/// job that ended Failed.
fn bulk_refused(error: &sfsync_salesforce::Error) -> bool {
    use sfsync_salesforce::Error as E;
    let creating = |what: &str| what == "bulk job create";
    match error {
        E::Api { what, status, .. } if creating(what) => {
            matches!(status, 400 | 403) || error.is_not_served()
        }
        E::UnexpectedStatus { what, .. } if creating(what) => error.is_not_served(),
        E::BulkJobFailed { .. } => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bulk_job_refused_or_not_served_loads_through_rest_but_a_passing_failure_does_not() {
        use sfsync_salesforce::Error as E;
        let api = |what, status| E::Api {
            what,
            status,
            code: "NOT_FOUND".into(),
            message: String::new(),
        };
        let bare = |status| E::UnexpectedStatus {
            what: "bulk job create",
            status,
            excerpt: String::new(),
        };
        for refused in [
            api("bulk job create", 400),
            api("bulk job create", 404),
            bare(405),
            bare(501),
        ] {
            assert!(bulk_refused(&refused), "{refused}");
        }
        let unavailable = E::ServerUnavailable {
            status: 503,
            code: None,
            message: String::new(),
        };
        for passing in [api("bulk job status", 404), bare(500), unavailable] {
            assert!(!bulk_refused(&passing), "{passing}");
        }
    }

    #[test]
    fn a_wide_object_gets_fewer_rows_per_result_page_but_never_fewer_than_a_load_page() {
        let bulk = BulkLoad::default();
        assert_eq!(bulk.result_rows_for(12, 2000), 10_000);
        assert_eq!(bulk.result_rows_for(45, 2000), 10_000);
        assert_eq!(bulk.result_rows_for(90, 2000), 5_000);
        assert_eq!(bulk.result_rows_for(450, 2000), 2000);
        let tiny = BulkLoad {
            result_rows: 5,
            ..bulk
        };
        assert_eq!(tiny.result_rows_for(40, 4), 5);
        assert_eq!(tiny.result_rows_for(400, 4), 4);
    }
}
