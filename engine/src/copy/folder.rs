//! One folder: fence on UIDVALIDITY, adopt or resolve in-flight rows by headers,
//! copy new messages, propagate flag changes and expunges of copied messages.

use super::ident::ident;
use super::plan::FolderPlan;
use super::transfer::{NewMessage, copy_new};
use super::{CopyIssue, CopyOptions, FolderReport, Progress};
use crate::imap::{FetchData, FetchItems, ImapError, Selected, Session, StoreMode, uid_set};
use cutover_core::db::sync_state::{FolderMarks, MessageRow, SyncStateRepo};
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
type FlagGroups = BTreeMap<String, (Vec<String>, Vec<u32>, Vec<u32>)>;

/// The canonical stored form of a flag list.
pub(crate) fn flag_string(flags: &[String]) -> String {
    let mut f: Vec<&str> = flags.iter().map(String::as_str).collect();
    f.sort_unstable();
    f.dedup();
    f.join(" ")
}

/// Source flags the target keeps permanently; the rest are reported.
fn allowed_flags(flags: &[String], tsel: &Selected, refused: &mut BTreeSet<String>) -> Vec<String> {
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

/// Target UIDs by header identity, in UID order (duplicates kept as a list).
fn idents(data: Vec<FetchData>, exclude: &BTreeSet<u32>) -> HashMap<String, Vec<u32>> {
    let mut sorted: Vec<(u32, String)> = data
        .into_iter()
        .filter_map(|f| {
            let uid = f.uid?;
            if exclude.contains(&uid) {
                return None;
            }
            Some((
                uid,
                ident(f.header.as_deref().unwrap_or_default(), f.size.unwrap_or(0)),
            ))
        })
        .collect();
    sorted.sort();
    let mut out: HashMap<String, Vec<u32>> = HashMap::new();
    for (uid, id) in sorted {
        out.entry(id).or_default().push(uid);
    }
    for v in out.values_mut() {
        v.reverse(); // pop() yields the lowest UID first
    }
    out
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
    let mut rows: BTreeMap<u32, MessageRow> = ctx
        .db
        .sync_messages(state.id)
        .await?
        .into_iter()
        .map(|r| (r.source_uid, r))
        .collect();

    let meta = if ssel.exists > 0 {
        src.uid_fetch("1:*", FetchItems::Meta, None)
            .await
            .map_err(StepError::Source)?
    } else {
        Vec::new()
    };
    let meta: BTreeMap<u32, FetchData> =
        meta.into_iter().filter_map(|f| Some((f.uid?, f))).collect();

    // Adoption (no state yet, target not empty) and in-flight resolution both
    // look messages up on the target by header identity.
    let in_flight: Vec<u32> = rows
        .values()
        .filter(|r| r.target_uid.is_none())
        .map(|r| r.source_uid)
        .collect();
    let adopt = rows.is_empty() && tsel.exists > 0 && !meta.is_empty();
    if adopt || !in_flight.is_empty() {
        let known: BTreeSet<u32> = rows.values().filter_map(|r| r.target_uid).collect();
        let theads = tgt
            .uid_fetch("1:*", FetchItems::IdentHeaders, None)
            .await
            .map_err(StepError::Target)?;
        let mut on_target = idents(theads, &known);
        let mut resolved = Vec::new();
        let mut lost = Vec::new();
        for uid in &in_flight {
            let Some(row) = rows.get(uid) else { continue };
            match on_target.get_mut(&row.ident).and_then(Vec::pop) {
                Some(t) => resolved.push((*uid, t, row.flags.clone())),
                None => lost.push(*uid),
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
        if adopt {
            let sheads = src
                .uid_fetch("1:*", FetchItems::IdentHeaders, None)
                .await
                .map_err(StepError::Source)?;
            let mut adopted = Vec::new();
            let mut sorted: Vec<FetchData> =
                sheads.into_iter().filter(|f| f.uid.is_some()).collect();
            sorted.sort_by_key(|f| f.uid);
            for f in sorted {
                let (Some(uid), Some(size)) = (f.uid, f.size) else {
                    continue;
                };
                let id = ident(f.header.as_deref().unwrap_or_default(), size);
                if let Some(t) = on_target.get_mut(&id).and_then(Vec::pop) {
                    // Unknown target flags: the flag pass below sets the source's.
                    adopted.push(MessageRow {
                        source_uid: uid,
                        target_uid: Some(t),
                        flags: "\u{0}unknown".into(),
                        ident: id,
                    });
                }
            }
            rep.adopted = adopted.len() as u64;
            ctx.db.put_messages(state.id, &adopted).await?;
            rows.extend(adopted.into_iter().map(|r| (r.source_uid, r)));
        }
    }

    let mut refused = BTreeSet::new();
    // New messages.
    let new: Vec<NewMessage> = meta
        .values()
        .filter(|f| f.uid.is_some_and(|u| !rows.contains_key(&u)))
        .filter_map(|f| {
            Some(NewMessage {
                uid: f.uid?,
                size: f.size.unwrap_or(0),
                flags: allowed_flags(f.flags.as_deref().unwrap_or_default(), &tsel, &mut refused),
                internal_date: f.internal_date,
            })
        })
        .collect();
    // Flag changes of copied messages.
    let mut groups: FlagGroups = BTreeMap::new();
    for row in rows.values() {
        let (Some(t), Some(f)) = (row.target_uid, meta.get(&row.source_uid)) else {
            continue;
        };
        let flags = allowed_flags(f.flags.as_deref().unwrap_or_default(), &tsel, &mut refused);
        let s = flag_string(&flags);
        if s != row.flags {
            let g = groups
                .entry(s)
                .or_insert_with(|| (flags, Vec::new(), Vec::new()));
            g.1.push(t);
            g.2.push(row.source_uid);
        }
    }
    for (s, (flags, mut tuids, suids)) in groups {
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
    let gone: Vec<(u32, u32)> = rows
        .values()
        .filter(|r| !meta.contains_key(&r.source_uid))
        .filter_map(|r| Some((r.source_uid, r.target_uid?)))
        .collect();
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
