//! Listing: NAMESPACE, LIST, LSUB and STATUS.

use super::ImapError;
use super::conn::refused;
use super::session::{Session, mailbox};
use super::types::{ListEntry, MailboxStatus, Namespace, Outcome, Untagged};
use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::mailbox::ListMailbox;
use imap_codec::imap_types::status::StatusDataItemName;
use std::collections::HashMap;

impl Session {
    /// The personal namespace (prefix and separator), when the server has NAMESPACE.
    pub async fn namespace(&mut self) -> Result<Option<Namespace>, ImapError> {
        if !self.has_cap("NAMESPACE") {
            return Ok(None);
        }
        let data = self.run("NAMESPACE", CommandBody::Namespace).await?;
        Ok(data.into_iter().find_map(|u| match u {
            Untagged::Namespace(ns) => ns.into_iter().next(),
            _ => None,
        }))
    }

    /// `LIST "" "*"`: every mailbox with its attributes (special-use included).
    pub async fn list(&mut self) -> Result<Vec<ListEntry>, ImapError> {
        let body = CommandBody::List {
            reference: mailbox("")?,
            mailbox_wildcard: ListMailbox::try_from("*")
                .map_err(|e| ImapError::Protocol(e.to_string()))?,
        };
        Ok(self
            .run("LIST", body)
            .await?
            .into_iter()
            .filter_map(|u| match u {
                Untagged::List(e) => Some(e),
                _ => None,
            })
            .collect())
    }

    /// `LSUB "" "*"`: subscribed names.
    pub async fn lsub(&mut self) -> Result<Vec<String>, ImapError> {
        let body = CommandBody::Lsub {
            reference: mailbox("")?,
            mailbox_wildcard: ListMailbox::try_from("*")
                .map_err(|e| ImapError::Protocol(e.to_string()))?,
        };
        Ok(self
            .run("LSUB", body)
            .await?
            .into_iter()
            .filter_map(|u| match u {
                Untagged::Lsub(e) => Some(e.name),
                _ => None,
            })
            .collect())
    }

    /// A cheap post-login probe (LIST of INBOX).
    pub async fn list_probe(&mut self) -> Result<(), ImapError> {
        let body = CommandBody::List {
            reference: mailbox("")?,
            mailbox_wildcard: ListMailbox::try_from("INBOX")
                .map_err(|e| ImapError::Protocol(e.to_string()))?,
        };
        self.run("LIST", body).await.map(|_| ())
    }

    /// STATUS for several mailboxes, pipelined. Per-mailbox failures are returned
    /// per name; a broken connection fails the whole call.
    pub async fn status_many(
        &mut self,
        names: &[String],
        modseq: bool,
    ) -> Result<HashMap<String, Result<MailboxStatus, ImapError>>, ImapError> {
        let mut items = vec![
            StatusDataItemName::Messages,
            StatusDataItemName::UidNext,
            StatusDataItemName::UidValidity,
        ];
        if modseq && self.has_cap("CONDSTORE") {
            items.push(StatusDataItemName::HighestModSeq);
        }
        let mut tags = Vec::with_capacity(names.len());
        for name in names {
            let body = CommandBody::Status {
                mailbox: mailbox(name)?,
                item_names: items.clone().into(),
            };
            tags.push((name, self.conn.send(body).await?));
        }
        let mut out = HashMap::new();
        let mut failures = HashMap::new();
        for (name, tag) in &tags {
            let c = self.conn.wait(tag).await?;
            if c.outcome != Outcome::Ok {
                failures.insert((*name).clone(), refused("STATUS", c));
            }
        }
        for u in std::mem::take(&mut self.conn.untagged) {
            if let Untagged::Status(name, st) = u {
                out.insert(name, Ok(st));
            }
        }
        for (name, e) in failures {
            out.insert(name, Err(e));
        }
        Ok(out)
    }

    /// NAMESPACE (when advertised), `LIST "" "*"` and `LSUB "" "*"`, pipelined.
    pub async fn folders(
        &mut self,
    ) -> Result<(Option<Namespace>, Vec<ListEntry>, Vec<String>), ImapError> {
        let all = || ListMailbox::try_from("*").map_err(|e| ImapError::Protocol(e.to_string()));
        let ns_tag = if self.has_cap("NAMESPACE") {
            Some(self.conn.send(CommandBody::Namespace).await?)
        } else {
            None
        };
        let list = self
            .conn
            .send(CommandBody::List {
                reference: mailbox("")?,
                mailbox_wildcard: all()?,
            })
            .await?;
        let lsub = self
            .conn
            .send(CommandBody::Lsub {
                reference: mailbox("")?,
                mailbox_wildcard: all()?,
            })
            .await?;
        let mut tags = vec![("LIST", list), ("LSUB", lsub)];
        if let Some(t) = ns_tag {
            tags.push(("NAMESPACE", t));
        }
        for (name, tag) in tags {
            let c = self.conn.wait(&tag).await?;
            if c.outcome != Outcome::Ok {
                self.conn.untagged.clear();
                return Err(refused(name, c));
            }
        }
        let (mut ns, mut entries, mut subscribed) = (None, Vec::new(), Vec::new());
        for u in std::mem::take(&mut self.conn.untagged) {
            match u {
                Untagged::Namespace(n) => ns = n.into_iter().next(),
                Untagged::List(e) => entries.push(e),
                Untagged::Lsub(e) => subscribed.push(e.name),
                _ => {}
            }
        }
        Ok((ns, entries, subscribed))
    }
}
