//! The source side of a folder pass: which messages are new, which copied ones
//! changed flags, which were expunged.
//!
//! A full scan reads the metadata of every message in UID-range chunks that are
//! pipelined, so memory per folder is bounded by the chunk size, not the folder
//! size. A delta scan (CONDSTORE, after a complete pass, same UIDVALIDITY) reads
//! only the flags changed since the stored HIGHESTMODSEQ and the metadata above
//! the last UID seen; expunges are found by counting, and by `UID SEARCH ALL`
//! only when the count does not add up.

use super::folder::{FlagGroups, StepError, allowed_flags, flag_string};
use super::transfer::NewMessage;
use crate::imap::{FetchData, FetchItems, ImapError, Selected, Session, uid_set};
use cutover_core::db::Db;
use cutover_core::db::sync_index::{MapSummary, SyncIndexRepo};
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
    tsel: &'a Selected,
    refused: &'a mut BTreeSet<String>,
    new: BTreeMap<u32, NewMessage>,
    /// Source UID -> (target UID, new flags); the last record seen wins.
    changed: BTreeMap<u32, (u32, Vec<String>)>,
    /// Unmapped UIDs seen without metadata (a flag-only record).
    bare: BTreeSet<u32>,
    present: Vec<u32>,
    fetched: u64,
}

impl<'a> Sink<'a> {
    fn new(tsel: &'a Selected, refused: &'a mut BTreeSet<String>) -> Self {
        Sink {
            tsel,
            refused,
            new: BTreeMap::new(),
            changed: BTreeMap::new(),
            bare: BTreeSet::new(),
            present: Vec::new(),
            fetched: 0,
        }
    }

