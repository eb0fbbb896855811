//! Bulk API 1.0 query jobs under `/services/async/{version}/`: a job, a batch holding the
//! SOQL, batch status, a result list and the results, as tap-salesforce (CSV, with PK
//! chunking on timeouts) and simple-salesforce's `bulk` (JSON) read them.
//!
//! The session id comes in `X-SFDC-Session`. Job creation and closing answer in the format
//! of the request's body; everything about batches answers in JSON for a JSON job and in XML
//! otherwise, as Salesforce does. A batch runs its query when added (its snapshot is fixed
//! then): the batch says `Queued` when added and `Completed` (or `Failed`) when polled.
//! With `Sforce-Enable-PKChunking`, the batch sent is `NotProcessed` and one batch per chunk
//! of Ids holds the records.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json, json};
use sfsync_soql::BoundQuery;

use crate::catalog::RecordRow;
use crate::org::Record;
use crate::reply::Reply;
use crate::state::{FaultKind, Org, SimState};

const NAMESPACE: &str = "http://www.force.com/2009/06/asyncapi/dataload";
const DEFAULT_CHUNK: usize = 100_000;
const MAX_CHUNK: usize = 250_000;

/// Every Bulk API 1.0 job, by id.
#[derive(Debug, Default)]
pub struct ClassicJobs {
    jobs: HashMap<String, ClassicJob>,
    next: u64,
}

#[derive(Debug)]
struct ClassicJob {
    id: String,
    org_id: String,
    operation: String,
    object: String,
    json: bool,
    state: &'static str,
    created: i64,
    chunk: Option<usize>,
    batches: Vec<Batch>,
}

#[derive(Debug)]
struct Batch {
    id: String,
    state: &'static str,
    message: Option<String>,
    query: Option<Arc<BoundQuery>>,
    rows: Vec<Arc<Record>>,
}

impl Batch {
    /// A client looks at the batch. It was `Queued` when added, but its query ran then, so
    /// the first look finds it done.
    fn look(&mut self) {
        if self.state == "Queued" {
            self.state = "Completed";
        }
    }
}

/// An answer in the shape Bulk API 1.0 gives: XML or JSON, errors as `exceptionCode`.
struct Failure {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Failure {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Failure {
            status,
            code,
            message: message.into(),
        }
    }

    fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
}

type Outcome = Result<Reply, Failure>;

/// A call's context: the org, the version and whether the answer is JSON.
struct Ctx<'a> {
    sim: &'a SimState,
    org: Arc<Org>,
    version: &'a str,
    now: i64,
    json: bool,
    /// Records per batch asked for with `Sforce-Enable-PKChunking`.
    chunk: Option<usize>,
}

/// Every `/services/async/...` request.
pub async fn async_api(
    State(sim): State<Arc<SimState>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json = content_type(&headers).contains("json");
    let path = uri
        .path()
        .trim_start_matches("/services/async/")
        .to_string();
    let (version, rest) = path.split_once('/').unwrap_or((&path, ""));
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let now = sim.clock.now_ms();
    let session = headers
        .get("x-sfdc-session")
        .or_else(|| headers.get(axum::http::header::AUTHORIZATION))
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_start_matches("Bearer ").trim().to_string())
        .unwrap_or_default();
    let Some(org) = crate::oauth::authenticate_session(&sim, &session, now) else {
        let failure = Failure::bad("InvalidSessionId", "Invalid session id");
        return failure_reply(&failure, json).into_response();
    };
    let ctx = Ctx {
        sim: &sim,
        org: org.clone(),
        version,
        now,
        json,
        chunk: pk_chunking(&headers),
    };
    let mut reply = check_version(version)
        .and_then(|()| route(&ctx, &method, &parts, &body))
        .unwrap_or_else(|failure| failure_reply(&failure, job_json(&ctx, &parts).unwrap_or(json)));
    crate::rest::finish(&org, &mut reply, "async", 1, now, false);
    reply.into_response()
}

