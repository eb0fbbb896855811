//! Test support: a simulated org over real HTTP, a real SQLite store in a temporary
//! folder, an engine wired to both, and the simulator's documented control API
//! (docs/SIMULATOR.md) to change the org behind the engine's back.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use sfsync_core::{ChangeEvent, ChangeKind, OrganizationSlug};
use sfsync_engine::tokens::seal_tokens;
use sfsync_engine::{ConnectedApp, Engine, EngineSettings, RunSettings, TickReport};
use sfsync_salesforce::{
    AccessToken, ClientSecret, HttpConfig, RefreshToken, RetryPolicy, StoredTokens,
};
use sfsync_simulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, OrgInfo, SeedCounts, Simulator, SimulatorConfig,
};
use sfsync_store::{
    Connection, Environment, NewConnection, Organization, Role, SqliteStore, Store,
};
use sfsync_vault::{KeyRing, MasterKey};
use url::Url;

/// A running simulator, a store and an engine connected to the simulator's default org.
pub struct Harness {
    pub sim: Simulator,
    pub org: OrgInfo,
    pub store: Arc<SqliteStore>,
    pub ring: Arc<KeyRing>,
    pub engine: Engine,
    pub organization: Organization,
    pub connection: Connection,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Small seeded counts, so a test's initial load takes one page or two.
pub fn small_counts() -> SeedCounts {
    SeedCounts {
        accounts: 30,
        contacts: 40,
        opportunities: 20,
        cases: 20,
        invoices: 10,
    }
}

/// Run settings for tests: every budgeted check waits a day unless a test asks for it.
pub fn quiet_settings() -> RunSettings {
    let day = Duration::from_secs(24 * 3600);
    RunSettings {
        describe_every: day,
        deletes_every: day,
        formulas_every: day,
        reconcile_every: day,
        ..RunSettings::default()
    }
}

impl Harness {
    /// A simulator with `counts` and an engine with `run` settings.
    pub async fn start(counts: SeedCounts, run: RunSettings) -> Self {
        Self::start_with(
            SimulatorConfig {
                auto_approve: true,
                counts,
                ..SimulatorConfig::default()
            },
            run,
        )
        .await
    }

    pub async fn start_with(config: SimulatorConfig, run: RunSettings) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sim = Simulator::start(config)
            .await
            .expect("the simulator starts");
        let org = sim.default_org();
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("sfsync.db");
        let store = Arc::new(
            SqliteStore::open(path.to_str().unwrap())
                .await
                .expect("the store opens"),
        );
        let ring = Arc::new(KeyRing::new(MasterKey::from_bytes([42; 32])));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let tokens = grant(&http, sim.url(), &org.org_id).await;
        let (organization, connection) =
            connect(store.as_ref(), &ring, &org, sim.url(), &tokens).await;
        Self {
            engine: engine(store.clone(), ring.clone(), run),
            organization,
            connection,
            sim,
            org,
            store,
            ring,
            http,
            _dir: dir,
        }
    }

    /// One tick, after moving the simulator's clock past the engine's lag so that every
    /// change made so far is inside the window.
    pub async fn tick(&self) -> TickReport {
        self.advance(3).await;
        self.tick_now().await
    }

    /// One tick without moving the clock.
    pub async fn tick_now(&self) -> TickReport {
        let connection = self
            .store
            .load_connection(self.organization.id)
            .await
            .unwrap()
            .unwrap();
        self.engine.tick(&connection, &|_, _| {}).await
    }

    /// A tick that must succeed.
    pub async fn tick_ok(&self) -> TickReport {
        let report = self.tick().await;
        for outcome in &report.objects {
            if let Err(e) = &outcome.result {
                panic!("{} failed: {e}", outcome.object);
            }
        }
        assert!(report.succeeded(), "tick did not succeed: {report:?}");
        report
    }

