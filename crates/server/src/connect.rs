//! Connecting an organization to its Salesforce org, and disconnecting it.
//!
//! Connect starts the OAuth 2.0 web-server flow with PKCE: a fresh `state` and code
//! verifier, the verifier sealed in the store under the hash of the `state` and bound to
//! the admin's browser session. Salesforce sends the browser back to `/oauth/callback`,
//! which takes that pending authorization once (a replayed `state` finds nothing),
//! exchanges the code, reads who authorized, and stores the connection with its tokens
//! sealed. Every way the callback can fail ends on the card with what to do next.

use std::sync::Arc;

use axum::Form;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sfsync_core::ObjectName;
use sfsync_engine::DEFAULT_OBJECTS;
use sfsync_engine::tokens::seal_tokens;
use sfsync_salesforce::{
    AuthorizationCode, CodeVerifier, Environment, OAuthClient, OAuthConfig, PendingAuthorization,
};
use sfsync_store::{
    AuditEntry, NewConnection, PendingConnect, SealedSecret, SyncedData, TokenHash,
};
use url::Url;

use crate::auth::{Caller, SignedIn, hash_secret, now_ms};
use crate::page::Problem;
use crate::{ApiError, AppState, CONNECT_TIMEOUT};

/// Which Salesforce login host the admin chose.
#[derive(Debug, Deserialize)]
pub struct ConnectRequest {
    /// `production`, `sandbox` or `custom`.
    pub environment: String,
    /// The My Domain login URL, for `custom`.
    #[serde(default)]
    pub login_url: Option<String>,
}

/// The environment chosen and the login URL it stands for.
fn login_choice(
    state: &AppState,
    request: &ConnectRequest,
) -> Result<(sfsync_store::Environment, Url), ApiError> {
    match request.environment.as_str() {
        "production" => Ok((
            sfsync_store::Environment::Production,
            state.login_hosts.production.clone(),
        )),
        "sandbox" => Ok((
            sfsync_store::Environment::Sandbox,
            state.login_hosts.sandbox.clone(),
        )),
        "custom" => {
            let text = request.login_url.as_deref().unwrap_or_default().trim();
            let environment = Environment::custom(text)
                .map_err(|e| ApiError::BadRequest(format!("login_url {text:?}: {e}")))?;
            Ok((sfsync_store::Environment::Custom, environment.login_url()))
        }
        other => Err(ApiError::BadRequest(format!(
            "environment {other:?}: expected production, sandbox or custom"
        ))),
    }
}

/// The OAuth client of the operator's connected app on a login host.
fn oauth_client(state: &AppState, login_url: &Url) -> Result<OAuthClient, ApiError> {
    let environment = Environment::custom(login_url.as_str())
        .map_err(|e| ApiError::BadRequest(format!("login URL: {e}")))?;
    let mut config = OAuthConfig::new(
        state.app.client_id.clone(),
        state.app.redirect_uri.clone(),
        environment,
    );
    config.client_secret = state.app.client_secret.clone();
    config.http = state.http.clone();
    OAuthClient::new(config).map_err(|e| ApiError::Internal(format!("oauth client: {e}")))
}

/// The vault context binding a sealed code verifier to its `state`.
fn verifier_context(state_hash: &TokenHash) -> String {
    let hex: String = state_hash.0.iter().map(|b| format!("{b:02x}")).collect();
    format!("pending_connect:{hex}:code_verifier")
}

/// Starts an authorization for the caller's organization; returns Salesforce's authorize
/// URL for the browser.
pub async fn begin(
    state: &AppState,
    caller: &Caller,
    request: &ConnectRequest,
) -> Result<Url, ApiError> {
    caller.require_admin()?;
    let (environment, login_url) = login_choice(state, request)?;
    let pending = oauth_client(state, &login_url)?.authorize(&[]);
    let state_hash = hash_secret(pending.state());
    let sealed = sfsync_vault::seal(
        &state.ring,
        pending.code_verifier().expose().as_bytes(),
        &verifier_context(&state_hash),
    )?;
    let now = now_ms();
    let row = PendingConnect {
        state_hash,
        organization: caller.organization.id,
        user: caller.user.id,
        session: caller.session_hash(),
        environment,
        login_url: login_url.to_string(),
        sealed_verifier: SealedSecret(sealed),
        created_at_ms: now,
        expires_at_ms: now + CONNECT_TIMEOUT.as_millis() as i64,
    };
    state.store.create_pending_connect(&row).await?;
    tracing::info!(organization = %caller.organization.slug, environment = request.environment, "connect started");
    Ok(pending.url().clone())
}

