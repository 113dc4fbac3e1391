//! The one place where autoconfig failures become HTTP responses.

use crate::lookup::LookupError;
use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum AutoconfigError {
    /// The domain is not one we serve; clients then move on to their next source.
    #[error("domain not served here")]
    UnknownDomain,
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// Autodiscover v2 asked for a protocol we do not offer (e.g. ActiveSync).
    #[error("unsupported autodiscover protocol {0:?}")]
    InvalidProtocol(String),
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("cannot render the answer: {0}")]
    Render(#[from] quick_xml::SeError),
    #[error("cannot write the answer: {0}")]
    Io(#[source] std::io::Error),
}

impl IntoResponse for AutoconfigError {
    fn into_response(self) -> Response {
        match self {
            AutoconfigError::UnknownDomain => {
                (StatusCode::NOT_FOUND, "unknown domain\n").into_response()
            }
            AutoconfigError::BadRequest(why) => {
                (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response()
            }
            AutoconfigError::InvalidProtocol(p) => {
                let body = serde_json::json!({
                    "ErrorCode": "InvalidProtocol",
                    "ErrorMessage": format!("The given protocol value '{p}' is invalid. Supported values are 'AutodiscoverV1'"),
                });
                (StatusCode::BAD_REQUEST, Json(body)).into_response()
            }
            AutoconfigError::Lookup(e) => {
                tracing::error!(error = %error_chain(&e), "directory lookup failed");
                metrics::counter!("cutover_autoconfig_errors_total", "kind" => "directory")
                    .increment(1);
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "30")],
                    "service temporarily unavailable\n",
                )
                    .into_response()
            }
            AutoconfigError::Render(e) => internal(&e),
            AutoconfigError::Io(e) => internal(&e),
        }
    }
}

fn internal(e: &dyn std::error::Error) -> Response {
    tracing::error!(error = %error_chain(e), "rendering an autoconfig answer failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
