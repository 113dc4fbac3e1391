//! `POST /book`: books (or moves) the user's cutover slot.

use super::status::{StatusPage, earliest_bookable};
use crate::cookies;
use crate::error::PortalError;
use crate::format;
use crate::session::SignedIn;
use crate::state::PortalState;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cutover_core::db::events::EventRepo;
use cutover_core::db::jobs::{JobKind, JobRepo};
use cutover_core::db::outbox::{NewNotice, OutboxRepo};
use cutover_core::db::slots::{BookingError, SlotRepo};
use cutover_core::db::users::UserRepo;
use cutover_core::{MigrationState, SlotId};
use serde::Deserialize;
use serde_json::json;

/// States from which a booking moves the user to `scheduled`. A user still
/// preloading may be scheduled: the cutover does the remaining copy.
const BOOKABLE_FROM: [MigrationState; 6] = [
    MigrationState::Imported,
    MigrationState::Provisioned,
    MigrationState::Preloading,
    MigrationState::Preloaded,
    MigrationState::Scheduled,
    MigrationState::Failed,
];

#[derive(Deserialize)]
pub(crate) struct BookForm {
    slot_id: Option<i64>,
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn submit(
    State(state): State<PortalState>,
    signed: SignedIn,
    Form(form): Form<BookForm>,
) -> Result<Response, PortalError> {
    if !cookies::tokens_match(&signed.session.csrf_token, &form.csrf) {
        return Err(PortalError::BadCsrf);
    }
    let refuse = async |status: StatusCode, msg: &str| -> Result<Response, PortalError> {
        let page = StatusPage::build(&state, &signed, Some(msg.to_string())).await?;
        Ok((status, page).into_response())
    };
    let user = &signed.user;
    if !user.state.can_book() {
        return refuse(
            StatusCode::CONFLICT,
            "Your move is already under way, so the time can no longer be changed.",
        )
        .await;
    }
    let Some(slot_id) = form.slot_id.map(SlotId) else {
        return refuse(StatusCode::BAD_REQUEST, "Please pick one of the times.").await;
    };
    let previous = state.db.booking(&user.id).await?.map(|b| b.slot.id);
    let slot = match state
        .db
        .book(&user.id, slot_id, earliest_bookable(&state))
        .await
    {
        Ok(slot) => slot,
        Err(BookingError::Db(e)) => return Err(e.into()),
        Err(BookingError::Full) => {
            return refuse(
                StatusCode::CONFLICT,
                "Sorry, that time has just been fully booked. Please pick another one.",
            )
            .await;
        }
        Err(BookingError::Closed) => {
            return refuse(
                StatusCode::CONFLICT,
                "That time is too close or already past. Please pick a later one.",
            )
            .await;
        }
        Err(BookingError::NoSuchSlot) => {
            return refuse(
                StatusCode::NOT_FOUND,
                "That time does not exist. Please pick one of the times listed.",
            )
            .await;
        }
    };
    if !state
        .db
        .transition(&user.id, &BOOKABLE_FROM, MigrationState::Scheduled)
        .await?
    {
        // The worker started the move between our check and now; the booking
        // stays recorded but no longer decides anything.
        return refuse(
            StatusCode::CONFLICT,
            "Your move has just started, so the time can no longer be changed.",
        )
        .await;
    }
    state
        .db
        .enqueue(JobKind::Cutover, &user.id, slot.starts_at)
        .await?;
    let slot_time = format::slot_time(slot.starts_at);
    if previous != Some(slot.id) {
        let kind = if previous.is_some() {
            "rebooked"
        } else {
            "booked"
        };
        state
            .db
            .record_event(Some(&user.id), kind, &format!("slot {slot_time}"))
            .await?;
    }
    let notice = NewNotice {
        dedupe_key: format!("booking_confirmed:{}:{}", user.id, slot.id.0),
        user_id: Some(user.id.clone()),
        template: "booking_confirmed".into(),
        locale: user.locale.clone(),
        to: user.email.clone(),
        params: json!({
            "display_name": user.display_name,
            "email": user.email.as_str(),
            "slot_starts_at": slot.starts_at,
            // Unix seconds: the mailer formats the time for the notice's locale.
            "slot_time": slot.starts_at,
            "portal_url": state.config.portal.public_url,
        }),
    };
    state
        .db
        .enqueue_notice(&notice, &message_id_domain(&state.config.mailer.from))
        .await?;
    tracing::info!(user = %user.id, slot = slot.id.0, starts_at = slot.starts_at, "slot booked");
    Ok(Redirect::to("/me?done=booked").into_response())
}

/// The domain of the notices' From address (`Name <a@b>` or `a@b`).
fn message_id_domain(from: &str) -> String {
    let addr = match (from.rfind('<'), from.rfind('>')) {
        (Some(a), Some(b)) if a < b => &from[a + 1..b],
        _ => from,
    };
    cutover_core::EmailAddress::parse(addr)
        .map(|e| e.domain().to_string())
        .unwrap_or_else(|_| "cutover.local".into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::message_id_domain;

    #[test]
    fn domain_from_the_sender() {
        assert_eq!(
            message_id_domain("Mail Migration <migration@example.com>"),
            "example.com"
        );
        assert_eq!(message_id_domain("a@b.org"), "b.org");
        assert_eq!(message_id_domain("nobody"), "cutover.local");
    }
}