fn route(ctx: &Ctx<'_>, method: &Method, parts: &[&str], body: &[u8]) -> Outcome {
    match (parts, method.as_str()) {
        (["job"], "POST") => create_job(ctx, body),
        (["job", job], "GET") => with_job(ctx, job, |job, ctx| Ok(job_reply(job, ctx, ctx.json))),
        (["job", job], "POST") => update_job(ctx, job, body),
        (["job", job, "batch"], "POST") => add_batch(ctx, job, body),
        (["job", job, "batch"], "GET") => with_job(ctx, job, list_batches),
        (["job", job, "batch", batch], "GET") => with_batch(ctx, job, batch, batch_status),
        (["job", job, "batch", batch, "result"], "GET") => with_batch(ctx, job, batch, result_list),
        (["job", job, "batch", batch, "result", _], "GET") => with_batch(ctx, job, batch, result),
        _ => Err(Failure::new(
            StatusCode::NOT_FOUND,
            "InvalidUrl",
            "Destination URL not reset. The URL returned from login must be set",
        )),
    }
}

fn check_version(version: &str) -> Result<(), Failure> {
    let known = version
        .strip_suffix(".0")
        .and_then(|v| v.parse::<u32>().ok())
        .is_some_and(|v| (31..=crate::rest::LATEST_VERSION.0).contains(&v));
    if known {
        return Ok(());
    }
    Err(Failure::bad(
        "InvalidVersion",
        format!("Invalid api version specified on URL: {version}"),
    ))
}

/// `Sforce-Enable-PKChunking: true; chunkSize=N` (or `TRUE`, or only `chunkSize=N`):
/// the chunk size, by default 100,000 and at most 250,000.
fn pk_chunking(headers: &HeaderMap) -> Option<usize> {
    let value = headers.get("sforce-enable-pkchunking")?.to_str().ok()?;
    let mut enabled = false;
    let mut size = DEFAULT_CHUNK;
    for part in value.split(';').map(str::trim) {
        match part.split_once('=') {
            Some((key, n)) if key.trim().eq_ignore_ascii_case("chunkSize") => {
                enabled = true;
                size = n.trim().parse().unwrap_or(DEFAULT_CHUNK);
            }
            None if part.eq_ignore_ascii_case("true") => enabled = true,
            _ => {}
        }
    }
    enabled.then_some(size.clamp(1, MAX_CHUNK))
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase()
}

// ---- jobs ----------------------------------------------------------------------------

fn create_job(ctx: &Ctx<'_>, body: &[u8]) -> Outcome {
    let fields = request_fields(body, ctx.json)?;
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let operation = field("operation");
    if operation != "query" && operation != "queryAll" {
        return Err(Failure::bad(
            "InvalidJob",
            format!("Unsupported operation for this simulator: {operation}"),
        ));
    }
    let object = {
        let org = ctx.org.data.read().expect("org");
        let table = org.table(&field("object")).map_err(|_| {
            Failure::bad(
                "InvalidJob",
                format!("Unable to find object: {}", field("object")),
            )
        })?;
        table.def.name.clone()
    };
    let content = field("contentType");
    let json_job = match content.as_str() {
        "" | "CSV" | "XML" => false,
        "JSON" => true,
        other => {
            return Err(Failure::bad(
                "InvalidJob",
                format!("Unsupported content type: {other}"),
            ));
        }
    };
    let mut jobs = ctx.sim.classic_jobs.lock().expect("jobs");
    jobs.next += 1;
    let id = format!("750{}{:012}", &ctx.org.info.org_id[3..6], jobs.next);
    let job = ClassicJob {
        id: id.clone(),
        org_id: ctx.org.info.org_id.clone(),
        operation,
        object,
        json: json_job,
        state: "Open",
        created: ctx.now,
        chunk: ctx.chunk,
        batches: Vec::new(),
    };
    let reply = job_reply(&job, ctx, ctx.json).with_status(StatusCode::CREATED);
    jobs.jobs.insert(id, job);
    Ok(reply)
}

/// `POST /job/{id}` with a state: Closed or Aborted.
fn update_job(ctx: &Ctx<'_>, id: &str, body: &[u8]) -> Outcome {
    let fields = request_fields(body, ctx.json)?;
    let state = match fields.get("state").map(String::as_str) {
        Some("Closed") => "Closed",
        Some("Aborted") => "Aborted",
        other => {
            return Err(Failure::bad(
                "InvalidJobState",
                format!("Invalid state: {}", other.unwrap_or("")),
            ));
        }
    };
    with_job(ctx, id, |job, ctx| {
        job.state = state;
        Ok(job_reply(job, ctx, ctx.json))
    })
}

