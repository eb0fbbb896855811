//! Bulk API 2.0 query jobs (salesforce-api.md §3): create, poll, read CSV result pages.
//!
//! A job is created with `POST /jobs/query`, polled with growing, jittered waits until
//! `JobComplete` (or `Failed`/`Aborted`), and its results are read in pages:
//! `GET /jobs/query/{id}/results?maxRecords=N[&locator=L]`, each page naming the next in
//! `Sforce-Locator` until that header is the literal string `null`. Every page's
//! `Sforce-NumberOfRecords` is checked against the rows parsed, so a truncated download is an
//! error rather than silently missing rows.
//!
//! CSV carries no types and cannot tell an empty string from null; both become null, as every
//! studied connector does (§3). Compound fields (addresses) cannot be selected in Bulk queries.

use std::time::{Duration, Instant};

use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt, TryStreamExt};
use reqwest::header::ACCEPT;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;

use crate::client::{Request, Response, SalesforceClient};
use crate::error::{Error, Result};
use crate::record::{Record, records_from_rows};
use crate::retry::{backoff, jittered};
use crate::value::FieldValue;
use crate::wire;

/// How a Bulk query runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkQueryOptions {
    /// Use `queryAll`: include soft-deleted and merged rows.
    pub include_deleted: bool,
    /// Rows per result page (`maxRecords`). Default 50,000; smaller pages avoid download
    /// timeouts on wide objects.
    pub max_records: u32,
    /// The first wait between status polls. Default 500 ms.
    pub poll_initial: Duration,
    /// The longest wait between status polls. Default 10 s.
    pub poll_max: Duration,
    /// How long to wait for the job before giving up. Default 1 hour.
    pub max_wait: Duration,
}

impl Default for BulkQueryOptions {
    fn default() -> Self {
        Self {
            include_deleted: false,
            max_records: 50_000,
            poll_initial: Duration::from_millis(500),
            poll_max: Duration::from_secs(10),
            max_wait: Duration::from_secs(3600),
        }
    }
}

/// A job's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum JobState {
    /// Created; queued for processing.
    UploadComplete,
    /// Running.
    InProgress,
    /// Finished; results can be read.
    JobComplete,
    /// Failed; see `error_message`.
    Failed,
    /// Aborted by someone.
    Aborted,
    /// A state this client does not know.
    Other(String),
}

impl JobState {
    fn as_str(&self) -> &str {
        match self {
            Self::UploadComplete => "UploadComplete",
            Self::InProgress => "InProgress",
            Self::JobComplete => "JobComplete",
            Self::Failed => "Failed",
            Self::Aborted => "Aborted",
            Self::Other(text) => text,
        }
    }
}

impl From<JobState> for String {
    fn from(value: JobState) -> Self {
        value.as_str().to_owned()
    }
}

impl<'de> Deserialize<'de> for JobState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        Ok(match String::deserialize(deserializer)?.as_str() {
            "UploadComplete" => Self::UploadComplete,
            "InProgress" => Self::InProgress,
            "JobComplete" => Self::JobComplete,
            "Failed" => Self::Failed,
            "Aborted" => Self::Aborted,
            other => Self::Other(other.to_owned()),
        })
    }
}

/// A query job as Salesforce reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkJob {
    /// The job id.
    pub id: String,
    /// `query` or `queryAll`.
    pub operation: String,
    /// The sObject queried.
    pub object: String,
    /// The state.
    pub state: JobState,
    /// Rows processed so far (status responses only).
    #[serde(default)]
    pub number_records_processed: Option<u64>,
    /// Why the job failed.
    #[serde(default)]
    pub error_message: Option<String>,
}

/// One page of a job's results.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkPage {
    /// The job id.
    pub job_id: String,
    /// The CSV header: field names, relationship fields dotted (`Owner.Name`).
    pub columns: Vec<String>,
    /// The rows as records of the job's object; every value is a string or null.
    pub records: Vec<Record>,
}

#[derive(Debug)]
enum Locator {
    First,
    Next(String),
    Done,
}

