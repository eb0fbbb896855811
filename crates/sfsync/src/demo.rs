//! `sfsync demo`: everything on one machine, ready in a browser. A simulated Salesforce org
//! with live activity (and a sandbox org beside it), a SQLite store and a master key in a
//! local data folder, the service on localhost, and a demo organization whose admin's
//! sign-in link is printed.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use sfsync_core::OrganizationSlug;
use sfsync_engine::{EngineSettings, SchedulePolicy};
use sfsync_server::LoginHosts;
use sfsync_server::auth::{mint_sign_in_link, now_ms};
use sfsync_server::service::{Service, ServiceConfig};
use sfsync_simulator::{Simulator, SimulatorConfig};
use sfsync_store::{Role, SqliteStore, Store, User};
use url::Url;

use crate::context::{AppArgs, KeyArgs};

/// Flags of `sfsync demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the service listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The demo's data folder (store and master key).
    #[arg(long, default_value = "sfsync-demo")]
    data_dir: PathBuf,
    /// Changes per minute the simulated users make.
    #[arg(long, default_value_t = 30)]
    activity: u32,
}

const SLUG: &str = "demo";
const ADMIN: &str = "admin@demo.example";

/// Runs the demo until Ctrl-C.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let sim = Simulator::start(SimulatorConfig {
        activity_per_min: args.activity,
        ..SimulatorConfig::default()
    })
    .await
    .context("starting the Salesforce simulator")?;
    let sandbox_user = add_sandbox_org(sim.url()).await?;
    let ring = KeyArgs::none().ring_or_local(&args.data_dir)?;
    let path = args.data_dir.join("sfsync.db");
    let store = std::sync::Arc::new(
        SqliteStore::open(
            path.to_str()
                .context("the data folder's path is not UTF-8")?,
        )
        .await
        .context("opening the demo store")?,
    );
    let admin = demo_admin(store.as_ref()).await?;

    let public_url = Url::parse(&format!("http://{}/", args.listen))?;
    let sim_url = Url::parse(sim.url())?;
    let service = Service::start(ServiceConfig {
        store: store.clone(),
        ring,
        app: AppArgs::simulator(public_url.clone()).app()?,
        public_url: Some(public_url.clone()),
        login_hosts: LoginHosts {
            production: sim_url.clone(),
            sandbox: sim_url,
        },
        listen: args.listen,
        engine: EngineSettings::default(),
        schedule: SchedulePolicy::default(),
    })
    .await
    .with_context(|| format!("listening on {} (is another demo running?)", args.listen))?;
    let link = mint_sign_in_link(store.as_ref(), admin.id, &public_url).await?;

    println!("sfsync demo is running (Ctrl-C stops it)\n");
    println!("  1. Sign in as {ADMIN}:  {link}");
    println!("  2. On Integrations, press Connect (Production or Sandbox).");
    println!("  3. On the simulated Salesforce login page, log in as");
    println!("       Production: {}", sim.default_org().username);
    println!("       Sandbox:    {sandbox_user}");
    println!("     with any password, then press Allow.\n");
    println!(
        "  Simulated Salesforce: {}   data folder: {}",
        sim.url(),
        args.data_dir.display()
    );
    crate::serve::shutdown_signal().await;
    service.shutdown().await;
    store.close().await;
    Ok(())
}

/// A second simulated org, flagged as a sandbox; returns its user's username.
async fn add_sandbox_org(sim_url: &str) -> anyhow::Result<String> {
    let response: serde_json::Value = reqwest::Client::new()
        .post(format!("{sim_url}/__sim/v1/orgs"))
        .json(&serde_json::json!({"seed": 2, "sandbox": true}))
        .send()
        .await
        .context("creating the sandbox org")?
        .json()
        .await
        .context("reading the sandbox org")?;
    response["username"]
        .as_str()
        .map(str::to_owned)
        .context("the simulator named no sandbox user")
}

/// The demo organization's admin, created on first run.
async fn demo_admin(store: &dyn Store) -> anyhow::Result<User> {
    let slug = OrganizationSlug::parse(SLUG).expect("a valid slug");
    let organization = match store.load_organization(&slug).await? {
        Some(organization) => organization,
        None => store.create_organization(&slug, now_ms()).await?,
    };
    let users = store.load_users(organization.id).await?;
    match users.into_iter().find(|u| u.email == ADMIN) {
        Some(user) => Ok(user),
        None => Ok(store
            .create_user(organization.id, ADMIN, Role::Admin, now_ms())
            .await?),
    }
}