fn job_reply(job: &ClassicJob, ctx: &Ctx<'_>, json: bool) -> Reply {
    let count = |state: &str| job.batches.iter().filter(|b| b.state == state).count();
    let processed: usize = job.batches.iter().map(|b| b.rows.len()).sum();
    let fields = vec![
        ("id", json!(job.id)),
        ("operation", json!(job.operation)),
        ("object", json!(job.object)),
        ("createdById", json!(ctx.org.info.user_id)),
        ("createdDate", json!(stamp(job.created, json))),
        ("systemModstamp", json!(stamp(job.created, json))),
        ("state", json!(job.state)),
        ("concurrencyMode", json!("Parallel")),
        ("contentType", json!(if job.json { "JSON" } else { "CSV" })),
        ("numberBatchesQueued", json!(count("Queued"))),
        ("numberBatchesInProgress", json!(0)),
        ("numberBatchesCompleted", json!(count("Completed"))),
        ("numberBatchesFailed", json!(count("Failed"))),
        ("numberBatchesTotal", json!(job.batches.len())),
        ("numberRecordsProcessed", json!(processed)),
        ("numberRetries", json!(0)),
        (
            "apiVersion",
            json!(ctx.version.parse::<f64>().unwrap_or(0.0)),
        ),
        ("numberRecordsFailed", json!(0)),
        ("totalProcessingTime", json!(0)),
        ("apiActiveProcessingTime", json!(0)),
        ("apexProcessingTime", json!(0)),
    ];
    render("jobInfo", &fields, json)
}

