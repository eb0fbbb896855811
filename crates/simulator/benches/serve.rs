//! How fast the simulator serves query pages and how much memory it needs for its records.
//!
//! `cargo bench -p sfsync-simulator --bench serve` seeds 1,000,000 records (override with
//! `SIM_BENCH_RECORDS`), reports the resident memory the records take, then reads every
//! Account and every Contact over HTTP, page by page, with all their fields, and reports the
//! records served per second. The reader does not parse the JSON: it measures the simulator,
//! not a client.

use std::time::Instant;

use sfsync_simulator::{SeedCounts, Simulator, SimulatorConfig};

fn resident_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn counts(total: u64) -> SeedCounts {
    SeedCounts {
        accounts: total * 40 / 100,
        contacts: total * 30 / 100,
        opportunities: total * 15 / 100,
        cases: total * 10 / 100,
        invoices: total * 5 / 100,
    }
}

/// The `nextRecordsUrl` of a page, found without parsing the records.
fn next_url(body: &[u8]) -> Option<String> {
    let head = std::str::from_utf8(&body[..body.len().min(256)]).ok()?;
    let start = head.find("\"nextRecordsUrl\":\"")? + 18;
    let end = head[start..].find('"')? + start;
    Some(head[start..end].to_string())
}

async fn read_all(sim: &Simulator, token: &str, object: &str, gzip: bool) -> (u64, u64, f64) {
    let http = reqwest::Client::builder()
        .gzip(gzip)
        .build()
        .expect("client");
    let soql = format!("SELECT FIELDS(STANDARD) FROM {object}");
    let started = Instant::now();
    let mut url = format!(
        "{}/services/data/v62.0/query?q={}",
        sim.url(),
        soql.replace(' ', "+")
    );
    let (mut pages, mut bytes) = (0u64, 0u64);
    loop {
        let body = http
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .expect("page")
            .bytes()
            .await
            .expect("body");
        pages += 1;
        bytes += body.len() as u64;
        match next_url(&body) {
            Some(next) => url = format!("{}{next}", sim.url()),
            None => break,
        }
    }
    (pages, bytes, started.elapsed().as_secs_f64())
}

fn main() {
    let total: u64 = std::env::var("SIM_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let before = resident_kib("VmRSS:");
        let started = Instant::now();
        let sim = Simulator::start(SimulatorConfig {
            counts: counts(total),
            ..Default::default()
        })
        .await
        .expect("simulator");
        let seeded = started.elapsed().as_secs_f64();
        let after = resident_kib("VmRSS:");
        println!(
            "records held: {} (seeded in {seeded:.1} s)",
            sim.record_count()
        );
        println!(
            "resident memory for them: {:.0} MiB (process RSS {:.0} MiB)",
            (after - before) as f64 / 1024.0,
            after as f64 / 1024.0
        );

        let grant = sim.grant("default").expect("grant");
        let token = grant["access_token"].as_str().expect("token").to_string();
        let objects = [("Account", counts(total).accounts), ("Contact", counts(total).contacts)];
        for gzip in [false, true] {
            let encoding = if gzip { "gzip" } else { "identity" };
            for (object, n) in objects {
                let (pages, bytes, secs) = read_all(&sim, &token, object, gzip).await;
                println!(
                    "{object} ({encoding}): {n} records in {pages} pages, {:.0} MiB on the wire, {secs:.2} s: {:.0} records/s",
                    bytes as f64 / 1_048_576.0,
                    n as f64 / secs
                );
            }
        }
        println!(
            "peak process memory (VmHWM): {:.0} MiB",
            resident_kib("VmHWM:") as f64 / 1024.0
        );
    });
}
