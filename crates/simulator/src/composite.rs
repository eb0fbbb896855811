//! `/composite` (one API call for up to 25 subrequests, later ones able to reference earlier
//! results with `@{ref.path}`) and `/composite/batch` (each subrequest counted).

use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{Value as Json, json};

use crate::error::SimError;
use crate::reply::Reply;
use crate::rest::{Call, route};

const MAX_SUBREQUESTS: usize = 25;

/// `POST /composite`.
pub fn composite(call: &Call<'_>) -> Result<Reply, SimError> {
    let body: Json = parse_body(call.body)?;
    let requests = body["compositeRequest"]
        .as_array()
        .ok_or_else(|| json_error("compositeRequest"))?;
    check_count(requests.len())?;
    let all_or_none = body["allOrNone"].as_bool().unwrap_or(false);
    let writes = requests.iter().any(|sub| sub["method"] != "GET");
    let results = crate::sobject::all_or_none_writes(
        call,
        all_or_none && writes,
        || run_all(call, requests),
        |results| {
            results
                .as_ref()
                .map_or(true, |r| r.iter().any(|(_, r)| !r.status.is_success()))
        },
    )?;
    let failed = results.iter().any(|(_, r)| !r.status.is_success());
    let responses: Vec<Json> = results
        .into_iter()
        .map(|(reference, reply)| {
            let (status, body) = if all_or_none && failed && reply.status.is_success() {
                (400, json!([{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since another operation in the same transaction failed."}]))
            } else {
                (reply.status.as_u16(), reply.body_json())
            };
            json!({"body": body, "httpHeaders": {}, "httpStatusCode": status, "referenceId": reference})
        })
        .collect();
    Ok(Reply::json(&json!({ "compositeResponse": responses })))
}

/// Runs the subrequests in order, each able to reference the results before it.
fn run_all(call: &Call<'_>, requests: &[Json]) -> Result<Vec<(String, Reply)>, SimError> {
    let mut results: Vec<(String, Reply)> = Vec::new();
    for sub in requests {
        let reference = sub["referenceId"]
            .as_str()
            .ok_or_else(|| json_error("referenceId"))?
            .to_string();
        let url = substitute(
            sub["url"].as_str().ok_or_else(|| json_error("url"))?,
            &results,
        );
        let method = sub["method"].as_str().unwrap_or("GET");
        let reply = run_sub(call, method, &url, &substitute_in(&sub["body"], &results));
        results.push((reference, reply));
    }
    Ok(results)
}

/// `POST /composite/batch`.
pub fn batch(call: &Call<'_>) -> Result<Reply, SimError> {
    let body: Json = parse_body(call.body)?;
    let requests = body["batchRequests"]
        .as_array()
        .ok_or_else(|| json_error("batchRequests"))?;
    check_count(requests.len())?;
    let halt = body["haltOnError"].as_bool().unwrap_or(false);
    let mut results = Vec::new();
    let mut halted = false;
    for sub in requests {
        if halted {
            results.push(json!({"statusCode": 412, "result": [{"errorCode": "BATCH_PROCESSING_HALTED", "message": "Batch processing halted per request"}]}));
            continue;
        }
        let url = sub["url"].as_str().ok_or_else(|| json_error("url"))?;
        let url = if url.starts_with("/services/data/") {
            url.to_string()
        } else {
            format!(
                "/services/data/{}/{}",
                call.version,
                url.trim_start_matches('/')
            )
        };
        let reply = run_sub(
            call,
            sub["method"].as_str().unwrap_or("GET"),
            &url,
            &sub["richInput"],
        );
        halted = halt && !reply.status.is_success();
        results.push(json!({"statusCode": reply.status.as_u16(), "result": reply.body_json()}));
    }
    let has_errors = results
        .iter()
        .any(|r| r["statusCode"].as_u64().is_some_and(|s| s >= 400));
    Ok(Reply::json(
        &json!({"hasErrors": has_errors, "results": results}),
    ))
}

fn check_count(n: usize) -> Result<(), SimError> {
    if n == 0 || n > MAX_SUBREQUESTS {
        return Err(SimError::bad_request(
            "INVALID_BATCH_REQUEST",
            &format!(
                "A composite request must contain between 1 and {MAX_SUBREQUESTS} subrequests."
            ),
        ));
    }
    Ok(())
}

fn parse_body(body: &[u8]) -> Result<Json, SimError> {
    serde_json::from_slice(body).map_err(|e| {
        SimError::bad_request(
            "JSON_PARSER_ERROR",
            &format!("Unexpected character in request body: {e}"),
        )
    })
}

fn json_error(key: &str) -> SimError {
    SimError::bad_request(
        "JSON_PARSER_ERROR",
        &format!("missing or invalid '{key}' in request body"),
    )
}

/// Runs one subrequest through the same router, without counting it again.
fn run_sub(call: &Call<'_>, method: &str, url: &str, body: &Json) -> Reply {
    let Some(rest) = url.strip_prefix("/services/data/") else {
        return Reply::from(SimError::not_found());
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let Some((version, path)) = path.split_once('/') else {
        return Reply::from(SimError::not_found());
    };
    let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
    let body = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(body).unwrap_or_default()
    };
    let headers = HeaderMap::new();
    let sub = Call {
        sim: call.sim,
        org: call.org,
        version,
        method: &method,
        path,
        query,
        headers: &headers,
        body: &body,
        now: call.now,
    };
    if matches!(path.split('/').next(), Some("composite")) {
        return Reply::from(SimError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_BATCH_REQUEST",
            "composite requests cannot be nested",
        ));
    }
    route(&sub).unwrap_or_else(Reply::from)
}

/// Replaces `@{referenceId.path.to[0].value}` with values from earlier results.
fn substitute(url: &str, results: &[(String, Reply)]) -> String {
    let mut out = String::new();
    let mut rest = url;
    while let Some(start) = rest.find("@{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let expr = &rest[start + 2..start + end];
        out.push_str(&resolve(expr, results).unwrap_or_default());
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

/// The same substitution in every string of a subrequest's body, where a new record's
/// `@{ref.id}` most often goes.
fn substitute_in(body: &Json, results: &[(String, Reply)]) -> Json {
    match body {
        Json::String(text) if text.contains("@{") => Json::String(substitute(text, results)),
        Json::Array(items) => {
            Json::Array(items.iter().map(|v| substitute_in(v, results)).collect())
        }
        Json::Object(map) => Json::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), substitute_in(v, results)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn resolve(expr: &str, results: &[(String, Reply)]) -> Option<String> {
    let mut parts = expr.split('.');
    let reference = parts.next()?;
    let (_, reply) = results.iter().find(|(r, _)| r == reference)?;
    let mut value = reply.body_json();
    for part in parts {
        let (key, index) = match part.split_once('[') {
            Some((key, index)) => (key, index.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        value = value.get(key)?.clone();
        if let Some(i) = index {
            value = value.get(i)?.clone();
        }
    }
    Some(match value {
        Json::String(s) => s,
        other => other.to_string(),
    })
}
