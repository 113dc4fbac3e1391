//! Apple configuration profiles (`.mobileconfig`, unsigned) with one
//! `com.apple.mail.managed` payload. Identifiers and UUIDs are derived from
//! the address, so downloading the profile again replaces the installed one
//! instead of adding a second account (research §0).

use crate::answer::count;
use crate::request::{host, query_param};
use crate::{AutoconfigError, AutoconfigState, Subject};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use cutover_core::EmailAddress;
use cutover_core::config::{ClientServers, Security};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use sha2::{Digest, Sha256};

enum Value<'a> {
    Str(&'a str),
    Owned(String),
    Int(u64),
    Bool(bool),
    Dict(Vec<(&'static str, Value<'a>)>),
    Array(Vec<Value<'a>>),
}

fn write_value(w: &mut Writer<Vec<u8>>, v: &Value<'_>) -> std::io::Result<()> {
    match v {
        Value::Str(s) => {
            w.create_element("string")
                .write_text_content(BytesText::new(s))?;
        }
        Value::Owned(s) => {
            w.create_element("string")
                .write_text_content(BytesText::new(s))?;
        }
        Value::Int(n) => {
            w.create_element("integer")
                .write_text_content(BytesText::new(&n.to_string()))?;
        }
        Value::Bool(b) => {
            w.create_element(if *b { "true" } else { "false" })
                .write_empty()?;
        }
        Value::Dict(entries) => {
            w.write_event(Event::Start(BytesStart::new("dict")))?;
            for (key, value) in entries {
                w.create_element("key")
                    .write_text_content(BytesText::new(key))?;
                write_value(w, value)?;
            }
            w.write_event(Event::End(BytesEnd::new("dict")))?;
        }
        Value::Array(items) => {
            w.write_event(Event::Start(BytesStart::new("array")))?;
            for item in items {
                write_value(w, item)?;
            }
            w.write_event(Event::End(BytesEnd::new("array")))?;
        }
    }
    Ok(())
}

/// A stable, RFC 4122-shaped (version 5 style) UUID for `(address, purpose)`.
fn stable_uuid(email: &EmailAddress, purpose: &str) -> String {
    let digest = Sha256::digest(format!("cutover-mobileconfig\0{email}\0{purpose}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode_upper(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `alice@example.com` → `net.cutover.mail.alice-at-example.com.<hash>`: readable,
/// and distinct even for addresses that only differ in punctuation.
fn payload_identifier(email: &EmailAddress) -> String {
    let readable: String = email
        .as_str()
        .replace('@', "-at-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let digest = Sha256::digest(email.as_str().as_bytes());
    format!("net.cutover.mail.{readable}.{}", hex::encode(&digest[..4]))
}

pub(crate) fn render(
    email: &EmailAddress,
    display_name: &str,
    servers: &ClientServers,
) -> std::io::Result<Vec<u8>> {
    let id = payload_identifier(email);
    let uses_tls = |s: Security| s != Security::Plain;
    let mail = Value::Dict(vec![
        ("PayloadType", Value::Str("com.apple.mail.managed")),
        ("PayloadVersion", Value::Int(1)),
        ("PayloadIdentifier", Value::Owned(format!("{id}.mail"))),
        ("PayloadUUID", Value::Owned(stable_uuid(email, "mail"))),
        ("PayloadDisplayName", Value::Str(email.as_str())),
        ("EmailAccountDescription", Value::Str(email.as_str())),
        ("EmailAccountType", Value::Str("EmailTypeIMAP")),
        ("EmailAddress", Value::Str(email.as_str())),
        ("IncomingMailServerHostName", Value::Str(&servers.imap_host)),
        (
            "IncomingMailServerPortNumber",
            Value::Int(servers.imap_port.into()),
        ),
        (
            "IncomingMailServerUseSSL",
            Value::Bool(uses_tls(servers.imap_security)),
        ),
        (
            "IncomingMailServerAuthentication",
            Value::Str("EmailAuthPassword"),
        ),
        ("IncomingMailServerUsername", Value::Str(email.as_str())),
        ("OutgoingMailServerHostName", Value::Str(&servers.smtp_host)),
        (
            "OutgoingMailServerPortNumber",
            Value::Int(servers.smtp_port.into()),
        ),
        (
            "OutgoingMailServerUseSSL",
            Value::Bool(uses_tls(servers.smtp_security)),
        ),
        (
            "OutgoingMailServerAuthentication",
            Value::Str("EmailAuthPassword"),
        ),
        ("OutgoingMailServerUsername", Value::Str(email.as_str())),
        ("OutgoingPasswordSameAsIncomingPassword", Value::Bool(true)),
    ]);
    let profile = Value::Dict(vec![
        ("PayloadType", Value::Str("Configuration")),
        ("PayloadVersion", Value::Int(1)),
        ("PayloadIdentifier", Value::Str(&id)),
        ("PayloadUUID", Value::Owned(stable_uuid(email, "profile"))),
        (
            "PayloadDisplayName",
            Value::Owned(format!("{display_name} ({email})")),
        ),
        ("PayloadOrganization", Value::Str(display_name)),
        ("PayloadRemovalDisallowed", Value::Bool(false)),
        ("PayloadContent", Value::Array(vec![mail])),
    ]);
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    w.write_event(Event::DocType(BytesText::from_escaped(
        r#"plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd""#,
    )))?;
    w.create_element("plist")
        .with_attribute(("version", "1.0"))
        .write_inner_content(|w| write_value(w, &profile))?;
    let mut out = w.into_inner();
    out.push(b'\n');
    Ok(out)
}

/// `GET /apple/mobileconfig?emailaddress=…`. Apple does not expand
/// placeholders, so a real address in a served domain is required.
pub(crate) async fn profile(
    State(state): State<AutoconfigState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, AutoconfigError> {
    let raw = query_param(uri.query(), "emailaddress");
    let subject = state.subject(raw.as_deref(), host(&headers, &uri).as_deref())?;
    let Subject::User(email) = &subject else {
        count("apple", "bad_address");
        return Err(AutoconfigError::BadRequest(
            "a valid emailaddress is required",
        ));
    };
    let (servers, placement) = state.servers_for(&subject).await?;
    let body =
        render(email, &state.settings().display_name, servers).map_err(AutoconfigError::Io)?;
    count("apple", placement.as_str());
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}.mobileconfig\"",
        email.domain()
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment; filename=\"mail.mobileconfig\""));
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-apple-aspen-config"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}
