use crate::state::PortalState;
use axum::extract::State;
use axum::http::StatusCode;

/// Readiness: the migration database answers.
pub(crate) async fn check(State(state): State<PortalState>) -> (StatusCode, &'static str) {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
    }
}
