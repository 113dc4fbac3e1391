//! Verification: the target holds every source message (by header identity and
//! size, by content where those are ambiguous, with multiplicity), folder by folder.

use super::ident::{Seen, content_digests, match_content, match_headers};
use super::plan::{Tree, plan_folders};
use super::{CopyError, CopyIssue, CopyOptions};
use crate::imap::{Endpoint, FetchItems, ImapError, Session};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct FolderVerify {
    pub source: String,
    pub target: String,
    pub source_messages: u64,
    pub target_messages: u64,
    /// Source messages with no counterpart on the target.
    pub missing_on_target: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub folders: Vec<FolderVerify>,
    pub unmapped: Vec<CopyIssue>,
    pub missing_on_target: u64,
    pub ok: bool,
}

/// The header identities of a folder's messages (the folder stays selected).
async fn idents(s: &mut Session, name: &str) -> Result<(u64, Vec<Seen>), ImapError> {
    let sel = s.select(name, true).await?;
    if sel.exists == 0 {
        return Ok((0, Vec::new()));
    }
    let data = s.uid_fetch("1:*", FetchItems::IdentHeaders, None).await?;
    let mut seen: Vec<Seen> = data.iter().filter_map(Seen::from_fetch).collect();
    seen.sort_unstable_by_key(|m| m.uid);
    seen.dedup_by_key(|m| m.uid);
    Ok((u64::from(sel.exists), seen))
}

/// Source messages without a counterpart on the target: pairs by headers where
/// they are unambiguous, by content where they are not (the ambiguous candidates'
/// bodies are fetched on both sides, in bounded batches), with multiplicity.
async fn missing(
    src: &mut Session,
    tgt: &mut Session,
    sids: &[Seen],
    tids: &[Seen],
) -> Result<u64, String> {
    let m = match_headers(sids, tids);
    let mut paired = m.pairs.len();
    if !m.source_ambiguous.is_empty() {
        let opts = CopyOptions::default();
        let (bytes, count) = (opts.batch_bytes, opts.batch_messages);
        let (sd, td) = tokio::join!(
            content_digests(src, &m.source_ambiguous, bytes, count),
            content_digests(tgt, &m.target_ambiguous, bytes, count)
        );
        let sd = sd.map_err(|e| format!("source: {e}"))?;
        let td = td.map_err(|e| format!("target: {e}"))?;
        paired += match_content(&m.source_ambiguous, &sd, &m.target_ambiguous, &td).len();
    }
    Ok(sids.len().saturating_sub(paired) as u64)
}

/// Compares every selectable source folder with its target folder.
#[tracing::instrument(skip_all)]
pub async fn verify(source: &Endpoint, target: &Endpoint) -> Result<VerifyReport, CopyError> {
    let mut src = Session::connect(source)
        .await
        .map_err(|e| CopyError::Source {
            addr: source.display_addr(),
            source: e,
        })?;
    let mut tgt = Session::connect(target)
        .await
        .map_err(|e| CopyError::Target {
            addr: target.display_addr(),
            source: e,
        })?;
    let stree = Tree::read(&mut src).await.map_err(|e| CopyError::Source {
        addr: source.display_addr(),
        source: e,
    })?;
    let ttree = Tree::read(&mut tgt).await.map_err(|e| CopyError::Target {
        addr: target.display_addr(),
        source: e,
    })?;
    let (plans, unmapped) = plan_folders(&stree, &ttree);
    let mut report = VerifyReport {
        unmapped,
        ..VerifyReport::default()
    };
    for p in plans.iter().filter(|p| p.selectable) {
        let mut fv = FolderVerify {
            source: p.display.clone(),
            target: p.target.clone(),
            source_messages: 0,
            target_messages: 0,
            missing_on_target: 0,
            error: None,
        };
        match tokio::join!(idents(&mut src, &p.source), idents(&mut tgt, &p.target)) {
            (Ok((sn, sids)), Ok((tn, tids))) => {
                fv.source_messages = sn;
                fv.target_messages = tn;
                match missing(&mut src, &mut tgt, &sids, &tids).await {
                    Ok(n) => fv.missing_on_target = n,
                    Err(e) => {
                        fv.error = Some(e);
                        fv.missing_on_target = sn;
                    }
                }
            }
            (Err(e), _) => fv.error = Some(format!("source: {e}")),
            (_, Err(e)) => {
                fv.error = Some(format!("target: {e}"));
                fv.missing_on_target = fv.source_messages;
            }
        }
        report.missing_on_target += fv.missing_on_target;
        report.folders.push(fv);
    }
    report.ok = report.missing_on_target == 0
        && report.unmapped.is_empty()
        && report.folders.iter().all(|f| f.error.is_none());
    src.logout().await;
    tgt.logout().await;
    Ok(report)
}
