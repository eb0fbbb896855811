//! `sfsync sync`: runs the selected objects of one organization's connection, once with
//! `--once` (progress on a terminal, a summary at the end, a non-zero exit on failure), or
//! on the scheduler's pace until interrupted.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use sfsync_core::{BudgetPolicy, ObjectName};
use sfsync_engine::{Engine, RunReport, SchedulePolicy, Scheduler, TickReport};

use crate::context::{AppArgs, EngineArgs, KeyArgs, StoreArgs, organization};

/// Flags of `sfsync sync`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The organization whose connection to sync.
    #[arg(long)]
    org: String,
    /// Run every selected object once, then exit.
    #[arg(long)]
    once: bool,
    /// Seconds between ticks without `--once`.
    #[arg(long, env = "SFSYNC_POLL_INTERVAL", default_value_t = 300)]
    interval: u64,
    /// Percent of the org's daily API allocation sfsync may use.
    #[arg(long, env = "SFSYNC_API_SHARE", default_value_t = 50)]
    api_share: u8,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    app: AppArgs,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Runs the sync.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let store = args.store.open().await?;
    let ring = args.key.ring_or_local(&args.store.data_dir)?;
    let organization = organization(store.as_ref(), &args.org).await?;
    let connection = store
        .load_connection(organization.id)
        .await?
        .with_context(|| {
            format!(
                "{} has no Salesforce connection; run `sfsync connect`",
                organization.slug
            )
        })?;
    let engine = Arc::new(Engine::new(
        store.clone(),
        ring,
        args.app.app()?,
        args.engine.settings(),
    ));
    if !args.once {
        let policy = SchedulePolicy {
            budget: BudgetPolicy {
                share_percent: args.api_share,
                polling_interval: Duration::from_secs(args.interval),
            },
            ..SchedulePolicy::default()
        };
        Scheduler::new(engine, policy).run(shutdown()).await;
        store.close().await;
        return Ok(());
    }
    let progress = Arc::new(Progress::new());
    let shown = progress.clone();
    let on_progress = move |object: &ObjectName, run: &RunReport| shown.show(object, run);
    let report = engine.tick(&connection, &on_progress).await;
    progress.finish();
    print_summary(&report);
    store.close().await;
    if !report.succeeded() {
        bail!("the sync did not complete: {}", failure(&report));
    }
    Ok(())
}

async fn shutdown() {
    let _ = tokio::signal::ctrl_c().await;
}

/// One progress line per object on a terminal; nothing otherwise.
struct Progress {
    terminal: bool,
    last: Mutex<Option<String>>,
}

impl Progress {
    fn new() -> Self {
        Self {
            terminal: std::io::stderr().is_terminal(),
            last: Mutex::new(None),
        }
    }

    fn show(&self, object: &ObjectName, run: &RunReport) {
        if !self.terminal {
            return;
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let mut err = std::io::stderr();
        if last.as_deref().is_some_and(|o| o != object.as_str()) {
            let _ = writeln!(err);
        }
        let bar = "#".repeat(((run.records_read / 2000) % 30) as usize + 1);
        let _ = write!(
            err,
            "\r{:<16} {:<30} {:>9} records  {:>7} events",
            object.as_str(),
            bar,
            run.records_read,
            run.events
        );
        *last = Some(object.as_str().to_string());
    }

    fn finish(&self) {
        if self.terminal && self.last.lock().map(|l| l.is_some()).unwrap_or(false) {
            let _ = writeln!(std::io::stderr());
        }
    }
}

fn print_summary(report: &TickReport) {
    println!("{:<16} {:>10} {:>8}  result", "object", "records", "events");
    for outcome in &report.objects {
        match &outcome.result {
            Ok(run) => println!(
                "{:<16} {:>10} {:>8}  ok",
                outcome.object.as_str(),
                run.records_read,
                run.events
            ),
            Err(e) => println!(
                "{:<16} {:>10} {:>8}  failed: {e}",
                outcome.object.as_str(),
                "-",
                "-"
            ),
        }
    }
    let usage = report
        .org_usage
        .map(|u| format!(", org usage {}/{}", u.used, u.max))
        .unwrap_or_default();
    println!("{} API calls{usage}", report.api_calls);
    if let Some(mib) = peak_memory_mib() {
        println!("peak memory: {mib} MiB");
    }
}

/// The process's peak resident memory (Linux `VmHWM`), for the summary and the benchmark.
fn peak_memory_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn failure(report: &TickReport) -> String {
    if report.needs_reauthorization {
        return "the connection needs re-authorization: connect it again".into();
    }
    if report.rate_limited {
        return "the org's daily API allocation is spent; try again later".into();
    }
    let failed: Vec<&str> = report
        .objects
        .iter()
        .filter(|o| o.result.is_err())
        .map(|o| o.object.as_str())
        .collect();
    format!("{} failed", failed.join(", "))
}
