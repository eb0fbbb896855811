//! OAuth 2.0 web-server flow against a Salesforce login host (salesforce-api.md §1).
//!
//! An [`OAuthClient`] builds the authorize URL (PKCE S256 and `state`), completes the callback,
//! exchanges the code, refreshes, revokes and reads the identity URL. It knows nothing of
//! storage: a refresh returns a [`Refreshed`] whose new access token can only be reached by
//! persisting the tokens first (see [`crate::session`]).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use url::{Host, Url};

use crate::client::{HttpConfig, build_http};
use crate::error::{Error, Result};
use crate::secret::{AccessToken, AuthorizationCode, ClientSecret, CodeVerifier, RefreshToken};
use crate::session::{Session, StoredTokens};
use crate::wire;

/// The scopes sfsync asks for: the REST API and a refresh token (`offline_access` is a synonym
/// of `refresh_token`; both are sent because apps enable one or the other).
pub const SCOPES: &str = "api refresh_token offline_access";

/// Where users log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Environment {
    /// `https://login.salesforce.com`.
    Production,
    /// `https://test.salesforce.com`.
    Sandbox,
    /// A My Domain or Experience Cloud login URL; build it with [`Environment::custom`].
    Custom(Url),
}

impl Environment {
    /// A custom login host. It must be https, except loopback hosts (127.0.0.0/8, ::1,
    /// localhost) used by the simulator and tests, and carry no query or fragment.
    pub fn custom(login_url: &str) -> Result<Self> {
        let url = Url::parse(login_url).map_err(|e| Error::InvalidUrl {
            what: "login host",
            reason: e.to_string(),
        })?;
        if url.query().is_some() || url.fragment().is_some() {
            let reason = "a login host has no query or fragment".to_owned();
            return Err(Error::InvalidUrl {
                what: "login host",
                reason,
            });
        }
        ensure_secure("login host", &url)?;
        Ok(Self::Custom(url))
    }

    /// The login base URL.
    pub fn login_url(&self) -> Url {
        match self {
            Self::Production => Url::parse("https://login.salesforce.com").expect("static url"),
            Self::Sandbox => Url::parse("https://test.salesforce.com").expect("static url"),
            Self::Custom(url) => url.clone(),
        }
    }

    /// `{login url}/services/oauth2/{endpoint}`, keeping any path the login URL has (an
    /// Experience Cloud site lives under one).
    fn endpoint(&self, endpoint: &str) -> Url {
        let base = self.login_url();
        let path = format!(
            "{}/services/oauth2/{endpoint}",
            base.path().trim_end_matches('/')
        );
        let mut url = base;
        url.set_path(&path);
        url
    }
}

/// Fails unless `url` is https, or http on a loopback host.
pub(crate) fn ensure_secure(what: &'static str, url: &Url) -> Result<()> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err(Error::InsecureUrl {
            what,
            url: url.to_string(),
        }),
        other => Err(Error::InvalidUrl {
            what,
            reason: format!("scheme {other} is not https"),
        }),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The connected app and where it logs users in.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The consumer key.
    pub client_id: String,
    /// The consumer secret; when set it is sent on token calls and checks each `signature`.
    pub client_secret: Option<ClientSecret>,
    /// The callback URL registered on the app.
    pub redirect_uri: Url,
    /// The login host.
    pub environment: Environment,
    /// Timeouts for OAuth calls.
    pub http: HttpConfig,
}

impl OAuthConfig {
    /// A config with default timeouts.
    pub fn new(client_id: impl Into<String>, redirect_uri: Url, environment: Environment) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: None,
            redirect_uri,
            environment,
            http: HttpConfig::default(),
        }
    }

    /// Sets the consumer secret.
    pub fn with_client_secret(mut self, secret: ClientSecret) -> Self {
        self.client_secret = Some(secret);
        self
    }
}

/// The `prompt` values of the authorize request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// `login`: ask for credentials even with a live Salesforce session.
    Login,
    /// `consent`: ask for approval even if the app was approved before.
    Consent,
    /// `select_account`: show the account chooser.
    SelectAccount,
}

