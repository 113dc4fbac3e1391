//! Copying new messages: batched UID FETCH on the source overlapped with
//! pipelined APPENDs on the target, an in-flight row around every APPEND.

use super::batches;
use super::folder::{Ctx, StepError, flag_string};
use super::ident::ident;
use super::{CopyIssue, FolderReport};
use crate::imap::{AppendMessage, FetchData, FetchItems, Session, uid_set};
use cutover_core::db::sync_state::{MessageRow, SyncStateRepo};

/// Source metadata of one message to copy.
#[derive(Debug, Clone)]
pub(crate) struct NewMessage {
    pub uid: u32,
    pub size: u32,
    /// Flags to set on the target (already filtered by its PERMANENTFLAGS).
    pub flags: Vec<String>,
    pub internal_date: Option<chrono::DateTime<chrono::FixedOffset>>,
}

impl super::HasSize for NewMessage {
    fn size(&self) -> u32 {
        self.size
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn copy_new(
    ctx: &Ctx<'_>,
    src: &mut Session,
    tgt: &mut Session,
    folder_id: i64,
    target_folder: &str,
    msgs: &[NewMessage],
    rep: &mut FolderReport,
    issues: &mut Vec<CopyIssue>,
) -> Result<(), StepError> {
    // Over the target's APPENDLIMIT: reported, never sent (and never retried
    // in a way that burns the session's error budget).
    let limit = tgt.append_limit().unwrap_or(u64::MAX);
    let (too_big, msgs): (Vec<NewMessage>, Vec<NewMessage>) = msgs
        .iter()
        .cloned()
        .partition(|m| u64::from(m.size) > limit);
    for m in &too_big {
        rep.errors += 1;
        issues.push(CopyIssue {
            folder: rep.source.clone(),
            uid: Some(m.uid),
            reason: format!(
                "{} bytes is over the target's APPENDLIMIT of {limit}",
                m.size
            ),
        });
    }
    // Bigger than a batch: streamed one by one after the batches.
    let (big, small): (Vec<NewMessage>, Vec<NewMessage>) = msgs
        .into_iter()
        .partition(|m| u64::from(m.size) > ctx.opts.batch_bytes);
    let batches = batches(&small, ctx.opts.batch_bytes, ctx.opts.batch_messages.max(1));
    let mut fetched: Option<(&[NewMessage], Vec<FetchData>)> = None;
    let mut next = batches.into_iter();
    loop {
        let to_fetch = next.next();
        let fetch = async {
            match to_fetch {
                Some(batch) => {
                    let uids: Vec<u32> = batch.iter().map(|m| m.uid).collect();
                    src.uid_fetch(&uid_set(&uids), FetchItems::Body, None)
                        .await
                        .map(|data| Some((batch, data)))
                        .map_err(StepError::Source)
                }
                None => Ok(None),
            }
        };
        let pending = fetched.take();
        let append = async {
            match pending {
                Some((batch, data)) => {
                    append_batch(ctx, tgt, folder_id, target_folder, batch, data).await
                }
                None => Ok(BatchOutcome::default()),
            }
        };
        let (f, a) = tokio::join!(fetch, append);
        let outcome = a?;
        rep.copied += outcome.copied;
        rep.bytes += outcome.bytes;
        ctx.progress.advanced(outcome.copied, outcome.bytes);
        for (uid, reason) in outcome.failed {
            rep.errors += 1;
            issues.push(CopyIssue {
                folder: rep.source.clone(),
                uid: Some(uid),
                reason,
            });
        }
        match f? {
            Some(b) => fetched = Some(b),
            None => break,
        }
    }
    for m in &big {
        super::big::copy_big(ctx, src, tgt, folder_id, target_folder, m, rep, issues).await?;
    }
    Ok(())
}

#[derive(Default)]
struct BatchOutcome {
    copied: u64,
    bytes: u64,
    failed: Vec<(u32, String)>,
}

async fn append_batch(
    ctx: &Ctx<'_>,
    tgt: &mut Session,
    folder_id: i64,
    target_folder: &str,
    batch: &[NewMessage],
    data: Vec<FetchData>,
) -> Result<BatchOutcome, StepError> {
    let mut bodies: std::collections::HashMap<u32, Vec<u8>> = data
        .into_iter()
        .filter_map(|f| Some((f.uid?, f.body?)))
        .collect();
    // A UID without data was expunged meanwhile: gone, not failed. Dovecot
    // serves a message expunged by another session as an empty BODY[].
    let present: Vec<(&NewMessage, Vec<u8>)> = batch
        .iter()
        .filter_map(|m| bodies.remove(&m.uid).map(|b| (m, b)))
        .filter(|(m, b)| !b.is_empty() || m.size == 0)
        .collect();
    let rows: Vec<MessageRow> = present
        .iter()
        .map(|(m, body)| MessageRow {
            source_uid: m.uid,
            target_uid: None,
            flags: flag_string(&m.flags),
            ident: ident(body, m.size),
        })
        .collect();
    ctx.db.put_messages(folder_id, &rows).await?;
    let appends: Vec<AppendMessage<'_>> = present
        .iter()
        .map(|(m, body)| AppendMessage {
            flags: &m.flags,
            internal_date: m.internal_date.as_ref(),
            body,
        })
        .collect();
    let results = tgt
        .append_many(target_folder, &appends)
        .await
        .map_err(StepError::Target)?;
    let mut out = BatchOutcome::default();
    let mut done = Vec::new();
    let mut forget = Vec::new();
    for ((m, body), result) in present.iter().zip(results) {
        match result {
            Ok(Some(target_uid)) => {
                done.push((m.uid, target_uid, flag_string(&m.flags)));
                out.copied += 1;
                out.bytes += body.len() as u64;
            }
            // No APPENDUID: stays in flight and is found by headers next time.
            Ok(None) => {
                out.copied += 1;
                out.bytes += body.len() as u64;
            }
            // A target may refuse a keyword its PERMANENTFLAGS allowed (too
            // long, too many): never lose the message for it; report it.
            Err(e) if m.flags.iter().any(|f| !f.starts_with('\\')) => {
                let system: Vec<String> = m
                    .flags
                    .iter()
                    .filter(|f| f.starts_with('\\'))
                    .cloned()
                    .collect();
                let one = [AppendMessage {
                    flags: &system,
                    internal_date: m.internal_date.as_ref(),
                    body,
                }];
                let again = tgt
                    .append_many(target_folder, &one)
                    .await
                    .map_err(StepError::Target)?;
                if let Some(Ok(uid)) = again.into_iter().next() {
                    // The row keeps the source flags, so later runs do not retry them.
                    done.extend(uid.map(|t| (m.uid, t, flag_string(&m.flags))));
                    out.copied += 1;
                    out.bytes += body.len() as u64;
                    let dropped: Vec<&String> =
                        m.flags.iter().filter(|f| !system.contains(f)).collect();
                    out.failed
                        .push((m.uid, format!("copied without keywords {dropped:?}: {e}")));
                } else {
                    forget.push(m.uid);
                    out.failed.push((m.uid, format!("APPEND: {e}")));
                }
            }
            Err(e) => {
                forget.push(m.uid);
                out.failed.push((m.uid, format!("APPEND: {e}")));
            }
        }
    }
    ctx.db.complete_messages(folder_id, &done).await?;
    ctx.db.forget_messages(folder_id, &forget).await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_bound_count_and_bytes() {
        let m = |uid, size| NewMessage {
            uid,
            size,
            flags: vec![],
            internal_date: None,
        };
        let msgs = vec![m(1, 10), m(2, 10), m(3, 100), m(4, 1), m(5, 1)];
        let b = batches(&msgs, 25, 10);
        let sizes: Vec<usize> = b.iter().map(|b| b.len()).collect();
        assert_eq!(sizes, vec![2, 1, 2]);
        assert_eq!(batches(&msgs, 1000, 2).len(), 3);
    }
}
