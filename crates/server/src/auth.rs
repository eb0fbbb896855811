//! Who is asking: sign-in links, session cookies, CSRF proofs and API tokens.
//!
//! Every credential is 32 random bytes shown once and stored only as its SHA-256, so a copy
//! of the database lets no one in. A sign-in link carries its secret in the URL fragment,
//! which browsers never send to a server: it cannot reach an access log or a proxy. The
//! session cookie is `HttpOnly`, `SameSite=Lax` (the OAuth callback is a top-level
//! navigation from Salesforce and must carry it) and `Secure` when the service is on https.
//! Forms prove they come from the service's own page with a CSRF proof derived from the
//! session secret, which another site can neither read nor guess.

use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::extract::{FromRequestParts, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sfsync_store::{Credential, Organization, Role, Store, TokenHash, User, UserId};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::Url;

use crate::{ApiError, AppState};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sfsync_session";

/// How long a session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// How long a sign-in link stays valid.
pub const LINK_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// A fresh secret: 32 random bytes, base64url.
pub fn new_secret() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(format!("random: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The SHA-256 of a secret, as the store keeps it.
pub fn hash_secret(secret: &str) -> TokenHash {
    TokenHash(Sha256::digest(secret.as_bytes()).into())
}

/// The CSRF proof of a session: derived from its secret, which only the browser holding
/// the `HttpOnly` cookie knows.
pub fn csrf_proof(session_secret: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(b"sfsync csrf proof\0");
    digest.update(session_secret.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.finalize())
}

/// The local clock, UTC epoch milliseconds.
pub fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

fn millis(duration: Duration) -> i64 {
    duration.as_millis() as i64
}

/// Mints a one-time sign-in link for a user.
pub async fn mint_sign_in_link(
    store: &dyn Store,
    user: UserId,
    public_url: &Url,
) -> Result<Url, ApiError> {
    let secret = new_secret()?;
    let expires = now_ms() + millis(LINK_LIFETIME);
    store
        .create_credential(Credential::SignInLink, user, &hash_secret(&secret), expires)
        .await?;
    let mut link = public_url
        .join("signin")
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    link.set_fragment(Some(&format!("code={secret}")));
    Ok(link)
}

/// Mints an API token for a user; the caller shows it once.
pub async fn mint_api_token(store: &dyn Store, user: UserId) -> Result<String, ApiError> {
    let token = format!("sfs_{}", new_secret()?);
    store
        .save_api_token(user, &hash_secret(&token), now_ms())
        .await?;
    Ok(token)
}

/// A signed-in person or an API token's user, with the organization it belongs to.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: User,
    /// The user's organization: the only one this request may read.
    pub organization: Organization,
    /// The session secret, for a browser (checks CSRF proofs); `None` for an API token.
    session: Option<String>,
}

impl Caller {
    /// Fails unless the caller is an admin of the organization.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.user.role {
            Role::Admin => Ok(()),
            Role::Member => Err(ApiError::Forbidden(
                "only an admin of the organization may do this",
            )),
        }
    }

    /// Fails unless `proof` is this session's CSRF proof.
    pub fn check_csrf(&self, proof: &str) -> Result<(), ApiError> {
        let expected = self.csrf().ok_or(ApiError::Csrf)?;
        match bool::from(expected.as_bytes().ct_eq(proof.as_bytes())) {
            true => Ok(()),
            false => Err(ApiError::Csrf),
        }
    }

    /// The CSRF proof forms on this caller's pages carry.
    pub fn csrf(&self) -> Option<String> {
        self.session.as_deref().map(csrf_proof)
    }

    /// A proof that this service wrote `message` for this session, so a page shows the
    /// message from its URL only when the proof matches: a link crafted elsewhere cannot
    /// put words on the card.
    pub fn message_proof(&self, message: &str) -> Option<String> {
        let session = self.session.as_deref()?;
        let mut digest = Sha256::new();
        digest.update(b"sfsync message proof\0");
        digest.update(session.as_bytes());
        digest.update(b"\0");
        digest.update(message.as_bytes());
        Some(URL_SAFE_NO_PAD.encode(digest.finalize()))
    }

    /// Whether `proof` is [`Caller::message_proof`] of `message`.
    pub fn is_own_message(&self, message: &str, proof: &str) -> bool {
        self.message_proof(message)
            .is_some_and(|expected| bool::from(expected.as_bytes().ct_eq(proof.as_bytes())))
    }

    /// The hash of the caller's session, which binds an OAuth `state` to this browser.
    pub fn session_hash(&self) -> Option<TokenHash> {
        self.session.as_deref().map(hash_secret)
    }
}

