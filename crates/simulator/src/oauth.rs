//! OAuth 2.0 as Salesforce runs it: the web-server flow with PKCE, refresh tokens (with
//! optional rotation), revocation, userinfo and the identity URL.
//!
//! Facts modelled (see `salesforce-api.md` §1): codes live 15 minutes and are single use;
//! token responses carry `signature` = Base64(HMAC-SHA256(secret, id + issued_at)) and no
//! `expires_in`; a reused rotated-out refresh token revokes the whole grant; each user may
//! hold five approvals of one app, a sixth revokes the oldest; sessions die after a period
//! of inactivity and then get 401 INVALID_SESSION_ID.

use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::clock::Millis;
use crate::error::SimError;
use crate::reply::Reply;
use crate::rng::secure_token;
use crate::state::{Grant, Org, PendingCode, Session, SimState};

/// Codes are valid for 15 minutes.
const CODE_LIFETIME_MS: Millis = 15 * 60_000;
/// Approvals one user may hold for one connected app.
const MAX_APPROVALS: usize = 5;

/// Finds the org of a bearer token, or answers 401 INVALID_SESSION_ID.
pub fn authenticate(sim: &SimState, headers: &HeaderMap, now: Millis) -> Result<Arc<Org>, Reply> {
    let token = bearer(headers).ok_or_else(|| Reply::from(SimError::invalid_session()))?;
    let org_id =
        touch_session(sim, &token, now).ok_or_else(|| Reply::from(SimError::invalid_session()))?;
    sim.org(&org_id)
        .map_err(|_| Reply::from(SimError::invalid_session()))
}

/// The org of a session id given outside an `Authorization` header (Bulk API 1.0 sends it
/// in `X-SFDC-Session`), with the same inactivity timeout.
pub fn authenticate_session(sim: &SimState, token: &str, now: Millis) -> Option<Arc<Org>> {
    let org_id = touch_session(sim, token, now)?;
    sim.org(&org_id).ok()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        .then(|| token.trim().to_string())
}

/// Checks a session's inactivity timeout and extends it (each call resets the timer).
fn touch_session(sim: &SimState, token: &str, now: Millis) -> Option<String> {
    let mut auth = sim.auth.lock().expect("auth lock");
    let session = auth.sessions.get(token)?.clone();
    let org = sim.org(&session.org_id).ok()?;
    let timeout = org.settings.lock().expect("settings").session_timeout_secs * 1000;
    if now - session.last_used > timeout {
        auth.sessions.remove(token);
        return None;
    }
    auth.sessions.get_mut(token)?.last_used = now;
    Some(session.org_id)
}

/// Parameters of `/services/oauth2/authorize`.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct AuthorizeParams {
    #[serde(default)]
    response_type: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    redirect_uri: String,
    state: Option<String>,
    scope: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    login_hint: Option<String>,
    prompt: Option<String>,
    // Filled in by the login-and-consent form.
    username: Option<String>,
    decision: Option<String>,
}

/// `GET /services/oauth2/authorize`: the login-and-consent page, or straight back with a
/// code under `--auto-approve`.
pub async fn authorize_page(
    State(sim): State<Arc<SimState>>,
    Query(params): Query<AuthorizeParams>,
) -> Response {
    if let Err(page) = check_client(&sim, &params) {
        return *page;
    }
    if params.response_type != "code" {
        return redirect_error(
            &params,
            "unsupported_response_type",
            "response type not supported",
        );
    }
    let forced_login = params
        .prompt
        .as_deref()
        .is_some_and(|p| p.contains("login") || p.contains("consent"));
    if sim.auto_approve && !forced_login {
        let username = params.login_hint.clone().unwrap_or_default();
        return approve(&sim, &params, &username);
    }
    Html(login_page(&sim, &params, None)).into_response()
}

/// `POST /services/oauth2/authorize`: the form's Allow or Deny.
pub async fn authorize_submit(
    State(sim): State<Arc<SimState>>,
    Form(params): Form<AuthorizeParams>,
) -> Response {
    if let Err(page) = check_client(&sim, &params) {
        return *page;
    }
    if params.decision.as_deref() != Some("allow") {
        return redirect_error(&params, "access_denied", "end-user denied authorization");
    }
    approve(&sim, &params, params.username.as_deref().unwrap_or(""))
}

