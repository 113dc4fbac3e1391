//! One authenticated connection and the commands the copier needs.

use super::conn::{Conn, refused};
use super::stream::{Stream, connect_tcp, start_tls};
use super::types::{Outcome, RespCode, Untagged};
use super::{Endpoint, ImapError, Security, auth};
use chrono::{DateTime, FixedOffset};
use imap_codec::imap_types::command::{CommandBody, SelectParameter};
use imap_codec::imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::sequence::SequenceSet;

/// The state of the selected mailbox right after SELECT/EXAMINE.
#[derive(Debug, Clone, Default)]
pub struct Selected {
    pub name: String,
    pub uid_validity: u32,
    pub uid_next: Option<u32>,
    pub exists: u32,
    pub highest_modseq: Option<u64>,
    pub permanent_flags: Vec<String>,
    pub read_only: bool,
}

impl Selected {
    /// May `flag` be stored permanently here?
    pub fn allows_flag(&self, flag: &str) -> bool {
        if self
            .permanent_flags
            .iter()
            .any(|f| f.eq_ignore_ascii_case(flag))
        {
            return true;
        }
        !flag.starts_with('\\') && self.permanent_flags.iter().any(|f| f == "\\*")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Replace,
    Add,
    Remove,
}

/// One message to APPEND.
#[derive(Debug, Clone, Copy)]
pub struct AppendMessage<'a> {
    pub flags: &'a [String],
    pub internal_date: Option<&'a DateTime<FixedOffset>>,
    pub body: &'a [u8],
}

pub struct Session {
    pub(super) conn: Conn,
    caps: Vec<String>,
    selected: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("selected", &self.selected)
            .finish()
    }
}

pub(super) fn mailbox(name: &str) -> Result<Mailbox<'_>, ImapError> {
    Mailbox::try_from(name)
        .map_err(|e| ImapError::Protocol(format!("bad mailbox name {name:?}: {e}")))
}

pub(super) fn seqset(uids: &str) -> Result<SequenceSet, ImapError> {
    SequenceSet::try_from(uids)
        .map_err(|e| ImapError::Protocol(format!("bad UID set {uids:?}: {e}")))
}

fn flag(s: &str) -> Result<Flag<'_>, ImapError> {
    Flag::try_from(s).map_err(|e| ImapError::Protocol(format!("bad flag {s:?}: {e}")))
}

impl Session {
    /// Connects, secures, authenticates and reads the capabilities.
    #[tracing::instrument(skip(ep), fields(addr = %ep.display_addr(), user = %ep.auth.user()))]
    pub async fn connect(ep: &Endpoint) -> Result<Session, ImapError> {
        let tcp = connect_tcp(&ep.host, ep.port).await?;
        let stream = match ep.security {
            Security::Tls => start_tls(tcp, &ep.host, ep.ca_file.as_deref()).await?,
            _ => Stream::Plain(tcp),
        };
        let mut conn = Conn::new(stream);
        let greeting_caps = conn.read_greeting().await?;
        if ep.security == Security::StartTls {
            conn.send_line(b"s0 STARTTLS").await?;
            let c = conn.wait("s0").await?;
            if c.outcome != Outcome::Ok {
                return Err(ImapError::Tls(format!("STARTTLS refused: {}", c.text)));
            }
            let Stream::Plain(tcp) = conn.into_stream() else {
                return Err(ImapError::Tls("STARTTLS on a TLS stream".into()));
            };
            conn = Conn::new(start_tls(tcp, &ep.host, ep.ca_file.as_deref()).await?);
        }
        let mut session = Session {
            conn,
            caps: Vec::new(),
            selected: None,
        };
        match greeting_caps {
            Some(caps) if ep.security != Security::StartTls => session.caps = caps,
            _ => session.capability().await?,
        }
        if ep.security != Security::Plain && !session.conn.is_tls() {
            return Err(ImapError::PlaintextRefused);
        }
        let done = auth::authenticate(&mut session.conn, &ep.auth, &session.caps).await?;
        session.conn.untagged.clear();
        match done.code {
            Some(RespCode::Capability(caps)) => session.caps = caps,
            _ => session.capability().await?,
        }
        Ok(session)
    }

    pub fn capabilities(&self) -> &[String] {
        &self.caps
    }

    /// The largest message the server accepts (`APPENDLIMIT=n`, RFC 7889).
    pub fn append_limit(&self) -> Option<u64> {
        self.caps.iter().find_map(|c| {
            let (name, value) = c.split_once('=')?;
            if name.eq_ignore_ascii_case("APPENDLIMIT") {
                value.parse().ok()
            } else {
                None
            }
        })
    }

    pub fn has_cap(&self, cap: &str) -> bool {
        self.caps.iter().any(|c| c.eq_ignore_ascii_case(cap))
    }

