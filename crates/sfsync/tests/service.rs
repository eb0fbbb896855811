//! `sfsync serve` as an operator runs it, a process beside the simulator: it refuses to
//! start without a master key; `org create` adds an organization beside it; and `keys
//! rotate` re-wraps every token under a new master key while it runs, after which the
//! service keeps refreshing and syncing.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sfsync_simulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SeedCounts, Simulator, SimulatorConfig,
};

/// A `sfsync serve` process, killed on drop.
struct Serve {
    child: Child,
    url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment every command of one installation shares.
struct Install {
    dir: tempfile::TempDir,
    key_file: PathBuf,
    sim: Simulator,
    port: u16,
    database_url: Option<String>,
}

impl Install {
    async fn new() -> Self {
        Self::with_database(None).await
    }

    async fn with_database(database_url: Option<String>) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sim = Simulator::start(SimulatorConfig {
            auto_approve: true,
            counts: SeedCounts {
                accounts: 40,
                contacts: 40,
                opportunities: 20,
                cases: 20,
                invoices: 0,
            },
            ..SimulatorConfig::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("master.key");
        let generated = run(Command::new(env!("CARGO_BIN_EXE_sfsync")).args(["keys", "generate"]));
        std::fs::write(&key_file, &generated.stdout).unwrap();
        Self {
            dir,
            key_file,
            sim,
            port: free_port(),
            database_url,
        }
    }

    fn sfsync(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sfsync"));
        command
            .args(args)
            .env_remove("SFSYNC_MASTER_KEY")
            .env("SFSYNC_DATA_DIR", self.dir.path())
            .env("SFSYNC_MASTER_KEY_FILE", &self.key_file)
            .env("SFSYNC_LISTEN", format!("127.0.0.1:{}", self.port))
            .env(
                "SFSYNC_PUBLIC_URL",
                format!("http://127.0.0.1:{}", self.port),
            )
            .env("SFSYNC_PRODUCTION_LOGIN_URL", self.sim.url())
            .env("SFSYNC_CLIENT_ID", DEFAULT_CLIENT_ID)
            .env("SFSYNC_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
            .env("SFSYNC_LOG", "warn");
        if let Some(url) = &self.database_url {
            command.env("SFSYNC_DATABASE_URL", url);
        }
        command
    }

    async fn serve(&self) -> Serve {
        self.serve_on(self.port).await
    }

    /// Another `serve` of the same installation, listening on `port`.
    async fn serve_on(&self, port: u16) -> Serve {
        let listen = format!("127.0.0.1:{port}");
        let child = self
            .sfsync(&["serve", "--listen", &listen])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://{listen}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(format!("{url}/healthz")).await.is_err() {
            assert!(Instant::now() < deadline, "serve never answered /healthz");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Serve { child, url }
    }

    async fn control(&self, path: &str, body: Value) {
        let url = format!("{}/__sim/v1/{path}", self.sim.url());
        let response = reqwest::Client::new()
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{path}");
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The value printed after `label` on its own line.
fn printed(output: &Output, label: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("{label} in {stdout}"));
    line[label.len()..].trim().to_string()
}

/// GET an API route with a bearer token.
async fn api(serve: &Serve, token: &str, path: &str) -> Value {
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{}{path}", serve.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// Connects through the API, the browser's part played by plain requests.
async fn connect(serve: &Serve, token: &str) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started: Value = client
        .post(format!(
            "{}/api/v1/integrations/salesforce/connect",
            serve.url
        ))
        .bearer_auth(token)
        .json(&json!({"environment": "production"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let approved = client
        .get(started["authorize_url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let callback = approved.headers()["location"].to_str().unwrap().to_string();
    let landed = client.get(callback).send().await.unwrap();
    let landed = landed.headers()["location"].to_str().unwrap();
    assert!(landed.ends_with("notice=connected"), "{landed}");
}

/// Waits until `check` holds for the API's answer at `path`.
async fn wait_for(serve: &Serve, token: &str, path: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let body = api(serve, token, path).await;
        if check(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{path} never got there: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn key_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_to_start_without_a_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sfsync"))
        .arg("serve")
        .env_remove("SFSYNC_MASTER_KEY")
        .env_remove("SFSYNC_MASTER_KEY_FILE")
        .env("SFSYNC_DATA_DIR", dir.path())
        .env("SFSYNC_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SFSYNC_MASTER_KEY"), "{stderr}");
    assert!(
        !dir.path().join("master.key").exists(),
        "serve never makes its own key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_beside_a_running_service_and_the_service_keeps_syncing() {
    let install = Install::new().await;
    let serve = install.serve().await;
    let created =
        run(&mut install.sfsync(&["org", "create", "acme", "--admin", "admin@acme.example"]));
    let token = printed(&created, "api token:");
    assert!(printed(&created, "sign-in link:").contains("/signin#code="));
    connect(&serve, &token).await;
    let loaded = |body: &Value| {
        body["objects"].as_array().is_some_and(|objects| {
            !objects.is_empty() && objects.iter().all(|o| o["loaded"] == true)
        })
    };
    wait_for(&serve, &token, "/api/v1/objects", loaded).await;

    let rotated = run(&mut install.sfsync(&["keys", "rotate"]));
    let said = String::from_utf8_lossy(&rotated.stdout);
    assert!(said.contains("1 token(s) re-wrapped"), "{said}");
    assert_eq!(
        key_lines(&install.key_file),
        2,
        "the new key first, the old one kept"
    );

    // The session dies and a record changes: the service must open the re-wrapped tokens
    // (with a key it did not start with), refresh, and read the change.
    install
        .control("orgs/default/faults", json!({"kind": "expire_sessions"}))
        .await;
    let accounts = api(&serve, &token, "/api/v1/changes").await;
    assert_eq!(accounts["changes"], json!([]));
    let id = some_account(&install).await;
    let update = json!({"fields": {"Name": "Seen after the rotation"}});
    let patch = reqwest::Client::new()
        .patch(format!(
            "{}/__sim/v1/orgs/default/sobjects/Account/{id}",
            install.sim.url()
        ))
        .json(&update)
        .send();
    assert!(patch.await.unwrap().status().is_success());
    install
        .control("clock/advance", json!({"seconds": 3}))
        .await;
    let sync = reqwest::Client::new()
        .post(format!("{}/api/v1/sync", serve.url))
        .bearer_auth(&token)
        .send();
    assert_eq!(sync.await.unwrap().status(), 200);
    let arrived = |body: &Value| body["changes"].as_array().is_some_and(|c| !c.is_empty());
    let changes = wait_for(&serve, &token, "/api/v1/changes", arrived).await;
    assert_eq!(
        changes["changes"][0]["fields"]["Name"]["new"],
        "Seen after the rotation"
    );

    // Whatever the service sealed since (the refreshed tokens) is under the new key.
    let resumed = run(&mut install.sfsync(&["keys", "rotate", "--resume"]));
    let said = String::from_utf8_lossy(&resumed.stdout);
    assert!(said.contains("0 token(s) re-wrapped"), "{said}");
    assert!(
        said.contains("no token is sealed under an old key"),
        "{said}"
    );
    let status = api(&serve, &token, "/api/v1/integrations/salesforce").await;
    assert_eq!(status["status"], "connected");
}

/// The Id of an Account in the simulated org.
async fn some_account(install: &Install) -> String {
    query_one(install, "SELECT Id FROM Account LIMIT 1").await
}

/// The first Id a SOQL query returns, read with a freshly minted grant.
async fn query_one(install: &Install, soql: &str) -> String {
    let grant: Value = reqwest::Client::new()
        .post(format!(
            "{}/__sim/v1/orgs/default/grants",
            install.sim.url()
        ))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = grant["access_token"].as_str().unwrap();
    let query: Value = reqwest::Client::new()
        .get(format!("{}/services/data/v62.0/query", install.sim.url()))
        .query(&[("q", soql)])
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    query["records"][0]["Id"].as_str().unwrap().to_string()
}

/// A fresh PostgreSQL database for one test, dropped at the end.
struct Database {
    admin_url: String,
    name: String,
}

impl Database {
    fn create() -> Self {
        let admin_url = std::env::var("SFSYNC_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("sfsync_workers_{}", std::process::id());
        psql(&admin_url, &format!("DROP DATABASE IF EXISTS {name}"));
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        Self { admin_url, name }
    }

    fn url(&self) -> String {
        let (base, _) = self.admin_url.rsplit_once('/').unwrap();
        format!("{base}/{}", self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        psql(&self.admin_url, &sql);
    }
}

fn psql(url: &str, sql: &str) {
    let output = Command::new("psql").args([url, "-q", "-c", sql]).output();
    let output = output.expect("psql runs (PostgreSQL's client is needed for this test)");
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_sharing_postgres_record_each_change_exactly_once() {
    if std::env::var("SFSYNC_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
        eprintln!("skipped: SFSYNC_SKIP_POSTGRES=1");
        return;
    }
    let database = Database::create();
    let install = Install::with_database(Some(database.url())).await;
    let first = install.serve().await;
    let second = install.serve_on(free_port()).await;
    let created = run(&mut install.sfsync(&["org", "create", "acme", "--admin", "a@acme.example"]));
    let token = printed(&created, "api token:");
    connect(&first, &token).await;
    let loaded = |body: &Value| {
        body["objects"].as_array().is_some_and(|objects| {
            !objects.is_empty() && objects.iter().all(|o| o["loaded"] == true)
        })
    };
    // Either worker serves the same organization from the shared database.
    wait_for(&second, &token, "/api/v1/objects", loaded).await;

    // Several rounds of changes, each woken on both workers at once.
    let mut renamed = Vec::new();
    for round in 0..4 {
        let id = nth_account(&install, round).await;
        let name = format!("Renamed in round {round}");
        let update = json!({"fields": {"Name": name}});
        let url = format!(
            "{}/__sim/v1/orgs/default/sobjects/Account/{id}",
            install.sim.url()
        );
        let patch = reqwest::Client::new().patch(url).json(&update).send();
        assert!(patch.await.unwrap().status().is_success());
        install
            .control("clock/advance", json!({"seconds": 3}))
            .await;
        for serve in [&first, &second] {
            let sync = reqwest::Client::new().post(format!("{}/api/v1/sync", serve.url));
            assert_eq!(sync.bearer_auth(&token).send().await.unwrap().status(), 200);
        }
        renamed.push(name);
    }

    let all_four = |body: &Value| body["changes"].as_array().is_some_and(|c| c.len() >= 4);
    let changes = wait_for(&second, &token, "/api/v1/changes?limit=100", all_four).await;
    let changes = changes["changes"].as_array().unwrap();
    let names: Vec<&str> = changes
        .iter()
        .map(|c| c["fields"]["Name"]["new"].as_str().unwrap())
        .collect();
    assert_eq!(
        names, renamed,
        "each change once, in order, whichever worker read it"
    );
    let cursors: Vec<u64> = changes
        .iter()
        .map(|c| c["cursor"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");
}

/// The Id of the `n`-th Account in the simulated org, by Id.
async fn nth_account(install: &Install, n: usize) -> String {
    let soql = format!("SELECT Id FROM Account ORDER BY Id LIMIT 1 OFFSET {n}");
    query_one(install, &soql).await
}
