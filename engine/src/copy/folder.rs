//! One folder: fence on UIDVALIDITY, adopt or resolve in-flight rows by headers
//! (by content where headers are ambiguous), copy new messages, propagate flag
//! changes and expunges of copied messages. What changed on the source is
//! found by `scan` (a CONDSTORE delta when the last pass was complete).

use super::plan::FolderPlan;
use super::scan::{Since, scan_delta, scan_full};
use super::settle::settle_map;
use super::transfer::copy_new;
use super::{CopyIssue, CopyOptions, FolderReport, Progress};
use crate::imap::{ImapError, Selected, Session, StoreMode, uid_set};
use cutover_core::db::sync_index::{MapSummary, SyncIndexRepo};
use cutover_core::db::sync_state::{FolderMarks, FolderState, MessageRow, SyncStateRepo};
use cutover_core::db::{Db, DbError};
use std::collections::{BTreeMap, BTreeSet};

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
    let map = ctx.db.map_summary(state.id).await?;
    let since = delta_since(src, &ssel, &state, map);
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

    let mut refused = BTreeSet::new();
    let chunk = ctx.opts.scan_chunk.max(1);
    let sels = (&ssel, &tsel);
    let (found, already) = match since {
        Some(since) => {
            let found =
                scan_delta(src, sels, ctx.db, state.id, map, since, chunk, &mut refused).await?;
            (found, map.rows)
        }
        None => {
            let mut rows: BTreeMap<u32, MessageRow> = ctx
                .db
                .sync_messages(state.id)
                .await?
                .into_iter()
                .map(|r| (r.source_uid, r))
                .collect();
            settle_map(ctx, src, tgt, sels, state.id, &mut rows, rep).await?;
            let found = scan_full(src, sels, &rows, chunk, &mut refused)
                .await
                .map_err(StepError::Source)?;
            (found, rows.len() as u64)
        }
    };
    rep.scanned = found.fetched;
    let (new, gone) = (found.new, found.gone);
    // Flag changes of copied messages.
    for (s, (flags, tuids, suids)) in found.groups {
        let mut set = tuids.clone();
        set.sort_unstable();
        match tgt
            .uid_store(&uid_set(&set), &flags, StoreMode::Replace)
            .await
        {
            Ok(()) => {
                rep.flags_updated += suids.len() as u64;
                let done: Vec<(u32, u32, String)> = suids
                    .iter()
                    .zip(&tuids)
                    .map(|(su, tu)| (*su, *tu, s.clone()))
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
/// did not go back, and the UID map has no APPEND in flight (a delta is only
/// sound against the map a complete pass left behind). `open_folder` already reset the state on a UIDVALIDITY change.
fn delta_since(
    src: &Session,
    ssel: &Selected,
    state: &FolderState,
    map: MapSummary,
) -> Option<Since> {
    let fresh = state.complete
        && state.source_modseq > 0
        && state.source_uidnext > 0
        && src.has_cap("CONDSTORE")
        && ssel
            .highest_modseq
            .is_some_and(|m| m >= state.source_modseq)
        && ssel.uid_next.is_some_and(|n| n >= state.source_uidnext)
        && map.rows > 0
        && map.in_flight == 0;
    fresh.then(|| Since {
        modseq: state.source_modseq,
        last_uid: (state.source_uidnext - 1).max(map.max_source_uid),
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
