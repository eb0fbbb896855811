//! `sfsync changes`: an organization's change events as JSON lines, in cursor order.

use std::io::Write;

use anyhow::Context;
use sfsync_core::FeedCursor;

use crate::context::{StoreArgs, organization};

/// Flags of `sfsync changes`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The organization.
    #[arg(long)]
    org: String,
    /// Only events after this cursor.
    #[arg(long)]
    after: Option<String>,
    /// At most this many events.
    #[arg(long, default_value_t = 1000)]
    limit: u32,
    #[command(flatten)]
    store: StoreArgs,
}

/// Prints the events.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let store = args.store.open().await?;
    let organization = organization(store.as_ref(), &args.org).await?;
    let after = args
        .after
        .as_deref()
        .map(|text| {
            text.parse::<FeedCursor>()
                .with_context(|| format!("cursor {text:?}"))
        })
        .transpose()?;
    let events = store
        .load_changes(organization.id, after, args.limit)
        .await?;
    let mut out = std::io::stdout().lock();
    for event in &events {
        let line = serde_json::to_string(event).context("writing an event")?;
        writeln!(out, "{line}").context("writing to standard output")?;
    }
    store.close().await;
    Ok(())
}
