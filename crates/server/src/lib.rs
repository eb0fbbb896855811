//! The sfsync service: what an organization's people and scripts touch.
//!
//! - [`page`]: the Integrations page and its Salesforce card, server-rendered HTML;
//! - [`connect`]: Connect (the OAuth web-server flow with PKCE) and its callback, and
//!   Disconnect;
//! - [`api`]: the JSON API under `/api/v1`, described by `/api/openapi.json`;
//! - [`auth`]: sign-in links, session cookies, CSRF proofs and API tokens;
//! - [`view`]: what the card and the API show, gathered once for both;
//! - [`metrics`]: `/metrics` in Prometheus' text format.
//!
//! Every route resolves the caller's organization from its credential and reads only that
//! organization's connection: no route takes an organization from the request.

#![warn(missing_docs)]

mod admin;
pub mod api;
pub mod auth;
pub mod connect;
mod error;
mod html;
pub mod metrics;
pub mod page;
pub mod service;
pub mod view;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use sfsync_engine::{ConnectedApp, Engine};
use sfsync_salesforce::HttpConfig;
use sfsync_store::Store;
use sfsync_vault::KeyRing;
use tokio::sync::Notify;
use url::Url;

pub use error::ApiError;
pub use metrics::Metrics;

/// Where the admin's choice of Production or Sandbox logs in. The real hosts by default;
/// the demo and the tests point both at the simulator.
#[derive(Debug, Clone)]
pub struct LoginHosts {
    /// Production: `https://login.salesforce.com`.
    pub production: Url,
    /// Sandbox: `https://test.salesforce.com`.
    pub sandbox: Url,
}

impl Default for LoginHosts {
    fn default() -> Self {
        Self {
            production: Url::parse("https://login.salesforce.com").expect("static url"),
            sandbox: Url::parse("https://test.salesforce.com").expect("static url"),
        }
    }
}

/// What the service needs, shared by every request.
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The master keys that seal tokens and PKCE verifiers.
    pub ring: Arc<KeyRing>,
    /// The engine, for Salesforce calls made on an admin's behalf (describeGlobal).
    pub engine: Arc<Engine>,
    /// The connected app sfsync operates.
    pub app: ConnectedApp,
    /// The service's public base URL (the callback and sign-in links live under it).
    pub public_url: Url,
    /// Where Production and Sandbox log in.
    pub login_hosts: LoginHosts,
    /// Timeouts of OAuth calls made while connecting and disconnecting.
    pub http: HttpConfig,
    /// Wakes the scheduler ("Sync now", a new connection, new settings).
    pub wake: Arc<Notify>,
    /// Counters the scheduler feeds and `/metrics` reads.
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// Whether cookies must carry `Secure`: the service is reached over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

/// How long a started authorization waits for Salesforce's callback.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Every route of the service.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(page::home))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::render))
        .route("/signin", get(page::sign_in_form).post(auth::sign_in))
        .route("/signout", post(auth::sign_out))
        .route("/settings/integrations", get(page::integrations))
        .route(
            "/settings/integrations/salesforce/status",
            get(page::status_fragment),
        )
        .route(
            "/settings/integrations/salesforce/connect",
            post(connect::start_from_page),
        )
        .route(
            "/settings/integrations/salesforce/disconnect",
            post(connect::disconnect_from_page),
        )
        .route(
            "/settings/integrations/salesforce/sync",
            post(page::sync_now),
        )
        .route(
            "/settings/integrations/salesforce/settings",
            post(page::save_settings),
        )
        .route("/oauth/callback", get(connect::callback))
        .nest("/api/v1", api::router())
        .route("/api/openapi.json", get(api::openapi))
        .with_state(state)
}

async fn healthz(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
) -> Result<&'static str, ApiError> {
    state.store.load_connections().await?;
    Ok("ok\n")
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
