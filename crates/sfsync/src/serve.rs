//! `sfsync serve`: the HTTP service (Integrations page, OAuth callback, JSON API, metrics)
//! and the scheduler, until interrupted.
//!
//! Configuration comes from flags, then `SFSYNC_*` environment variables, then the optional
//! TOML file of `--config`, whose keys are the flags' names with underscores
//! (`listen = "0.0.0.0:8080"`, `public_url = "https://sfsync.example.com"`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::ArgMatches;
use clap::parser::ValueSource;
use sfsync_engine::SchedulePolicy;
use sfsync_server::LoginHosts;
use sfsync_server::service::{Service, ServiceConfig};
use url::Url;

use crate::context::{AppArgs, EngineArgs, KeyArgs, StoreArgs, parse_bulk_above};

/// Flags of `sfsync serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A TOML file with settings that neither a flag nor an environment variable gives.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The address to listen on.
    #[arg(long, env = "SFSYNC_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where "Production" logs in.
    #[arg(
        long,
        env = "SFSYNC_PRODUCTION_LOGIN_URL",
        default_value = "https://login.salesforce.com"
    )]
    production_login_url: Url,
    /// Where "Sandbox" logs in.
    #[arg(
        long,
        env = "SFSYNC_SANDBOX_LOGIN_URL",
        default_value = "https://test.salesforce.com"
    )]
    sandbox_login_url: Url,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    key: KeyArgs,
    #[command(flatten)]
    app: AppArgs,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn run(mut args: Args, matches: &ArgMatches) -> anyhow::Result<()> {
    if let Some(path) = args.config.clone() {
        apply_config_file(&mut args, matches, &path)?;
    }
    let Some(ring) = args.key.ring()? else {
        bail!(
            "serve needs a master key: set SFSYNC_MASTER_KEY or SFSYNC_MASTER_KEY_FILE \
             (make one with `sfsync keys generate`)"
        );
    };
    let store = args.store.open().await?;
    let service = Service::start(ServiceConfig {
        store: store.clone(),
        ring,
        app: args.app.app()?,
        public_url: Some(args.app.public_url.clone()),
        login_hosts: LoginHosts {
            production: args.production_login_url.clone(),
            sandbox: args.sandbox_login_url.clone(),
        },
        listen: args.listen,
        engine: args.engine.settings(),
        schedule: SchedulePolicy::default(),
    })
    .await
    .with_context(|| format!("listening on {}", args.listen))?;
    println!(
        "sfsync serving on {} (public URL {})",
        args.listen,
        service.url()
    );
    shutdown_signal().await;
    service.shutdown().await;
    store.close().await;
    Ok(())
}

/// Resolves when the process is asked to stop.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Fills what no flag or environment variable gave from the TOML file.
fn apply_config_file(args: &mut Args, matches: &ArgMatches, path: &PathBuf) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    let table: toml::Table = toml::from_str(&text)
        .with_context(|| format!("parsing the config file {}", path.display()))?;
    for (key, value) in &table {
        if !SETTINGS.contains(&key.as_str()) {
            bail!("{}: unknown setting {key:?}", path.display());
        }
        let explicit = matches!(
            matches.value_source(key),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        if !explicit {
            let text = value
                .as_str()
                .with_context(|| format!("{}: {key} must be a string", path.display()))?;
            set(args, key, text).with_context(|| format!("{}: {key}", path.display()))?;
        }
    }
    Ok(())
}

/// The settings a config file may hold: the flags' ids, which are also the names of their
/// environment variables without `SFSYNC_`.
const SETTINGS: [&str; 10] = [
    "listen",
    "production_login_url",
    "sandbox_login_url",
    "database_url",
    "data_dir",
    "master_key_file",
    "client_id",
    "client_secret",
    "public_url",
    "bulk_above",
];

fn set(args: &mut Args, key: &str, value: &str) -> anyhow::Result<()> {
    match key {
        "listen" => args.listen = value.parse()?,
        "production_login_url" => args.production_login_url = value.parse()?,
        "sandbox_login_url" => args.sandbox_login_url = value.parse()?,
        "database_url" => args.store.database_url = Some(value.to_owned()),
        "data_dir" => args.store.data_dir = value.into(),
        "master_key_file" => args.key.master_key_file = Some(value.into()),
        "client_id" => args.app.client_id = value.to_owned(),
        "client_secret" => args.app.client_secret = Some(value.to_owned()),
        "public_url" => args.app.public_url = value.parse()?,
        "bulk_above" => {
            args.engine.bulk_above = parse_bulk_above(value).map_err(anyhow::Error::msg)?
        }
        other => bail!("unknown setting {other:?}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;

    /// `sfsync serve ARGS` parsed as main parses it.
    fn parse(args: &[&str]) -> (Args, ArgMatches) {
        let argv = ["sfsync", "serve"].iter().chain(args);
        let matches = crate::Cli::command().try_get_matches_from(argv).unwrap();
        let sub = matches.subcommand_matches("serve").unwrap().clone();
        (Args::from_arg_matches(&sub).unwrap(), sub)
    }

    fn config(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sfsync.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn the_config_file_fills_only_what_no_flag_gave() {
        let (_dir, path) = config(
            "listen = \"0.0.0.0:9000\"\npublic_url = \"https://sfsync.example.com\"\n\
             master_key_file = \"/etc/sfsync/master.key\"\n",
        );
        let (mut args, matches) = parse(&["--listen", "127.0.0.1:7000"]);
        apply_config_file(&mut args, &matches, &path).unwrap();
        assert_eq!(args.listen.to_string(), "127.0.0.1:7000", "the flag wins");
        assert_eq!(args.app.public_url.as_str(), "https://sfsync.example.com/");
        let key_file = args.key.master_key_file.unwrap();
        assert_eq!(key_file, PathBuf::from("/etc/sfsync/master.key"));
    }

    #[test]
    fn the_bulk_threshold_is_a_count_or_never() {
        let (mut args, matches) = parse(&[]);
        assert_eq!(args.engine.settings().run.bulk_load.above, Some(50_000));
        let (_dir, path) = config("bulk_above = \"never\"");
        apply_config_file(&mut args, &matches, &path).unwrap();
        assert_eq!(args.engine.settings().run.bulk_load.above, None);
        let (args, _) = parse(&["--bulk-above", "1200"]);
        assert_eq!(args.engine.settings().run.bulk_load.above, Some(1200));
    }

    #[test]
    fn a_config_file_with_an_unknown_or_bad_setting_names_it() {
        for (text, named) in [
            ("listen_on = \"0.0.0.0:1\"", "listen_on"),
            ("listen = \"not an address\"", "listen"),
            ("listen = 8080", "listen"),
            ("listen = ", "parsing the config file"),
            ("bulk_above = \"lots\"", "bulk_above"),
        ] {
            let (_dir, path) = config(text);
            let (mut args, matches) = parse(&[]);
            let err = apply_config_file(&mut args, &matches, &path).unwrap_err();
            assert!(format!("{err:#}").contains(named), "{text}: {err:#}");
        }
    }
}
