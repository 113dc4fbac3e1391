//! Command-line surface: one module per subcommand group.

mod copy;
mod db;
mod health;
mod profiles;
mod serve;
mod slots;
mod users;
mod verify;

use anyhow::Context;
use clap::{Parser, Subcommand};
use cutover_core::config::Config;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    name = "cutover",
    version,
    about = "Moves mailboxes from a legacy mail platform to a new one"
)]
pub struct Cli {
    /// TOML configuration file (layered over defaults, under CUTOVER_* env and --set).
    #[arg(long, global = true, env = "CUTOVER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Override a configuration key, e.g. --set worker.concurrency=8 (repeatable).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Log filter (tracing EnvFilter syntax), e.g. info or cutover_engine=debug.
    #[arg(long, global = true, env = "CUTOVER_LOG")]
    pub log: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Migration database maintenance.
    Db {
        #[command(subcommand)]
        cmd: db::DbCmd,
    },
    /// Import user profiles.
    Profiles {
        #[command(subcommand)]
        cmd: profiles::ProfilesCmd,
    },
    /// Inspect users.
    Users {
        #[command(subcommand)]
        cmd: users::UsersCmd,
    },
    /// Manage cutover slots.
    Slots {
        #[command(subcommand)]
        cmd: slots::SlotsCmd,
    },
    /// Operator controls of a running migration.
    Admin {
        #[command(subcommand)]
        cmd: users::AdminCmd,
    },
    /// Run portal, autoconfig, worker and mailer in one process.
    Serve,
    /// Run only the end-user portal.
    Portal,
    /// Run only the autoconfig/autodiscover server.
    Autoconfig,
    /// Run only the migration worker.
    Worker,
    /// Run only the mailer.
    Mailer,
    /// Check that the database, directory and servers are reachable.
    Healthcheck,
    /// One-off IMAP-to-IMAP copy, usable without any configuration.
    Copy(copy::CopyArgs),
    /// Compare a source and a target mailbox folder by folder.
    Verify(verify::VerifyArgs),
}

pub fn init_tracing(filter: Option<&str>) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter.unwrap_or("info"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Loads the layered configuration: defaults, file, env, then `--set`.
pub fn load_config(cli: &Cli) -> anyhow::Result<Arc<Config>> {
    let mut fig = Config::figment(cli.config.as_deref());
    for kv in &cli.set {
        let (key, value) = kv
            .split_once('=')
            .with_context(|| format!("--set {kv:?}: expected KEY=VALUE"))?;
        // Parse the value as TOML so numbers and booleans keep their type.
        let parsed: toml::Value = toml::from_str(&format!("v = {value}"))
            .map(|t: toml::Table| {
                t.get("v")
                    .cloned()
                    .unwrap_or(toml::Value::String(value.into()))
            })
            .unwrap_or_else(|_| toml::Value::String(value.to_string()));
        fig = fig.merge(figment::providers::Serialized::global(key, parsed));
    }
    Ok(Arc::new(Config::from_figment(fig)?))
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Copy(args) => return copy::run(args).await,
        Command::Verify(args) => return verify::run(args).await,
        _ => {}
    }
    let config = load_config(&cli)?;
    match cli.command {
        Command::Db { cmd } => db::run(cmd, &config).await,
        Command::Profiles { cmd } => profiles::run(cmd, &config).await,
        Command::Users { cmd } => users::run(cmd, &config).await,
        Command::Admin { cmd } => users::admin(cmd, &config).await,
        Command::Slots { cmd } => slots::run(cmd, &config).await,
        Command::Serve => serve::run(config, serve::Parts::ALL).await,
        Command::Portal => serve::run(config, serve::Parts::PORTAL).await,
        Command::Autoconfig => serve::run(config, serve::Parts::AUTOCONFIG).await,
        Command::Worker => serve::run(config, serve::Parts::WORKER).await,
        Command::Mailer => serve::run(config, serve::Parts::MAILER).await,
        Command::Healthcheck => health::run(&config).await,
        Command::Copy(_) | Command::Verify(_) => unreachable!("handled above"),
    }
}

/// Opens the migration DB named in the configuration.
pub async fn open_db(config: &Config) -> anyhow::Result<cutover_core::db::Db> {
    cutover_core::db::Db::connect(&config.database.url)
        .await
        .with_context(|| format!("database {}", redact_url(&config.database.url)))
}

/// A URL for messages, without its password.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}
