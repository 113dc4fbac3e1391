use anyhow::Context;
use clap::Subcommand;
use cutover_core::config::Config;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum ProfilesCmd {
    /// Import users from a CSV file (columns: id, email, display_name, locale, wave).
    /// Bad rows are reported with their line; the rest are imported. Re-importing changes nothing.
    Import {
        file: PathBuf,
        /// Do not queue mailbox preloads for new users.
        #[arg(long)]
        no_preload: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cmd: ProfilesCmd, config: &Config) -> anyhow::Result<ExitCode> {
    let ProfilesCmd::Import {
        file,
        no_preload,
        json,
    } = cmd;
    let db = super::open_db(config).await?;
    db.migrate().await?;
    let input =
        std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
    let bar = if json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new_spinner()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} rows {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let preload = config.worker.preload_on_import && !no_preload;
    let report = cutover_engine::profiles::import_csv(&db, input, preload, || bar.inc(1))
        .await
        .with_context(|| format!("{}", file.display()))?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for e in &report.errors {
            eprintln!("{}:{}: {}", file.display(), e.line, e.message);
        }
        println!(
            "{}: {} new, {} updated, {} unchanged, {} rejected",
            file.display(),
            report.inserted,
            report.updated,
            report.unchanged,
            report.errors.len()
        );
    }
    Ok(if report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