impl SalesforceClient {
    /// Runs a query job end to end: create, wait, then stream its result pages.
    pub fn bulk_query(
        &self,
        soql: impl Into<String>,
        options: BulkQueryOptions,
    ) -> BoxStream<'static, Result<BulkPage>> {
        let client = self.clone();
        let soql = soql.into();
        let job = async move {
            let created = client.create_bulk_query(&soql, &options).await?;
            let job = client.wait_for_bulk_job(&created.id, &options).await?;
            Ok::<_, Error>(client.bulk_results(&job, &options))
        };
        stream::once(job).try_flatten().boxed()
    }

    /// Creates a query job (`POST /jobs/query`), CSV with commas and LF.
    pub async fn create_bulk_query(
        &self,
        soql: &str,
        options: &BulkQueryOptions,
    ) -> Result<BulkJob> {
        let operation = if options.include_deleted {
            "queryAll"
        } else {
            "query"
        };
        let body = json!({
            "operation": operation,
            "query": soql,
            "contentType": "CSV",
            "columnDelimiter": "COMMA",
            "lineEnding": "LF",
        });
        let request = Request::post("bulk job create", self.data_path("jobs/query"), body);
        let job: BulkJob =
            wire::parse_json("bulk job response", &self.execute(&request).await?.body)?;
        checked_job_id(&job.id)?;
        tracing::info!(job_id = %job.id, object = %job.object, "bulk query job created");
        Ok(job)
    }

    /// Reads a job's status.
    pub async fn fetch_bulk_job(&self, job_id: &str) -> Result<BulkJob> {
        let path = self.data_path(&format!("jobs/query/{}", checked_job_id(job_id)?));
        let request = Request::get("bulk job status", path);
        wire::parse_json("bulk job response", &self.execute(&request).await?.body)
    }

    /// Polls a job with growing, jittered waits until it completes, fails or the wait runs out.
    pub async fn wait_for_bulk_job(
        &self,
        job_id: &str,
        options: &BulkQueryOptions,
    ) -> Result<BulkJob> {
        let started = Instant::now();
        let mut step = 0;
        loop {
            let job = self.fetch_bulk_job(job_id).await?;
            match job.state {
                JobState::JobComplete => return Ok(job),
                JobState::Failed | JobState::Aborted => return Err(job_failed(job)),
                _ if started.elapsed() >= options.max_wait => {
                    let state = job.state.as_str().to_owned();
                    return Err(Error::BulkJobTimeout {
                        job_id: job.id,
                        state,
                        waited: started.elapsed(),
                    });
                }
                _ => {}
            }
            tokio::time::sleep(jittered(backoff(
                options.poll_initial,
                options.poll_max,
                step,
            )))
            .await;
            step = step.saturating_add(1);
        }
    }

    /// Streams a completed job's result pages. A job that processed no rows is not fetched.
    pub fn bulk_results(
        &self,
        job: &BulkJob,
        options: &BulkQueryOptions,
    ) -> BoxStream<'static, Result<BulkPage>> {
        let start = if job.number_records_processed == Some(0) {
            Locator::Done
        } else {
            Locator::First
        };
        let (client, job, max_records) = (self.clone(), job.clone(), options.max_records);
        stream::try_unfold(start, move |locator| {
            let (client, job) = (client.clone(), job.clone());
            async move {
                let locator = match locator {
                    Locator::Done => return Ok(None),
                    Locator::First => None,
                    Locator::Next(locator) => Some(locator),
                };
                let (page, next) = client.fetch_bulk_page(&job, locator, max_records).await?;
                Ok(Some((page, next)))
            }
        })
        .boxed()
    }

    async fn fetch_bulk_page(
        &self,
        job: &BulkJob,
        locator: Option<String>,
        max_records: u32,
    ) -> Result<(BulkPage, Locator)> {
        let path = self.data_path(&format!("jobs/query/{}/results", checked_job_id(&job.id)?));
        let mut request = Request::get("bulk results", path)
            .query("maxRecords", max_records.to_string())
            .header(ACCEPT, "text/csv");
        if let Some(locator) = locator {
            request = request.query("locator", locator);
        }
        let response = self.execute(&request).await?;
        let ((columns, rows), next) = read_page(&response)?;
        tracing::debug!(job_id = %job.id, rows = rows.len(), "bulk result page read");
        let records = to_records(&job.object, &columns, rows)?;
        Ok((
            BulkPage {
                job_id: job.id.clone(),
                columns,
                records,
            },
            next,
        ))
    }

    /// Deletes a job and its results (`DELETE /jobs/query/{id}`).
    pub async fn delete_bulk_job(&self, job_id: &str) -> Result<()> {
        let path = self.data_path(&format!("jobs/query/{}", checked_job_id(job_id)?));
        let request = Request {
            method: reqwest::Method::DELETE,
            ..Request::get("bulk job delete", path)
        };
        self.execute(&request).await.map(drop)
    }
}

