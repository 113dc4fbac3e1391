//! The end-user portal: sign-in with the legacy password, migration status and
//! self-service booking of a cutover slot, plus a small JSON API for scripts.
//!
//! The binary serves [`router`] on `config.portal.listen` (with
//! `into_make_service_with_connect_info::<SocketAddr>()` so that per-IP login
//! limits see the client address) and calls [`ensure_slots`] at startup and hourly.

mod cookies;
mod error;
mod format;
mod legacy;
mod limiter;
mod security;
mod session;
mod slots;
mod state;
mod views;

pub use error::PortalError;
pub use legacy::{ImapLegacyLogin, LegacyError, LegacyLogin, LoginResult};
pub use slots::{ensure_slots, slot_starts};
pub use state::PortalState;

use axum::Router;
use axum::routing::{get, post};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// All portal routes with security headers and request tracing applied.
pub fn router(state: PortalState) -> Router {
    Router::new()
        .route("/", get(views::login::form))
        .route("/login", post(views::login::submit))
        .route("/me", get(views::status::page))
        .route("/book", post(views::book::submit))
        .route("/logout", post(views::logout::submit))
        .route("/api/me", get(views::api::me))
        .route("/healthz", get(views::health::check))
        .fallback(views::not_found)
        .layer(axum::middleware::from_fn(security::headers))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// One span per request, tagged with its id; the query string stays out of logs.
fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    tracing::info_span!("portal", method = %req.method(), path = %req.uri().path(), request_id = %id)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
