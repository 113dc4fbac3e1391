//! Owned, simplified views of server responses: the rest of the engine never sees
//! imap-types directly, so the alpha API churn stays inside this module.

use chrono::{DateTime, FixedOffset};
use imap_codec::imap_types::core::IString;
use imap_codec::imap_types::fetch::{MessageDataItem, Section};
use imap_codec::imap_types::flag::{Flag, FlagFetch, FlagNameAttribute, FlagPerm};
use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::response::{Code, Data, StatusKind};
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use imap_codec::imap_types::status::StatusDataItem;

/// One message's data from a FETCH response (only what we asked for is set).
#[derive(Debug, Clone, Default)]
pub struct FetchData {
    pub seq: u32,
    pub uid: Option<u32>,
    pub flags: Option<Vec<String>>,
    pub internal_date: Option<DateTime<FixedOffset>>,
    pub size: Option<u32>,
    pub modseq: Option<u64>,
    /// `BODY[]`: the whole message, byte-exact.
    pub body: Option<Vec<u8>>,
    /// `BODY[HEADER.FIELDS (...)]`.
    pub header: Option<Vec<u8>>,
}

/// A LIST/LSUB entry. `name` is the raw wire name (modified UTF-7 unless UTF8=ACCEPT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    pub name: String,
    pub delimiter: Option<char>,
    /// Attributes as sent, e.g. `\Noselect`, `\Sent`.
    pub attributes: Vec<String>,
}

impl ListEntry {
    pub fn has_attr(&self, attr: &str) -> bool {
        self.attributes.iter().any(|a| a.eq_ignore_ascii_case(attr))
    }

