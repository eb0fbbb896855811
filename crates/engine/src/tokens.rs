//! A connection's tokens at rest: sealed by the vault, bound to their connection, and lent
//! to the Salesforce client through its [`TokenStore`] trait.
//!
//! The access token, the refresh token and the instance URL are sealed together as one
//! secret, so a rotation replaces all three in one write and a reader never sees a refresh
//! token paired with another grant's instance URL. The vault's associated data names the
//! connection: a sealed blob copied onto another connection fails to open.

use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use sfsync_salesforce::{
    AccessToken, ClientSecret, RefreshToken, StoredTokens, TokenGuard, TokenStore,
};
use sfsync_store::{ConnectionId, SealedSecret, Store, TokenLock};
use sfsync_vault::KeyRing;
use url::Url;
use zeroize::Zeroizing;

/// Why tokens could not be sealed, opened or lent.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The vault refused (wrong key, altered bytes, another connection's blob).
    #[error("tokens of connection {connection}: {source}")]
    Vault {
        /// The connection whose tokens these are.
        connection: ConnectionId,
        /// What the vault said.
        source: sfsync_vault::Error,
    },
    /// The opened bytes are not the token record this module writes.
    #[error("tokens of connection {connection} are malformed: {reason}")]
    Malformed {
        /// The connection whose tokens these are.
        connection: ConnectionId,
        /// What was wrong (never the bytes themselves).
        reason: String,
    },
    /// The connection has no stored tokens (never connected, or disconnected).
    #[error("connection {0} has no stored tokens")]
    Missing(ConnectionId),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] sfsync_store::Error),
}

/// The plaintext sealed for a connection. Field names are part of the at-rest format.
#[derive(Serialize, Deserialize)]
struct Plain {
    access_token: Option<String>,
    refresh_token: String,
    instance_url: String,
    /// The app that issued the refresh token, when it is not the operator's (a connection
    /// made with `sfsync connect --client-id`): a refresh token only refreshes with the
    /// consumer key that issued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    app: Option<PlainApp>,
}

#[derive(Serialize, Deserialize, Clone)]
struct PlainApp {
    client_id: String,
    client_secret: Option<String>,
}

/// A connection's tokens as opened, with the app that issued them if it is not the
/// operator's.
#[derive(Debug, Clone)]
pub struct OpenedTokens {
    /// The tokens.
    pub tokens: StoredTokens,
    /// The issuing app's consumer key and secret.
    pub app: Option<(String, Option<ClientSecret>)>,
}

/// The vault context that binds a sealed blob to its connection.
pub fn token_context(connection: ConnectionId) -> String {
    format!("connection:{}:tokens", connection.0)
}

/// Seals a connection's tokens, issued by the operator's connected app, for the store.
pub fn seal_tokens(
    ring: &KeyRing,
    connection: ConnectionId,
    tokens: &StoredTokens,
) -> Result<SealedSecret, TokenError> {
    seal(ring, connection, tokens, None)
}

/// Seals a connection's tokens together with the app that issued them.
pub fn seal_opened(
    ring: &KeyRing,
    connection: ConnectionId,
    opened: &OpenedTokens,
) -> Result<SealedSecret, TokenError> {
    let app = opened.app.as_ref().map(|(id, secret)| PlainApp {
        client_id: id.clone(),
        client_secret: secret.as_ref().map(|s| s.expose().to_string()),
    });
    seal(ring, connection, &opened.tokens, app)
}

fn seal(
    ring: &KeyRing,
    connection: ConnectionId,
    tokens: &StoredTokens,
    app: Option<PlainApp>,
) -> Result<SealedSecret, TokenError> {
    let plain = Plain {
        access_token: tokens.access_token.as_ref().map(|t| t.expose().to_string()),
        refresh_token: tokens.refresh_token.expose().to_string(),
        instance_url: tokens.instance_url.to_string(),
        app,
    };
    let bytes = Zeroizing::new(serde_json::to_vec(&plain).expect("plain strings serialize"));
    let sealed = sfsync_vault::seal(ring, &bytes, &token_context(connection))
        .map_err(|source| TokenError::Vault { connection, source })?;
    Ok(SealedSecret(sealed))
}

/// Opens a connection's sealed tokens.
pub fn open_tokens(
    ring: &KeyRing,
    connection: ConnectionId,
    sealed: &SealedSecret,
) -> Result<StoredTokens, TokenError> {
    open(ring, connection, sealed).map(|opened| opened.tokens)
}

/// Opens a connection's sealed tokens with the app that issued them.
pub fn open(
    ring: &KeyRing,
    connection: ConnectionId,
    sealed: &SealedSecret,
) -> Result<OpenedTokens, TokenError> {
    let bytes = sfsync_vault::open(ring, &sealed.0, &token_context(connection))
        .map_err(|source| TokenError::Vault { connection, source })?;
    let malformed = |reason: String| TokenError::Malformed { connection, reason };
    // serde_json's message names a position, never the content, so it is safe to keep.
    let plain: Plain = serde_json::from_slice(&bytes).map_err(|e| malformed(e.to_string()))?;
    let instance_url =
        Url::parse(&plain.instance_url).map_err(|e| malformed(format!("instance_url: {e}")))?;
    let tokens = StoredTokens {
        access_token: plain.access_token.map(AccessToken::new),
        refresh_token: RefreshToken::new(plain.refresh_token),
        instance_url,
    };
    let app = plain
        .app
        .map(|a| (a.client_id, a.client_secret.map(ClientSecret::new)));
    Ok(OpenedTokens { tokens, app })
}