fn job_failed(job: BulkJob) -> Error {
    Error::BulkJobFailed {
        state: job.state.as_str().to_owned(),
        message: job.error_message.unwrap_or_default(),
        job_id: job.id,
    }
}

/// A job id from a response goes into a path: letters and digits only.
fn checked_job_id(id: &str) -> Result<&str> {
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(id)
    } else {
        Err(Error::malformed(
            "bulk job response",
            format!("job id {id:?} is not alphanumeric"),
        ))
    }
}

/// Parses a results page and checks its row count against `Sforce-NumberOfRecords`, so a body
/// cut short is an error rather than silently missing rows.
fn read_page(response: &Response) -> Result<(Csv, Locator)> {
    let (expected, next) = page_headers(response)?;
    let (columns, rows) = parse_csv(&response.body)?;
    if rows.len() as u64 != expected {
        let detail = format!(
            "Sforce-NumberOfRecords is {expected} but the body has {} rows",
            rows.len()
        );
        return Err(Error::malformed("bulk results", detail));
    }
    Ok(((columns, rows), next))
}

/// `Sforce-NumberOfRecords` and the next locator (`Sforce-Locator`, `null` on the last page).
fn page_headers(response: &Response) -> Result<(u64, Locator)> {
    let what = "bulk results";
    let count = response
        .header("sforce-numberofrecords")
        .ok_or_else(|| Error::malformed(what, "missing Sforce-NumberOfRecords header"))?;
    let count = count.trim().parse().map_err(|_| {
        Error::malformed(
            what,
            format!("Sforce-NumberOfRecords {count:?} is not a count"),
        )
    })?;
    let locator = response
        .header("sforce-locator")
        .ok_or_else(|| Error::malformed(what, "missing Sforce-Locator header"))?
        .trim();
    let next = match locator {
        "null" => Locator::Done,
        "" => return Err(Error::malformed(what, "empty Sforce-Locator header")),
        other => Locator::Next(other.to_owned()),
    };
    Ok((count, next))
}

fn to_records(
    object: &str,
    columns: &[String],
    rows: Vec<Vec<Option<String>>>,
) -> Result<Vec<Record>> {
    let text = |v: Option<String>| v.map_or(FieldValue::Null, |s| FieldValue::Text(s.into()));
    let rows = rows
        .into_iter()
        .map(|row| row.into_iter().map(text).collect());
    records_from_rows(object, columns, rows.collect())
}

/// CSV rows, empty fields as `None`.
type Rows = Vec<Vec<Option<String>>>;

/// A parsed CSV body: the header and the rows.
type Csv = (Vec<String>, Rows);

/// Parses RFC 4180 CSV as Bulk API 2.0 writes it (comma, LF or CRLF): quoted fields may hold
/// commas, doubled quotes and newlines. NUL bytes are dropped (connectors have met them).
/// Every row must have as many fields as the header. Public for fuzzing.
pub fn parse_csv(body: &[u8]) -> Result<Csv> {
    let text = std::str::from_utf8(body).map_err(|e| {
        Error::malformed(
            "bulk results",
            format!("not UTF-8 at byte {}", e.valid_up_to()),
        )
    })?;
    let mut rows = CsvReader {
        text,
        pos: 0,
        line: 1,
    }
    .rows()?
    .into_iter();
    let Some(header) = rows.next() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let header: Vec<String> = header.into_iter().map(Option::unwrap_or_default).collect();
    let rows: Vec<_> = rows.collect();
    if let Some((index, row)) = rows
        .iter()
        .enumerate()
        .find(|(_, row)| row.len() != header.len())
    {
        let detail = format!(
            "row {} has {} fields but the header has {}",
            index + 1,
            row.len(),
            header.len()
        );
        return Err(Error::malformed("bulk results", detail));
    }
    Ok((header, rows))
}

