//! Shared response plumbing for the generators.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub(crate) const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// Serializes `value` as an XML document; every string goes through
/// quick-xml's escaping.
pub(crate) fn to_xml<T: Serialize>(value: &T) -> Result<String, quick_xml::SeError> {
    let mut out = String::from(XML_DECLARATION);
    let mut ser = quick_xml::se::Serializer::new(&mut out);
    ser.indent(' ', 2);
    value.serialize(ser)?;
    out.push('\n');
    Ok(out)
}

/// A personalised answer: shared caches must not hand Alice's file to Bob.
pub(crate) fn personal(content_type: &'static str, body: String) -> Response {
    let mut resp = body.into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Counts answers by protocol and outcome.
pub(crate) fn count(protocol: &'static str, outcome: &'static str) {
    metrics::counter!("cutover_autoconfig_requests_total", "protocol" => protocol, "outcome" => outcome)
        .increment(1);
}