async fn caller_of(
    state: &AppState,
    user: User,
    session: Option<String>,
) -> Result<Caller, ApiError> {
    let organization = state
        .store
        .load_organization_by_id(user.organization)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("user {} has no organization", user.id)))?;
    Ok(Caller {
        user,
        organization,
        session,
    })
}

/// The value of a cookie in a request.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The hash of the session cookie a request carries, valid or not.
pub fn request_session_hash(headers: &HeaderMap) -> Option<TokenHash> {
    cookie(headers, SESSION_COOKIE).map(hash_secret)
}

/// A browser with a valid session cookie. Without one, pages send it to the sign-in page.
pub struct SignedIn(pub Caller);

impl FromRequestParts<Arc<AppState>> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let secret = cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned);
        let user = match &secret {
            Some(secret) => state
                .store
                .load_session_user(&hash_secret(secret), now_ms())
                .await
                .map_err(|e| ApiError::from(e).into_response())?,
            None => None,
        };
        let Some(user) = user else {
            return Err(Redirect::to("/signin").into_response());
        };
        let caller = caller_of(state, user, secret)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(SignedIn(caller))
    }
}

/// A script with `Authorization: Bearer TOKEN`.
pub struct ApiCaller(pub Caller);

impl FromRequestParts<Arc<AppState>> for ApiCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        let user = state
            .store
            .load_user_by_token(&hash_secret(token.trim()))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        Ok(ApiCaller(caller_of(state, user, None).await?))
    }
}

/// The sign-in form: the code from a sign-in link.
#[derive(Deserialize)]
pub struct SignInForm {
    code: String,
}

/// Exchanges a sign-in link's code for a session cookie.
pub async fn sign_in(
    State(state): State<Arc<AppState>>,
    Form(form): Form<SignInForm>,
) -> Result<Response, Response> {
    let store = state.store.as_ref();
    let user = store
        .redeem_sign_in_link(&hash_secret(form.code.trim()), now_ms())
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let Some(user) = user else {
        return Err(crate::page::sign_in_refused());
    };
    let secret = new_secret().map_err(IntoResponse::into_response)?;
    let expires = now_ms() + millis(SESSION_LIFETIME);
    store
        .create_credential(Credential::Session, user.id, &hash_secret(&secret), expires)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    tracing::info!(user = %user.id, "signed in");
    let cookie = session_cookie(&state, &secret, SESSION_LIFETIME.as_secs());
    Ok((
        [(SET_COOKIE, cookie)],
        Redirect::to("/settings/integrations"),
    )
        .into_response())
}

/// The sign-out form.
#[derive(Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// Ends the session and clears the cookie.
pub async fn sign_out(
    State(state): State<Arc<AppState>>,
    SignedIn(caller): SignedIn,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, ApiError> {
    caller.check_csrf(&form.csrf)?;
    if let Some(hash) = caller.session_hash() {
        state.store.delete_session(&hash).await?;
    }
    let cookie = session_cookie(&state, "", 0);
    Ok(([(SET_COOKIE, cookie)], Redirect::to("/signin")).into_response())
}

/// The `Set-Cookie` value of a session (an empty value with age 0 clears it).
pub fn session_cookie(state: &AppState, secret: &str, max_age_secs: u64) -> String {
    let secure = if state.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{SESSION_COOKIE}={secret}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}"
    )
}
