//! `sfsync keys generate` and `sfsync keys rotate`: the master key that wraps every token's
//! data key.
//!
//! A rotation writes a new key file (the new key first, the old ones after it, so they still
//! open what they sealed), then re-wraps each connection's data key under the new key. It
//! runs beside `sfsync serve`: the service re-reads the key file when it meets a secret
//! wrapped by a key it does not hold. A token refreshed by the service during the rotation
//! may still be sealed under the old key; the report counts them, and running the rotation
//! again (with `--resume`) finishes them without another new key.

use std::path::Path;

use anyhow::{Context, bail};
use sfsync_engine::tokens::rewrap_all;
use sfsync_vault::{KeyRing, MasterKey};

use crate::context::StoreArgs;

/// Flags of `sfsync keys rotate`.
#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// The key file to rotate (only a key file can be rotated while the service runs).
    #[arg(long, env = "SFSYNC_MASTER_KEY_FILE")]
    master_key_file: std::path::PathBuf,
    /// Re-wrap what an earlier rotation left under old keys, without a new key.
    #[arg(long)]
    resume: bool,
    #[command(flatten)]
    store: StoreArgs,
}

/// Prints a fresh master key, base64, for `SFSYNC_MASTER_KEY` or a key file.
pub fn generate() -> anyhow::Result<()> {
    let (_, encoded) = MasterKey::generate().context("generating a master key")?;
    println!("{encoded}");
    Ok(())
}

/// Rotates the master key.
pub async fn rotate(args: RotateArgs) -> anyhow::Result<()> {
    let path = &args.master_key_file;
    if !args.resume {
        add_primary(path)?;
    }
    let ring = KeyRing::from_file(path).context("reading the rotated key file")?;
    let store = args.store.open_beside().await?;
    let rotation = rewrap_all(store.as_ref(), &ring).await?;
    store.close().await;
    println!(
        "master key {} is primary; {} token(s) re-wrapped",
        ring.primary().id(),
        rotation.rewrapped
    );
    match rotation.changed {
        0 => println!(
            "no token is sealed under an old key: old lines may be removed from {}",
            path.display()
        ),
        n => {
            println!("{n} token(s) changed during the rotation; run `sfsync keys rotate --resume`")
        }
    }
    Ok(())
}

/// Writes the key file anew with a fresh key on the first line, the old keys after it.
fn add_primary(path: &Path) -> anyhow::Result<()> {
    let old = std::fs::read_to_string(path)
        .with_context(|| format!("reading the key file {}", path.display()))?;
    if old.trim().is_empty() {
        bail!("the key file {} holds no key", path.display());
    }
    let (key, encoded) = MasterKey::generate().context("generating a master key")?;
    let next = format!("{encoded}\n{}\n", old.trim());
    let temporary = path.with_extension("rotating");
    crate::context::write_private(&temporary, &next)?;
    std::fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))?;
    tracing::info!(key = %key.id(), "new master key written");
    Ok(())
}