    pub fn is_selectable(&self) -> bool {
        !self.has_attr("\\Noselect") && !self.has_attr("\\NonExistent")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxStatus {
    pub messages: Option<u32>,
    pub uid_next: Option<u32>,
    pub uid_validity: Option<u32>,
    pub highest_modseq: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Namespace {
    pub prefix: String,
    pub delimiter: Option<char>,
}

/// Response codes we act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RespCode {
    AppendUid {
        uid_validity: u32,
        uid: u32,
    },
    /// APPENDUID of a MULTIAPPEND: one UID per message, in order.
    AppendUids {
        uid_validity: u32,
        uids: Vec<u32>,
    },
    Capability(Vec<String>),
    PermanentFlags(Vec<String>),
    UidValidity(u32),
    UidNext(u32),
    HighestModSeq(u64),
    NoModSeq,
    ReadOnly,
    TryCreate,
    Other(String),
}

#[derive(Debug, Clone)]
pub enum Untagged {
    Fetch(FetchData),
    List(ListEntry),
    Lsub(ListEntry),
    Status(String, MailboxStatus),
    Search(Vec<u32>),
    Exists(u32),
    Expunge(u32),
    Vanished(Vec<u32>),
    Capability(Vec<String>),
    Flags(Vec<String>),
    Namespace(Vec<Namespace>),
    Code(RespCode),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    No,
    Bad,
}

/// A tagged completion.
#[derive(Debug, Clone)]
pub struct Completion {
    pub outcome: Outcome,
    pub code: Option<RespCode>,
    pub text: String,
}

pub(crate) fn outcome(kind: StatusKind) -> Outcome {
    match kind {
        StatusKind::Ok => Outcome::Ok,
        StatusKind::No => Outcome::No,
        StatusKind::Bad => Outcome::Bad,
    }
}

pub(crate) fn mailbox_name(mb: &Mailbox<'_>) -> String {
    match mb {
        Mailbox::Inbox => "INBOX".to_owned(),
        Mailbox::Other(o) => String::from_utf8_lossy(o.as_ref()).into_owned(),
    }
}

pub(crate) fn flag_string(flag: &Flag<'_>) -> String {
    flag.to_string()
}

pub(crate) fn code(code: &Code<'_>) -> RespCode {
    match code {
        Code::AppendUid { uid_validity, uid } => RespCode::AppendUid {
            uid_validity: uid_validity.get(),
            uid: uid.get(),
        },
        Code::Capability(caps) => {
            RespCode::Capability(caps.as_ref().iter().map(|c| c.to_string()).collect())
        }
        Code::PermanentFlags(flags) => RespCode::PermanentFlags(
            flags
                .iter()
                .map(|f| match f {
                    FlagPerm::Flag(f) => flag_string(f),
                    FlagPerm::Asterisk => "\\*".to_owned(),
                })
                .collect(),
        ),
        Code::UidValidity(v) => RespCode::UidValidity(v.get()),
        Code::UidNext(v) => RespCode::UidNext(v.get()),
        Code::HighestModSeq(v) => RespCode::HighestModSeq(v.get()),
        Code::NoModSeq => RespCode::NoModSeq,
        Code::ReadOnly => RespCode::ReadOnly,
        Code::TryCreate => RespCode::TryCreate,
        Code::Other(other) => multi_append_uid(other.inner()).unwrap_or_else(|| {
            RespCode::Other(String::from_utf8_lossy(other.inner()).into_owned())
        }),
        other => RespCode::Other(format!("{other:?}")),
    }
}

/// `APPENDUID <validity> <uid-set>` (RFC 4315 with MULTIAPPEND), which
/// imap-codec hands over as an unknown code; the set is parsed by imap-types.
fn multi_append_uid(raw: &[u8]) -> Option<RespCode> {
    let text = std::str::from_utf8(raw).ok()?;
    let mut parts = text.split(' ');
    if !parts.next()?.eq_ignore_ascii_case("APPENDUID") {
        return None;
    }
    let uid_validity = parts.next()?.parse().ok()?;
    let set = SequenceSet::try_from(parts.next()?).ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some(RespCode::AppendUids {
        uid_validity,
        uids: expand(&set),
    })
}

fn list_entry(
    items: &[FlagNameAttribute<'_>],
    delimiter: Option<char>,
    mailbox: &Mailbox<'_>,
) -> ListEntry {
    ListEntry {
        name: mailbox_name(mailbox),
        delimiter,
        attributes: items.iter().map(|a| a.to_string()).collect(),
    }
}

/// Expands a sequence set without `*` (as in VANISHED) into UIDs.
pub(crate) fn expand(set: &SequenceSet) -> Vec<u32> {
    let mut out = Vec::new();
    let value = |s: &SeqOrUid| match s {
        SeqOrUid::Value(v) => v.get(),
        SeqOrUid::Asterisk => u32::MAX,
    };
    for seq in set.0.as_ref() {
        match seq {
            Sequence::Single(s) => out.push(value(s)),
            Sequence::Range(a, b) => {
                let (a, b) = (value(a).min(value(b)), value(a).max(value(b)));
                if b - a < 10_000_000 {
                    out.extend(a..=b);
                }
            }
        }
    }
    out
}

fn istring(s: &IString<'_>) -> String {
    String::from_utf8_lossy(s.as_ref()).into_owned()
}

fn fetch(seq: u32, items: &[MessageDataItem<'_>]) -> FetchData {
    let mut out = FetchData {
        seq,
        ..FetchData::default()
    };
    for item in items {
        match item {
            MessageDataItem::Uid(u) => out.uid = Some(u.get()),
            MessageDataItem::Flags(flags) => {
                out.flags = Some(
                    flags
                        .iter()
                        .filter_map(|f| match f {
                            FlagFetch::Flag(f) => Some(flag_string(f)),
                            FlagFetch::Recent => None,
                        })
                        .collect(),
                )
            }
            MessageDataItem::InternalDate(d) => out.internal_date = Some(*d.as_ref()),
            MessageDataItem::Rfc822Size(s) => out.size = Some(*s),
            MessageDataItem::ModSeq(m) => out.modseq = Some(m.get()),
            MessageDataItem::BodyExt { section, data, .. } => {
                let bytes = data
                    .0
                    .as_ref()
                    .map(|s| s.as_ref().to_vec())
                    .unwrap_or_default();
                match section {
                    None => out.body = Some(bytes),
                    Some(Section::HeaderFields(..)) | Some(Section::Header(..)) => {
                        out.header = Some(bytes)
                    }
                    Some(_) => {}
                }
            }
            MessageDataItem::Rfc822(data) => {
                out.body = Some(
                    data.0
                        .as_ref()
                        .map(|s| s.as_ref().to_vec())
                        .unwrap_or_default(),
                )
            }
            _ => {}
        }
    }
    out
}

pub(crate) fn untagged(data: &Data<'_>) -> Option<Untagged> {
    Some(match data {
        Data::Capability(caps) => {
            Untagged::Capability(caps.as_ref().iter().map(|c| c.to_string()).collect())
        }
        Data::List {
            items,
            delimiter,
            mailbox,
        } => Untagged::List(list_entry(
            items,
            delimiter.as_ref().map(|d| d.inner()),
            mailbox,
        )),
        Data::Lsub {
            items,
            delimiter,
            mailbox,
        } => Untagged::Lsub(list_entry(
            items,
            delimiter.as_ref().map(|d| d.inner()),
            mailbox,
        )),
        Data::Status { mailbox, items } => {
            let mut st = MailboxStatus::default();
            for item in items.iter() {
                match item {
                    StatusDataItem::Messages(n) => st.messages = Some(*n),
                    StatusDataItem::UidNext(n) => st.uid_next = Some(n.get()),
                    StatusDataItem::UidValidity(n) => st.uid_validity = Some(n.get()),
                    StatusDataItem::HighestModSeq(n) => st.highest_modseq = Some(*n),
                    _ => {}
                }
            }
            Untagged::Status(mailbox_name(mailbox), st)
        }
        Data::Search(uids, ..) => Untagged::Search(uids.iter().map(|u| u.get()).collect()),
        Data::Flags(flags) => Untagged::Flags(flags.iter().map(flag_string).collect()),
        Data::Exists(n) => Untagged::Exists(*n),
        Data::Expunge(n) => Untagged::Expunge(n.get()),
        Data::Fetch { seq, items } => Untagged::Fetch(fetch(seq.get(), items.as_ref())),
        Data::Vanished { known_uids, .. } => Untagged::Vanished(expand(known_uids)),
        Data::Namespace { personal, .. } => Untagged::Namespace(
            personal
                .iter()
                .map(|ns| Namespace {
                    prefix: istring(&ns.prefix),
                    delimiter: ns.delimiter.as_ref().map(|d| d.inner()),
                })
                .collect(),
        ),
        _ => return None,
    })
}