fn check_client(sim: &SimState, params: &AuthorizeParams) -> Result<(), Box<Response>> {
    // An unknown client gets Salesforce's error page, not a redirect: the redirect URI of an
    // unknown app cannot be trusted.
    let refused = if params.client_id != sim.client_id {
        Some(("OAUTH_EC_APP_NOT_FOUND", "client identifier invalid"))
    } else if url::Url::parse(&params.redirect_uri).is_err() {
        Some((
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        ))
    } else {
        None
    };
    match refused {
        Some((code, text)) => {
            let page = Html(error_page(code, text));
            Err(Box::new((StatusCode::BAD_REQUEST, page).into_response()))
        }
        None => Ok(()),
    }
}

fn approve(sim: &SimState, params: &AuthorizeParams, username: &str) -> Response {
    let org = if username.is_empty() {
        sim.org("default").ok()
    } else {
        sim.org_by_username(username)
    };
    let Some(org) = org else {
        return Html(login_page(sim, params, Some("Please check your username and password. If you still can't log in, contact your Salesforce administrator."))).into_response();
    };
    let settings = org.settings.lock().expect("settings").clone();
    if !settings.user_active {
        return Html(login_page(
            sim,
            params,
            Some("Your login attempt has failed. The user is inactive."),
        ))
        .into_response();
    }
    if settings.approval_required {
        // The Sept 2025 restriction: the user may not approve an app not installed in the org.
        return redirect_error(params, "invalid_client", "app must be installed into org");
    }
    let code = secure_token(32);
    let pending = PendingCode {
        org_id: org.info.org_id.clone(),
        client_id: params.client_id.clone(),
        redirect_uri: params.redirect_uri.clone(),
        code_challenge: params.code_challenge.clone().filter(|_| {
            params
                .code_challenge_method
                .as_deref()
                .is_none_or(|m| m == "S256")
        }),
        issued: sim.clock.now_ms(),
        scope: params
            .scope
            .clone()
            .unwrap_or_else(|| "api refresh_token".into()),
    };
    sim.auth
        .lock()
        .expect("auth lock")
        .codes
        .insert(code.clone(), pending);
    redirect_with(
        &params.redirect_uri,
        &[("code", &code)],
        params.state.as_deref(),
    )
}

fn redirect_error(params: &AuthorizeParams, error: &str, description: &str) -> Response {
    redirect_with(
        &params.redirect_uri,
        &[("error", error), ("error_description", description)],
        params.state.as_deref(),
    )
}

