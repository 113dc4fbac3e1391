//! Mailbox copy state: per-folder sync marks and the per-folder UID map.
//!
//! The map is keyed by both UIDVALIDITYs through the folder row: when either
//! changes, `reset_folder` drops the map and the copier re-adopts by headers.
//! A row with `target_uid = NULL` is an APPEND in flight.

use super::{Db, DbError, now};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::future::Future;

/// The sync marks of one source folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderState {
    pub id: i64,
    pub source_folder: String,
    pub target_folder: String,
    pub source_uidvalidity: u32,
    pub target_uidvalidity: u32,
    pub source_uidnext: u32,
    pub source_messages: u32,
    pub source_modseq: u64,
    /// The last pass over this folder finished without errors.
    pub complete: bool,
}

/// One source message we copied (or are copying).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub source_uid: u32,
    /// `None` while the APPEND is in flight.
    pub target_uid: Option<u32>,
    /// Flags last written to the target, space separated.
    pub flags: String,
    /// Header digest used to find an in-flight message on the target.
    pub ident: String,
}

/// The sync marks to store after a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderMarks {
    pub source_uidnext: u32,
    pub source_messages: u32,
    pub source_modseq: u64,
    pub complete: bool,
}

fn folder_key(account: &str, source_folder: &str) -> String {
    let mut h = Sha256::new();
    h.update(account.as_bytes());
    h.update([0]);
    h.update(source_folder.as_bytes());
    hex::encode(h.finalize())
}

fn u32_of(r: &sqlx::any::AnyRow, col: &str) -> Result<u32, DbError> {
    let v: i64 = r.try_get(col)?;
    u32::try_from(v).map_err(|_| DbError::Corrupt(format!("{col} = {v}")))
}

fn decode_folder(r: &sqlx::any::AnyRow) -> Result<FolderState, DbError> {
    let modseq: i64 = r.try_get("source_modseq")?;
    let complete: i64 = r.try_get("complete")?;
    Ok(FolderState {
        id: r.try_get("id")?,
        source_folder: r.try_get("source_folder")?,
        target_folder: r.try_get("target_folder")?,
        source_uidvalidity: u32_of(r, "source_uidvalidity")?,
        target_uidvalidity: u32_of(r, "target_uidvalidity")?,
        source_uidnext: u32_of(r, "source_uidnext")?,
        source_messages: u32_of(r, "source_messages")?,
        source_modseq: u64::try_from(modseq).unwrap_or(0),
        complete: complete != 0,
    })
}

const FOLDER_COLUMNS: &str = "SELECT id, source_folder, target_folder, source_uidvalidity, \
    target_uidvalidity, source_uidnext, source_messages, source_modseq, complete FROM sync_folders";

/// Bound on rows per multi-row INSERT (well under every placeholder limit).
const ROWS_PER_INSERT: usize = 200;

pub trait SyncStateRepo {
    /// Every folder row of `account`.
    fn sync_folders(
        &self,
        account: &str,
    ) -> impl Future<Output = Result<Vec<FolderState>, DbError>> + Send;

    /// Creates the folder row or, when the UIDVALIDITY pair or target differs,
    /// resets it (dropping its UID map). Returns the row as stored.
    fn open_folder(
        &self,
        account: &str,
        source_folder: &str,
        target_folder: &str,
        source_uidvalidity: u32,
        target_uidvalidity: u32,
    ) -> impl Future<Output = Result<(FolderState, bool), DbError>> + Send;

    fn sync_messages(
        &self,
        folder_id: i64,
    ) -> impl Future<Output = Result<Vec<MessageRow>, DbError>> + Send;

    /// Writes rows before their APPEND (`target_uid` NULL) or adopted rows
    /// (`target_uid` set), replacing rows with the same source UID.
    fn put_messages(
        &self,
        folder_id: i64,
        rows: &[MessageRow],
    ) -> impl Future<Output = Result<(), DbError>> + Send;

    /// Completes in-flight rows / records new flags: (source_uid, target_uid, flags).
    fn complete_messages(
        &self,
        folder_id: i64,
        done: &[(u32, u32, String)],
    ) -> impl Future<Output = Result<(), DbError>> + Send;

    fn forget_messages(
        &self,
        folder_id: i64,
        source_uids: &[u32],
    ) -> impl Future<Output = Result<(), DbError>> + Send;

    fn mark_folder(
        &self,
        folder_id: i64,
        marks: FolderMarks,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
}

impl SyncStateRepo for Db {
    async fn sync_folders(&self, account: &str) -> Result<Vec<FolderState>, DbError> {
        let sql = format!("{FOLDER_COLUMNS} WHERE account = ?");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(decode_folder).collect()
    }

