//! Header identity (Message-ID, Date, size) used only to adopt messages already on
//! the target, to find an APPEND that landed before a crash, and to verify.
//!
//! Headers decide only when they are unambiguous: a Message-ID, and one message
//! with that identity on each side. Otherwise (no Message-ID, or several messages
//! sharing the identity on either side) the candidates' full content decides, by
//! SHA-256 digest, still with multiplicity: identical twins need as many copies.

use super::batches;
use crate::imap::{FetchData, FetchItems, ImapError, Session, uid_set};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

/// The unfolded, whitespace-collapsed value of the first `name:` field in the
/// header block of `msg` (the header ends at the first empty line).
fn header_value(msg: &[u8], name: &str) -> Option<String> {
    let mut value: Option<Vec<u8>> = None;
    let mut in_field = false;
    for line in msg.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if in_field && let Some(v) = value.as_mut() {
                v.push(b' ');
                v.extend_from_slice(line);
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        in_field = false;
        if let Some(colon) = line.iter().position(|&b| b == b':')
            && line[..colon]
                .trim_ascii()
                .eq_ignore_ascii_case(name.as_bytes())
        {
            value = Some(line[colon + 1..].to_vec());
            in_field = true;
        }
    }
    let v = value?;
    let s = String::from_utf8_lossy(&v);
    Some(s.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Digest of Message-ID, Date and the server-reported size. Messages without
/// those headers still get a digest (of size only); multiplicity is handled by
/// the caller, so such twins are never merged.
pub fn ident(header_or_message: &[u8], size: u32) -> String {
    let mut h = Sha256::new();
    for name in ["Message-ID", "Date"] {
        match header_value(header_or_message, name) {
            Some(v) => {
                h.update(b"1");
                h.update(v.as_bytes());
            }
            None => h.update(b"0"),
        }
        h.update([0]);
    }
    h.update(size.to_be_bytes());
    hex::encode(&h.finalize()[..16])
}

/// One message's header identity in a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub uid: u32,
    pub size: u32,
    /// `ident()` of its header fields and size.
    pub key: String,
    /// Whether it has a Message-ID. The key covers it, so two messages with one
    /// key agree on it.
    pub message_id: bool,
}

impl Seen {
    /// From a `FetchItems::IdentHeaders` response.
    pub fn from_fetch(f: &FetchData) -> Option<Seen> {
        let uid = f.uid?;
        let size = f.size.unwrap_or(0);
        let header = f.header.as_deref().unwrap_or_default();
        Some(Seen {
            uid,
            size,
            key: ident(header, size),
            message_id: header_value(header, "Message-ID").is_some(),
        })
    }
}

/// The outcome of matching by headers.
#[derive(Debug, Default)]
pub(crate) struct HeaderMatch {
    /// (source UID, target UID) decided by headers alone.
    pub pairs: Vec<(u32, u32)>,
    /// Candidates of ambiguous identities present on both sides: their content decides.
    pub source_ambiguous: Vec<Seen>,
    pub target_ambiguous: Vec<Seen>,
}

/// Pairs source and target messages whose identity is unambiguous (a Message-ID
/// and exactly one message on each side); sets aside the candidates of every
/// other identity found on both sides. An identity on one side only needs nothing.
pub(crate) fn match_headers(source: &[Seen], target: &[Seen]) -> HeaderMatch {
    type Sides<'a> = (Vec<&'a Seen>, Vec<&'a Seen>);
    let mut groups: BTreeMap<&str, Sides<'_>> = BTreeMap::new();
    for s in source {
        groups.entry(&s.key).or_default().0.push(s);
    }
    for t in target {
        groups.entry(&t.key).or_default().1.push(t);
    }
    let mut out = HeaderMatch::default();
    for (s, t) in groups.into_values() {
        match (s.as_slice(), t.as_slice()) {
            ([], _) | (_, []) => {}
            // The target's side tells whether the key has a Message-ID: in-flight
            // source rows only know the key.
            ([s], [t]) if t.message_id => out.pairs.push((s.uid, t.uid)),
            _ => {
                out.source_ambiguous.extend(s.into_iter().cloned());
                out.target_ambiguous.extend(t.into_iter().cloned());
            }
        }
    }
    out
}

/// SHA-256 of a whole message.
pub(crate) type ContentDigest = [u8; 32];

/// Pairs the ambiguous candidates of `match_headers` by identity and content
/// digest, lowest UIDs first, with multiplicity. A candidate without a digest
/// (expunged meanwhile) stays unpaired.
pub(crate) fn match_content(
    source: &[Seen],
    source_digests: &HashMap<u32, ContentDigest>,
    target: &[Seen],
    target_digests: &HashMap<u32, ContentDigest>,
) -> Vec<(u32, u32)> {
    type Uids = (Vec<u32>, Vec<u32>);
    let mut groups: BTreeMap<(&str, ContentDigest), Uids> = BTreeMap::new();
    for s in source {
        if let Some(d) = source_digests.get(&s.uid) {
            groups.entry((&s.key, *d)).or_default().0.push(s.uid);
        }
    }
    for t in target {
        if let Some(d) = target_digests.get(&t.uid) {
            groups.entry((&t.key, *d)).or_default().1.push(t.uid);
        }
    }
    let mut out = Vec::new();
    for (mut s, mut t) in groups.into_values() {
        s.sort_unstable();
        t.sort_unstable();
        out.extend(s.into_iter().zip(t));
    }
    out
}

impl super::HasSize for Seen {
    fn size(&self) -> u32 {
        self.size
    }
}

/// Bytes per partial FETCH of a candidate bigger than a batch.
const PIECE: u32 = 1024 * 1024;

/// Content digests of `msgs` in the selected folder. Messages up to `max_bytes`
/// are fetched in batches bounded by `max_bytes` and `max_count`, bigger ones
/// alone in pieces; every body is dropped once hashed. A message expunged
/// meanwhile gets no digest.
pub(crate) async fn content_digests(
    s: &mut Session,
    msgs: &[Seen],
    max_bytes: u64,
    max_count: usize,
) -> Result<HashMap<u32, ContentDigest>, ImapError> {
    let mut sorted = msgs.to_vec();
    sorted.sort_unstable_by_key(|m| m.uid);
    sorted.dedup_by_key(|m| m.uid);
    let (big, small): (Vec<Seen>, Vec<Seen>) = sorted
        .into_iter()
        .partition(|m| u64::from(m.size) > max_bytes);
    let sizes: HashMap<u32, u32> = small.iter().map(|m| (m.uid, m.size)).collect();
    let mut out = HashMap::new();
    for batch in batches(&small, max_bytes, max_count.max(1)) {
        let uids: Vec<u32> = batch.iter().map(|m| m.uid).collect();
        for f in s.uid_fetch(&uid_set(&uids), FetchItems::Body, None).await? {
            let (Some(uid), Some(body)) = (f.uid, f.body) else {
                continue;
            };
            let Some(&size) = sizes.get(&uid) else {
                continue;
            };
            // Dovecot serves a message expunged by another session as an empty BODY[].
            if body.is_empty() && size != 0 {
                continue;
            }
            out.insert(uid, Sha256::digest(&body).into());
        }
    }
    for m in big {
        if let Some(d) = piecewise_digest(s, m.uid).await? {
            out.insert(m.uid, d);
        }
    }
    Ok(out)
}

/// The digest of one big message fetched in `PIECE`s; `None` if it is gone.
async fn piecewise_digest(s: &mut Session, uid: u32) -> Result<Option<ContentDigest>, ImapError> {
    let mut h = Sha256::new();
    let mut offset: u32 = 0;
    loop {
        let piece = s
            .uid_fetch(
                &uid.to_string(),
                FetchItems::BodyRange { offset, len: PIECE },
                None,
            )
            .await?
            .into_iter()
            .find(|f| f.uid == Some(uid))
            .and_then(|f| f.body)
            .unwrap_or_default();
        h.update(&piece);
        let n = u32::try_from(piece.len()).unwrap_or(u32::MAX);
        offset = offset.saturating_add(n);
        if n < PIECE || offset == u32::MAX {
            break;
        }
    }
    Ok((offset > 0).then(|| h.finalize().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(uid: u32, key: &str, message_id: bool) -> Seen {
        Seen {
            uid,
            size: 10,
            key: key.into(),
            message_id,
        }
    }

    #[test]
    fn headers_decide_only_unique_identities_with_a_message_id() {
        let src = [
            seen(1, "a", true),
            seen(2, "b", false),
            seen(3, "c", true),
            seen(4, "c", true),
            seen(5, "d", true),
            seen(6, "only-source", true),
        ];
        let tgt = [
            seen(11, "a", true),
            seen(12, "b", false),
            seen(13, "c", true),
            seen(15, "d", true),
            seen(16, "d", true),
            seen(17, "only-target", false),
        ];
        let m = match_headers(&src, &tgt);
        assert_eq!(m.pairs, vec![(1, 11)]);
        let uids = |v: &[Seen]| v.iter().map(|s| s.uid).collect::<Vec<_>>();
        let mut s = uids(&m.source_ambiguous);
        let mut t = uids(&m.target_ambiguous);
        s.sort_unstable();
        t.sort_unstable();
        assert_eq!(s, vec![2, 3, 4, 5]);
        assert_eq!(t, vec![12, 13, 15, 16]);
    }

    #[test]
    fn content_pairs_lookalikes_and_counts_twins() {
        let d = |b: u8| [b; 32];
        // Source: 1 = 80%, 2 = 90%, 3 and 4 identical twins. Target: 90%, one twin.
        let src = [
            seen(1, "q", false),
            seen(2, "q", false),
            seen(3, "t", false),
            seen(4, "t", false),
        ];
        let sd: HashMap<u32, ContentDigest> = [(1, d(80)), (2, d(90)), (3, d(7)), (4, d(7))].into();
        let tgt = [
            seen(12, "q", false),
            seen(13, "t", false),
            seen(14, "q", false),
        ];
        let td: HashMap<u32, ContentDigest> = [(12, d(90)), (13, d(7))].into();
        let mut pairs = match_content(&src, &sd, &tgt, &td);
        pairs.sort_unstable();
        // 14 has no digest (expunged): never paired.
        assert_eq!(pairs, vec![(2, 12), (3, 13)]);
    }

    #[test]
    fn batches_bound_count_and_bytes() {
        let m = |uid, size| Seen {
            uid,
            size,
            key: String::new(),
            message_id: false,
        };
        let msgs = vec![m(1, 10), m(2, 10), m(3, 100), m(4, 1), m(5, 1)];
        let sizes: Vec<usize> = batches(&msgs, 25, 10).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![2, 1, 2]);
        assert_eq!(batches(&msgs, 1000, 2).len(), 3);
    }

    #[test]
    fn header_fields_and_full_message_agree() {
        let msg = b"Received: x\r\nMessage-ID:\r\n <a@b>\r\nDate: Mon, 1 Jan 2001 00:00:00 +0000\r\nSubject: s\r\n\r\nMessage-ID: <body>\r\n";
        let fields = b"Message-ID:\r\n <a@b>\r\nDate: Mon, 1 Jan 2001 00:00:00 +0000\r\n\r\n";
        assert_eq!(ident(msg, 10), ident(fields, 10));
        assert_ne!(ident(msg, 10), ident(msg, 11));
        assert_eq!(header_value(msg, "message-id").as_deref(), Some("<a@b>"));
        assert_eq!(
            header_value(b"Subject: x\n\nMessage-ID: <no>\n", "Message-ID"),
            None
        );
    }
}
