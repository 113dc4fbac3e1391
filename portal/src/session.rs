//! The signed-in user of a request.

use crate::cookies::{self, SESSION_COOKIE};
use crate::error::PortalError;
use crate::state::PortalState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use cutover_core::db::sessions::{Session, SessionRepo};
use cutover_core::db::users::{User, UserRepo};
use std::net::SocketAddr;

/// A valid session and its user. Extracting it fails with
/// [`PortalError::SignInRequired`] when there is none.
pub(crate) struct SignedIn {
    pub token: String,
    pub session: Session,
    pub user: User,
}

impl SignedIn {
    /// The session of these headers, if any and still valid.
    pub(crate) async fn lookup(
        state: &PortalState,
        headers: &axum::http::HeaderMap,
    ) -> Result<Option<SignedIn>, PortalError> {
        let Some(token) = cookies::get(headers, SESSION_COOKIE).filter(|t| cookies::is_token(t))
        else {
            return Ok(None);
        };
        let Some(session) = state.db.session(token).await? else {
            return Ok(None);
        };
        let Some(user) = state.db.user(&session.user_id).await? else {
            return Ok(None);
        };
        Ok(Some(SignedIn {
            token: token.to_string(),
            session,
            user,
        }))
    }
}

impl FromRequestParts<PortalState> for SignedIn {
    type Rejection = PortalError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &PortalState,
    ) -> Result<Self, Self::Rejection> {
        SignedIn::lookup(state, &parts.headers)
            .await?
            .ok_or(PortalError::SignInRequired)
    }
}

/// The client's IP as the listener saw it ("unknown" when the server was not
/// started with connect info, so all such clients share one limit).
pub(crate) struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ci| ci.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}