fn with_job(
    ctx: &Ctx<'_>,
    id: &str,
    f: impl FnOnce(&mut ClassicJob, &Ctx<'_>) -> Outcome,
) -> Outcome {
    let mut jobs = ctx.sim.classic_jobs.lock().expect("jobs");
    let job = jobs
        .jobs
        .get_mut(id)
        .filter(|j| j.org_id == ctx.org.info.org_id)
        .ok_or_else(|| Failure::bad("InvalidJob", format!("Invalid job id: {id}")))?;
    f(job, ctx)
}

/// Whether the job a path names is a JSON job, for the format of an error about it.
fn job_json(ctx: &Ctx<'_>, parts: &[&str]) -> Option<bool> {
    let jobs = ctx.sim.classic_jobs.lock().expect("jobs");
    parts
        .get(1)
        .and_then(|id| jobs.jobs.get(*id))
        .map(|j| j.json)
}

// ---- batches --------------------------------------------------------------------------

/// `POST /job/{id}/batch` with the SOQL as the body.
fn add_batch(ctx: &Ctx<'_>, id: &str, body: &[u8]) -> Outcome {
    let soql = String::from_utf8_lossy(body).trim().to_string();
    with_job(ctx, id, |job, ctx| {
        if job.state != "Open" {
            return Err(Failure::bad(
                "InvalidJobState",
                format!("Job state is {}: no batches may be added", job.state),
            ));
        }
        let first = job.batches.len();
        let batches = run_batch(ctx, job, &soql);
        job.batches.extend(batches);
        Ok(batch_reply(job, &job.batches[first], job.json).with_status(StatusCode::CREATED))
    })
}

/// The batches one SOQL statement makes: one, or with PK chunking the statement's own
/// (NotProcessed) and one per chunk of Ids.
fn run_batch(ctx: &Ctx<'_>, job: &ClassicJob, soql: &str) -> Vec<Batch> {
    let mut index = job.batches.len();
    let mut batch = |state, message: Option<String>, query: Option<Arc<BoundQuery>>, rows| {
        index += 1;
        new_batch(job, index - 1, state, message, query, rows)
    };
    let path = format!("/services/async/{}/job/{}/batch", ctx.version, job.id);
    let timed_out = ctx
        .org
        .take_fault(&path, |kind| kind == FaultKind::QueryTimeout);
    let org = ctx.org.data.read().expect("org");
    let selected = match timed_out {
        // What tap-salesforce answers with a retry through PK chunking.
        Some(_) => Err("QUERY_TIMEOUT : Your query request was running for too long.".to_string()),
        None => select(&org, job, soql, ctx.now),
    };
    let (query, mut rows) = match selected {
        Ok(found) => found,
        Err(message) => {
            return vec![batch(
                "Failed",
                Some(format!("InvalidBatch : Failed to process query: {message}")),
                None,
                Vec::new(),
            )];
        }
    };
    let query = Arc::new(query);
    let Some(chunk) = job.chunk else {
        return vec![batch("Queued", None, Some(query), rows)];
    };
    rows.sort_by_key(|r| r.id);
    let mut out = vec![batch("NotProcessed", None, None, Vec::new())];
    for part in rows.chunks(chunk) {
        out.push(batch("Queued", None, Some(query.clone()), part.to_vec()));
    }
    out
}

/// The rows of a batch's SOQL, or why the batch fails.
fn select(
    org: &crate::org::OrgData,
    job: &ClassicJob,
    soql: &str,
    now: i64,
) -> Result<(BoundQuery, Vec<Arc<Record>>), String> {
    let reason = |e: crate::error::SimError| format!("{} : {}", e.code, e.message);
    let (query, rows) =
        crate::query::select_rows(org, soql, job.operation == "queryAll", now).map_err(reason)?;
    crate::bulk::check_bulk_shape(&query).map_err(reason)?;
    if query.object != job.object {
        let message = format!("the query reads {}, the job {}", query.object, job.object);
        return Err(format!("InvalidBatch : {message}"));
    }
    Ok((query, rows))
}

/// The `index`th batch of `job` (from 0).
fn new_batch(
    job: &ClassicJob,
    index: usize,
    state: &'static str,
    message: Option<String>,
    query: Option<Arc<BoundQuery>>,
    rows: Vec<Arc<Record>>,
) -> Batch {
    let number = job_number(job) % 1_000_000;
    Batch {
        id: format!("751{}{number:06}{:06}", &job.id[3..6], index + 1),
        state,
        message,
        query,
        rows,
    }
}

/// The job's counter, from its id.
fn job_number(job: &ClassicJob) -> usize {
    job.id[6..].parse().unwrap_or(0)
}

fn with_batch(
    ctx: &Ctx<'_>,
    job_id: &str,
    batch_id: &str,
    f: impl FnOnce(&ClassicJob, &Batch, &Ctx<'_>) -> Outcome,
) -> Outcome {
    with_job(ctx, job_id, |job, ctx| {
        let index = job
            .batches
            .iter()
            .position(|b| b.id == batch_id)
            .ok_or_else(|| Failure::bad("InvalidBatch", format!("Invalid batch id: {batch_id}")))?;
        job.batches[index].look();
        f(job, &job.batches[index], ctx)
    })
}

fn batch_status(job: &ClassicJob, batch: &Batch, _: &Ctx<'_>) -> Outcome {
    Ok(batch_reply(job, batch, job.json))
}

/// `GET /job/{id}/batch`: every batch's information.
fn list_batches(job: &mut ClassicJob, _: &Ctx<'_>) -> Outcome {
    job.batches.iter_mut().for_each(Batch::look);
    let infos: Vec<Vec<(&str, Json)>> = job
        .batches
        .iter()
        .map(|b| batch_fields(job, b, job.json))
        .collect();
    if job.json {
        let list: Vec<Json> = infos.iter().map(|f| object_of(f)).collect();
        return Ok(Reply::json(&json!({ "batchInfo": list })));
    }
    let mut xml = xml_head("batchInfoList");
    for fields in &infos {
        xml.push_str("<batchInfo>");
        push_xml_fields(&mut xml, fields);
        xml.push_str("</batchInfo>");
    }
    xml.push_str("</batchInfoList>");
    Ok(xml_reply(xml))
}

fn batch_reply(job: &ClassicJob, batch: &Batch, json: bool) -> Reply {
    render("batchInfo", &batch_fields(job, batch, json), json)
}

fn batch_fields(job: &ClassicJob, batch: &Batch, json: bool) -> Vec<(&'static str, Json)> {
    let processed = if batch.state == "Completed" {
        batch.rows.len()
    } else {
        0
    };
    let mut fields = vec![
        ("id", json!(batch.id)),
        ("jobId", json!(job.id)),
        ("state", json!(batch.state)),
    ];
    if let Some(message) = &batch.message {
        fields.push(("stateMessage", json!(message)));
    }
    fields.extend([
        ("createdDate", json!(stamp(job.created, json))),
        ("systemModstamp", json!(stamp(job.created, json))),
        ("numberRecordsProcessed", json!(processed)),
        ("numberRecordsFailed", json!(0)),
        ("totalProcessingTime", json!(0)),
        ("apiActiveProcessingTime", json!(0)),
        ("apexProcessingTime", json!(0)),
    ]);
    fields
}

/// `GET .../batch/{id}/result`: the batch's one result.
fn result_list(job: &ClassicJob, batch: &Batch, _: &Ctx<'_>) -> Outcome {
    check_completed(batch)?;
    let result = result_id(batch);
    if job.json {
        return Ok(Reply::json(&json!([result])));
    }
    let mut xml = xml_head("result-list");
    xml.push_str(&format!("<result>{result}</result></result-list>"));
    Ok(xml_reply(xml))
}

/// `GET .../batch/{id}/result/{result}`: the records, as CSV or as a JSON array.
fn result(job: &ClassicJob, batch: &Batch, ctx: &Ctx<'_>) -> Outcome {
    check_completed(batch)?;
    let query = batch
        .query
        .as_ref()
        .expect("a completed batch has its query");
    let org = ctx.org.data.read().expect("org");
    if job.json {
        let version = format!("v{}", ctx.version);
        let body = crate::query::records_json(&org, query, &batch.rows, ctx.now, &version);
        return Ok(Reply::json_bytes(body));
    }
    let table = org
        .table(&job.object)
        .map_err(|_| Failure::bad("InvalidJob", "the job's object is gone"))?;
    let csv = crate::bulk::write_csv(query, (',', "\n"), &batch.rows, |record| {
        RecordRow::new(&org, table, record, ctx.now)
    });
    // Bulk API 1.0 names the charset, unlike 2.0's bare text/csv: tap-salesforce decodes
    // results by it, and its users' non-ASCII values arrive intact.
    Ok(Reply {
        status: StatusCode::OK,
        headers: vec![("content-type", "text/csv; charset=UTF-8".into())],
        body: csv.into_bytes(),
    })
}

fn check_completed(batch: &Batch) -> Result<(), Failure> {
    match batch.state {
        "Completed" => Ok(()),
        state => Err(Failure::bad(
            "InvalidBatch",
            format!("Batch not completed: its state is {state}"),
        )),
    }
}

fn result_id(batch: &Batch) -> String {
    format!("752{}", &batch.id[3..])
}

// ---- formats --------------------------------------------------------------------------

/// A request body's top-level fields, from JSON or from a flat XML element.
fn request_fields(body: &[u8], json: bool) -> Result<HashMap<String, String>, Failure> {
    let text = String::from_utf8_lossy(body);
    if json {
        let parsed: Map<String, Json> = serde_json::from_str(&text).map_err(|e| {
            Failure::bad("InvalidJob", format!("Unable to parse the JSON body: {e}"))
        })?;
        return Ok(parsed
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), String::from)))
            .collect());
    }
    let mut fields = HashMap::new();
    for name in [
        "operation",
        "object",
        "contentType",
        "state",
        "concurrencyMode",
    ] {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        if let Some(start) = text.find(&open) {
            let rest = &text[start + open.len()..];
            if let Some(end) = rest.find(&close) {
                fields.insert(name.to_string(), rest[..end].trim().to_string());
            }
        }
    }
    Ok(fields)
}