impl Prompt {
    fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Consent => "consent",
            Self::SelectAccount => "select_account",
        }
    }
}

/// An authorization in progress: the URL to send the browser to, and what must be kept (in the
/// caller's server-side session) to complete it.
#[derive(Debug, Clone)]
pub struct PendingAuthorization {
    url: Url,
    state: String,
    code_verifier: CodeVerifier,
}

impl PendingAuthorization {
    /// Rebuilds a pending authorization from the `state` and verifier the caller kept between
    /// the redirect and the callback; its [`url`](Self::url) is `about:blank`, having been used.
    pub fn resume(state: impl Into<String>, code_verifier: CodeVerifier) -> Self {
        let url = Url::parse("about:blank").expect("static url");
        Self {
            url,
            state: state.into(),
            code_verifier,
        }
    }

    /// Where to redirect the user's browser.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The opaque `state`, echoed back on the callback.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The PKCE verifier for the code exchange.
    pub fn code_verifier(&self) -> &CodeVerifier {
        &self.code_verifier
    }

    /// Reads the callback (a full URL or its query string). An `error` parameter becomes a typed
    /// error (approval required, access denied, ...); otherwise the `state` must match before the
    /// `code` is returned. Errors are reported even without a `state`, because Salesforce's own
    /// error page (the uninstalled-app case) carries none and an error grants nothing.
    pub fn complete(&self, callback: &str) -> Result<AuthorizationCode> {
        let params = callback_params(callback);
        let get = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let state_matches =
            get("state").map(|s| bool::from(s.as_bytes().ct_eq(self.state.as_bytes())));
        if let Some(error) = get("error") {
            if state_matches == Some(false) {
                return Err(Error::StateMismatch);
            }
            let description = get("error_description").unwrap_or_default().to_owned();
            return Err(Error::from_oauth(error.to_owned(), description));
        }
        if state_matches != Some(true) {
            return Err(Error::StateMismatch);
        }
        let code = get("code").filter(|c| !c.is_empty());
        code.map(AuthorizationCode::new)
            .ok_or_else(|| Error::malformed("authorize callback", "missing `code`"))
    }
}

/// The query pairs of a callback URL, or of a bare query string.
fn callback_params(callback: &str) -> Vec<(String, String)> {
    let query = match Url::parse(callback) {
        Ok(url) => url.query().unwrap_or_default().to_owned(),
        Err(_) => callback.trim_start_matches('?').to_owned(),
    };
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// base64url(SHA-256(verifier)), unpadded (RFC 7636 §4.2, S256).
pub fn code_challenge(verifier: &CodeVerifier) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose().as_bytes()))
}

/// 32 random bytes, base64url: 43 characters, inside RFC 7636's 43..=128 for a verifier.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Tokens from the authorization-code grant.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    /// The access token (session id).
    pub access_token: AccessToken,
    /// The refresh token; present only when `refresh_token`/`offline_access` was granted.
    pub refresh_token: Option<RefreshToken>,
    /// Where data API calls go; never the login host.
    pub instance_url: Url,
    /// The identity URL (`id`): `https://{login host}/id/{org id}/{user id}`.
    pub identity_url: Url,
    /// `issued_at`, milliseconds since the epoch on the wire.
    pub issued_at: Option<OffsetDateTime>,
    /// The granted scopes, space-separated.
    pub scope: Option<String>,
}

impl TokenGrant {
    /// The tokens to persist, when a refresh token was granted.
    pub fn stored_tokens(&self) -> Option<StoredTokens> {
        Some(StoredTokens {
            access_token: Some(self.access_token.clone()),
            refresh_token: self.refresh_token.clone()?,
            instance_url: self.instance_url.clone(),
        })
    }

    /// A session for data API calls.
    pub fn session(&self) -> Session {
        Session::from_checked(self.access_token.clone(), self.instance_url.clone())
    }
}

