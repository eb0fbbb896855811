//! Bulk API 1.0 query jobs, as tap-salesforce (CSV, XML batch information, PK chunking) and
//! simple-salesforce's `bulk` (JSON) drive them.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Org, small};

const XML: &str = "application/xml";

/// A Bulk API 1.0 call with the session in `X-SFDC-Session`: status and body text.
async fn call(
    org: &Org,
    method: Method,
    path: &str,
    content_type: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    let mut request = org
        .http
        .request(method, org.url(&format!("/services/async/62.0/{path}")))
        .header("X-SFDC-Session", &org.token)
        .header("Content-Type", content_type)
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The text of the first `<tag>` in an XML document.
fn tag<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{name}> in {xml}"))
        + open.len();
    &xml[start..start + xml[start..].find('<').unwrap()]
}

/// A completed batch's one result: its result list, then the result it names.
async fn read_result(org: &Org, job: &str, batch: &str) -> (u16, String) {
    let path = format!("job/{job}/batch/{batch}/result");
    let (_, list) = call(org, Method::GET, &path, XML, "", &[]).await;
    let result = tag(&list, "result").to_string();
    call(org, Method::GET, &format!("{path}/{result}"), XML, "", &[]).await
}

async fn create_csv_job(org: &Org, object: &str, headers: &[(&str, &str)]) -> String {
    let body = json!({"operation": "queryAll", "object": object, "contentType": "CSV"});
    let (status, job) = call(
        org,
        Method::POST,
        "job",
        "application/json",
        &body.to_string(),
        headers,
    )
    .await;
    assert_eq!(status, 201, "{job}");
    let job: Value = serde_json::from_str(&job).unwrap();
    assert_eq!(job["state"], "Open");
    job["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_csv_job_runs_its_batch_and_serves_every_row_with_xml_batch_information() {
    let org = Org::start(small()).await;
    let job = create_csv_job(&org, "Contact", &[]).await;
    let (status, added) = call(
        &org,
        Method::POST,
        &format!("job/{job}/batch"),
        "text/csv",
        "SELECT Id, LastName, Account.Name FROM Contact",
        &[],
    )
    .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(tag(&added, "state"), "Queued");
    let batch = tag(&added, "id").to_string();
    let (_, closed) = call(
        &org,
        Method::POST,
        &format!("job/{job}"),
        "application/json",
        r#"{"state":"Closed"}"#,
        &[],
    )
    .await;
    assert!(closed.contains("\"Closed\""), "{closed}");

    let (_, info) = call(
        &org,
        Method::GET,
        &format!("job/{job}/batch/{batch}"),
        XML,
        "",
        &[],
    )
    .await;
    assert_eq!(tag(&info, "state"), "Completed");
    let (status, csv) = read_result(&org, &job, &batch).await;
    assert_eq!(status, 200);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], r#""Id","LastName","Account.Name""#);
    let (_, count) = org.query("SELECT COUNT() FROM Contact").await;
    assert_eq!(
        lines.len() - 1,
        count["totalSize"].as_u64().unwrap() as usize
    );

    // A closed job takes no more batches.
    let (status, refused) = call(
        &org,
        Method::POST,
        &format!("job/{job}/batch"),
        "text/csv",
        "SELECT Id FROM Contact",
        &[],
    )
    .await;
    assert_eq!(
        (status, tag(&refused, "exceptionCode")),
        (400, "InvalidJobState")
    );
}

#[tokio::test]
async fn pk_chunking_splits_the_rows_into_id_ranges_and_leaves_the_sent_batch_unprocessed() {
    let org = Org::start(small()).await;
    let chunking = [("Sforce-Enable-PKChunking", "true; chunkSize=7")];
    let job = create_csv_job(&org, "Contact", &chunking).await;
    call(
        &org,
        Method::POST,
        &format!("job/{job}/batch"),
        "text/csv",
        "SELECT Id FROM Contact",
        &[],
    )
    .await;
    let (_, list) = call(&org, Method::GET, &format!("job/{job}/batch"), XML, "", &[]).await;
    let states: Vec<&str> = list
        .split("<state>")
        .skip(1)
        .map(|s| &s[..s.find('<').unwrap()])
        .collect();
    assert_eq!(states[0], "NotProcessed");
    assert!(states[1..].iter().all(|s| *s == "Completed"), "{states:?}");

    let ids: Vec<&str> = list
        .split("<id>")
        .skip(1)
        .map(|s| &s[..s.find('<').unwrap()])
        .collect();
    let mut read = Vec::new();
    for batch in &ids[1..] {
        let (_, csv) = read_result(&org, &job, batch).await;
        let rows: Vec<String> = csv.lines().skip(1).map(String::from).collect();
        assert!(rows.len() <= 7);
        read.extend(rows);
    }
    let (_, count) = org.query("SELECT COUNT() FROM Contact").await;
    assert_eq!(read.len(), count["totalSize"].as_u64().unwrap() as usize);
    assert!(
        read.windows(2).all(|w| w[0] < w[1]),
        "chunks follow Id order"
    );
}

/// A call about a JSON job, its answer parsed.
async fn json_call(org: &Org, method: Method, path: &str, body: &str) -> Value {
    let (_, text) = call(org, method, path, "application/json", body, &[]).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn a_json_job_answers_in_json_and_a_bad_query_fails_its_batch() {
    let org = Org::start(small()).await;
    let body = json!({"operation": "query", "object": "Account", "contentType": "JSON"});
    let job = json_call(&org, Method::POST, "job", &body.to_string()).await;
    let batches = format!("job/{}/batch", job["id"].as_str().unwrap());
    let soql = "SELECT Id, Name FROM Account LIMIT 3";
    let batch = json_call(&org, Method::POST, &batches, soql).await;
    let results = format!("{batches}/{}/result", batch["id"].as_str().unwrap());
    let list = json_call(&org, Method::GET, &results, "").await;
    let result = format!("{results}/{}", list[0].as_str().unwrap());
    let records = json_call(&org, Method::GET, &result, "").await;
    assert_eq!(records.as_array().unwrap().len(), 3);
    assert_eq!(records[0]["attributes"]["type"], "Account");

    let failed = json_call(&org, Method::POST, &batches, "SELECT Nope__c FROM Account").await;
    let status = format!("{batches}/{}", failed["id"].as_str().unwrap());
    let info = json_call(&org, Method::GET, &status, "").await;
    assert_eq!(info["state"], "Failed");
    let message = info["stateMessage"].as_str().unwrap();
    assert!(message.contains("INVALID_FIELD"), "{info}");
}

#[tokio::test]
async fn a_bad_session_is_invalid_session_id() {
    let org = Org::start(small()).await;
    let response = org
        .http
        .post(org.url("/services/async/62.0/job"))
        .header("X-SFDC-Session", "00Dnope")
        .header("Content-Type", XML)
        .body("<jobInfo/>")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body = response.text().await.unwrap();
    assert_eq!(tag(&body, "exceptionCode"), "InvalidSessionId");
}
