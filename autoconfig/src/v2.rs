//! Autodiscover v2 (JSON), used by newer Outlook builds and Outlook mobile to
//! find the POX endpoint: `GET /autodiscover/autodiscover.json?Email=…&Protocol=…`
//! or `/autodiscover/autodiscover.json/v1.0/<address>?Protocol=…`.

use crate::answer::count;
use crate::request::{host, query_param};
use crate::{AutoconfigError, AutoconfigState};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Pointer {
    protocol: &'static str,
    url: String,
}

pub(crate) async fn by_query(
    State(state): State<AutoconfigState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, AutoconfigError> {
    let email = query_param(uri.query(), "Email");
    answer(&state, email.as_deref(), &headers, &uri)
}

pub(crate) async fn by_path(
    State(state): State<AutoconfigState>,
    Path(email): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, AutoconfigError> {
    answer(&state, Some(&email), &headers, &uri)
}

fn answer(
    state: &AutoconfigState,
    email: Option<&str>,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Response, AutoconfigError> {
    let subject = state
        .subject(email, host(headers, uri).as_deref())
        .inspect_err(|_| {
            count("v2", "unknown_domain");
        })?;
    let protocol = query_param(uri.query(), "Protocol").unwrap_or_default();
    if !protocol.eq_ignore_ascii_case("AutodiscoverV1") {
        // No ActiveSync/EWS here: a quick 400 lets Outlook fall back to IMAP (research P7).
        count("v2", "invalid_protocol");
        return Err(AutoconfigError::InvalidProtocol(protocol));
    }
    // The URL is built from the served domain (checked against the
    // configuration), never from the raw Host header (research P10).
    let url = format!(
        "https://autodiscover.{}/autodiscover/autodiscover.xml",
        subject.domain()
    );
    count("v2", "pointer");
    let mut resp = Json(Pointer {
        protocol: "AutodiscoverV1",
        url,
    })
    .into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    Ok(resp)
}