/// The result of a refresh. The new access token is reachable only through
/// [`Refreshed::persist`], which saves the tokens first: under refresh-token rotation the old
/// refresh token is already dead, and losing the new one means asking the user again.
#[derive(Debug)]
#[must_use = "a refresh must be persisted before its access token is used"]
pub struct Refreshed {
    access_token: AccessToken,
    rotated: Option<RefreshToken>,
    previous: RefreshToken,
    instance_url: Url,
    identity_url: Url,
}

impl Refreshed {
    /// The new refresh token, when the app rotates refresh tokens.
    pub fn rotated_refresh_token(&self) -> Option<&RefreshToken> {
        self.rotated.as_ref()
    }

    /// The instance URL from this response; it may differ from the previous one.
    pub fn instance_url(&self) -> &Url {
        &self.instance_url
    }

    /// The identity URL from this response.
    pub fn identity_url(&self) -> &Url {
        &self.identity_url
    }

    /// What must be stored: the new access token, the rotated refresh token (or the one just
    /// used, which stays valid without rotation) and the instance URL.
    pub fn tokens(&self) -> StoredTokens {
        StoredTokens {
            access_token: Some(self.access_token.clone()),
            refresh_token: self
                .rotated
                .clone()
                .unwrap_or_else(|| self.previous.clone()),
            instance_url: self.instance_url.clone(),
        }
    }

    /// Runs `save` with [`Refreshed::tokens`] and, only if it succeeds, returns the session that
    /// uses the new access token.
    pub async fn persist<F, Fut, E>(self, save: F) -> Result<Session, E>
    where
        F: FnOnce(StoredTokens) -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        save(self.tokens()).await?;
        Ok(Session::from_checked(self.access_token, self.instance_url))
    }
}

/// The identity of the user who authorized the app, from the identity URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The user id (`005...`).
    pub user_id: String,
    /// The org id (`00D...`).
    pub organization_id: String,
    /// The login username.
    pub username: String,
    /// The user's full name.
    pub display_name: String,
    /// The user's email address.
    pub email: String,
}

/// The token endpoint's success body (§1.3). Only `access_token`, `instance_url` and `id` are
/// always present; older responses omit the rest.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    access_token: String,
    refresh_token: Option<String>,
    signature: Option<String>,
    scope: Option<String>,
    instance_url: String,
    id: String,
    issued_at: Option<IssuedAt>,
}

/// `issued_at` is documented as seconds but sent as a string of milliseconds; a number is
/// tolerated. The signature covers the text exactly as sent.
#[derive(Deserialize)]
#[serde(untagged)]
enum IssuedAt {
    Text(String),
    Number(u64),
}

impl IssuedAt {
    fn text(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Number(n) => n.to_string(),
        }
    }
}

/// Talks to one connected app's OAuth endpoints on one login host.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    config: OAuthConfig,
    http: reqwest::Client,
}

impl OAuthClient {
    /// Builds the client. Redirects are never followed: a code or token must not travel on.
    pub fn new(config: OAuthConfig) -> Result<Self> {
        ensure_secure("redirect_uri", &config.redirect_uri)?;
        let http = build_http(&config.http)?;
        Ok(Self { config, http })
    }

    /// The config this client was built with.
    pub fn config(&self) -> &OAuthConfig {
        &self.config
    }

