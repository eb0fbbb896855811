//! Writes through the standard sObject resources, as clients written for Salesforce make
//! them: create, update, delete, basic information, writes inside `/composite`, and many
//! records at once through sObject Collections.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Org, V, small};

/// A REST call with the org's token; the status and the body (null when there is none).
async fn call(org: &Org, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = org
        .http
        .request(method, org.url(&format!("/services/data/{V}{path}")))
        .bearer_auth(&org.token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn advance_clock(org: &Org) {
    org.control(Method::POST, "/clock/advance", json!({"seconds": 2}))
        .await;
}

async fn row(org: &Org, soql: &str) -> Value {
    let (status, page) = org.query_all(soql).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["totalSize"], 1, "{page}");
    page["records"][0].clone()
}

#[tokio::test]
async fn a_record_created_updated_and_deleted_over_rest_shows_in_queries_and_get_deleted() {
    let org = Org::start(small()).await;

    let (status, created) = call(
        &org,
        Method::POST,
        "/sobjects/Account",
        Some(json!({"attributes": {"type": "Account"}, "Name": "Rest Co", "Industry": "Energy"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["success"], true);
    assert_eq!(created["errors"], json!([]));
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("001") && id.len() == 18, "{id}");
    let soql = format!(
        "SELECT Name, Industry, SystemModstamp, CreatedById, LastModifiedById, IsDeleted FROM Account WHERE Id = '{id}'"
    );
    let first = row(&org, &soql).await;
    assert_eq!(first["Industry"], "Energy");
    assert_eq!(first["CreatedById"], first["LastModifiedById"]);

    advance_clock(&org).await;
    let (status, body) = call(
        &org,
        Method::PATCH,
        &format!("/sobjects/Account/{id}"),
        Some(json!({"Industry": "Banking"})),
    )
    .await;
    assert_eq!((status, body), (204, Value::Null));
    let updated = row(&org, &soql).await;
    assert_eq!(updated["Industry"], "Banking");
    assert_eq!(updated["Name"], "Rest Co");
    assert!(updated["SystemModstamp"].as_str() > first["SystemModstamp"].as_str());

    advance_clock(&org).await;
    let (status, _) = call(
        &org,
        Method::DELETE,
        &format!("/sobjects/Account/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let deleted = row(&org, &soql).await;
    assert_eq!(deleted["IsDeleted"], true);
    let (_, live) = org
        .query(&format!("SELECT Id FROM Account WHERE Id = '{id}'"))
        .await;
    assert_eq!(live["totalSize"], 0);
    // getDeleted covers whole minutes up to the current one: let a minute pass.
    org.control(Method::POST, "/clock/advance", json!({"seconds": 90}))
        .await;
    let now = time::OffsetDateTime::now_utc();
    let window = |d: time::OffsetDateTime| {
        let text = d
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        support::url_encode(&text)
    };
    let (status, log) = org
        .get_json(&format!(
            "sobjects/Account/deleted/?start={}&end={}",
            window(now - time::Duration::days(1)),
            window(now + time::Duration::minutes(10))
        ))
        .await;
    assert_eq!(status, 200, "{log}");
    let logged: Vec<&str> = log["deletedRecords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(logged.contains(&id.as_str()), "{log}");

    // The record's URL now answers 404 ENTITY_IS_DELETED to a write, as in Salesforce.
    for (method, body) in [
        (Method::DELETE, None),
        (Method::PATCH, Some(json!({"Name": "x"}))),
    ] {
        let (status, error) = call(&org, method, &format!("/sobjects/Account/{id}"), body).await;
        assert_eq!(status, 404, "{error}");
        assert_eq!(error[0]["errorCode"], "ENTITY_IS_DELETED");
    }
}

#[tokio::test]
async fn bad_writes_are_refused_with_the_error_salesforce_gives_and_change_nothing() {
    let org = Org::start(small()).await;
    org.control(
        Method::PUT,
        "/orgs/default/sobjects/Account/fields/Rating/visibility",
        json!({"visible": false}),
    )
    .await;
    let (_, page) = org
        .query("SELECT Id FROM Account ORDER BY Id LIMIT 1")
        .await;
    let id = page["records"][0]["Id"].as_str().unwrap().to_string();
    let (_, count_before) = org.query("SELECT COUNT() FROM Account").await;

    let cases: Vec<(Method, String, Value, u16, &str)> = vec![
        (
            Method::POST,
            "/sobjects/Account".into(),
            json!({"Name": "A", "Rating": "Hot"}),
            400,
            "INVALID_FIELD",
        ),
        (
            Method::POST,
            "/sobjects/Account".into(),
            json!({"Name": "A", "Nope__c": 1}),
            400,
            "INVALID_FIELD",
        ),
        (
            Method::POST,
            "/sobjects/Account".into(),
            json!({"Industry": "Energy"}),
            400,
            "REQUIRED_FIELD_MISSING",
        ),
        (
            Method::POST,
            "/sobjects/Account".into(),
            json!({"Name": "A", "CreatedDate": "2020-01-01T00:00:00.000+0000"}),
            400,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
        ),
        (
            Method::POST,
            "/sobjects/Account".into(),
            json!({"Name": "A", "NumberOfEmployees": "many"}),
            400,
            "JSON_PARSER_ERROR",
        ),
        (
            Method::POST,
            "/sobjects/Account".into(),
            json!(["Name"]),
            400,
            "JSON_PARSER_ERROR",
        ),
        (
            Method::POST,
            "/sobjects/Nope__c".into(),
            json!({"Name": "A"}),
            404,
            "NOT_FOUND",
        ),
        (
            Method::PATCH,
            format!("/sobjects/Account/{id}"),
            json!({"Name": null}),
            400,
            "REQUIRED_FIELD_MISSING",
        ),
        (
            Method::PATCH,
            format!("/sobjects/Account/{id}"),
            json!({"Rating": "Hot"}),
            400,
            "INVALID_FIELD",
        ),
        (
            Method::PATCH,
            "/sobjects/Account/001nope".into(),
            json!({"Name": "B"}),
            400,
            "MALFORMED_ID",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (got, error) = call(&org, method.clone(), &path, Some(body.clone())).await;
        assert_eq!(
            (got, error[0]["errorCode"].as_str()),
            (status, Some(code)),
            "{method} {path} {body}: {error}"
        );
    }

    let (_, count_after) = org.query("SELECT COUNT() FROM Account").await;
    assert_eq!(count_after["totalSize"], count_before["totalSize"]);
    let (_, kept) = org
        .query(&format!("SELECT Name FROM Account WHERE Id = '{id}'"))
        .await;
    assert!(kept["records"][0]["Name"].is_string(), "{kept}");
}

#[tokio::test]
async fn basic_information_is_the_describe_global_entry_and_recent_items() {
    let org = Org::start(small()).await;
    let (status, info) = call(&org, Method::GET, "/sobjects/Contact", None).await;
    assert_eq!(status, 200);
    assert_eq!(info["objectDescribe"]["name"], "Contact");
    assert_eq!(info["objectDescribe"]["keyPrefix"], "003");
    assert!(info["recentItems"].is_array());
    let (status, _) = call(&org, Method::GET, "/sobjects/Nope__c", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn composite_writes_reference_earlier_results_and_all_or_none_rolls_them_back() {
    let org = Org::start(small()).await;
    let request = |all_or_none: bool, last_name: Value| {
        json!({"allOrNone": all_or_none, "compositeRequest": [
            {"method": "POST", "url": format!("/services/data/{V}/sobjects/Account"), "referenceId": "account", "body": {"Name": "Composite Co"}},
            {"method": "POST", "url": format!("/services/data/{V}/sobjects/Contact"), "referenceId": "contact", "body": {"LastName": last_name, "AccountId": "@{account.id}"}},
        ]})
    };
    let composite_co = "SELECT Id FROM Account WHERE Name = 'Composite Co'";

    let (status, reply) = call(
        &org,
        Method::POST,
        "/composite",
        Some(request(false, json!("Ng"))),
    )
    .await;
    assert_eq!(status, 200);
    let results = reply["compositeResponse"].as_array().unwrap();
    assert_eq!(results[0]["httpStatusCode"], 201, "{reply}");
    assert_eq!(results[1]["httpStatusCode"], 201, "{reply}");
    let account = results[0]["body"]["id"].as_str().unwrap();
    let (_, contacts) = org
        .query(&format!(
            "SELECT LastName FROM Contact WHERE AccountId = '{account}'"
        ))
        .await;
    assert_eq!(contacts["records"][0]["LastName"], "Ng");

    // The contact lacks its required LastName: with allOrNone the account goes too.
    let (status, reply) = call(
        &org,
        Method::POST,
        "/composite",
        Some(request(true, Value::Null)),
    )
    .await;
    assert_eq!(status, 200);
    let results = reply["compositeResponse"].as_array().unwrap();
    assert_eq!(results[0]["httpStatusCode"], 400, "{reply}");
    assert_eq!(results[0]["body"][0]["errorCode"], "PROCESSING_HALTED");
    assert_eq!(results[1]["body"][0]["errorCode"], "REQUIRED_FIELD_MISSING");
    let (_, accounts) = org.query(composite_co).await;
    assert_eq!(
        accounts["totalSize"], 1,
        "only the first request's account: {accounts}"
    );
}

#[tokio::test]
async fn collections_write_many_records_in_one_call_each_with_its_own_result() {
    let org = Org::start(small()).await;
    let account = |name: Value| json!({"attributes": {"type": "Account"}, "Name": name});
    let usage_before = org
        .control(Method::GET, "/orgs/default/counters", json!({}))
        .await["api_calls"]
        .as_u64()
        .unwrap();

    // Without allOrNone the valid records are written and the invalid one says why.
    let body = json!({"allOrNone": false, "records": [account(json!("One")), account(Value::Null), account(json!("Three"))]});
    let (status, results) = call(&org, Method::POST, "/composite/sobjects", Some(body)).await;
    assert_eq!(status, 200, "{results}");
    assert_eq!(results[0]["success"], true);
    assert_eq!(results[1]["success"], false);
    assert_eq!(
        results[1]["errors"][0]["statusCode"],
        "REQUIRED_FIELD_MISSING"
    );
    assert_eq!(results[2]["success"], true);
    let ids = [
        results[0]["id"].as_str().unwrap().to_string(),
        results[2]["id"].as_str().unwrap().to_string(),
    ];
    let usage_after = org
        .control(Method::GET, "/orgs/default/counters", json!({}))
        .await["api_calls"]
        .as_u64()
        .unwrap();
    assert_eq!(usage_after - usage_before, 1, "one request, one API call");

    // With allOrNone one failure writes nothing.
    let body =
        json!({"allOrNone": true, "records": [account(json!("Four")), account(Value::Null)]});
    let (_, results) = call(&org, Method::POST, "/composite/sobjects", Some(body)).await;
    assert_eq!(
        results[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    let (_, four) = org
        .query("SELECT Id FROM Account WHERE Name = 'Four'")
        .await;
    assert_eq!(four["totalSize"], 0);

    let updates: Vec<Value> = ids
        .iter()
        .map(|id| json!({"attributes": {"type": "Account"}, "id": id, "Industry": "Energy"}))
        .collect();
    let (_, results) = call(
        &org,
        Method::PATCH,
        "/composite/sobjects",
        Some(json!({"records": updates})),
    )
    .await;
    assert!(
        results
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["success"] == true),
        "{results}"
    );

    let path = format!(
        "/composite/sobjects/Account?ids={},{}&fields=Name,Industry",
        ids[0], ids[1]
    );
    let (_, records) = call(&org, Method::GET, &path, None).await;
    assert_eq!(records[0]["Name"], "One");
    assert_eq!(records[1]["Industry"], "Energy");

    let path = format!(
        "/composite/sobjects?ids={},{}&allOrNone=false",
        ids[0], ids[1]
    );
    let (_, results) = call(&org, Method::DELETE, &path, None).await;
    assert!(
        results
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["success"] == true),
        "{results}"
    );
    let (_, again) = call(&org, Method::DELETE, &path, None).await;
    assert_eq!(again[0]["errors"][0]["statusCode"], "ENTITY_IS_DELETED");
    let (_, gone) = org
        .query(&format!(
            "SELECT Id FROM Account WHERE Id IN ('{}', '{}')",
            ids[0], ids[1]
        ))
        .await;
    assert_eq!(gone["totalSize"], 0);
}

#[tokio::test]
async fn collections_refuse_more_than_two_hundred_records() {
    let org = Org::start(small()).await;
    let records: Vec<Value> = (0..201)
        .map(|i| json!({"attributes": {"type": "Account"}, "Name": format!("A{i}")}))
        .collect();
    let (status, error) = call(
        &org,
        Method::POST,
        "/composite/sobjects",
        Some(json!({"records": records})),
    )
    .await;
    assert_eq!(
        (status, error[0]["errorCode"].as_str()),
        (400, Some("EXCEEDED_ID_LIMIT"))
    );
}
