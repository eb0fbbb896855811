//! Bulk API 2.0 query jobs: create, poll, CSV results paged by `Sforce-Locator`.
//!
//! A job runs its query when created (its snapshot is fixed then); it reports `InProgress`
//! on its first status poll and `JobComplete` afterwards, so clients must poll. Results must
//! be read with the API version that created the job (409 otherwise), and the last chunk
//! carries the literal locator `null`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::{Value as Json, json};
use sfsync_soql::{BoundQuery, FieldKind};

use crate::catalog::RecordRow;
use crate::error::SimError;
use crate::org::Record;
use crate::reply::Reply;
use crate::rest::{Call, form_param};
use crate::values::{push_doubling_quotes, write_csv_cell};

/// Every job, by id.
#[derive(Debug, Default)]
pub struct Jobs {
    jobs: HashMap<String, Job>,
    next: u64,
    /// Jobs each org has created, deleted ones included (for `DailyBulkV2QueryJobs`). The
    /// count never falls: the simulator's day does not roll for Bulk jobs.
    created: HashMap<String, u64>,
}

impl Jobs {
    /// Jobs created by an org (for `DailyBulkV2QueryJobs`).
    pub fn count_for(&self, org_id: &str) -> u64 {
        self.created.get(org_id).copied().unwrap_or(0)
    }
}

#[derive(Debug)]
struct Job {
    id: String,
    org_id: String,
    operation: String,
    object: String,
    version: String,
    delimiter: char,
    line_ending: &'static str,
    created: String,
    state: &'static str,
    polls: u32,
    query: Arc<BoundQuery>,
    rows: Vec<Arc<Record>>,
}

/// Routes `/jobs/query[/{id}[/results]]`.
pub fn route(call: &Call<'_>, rest: &[&str]) -> Result<Reply, SimError> {
    match (rest, call.method.clone()) {
        ([], Method::POST) => create(call),
        ([], Method::GET) => list(call),
        ([id], Method::GET) => status(call, id),
        ([id], Method::PATCH) => abort(call, id),
        ([id], Method::DELETE) => delete(call, id),
        ([id, "results"], Method::GET) => results(call, id),
        _ => Err(SimError::not_found()),
    }
}

fn create(call: &Call<'_>) -> Result<Reply, SimError> {
    let body: Json = serde_json::from_slice(call.body).map_err(|e| {
        SimError::bad_request("JSON_PARSER_ERROR", &format!("invalid job body: {e}"))
    })?;
    let operation = body["operation"].as_str().unwrap_or("");
    if operation != "query" && operation != "queryAll" {
        return Err(invalid_job(&format!("Invalid operation: {operation}")));
    }
    let soql = body["query"]
        .as_str()
        .ok_or_else(|| invalid_job("query is required"))?;
    let delimiter = delimiter(body["columnDelimiter"].as_str().unwrap_or("COMMA"))?;
    let line_ending = match body["lineEnding"].as_str().unwrap_or("LF") {
        "LF" => "\n",
        "CRLF" => "\r\n",
        other => return Err(invalid_job(&format!("Invalid lineEnding: {other}"))),
    };
    let org = call.org.data.read().expect("org");
    let (query, rows) = crate::query::select_rows(&org, soql, operation == "queryAll", call.now)?;
    check_bulk_shape(&query)?;
    let mut jobs = call.sim.jobs.lock().expect("jobs");
    check_job_cap(&jobs, call)?;
    *jobs
        .created
        .entry(call.org.info.org_id.clone())
        .or_default() += 1;
    jobs.next += 1;
    let id = format!("750{}{:012}", &call.org.info.org_id[3..6], jobs.next);
    let job = Job {
        id: id.clone(),
        org_id: call.org.info.org_id.clone(),
        operation: operation.to_string(),
        object: query.object.clone(),
        version: call.version.to_string(),
        delimiter,
        line_ending,
        created: sfsync_soql::format_datetime(call.now - call.now.rem_euclid(1000)),
        state: "UploadComplete",
        polls: 0,
        query: Arc::new(query),
        rows,
    };
    let info = job_info(&job, call.org.info.user_id.as_str(), false);
    jobs.jobs.insert(id, job);
    Ok(Reply::json(&info))
}

