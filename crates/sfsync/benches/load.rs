//! The initial load end to end: `sfsync sync --once` reading a simulated org into SQLite,
//! with the simulator in its own process so that the memory measured is sfsync's alone.
//!
//! `cargo bench -p sfsync --bench load` loads 250,000, 500,000 and 1,000,000 records
//! (override with `LOAD_BENCH_RECORDS=N,N,...`) across five objects, Account, Contact,
//! Opportunity, Case and the custom `Invoice__c` (in the simulator bench's shares), then runs
//! one idle tick over them. It prints records per second, sfsync's peak memory at each size
//! (it should stay flat as the count grows) and the API calls of the idle tick. The `sync`
//! processes inherit the environment: `SFSYNC_BULK_ABOVE=never` measures REST pages only.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use serde_json::{Value, json};

const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const BIN: &str = env!("CARGO_BIN_EXE_sfsync");

/// The objects loaded and then ticked idle: the engine's four defaults and a custom object.
const OBJECTS: [&str; 5] = ["Account", "Contact", "Opportunity", "Case", "Invoice__c"];

struct Simulator {
    child: Child,
    url: String,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_simulator(total: u64) -> Simulator {
    let count = |share: u64| (total * share / 100).to_string();
    let mut child = Command::new(BIN)
        .args(["simulator", "--port", "0", "--api-limit", "100000000"])
        .args(["--accounts", &count(40), "--contacts", &count(30)])
        .args(["--opportunities", &count(15), "--cases", &count(10)])
        .args(["--invoices", &count(5)])
        .env("SFSYNC_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("the simulator starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    Simulator {
        child,
        url: line.trim().to_string(),
    }
}

fn sfsync(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let output = Command::new(BIN)
        .args(args)
        .env("SFSYNC_DATA_DIR", dir)
        .env("SFSYNC_MASTER_KEY", MASTER_KEY)
        .env("SFSYNC_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

async fn open_store(dir: &std::path::Path) -> sfsync_store::SqliteStore {
    let path = dir.join("sfsync.db");
    sfsync_store::SqliteStore::open(path.to_str().unwrap())
        .await
        .unwrap()
}

/// Creates the organization through the store, connects it with a minted grant and selects
/// [`OBJECTS`].
async fn prepare(dir: &std::path::Path, sim: &Simulator) {
    use sfsync_store::Store;
    let store = open_store(dir).await;
    let slug = sfsync_core::OrganizationSlug::parse("acme").unwrap();
    let organization = store.create_organization(&slug, 0).await.unwrap();
    store
        .create_user(
            organization.id,
            "admin@acme.example",
            sfsync_store::Role::Admin,
            0,
        )
        .await
        .unwrap();
    store.close().await;
    let grant: Value = reqwest::Client::new()
        .post(format!("{}/__sim/v1/orgs/default/grants", sim.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = grant["refresh_token"].as_str().unwrap();
    let client_id = sfsync_simulator::DEFAULT_CLIENT_ID;
    let secret = sfsync_simulator::DEFAULT_CLIENT_SECRET;
    sfsync(
        dir,
        &[
            "connect",
            "--org",
            "acme",
            "--login-url",
            &sim.url,
            "--client-id",
            client_id,
            "--client-secret",
            secret,
            "--refresh-token",
            token,
        ],
    );
    select_objects(dir, organization.id).await;
}

/// Selects [`OBJECTS`] before the first run, which would otherwise pick the engine's
/// four defaults.
async fn select_objects(dir: &std::path::Path, organization: sfsync_store::OrganizationId) {
    use sfsync_store::Store;
    let store = open_store(dir).await;
    let connection = store.load_connection(organization).await.unwrap().unwrap();
    let objects: Vec<_> = OBJECTS
        .iter()
        .map(|o| sfsync_core::ObjectName::parse(o).unwrap())
        .collect();
    store
        .save_selected_objects(connection.id, &objects)
        .await
        .unwrap();
    store.close().await;
}

/// A number printed on the summary line that starts with `prefix`.
fn summary_number(stdout: &str, prefix: &str) -> u64 {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_default();
    line.split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or(0)
}

async fn measure(total: u64) {
    let sim = start_simulator(total);
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), &sim).await;

    let started = Instant::now();
    let load = sfsync(dir.path(), &["sync", "--org", "acme", "--once"]);
    let seconds = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&load.stdout);
    let records: u64 = OBJECTS.iter().map(|o| summary_number(&stdout, o)).sum();
    let peak = summary_number(&stdout, "peak memory:");
    println!(
        "{records} records loaded in {seconds:.1} s: {:.0} records/s; sfsync peak memory {peak} MiB",
        records as f64 / seconds
    );

    let idle = sfsync(dir.path(), &["sync", "--org", "acme", "--once"]);
    let idle = String::from_utf8_lossy(&idle.stdout);
    let calls = idle
        .lines()
        .find(|l| l.contains("API calls"))
        .unwrap_or_default();
    println!("idle tick over five objects: {calls}");
}

#[tokio::main]
async fn main() {
    // reqwest is built without a crypto provider; the binary installs ring, and so must we.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sizes =
        std::env::var("LOAD_BENCH_RECORDS").unwrap_or_else(|_| "250000,500000,1000000".into());
    for size in sizes.split(',').filter_map(|s| s.trim().parse().ok()) {
        println!("== {size} records");
        measure(size).await;
    }
}