fn redirect_with(base: &str, pairs: &[(&str, &str)], state: Option<&str>) -> Response {
    let Ok(mut url) = url::Url::parse(base) else {
        return (StatusCode::BAD_REQUEST, "invalid redirect_uri").into_response();
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
    }
    Redirect::to(url.as_str()).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn login_page(sim: &SimState, params: &AuthorizeParams, error: Option<&str>) -> String {
    let default_user = sim
        .org("default")
        .map(|o| o.info.username.clone())
        .unwrap_or_default();
    let username = params.login_hint.clone().unwrap_or(default_user);
    let hidden: String = [
        ("response_type", Some(params.response_type.clone())),
        ("client_id", Some(params.client_id.clone())),
        ("redirect_uri", Some(params.redirect_uri.clone())),
        ("state", params.state.clone()),
        ("scope", params.scope.clone()),
        ("code_challenge", params.code_challenge.clone()),
        (
            "code_challenge_method",
            params.code_challenge_method.clone(),
        ),
    ]
    .iter()
    .filter_map(|(k, v)| {
        v.as_ref().map(|v| {
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                escape(v)
            )
        })
    })
    .collect();
    let scopes = params
        .scope
        .clone()
        .unwrap_or_else(|| "api refresh_token".into());
    let error = error
        .map(|e| format!("<p id=\"error\" class=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    format!(
        include_str!("login.html"),
        error = error,
        hidden = hidden,
        username = escape(&username),
        scopes = escape(&scopes)
    )
}

fn error_page(code: &str, description: &str) -> String {
    format!(
        "<!doctype html><html><head><title>OAuth Error</title></head><body><h1>OAuth Error</h1><p>We can't authorize you because of an OAuth error. For more information, contact your Salesforce administrator.</p><p id=\"error\">{} : {}</p></body></html>",
        escape(code),
        escape(description)
    )
}

/// Parameters of `/services/oauth2/token`.
#[derive(Debug, Deserialize, Default)]
pub struct TokenParams {
    #[serde(default)]
    grant_type: String,
    code: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// `POST /services/oauth2/token`.
pub async fn token(
    State(sim): State<Arc<SimState>>,
    headers: HeaderMap,
    Form(params): Form<TokenParams>,
) -> Response {
    let (client_id, secret) = client_credentials(&headers, &params);
    if client_id.as_deref() != Some(sim.client_id.as_str()) {
        return oauth_error("invalid_client_id", "client identifier invalid");
    }
    let secret_ok = secret.as_deref() == Some(sim.client_secret.as_str());
    let result = match params.grant_type.as_str() {
        "authorization_code" if secret_ok => exchange_code(&sim, &params),
        "refresh_token" if secret_ok || secret.is_none() => refresh(&sim, &params),
        "authorization_code" | "refresh_token" => {
            Err(("invalid_client", "invalid client credentials"))
        }
        _ => Err(("unsupported_grant_type", "grant type not supported")),
    };
    match result {
        Ok(body) => (StatusCode::OK, axum::Json(body)).into_response(),
        Err((error, description)) => oauth_error(error, description),
    }
}

fn client_credentials(
    headers: &HeaderMap,
    params: &TokenParams,
) -> (Option<String>, Option<String>) {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        });
    match basic {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (params.client_id.clone(), params.client_secret.clone()),
    }
}

type OAuthResult = Result<serde_json::Value, (&'static str, &'static str)>;

fn exchange_code(sim: &SimState, params: &TokenParams) -> OAuthResult {
    let now = sim.clock.now_ms();
    let code = params.code.as_deref().unwrap_or("");
    let pending = sim.auth.lock().expect("auth lock").codes.remove(code);
    let pending = pending.ok_or(("invalid_grant", "invalid authorization code"))?;
    if now - pending.issued > CODE_LIFETIME_MS {
        return Err(("invalid_grant", "expired authorization code"));
    }
    if params.redirect_uri.as_deref() != Some(pending.redirect_uri.as_str()) {
        return Err((
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        ));
    }
    check_pkce(
        pending.code_challenge.as_deref(),
        params.code_verifier.as_deref(),
    )?;
    let org = sim
        .org(&pending.org_id)
        .map_err(|_| ("invalid_grant", "invalid authorization code"))?;
    let mut auth = sim.auth.lock().expect("auth lock");
    let grant_id = new_grant(&mut auth, &org, &pending.client_id, now);
    let refresh = auth.grants[&grant_id].current_refresh.clone();
    let access = new_session(&mut auth, &org, Some(grant_id), now);
    drop(auth);
    Ok(token_body(
        sim,
        &org,
        &access,
        Some(&refresh),
        &pending.scope,
        now,
    ))
}

/// PKCE as Salesforce reports it: a missing verifier is `invalid_grant`, a wrong one
/// `invalid_request` (web-server flow documentation).
fn check_pkce(
    challenge: Option<&str>,
    verifier: Option<&str>,
) -> Result<(), (&'static str, &'static str)> {
    let Some(challenge) = challenge else {
        return Ok(());
    };
    let verifier = verifier.ok_or(("invalid_grant", "invalid code verifier"))?;
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(verifier.as_bytes()));
    if computed != challenge {
        return Err(("invalid_request", "invalid code verifier"));
    }
    Ok(())
}

