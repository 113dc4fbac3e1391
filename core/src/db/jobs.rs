//! The job queue. Claiming is a compare-and-set on the row plus a unique
//! `run_key`, which works the same on SQLite (single writer) and on MySQL with
//! several workers: only one update matches a row, and a second job of a user
//! who already has one running cannot be claimed. On MySQL the candidate rows
//! are also locked with `FOR UPDATE SKIP LOCKED`, so workers do not contend.

use super::{Db, DbError, now};
use crate::UserId;
use serde::Serialize;
use sqlx::AssertSqlSafe;
use sqlx::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Bulk copy while the user keeps working; repeated as a cheap delta.
    Preload,
    /// The cutover sequence at the booked slot.
    Cutover,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Preload => "preload",
            JobKind::Cutover => "cutover",
        }
    }
    fn parse(s: &str) -> Result<Self, DbError> {
        match s {
            "preload" => Ok(JobKind::Preload),
            "cutover" => Ok(JobKind::Cutover),
            other => Err(DbError::Corrupt(format!("unknown job kind {other:?}"))),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub user_id: UserId,
    /// Attempts including the current one.
    pub attempts: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub run_at: i64,
    pub attempts: i64,
    pub last_error: Option<String>,
}

fn queue_key(user: &UserId, kind: JobKind) -> String {
    format!("{}:{}", kind.as_str(), user.as_str())
}

pub trait JobRepo {
    /// Queues a job unless the same kind is already queued for the user; then
    /// the queued one is moved to `run_at` (a re-booking moves the cutover).
    fn enqueue(
        &self,
        kind: JobKind,
        user: &UserId,
        run_at: i64,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    /// Drops a queued (not running) job, e.g. when a booking is cancelled.
    fn dequeue(
        &self,
        kind: JobKind,
        user: &UserId,
    ) -> impl Future<Output = Result<bool, DbError>> + Send;
    /// Claims the next due job, including jobs whose worker's lease expired.
    fn claim(
        &self,
        owner: &str,
        lease_secs: i64,
    ) -> impl Future<Output = Result<Option<Job>, DbError>> + Send;
    fn heartbeat(
        &self,
        id: i64,
        owner: &str,
        lease_secs: i64,
    ) -> impl Future<Output = Result<bool, DbError>> + Send;
    fn finish(&self, id: i64, owner: &str) -> impl Future<Output = Result<(), DbError>> + Send;
    /// Ends a failed attempt: requeued at `retry_at`, or given up when `None`.
    fn fail(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    fn jobs_of(&self, user: &UserId) -> impl Future<Output = Result<Vec<JobRow>, DbError>> + Send;
    /// Number of queued or running jobs (the worker loop idles at zero).
    fn pending_jobs(&self) -> impl Future<Output = Result<i64, DbError>> + Send;
    fn setting(&self, name: &str) -> impl Future<Output = Result<Option<String>, DbError>> + Send;
    fn set_setting(
        &self,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
}

/// One claim attempt over up to 32 due candidates; `lock` is the dialect's row-lock clause.
async fn claim_on(
    conn: &mut sqlx::AnyConnection,
    lock: &str,
    owner: &str,
    lease_secs: i64,
) -> Result<Option<Job>, DbError> {
    let t = now();
    let candidates = sqlx::query(sql!(
        "SELECT id, kind, user_id, attempts FROM jobs WHERE (state = 'queued' AND run_at <= ?) OR (state = 'running' AND lease_until < ?) ORDER BY run_at, id LIMIT 32{lock}"
    ))
    .bind(t)
    .bind(t)
    .fetch_all(&mut *conn)
    .await?;
    for row in candidates {
        let id: i64 = row.try_get("id")?;
        let user: String = row.try_get("user_id")?;
        let res = sqlx::query(
            "UPDATE jobs SET state = 'running', queue_key = NULL, run_key = ?, lease_owner = ?, lease_until = ?, attempts = attempts + 1, updated_at = ? \
             WHERE id = ? AND ((state = 'queued' AND run_at <= ?) OR (state = 'running' AND lease_until < ?))",
        )
        .bind(&user)
        .bind(owner)
        .bind(t + lease_secs)
        .bind(t)
        .bind(id)
        .bind(t)
        .bind(t)
        .execute(&mut *conn)
        .await;
        match res {
            Ok(r) if r.rows_affected() == 1 => {
                let user_id = UserId::parse(&user).map_err(|e| DbError::Corrupt(e.to_string()))?;
                return Ok(Some(Job {
                    id,
                    kind: JobKind::parse(&row.try_get::<String, _>("kind")?)?,
                    user_id,
                    attempts: row.try_get::<i64, _>("attempts")? + 1,
                }));
            }
            Ok(_) => continue, // another worker won the row
            // This user already has a job running. A failed statement does not
            // abort the surrounding transaction on MySQL.
            Err(e) if is_unique_violation(&e) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl JobRepo for Db {
    async fn enqueue(&self, kind: JobKind, user: &UserId, run_at: i64) -> Result<(), DbError> {
        let key = queue_key(user, kind);
        let t = now();
        let sql = format!(
            "{} INTO jobs (kind, user_id, state, queue_key, run_at, attempts, created_at, updated_at) VALUES (?, ?, 'queued', ?, ?, 0, ?, ?)",
            self.insert_ignore()
        );
        let inserted = sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(kind.as_str())
            .bind(user.as_str())
            .bind(&key)
            .bind(run_at)
            .bind(t)
            .bind(t)
            .execute(self.pool())
            .await?
            .rows_affected();
        if inserted == 0 {
            sqlx::query("UPDATE jobs SET run_at = ?, updated_at = ? WHERE queue_key = ?")
                .bind(run_at)
                .bind(t)
                .bind(&key)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    async fn dequeue(&self, kind: JobKind, user: &UserId) -> Result<bool, DbError> {
        let n = sqlx::query("UPDATE jobs SET state = 'cancelled', queue_key = NULL, updated_at = ? WHERE queue_key = ?")
            .bind(now())
            .bind(queue_key(user, kind))
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn claim(&self, owner: &str, lease_secs: i64) -> Result<Option<Job>, DbError> {
        match self.dialect() {
            // Candidates are locked with SKIP LOCKED inside a transaction, so
            // concurrent workers look at disjoint rows instead of racing.
            super::Dialect::Mysql => {
                let mut tx = self.pool().begin().await?;
                let job = claim_on(&mut tx, " FOR UPDATE SKIP LOCKED", owner, lease_secs).await?;
                tx.commit().await?;
                Ok(job)
            }
            // SQLite has a single writer: the compare-and-set update decides,
            // each statement on its own (a read-then-write transaction would
            // fail with SQLITE_BUSY_SNAPSHOT when another writer got in first).
            super::Dialect::Sqlite => {
                let mut conn = self.pool().acquire().await?;
                claim_on(&mut conn, "", owner, lease_secs).await
            }
        }
    }

    async fn heartbeat(&self, id: i64, owner: &str, lease_secs: i64) -> Result<bool, DbError> {
        let n = sqlx::query("UPDATE jobs SET lease_until = ? WHERE id = ? AND lease_owner = ? AND state = 'running'")
            .bind(now() + lease_secs)
            .bind(id)
            .bind(owner)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn finish(&self, id: i64, owner: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE jobs SET state = 'done', run_key = NULL, lease_owner = NULL, lease_until = NULL, last_error = NULL, updated_at = ? WHERE id = ? AND lease_owner = ?")
            .bind(now())
            .bind(id)
            .bind(owner)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn fail(
        &self,
        id: i64,
        owner: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<(), DbError> {
        let t = now();
        let Some(at) = retry_at else {
            sqlx::query("UPDATE jobs SET state = 'failed', run_key = NULL, lease_owner = NULL, lease_until = NULL, last_error = ?, updated_at = ? WHERE id = ? AND lease_owner = ?")
                .bind(error)
                .bind(t)
                .bind(id)
                .bind(owner)
                .execute(self.pool())
                .await?;
            return Ok(());
        };
        // Requeue under the queue key; if the same kind was queued meanwhile,
        // that newer job carries the retry and this row is closed.
        let key = match self.dialect() {
            super::Dialect::Sqlite => "kind || ':' || user_id",
            super::Dialect::Mysql => "CONCAT(kind, ':', user_id)",
        };
        let res = sqlx::query(sql!(
            "UPDATE jobs SET state = 'queued', queue_key = {key}, run_key = NULL, lease_owner = NULL, lease_until = NULL, run_at = ?, last_error = ?, updated_at = ? WHERE id = ? AND lease_owner = ?"
        ))
        .bind(at)
        .bind(error)
        .bind(t)
        .bind(id)
        .bind(owner)
        .execute(self.pool())
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => {
                sqlx::query("UPDATE jobs SET state = 'superseded', run_key = NULL, lease_owner = NULL, last_error = ?, updated_at = ? WHERE id = ?")
                    .bind(error)
                    .bind(t)
                    .bind(id)
                    .execute(self.pool())
                    .await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn jobs_of(&self, user: &UserId) -> Result<Vec<JobRow>, DbError> {
        let rows = sqlx::query("SELECT id, kind, state, run_at, attempts, last_error FROM jobs WHERE user_id = ? ORDER BY id")
            .bind(user.as_str())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(JobRow {
                    id: r.try_get("id")?,
                    kind: r.try_get("kind")?,
                    state: r.try_get("state")?,
                    run_at: r.try_get("run_at")?,
                    attempts: r.try_get("attempts")?,
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect()
    }

    async fn pending_jobs(&self) -> Result<i64, DbError> {
        let row = sqlx::query(
            "SELECT CAST(COUNT(*) AS SIGNED) AS n FROM jobs WHERE state IN ('queued', 'running')",
        )
        .fetch_one(self.pool())
        .await;
        // SQLite has no SIGNED type name but accepts any type name in CAST.
        Ok(row?.try_get::<i64, _>("n")?)
    }

    async fn setting(&self, name: &str) -> Result<Option<String>, DbError> {
        let row = sqlx::query("SELECT value FROM settings WHERE name = ?")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get("value")).transpose()?)
    }

    async fn set_setting(&self, name: &str, value: &str) -> Result<(), DbError> {
        let t = now();
        let n = sqlx::query("UPDATE settings SET value = ?, updated_at = ? WHERE name = ?")
            .bind(value)
            .bind(t)
            .bind(name)
            .execute(self.pool())
            .await?
            .rows_affected();
        if n == 0 {
            let sql = format!(
                "{} INTO settings (name, value, updated_at) VALUES (?, ?, ?)",
                self.insert_ignore()
            );
            sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(name)
                .bind(value)
                .bind(t)
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }
}
