use clap::Subcommand;
use cutover_core::config::Config;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum DbCmd {
    /// Create or upgrade the schema (idempotent).
    Migrate,
}

pub async fn run(cmd: DbCmd, config: &Config) -> anyhow::Result<ExitCode> {
    match cmd {
        DbCmd::Migrate => {
            let db = super::open_db(config).await?;
            db.migrate().await?;
            tracing::info!(database = %super::redact_url(&config.database.url), "schema is up to date");
            Ok(ExitCode::SUCCESS)
        }
    }
}