    async fn open_folder(
        &self,
        account: &str,
        source_folder: &str,
        target_folder: &str,
        source_uidvalidity: u32,
        target_uidvalidity: u32,
    ) -> Result<(FolderState, bool), DbError> {
        let key = folder_key(account, source_folder);
        let sql = format!("{FOLDER_COLUMNS} WHERE folder_key = ?");
        let existing = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .bind(&key)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(decode_folder)
            .transpose()?;
        let mut reset = false;
        match existing {
            Some(f)
                if f.source_uidvalidity == source_uidvalidity
                    && f.target_uidvalidity == target_uidvalidity
                    && f.target_folder == target_folder =>
            {
                return Ok((f, false));
            }
            Some(f) => {
                reset = true;
                let mut tx = self.pool().begin().await?;
                sqlx::query("DELETE FROM sync_messages WHERE folder_id = ?")
                    .bind(f.id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "UPDATE sync_folders SET target_folder = ?, source_uidvalidity = ?, \
                     target_uidvalidity = ?, source_uidnext = 0, source_messages = 0, \
                     source_modseq = 0, complete = 0, updated_at = ? WHERE id = ?",
                )
                .bind(target_folder)
                .bind(i64::from(source_uidvalidity))
                .bind(i64::from(target_uidvalidity))
                .bind(now())
                .bind(f.id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO sync_folders (folder_key, account, source_folder, target_folder, \
                     source_uidvalidity, target_uidvalidity, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&key)
                .bind(account)
                .bind(source_folder)
                .bind(target_folder)
                .bind(i64::from(source_uidvalidity))
                .bind(i64::from(target_uidvalidity))
                .bind(now())
                .execute(self.pool())
                .await?;
            }
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&key)
            .fetch_one(self.pool())
            .await?;
        Ok((decode_folder(&row)?, reset))
    }

    async fn sync_messages(&self, folder_id: i64) -> Result<Vec<MessageRow>, DbError> {
        let rows = sqlx::query(
            "SELECT source_uid, target_uid, flags, ident FROM sync_messages WHERE folder_id = ? \
             ORDER BY source_uid",
        )
        .bind(folder_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let target: Option<i64> = r.try_get("target_uid")?;
                Ok(MessageRow {
                    source_uid: u32_of(r, "source_uid")?,
                    target_uid: target.and_then(|t| u32::try_from(t).ok()),
                    flags: r.try_get("flags")?,
                    ident: r.try_get("ident")?,
                })
            })
            .collect()
    }

    async fn put_messages(&self, folder_id: i64, rows: &[MessageRow]) -> Result<(), DbError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut del =
                String::from("DELETE FROM sync_messages WHERE folder_id = ? AND source_uid IN (");
            let mut ins = String::from(
                "INSERT INTO sync_messages (folder_id, source_uid, target_uid, flags, ident) VALUES ",
            );
            for i in 0..chunk.len() {
                del.push_str(if i == 0 { "?" } else { ", ?" });
                ins.push_str(if i == 0 {
                    "(?, ?, ?, ?, ?)"
                } else {
                    ", (?, ?, ?, ?, ?)"
                });
            }
            del.push(')');
            let mut q = sqlx::query(sqlx::AssertSqlSafe(del)).bind(folder_id);
            for r in chunk {
                q = q.bind(i64::from(r.source_uid));
            }
            q.execute(&mut *tx).await?;
            let mut q = sqlx::query(sqlx::AssertSqlSafe(ins));
            for r in chunk {
                q = q
                    .bind(folder_id)
                    .bind(i64::from(r.source_uid))
                    .bind(r.target_uid.map(i64::from))
                    .bind(r.flags.clone())
                    .bind(r.ident.clone());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn complete_messages(
        &self,
        folder_id: i64,
        done: &[(u32, u32, String)],
    ) -> Result<(), DbError> {
        if done.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        for (source_uid, target_uid, flags) in done {
            sqlx::query("UPDATE sync_messages SET target_uid = ?, flags = ? WHERE folder_id = ? AND source_uid = ?")
                .bind(i64::from(*target_uid))
                .bind(flags.clone())
                .bind(folder_id)
                .bind(i64::from(*source_uid))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn forget_messages(&self, folder_id: i64, source_uids: &[u32]) -> Result<(), DbError> {
        if source_uids.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool().begin().await?;
        for chunk in source_uids.chunks(ROWS_PER_INSERT) {
            let mut sql =
                String::from("DELETE FROM sync_messages WHERE folder_id = ? AND source_uid IN (");
            for i in 0..chunk.len() {
                sql.push_str(if i == 0 { "?" } else { ", ?" });
            }
            sql.push(')');
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(folder_id);
            for uid in chunk {
                q = q.bind(i64::from(*uid));
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn mark_folder(&self, folder_id: i64, marks: FolderMarks) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE sync_folders SET source_uidnext = ?, source_messages = ?, source_modseq = ?, \
             complete = ?, updated_at = ? WHERE id = ?",
        )
        .bind(i64::from(marks.source_uidnext))
        .bind(i64::from(marks.source_messages))
        .bind(i64::try_from(marks.source_modseq).unwrap_or(i64::MAX))
        .bind(i64::from(marks.complete))
        .bind(now())
        .bind(folder_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
