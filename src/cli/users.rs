use anyhow::Context;
use clap::Subcommand;
use cutover_core::EmailAddress;
use cutover_core::config::Config;
use cutover_core::db::events::EventRepo;
use cutover_core::db::jobs::JobRepo;
use cutover_core::db::slots::SlotRepo;
use cutover_core::db::users::UserRepo;
use serde_json::json;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum UsersCmd {
    /// Show one user's state, booking, jobs and events.
    Show {
        email: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AdminCmd {
    /// Set the number of parallel migrations; running workers pick it up live.
    SetConcurrency { n: u32 },
    /// Run a failed user's job again now (the cutover if they booked a slot or
    /// were already switched, otherwise the preload).
    Retry { email: String },
}

pub async fn run(cmd: UsersCmd, config: &Config) -> anyhow::Result<ExitCode> {
    let UsersCmd::Show { email, json } = cmd;
    let email = EmailAddress::parse(&email)?;
    let db = super::open_db(config).await?;
    db.check_schema().await?;
    let Some(user) = db.user_by_email(&email).await? else {
        anyhow::bail!("no user with address {email}");
    };
    let booking = db.booking(&user.id).await?;
    let jobs = db.jobs_of(&user.id).await?;
    let events = db.events_of(&user.id).await?;
    if json {
        let doc = json!({ "user": user, "booking": booking.map(|b| b.slot), "jobs": jobs, "events": events });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        println!("{} ({}): {}", user.email, user.id, user.state);
        if let Some(err) = &user.last_error {
            println!(
                "  last error in {}: {err}",
                user.failed_step.as_deref().unwrap_or("?")
            );
        }
        if let Some(b) = booking {
            println!("  slot: {}", fmt_time(b.slot.starts_at));
        }
        for e in events {
            println!("  {} {:<16} {}", fmt_time(e.at), e.kind, e.detail);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn admin(cmd: AdminCmd, config: &Config) -> anyhow::Result<ExitCode> {
    let db = super::open_db(config).await?;
    db.check_schema().await?;
    let n = match cmd {
        AdminCmd::SetConcurrency { n } => n,
        AdminCmd::Retry { email } => return retry(&db, &email).await,
    };
    anyhow::ensure!(n > 0, "concurrency must be at least 1");
    db.set_setting(cutover_engine::worker::CONCURRENCY_SETTING, &n.to_string())
        .await
        .context("cannot store the setting")?;
    println!("worker concurrency set to {n}");
    Ok(ExitCode::SUCCESS)
}

async fn retry(db: &cutover_core::db::Db, email: &str) -> anyhow::Result<ExitCode> {
    use cutover_core::MigrationState as S;
    use cutover_core::db::jobs::JobKind;
    let email = EmailAddress::parse(email)?;
    let Some(user) = db.user_by_email(&email).await? else {
        anyhow::bail!("no user with address {email}");
    };
    let booked = db.booking(&user.id).await?.is_some();
    let failed_after_flip = user.state == S::Switched;
    anyhow::ensure!(
        user.state == S::Failed || failed_after_flip,
        "{email} is {}, not failed; nothing to retry",
        user.state
    );
    let kind = if booked || failed_after_flip {
        JobKind::Cutover
    } else {
        JobKind::Preload
    };
    db.enqueue(kind, &user.id, cutover_core::db::now()).await?;
    db.record_event(
        Some(&user.id),
        "retry",
        &format!("{} requeued by an operator", kind.as_str()),
    )
    .await?;
    println!("{email}: {} queued", kind.as_str());
    Ok(ExitCode::SUCCESS)
}

pub fn fmt_time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| t.to_string())
}