    /// Starts an authorization: a fresh `state` and PKCE verifier, and the authorize URL.
    pub fn authorize(&self, prompts: &[Prompt]) -> PendingAuthorization {
        let state = random_token();
        let code_verifier = CodeVerifier::new(random_token());
        let mut url = self.config.environment.endpoint("authorize");
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.config.client_id)
                .append_pair("redirect_uri", self.config.redirect_uri.as_str())
                .append_pair("scope", SCOPES)
                .append_pair("state", &state)
                .append_pair("code_challenge", &code_challenge(&code_verifier))
                .append_pair("code_challenge_method", "S256");
            if !prompts.is_empty() {
                let prompt: Vec<&str> = prompts.iter().map(|p| p.as_str()).collect();
                query.append_pair("prompt", &prompt.join(" "));
            }
        }
        PendingAuthorization {
            url,
            state,
            code_verifier,
        }
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens, checking the
    /// response's signature when a client secret is configured.
    #[tracing::instrument(name = "salesforce.oauth.exchange_code", skip_all)]
    pub async fn exchange_code(
        &self,
        code: &AuthorizationCode,
        verifier: &CodeVerifier,
    ) -> Result<TokenGrant> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.expose()),
            ("client_id", self.config.client_id.as_str()),
            ("redirect_uri", self.config.redirect_uri.as_str()),
            ("code_verifier", verifier.expose()),
        ];
        self.push_secret(&mut form);
        let response = self.post_token(&form).await?;
        let issued_at = response
            .issued_at
            .as_ref()
            .and_then(|i| parse_issued_at(&i.text()));
        let (instance_url, identity_url) = checked_urls(&response)?;
        tracing::info!(instance_url = %instance_url, "authorization code exchanged");
        Ok(TokenGrant {
            access_token: AccessToken::new(response.access_token),
            refresh_token: response.refresh_token.map(RefreshToken::new),
            instance_url,
            identity_url,
            issued_at,
            scope: response.scope,
        })
    }

    /// Runs the refresh-token grant. Call it under the connection's refresh lock (see
    /// [`crate::session::TokenRefresher`]) and persist the result before using it.
    #[tracing::instrument(name = "salesforce.oauth.refresh", skip_all)]
    pub async fn refresh(&self, refresh_token: &RefreshToken) -> Result<Refreshed> {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
            ("client_id", self.config.client_id.as_str()),
        ];
        self.push_secret(&mut form);
        let response = self.post_token(&form).await?;
        let (instance_url, identity_url) = checked_urls(&response)?;
        let rotated = response.refresh_token.map(RefreshToken::new);
        let rotation = rotated.is_some();
        tracing::info!(instance_url = %instance_url, rotated = rotation, "access token refreshed");
        Ok(Refreshed {
            access_token: AccessToken::new(response.access_token),
            rotated,
            previous: refresh_token.clone(),
            instance_url,
            identity_url,
        })
    }

    /// Revokes a refresh token, and with it every access token issued from it.
    pub async fn revoke_refresh_token(&self, token: &RefreshToken) -> Result<()> {
        self.revoke(token.expose()).await
    }

    /// Revokes one access token.
    pub async fn revoke_access_token(&self, token: &AccessToken) -> Result<()> {
        self.revoke(token.expose()).await
    }

    /// Reads the identity URL with the access token. The URL must be https (or loopback): the
    /// token is about to be sent there.
    #[tracing::instrument(name = "salesforce.oauth.identity", skip_all)]
    pub async fn fetch_identity(
        &self,
        identity_url: &Url,
        access_token: &AccessToken,
    ) -> Result<Identity> {
        ensure_secure("identity url", identity_url)?;
        let what = "identity response";
        let response = self
            .http
            .get(identity_url.clone())
            .bearer_auth(access_token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| Error::transport("identity", e))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::transport("identity", e))?;
        match status {
            200 => wire::parse_json(what, &body),
            // The identity service answers a dead token with 403 "Bad_OAuth_Token".
            401 | 403 if String::from_utf8_lossy(&body).contains("Bad_OAuth_Token") => {
                Err(Error::SessionExpired {
                    message: "Bad_OAuth_Token".to_owned(),
                })
            }
            _ => Err(Error::from_rest("identity", status, &body)),
        }
    }

    #[tracing::instrument(name = "salesforce.oauth.revoke", skip_all)]
    async fn revoke(&self, token: &str) -> Result<()> {
        let url = self.config.environment.endpoint("revoke");
        let (status, body) = self.post_form(url, &[("token", token)]).await?;
        if status == 200 {
            tracing::info!("token revoked");
            return Ok(());
        }
        Err(Error::from_oauth_response(status, &body))
    }

    fn push_secret<'a>(&'a self, form: &mut Vec<(&'static str, &'a str)>) {
        if let Some(secret) = &self.config.client_secret {
            form.push(("client_secret", secret.expose()));
        }
    }

    /// POSTs to the token endpoint and checks the response.
    async fn post_token(&self, form: &[(&str, &str)]) -> Result<TokenResponse> {
        let url = self.config.environment.endpoint("token");
        let (status, body) = self.post_form(url, form).await?;
        if status != 200 {
            return Err(Error::from_oauth_response(status, &body));
        }
        let response: TokenResponse = wire::parse_json("token response", &body)?;
        if let Some(secret) = &self.config.client_secret {
            verify_signature(secret, &response)?;
        }
        Ok(response)
    }

    /// POSTs a form. Only connect errors are retried: once a token request may have reached
    /// Salesforce, sending it again could replay a rotated refresh token, and Salesforce answers
    /// a reused token by revoking the whole grant (§1.4).
    async fn post_form(&self, url: Url, form: &[(&str, &str)]) -> Result<(u16, bytes::Bytes)> {
        let mut retry = 0;
        loop {
            match self.post_form_once(url.clone(), form).await {
                Err(err) if err.is_connect() => match self.config.http.retry.delay(retry) {
                    Some(delay) => {
                        tracing::warn!(error = %err, retry, "oauth endpoint unreachable; retrying");
                        tokio::time::sleep(delay).await;
                        retry += 1;
                    }
                    None => return Err(err),
                },
                other => return other,
            }
        }
    }

    async fn post_form_once(&self, url: Url, form: &[(&str, &str)]) -> Result<(u16, bytes::Bytes)> {
        let response = self
            .http
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form)
            .send()
            .await
            .map_err(|e| Error::transport("oauth endpoint", e))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| Error::transport("oauth endpoint", e))?;
        Ok((status, body))
    }
}

