//! The source side of a folder pass: which messages are new, which copied ones
//! changed flags, which were expunged.
//!
//! A full scan reads the metadata of every message in UID-range chunks that are
//! pipelined, so memory per folder is bounded by the chunk size, not the folder
//! size. A delta scan (CONDSTORE, after a complete pass, same UIDVALIDITY) reads
//! only the flags changed since the stored HIGHESTMODSEQ and the metadata above
//! the last UID seen; expunges are found by counting, and by `UID SEARCH ALL`
//! only when the count does not add up.

use super::folder::{FlagGroups, allowed_flags, flag_string};
use super::transfer::NewMessage;
use crate::imap::{FetchData, FetchItems, ImapError, Selected, Session, uid_set};
use cutover_core::db::sync_state::MessageRow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A `FLAGS (CHANGEDSINCE n)` FETCH covers this many metadata chunks (only
/// changed messages answer it).
const CHANGED_CHUNKS: u32 = 4;
/// FETCH commands in flight at once.
const WINDOW: usize = 4;

/// What the last complete pass left for a delta scan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Since {
    pub modseq: u64,
    /// Every source message up to here is in the UID map (or gone).
    pub last_uid: u32,
}

/// The outcome of a scan.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub new: Vec<NewMessage>,
    pub groups: FlagGroups,
    /// (source UID, target UID) of copied messages no longer on the source.
    pub gone: Vec<(u32, u32)>,
    /// FETCH records read.
    pub fetched: u64,
}

/// Sorts FETCH records into new messages and flag changes as they arrive.
struct Sink<'a> {
    rows: &'a BTreeMap<u32, MessageRow>,
    tsel: &'a Selected,
    refused: &'a mut BTreeSet<String>,
    new: BTreeMap<u32, NewMessage>,
    /// Source UID -> new flags; the last record seen wins.
    changed: BTreeMap<u32, Vec<String>>,
    /// Unmapped UIDs seen without metadata (a flag-only record).
    bare: BTreeSet<u32>,
    present: Vec<u32>,
    fetched: u64,
}

impl Sink<'_> {
    fn take(&mut self, f: FetchData) {
        let Some(uid) = f.uid else { return };
        self.fetched += 1;
        self.present.push(uid);
        let flags = allowed_flags(
            f.flags.as_deref().unwrap_or_default(),
            self.tsel,
            self.refused,
        );
        match self.rows.get(&uid) {
            Some(row) => {
                if row.target_uid.is_some() && f.flags.is_some() {
                    if flag_string(&flags) == row.flags {
                        self.changed.remove(&uid);
                    } else {
                        self.changed.insert(uid, flags);
                    }
                }
            }
            None => match f.size {
                Some(size) => {
                    self.bare.remove(&uid);
                    let m = NewMessage {
                        uid,
                        size,
                        flags,
                        internal_date: f.internal_date,
                    };
                    self.new.insert(uid, m);
                }
                None if !self.new.contains_key(&uid) => {
                    self.bare.insert(uid);
                }
                None => {}
            },
        }
    }

    fn finish(self, gone: Vec<(u32, u32)>) -> Scan {
        let mut groups = FlagGroups::new();
        for (suid, flags) in self.changed {
            let Some(t) = self.rows.get(&suid).and_then(|r| r.target_uid) else {
                continue;
            };
            let g = groups
                .entry(flag_string(&flags))
                .or_insert_with(|| (flags, Vec::new(), Vec::new()));
            g.1.push(t);
            g.2.push(suid);
        }
        Scan {
            new: self.new.into_values().collect(),
            groups,
            gone,
            fetched: self.fetched,
        }
    }
}

/// `from:to` UID ranges of at most `width` UIDs covering `from..until`, the
/// last one open-ended (`from:*`) when `open` so mail that arrived since
/// SELECT is seen too.
fn ranges(from: u32, until: u32, width: u32, open: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = from.max(1);
    while start.saturating_add(width) < until {
        out.push(format!("{start}:{}", start + width - 1));
        start += width;
    }
    if open {
        out.push(format!("{start}:*"));
    } else if start < until {
        out.push(format!("{start}:{}", until - 1));
    }
    out
}

/// Chunks of a sorted UID list as ranges of at most `chunk` existing
/// messages, the last one open-ended.
fn list_ranges(uids: &[u32], chunk: u32) -> Vec<String> {
    let chunks: Vec<&[u32]> = uids.chunks(chunk as usize).collect();
    let last = chunks.len().saturating_sub(1);
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| match (c.first(), c.last()) {
            (Some(a), _) if i == last => format!("{a}:*"),
            (Some(a), Some(b)) => format!("{a}:{b}"),
            _ => "*".to_owned(),
        })
        .collect()
}