    /// One record; `row` is the UID map entry of its UID, if any.
    fn take(&mut self, f: FetchData, row: Option<&MessageRow>) {
        let Some(uid) = f.uid else { return };
        self.fetched += 1;
        self.present.push(uid);
        let flags = allowed_flags(
            f.flags.as_deref().unwrap_or_default(),
            self.tsel,
            self.refused,
        );
        match row {
            Some(row) => {
                if let (Some(t), Some(_)) = (row.target_uid, &f.flags) {
                    if flag_string(&flags) == row.flags {
                        self.changed.remove(&uid);
                    } else {
                        self.changed.insert(uid, (t, flags));
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

    /// Metadata of the unmapped messages seen only through a flag record (or
    /// missing from the map): they are new.
    async fn fetch_bare(&mut self, src: &mut Session, chunk: u32) -> Result<(), ImapError> {
        let bare: Vec<u32> = std::mem::take(&mut self.bare).into_iter().collect();
        for c in bare.chunks(chunk as usize) {
            for f in src.uid_fetch(&uid_set(c), FetchItems::Meta, None).await? {
                // Unsolicited records of mapped messages may come along.
                if f.uid.is_some_and(|u| c.binary_search(&u).is_ok()) {
                    self.take(f, None);
                }
            }
        }
        self.bare.clear();
        Ok(())
    }

    fn finish(self, gone: Vec<(u32, u32)>) -> Scan {
        let mut groups = FlagGroups::new();
        for (suid, (tuid, flags)) in self.changed {
            let g = groups
                .entry(flag_string(&flags))
                .or_insert_with(|| (flags, Vec::new(), Vec::new()));
            g.1.push(tuid);
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

/// FETCH commands run with up to `WINDOW` in flight; answers come back one
/// command at a time (with any unsolicited records that arrived meanwhile).
struct Pipeline {
    cmds: std::vec::IntoIter<(String, FetchItems, Option<u64>)>,
    queued: VecDeque<String>,
}

impl Pipeline {
    fn new(cmds: Vec<(String, FetchItems, Option<u64>)>) -> Self {
        Pipeline {
            cmds: cmds.into_iter(),
            queued: VecDeque::new(),
        }
    }

    async fn next(&mut self, src: &mut Session) -> Result<Option<Vec<FetchData>>, ImapError> {
        while self.queued.len() < WINDOW {
            let Some((set, items, since)) = self.cmds.next() else {
                break;
            };
            self.queued
                .push_back(src.start_fetch(&set, items, since).await?);
        }
        let Some(tag) = self.queued.pop_front() else {
            return Ok(None);
        };
        match src.finish_fetch(&tag).await {
            Ok(data) => Ok(Some(data)),
            Err(e) => {
                // Leave the connection without answers pending.
                for t in std::mem::take(&mut self.queued) {
                    let _ = src.finish_fetch(&t).await;
                }
                Err(e)
            }
        }
    }
}

/// Copied messages (rows with a target UID) whose source UID is not in `present`.
fn gone_from(
    mapped: impl Iterator<Item = (u32, Option<u32>)>,
    present: &mut Vec<u32>,
) -> Vec<(u32, u32)> {
    present.sort_unstable();
    present.dedup();
    mapped
        .filter(|(s, _)| present.binary_search(s).is_err())
        .filter_map(|(s, t)| Some((s, t?)))
        .collect()
}

/// Reads the metadata of every message of the selected source folder, in
/// chunks, against the whole UID map `rows`.
pub(crate) async fn scan_full(
    src: &mut Session,
    (ssel, tsel): (&Selected, &Selected),
    rows: &BTreeMap<u32, MessageRow>,
    chunk: u32,
    refused: &mut BTreeSet<String>,
) -> Result<Scan, ImapError> {
    let mut sink = Sink::new(tsel, refused);
    if ssel.exists > 0 {
        let sets = match ssel.uid_next {
            // Dense enough: UID ranges up to UIDNEXT need no listing first.
            Some(next) if next / 2 <= ssel.exists.saturating_add(chunk) => {
                ranges(1, next, chunk, true)
            }
            _ => list_ranges(&src.uid_search_all().await?, chunk),
        };
        let cmds = sets.into_iter().map(|r| (r, FetchItems::Meta, None));
        let mut pipe = Pipeline::new(cmds.collect());
        while let Some(batch) = pipe.next(src).await? {
            for f in batch {
                let row = f.uid.and_then(|u| rows.get(&u));
                sink.take(f, row);
            }
        }
        sink.fetch_bare(src, chunk).await?;
    }
    let mut present = std::mem::take(&mut sink.present);
    let mapped = rows.values().map(|r| (r.source_uid, r.target_uid));
    let gone = gone_from(mapped, &mut present);
    Ok(sink.finish(gone))
}

/// Reads only what changed since the last complete pass: flags with a modseq
/// above `since.modseq`, metadata above `since.last_uid`. The UID map is read
/// only for the UIDs that answered, and whole (UIDs only) only when the
/// message count shows an expunge.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn scan_delta(
    src: &mut Session,
    (ssel, tsel): (&Selected, &Selected),
    db: &Db,
    folder_id: i64,
    map: MapSummary,
    since: Since,
    chunk: u32,
    refused: &mut BTreeSet<String>,
) -> Result<Scan, StepError> {
    let mut sink = Sink::new(tsel, refused);
    // Mail that arrives after SELECT is above the UIDNEXT stored for this
    // pass, so the next pass sees it.
    let until = ssel.uid_next.unwrap_or(0).max(since.last_uid + 1);
    let old = ranges(
        1,
        since.last_uid + 1,
        chunk.saturating_mul(CHANGED_CHUNKS),
        false,
    );
    let mut cmds: Vec<_> = old
        .into_iter()
        .map(|r| (r, FetchItems::Flags, Some(since.modseq)))
        .collect();
    let above = ranges(since.last_uid + 1, until, chunk, false);
    cmds.extend(above.into_iter().map(|r| (r, FetchItems::Meta, None)));
    let mut pipe = Pipeline::new(cmds);
    while let Some(batch) = pipe.next(src).await.map_err(StepError::Source)? {
        let mut uids: Vec<u32> = batch
            .iter()
            .filter_map(|f| f.uid)
            .filter(|u| *u <= since.last_uid)
            .collect();
        uids.sort_unstable();
        uids.dedup();
        let rows: BTreeMap<u32, MessageRow> = db
            .sync_messages_in(folder_id, &uids)
            .await?
            .into_iter()
            .map(|r| (r.source_uid, r))
            .collect();
        for f in batch {
            let row = f.uid.and_then(|u| rows.get(&u));
            sink.take(f, row);
        }
    }
    let new_above = sink.new.keys().filter(|u| **u > since.last_uid).count() as u64;
    let counted = map.rows + new_above == u64::from(ssel.exists);
    if counted && sink.new.len() as u64 == new_above && sink.bare.is_empty() {
        return Ok(sink.finish(Vec::new()));
    }
    // Something was expunged, or the map misses a message: list them all.
    let mut present = src.uid_search_all().await.map_err(StepError::Source)?;
    let mapped = db.mapped_uids(folder_id).await?;
    let unmapped = present
        .iter()
        .filter(|u| mapped.binary_search_by_key(*u, |m| m.0).is_err() && !sink.new.contains_key(u));
    let unmapped: Vec<u32> = unmapped.copied().collect();
    sink.bare.extend(unmapped);
    sink.fetch_bare(src, chunk)
        .await
        .map_err(StepError::Source)?;
    let gone = gone_from(mapped.into_iter(), &mut present);
    Ok(sink.finish(gone))
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
