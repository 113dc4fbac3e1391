//! Preload: make sure the user exists on both sides (double provisioning),
//! then copy the mailbox while the user keeps working. Repeated runs are cheap deltas.

use super::{StepError, Worker, failed};
use crate::copy::CopyReport;
use cutover_core::MigrationState as S;
use cutover_core::UserId;
use cutover_core::db::events::EventRepo;
use cutover_core::db::users::{User, UserRepo};
use tracing::info;

pub(super) async fn run(w: &Worker, id: &UserId) -> Result<(), StepError> {
    let user = w
        .db()
        .user(id)
        .await?
        .ok_or_else(|| StepError::NoUser(id.clone()))?;
    if !matches!(
        user.state,
        S::Imported | S::Provisioned | S::Preloading | S::Preloaded | S::Failed
    ) || (user.state == S::Failed
        && !matches!(user.failed_step.as_deref(), Some("provision" | "preload")))
    {
        // The cutover owns the user now (or an admin does); it does the remaining copy.
        info!(state = %user.state, "preload skipped");
        return Ok(());
    }
    provision(w, &user).await?;
    w.db()
        .transition(
            id,
            &[S::Provisioned, S::Preloaded, S::Preloading, S::Failed],
            S::Preloading,
        )
        .await?;
    let report = super::cutover::sync(w, &user, "preload").await?;
    w.db()
        .record_event(Some(id), "preloaded", &summary(&report))
        .await?;
    // If the user booked a slot meanwhile, the state is `scheduled` and stays so.
    w.db()
        .transition(id, &[S::Preloading], S::Preloaded)
        .await?;
    Ok(())
}

/// Both accounts must exist and accept the engine's master login.
pub(super) async fn provision(w: &Worker, user: &User) -> Result<(), StepError> {
    let legacy = super::legacy_endpoint(w.config(), user.email.as_str());
    let target = super::target_endpoint(w.config(), user.email.as_str());
    crate::imap::check_login(&legacy)
        .await
        .map_err(|e| failed("provision", format!("legacy account {}: {e}", user.email)))?;
    crate::imap::check_login(&target)
        .await
        .map_err(|e| failed("provision", format!("target account {}: {e}", user.email)))?;
    w.db()
        .transition(&user.id, &[S::Imported, S::Failed], S::Provisioned)
        .await?;
    Ok(())
}

pub(super) fn summary(r: &CopyReport) -> String {
    format!(
        "{} folders, {} messages copied, {} already there, {} bytes, {} errors, {:.1} s",
        r.folders.len(),
        r.messages_copied,
        r.messages_skipped,
        r.bytes,
        r.errors.len(),
        r.seconds
    )
}
