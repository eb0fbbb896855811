//! What every command that touches the store needs: the store itself, the master key that
//! opens the tokens, and the connected app sfsync operates, from flags and `SFSYNC_*`
//! environment variables (design.md, "Configuration").

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use sfsync_core::OrganizationSlug;
use sfsync_engine::ConnectedApp;
use sfsync_salesforce::ClientSecret;
use sfsync_store::{Organization, SqliteStore, Store};
use sfsync_vault::{KeyRing, MasterKey};
use url::Url;

/// Flags shared by the commands that open the store.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Where sfsync keeps its data: `sqlite://PATH` (default: `sfsync.db` in the data
    /// folder) or a plain path.
    #[arg(long, env = "SFSYNC_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The data folder. Default `./sfsync-data`.
    #[arg(long, env = "SFSYNC_DATA_DIR", default_value = "sfsync-data")]
    pub data_dir: PathBuf,
}

impl StoreArgs {
    /// Opens the store: SQLite (creating the data folder for the default file) or, for a
    /// `postgres://` URL, PostgreSQL shared with other workers.
    pub async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        let url = self.url()?;
        if is_postgres(&url) {
            return open_postgres(&url).await;
        }
        let store = SqliteStore::open(&url)
            .await
            .with_context(|| format!("opening the store {url}"))?;
        Ok(Arc::new(store))
    }

    /// Opens the store beside a running `sfsync serve` (or alone), for a short
    /// administrative command that takes no leases. PostgreSQL needs nothing special.
    pub async fn open_beside(&self) -> anyhow::Result<Arc<dyn Store>> {
        let url = self.url()?;
        if is_postgres(&url) {
            return open_postgres(&url).await;
        }
        let store = SqliteStore::open_beside(&url)
            .await
            .with_context(|| format!("opening the store {url}"))?;
        Ok(Arc::new(store))
    }

    fn url(&self) -> anyhow::Result<String> {
        let url = match &self.database_url {
            Some(url) => url.clone(),
            None => {
                std::fs::create_dir_all(&self.data_dir).with_context(|| {
                    format!("creating the data folder {}", self.data_dir.display())
                })?;
                format!("sqlite://{}", self.data_dir.join("sfsync.db").display())
            }
        };
        Ok(url)
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

async fn open_postgres(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    let store = sfsync_store_postgres::PgStore::connect(url)
        .await
        .context("opening the PostgreSQL store (the URL is in SFSYNC_DATABASE_URL)")?;
    Ok(Arc::new(store))
}

/// The master key that wraps the token-encryption keys.
#[derive(Debug, Clone, clap::Args)]
pub struct KeyArgs {
    /// The master key, base64 of 32 bytes.
    #[arg(long, env = "SFSYNC_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,
    /// A file holding the master key.
    #[arg(long, env = "SFSYNC_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,
}

impl KeyArgs {
    /// No key given: [`KeyArgs::ring_or_local`] then makes or reads the data folder's.
    pub fn none() -> Self {
        Self {
            master_key: None,
            master_key_file: None,
        }
    }

    /// The key ring from the key or its file; for the command-line tools only, a key file
    /// made in the data folder on first use when neither is given (`serve` refuses).
    pub fn ring_or_local(&self, data_dir: &Path) -> anyhow::Result<Arc<KeyRing>> {
        if let Some(ring) = self.ring()? {
            return Ok(ring);
        }
        let path = data_dir.join("master.key");
        if !path.exists() {
            std::fs::create_dir_all(data_dir).context("creating the data folder")?;
            let (_, encoded) = MasterKey::generate().context("generating a master key")?;
            write_private(&path, &encoded)?;
            tracing::warn!(path = %path.display(), "no SFSYNC_MASTER_KEY given; made a local key file");
        }
        KeyRing::from_file(&path)
            .map(Arc::new)
            .with_context(|| format!("the master key file {}", path.display()))
    }

    /// The key ring, if a key or a key file was given.
    pub fn ring(&self) -> anyhow::Result<Option<Arc<KeyRing>>> {
        let ring = match (&self.master_key, &self.master_key_file) {
            (Some(text), _) => KeyRing::new(
                MasterKey::from_base64(text.trim()).context("reading SFSYNC_MASTER_KEY")?,
            ),
            (None, Some(path)) => KeyRing::from_file(path)
                .with_context(|| format!("the master key file {}", path.display()))?,
            (None, None) => return Ok(None),
        };
        Ok(Some(Arc::new(ring)))
    }
}

/// Writes a secret file readable by its owner only.
pub(crate) fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .context("writing the key file")
}

/// How the engine reads.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineArgs {
    /// The initial load reads an object through Bulk API 2.0 jobs when more records than
    /// this remain, and through REST pages otherwise; `never` keeps it on REST.
    #[arg(long, env = "SFSYNC_BULK_ABOVE", default_value = "50000", value_parser = parse_bulk_above)]
    pub bulk_above: BulkAbove,
}

/// A Bulk threshold: a record count, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkAbove(pub Option<u64>);

/// Reads `never` or a whole number.
pub fn parse_bulk_above(text: &str) -> Result<BulkAbove, String> {
    if text.eq_ignore_ascii_case("never") {
        return Ok(BulkAbove(None));
    }
    text.parse()
        .map(|n| BulkAbove(Some(n)))
        .map_err(|_| format!("expected a record count or `never`, got {text:?}"))
}

impl EngineArgs {
    /// The engine's settings with these flags applied.
    pub fn settings(&self) -> sfsync_engine::EngineSettings {
        let mut settings = sfsync_engine::EngineSettings::default();
        settings.run.bulk_load.above = self.bulk_above.0;
        settings
    }
}

/// The connected app sfsync operates.
#[derive(Debug, Clone, clap::Args)]
pub struct AppArgs {
    /// The connected app's consumer key.
    #[arg(long = "app-client-id", env = "SFSYNC_CLIENT_ID", default_value = sfsync_simulator::DEFAULT_CLIENT_ID)]
    pub client_id: String,
    /// The connected app's consumer secret.
    #[arg(
        long = "app-client-secret",
        env = "SFSYNC_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub client_secret: Option<String>,
    /// sfsync's public base URL; the OAuth callback is `/oauth/callback` under it.
    #[arg(
        long,
        env = "SFSYNC_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: Url,
}

impl AppArgs {
    /// The simulator's connected app, called back at `public_url` (the demo).
    pub fn simulator(public_url: Url) -> Self {
        Self {
            client_id: sfsync_simulator::DEFAULT_CLIENT_ID.to_owned(),
            client_secret: Some(sfsync_simulator::DEFAULT_CLIENT_SECRET.to_owned()),
            public_url,
        }
    }

    /// The app, as the engine takes it.
    pub fn app(&self) -> anyhow::Result<ConnectedApp> {
        let redirect_uri = self
            .public_url
            .join("oauth/callback")
            .context("building the OAuth callback URL")?;
        Ok(ConnectedApp {
            client_id: self.client_id.clone(),
            client_secret: self.client_secret.clone().map(ClientSecret::new),
            redirect_uri,
        })
    }
}

/// The organization with this slug, or an error naming it.
pub async fn organization(store: &dyn Store, slug: &str) -> anyhow::Result<Organization> {
    let slug =
        OrganizationSlug::parse(slug).with_context(|| format!("organization slug {slug:?}"))?;
    store
        .load_organization(&slug)
        .await?
        .with_context(|| format!("no organization {slug}; create it with `sfsync org create`"))
}
