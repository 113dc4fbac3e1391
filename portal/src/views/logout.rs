//! `POST /logout` ends the session.

use crate::cookies::{self, SESSION_COOKIE};
use crate::error::PortalError;
use crate::session::SignedIn;
use crate::state::PortalState;
use axum::Form;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use cutover_core::db::sessions::SessionRepo;
use serde::Deserialize;

#[derive(Deserialize)]
pub(crate) struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn submit(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Result<Response, PortalError> {
    if let Some(signed) = SignedIn::lookup(&state, &headers).await? {
        if !cookies::tokens_match(&signed.session.csrf_token, &form.csrf) {
            return Err(PortalError::BadCsrf);
        }
        state.db.delete_session(&signed.token).await?;
    }
    let clear = cookies::clear(SESSION_COOKIE, state.config.portal.secure_cookies);
    Ok((AppendHeaders([(SET_COOKIE, clear)]), Redirect::to("/")).into_response())
}
