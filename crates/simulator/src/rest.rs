//! The REST API under `/services/data`: authentication, the daily allocation, injected
//! faults, and routing to the resources.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value as Json, json};

use crate::clock::Millis;
use crate::error::SimError;
use crate::ids::{id_str, parse_id};
use crate::query::{QueryRequest, batch_size};
use crate::reply::Reply;
use crate::state::{FaultKind, Org, SimState};

/// The newest API version the simulator serves, and the oldest that is not retired.
pub const LATEST_VERSION: (u32, u32) = (66, 0);
const OLDEST_VERSION: u32 = 31;

/// What one REST call is: the org it acts in, the version, method, path and inputs.
pub struct Call<'a> {
    pub sim: &'a SimState,
    pub org: &'a Arc<Org>,
    pub version: &'a str,
    pub method: &'a Method,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub now: Millis,
}

/// `GET /services/data/`: the versions list. Not counted, no session needed.
pub async fn versions(State(sim): State<Arc<SimState>>) -> Response {
    let _ = sim;
    let list: Vec<Json> = (OLDEST_VERSION..=LATEST_VERSION.0)
        .map(|v| json!({"label": release_label(v), "url": format!("/services/data/v{v}.0"), "version": format!("{v}.0")}))
        .collect();
    Reply::json(&Json::Array(list)).into_response()
}

fn release_label(version: u32) -> String {
    // Three releases a year; v20.0 was Winter '11.
    let offset = version.saturating_sub(20);
    let season = ["Winter", "Spring", "Summer"][(offset % 3) as usize];
    format!("{season} '{:02}", (11 + offset / 3) % 100)
}

/// Every other `/services/data/...` request.
pub async fn data_api(
    State(sim): State<Arc<SimState>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(reply) = check_request_size(&uri, &headers) {
        return reply.into_response();
    }
    let path = uri.path().trim_start_matches("/services/data/");
    let query = uri.query().unwrap_or("");
    let reply = match handle(&sim, &method, path, query, &headers, &body).await {
        Ok(reply) | Err(reply) => reply,
    };
    reply.into_response()
}

async fn handle(
    sim: &SimState,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Reply, Reply> {
    let (version, rest) = path.split_once('/').unwrap_or((path, ""));
    check_version(version)?;
    let now = sim.clock.now_ms();
    let org = crate::oauth::authenticate(sim, headers, now)?;
    let fault = take_transport_fault(&org, &fault_target(path, query));
    if let Some(delay) = fault
        .as_ref()
        .filter(|f| f.kind == FaultKind::Slow)
        .map(|f| f.delay_ms)
    {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    if let Some(reply) = fault.as_ref().and_then(|f| fault_reply(f.kind)) {
        return Err(reply);
    }
    let calls = counted_calls(method, rest, body);
    let (used, limit) = org.api_usage(now);
    if calls > 0 && used + calls > limit {
        return Err(Reply::from(SimError::new(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        )));
    }
    let call = Call {
        sim,
        org: &org,
        version,
        method,
        path: rest,
        query,
        headers,
        body,
        now,
    };
    let mut reply = route(&call).unwrap_or_else(Reply::from);
    finish(
        &org,
        &mut reply,
        rest,
        calls,
        now,
        fault.is_some_and(|f| f.kind == FaultKind::MalformedBody),
    );
    Ok(reply)
}

/// Salesforce caps the URI plus headers at 16,384 bytes: 414 for a URI over it alone,
/// 431 when the headers push the total over (REST API guide, "Status Codes").
fn check_request_size(uri: &axum::http::Uri, headers: &HeaderMap) -> Result<(), Reply> {
    const LIMIT: usize = 16_384;
    let uri_len = uri.to_string().len();
    let header_len: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    let refuse = |status: StatusCode, text: &str| {
        Err(Reply {
            status,
            headers: vec![("content-type", "text/plain".into())],
            body: text.as_bytes().to_vec(),
        })
    };
    if uri_len > LIMIT {
        return refuse(StatusCode::URI_TOO_LONG, "URI Too Long");
    }
    if uri_len + header_len > LIMIT {
        return refuse(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "Request Header Fields Too Large",
        );
    }
    Ok(())
}

fn check_version(version: &str) -> Result<(), Reply> {
    let number = version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .and_then(|(major, minor)| Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?)));
    match number {
        Some((major, 0)) if (OLDEST_VERSION..=LATEST_VERSION.0).contains(&major) => Ok(()),
        Some((major, _)) if major < OLDEST_VERSION => Err(Reply::from(SimError::new(
            StatusCode::GONE,
            "GONE",
            "The requested resource has been retired: this API version is no longer supported.",
        ))),
        _ => Err(Reply::from(SimError::not_found())),
    }
}

