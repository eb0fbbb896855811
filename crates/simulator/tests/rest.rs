//! The REST surface against the protocol: pages, ties, deletes, limits, faults, composite,
//! getUpdated/getDeleted and Bulk 2.0.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::{Org, V, small};

#[tokio::test]
async fn query_pages_follow_next_records_url_with_a_stable_snapshot() {
    let org = Org::start(sfsync_simulator::SeedCounts {
        accounts: 4100,
        ..small()
    })
    .await;
    let (status, first) = org.query("SELECT Id, Name FROM Account ORDER BY Id").await;
    assert_eq!(status, 200);
    assert_eq!(first["totalSize"], 4100);
    assert_eq!(first["done"], false);
    assert_eq!(first["records"].as_array().unwrap().len(), 2000);
    let next = first["nextRecordsUrl"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("/services/data/{V}/query/01g")),
        "{next}"
    );

    // A write after the query started does not shift the pages.
    let new = org
        .control(
            Method::POST,
            "/orgs/default/sobjects/Account",
            json!({"fields": {"Name": "Late Co"}}),
        )
        .await;
    let records = org.collect(first).await;
    let ids: Vec<&str> = records.iter().map(|r| r["Id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 4100);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ordered by Id");
    assert!(!ids.contains(&new["id"].as_str().unwrap()));
}

#[tokio::test]
async fn batch_size_header_shrinks_pages_but_not_below_200() {
    let org = Org::start(sfsync_simulator::SeedCounts {
        accounts: 700,
        ..small()
    })
    .await;
    let response = org
        .http
        .get(org.url(&format!(
            "/services/data/{V}/query?q=SELECT+Id+FROM+Account"
        )))
        .bearer_auth(&org.token)
        .header("Sforce-Query-Options", "batchSize=250")
        .send()
        .await
        .unwrap();
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["records"].as_array().unwrap().len(), 250);
    assert!(page["nextRecordsUrl"].as_str().unwrap().ends_with("-250"));
}

#[tokio::test]
async fn bulk_update_gives_many_records_one_system_modstamp() {
    let org = Org::start(small()).await;
    let (_, page) = org
        .query("SELECT Id FROM Contact ORDER BY Id LIMIT 25")
        .await;
    let ids: Vec<Value> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Id"].clone())
        .collect();
    org.control(
        Method::POST,
        "/orgs/default/sobjects/Contact/bulk-update",
        json!({"ids": ids, "fields": {"Department": "Data"}}),
    )
    .await;
    let (_, page) = org
        .query("SELECT Id, SystemModstamp FROM Contact WHERE Department = 'Data'")
        .await;
    let stamps: std::collections::HashSet<&str> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["SystemModstamp"].as_str().unwrap())
        .collect();
    assert_eq!(page["totalSize"], 25);
    assert_eq!(stamps.len(), 1);
    let stamp = stamps.into_iter().next().unwrap();
    assert!(
        stamp.ends_with(".000+0000"),
        "second granularity in Salesforce's form: {stamp}"
    );
}

