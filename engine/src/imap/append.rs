//! APPEND: MULTIAPPEND (one target transaction per batch) when the server has
//! it, else pipelined single APPENDs; LITERAL+ when advertised.

use super::ImapError;
use super::conn::refused;
use super::session::{AppendMessage, Session};
use super::types::{Outcome, RespCode, Untagged};

/// Per message: the APPENDUID when the server sent one, or why it failed.
pub type AppendResults = Vec<Result<Option<u32>, ImapError>>;

impl Session {
    /// APPENDs `messages` to `mailbox`. A refused message fails alone: when a
    /// MULTIAPPEND is refused, the batch is retried one message at a time.
    pub async fn append_many(
        &mut self,
        mailbox: &str,
        messages: &[AppendMessage<'_>],
    ) -> Result<AppendResults, ImapError> {
        let binary = self.has_cap("BINARY");
        let has_nul = messages.iter().any(|m| m.body.contains(&0));
        if messages.len() > 1 && self.has_cap("MULTIAPPEND") && (binary || !has_nul) {
            if let Some(out) = self.multi_append(mailbox, messages).await? {
                return Ok(out);
            }
            tracing::debug!(mailbox, "MULTIAPPEND refused; appending one by one");
        }
        self.append_each(mailbox, messages, binary).await
    }

    async fn multi_append(
        &mut self,
        mailbox: &str,
        messages: &[AppendMessage<'_>],
    ) -> Result<Option<AppendResults>, ImapError> {
        let literal_plus = self.has_cap("LITERAL+");
        let tag = match self.conn.send_append(mailbox, messages, literal_plus).await {
            Ok(t) => t,
            Err(ImapError::Refused { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let c = self.conn.wait(&tag).await?;
        self.drop_mailbox_updates();
        Ok(match (c.outcome, c.code) {
            (Outcome::Ok, Some(RespCode::AppendUids { uids, .. }))
                if uids.len() == messages.len() =>
            {
                Some(uids.into_iter().map(|u| Ok(Some(u))).collect())
            }
            (Outcome::Ok, Some(RespCode::AppendUid { uid, .. })) if messages.len() == 1 => {
                Some(vec![Ok(Some(uid))])
            }
            (Outcome::Ok, _) => Some(messages.iter().map(|_| Ok(None)).collect()),
            _ => None,
        })
    }

    async fn append_each(
        &mut self,
        mailbox: &str,
        messages: &[AppendMessage<'_>],
        binary: bool,
    ) -> Result<AppendResults, ImapError> {
        let literal_plus = self.has_cap("LITERAL+");
        let mut tags = Vec::with_capacity(messages.len());
        for m in messages {
            if m.body.contains(&0) && !binary {
                tags.push(Err(ImapError::Unsupported(
                    "BINARY (message contains NUL bytes)",
                )));
                continue;
            }
            match self
                .conn
                .send_append(mailbox, std::slice::from_ref(m), literal_plus)
                .await
            {
                Ok(t) => tags.push(Ok(t)),
                // A sync literal refused: this message failed, the connection is fine.
                Err(e @ ImapError::Refused { .. }) => tags.push(Err(e)),
                Err(e) => return Err(e),
            }
        }
        self.conn.flush().await?;
        let mut out = Vec::with_capacity(tags.len());
        for tag in tags {
            let tag = match tag {
                Ok(t) => t,
                Err(e) => {
                    out.push(Err(e));
                    continue;
                }
            };
            let c = self.conn.wait(&tag).await?;
            out.push(match (c.outcome, &c.code) {
                (Outcome::Ok, Some(RespCode::AppendUid { uid, .. })) => Ok(Some(*uid)),
                (Outcome::Ok, _) => Ok(None),
                _ => Err(refused("APPEND", c)),
            });
        }
        self.drop_mailbox_updates();
        Ok(out)
    }

    /// APPENDs one message streamed from `body` (`len` bytes; `nul` when it
    /// contains NUL bytes). The outer error means the connection is unusable.
    #[allow(clippy::too_many_arguments)]
    pub async fn append_stream<R: tokio::io::AsyncRead + Unpin>(
        &mut self,
        mailbox: &str,
        flags: &[String],
        date: Option<&chrono::DateTime<chrono::FixedOffset>>,
        body: &mut R,
        len: u64,
        nul: bool,
    ) -> Result<Result<Option<u32>, ImapError>, ImapError> {
        if nul && !self.has_cap("BINARY") {
            return Ok(Err(ImapError::Unsupported(
                "BINARY (message contains NUL bytes)",
            )));
        }
        let literal_plus = self.has_cap("LITERAL+");
        let tag = match self
            .conn
            .send_append_stream(mailbox, flags, date, body, len, nul, literal_plus)
            .await
        {
            Ok(t) => t,
            Err(e @ ImapError::Refused { .. }) => return Ok(Err(e)),
            Err(e) => return Err(e),
        };
        let c = self.conn.wait(&tag).await?;
        self.drop_mailbox_updates();
        Ok(match (c.outcome, &c.code) {
            (Outcome::Ok, Some(RespCode::AppendUid { uid, .. })) => Ok(Some(*uid)),
            (Outcome::Ok, _) => Ok(None),
            _ => Err(refused("APPEND", c)),
        })
    }

    /// EXISTS and the like from appending into the selected mailbox: not ours.
    fn drop_mailbox_updates(&mut self) {
        self.conn
            .untagged
            .retain(|u| matches!(u, Untagged::Fetch(_)));
    }
}