fn refresh(sim: &SimState, params: &TokenParams) -> OAuthResult {
    let now = sim.clock.now_ms();
    let expired = ("invalid_grant", "expired access/refresh token");
    let token = params.refresh_token.as_deref().unwrap_or("");
    let mut auth = sim.auth.lock().expect("auth lock");
    let grant_id = *auth.refresh_tokens.get(token).ok_or(expired)?;
    let grant = auth.grants.get(&grant_id).cloned().ok_or(expired)?;
    if grant.revoked {
        return Err(expired);
    }
    if grant.current_refresh != token {
        // A rotated-out token came back: someone kept a stale copy. Revoke the whole grant.
        revoke_grant(&mut auth, grant_id);
        return Err(expired);
    }
    let org = sim.org(&grant.org_id).map_err(|_| expired)?;
    let settings = org.settings.lock().expect("settings").clone();
    if !settings.user_active {
        return Err(("invalid_grant", "inactive user"));
    }
    let rotated = settings.rotate_refresh_tokens.then(|| {
        let next = format!("5Aep861{}", secure_token(48));
        auth.refresh_tokens.insert(next.clone(), grant_id);
        auth.grants
            .get_mut(&grant_id)
            .expect("grant")
            .current_refresh = next.clone();
        next
    });
    let access = new_session(&mut auth, &org, Some(grant_id), now);
    drop(auth);
    Ok(token_body(
        sim,
        &org,
        &access,
        rotated.as_deref(),
        "api refresh_token",
        now,
    ))
}

/// Creates a grant (and its refresh token), evicting the user's oldest beyond five.
fn new_grant(auth: &mut crate::state::AuthState, org: &Org, client_id: &str, now: Millis) -> u64 {
    auth.next_grant += 1;
    let id = auth.next_grant;
    let refresh = format!("5Aep861{}", secure_token(48));
    auth.refresh_tokens.insert(refresh.clone(), id);
    auth.grants.insert(
        id,
        Grant {
            id,
            org_id: org.info.org_id.clone(),
            client_id: client_id.to_string(),
            created: now,
            current_refresh: refresh,
            revoked: false,
        },
    );
    let mut live: Vec<(Millis, u64)> = auth
        .grants
        .values()
        .filter(|g| !g.revoked && g.org_id == org.info.org_id && g.client_id == client_id)
        .map(|g| (g.created, g.id))
        .collect();
    live.sort();
    while live.len() > MAX_APPROVALS {
        let (_, oldest) = live.remove(0);
        revoke_grant(auth, oldest);
    }
    id
}

fn new_session(
    auth: &mut crate::state::AuthState,
    org: &Org,
    grant: Option<u64>,
    now: Millis,
) -> String {
    let token = format!("{}!AQ{}", &org.info.org_id[..15], secure_token(72));
    auth.sessions.insert(
        token.clone(),
        Session {
            org_id: org.info.org_id.clone(),
            last_used: now,
            grant,
        },
    );
    token
}

fn revoke_grant(auth: &mut crate::state::AuthState, grant_id: u64) {
    if let Some(grant) = auth.grants.get_mut(&grant_id) {
        grant.revoked = true;
    }
    auth.sessions.retain(|_, s| s.grant != Some(grant_id));
}

