//! `cutover verify`: does the target hold every source message? Folder by folder.

use super::copy::ConnArgs;
use anyhow::Context;
use clap::Args;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let source = args.conn.source_endpoint()?;
    let target = args.conn.target_endpoint()?;
    let report = cutover_engine::copy::verify(&source, &target)
        .await
        .context("verify")?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        for f in &report.folders {
            let state = match (&f.error, f.missing_on_target) {
                (Some(e), _) => format!("ERROR {e}"),
                (None, 0) => "ok".to_owned(),
                (None, n) => format!("{n} missing on target"),
            };
            println!(
                "{:<40} source {:>6} target {:>6}  {state}",
                f.source, f.source_messages, f.target_messages
            );
        }
        for u in &report.unmapped {
            println!("not mapped: {}: {}", u.folder, u.reason);
        }
        println!(
            "{}",
            if report.ok {
                "target holds every source message"
            } else {
                "DIFFERENCES FOUND"
            }
        );
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
