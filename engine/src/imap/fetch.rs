//! UID FETCH (pipelinable) and UID SEARCH.

use super::ImapError;
use super::conn::refused;
use super::session::{Session, seqset};
use super::types::{FetchData, Outcome, Untagged};
use imap_codec::imap_types::command::{CommandBody, FetchModifier};
use imap_codec::imap_types::core::{AString, Vec1};
use imap_codec::imap_types::fetch::{MacroOrMessageDataItemNames, MessageDataItemName, Section};
use imap_codec::imap_types::search::SearchKey;
use std::num::{NonZeroU32, NonZeroU64};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchItems {
    /// UID FLAGS INTERNALDATE RFC822.SIZE (+ MODSEQ with CONDSTORE).
    Meta,
    /// UID FLAGS (+ MODSEQ with CONDSTORE).
    Flags,
    /// UID BODY.PEEK[].
    Body,
    /// UID BODY.PEEK[]<offset.len>: one piece of a big message.
    BodyRange { offset: u32, len: u32 },
    /// UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (Message-ID Date)].
    IdentHeaders,
}

impl Session {
    fn fetch_names(
        &self,
        items: FetchItems,
    ) -> Result<Vec<MessageDataItemName<'static>>, ImapError> {
        let condstore = self.has_cap("CONDSTORE");
        let mut names = vec![MessageDataItemName::Uid];
        match items {
            FetchItems::Meta => {
                names.extend([
                    MessageDataItemName::Flags,
                    MessageDataItemName::InternalDate,
                    MessageDataItemName::Rfc822Size,
                ]);
                if condstore {
                    names.push(MessageDataItemName::ModSeq);
                }
            }
            FetchItems::Flags => {
                names.push(MessageDataItemName::Flags);
                if condstore {
                    names.push(MessageDataItemName::ModSeq);
                }
            }
            FetchItems::Body => names.push(MessageDataItemName::BodyExt {
                section: None,
                partial: None,
                peek: true,
            }),
            FetchItems::BodyRange { offset, len } => names.push(MessageDataItemName::BodyExt {
                section: None,
                partial: Some((offset, NonZeroU32::new(len).unwrap_or(NonZeroU32::MIN))),
                peek: true,
            }),
            FetchItems::IdentHeaders => {
                let fields: Vec<AString<'static>> = ["Message-ID", "Date"]
                    .into_iter()
                    .filter_map(|f| AString::try_from(f).ok())
                    .collect();
                let fields = Vec1::try_from(fields)
                    .map_err(|_| ImapError::Protocol("header list".into()))?;
                names.push(MessageDataItemName::Rfc822Size);
                names.push(MessageDataItemName::BodyExt {
                    section: Some(Section::HeaderFields(None, fields)),
                    partial: None,
                    peek: true,
                });
            }
        }
        Ok(names)
    }

    /// Queues a UID FETCH without waiting (pipelining); collect with `finish_fetch`.
    pub async fn start_fetch(
        &mut self,
        uids: &str,
        items: FetchItems,
        changed_since: Option<u64>,
    ) -> Result<String, ImapError> {
        let modifiers = match changed_since.and_then(NonZeroU64::new) {
            Some(m) if self.has_cap("CONDSTORE") => vec![FetchModifier::ChangedSince(m)],
            _ => vec![],
        };
        let body = CommandBody::Fetch {
            sequence_set: seqset(uids)?,
            macro_or_item_names: MacroOrMessageDataItemNames::MessageDataItemNames(
                self.fetch_names(items)?,
            ),
            uid: true,
            modifiers,
        };
        let tag = self.conn.send(body).await?;
        self.conn.flush().await?;
        Ok(tag)
    }

    /// Waits for a FETCH queued with `start_fetch` and returns the FETCH data seen
    /// so far (unsolicited flag updates included; callers key by UID).
    pub async fn finish_fetch(&mut self, tag: &str) -> Result<Vec<FetchData>, ImapError> {
        let c = self.conn.wait(tag).await?;
        let data = self.take_fetches();
        if c.outcome != Outcome::Ok {
            return Err(refused("UID FETCH", c));
        }
        Ok(data)
    }

    fn take_fetches(&mut self) -> Vec<FetchData> {
        let mut out = Vec::new();
        let mut rest = Vec::new();
        for u in std::mem::take(&mut self.conn.untagged) {
            match u {
                Untagged::Fetch(f) if f.uid.is_some() => out.push(f),
                Untagged::Fetch(_) => {}
                other => rest.push(other),
            }
        }
        self.conn.untagged = rest;
        out
    }

    pub async fn uid_fetch(
        &mut self,
        uids: &str,
        items: FetchItems,
        changed_since: Option<u64>,
    ) -> Result<Vec<FetchData>, ImapError> {
        let tag = self.start_fetch(uids, items, changed_since).await?;
        self.finish_fetch(&tag).await
    }

    /// `UID SEARCH ALL`.
    pub async fn uid_search_all(&mut self) -> Result<Vec<u32>, ImapError> {
        let body = CommandBody::Search {
            charset: None,
            criteria: Vec1::from(SearchKey::All),
            uid: true,
        };
        let mut out = Vec::new();
        for u in self.run("UID SEARCH", body).await? {
            if let Untagged::Search(uids) = u {
                out.extend(uids);
            }
        }
        out.sort_unstable();
        Ok(out)
    }
}