#[tokio::test]
async fn soft_delete_undelete_purge_and_merge_show_in_query_all_and_get_deleted() {
    let org = Org::start(small()).await;
    let (_, page) = org
        .query("SELECT Id FROM Account ORDER BY Id LIMIT 5")
        .await;
    let ids: Vec<String> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Id"].as_str().unwrap().to_string())
        .collect();
    org.control(
        Method::DELETE,
        &format!("/orgs/default/sobjects/Account/{}", ids[0]),
        json!({}),
    )
    .await;
    org.control(
        Method::DELETE,
        &format!("/orgs/default/sobjects/Account/{}", ids[1]),
        json!({}),
    )
    .await;
    org.control(
        Method::POST,
        &format!("/orgs/default/sobjects/Account/{}/undelete", ids[1]),
        json!({}),
    )
    .await;
    org.control(
        Method::POST,
        &format!("/orgs/default/sobjects/Account/{}/purge", ids[2]),
        json!({}),
    )
    .await;
    org.control(
        Method::POST,
        "/orgs/default/sobjects/Account/merge",
        json!({"master": ids[3], "losers": [ids[4].clone()]}),
    )
    .await;

    let soql = format!(
        "SELECT Id, IsDeleted, MasterRecordId FROM Account WHERE Id IN ('{}','{}','{}','{}','{}')",
        ids[0], ids[1], ids[2], ids[3], ids[4]
    );
    let (_, live) = org.query(&soql).await;
    assert_eq!(
        live["totalSize"], 2,
        "deleted and purged rows are invisible to query"
    );
    let (_, all) = org.query_all(&soql).await;
    let rows = all["records"].as_array().unwrap();
    assert_eq!(rows.len(), 4, "the purged row is gone even from queryAll");
    let deleted = rows.iter().find(|r| r["Id"] == ids[0].as_str()).unwrap();
    assert_eq!(deleted["IsDeleted"], true);
    let merged = rows.iter().find(|r| r["Id"] == ids[4].as_str()).unwrap();
    assert_eq!(
        (
            merged["IsDeleted"].as_bool(),
            merged["MasterRecordId"].as_str()
        ),
        (Some(true), Some(ids[3].as_str()))
    );

    // getDeleted covers whole minutes up to the current one: let a minute pass.
    org.control(Method::POST, "/clock/advance", json!({"seconds": 90}))
        .await;
    let now = time::OffsetDateTime::now_utc();
    let window = |d: time::OffsetDateTime| {
        d.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let path = format!(
        "sobjects/Account/deleted/?start={}&end={}",
        support::url_encode(&window(now - time::Duration::days(1))),
        support::url_encode(&window(now + time::Duration::minutes(10)))
    );
    let (status, body) = org.get_json(&path).await;
    assert_eq!(status, 200, "{body}");
    let deleted_ids: Vec<&str> = body["deletedRecords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert!(
        deleted_ids.contains(&ids[2].as_str()),
        "a hard delete of a live record is logged"
    );
    assert!(
        deleted_ids.contains(&ids[4].as_str()),
        "a merge loser is a delete"
    );
    assert!(
        !deleted_ids.contains(&ids[1].as_str()),
        "an undeleted record leaves the log"
    );
    assert!(
        body["latestDateCovered"]
            .as_str()
            .unwrap()
            .ends_with(":00.000+0000"),
        "minute granularity"
    );
}

#[tokio::test]
async fn a_late_commit_appears_with_an_earlier_system_modstamp_and_holds_back_get_updated() {
    let org = Org::start(small()).await;
    let (_, page) = org
        .query("SELECT Id FROM Opportunity ORDER BY Id LIMIT 1")
        .await;
    let id = page["records"][0]["Id"].as_str().unwrap().to_string();
    let txn = org.control(Method::POST, "/orgs/default/transactions", json!({"object": "Opportunity", "updates": [{"id": id, "fields": {"NextStep": "late"}}]})).await;
    let (_, before) = org
        .query(&format!(
            "SELECT NextStep FROM Opportunity WHERE Id = '{id}'"
        ))
        .await;
    assert_ne!(
        before["records"][0]["NextStep"], "late",
        "uncommitted writes are invisible"
    );

    let now = time::OffsetDateTime::now_utc() + time::Duration::minutes(5);
    let end = support::url_encode(
        &now.format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
    );
    let start = support::url_encode(
        &(now - time::Duration::days(1))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
    );
    let (_, updated) = org
        .get_json(&format!(
            "sobjects/Opportunity/updated/?start={start}&end={end}"
        ))
        .await;
    let stamp = txn["system_modstamp"].as_str().unwrap();
    assert!(
        updated["latestDateCovered"].as_str().unwrap() <= stamp,
        "latestDateCovered is pinned at the open transaction"
    );

    org.control(
        Method::POST,
        &format!(
            "/orgs/default/transactions/{}/commit",
            txn["id"].as_str().unwrap()
        ),
        json!({}),
    )
    .await;
    let (_, after) = org
        .query(&format!(
            "SELECT NextStep, SystemModstamp FROM Opportunity WHERE Id = '{id}'"
        ))
        .await;
    assert_eq!(after["records"][0]["NextStep"], "late");
    assert_eq!(
        after["records"][0]["SystemModstamp"], stamp,
        "visible now, stamped when the transaction opened"
    );
}

#[tokio::test]
async fn every_counted_response_carries_the_limit_header_and_the_allocation_is_enforced() {
    let org = Org::start(small()).await;
    org.control(
        Method::PUT,
        "/orgs/default/settings",
        json!({"api_daily_limit": 5, "api_used": 2}),
    )
    .await;
    let response = org.get("limits/").await;
    assert_eq!(response.headers()["sforce-limit-info"], "api-usage=3/5");
    let limits: Value = response.json().await.unwrap();
    assert_eq!(
        limits["DailyApiRequests"],
        json!({"Max": 5, "Remaining": 2})
    );

    let versions = org
        .http
        .get(org.url("/services/data/"))
        .send()
        .await
        .unwrap();
    assert!(
        versions.headers().get("sforce-limit-info").is_none(),
        "the versions list is not counted"
    );

    assert_eq!(org.get("sobjects/").await.status(), 200);
    assert_eq!(org.get("sobjects/").await.status(), 200);
    let refused = org.get("sobjects/").await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body[0]["errorCode"], "REQUEST_LIMIT_EXCEEDED");
}