/// The instance and identity URLs of a token response, both https (or loopback): the access
/// token will be sent to each.
fn checked_urls(response: &TokenResponse) -> Result<(Url, Url)> {
    let parse = |what, text: &str| {
        Url::parse(text)
            .map_err(|e| Error::malformed("token response", format!("`{what}` is not a URL: {e}")))
    };
    let instance_url = parse("instance_url", &response.instance_url)?;
    let identity_url = parse("id", &response.id)?;
    ensure_secure("instance_url", &instance_url)?;
    ensure_secure("identity url", &identity_url)?;
    Ok((instance_url, identity_url))
}

/// Checks `signature` = base64(HMAC-SHA256(client secret, `id` + `issued_at`)) (§1.3), in
/// constant time (`verify_slice` compares with `subtle`).
fn verify_signature(secret: &ClientSecret, response: &TokenResponse) -> Result<()> {
    let missing = |key| {
        Error::malformed(
            "token response",
            format!("missing `{key}` needed to check the signature"),
        )
    };
    let signature = response
        .signature
        .as_deref()
        .ok_or_else(|| missing("signature"))?;
    let issued_at = response
        .issued_at
        .as_ref()
        .ok_or_else(|| missing("issued_at"))?;
    let tag = STANDARD
        .decode(signature)
        .map_err(|_| Error::SignatureMismatch)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| Error::SignatureMismatch)?;
    mac.update(response.id.as_bytes());
    mac.update(issued_at.text().as_bytes());
    mac.verify_slice(&tag).map_err(|_| Error::SignatureMismatch)
}

