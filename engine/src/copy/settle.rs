//! Before a full scan: adopt what is already on the target when there is no
//! state yet, and resolve APPENDs left in flight by a crash, by looking the
//! messages up on the target (by header identity, by content where the headers
//! are ambiguous), never by appending them again.

use super::FolderReport;
use super::folder::{Ctx, StepError};
use super::ident::{Seen, content_digests, match_content, match_headers};
use crate::imap::{FetchItems, Selected, Session, uid_set};
use cutover_core::db::sync_state::{MessageRow, SyncStateRepo};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Pairs `source` candidates with unmapped `target` messages: by headers where
/// they are unambiguous, by content digest (fetched on both sides, only for the
/// ambiguous candidates, in bounded batches) otherwise. Source candidates that no
/// longer exist (not in `present`) cannot be compared and stay unpaired unless
/// headers decide.
async fn match_identities(
    ctx: &Ctx<'_>,
    src: &mut Session,
    tgt: &mut Session,
    source: &[Seen],
    target: &[Seen],
    present: &BTreeSet<u32>,
) -> Result<HashMap<u32, u32>, StepError> {
    let m = match_headers(source, target);
    let mut pairs: HashMap<u32, u32> = m.pairs.into_iter().collect();
    let src_amb: Vec<Seen> = m
        .source_ambiguous
        .into_iter()
        .filter(|s| present.contains(&s.uid))
        .collect();
    if src_amb.is_empty() {
        return Ok(pairs);
    }
    tracing::debug!(
        source = src_amb.len(),
        target = m.target_ambiguous.len(),
        "ambiguous header identities: comparing content"
    );
    let (bytes, count) = (ctx.opts.batch_bytes, ctx.opts.batch_messages);
    let (sd, td) = tokio::join!(
        content_digests(src, &src_amb, bytes, count),
        content_digests(tgt, &m.target_ambiguous, bytes, count)
    );
    let sd = sd.map_err(StepError::Source)?;
    let td = td.map_err(StepError::Target)?;
    pairs.extend(match_content(&src_amb, &sd, &m.target_ambiguous, &td));
    Ok(pairs)
}

/// Completes `rows` (the folder's UID map) by adoption or in-flight resolution.
pub(crate) async fn settle_map(
    ctx: &Ctx<'_>,
    src: &mut Session,
    tgt: &mut Session,
    (ssel, tsel): (&Selected, &Selected),
    folder_id: i64,
    rows: &mut BTreeMap<u32, MessageRow>,
    rep: &mut FolderReport,
) -> Result<(), StepError> {
    // Adoption (no state yet, target not empty) and in-flight resolution both
    // look messages up on the target: by header identity, by content where the
    // headers are ambiguous.
    let flying: Vec<u32> = rows
        .values()
        .filter(|r| r.target_uid.is_none())
        .map(|r| r.source_uid)
        .collect();
    let sizes: BTreeMap<u32, u32> = if flying.is_empty() {
        BTreeMap::new()
    } else {
        src.uid_fetch(&uid_set(&flying), FetchItems::Meta, None)
            .await
            .map_err(StepError::Source)?
            .into_iter()
            .filter_map(|f| Some((f.uid?, f.size?)))
            .collect()
    };
    let in_flight: Vec<Seen> = rows
        .values()
        .filter(|r| r.target_uid.is_none())
        .map(|r| Seen {
            uid: r.source_uid,
            size: sizes.get(&r.source_uid).copied().unwrap_or_default(),
            key: r.ident.clone(),
            message_id: false,
        })
        .collect();
    let adopt = rows.is_empty() && tsel.exists > 0 && ssel.exists > 0;
    if adopt || !in_flight.is_empty() {
        let known: BTreeSet<u32> = rows.values().filter_map(|r| r.target_uid).collect();
        let on_target: Vec<Seen> = tgt
            .uid_fetch("1:*", FetchItems::IdentHeaders, None)
            .await
            .map_err(StepError::Target)?
            .iter()
            .filter_map(Seen::from_fetch)
            .filter(|t| !known.contains(&t.uid))
            .collect();
        if adopt {
            let mut candidates: Vec<Seen> = src
                .uid_fetch("1:*", FetchItems::IdentHeaders, None)
                .await
                .map_err(StepError::Source)?
                .iter()
                .filter_map(Seen::from_fetch)
                .collect();
            candidates.sort_unstable_by_key(|c| c.uid);
            candidates.dedup_by_key(|c| c.uid);
            let present = candidates.iter().map(|c| c.uid).collect();
            let pairs = match_identities(ctx, src, tgt, &candidates, &on_target, &present).await?;
            // Unknown target flags: the flag pass below sets the source's.
            let adopted: Vec<MessageRow> = candidates
                .into_iter()
                .filter_map(|c| {
                    Some(MessageRow {
                        source_uid: c.uid,
                        target_uid: Some(*pairs.get(&c.uid)?),
                        flags: "\u{0}unknown".into(),
                        ident: c.key,
                    })
                })
                .collect();
            rep.adopted = adopted.len() as u64;
            ctx.db.put_messages(folder_id, &adopted).await?;
            rows.extend(adopted.into_iter().map(|r| (r.source_uid, r)));
        } else {
            let present = sizes.keys().copied().collect();
            let pairs = match_identities(ctx, src, tgt, &in_flight, &on_target, &present).await?;
            let mut resolved = Vec::new();
            let mut lost = Vec::new();
            for c in &in_flight {
                match (pairs.get(&c.uid), rows.get(&c.uid)) {
                    (Some(t), Some(row)) => resolved.push((c.uid, *t, row.flags.clone())),
                    _ => lost.push(c.uid),
                }
            }
            ctx.db.complete_messages(folder_id, &resolved).await?;
            // Not on the target: that APPEND never happened, so copying again is right.
            ctx.db.forget_messages(folder_id, &lost).await?;
            for (s, t, f) in resolved {
                if let Some(r) = rows.get_mut(&s) {
                    r.target_uid = Some(t);
                    r.flags = f;
                }
            }
            for uid in lost {
                rows.remove(&uid);
            }
        }
    }
    Ok(())
}
