//! Outlook "POX" Autodiscover v1 (MS-OXDSCLI): `POST /autodiscover/autodiscover.xml`.
//! Requests are read tolerantly (any namespace, BOM, content type); answers
//! always carry the IMAP and SMTP settings or an Autodiscover error document.

use crate::answer::{count, personal, to_xml};
use crate::request::user_agent;
use crate::{AutoconfigError, AutoconfigState, Subject};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use cutover_core::EmailAddress;
use cutover_core::config::{ClientServers, Security};
use quick_xml::events::Event;
use serde::Serialize;

const RESPONSE_NS: &str = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
const OUTLOOK_NS: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// What we read from a request body; everything else is ignored.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PoxRequest {
    pub email: Option<String>,
    pub schema: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("malformed autodiscover request: {0}")]
pub(crate) struct MalformedRequest(String);

/// Matches elements by local name, so the request namespace (Outlook,
/// mobilesync, or the response namespace some tools send) does not matter.
pub(crate) fn parse_request(body: &[u8]) -> Result<PoxRequest, MalformedRequest> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|e| MalformedRequest(e.to_string()))?;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<String> = Vec::new();
    let mut req = PoxRequest::default();
    let mut saw_element = false;
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| MalformedRequest(e.to_string()))?;
        let target = match stack.last().map(String::as_str) {
            Some("EMailAddress") => Some(&mut req.email),
            Some("AcceptableResponseSchema") => Some(&mut req.schema),
            _ => None,
        };
        match ev {
            Event::Start(e) => {
                saw_element = true;
                stack.push(e.local_name().as_ref().to_owned());
            }
            Event::Empty(_) => saw_element = true,
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => {
                if let Some(slot) = target {
                    slot.get_or_insert_default().push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(slot) = target {
                    slot.get_or_insert_default().push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(slot) = target {
                    let entity = format!("&{};", r.xml10_content());
                    let resolved = quick_xml::escape::unescape(&entity)
                        .map_err(|e| MalformedRequest(e.to_string()))?;
                    slot.get_or_insert_default().push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_element {
        return Err(MalformedRequest("no XML element".into()));
    }
    if !stack.is_empty() {
        return Err(MalformedRequest("unclosed elements".into()));
    }
    Ok(req)
}

#[derive(Serialize)]
#[serde(rename = "Autodiscover")]
struct Autodiscover<R> {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "Response")]
    response: R,
}

#[derive(Serialize)]
struct SettingsResponse<'a> {
    #[serde(rename = "@xmlns")]
    xmlns: &'static str,
    #[serde(rename = "Account")]
    account: Account<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Account<'a> {
    account_type: &'static str,
    action: &'static str,
    protocol: Vec<Protocol<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Protocol<'a> {
    #[serde(rename = "Type")]
    kind: &'static str,
    server: &'a str,
    port: u16,
    login_name: &'a str,
    domain_required: &'static str,
    #[serde(rename = "SPA")]
    spa: &'static str,
    #[serde(rename = "SSL")]
    ssl: &'static str,
    encryption: &'static str,
    auth_required: &'static str,
    #[serde(rename = "UsePOPAuth", skip_serializing_if = "Option::is_none")]
    use_pop_auth: Option<&'static str>,
    #[serde(rename = "SMTPLast", skip_serializing_if = "Option::is_none")]
    smtp_last: Option<&'static str>,
}

#[derive(Serialize)]
struct ErrorResponse {
    #[serde(rename = "Error")]
    error: ErrorBody,
}

#[derive(Serialize)]
struct ErrorBody {
    #[serde(rename = "@Time")]
    time: String,
    #[serde(rename = "@Id")]
    id: u32,
    #[serde(rename = "ErrorCode")]
    code: u16,
    #[serde(rename = "Message")]
    message: &'static str,
    #[serde(rename = "DebugData")]
    debug_data: (),
}

/// `SSL` alone means implicit TLS to Outlook; `Encryption` (which wins when
/// present) is what tells it to use STARTTLS (research P3).
fn ssl_and_encryption(s: Security) -> (&'static str, &'static str) {
    match s {
        Security::Tls => ("on", "SSL"),
        Security::StartTls => ("on", "TLS"),
        Security::Plain => ("off", "None"),
    }
}

pub(crate) fn render_settings(
    login: &str,
    servers: &ClientServers,
) -> Result<String, quick_xml::SeError> {
    let (imap_ssl, imap_enc) = ssl_and_encryption(servers.imap_security);
    let (smtp_ssl, smtp_enc) = ssl_and_encryption(servers.smtp_security);
    to_xml(&Autodiscover {
        xmlns: RESPONSE_NS,
        response: SettingsResponse {
            xmlns: OUTLOOK_NS,
            account: Account {
                account_type: "email",
                action: "settings",
                protocol: vec![
                    Protocol {
                        kind: "IMAP",
                        server: &servers.imap_host,
                        port: servers.imap_port,
                        login_name: login,
                        domain_required: "off",
                        spa: "off",
                        ssl: imap_ssl,
                        encryption: imap_enc,
                        auth_required: "on",
                        use_pop_auth: None,
                        smtp_last: None,
                    },
                    Protocol {
                        kind: "SMTP",
                        server: &servers.smtp_host,
                        port: servers.smtp_port,
                        login_name: login,
                        domain_required: "off",
                        spa: "off",
                        ssl: smtp_ssl,
                        encryption: smtp_enc,
                        auth_required: "on",
                        use_pop_auth: Some("off"),
                        smtp_last: Some("off"),
                    },
                ],
            },
        },
    })
}

/// An Autodiscover error document: 600 invalid request, 601 unsupported schema.
pub(crate) fn error_document(status: StatusCode, code: u16, message: &'static str) -> Response {
    let now = chrono::Utc::now();
    let doc = Autodiscover {
        xmlns: RESPONSE_NS,
        response: ErrorResponse {
            error: ErrorBody {
                time: now.format("%H:%M:%S%.3f").to_string(),
                id: now.timestamp_subsec_nanos(),
                code,
                message,
                debug_data: (),
            },
        },
    };
    match to_xml(&doc) {
        Ok(xml) => (status, personal(CONTENT_TYPE, xml)).into_response(),
        Err(e) => AutoconfigError::Render(e).into_response(),
    }
}

/// `GET` on the POX URL (browsers, Microsoft's connectivity checks): never a
/// 500, an error 600 document like Exchange (research P4).
pub(crate) async fn probe() -> Response {
    count("pox", "probe");
    error_document(StatusCode::OK, 600, "Invalid Request")
}

/// `POST /autodiscover/autodiscover.xml`. Authorization headers are neither
/// required nor looked at (research P17).
pub(crate) async fn autodiscover(
    State(state): State<AutoconfigState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AutoconfigError> {
    let req = match parse_request(&body) {
        Ok(req) => req,
        Err(e) => {
            tracing::debug!(error = %e, "unreadable POX request");
            count("pox", "malformed");
            return Ok(error_document(
                StatusCode::BAD_REQUEST,
                600,
                "Invalid Request",
            ));
        }
    };
    // Only the Outlook schema is ours to answer; mobilesync (ActiveSync) gets
    // 601 quickly so the client falls back to IMAP (research P7).
    let schema = req.schema.as_deref().map(str::trim).unwrap_or("");
    if !schema.is_empty() && !schema.eq_ignore_ascii_case(OUTLOOK_NS) {
        count("pox", "unsupported_schema");
        return Ok(error_document(
            StatusCode::OK,
            601,
            "Provider is not available",
        ));
    }
    let Some(email) = req
        .email
        .as_deref()
        .and_then(|e| EmailAddress::parse(e).ok())
    else {
        count("pox", "bad_address");
        return Ok(error_document(StatusCode::OK, 600, "Invalid Request"));
    };
    if !state.serves(email.domain()) {
        count("pox", "unknown_domain");
        return Err(AutoconfigError::UnknownDomain);
    }
    let (servers, placement) = state.servers_for(&Subject::User(email.clone())).await?;
    let xml = render_settings(email.as_str(), servers)?;
    tracing::info!(
        protocol = "pox",
        domain = email.domain(),
        placement = placement.as_str(),
        user_agent = user_agent(&headers),
        "autodiscover answered"
    );
    count("pox", placement.as_str());
    Ok(personal(CONTENT_TYPE, xml))
}
