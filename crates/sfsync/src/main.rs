//! The `sfsync` binary: subcommands over the simulator, the client and (as they land) the
//! engine and the server.

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

mod changes;
mod connect;
mod context;
mod demo;
mod keys;
mod org;
mod serve;
mod simulator;
mod sync;

/// Every page of a sync builds and drops thousands of small maps and strings; mimalloc's
/// per-thread free lists measured markedly faster than the system allocator on that churn.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Serve the Integrations page, the OAuth callback, the JSON API and the scheduler.
    Serve(serve::Args),
    /// Start the simulator, a local store and the service together, ready in a browser.
    Demo(demo::Args),
    /// Organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Users of an organization.
    #[command(subcommand)]
    User(UserCommand),
    /// The master key that wraps token-encryption keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Create an organization and its first admin; prints an API token and a sign-in link.
    Create(org::CreateArgs),
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user; prints an API token and a sign-in link.
    Add(org::AddUserArgs),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Print a fresh master key (base64 of 32 bytes).
    Generate,
    /// Put a new master key first in the key file and re-wrap every token's data key.
    Rotate(keys::RotateArgs),
}

fn main() -> anyhow::Result<()> {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
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
            Command::Serve(args) => {
                let sub = matches
                    .subcommand_matches("serve")
                    .expect("the serve subcommand");
                serve::run(args, sub).await
            }
            Command::Demo(args) => demo::run(args).await,
            Command::Org(OrgCommand::Create(args)) => org::create(args).await,
            Command::User(UserCommand::Add(args)) => org::add_user(args).await,
            Command::Keys(KeysCommand::Generate) => keys::generate(),
            Command::Keys(KeysCommand::Rotate(args)) => keys::rotate(args).await,
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
