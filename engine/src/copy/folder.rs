//! One folder: fence on UIDVALIDITY, adopt or resolve in-flight rows by headers
//! (by content where headers are ambiguous), copy new messages, propagate flag
//! changes and expunges of copied messages. What changed on the source is
//! found by `scan` (a CONDSTORE delta when the last pass was complete).

use super::ident::{Seen, content_digests, match_content, match_headers};
use super::plan::FolderPlan;
use super::scan::{Since, scan};
use super::transfer::copy_new;
use super::{CopyIssue, CopyOptions, FolderReport, Progress};
use crate::imap::{FetchItems, ImapError, Selected, Session, StoreMode, uid_set};
use cutover_core::db::sync_state::{FolderMarks, FolderState, MessageRow, SyncStateRepo};
use cutover_core::db::{Db, DbError};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What every step of a run needs.
pub(crate) struct Ctx<'a> {
    pub db: &'a Db,
    pub account: &'a str,
    pub opts: &'a CopyOptions,
    pub progress: &'a dyn Progress,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    #[error("source: {0}")]
    Source(ImapError),
    #[error("target: {0}")]
    Target(ImapError),
    #[error("sync state: {0}")]
    Db(#[from] DbError),
}

impl StepError {
    pub fn breaks_connection(&self) -> bool {
        match self {
            StepError::Source(e) | StepError::Target(e) => e.is_fatal_for_connection(),
            StepError::Db(_) => false,
        }
    }
}

/// New flag set -> (flags, target UIDs, source UIDs).
pub(crate) type FlagGroups = BTreeMap<String, (Vec<String>, Vec<u32>, Vec<u32>)>;

/// The canonical stored form of a flag list.
pub(crate) fn flag_string(flags: &[String]) -> String {
    let mut f: Vec<&str> = flags.iter().map(String::as_str).collect();
    f.sort_unstable();
    f.dedup();
    f.join(" ")
}

/// Source flags the target keeps permanently; the rest are reported.
pub(crate) fn allowed_flags(
    flags: &[String],
    tsel: &Selected,
    refused: &mut BTreeSet<String>,
) -> Vec<String> {
    flags
        .iter()
        .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
        .filter(|f| {
            let ok = tsel.permanent_flags.is_empty() || tsel.allows_flag(f);
            if !ok {
                refused.insert((*f).clone());
            }
            ok
        })
        .cloned()
        .collect()
}

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

pub(crate) async fn sync_folder(
    ctx: &Ctx<'_>,
    src: &mut Session,
    tgt: &mut Session,
    plan: &FolderPlan,
    rep: &mut FolderReport,
    issues: &mut Vec<CopyIssue>,
) -> Result<(), StepError> {
    ctx.progress.folder(&plan.display);
    let ssel = src
        .select(&plan.source, true)
        .await
        .map_err(StepError::Source)?;
    let tsel = tgt
        .select(&plan.target, false)
        .await
        .map_err(StepError::Target)?;
    rep.source_messages = ssel.exists;
    let (state, _reset) = ctx
        .db
        .open_folder(
            ctx.account,
            &plan.source,
            &plan.target,
            ssel.uid_validity,
            tsel.uid_validity,
        )
        .await?;
    let mut rows: BTreeMap<u32, MessageRow> = ctx
        .db
        .sync_messages(state.id)
        .await?
        .into_iter()
        .map(|r| (r.source_uid, r))
        .collect();
    let since = delta_since(src, &ssel, &state, &rows);
    // Until this pass finishes, the folder must not look up to date.
    if state.complete {
        let marks = FolderMarks {
            source_uidnext: state.source_uidnext,
            source_messages: state.source_messages,
            source_modseq: state.source_modseq,
            complete: false,
        };
        ctx.db.mark_folder(state.id, marks).await?;
    }

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
            ctx.db.put_messages(state.id, &adopted).await?;
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
            ctx.db.complete_messages(state.id, &resolved).await?;
            // Not on the target: that APPEND never happened, so copying again is right.
            ctx.db.forget_messages(state.id, &lost).await?;
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

    let mut refused = BTreeSet::new();
    // A delta is only sound against the map the complete pass left behind.
    let since = since.filter(|_| !adopt && flying.is_empty());
    let chunk = ctx.opts.scan_chunk.max(1);
    let found = scan(src, (&ssel, &tsel), &rows, since, chunk, &mut refused)
        .await
        .map_err(StepError::Source)?;
    rep.scanned = found.fetched;
    let (new, gone) = (found.new, found.gone);
    // Flag changes of copied messages.
    for (s, (flags, mut tuids, suids)) in found.groups {
        tuids.sort_unstable();
        match tgt
            .uid_store(&uid_set(&tuids), &flags, StoreMode::Replace)
            .await
        {
            Ok(()) => {
                rep.flags_updated += suids.len() as u64;
                let done: Vec<(u32, u32, String)> = suids
                    .iter()
                    .filter_map(|u| Some((*u, rows.get(u)?.target_uid?, s.clone())))
                    .collect();
                ctx.db.complete_messages(state.id, &done).await?;
            }
            Err(e) if e.is_fatal_for_connection() => return Err(StepError::Target(e)),
            Err(e) => {
                rep.errors += 1;
                issues.push(CopyIssue {
                    folder: plan.display.clone(),
                    uid: None,
                    reason: format!("setting flags {s:?}: {e}"),
                });
            }
        }
    }

    // Source expunges of messages we copied; target-only mail is never touched.
    if !gone.is_empty() && ctx.opts.propagate_expunges {
        expunge(ctx, tgt, state.id, &gone, plan, rep, issues).await?;
    }

    // Appending into a selected mailbox makes the server update our view after
    // every message; leave it first.
    if !new.is_empty() {
        tgt.unselect().await.map_err(StepError::Target)?;
    }
    let already = rows.len() as u64;
    rep.skipped = already;
    ctx.progress.advanced(already, 0);
    copy_new(ctx, src, tgt, state.id, &plan.target, &new, rep, issues).await?;

    rep.refused_flags = refused.into_iter().collect();
    ctx.db
        .mark_folder(
            state.id,
            FolderMarks {
                source_uidnext: ssel.uid_next.unwrap_or(0),
                source_messages: ssel.exists,
                source_modseq: ssel.highest_modseq.unwrap_or(0),
                complete: rep.errors == 0,
            },
        )
        .await?;
    Ok(())
}

