//! After a full flow (sign in, connect, initial load, an expired session refreshed with a
//! rotated refresh token, Sync now), neither the SQLite files nor the logs, captured at
//! TRACE, hold any access token, refresh token, authorization code, API token, session or
//! sign-in secret in plain text.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use sfsync_engine::tokens::load_tokens;
use sfsync_store::Store;
use support::{Stack, eventually};
use tracing_subscriber::EnvFilter;

/// A log sink the test reads back.
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

/// Every event of sfsync's crates at TRACE; the simulator's own logs are not under test.
fn capture() -> Buffer {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("trace,sfsync_simulator=off"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    buffer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_flow_leaves_no_secret_in_the_database_or_the_logs() {
    let logs = capture();
    let stack = Stack::start().await;
    let control = format!("{}/__sim/v1/orgs/default", stack.sim.url());
    let settings = json!({"rotate_refresh_tokens": true});
    stack
        .http
        .put(format!("{control}/settings"))
        .json(&settings)
        .send()
        .await
        .unwrap();
    let (acme, admin) = stack.organization("acme").await;
    let mut secrets = Vec::new();

    // Sign in and connect, keeping every secret the flow hands out.
    let code = stack.sign_in_code(&admin).await;
    secrets.push(code);
    let browser = stack.sign_in(&admin).await;
    secrets.push(
        browser
            .cookie
            .trim_start_matches("sfsync_session=")
            .to_string(),
    );
    let callback = stack.authorize(&browser).await;
    let url = url::Url::parse(&callback).unwrap();
    secrets.push(
        url.query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned(),
    );
    stack.visit_callback(&browser, &callback).await;
    stack.wait_for_records(&acme).await;
    let token = stack.api_token(&admin).await;
    secrets.push(token.clone());
    let connection = stack.store.load_connection(acme.id).await.unwrap().unwrap();
    let first = load_tokens(stack.store.as_ref(), &stack.ring, connection.id)
        .await
        .unwrap();
    secrets.push(first.tokens.refresh_token.expose().to_string());
    secrets.extend(
        first
            .tokens
            .access_token
            .as_ref()
            .map(|t| t.expose().to_string()),
    );

    // Kill the session and sync: the refresh rotates the refresh token.
    let fault = json!({"kind": "expire_sessions"});
    stack
        .http
        .post(format!("{control}/faults"))
        .json(&fault)
        .send()
        .await
        .unwrap();
    let sync = stack
        .http
        .post(stack.url("/api/v1/sync"))
        .bearer_auth(&token)
        .send();
    assert_eq!(sync.await.unwrap().status(), 200);
    let rotated =
        wait_for_rotation(&stack, connection.id, first.tokens.refresh_token.expose()).await;
    secrets.push(rotated.tokens.refresh_token.expose().to_string());
    secrets.extend(
        rotated
            .tokens
            .access_token
            .as_ref()
            .map(|t| t.expose().to_string()),
    );

    stack.store.close().await;
    let files = database_bytes(stack.dir.path());
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        logs.contains("access token refreshed"),
        "the refresh was logged"
    );
    assert!(logs.len() > 10_000, "the flow was logged at TRACE");
    for secret in secrets.iter().filter(|s| s.len() >= 16) {
        assert!(!logs.contains(secret.as_str()), "a secret is in the logs");
        let found = files.windows(secret.len()).any(|w| w == secret.as_bytes());
        assert!(!found, "a secret is in the database files");
    }
}

/// Waits until the engine has stored a refresh token other than `previous`.
async fn wait_for_rotation(
    stack: &Stack,
    connection: sfsync_store::ConnectionId,
    previous: &str,
) -> sfsync_engine::tokens::OpenedTokens {
    eventually("a rotated refresh token", || async {
        let opened = load_tokens(stack.store.as_ref(), &stack.ring, connection)
            .await
            .unwrap();
        (opened.tokens.refresh_token.expose() != previous).then_some(opened)
    })
    .await
}

/// The bytes of the database, its WAL and shared-memory files.
fn database_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("sfsync.db")
        {
            bytes.extend(std::fs::read(&path).unwrap());
        }
    }
    assert!(bytes.len() > 4096, "the database files were read");
    bytes
}
