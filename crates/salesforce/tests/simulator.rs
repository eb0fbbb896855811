//! The client against the simulator over real HTTP, behaviour by behaviour and fault by fault.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use sfsync_salesforce::{
    BulkQueryOptions, CompositeQuery, Conditional, Error, HttpConfig, QueryOptions, QueryPage,
    RetryPolicy, SalesforceClient,
};
use sfsync_simulator::SimulatorConfig;
use support::{Harness, fast_http};
use time::OffsetDateTime;

async fn all_pages(client: &SalesforceClient, soql: &str, options: QueryOptions) -> Vec<QueryPage> {
    client
        .query_with(soql, options)
        .try_collect()
        .await
        .expect("the query succeeds")
}

fn ids(pages: &[QueryPage]) -> HashSet<String> {
    pages
        .iter()
        .flat_map(|p| &p.records)
        .map(|r| r.id().expect("records have Ids").to_owned())
        .collect()
}

const CONTACTS: &str = "SELECT Id, LastName, SystemModstamp FROM Contact ORDER BY Id";

#[tokio::test]
async fn oauth_web_server_flow_exchanges_the_code_and_reads_the_identity() {
    let harness = Harness::start().await;
    let oauth = harness.oauth();
    let pending = oauth.authorize(&[]);
    let callback = harness.authorize_redirect(pending.url()).await;
    assert!(callback.starts_with(support::REDIRECT_URI), "{callback}");

    let code = pending
        .complete(&callback)
        .expect("the callback carries a code for our state");
    let grant = oauth
        .exchange_code(&code, pending.code_verifier())
        .await
        .expect("the code exchanges");
    assert!(
        grant.refresh_token.is_some(),
        "refresh_token scope was requested"
    );
    assert_eq!(grant.instance_url.origin(), harness.url().origin());

    let identity = oauth
        .fetch_identity(&grant.identity_url, &grant.access_token)
        .await
        .unwrap();
    assert_eq!(identity.organization_id, harness.org.org_id);
    assert_eq!(identity.user_id, harness.org.user_id);
    assert_eq!(identity.username, harness.org.username);
    assert_eq!(identity.display_name, harness.org.display_name);
    assert_eq!(identity.email, harness.org.email);

    let reused = oauth
        .exchange_code(&code, pending.code_verifier())
        .await
        .unwrap_err();
    assert!(
        reused.needs_reauthorization(),
        "an authorization code is single use: {reused}"
    );
}