    /// Runs one command and fails unless the server answers OK.
    pub(super) async fn run(
        &mut self,
        name: &'static str,
        body: CommandBody<'_>,
    ) -> Result<Vec<Untagged>, ImapError> {
        let tag = self.conn.send(body).await?;
        let c = self.conn.wait(&tag).await?;
        let data = std::mem::take(&mut self.conn.untagged);
        if c.outcome != Outcome::Ok {
            return Err(refused(name, c));
        }
        Ok(data)
    }

    pub async fn capability(&mut self) -> Result<(), ImapError> {
        for u in self.run("CAPABILITY", CommandBody::Capability).await? {
            if let Untagged::Capability(caps) = u {
                self.caps = caps;
            }
        }
        Ok(())
    }

    pub async fn create(&mut self, name: &str) -> Result<(), ImapError> {
        self.run(
            "CREATE",
            CommandBody::Create {
                mailbox: mailbox(name)?,
            },
        )
        .await
        .map(|_| ())
    }

    pub async fn subscribe(&mut self, name: &str) -> Result<(), ImapError> {
        self.run(
            "SUBSCRIBE",
            CommandBody::Subscribe {
                mailbox: mailbox(name)?,
            },
        )
        .await
        .map(|_| ())
    }

    /// SELECT (or EXAMINE when `read_only`), with CONDSTORE when advertised.
    pub async fn select(&mut self, name: &str, read_only: bool) -> Result<Selected, ImapError> {
        let parameters = if self.has_cap("CONDSTORE") {
            vec![SelectParameter::CondStore]
        } else {
            vec![]
        };
        let mb = mailbox(name)?;
        let (cmd, body) = if read_only {
            (
                "EXAMINE",
                CommandBody::Examine {
                    mailbox: mb,
                    parameters,
                },
            )
        } else {
            (
                "SELECT",
                CommandBody::Select {
                    mailbox: mb,
                    parameters,
                },
            )
        };
        self.selected = None;
        let data = self.run(cmd, body).await?;
        let mut sel = Selected {
            name: name.to_owned(),
            read_only,
            ..Selected::default()
        };
        for u in data {
            match u {
                Untagged::Exists(n) => sel.exists = n,
                Untagged::Code(RespCode::UidValidity(v)) => sel.uid_validity = v,
                Untagged::Code(RespCode::UidNext(v)) => sel.uid_next = Some(v),
                Untagged::Code(RespCode::HighestModSeq(v)) => sel.highest_modseq = Some(v),
                Untagged::Code(RespCode::PermanentFlags(f)) => sel.permanent_flags = f,
                _ => {}
            }
        }
        self.selected = Some(name.to_owned());
        Ok(sel)
    }

    /// Leaves the selected mailbox without expunging (UNSELECT; never CLOSE,
    /// which would expunge the user's \\Deleted messages). No-op without UNSELECT.
    pub async fn unselect(&mut self) -> Result<(), ImapError> {
        if self.selected.is_none() || !self.has_cap("UNSELECT") {
            return Ok(());
        }
        self.run("UNSELECT", CommandBody::Unselect).await?;
        self.selected = None;
        Ok(())
    }

    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    /// `UID STORE uids [+-]FLAGS.SILENT (flags)`.
    pub async fn uid_store(
        &mut self,
        uids: &str,
        flags: &[String],
        mode: StoreMode,
    ) -> Result<(), ImapError> {
        let flags = flags
            .iter()
            .map(|f| flag(f))
            .collect::<Result<Vec<_>, _>>()?;
        let body = CommandBody::Store {
            sequence_set: seqset(uids)?,
            kind: match mode {
                StoreMode::Replace => StoreType::Replace,
                StoreMode::Add => StoreType::Add,
                StoreMode::Remove => StoreType::Remove,
            },
            response: StoreResponse::Silent,
            flags,
            uid: true,
            modifiers: vec![],
        };
        self.run("UID STORE", body).await.map(|_| ())
    }

    /// `UID EXPUNGE` (UIDPLUS): removes only the given UIDs.
    pub async fn uid_expunge(&mut self, uids: &str) -> Result<(), ImapError> {
        if !self.has_cap("UIDPLUS") {
            return Err(ImapError::Unsupported("UIDPLUS"));
        }
        self.run(
            "UID EXPUNGE",
            CommandBody::ExpungeUid {
                sequence_set: seqset(uids)?,
            },
        )
        .await
        .map(|_| ())
    }

    /// Best-effort LOGOUT.
    pub async fn logout(mut self) {
        // Say goodbye without waiting for the answer: the server closes anyway.
        if self.conn.send(CommandBody::Logout).await.is_ok() {
            let _ = self.conn.flush().await;
        }
    }
}

/// Compresses sorted UIDs into an IMAP set string (`1:5,7,9:10`).
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}