/// The Connect form on the card.
#[derive(Deserialize)]
pub struct ConnectForm {
    #[serde(default)]
    csrf: String,
    environment: String,
    #[serde(default)]
    login_url: Option<String>,
}

/// Connect from the card: to Salesforce's authorize page.
pub async fn start_from_page(
    State(state): State<Arc<AppState>>,
    SignedIn(caller): SignedIn,
    Form(form): Form<ConnectForm>,
) -> Result<Response, ApiError> {
    caller.check_csrf(&form.csrf)?;
    if caller.require_admin().is_err() {
        return Ok(Problem::NotAdmin.redirect());
    }
    let request = ConnectRequest {
        environment: form.environment,
        login_url: form.login_url.filter(|u| !u.trim().is_empty()),
    };
    match begin(&state, &caller, &request).await {
        Ok(url) => Ok(Redirect::to(url.as_str()).into_response()),
        Err(ApiError::BadRequest(_)) => Ok(Problem::BadLoginUrl.redirect()),
        Err(e) => Err(e),
    }
}

/// What Salesforce sends back.
#[derive(Debug, Default, Deserialize)]
struct CallbackParams {
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `/oauth/callback`: completes the connection, or explains on the card why it could not.
pub async fn callback(
    State(state): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query.unwrap_or_default();
    let params: CallbackParams = serde_urlencoded_params(&query);
    match complete(&state, &headers, &query, &params).await {
        Ok(()) => Redirect::to("/settings/integrations?notice=connected").into_response(),
        Err(problem) => {
            tracing::warn!(problem = problem.word(), "connect failed");
            problem.redirect()
        }
    }
}

fn serde_urlencoded_params(query: &str) -> CallbackParams {
    let mut params = CallbackParams::default();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let slot = match key.as_ref() {
            "state" => &mut params.state,
            "error" => &mut params.error,
            "error_description" => &mut params.error_description,
            _ => continue,
        };
        *slot = Some(value.into_owned());
    }
    params
}

async fn complete(
    state: &AppState,
    headers: &HeaderMap,
    query: &str,
    params: &CallbackParams,
) -> Result<(), Problem> {
    let pending = take_pending(state, headers, params).await?;
    let verifier = open_verifier(state, &pending)?;
    let callback_state = params.state.clone().unwrap_or_default();
    let code = PendingAuthorization::resume(callback_state, verifier.clone())
        .complete(query)
        .map_err(|e| Problem::from_authorize(&e))?;
    let login_url = Url::parse(&pending.login_url).map_err(|_| Problem::SalesforceError)?;
    let oauth = oauth_client(state, &login_url).map_err(|_| Problem::SalesforceError)?;
    save_connection(state, &pending, &oauth, &code, &verifier).await
}

/// The pending authorization the callback's `state` names, checked for age and session.
async fn take_pending(
    state: &AppState,
    headers: &HeaderMap,
    params: &CallbackParams,
) -> Result<PendingConnect, Problem> {
    let from_error = || {
        params
            .error
            .as_deref()
            .map(|e| Problem::from_oauth_error(e, params.error_description.as_deref()))
    };
    let Some(state_param) = params.state.as_deref() else {
        return Err(from_error().unwrap_or(Problem::StateUnknown));
    };
    let pending = state
        .store
        .take_pending_connect(&hash_secret(state_param))
        .await
        .map_err(|_| Problem::Internal)?;
    let Some(pending) = pending else {
        return Err(from_error().unwrap_or(Problem::StateUnknown));
    };
    if pending.expires_at_ms <= now_ms() {
        return Err(Problem::StateExpired);
    }
    if let Some(bound) = pending.session {
        let session = crate::auth::request_session_hash(headers);
        if session != Some(bound) {
            return Err(Problem::StateOtherSession);
        }
    }
    Ok(pending)
}

