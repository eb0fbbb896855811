//! `sfsync org create` and `sfsync user add`: an organization and its people. Each prints
//! the user's API token (shown once; the store keeps its hash) and a one-time sign-in link.
//! They open the store beside a running `sfsync serve`, so people are added without a
//! restart.

use anyhow::Context;
use sfsync_core::OrganizationSlug;
use sfsync_server::auth::{mint_api_token, mint_sign_in_link, now_ms};
use sfsync_store::{Role, Store, User};

use crate::context::{AppArgs, StoreArgs, organization};

/// Flags of `sfsync org create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The organization's short name: lowercase letters, digits and dashes.
    slug: String,
    /// The e-mail of its first admin.
    #[arg(long)]
    admin: String,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    app: AppArgs,
}

/// Flags of `sfsync user add`.
#[derive(Debug, clap::Args)]
pub struct AddUserArgs {
    /// The organization.
    #[arg(long)]
    org: String,
    /// The user's e-mail.
    #[arg(long)]
    email: String,
    /// `admin` (connects, disconnects, changes settings) or `member` (reads).
    #[arg(long, default_value = "member", value_parser = ["admin", "member"])]
    role: String,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    app: AppArgs,
}

/// Creates the organization and its admin.
pub async fn create(args: CreateArgs) -> anyhow::Result<()> {
    let slug = OrganizationSlug::parse(&args.slug)
        .with_context(|| format!("organization slug {:?}", args.slug))?;
    let store = args.store.open_beside().await?;
    let organization = store
        .create_organization(&slug, now_ms())
        .await
        .with_context(|| format!("creating organization {slug}"))?;
    let admin = store
        .create_user(organization.id, args.admin.trim(), Role::Admin, now_ms())
        .await
        .context("adding the admin")?;
    println!("created organization {slug}");
    print_credentials(store.as_ref(), &admin, &args.app).await?;
    store.close().await;
    Ok(())
}

/// Adds a user to an organization.
pub async fn add_user(args: AddUserArgs) -> anyhow::Result<()> {
    let store = args.store.open_beside().await?;
    let organization = organization(store.as_ref(), &args.org).await?;
    let role = if args.role == "admin" {
        Role::Admin
    } else {
        Role::Member
    };
    let user = store
        .create_user(organization.id, args.email.trim(), role, now_ms())
        .await
        .context("adding the user")?;
    print_credentials(store.as_ref(), &user, &args.app).await?;
    store.close().await;
    Ok(())
}

/// Prints a fresh API token and sign-in link for a user.
pub async fn print_credentials(
    store: &dyn Store,
    user: &User,
    app: &AppArgs,
) -> anyhow::Result<()> {
    let token = mint_api_token(store, user.id)
        .await
        .context("minting the API token")?;
    let link = mint_sign_in_link(store, user.id, &app.public_url)
        .await
        .context("minting the sign-in link")?;
    println!("user:         {}", user.email);
    println!("api token:    {token}");
    println!("sign-in link: {link}");
    println!("(the token is shown once; the link works once, within 24 hours)");
    Ok(())
}
