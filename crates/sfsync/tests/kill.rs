//! `sfsync sync --once` killed with SIGKILL at random moments, during the initial load and
//! during incremental runs, then restarted: the final event stream must equal what the test
//! changed, each change once, as an uninterrupted run would have recorded it.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use sfsync_simulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SeedCounts, Simulator, SimulatorConfig,
};
use sfsync_store::{Role, SqliteStore, Store};

const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const ROUNDS: usize = 20;
const PER_ROUND: usize = 300;

struct Setup {
    sim: Simulator,
    dir: tempfile::TempDir,
    http: reqwest::Client,
    /// `SFSYNC_BULK_ABOVE` for every `sfsync` run.
    bulk_above: &'static str,
}

impl Setup {
    async fn control(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/__sim/v1/orgs/default/{path}", self.sim.url());
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = self
            .http
            .request(method, &url)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap_or(Value::Null)
    }

    async fn advance(&self) {
        let url = format!("{}/__sim/v1/clock/advance", self.sim.url());
        self.http
            .post(&url)
            .json(&json!({"seconds": 3}))
            .send()
            .await
            .unwrap();
    }

    fn sfsync(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sfsync"));
        command
            .args(args)
            .env("SFSYNC_DATA_DIR", self.dir.path())
            .env("SFSYNC_MASTER_KEY", MASTER_KEY)
            .env("SFSYNC_LOG", "warn")
            .env("SFSYNC_BULK_ABOVE", self.bulk_above)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        command
    }

    /// Starts `sync --once` and kills it after `delay`; returns whether it had finished.
    fn sync_killed_after(&self, delay: Duration) -> bool {
        let mut child = self
            .sfsync(&["sync", "--org", "acme", "--once"])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + delay;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "an uninterrupted run failed: {status}");
                return true;
            }
            std::thread::yield_now();
        }
        child.kill().unwrap();
        child.wait().unwrap();
        false
    }

    fn sync_to_the_end(&self) {
        let output = self
            .sfsync(&["sync", "--org", "acme", "--once"])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }

    fn changes(&self) -> Vec<Value> {
        let output = self
            .sfsync(&["changes", "--org", "acme", "--limit", "1000000"])
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// A simulated org and a connected organization; the initial load reads objects of more
/// than `bulk_above` records through Bulk jobs.
async fn setup(bulk_above: &'static str) -> Setup {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let counts = SeedCounts {
        accounts: ROUNDS as u64 * PER_ROUND as u64,
        contacts: 3000,
        opportunities: 1000,
        cases: 1000,
        invoices: 10,
    };
    let config = SimulatorConfig {
        auto_approve: true,
        counts,
        ..SimulatorConfig::default()
    };
    let sim = Simulator::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let setup = Setup {
        sim,
        dir,
        http,
        bulk_above,
    };
    create_organization(&setup).await;
    connect(&setup).await;
    setup
}

async fn create_organization(setup: &Setup) {
    let path = setup.dir.path().join("sfsync.db");
    let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    let slug = sfsync_core::OrganizationSlug::parse("acme").unwrap();
    let organization = store.create_organization(&slug, 0).await.unwrap();
    store
        .create_user(organization.id, "admin@acme.example", Role::Admin, 0)
        .await
        .unwrap();
    store.close().await;
}

async fn connect(setup: &Setup) {
    let grant = setup.control("POST", "grants", json!({})).await;
    let status = setup
        .sfsync(&[
            "connect",
            "--org",
            "acme",
            "--login-url",
            setup.sim.url(),
            "--client-id",
            DEFAULT_CLIENT_ID,
            "--client-secret",
            DEFAULT_CLIENT_SECRET,
        ])
        .env(
            "SFSYNC_REFRESH_TOKEN",
            grant["refresh_token"].as_str().unwrap(),
        )
        .status()
        .unwrap();
    assert!(status.success());
}

