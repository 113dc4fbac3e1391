//! Our IMAP client: a small façade over imap-codec (parsing and command
//! encoding) on tokio, with TLS via rustls, pipelining and SASL.
//!
//! Everything outside this module talks to servers through [`Session`] and the
//! owned types in [`types`]; imap-types never leaks out.

mod append;
mod auth;
mod conn;
mod error;
mod fetch;
mod list;
pub mod mutf7;
mod session;
mod stream;
pub mod types;

pub use append::AppendResults;
pub use error::ImapError;
pub use fetch::FetchItems;
pub use session::{AppendMessage, Selected, Session, StoreMode, uid_set};
pub use types::{FetchData, ListEntry, MailboxStatus, Namespace};

use secrecy::SecretString;
use std::path::PathBuf;

/// Where and how to reach one IMAP account.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub auth: Auth,
    /// Extra CA certificate(s) to trust, PEM.
    pub ca_file: Option<PathBuf>,
}

/// Transport security. `Plain` sends credentials in clear text and must only be
/// chosen on explicit operator request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Tls,
    StartTls,
    Plain,
}

#[derive(Debug, Clone)]
pub enum Auth {
    /// `LOGIN user password`.
    Login {
        user: String,
        password: SecretString,
    },
    /// SASL PLAIN with authzid = `user`, authcid = `master`.
    Master {
        user: String,
        master: String,
        password: SecretString,
    },
    /// XOAUTH2 or OAUTHBEARER; the token is read again on every connect.
    OAuth {
        user: String,
        token: TokenSource,
        mechanism: OAuthMechanism,
    },
}

impl Auth {
    /// The mailbox owner this login acts for.
    pub fn user(&self) -> &str {
        match self {
            Auth::Login { user, .. } | Auth::Master { user, .. } | Auth::OAuth { user, .. } => user,
        }
    }
}

#[derive(Debug, Clone)]
pub enum TokenSource {
    /// A file holding the access token (re-read on each connect, so an external
    /// refresher can rotate it).
    File(PathBuf),
    /// A shell command printing the token on stdout.
    Command(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthMechanism {
    XOAuth2,
    OAuthBearer,
}

impl Endpoint {
    /// `host:port` for messages and logs (never credentials).
    pub fn display_addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Logs in and out once: verifies credentials (e.g. a user's legacy password).
/// Fails with an error whose `is_auth_failure()` is true when they are wrong.
#[tracing::instrument(skip(ep), fields(host = %ep.host, port = ep.port, user = %ep.auth.user()))]
pub async fn check_login(ep: &Endpoint) -> Result<(), ImapError> {
    let mut session = Session::connect(ep).await?;
    // Some servers accept a login and fail afterwards; probe before saying yes.
    session.list_probe().await?;
    session.logout().await;
    Ok(())
}
