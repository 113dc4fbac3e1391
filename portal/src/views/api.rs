//! `GET /api/me`: the status page as JSON, for scripts.

use super::status::Overview;
use crate::error::PortalError;
use crate::format;
use crate::session::SignedIn;
use crate::state::PortalState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub(crate) async fn me(
    State(state): State<PortalState>,
    headers: HeaderMap,
) -> Result<Response, PortalError> {
    let Some(signed) = SignedIn::lookup(&state, &headers).await? else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "sign-in required"})),
        )
            .into_response());
    };
    let user = &signed.user;
    let overview = Overview::load(&state, user).await?;
    let booking = overview.booking.map(|b| {
        json!({
            "slot_id": b.slot.id.0,
            "starts_at": b.slot.starts_at,
            "slot_time": format::slot_time(b.slot.starts_at),
        })
    });
    let slots: Vec<_> = overview
        .slots
        .iter()
        .map(|s| json!({"id": s.id.0, "starts_at": s.starts_at, "free": s.free()}))
        .collect();
    Ok(Json(json!({
        "email": user.email.as_str(),
        "state": user.state.as_str(),
        "state_text": format::state_words(user.state),
        "can_book": user.state.can_book(),
        "booking": booking,
        "slots": slots,
    }))
    .into_response())
}