/// The Account Ids, in Id order, as the simulator's REST API lists them.
async fn account_ids(setup: &Setup) -> Vec<String> {
    let path = setup.dir.path().join("sfsync.db");
    let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    let organization = store
        .load_organization(&sfsync_core::OrganizationSlug::parse("acme").unwrap())
        .await
        .unwrap()
        .unwrap();
    let connection = store
        .load_connection(organization.id)
        .await
        .unwrap()
        .unwrap();
    let object = sfsync_core::ObjectName::parse("Account").unwrap();
    let ids = store
        .load_snapshot_ids(connection.id, &object, &Default::default(), u32::MAX)
        .await
        .unwrap();
    store.close().await;
    ids.into_iter().map(|id| id.as_str().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_at_random_moments_the_event_stream_equals_an_uninterrupted_runs() {
    let setup = setup("never").await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(20261204);
    let mut kills = 0;

    // The initial load, killed until one run gets through it.
    loop {
        let delay = Duration::from_millis(rng.random_range(100..1500));
        if setup.sync_killed_after(delay) {
            break;
        }
        kills += 1;
    }
    setup.sync_to_the_end();
    assert!(setup.changes().is_empty(), "a load emits no events");

    // Incremental rounds: each changes its own records, then a run is killed (or ends).
    let ids = account_ids(&setup).await;
    assert_eq!(ids.len(), ROUNDS * PER_ROUND);
    for (round, chunk) in ids.chunks(PER_ROUND).enumerate() {
        let description = format!("round {round}");
        setup
            .control(
                "POST",
                "sobjects/Account/bulk-update",
                json!({"ids": chunk, "fields": {"Description": description}}),
            )
            .await;
        setup.advance().await;
        // Until one kill lands in this round: a run that ends first is simply a run.
        for attempt in 1..=5 {
            let delay = Duration::from_millis(rng.random_range(20..1200) / attempt);
            if !setup.sync_killed_after(delay) {
                kills += 1;
                break;
            }
        }
    }
    setup.advance().await;
    setup.sync_to_the_end();

    let events = setup.changes();
    let mut per_record: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for event in &events {
        let description = event["fields"]["Description"]["new"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        per_record
            .entry(event["record_id"].as_str().unwrap().to_string())
            .or_default()
            .push(description);
    }
    for (round, chunk) in ids.chunks(PER_ROUND).enumerate() {
        for id in chunk {
            assert_eq!(
                per_record.get(id),
                Some(&vec![format!("round {round}")]),
                "record {id}"
            );
        }
    }
    assert_eq!(
        events.len(),
        ids.len(),
        "nothing lost, nothing twice, nothing else"
    );
    let cursors: Vec<u64> = events
        .iter()
        .map(|e| e["cursor"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]));
    assert!(kills >= 20, "only {kills} kills landed mid-run");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bulk_load_killed_at_random_moments_holds_every_record_and_emits_nothing() {
    let setup = setup("500").await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let mut kills = 0;
    while !setup.sync_killed_after(Duration::from_millis(rng.random_range(100..1500))) {
        kills += 1;
    }
    setup.sync_to_the_end();
    assert!(setup.changes().is_empty(), "a load emits no events");
    assert!(kills >= 3, "only {kills} kills landed in the load");
    let counters = setup.control("GET", "counters", Value::Null).await;
    assert!(
        counters["per_endpoint"]["bulk"].as_u64() > Some(0),
        "{counters}"
    );

    // Every Account held once, with the values REST reads: one change to all of them is
    // exactly one event each, of that change.
    let ids = account_ids(&setup).await;
    assert_eq!(ids.len(), ROUNDS * PER_ROUND);
    setup
        .control(
            "POST",
            "sobjects/Account/bulk-update",
            json!({"ids": ids, "fields": {"Description": "after the load"}}),
        )
        .await;
    setup.advance().await;
    setup.sync_to_the_end();
    let events = setup.changes();
    assert_eq!(events.len(), ids.len());
    assert!(
        events
            .iter()
            .all(|e| e["fields"]["Description"]["new"] == "after the load")
    );
}
