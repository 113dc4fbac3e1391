//! The cutover sequence (DESIGN.md): re-check, delta sync, connectors, flag
//! flip, catch-up sync, verification, `migrated`, notice.
//!
//! The state is the checkpoint: a rerun after a crash or a failure resumes at
//! the right step. Before the flip a failure leaves the flag untouched; after
//! it, the job only ever retries forward.

use super::{StepError, Worker, failed, preload};
use crate::copy::{CopyOptions, CopyReport, NoProgress};
use cutover_core::MigrationState as S;
use cutover_core::UserId;
use cutover_core::db::events::EventRepo;
use cutover_core::db::outbox::{NewNotice, OutboxRepo};
use cutover_core::db::slots::SlotRepo;
use cutover_core::db::users::{User, UserRepo};
use serde_json::json;
use std::time::Duration;
use tracing::info;

pub(super) async fn run(w: &Worker, id: &UserId) -> Result<(), StepError> {
    let user = w
        .db()
        .user(id)
        .await?
        .ok_or_else(|| StepError::NoUser(id.clone()))?;
    match user.state {
        S::Migrated => return Ok(()),
        S::Switched => {}
        S::Scheduled | S::CuttingOver => before_flip(w, &user).await?,
        S::Failed
            if !matches!(
                user.failed_step.as_deref(),
                Some("catch_up" | "verify" | "notify")
            ) =>
        {
            before_flip(w, &user).await?
        }
        other => return Err(failed("cutover", format!("user is {other}, not scheduled"))),
    }
    after_flip(w, &user).await
}

async fn before_flip(w: &Worker, user: &User) -> Result<(), StepError> {
    let db = w.db();
    if !db
        .transition(
            &user.id,
            &[S::Scheduled, S::Failed, S::CuttingOver],
            S::CuttingOver,
        )
        .await?
    {
        return Err(failed("cutover", "the user changed state meanwhile"));
    }
    db.record_event(
        Some(&user.id),
        "cutover_started",
        "re-checking both accounts",
    )
    .await?;
    // 1. Re-check: both accounts exist and take the engine's login.
    preload::provision(w, user)
        .await
        .map_err(|e| failed("recheck", e))?;
    // 2. Delta sync, then connectors.
    let report = sync(w, user, "delta_sync").await?;
    if !report.errors.is_empty() {
        return Err(failed(
            "delta_sync",
            format!(
                "{} messages or folders failed: {}",
                report.errors.len(),
                first_errors(&report)
            ),
        ));
    }
    db.record_event(Some(&user.id), "delta_synced", &preload::summary(&report))
        .await?;
    db.record_event(
        Some(&user.id),
        "connectors",
        "no data connectors configured",
    )
    .await?;
    // 3. Flip the flag. From here on mail and logins go to the target.
    w.directory()
        .await?
        .flip_to_target(&user.email)
        .await
        .map_err(|e| failed("flip", e))?;
    if !db
        .transition(&user.id, &[S::CuttingOver], S::Switched)
        .await?
    {
        return Err(failed("flip", "state changed during the flip"));
    }
    db.record_event(
        Some(&user.id),
        "switched",
        "directory flag points at the target",
    )
    .await?;
    info!("flag flipped");
    Ok(())
}

