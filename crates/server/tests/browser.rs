//! The admin's Salesforce card in a real browser. Headless Chromium, driven through
//! chromedriver, opens a sign-in link, connects Production through the simulator's login
//! page, watches the initial load fill the objects table and a change reach the recent
//! changes, disconnects, connects a Sandbox, and meets the approval-required guidance.
//! Screenshots of the card land in `target/browser-screenshots/`.
//!
//! It needs Debian's `chromium` and `chromium-driver`. Without chromedriver the test says
//! it is skipped and passes, unless `SFSYNC_REQUIRE_BROWSER=1` (CI sets it) makes that a
//! failure.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sfsync_core::{FieldValue, ObjectName};
use sfsync_engine::{ConnectedApp, EngineSettings, SchedulePolicy};
use sfsync_salesforce::ClientSecret;
use sfsync_server::LoginHosts;
use sfsync_server::auth::{mint_sign_in_link, now_ms};
use sfsync_server::service::{Service, ServiceConfig};
use sfsync_simulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SeedCounts, Simulator, SimulatorConfig,
};
use sfsync_store::{IdRange, Organization, Role, SqliteStore, Store, User};
use sfsync_vault::{KeyRing, MasterKey};
use thirtyfour::ChromeCapabilities;
use thirtyfour::prelude::*;
use url::Url;

/// Where Debian's chromium-driver puts chromedriver; `SFSYNC_CHROMEDRIVER` overrides it.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Debian's chromium; `SFSYNC_CHROMIUM` overrides it.
const CHROMIUM: &str = "/usr/bin/chromium";

/// How long a step may take to show on the page. The initial load runs in the scheduler
/// and the status section re-reads itself every 4 seconds, so a minute is generous.
const PATIENCE: Duration = Duration::from_secs(60);

/// How often a waiting step looks at the page again.
const POLL: Duration = Duration::from_millis(150);

