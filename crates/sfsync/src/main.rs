//! The `sfsync` binary: subcommands over the simulator, the client and (as they land) the
//! engine and the server.

use anyhow::Context;
use clap::{Parser, Subcommand};

mod changes;
mod connect;
mod context;
mod simulator;
mod sync;

/// Salesforce change tracking: polls an org and records every field-level change.
#[derive(Debug, Parser)]
#[command(name = "sfsync", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a simulated Salesforce org (OAuth, REST, Bulk 2.0, control API) on 127.0.0.1.
    Simulator(simulator::Args),
    /// Connect an organization from an existing refresh token (non-interactive).
    Connect(connect::Args),
    /// Sync an organization's selected objects (`--once`: one run of each, then exit).
    Sync(sync::Args),
    /// Print an organization's change events as JSON lines.
    Changes(changes::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing();
    // One TLS provider for every client in the process (rust-stack.md §5).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Simulator(args) => simulator::run(args).await,
            Command::Connect(args) => connect::run(args).await,
            Command::Sync(args) => sync::run(args).await,
            Command::Changes(args) => changes::run(args).await,
        }
    })
}

/// The local clock, UTC epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn init_tracing() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("SFSYNC_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