/// Refuses a job past the org's daily cap, with the message Salesforce gives.
fn check_job_cap(jobs: &Jobs, call: &Call<'_>) -> Result<(), SimError> {
    let cap = call
        .org
        .settings
        .lock()
        .expect("settings")
        .bulk_query_jobs_daily_limit;
    if jobs.count_for(&call.org.info.org_id) >= cap {
        let message = format!("Max bulk v2 query jobs ({cap}) per 24 hrs has been reached");
        return Err(SimError::bad_request("LIMIT_EXCEEDED", &message));
    }
    Ok(())
}

/// Compound fields and aggregates are refused by Bulk queries (Bulk API 2.0 guide).
pub fn check_bulk_shape(query: &BoundQuery) -> Result<(), SimError> {
    if query
        .select
        .iter()
        .any(|c| c.path.field.kind == FieldKind::Address)
    {
        return Err(SimError::bad_request(
            "API_ERROR",
            "Selecting compound data not supported in Bulk Query",
        ));
    }
    if query.count.is_some() || query.offset.is_some() {
        return Err(SimError::bad_request(
            "API_ERROR",
            "Aggregate queries and OFFSET are not supported in Bulk Query",
        ));
    }
    Ok(())
}

fn delimiter(name: &str) -> Result<char, SimError> {
    Ok(match name {
        "COMMA" => ',',
        "TAB" => '\t',
        "PIPE" => '|',
        "SEMICOLON" => ';',
        "CARET" => '^',
        "BACKQUOTE" => '`',
        other => return Err(invalid_job(&format!("Invalid columnDelimiter: {other}"))),
    })
}

fn invalid_job(message: &str) -> SimError {
    SimError::bad_request("INVALIDJOB", message)
}

fn job_info(job: &Job, user_id: &str, with_stats: bool) -> Json {
    let delimiter = match job.delimiter {
        '\t' => "TAB",
        '|' => "PIPE",
        ';' => "SEMICOLON",
        '^' => "CARET",
        '`' => "BACKQUOTE",
        _ => "COMMA",
    };
    let mut info = json!({
        "id": job.id, "operation": job.operation, "object": job.object, "createdById": user_id,
        "createdDate": job.created, "systemModstamp": job.created, "state": job.state,
        "concurrencyMode": "Parallel", "contentType": "CSV",
        "apiVersion": job.version.trim_start_matches('v').parse::<f64>().unwrap_or(0.0),
        "lineEnding": if job.line_ending == "\n" { "LF" } else { "CRLF" }, "columnDelimiter": delimiter,
    });
    if with_stats {
        let done = job.state == "JobComplete";
        info["jobType"] = json!("V2Query");
        info["numberRecordsProcessed"] = json!(if done { job.rows.len() } else { 0 });
        info["retries"] = json!(0);
        info["totalProcessingTime"] = json!(if done { 42 } else { 0 });
        info["isPkChunkingSupported"] = json!(true);
    }
    info
}

fn with_job<T>(
    call: &Call<'_>,
    id: &str,
    f: impl FnOnce(&mut Job) -> Result<T, SimError>,
) -> Result<T, SimError> {
    let mut jobs = call.sim.jobs.lock().expect("jobs");
    let job = jobs
        .jobs
        .get_mut(id)
        .filter(|j| j.org_id == call.org.info.org_id)
        .ok_or_else(|| {
            SimError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "The requested resource does not exist",
            )
        })?;
    f(job)
}

fn status(call: &Call<'_>, id: &str) -> Result<Reply, SimError> {
    with_job(call, id, |job| {
        job.polls += 1;
        if job.state == "UploadComplete" || job.state == "InProgress" {
            job.state = if job.polls >= 2 {
                "JobComplete"
            } else {
                "InProgress"
            };
        }
        Ok(Reply::json(&job_info(job, &call.org.info.user_id, true)))
    })
}