/// The screenshots' width, in CSS pixels.
const SHOT_WIDTH: u32 = 1280;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_connects_syncs_disconnects_and_meets_approval_guidance_in_a_browser() {
    let Some(chromedriver) = chromedriver_path() else {
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let stack = Stack::start().await;
    let (_, admin) = stack.organization("acme").await;
    let driver = Chromedriver::start(&chromedriver).await;
    let page = Page::open(&driver).await;

    let run = page.driver.clone().run_and_quit(|_| async {
        sign_in(&stack, &page, &admin).await;
        connect_production(&stack, &page, &admin).await;
        sync_a_change(&stack, &page).await;
        disconnect(&page).await;
        connect_sandbox(&stack, &page).await;
        meet_approval_guidance(&stack, &page).await;
        Ok::<(), WebDriverError>(())
    });
    run.await.expect("the browser session ends cleanly");
}

/// The chromedriver to use, or `None` (after saying so) when the test is skipped.
fn chromedriver_path() -> Option<PathBuf> {
    let path = std::env::var_os("SFSYNC_CHROMEDRIVER").map_or(CHROMEDRIVER.into(), PathBuf::from);
    if path.is_file() {
        return Some(path);
    }
    let required = std::env::var("SFSYNC_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "SFSYNC_REQUIRE_BROWSER=1 but there is no chromedriver at {}",
        path.display()
    );
    eprintln!(
        "skipped: no chromedriver at {} (install chromium and chromium-driver, or set \
         SFSYNC_CHROMEDRIVER)",
        path.display()
    );
    None
}

// The steps, as the admin takes them.

/// Opens a sign-in link: the page signs in and lands on the Integrations page.
async fn sign_in(stack: &Stack, page: &Page, admin: &User) {
    let link = mint_sign_in_link(stack.store.as_ref(), admin.id, stack.service.url())
        .await
        .unwrap();
    page.driver.goto(link.as_str()).await.unwrap();

    let header = page
        .eventually("the signed-in header", async || {
            let path = page.driver.current_url().await?.path().to_owned();
            let header = page.text("header").await?;
            Ok(header.filter(|_| path == "/settings/integrations"))
        })
        .await;
    assert!(header.contains(&admin.email), "header: {header}");
    assert_eq!(page.status().await, "not_connected");
}

/// Connect with Production, Allow on Salesforce's page, then watch the initial load.
async fn connect_production(stack: &Stack, page: &Page, admin: &User) {
    let org = stack.sim.default_org();
    page.click("input[name=environment][value=production]")
        .await;
    page.click("[data-testid=connect]").await;
    page.allow_as(stack, &org.username).await;

    page.wait_for_status("connected").await;
    page.wait_for_notice("Connected to Salesforce").await;
    let by = page.wait_for_text("[data-testid=connected-by]").await;
    assert!(by.contains(&admin.email), "connected by: {by}");
    assert_eq!(
        page.wait_for_text("[data-testid=sf-username]").await,
        org.username
    );
    assert_eq!(
        page.wait_for_text("[data-testid=environment]").await,
        "Production"
    );
    let instance = page.wait_for_text("[data-testid=instance-url]").await;
    assert!(
        instance.starts_with(stack.sim.url()),
        "instance URL: {instance}"
    );

    let rows = page.wait_for_loaded_objects().await;
    let names: Vec<&str> = rows.iter().map(|r| r.object.as_str()).collect();
    assert_eq!(names, ["Account", "Case", "Contact", "Opportunity"]);
    page.screenshot("1-connected-production").await;
}

/// Renames an Account in Salesforce, presses Sync now and finds the change on the card.
async fn sync_a_change(stack: &Stack, page: &Page) {
    let (id, old) = stack.first_account_name().await;
    let new = "Renamed in the browser test";
    let path = format!("orgs/default/sobjects/Account/{id}");
    stack
        .control(
            reqwest::Method::PATCH,
            &path,
            json!({"fields": {"Name": new}}),
        )
        .await;
    // sfsync reads up to a little behind Salesforce's clock, where commits have settled.
    let advance = json!({"seconds": 3});
    stack
        .control(reqwest::Method::POST, "clock/advance", advance)
        .await;

    page.click("[data-testid=sync-now]").await;
    page.wait_for_notice("Sync started").await;
    let expected = format!("Name: {} → {}", json!(old), json!(new));
    let row = page
        .eventually("the change in the recent changes", async || {
            let rows = page.texts("[data-testid=change]").await?;
            Ok(rows.into_iter().find(|r| r.contains(&id)))
        })
        .await;
    assert!(row.contains("Account"), "change row: {row}");
    assert!(row.contains("updated"), "change row: {row}");
    assert!(
        row.contains(&expected),
        "change row: {row}\nexpected: {expected}"
    );
    page.screenshot("2-changes-listed").await;
}

/// Disconnects, keeping the synced data.
async fn disconnect(page: &Page) {
    page.click("input[name=data][value=keep]").await;
    page.click("[data-testid=disconnect]").await;
    let notice = page.wait_for_notice("Disconnected").await;
    assert!(
        notice.contains("token was revoked at Salesforce"),
        "{notice}"
    );
    assert_eq!(page.status().await, "disconnected");
    page.wait_for_text("[data-testid=connect]").await;
}

/// Connects again, this time to the Sandbox org.
async fn connect_sandbox(stack: &Stack, page: &Page) {
    page.click("input[name=environment][value=sandbox]").await;
    page.click("[data-testid=connect]").await;
    page.allow_as(stack, &stack.sandbox_username).await;

    page.wait_for_status("connected").await;
    assert_eq!(
        page.wait_for_text("[data-testid=environment]").await,
        "Sandbox"
    );
    let username = page.wait_for_text("[data-testid=sf-username]").await;
    assert_eq!(username, stack.sandbox_username);
    // Another org's records: the production org's snapshots and cursors must not carry over.
    let expected = [
        ("Account", SANDBOX_COUNTS.accounts),
        ("Case", SANDBOX_COUNTS.cases),
        ("Contact", SANDBOX_COUNTS.contacts),
        ("Opportunity", SANDBOX_COUNTS.opportunities),
    ];
    page.eventually("the sandbox org's own records on the card", async || {
        let rows = page.wait_for_loaded_objects().await;
        let counts: Vec<(&str, u64)> = rows
            .iter()
            .map(|r| (r.object.as_str(), r.records))
            .collect();
        Ok((counts == expected).then_some(()))
    })
    .await;
    page.screenshot("3-connected-sandbox").await;
}

/// A user who may not approve uninstalled connected apps gets the steps that fix it.
async fn meet_approval_guidance(stack: &Stack, page: &Page) {
    let settings = json!({"approval_required": true});
    stack
        .control(reqwest::Method::PUT, "orgs/default/settings", settings)
        .await;
    disconnect(page).await;
    page.click("input[name=environment][value=production]")
        .await;
    page.click("[data-testid=connect]").await;
    page.allow_as(stack, &stack.sim.default_org().username)
        .await;

    let problem = "[data-testid=problem][data-problem=approval_required]";
    let title = page.wait_for_text(problem).await;
    assert!(
        title.contains("did not let this user approve sfsync"),
        "{title}"
    );
    let steps = page.wait_for_text("[data-testid=approval-steps]").await;
    assert!(
        steps.contains("Approve Uninstalled Connected Apps"),
        "{steps}"
    );
    assert_ne!(page.status().await, "connected");
    page.screenshot("4-approval-required").await;
}

// The services under test.

/// The simulator with a second, sandbox org; a store; and the service.
struct Stack {
    sim: Simulator,
    sandbox_username: String,
    store: Arc<SqliteStore>,
    service: Service,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// A few records per object: enough to see, quick to load.
const COUNTS: SeedCounts = SeedCounts {
    accounts: 12,
    contacts: 20,
    opportunities: 10,
    cases: 8,
    invoices: 5,
};

/// The sandbox org's counts, unlike the production org's so that one cannot pass for the
/// other on the card.
const SANDBOX_COUNTS: SeedCounts = SeedCounts {
    accounts: 7,
    contacts: 9,
    opportunities: 5,
    cases: 3,
    invoices: 2,
};

impl Stack {
    async fn start() -> Self {
        let sim = Simulator::start(SimulatorConfig {
            counts: COUNTS,
            ..SimulatorConfig::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sfsync.db");
        let store = Arc::new(SqliteStore::open(path.to_str().unwrap()).await.unwrap());
        let service = start_service(&sim, store.clone()).await;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let mut stack = Self {
            sim,
            sandbox_username: String::new(),
            store,
            service,
            http,
            _dir: dir,
        };
        let mut org = json!(SANDBOX_COUNTS);
        org["seed"] = json!(2);
        org["sandbox"] = json!(true);
        let sandbox = stack.control(reqwest::Method::POST, "orgs", org).await;
        stack.sandbox_username = sandbox["username"].as_str().unwrap().to_owned();
        stack
    }

    /// A new organization and its admin.
    async fn organization(&self, slug: &str) -> (Organization, User) {
        let slug = sfsync_core::OrganizationSlug::parse(slug).unwrap();
        let store = self.store.as_ref();
        let organization = store.create_organization(&slug, now_ms()).await.unwrap();
        let email = format!("admin@{}.example", slug.as_str());
        let admin = store
            .create_user(organization.id, &email, Role::Admin, now_ms())
            .await
            .unwrap();
        (organization, admin)
    }

    /// A call to the simulator's control API; its answer.
    async fn control(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/__sim/v1/{path}", self.sim.url());
        let response = self
            .http
            .request(method, &url)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    /// The Id and the synced Name of the first Account sfsync holds.
    async fn first_account_name(&self) -> (String, String) {
        let store = self.store.as_ref();
        let organizations = store.load_connections().await.unwrap();
        let connection = organizations.first().expect("a connection");
        let account = ObjectName::parse("Account").unwrap();
        let all = IdRange::default();
        let ids = store
            .load_snapshot_ids(connection.id, &account, &all, 1)
            .await
            .unwrap();
        let snapshots = store
            .load_snapshots(connection.id, &account, &ids)
            .await
            .unwrap();
        let snapshot = snapshots.first().expect("a synced Account");
        let name = snapshot.values.iter().find(|(f, _)| f.as_str() == "Name");
        match name {
            Some((_, FieldValue::Text(name))) => (snapshot.id.as_str().to_owned(), name.clone()),
            other => panic!("the Account's Name is {other:?}"),
        }
    }
}

async fn start_service(sim: &Simulator, store: Arc<SqliteStore>) -> Service {
    let sim_url = Url::parse(sim.url()).unwrap();
    Service::start(ServiceConfig {
        store,
        ring: Arc::new(KeyRing::new(MasterKey::from_bytes([7; 32]))),
        app: ConnectedApp {
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: Some(ClientSecret::new(DEFAULT_CLIENT_SECRET.to_string())),
            redirect_uri: Url::parse("http://127.0.0.1/oauth/callback").unwrap(),
        },
        public_url: None,
        login_hosts: LoginHosts {
            production: sim_url.clone(),
            sandbox: sim_url,
        },
        listen: "127.0.0.1:0".parse().unwrap(),
        engine: EngineSettings::default(),
        schedule: SchedulePolicy::default(),
    })
    .await
    .unwrap()
}

// The browser.

/// chromedriver on a free port, killed on drop.
struct Chromedriver {
    child: Child,
    url: String,
    /// Chromium's fresh profile.
    profile: tempfile::TempDir,
}

impl Chromedriver {
    async fn start(path: &Path) -> Self {
        let port = free_port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        let mut driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profile: tempfile::tempdir().unwrap(),
        };
        driver.wait_until_ready().await;
        driver
    }

    /// Polls `/status` until chromedriver accepts sessions.
    async fn wait_until_ready(&mut self) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let status = http.get(format!("{}/status", self.url)).send().await;
            if let Ok(response) = status {
                let body: Value = response.json().await.unwrap_or_default();
                if body["value"]["ready"] == true {
                    return;
                }
            }
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!("chromedriver exited at start: {exit}");
            }
            assert!(Instant::now() < deadline, "chromedriver never became ready");
            tokio::time::sleep(POLL).await;
        }
    }

    /// Headless Chromium as root on a closed network: without the background-networking
    /// flags, Chromium's own connections fail and it refuses ours.
    fn capabilities(&self) -> ChromeCapabilities {
        let mut caps = DesiredCapabilities::chrome();
        let chromium = std::env::var("SFSYNC_CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
        if Path::new(&chromium).is_file() {
            caps.set_binary(&chromium).unwrap();
        }
        let profile = format!("--user-data-dir={}", self.profile.path().display());
        let size = format!("--window-size={SHOT_WIDTH},900");
        let flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            &size,
            &profile,
        ];
        for flag in flags {
            caps.add_arg(flag).unwrap();
        }
        caps
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// One row of the card's objects table.
#[derive(Debug, serde::Deserialize)]
struct ObjectRow {
    object: String,
    records: u64,
    load: String,
}

/// The browser's tab, read through small scripts. A script reads the DOM in one go, so the
/// status section's refresh, which replaces its elements every 4 seconds, cannot leave a
/// stale element between a find and a read.
struct Page {
    driver: WebDriver,
    shots: PathBuf,
}

impl Page {
    async fn open(chromedriver: &Chromedriver) -> Self {
        let driver = WebDriver::new(chromedriver.url.as_str(), chromedriver.capabilities())
            .await
            .expect("chromedriver starts a Chromium session");
        let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Self { driver, shots }
    }

    /// Waits until `probe` finds something, and returns it. An error (the page is still
    /// navigating, say) counts as not yet.
    async fn eventually<T>(
        &self,
        what: &str,
        mut probe: impl AsyncFnMut() -> WebDriverResult<Option<T>>,
    ) -> T {
        let deadline = Instant::now() + PATIENCE;
        let mut last_error = None;
        loop {
            match probe().await {
                Ok(Some(found)) => return found,
                Ok(None) => {}
                Err(e) => last_error = Some(e),
            }
            if Instant::now() >= deadline {
                let url = self.driver.current_url().await.map(String::from);
                let body = self.text("body").await.ok().flatten();
                panic!(
                    "{what}: not seen within {PATIENCE:?}\nlast error: {last_error:?}\n\
                     url: {url:?}\npage: {body:?}"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The text of every element `css` matches.
    async fn texts(&self, css: &str) -> WebDriverResult<Vec<String>> {
        let script = "return Array.from(document.querySelectorAll(arguments[0]), \
                      e => e.textContent.trim());";
        self.driver
            .execute(script, vec![json!(css)])
            .await?
            .convert()
    }

    /// The text of the first element `css` matches, if any.
    async fn text(&self, css: &str) -> WebDriverResult<Option<String>> {
        Ok(self.texts(css).await?.into_iter().next())
    }

    /// Waits for an element, then returns its text.
    async fn wait_for_text(&self, css: &str) -> String {
        self.eventually(css, async || self.text(css).await).await
    }

    /// Waits for the notice that begins with `start` (the page before an action may show
    /// another notice until the browser has followed the redirect); returns it whole.
    async fn wait_for_notice(&self, start: &str) -> String {
        let what = format!("the notice {start:?}");
        self.eventually(&what, async || {
            let notice = self.text("[data-testid=notice]").await?;
            Ok(notice.filter(|n| n.starts_with(start)))
        })
        .await
    }

    /// The card's status word (`data-status`).
    async fn status(&self) -> String {
        let css = "[data-testid=status]";
        let script = format!("return document.querySelector('{css}')?.dataset.status;");
        self.eventually("the status badge", async || {
            self.driver.execute(&script, vec![]).await?.convert()
        })
        .await
    }

    async fn wait_for_status(&self, status: &str) {
        let css = format!("[data-testid=status][data-status={status}]");
        self.wait_for_text(&css).await;
    }

    /// Waits until every selected object finished its initial load with records, which
    /// the status section shows on one of its refreshes.
    async fn wait_for_loaded_objects(&self) -> Vec<ObjectRow> {
        let script = "return Array.from(document.querySelectorAll('[data-testid=objects] \
                      tr[data-object]'), r => ({object: r.dataset.object, records: \
                      Number(r.cells[1].textContent.replace(/,/g, '')), load: r.cells[2].textContent}));";
        self.eventually("every object loaded with records", async || {
            let rows: Vec<ObjectRow> = self.driver.execute(script, vec![]).await?.convert()?;
            let done = |r: &ObjectRow| r.records > 0 && r.load == "done";
            Ok(Some(rows).filter(|rows| !rows.is_empty() && rows.iter().all(done)))
        })
        .await
    }

    /// Clicks an element once it is there.
    async fn click(&self, css: &str) {
        let element = self
            .eventually(css, async || {
                Ok(Some(self.driver.find(By::Css(css)).await?))
            })
            .await;
        element.click().await.unwrap();
    }

    /// On the simulator's login page: logs in as `username` and presses Allow.
    async fn allow_as(&self, stack: &Stack, username: &str) {
        let field = self
            .eventually("the simulator's login page", async || {
                let url = self.driver.current_url().await?;
                match url.as_str().starts_with(stack.sim.url()) {
                    true => Ok(Some(self.driver.find(By::Id("username")).await?)),
                    false => Ok(None),
                }
            })
            .await;
        field.clear().await.unwrap();
        field.send_keys(username).await.unwrap();
        let password = self.driver.find(By::Id("password")).await.unwrap();
        assert_eq!(
            password.value().await.unwrap().as_deref(),
            Some("simulator")
        );
        self.driver.find(By::Id("deny")).await.unwrap();
        self.click("#allow").await;
    }

    /// Saves a PNG of the whole page: the window grows until the page fits.
    async fn screenshot(&self, name: &str) {
        let script = "return [document.documentElement.scrollHeight, window.innerHeight];";
        for _ in 0..3 {
            let ret = self.driver.execute(script, vec![]).await.unwrap();
            let [page, view]: [i64; 2] = ret.convert().unwrap();
            if view >= page {
                break;
            }
            let window = self.driver.get_window_rect().await.unwrap();
            let height = (window.height + page - view).clamp(600, 8000) as u32;
            self.driver
                .set_window_rect(0, 0, SHOT_WIDTH, height)
                .await
                .unwrap();
        }
        let path = self.shots.join(format!("{name}.png"));
        self.driver.screenshot(&path).await.unwrap();
        eprintln!("screenshot: {}", path.display());
    }
}
