//! Cheap lookups into the per-folder UID map for CONDSTORE delta passes, which
//! must not load the whole map of a huge folder to apply one flag change.

use super::sync_state::MessageRow;
use super::{Db, DbError};
use sqlx::Row;
use std::future::Future;

/// Bound on placeholders per `IN (...)` lookup.
const UIDS_PER_QUERY: usize = 500;

/// The size of one folder's UID map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MapSummary {
    pub rows: u64,
    /// Highest mapped source UID (0 when empty).
    pub max_source_uid: u32,
    /// Rows whose APPEND is in flight.
    pub in_flight: u64,
}

fn uid(v: i64) -> Result<u32, DbError> {
    u32::try_from(v).map_err(|_| DbError::Corrupt(format!("uid = {v}")))
}

pub trait SyncIndexRepo {
    fn map_summary(
        &self,
        folder_id: i64,
    ) -> impl Future<Output = Result<MapSummary, DbError>> + Send;

    /// The rows of these source UIDs (those that exist).
    fn sync_messages_in(
        &self,
        folder_id: i64,
        source_uids: &[u32],
    ) -> impl Future<Output = Result<Vec<MessageRow>, DbError>> + Send;

    /// Every (source UID, target UID) of the map, by source UID.
    fn mapped_uids(
        &self,
        folder_id: i64,
    ) -> impl Future<Output = Result<Vec<(u32, Option<u32>)>, DbError>> + Send;
}

impl SyncIndexRepo for Db {
    async fn map_summary(&self, folder_id: i64) -> Result<MapSummary, DbError> {
        let r = sqlx::query(
            // COUNT and MAX stay BIGINT in both dialects (MySQL's SUM is DECIMAL).
            "SELECT COUNT(*) AS n, COUNT(target_uid) AS mapped, \
             COALESCE(MAX(source_uid), 0) AS top FROM sync_messages WHERE folder_id = ?",
        )
        .bind(folder_id)
        .fetch_one(self.pool())
        .await?;
        let count = |c: &str| -> Result<u64, DbError> {
            let v: i64 = r.try_get(c)?;
            u64::try_from(v).map_err(|_| DbError::Corrupt(format!("{c} = {v}")))
        };
        let rows = count("n")?;
        Ok(MapSummary {
            rows,
            max_source_uid: uid(r.try_get("top")?)?,
            in_flight: rows.saturating_sub(count("mapped")?),
        })
    }

    async fn sync_messages_in(
        &self,
        folder_id: i64,
        source_uids: &[u32],
    ) -> Result<Vec<MessageRow>, DbError> {
        let mut out = Vec::new();
        for chunk in source_uids.chunks(UIDS_PER_QUERY) {
            let mut sql = String::from(
                "SELECT source_uid, target_uid, flags, ident FROM sync_messages \
                 WHERE folder_id = ? AND source_uid IN (",
            );
            for i in 0..chunk.len() {
                sql.push_str(if i == 0 { "?" } else { ", ?" });
            }
            sql.push(')');
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(folder_id);
            for u in chunk {
                q = q.bind(i64::from(*u));
            }
            for r in q.fetch_all(self.pool()).await? {
                let target: Option<i64> = r.try_get("target_uid")?;
                out.push(MessageRow {
                    source_uid: uid(r.try_get("source_uid")?)?,
                    target_uid: target.map(uid).transpose()?,
                    flags: r.try_get("flags")?,
                    ident: r.try_get("ident")?,
                });
            }
        }
        Ok(out)
    }

    async fn mapped_uids(&self, folder_id: i64) -> Result<Vec<(u32, Option<u32>)>, DbError> {
        let rows = sqlx::query(
            "SELECT source_uid, target_uid FROM sync_messages WHERE folder_id = ? \
             ORDER BY source_uid",
        )
        .bind(folder_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let target: Option<i64> = r.try_get("target_uid")?;
                Ok((uid(r.try_get("source_uid")?)?, target.map(uid).transpose()?))
            })
            .collect()
    }
}
