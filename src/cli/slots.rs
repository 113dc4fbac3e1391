use anyhow::Context;
use clap::Subcommand;
use cutover_core::config::Config;
use cutover_core::db::slots::SlotRepo;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum SlotsCmd {
    /// Add a slot at a given time (RFC 3339, or "now").
    Add {
        at: String,
        #[arg(long)]
        capacity: Option<u32>,
    },
    /// List open slots.
    List,
}

pub async fn run(cmd: SlotsCmd, config: &Config) -> anyhow::Result<ExitCode> {
    let db = super::open_db(config).await?;
    db.check_schema().await?;
    match cmd {
        SlotsCmd::Add { at, capacity } => {
            let t = if at == "now" {
                cutover_core::db::now()
            } else {
                chrono::DateTime::parse_from_rfc3339(&at)
                    .with_context(|| {
                        format!("slot time {at:?}: expected RFC 3339, e.g. 2026-12-24T09:00:00Z")
                    })?
                    .timestamp()
            };
            let cap = capacity.unwrap_or(config.slots.capacity);
            db.ensure_slots(&[t], i64::from(cap)).await?;
            println!("slot at {} (capacity {cap})", super::users::fmt_time(t));
        }
        SlotsCmd::List => {
            for s in db.open_slots(0, 1000).await? {
                println!(
                    "{:>6}  {}  {}/{}",
                    s.id.0,
                    super::users::fmt_time(s.starts_at),
                    s.booked,
                    s.capacity
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
