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
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
