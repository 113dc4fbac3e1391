//! The SMTP transport, built from `[mailer]` settings.

use crate::MailerError;
use cutover_core::config::{MailerConfig, Security};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use secrecy::ExposeSecret;
use std::time::Duration;

/// Per SMTP command; also bounds how long one delivery can hold its lease.
pub(crate) const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn build(cfg: &MailerConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailerError> {
    let builder = match cfg.smtp_security {
        Security::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.smtp_host)?,
        Security::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.smtp_host)?,
        Security::Plain if cfg.allow_plaintext => {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.smtp_host)
        }
        Security::Plain => return Err(MailerError::PlaintextRefused),
    };
    let mut builder = builder.port(cfg.smtp_port).timeout(Some(SMTP_TIMEOUT));
    if !cfg.smtp_user.is_empty() {
        let password = cfg
            .smtp_password
            .as_ref()
            .map(|p| p.expose_secret().to_owned())
            .unwrap_or_default();
        builder = builder.credentials(Credentials::new(cfg.smtp_user.clone(), password));
    }
    Ok(builder.build())
}
