//! The `sfsync` binary: subcommands over the simulator, the client and (as they land) the
//! engine and the server.

use anyhow::Context;
use clap::{Parser, Subcommand};

mod simulator;

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Simulator(args) => simulator::run(args).await,
        }
    })
}

fn init_tracing() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("SFSYNC_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
