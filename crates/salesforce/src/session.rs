//! Sessions and rotation-safe refresh.
//!
//! A session is an access token plus the instance URL it works against. When Salesforce
//! rejects it (401 `INVALID_SESSION_ID`), a [`TokenRefresher`] gets a new one:
//!
//! 1. take the connection's refresh lock from the caller's [`TokenStore`], single flight across
//!    every process that serves the connection;
//! 2. re-read the stored tokens: if another worker refreshed meanwhile, use its access token;
//! 3. otherwise run the refresh grant and persist the result, rotated refresh token included,
//!    before the new access token is used ([`crate::Refreshed::persist`]).
//!
//! Refresh tokens may be single use (Refresh Token Rotation): reusing a rotated-out token
//! revokes the whole grant (salesforce-api.md §1.4), so steps 2 and 3 are not optional.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures_util::future::BoxFuture;
use tokio::sync::{Mutex, OwnedMutexGuard};
use url::Url;

use crate::auth::{OAuthClient, ensure_secure};
use crate::error::{Error, Result};
use crate::secret::{AccessToken, RefreshToken};

/// An access token and the instance it is valid for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    access_token: AccessToken,
    instance_url: Url,
}

impl Session {
    /// A session from stored tokens; the instance URL must be https (or loopback).
    pub fn new(access_token: AccessToken, instance_url: Url) -> Result<Self> {
        ensure_secure("instance_url", &instance_url)?;
        Ok(Self {
            access_token,
            instance_url,
        })
    }

    /// For URLs already checked when the token response was read.
    pub(crate) fn from_checked(access_token: AccessToken, instance_url: Url) -> Self {
        Self {
            access_token,
            instance_url,
        }
    }

    /// The access token.
    pub fn access_token(&self) -> &AccessToken {
        &self.access_token
    }

    /// The instance URL that data API calls go to.
    pub fn instance_url(&self) -> &Url {
        &self.instance_url
    }
}

/// One connection's tokens as the caller stores them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTokens {
    /// The last access token, if one was issued (a connection made from a bare refresh token
    /// has none until its first refresh).
    pub access_token: Option<AccessToken>,
    /// The refresh token; under rotation, the only one still valid.
    pub refresh_token: RefreshToken,
    /// The instance URL from the last token response.
    pub instance_url: Url,
}

/// The error a [`TokenStore`] reports.
pub type StoreError = Box<dyn std::error::Error + Send + Sync>;

/// The caller's store of one connection's tokens, with its per-connection refresh lock.
///
/// On PostgreSQL the lock is an advisory transaction lock or `SELECT ... FOR UPDATE` on the
/// credentials row; on SQLite a per-connection mutex around `BEGIN IMMEDIATE` (rust-stack.md
/// §1.4). [`MemoryTokenStore`] is the in-process version for tests.
pub trait TokenStore: Send + Sync {
    /// Takes the refresh lock and reads the tokens stored under it. The lock is held until
    /// the returned guard is dropped.
    fn lock(&self) -> BoxFuture<'_, Result<Box<dyn TokenGuard>, StoreError>>;
}

/// The held refresh lock of one connection.
pub trait TokenGuard: Send {
    /// The tokens as stored, read after the lock was taken.
    fn tokens(&self) -> &StoredTokens;

    /// Persists the tokens of a refresh (durably, before returning Ok).
    fn save(&mut self, tokens: StoredTokens) -> BoxFuture<'_, Result<(), StoreError>>;
}

/// Gets a fresh session when the current one is rejected.
#[derive(Clone)]
pub struct TokenRefresher {
    oauth: OAuthClient,
    store: Arc<dyn TokenStore>,
}

impl std::fmt::Debug for TokenRefresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRefresher")
            .field("oauth", &self.oauth)
            .finish_non_exhaustive()
    }
}

impl TokenRefresher {
    /// A refresher for the connection whose tokens `store` holds.
    pub fn new(oauth: OAuthClient, store: Arc<dyn TokenStore>) -> Self {
        Self { oauth, store }
    }

    /// A session whose access token is not `rejected`: the stored one if another worker
    /// already replaced it, else a refreshed one, persisted before it is returned.
    /// `rejected = None` accepts any stored access token (used at start-up).
    #[tracing::instrument(name = "salesforce.session.refresh", skip_all)]
    pub async fn refresh(&self, rejected: Option<&AccessToken>) -> Result<Session> {
        let mut guard = self.store.lock().await.map_err(Error::TokenStore)?;
        let stored = guard.tokens().clone();
        if let Some(current) = stored.access_token.filter(|t| Some(t) != rejected) {
            tracing::debug!("another worker already refreshed; using its token");
            return Session::new(current, stored.instance_url);
        }
        let refreshed = self.oauth.refresh(&stored.refresh_token).await?;
        refreshed
            .persist(|tokens| guard.save(tokens))
            .await
            .map_err(Error::TokenStore)
    }
}