/// What a fault's `path` is matched against: the request's path, then its query string
/// decoded, so that a fault can aim at one SOQL statement (`SELECT COUNT()`).
fn fault_target(path: &str, query: &str) -> String {
    let decoded: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!("/services/data/{path}?{}", decoded.join("&"))
}

/// Faults that replace the whole response, before any work.
fn take_transport_fault(org: &Org, path: &str) -> Option<crate::state::Fault> {
    org.take_fault(path, |kind| {
        matches!(
            kind,
            FaultKind::Unavailable
                | FaultKind::RequestLimit
                | FaultKind::InvalidSessionRest
                | FaultKind::Slow
                | FaultKind::MalformedBody
                | FaultKind::NotFound
                | FaultKind::MalformedQuery
        )
    })
}

fn fault_reply(kind: FaultKind) -> Option<Reply> {
    let error = match kind {
        FaultKind::Unavailable => SimError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVER_UNAVAILABLE",
            "Server temporarily unavailable. Please try again later.",
        ),
        FaultKind::RequestLimit => SimError::new(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        ),
        FaultKind::InvalidSessionRest => SimError::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "This session is not valid for use with the REST API",
        ),
        FaultKind::NotFound => SimError::not_found(),
        FaultKind::MalformedQuery => SimError::bad_request(
            "MALFORMED_QUERY",
            "The statement is not supported by this server.",
        ),
        _ => return None,
    };
    Some(Reply::from(error))
}

/// How many calls a request costs: one, except `/composite/batch` (one per subrequest);
/// `/composite` is one call for all its subrequests (REST API guide, "Composite").
fn counted_calls(method: &Method, rest: &str, body: &[u8]) -> u64 {
    if method == Method::POST && rest.trim_end_matches('/') == "composite/batch" {
        let parsed: Json = serde_json::from_slice(body).unwrap_or(Json::Null);
        return parsed["batchRequests"]
            .as_array()
            .map_or(1, |a| a.len().max(1) as u64);
    }
    1
}

/// Counts a served call and stamps the reply with the org's usage (`Sforce-Limit-Info`).
pub(crate) fn finish(
    org: &Org,
    reply: &mut Reply,
    rest: &str,
    calls: u64,
    now: Millis,
    malformed: bool,
) {
    let endpoint = endpoint_name(rest);
    let counted = calls > 0 && reply.status != StatusCode::FORBIDDEN;
    let mut usage = org.usage.lock().expect("usage lock");
    if counted {
        usage.count(now, &endpoint, calls);
    }
    if malformed {
        // Cut the body mid-way, as a dropped connection or a broken proxy would.
        let cut = reply.body.len() / 2;
        reply.body.truncate(cut.max(1));
    }
    usage.bytes_served += reply.body.len() as u64;
    let used = usage.used(now);
    drop(usage);
    let limit = org.settings.lock().expect("settings lock").api_daily_limit;
    reply
        .headers
        .push(("sforce-limit-info", format!("api-usage={used}/{limit}")));
}

/// A label for the counters: the resource without ids or locators.
fn endpoint_name(rest: &str) -> String {
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match parts.as_slice() {
        ["sobjects"] => "describeGlobal".into(),
        ["sobjects", _, "describe"] => "describe".into(),
        ["sobjects", _, "updated"] => "updated".into(),
        ["sobjects", _, "deleted"] => "deleted".into(),
        ["sobjects", ..] => "sobject".into(),
        ["query", _] | ["queryAll", _] => "queryMore".into(),
        [first, ..] if first.starts_with("query") => (*first).to_string(),
        ["jobs", ..] => "bulk".into(),
        [first, ..] => (*first).to_string(),
        [] => String::new(),
    }
}

