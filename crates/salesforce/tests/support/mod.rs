//! Test support: a simulator over real HTTP, its documented control API (docs/SIMULATOR.md),
//! and clients wired to it. Only the simulator's start-up and its org info come from its
//! library; everything else goes over HTTP, as a real Salesforce client would.

#![allow(dead_code)]

use std::sync::Arc;

use serde_json::{Value, json};
use sfsync_salesforce::{
    AccessToken, ClientConfig, ClientSecret, Environment, HttpConfig, MemoryTokenStore,
    OAuthClient, OAuthConfig, RefreshToken, RetryPolicy, SalesforceClient, StoredTokens,
    TokenRefresher,
};
use sfsync_simulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, OrgInfo, Simulator, SimulatorConfig,
};
use std::time::Duration;
use url::Url;

/// The callback URL the tests register; nothing listens there, the redirect is read instead.
pub const REDIRECT_URI: &str = "http://127.0.0.1:9/oauth/callback";

/// A running simulator and what the tests need to drive it.
pub struct Harness {
    pub sim: Simulator,
    pub org: OrgInfo,
    http: reqwest::Client,
}

impl Harness {
    /// A simulator with default data and the consent page skipped.
    pub async fn start() -> Self {
        Self::start_with(SimulatorConfig {
            auto_approve: true,
            ..SimulatorConfig::default()
        })
        .await
    }

    /// A simulator with `config`.
    pub async fn start_with(config: SimulatorConfig) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sim = Simulator::start(config)
            .await
            .expect("the simulator starts");
        let org = sim.default_org();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a control client");
        Self { sim, org, http }
    }

    /// The simulator's base URL: login host and instance.
    pub fn url(&self) -> Url {
        Url::parse(self.sim.url()).expect("the simulator url parses")
    }

    /// An OAuth client for the simulator's connected app, retrying fast.
    pub fn oauth(&self) -> OAuthClient {
        let env = Environment::custom(self.sim.url()).expect("loopback is allowed");
        let mut config =
            OAuthConfig::new(DEFAULT_CLIENT_ID, Url::parse(REDIRECT_URI).unwrap(), env)
                .with_client_secret(ClientSecret::new(DEFAULT_CLIENT_SECRET));
        config.http = fast_http();
        OAuthClient::new(config).expect("the oauth client builds")
    }

    /// Tokens minted by the control API, as if the user had approved the app.
    pub async fn grant(&self) -> StoredTokens {
        let body = self
            .control_post(&format!("orgs/{}/grants", self.org.org_id), json!({}))
            .await;
        let text = |key: &str| {
            body[key]
                .as_str()
                .unwrap_or_else(|| panic!("grant has no `{key}`: {body}"))
                .to_owned()
        };
        StoredTokens {
            access_token: Some(AccessToken::new(text("access_token"))),
            refresh_token: RefreshToken::new(text("refresh_token")),
            instance_url: Url::parse(&text("instance_url")).expect("instance_url parses"),
        }
    }

    /// A client on a fresh grant, with its in-memory token store.
    pub async fn client(&self) -> (SalesforceClient, MemoryTokenStore) {
        self.client_with(fast_http()).await
    }

    /// A client on a fresh grant with the given HTTP settings.
    pub async fn client_with(&self, http: HttpConfig) -> (SalesforceClient, MemoryTokenStore) {
        let store = MemoryTokenStore::new(self.grant().await);
        let refresher = TokenRefresher::new(self.oauth(), Arc::new(store.clone()));
        let config = ClientConfig {
            http,
            ..ClientConfig::default()
        };
        let client = SalesforceClient::connect(config, refresher)
            .await
            .expect("the client connects");
        (client, store)
    }

    /// `PUT /__sim/v1/orgs/default/settings`.
    pub async fn settings(&self, settings: Value) {
        self.control(
            "PUT",
            &format!("orgs/{}/settings", self.org.org_id),
            settings,
        )
        .await;
    }

    /// `POST /__sim/v1/orgs/default/faults`.
    pub async fn fault(&self, kind: &str, count: u32, path: Option<&str>) {
        let mut body = json!({ "kind": kind, "count": count });
        if let Some(path) = path {
            body["path"] = json!(path);
        }
        self.control_post(&format!("orgs/{}/faults", self.org.org_id), body)
            .await;
    }

    /// `POST` to the control API, returning its JSON body.
    pub async fn control_post(&self, path: &str, body: Value) -> Value {
        self.control("POST", path, body).await
    }

    /// A control API call; panics unless it succeeds.
    pub async fn control(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/__sim/v1/{path}", self.sim.url());
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = self
            .http
            .request(method, &url)
            .json(&body)
            .send()
            .await
            .expect("control api reachable");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(status.is_success(), "control {path}: {status}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Follows the authorize URL once (no redirects) and returns where it sends the browser.
    pub async fn authorize_redirect(&self, url: &Url) -> String {
        let response = self
            .http
            .get(url.clone())
            .send()
            .await
            .expect("authorize reachable");
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        location.unwrap_or_else(|| panic!("authorize answered {status} without a redirect"))
    }
}

/// HTTP settings for tests: short timeouts and quick retries, so failures show fast.
pub fn fast_http() -> HttpConfig {
    HttpConfig {
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(30),
        retry: RetryPolicy {
            max_retries: 3,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        },
    }
}
