//! Checking a user's legacy password by logging in to the legacy IMAP server.
//! The password is only passed through: never stored, logged or formatted.

use cutover_core::EmailAddress;
use cutover_core::config::{ImapServerConfig, Security};
use secrecy::SecretString;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginResult {
    Accepted,
    /// The server refused the credentials.
    Rejected,
}

#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    /// The check could not be made (server down, TLS problem, …); says nothing
    /// about the password, so it does not count as a failed attempt.
    #[error("cannot check the password with the legacy mail server")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type LoginFuture<'a> =
    Pin<Box<dyn Future<Output = Result<LoginResult, LegacyError>> + Send + 'a>>;

/// How the portal verifies a legacy password (object safe, so tests and other
/// deployments can plug in another check).
pub trait LegacyLogin: Send + Sync + 'static {
    fn check<'a>(&'a self, email: &'a EmailAddress, password: &'a SecretString) -> LoginFuture<'a>;
}

/// Logs in to the legacy IMAP server as the user, then logs out.
#[derive(Debug, Clone)]
pub struct ImapLegacyLogin {
    host: String,
    port: u16,
    security: Security,
    ca_file: Option<PathBuf>,
}

impl ImapLegacyLogin {
    pub fn from_config(c: &ImapServerConfig) -> Self {
        ImapLegacyLogin {
            host: c.host.clone(),
            port: c.port,
            security: c.security,
            ca_file: c.ca_file.clone(),
        }
    }

    #[tracing::instrument(skip(self, password), fields(host = %self.host, port = self.port))]
    async fn login(
        &self,
        email: &EmailAddress,
        password: &SecretString,
    ) -> Result<LoginResult, LegacyError> {
        use cutover_engine::imap::{Auth, Endpoint, Security as Sec, check_login};
        let endpoint = Endpoint {
            host: self.host.clone(),
            port: self.port,
            security: match self.security {
                Security::Tls => Sec::Tls,
                Security::StartTls => Sec::StartTls,
                Security::Plain => Sec::Plain,
            },
            auth: Auth::Login {
                user: email.as_str().to_string(),
                password: password.clone(),
            },
            ca_file: self.ca_file.clone(),
        };
        match check_login(&endpoint).await {
            Ok(()) => Ok(LoginResult::Accepted),
            Err(e) if e.is_auth_failure() => Ok(LoginResult::Rejected),
            Err(e) => Err(LegacyError::Unavailable(Box::new(e))),
        }
    }
}

impl LegacyLogin for ImapLegacyLogin {
    fn check<'a>(&'a self, email: &'a EmailAddress, password: &'a SecretString) -> LoginFuture<'a> {
        Box::pin(self.login(email, password))
    }
}
