//! Verification: the target holds every source message (by header identity and
//! size, with multiplicity), folder by folder.

use super::ident::ident;
use super::plan::{Tree, plan_folders};
use super::{CopyError, CopyIssue};
use crate::imap::{Endpoint, FetchData, FetchItems, Session};
use serde::Serialize;
use std::collections::HashMap;

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

fn counts(data: Vec<FetchData>) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for f in data {
        if f.uid.is_some() {
            *out.entry(ident(
                f.header.as_deref().unwrap_or_default(),
                f.size.unwrap_or(0),
            ))
            .or_insert(0) += 1;
        }
    }
    out
}

async fn idents(
    s: &mut Session,
    name: &str,
) -> Result<(u64, HashMap<String, u64>), crate::imap::ImapError> {
    let sel = s.select(name, true).await?;
    if sel.exists == 0 {
        return Ok((0, HashMap::new()));
    }
    let data = s.uid_fetch("1:*", FetchItems::IdentHeaders, None).await?;
    Ok((u64::from(sel.exists), counts(data)))
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
                fv.missing_on_target = sids
                    .iter()
                    .map(|(id, n)| n.saturating_sub(tids.get(id).copied().unwrap_or(0)))
                    .sum();
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
