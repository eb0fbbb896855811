//! The logs of a full OAuth flow and a multi-page sync, refresh and errors included, at TRACE
//! level, never contain a token, code, verifier or secret.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use futures_util::TryStreamExt;
use sfsync_salesforce::{
    BulkQueryOptions, ClientConfig, MemoryTokenStore, OAuthClient, QueryOptions, QueryPage,
    SalesforceClient, StoredTokens, TokenGrant, TokenRefresher,
};
use sfsync_simulator::DEFAULT_CLIENT_SECRET;
use support::{Harness, fast_http};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// A log sink the test can read back.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Captures every event and span of every crate at TRACE, except the simulator's server side,
/// which is not the code under test.
fn capture() -> Buffer {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(
            "trace,sfsync_simulator=off,axum=off,tower_http=off",
        ))
        .with_span_events(FmtSpan::FULL)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    buffer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_oauth_flow_and_sync_log_no_secret() {
    let logs = capture();
    let harness = Harness::start().await;
    harness
        .settings(serde_json::json!({ "rotate_refresh_tokens": true }))
        .await;
    let mut secrets = vec![DEFAULT_CLIENT_SECRET.to_owned()];

    let (oauth, grant) = authorize(&harness, &mut secrets).await;
    let refreshed = sync(&harness, &oauth, &grant, &mut secrets).await;
    fail_on_purpose(&harness, &oauth, &refreshed).await;

    let text = logs.text();
    assert!(
        text.contains("salesforce.request"),
        "request spans were captured"
    );
    assert!(
        text.contains("access token refreshed"),
        "the refresh was logged"
    );
    assert_eq!(
        secrets.len(),
        7,
        "client secret, code, verifier, two access and two refresh tokens"
    );
    for secret in &secrets {
        assert!(
            secret.len() >= 8,
            "a real secret, not an empty or trivial string"
        );
        assert!(
            !text.contains(secret.as_str()),
            "a secret reached the logs:\n{text}"
        );
    }
}

/// Authorize, exchange the code, read the identity; logs the grant's Debug output.
async fn authorize(harness: &Harness, secrets: &mut Vec<String>) -> (OAuthClient, TokenGrant) {
    let oauth = harness.oauth();
    let pending = oauth.authorize(&[]);
    let code = pending
        .complete(&harness.authorize_redirect(pending.url()).await)
        .unwrap();
    let grant = oauth
        .exchange_code(&code, pending.code_verifier())
        .await
        .unwrap();
    let refresh = grant
        .refresh_token
        .as_ref()
        .expect("a refresh token was granted");
    secrets.extend(
        [
            code.expose(),
            pending.code_verifier().expose(),
            grant.access_token.expose(),
            refresh.expose(),
        ]
        .map(str::to_owned),
    );
    let identity = oauth
        .fetch_identity(&grant.identity_url, &grant.access_token)
        .await
        .unwrap();
    tracing::info!(
        ?grant,
        ?identity,
        ?pending,
        "test: debug output of the grant"
    );
    (oauth, grant)
}

/// Syncs several pages with the session expiring between two of them, then a bulk read;
/// returns the tokens stored after the refresh.
async fn sync(
    harness: &Harness,
    oauth: &OAuthClient,
    grant: &TokenGrant,
    secrets: &mut Vec<String>,
) -> StoredTokens {
    let store = MemoryTokenStore::new(grant.stored_tokens().unwrap());
    let refresher = TokenRefresher::new(oauth.clone(), Arc::new(store.clone()));
    let config = ClientConfig {
        http: fast_http(),
        ..ClientConfig::default()
    };
    let client = SalesforceClient::connect(config, refresher).await.unwrap();
    let pages = sync_with_expiry(harness, &client).await;
    assert!(pages.len() >= 3, "a multi-page sync: {}", pages.len());

    let bulk = BulkQueryOptions {
        max_records: 100,
        poll_initial: std::time::Duration::from_millis(20),
        ..Default::default()
    };
    let rows: Vec<_> = client
        .bulk_query("SELECT Id, Name FROM Account", bulk)
        .try_collect()
        .await
        .unwrap();
    assert!(!rows.is_empty());

    let refreshed = store.tokens().await;
    assert_ne!(
        refreshed.access_token.as_ref(),
        Some(&grant.access_token),
        "the session was replaced"
    );
    secrets.push(refreshed.refresh_token.expose().to_owned());
    secrets.push(refreshed.access_token.as_ref().unwrap().expose().to_owned());
    tracing::info!(?refreshed, ?client, session = ?client.session(), "test: debug output after refresh");
    harness.fault("malformed_body", 1, None).await;
    let err = client
        .fetch_first_page("SELECT Id FROM Account", QueryOptions::default())
        .await
        .unwrap_err();
    tracing::warn!(error = %err, debug = ?err, "test: a malformed body");
    refreshed
}

/// Errors on the OAuth side, logged with their Display and Debug forms.
async fn fail_on_purpose(harness: &Harness, oauth: &OAuthClient, refreshed: &StoredTokens) {
    oauth
        .revoke_refresh_token(&refreshed.refresh_token)
        .await
        .unwrap();
    let err = oauth.refresh(&refreshed.refresh_token).await.unwrap_err();
    tracing::warn!(error = %err, debug = ?err, "test: a refresh after revocation");
    let pending = harness.oauth().authorize(&[]);
    let err = pending
        .complete("error=access_denied&error_description=no")
        .unwrap_err();
    tracing::warn!(error = %err, "test: a denied callback");
}

async fn sync_with_expiry(harness: &Harness, client: &SalesforceClient) -> Vec<QueryPage> {
    let soql = "SELECT Id, LastName, Email, SystemModstamp FROM Contact";
    let options = QueryOptions::default().with_batch_size(200);
    let first = client.fetch_first_page(soql, options).await.unwrap();
    harness.fault("expire_sessions", 1, None).await;
    let rest: Vec<QueryPage> = client
        .continue_query(&first, options)
        .try_collect()
        .await
        .unwrap();
    std::iter::once(first).chain(rest).collect()
}