/// Tokens kept in memory behind a `tokio` mutex: the [`TokenStore`] for tests and for tools
/// that hold a connection only for one process's lifetime.
#[derive(Debug, Clone)]
pub struct MemoryTokenStore {
    inner: Arc<MemoryInner>,
}

#[derive(Debug)]
struct MemoryInner {
    tokens: Arc<Mutex<StoredTokens>>,
    saves: AtomicUsize,
    fail_saves: AtomicBool,
}

impl MemoryTokenStore {
    /// A store holding `tokens`.
    pub fn new(tokens: StoredTokens) -> Self {
        let inner = MemoryInner {
            tokens: Arc::new(Mutex::new(tokens)),
            saves: AtomicUsize::new(0),
            fail_saves: AtomicBool::new(false),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The tokens stored now (waits for a held lock).
    pub async fn tokens(&self) -> StoredTokens {
        self.inner.tokens.lock().await.clone()
    }

    /// How many times tokens were saved.
    pub fn saves(&self) -> usize {
        self.inner.saves.load(Ordering::SeqCst)
    }

    /// Makes every later save fail, to test that an unsaved refresh is never used.
    pub fn fail_saves(&self, fail: bool) {
        self.inner.fail_saves.store(fail, Ordering::SeqCst);
    }
}

impl TokenStore for MemoryTokenStore {
    fn lock(&self) -> BoxFuture<'_, Result<Box<dyn TokenGuard>, StoreError>> {
        Box::pin(async move {
            let guard = self.inner.tokens.clone().lock_owned().await;
            Ok(Box::new(MemoryGuard {
                guard,
                inner: self.inner.clone(),
            }) as Box<dyn TokenGuard>)
        })
    }
}

struct MemoryGuard {
    guard: OwnedMutexGuard<StoredTokens>,
    inner: Arc<MemoryInner>,
}

impl TokenGuard for MemoryGuard {
    fn tokens(&self) -> &StoredTokens {
        &self.guard
    }

    fn save(&mut self, tokens: StoredTokens) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            if self.inner.fail_saves.load(Ordering::SeqCst) {
                return Err("memory token store set to fail saves".into());
            }
            *self.guard = tokens;
            self.inner.saves.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Environment, OAuthConfig};

    fn tokens(access: Option<&str>) -> StoredTokens {
        StoredTokens {
            access_token: access.map(AccessToken::new),
            refresh_token: RefreshToken::new("r1"),
            instance_url: Url::parse("https://acme.my.salesforce.com").unwrap(),
        }
    }

    fn refresher(store: &MemoryTokenStore) -> TokenRefresher {
        // Port 9 on loopback refuses connections, so any attempt to refresh fails fast.
        let env = Environment::custom("http://127.0.0.1:9").unwrap();
        let redirect = Url::parse("http://127.0.0.1:9/cb").unwrap();
        let mut config = OAuthConfig::new("id", redirect, env);
        config.http.retry = crate::RetryPolicy::none();
        TokenRefresher::new(OAuthClient::new(config).unwrap(), Arc::new(store.clone()))
    }

    #[tokio::test]
    async fn a_token_refreshed_by_another_worker_is_used_without_refreshing() {
        let store = MemoryTokenStore::new(tokens(Some("new")));
        let session = refresher(&store)
            .refresh(Some(&AccessToken::new("old")))
            .await
            .unwrap();
        assert_eq!(session.access_token().expose(), "new");
        assert_eq!(store.saves(), 0);
    }

    #[tokio::test]
    async fn the_rejected_token_is_never_handed_back() {
        let store = MemoryTokenStore::new(tokens(Some("old")));
        let err = refresher(&store)
            .refresh(Some(&AccessToken::new("old")))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Transport { .. }), "{err}");
        assert_eq!(store.saves(), 0);
    }

    #[tokio::test]
    async fn a_failing_memory_store_keeps_the_old_tokens() {
        let store = MemoryTokenStore::new(tokens(None));
        store.fail_saves(true);
        let mut guard = store.lock().await.unwrap();
        assert!(guard.save(tokens(Some("fresh"))).await.is_err());
        drop(guard);
        assert_eq!(store.tokens().await.access_token, None);
        assert_eq!(store.saves(), 0);
    }
}