/// What ended a field.
#[derive(PartialEq)]
enum End {
    Comma,
    Newline,
    Eof,
}

struct CsvReader<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl CsvReader<'_> {
    fn rows(mut self) -> Result<Rows> {
        let mut rows = Vec::new();
        let mut row = Vec::new();
        loop {
            let row_started = self.pos;
            let (field, end) = self.field()?;
            // A final newline leaves an empty "row" behind it; it is not a row.
            if end == End::Eof && row.is_empty() && self.pos == row_started {
                return Ok(rows);
            }
            row.push(field.map(|f| f.replace('\0', "")).filter(|f| !f.is_empty()));
            match end {
                End::Comma => {}
                End::Newline => rows.push(std::mem::take(&mut row)),
                End::Eof => {
                    rows.push(row);
                    return Ok(rows);
                }
            }
        }
    }

    fn field(&mut self) -> Result<(Option<String>, End)> {
        if self.text[self.pos..].starts_with('"') {
            self.quoted()
        } else {
            Ok(self.unquoted())
        }
    }

    fn unquoted(&mut self) -> (Option<String>, End) {
        let rest = &self.text[self.pos..];
        let len = rest.find([',', '\n']).unwrap_or(rest.len());
        let field = rest[..len].strip_suffix('\r').unwrap_or(&rest[..len]);
        self.pos += len;
        let end = self.end().unwrap_or(End::Eof);
        (Some(field.to_owned()), end)
    }

    fn quoted(&mut self) -> Result<(Option<String>, End)> {
        let opened_on = self.line;
        self.pos += 1;
        let mut field = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let Some(quote) = rest.find('"') else {
                let detail = format!("quoted field opened on line {opened_on} never closes");
                return Err(Error::malformed("bulk results", detail));
            };
            field.push_str(&rest[..quote]);
            self.line += rest[..quote].matches('\n').count();
            self.pos += quote + 1;
            if !self.text[self.pos..].starts_with('"') {
                break;
            }
            field.push('"');
            self.pos += 1;
        }
        let end = self.end().ok_or_else(|| {
            Error::malformed(
                "bulk results",
                format!("text after a closing quote on line {}", self.line),
            )
        })?;
        Ok((Some(field), end))
    }

    /// Consumes the separator after a field; `None` when something else follows.
    fn end(&mut self) -> Option<End> {
        let rest = &self.text[self.pos..];
        let (end, len) = if rest.is_empty() {
            (End::Eof, 0)
        } else if rest.starts_with(',') {
            (End::Comma, 1)
        } else if rest.starts_with('\n') {
            (End::Newline, 1)
        } else if rest.starts_with("\r\n") {
            (End::Newline, 2)
        } else {
            return None;
        };
        self.pos += len;
        if end == End::Newline {
            self.line += 1;
        }
        Some(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> Result<Csv> {
        parse_csv(text.as_bytes())
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn quotes_commas_newlines_and_empties_parse() {
        let (header, rows) = csv("Id,Name,Description,Owner.Name\n001,\"Acme, Inc.\",\"line one\nline \"\"two\"\"\",\n002,,\"\",Bob\n").unwrap();
        assert_eq!(header, ["Id", "Name", "Description", "Owner.Name"]);
        assert_eq!(
            rows[0],
            [s("001"), s("Acme, Inc."), s("line one\nline \"two\""), None]
        );
        assert_eq!(rows[1], [s("002"), None, None, s("Bob")]);
    }

    #[test]
    fn crlf_line_endings_and_a_missing_final_newline_parse() {
        let (_, rows) = csv("\"Id\",\"Name\"\r\n\"001\",\"A\"\r\n\"002\",\"B\"").unwrap();
        assert_eq!(rows, [[s("001"), s("A")], [s("002"), s("B")]]);
    }

    #[test]
    fn an_empty_body_and_a_header_alone_have_no_rows() {
        assert_eq!(csv("").unwrap(), (Vec::new(), Vec::new()));
        let (header, rows) = csv("Id,Name\n").unwrap();
        assert_eq!(header.len(), 2);
        assert!(rows.is_empty());
    }

    #[test]
    fn nul_bytes_are_dropped() {
        let (_, rows) = csv("Id\n\"a\0b\"\n").unwrap();
        assert_eq!(rows[0], [s("ab")]);
    }

    #[test]
    fn broken_csv_is_a_typed_error_naming_the_problem() {
        let err = csv("Id,Name\n001,\"open\n").unwrap_err();
        assert!(err.to_string().contains("never closes"), "{err}");
        let err = csv("Id,Name\n001\n").unwrap_err();
        assert!(err.to_string().contains("row 1 has 1 fields"), "{err}");
        let err = csv("Id\n\"a\"b\n").unwrap_err();
        assert!(err.to_string().contains("after a closing quote"), "{err}");
        assert!(parse_csv(b"Id\n\xff\n").unwrap_err().is_malformed());
    }

    fn response(headers: &[(&'static str, &str)], body: &'static str) -> Response {
        let mut map = reqwest::header::HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        Response {
            status: 200,
            headers: map,
            body: bytes::Bytes::from_static(body.as_bytes()),
        }
    }

    #[test]
    fn a_page_is_checked_against_its_record_count_and_names_the_next_locator() {
        let body = "Id\n001\n002\n";
        let page = response(
            &[
                ("sforce-numberofrecords", "2"),
                ("sforce-locator", "MTAwMDA"),
            ],
            body,
        );
        let ((_, rows), next) = read_page(&page).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(matches!(next, Locator::Next(ref l) if l == "MTAwMDA"));
        let last = response(
            &[("sforce-numberofrecords", "2"), ("sforce-locator", "null")],
            body,
        );
        assert!(matches!(read_page(&last).unwrap().1, Locator::Done));

        let short = response(
            &[("sforce-numberofrecords", "3"), ("sforce-locator", "null")],
            body,
        );
        let err = read_page(&short).unwrap_err();
        assert!(
            err.to_string()
                .contains("Sforce-NumberOfRecords is 3 but the body has 2 rows"),
            "{err}"
        );
        let unlabelled = response(&[("sforce-locator", "null")], body);
        assert!(
            read_page(&unlabelled)
                .unwrap_err()
                .to_string()
                .contains("missing Sforce-NumberOfRecords")
        );
        let no_locator = response(&[("sforce-numberofrecords", "2")], body);
        assert!(
            read_page(&no_locator)
                .unwrap_err()
                .to_string()
                .contains("missing Sforce-Locator")
        );
        let garbled = response(
            &[
                ("sforce-numberofrecords", "two"),
                ("sforce-locator", "null"),
            ],
            body,
        );
        assert!(read_page(&garbled).unwrap_err().is_malformed());
    }

    #[test]
    fn job_ids_from_responses_cannot_escape_the_path() {
        assert!(checked_job_id("7505fEXAMPLE4X2OPT").is_ok());
        assert!(checked_job_id("../../limits").is_err());
        assert!(checked_job_id("").is_err());
    }

    #[test]
    fn job_states_parse_including_unknown_ones() {
        let job: BulkJob = wire::parse_json(
            "bulk job response",
            br#"{"id":"750A","operation":"query","object":"Account","state":"UploadComplete","apiVersion":62.0}"#,
        )
        .unwrap();
        assert_eq!(job.state, JobState::UploadComplete);
        let odd: JobState = serde_json::from_str("\"Paused\"").unwrap();
        assert_eq!(odd, JobState::Other("Paused".into()));
    }
}