    /// Every change event of the organization, in cursor order.
    pub async fn changes(&self) -> Vec<ChangeEvent> {
        self.store
            .load_changes(self.organization.id, None, 1_000_000)
            .await
            .unwrap()
    }

    /// The events of one record.
    pub async fn changes_of(&self, id: &str) -> Vec<ChangeEvent> {
        let changes = self.changes().await;
        changes
            .into_iter()
            .filter(|e| e.change.record_id.as_str() == id)
            .collect()
    }

    /// `(object, id, kind)` of every event, for comparing with what a test did.
    pub async fn event_kinds(&self) -> Vec<(String, String, ChangeKind)> {
        let changes = self.changes().await;
        changes
            .iter()
            .map(|e| {
                let id = e.change.record_id.as_str().to_string();
                (e.object.as_str().to_string(), id, e.change.kind)
            })
            .collect()
    }

    // The control API.

    fn org_path(&self, rest: &str) -> String {
        format!("orgs/{}/{rest}", self.org.org_id)
    }

    pub async fn create(&self, object: &str, fields: Value) -> String {
        let path = self.org_path(&format!("sobjects/{object}"));
        let body = self
            .control("POST", &path, json!({ "fields": fields }))
            .await;
        body["id"].as_str().unwrap().to_string()
    }

    pub async fn update(&self, object: &str, id: &str, fields: Value) {
        let path = self.org_path(&format!("sobjects/{object}/{id}"));
        self.control("PATCH", &path, json!({ "fields": fields }))
            .await;
    }

    pub async fn delete(&self, object: &str, id: &str) {
        let path = self.org_path(&format!("sobjects/{object}/{id}"));
        self.control("DELETE", &path, json!({})).await;
    }

    pub async fn undelete(&self, object: &str, id: &str) {
        let path = self.org_path(&format!("sobjects/{object}/{id}/undelete"));
        self.control("POST", &path, json!({})).await;
    }

    pub async fn purge(&self, object: &str, id: &str) {
        let path = self.org_path(&format!("sobjects/{object}/{id}/purge"));
        self.control("POST", &path, json!({})).await;
    }

    pub async fn merge(&self, object: &str, master: &str, losers: &[&str]) {
        let path = self.org_path(&format!("sobjects/{object}/merge"));
        let body = json!({ "master": master, "losers": losers });
        self.control("POST", &path, body).await;
    }

    pub async fn bulk_update(&self, object: &str, ids: &[String], fields: Value) {
        let path = self.org_path(&format!("sobjects/{object}/bulk-update"));
        let body = json!({ "ids": ids, "fields": fields });
        self.control("POST", &path, body).await;
    }

    /// Opens a long transaction updating `updates` (`[{"id","fields"}]`); returns its id.
    pub async fn begin(&self, object: &str, updates: Value) -> String {
        let path = self.org_path("transactions");
        let body = json!({ "object": object, "updates": updates });
        let reply = self.control("POST", &path, body).await;
        reply["id"].as_str().unwrap().to_string()
    }

    pub async fn commit(&self, transaction: &str) {
        let path = self.org_path(&format!("transactions/{transaction}/commit"));
        self.control("POST", &path, json!({})).await;
    }

    pub async fn add_field(&self, object: &str, name: &str, kind: &str) {
        let path = self.org_path(&format!("sobjects/{object}/fields"));
        let body = json!({ "name": name, "type": kind });
        self.control("POST", &path, body).await;
    }

    pub async fn set_visible(&self, object: &str, field: &str, visible: bool) {
        let path = self.org_path(&format!("sobjects/{object}/fields/{field}/visibility"));
        self.control("PUT", &path, json!({ "visible": visible }))
            .await;
    }

    pub async fn fault(&self, kind: &str, count: u32, path: Option<&str>) {
        let mut body = json!({ "kind": kind, "count": count });
        if let Some(path) = path {
            body["path"] = json!(path);
        }
        self.control("POST", &self.org_path("faults"), body).await;
    }

