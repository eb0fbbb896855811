//! OAuth 2.0 as Salesforce runs it, checked over HTTP with a raw client.

mod support;

use base64::Engine;
use hmac::{KeyInit, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sfsync_simulator::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use sha2::Digest;
use support::{Org, small};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn authorize(
    org: &Org,
    verifier: &str,
    decision: &str,
) -> std::collections::HashMap<String, String> {
    let params = [
        ("response_type", "code"),
        ("client_id", DEFAULT_CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("state", "st4te"),
        ("scope", "api refresh_token offline_access"),
        ("code_challenge", &challenge(verifier)),
        ("code_challenge_method", "S256"),
    ];
    let page = org
        .http
        .get(org.url("/services/oauth2/authorize"))
        .query(&params)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("id=\"allow\""));
    let mut form: Vec<(&str, &str)> = params.to_vec();
    let username = org.sim.default_org().username;
    form.push(("username", &username));
    form.push(("decision", decision));
    let response = org
        .http
        .post(org.url("/services/oauth2/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303, "the form redirects back to the app");
    query_of(response.headers()["location"].to_str().unwrap())
}

async fn exchange(org: &Org, code: &str, verifier: Option<&str>) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", DEFAULT_CLIENT_SECRET),
        ("redirect_uri", REDIRECT),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    let response = org
        .http
        .post(org.url("/services/oauth2/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

async fn refresh(org: &Org, token: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", token),
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", DEFAULT_CLIENT_SECRET),
    ];
    let response = org
        .http
        .post(org.url("/services/oauth2/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn web_server_flow_with_pkce_issues_signed_tokens_without_expires_in() {
    let org = Org::start(small()).await;
    let verifier = "a-long-random-verifier-string-of-forty-three-chars";
    let callback = authorize(&org, verifier, "allow").await;
    assert_eq!(callback["state"], "st4te");
    let code = &callback["code"];

    let (status, body) = exchange(&org, code, Some(verifier)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("expires_in").is_none());
    assert_eq!(body["instance_url"], org.sim.url());
    let issued_at = body["issued_at"].as_str().unwrap();
    assert_eq!(issued_at.len(), 13, "milliseconds, as a string");
    let id = body["id"].as_str().unwrap();
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(DEFAULT_CLIENT_SECRET.as_bytes()).unwrap();
    mac.update(format!("{id}{issued_at}").as_bytes());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(body["signature"], expected);
    let access = body["access_token"].as_str().unwrap();
    assert!(access.starts_with(&org.sim.default_org().org_id[..15]));

    let identity: Value = org
        .http
        .get(id)
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(identity["username"], org.sim.default_org().username);
    assert_eq!(identity["organization_id"], org.sim.default_org().org_id);

    let (status, replay) = exchange(&org, code, Some(verifier)).await;
    assert_eq!(
        (status, replay["error"].as_str()),
        (400, Some("invalid_grant")),
        "codes are single use"
    );
}

#[tokio::test]
async fn pkce_failures_answer_as_salesforce_documents() {
    let org = Org::start(small()).await;
    let callback = authorize(
        &org,
        "right-verifier-right-verifier-right-verifier",
        "allow",
    )
    .await;
    let (status, body) = exchange(
        &org,
        &callback["code"],
        Some("wrong-verifier-wrong-verifier-wrong-verifier"),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let callback = authorize(
        &org,
        "right-verifier-right-verifier-right-verifier",
        "allow",
    )
    .await;
    let (status, body) = exchange(&org, &callback["code"], None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn deny_and_the_uninstalled_app_restriction_come_back_as_errors_on_the_callback() {
    let org = Org::start(small()).await;
    let denied = authorize(&org, "v", "deny").await;
    assert_eq!(denied["error"], "access_denied");
    assert_eq!(denied["state"], "st4te");

    org.control(
        Method::PUT,
        "/orgs/default/settings",
        json!({"approval_required": true}),
    )
    .await;
    let refused = authorize(&org, "v", "allow").await;
    assert_eq!(refused["error"], "invalid_client");
    assert_eq!(
        refused["error_description"],
        "app must be installed into org"
    );
}

#[tokio::test]
async fn refresh_rotation_makes_tokens_single_use_and_reuse_revokes_the_grant() {
    let org = Org::start(small()).await;
    org.control(
        Method::PUT,
        "/orgs/default/settings",
        json!({"rotate_refresh_tokens": true}),
    )
    .await;
    let (status, first) = refresh(&org, &org.refresh).await;
    assert_eq!(status, 200);
    let rotated = first["refresh_token"]
        .as_str()
        .expect("rotation returns a new refresh token");
    assert_ne!(rotated, org.refresh);

    let (status, reuse) = refresh(&org, &org.refresh).await;
    assert_eq!(
        (status, reuse["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(reuse["error_description"], "expired access/refresh token");
    let (status, _) = refresh(&org, rotated).await;
    assert_eq!(status, 400, "reusing an old token revoked the whole grant");
    let session = org
        .http
        .get(org.url("/services/data/v62.0/limits/"))
        .bearer_auth(first["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(session.status(), 401, "and every access token of it");
}

#[tokio::test]
async fn without_rotation_refresh_returns_no_refresh_token_and_the_old_one_keeps_working() {
    let org = Org::start(small()).await;
    let (status, body) = refresh(&org, &org.refresh).await;
    assert_eq!(status, 200);
    assert!(body.get("refresh_token").is_none());
    assert_eq!(refresh(&org, &org.refresh).await.0, 200);
}

#[tokio::test]
async fn inactive_users_and_revoked_tokens_get_invalid_grant() {
    let org = Org::start(small()).await;
    org.control(
        Method::PUT,
        "/orgs/default/settings",
        json!({"user_active": false}),
    )
    .await;
    let (_, body) = refresh(&org, &org.refresh).await;
    assert_eq!(body["error_description"], "inactive user");
    org.control(
        Method::PUT,
        "/orgs/default/settings",
        json!({"user_active": true}),
    )
    .await;

    let revoked = org
        .http
        .post(org.url("/services/oauth2/revoke"))
        .form(&[("token", org.refresh.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let (_, body) = refresh(&org, &org.refresh).await;
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        org.get("limits/").await.status(),
        401,
        "revoking the refresh token revokes its sessions"
    );
}

#[tokio::test]
async fn sessions_expire_after_the_inactivity_timeout() {
    let org = Org::start(small()).await;
    org.control(
        Method::PUT,
        "/orgs/default/settings",
        json!({"session_timeout_secs": 60}),
    )
    .await;
    assert_eq!(org.get("limits/").await.status(), 200);
    org.control(Method::POST, "/clock/advance", json!({"seconds": 61}))
        .await;
    let response = org.get("limits/").await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
}

#[tokio::test]
async fn a_sixth_approval_revokes_the_oldest() {
    let org = Org::start(small()).await;
    for _ in 0..5 {
        org.sim.grant("default").unwrap();
    }
    let (_, body) = refresh(&org, &org.refresh).await;
    assert_eq!(
        body["error"], "invalid_grant",
        "the first grant was the oldest of six"
    );
}

#[tokio::test]
async fn tokens_of_one_org_never_reach_another() {
    let org = Org::start(small()).await;
    let other: Value = org.control(Method::POST, "/orgs", json!({"seed": 9, "accounts": 3, "contacts": 0, "opportunities": 0, "cases": 0, "invoices": 0, "sandbox": true})).await;
    let grant = org.sim.grant(other["org_id"].as_str().unwrap()).unwrap();
    let response = org
        .http
        .get(org.url("/services/data/v62.0/query?q=SELECT+COUNT()+FROM+Account"))
        .bearer_auth(grant["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["totalSize"], 3);
    let (_, mine) = org.query("SELECT COUNT() FROM Account").await;
    assert_eq!(mine["totalSize"], 30);
}
