//! The one place where portal errors become responses.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cutover_core::db::DbError;

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// No valid session: pages send the user to the sign-in form.
    #[error("sign-in required")]
    SignInRequired,
    /// A form without the right CSRF token (expired page, or a forged request).
    #[error("the form has expired or was not sent from this site")]
    BadCsrf,
    #[error("too many failed sign-in attempts")]
    TooManyAttempts,
    #[error("page not found")]
    NotFound,
    #[error(transparent)]
    Legacy(#[from] crate::legacy::LegacyError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Internal(String),
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/error.html")]
pub(crate) struct ErrorPage {
    pub title: &'static str,
    pub message: &'static str,
}

impl PortalError {
    fn status_and_page(&self) -> (StatusCode, ErrorPage) {
        let (status, title, message) = match self {
            PortalError::SignInRequired => (
                StatusCode::UNAUTHORIZED,
                "Please sign in",
                "Your session has ended. Please sign in again.",
            ),
            PortalError::BadCsrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form has expired or did not come from this site. Go back, reload the page and try again.",
            ),
            PortalError::TooManyAttempts => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                "There were too many failed sign-in attempts. Please wait 15 minutes and try again.",
            ),
            PortalError::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is no page at this address.",
            ),
            PortalError::Legacy(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in unavailable",
                "We cannot check your password right now because the mail server does not answer. Please try again in a few minutes.",
            ),
            PortalError::Db(_) | PortalError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Something went wrong on our side. Please try again later.",
            ),
        };
        (status, ErrorPage { title, message })
    }

    fn log(&self) {
        if matches!(
            self,
            PortalError::Legacy(_) | PortalError::Db(_) | PortalError::Internal(_)
        ) {
            let mut chain = self.to_string();
            let mut source = std::error::Error::source(self);
            while let Some(s) = source {
                chain.push_str(": ");
                chain.push_str(&s.to_string());
                source = s.source();
            }
            tracing::error!(error = %chain, "portal request failed");
        }
    }
}

impl IntoResponse for PortalError {
    fn into_response(self) -> Response {
        if matches!(self, PortalError::SignInRequired) {
            return Redirect::to("/").into_response();
        }
        self.log();
        self.status_and_page().into_response()
    }
}
