//! Mozilla autoconfig (`clientConfig` 1.1): Thunderbird, K-9/Thunderbird for
//! Android, KMail, Evolution, Delta Chat, Geary and others.

use crate::answer::{count, personal, to_xml};
use crate::request::{host, query_param, user_agent};
use crate::{AutoconfigError, AutoconfigState, Subject};
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use cutover_core::config::{ClientServers, Security};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename = "clientConfig")]
struct ClientConfig<'a> {
    #[serde(rename = "@version")]
    version: &'static str,
    #[serde(rename = "emailProvider")]
    provider: EmailProvider<'a>,
}

#[derive(Serialize)]
struct EmailProvider<'a> {
    #[serde(rename = "@id")]
    id: &'a str,
    domain: &'a str,
    #[serde(rename = "displayName")]
    display_name: &'a str,
    #[serde(rename = "displayShortName")]
    display_short_name: &'a str,
    #[serde(rename = "incomingServer")]
    incoming: Server<'a>,
    #[serde(rename = "outgoingServer")]
    outgoing: Server<'a>,
}

#[derive(Serialize)]
struct Server<'a> {
    #[serde(rename = "@type")]
    kind: &'static str,
    hostname: &'a str,
    port: u16,
    #[serde(rename = "socketType")]
    socket_type: &'static str,
    authentication: &'static str,
    username: &'a str,
}

fn socket_type(s: Security) -> &'static str {
    match s {
        Security::Tls => "SSL",
        Security::StartTls => "STARTTLS",
        Security::Plain => "plain",
    }
}

/// Without an address the client substitutes the placeholder itself.
const PLACEHOLDER: &str = "%EMAILADDRESS%";

pub(crate) fn render(
    domain: &str,
    display_name: &str,
    username: &str,
    servers: &ClientServers,
) -> Result<String, quick_xml::SeError> {
    let short = display_name
        .split_whitespace()
        .next()
        .unwrap_or(display_name);
    to_xml(&ClientConfig {
        version: "1.1",
        provider: EmailProvider {
            id: domain,
            domain,
            display_name,
            display_short_name: short,
            incoming: Server {
                kind: "imap",
                hostname: &servers.imap_host,
                port: servers.imap_port,
                socket_type: socket_type(servers.imap_security),
                authentication: "password-cleartext",
                username,
            },
            outgoing: Server {
                kind: "smtp",
                hostname: &servers.smtp_host,
                port: servers.smtp_port,
                socket_type: socket_type(servers.smtp_security),
                authentication: "password-cleartext",
                username,
            },
        },
    })
}

/// `GET /mail/config-v1.1.xml?emailaddress=…` and the `.well-known` twin.
/// The address is optional (research P1): without it the Host names the domain.
pub(crate) async fn config(
    State(state): State<AutoconfigState>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, AutoconfigError> {
    let mut raw = query_param(uri.query(), "emailaddress");
    // Evolution sends `EVOLUTIONUSER@<domain>` plus a hash of the real address
    // (research 1.2): only the domain part is real.
    if query_param(uri.query(), "emailmd5").is_some() {
        raw = raw.and_then(|r| r.rsplit_once('@').map(|(_, d)| format!("\"\"@{d}")));
    }
    let subject = state
        .subject(raw.as_deref(), host(&headers, &uri).as_deref())
        .inspect_err(|_| {
            count("mozilla", "unknown_domain");
        })?;
    let (servers, placement) = state.servers_for(&subject).await?;
    let username = match &subject {
        Subject::User(email) => email.as_str(),
        Subject::Anonymous { .. } => PLACEHOLDER,
    };
    let xml = render(
        subject.domain(),
        &state.settings().display_name,
        username,
        servers,
    )?;
    tracing::info!(
        protocol = "mozilla",
        domain = subject.domain(),
        placement = placement.as_str(),
        personal = matches!(subject, Subject::User(_)),
        user_agent = user_agent(&headers),
        "autoconfig answered"
    );
    count("mozilla", placement.as_str());
    Ok(personal("application/xml; charset=utf-8", xml))
}