fn abort(call: &Call<'_>, id: &str) -> Result<Reply, SimError> {
    with_job(call, id, |job| {
        if job.state == "JobComplete" {
            return Err(invalid_job("Job is already complete"));
        }
        job.state = "Aborted";
        Ok(Reply::json(&job_info(job, &call.org.info.user_id, true)))
    })
}

fn delete(call: &Call<'_>, id: &str) -> Result<Reply, SimError> {
    with_job(call, id, |_| Ok(()))?;
    call.sim.jobs.lock().expect("jobs").jobs.remove(id);
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

fn list(call: &Call<'_>) -> Result<Reply, SimError> {
    let jobs = call.sim.jobs.lock().expect("jobs");
    let records: Vec<Json> = jobs
        .jobs
        .values()
        .filter(|j| j.org_id == call.org.info.org_id)
        .map(|j| job_info(j, &call.org.info.user_id, false))
        .collect();
    Ok(Reply::json(
        &json!({"done": true, "records": records, "nextRecordsUrl": null}),
    ))
}

fn results(call: &Call<'_>, id: &str) -> Result<Reply, SimError> {
    let start: usize = form_param(call.query, "locator").map_or(Ok(0), |l| decode_locator(&l))?;
    let max: usize = form_param(call.query, "maxRecords")
        .and_then(|m| m.parse().ok())
        .unwrap_or(100_000)
        .max(1);
    let org = call.org.data.read().expect("org");
    with_job(call, id, |job| {
        if job.version != call.version {
            return Err(SimError::new(
                StatusCode::CONFLICT,
                "INVALIDJOBSTATE",
                "Results must be retrieved with the API version that created the job",
            ));
        }
        if job.state != "JobComplete" {
            return Err(SimError::bad_request(
                "INVALIDJOBSTATE",
                &format!("Job state is {}, results are not available", job.state),
            ));
        }
        let end = (start + max).min(job.rows.len());
        let table = org.table(&job.object)?;
        let csv = write_csv(
            &job.query,
            (job.delimiter, job.line_ending),
            &job.rows[start.min(end)..end],
            |record| RecordRow::new(&org, table, record, call.now),
        );
        let next = if end < job.rows.len() {
            encode_locator(end)
        } else {
            "null".to_string()
        };
        Ok(Reply {
            status: StatusCode::OK,
            headers: vec![("content-type", "text/csv".into())],
            body: csv.into_bytes(),
        }
        .header("sforce-locator", next)
        .header("sforce-numberofrecords", (end - start.min(end)).to_string()))
    })
}

/// Rows as CSV with a header line, cells split by `delimiter` and lines ended by
/// `line_ending` (Bulk API 2.0 results, and Bulk API 1.0 results of a CSV job).
pub fn write_csv<'a>(
    query: &BoundQuery,
    (delimiter, line_ending): (char, &str),
    rows: &'a [Arc<Record>],
    row_of: impl Fn(&'a Record) -> RecordRow<'a>,
) -> String {
    let columns = &query.select;
    let mut out = String::with_capacity(64 * columns.len() * (rows.len() + 1));
    for (i, column) in columns.iter().enumerate() {
        separate(&mut out, i, delimiter);
        out.push('"');
        push_doubling_quotes(&mut out, &column.alias_json_path.join("."));
        out.push('"');
    }
    out.push_str(line_ending);
    for record in rows {
        let row = row_of(record);
        for (i, column) in columns.iter().enumerate() {
            separate(&mut out, i, delimiter);
            write_csv_cell(&mut out, column.path.field.kind, &column.path.eval(&row));
        }
        out.push_str(line_ending);
    }
    out
}

/// The delimiter before every cell but a line's first.
fn separate(out: &mut String, cell: usize, delimiter: char) {
    if cell > 0 {
        out.push(delimiter);
    }
}

fn encode_locator(offset: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(offset.to_string())
}

fn decode_locator(locator: &str) -> Result<usize, SimError> {
    use base64::Engine;
    let bad = || SimError::bad_request("INVALID_LOCATOR", &format!("Invalid locator: {locator}"));
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(locator)
        .map_err(|_| bad())?;
    String::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)
}
