//! A whole account: plan folders, create them, skip unchanged ones, and sync the
//! rest on several connection pairs.

use super::folder::{Ctx, StepError, sync_folder};
use super::plan::{FolderPlan, Tree, plan_folders};
use super::{CopyError, CopyIssue, CopyOptions, CopyReport, FolderReport, Progress};
use crate::imap::{Endpoint, ImapError, MailboxStatus, Session};
use cutover_core::db::Db;
use cutover_core::db::sync_state::{FolderState, SyncStateRepo};
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

fn source_err(ep: &Endpoint) -> impl Fn(ImapError) -> CopyError + '_ {
    |source| CopyError::Source {
        addr: ep.display_addr(),
        source,
    }
}

fn target_err(ep: &Endpoint) -> impl Fn(ImapError) -> CopyError + '_ {
    |source| CopyError::Target {
        addr: ep.display_addr(),
        source,
    }
}

/// Copies (first run) or updates (later runs) one account. `account` keys the
/// sync state. Folder and message failures land in the report; only failures
/// that make the whole run pointless (login, listing, database) are errors.
#[tracing::instrument(skip_all, fields(account = %account))]
pub async fn sync_mailbox(
    db: &Db,
    account: &str,
    source: &Endpoint,
    target: &Endpoint,
    opts: &CopyOptions,
    progress: &dyn Progress,
) -> Result<CopyReport, CopyError> {
    let started = Instant::now();
    let (src, tgt) = tokio::join!(Session::connect(source), Session::connect(target));
    let mut src = src.map_err(source_err(source))?;
    let mut tgt = tgt.map_err(target_err(target))?;
    let (stree, ttree) = tokio::join!(Tree::read(&mut src), Tree::read(&mut tgt));
    let stree = stree.map_err(source_err(source))?;
    let ttree = ttree.map_err(target_err(target))?;
    let (plans, mut errors) = plan_folders(&stree, &ttree);

    let mut usable = Vec::new();
    for p in plans {
        if !p.target_exists
            && let Err(e) = tgt.create(&p.target).await
            && e.code().is_none_or(|c| !c.contains("ALREADYEXISTS"))
        {
            if e.is_fatal_for_connection() {
                return Err(target_err(target)(e));
            }
            errors.push(CopyIssue {
                folder: p.display.clone(),
                uid: None,
                reason: format!("cannot create target folder {:?}: {e}", p.target),
            });
            continue;
        }
        if p.subscribed
            && !ttree.subscribed.contains(&p.target)
            && let Err(e) = tgt.subscribe(&p.target).await
        {
            tracing::warn!(folder = %p.target, error = %e, "subscribe failed");
        }
        if p.selectable {
            usable.push(p);
        }
    }

    let snames: Vec<String> = usable.iter().map(|p| p.source.clone()).collect();
    let tnames: Vec<String> = usable.iter().map(|p| p.target.clone()).collect();
    let (sstat, tstat) = tokio::join!(
        src.status_many(&snames, true),
        tgt.status_many(&tnames, false)
    );
    let sstat = sstat.map_err(source_err(source))?;
    let tstat = tstat.map_err(target_err(target))?;
    let states: HashMap<String, FolderState> = db
        .sync_folders(account)
        .await?
        .into_iter()
        .map(|s| (s.source_folder.clone(), s))
        .collect();

    let mut report = CopyReport::default();
    let mut queue = Vec::new();
    for p in usable {
        let s = sstat.get(&p.source).and_then(|r| r.as_ref().ok());
        let t = tstat.get(&p.target).and_then(|r| r.as_ref().ok());
        if let (Some(s), Some(t), Some(st)) = (s, t, states.get(&p.source))
            && unchanged(s, t, st, &p)
        {
            let n = u64::from(s.messages.unwrap_or(0));
            report.folders.push(FolderReport {
                source: p.display.clone(),
                target: p.target.clone(),
                source_messages: s.messages.unwrap_or(0),
                skipped: n,
                ..FolderReport::default()
            });
            continue;
        }
        let size = s.and_then(|s| s.messages).unwrap_or(0);
        queue.push((size, p));
    }
    // Biggest folders first so they do not finish last alone.
    queue.sort_by_key(|q| std::cmp::Reverse(q.0));
    progress.planned(queue.iter().map(|q| u64::from(q.0)).sum());
    let queue = Mutex::new(queue.into_iter().map(|q| q.1).collect::<VecDeque<_>>());

    let ctx = Ctx {
        db,
        account,
        opts,
        progress,
    };
    let workers = opts.concurrency.max(1);
    let mut first = Some((src, tgt));
    let live = AtomicUsize::new(workers);
    let futs: Vec<_> = (0..workers)
        .map(|_| worker(&ctx, source, target, first.take(), &queue, &live))
        .collect();
    for (folders, issues) in futures::future::join_all(futs).await {
        report.folders.extend(folders);
        errors.extend(issues);
    }
    report.folders.sort_by(|a, b| a.source.cmp(&b.source));
    report.messages_copied = report.folders.iter().map(|f| f.copied).sum();
    report.messages_skipped = report.folders.iter().map(|f| f.skipped).sum();
    report.bytes = report.folders.iter().map(|f| f.bytes).sum();
    report.errors = errors;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Nothing changed on either side since the last complete pass (needs CONDSTORE
/// on the source: without a modseq, flag changes are invisible to STATUS).
fn unchanged(s: &MailboxStatus, t: &MailboxStatus, st: &FolderState, p: &FolderPlan) -> bool {
    st.complete
        && st.target_folder == p.target
        && s.uid_validity == Some(st.source_uidvalidity)
        && t.uid_validity == Some(st.target_uidvalidity)
        && s.uid_next == Some(st.source_uidnext)
        && s.messages == Some(st.source_messages)
        && s.highest_modseq
            .is_some_and(|m| m != 0 && m == st.source_modseq)
}

async fn worker(
    ctx: &Ctx<'_>,
    source: &Endpoint,
    target: &Endpoint,
    mut sessions: Option<(Session, Session)>,
    queue: &Mutex<VecDeque<FolderPlan>>,
    live: &AtomicUsize,
) -> (Vec<FolderReport>, Vec<CopyIssue>) {
    let mut folders = Vec::new();
    let mut issues = Vec::new();
    loop {
        let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
        let Some(plan) = next else { break };
        let mut rep = FolderReport {
            source: plan.display.clone(),
            target: plan.target.clone(),
            ..FolderReport::default()
        };
        if sessions.is_none() {
            match tokio::join!(Session::connect(source), Session::connect(target)) {
                (Ok(s), Ok(t)) => sessions = Some((s, t)),
                (s, t) => {
                    let e = s
                        .err()
                        .map(StepError::Source)
                        .or(t.err().map(StepError::Target));
                    // A server that refuses more connections (per-user limits,
                    // throttling) gets fewer: this worker retires and hands the
                    // folder back, as long as another worker is still running.
                    if live.load(Ordering::SeqCst) > 1 {
                        live.fetch_sub(1, Ordering::SeqCst);
                        tracing::warn!(error = ?e.as_ref().map(|e| e.to_string()), "cannot open another connection pair; continuing with fewer");
                        if let Ok(mut q) = queue.lock() {
                            q.push_front(plan);
                        }
                        return (folders, issues);
                    }
                    rep.errors += 1;
                    issues.push(CopyIssue {
                        folder: plan.display.clone(),
                        uid: None,
                        reason: e.map(|e| e.to_string()).unwrap_or_default(),
                    });
                    folders.push(rep);
                    continue;
                }
            }
        }
        let Some((src, tgt)) = sessions.as_mut() else {
            continue;
        };
        let mark = issues.len();
        let mut result = sync_folder(ctx, src, tgt, &plan, &mut rep, &mut issues).await;
        // A dropped connection (server restart, idle timeout, throttling that
        // closes the socket) gets one more try on fresh connections; the sync
        // state makes the retry resume where the first attempt stopped.
        if let Err(e) = &result
            && e.breaks_connection()
        {
            tracing::info!(folder = %plan.display, error = %e, "connection lost; retrying the folder once");
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            sessions = match tokio::join!(Session::connect(source), Session::connect(target)) {
                (Ok(s), Ok(t)) => Some((s, t)),
                _ => None,
            };
            if let Some((src, tgt)) = sessions.as_mut() {
                issues.truncate(mark);
                rep = FolderReport {
                    source: plan.display.clone(),
                    target: plan.target.clone(),
                    ..FolderReport::default()
                };
                result = sync_folder(ctx, src, tgt, &plan, &mut rep, &mut issues).await;
            }
        }
        if let Err(e) = result {
            tracing::warn!(folder = %plan.display, error = %e, "folder failed");
            rep.errors += 1;
            issues.push(CopyIssue {
                folder: plan.display.clone(),
                uid: None,
                reason: e.to_string(),
            });
            if e.breaks_connection() {
                sessions = None;
            }
        }
        folders.push(rep);
    }
    live.fetch_sub(1, Ordering::SeqCst);
    if let Some((s, t)) = sessions {
        tokio::join!(s.logout(), t.logout());
    }
    (folders, issues)
}