/// JSON date-times are written `+0000`, XML ones `Z`, as Salesforce writes each.
fn stamp(ms: i64, json: bool) -> String {
    // SOQL's form ends in +0000.
    let text = sfsync_soql::format_datetime(ms - ms.rem_euclid(1000));
    if json {
        text
    } else {
        text.replace("+0000", "Z")
    }
}

fn render(root: &str, fields: &[(&str, Json)], json: bool) -> Reply {
    if json {
        return Reply::json(&object_of(fields));
    }
    let mut xml = xml_head(root);
    push_xml_fields(&mut xml, fields);
    xml.push_str(&format!("</{root}>"));
    xml_reply(xml)
}

fn object_of(fields: &[(&str, Json)]) -> Json {
    Json::Object(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_string(), v.clone()))
            .collect(),
    )
}

fn xml_head(root: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><{root} xmlns=\"{NAMESPACE}\">")
}

fn push_xml_fields(xml: &mut String, fields: &[(&str, Json)]) {
    for (name, value) in fields {
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), String::from);
        xml.push_str(&format!("<{name}>{}</{name}>", escape_xml(&text)));
    }
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn xml_reply(xml: String) -> Reply {
    Reply {
        status: StatusCode::OK,
        headers: vec![("content-type", "application/xml".into())],
        body: xml.into_bytes(),
    }
}

fn failure_reply(failure: &Failure, json: bool) -> Reply {
    let fields = [
        ("exceptionCode", json!(failure.code)),
        ("exceptionMessage", json!(failure.message)),
    ];
    render("error", &fields, json).with_status(failure.status)
}