#[tokio::test]
async fn composite_carries_several_queries_for_one_call() {
    let org = Org::start(small()).await;
    let body = json!({"compositeRequest": [
        {"method": "GET", "url": format!("/services/data/{V}/query?q=SELECT+Id+FROM+Account+LIMIT+2"), "referenceId": "accounts"},
        {"method": "GET", "url": format!("/services/data/{V}/query?q=SELECT+Id+FROM+Case+WHERE+AccountId+%3D+%27@{{accounts.records[0].Id}}%27"), "referenceId": "cases"},
        {"method": "GET", "url": format!("/services/data/{V}/query?q=SELECT+Nope+FROM+Account"), "referenceId": "bad"},
    ]});
    let before = org
        .control(Method::GET, "/orgs/default/counters", json!({}))
        .await["api_calls"]
        .as_u64()
        .unwrap();
    let response: Value = org
        .http
        .post(org.url(&format!("/services/data/{V}/composite")))
        .bearer_auth(&org.token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let after = org
        .control(Method::GET, "/orgs/default/counters", json!({}))
        .await["api_calls"]
        .as_u64()
        .unwrap();
    assert_eq!(after - before, 1, "one composite request is one API call");
    let results = response["compositeResponse"].as_array().unwrap();
    assert_eq!(results[0]["httpStatusCode"], 200);
    assert_eq!(results[0]["body"]["totalSize"], 2);
    assert_eq!(results[1]["httpStatusCode"], 200);
    assert_eq!(results[2]["httpStatusCode"], 400);
    assert_eq!(results[2]["body"][0]["errorCode"], "INVALID_FIELD");
}

#[tokio::test]
async fn injected_faults_answer_like_salesforce_then_clear() {
    let org = Org::start(small()).await;
    org.fault("unavailable", 2).await;
    assert_eq!(org.get("sobjects/").await.status(), 503);
    assert_eq!(org.get("sobjects/").await.status(), 503);
    assert_eq!(org.get("sobjects/").await.status(), 200);

    org.fault("query_timeout", 1).await;
    let (status, body) = org.query("SELECT Id FROM Account").await;
    assert_eq!(
        (status, body[0]["errorCode"].as_str()),
        (400, Some("QUERY_TIMEOUT"))
    );

    org.fault("invalid_session_rest", 1).await;
    let (status, body) = org.get_json("sobjects/").await;
    assert_eq!(status, 401);
    assert_eq!(
        body[0]["message"],
        "This session is not valid for use with the REST API"
    );

    org.fault("malformed_body", 1).await;
    let text = org.get("sobjects/").await.text().await.unwrap();
    assert!(
        serde_json::from_str::<Value>(&text).is_err(),
        "the body is cut short"
    );

    org.fault("expire_sessions", 1).await;
    let (status, body) = org.get_json("sobjects/").await;
    assert_eq!(
        (status, body[0]["errorCode"].as_str()),
        (401, Some("INVALID_SESSION_ID"))
    );
}

#[tokio::test]
async fn an_expired_or_unknown_query_locator_is_invalid_query_locator() {
    let org = Org::start(sfsync_simulator::SeedCounts {
        accounts: 2500,
        ..small()
    })
    .await;
    let (_, first) = org.query("SELECT Id FROM Account").await;
    let next = first["nextRecordsUrl"].as_str().unwrap().to_string();
    let bogus = format!("/services/data/{V}/query/01gXXXXXXXXXXXXXXX-2000");
    let response = org
        .http
        .get(org.url(&bogus))
        .bearer_auth(&org.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body[0]["errorCode"], "INVALID_QUERY_LOCATOR");

    org.fault("invalid_query_locator", 1).await;
    let response = org
        .http
        .get(org.url(&next))
        .bearer_auth(&org.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    org.control(
        Method::POST,
        "/clock/advance",
        json!({"seconds": 3 * 86_400}),
    )
    .await;
    let grant = org.sim.grant("default").unwrap();
    let response = org
        .http
        .get(org.url(&next))
        .bearer_auth(grant["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "locators expire after two days");
}

#[tokio::test]
async fn describe_hides_fields_the_user_may_not_read_and_answers_304_when_unchanged() {
    let org = Org::start(small()).await;
    let (status, describe) = org.get_json("sobjects/Account/describe").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = describe["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"BillingAddress") && names.contains(&"Tier__c"));

    let later = httpdate(time::OffsetDateTime::now_utc() + time::Duration::minutes(1));
    let response = org
        .http
        .get(org.url(&format!("/services/data/{V}/sobjects/Account/describe")))
        .bearer_auth(&org.token)
        .header("If-Modified-Since", &later)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);

    org.control(
        Method::PUT,
        "/orgs/default/sobjects/Account/fields/Tier__c/visibility",
        json!({"visible": false}),
    )
    .await;
    let (_, describe) = org.get_json("sobjects/Account/describe").await;
    assert!(
        !describe["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "Tier__c")
    );
    let (status, body) = org.query("SELECT Id, Tier__c FROM Account").await;
    assert_eq!(
        (status, body[0]["errorCode"].as_str()),
        (400, Some("INVALID_FIELD"))
    );
    let earlier = httpdate(time::OffsetDateTime::now_utc() - time::Duration::hours(1));
    let response = org
        .http
        .get(org.url(&format!("/services/data/{V}/sobjects/Account/describe")))
        .bearer_auth(&org.token)
        .header("If-Modified-Since", &earlier)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "a schema change after the date is not 304"
    );
}

fn httpdate(t: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&format).unwrap()
}

#[tokio::test]
async fn formula_fields_change_without_a_new_system_modstamp() {
    let org = Org::start(small()).await;
    let (_, page) = org.query("SELECT Id, AccountId, Account_Industry__c, SystemModstamp FROM Contact WHERE AccountId != null ORDER BY Id LIMIT 1").await;
    let contact = &page["records"][0];
    let account = contact["AccountId"].as_str().unwrap();
    let industry = if contact["Account_Industry__c"] == "Banking" {
        "Energy"
    } else {
        "Banking"
    };
    org.control(
        Method::PATCH,
        &format!("/orgs/default/sobjects/Account/{account}"),
        json!({"fields": {"Industry": industry}}),
    )
    .await;
    let (_, again) = org
        .query(&format!(
            "SELECT Account_Industry__c, SystemModstamp FROM Contact WHERE Id = '{}'",
            contact["Id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(again["records"][0]["Account_Industry__c"], industry);
    assert_eq!(
        again["records"][0]["SystemModstamp"],
        contact["SystemModstamp"]
    );
}

#[tokio::test]
async fn bulk_query_job_runs_to_completion_and_pages_csv_by_locator() {
    let org = Org::start(sfsync_simulator::SeedCounts {
        contacts: 130,
        ..small()
    })
    .await;
    let create: Value = org.http.post(org.url(&format!("/services/data/{V}/jobs/query"))).bearer_auth(&org.token)
        .json(&json!({"operation": "query", "query": "SELECT Id, LastName, Account.Name FROM Contact"})).send().await.unwrap().json().await.unwrap();
    assert_eq!(create["state"], "UploadComplete");
    let id = create["id"].as_str().unwrap();
    let mut state = String::new();
    for _ in 0..5 {
        let (_, status) = org.get_json(&format!("jobs/query/{id}")).await;
        state = status["state"].as_str().unwrap().to_string();
        if state == "JobComplete" {
            assert_eq!(status["numberRecordsProcessed"], 130);
            break;
        }
    }
    assert_eq!(state, "JobComplete");
    let mut rows = 0;
    let mut locator: Option<String> = None;
    loop {
        let query = match &locator {
            Some(l) => format!("?maxRecords=50&locator={l}"),
            None => "?maxRecords=50".into(),
        };
        let response = org.get(&format!("jobs/query/{id}/results{query}")).await;
        let count: usize = response.headers()["sforce-numberofrecords"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let next = response.headers()["sforce-locator"]
            .to_str()
            .unwrap()
            .to_string();
        let csv = response.text().await.unwrap();
        assert!(csv.starts_with("\"Id\",\"LastName\",\"Account.Name\"\n"));
        assert_eq!(csv.lines().count() - 1, count);
        rows += count;
        if next == "null" {
            break;
        }
        locator = Some(next);
    }
    assert_eq!(rows, 130);
    let wrong = org
        .http
        .get(org.url(&format!("/services/data/v61.0/jobs/query/{id}/results")))
        .bearer_auth(&org.token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        wrong.status(),
        409,
        "results must be read with the creating API version"
    );
}

#[tokio::test]
async fn compound_fields_are_refused_by_bulk_and_served_as_objects_by_rest() {
    let org = Org::start(small()).await;
    let response = org
        .http
        .post(org.url(&format!("/services/data/{V}/jobs/query")))
        .bearer_auth(&org.token)
        .json(&json!({"operation": "query", "query": "SELECT Id, BillingAddress FROM Account"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let (_, page) = org
        .query("SELECT BillingAddress, BillingCity FROM Account WHERE BillingCity != null LIMIT 1")
        .await;
    let record = &page["records"][0];
    assert_eq!(record["BillingAddress"]["city"], record["BillingCity"]);
}

#[tokio::test]
async fn a_soql_statement_too_long_for_a_url_gets_414_but_fits_in_a_composite_body() {
    let org = Org::start(small()).await;
    let fields = vec!["Name"; 3000].join(",");
    let soql = format!("SELECT Id,{fields} FROM Account LIMIT 1");
    let response = org
        .get(&format!("query?q={}", support::url_encode(&soql)))
        .await;
    assert_eq!(response.status(), 414);
    let body = json!({"compositeRequest": [{"method": "GET", "url": format!("/services/data/{V}/query?q={}", support::url_encode(&soql)), "referenceId": "wide"}]});
    let response: Value = org
        .http
        .post(org.url(&format!("/services/data/{V}/composite")))
        .bearer_auth(&org.token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let result = &response["compositeResponse"][0];
    assert_eq!(
        result["httpStatusCode"], 400,
        "Salesforce refuses a field selected twice"
    );
    assert_eq!(result["body"][0]["errorCode"], "INVALID_FIELD");
    assert!(
        result["body"][0]["message"]
            .as_str()
            .unwrap()
            .contains("duplicate field selected: Name")
    );
}

#[tokio::test]
async fn added_fields_appear_and_removed_fields_become_invalid_field() {
    let org = Org::start(small()).await;
    org.control(
        Method::POST,
        "/orgs/default/sobjects/Account/fields",
        json!({"name": "Health_Score__c", "type": "double"}),
    )
    .await;
    let (_, page) = org
        .query("SELECT Id, Health_Score__c FROM Account LIMIT 1")
        .await;
    assert_eq!(
        page["records"][0]["Health_Score__c"],
        Value::Null,
        "existing records hold null"
    );
    let id = page["records"][0]["Id"].as_str().unwrap().to_string();
    org.control(
        Method::PATCH,
        &format!("/orgs/default/sobjects/Account/{id}"),
        json!({"fields": {"Health_Score__c": 7.5}}),
    )
    .await;
    let (_, page) = org
        .query(&format!(
            "SELECT Health_Score__c FROM Account WHERE Id = '{id}'"
        ))
        .await;
    assert_eq!(page["records"][0]["Health_Score__c"], 7.5);

    org.control(
        Method::DELETE,
        "/orgs/default/sobjects/Account/fields/Health_Score__c",
        json!({}),
    )
    .await;
    let (status, body) = org.query("SELECT Id, Health_Score__c FROM Account").await;
    assert_eq!(
        (status, body[0]["errorCode"].as_str()),
        (400, Some("INVALID_FIELD"))
    );
}

#[tokio::test]
async fn background_activity_changes_records_over_time() {
    let config = sfsync_simulator::SimulatorConfig {
        counts: small(),
        activity_per_min: 6000,
        ..Default::default()
    };
    let org = Org::start_with(config).await;
    // Seeded records are all stamped at least a minute before the start.
    let since = (time::OffsetDateTime::now_utc() - time::Duration::seconds(30))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let mut touched = 0;
        for object in ["Opportunity", "Case", "Contact", "Invoice__c"] {
            let (_, page) = org
                .query_all(&format!(
                    "SELECT COUNT() FROM {object} WHERE SystemModstamp > {since}"
                ))
                .await;
            touched += page["totalSize"].as_u64().unwrap();
        }
        if touched > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no activity within 20 s at 100 changes per second"
        );
        tokio::task::yield_now().await;
    }
}