#[tokio::test]
async fn a_code_exchanged_with_the_wrong_verifier_is_refused() {
    let harness = Harness::start().await;
    let oauth = harness.oauth();
    let pending = oauth.authorize(&[]);
    let code = pending
        .complete(&harness.authorize_redirect(pending.url()).await)
        .unwrap();
    let other = oauth.authorize(&[]);
    let err = oauth
        .exchange_code(&code, other.code_verifier())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::OAuth { .. } | Error::InvalidGrant { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn an_uninstalled_connected_app_reports_approval_required() {
    let harness = Harness::start().await;
    harness
        .settings(serde_json::json!({ "approval_required": true }))
        .await;
    let pending = harness.oauth().authorize(&[]);
    let callback = harness.authorize_redirect(pending.url()).await;
    let err = pending.complete(&callback).unwrap_err();
    assert!(err.is_approval_required(), "{err}");
}

#[tokio::test]
async fn a_query_streams_every_page_by_following_next_records_url() {
    let harness = Harness::start().await;
    let (client, _) = harness.client().await;
    let pages = all_pages(
        &client,
        CONTACTS,
        QueryOptions::default().with_batch_size(200),
    )
    .await;
    assert!(
        pages.len() >= 3,
        "600 contacts in pages of at most 200: {}",
        pages.len()
    );
    let total = pages[0].total_size as usize;
    assert_eq!(ids(&pages).len(), total);
    assert!(pages.iter().all(|p| p.records.len() <= 200));
    assert!(pages.last().unwrap().done);
    assert!(
        pages[0]
            .records
            .iter()
            .all(|r| r.object() == "Contact" && r.system_modstamp().unwrap().is_some())
    );
}

#[tokio::test]
async fn query_all_returns_soft_deleted_rows_that_query_hides() {
    let harness = Harness::start().await;
    let (client, _) = harness.client().await;
    let soql = "SELECT Id, IsDeleted FROM Account";
    let live = ids(&all_pages(&client, soql, QueryOptions::default()).await);
    let victim = live.iter().next().unwrap().clone();
    harness
        .control(
            "DELETE",
            &format!("orgs/{}/sobjects/Account/{victim}", harness.org.org_id),
            serde_json::json!({}),
        )
        .await;

    let after = ids(&all_pages(&client, soql, QueryOptions::default()).await);
    assert!(!after.contains(&victim));
    let all: Vec<QueryPage> = client.query_all(soql).try_collect().await.unwrap();
    let deleted = all
        .iter()
        .flat_map(|p| &p.records)
        .find(|r| r.id() == Some(victim.as_str()))
        .unwrap();
    assert!(deleted.is_deleted());
}

#[tokio::test]
async fn session_expiry_mid_stream_refreshes_once_and_the_stream_continues() {
    let harness = Harness::start().await;
    let (client, store) = harness.client().await;
    let before = client.session();
    let mut stream = client.query_with(CONTACTS, QueryOptions::default().with_batch_size(200));
    let first = stream.next().await.unwrap().expect("first page");

    harness.fault("expire_sessions", 1, None).await;
    let rest: Vec<QueryPage> = stream
        .try_collect()
        .await
        .expect("the stream survives expiry");

    assert_eq!(
        first.records.len() + rest.iter().map(|p| p.records.len()).sum::<usize>(),
        first.total_size as usize
    );
    assert_eq!(store.saves(), 1, "exactly one refresh, persisted");
    assert_ne!(client.session().access_token(), before.access_token());
    assert_eq!(
        store.tokens().await.access_token.as_ref(),
        Some(client.session().access_token())
    );
}

#[tokio::test]
async fn a_refresh_that_cannot_be_saved_is_never_used() {
    let harness = Harness::start().await;
    let (client, store) = harness.client().await;
    let before = client.session();
    store.fail_saves(true);
    harness.fault("expire_sessions", 1, None).await;

    let err = client
        .fetch_first_page("SELECT Id FROM Account", QueryOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TokenStore(_)), "{err}");
    assert_eq!(
        client.session(),
        before,
        "the unsaved access token was not adopted"
    );
}

#[tokio::test]
async fn concurrent_requests_on_an_expired_session_refresh_only_once() {
    let harness = Harness::start().await;
    harness
        .settings(serde_json::json!({ "rotate_refresh_tokens": true }))
        .await;
    let (client, store) = harness.client().await;
    harness.fault("expire_sessions", 1, None).await;

    let queries = (0..4).map(|_| {
        client.fetch_first_page("SELECT Id FROM Account LIMIT 5", QueryOptions::default())
    });
    for page in futures_util::future::join_all(queries).await {
        page.expect("every request succeeds after the single refresh");
    }
    assert_eq!(store.saves(), 1);
}

#[tokio::test]
async fn a_rotated_refresh_token_is_persisted_and_reusing_the_old_one_needs_reauthorization() {
    let harness = Harness::start().await;
    harness
        .settings(serde_json::json!({ "rotate_refresh_tokens": true }))
        .await;
    let (client, store) = harness.client().await;
    let original = store.tokens().await.refresh_token;

    harness.fault("expire_sessions", 1, None).await;
    client
        .fetch_first_page("SELECT Id FROM Account LIMIT 1", QueryOptions::default())
        .await
        .unwrap();
    let rotated = store.tokens().await.refresh_token;
    assert_ne!(
        rotated, original,
        "the rotated token replaced the old one in the store"
    );

    let err = harness.oauth().refresh(&original).await.unwrap_err();
    assert!(err.needs_reauthorization(), "{err}");
    // Reuse revokes the whole grant (salesforce-api.md §1.4): the rotated token dies too.
    let err = harness.oauth().refresh(&rotated).await.unwrap_err();
    assert!(err.needs_reauthorization(), "{err}");
}

#[tokio::test]
async fn a_revoked_grant_surfaces_invalid_grant_instead_of_looping() {
    let harness = Harness::start().await;
    let (client, store) = harness.client().await;
    harness
        .oauth()
        .revoke_refresh_token(&store.tokens().await.refresh_token)
        .await
        .unwrap();

    let err = client
        .fetch_first_page("SELECT Id FROM Account", QueryOptions::default())
        .await
        .unwrap_err();
    assert!(err.needs_reauthorization(), "{err}");
    assert_eq!(store.saves(), 0);
}

#[tokio::test]
async fn an_inactive_user_needs_reauthorization() {
    let harness = Harness::start().await;
    let tokens = harness.grant().await;
    harness
        .settings(serde_json::json!({ "user_active": false }))
        .await;
    let err = harness
        .oauth()
        .refresh(&tokens.refresh_token)
        .await
        .unwrap_err();
    assert!(err.needs_reauthorization(), "{err}");
}

#[tokio::test]
async fn a_session_not_valid_for_rest_is_not_refreshed() {
    let harness = Harness::start().await;
    let (client, store) = harness.client().await;
    harness.fault("invalid_session_rest", 1, None).await;
    let err = client
        .fetch_first_page("SELECT Id FROM Account", QueryOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SessionNotUsable { .. }), "{err}");
    assert_eq!(store.saves(), 0);
}

