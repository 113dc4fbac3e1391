//! The outbox: the engine and the portal ask for a notice by writing a row here;
//! the mailer delivers it. The dedupe key makes each request idempotent, so a
//! retried step never asks for the same e-mail twice.

use super::{Db, DbError, now};
use crate::{EmailAddress, UserId};
use serde::Serialize;
use sqlx::AssertSqlSafe;
use sqlx::Row;

#[derive(Debug, Clone)]
pub struct NewNotice {
    /// E.g. `booking_confirmed:<user>:<slot>` or `moved:<user>`.
    pub dedupe_key: String,
    pub user_id: Option<UserId>,
    pub template: String,
    pub locale: String,
    pub to: EmailAddress,
    /// Template parameters as a JSON object.
    pub params: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct OutboxItem {
    pub id: i64,
    pub dedupe_key: String,
    pub template: String,
    pub locale: String,
    pub to_addr: String,
    pub params: serde_json::Value,
    pub attempts: i64,
    /// Stable per row: a resend after a crash carries the same Message-ID, so
    /// the receiving side can recognise it.
    pub message_id: String,
    pub state: String,
}

pub trait OutboxRepo {
    /// Returns false when a notice with this key was already requested.
    fn enqueue_notice(
        &self,
        n: &NewNotice,
        domain: &str,
    ) -> impl Future<Output = Result<bool, DbError>> + Send;
    /// Leases the due notices for `lease_secs`.
    fn claim_notices(
        &self,
        limit: i64,
        lease_secs: i64,
    ) -> impl Future<Output = Result<Vec<OutboxItem>, DbError>> + Send;
    fn mark_sent(&self, id: i64) -> impl Future<Output = Result<(), DbError>> + Send;
    /// `retry_at = None` gives up (permanent failure).
    fn mark_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<i64>,
    ) -> impl Future<Output = Result<(), DbError>> + Send;
    fn notices_of(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Vec<OutboxItem>, DbError>> + Send;
}

const COLUMNS: &str =
    "id, dedupe_key, template, locale, to_addr, params, attempts, message_id, state";

fn decode(r: &sqlx::any::AnyRow) -> Result<OutboxItem, DbError> {
    let params: String = r.try_get("params")?;
    Ok(OutboxItem {
        id: r.try_get("id")?,
        dedupe_key: r.try_get("dedupe_key")?,
        template: r.try_get("template")?,
        locale: r.try_get("locale")?,
        to_addr: r.try_get("to_addr")?,
        params: serde_json::from_str(&params)
            .map_err(|e| DbError::Corrupt(format!("outbox params: {e}")))?,
        attempts: r.try_get("attempts")?,
        message_id: r.try_get("message_id")?,
        state: r.try_get("state")?,
    })
}

impl OutboxRepo for Db {
    async fn enqueue_notice(&self, n: &NewNotice, domain: &str) -> Result<bool, DbError> {
        let t = now();
        let message_id = format!(
            "<{}.{}@{}>",
            hex::encode(rand::random::<[u8; 12]>()),
            t,
            domain
        );
        let sql = format!(
            "{} INTO outbox (dedupe_key, user_id, template, locale, to_addr, params, state, attempts, next_attempt_at, message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
            self.insert_ignore()
        );
        let n = sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(&n.dedupe_key)
            .bind(n.user_id.as_ref().map(|u| u.as_str().to_string()))
            .bind(&n.template)
            .bind(&n.locale)
            .bind(n.to.as_str())
            .bind(n.params.to_string())
            .bind(t)
            .bind(message_id)
            .bind(t)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    async fn claim_notices(&self, limit: i64, lease_secs: i64) -> Result<Vec<OutboxItem>, DbError> {
        let t = now();
        let rows = sqlx::query(sql!(
            "SELECT {COLUMNS} FROM outbox WHERE (state = 'pending' AND next_attempt_at <= ?) OR (state = 'sending' AND lease_until < ?) ORDER BY id LIMIT ?"
        ))
        .bind(t)
        .bind(t)
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut claimed = Vec::new();
        for row in &rows {
            let item = decode(row)?;
            let won = sqlx::query(
                "UPDATE outbox SET state = 'sending', lease_until = ?, attempts = attempts + 1 WHERE id = ? AND ((state = 'pending' AND next_attempt_at <= ?) OR (state = 'sending' AND lease_until < ?))",
            )
            .bind(t + lease_secs)
            .bind(item.id)
            .bind(t)
            .bind(t)
            .execute(self.pool())
            .await?
            .rows_affected();
            if won == 1 {
                claimed.push(OutboxItem {
                    attempts: item.attempts + 1,
                    state: "sending".into(),
                    ..item
                });
            }
        }
        Ok(claimed)
    }

    async fn mark_sent(&self, id: i64) -> Result<(), DbError> {
        sqlx::query("UPDATE outbox SET state = 'sent', sent_at = ?, lease_until = NULL, last_error = NULL WHERE id = ?")
            .bind(now())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn mark_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<(), DbError> {
        let (state, at) = match retry_at {
            Some(at) => ("pending", at),
            None => ("failed", now()),
        };
        sqlx::query("UPDATE outbox SET state = ?, next_attempt_at = ?, lease_until = NULL, last_error = ? WHERE id = ?")
            .bind(state)
            .bind(at)
            .bind(error)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn notices_of(&self, user: &UserId) -> Result<Vec<OutboxItem>, DbError> {
        let rows = sqlx::query(sql!(
            "SELECT {COLUMNS} FROM outbox WHERE user_id = ? ORDER BY id"
        ))
        .bind(user.as_str())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(decode).collect()
    }
}