fn open_verifier(state: &AppState, pending: &PendingConnect) -> Result<CodeVerifier, Problem> {
    let context = verifier_context(&pending.state_hash);
    let bytes = sfsync_vault::open(&state.ring, &pending.sealed_verifier.0, &context)
        .map_err(|_| Problem::Internal)?;
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| Problem::Internal)?;
    Ok(CodeVerifier::new(text))
}

/// Exchanges the code, reads the identity and stores the connection and its tokens.
async fn save_connection(
    state: &AppState,
    pending: &PendingConnect,
    oauth: &OAuthClient,
    code: &AuthorizationCode,
    verifier: &CodeVerifier,
) -> Result<(), Problem> {
    let grant = oauth
        .exchange_code(code, verifier)
        .await
        .map_err(|e| Problem::from_exchange(&e))?;
    let tokens = grant.stored_tokens().ok_or(Problem::NoRefreshToken)?;
    let identity = oauth
        .fetch_identity(&grant.identity_url, &grant.access_token)
        .await
        .map_err(|_| Problem::SalesforceError)?;
    let details = NewConnection {
        organization: pending.organization,
        environment: pending.environment,
        login_url: pending.login_url.clone(),
        instance_url: tokens.instance_url.to_string(),
        salesforce_org_id: identity.organization_id.clone(),
        salesforce_username: identity.username.clone(),
        connected_by: pending.user,
        connected_at_ms: now_ms(),
    };
    forget_another_org(state, &details, pending.user).await?;
    store_connection(state, &details, &tokens).await?;

    let detail = format!(
        "{} org {} as {} ({})",
        crate::view::environment_word(pending.environment),
        identity.organization_id,
        identity.username,
        details.instance_url
    );
    audit(
        state,
        pending.organization,
        Some(pending.user),
        "connected",
        detail,
    )
    .await;
    state.wake.notify_one();
    Ok(())
}

/// A reconnect to a different Salesforce org must not diff the new org's records against
/// the old org's snapshots, nor resume from the old org's cursors: the old org's synced
/// data goes, whatever was chosen at disconnect, and the audit log says so.
async fn forget_another_org(
    state: &AppState,
    details: &NewConnection,
    user: sfsync_store::UserId,
) -> Result<(), Problem> {
    let store = state.store.as_ref();
    let earlier = store
        .load_connection(details.organization)
        .await
        .map_err(|_| Problem::Internal)?;
    let Some(earlier) =
        earlier.filter(|c| c.details.salesforce_org_id != details.salesforce_org_id)
    else {
        return Ok(());
    };
    store
        .disconnect(earlier.id, SyncedData::Delete)
        .await
        .map_err(|_| Problem::Internal)?;
    let detail = format!(
        "synced data of Salesforce org {} deleted: now connecting org {}",
        earlier.details.salesforce_org_id, details.salesforce_org_id
    );
    audit(
        state,
        details.organization,
        Some(user),
        "data_deleted",
        detail,
    )
    .await;
    Ok(())
}

/// Saves the connection and its sealed tokens, and selects the default objects of a new
/// connection, so the card lists them from the first page on.
async fn store_connection(
    state: &AppState,
    details: &NewConnection,
    tokens: &sfsync_salesforce::StoredTokens,
) -> Result<(), Problem> {
    let store = state.store.as_ref();
    let internal = |_| Problem::Internal;
    let connection = store.save_connection(details).await.map_err(internal)?;
    let sealed = seal_tokens(&state.ring, connection.id, tokens).map_err(|_| Problem::Internal)?;
    store
        .save_sealed_tokens(connection.id, &sealed)
        .await
        .map_err(internal)?;
    let states = store
        .load_object_states(connection.id)
        .await
        .map_err(internal)?;
    if states.is_empty() {
        let defaults: Vec<ObjectName> = DEFAULT_OBJECTS
            .iter()
            .map(|o| ObjectName::parse(o).expect("default objects are valid names"))
            .collect();
        store
            .save_selected_objects(connection.id, &defaults)
            .await
            .map_err(internal)?;
    }
    Ok(())
}