/// Dispatches one call to its resource. Also used for `/composite` subrequests.
pub fn route(call: &Call<'_>) -> Result<Reply, SimError> {
    let parts: Vec<&str> = call.path.trim_end_matches('/').split('/').collect();
    let get = call.method == Method::GET;
    match (parts.as_slice(), call.method.as_str()) {
        (["sobjects"], "GET") => describe_global(call),
        (["sobjects", object, "describe"], "GET") => describe(call, object),
        (["sobjects", object, "updated"], "GET") => crate::replication::updated(call, object),
        (["sobjects", object, "deleted"], "GET") => crate::replication::deleted(call, object),
        (["sobjects", object], "GET") => crate::sobject::basic_info(call, object),
        (["sobjects", object], "POST") => crate::sobject::create(call, object),
        (["sobjects", object, id], "GET") => retrieve(call, object, id),
        (["sobjects", object, id], "PATCH") => crate::sobject::update(call, object, id),
        (["sobjects", object, id], "DELETE") => crate::sobject::delete(call, object, id),
        (["query"], "GET") | (["queryAll"], "GET") => query(call, parts[0] == "queryAll"),
        (["query", locator], "GET") | (["queryAll", locator], "GET") => query_more(call, locator),
        (["limits"], "GET") => Ok(limits(call)),
        (["composite"], "POST") => crate::composite::composite(call),
        (["composite", "batch"], "POST") => crate::composite::batch(call),
        (["composite", "sobjects"], "POST") => crate::collections::create(call),
        (["composite", "sobjects"], "PATCH") => crate::collections::update(call),
        (["composite", "sobjects"], "DELETE") => crate::collections::delete(call),
        (["composite", "sobjects", object], "GET" | "POST") => {
            crate::collections::retrieve(call, object)
        }
        (["jobs", "query", ..], _) => crate::bulk::route(call, &parts[2..]),
        _ if get => Err(SimError::not_found()),
        _ => Err(SimError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            &format!("HTTP Method '{}' not allowed. Allowed are GET", call.method),
        )),
    }
}

/// describeGlobal answers 304 when no object's describe changed since If-Modified-Since,
/// as sObject describe does.
fn describe_global(call: &Call<'_>) -> Result<Reply, SimError> {
    let org = call.org.data.read().expect("org");
    let modified_at = org
        .tables
        .iter()
        .map(|t| t.def.modified_at)
        .max()
        .unwrap_or(0);
    if unmodified_since(call, modified_at) {
        return Ok(Reply::empty(StatusCode::NOT_MODIFIED));
    }
    Ok(Reply::json(&crate::describe::describe_global(
        &org,
        call.version,
    )))
}

fn describe(call: &Call<'_>, object: &str) -> Result<Reply, SimError> {
    let org = call.org.data.read().expect("org");
    let table = org.table(object).map_err(|_| SimError::not_found())?;
    if unmodified_since(call, table.def.modified_at) {
        return Ok(Reply::empty(StatusCode::NOT_MODIFIED));
    }
    Ok(Reply::json(&crate::describe::describe_object(
        &org,
        table,
        call.version,
    )))
}

/// Whether the request's If-Modified-Since is at or after `modified_at`. HTTP dates have
/// whole seconds: compare at that precision.
fn unmodified_since(call: &Call<'_>, modified_at: Millis) -> bool {
    call.headers
        .get("if-modified-since")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_http_date)
        .is_some_and(|since| modified_at / 1000 <= since / 1000)
}

/// Writes milliseconds as an RFC 7231 date, as in `Date` and `Last-Modified`.
pub fn http_date(ms: Millis) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&format).unwrap_or_default()
}

/// Reads an RFC 7231 date (`Tue, 03 Dec 2026 10:00:00 GMT`) into milliseconds.
pub fn parse_http_date(text: &str) -> Option<Millis> {
    let format = time::format_description::well_known::Rfc2822;
    let parsed = time::OffsetDateTime::parse(&text.replace("GMT", "+0000"), &format).ok()?;
    Some((parsed.unix_timestamp_nanos() / 1_000_000) as Millis)
}

fn retrieve(call: &Call<'_>, object: &str, id: &str) -> Result<Reply, SimError> {
    let key = parse_id(id).ok_or_else(SimError::not_found)?;
    let fields: Vec<String> = match form_param(call.query, "fields") {
        Some(list) => list.split(',').map(|s| s.trim().to_string()).collect(),
        None => {
            let org = call.org.data.read().expect("org");
            let table = org.table(object).map_err(|_| SimError::not_found())?;
            let readable = table.def.fields.iter().filter(|f| f.is_readable());
            readable.map(|f| f.name.clone()).collect()
        }
    };
    match fetch_record(call, object, &key, &fields)? {
        Some(record) => Ok(Reply::json(&record)),
        None => Err(SimError::not_found()),
    }
}

