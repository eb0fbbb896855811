//! `sfsync simulator`: a simulated Salesforce org for demos, tests and benchmarks.

use anyhow::Context;
use sfsync_simulator::{OrgSettings, SeedCounts, Simulator, SimulatorConfig};

/// Flags of `sfsync simulator`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed of the generated data: the same seed gives the same org.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Accounts to generate.
    #[arg(long, default_value_t = SeedCounts::default().accounts)]
    accounts: u64,
    /// Contacts to generate.
    #[arg(long, default_value_t = SeedCounts::default().contacts)]
    contacts: u64,
    /// Opportunities to generate.
    #[arg(long, default_value_t = SeedCounts::default().opportunities)]
    opportunities: u64,
    /// Cases to generate.
    #[arg(long, default_value_t = SeedCounts::default().cases)]
    cases: u64,
    /// Invoice__c records to generate.
    #[arg(long, default_value_t = SeedCounts::default().invoices)]
    invoices: u64,
    /// Realistic changes per minute made in the background (0 = none).
    #[arg(long, default_value_t = 0)]
    activity: u32,
    /// Consumer key of the connected app the simulator accepts.
    #[arg(long, default_value = sfsync_simulator::DEFAULT_CLIENT_ID)]
    client_id: String,
    /// Consumer secret of that app.
    #[arg(long, default_value = sfsync_simulator::DEFAULT_CLIENT_SECRET)]
    client_secret: String,
    /// Redirect straight back with a code, as for a user who already approved the app.
    #[arg(long)]
    auto_approve: bool,
    /// Serve HTTPS with a fresh self-signed certificate, written to this file (PEM).
    #[arg(long)]
    tls_cert_out: Option<std::path::PathBuf>,
    /// Refresh-token rotation: every refresh returns a new, single-use refresh token.
    #[arg(long)]
    rotate_refresh_tokens: bool,
    /// Seconds of inactivity after which an access token dies.
    #[arg(long, default_value_t = 7200)]
    session_timeout: i64,
    /// The org's daily API allocation.
    #[arg(long, default_value_t = 100_000)]
    api_limit: u64,
    /// Make the default org a sandbox.
    #[arg(long)]
    sandbox: bool,
}

/// Starts the simulator and serves until interrupted.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let config = SimulatorConfig {
        port: args.port,
        seed: args.seed,
        counts: SeedCounts {
            accounts: args.accounts,
            contacts: args.contacts,
            opportunities: args.opportunities,
            cases: args.cases,
            invoices: args.invoices,
        },
        activity_per_min: args.activity,
        client_id: args.client_id,
        client_secret: args.client_secret,
        auto_approve: args.auto_approve,
        tls: args.tls_cert_out.is_some(),
        settings: OrgSettings {
            rotate_refresh_tokens: args.rotate_refresh_tokens,
            session_timeout_secs: args.session_timeout,
            api_daily_limit: args.api_limit,
            ..OrgSettings::default()
        },
        sandbox: args.sandbox,
    };
    let simulator = Simulator::start(config)
        .await
        .context("starting the simulator")?;
    if let (Some(path), Some(pem)) = (&args.tls_cert_out, simulator.certificate_pem()) {
        std::fs::write(path, pem)
            .with_context(|| format!("writing the certificate to {}", path.display()))?;
    }
    let org = simulator.default_org();
    tracing::info!(url = simulator.url(), org.id = %org.org_id, org.username = %org.username, records = simulator.record_count(), "simulator ready");
    // The first stdout line is the URL, so scripts can start it on port 0 and read where it is.
    println!("{}", simulator.url());
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = simulator.wait() => {}
    }
    Ok(())
}