    pub async fn settings(&self, settings: Value) {
        self.control("PUT", &self.org_path("settings"), settings)
            .await;
    }

    pub async fn counters(&self) -> Value {
        self.control("GET", &self.org_path("counters"), Value::Null)
            .await
    }

    pub async fn advance(&self, seconds: i64) {
        self.control("POST", "clock/advance", json!({ "seconds": seconds }))
            .await;
    }

    /// Ids of the first `n` records of `object`, through the REST API as a client sees them.
    pub async fn ids(&self, object: &str, n: usize) -> Vec<String> {
        let ids = self
            .store
            .load_snapshot_ids(
                self.connection.id,
                &sfsync_core::ObjectName::parse(object).unwrap(),
                &Default::default(),
                n as u32,
            )
            .await
            .unwrap();
        ids.into_iter().map(|id| id.as_str().to_string()).collect()
    }

    /// A control API call; panics unless it succeeds.
    pub async fn control(&self, method: &str, path: &str, body: Value) -> Value {
        control(&self.http, self.sim.url(), method, path, body).await
    }
}

/// Creates organization `acme`, its admin and a connection holding `tokens`.
async fn connect(
    store: &dyn Store,
    ring: &KeyRing,
    org: &OrgInfo,
    sim_url: &str,
    tokens: &StoredTokens,
) -> (Organization, Connection) {
    let slug = OrganizationSlug::parse("acme").unwrap();
    let organization = store.create_organization(&slug, 0).await.unwrap();
    let admin = store
        .create_user(organization.id, "admin@acme.example", Role::Admin, 0)
        .await
        .unwrap();
    let details = NewConnection {
        organization: organization.id,
        environment: Environment::Custom,
        login_url: sim_url.to_string(),
        instance_url: sim_url.to_string(),
        salesforce_org_id: org.org_id.clone(),
        salesforce_username: org.username.clone(),
        connected_by: admin.id,
        connected_at_ms: 0,
    };
    let connection = store.save_connection(&details).await.unwrap();
    let sealed = seal_tokens(ring, connection.id, tokens).unwrap();
    store
        .save_sealed_tokens(connection.id, &sealed)
        .await
        .unwrap();
    (organization, connection)
}

/// Tokens minted by the control API, as if the user had approved the app.
pub async fn grant(http: &reqwest::Client, sim_url: &str, org_id: &str) -> StoredTokens {
    let body = control(
        http,
        sim_url,
        "POST",
        &format!("orgs/{org_id}/grants"),
        json!({}),
    )
    .await;
    let text = |key: &str| body[key].as_str().unwrap().to_owned();
    StoredTokens {
        access_token: Some(AccessToken::new(text("access_token"))),
        refresh_token: RefreshToken::new(text("refresh_token")),
        instance_url: Url::parse(&text("instance_url")).unwrap(),
    }
}

/// A control API call; panics unless it succeeds.
async fn control(
    http: &reqwest::Client,
    sim_url: &str,
    method: &str,
    path: &str,
    body: Value,
) -> Value {
    let url = format!("{sim_url}/__sim/v1/{path}");
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http.request(method, &url);
    if !body.is_null() {
        request = request.json(&body);
    }
    let response = request.send().await.expect("control api reachable");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.is_success(), "control {path}: {status}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// An engine on the simulator's connected app with fast retries.
pub fn engine(store: Arc<SqliteStore>, ring: Arc<KeyRing>, run: RunSettings) -> Engine {
    let app = ConnectedApp {
        client_id: DEFAULT_CLIENT_ID.to_string(),
        client_secret: Some(ClientSecret::new(DEFAULT_CLIENT_SECRET)),
        redirect_uri: Url::parse("http://127.0.0.1:9/oauth/callback").unwrap(),
    };
    let settings = EngineSettings {
        run,
        http: fast_http(),
        ..EngineSettings::default()
    };
    Engine::new(store, ring, app, settings)
}

/// Short timeouts and quick retries, so failures show fast.
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
