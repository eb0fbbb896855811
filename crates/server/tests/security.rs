//! What an attacker or a curious neighbour tries: forged, missing and replayed OAuth
//! `state`, a callback in another session, a member acting as an admin, one organization
//! reading another's data through every route, forms without CSRF proof, cookie flags, and
//! a sealed token moved to another connection.

mod support;

use serde_json::Value;
use sfsync_store::Store;
use support::{Browser, Stack, location};
use url::Url;

fn problem_of(landed: &str) -> &str {
    landed.split("problem=").nth(1).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_or_missing_state_connects_nothing_and_says_why() {
    let stack = Stack::start().await;
    let (acme, admin) = stack.organization("acme").await;
    let browser = stack.sign_in(&admin).await;
    let callback = stack.authorize(&browser).await;
    let code = Url::parse(&callback).unwrap();
    let code = code.query_pairs().find(|(k, _)| k == "code").unwrap().1;

    let forged = stack.url(&format!(
        "/oauth/callback?code={code}&state=forged-by-an-attacker"
    ));
    let missing = stack.url(&format!("/oauth/callback?code={code}"));
    for url in [forged, missing] {
        let landed = stack.visit_callback(&browser, &url).await;
        assert_eq!(problem_of(&landed), "state_unknown", "{url}");
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
async fn a_replayed_callback_is_refused_and_leaves_the_first_connection_alone() {
    let stack = Stack::start().await;
    let (acme, admin) = stack.organization("acme").await;
    let browser = stack.sign_in(&admin).await;
    let callback = stack.authorize(&browser).await;
    let first = stack.visit_callback(&browser, &callback).await;
    assert!(first.ends_with("notice=connected"), "{first}");
    let connected = stack.store.load_connection(acme.id).await.unwrap().unwrap();

    let replay = stack.visit_callback(&browser, &callback).await;
    assert_eq!(problem_of(&replay), "state_unknown");
    let after = stack.store.load_connection(acme.id).await.unwrap().unwrap();
    assert_eq!(after, connected, "the replay changed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_completed_in_another_browser_session_is_refused() {
    let stack = Stack::start().await;
    let (acme, admin) = stack.organization("acme").await;
    let started_here = stack.sign_in(&admin).await;
    let elsewhere = stack.sign_in(&admin).await;
    let callback = stack.authorize(&started_here).await;

    let landed = stack.visit_callback(&elsewhere, &callback).await;
    assert_eq!(problem_of(&landed), "state_other_session");
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
async fn a_member_can_neither_connect_nor_change_anything() {
    let stack = Stack::start().await;
    let (acme, admin) = stack.organization("acme").await;
    let member = stack.member(&acme).await;
    let browser = stack.sign_in(&member).await;
    let page = stack.page(&browser).await;
    assert!(
        !page.contains("data-testid=\"connect\""),
        "members see no Connect button"
    );

    let form = [
        ("csrf", browser.csrf.as_str()),
        ("environment", "production"),
    ];
    let response = stack
        .post_form(&browser, "/settings/integrations/salesforce/connect", &form)
        .await;
    assert!(location(&response).ends_with("problem=not_admin"));

    let token = stack.api_token(&member).await;
    let connect = stack
        .http
        .post(stack.url("/api/v1/integrations/salesforce/connect"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"environment": "production"}))
        .send()
        .await
        .unwrap();
    assert_eq!(connect.status(), 403);

    // Once an admin connected, the member still cannot disconnect, sync or change settings.
    let admin_browser = stack.sign_in(&admin).await;
    stack.connect(&admin_browser, &acme).await;
    for (method, path) in [
        (reqwest::Method::DELETE, "/api/v1/integrations/salesforce"),
        (reqwest::Method::POST, "/api/v1/sync"),
        (reqwest::Method::GET, "/api/v1/audit"),
    ] {
        let response = stack
            .http
            .request(method, stack.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }
    let settings = stack
        .http
        .put(stack.url("/api/v1/settings"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"polling_interval_secs": 60, "budget_share_percent": 90}))
        .send()
        .await
        .unwrap();
    assert_eq!(settings.status(), 403);
    let form = [("csrf", browser.csrf.as_str()), ("data", "delete")];
    let response = stack
        .post_form(
            &browser,
            "/settings/integrations/salesforce/disconnect",
            &form,
        )
        .await;
    assert!(location(&response).ends_with("problem=not_admin"));
    let connection = stack.store.load_connection(acme.id).await.unwrap().unwrap();
    assert_eq!(connection.status, sfsync_store::ConnectionStatus::Active);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_organization_never_sees_another_through_any_route() {
    let stack = Stack::start().await;
    let (acme, acme_admin) = stack.organization("acme").await;
    let (_, globex_admin) = stack.organization("globex").await;
    let acme_browser = stack.sign_in(&acme_admin).await;
    stack.connect(&acme_browser, &acme).await;
    let connection = stack.store.load_connection(acme.id).await.unwrap().unwrap();
    let account = sfsync_core::ObjectName::parse("Account").unwrap();
    let all = sfsync_store::IdRange::default();
    let ids = stack
        .store
        .load_snapshot_ids(connection.id, &account, &all, 1)
        .await;
    let record = ids.unwrap().pop().expect("an Account was loaded");
    let username = connection.details.salesforce_username.clone();

    let token = stack.api_token(&globex_admin).await;
    let get = |path: String| {
        let request = stack.http.get(stack.url(&path)).bearer_auth(&token);
        async move { request.send().await.unwrap() }
    };
    let status: Value = get("/api/v1/integrations/salesforce".into())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "not_connected");
    let changes: Value = get("/api/v1/changes".into()).await.json().await.unwrap();
    assert_eq!(changes["changes"], serde_json::json!([]));
    let objects: Value = get("/api/v1/objects".into()).await.json().await.unwrap();
    assert_eq!(objects["objects"], serde_json::json!([]));
    let audit: Value = get("/api/v1/audit".into()).await.json().await.unwrap();
    assert_eq!(audit["audit"], serde_json::json!([]));
    let record = get(format!("/api/v1/records/Account/{record}")).await;
    assert_eq!(
        record.status(),
        409,
        "globex has no connection to read records from"
    );

    let globex_browser = stack.sign_in(&globex_admin).await;
    for path in [
        "/settings/integrations",
        "/settings/integrations/salesforce/status",
    ] {
        let body = stack.get(&globex_browser, path).await.text().await.unwrap();
        assert!(
            !body.contains(&username),
            "{path} shows acme's Salesforce user"
        );
    }

    // Acme's own token sees what globex could not.
    let acme_token = stack.api_token(&acme_admin).await;
    let acme_status: Value = stack
        .http
        .get(stack.url("/api/v1/integrations/salesforce"))
        .bearer_auth(&acme_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(acme_status["salesforce_username"], username.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_the_sessions_csrf_proof_is_refused() {
    let stack = Stack::start().await;
    let (acme, admin) = stack.organization("acme").await;
    let browser = stack.sign_in(&admin).await;
    stack.connect(&browser, &acme).await;
    let other = stack.sign_in(&admin).await;

    let forms: [(&str, Vec<(&str, &str)>); 5] = [
        (
            "/settings/integrations/salesforce/connect",
            vec![("environment", "production")],
        ),
        (
            "/settings/integrations/salesforce/disconnect",
            vec![("data", "delete")],
        ),
        ("/settings/integrations/salesforce/sync", vec![]),
        (
            "/settings/integrations/salesforce/settings",
            vec![
                ("polling_interval_minutes", "1"),
                ("budget_share_percent", "100"),
            ],
        ),
        ("/signout", vec![]),
    ];
    for (path, fields) in &forms {
        let without = stack.post_form(&browser, path, fields).await;
        assert_eq!(without.status(), 403, "{path} without a proof");
        let mut wrong = fields.clone();
        wrong.push(("csrf", other.csrf.as_str()));
        let response = stack.post_form(&browser, path, &wrong).await;
        assert_eq!(
            response.status(),
            403,
            "{path} with another session's proof"
        );
    }
    let connection = stack.store.load_connection(acme.id).await.unwrap().unwrap();
    assert_eq!(connection.status, sfsync_store::ConnectionStatus::Active);
    let settings = stack
        .store
        .load_connection_settings(connection.id)
        .await
        .unwrap();
    assert_eq!(settings, sfsync_store::ConnectionSettings::default());
    assert_eq!(
        stack.get(&browser, "/settings/integrations").await.status(),
        200,
        "still signed in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cookie_is_http_only_same_site_and_secure_behind_https() {
    for (public_url, secure) in [(None, false), (Some("https://sfsync.example.com/"), true)] {
        let stack = Stack::start_with(public_url.map(|u| Url::parse(u).unwrap())).await;
        let (_, admin) = stack.organization("acme").await;
        let code = stack.sign_in_code(&admin).await;
        let response = stack
            .http
            .post(stack.url("/signin"))
            .form(&[("code", code.as_str())])
            .send()
            .await
            .unwrap();
        let cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(cookie.starts_with("sfsync_session="), "{cookie}");
        assert!(cookie.contains("HttpOnly"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"), "{cookie}");
        assert_eq!(cookie.contains("Secure"), secure, "{cookie}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_link_works_once_and_a_bad_bearer_token_gets_nothing() {
    let stack = Stack::start().await;
    let (_, admin) = stack.organization("acme").await;
    let code = stack.sign_in_code(&admin).await;
    let sign_in = || {
        stack
            .http
            .post(stack.url("/signin"))
            .form(&[("code", code.as_str())])
            .send()
    };
    assert_eq!(sign_in().await.unwrap().status(), 303);
    assert_eq!(
        sign_in().await.unwrap().status(),
        401,
        "a used link is refused"
    );

    let anonymous = stack
        .http
        .get(stack.url("/api/v1/changes"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let forged = stack
        .http
        .get(stack.url("/api/v1/changes"))
        .bearer_auth("sfs_not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let page = stack
        .get(
            &Browser {
                cookie: "sfsync_session=forged".into(),
                csrf: String::new(),
            },
            "/settings/integrations",
        )
        .await;
    assert_eq!(page.status(), 303, "a forged cookie is sent to sign in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_token_moved_to_another_connection_fails_to_open() {
    let stack = Stack::start().await;
    let (acme, acme_admin) = stack.organization("acme").await;
    let (globex, globex_admin) = stack.organization("globex").await;
    for (organization, admin) in [(&acme, &acme_admin), (&globex, &globex_admin)] {
        let browser = stack.sign_in(admin).await;
        stack.connect(&browser, organization).await;
    }
    let store: &dyn Store = stack.store.as_ref();
    let acme_connection = store.load_connection(acme.id).await.unwrap().unwrap();
    let globex_connection = store.load_connection(globex.id).await.unwrap().unwrap();
    let acme_sealed = store
        .load_sealed_tokens(acme_connection.id)
        .await
        .unwrap()
        .unwrap();

    store
        .save_sealed_tokens(globex_connection.id, &acme_sealed)
        .await
        .unwrap();
    let opened = sfsync_engine::tokens::load_tokens(store, &stack.ring, globex_connection.id).await;
    let err = opened.unwrap_err().to_string();
    assert!(err.contains("another connection"), "{err}");
    assert!(
        sfsync_engine::tokens::load_tokens(store, &stack.ring, acme_connection.id)
            .await
            .is_ok(),
        "in its own place it still opens"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_shows_only_messages_the_service_wrote_for_this_session() {
    let stack = Stack::start().await;
    let (acme, admin) = stack.organization("acme").await;
    let browser = stack.sign_in(&admin).await;
    stack.connect(&browser, &acme).await;

    // A real refusal carries its proof and shows.
    let form = [
        ("csrf", browser.csrf.as_str()),
        ("polling_interval_minutes", "15"),
        ("budget_share_percent", "40"),
        ("custom_objects", "Nope__c"),
    ];
    let response = stack
        .post_form(
            &browser,
            "/settings/integrations/salesforce/settings",
            &form,
        )
        .await;
    let landed = location(&response);
    let page = stack.get(&browser, &landed).await.text().await.unwrap();
    assert!(page.contains("Nope__c"), "the refusal names the object");

    // A crafted link shows nothing, nor does the real one in another session.
    let crafted = "/settings/integrations?error=Call+%2B1+555+0100+to+restore+access&proof=x";
    let page = stack.get(&browser, crafted).await.text().await.unwrap();
    assert!(!page.contains("555"), "a crafted message must not show");
    let other = stack.sign_in(&admin).await;
    let page = stack.get(&other, &landed).await.text().await.unwrap();
    assert!(
        !page.contains("Nope__c"),
        "another session's message must not show"
    );
}