fn token_body(
    sim: &SimState,
    org: &Org,
    access: &str,
    refresh: Option<&str>,
    scope: &str,
    now: Millis,
) -> serde_json::Value {
    let base = sim.base_url.read().expect("base url").clone();
    let id = format!("{base}/id/{}/{}", org.info.org_id, org.info.user_id);
    let issued_at = now.to_string();
    let mut body = json!({
        "access_token": access,
        "signature": signature(&sim.client_secret, &id, &issued_at),
        "scope": scope,
        "instance_url": base,
        "id": id,
        "token_type": "Bearer",
        "issued_at": issued_at,
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    body
}

/// Base64(HMAC-SHA256(key = client secret, message = id + issued_at)).
pub fn signature(secret: &str, id: &str, issued_at: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(issued_at.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Mints tokens for an org as if its user had approved the app (control API).
pub fn grant_tokens(sim: &SimState, org: &Org) -> serde_json::Value {
    let now = sim.clock.now_ms();
    let mut auth = sim.auth.lock().expect("auth lock");
    let grant_id = new_grant(&mut auth, org, &sim.client_id.clone(), now);
    let refresh = auth.grants[&grant_id].current_refresh.clone();
    let access = new_session(&mut auth, org, Some(grant_id), now);
    drop(auth);
    token_body(sim, org, &access, Some(&refresh), "api refresh_token", now)
}

/// Kills every access token of an org (fault `expire_sessions`).
pub fn expire_sessions(sim: &SimState, org_id: &str) {
    sim.auth
        .lock()
        .expect("auth lock")
        .sessions
        .retain(|_, s| s.org_id != org_id);
}

#[derive(Debug, Deserialize, Default)]
pub struct RevokeParams {
    token: Option<String>,
}

/// `POST /services/oauth2/revoke` (and the older GET form): a refresh token revokes its
/// grant and every access token of it; an access token revokes itself.
pub async fn revoke(
    State(sim): State<Arc<SimState>>,
    query: Query<RevokeParams>,
    body: axum::body::Bytes,
) -> Response {
    let form: RevokeParams = serde_urlencoded_token(&body);
    let token = form.token.or(query.0.token).unwrap_or_default();
    let mut auth = sim.auth.lock().expect("auth lock");
    if let Some(&grant) = auth.refresh_tokens.get(&token) {
        revoke_grant(&mut auth, grant);
        return StatusCode::OK.into_response();
    }
    if auth.sessions.remove(&token).is_some() {
        return StatusCode::OK.into_response();
    }
    oauth_error("invalid_token", "invalid token")
}

fn serde_urlencoded_token(body: &[u8]) -> RevokeParams {
    let token = url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned());
    RevokeParams { token }
}

/// `GET /services/oauth2/userinfo`.
pub async fn userinfo(State(sim): State<Arc<SimState>>, headers: HeaderMap) -> Response {
    let org = match authenticate(&sim, &headers, sim.clock.now_ms()) {
        Ok(org) => org,
        Err(_) => return (StatusCode::FORBIDDEN, "Bad_OAuth_Token").into_response(),
    };
    let base = sim.base_url.read().expect("base url").clone();
    let info = &org.info;
    axum::Json(json!({
        "sub": format!("{base}/id/{}/{}", info.org_id, info.user_id),
        "user_id": info.user_id, "organization_id": info.org_id,
        "preferred_username": info.username, "nickname": info.username.split('@').next(),
        "name": info.display_name, "email": info.email, "email_verified": true,
        "zoneinfo": "America/Los_Angeles", "active": true, "user_type": "STANDARD",
        "language": "en_US", "locale": "en_US", "utcOffset": -28_800_000,
        "is_app_installed": true,
        "urls": urls(&base),
    }))
    .into_response()
}

fn urls(base: &str) -> serde_json::Value {
    let v = format!("{base}/services/data/v{{version}}/");
    json!({
        "rest": v, "sobjects": format!("{v}sobjects/"), "query": format!("{v}query/"),
        "search": format!("{v}search/"), "recent": format!("{v}recent/"),
        "limits": format!("{v}limits/"), "custom_domain": base,
    })
}

/// `GET /id/{org}/{user}`: the identity URL.
pub async fn identity(
    State(sim): State<Arc<SimState>>,
    Path((org_id, user_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let org = match authenticate(&sim, &headers, sim.clock.now_ms()) {
        Ok(org) if org.info.org_id == org_id && org.info.user_id == user_id => org,
        _ => return (StatusCode::FORBIDDEN, "Bad_OAuth_Token").into_response(),
    };
    let base = sim.base_url.read().expect("base url").clone();
    let info = &org.info;
    let (first, last) = info
        .display_name
        .split_once(' ')
        .unwrap_or(("", &info.display_name));
    axum::Json(json!({
        "id": format!("{base}/id/{}/{}", info.org_id, info.user_id),
        "asserted_user": true, "user_id": info.user_id, "organization_id": info.org_id,
        "username": info.username, "nick_name": info.username.split('@').next(),
        "display_name": info.display_name, "email": info.email, "email_verified": true,
        "first_name": first, "last_name": last, "timezone": "America/Los_Angeles",
        "active": true, "user_type": "STANDARD", "language": "en_US", "locale": "en_US",
        "utcOffset": -28_800_000, "is_lightning_login_user": false,
        "last_modified_date": "2024-01-01T00:00:00.000+0000",
        "urls": urls(&base),
    }))
    .into_response()
}
