//! Messages bigger than a batch: fetched in pieces into a temporary file and
//! appended from it, so memory stays bounded whatever their size.

use super::folder::{Ctx, StepError, flag_string};
use super::ident::ident;
use super::transfer::NewMessage;
use super::{CopyIssue, FolderReport};
use crate::imap::{FetchItems, ImapError, Session};
use cutover_core::db::sync_state::{MessageRow, SyncStateRepo};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

/// Bytes per partial FETCH.
const PIECE: u32 = 1024 * 1024;
/// How much of the start is kept for the header identity.
const HEAD: usize = 64 * 1024;

fn io(e: std::io::Error) -> StepError {
    StepError::Source(ImapError::Io(e))
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn copy_big(
    ctx: &Ctx<'_>,
    src: &mut Session,
    tgt: &mut Session,
    folder_id: i64,
    target_folder: &str,
    m: &NewMessage,
    rep: &mut FolderReport,
    issues: &mut Vec<CopyIssue>,
) -> Result<(), StepError> {
    let mut file = tokio::fs::File::from_std(tempfile::tempfile().map_err(io)?);
    let (mut len, mut head, mut nul) = (0u64, Vec::new(), false);
    loop {
        let offset = u32::try_from(len).map_err(|_| {
            StepError::Source(ImapError::Protocol(format!(
                "UID {} is larger than 4 GiB",
                m.uid
            )))
        })?;
        let data = src
            .uid_fetch(
                &m.uid.to_string(),
                FetchItems::BodyRange { offset, len: PIECE },
                None,
            )
            .await
            .map_err(StepError::Source)?;
        let piece = data
            .into_iter()
            .find(|f| f.uid == Some(m.uid))
            .and_then(|f| f.body)
            .unwrap_or_default();
        if piece.is_empty() {
            break;
        }
        if head.len() < HEAD {
            head.extend_from_slice(&piece[..piece.len().min(HEAD - head.len())]);
        }
        nul |= piece.contains(&0);
        file.write_all(&piece).await.map_err(io)?;
        len += piece.len() as u64;
        if piece.len() < PIECE as usize {
            break;
        }
    }
    if len == 0 {
        // Expunged meanwhile (no data, or Dovecot's empty BODY[]): gone, not failed.
        return Ok(());
    }
    file.flush().await.map_err(io)?;
    file.rewind().await.map_err(io)?;
    let flags = flag_string(&m.flags);
    let row = MessageRow {
        source_uid: m.uid,
        target_uid: None,
        flags: flags.clone(),
        ident: ident(&head, m.size),
    };
    ctx.db.put_messages(folder_id, &[row]).await?;
    let result = tgt
        .append_stream(
            target_folder,
            &m.flags,
            m.internal_date.as_ref(),
            &mut file,
            len,
            nul,
        )
        .await
        .map_err(StepError::Target)?;
    match result {
        Ok(uid) => {
            if let Some(uid) = uid {
                ctx.db
                    .complete_messages(folder_id, &[(m.uid, uid, flags)])
                    .await?;
            }
            rep.copied += 1;
            rep.bytes += len;
            ctx.progress.advanced(1, len);
        }
        Err(e) => {
            ctx.db.forget_messages(folder_id, &[m.uid]).await?;
            rep.errors += 1;
            issues.push(CopyIssue {
                folder: rep.source.clone(),
                uid: Some(m.uid),
                reason: format!("APPEND: {e}"),
            });
        }
    }
    Ok(())
}