#[tokio::test]
async fn a_burst_of_503s_is_retried_until_it_succeeds() {
    let harness = Harness::start().await;
    let (client, _) = harness.client().await;
    harness.fault("unavailable", 3, None).await;
    let page = client
        .fetch_first_page("SELECT Id FROM Account LIMIT 3", QueryOptions::default())
        .await;
    assert_eq!(
        page.expect("three retries absorb three 503s").records.len(),
        3
    );
}

#[tokio::test]
async fn retries_on_503_stop_at_the_bound() {
    let harness = Harness::start().await;
    let retry = RetryPolicy {
        max_retries: 2,
        ..fast_http().retry
    };
    let (client, _) = harness
        .client_with(HttpConfig {
            retry,
            ..fast_http()
        })
        .await;
    harness.fault("unavailable", 3, None).await;

    let err = client
        .fetch_first_page("SELECT Id FROM Account", QueryOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::ServerUnavailable { status: 503, .. }) && err.is_retryable(),
        "{err}"
    );
    // One try and two retries used all three faults, so the next call goes straight through.
    client
        .fetch_first_page("SELECT Id FROM Account", QueryOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn request_limit_exceeded_is_not_retried() {
    let harness = Harness::start().await;
    let (client, _) = harness.client().await;
    harness.fault("request_limit", 1, None).await;
    let err = client
        .fetch_first_page("SELECT Id FROM Account", QueryOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_rate_limited() && !err.is_retryable(), "{err}");
}

#[tokio::test]
async fn query_timeout_is_reported_as_such() {
    let harness = Harness::start().await;
    let (client, _) = harness.client().await;
    harness.fault("query_timeout", 1, None).await;
    let err = client
        .fetch_first_page("SELECT Id FROM Account", QueryOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_query_timeout(), "{err}");
}

#[tokio::test]
async fn an_invalid_query_locator_ends_the_stream_with_its_own_error() {
    let harness = Harness::start().await;
    let (client, _) = harness.client().await;
    let mut stream = client.query_with(CONTACTS, QueryOptions::default().with_batch_size(200));
    stream.next().await.unwrap().expect("first page");
    harness.fault("invalid_query_locator", 1, None).await;

    let err = stream.next().await.unwrap().unwrap_err();
    assert!(err.is_invalid_query_locator(), "{err}");
    assert!(
        stream.next().await.is_none(),
        "the stream ends after an error"
    );
}

#[tokio::test]
async fn a_truncated_body_is_a_typed_error_naming_the_response() {
    let harness = Harness::start().await;
    let (client, _) = harness.client().await;
    harness.fault("malformed_body", 1, None).await;
    let err = client
        .fetch_first_page("SELECT Id FROM Account", QueryOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_malformed(), "{err}");
    assert!(err.to_string().contains("query response"), "{err}");
}

#[tokio::test]
async fn an_unknown_field_names_the_field() {
    let harness = Harness::start().await;
    let (client, _) = harness.client().await;
    let err = client
        .fetch_first_page("SELECT Id, Nope__c FROM Account", QueryOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.invalid_field(), Some("Nope__c"), "{err}");
    let err = client
        .fetch_first_page("SELECT Id FROM Nope__c", QueryOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.invalid_type(), Some("Nope__c"), "{err}");
}

#[tokio::test]
async fn api_usage_is_read_from_every_response() {
    let harness = Harness::start().await;
    let (client, _) = harness.client().await;
    let mut usage = client.watch_api_usage();
    client
        .fetch_first_page("SELECT Id FROM Account LIMIT 1", QueryOptions::default())
        .await
        .unwrap();
    let first = client
        .api_usage()
        .expect("the response carried Sforce-Limit-Info");
    assert!(usage.has_changed().unwrap());
    usage.mark_unchanged();

    let limits = client.fetch_limits().await.unwrap();
    let second = client.api_usage().unwrap();
    assert!(usage.has_changed().unwrap());
    assert_eq!(second.api.used, first.api.used + 1, "one call, one unit");
    assert_eq!(
        limits.daily_api_requests().unwrap().max as u64,
        second.api.limit
    );
}

#[tokio::test]
async fn composite_carries_several_queries_in_one_api_call() {
    let harness = Harness::start().await;
    let (client, _) = harness.client().await;
    client.fetch_limits().await.unwrap();
    let before = client.api_usage().unwrap().api.used;

    let query = |id: &str, soql: &str| CompositeQuery {
        reference_id: id.to_owned(),
        soql: soql.to_owned(),
        options: QueryOptions::default().with_batch_size(200),
    };
    let queries = [
        query("accounts", "SELECT Id FROM Account"),
        query("contacts", CONTACTS),
        query("broken", "SELECT Nope__c FROM Account"),
    ];
    let results = client.fetch_composite_queries(&queries).await.unwrap();
    assert_eq!(client.api_usage().unwrap().api.used, before + 1);

    let accounts = results[0].page.as_ref().unwrap();
    assert!(!accounts.records.is_empty() && accounts.records[0].object() == "Account");
    let contacts = results[1].page.as_ref().unwrap();
    let rest: Vec<QueryPage> = client
        .continue_query(contacts, QueryOptions::default())
        .try_collect()
        .await
        .unwrap();
    let read = contacts.records.len() + rest.iter().map(|p| p.records.len()).sum::<usize>();
    assert_eq!(read, contacts.total_size as usize);
    assert_eq!(
        results[2].page.as_ref().unwrap_err().invalid_field(),
        Some("Nope__c")
    );
}

#[tokio::test]
async fn a_server_without_composite_gets_the_queries_one_by_one_and_is_not_asked_again() {
    let harness = Harness::start().await;
    let (client, _) = harness.client().await;
    harness.fault("not_found", 1, Some("/composite")).await;
    let query = |id: &str, soql: &str| CompositeQuery {
        reference_id: id.to_owned(),
        soql: soql.to_owned(),
        options: QueryOptions::default(),
    };
    let queries = [
        query("accounts", "SELECT Id FROM Account LIMIT 3"),
        query("broken", "SELECT Nope__c FROM Account"),
    ];

    for _ in 0..2 {
        let results = client.fetch_composite_queries(&queries).await.unwrap();
        assert_eq!(results[0].reference_id, "accounts");
        assert_eq!(results[0].page.as_ref().unwrap().records.len(), 3);
        assert_eq!(
            results[1].page.as_ref().unwrap_err().invalid_field(),
            Some("Nope__c"),
            "a query's own failure stays its result"
        );
    }
    let counters = harness
        .control(
            "GET",
            &format!("orgs/{}/counters", harness.org.org_id),
            serde_json::json!({}),
        )
        .await;
    // The fault answered the one composite request uncounted; a second request would have
    // been served, and counted.
    assert!(
        counters["per_endpoint"]["composite"].is_null(),
        "asked again: {counters}"
    );
    assert_eq!(counters["per_endpoint"]["query"], 4, "{counters}");
}

#[tokio::test]
async fn soql_too_long_for_a_url_is_sent_in_a_composite_body() {
    let harness = Harness::start().await;
    let (client, _) = harness.client().await;
    let wanted: Vec<String> =
        ids(&all_pages(&client, "SELECT Id FROM Account", QueryOptions::default()).await)
            .into_iter()
            .take(5)
            .collect();
    // Padding with names that match nothing pushes the statement past the URL limit.
    let wanted_list: Vec<String> = wanted.iter().map(|id| format!("'{id}'")).collect();
    let padding: Vec<String> = (0..1200)
        .map(|i| format!("'no such name {i:04}'"))
        .collect();
    let soql = format!(
        "SELECT Id FROM Account WHERE Id IN ({}) AND Name NOT IN ({})",
        wanted_list.join(", "),
        padding.join(", ")
    );
    assert!(soql.len() > sfsync_salesforce::query::MAX_URI_BYTES);

    let pages = all_pages(&client, &soql, QueryOptions::default()).await;
    assert_eq!(ids(&pages), wanted.into_iter().collect());
}

#[tokio::test]
async fn describe_honours_if_modified_since() {
    let harness = Harness::start().await;
    let (client, _) = harness.client().await;
    let Conditional::Modified { value: account, .. } =
        client.fetch_describe("Account", None).await.unwrap()
    else {
        panic!("an unconditional describe returns the describe");
    };
    assert!(
        account
            .field("SystemModstamp")
            .is_some_and(|f| f.filterable)
    );
    let later = OffsetDateTime::now_utc() + Duration::from_secs(86_400);
    assert_eq!(
        client.fetch_describe("Account", Some(later)).await.unwrap(),
        Conditional::NotModified
    );
}

#[tokio::test]
async fn describe_global_lists_the_queryable_objects() {
    let harness = Harness::start().await;
    let (client, _) = harness.client().await;
    let global = client
        .fetch_describe_global(None)
        .await
        .unwrap()
        .modified()
        .unwrap();
    assert!(
        global
            .sobjects
            .iter()
            .any(|o| o.name == "Account" && o.queryable)
    );
}

#[tokio::test]
async fn describe_global_honours_if_modified_since() {
    let harness = Harness::start().await;
    let (client, _) = harness.client().await;
    let later = OffsetDateTime::now_utc() + Duration::from_secs(86_400);
    assert_eq!(
        client.fetch_describe_global(Some(later)).await.unwrap(),
        Conditional::NotModified
    );
}

#[tokio::test]
async fn get_updated_and_get_deleted_report_recent_changes() {
    let harness = Harness::start().await;
    let (client, _) = harness.client().await;
    let org = harness.org.org_id.clone();
    let create = |name: &'static str| {
        let body = serde_json::json!({ "fields": { "Name": name } });
        let harness = &harness;
        let path = format!("orgs/{org}/sobjects/Account");
        async move {
            let created = harness.control_post(&path, body).await;
            created["id"]
                .as_str()
                .or_else(|| created["Id"].as_str())
                .expect("the create returns an id")
                .to_owned()
        }
    };
    let kept = create("Kept Co").await;
    let gone = create("Gone Co").await;
    harness
        .control(
            "DELETE",
            &format!("orgs/{org}/sobjects/Account/{gone}"),
            serde_json::json!({}),
        )
        .await;
    // getUpdated/getDeleted truncate to the minute and cover only the past: let a minute pass.
    harness
        .control_post("clock/advance", serde_json::json!({ "seconds": 120 }))
        .await;

    let end = OffsetDateTime::now_utc() + Duration::from_secs(600);
    let start = end - Duration::from_secs(86_400);
    let updated = client.fetch_updated("Account", start, end).await.unwrap();
    assert!(updated.latest_date_covered <= end);
    assert!(updated.ids.contains(&kept), "{updated:?}");
    let deleted = client.fetch_deleted("Account", start, end).await.unwrap();
    assert!(
        deleted.deleted_records.iter().any(|d| d.id == gone),
        "{deleted:?}"
    );
}

#[tokio::test]
async fn bulk_query_streams_csv_pages_and_checks_their_counts() {
    let harness = Harness::start_with(SimulatorConfig {
        auto_approve: true,
        ..SimulatorConfig::default()
    })
    .await;
    let (client, _) = harness.client().await;
    let live = ids(&all_pages(&client, "SELECT Id FROM Account", QueryOptions::default()).await);
    let options = BulkQueryOptions {
        max_records: 64,
        poll_initial: Duration::from_millis(20),
        poll_max: Duration::from_millis(100),
        ..BulkQueryOptions::default()
    };
    let pages: Vec<_> = client
        .bulk_query("SELECT Id, Name, Owner.Name FROM Account", options)
        .try_collect()
        .await
        .expect("the bulk query completes");
    assert!(pages.len() > 1, "results arrive in pages of 64");
    let bulk: HashSet<String> = pages
        .iter()
        .flat_map(|p| &p.records)
        .map(|r| r.id().unwrap().to_owned())
        .collect();
    assert_eq!(bulk, live);
    assert_eq!(pages[0].columns, ["Id", "Name", "Owner.Name"]);
}
