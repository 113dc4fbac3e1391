//! Mail-client autoconfiguration: Mozilla autoconfig (Thunderbird and friends),
//! Outlook POX Autodiscover and Autodiscover v2 JSON, and Apple profiles.
//!
//! Every user gets the servers of *their* migration state, read from the LDAP
//! flag at request time: switched users see the target platform, everybody else
//! (legacy, unset, unknown) the legacy one. Requests follow
//! `research/autoconfig.md`: the address is optional, paths match in any case,
//! unknown domains get 404, and nothing the client sent reaches the output
//! without going through the XML/JSON serializers.

mod answer;
mod apple;
mod error;
mod lookup;
mod mozilla;
mod pox;
mod request;
mod v2;

pub use error::AutoconfigError;
pub use lookup::{Fixed, LookupError, LookupFuture, Placement, RouteLookup};

use axum::Router;
use axum::extract::Request;
use axum::http::Uri;
use axum::routing::get;
use cutover_core::EmailAddress;
use cutover_core::config::{AutoconfigConfig, ClientServers, Config};
use std::sync::Arc;
use tower::ServiceExt as _;

/// Shared state of the autoconfig handlers: the configuration and the
/// authoritative route lookup (the LDAP directory in production).
#[derive(Clone)]
pub struct AutoconfigState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Arc<Config>,
    lookup: Box<dyn RouteLookup>,
}

impl std::fmt::Debug for AutoconfigState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AutoconfigState")
            .field("domains", &self.settings().domains)
            .finish_non_exhaustive()
    }
}

/// Who a request is about, once the edge input has been parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Subject {
    /// A well-formed address in a served domain (it may or may not exist).
    User(EmailAddress),
    /// No usable address; the served domain came from the address's domain
    /// part or from the Host header. Clients fill in `%EMAILADDRESS%`.
    Anonymous { domain: String },
}

impl Subject {
    pub(crate) fn domain(&self) -> &str {
        match self {
            Subject::User(e) => e.domain(),
            Subject::Anonymous { domain } => domain,
        }
    }
}

impl AutoconfigState {
    pub fn new(config: Arc<Config>, lookup: impl RouteLookup) -> AutoconfigState {
        AutoconfigState {
            inner: Arc::new(Inner {
                config,
                lookup: Box::new(lookup),
            }),
        }
    }

    pub(crate) fn settings(&self) -> &AutoconfigConfig {
        &self.inner.config.autoconfig
    }

    pub(crate) fn serves(&self, domain: &str) -> bool {
        self.settings()
            .domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// Parses the client's address (if any) and picks the served domain.
    /// A malformed address is not an error (clients send fakes and nothing);
    /// an address or host outside our domains is.
    pub(crate) fn subject(
        &self,
        raw_address: Option<&str>,
        host: Option<&str>,
    ) -> Result<Subject, AutoconfigError> {
        let raw = raw_address.map(str::trim).filter(|s| !s.is_empty());
        if let Some(raw) = raw {
            match EmailAddress::parse(raw) {
                Ok(email) if self.serves(email.domain()) => return Ok(Subject::User(email)),
                Ok(_) => return Err(AutoconfigError::UnknownDomain),
                Err(_) => {
                    let domain = raw
                        .rsplit_once('@')
                        .map(|(_, d)| d.trim().to_ascii_lowercase());
                    if let Some(domain) = domain.filter(|d| self.serves(d)) {
                        return Ok(Subject::Anonymous { domain });
                    }
                }
            }
        }
        match host
            .and_then(request::domain_of_host)
            .filter(|d| self.serves(d))
        {
            Some(domain) => Ok(Subject::Anonymous { domain }),
            None => Err(AutoconfigError::UnknownDomain),
        }
    }

    /// The servers this subject should use. Only a user the directory routes
    /// to the target gets the target; everything else stays on legacy.
    pub(crate) async fn servers_for(
        &self,
        subject: &Subject,
    ) -> Result<(&ClientServers, Placement), AutoconfigError> {
        let placement = match subject {
            Subject::User(email) => self.inner.lookup.placement(email).await?,
            Subject::Anonymous { .. } => Placement::Legacy,
        };
        let servers = match placement {
            Placement::Target => &self.settings().target,
            Placement::Legacy => &self.settings().legacy,
        };
        Ok((servers, placement))
    }
}

/// The autoconfig HTTP surface. Paths are matched case-insensitively
/// (`/Autodiscover/Autodiscover.xml` is what Outlook sends).
pub fn router(state: AutoconfigState) -> Router {
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/mail/config-v1.1.xml", get(mozilla::config))
        .route(
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            get(mozilla::config),
        )
        .route(
            "/autodiscover/autodiscover.xml",
            get(pox::probe).post(pox::autodiscover),
        )
        .route("/autodiscover/autodiscover.json", get(v2::by_query))
        .route(
            "/autodiscover/autodiscover.json/v1.0/{email}",
            get(v2::by_path),
        )
        .route("/apple/mobileconfig", get(apple::profile))
        .with_state(state);
    // Routing happens inside `routes`, so lower-casing the path in front of it
    // makes every route case-insensitive.
    Router::new().fallback_service(routes.map_request(lowercase_path))
}

async fn healthz() -> &'static str {
    "ok"
}

fn lowercase_path(mut req: Request) -> Request {
    let uri = req.uri();
    if !uri.path().bytes().any(|b| b.is_ascii_uppercase()) {
        return req;
    }
    let path = uri.path().to_ascii_lowercase();
    let path_and_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut parts = uri.clone().into_parts();
    if let Ok(pq) = path_and_query.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(lowered) = Uri::from_parts(parts) {
            *req.uri_mut() = lowered;
        }
    }
    req
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
