//! Test support: the service on port 0 over a real SQLite store in a temporary folder,
//! beside a simulated Salesforce org, and a small browser-like client that keeps a session
//! cookie and the page's CSRF proof.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::redirect::Policy;
use sfsync_engine::{ConnectedApp, EngineSettings, SchedulePolicy};
use sfsync_salesforce::ClientSecret;
use sfsync_server::LoginHosts;
use sfsync_server::auth::{mint_api_token, mint_sign_in_link, now_ms};
use sfsync_server::service::{Service, ServiceConfig};
use sfsync_simulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SeedCounts, Simulator, SimulatorConfig,
};
use sfsync_store::{Organization, Role, SqliteStore, Store, User};
use sfsync_vault::{KeyRing, MasterKey};
use url::Url;

/// A simulator, a store and the service.
pub struct Stack {
    pub sim: Simulator,
    pub store: Arc<SqliteStore>,
    pub ring: Arc<KeyRing>,
    pub service: Service,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
}

/// A signed-in browser: its session cookie and the CSRF proof its pages carry.
#[derive(Debug, Clone)]
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

impl Stack {
    /// A stack whose simulator approves at once (as for a user who approved sfsync before).
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    /// A stack whose service believes it is reached at `public_url`.
    pub async fn start_with(public_url: Option<Url>) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sim = Simulator::start(SimulatorConfig {
            auto_approve: true,
            counts: SeedCounts {
                accounts: 30,
                contacts: 40,
                opportunities: 20,
                cases: 20,
                invoices: 10,
            },
            ..SimulatorConfig::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sfsync.db");
        let store = Arc::new(SqliteStore::open(path.to_str().unwrap()).await.unwrap());
        let ring = Arc::new(KeyRing::new(MasterKey::from_bytes([42; 32])));
        let sim_url = Url::parse(sim.url()).unwrap();
        let service = Service::start(ServiceConfig {
            store: store.clone(),
            ring: ring.clone(),
            app: ConnectedApp {
                client_id: DEFAULT_CLIENT_ID.into(),
                client_secret: Some(ClientSecret::new(DEFAULT_CLIENT_SECRET.to_string())),
                redirect_uri: Url::parse("http://127.0.0.1/oauth/callback").unwrap(),
            },
            public_url,
            login_hosts: LoginHosts {
                production: sim_url.clone(),
                sandbox: sim_url,
            },
            listen: "127.0.0.1:0".parse().unwrap(),
            engine: EngineSettings::default(),
            schedule: SchedulePolicy::default(),
        })
        .await
        .unwrap();
        let http = reqwest::Client::builder()
            .redirect(Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            sim,
            store,
            ring,
            service,
            http,
            dir,
        }
    }

    /// The service's URL of a path (`/settings/integrations`).
    pub fn url(&self, path: &str) -> String {
        format!(
            "http://{}/{}",
            self.service.local_addr(),
            path.trim_start_matches('/')
        )
    }

    /// A new organization and its admin.
    pub async fn organization(&self, slug: &str) -> (Organization, User) {
        let slug = sfsync_core::OrganizationSlug::parse(slug).unwrap();
        let organization = self
            .store
            .create_organization(&slug, now_ms())
            .await
            .unwrap();
        let admin = self
            .store
            .create_user(
                organization.id,
                &format!("admin@{slug}.example"),
                Role::Admin,
                now_ms(),
            )
            .await
            .unwrap();
        (organization, admin)
    }

    /// A member of an organization.
    pub async fn member(&self, organization: &Organization) -> User {
        let email = format!("member@{}.example", organization.slug.as_str());
        self.store
            .create_user(organization.id, &email, Role::Member, now_ms())
            .await
            .unwrap()
    }

    /// An API token of a user.
    pub async fn api_token(&self, user: &User) -> String {
        mint_api_token(self.store.as_ref(), user.id).await.unwrap()
    }

    /// The code of a fresh sign-in link of a user.
    pub async fn sign_in_code(&self, user: &User) -> String {
        let link = mint_sign_in_link(self.store.as_ref(), user.id, self.service.url())
            .await
            .unwrap();
        link.fragment()
            .unwrap()
            .strip_prefix("code=")
            .unwrap()
            .to_string()
    }

    /// Signs a user in through the sign-in form, as a browser would.
    pub async fn sign_in(&self, user: &User) -> Browser {
        let code = self.sign_in_code(user).await;
        let response = self
            .http
            .post(self.url("/signin"))
            .form(&[("code", code.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "sign-in redirects to the page");
        let set_cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_string();
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        let page = self
            .page(&Browser {
                cookie: cookie.clone(),
                csrf: String::new(),
            })
            .await;
        let csrf = csrf_of(&page);
        Browser { cookie, csrf }
    }

    /// GET a path with the browser's cookie.
    pub async fn get(&self, browser: &Browser, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .header("cookie", &browser.cookie)
            .send()
            .await
            .unwrap()
    }

    /// The Integrations page's HTML.
    pub async fn page(&self, browser: &Browser) -> String {
        let response = self.get(browser, "/settings/integrations").await;
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// POST a form with the browser's cookie (the CSRF proof is the caller's to add).
    pub async fn post_form(
        &self,
        browser: &Browser,
        path: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("cookie", &browser.cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Presses Connect (Production) and follows the browser to the callback URL Salesforce
    /// sends it to; returns that URL, not yet visited.
    pub async fn authorize(&self, browser: &Browser) -> String {
        let form = [
            ("csrf", browser.csrf.as_str()),
            ("environment", "production"),
        ];
        let response = self
            .post_form(browser, "/settings/integrations/salesforce/connect", &form)
            .await;
        assert_eq!(response.status(), 303, "Connect redirects to Salesforce");
        let authorize = location(&response);
        assert!(authorize.starts_with(self.sim.url()), "{authorize}");
        let approved = self.http.get(&authorize).send().await.unwrap();
        let callback = location(&approved);
        assert!(callback.contains("/oauth/callback?"), "{callback}");
        callback
    }

    /// Visits a callback URL with the browser's cookie; returns where it sends the browser.
    pub async fn visit_callback(&self, browser: &Browser, callback: &str) -> String {
        let response = self
            .http
            .get(callback)
            .header("cookie", &browser.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303);
        location(&response)
    }

    /// Connects the browser's organization and waits until the initial load committed
    /// records.
    pub async fn connect(&self, browser: &Browser, organization: &Organization) {
        let callback = self.authorize(browser).await;
        let landed = self.visit_callback(browser, &callback).await;
        assert!(landed.ends_with("notice=connected"), "{landed}");
        self.wait_for_records(organization).await;
    }

    /// Waits until the organization's connection holds records.
    pub async fn wait_for_records(&self, organization: &Organization) {
        eventually("the initial load", || async {
            let connection = self.store.load_connection(organization.id).await.unwrap()?;
            let counts = self.store.count_snapshots(connection.id).await.unwrap();
            (counts.values().sum::<u64>() > 0).then_some(())
        })
        .await
    }
}

/// A redirect's target.
pub fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// The CSRF proof in a page.
pub fn csrf_of(page: &str) -> String {
    let start = page.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    let end = page[start..].find('"').unwrap() + start;
    page[start..end].to_string()
}

/// Polls `check` until it gives a value, failing with `what` after a minute: the test waits
/// for a condition, never for a fixed time.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