/// Appends to the audit log; a failure is logged, never fatal to what was audited.
pub(crate) async fn audit(
    state: &AppState,
    organization: sfsync_store::OrganizationId,
    user: Option<sfsync_store::UserId>,
    action: &str,
    detail: String,
) {
    let entry = AuditEntry {
        organization,
        user,
        action: action.to_owned(),
        detail,
        at_ms: now_ms(),
    };
    if let Err(e) = state.store.save_audit(&entry).await {
        tracing::error!(error = %e, action, "could not write the audit log");
    }
}

/// Disconnects the caller's organization: revokes the refresh token at Salesforce (a
/// failure there is reported but does not keep the tokens), deletes the stored tokens,
/// stops polling, and keeps or deletes the synced data. Returns whether Salesforce
/// confirmed the revocation.
pub async fn disconnect(
    state: &AppState,
    caller: &Caller,
    data: SyncedData,
) -> Result<bool, ApiError> {
    caller.require_admin()?;
    let store = state.store.as_ref();
    let connection = store
        .load_connection(caller.organization.id)
        .await?
        .filter(|c| c.status != sfsync_store::ConnectionStatus::Disconnected)
        .ok_or_else(|| {
            ApiError::Conflict("the organization has no Salesforce connection".into())
        })?;
    let revoked = revoke(state, &connection).await;
    store.disconnect(connection.id, data).await?;
    let kept = match data {
        SyncedData::Keep => "synced data kept",
        SyncedData::Delete => "synced data deleted",
    };
    let revocation = if revoked {
        "token revoked"
    } else {
        "token could not be revoked at Salesforce"
    };
    let detail = format!(
        "{}; {revocation}; {kept}",
        connection.details.salesforce_username
    );
    audit(
        state,
        caller.organization.id,
        Some(caller.user.id),
        "disconnected",
        detail,
    )
    .await;
    Ok(revoked)
}

async fn revoke(state: &AppState, connection: &sfsync_store::Connection) -> bool {
    let tokens =
        sfsync_engine::tokens::load_tokens(state.store.as_ref(), &state.ring, connection.id).await;
    let Ok(opened) = tokens else {
        return false;
    };
    let Ok(login_url) = Url::parse(&connection.details.login_url) else {
        return false;
    };
    let Ok(oauth) = oauth_client(state, &login_url) else {
        return false;
    };
    match oauth
        .revoke_refresh_token(&opened.tokens.refresh_token)
        .await
    {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "could not revoke the refresh token at Salesforce");
            false
        }
    }
}

/// The Disconnect form on the card.
#[derive(Deserialize)]
pub struct DisconnectForm {
    #[serde(default)]
    csrf: String,
    /// `keep` or `delete`.
    data: String,
}

/// Parses the admin's choice for synced data.
pub fn synced_data(word: &str) -> Result<SyncedData, ApiError> {
    match word {
        "keep" => Ok(SyncedData::Keep),
        "delete" => Ok(SyncedData::Delete),
        other => Err(ApiError::BadRequest(format!(
            "data {other:?}: expected keep or delete"
        ))),
    }
}

/// Disconnect from the card.
pub async fn disconnect_from_page(
    State(state): State<Arc<AppState>>,
    SignedIn(caller): SignedIn,
    Form(form): Form<DisconnectForm>,
) -> Result<Response, ApiError> {
    caller.check_csrf(&form.csrf)?;
    if caller.require_admin().is_err() {
        return Ok(Problem::NotAdmin.redirect());
    }
    let revoked = disconnect(&state, &caller, synced_data(&form.data)?).await?;
    let notice = if revoked {
        "disconnected"
    } else {
        "disconnected_unrevoked"
    };
    Ok(Redirect::to(&format!("/settings/integrations?notice={notice}")).into_response())
}