/// One live record's `fields` as a query returns it, or `None` where there is none the
/// user may see.
pub(crate) fn fetch_record(
    call: &Call<'_>,
    object: &str,
    key: &crate::ids::IdBytes,
    fields: &[String],
) -> Result<Option<Json>, SimError> {
    let org = call.org.data.read().expect("org");
    let table = org.table(object).map_err(|_| SimError::not_found())?;
    let soql = format!(
        "SELECT {} FROM {} WHERE Id = '{}'",
        fields.join(","),
        table.def.name,
        id_str(key)
    );
    let request = QueryRequest {
        soql: &soql,
        all_rows: false,
        batch: 1,
        version: call.version,
        now: call.now,
    };
    let org_id = &call.org.info.org_id;
    let page = crate::query::start_query(org_id, &org, &mut Default::default(), &request)?;
    Ok(page.body_json()["records"].get_mut(0).map(Json::take))
}

fn query(call: &Call<'_>, all_rows: bool) -> Result<Reply, SimError> {
    let soql = form_param(call.query, "q")
        .ok_or_else(|| SimError::bad_request("MALFORMED_QUERY", "Missing query parameter q"))?;
    take_query_fault(call)?;
    let request = query_request(call, &soql, all_rows);
    let org = call.org.data.read().expect("org");
    let mut cursors = call.sim.cursors.lock().expect("cursors");
    crate::query::start_query(&call.org.info.org_id, &org, &mut cursors, &request)
}

fn query_more(call: &Call<'_>, locator: &str) -> Result<Reply, SimError> {
    take_query_fault(call)?;
    let request = query_request(call, "", false);
    let org = call.org.data.read().expect("org");
    let mut cursors = call.sim.cursors.lock().expect("cursors");
    crate::query::next_page(&call.org.info.org_id, &org, &mut cursors, locator, &request)
}

fn query_request<'a>(call: &Call<'a>, soql: &'a str, all_rows: bool) -> QueryRequest<'a> {
    let header = call
        .headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok());
    QueryRequest {
        soql,
        all_rows,
        batch: batch_size(header),
        version: call.version,
        now: call.now,
    }
}

fn take_query_fault(call: &Call<'_>) -> Result<(), SimError> {
    let path = format!("/services/data/{}/{}", call.version, call.path);
    let is_more = call.path.contains("query/") || call.path.contains("queryAll/");
    let fault = call.org.take_fault(&path, |kind| match kind {
        FaultKind::QueryTimeout => true,
        FaultKind::InvalidQueryLocator => is_more,
        _ => false,
    });
    match fault.map(|f| f.kind) {
        Some(FaultKind::QueryTimeout) => Err(SimError::bad_request(
            "QUERY_TIMEOUT",
            "Your query request was running for too long.",
        )),
        Some(FaultKind::InvalidQueryLocator) => Err(SimError::bad_request(
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        )),
        _ => Ok(()),
    }
}

/// `GET /limits/`.
fn limits(call: &Call<'_>) -> Reply {
    let (used, max) = call.org.api_usage(call.now);
    let jobs = call
        .sim
        .jobs
        .lock()
        .expect("jobs")
        .count_for(&call.org.info.org_id);
    let jobs_max = call
        .org
        .settings
        .lock()
        .expect("settings")
        .bulk_query_jobs_daily_limit;
    let pair = |max: u64, remaining: u64| json!({"Max": max, "Remaining": remaining});
    Reply::json(&json!({
        "ConcurrentAsyncGetReportInstances": pair(200, 200),
        "ConcurrentSyncReportRuns": pair(20, 20),
        "DailyApiRequests": pair(max, max.saturating_sub(used + 1)),
        "DailyAsyncApexExecutions": pair(250_000, 250_000),
        "DailyBulkApiBatches": pair(15_000, 15_000),
        "DailyBulkV2QueryFileStorageMB": pair(976_562, 976_562),
        "DailyBulkV2QueryJobs": pair(jobs_max, jobs_max.saturating_sub(jobs)),
        "DataStorageMB": pair(1024, 1000),
        "FileStorageMB": pair(10_240, 10_200),
        "HourlyODataCallout": pair(20_000, 20_000),
        "SingleEmail": pair(5_000, 5_000),
    }))
}

/// The first value of `name` in a URL-encoded query string.
pub fn form_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