/// Where a delta scan may start: the last pass was complete, the source has
/// CONDSTORE and still reports a modseq at least the stored one, and UIDNEXT
/// did not go back. `open_folder` already reset the state on a UIDVALIDITY change.
fn delta_since(
    src: &Session,
    ssel: &Selected,
    state: &FolderState,
    rows: &BTreeMap<u32, MessageRow>,
) -> Option<Since> {
    let fresh = state.complete
        && state.source_modseq > 0
        && state.source_uidnext > 0
        && src.has_cap("CONDSTORE")
        && ssel
            .highest_modseq
            .is_some_and(|m| m >= state.source_modseq)
        && ssel.uid_next.is_some_and(|n| n >= state.source_uidnext)
        && !rows.is_empty();
    let last_mapped = rows.keys().next_back().copied().unwrap_or(0);
    fresh.then(|| Since {
        modseq: state.source_modseq,
        last_uid: (state.source_uidnext - 1).max(last_mapped),
    })
}

async fn expunge(
    ctx: &Ctx<'_>,
    tgt: &mut Session,
    folder_id: i64,
    gone: &[(u32, u32)],
    plan: &FolderPlan,
    rep: &mut FolderReport,
    issues: &mut Vec<CopyIssue>,
) -> Result<(), StepError> {
    if !tgt.has_cap("UIDPLUS") {
        rep.errors += 1;
        issues.push(CopyIssue {
            folder: plan.display.clone(),
            uid: None,
            reason: format!(
                "{} source deletions not propagated: target lacks UIDPLUS",
                gone.len()
            ),
        });
        return Ok(());
    }
    let mut tuids: Vec<u32> = gone.iter().map(|g| g.1).collect();
    tuids.sort_unstable();
    let set = uid_set(&tuids);
    let deleted = ["\\Deleted".to_owned()];
    let r = match tgt.uid_store(&set, &deleted, StoreMode::Add).await {
        Ok(()) => tgt.uid_expunge(&set).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(()) => {
            rep.expunged += gone.len() as u64;
            let suids: Vec<u32> = gone.iter().map(|g| g.0).collect();
            ctx.db.forget_messages(folder_id, &suids).await?;
            Ok(())
        }
        Err(e) if e.is_fatal_for_connection() => Err(StepError::Target(e)),
        Err(e) => {
            rep.errors += 1;
            issues.push(CopyIssue {
                folder: plan.display.clone(),
                uid: None,
                reason: format!("propagating deletions: {e}"),
            });
            Ok(())
        }
    }
}
