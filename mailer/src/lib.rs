//! Delivers the outbox: notices the engine and the portal asked for (booking
//! confirmed, you have moved) go out over SMTP, rendered from the templates
//! in `templates/emails/`.
//!
//! Exactly once, as far as SMTP allows: the outbox dedupe key stops a second
//! request, a lease stops two mailers sending the same row, the row is marked
//! sent right after the server's final OK, and every attempt carries the
//! row's stable Message-ID, so a resend after a crash between the OK and the
//! mark can be recognised by the receiver.

mod render;
mod transport;

pub use render::{RenderError, Rendered, render};

use cutover_core::config::Config;
use cutover_core::db::outbox::{OutboxItem, OutboxRepo};
use cutover_core::db::{Db, DbError, now};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Notices claimed per round trip to the database.
const BATCH: i64 = 10;
/// First retry delay; doubled per attempt up to [`MAX_BACKOFF_SECS`].
const BASE_BACKOFF_SECS: i64 = 30;
const MAX_BACKOFF_SECS: i64 = 3600;

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("mailer.from {value:?} is not a valid mailbox: {source}")]
    From {
        value: String,
        #[source]
        source: lettre::address::AddressError,
    },
    #[error(
        "mailer.smtp_security = \"plain\" sends mail and passwords in clear text; set mailer.allow_plaintext = true to accept that"
    )]
    PlaintextRefused,
    #[error("SMTP transport: {0}")]
    Transport(#[from] lettre::transport::smtp::Error),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Why one notice was not delivered this time.
#[derive(Debug, thiserror::Error)]
enum DeliveryError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("recipient {0:?} is not a valid address")]
    Recipient(String),
    #[error("cannot build the message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

impl DeliveryError {
    /// Only a transient SMTP failure (4xx, connection, timeout, TLS) is worth retrying.
    fn is_permanent(&self) -> bool {
        match self {
            DeliveryError::Smtp(e) => e.is_permanent(),
            _ => true,
        }
    }
}

pub struct Mailer {
    db: Db,
    config: Arc<Config>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl Mailer {
    pub fn new(db: Db, config: Arc<Config>) -> Result<Mailer, MailerError> {
        let from = config
            .mailer
            .from
            .parse::<Mailbox>()
            .map_err(|source| MailerError::From {
                value: config.mailer.from.clone(),
                source,
            })?;
        let transport = transport::build(&config.mailer)?;
        Ok(Mailer {
            db,
            config,
            transport,
            from,
        })
    }

    /// Delivers every notice that is due; returns how many were sent. Failed
    /// notices are rescheduled (transient) or given up (permanent), so this
    /// never loops on the same row.
    pub async fn run_once(&self) -> Result<usize, MailerError> {
        // Long enough for every delivery of a batch to time out once.
        let lease_secs = (BATCH * transport::SMTP_TIMEOUT.as_secs() as i64 * 2) + 60;
        let mut seen = HashSet::new();
        let mut sent = 0;
        loop {
            let batch = self.db.claim_notices(BATCH, lease_secs).await?;
            if batch.is_empty() || batch.iter().all(|item| seen.contains(&item.id)) {
                return Ok(sent);
            }
            for item in batch {
                seen.insert(item.id);
                if self.deliver(item).await? {
                    sent += 1;
                }
            }
        }
    }

    /// Polls the outbox every `mailer.poll_interval_ms` until `shutdown`. A
    /// delivery in progress is finished (and recorded) before returning.
    pub async fn run(self, shutdown: CancellationToken) {
        let interval = Duration::from_millis(self.config.mailer.poll_interval_ms.max(50));
        tracing::info!(interval_ms = interval.as_millis() as u64, "mailer started");
        loop {
            match self.run_once().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sent = n, "notices delivered"),
                Err(e) => tracing::error!(error = %e, "mailer round failed"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(interval) => {}
            }
        }
        tracing::info!("mailer stopped");
    }

    fn message(&self, item: &OutboxItem) -> Result<Message, DeliveryError> {
        let r = render(&item.template, &item.locale, &item.params)?;
        let address = item
            .to_addr
            .parse()
            .map_err(|_| DeliveryError::Recipient(item.to_addr.clone()))?;
        let to = Mailbox::new(r.display_name, address);
        Ok(Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(r.subject)
            .message_id(Some(item.message_id.clone()))
            .date_now()
            .multipart(MultiPart::alternative_plain_html(r.text, r.html))?)
    }

    /// One attempt at one notice; `Ok(true)` when the server accepted it.
    #[tracing::instrument(skip_all, fields(id = item.id, template = %item.template, attempt = item.attempts))]
    async fn deliver(&self, item: OutboxItem) -> Result<bool, MailerError> {
        let result = match self.message(&item) {
            Ok(msg) => self.transport.send(msg).await.map_err(DeliveryError::from),
            Err(e) => Err(e),
        };
        match result {
            Ok(_) => {
                // Right after the final OK: the window for a duplicate is this one statement.
                self.db.mark_sent(item.id).await?;
                metrics::counter!("cutover_mail_sent_total", "template" => item.template.clone())
                    .increment(1);
                tracing::info!(message_id = %item.message_id, "notice sent");
                Ok(true)
            }
            Err(e) => {
                let max = i64::from(self.config.mailer.max_attempts.max(1));
                let (retry_at, outcome) = if e.is_permanent() {
                    (None, "permanent")
                } else if item.attempts >= max {
                    (None, "exhausted")
                } else {
                    (Some(now() + backoff_secs(item.attempts)), "retry")
                };
                let mut text = e.to_string();
                if matches!(&e, DeliveryError::Smtp(s) if s.is_timeout()) {
                    text.push_str(" (outcome unknown: possibly delivered)");
                }
                self.db.mark_failed(item.id, &text, retry_at).await?;
                metrics::counter!("cutover_mail_failed_total", "template" => item.template.clone(), "outcome" => outcome)
                    .increment(1);
                match retry_at {
                    Some(at) => tracing::warn!(error = %text, retry_at = at, "notice deferred"),
                    None => tracing::error!(error = %text, outcome, "notice given up"),
                }
                Ok(false)
            }
        }
    }
}

/// 30 s, 60 s, 120 s, … capped at an hour.
fn backoff_secs(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    BASE_BACKOFF_SECS
        .saturating_mul(1_i64 << exp)
        .min(MAX_BACKOFF_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_secs(1), 30);
        assert_eq!(backoff_secs(2), 60);
        assert_eq!(backoff_secs(3), 120);
        assert_eq!(backoff_secs(50), MAX_BACKOFF_SECS);
        assert_eq!(backoff_secs(0), 30);
    }
}