/// Runs the FETCHes with up to `WINDOW` in flight, feeding every record to `sink`.
async fn fetch_all(
    src: &mut Session,
    cmds: Vec<(String, FetchItems, Option<u64>)>,
    sink: &mut Sink<'_>,
) -> Result<(), ImapError> {
    let mut queued = VecDeque::new();
    let mut cmds = cmds.into_iter();
    loop {
        while queued.len() < WINDOW {
            let Some((set, items, since)) = cmds.next() else {
                break;
            };
            queued.push_back(src.start_fetch(&set, items, since).await?);
        }
        let Some(tag) = queued.pop_front() else {
            return Ok(());
        };
        match src.finish_fetch(&tag).await {
            Ok(data) => data.into_iter().for_each(|f| sink.take(f)),
            Err(e) => {
                // Leave the connection without answers pending.
                for t in queued {
                    let _ = src.finish_fetch(&t).await;
                }
                return Err(e);
            }
        }
    }
}

/// Metadata of the unmapped messages seen only through a flag record.
async fn fetch_bare(src: &mut Session, sink: &mut Sink<'_>, chunk: u32) -> Result<(), ImapError> {
    let bare: Vec<u32> = std::mem::take(&mut sink.bare).into_iter().collect();
    for c in bare.chunks(chunk as usize) {
        let data = src.uid_fetch(&uid_set(c), FetchItems::Meta, None).await?;
        data.into_iter().for_each(|f| sink.take(f));
    }
    sink.bare.clear();
    Ok(())
}

/// Copied messages (rows with a target UID) whose source UID is not in `present`.
fn gone_from(rows: &BTreeMap<u32, MessageRow>, present: &mut Vec<u32>) -> Vec<(u32, u32)> {
    present.sort_unstable();
    present.dedup();
    rows.values()
        .filter(|r| present.binary_search(&r.source_uid).is_err())
        .filter_map(|r| Some((r.source_uid, r.target_uid?)))
        .collect()
}

/// Scans the selected source folder against the UID map `rows`.
pub(crate) async fn scan(
    src: &mut Session,
    (ssel, tsel): (&Selected, &Selected),
    rows: &BTreeMap<u32, MessageRow>,
    since: Option<Since>,
    chunk: u32,
    refused: &mut BTreeSet<String>,
) -> Result<Scan, ImapError> {
    let mut sink = Sink {
        rows,
        tsel,
        refused,
        new: BTreeMap::new(),
        changed: BTreeMap::new(),
        bare: BTreeSet::new(),
        present: Vec::new(),
        fetched: 0,
    };
    match since {
        Some(s) => {
            // Mail that arrives after SELECT is above the UIDNEXT stored for
            // this pass, so the next pass sees it.
            let until = ssel.uid_next.unwrap_or(0).max(s.last_uid + 1);
            let mut cmds: Vec<_> = ranges(
                1,
                s.last_uid + 1,
                chunk.saturating_mul(CHANGED_CHUNKS),
                false,
            )
            .into_iter()
            .map(|r| (r, FetchItems::Flags, Some(s.modseq)))
            .collect();
            cmds.extend(
                ranges(s.last_uid + 1, until, chunk, false)
                    .into_iter()
                    .map(|r| (r, FetchItems::Meta, None)),
            );
            fetch_all(src, cmds, &mut sink).await?;
            let above = sink.new.keys().filter(|u| **u > s.last_uid).count();
            let counted = rows.len() + above == ssel.exists as usize;
            if counted && sink.new.len() == above && sink.bare.is_empty() {
                return Ok(sink.finish(Vec::new()));
            }
            // Something was expunged, or the map misses a message: list them all.
            let mut present = src.uid_search_all().await?;
            sink.bare.extend(
                present
                    .iter()
                    .filter(|u| !rows.contains_key(u) && !sink.new.contains_key(u)),
            );
            fetch_bare(src, &mut sink, chunk).await?;
            let gone = gone_from(rows, &mut present);
            Ok(sink.finish(gone))
        }
        None => {
            if ssel.exists > 0 {
                let cmds = match ssel.uid_next {
                    // Dense enough: UID ranges up to UIDNEXT need no listing first.
                    Some(next) if next / 2 <= ssel.exists.saturating_add(chunk) => {
                        ranges(1, next, chunk, true)
                    }
                    _ => list_ranges(&src.uid_search_all().await?, chunk),
                };
                let cmds = cmds
                    .into_iter()
                    .map(|r| (r, FetchItems::Meta, None))
                    .collect();
                fetch_all(src, cmds, &mut sink).await?;
                fetch_bare(src, &mut sink, chunk).await?;
            }
            let mut present = std::mem::take(&mut sink.present);
            let gone = gone_from(rows, &mut present);
            Ok(sink.finish(gone))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_uid_once() {
        assert_eq!(ranges(1, 12, 5, true), ["1:5", "6:10", "11:*"]);
        assert_eq!(ranges(1, 11, 5, true), ["1:5", "6:*"]);
        assert_eq!(ranges(1, 11, 5, false), ["1:5", "6:10"]);
        assert_eq!(ranges(1, 1, 5, false), Vec::<String>::new());
        assert_eq!(ranges(7, 7, 5, true), ["7:*"]);
    }

    #[test]
    fn list_ranges_chunk_by_existing_messages() {
        let uids: Vec<u32> = (0..12_000).map(|i| i * 3 + 1).collect();
        let want = ["1:14998", "15001:29998", "30001:*"];
        assert_eq!(list_ranges(&uids, 5_000), want);
        assert_eq!(list_ranges(&[], 5_000), Vec::<String>::new());
    }
}