/// `issued_at` in milliseconds since the epoch.
fn parse_issued_at(text: &str) -> Option<OffsetDateTime> {
    let millis: i128 = text.trim().parse().ok()?;
    OffsetDateTime::from_unix_timestamp_nanos(millis * 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oauth(env: Environment) -> OAuthClient {
        let redirect = Url::parse("https://app.example.com/oauth/callback").unwrap();
        OAuthClient::new(OAuthConfig::new("3MVGclient", redirect, env)).unwrap()
    }

    #[test]
    fn environments_resolve_to_their_login_hosts() {
        assert_eq!(
            Environment::Production.endpoint("token").as_str(),
            "https://login.salesforce.com/services/oauth2/token"
        );
        assert_eq!(
            Environment::Sandbox.endpoint("revoke").as_str(),
            "https://test.salesforce.com/services/oauth2/revoke"
        );
        let custom = Environment::custom("https://acme.my.salesforce.com/").unwrap();
        assert_eq!(
            custom.endpoint("authorize").as_str(),
            "https://acme.my.salesforce.com/services/oauth2/authorize"
        );
        let site = Environment::custom("https://acme.my.site.com/partners").unwrap();
        assert_eq!(
            site.endpoint("token").as_str(),
            "https://acme.my.site.com/partners/services/oauth2/token"
        );
    }

    #[test]
    fn http_is_refused_except_on_loopback_hosts() {
        for ok in [
            "http://127.0.0.1:8443",
            "http://127.5.0.1",
            "http://[::1]:80",
            "http://localhost:1",
            "https://x.my.salesforce.com",
        ] {
            assert!(Environment::custom(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://login.salesforce.com",
            "http://10.0.0.1",
            "http://localhost.evil.com",
            "http://[::2]",
        ] {
            let err = Environment::custom(bad).unwrap_err();
            assert!(matches!(err, Error::InsecureUrl { .. }), "{bad}: {err}");
        }
        assert!(matches!(
            Environment::custom("ftp://x"),
            Err(Error::InvalidUrl { .. })
        ));
        assert!(matches!(
            Environment::custom("not a url"),
            Err(Error::InvalidUrl { .. })
        ));
        assert!(matches!(
            Environment::custom("https://x.com/?a=b"),
            Err(Error::InvalidUrl { .. })
        ));
    }

    #[test]
    fn authorize_url_carries_pkce_state_scopes_and_prompt() {
        let pending = oauth(Environment::Production).authorize(&[Prompt::Login, Prompt::Consent]);
        let url = pending.url();
        assert_eq!(url.path(), "/services/oauth2/authorize");
        let pairs: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs["response_type"], "code");
        assert_eq!(pairs["client_id"], "3MVGclient");
        assert_eq!(
            pairs["redirect_uri"],
            "https://app.example.com/oauth/callback"
        );
        assert_eq!(pairs["scope"], "api refresh_token offline_access");
        assert_eq!(pairs["state"], pending.state());
        assert_eq!(pairs["code_challenge_method"], "S256");
        assert_eq!(
            pairs["code_challenge"],
            code_challenge(pending.code_verifier())
        );
        assert_eq!(pairs["prompt"], "login consent");
        assert_eq!(pending.code_verifier().expose().len(), 43);
        let again = oauth(Environment::Production).authorize(&[]);
        assert_ne!(again.state(), pending.state());
        assert!(!again.url().query().unwrap().contains("prompt"));
    }

    #[test]
    fn code_challenge_is_unpadded_base64url_of_the_verifiers_sha256() {
        // Expected value computed independently with Python's hashlib and base64.
        let verifier = CodeVerifier::new("dBjftJeZ4CVP-mJ92K9FbrVDvgUBj2ZsHBqnBhOJwLU");
        assert_eq!(
            code_challenge(&verifier),
            "_LTRYcAdiu8grn_o-51ImQAMJ8MCvfHU2Wt1wB1Y-mc"
        );
    }

    #[test]
    fn callback_returns_the_code_only_when_state_matches() {
        let pending = PendingAuthorization::resume("s1", CodeVerifier::new("v"));
        let code = pending
            .complete("https://app.example.com/cb?code=aPrx%3D%3D&state=s1")
            .unwrap();
        assert_eq!(code.expose(), "aPrx==");
        assert!(matches!(
            pending.complete("code=abc&state=s2"),
            Err(Error::StateMismatch)
        ));
        assert!(matches!(
            pending.complete("?code=abc"),
            Err(Error::StateMismatch)
        ));
        assert!(pending.complete("state=s1").unwrap_err().is_malformed());
    }

    #[test]
    fn callback_errors_are_typed() {
        let pending = PendingAuthorization::resume("s1", CodeVerifier::new("v"));
        let page = "https://acme.my.salesforce.com/setup/secur/RemoteAccessErrorPage.apexp?error=invalid_client&error_description=app+must+be+installed+into+org";
        assert!(pending.complete(page).unwrap_err().is_approval_required());
        let denied = pending.complete(
            "error=access_denied&error_description=end-user+denied+authorization&state=s1",
        );
        assert!(matches!(denied, Err(Error::AuthorizationDenied { .. })));
        let hyphen = pending.complete("error=access-denied&state=s1");
        assert!(matches!(hyphen, Err(Error::AuthorizationDenied { .. })));
        let forged = pending.complete("error=access_denied&state=other");
        assert!(matches!(forged, Err(Error::StateMismatch)));
    }

    fn signed_response(secret: &str, id: &str, issued_at: &str) -> TokenResponse {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(id.as_bytes());
        mac.update(issued_at.as_bytes());
        TokenResponse {
            access_token: "00D!token".into(),
            refresh_token: None,
            signature: Some(STANDARD.encode(mac.finalize().into_bytes())),
            scope: None,
            instance_url: "https://acme.my.salesforce.com".into(),
            id: id.into(),
            issued_at: Some(IssuedAt::Text(issued_at.into())),
        }
    }

    #[test]
    fn signature_is_hmac_of_id_and_issued_at_under_the_client_secret() {
        let id = "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P";
        let secret = ClientSecret::new("s3cret");
        let response = signed_response("s3cret", id, "1278448832702");
        assert!(verify_signature(&secret, &response).is_ok());
        let tampered = TokenResponse {
            id: format!("{id}X"),
            ..signed_response("s3cret", id, "1278448832702")
        };
        assert!(matches!(
            verify_signature(&secret, &tampered),
            Err(Error::SignatureMismatch)
        ));
        let other_key = signed_response("other", id, "1278448832702");
        assert!(matches!(
            verify_signature(&secret, &other_key),
            Err(Error::SignatureMismatch)
        ));
        let unsigned = TokenResponse {
            signature: None,
            ..signed_response("s3cret", id, "1")
        };
        assert!(
            verify_signature(&secret, &unsigned)
                .unwrap_err()
                .is_malformed()
        );
    }

    fn refreshed(rotated: Option<&str>) -> Refreshed {
        Refreshed {
            access_token: AccessToken::new("fresh"),
            rotated: rotated.map(RefreshToken::new),
            previous: RefreshToken::new("old"),
            instance_url: Url::parse("https://moved.my.salesforce.com").unwrap(),
            identity_url: Url::parse("https://login.salesforce.com/id/00D/005").unwrap(),
        }
    }

    #[tokio::test]
    async fn a_refresh_yields_its_session_only_after_the_tokens_are_saved() {
        let mut saved = None;
        let session = refreshed(Some("rotated"))
            .persist(|tokens| {
                saved = Some(tokens);
                async { Ok::<_, String>(()) }
            })
            .await
            .unwrap();
        let saved = saved.expect("the tokens were saved first");
        assert_eq!(saved.refresh_token.expose(), "rotated");
        assert_eq!(
            saved.access_token.as_ref().map(AccessToken::expose),
            Some("fresh")
        );
        assert_eq!(session.access_token().expose(), "fresh");
        assert_eq!(
            session.instance_url().as_str(),
            "https://moved.my.salesforce.com/"
        );

        let failed = refreshed(None)
            .persist(|_| async { Err("disk full") })
            .await;
        assert_eq!(failed.unwrap_err(), "disk full");
    }

    #[test]
    fn without_rotation_the_used_refresh_token_is_kept() {
        assert_eq!(refreshed(None).tokens().refresh_token.expose(), "old");
        assert_eq!(
            refreshed(Some("new")).tokens().refresh_token.expose(),
            "new"
        );
    }

    #[test]
    fn issued_at_is_milliseconds() {
        let at = parse_issued_at("1278448832702").unwrap();
        assert_eq!(at.unix_timestamp(), 1_278_448_832);
        assert_eq!(at.millisecond(), 702);
    }
}