async fn after_flip(w: &Worker, user: &User) -> Result<(), StepError> {
    let db = w.db();
    // 4. Catch-up after the propagation window: mail that reached the legacy
    // store around the flip.
    tokio::time::sleep(Duration::from_secs(w.config().cutover.propagation_secs)).await;
    let report = sync(w, user, "catch_up").await?;
    if !report.errors.is_empty() {
        return Err(failed(
            "catch_up",
            format!(
                "{} messages or folders failed: {}",
                report.errors.len(),
                first_errors(&report)
            ),
        ));
    }
    db.record_event(Some(&user.id), "caught_up", &preload::summary(&report))
        .await?;
    // 5. Verify per folder, then done.
    let source = super::legacy_endpoint(w.config(), user.email.as_str());
    let target = super::target_endpoint(w.config(), user.email.as_str());
    let verdict = crate::copy::verify(&source, &target)
        .await
        .map_err(|e| failed("verify", e))?;
    if !verdict.ok {
        let folders: Vec<String> = verdict
            .folders
            .iter()
            .filter(|f| f.missing_on_target > 0 || f.error.is_some())
            .map(|f| match &f.error {
                Some(e) => format!("{}: {e}", f.source),
                None => format!("{}: {} missing", f.source, f.missing_on_target),
            })
            .chain(
                verdict
                    .unmapped
                    .iter()
                    .map(|i| format!("{}: {}", i.folder, i.reason)),
            )
            .collect();
        return Err(failed(
            "verify",
            format!(
                "{} messages missing on the target ({})",
                verdict.missing_on_target,
                folders.join("; ")
            ),
        ));
    }
    db.record_event(
        Some(&user.id),
        "verified",
        "the target holds every source message",
    )
    .await?;
    db.transition(&user.id, &[S::Switched], S::Migrated).await?;
    let cfg = w.config();
    let notice = NewNotice {
        dedupe_key: format!("moved:{}", user.id),
        user_id: Some(user.id.clone()),
        template: "moved".into(),
        locale: user.locale.clone(),
        to: user.email.clone(),
        params: json!({
            "display_name": user.display_name,
            "email": user.email.as_str(),
            "imap_host": cfg.autoconfig.target.imap_host,
            "smtp_host": cfg.autoconfig.target.smtp_host,
            "portal_url": cfg.portal.public_url,
        }),
    };
    db.enqueue_notice(&notice, user.email.domain()).await?;
    db.record_event(Some(&user.id), "migrated", "the mailbox has moved")
        .await?;
    Ok(())
}

pub(super) fn copy_options(w: &Worker) -> CopyOptions {
    CopyOptions {
        concurrency: w.config().worker.connections_per_side as usize,
        ..CopyOptions::default()
    }
}

/// One mailbox sync for the user, keyed on the immutable user id so that a
/// change of address never causes a re-copy.
pub(super) async fn sync(
    w: &Worker,
    user: &User,
    step: &'static str,
) -> Result<CopyReport, StepError> {
    let source = super::legacy_endpoint(w.config(), user.email.as_str());
    let target = super::target_endpoint(w.config(), user.email.as_str());
    crate::copy::sync_mailbox(
        w.db(),
        user.id.as_str(),
        &source,
        &target,
        &copy_options(w),
        &NoProgress,
    )
    .await
    .map_err(|e| failed(step, e))
}

fn first_errors(r: &CopyReport) -> String {
    r.errors
        .iter()
        .take(3)
        .map(|e| match e.uid {
            Some(uid) => format!("{} UID {uid}: {}", e.folder, e.reason),
            None => format!("{}: {}", e.folder, e.reason),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Tells the user that the switch did not happen at the booked time. Only for
/// failures before the flip (the user is still on legacy); once per job, however
/// often the job is retried.
pub(super) async fn notify_postponed(w: &Worker, id: &UserId, job: i64) -> Result<(), StepError> {
    let db = w.db();
    let Some(user) = db.user(id).await? else {
        return Ok(());
    };
    if user.state.is_switched() {
        return Ok(());
    }
    let slot = db
        .booking(id)
        .await?
        .map(|b| b.slot.starts_at)
        .unwrap_or_else(cutover_core::db::now);
    let notice = NewNotice {
        dedupe_key: format!("cutover_postponed:{}:{job}", user.id),
        user_id: Some(user.id.clone()),
        template: "cutover_postponed".into(),
        locale: user.locale.clone(),
        to: user.email.clone(),
        params: json!({
            "display_name": user.display_name,
            "email": user.email.as_str(),
            "slot_time": slot,
            "portal_url": w.config().portal.public_url,
        }),
    };
    db.enqueue_notice(&notice, user.email.domain()).await?;
    Ok(())
}
