//! `sfsync connect`: the non-interactive way to connect an organization, from a refresh
//! token obtained elsewhere (as other sync tools take it).

use anyhow::Context;
use sfsync_engine::tokens::{OpenedTokens, seal_opened};
use sfsync_salesforce::{ClientSecret, Environment, OAuthClient, OAuthConfig, RefreshToken};
use sfsync_store::{NewConnection, Role, Store};

use crate::context::{KeyArgs, StoreArgs, organization};

/// Flags of `sfsync connect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The organization to connect.
    #[arg(long)]
    org: String,
    /// The login host: https://login.salesforce.com, https://test.salesforce.com or a My
    /// Domain URL (https only, except loopback).
    #[arg(long)]
    login_url: String,
    /// The consumer key of the app that issued the refresh token.
    #[arg(long)]
    client_id: String,
    /// That app's consumer secret.
    #[arg(long, env = "SFSYNC_CONNECT_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    /// The refresh token (also read from SFSYNC_REFRESH_TOKEN, which keeps it out of the
    /// process list).
    #[arg(long, env = "SFSYNC_REFRESH_TOKEN", hide_env_values = true)]
    refresh_token: String,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    key: KeyArgs,
}

/// Refreshes the token once (proving it works and learning the instance), reads the
/// identity, and saves the connection with its sealed tokens.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let store = args.store.open().await?;
    let ring = args.key.ring_or_local(&args.store.data_dir)?;
    let organization = organization(store.as_ref(), &args.org).await?;
    let (environment, kind) = environment(&args.login_url)?;
    let oauth = oauth_client(&args, environment.clone())?;

    let refreshed = oauth
        .refresh(&RefreshToken::new(args.refresh_token.clone()))
        .await
        .context("refreshing the given token (is it valid for this app and login host?)")?;
    let tokens = refreshed.tokens();
    let access = tokens
        .access_token
        .clone()
        .context("the refresh gave no access token")?;
    let identity = oauth
        .fetch_identity(refreshed.identity_url(), &access)
        .await
        .context("reading the connected user's identity")?;

    let admin = first_admin(store.as_ref(), &organization).await?;
    let details = NewConnection {
        organization: organization.id,
        environment: kind,
        login_url: environment.login_url().to_string(),
        instance_url: tokens.instance_url.to_string(),
        salesforce_org_id: identity.organization_id.clone(),
        salesforce_username: identity.username.clone(),
        connected_by: admin,
        connected_at_ms: crate::now_ms(),
    };
    let connection = store.save_connection(&details).await?;
    let opened = OpenedTokens {
        tokens,
        app: Some((
            args.client_id.clone(),
            args.client_secret.clone().map(ClientSecret::new),
        )),
    };
    let sealed = seal_opened(&ring, connection.id, &opened)?;
    store.save_sealed_tokens(connection.id, &sealed).await?;
    println!(
        "connected {} to Salesforce org {} as {} ({})",
        organization.slug, identity.organization_id, identity.username, details.instance_url
    );
    store.close().await;
    Ok(())
}

/// The login host and its kind.
fn environment(login_url: &str) -> anyhow::Result<(Environment, sfsync_store::Environment)> {
    let trimmed = login_url.trim_end_matches('/');
    Ok(match trimmed {
        "https://login.salesforce.com" => (
            Environment::Production,
            sfsync_store::Environment::Production,
        ),
        "https://test.salesforce.com" => (Environment::Sandbox, sfsync_store::Environment::Sandbox),
        _ => (
            Environment::custom(login_url).with_context(|| format!("login URL {login_url:?}"))?,
            sfsync_store::Environment::Custom,
        ),
    })
}

fn oauth_client(args: &Args, environment: Environment) -> anyhow::Result<OAuthClient> {
    // A refresh sends no redirect URI; the app's callback is not needed here.
    let redirect = url::Url::parse("http://127.0.0.1/oauth/callback").expect("static url");
    let mut config = OAuthConfig::new(args.client_id.clone(), redirect, environment);
    config.client_secret = args.client_secret.clone().map(ClientSecret::new);
    Ok(OAuthClient::new(config)?)
}

/// The organization's first admin, recorded as who connected it.
async fn first_admin(
    store: &dyn Store,
    organization: &sfsync_store::Organization,
) -> anyhow::Result<sfsync_store::UserId> {
    let users = store.load_users(organization.id).await?;
    users
        .iter()
        .find(|u| u.role == Role::Admin)
        .map(|u| u.id)
        .with_context(|| format!("organization {} has no admin", organization.slug))
}
