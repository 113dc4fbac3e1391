//! The mailbox copier: one account from a source IMAP server to a target one,
//! resumable and incremental through the sync state in the migration database.
//!
//! Rules (DESIGN.md "Mailbox copy rules"): byte-identical messages, flags within
//! the target's PERMANENTFLAGS, INTERNALDATE kept, a UID map per folder keyed by
//! both UIDVALIDITYs, an in-flight row around every APPEND, header matching only
//! to adopt, deltas that never touch target-only mail.

mod big;
mod folder;
mod ident;
mod plan;
mod run;
mod scan;
mod settle;
mod transfer;
mod verify;

pub use plan::{FolderPlan, Tree, plan_folders};
pub use run::sync_mailbox;
pub use verify::{FolderVerify, VerifyReport, verify};

use crate::imap::ImapError;
use cutover_core::db::DbError;
use serde::Serialize;

/// Tuning and behaviour of a copy run.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Folders copied at once; each uses one connection per side.
    pub concurrency: usize,
    /// Upper bound of message bytes fetched per batch (one bigger message is
    /// still fetched alone), which bounds memory per connection.
    pub batch_bytes: u64,
    /// Upper bound of messages per batch.
    pub batch_messages: usize,
    /// Propagate source expunges of messages we copied (needs UIDPLUS on the target).
    pub propagate_expunges: bool,
    /// Source UIDs per metadata FETCH of a full folder scan (several are in
    /// flight at once), which bounds memory per folder.
    pub scan_chunk: u32,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            concurrency: 4,
            batch_bytes: 4 * 1024 * 1024,
            batch_messages: 400,
            propagate_expunges: true,
            scan_chunk: 5_000,
        }
    }
}

/// Progress callbacks (the CLI draws a bar; the worker updates metrics).
pub trait Progress: Send + Sync {
    /// Messages that this run will look at (known after planning).
    fn planned(&self, _messages: u64) {}
    /// Messages handled (copied or found already there).
    fn advanced(&self, _messages: u64, _bytes: u64) {}
    fn folder(&self, _name: &str) {}
}

/// A `Progress` that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;
impl Progress for NoProgress {}

/// One folder's outcome.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FolderReport {
    pub source: String,
    pub target: String,
    pub source_messages: u32,
    pub copied: u64,
    /// Already on the target (mapped or adopted).
    pub skipped: u64,
    pub adopted: u64,
    pub flags_updated: u64,
    pub expunged: u64,
    pub bytes: u64,
    /// Source FETCH records read to find new mail and flag changes (a CONDSTORE
    /// delta reads only what changed).
    pub scanned: u64,
    /// Source flags the target does not accept permanently.
    pub refused_flags: Vec<String>,
    pub errors: u64,
}

/// A folder- or message-level failure; the run continues.
#[derive(Debug, Clone, Serialize)]
pub struct CopyIssue {
    pub folder: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    pub reason: String,
}

/// The summary `cutover copy --json` prints.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CopyReport {
    pub folders: Vec<FolderReport>,
    pub messages_copied: u64,
    pub messages_skipped: u64,
    pub bytes: u64,
    pub errors: Vec<CopyIssue>,
    pub seconds: f64,
}

impl CopyReport {
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Errors that stop a whole run (per-folder and per-message ones are reported
/// in `CopyReport::errors` instead).
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("source {addr}: {source}")]
    Source {
        addr: String,
        #[source]
        source: ImapError,
    },
    #[error("target {addr}: {source}")]
    Target {
        addr: String,
        #[source]
        source: ImapError,
    },
    #[error("sync state: {0}")]
    Db(#[from] DbError),
}

impl CopyError {
    pub fn is_auth_failure(&self) -> bool {
        match self {
            CopyError::Source { source, .. } | CopyError::Target { source, .. } => {
                source.is_auth_failure()
            }
            CopyError::Db(_) => false,
        }
    }
}

/// A message with a known RFC822.SIZE, so it can be batched.
pub(crate) trait HasSize {
    fn size(&self) -> u32;
}

/// Splits `msgs` (in order) into batches bounded by count and bytes; a message
/// bigger than `max_bytes` forms a batch of its own.
pub(crate) fn batches<T: HasSize>(msgs: &[T], max_bytes: u64, max_count: usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (i, m) in msgs.iter().enumerate() {
        let n = i - start;
        if n > 0 && (n >= max_count || bytes + u64::from(m.size()) > max_bytes) {
            out.push(&msgs[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += u64::from(m.size());
    }
    if start < msgs.len() {
        out.push(&msgs[start..]);
    }
    out
}