/// Loads and opens a connection's tokens, outside the refresh lock (to build a client).
pub async fn load_tokens(
    store: &dyn Store,
    ring: &KeyRing,
    connection: ConnectionId,
) -> Result<OpenedTokens, TokenError> {
    let sealed = store
        .load_sealed_tokens(connection)
        .await?
        .ok_or(TokenError::Missing(connection))?;
    open(ring, connection, &sealed)
}

/// What a master-key rotation did to the stored tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Connections whose data key is now wrapped by the primary key.
    pub rewrapped: u64,
    /// Connections whose tokens a refresh replaced during the rotation; run it again.
    pub changed: u64,
}

/// Re-wraps every connection's data key under the ring's primary master key, leaving the
/// tokens themselves untouched. Each replacement is a compare-and-swap, so a refresh that
/// rotates a token meanwhile is never overwritten: it is counted in [`Rotation::changed`].
pub async fn rewrap_all(store: &dyn Store, ring: &KeyRing) -> Result<Rotation, TokenError> {
    let mut rotation = Rotation::default();
    for (connection, sealed) in store.load_all_sealed_tokens().await? {
        let fresh = sfsync_vault::rewrap(ring, &sealed.0, &token_context(connection))
            .map_err(|source| TokenError::Vault { connection, source })?;
        if fresh == sealed.0 {
            continue;
        }
        let replacement = SealedSecret(fresh);
        match store
            .replace_sealed_tokens(connection, &sealed, &replacement)
            .await?
        {
            true => rotation.rewrapped += 1,
            false => rotation.changed += 1,
        }
    }
    Ok(rotation)
}

/// The client's [`TokenStore`] for one connection: the store's token lock, with the vault
/// opening what it reads and sealing what it saves.
#[derive(Clone)]
pub struct VaultTokenStore {
    store: Arc<dyn Store>,
    ring: Arc<KeyRing>,
    connection: ConnectionId,
}

impl VaultTokenStore {
    /// The token store of `connection`.
    pub fn new(store: Arc<dyn Store>, ring: Arc<KeyRing>, connection: ConnectionId) -> Self {
        Self {
            store,
            ring,
            connection,
        }
    }

    async fn lock_and_open(&self) -> Result<Box<dyn TokenGuard>, TokenError> {
        let mut lock = self.store.lock_tokens(self.connection).await?;
        let sealed = lock
            .load()
            .await?
            .ok_or(TokenError::Missing(self.connection))?;
        let opened = open(&self.ring, self.connection, &sealed)?;
        Ok(Box::new(VaultGuard {
            lock,
            ring: self.ring.clone(),
            connection: self.connection,
            opened,
        }))
    }
}

impl TokenStore for VaultTokenStore {
    fn lock(
        &self,
    ) -> BoxFuture<'_, Result<Box<dyn TokenGuard>, sfsync_salesforce::session::StoreError>> {
        async move { self.lock_and_open().await.map_err(Into::into) }.boxed()
    }
}

/// A held token lock with the tokens it read.
struct VaultGuard {
    lock: Box<dyn TokenLock>,
    ring: Arc<KeyRing>,
    connection: ConnectionId,
    opened: OpenedTokens,
}

impl TokenGuard for VaultGuard {
    fn tokens(&self) -> &StoredTokens {
        &self.opened.tokens
    }

    fn save(
        &mut self,
        tokens: StoredTokens,
    ) -> BoxFuture<'_, Result<(), sfsync_salesforce::session::StoreError>> {
        async move {
            let rotated = OpenedTokens {
                tokens,
                app: self.opened.app.clone(),
            };
            let sealed = seal_opened(&self.ring, self.connection, &rotated)?;
            self.lock.save(&sealed).await.map_err(TokenError::from)?;
            self.opened = rotated;
            Ok(())
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sfsync_vault::MasterKey;

    fn ring() -> KeyRing {
        KeyRing::new(MasterKey::from_bytes([7; 32]))
    }

    fn tokens() -> StoredTokens {
        StoredTokens {
            access_token: Some(AccessToken::new("00Dsecret!access")),
            refresh_token: RefreshToken::new("5Aep-refresh-secret"),
            instance_url: Url::parse("https://acme.my.salesforce.com").unwrap(),
        }
    }

    #[test]
    fn sealed_tokens_open_to_the_same_tokens_and_hide_them() {
        let sealed = seal_tokens(&ring(), ConnectionId(3), &tokens()).unwrap();
        let text = String::from_utf8_lossy(&sealed.0);
        assert!(!text.contains("refresh-secret") && !text.contains("secret!access"));
        let opened = open_tokens(&ring(), ConnectionId(3), &sealed).unwrap();
        assert_eq!(opened.refresh_token, tokens().refresh_token);
        assert_eq!(opened.access_token, tokens().access_token);
        assert_eq!(opened.instance_url, tokens().instance_url);
    }

    #[test]
    fn tokens_moved_to_another_connection_fail_to_open() {
        let sealed = seal_tokens(&ring(), ConnectionId(3), &tokens()).unwrap();
        let err = open_tokens(&ring(), ConnectionId(4), &sealed).unwrap_err();
        assert!(matches!(err, TokenError::Vault { .. }), "{err}");
        assert!(!err.to_string().contains("refresh-secret"), "{err}");
    }
}
