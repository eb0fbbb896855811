//! The service's flows end to end against the simulator: connecting to each environment,
//! every explained callback failure, disconnecting, re-authorization, settings, the change
//! API, metrics and the OpenAPI document.

mod support;

use serde_json::{Value, json};
use sfsync_store::{ConnectionStatus, Store};
use support::{Stack, eventually, location};

/// GET an API route with a bearer token, as JSON.
async fn api_get(stack: &Stack, token: &str, path: &str) -> Value {
    let response = stack
        .http
        .get(stack.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// The simulator's control API of its default org.
fn control(stack: &Stack, path: &str) -> String {
    format!("{}/__sim/v1/orgs/default{path}", stack.sim.url())
}

fn problem_of(landed: &str) -> &str {
    landed.split("problem=").nth(1).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_records_who_connected_which_instance_and_when() {
    let stack = Stack::start().await;
    let (acme, admin) = stack.organization("acme").await;
    let browser = stack.sign_in(&admin).await;
    let before = sfsync_server::auth::now_ms();
    stack.connect(&browser, &acme).await;
    let token = stack.api_token(&admin).await;

    let status = api_get(&stack, &token, "/api/v1/integrations/salesforce").await;
    assert_eq!(status["status"], "connected");
    assert_eq!(status["environment"], "production");
    assert_eq!(status["connected_by"], "admin@acme.example");
    assert_eq!(
        status["salesforce_username"],
        stack.sim.default_org().username.as_str()
    );
    assert_eq!(
        status["salesforce_org_id"],
        stack.sim.default_org().org_id.as_str()
    );
    assert!(
        status["instance_url"]
            .as_str()
            .unwrap()
            .starts_with(stack.sim.url())
    );
    let at = sfsync_core::parse_datetime(status["connected_at"].as_str().unwrap()).unwrap();
    assert!(at >= before - 1000, "connected_at is now");

    let page = stack.page(&browser).await;
    assert!(page.contains("data-status=\"connected\""));
    assert!(page.contains("<dd data-testid=\"environment\">Production</dd>"));
    let audit = api_get(&stack, &token, "/api/v1/audit").await;
    assert_eq!(audit["audit"][0]["action"], "connected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_connects_a_sandbox_and_refuses_a_bad_my_domain() {
    let stack = Stack::start().await;
    let (acme, admin) = stack.organization("acme").await;
    let token = stack.api_token(&admin).await;
    let connect = |body: Value| {
        let request = stack
            .http
            .post(stack.url("/api/v1/integrations/salesforce/connect"));
        request.bearer_auth(&token).json(&body).send()
    };

    for (login_url, named) in [
        ("http://login.example.com", "login_url"),
        ("https://acme.my.salesforce.com/?x=1", "login_url"),
    ] {
        let refused = connect(json!({"environment": "custom", "login_url": login_url}))
            .await
            .unwrap();
        assert_eq!(refused.status(), 400);
        let body: Value = refused.json().await.unwrap();
        assert!(
            body["error"]["message"].as_str().unwrap().contains(named),
            "{body}"
        );
    }
    let unknown = connect(json!({"environment": "staging"})).await.unwrap();
    assert_eq!(unknown.status(), 400);

    let started: Value = connect(json!({"environment": "sandbox"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let authorize = started["authorize_url"].as_str().unwrap();
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    assert!(
        authorize.contains("scope=api+refresh_token+offline_access"),
        "{authorize}"
    );
    let approved = stack.http.get(authorize).send().await.unwrap();
    // Started by a script, the authorization is bound to no browser session.
    let callback = stack.http.get(location(&approved)).send().await.unwrap();
    assert!(location(&callback).ends_with("notice=connected"));
    stack.wait_for_records(&acme).await;
    let status = api_get(&stack, &token, "/api/v1/integrations/salesforce").await;
    assert_eq!(status["environment"], "sandbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_the_user_may_not_approve_gets_the_permission_set_steps() {
    let stack = Stack::start().await;
    let (acme, admin) = stack.organization("acme").await;
    let settings = json!({"approval_required": true});
    stack
        .http
        .put(control(&stack, "/settings"))
        .json(&settings)
        .send()
        .await
        .unwrap();
    let browser = stack.sign_in(&admin).await;
    let callback = stack.authorize(&browser).await;
    assert!(callback.contains("error=invalid_client"), "{callback}");

    let landed = stack.visit_callback(&browser, &callback).await;
    assert_eq!(problem_of(&landed), "approval_required");
    let page = stack.get(&browser, &landed).await.text().await.unwrap();
    assert!(page.contains("data-problem=\"approval_required\""));
    for step in [
        "Approve Uninstalled Connected Apps",
        "Permission Sets",
        "Manage Assignments",
        "delete the permission set",
    ] {
        assert!(page.contains(step), "the guidance names {step:?}");
    }
    assert!(
        stack
            .store
            .load_connection(acme.id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_authorization_and_an_expired_code_are_explained() {
    let stack = Stack::start().await;
    let (acme, admin) = stack.organization("acme").await;
    let browser = stack.sign_in(&admin).await;

    // Salesforce's answer when the user presses Deny, for the state sfsync sent.
    let callback = stack.authorize(&browser).await;
    let state = url::Url::parse(&callback).unwrap();
    let state = state
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let denied = stack.url(&format!(
        "/oauth/callback?error=access_denied\
         &error_description=end-user+denied+authorization&state={state}"
    ));
    assert_eq!(
        problem_of(&stack.visit_callback(&browser, &denied).await),
        "denied"
    );

    // Codes last 15 minutes at Salesforce.
    let callback = stack.authorize(&browser).await;
    let advance = json!({"seconds": 16 * 60});
    let clock = format!("{}/__sim/v1/clock/advance", stack.sim.url());
    stack.http.post(clock).json(&advance).send().await.unwrap();
    assert_eq!(
        problem_of(&stack.visit_callback(&browser, &callback).await),
        "code_expired"
    );
    assert!(
        stack
            .store
            .load_connection(acme.id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_revokes_the_token_and_keeps_or_deletes_the_data_as_chosen() {
    for data in ["keep", "delete"] {
        let stack = Stack::start().await;
        let (acme, admin) = stack.organization("acme").await;
        let browser = stack.sign_in(&admin).await;
        stack.connect(&browser, &acme).await;
        let connection = stack.store.load_connection(acme.id).await.unwrap().unwrap();
        let tokens =
            sfsync_engine::tokens::load_tokens(stack.store.as_ref(), &stack.ring, connection.id);
        let refresh = tokens.await.unwrap().tokens.refresh_token;

        let form = [("csrf", browser.csrf.as_str()), ("data", data)];
        let response = stack
            .post_form(
                &browser,
                "/settings/integrations/salesforce/disconnect",
                &form,
            )
            .await;
        assert!(
            location(&response).ends_with("notice=disconnected"),
            "{data}"
        );

        let after = stack.store.load_connection(acme.id).await.unwrap().unwrap();
        assert_eq!(after.status, ConnectionStatus::Disconnected);
        assert!(
            stack
                .store
                .load_sealed_tokens(connection.id)
                .await
                .unwrap()
                .is_none()
        );
        let held: u64 = stack
            .store
            .count_snapshots(connection.id)
            .await
            .unwrap()
            .values()
            .sum();
        assert_eq!(held > 0, data == "keep", "{data}: {held} snapshots held");
        let refused = stack
            .http
            .post(format!("{}/services/oauth2/token", stack.sim.url()))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.expose()),
                ("client_id", sfsync_simulator::DEFAULT_CLIENT_ID),
                ("client_secret", sfsync_simulator::DEFAULT_CLIENT_SECRET),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            refused.status(),
            400,
            "the refresh token was revoked at Salesforce"
        );
        let page = stack.page(&browser).await;
        assert!(page.contains("data-status=\"disconnected\""));
        assert!(
            page.contains("data-testid=\"connect\""),
            "Connect is offered again"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_that_stops_working_shows_needs_reauthorization() {
    let stack = Stack::start().await;
    let (acme, admin) = stack.organization("acme").await;
    let browser = stack.sign_in(&admin).await;
    stack.connect(&browser, &acme).await;
    let connection = stack.store.load_connection(acme.id).await.unwrap().unwrap();
    let tokens =
        sfsync_engine::tokens::load_tokens(stack.store.as_ref(), &stack.ring, connection.id);
    let refresh = tokens.await.unwrap().tokens.refresh_token;

    // Someone revokes sfsync in Salesforce's Setup, and the session ends.
    let revoke = format!("{}/services/oauth2/revoke", stack.sim.url());
    stack
        .http
        .post(revoke)
        .form(&[("token", refresh.expose())])
        .send()
        .await
        .unwrap();
    let fault = json!({"kind": "expire_sessions"});
    stack
        .http
        .post(control(&stack, "/faults"))
        .json(&fault)
        .send()
        .await
        .unwrap();
    let form = [("csrf", browser.csrf.as_str())];
    stack
        .post_form(&browser, "/settings/integrations/salesforce/sync", &form)
        .await;

    eventually("the connection marked for re-authorization", || async {
        let connection = stack.store.load_connection(acme.id).await.unwrap().unwrap();
        (connection.status == ConnectionStatus::NeedsReauthorization).then_some(())
    })
    .await;
    let page = stack.page(&browser).await;
    assert!(page.contains("data-status=\"needs_reauthorization\""));
    assert!(page.contains("Needs re-authorization"));
    assert!(page.contains(">Reconnect</button>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_and_object_selection_are_checked_then_saved() {
    let stack = Stack::start().await;
    let (acme, admin) = stack.organization("acme").await;
    let browser = stack.sign_in(&admin).await;
    stack.connect(&browser, &acme).await;
    let token = stack.api_token(&admin).await;
    let put = |path: &'static str, body: Value| {
        stack
            .http
            .put(stack.url(path))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };

    let too_fast = put(
        "/api/v1/settings",
        json!({"polling_interval_secs": 5, "budget_share_percent": 50}),
    );
    let body: Value = too_fast.await.unwrap().json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("polling_interval_secs")
    );
    let greedy = put(
        "/api/v1/settings",
        json!({"polling_interval_secs": 600, "budget_share_percent": 0}),
    );
    assert_eq!(greedy.await.unwrap().status(), 400);
    let saved = put(
        "/api/v1/settings",
        json!({"polling_interval_secs": 600, "budget_share_percent": 25}),
    );
    assert_eq!(saved.await.unwrap().status(), 200);
    let settings = api_get(&stack, &token, "/api/v1/settings").await;
    assert_eq!(
        settings,
        json!({"polling_interval_secs": 600, "budget_share_percent": 25})
    );

    let unknown = put(
        "/api/v1/objects",
        json!({"objects": ["Account", "Nope__c"]}),
    );
    let body: Value = unknown.await.unwrap().json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Nope__c"),
        "{body}"
    );

    // The card's form: two standard objects kept, a custom one added by name.
    let form = [
        ("csrf", browser.csrf.as_str()),
        ("polling_interval_minutes", "15"),
        ("budget_share_percent", "40"),
        ("object", "Account"),
        ("object", "Contact"),
        ("custom_objects", "Invoice__c"),
    ];
    let response = stack
        .post_form(
            &browser,
            "/settings/integrations/salesforce/settings",
            &form,
        )
        .await;
    assert!(
        location(&response).ends_with("notice=settings_saved"),
        "{}",
        location(&response)
    );
    let objects = api_get(&stack, &token, "/api/v1/objects").await;
    let selected: Vec<&str> = objects["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["selected"] == true)
        .map(|o| o["object"].as_str().unwrap())
        .collect();
    assert_eq!(selected, ["Account", "Contact", "Invoice__c"]);
    let settings = api_get(&stack, &token, "/api/v1/settings").await;
    assert_eq!(
        settings,
        json!({"polling_interval_secs": 900, "budget_share_percent": 40})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_salesforce_reaches_the_change_api_and_the_record_view() {
    let stack = Stack::start().await;
    let (acme, admin) = stack.organization("acme").await;
    let browser = stack.sign_in(&admin).await;
    stack.connect(&browser, &acme).await;
    let token = stack.api_token(&admin).await;
    let connection = stack.store.load_connection(acme.id).await.unwrap().unwrap();
    let account = sfsync_core::ObjectName::parse("Account").unwrap();
    let all = sfsync_store::IdRange::default();
    let id = stack
        .store
        .load_snapshot_ids(connection.id, &account, &all, 1)
        .await
        .unwrap()[0]
        .clone();

    let update = json!({"fields": {"Name": "Renamed by the test"}});
    let patch = stack
        .http
        .patch(control(&stack, &format!("/sobjects/Account/{id}")));
    assert!(
        patch
            .json(&update)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    // sfsync reads up to a little behind Salesforce's clock, where commits have settled.
    let clock = format!("{}/__sim/v1/clock/advance", stack.sim.url());
    stack
        .http
        .post(clock)
        .json(&json!({"seconds": 3}))
        .send()
        .await
        .unwrap();
    let sync = stack
        .http
        .post(stack.url("/api/v1/sync"))
        .bearer_auth(&token)
        .send();
    assert_eq!(sync.await.unwrap().status(), 200);

    let changes = eventually("the change's arrival", || async {
        let page = api_get(&stack, &token, "/api/v1/changes?limit=10").await;
        (!page["changes"].as_array().unwrap().is_empty()).then_some(page)
    })
    .await;
    let event = &changes["changes"][0];
    assert_eq!(event["organization"], "acme");
    assert_eq!(event["object"], "Account");
    assert_eq!(event["record_id"], id.as_str());
    assert_eq!(event["kind"], "updated");
    assert_eq!(event["fields"]["Name"]["new"], "Renamed by the test");
    let after = changes["next_cursor"].as_str().unwrap();
    let rest = api_get(&stack, &token, &format!("/api/v1/changes?after={after}")).await;
    assert_eq!(rest["changes"], json!([]), "nothing after the last cursor");
    let bad = stack
        .http
        .get(stack.url("/api/v1/changes?after=abc"))
        .bearer_auth(&token)
        .send();
    assert_eq!(bad.await.unwrap().status(), 400);

    let record = api_get(&stack, &token, &format!("/api/v1/records/Account/{id}")).await;
    assert_eq!(record["fields"]["Name"], "Renamed by the test");
    assert_eq!(record["changes"][0]["kind"], "updated");
    let page = stack.page(&browser).await;
    assert!(
        page.contains("Renamed by the test"),
        "the card lists the change"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_the_openapi_document_are_served() {
    let stack = Stack::start().await;
    let (acme, admin) = stack.organization("acme").await;
    let browser = stack.sign_in(&admin).await;
    stack.connect(&browser, &acme).await;

    let health = stack.http.get(stack.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let metrics = eventually("a tick counted in /metrics", || async {
        let response = stack.http.get(stack.url("/metrics")).send().await.unwrap();
        let text = response.text().await.unwrap();
        let counted = "sfsync_records_read_total{organization=\"acme\",object=\"Account\"}";
        text.contains(counted).then_some(text)
    })
    .await;
    for name in [
        "sfsync_api_calls_total{organization=\"acme\"}",
        "sfsync_lag_seconds{organization=\"acme\",object=\"Account\"}",
        "sfsync_run_errors_total",
        "sfsync_change_events_total",
    ] {
        assert!(metrics.contains(name), "{name} in\n{metrics}");
    }

    let openapi: Value = stack
        .http
        .get(stack.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/v1/integrations/salesforce",
        "/api/v1/integrations/salesforce/connect",
        "/api/v1/changes",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path}");
    }
    assert!(openapi["paths"]["/api/v1/integrations/salesforce"]["delete"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_page_after_connect_lists_the_objects_and_refuses_an_empty_selection() {
    let stack = Stack::start().await;
    let (acme, admin) = stack.organization("acme").await;
    let browser = stack.sign_in(&admin).await;
    let callback = stack.authorize(&browser).await;
    let landed = stack.visit_callback(&browser, &callback).await;

    // Straight from the callback, before any tick: the default objects are already there.
    let page = stack.get(&browser, &landed).await.text().await.unwrap();
    for object in ["Account", "Case", "Contact", "Opportunity"] {
        let checkbox = format!("name=\"object\" value=\"{object}\" checked");
        assert!(page.contains(&checkbox), "{object} is offered, selected");
    }

    let form = [
        ("csrf", browser.csrf.as_str()),
        ("polling_interval_minutes", "5"),
        ("budget_share_percent", "50"),
    ];
    let response = stack
        .post_form(
            &browser,
            "/settings/integrations/salesforce/settings",
            &form,
        )
        .await;
    assert!(
        location(&response).contains("select+at+least+one+object"),
        "{}",
        location(&response)
    );
    let connection = stack.store.load_connection(acme.id).await.unwrap().unwrap();
    let selected = stack.store.load_object_states(connection.id).await.unwrap();
    assert_eq!(
        selected.iter().filter(|s| s.selected).count(),
        4,
        "the selection stands"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnecting_to_another_salesforce_org_starts_from_that_orgs_records() {
    let stack = Stack::start().await;
    let (acme, admin) = stack.organization("acme").await;
    let browser = stack.sign_in(&admin).await;
    stack.connect(&browser, &acme).await;
    let form = [("csrf", browser.csrf.as_str()), ("data", "keep")];
    stack
        .post_form(
            &browser,
            "/settings/integrations/salesforce/disconnect",
            &form,
        )
        .await;

    // A second org, with counts unlike the first's; its user logs in this time.
    let body = json!({
        "seed": 9, "accounts": 3, "contacts": 4, "opportunities": 2, "cases": 1, "invoices": 0
    });
    let created = stack
        .http
        .post(format!("{}/__sim/v1/orgs", stack.sim.url()))
        .json(&body)
        .send();
    let other: Value = created.await.unwrap().json().await.unwrap();
    let form = [
        ("csrf", browser.csrf.as_str()),
        ("environment", "production"),
    ];
    let response = stack
        .post_form(&browser, "/settings/integrations/salesforce/connect", &form)
        .await;
    let authorize = format!(
        "{}&login_hint={}",
        location(&response),
        other["username"].as_str().unwrap()
    );
    let approved = stack.http.get(&authorize).send().await.unwrap();
    let landed = stack.visit_callback(&browser, &location(&approved)).await;
    assert!(landed.ends_with("notice=connected"), "{landed}");

    let connection = stack.store.load_connection(acme.id).await.unwrap().unwrap();
    assert_eq!(
        connection.details.salesforce_org_id,
        other["org_id"].as_str().unwrap()
    );
    let counts = eventually("the other org's initial load", || async {
        let counts = stack.store.count_snapshots(connection.id).await.unwrap();
        (counts.values().sum::<u64>() == 10).then_some(counts)
    })
    .await;
    let account = sfsync_core::ObjectName::parse("Account").unwrap();
    assert_eq!(counts[&account], 3, "only the new org's Accounts are held");
    let token = stack.api_token(&admin).await;
    let audit = api_get(&stack, &token, "/api/v1/audit").await;
    let actions: Vec<&str> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"data_deleted"), "{actions:?}");
}
